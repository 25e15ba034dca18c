/**
 * Contract tests for the oneroster-csv connector on the synthetic fixtures in fixtures/oneroster-csv/ (fictional
 * people only) and on variants written to a temp dir: plan modes and skips, exact records and rejects, paging and
 * cursors, resume, abort, zips, check(), settings.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Ajv from 'ajv';
import * as yazl from 'yazl';
import { HubError } from '../../src/core/errors';
import { silentLogger } from '../../src/core/logger';
import type { Cursor, Page, PlanContext, ReadContext, SourceRecord, SyncMode } from '../../src/ingest/contract';
import { oneRosterCsv, type OneRosterCsvSettings } from './index';

const FIXTURES = path.resolve(__dirname, '../../fixtures/oneroster-csv');
let tmp: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'oneroster-csv-test-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function base(signal = new AbortController().signal) {
  return { tenantId: 't1', connectorId: 'sis', baseDir: FIXTURES, log: silentLogger, signal };
}
const planCtx = (cursors: Record<string, Cursor | undefined> = {}): PlanContext => ({ ...base(), cursors });
const readCtx = (mode: SyncMode, cursor?: Cursor, signal?: AbortSignal): ReadContext => ({ ...base(signal), mode, ...(cursor ? { cursor } : {}) });

async function pages(stream: string, settings: OneRosterCsvSettings, ctx: ReadContext): Promise<Page[]> {
  const out: Page[] = [];
  for await (const p of oneRosterCsv.read(stream, settings, ctx)) out.push(p);
  return out;
}
async function records(stream: string, settings: OneRosterCsvSettings, mode: SyncMode = 'full'): Promise<SourceRecord[]> {
  return (await pages(stream, settings, readCtx(mode))).flatMap((p) => p.records);
}
/** The record without raw (asserted separately), for compact expectations. */
const slim = (r: SourceRecord) => ({ sourceId: r.sourceId, location: r.location, ...(r.deleted ? { deleted: true } : {}), data: r.data });

async function caught(p: Promise<unknown>): Promise<HubError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(HubError);
    return e as HubError;
  }
  throw new Error('expected a HubError');
}

/** Writes an export folder under tmp: { 'manifest.csv': [...lines] }. */
function writeExport(name: string, files: Record<string, string[] | string | Buffer>): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) {
    fs.writeFileSync(path.join(dir, file), Array.isArray(content) ? `${content.join('\r\n')}\r\n` : content);
  }
  return dir;
}

function copyFixture(name: string, as: string): string {
  const dir = path.join(tmp, as);
  fs.cpSync(path.join(FIXTURES, name), dir, { recursive: true });
  return dir;
}

async function zipOf(entries: Record<string, Buffer | string>, file: string): Promise<string> {
  const zip = new yazl.ZipFile();
  for (const [name, content] of Object.entries(entries)) zip.addBuffer(Buffer.isBuffer(content) ? content : Buffer.from(content), name);
  zip.end();
  const out = path.join(tmp, file);
  await new Promise<void>((resolve, reject) => {
    zip.outputStream.pipe(fs.createWriteStream(out)).on('close', resolve).on('error', reject);
  });
  return out;
}
function folderEntries(dir: string, prefix = ''): Record<string, Buffer> {
  return Object.fromEntries(fs.readdirSync(dir).map((f) => [`${prefix}${f}`, fs.readFileSync(path.join(dir, f))]));
}

const U12 =
  'sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password,userMasterIdentifier,resourceSourcedIds,preferredGivenName,preferredMiddleName,preferredFamilyName,primaryOrgSourcedId,pronouns';
const MANIFEST_HEAD = ['propertyName,value', 'manifest.version,1.0', 'oneroster.version,1.2'];

// ---------------------------------------------------------------------------------------------------------------

describe('manifest', () => {
  test('id, kind, streams in reading order, config schema from schemas/connectors', () => {
    const m = oneRosterCsv.manifest;
    expect(m.id).toBe('oneroster-csv');
    expect(m.kind).toEqual(['roster', 'gradebook']);
    expect(m.secretFields).toEqual([]);
    expect(m.streams).toEqual([
      { name: 'orgs', entities: ['org'], modes: ['full', 'incremental'] },
      { name: 'academicSessions', entities: ['academicSession'], modes: ['full', 'incremental'] },
      { name: 'courses', entities: ['course'], modes: ['full', 'incremental'] },
      { name: 'classes', entities: ['class'], modes: ['full', 'incremental'] },
      { name: 'users', entities: ['person'], modes: ['full', 'incremental'] },
      { name: 'roles', entities: ['role'], modes: ['full', 'incremental'] },
      { name: 'demographics', entities: ['demographics'], modes: ['full', 'incremental'] },
      { name: 'enrollments', entities: ['enrollment'], modes: ['full', 'incremental'] },
      { name: 'categories', entities: ['lineItemCategory'], modes: ['full', 'incremental'] },
      { name: 'lineItems', entities: ['lineItem'], modes: ['full', 'incremental'] },
      { name: 'results', entities: ['result'], modes: ['full', 'incremental'] },
    ]);
    const file = path.resolve(__dirname, '../../schemas/connectors/oneroster-csv.config.schema.json');
    expect(m.configSchema).toEqual(JSON.parse(fs.readFileSync(file, 'utf8')));
  });

  test('the config schema is strict draft-07 and says what the settings are', () => {
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
    const validate = ajv.compile(oneRosterCsv.manifest.configSchema);
    expect(oneRosterCsv.manifest.configSchema).toMatchObject({ $schema: 'http://json-schema.org/draft-07/schema#', additionalProperties: false });
    expect(validate({ path: './district/sis/bulk' })).toBe(true);
    expect(validate({ path: 'x.zip', version: '1.1', pageSize: 50000 })).toBe(true);
    for (const bad of [{}, { path: '' }, { path: 'x', version: '1.3' }, { path: 'x', pageSize: 0 }, { path: 'x', pageSize: 50001 }, { path: 'x', pageSize: 1.5 }, { path: 'x', extra: 1 }]) {
      expect(validate(bad)).toBe(false);
    }
  });
});

