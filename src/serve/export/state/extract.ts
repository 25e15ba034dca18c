/**
 * The state-reporting extract (docs/state-export.md): for one tenant, school year and export profile, a set of
 * normalized files (CSV and/or NDJSON, a JSON Schema next to each) and `manifest.json`, into a directory or a zip.
 *
 * How it runs (streamed: memory is bounded by a page of students, not by the rows):
 *  1. open a read snapshot (source.ts) and read the tenant's change-log seq: the extract is consistent with it;
 *  2. load the catalogs (sessions -> the year's window and terms, courses, orgs, assessments);
 *  3. page through persons by id; per page, read the students' enrollments and their classes, demographics,
 *     programs, results, behaviour, attendance, mastery and plans, build the rows of every file and write them
 *     (backpressure);
 *  4. write the schemas and the manifest (row counts, bytes, SHA-256), zip when asked, and record ONE disclosure
 *     (channel `export`, recipient = the profile's recipient, the categories that left, every student in a row).
 *     The students' ids go into `disclosure_person_sets` (a set per page) and `disclosure_index` page by page; the
 *     disclosure row, which names the sets, is written last, so a failed export discloses nothing (sets and index
 *     keys it wrote stay: sets are shared by content, and an index key only leads to disclosures that hold the
 *     person).
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ZipFile } from 'yazl';
import type { Db, Dialect } from '../../../store/db';
import type { LoadedConfig, TenantConfig } from '../../../core/config';
import { findTenant } from '../../../core/config';
import { HubError } from '../../../core/errors';
import { silentLogger, type Logger } from '../../../core/logger';
import { PROJECT_ROOT } from '../../../core/paths';
import { disclosureSubjects, emptySubjects, writeDisclosureSubjects } from '../../disclosures';
import { newDisclosureId } from '../../../store/disclosure-keys';
import { FILES, PROGRAM_FLAGS, rowSchema, selectFields, SUBGROUP_FIELDS, type ExportCategory, type FieldDef, type FileDef } from './fields';
import { findProfile, profilePath, resolveProfile, type ResolvedProfile } from './profile';
import { plpTablesPlanSource, type PlanSource } from './plp';
import { allOfType, byIds, byPerson, hasTable, personPage, withSnapshot, type RecordRow, type Snapshot } from './source';
import { csvWriter, ndjsonWriter, writeSmallFile, type Row, type RowWriter } from './writer';

export interface ExportDeps {
  db: Db;
  config: LoadedConfig;
  env?: NodeJS.ProcessEnv;
  log?: Logger;
  /** Where PLP coverage comes from (default: the change log, see plp.ts). */
  plans?: (q: Snapshot, tenantId: string, window: { start: string; end: string }) => PlanSource;
  /** Persons per page (default 250: as fast as 1,000 since the pages' reads go through the index, 60 MB less RSS). */
  pageSize?: number;
  /** "Today" for attendance and course completion (default: now). */
  now?: Date;
}

export interface ExportRequest {
  tenantId: string;
  profile: string;
  schoolYear: string;
  /** A directory (absent or empty) or a .zip file path. */
  out: string;
  exportId?: string;
}

export interface ManifestFile {
  id: string;
  format: 'csv' | 'ndjson';
  path: string;
  schema: string;
  rows: number;
  bytes: number;
  sha256: string;
}

export interface Manifest {
  format: 'learner-data-hub/state-export';
  formatVersion: 1;
  exportId: string;
  profile: string;
  recipient: string;
  tenant: string;
  schoolYear: string;
  schoolYearWindow: { start: string; end: string };
  generatedAt: string;
  hubVersion: string;
  changeLogSeq: number;
  pseudonymized: boolean;
  categories: string[];
  files: ManifestFile[];
  schemas: { id: string; path: string; bytes: number; sha256: string }[];
  skipped: { id: string; reason: string }[];
  warnings: string[];
  disclosure: { id: string; personCount: number; categories: string[] };
}

let hubVersion: string | undefined;
export function getHubVersion(): string {
  hubVersion ??= (JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  return hubVersion;
}

export function newExportId(): string {
  return `exp_${Date.now().toString(36).padStart(9, '0')}${randomBytes(6).toString('hex')}`;
}

export const DEFAULT_PAGE_SIZE = 250;

const DAY = 86_400_000;
const dayNum = (d: string) => Math.floor(Date.parse(`${d}T00:00:00Z`) / DAY);
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const num = (v: unknown): number | null => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : null;
};
const bool = (v: unknown): boolean | null => (typeof v === 'boolean' ? v : null);
const inWindow = (d: unknown, w: { start: string; end: string }) => typeof d === 'string' && d.slice(0, 10) >= w.start && d.slice(0, 10) <= w.end;

