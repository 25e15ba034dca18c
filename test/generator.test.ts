/**
 * The synthetic district generator: determinism, CSV shape against columns.ts, manifests, referential integrity,
 * the deliberately malformed rows, the delta, the LMS ground truth and the zip.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import * as yauzl from 'yauzl';
import { COLUMNS_1_1, COLUMNS_1_2 } from '../connectors/oneroster-csv/columns';
import { generateDistrict, type DistrictSummary } from '../src/generator/district';
import { GRADEBOOK_1_1_HEADERS } from '../src/generator/export-dir';

const STUDENTS = 300;
const SEED = 20260817;

/** The binding's data files per version (independent of the generator's own list). */
const FILES_1_1 = ['academicSessions', 'categories', 'classes', 'classResources', 'courseResources', 'courses',
  'demographics', 'enrollments', 'lineItems', 'orgs', 'resources', 'results', 'users'];
const FILES_1_2 = [...FILES_1_1, 'lineItemLearningObjectiveIds', 'lineItemScoreScales', 'resultLearningObjectiveIds',
  'resultScoreScales', 'roles', 'scoreScales', 'userProfiles', 'userResources'];

const DIRS = [
  { dir: 'sis/bulk', version: '1.2', mode: 'bulk', columns: COLUMNS_1_2, files: FILES_1_2 },
  { dir: 'sis/delta-1', version: '1.2', mode: 'delta', columns: COLUMNS_1_2, files: FILES_1_2 },
  { dir: 'lms/bulk', version: '1.1', mode: 'bulk', columns: COLUMNS_1_1, files: FILES_1_1 },
] as const;

interface Malformed { file: string; line: number; reason: string; kind: string; code: string; sourcedId: string }

let root: string;
let runA: DistrictSummary;
let dirA: string;
let dirB: string;
let dirC: string;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
let expected: any;

function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(path.join(dir, e.name), rel));
    else out.push(rel);
  }
  return out.sort();
}

const sha256 = (file: string): string => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** Rows as arrays, row k (0-based) of `rows` sits on physical line k + 2. */
function readCsv(file: string): { header: string[]; rows: string[][] } {
  const records = parse(fs.readFileSync(file), { relax_column_count: true, bom: true }) as string[][];
  return { header: records[0], rows: records.slice(1) };
}

/** Rows as objects keyed by header (for well-formed files). */
function readObjects(file: string): Array<Record<string, string>> {
  const { header, rows } = readCsv(file);
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ''])));
}

const sis = (name: string): string => path.join(dirA, 'sis/bulk', name);

function malformedAt(file: string): Map<number, Malformed> {
  return new Map((expected.sis.malformed as Malformed[]).filter((m) => m.file === file).map((m) => [m.line, m]));
}

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ldh-generator-'));
  dirA = path.join(root, 'a');
  dirB = path.join(root, 'b');
  dirC = path.join(root, 'c');
  const logs: string[] = [];
  runA = await generateDistrict({ seed: SEED, students: STUDENTS, outDir: dirA, log: (m) => logs.push(m) });
  await generateDistrict({ seed: SEED, students: STUDENTS, outDir: dirB });
  await generateDistrict({ seed: SEED + 1, students: STUDENTS, outDir: dirC });
  expected = JSON.parse(fs.readFileSync(path.join(dirA, 'expected.json'), 'utf8'));
  expect(logs.some((l) => /\b100%/.test(l))).toBe(true);
});