describe('plan()', () => {
  test('1.2 bulk: every roster stream full; the gradebook declared absent is skipped', async () => {
    expect(await oneRosterCsv.plan({ path: 'or12-bulk' }, planCtx())).toEqual([
      ...['orgs', 'academicSessions', 'courses', 'classes', 'users', 'roles', 'demographics', 'enrollments'].map((stream) => ({ stream, mode: 'full' })),
      { stream: 'categories', mode: 'incremental', skip: 'manifest.csv declares file.categories absent' },
      { stream: 'lineItems', mode: 'incremental', skip: 'manifest.csv declares file.lineItems absent' },
      { stream: 'results', mode: 'incremental', skip: 'manifest.csv declares file.results absent' },
    ]);
  });

  test('1.2 delta: delta files incremental; absent and unlisted files skipped with a reason', async () => {
    expect(await oneRosterCsv.plan({ path: 'or12-delta' }, planCtx())).toEqual([
      { stream: 'orgs', mode: 'incremental', skip: 'manifest.csv declares file.orgs absent' },
      { stream: 'academicSessions', mode: 'incremental', skip: 'manifest.csv declares file.academicSessions absent' },
      { stream: 'courses', mode: 'incremental', skip: 'manifest.csv declares file.courses absent' },
      { stream: 'classes', mode: 'incremental', skip: 'manifest.csv declares file.classes absent' },
      { stream: 'users', mode: 'incremental' },
      { stream: 'roles', mode: 'incremental', skip: 'manifest.csv declares file.roles absent' },
      { stream: 'demographics', mode: 'incremental', skip: 'manifest.csv does not list file.demographics' },
      { stream: 'enrollments', mode: 'incremental' },
      { stream: 'categories', mode: 'incremental', skip: 'manifest.csv does not list file.categories' },
      { stream: 'lineItems', mode: 'incremental', skip: 'manifest.csv does not list file.lineItems' },
      { stream: 'results', mode: 'incremental', skip: 'manifest.csv does not list file.results' },
    ]);
  });

  test('1.1: roles come from users.csv and follow file.users', async () => {
    const plan = await oneRosterCsv.plan({ path: 'or11-bulk' }, planCtx());
    expect(plan.find((p) => p.stream === 'roles')).toEqual({ stream: 'roles', mode: 'full' });
    expect(plan.find((p) => p.stream === 'demographics')).toEqual({ stream: 'demographics', mode: 'incremental', skip: 'manifest.csv declares file.demographics absent' });
  });

  test('an explicit version overrides the manifest (and headers are then checked against it)', async () => {
    const e = await caught(oneRosterCsv.plan({ path: 'or11-bulk', version: '1.2' }, planCtx()));
    expect(e.code).toBe('source_invalid');
    expect(e.details).toEqual([{ path: 'users.csv:1', message: 'expected column 5 to be "username", found "orgSourcedIds"' }]);
  });

  test('a wrong header fails the plan, naming file, line, column and both names', async () => {
    const e = await caught(oneRosterCsv.plan({ path: 'bad-header' }, planCtx()));
    expect(e.code).toBe('source_invalid');
    expect(e.details).toEqual([{ path: 'users.csv:1', message: 'expected column 5 to be "username", found "userName"' }]);
  });

  test('a missing column, a blank or repeated extension header, __proto__', async () => {
    const dir = (n: string, header: string) => writeExport(n, { 'manifest.csv': [...MANIFEST_HEAD, 'file.users,bulk'], 'users.csv': [header, 'x'] });
    const short = await caught(oneRosterCsv.plan({ path: dir('hdr-short', U12.split(',').slice(0, 22).join(',')) }, planCtx()));
    expect(short.details[0]).toEqual({ path: 'users.csv:1', message: 'expected column 23 to be "pronouns", found no column (the header has 22)' });
    const blank = await caught(oneRosterCsv.plan({ path: dir('hdr-blank', `${U12},`) }, planCtx()));
    expect(blank.details[0].message).toBe('extension column 24 has a blank header');
    const twice = await caught(oneRosterCsv.plan({ path: dir('hdr-twice', `${U12},email`) }, planCtx()));
    expect(twice.details[0].message).toBe('extension column 24 repeats the header "email"');
    const proto = await caught(oneRosterCsv.plan({ path: dir('hdr-proto', `${U12},__proto__`) }, planCtx()));
    expect(proto.details[0].message).toContain('__proto__');
  });

  test('headers are case-sensitive', async () => {
    const dir = writeExport('hdr-case', { 'manifest.csv': [...MANIFEST_HEAD, 'file.users,bulk'], 'users.csv': [U12.replace('sourcedId', 'SourcedId'), 'x'] });
    const e = await caught(oneRosterCsv.plan({ path: dir }, planCtx()));
    expect(e.details[0]).toEqual({ path: 'users.csv:1', message: 'expected column 1 to be "sourcedId", found "SourcedId"' });
  });

  test('a declared file with no data rows fails the plan', async () => {
    const e = await caught(oneRosterCsv.plan({ path: 'empty-declared' }, planCtx()));
    expect(e.code).toBe('source_invalid');
    expect(e.details[0].path).toBe('users.csv');
    expect(e.message).toContain('files with no data rows are not permitted; declare it absent');
    // read() checks it too (the file may have changed since the plan).
    expect((await caught(pages('users', { path: 'empty-declared' }, readCtx('full')))).details[0].path).toBe('users.csv');
    const zeroBytes = writeExport('zero-bytes', { 'manifest.csv': [...MANIFEST_HEAD, 'file.users,bulk'], 'users.csv': '' });
    expect((await caught(oneRosterCsv.plan({ path: zeroBytes }, planCtx()))).details[0]).toEqual({ path: 'users.csv:1', message: 'the file is empty: a header row is required' });
  });

  test('no manifest.csv, missing path, declared file missing', async () => {
    const none = await caught(oneRosterCsv.plan({ path: 'no-manifest' }, planCtx()));
    expect(none.code).toBe('source_invalid');
    expect(none.details[0].path).toBe('manifest.csv');
    expect(none.message).toContain('mandatory');

    const missing = await caught(oneRosterCsv.plan({ path: 'does/not/exist' }, planCtx()));
    expect(missing.code).toBe('source_not_found');
    expect(missing.message).toContain(path.join(FIXTURES, 'does/not/exist'));

    const undeclared = await caught(oneRosterCsv.plan({ path: 'missing-declared' }, planCtx()));
    expect(undeclared.code).toBe('source_invalid');
    expect(undeclared.details).toEqual([{ path: 'manifest.csv:5', message: 'file.enrollments is declared bulk but enrollments.csv is missing from the export' }]);
  });

  test('a file present under another case is named in the error', async () => {
    const dir = writeExport('case-name', { 'manifest.csv': [...MANIFEST_HEAD, 'file.users,bulk'], 'Users.csv': [U12, 'x'] });
    const e = await caught(oneRosterCsv.plan({ path: dir }, planCtx()));
    expect(e.message).toContain('found Users.csv: file names are case-sensitive');
  });

  test.each([
    ['an unknown file value', ['file.users,full'], 'manifest.csv:4', 'file.users must be absent, bulk or delta, found "full"'],
    ['manifest.version other than 1.0', ['propertyName,value', 'manifest.version,2.0', 'oneroster.version,1.2'], 'manifest.csv:2', 'manifest.version must be 1.0, found "2.0"'],
    ['an unsupported oneroster.version', ['propertyName,value', 'manifest.version,1.0', 'oneroster.version,1.0'], 'manifest.csv:3', 'oneroster.version must be 1.1 or 1.2, found "1.0"'],
    ['no oneroster.version', ['propertyName,value', 'manifest.version,1.0'], 'manifest.csv', 'oneroster.version is missing'],
    ['no manifest.version', ['propertyName,value', 'oneroster.version,1.2'], 'manifest.csv', 'manifest.version is missing'],
    ['a property twice', ['file.users,absent', 'file.users,absent'], 'manifest.csv:5', 'file.users is declared twice (first on line 4)'],
    ['a wrong header', ['property,value', 'manifest.version,1.0'], 'manifest.csv:1', 'the header must be "propertyName,value"'],
    ['a row with three fields', ['file.users,absent,x'], 'manifest.csv:4', 'expected 2 fields'],
  ])('manifest with %s -> source_invalid naming manifest.csv and the line', async (name, lines, where, message) => {
    const manifest = lines[0] === 'propertyName,value' || lines[0] === 'property,value' ? lines : [...MANIFEST_HEAD, ...lines];
    const dir = writeExport(`manifest-${name.replace(/\W+/g, '-')}`, { 'manifest.csv': manifest });
    const e = await caught(oneRosterCsv.plan({ path: dir }, planCtx()));
    expect(e.code).toBe('source_invalid');
    expect(e.details[0].path).toBe(where);
    expect(e.details[0].message).toContain(message);
  });

  test('oneroster.version 1.2.1 reads as 1.2; a BOM in manifest.csv is fine', async () => {
    const dir = writeExport('manifest-121', { 'manifest.csv': `\ufeff${['propertyName,value', 'manifest.version,1.0', 'oneroster.version,1.2.1', 'file.users,bulk'].join('\n')}\n`, 'users.csv': fs.readFileSync(path.join(FIXTURES, 'or12-bulk/users.csv')) });
    expect((await oneRosterCsv.plan({ path: dir }, planCtx())).find((p) => p.stream === 'users')).toEqual({ stream: 'users', mode: 'full' });
  });

  test('invalid settings -> connector_config_invalid', async () => {
    expect((await caught(oneRosterCsv.plan({ path: '' }, planCtx()))).code).toBe('connector_config_invalid');
    expect((await caught(oneRosterCsv.plan({ path: 'or12-bulk', pageSize: 0 }, planCtx()))).code).toBe('connector_config_invalid');
    expect((await caught(oneRosterCsv.plan({ path: 'or12-bulk', version: '2' as '1.2' }, planCtx()))).code).toBe('connector_config_invalid');
  });
});