/** Weekdays (Mon-Fri) in [a, b], day numbers since the epoch (day 0 was a Thursday). */
export function weekdaysBetween(a: number, b: number): number {
  if (b < a) return 0;
  const full = Math.floor((b - a + 1) / 7);
  let n = full * 5;
  for (let d = a + full * 7; d <= b; d++) {
    const dow = (((d + 4) % 7) + 7) % 7; // 0 = Sunday
    if (dow !== 0 && dow !== 6) n++;
  }
  return n;
}

/** Merges [start, end] day intervals. */
function mergeIntervals(list: [number, number][]): [number, number][] {
  const s = list.filter(([a, b]) => b >= a).sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [];
  for (const iv of s) {
    const last = out[out.length - 1];
    if (last && iv[0] <= last[1] + 1) last[1] = Math.max(last[1], iv[1]);
    else out.push([iv[0], iv[1]]);
  }
  return out;
}

interface Catalog {
  window: { start: string; end: string };
  yearTerms: Set<string>;
  sessions: Map<string, RecordRow>;
  courses: Map<string, RecordRow>;
  orgs: Map<string, RecordRow>;
  assessments: Map<string, RecordRow>;
}

async function loadCatalog(q: Snapshot, dialect: Dialect, tenantId: string, schoolYear: string, needAssessments: boolean): Promise<Catalog> {
  const sessions = new Map((await allOfType(q, dialect, tenantId, 'academicSession')).map((r) => [r.id, r]));
  const yearSessions = [...sessions.values()].filter((s) => s.data.schoolYear === schoolYear);
  const window = yearSessions.length
    ? {
      start: yearSessions.map((s) => String(s.data.startDate)).sort()[0],
      end: yearSessions.map((s) => String(s.data.endDate)).sort().reverse()[0],
    }
    : { start: `${Number(schoolYear) - 1}-07-01`, end: `${schoolYear}-06-30` };
  const yearTerms = new Set(yearSessions.map((s) => s.id));
  const courses = new Map((await allOfType(q, dialect, tenantId, 'course')).map((r) => [r.id, r]));
  const orgs = new Map((await allOfType(q, dialect, tenantId, 'org')).map((r) => [r.id, r]));
  const assessments = needAssessments ? new Map((await allOfType(q, dialect, tenantId, 'assessment')).map((r) => [r.id, r])) : new Map<string, RecordRow>();
  return { window, yearTerms, sessions, courses, orgs, assessments };
}

interface OpenFile {
  def: FileDef;
  fields: FieldDef[];
  writers: RowWriter[];
  paths: { format: 'csv' | 'ndjson'; path: string }[];
}

interface Student {
  id: string;
  person: Record<string, unknown>;
  enrollments: RecordRow[];
  schoolId: string | null;
  grade: string | null;
  subgroup: Row;
}