afterAll(() => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

describe('generateDistrict', () => {
  test('is deterministic: same seed, same bytes; another seed, other data', () => {
    const files = listFiles(dirA);
    expect(listFiles(dirB)).toEqual(files);
    for (const f of files) expect(`${f} ${sha256(path.join(dirB, f))}`).toBe(`${f} ${sha256(path.join(dirA, f))}`);
    const differing = files.filter((f) => fs.existsSync(path.join(dirC, f)) && sha256(path.join(dirC, f)) !== sha256(path.join(dirA, f)));
    expect(differing).toEqual(expect.arrayContaining(['sis/bulk/users.csv', 'sis/bulk/demographics.csv', 'lms/bulk/users.csv', 'ground-truth.json']));
  });

  test('the summary lists exactly the files written', () => {
    const files = listFiles(dirA);
    expect(Object.keys(runA.files).sort()).toEqual(files);
    expect(runA.paths.map((p) => path.relative(dirA, p).split(path.sep).join('/')).sort()).toEqual(files);
    for (const [rel, f] of Object.entries(runA.files)) expect(fs.statSync(path.join(dirA, rel)).size).toBe(f.bytes);
    expect(runA.counts.students).toBe(STUDENTS);
    expect(runA.schools).toBe(3);
    expect(runA.elapsedMs).toBeGreaterThanOrEqual(0);
  });

  test('every CSV header matches columns.ts and every row has the right width, apart from the listed malformed rows', () => {
    let malformedSeen = 0;
    for (const { dir, columns, mode, version } of DIRS) {
      for (const name of fs.readdirSync(path.join(dirA, dir)).filter((f) => f !== 'manifest.csv')) {
        const { header, rows } = readCsv(path.join(dirA, dir, name));
        // columns.ts is the reference; the generator's own 1.1 gradebook table stands in while columns.ts lacks one.
        const want = columns[name]?.map((c) => c.header) ?? (version === '1.1' ? GRADEBOOK_1_1_HEADERS[name] : undefined);
        expect(`${dir}/${name}: ${header.join(',')}`).toBe(`${dir}/${name}: ${want?.join(',')}`);
        const bad = dir === 'sis/bulk' ? malformedAt(name) : new Map<number, Malformed>();
        const table = dir === 'sis/bulk' ? expected.sis.files : dir === 'lms/bulk' ? expected.lms.files : expected.delta.files;
        expect(rows.length).toBe(table[name].rows);
        const statusAt = header.indexOf('status');
        const modifiedAt = header.indexOf('dateLastModified');
        rows.forEach((row, k) => {
          const line = k + 2;
          if (bad.get(line)?.kind === 'column-count') {
            malformedSeen++;
            expect(row.length).not.toBe(header.length);
            return;
          }
          if (row.length !== header.length) throw new Error(`${dir}/${name}:${line} has ${row.length} columns`);
          if (mode === 'bulk') {
            expect([row[statusAt], row[modifiedAt]]).toEqual(['', '']);
          } else {
            expect(['active', 'tobedeleted']).toContain(row[statusAt]);
            expect(row[modifiedAt]).toBe('2026-11-20T08:00:00.000Z');
          }
        });
      }
    }
    expect(malformedSeen).toBe(1);
  });

  test("the generator's 1.1 gradebook headers agree with columns.ts wherever columns.ts has them", () => {
    for (const [name, headers] of Object.entries(GRADEBOOK_1_1_HEADERS)) {
      if (COLUMNS_1_1[name]) expect(`${name}: ${COLUMNS_1_1[name].map((c) => c.header).join(',')}`).toBe(`${name}: ${headers.join(',')}`);
    }
    expect(fs.readdirSync(path.join(dirA, 'lms/bulk'))).toEqual(expect.arrayContaining(['categories.csv', 'lineItems.csv', 'results.csv']));
  });

  test('the malformed rows are exactly the listed ones, at the stated physical lines', () => {
    const list = expected.sis.malformed as Malformed[];
    expect(list.map((m) => `${m.file}:${m.kind}:${m.code}`).sort()).toEqual([
      'demographics.csv:invalid-date:row_malformed',
      'enrollments.csv:unknown-reference:reference_unresolved',
      'users.csv:column-count:row_malformed',
      'users.csv:empty-required:record_invalid',
    ]);
    for (const m of list) {
      const lines = fs.readFileSync(sis(m.file), 'utf8').split('\r\n');
      expect(lines[m.line - 1].startsWith(`${m.sourcedId},`)).toBe(true);
    }
    const users = readCsv(sis('users.csv'));
    const given = users.header.indexOf('givenName');
    const emptyGiven = users.rows.flatMap((r, k) => (r.length === users.header.length && r[given] === '' ? [k + 2] : []));
    expect(emptyGiven).toEqual(list.filter((m) => m.kind === 'empty-required').map((m) => m.line));
    const short = users.rows.flatMap((r, k) => (r.length !== users.header.length ? [k + 2] : []));
    expect(short).toEqual(list.filter((m) => m.kind === 'column-count').map((m) => m.line));

    const classes = new Set(readObjects(sis('classes.csv')).map((c) => c.sourcedId));
    const dangling = readObjects(sis('enrollments.csv')).flatMap((e, k) => (classes.has(e.classSourcedId) ? [] : [k + 2]));
    expect(dangling).toEqual(list.filter((m) => m.file === 'enrollments.csv').map((m) => m.line));

    const validDate = (s: string): boolean => /^\d{4}-\d{2}-\d{2}$/.test(s) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s);
    const badDates = readObjects(sis('demographics.csv')).flatMap((r, k) => (validDate(r.birthDate) ? [] : [k + 2]));
    expect(badDates).toEqual(list.filter((m) => m.file === 'demographics.csv').map((m) => m.line));

    const a = expected.sis.accepted;
    expect(a.person).toBe(expected.sis.files['users.csv'].rows - 2);
    expect(a.enrollment).toBe(expected.sis.files['enrollments.csv'].rows - 1);
    expect(a.demographics).toBe(STUDENTS - 1);
  });

  test('each manifest declares exactly the files present, bulk or delta, and the rest absent', () => {
    for (const { dir, version, mode, files } of DIRS) {
      const manifest = readCsv(path.join(dirA, dir, 'manifest.csv'));
      expect(manifest.header).toEqual(['propertyName', 'value']);
      const props = new Map(manifest.rows.map(([k, v]) => [k, v]));
      expect(props.size).toBe(manifest.rows.length);
      expect(props.get('manifest.version')).toBe('1.0');
      expect(props.get('oneroster.version')).toBe(version);
      expect(props.get('source.systemName')).toBe(dir.startsWith('sis') ? 'Synthetic SIS' : 'Synthetic LMS');
      const declared = [...props.keys()].filter((k) => k.startsWith('file.')).map((k) => k.slice(5));
      expect(declared.sort()).toEqual([...files].sort());
      const present = fs.readdirSync(path.join(dirA, dir)).filter((f) => f !== 'manifest.csv').sort();
      const nonAbsent = declared.filter((f) => props.get(`file.${f}`) !== 'absent');
      for (const f of nonAbsent) expect(props.get(`file.${f}`)).toBe(mode);
      expect(nonAbsent.map((f) => `${f}.csv`).sort()).toEqual(present);
      for (const f of present) expect(readCsv(path.join(dirA, dir, f)).rows.length).toBeGreaterThan(0);
    }
    expect(fs.readdirSync(path.join(dirA, 'sis/delta-1')).sort()).toEqual(
      ['demographics.csv', 'enrollments.csv', 'manifest.csv', 'roles.csv', 'users.csv'],
    );
  });

  test('sis/bulk is referentially complete apart from the one dangling enrollment', () => {
    const orgs = readObjects(sis('orgs.csv'));
    const sessions = readObjects(sis('academicSessions.csv'));
    const courses = readObjects(sis('courses.csv'));
    const classes = readObjects(sis('classes.csv'));
    const roles = readObjects(sis('roles.csv'));
    const enrollments = readObjects(sis('enrollments.csv'));
    const demographics = readObjects(sis('demographics.csv'));
    const malformedUsers = new Set((expected.sis.malformed as Malformed[]).filter((m) => m.file === 'users.csv').map((m) => m.sourcedId));
    const userRows = readCsv(sis('users.csv'));
    const users = userRows.rows
      .filter((r) => r.length === userRows.header.length)
      .map((r) => Object.fromEntries(userRows.header.map((h, i) => [h, r[i]])))
      .filter((u) => !malformedUsers.has(u.sourcedId));

    const ids = (rows: Array<Record<string, string>>): Set<string> => {
      const set = new Set(rows.map((r) => r.sourcedId));
      expect(set.size).toBe(rows.length);
      return set;
    };
    const orgIds = ids(orgs);
    const schoolIds = new Set(orgs.filter((o) => o.type === 'school').map((o) => o.sourcedId));
    const sessionIds = ids(sessions);
    const courseIds = ids(courses);
    const classById = new Map(classes.map((c) => [c.sourcedId, c]));
    ids(classes);
    const userIds = ids(users);
    ids(roles);
    ids(enrollments);
    ids(demographics);

    expect(orgs.filter((o) => o.type === 'district')).toHaveLength(1);
    expect(schoolIds.size).toBe(expected.sis.schools);
    for (const o of orgs) if (o.parentSourcedId) expect(orgIds.has(o.parentSourcedId)).toBe(true);
    expect(sessions.map((s) => s.type).sort()).toEqual(['schoolYear', 'semester', 'semester']);
    for (const s of sessions) if (s.parentSourcedId) expect(sessionIds.has(s.parentSourcedId)).toBe(true);
    for (const c of courses) {
      expect(orgIds.has(c.orgSourcedId)).toBe(true);
      expect(sessionIds.has(c.schoolYearSourcedId)).toBe(true);
    }
    for (const c of classes) {
      expect(courseIds.has(c.courseSourcedId)).toBe(true);
      expect(schoolIds.has(c.schoolSourcedId)).toBe(true);
      for (const t of c.termSourcedIds.split(',')) expect(sessionIds.has(t)).toBe(true);
    }
    const dangling = new Set((expected.sis.malformed as Malformed[]).filter((m) => m.file === 'enrollments.csv').map((m) => m.sourcedId));
    for (const e of enrollments) {
      expect(userIds.has(e.userSourcedId)).toBe(true);
      expect(schoolIds.has(e.schoolSourcedId)).toBe(true);
      if (dangling.has(e.sourcedId)) continue;
      const c = classById.get(e.classSourcedId);
      if (!c) throw new Error(`enrollment ${e.sourcedId}: no class ${e.classSourcedId}`);
      expect(e.schoolSourcedId).toBe(c.schoolSourcedId);
    }
    for (const r of roles) {
      expect(userIds.has(r.userSourcedId)).toBe(true);
      expect(orgIds.has(r.orgSourcedId)).toBe(true);
    }
    for (const d of demographics) expect(userIds.has(d.sourcedId)).toBe(true);
    for (const u of users) {
      if (u.primaryOrgSourcedId) expect(orgIds.has(u.primaryOrgSourcedId)).toBe(true);
      for (const a of u.agentSourcedIds ? u.agentSourcedIds.split(',') : []) expect(userIds.has(a)).toBe(true);
    }

    // Roles, enrollments per student, teachers ~1 per 20 students, guardians linked both ways.
    const roleOf = new Map(roles.map((r) => [r.userSourcedId, r.role]));
    const students = users.filter((u) => roleOf.get(u.sourcedId) === 'student');
    expect(students).toHaveLength(expected.sis.students);
    expect(users.filter((u) => roleOf.get(u.sourcedId) === 'teacher')).toHaveLength(expected.sis.teachers);
    expect(expected.sis.teachers).toBeGreaterThanOrEqual(STUDENTS / 25);
    expect(expected.sis.teachers).toBeLessThanOrEqual(STUDENTS / 15);
    const perStudent = new Map<string, number>();
    for (const e of enrollments) if (e.role === 'student' && !dangling.has(e.sourcedId)) perStudent.set(e.userSourcedId, (perStudent.get(e.userSourcedId) ?? 0) + 1);
    for (const s of students) expect(perStudent.get(s.sourcedId)).toBe(Number(s.grades) >= 6 ? 6 : 1);
    for (const c of classes) expect(enrollments.filter((e) => e.classSourcedId === c.sourcedId && e.role === 'teacher')).toHaveLength(1);
    const guardians = users.filter((u) => ['parent', 'guardian'].includes(roleOf.get(u.sourcedId) ?? ''));
    expect(guardians.length).toBeGreaterThan(0);
    const byId = new Map(users.map((u) => [u.sourcedId, u]));
    for (const g of guardians) {
      for (const child of g.agentSourcedIds.split(',')) expect(byId.get(child)?.agentSourcedIds.split(',')).toContain(g.sourcedId);
    }

    // Students: ids, names, birth dates consistent with grade.
    for (const s of students) {
      expect(s.userIds).toMatch(/^\{SIS:S\d{6}\},\{STATE:TX\d{7}\}$/);
      expect(s.userIds).toContain(`{STATE:${s.identifier}}`);
      expect(s.email).toMatch(/^[a-z0-9.-]+@district\.example$/);
    }
    const names = students.map((s) => `${s.givenName} ${s.familyName}`).join('\n');
    expect(names).toMatch(/[À-ỹ]/u);
    expect(names).toMatch(/\p{L}-\p{L}/u);
    expect(names).toMatch(/'/);
    expect(students.some((s) => s.preferredGivenName !== '')).toBe(true);
    const demo = new Map(demographics.map((d) => [d.sourcedId, d]));
    const badDemo = (expected.sis.malformed as Malformed[]).find((m) => m.file === 'demographics.csv')!.sourcedId;
    for (const s of students) {
      if (s.sourcedId === badDemo) continue;
      const g = s.grades === 'KG' ? 0 : Number(s.grades);
      const birth = demo.get(s.sourcedId)!.birthDate;
      expect(birth >= `${2020 - g}-09-01` && birth <= `${2021 - g}-08-31`).toBe(true);
    }
  });

  test('the delta adds, corrects and withdraws students consistently with the bulk', () => {
    const dir = path.join(dirA, 'sis/delta-1');
    const users = readObjects(path.join(dir, 'users.csv'));
    const enrollments = readObjects(path.join(dir, 'enrollments.csv'));
    const bulkUsers = new Map(readObjects(sis('users.csv')).map((u) => [u.sourcedId, u]));
    const bulkEnrollments = readObjects(sis('enrollments.csv'));
    const classes = new Set(readObjects(sis('classes.csv')).map((c) => c.sourcedId));
    const e = expected.delta;

    const added = users.filter((u) => !bulkUsers.has(u.sourcedId));
    expect(added).toHaveLength(e.newStudents);
    expect(e.newStudents).toBe(Math.round(STUDENTS * 0.01));
    expect(readObjects(path.join(dir, 'demographics.csv')).map((d) => d.sourcedId).sort()).toEqual(added.map((u) => u.sourcedId).sort());
    const newRoles = readObjects(path.join(dir, 'roles.csv')).filter((r) => !bulkUsers.has(r.userSourcedId));
    expect(newRoles.map((r) => r.userSourcedId).sort()).toEqual(added.map((u) => u.sourcedId).sort());

    for (const id of e.nameCorrections as string[]) {
      const before = bulkUsers.get(id)!;
      const after = users.find((u) => u.sourcedId === id)!;
      expect(`${after.givenName} ${after.familyName}`).not.toBe(`${before.givenName} ${before.familyName}`);
      expect(after.email).toBe(before.email);
    }
    for (const g of e.gradeChanges as Array<{ sourcedId: string; from: string; to: string }>) {
      expect(bulkUsers.get(g.sourcedId)!.grades).toBe(g.from);
      expect(users.find((u) => u.sourcedId === g.sourcedId)!.grades).toBe(g.to);
    }

    const withdrawn = users.find((u) => u.sourcedId === e.withdrawn)!;
    expect(withdrawn.enabledUser).toBe('false');
    const wasEnrolled = bulkEnrollments.filter((x) => x.userSourcedId === e.withdrawn).map((x) => x.sourcedId).sort();
    expect(wasEnrolled).toHaveLength(6);
    const ended = enrollments.filter((x) => x.userSourcedId === e.withdrawn);
    expect(ended.map((x) => x.sourcedId).sort()).toEqual(wasEnrolled);
    for (const x of ended) expect(x.status).toBe('tobedeleted');

    const bulkIds = new Set(bulkEnrollments.map((x) => x.sourcedId));
    const deleted = enrollments.filter((x) => x.status === 'tobedeleted');
    expect(deleted).toHaveLength(e.droppedEnrollments);
    for (const x of deleted) expect(bulkIds.has(x.sourcedId)).toBe(true);
    const activeRows = enrollments.filter((x) => x.status === 'active');
    expect(activeRows).toHaveLength(e.addedEnrollments + e.newStudentEnrollments);
    for (const x of activeRows) {
      expect(bulkIds.has(x.sourcedId)).toBe(false);
      expect(classes.has(x.classSourcedId)).toBe(true);
    }
  });

  test('the LMS ground truth maps every LMS person to an existing SIS person; twins and namesakes exist', () => {
    const gt = JSON.parse(fs.readFileSync(path.join(dirA, 'ground-truth.json'), 'utf8')) as {
      persons: Array<{ lms: string; sis: string }>;
      twins: Array<[string, string]>;
      sameName: Array<[string, string]>;
    };
    const lmsUsers = readObjects(path.join(dirA, 'lms/bulk/users.csv'));
    const sisUsers = new Map(readObjects(sis('users.csv')).map((u) => [u.sourcedId, u]));
    const sisRole = new Map(readObjects(sis('roles.csv')).map((r) => [r.userSourcedId, r.role]));
    const sisDemo = new Map(readObjects(sis('demographics.csv')).map((d) => [d.sourcedId, d]));
    const toSis = new Map(gt.persons.map((p) => [p.lms, p.sis]));
    expect(toSis.size).toBe(gt.persons.length);
    expect(new Set(gt.persons.map((p) => p.sis)).size).toBe(gt.persons.length);
    expect(lmsUsers.map((u) => u.sourcedId).sort()).toEqual([...toSis.keys()].sort());

    const lmsStudents = lmsUsers.filter((u) => u.role === 'student');
    expect(lmsStudents).toHaveLength(expected.lms.students);
    for (const u of lmsUsers) {
      expect(u.sourcedId).toMatch(/^lms-u-[0-9a-f]{8}$/);
      const sisId = toSis.get(u.sourcedId)!;
      expect(sisRole.get(sisId)).toBe(u.role);
      const s = sisUsers.get(sisId)!;
      expect(u.email.toLowerCase()).toBe(s.email);
      if (u.identifier) expect(u.identifier).toBe(s.identifier);
      if (u.role === 'student') expect(Number(s.grades)).toBeGreaterThanOrEqual(6);
    }
    // The dirt is there.
    const missing = lmsStudents.filter((u) => u.identifier === '').length / lmsStudents.length;
    expect(missing).toBeGreaterThan(0.1);
    expect(missing).toBeLessThan(0.3);
    const swapped = lmsStudents.filter((u) => {
      const s = sisUsers.get(toSis.get(u.sourcedId)!)!;
      return u.givenName === s.familyName && u.familyName === s.givenName;
    });
    expect(swapped.length).toBeGreaterThanOrEqual(2);
    expect(expected.lms.dirt.typos).toBeGreaterThan(0);
    expect(expected.lms.dirt.nicknames).toBeGreaterThan(0);

    // Twins: same family name and birth date, different people; at least one pair in the LMS.
    expect(gt.twins.length).toBeGreaterThanOrEqual(2);
    const inLms = new Set(gt.persons.map((p) => p.sis));
    expect(gt.twins.some(([a, b]) => inLms.has(a) && inLms.has(b))).toBe(true);
    for (const [a, b] of gt.twins) {
      expect(a).not.toBe(b);
      expect(sisUsers.get(a)!.familyName).toBe(sisUsers.get(b)!.familyName);
      expect(sisUsers.get(a)!.givenName).not.toBe(sisUsers.get(b)!.givenName);
      expect(sisDemo.get(a)!.birthDate).toBe(sisDemo.get(b)!.birthDate);
    }
    // Namesakes: same full name, different people (different birth dates and emails), both in the LMS.
    expect(gt.sameName.length).toBeGreaterThanOrEqual(1);
    for (const [a, b] of gt.sameName) {
      const [x, y] = [sisUsers.get(a)!, sisUsers.get(b)!];
      expect(`${x.givenName}|${x.middleName}|${x.familyName}`).toBe(`${y.givenName}|${y.middleName}|${y.familyName}`);
      expect(x.email).not.toBe(y.email);
      expect(sisDemo.get(a)!.birthDate).not.toBe(sisDemo.get(b)!.birthDate);
      expect(inLms.has(a) && inLms.has(b)).toBe(true);
    }
  });

  test('lms/bulk is referentially complete', () => {
    const dir = path.join(dirA, 'lms/bulk');
    const orgs = new Set(readObjects(path.join(dir, 'orgs.csv')).map((o) => o.sourcedId));
    const sessions = new Set(readObjects(path.join(dir, 'academicSessions.csv')).map((s) => s.sourcedId));
    const courses = new Set(readObjects(path.join(dir, 'courses.csv')).map((c) => c.sourcedId));
    const classes = readObjects(path.join(dir, 'classes.csv'));
    const users = new Set(readObjects(path.join(dir, 'users.csv')).map((u) => u.sourcedId));
    for (const c of classes) {
      expect(courses.has(c.courseSourcedId)).toBe(true);
      expect(orgs.has(c.schoolSourcedId)).toBe(true);
      for (const t of c.termSourcedIds.split(',')) expect(sessions.has(t)).toBe(true);
    }
    const classIds = new Set(classes.map((c) => c.sourcedId));
    for (const e of readObjects(path.join(dir, 'enrollments.csv'))) {
      expect(classIds.has(e.classSourcedId)).toBe(true);
      expect(users.has(e.userSourcedId)).toBe(true);
    }
    for (const u of readObjects(path.join(dir, 'users.csv'))) expect(orgs.has(u.orgSourcedIds)).toBe(true);
    for (const d of readObjects(path.join(dir, 'demographics.csv'))) expect(users.has(d.sourcedId)).toBe(true);
  });

  test('bulk.zip holds the same bytes at its root', async () => {
    const zip = await yauzl.openPromise(path.join(dirA, 'sis/bulk.zip'), { lazyEntries: true });
    const entries: Record<string, Buffer> = {};
    for await (const entry of zip.eachEntry()) {
      const stream = await zip.openReadStreamPromise(entry);
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      entries[entry.fileName] = Buffer.concat(chunks);
    }
    zip.close();
    const files = fs.readdirSync(path.join(dirA, 'sis/bulk')).sort();
    expect(Object.keys(entries).sort()).toEqual(files);
    for (const f of files) expect(entries[f].equals(fs.readFileSync(sis(f)))).toBe(true);
  });

  test('rejects sizes it cannot honour', async () => {
    await expect(generateDistrict({ seed: 1, students: 10, outDir: path.join(root, 'x') })).rejects.toThrow(RangeError);
    await expect(generateDistrict({ seed: 1.5, students: 100, outDir: path.join(root, 'x') })).rejects.toThrow(RangeError);
    await expect(generateDistrict({ seed: 1, students: 100, schools: 2, outDir: path.join(root, 'x') })).rejects.toThrow(RangeError);
  });
});