describe('read(): 1.2 bulk', () => {
  const s = { path: 'or12-bulk' };

  test('orgs: parents first (the file lists children first), BOM ignored, quoted comma kept', async () => {
    expect((await records('orgs', s)).map(slim)).toEqual([
      { sourceId: 'dist-1', location: 'orgs.csv:3', data: { name: 'Fictional Unified School District', type: 'district' } },
      { sourceId: 'sch-1', location: 'orgs.csv:2', data: { name: 'Maple Grove Elementary', type: 'school', identifier: 'NCES-0001', parentId: 'dist-1' } },
      { sourceId: 'sch-2', location: 'orgs.csv:5', data: { name: 'Cedar Ridge Middle School, East Campus', type: 'school', identifier: 'NCES-0002', parentId: 'dist-1' } },
      { sourceId: 'dept-1', location: 'orgs.csv:4', data: { name: 'Science Department', type: 'department', parentId: 'sch-2' } },
    ]);
  });

  test('academicSessions: parents first', async () => {
    expect((await records('academicSessions', s)).map((r) => r.sourceId)).toEqual(['sy-2026', 'term-fall', 'term-spring', 'gp-q1']);
    expect((await records('academicSessions', s))[1].data).toEqual({
      title: 'Fall 2025', type: 'term', startDate: '2025-08-20', endDate: '2025-12-19', parentId: 'sy-2026', schoolYear: '2026',
    });
  });

  test('courses and classes', async () => {
    expect((await records('courses', s)).map(slim)).toEqual([
      { sourceId: 'crs-math6', location: 'courses.csv:2', data: { title: 'Mathematics 6', orgId: 'sch-2', schoolYearId: 'sy-2026', courseCode: 'MATH6', grades: ['06'], subjects: ['Mathematics'], subjectCodes: ['MA'] } },
      { sourceId: 'crs-sci6', location: 'courses.csv:3', data: { title: 'Science 6', orgId: 'sch-2', grades: ['06', '07'], subjects: ['Life Science', 'Earth Science'] } },
    ]);
    expect((await records('classes', s)).map(slim)).toEqual([
      {
        sourceId: 'cls-math6-a', location: 'classes.csv:2',
        data: {
          title: 'Mathematics 6 - Section A', classType: 'scheduled', courseId: 'crs-math6', schoolId: 'sch-2', termIds: ['term-fall', 'term-spring'],
          classCode: 'M6A', location: 'Room 101', grades: ['06'], subjects: ['Mathematics'], subjectCodes: ['MA'], periods: ['1', '2'],
        },
      },
      { sourceId: 'cls-hr-3b', location: 'classes.csv:3', data: { title: 'Homeroom 3B', classType: 'homeroom', courseId: 'crs-sci6', schoolId: 'sch-1', termIds: ['term-fall'] } },
    ]);
  });

  test('users: accents, quoted comma, identifiers; raw keyed by header without the password', async () => {
    const users = await records('users', s);
    expect(users.map(slim)).toEqual([
      {
        sourceId: 'stu-1', location: 'users.csv:2',
        data: {
          givenName: 'Zoë', familyName: 'Lindqvist', middleName: 'Åsa', preferredGivenName: 'Zo', pronouns: 'she/her', username: 'zoe.lindqvist',
          email: 'zoe.lindqvist@example.org', enabledUser: true, grades: ['06'], primaryOrgId: 'sch-2', agentIds: ['par-1'],
          identifiers: [
            { system: 'LDAP', value: 'zlindqvist' }, { system: 'state', value: 'ST-100234' }, { system: 'identifier', value: 'S100234' },
            { system: 'userMasterIdentifier', value: 'MI-100234' },
          ],
        },
      },
      {
        sourceId: 'stu-2', location: 'users.csv:3',
        data: { givenName: 'Mateo', familyName: 'Núñez, Jr.', username: 'mateo.nunez', enabledUser: true, grades: ['06', '07'], primaryOrgId: 'sch-2', identifiers: [{ system: 'identifier', value: 'S100235' }] },
      },
      {
        sourceId: 'tch-1', location: 'users.csv:4',
        data: {
          givenName: 'Rosalind', familyName: "O'Keeffe-Okafor", username: 'r.okafor', email: 'r.okafor@example.org', sms: '+15550100', phone: '555-0100',
          enabledUser: false, primaryOrgId: 'sch-2', identifiers: [{ system: 'LDAP', value: 'rokafor' }, { system: 'identifier', value: 'T2001' }],
        },
      },
      { sourceId: 'par-1', location: 'users.csv:5', data: { givenName: 'Pål', familyName: 'Lindqvist', username: 'p.lindqvist', enabledUser: true, identifiers: [] } },
    ]);
    const raw = users[0].raw as Record<string, string>;
    expect(Object.keys(raw)).toEqual(U12.split(',').filter((h) => h !== 'password'));
    expect(raw.agentSourcedIds).toBe('par-1');
    expect(JSON.stringify(users.map((u) => u.raw))).not.toContain('not-kept-1');
  });

  test('roles, demographics, enrollments (an extension column is kept in raw)', async () => {
    expect((await records('roles', s)).map((r) => [r.sourceId, r.data])).toEqual([
      ['role-stu-1', { personId: 'stu-1', orgId: 'sch-2', roleType: 'primary', role: 'student', beginDate: '2025-08-20' }],
      ['role-stu-2', { personId: 'stu-2', orgId: 'sch-2', roleType: 'primary', role: 'student' }],
      ['role-tch-1', { personId: 'tch-1', orgId: 'sch-2', roleType: 'primary', role: 'teacher' }],
      ['role-tch-1b', { personId: 'tch-1', orgId: 'sch-1', roleType: 'secondary', role: 'teacher', beginDate: '2025-08-20', endDate: '2026-06-10' }],
      ['role-par-1', { personId: 'par-1', orgId: 'dist-1', roleType: 'primary', role: 'guardian' }],
    ]);
    expect((await records('demographics', s)).map(slim)).toEqual([
      {
        sourceId: 'stu-1', location: 'demographics.csv:2',
        data: {
          personId: 'stu-1', birthDate: '2014-03-09', sex: 'female', americanIndianOrAlaskaNative: false, asian: false, blackOrAfricanAmerican: false,
          nativeHawaiianOrOtherPacificIslander: false, white: true, demographicRaceTwoOrMoreRaces: false, hispanicOrLatinoEthnicity: false,
          countryOfBirthCode: 'US', stateOfBirthAbbreviation: 'WA', cityOfBirth: 'Spokane', publicSchoolResidenceStatus: '01652',
        },
      },
      { sourceId: 'stu-2', location: 'demographics.csv:3', data: { personId: 'stu-2', birthDate: '2013-11-30', sex: 'male', hispanicOrLatinoEthnicity: true } },
    ]);
    const enr = await records('enrollments', s);
    expect(enr.map(slim)).toEqual([
      { sourceId: 'enr-1', location: 'enrollments.csv:2', data: { classId: 'cls-math6-a', schoolId: 'sch-2', personId: 'stu-1', role: 'student', primary: false, beginDate: '2025-08-20', endDate: '2026-06-10' } },
      { sourceId: 'enr-2', location: 'enrollments.csv:3', data: { classId: 'cls-math6-a', schoolId: 'sch-2', personId: 'stu-2', role: 'student' } },
      { sourceId: 'enr-3', location: 'enrollments.csv:4', data: { classId: 'cls-math6-a', schoolId: 'sch-2', personId: 'tch-1', role: 'teacher', primary: true } },
    ]);
    expect(enr[0].raw).toEqual({
      sourcedId: 'enr-1', status: '', dateLastModified: '', classSourcedId: 'cls-math6-a', schoolSourcedId: 'sch-2', userSourcedId: 'stu-1',
      role: 'student', primary: 'false', beginDate: '2025-08-20', endDate: '2026-06-10', 'metadata.seat': 'A4',
    });
  });

  test('one page per small file, with a complete cursor and no rejects', async () => {
    const ps = await pages('users', s, readCtx('full'));
    expect(ps).toHaveLength(1);
    expect(ps[0].rejects).toEqual([]);
    expect(ps[0].cursor).toEqual({ fingerprint: expect.stringMatching(/^fs:\d+:[\d.]+$/), line: 5, complete: true });
  });
});