export async function runStateExport(deps: ExportDeps, req: ExportRequest): Promise<Manifest> {
  const log = deps.log ?? silentLogger;
  const env = deps.env ?? process.env;
  const tenant = findTenant(deps.config.config, req.tenantId);
  if (!tenant) throw new HubError('bad_request', `tenant: no tenant '${req.tenantId}' is configured.`, [{ path: 'tenant', message: 'unknown tenant' }]);
  const pc = findProfile(tenant, req.profile);
  const profile = resolveProfile(tenant, pc, profilePath(deps.config, tenant.id, pc.name), env);
  const exportId = req.exportId ?? newExportId();
  const now = deps.now ?? new Date();
  const zip = /\.zip$/i.test(req.out);
  const target = path.resolve(req.out);
  let workDir: string;
  if (zip) {
    if (fs.existsSync(target)) throw new HubError('bad_request', `out: ${target} already exists.`, [{ path: 'out', message: 'exists' }]);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    workDir = `${target}.parts-${randomBytes(4).toString('hex')}`;
    fs.mkdirSync(workDir);
  } else {
    if (fs.existsSync(target) && fs.readdirSync(target).length) throw new HubError('bad_request', `out: ${target} is not empty.`, [{ path: 'out', message: 'not empty' }]);
    fs.mkdirSync(target, { recursive: true });
    workDir = target;
  }
  const disclosureId = newDisclosureId();
  let disclosed = 0;
  const setIds: string[] = [];
  const opened: OpenFile[] = [];
  try {
    const manifest = await withSnapshot(deps.db, async (q) => {
      const seqRow = (await q('tenant_sequences').where('tenant_id', tenant.id).first('last_seq')) as { last_seq: number | string } | undefined;
      const changeLogSeq = Number(seqRow?.last_seq ?? 0);
      const wants = new Set(profile.files);
      const cat = await loadCatalog(q, deps.db.dialect, tenant.id, req.schoolYear, wants.has('assessment_results'));
      const skipped: Manifest['skipped'] = [];
      const warnings: string[] = [];
      const masteryTable = wants.has('competency_mastery') ? await hasTable(q, 'mastery') : false;
      const creditsTable = wants.has('course_credits') ? await hasTable(q, 'credits') : false;

      for (const def of FILES) {
        if (!wants.has(def.id)) continue;
        if (!profile.categories.has(def.category)) {
          skipped.push({ id: def.id, reason: `category '${def.category}' is not let out by profile '${profile.name}'` });
          continue;
        }
        if (def.id === 'competency_mastery' && !masteryTable) {
          const reason = 'the mastery table does not exist in this database (the mastery engine is not installed): no competency mastery file';
          skipped.push({ id: def.id, reason });
          warnings.push(reason);
          continue;
        }
        const fields = selectFields(def, profile.categories, !!profile.pseudonym);
        const f: OpenFile = { def, fields, writers: [], paths: [] };
        for (const format of profile.formats) {
          const p = path.join(workDir, `${def.id}.${format}`);
          const w = format === 'csv' ? csvWriter(p, fields) : ndjsonWriter(p, fields);
          await w.start();
          f.writers.push(w);
          f.paths.push({ format, path: p });
        }
        opened.push(f);
      }
      if (!creditsTable && wants.has('course_credits')) warnings.push('no credits table: course_credits rows come from enrollments only (course completions, credits_earned empty)');

      const byId = new Map(opened.map((o) => [o.def.id, o]));
      const plans = (deps.plans ?? plpTablesPlanSource)(q, tenant.id, cat.window);
      const ctx: PageContext = { q, db: deps.db, tenant, cat, profile, now, creditsTable, plans, schoolYear: req.schoolYear };
      const pageSize = deps.pageSize ?? DEFAULT_PAGE_SIZE;
      const writtenCategories = new Set<string>();
      let after = '';
      for (;;) {
        const persons = await personPage(q, deps.db.dialect, tenant.id, after, pageSize);
        if (!persons.length) break;
        after = persons[persons.length - 1].id;
        const out = await buildPage(ctx, persons, byId);
        const named = new Set<string>();
        for (const [id, rows] of out) {
          const f = byId.get(id)!;
          if (!rows.length) continue;
          for (const r of rows) {
            named.add(r.__person as string);
            if (typeof r.__category === 'string') writtenCategories.add(r.__category);
          }
          writtenCategories.add(f.def.category);
          for (const x of f.fields) if (x.category && rows.some((r) => r[x.name] !== null && r[x.name] !== undefined)) writtenCategories.add(x.category);
          const pseud = profile.pseudonym;
          const shaped = pseud ? rows.map((r) => pseudonymizeRow(r, f.fields, pseud)) : rows;
          for (const w of f.writers) await w.writeRows(shaped);
        }
        if (named.size) {
          const subjects = emptySubjects();
          const { count, setIds: pageSets } = disclosureSubjects(subjects, tenant.id, disclosureId, profile.recipient, [...named]);
          disclosed += count;
          setIds.push(...pageSets);
          await writeDisclosureSubjects(deps.db.knex, deps.db.dialect, subjects);
        }
        if (persons.length < pageSize) break;
      }

      const files: ManifestFile[] = [];
      const schemas: Manifest['schemas'] = [];
      for (const f of opened) {
        const schemaPath = `${f.def.id}.schema.json`;
        const s = writeSmallFile(path.join(workDir, schemaPath), `${JSON.stringify(rowSchema(f.def, f.fields, { profile: profile.name }), null, 2)}\n`);
        schemas.push({ id: f.def.id, path: schemaPath, ...s });
        for (const [i, w] of f.writers.entries()) {
          const done = await w.file.close();
          files.push({ id: f.def.id, format: f.paths[i].format, path: path.basename(f.paths[i].path), schema: schemaPath, ...done });
        }
      }
      const categories = [...writtenCategories].sort();
      const m: Manifest = {
        format: 'learner-data-hub/state-export', formatVersion: 1, exportId, profile: profile.name, recipient: profile.recipient, tenant: tenant.id,
        schoolYear: req.schoolYear, schoolYearWindow: cat.window, generatedAt: now.toISOString(), hubVersion: getHubVersion(), changeLogSeq,
        pseudonymized: !!profile.pseudonym, categories: [...profile.categories].sort(), files, schemas, skipped, warnings,
        disclosure: { id: disclosureId, personCount: disclosed, categories },
      };
      return m;
    });
    writeSmallFile(path.join(workDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    if (zip) {
      await zipDir(workDir, [...manifest.files.map((x) => x.path), ...manifest.schemas.map((x) => x.path), 'manifest.json'], target);
      fs.rmSync(workDir, { recursive: true, force: true });
    }
    await deps.db.knex('disclosures').insert({
      id: disclosureId, tenant_id: tenant.id, at: new Date().toISOString(), recipient: profile.recipient.slice(0, 200), channel: 'export',
      route: `export:state/${profile.name}/${req.schoolYear}`.slice(0, 300), request_id: exportId.slice(0, 64),
      categories: JSON.stringify(manifest.disclosure.categories), person_count: disclosed, set_ids: JSON.stringify(setIds),
    });
    log.info({ tenant: tenant.id, profile: profile.name, exportId, files: manifest.files.length, persons: disclosed }, 'state export written');
    return manifest;
  } catch (e) {
    for (const f of opened) for (const w of f.writers) w.file.destroy();
    if (zip) fs.rmSync(workDir, { recursive: true, force: true });
    throw e;
  }
}

function pseudonymizeRow(r: Row, fields: readonly FieldDef[], pseud: (id: string) => string): Row {
  const o: Row = { ...r };
  for (const x of fields) if (x.personId && typeof o[x.name] === 'string') o[x.name] = pseud(o[x.name] as string);
  return o;
}

async function zipDir(dir: string, names: string[], target: string): Promise<void> {
  const z = new ZipFile();
  for (const n of names) z.addFile(path.join(dir, n), n, { compress: true });
  const partial = `${target}.partial`;
  const out = fs.createWriteStream(partial, { flags: 'wx' });
  await new Promise<void>((resolve, reject) => {
    z.outputStream.on('error', reject);
    out.on('error', reject);
    out.on('close', () => resolve());
    z.outputStream.pipe(out);
    z.end();
  });
  fs.renameSync(partial, target);
}

interface PageContext {
  q: Snapshot;
  db: Db;
  tenant: TenantConfig;
  cat: Catalog;
  profile: ResolvedProfile;
  now: Date;
  creditsTable: boolean;
  plans: PlanSource;
  schoolYear: string;
}

const NON_STUDENT_ROLES = new Set(['aide', 'counselor', 'districtAdministrator', 'guardian', 'parent', 'principal', 'proctor', 'relative', 'siteAdministrator', 'systemAdministrator', 'teacher']);

function gradeOf(person: Record<string, unknown>, classes: RecordRow[]): string | null {
  const g = Array.isArray(person.grades) ? str(person.grades[0]) : null;
  if (g) return g;
  for (const c of classes) if (Array.isArray(c.data.grades) && c.data.grades.length === 1) return str(c.data.grades[0]);
  return null;
}

function identifierOf(person: Record<string, unknown>, systems: string[]): string | null {
  const ids = Array.isArray(person.identifiers) ? (person.identifiers as { system?: string; value?: string }[]) : [];
  for (const s of systems) {
    const hit = ids.find((i) => typeof i.system === 'string' && i.system.toLowerCase() === s);
    if (hit?.value) return hit.value;
  }
  return null;
}

/** Builds every selected file's rows for one page of persons. Rows carry `__person` (the real id) for the log. */
async function buildPage(ctx: PageContext, persons: RecordRow[], files: Map<string, OpenFile>): Promise<Map<string, Row[]>> {
  const { q, db, tenant, cat } = ctx;
  const t = tenant.id;
  const out = new Map<string, Row[]>([...files.keys()].map((k) => [k, []]));
  const candidates = persons.filter((p) => !NON_STUDENT_ROLES.has(String(p.data.primaryRole ?? '')));
  if (!candidates.length) return out;
  const studentEnrollments = (await byPerson(q, db.dialect, t, 'enrollment', candidates.map((p) => p.id))).filter((e) => e.data.role === 'student');
  // The page's classes of the year, read with the page (not a catalog of every class: memory would grow with the
  // district, ~0.5 KB a class).
  const classes = new Map<string, RecordRow>();
  for (const c of (await byIds(q, db.dialect, t, 'class', studentEnrollments.map((e) => String(e.data.classId)))).values()) {
    const terms = Array.isArray(c.data.termIds) ? (c.data.termIds as string[]) : [];
    if (terms.some((x) => cat.yearTerms.has(x))) classes.set(c.id, c);
  }
  const enrollments = studentEnrollments.filter((e) => classes.has(String(e.data.classId)));
  const enrByPerson = new Map<string, RecordRow[]>();
  for (const e of enrollments) {
    const k = String(e.data.personId);
    (enrByPerson.get(k) ?? enrByPerson.set(k, []).get(k)!).push(e);
  }
  const students: Student[] = [];
  for (const p of candidates) {
    const es = enrByPerson.get(p.id);
    if (!es?.length) continue;
    const perSchool = new Map<string, number>();
    for (const e of es) perSchool.set(String(e.data.schoolId), (perSchool.get(String(e.data.schoolId)) ?? 0) + 1);
    const schoolId = [...perSchool.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0][0];
    const grade = gradeOf(p.data, es.map((e) => classes.get(String(e.data.classId))!));
    students.push({ id: p.id, person: p.data, enrollments: es, schoolId, grade, subgroup: {} });
  }
  if (!students.length) return out;
  const ids = students.map((s) => s.id);
  const wants = (id: string) => files.has(id);
  const needSubgroups = wants('students') || wants('attendance') || wants('plp_coverage');
  const sel = ctx.profile.categories;

  if (needSubgroups) {
    const demo = new Map<string, Record<string, unknown>>();
    if (sel.has('demographics')) for (const d of await byPerson(q, db.dialect, t, 'demographics', ids)) if (!demo.has(String(d.data.personId))) demo.set(String(d.data.personId), d.data);
    const programs = new Map<string, Set<string>>();
    if (sel.has('protected')) {
      for (const p of await byPerson(q, db.dialect, t, 'programParticipation', ids)) {
        const begin = str(p.data.beginDate) ?? '0000-00-00';
        const end = str(p.data.endDate) ?? '9999-12-31';
        if (begin > cat.window.end || end < cat.window.start) continue;
        const flag = PROGRAM_FLAGS[String(p.data.programType ?? '')];
        if (!flag) continue;
        const k = String(p.data.personId);
        (programs.get(k) ?? programs.set(k, new Set()).get(k)!).add(flag);
      }
    }
    for (const s of students) {
      const d = demo.get(s.id) ?? {};
      const flags = programs.get(s.id) ?? new Set<string>();
      const school = s.schoolId ? cat.orgs.get(s.schoolId) : undefined;
      s.subgroup = {
        school_id: s.schoolId, school_code: str(school?.data.identifier), grade_level: s.grade,
        sex: str(d.sex), american_indian_or_alaska_native: bool(d.americanIndianOrAlaskaNative), asian: bool(d.asian),
        black_or_african_american: bool(d.blackOrAfricanAmerican), native_hawaiian_or_other_pacific_islander: bool(d.nativeHawaiianOrOtherPacificIslander),
        white: bool(d.white), two_or_more_races: bool(d.demographicRaceTwoOrMoreRaces), hispanic_or_latino: bool(d.hispanicOrLatinoEthnicity),
        __birth_date: str(d.birthDate),
      };
      for (const x of SUBGROUP_FIELDS) if (x.category === 'protected') s.subgroup[x.name] = flags.has(x.name);
    }
  }

  const today = ctx.now.toISOString().slice(0, 10);
  const spans = new Map<string, { start: string | null; end: string | null }>();
  const termSpan = (classId: string): { start: string | null; end: string | null } => {
    let span = spans.get(classId);
    if (!span) {
      const c = classes.get(classId);
      const terms = ((c?.data.termIds as string[] | undefined) ?? []).map((id) => cat.sessions.get(id)).filter((x): x is RecordRow => !!x && cat.yearTerms.has(x.id));
      span = {
        start: terms.map((x) => String(x.data.startDate)).sort()[0] ?? null,
        end: terms.map((x) => String(x.data.endDate)).sort().reverse()[0] ?? null,
      };
      spans.set(classId, span);
    }
    return span;
  };
  const entryExit = (e: RecordRow) => {
    const span = termSpan(String(e.data.classId));
    return { entry: str(e.data.beginDate) ?? span.start, exit: str(e.data.endDate) ?? span.end };
  };

  for (const s of students) {
    // Rows are plain literals: a spread of a small object ahead of the other fields ({ ...base, a, b, ... }) cost
    // V8 about 30 µs a row (a new hidden class per row), most of the extract's own time.
    if (wants('students')) {
      const { __birth_date, ...sub } = s.subgroup;
      out.get('students')!.push({
        __person: s.id, student_id: s.id, state_student_id: identifierOf(s.person, ['state', 'identifier', 'edfi:studentuniqueid']), local_student_id: identifierOf(s.person, ['sis']),
        birth_date: (__birth_date as string | null) ?? null, ...sub,
      });
    }
    if (wants('enrollment')) {
      for (const e of s.enrollments) {
        const c = classes.get(String(e.data.classId))!;
        const course = cat.courses.get(String(c.data.courseId));
        const { entry, exit } = entryExit(e);
        out.get('enrollment')!.push({
          __person: s.id, student_id: s.id, enrollment_id: e.id, school_id: String(e.data.schoolId), school_code: str(cat.orgs.get(String(e.data.schoolId))?.data.identifier),
          class_id: c.id, class_code: str(c.data.classCode), class_title: str(c.data.title), course_id: str(c.data.courseId), course_code: str(course?.data.courseCode),
          entry_date: entry, exit_date: exit, grade_level: s.grade,
        });
      }
    }
    if (wants('course_credits')) {
      const perCourse = new Map<string, { school: string; entry: string | null; exit: string | null }>();
      for (const e of s.enrollments) {
        const c = classes.get(String(e.data.classId))!;
        const courseId = str(c.data.courseId);
        if (!courseId) continue;
        const { entry, exit } = entryExit(e);
        const cur = perCourse.get(courseId);
        if (!cur) perCourse.set(courseId, { school: String(e.data.schoolId), entry, exit });
        else {
          if (entry && (!cur.entry || entry < cur.entry)) cur.entry = entry;
          if (!exit || !cur.exit) cur.exit = cur.exit && exit ? cur.exit : null;
          else if (exit > cur.exit) cur.exit = exit;
        }
      }
      for (const [courseId, v] of [...perCourse.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
        const course = cat.courses.get(courseId);
        const completed = !!v.exit && v.exit < today;
        out.get('course_credits')!.push({
          __person: s.id, student_id: s.id, school_id: v.school, course_id: courseId, course_code: str(course?.data.courseCode), course_title: str(course?.data.title), competency_id: null,
          status: completed ? 'completed' : 'in_progress', completion_date: completed ? v.exit : null, credits_earned: null, credit_source: 'enrollment',
        });
      }
    }
  }

  if (wants('course_credits') && ctx.creditsTable) {
    // Credit by competency (the mastery engine's `credits` table, migration 005): awarded courses, revoked ones left out.
    const rows = (await q('credits').where('tenant_id', t).whereIn('learner_id', ids).select('*')) as Record<string, unknown>[];
    rows.sort((a, b) => String(a.learner_id).localeCompare(String(b.learner_id)) || String(a.id ?? a.course_id ?? '').localeCompare(String(b.id ?? b.course_id ?? '')));
    for (const r of rows) {
      if (r.school_year !== undefined && r.school_year !== null && String(r.school_year) !== ctx.schoolYear) continue;
      if (r.status === 'revoked' || r.revoked_at) continue; // a revoked credit is not a credit (src/derive/credit.ts)
      const courseId = str(r.course_id);
      const course = courseId ? cat.courses.get(courseId) : undefined;
      const awarded = str(r.awarded_at) ?? str(r.earned_at) ?? str(r.updated_at);
      out.get('course_credits')!.push({
        __person: String(r.learner_id), student_id: String(r.learner_id), school_id: str(r.school_id), course_id: courseId, course_code: str(course?.data.courseCode),
        course_title: str(course?.data.title), competency_id: str(r.competency_id), status: 'awarded', completion_date: awarded ? awarded.slice(0, 10) : null,
        credits_earned: num(r.credits ?? r.credit ?? r.credit_value ?? r.amount), credit_source: 'credits',
      });
    }
  }

  if (wants('assessment_results')) {
    const results = await byPerson(q, db.dialect, t, 'assessmentResult', ids);
    results.sort((a, b) => String(a.data.personId).localeCompare(String(b.data.personId)) || String(a.data.administrationDate).localeCompare(String(b.data.administrationDate)) || a.id.localeCompare(b.id));
    const last = new Map<string, { date: string; scale: number | null; level: string | null; assessmentId: string }>();
    for (const r of results) {
      const a = cat.assessments.get(String(r.data.assessmentId));
      const subject = Array.isArray(a?.data.subjects) ? str(a!.data.subjects[0]) : null;
      const family = `${String(r.data.personId)}|${str(a?.data.category) ?? String(r.data.assessmentId)}|${subject ?? ''}`;
      const scores = Array.isArray(r.data.scores) ? (r.data.scores as { method?: string; value?: string }[]) : [];
      const scale = num(scores.find((x) => typeof x.method === 'string' && /scale/i.test(x.method))?.value);
      const pl = (r.data.performanceLevel ?? {}) as { code?: string; label?: string; met?: boolean };
      const level = str(pl.code);
      const prior = last.get(family);
      last.set(family, { date: String(r.data.administrationDate), scale, level, assessmentId: String(r.data.assessmentId) });
      if (!inWindow(r.data.administrationDate, cat.window)) continue;
      out.get('assessment_results')!.push({
        __person: String(r.data.personId), student_id: String(r.data.personId), result_id: r.id, assessment_id: String(r.data.assessmentId),
        assessment_title: str(a?.data.title), assessment_category: str(a?.data.category), subject, school_id: str(r.data.schoolId),
        administration_date: String(r.data.administrationDate), grade_when_assessed: str(r.data.gradeWhenAssessed), scale_score: scale,
        performance_level: level, performance_level_label: str(pl.label), met_standard: bool(pl.met),
        prior_administration_date: prior?.date ?? null, prior_scale_score: prior?.scale ?? null,
        scale_score_change: prior && prior.scale !== null && scale !== null ? Math.round((scale - prior.scale) * 1e6) / 1e6 : null,
        prior_performance_level: prior?.level ?? null, level_change: prior ? levelChange(cat, prior.assessmentId, prior.level, String(r.data.assessmentId), level) : null,
      });
    }
  }

  if (wants('behaviour')) {
    const parts = await byPerson(q, db.dialect, t, 'behaviourParticipant', ids);
    const incidents = await byIds(q, db.dialect, t, 'behaviourIncident', parts.map((p) => String(p.data.incidentId)));
    parts.sort((a, b) => String(a.data.personId).localeCompare(String(b.data.personId)) || a.id.localeCompare(b.id));
    for (const p of parts) {
      const inc = incidents.get(String(p.data.incidentId));
      if (!inc || !inWindow(inc.data.incidentDate, cat.window)) continue;
      const behaviours = (Array.isArray(p.data.behaviours) && p.data.behaviours.length ? p.data.behaviours : inc.data.behaviours ?? []) as { code: string; label?: string }[];
      out.get('behaviour')!.push({
        __person: String(p.data.personId), student_id: String(p.data.personId), participant_id: p.id, incident_id: inc.id, school_id: str(inc.data.schoolId),
        incident_date: str(inc.data.incidentDate), positive: bool(inc.data.positive), behaviour_codes: behaviours.map((x) => x.code).join('|') || null,
        behaviour_labels: behaviours.map((x) => x.label ?? '').join('|') || null, participant_role: str(p.data.role), incident_description: str(inc.data.description),
      });
    }
  }

  if (wants('discipline_actions')) {
    for (const d of await byPerson(q, db.dialect, t, 'disciplineAction', ids)) {
      if (!inWindow(d.data.actionDate, cat.window)) continue;
      const actions = (Array.isArray(d.data.actions) ? d.data.actions : []) as { code: string; label?: string }[];
      out.get('discipline_actions')!.push({
        __person: String(d.data.personId), student_id: String(d.data.personId), action_id: d.id, incident_id: str(d.data.incidentId), school_id: str(d.data.schoolId),
        action_date: String(d.data.actionDate), action_codes: actions.map((x) => x.code).join('|') || null, action_labels: actions.map((x) => x.label ?? '').join('|') || null,
        duration_days: num(d.data.durationDays), actual_duration_days: num(d.data.actualDurationDays),
      });
    }
    out.get('discipline_actions')!.sort((a, b) => String(a.student_id).localeCompare(String(b.student_id)) || String(a.action_id).localeCompare(String(b.action_id)));
  }

  if (wants('attendance')) {
    const events = await byPerson(q, db.dialect, t, 'attendanceEvent', ids);
    const evByPerson = new Map<string, RecordRow[]>();
    for (const e of events) {
      if (e.data.classId) continue; // section attendance: daily counts use school-level events only
      const k = String(e.data.personId);
      (evByPerson.get(k) ?? evByPerson.set(k, []).get(k)!).push(e);
    }
    const yearStart = dayNum(cat.window.start);
    const yearEnd = Math.min(dayNum(cat.window.end), today >= cat.window.start ? dayNum(today) : dayNum(cat.window.end));
    for (const s of students) {
      const perSchool = new Map<string, [number, number][]>();
      for (const e of s.enrollments) {
        const { entry, exit } = entryExit(e);
        const a = Math.max(entry ? dayNum(entry) : yearStart, yearStart);
        const b = Math.min(exit ? dayNum(exit) : yearEnd, yearEnd);
        const k = String(e.data.schoolId);
        (perSchool.get(k) ?? perSchool.set(k, []).get(k)!).push([a, b]);
      }
      for (const [schoolId, ivs] of [...perSchool.entries()].sort((x, y) => x[0].localeCompare(y[0]))) {
        const merged = mergeIntervals(ivs);
        const enrolled = merged.reduce((n, [a, b]) => n + weekdaysBetween(a, b), 0);
        const inside = (d: number) => merged.some(([a, b]) => d >= a && d <= b);
        const absent = new Map<number, boolean>(); // day -> excused
        const tardy = new Set<number>();
        for (const e of evByPerson.get(s.id) ?? []) {
          if (e.data.schoolId && String(e.data.schoolId) !== schoolId && perSchool.size > 1) continue;
          const d = dayNum(String(e.data.date));
          if (!inside(d)) continue;
          const c = String(e.data.category ?? '').toLowerCase();
          if (/absen/.test(c)) absent.set(d, (absent.get(d) ?? false) || (/excused/.test(c) && !/unexcused/.test(c)));
          else if (/tard/.test(c)) tardy.add(d);
        }
        const excused = [...absent.values()].filter(Boolean).length;
        const present = Math.max(0, enrolled - absent.size);
        out.get('attendance')!.push({
          __person: s.id, student_id: s.id, attendance_school_id: schoolId, days_enrolled: enrolled, days_absent: absent.size, days_excused_absence: excused,
          days_unexcused_absence: absent.size - excused, days_tardy: tardy.size, days_present: present,
          attendance_rate: enrolled > 0 ? Math.round((present / enrolled) * 10000) / 10000 : null, ...subgroupOnly(s.subgroup),
        });
      }
    }
  }

  if (wants('competency_mastery')) {
    const rows = (await q('mastery').where('tenant_id', t).whereIn('learner_id', ids).orderBy(['learner_id', 'competency_id'])
      .select('learner_id', 'competency_id', 'framework_id', 'subject', 'level', 'scale_min', 'scale_max', 'status', 'method', 'evidence_count', 'last_evidence_at')) as Record<string, unknown>[];
    for (const r of rows) {
      if (isSel(r.subject) && !sel.has('sel')) continue;
      const n = num(r.evidence_count);
      out.get('competency_mastery')!.push({
        __person: String(r.learner_id), ...(isSel(r.subject) ? { __category: 'sel' } : {}), student_id: String(r.learner_id), competency_id: String(r.competency_id), framework_id: str(r.framework_id), subject: str(r.subject),
        level: num(r.level), scale_min: num(r.scale_min), scale_max: num(r.scale_max), status: str(r.status), method: str(r.method),
        evidence_count: n === null ? null : Math.trunc(n), last_evidence_at: str(r.last_evidence_at),
      });
    }
  }

  if (wants('plp_coverage')) {
    const secondary = students.filter((s) => s.grade !== null && /^(0?[7-9]|1[0-2])$/.test(s.grade));
    if (secondary.length) {
      const sids = secondary.map((s) => s.id);
      const has = await ctx.plans.hasCurrentPlan(sids);
      const needDetails = files.get('plp_coverage')!.fields.some((x) => x.name === 'plan_updated_at' || x.name === 'plan_text');
      const details = needDetails && ctx.plans.details ? await ctx.plans.details(sids) : new Map();
      for (const s of secondary) {
        const d = details.get(s.id);
        out.get('plp_coverage')!.push({
          __person: s.id, student_id: s.id, has_current_plan: has.has(s.id), plan_updated_at: d?.updatedAt ?? null, plan_text: d?.text ?? null, ...subgroupOnly(s.subgroup),
        });
      }
    }
  }
  return out;
}

function subgroupOnly(sub: Row): Row {
  const { __birth_date: _drop, ...rest } = sub;
  return rest;
}

/** Social-emotional competencies (category sel): by subject. */
export function isSel(subject: unknown): boolean {
  return typeof subject === 'string' && /social[\s_-]*emotional|\bsel\b|casel/i.test(subject);
}

function levelChange(cat: Catalog, priorAssessment: string, prior: string | null, currentAssessment: string, current: string | null): number | null {
  if (prior === null || current === null) return null;
  if (/^-?\d+$/.test(prior) && /^-?\d+$/.test(current)) return Number(current) - Number(prior);
  const pos = (assessmentId: string, code: string) => {
    const levels = (cat.assessments.get(assessmentId)?.data.performanceLevels ?? []) as { code: string }[];
    const i = levels.findIndex((l) => l.code === code);
    return i < 0 ? null : i;
  };
  const a = pos(priorAssessment, prior);
  const b = pos(currentAssessment, current);
  return a === null || b === null ? null : b - a;
}

export type { ExportCategory };