describe('read(): 1.1 bulk', () => {
  test('users carry primaryRole; roles are derived per org, first one primary', async () => {
    expect((await records('users', { path: 'or11-bulk' })).map((r) => [r.sourceId, r.data.primaryRole])).toEqual([['u-1', 'teacher'], ['u-2', 'student']]);
    expect((await records('roles', { path: 'or11-bulk' })).map(slim)).toEqual([
      { sourceId: 'u-1::sch-a', location: 'users.csv:2', data: { personId: 'u-1', orgId: 'sch-a', roleType: 'primary', role: 'teacher' } },
      { sourceId: 'u-1::sch-b', location: 'users.csv:2', data: { personId: 'u-1', orgId: 'sch-b', roleType: 'secondary', role: 'teacher' } },
      { sourceId: 'u-2::sch-a', location: 'users.csv:3', data: { personId: 'u-2', orgId: 'sch-a', roleType: 'primary', role: 'student' } },
    ]);
    expect(JSON.stringify((await records('users', { path: 'or11-bulk' })).map((u) => u.raw))).not.toContain('hunter2');
  });

  test('1.1 has no demographics here and no roles.csv: reading an absent stream is a source error', async () => {
    const e = await caught(pages('demographics', { path: 'or11-bulk' }, readCtx('full')));
    expect(e.code).toBe('source_invalid');
    expect(e.message).toContain('file.demographics is not declared bulk or delta');
  });
});

describe('read(): 1.2 delta', () => {
  const s = { path: 'or12-delta' };

  test('updates, a deleted user, rejects for a date without time and a blank status', async () => {
    expect((await records('users', s, 'incremental')).map(slim)).toEqual([
      {
        sourceId: 'stu-2', location: 'users.csv:2',
        data: { givenName: 'Mateo', familyName: 'Núñez', pronouns: 'he/him', username: 'mateo.nunez', email: 'mateo.nunez@example.org', enabledUser: true, grades: ['07'], primaryOrgId: 'sch-2', identifiers: [{ system: 'identifier', value: 'S100235' }] },
      },
      { sourceId: 'stu-1', location: 'users.csv:3', deleted: true, data: {} },
      { sourceId: 'tch-2', location: 'users.csv:4', data: { givenName: 'Amira', familyName: 'Haddad', username: 'a.haddad', enabledUser: true, primaryOrgId: 'sch-1', identifiers: [{ system: 'identifier', value: 'T2002' }] } },
    ]);
    const ps = await pages('enrollments', s, readCtx('incremental'));
    expect(ps.flatMap((p) => p.records).map((r) => [r.sourceId, r.deleted ?? false])).toEqual([
      ['enr-2', true], ['enr-4', false], ['enr-5', false], ['enr-6', false],
    ]);
    expect(ps.flatMap((p) => p.rejects ?? []).map(({ raw, ...r }) => r)).toEqual([
      { location: 'enrollments.csv:6', field: 'dateLastModified', code: 'row_malformed', reason: 'dateLastModified must be an ISO 8601 date-time, found "2025-09-02"', sourceId: 'enr-7' },
      { location: 'enrollments.csv:7', field: 'status', code: 'row_malformed', reason: 'status is required in a delta file (active or tobedeleted)', sourceId: 'enr-8' },
    ]);
  });
});

describe('read(): mode guard', () => {
  test('a delta file is never read in full mode (the sweep after it would delete what the delta does not mention)', async () => {
    const e = await caught(pages('users', { path: 'or12-delta' }, readCtx('full')));
    expect(e.code).toBe('source_invalid');
    expect(e.message).toContain('cannot be read in full mode');
  });

  test('a bulk file may be read incrementally (nothing is swept then)', async () => {
    expect((await records('users', { path: 'or12-bulk' }, 'incremental')).map((r) => r.sourceId)).toEqual(['stu-1', 'stu-2', 'tch-1', 'par-1']);
  });
});

describe('read(): bad rows', () => {
  test('users.csv: each bad row is a reject with its line, column and reason; good rows around them survive', async () => {
    const ps = await pages('users', { path: 'bad-rows' }, readCtx('full'));
    expect(ps).toHaveLength(1);
    expect(ps[0].records.map((r) => [r.sourceId, r.location])).toEqual([['ok-1', 'users.csv:2'], ['ok-2', 'users.csv:8'], ['ok-3', 'users.csv:11']]);
    expect(ps[0].rejects!.map(({ raw, ...r }) => r)).toEqual([
      { location: 'users.csv:3', code: 'row_malformed', reason: 'expected 23 fields as in the header, found 8', sourceId: 'short-1' },
      { location: 'users.csv:4', field: 'enabledUser', code: 'row_malformed', reason: 'enabledUser must be true or false, found "yes"', sourceId: 'bool-1' },
      { location: 'users.csv:5', field: 'userIds', code: 'row_malformed', reason: expect.stringContaining('userIds must be a list of {type:id} pairs'), sourceId: 'ids-1' },
      { location: 'users.csv:6', field: 'givenName', code: 'record_invalid', reason: 'required column givenName is blank', sourceId: 'req-1' },
      { location: 'users.csv:7', field: 'givenName', code: 'row_malformed', reason: expect.stringContaining('broken quoting in column 7 (givenName): a quoted field is not closed'), sourceId: 'quote-1' },
      { location: 'users.csv:9', field: 'status', code: 'record_invalid', reason: expect.stringContaining('tobedeleted is not allowed in a bulk file'), sourceId: 'del-1' },
    ]);
    // users.csv has a password column: a line that cannot be parsed keeps no raw text (it could hold a password).
    expect(ps[0].rejects![0].raw).toBeUndefined();
    expect(ps[0].rejects![4].raw).toBeUndefined();
    expect(ps[0].rejects![1].raw).toMatchObject({ sourcedId: 'bool-1', enabledUser: 'yes' });
    expect(ps[0].cursor).toMatchObject({ line: 11, complete: true });
  });

  test('enrollments.csv: bad date, bad boolean, bad closing quote, stray quote', async () => {
    const ps = await pages('enrollments', { path: 'bad-rows' }, readCtx('full'));
    expect(ps[0].records.map((r) => r.sourceId)).toEqual(['e-ok', 'e-ok2']);
    expect(ps[0].rejects!.map((r) => [r.location, r.field, r.sourceId, r.reason])).toEqual([
      ['enrollments.csv:3', 'beginDate', 'e-date', 'beginDate must be a date YYYY-MM-DD, found "2025-02-30"'],
      ['enrollments.csv:4', 'primary', 'e-bool', 'primary must be true or false, found "maybe"'],
      ['enrollments.csv:5', 'userSourcedId', 'e-close', expect.stringContaining('a closing quote is followed by something other than a comma')],
      ['enrollments.csv:6', 'userSourcedId', 'e-stray', expect.stringContaining('a quote appears inside an unquoted field')],
    ]);
    expect(ps[0].rejects![2].raw).toBe('e-close,,,c-1,s-1,"ok-1"x,student,,,');
  });

  test('a file whose every row is rejected still yields one complete page', async () => {
    const dir = writeExport('all-bad', { 'manifest.csv': [...MANIFEST_HEAD, 'file.users,bulk'], 'users.csv': [U12, 'a,,,nope', 'b,,,true,,,,,,,,,,,,,,,,,,,'] });
    const ps = await pages('users', { path: dir }, readCtx('full'));
    expect(ps).toHaveLength(1);
    expect(ps[0].records).toEqual([]);
    expect(ps[0].rejects!.map((r) => r.location)).toEqual(['users.csv:2', 'users.csv:3']);
    expect(ps[0].cursor).toMatchObject({ line: 3, complete: true });
  });
});

describe('paging and cursors', () => {
  test('pages hold at most pageSize records + rejects; the cursor names the last line covered', async () => {
    const ps = await pages('enrollments', { path: 'or12-delta', pageSize: 2 }, readCtx('incremental'));
    expect(ps.map((p) => [p.records.map((r) => r.sourceId), (p.rejects ?? []).map((r) => r.sourceId), p.cursor?.line, p.cursor?.complete])).toEqual([
      [['enr-2', 'enr-4'], [], 3, false],
      [['enr-5', 'enr-6'], [], 5, false],
      [[], ['enr-7', 'enr-8'], 7, true],
    ]);
    const fp = ps[0].cursor!.fingerprint;
    expect(ps.every((p) => p.cursor!.fingerprint === fp)).toBe(true);
  });

  test('buffered streams (orgs, academicSessions): intermediate cursors say line 0 (yield order is not file order)', async () => {
    const ps = await pages('orgs', { path: 'or12-bulk', pageSize: 3 }, readCtx('full'));
    expect(ps.map((p) => [p.records.length, p.cursor?.line, p.cursor?.complete])).toEqual([[3, 0, false], [1, 5, true]]);
  });

  test('buffered streams page their rejects too: no page holds more than pageSize items', async () => {
    const dir = writeExport('orgs-rejects', {
      'manifest.csv': [...MANIFEST_HEAD, 'file.orgs,bulk'],
      'orgs.csv': ['sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId', 'b,,,B,school,,a', 'x,,,,school,,', 'a,,,A,district,,', 'y,tobedeleted,,Y,school,,', 'c,,,C,school,,a'],
    });
    const ps = await pages('orgs', { path: dir, pageSize: 2 }, readCtx('full'));
    expect(ps.map((p) => [p.records.map((r) => r.sourceId), p.rejects!.map((r) => r.sourceId), p.cursor?.line, p.cursor?.complete])).toEqual([
      [['a', 'b'], [], 0, false],
      [['c'], ['x'], 0, false],
      [[], ['y'], 6, true],
    ]);
  });

  test('extension column names cannot break the generated row factory', async () => {
    const hostile = ['a"b', 'c\\d', '${x}', '}; throw 1; ({', 'e\u2028f'];
    const header = `${'sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId'},${hostile.map((h) => `"${h.replace(/"/g, '""')}"`).join(',')}`;
    const dir = writeExport('hostile-header', { 'manifest.csv': [...MANIFEST_HEAD, 'file.orgs,bulk'], 'orgs.csv': [header, 'a,,,A,district,,,1,2,3,4,5'] });
    const [rec] = await records('orgs', { path: dir });
    expect(Object.entries(rec.raw as Record<string, string>).slice(7)).toEqual(hostile.map((h, i) => [h, String(i + 1)]));
  });

  test('a complete cursor for the same file content makes the next plan skip the stream', async () => {
    const ps = await pages('users', { path: 'or12-bulk' }, readCtx('full'));
    const cursor = ps[ps.length - 1].cursor!;
    const plan = await oneRosterCsv.plan({ path: 'or12-bulk' }, planCtx({ users: cursor }));
    expect(plan.find((p) => p.stream === 'users')).toEqual({ stream: 'users', mode: 'full', skip: 'unchanged since last run (users.csv)' });
    expect(plan.find((p) => p.stream === 'enrollments')).toEqual({ stream: 'enrollments', mode: 'full' });
    // Not complete, or another file: read again.
    expect((await oneRosterCsv.plan({ path: 'or12-bulk' }, planCtx({ users: { ...cursor, complete: false } }))).find((p) => p.stream === 'users')?.skip).toBeUndefined();
    expect((await oneRosterCsv.plan({ path: 'or12-bulk' }, planCtx({ users: { ...cursor, fingerprint: 'fs:1:2' } }))).find((p) => p.stream === 'users')?.skip).toBeUndefined();
  });

  test('a changed file is read again', async () => {
    const dir = copyFixture('or12-bulk', 'changed');
    const ps = await pages('courses', { path: dir }, readCtx('full'));
    const cursor = ps[ps.length - 1].cursor!;
    expect((await oneRosterCsv.plan({ path: dir }, planCtx({ courses: cursor }))).find((p) => p.stream === 'courses')?.skip).toBe('unchanged since last run (courses.csv)');
    fs.appendFileSync(path.join(dir, 'courses.csv'), 'crs-art,,,,Art 6,,,sch-2,,\n');
    expect((await oneRosterCsv.plan({ path: dir }, planCtx({ courses: cursor }))).find((p) => p.stream === 'courses')?.skip).toBeUndefined();
  });

  test('incremental: an incomplete cursor of the same file resumes after its line', async () => {
    const first = await pages('enrollments', { path: 'or12-delta', pageSize: 2 }, readCtx('incremental'));
    const resumed = await pages('enrollments', { path: 'or12-delta', pageSize: 2 }, readCtx('incremental', first[0].cursor));
    expect(resumed.map((p) => [p.records.map((r) => r.sourceId), (p.rejects ?? []).map((r) => r.location), p.cursor?.line, p.cursor?.complete])).toEqual([
      [['enr-5', 'enr-6'], [], 5, false],
      [[], ['enrollments.csv:6', 'enrollments.csv:7'], 7, true],
    ]);
    // The plan does not skip an incomplete stream.
    expect((await oneRosterCsv.plan({ path: 'or12-delta' }, planCtx({ enrollments: first[0].cursor }))).find((p) => p.stream === 'enrollments')).toEqual({ stream: 'enrollments', mode: 'incremental' });
  });

  test('incremental: a cursor from other file content starts over', async () => {
    const first = await pages('enrollments', { path: 'or12-delta', pageSize: 2 }, readCtx('incremental'));
    const ps = await pages('enrollments', { path: 'or12-delta' }, readCtx('incremental', { ...first[0].cursor!, fingerprint: 'fs:0:0' }));
    expect(ps[0].records[0].sourceId).toBe('enr-2');
  });

  test('full: an incomplete cursor re-reads from the start (mark-and-sweep must see every row)', async () => {
    const first = await pages('users', { path: 'or12-bulk', pageSize: 2 }, readCtx('full'));
    expect(first[0].cursor).toMatchObject({ line: 3, complete: false });
    const again = await pages('users', { path: 'or12-bulk', pageSize: 2 }, readCtx('full', first[0].cursor));
    expect(again.flatMap((p) => p.records).map((r) => r.sourceId)).toEqual(['stu-1', 'stu-2', 'tch-1', 'par-1']);
  });
});

describe('abort', () => {
  test('an aborted signal stops the read with an AbortError and no final page', async () => {
    const lines = [U12];
    for (let i = 0; i < 5000; i++) lines.push(`u${i},,,true,user${i},,Given${i},Family${i},,,,,,,,,,,,,,,`);
    const dir = writeExport('big', { 'manifest.csv': [...MANIFEST_HEAD, 'file.users,bulk'], 'users.csv': lines });
    const ac = new AbortController();
    const seen: Page[] = [];
    await expect(
      (async () => {
        for await (const p of oneRosterCsv.read('users', { path: dir, pageSize: 100 }, readCtx('full', undefined, ac.signal))) {
          seen.push(p);
          if (seen.length === 2) ac.abort();
        }
      })(),
    ).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen).toHaveLength(2);
    expect(seen.every((p) => p.cursor?.complete === false)).toBe(true);
  });

  test('already aborted: nothing is read', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(pages('users', { path: 'or12-bulk' }, readCtx('full', undefined, ac.signal))).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('zip sources', () => {
  test('a zip with the files at its root reads exactly like the folder; fingerprints come from crc32 + size', async () => {
    const zip = await zipOf(folderEntries(path.join(FIXTURES, 'or12-bulk')), 'or12-bulk.zip');
    expect(await oneRosterCsv.plan({ path: zip }, planCtx())).toEqual(await oneRosterCsv.plan({ path: 'or12-bulk' }, planCtx()));
    for (const stream of ['orgs', 'users', 'enrollments']) {
      const fromZip = await pages(stream, { path: zip }, readCtx('full'));
      const fromDir = await pages(stream, { path: 'or12-bulk' }, readCtx('full'));
      expect(fromZip.map((p) => p.records)).toEqual(fromDir.map((p) => p.records));
      expect(fromZip[0].cursor?.fingerprint).toMatch(/^zip:\d+:\d+$/);
    }
  });

  test('re-zipping the same content keeps the fingerprint, so an unchanged file is skipped', async () => {
    const a = await zipOf(folderEntries(path.join(FIXTURES, 'or12-bulk')), 'a.zip');
    const ps = await pages('users', { path: a }, readCtx('full'));
    const b = await zipOf(folderEntries(path.join(FIXTURES, 'or12-bulk')), 'b.zip');
    expect((await oneRosterCsv.plan({ path: b }, planCtx({ users: ps[0].cursor }))).find((p) => p.stream === 'users')?.skip).toBe('unchanged since last run (users.csv)');
  });

  test('a zip whose files sit in a folder is refused, naming the entry', async () => {
    const zip = await zipOf(folderEntries(path.join(FIXTURES, 'or12-bulk'), 'export/'), 'nested.zip');
    const e = await caught(oneRosterCsv.plan({ path: zip }, planCtx()));
    expect(e.code).toBe('source_invalid');
    expect(e.message).toMatch(/"export\/[\w.]+\.csv"/);
    expect(e.message).toContain('files must be at the root of the zip');
    expect(e.details[0].message).toBe('files must be at the root of the zip');
  });

  test('macOS __MACOSX/ metadata entries are ignored', async () => {
    const zip = await zipOf({ ...folderEntries(path.join(FIXTURES, 'or11-bulk')), '__MACOSX/._users.csv': 'junk' }, 'mac.zip');
    expect((await records('roles', { path: zip })).map((r) => r.sourceId)).toEqual(['u-1::sch-a', 'u-1::sch-b', 'u-2::sch-a']);
  });

  test('a zip without manifest.csv, and a file that is not a zip', async () => {
    const zip = await zipOf(folderEntries(path.join(FIXTURES, 'no-manifest')), 'no-manifest.zip');
    expect((await caught(oneRosterCsv.plan({ path: zip }, planCtx()))).details[0].path).toBe('manifest.csv');
    const notZip = path.join(FIXTURES, 'or12-bulk/users.csv');
    const e = await caught(oneRosterCsv.plan({ path: notZip }, planCtx()));
    expect(e.code).toBe('source_invalid');
    expect(e.message).toContain('not a readable zip archive');
  });
});

describe('check()', () => {
  test('ok with a summary of the manifest', async () => {
    expect(await oneRosterCsv.check({ path: 'or12-delta' }, base())).toEqual({
      ok: true,
      details: 'OneRoster 1.2 folder; delta: users, enrollments; absent: academicSessions, classes, courses, orgs, roles',
    });
  });

  test('never throws: missing path, no manifest, bad settings', async () => {
    expect(await oneRosterCsv.check({ path: 'nope' }, base())).toMatchObject({ ok: false, error: { code: 'source_not_found' } });
    expect(await oneRosterCsv.check({ path: 'no-manifest' }, base())).toMatchObject({ ok: false, error: { code: 'source_invalid' } });
    expect(await oneRosterCsv.check({ path: 'missing-declared' }, base())).toMatchObject({ ok: false, error: { code: 'source_invalid' } });
    expect(await oneRosterCsv.check(undefined as unknown as OneRosterCsvSettings, base())).toMatchObject({ ok: false, error: { code: 'connector_config_invalid' } });
  });
});
