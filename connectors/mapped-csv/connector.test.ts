/**
 * Contract tests for the mapped-csv connector on the two synthetic worked examples in fixtures/mapped-csv/ (fictional
 * people only) and on variants written to a temp dir: manifest and stream order, plan (full / incremental, skips,
 * failing before any row is read), exact records and rejects, paging and cursors, resume, abort, formats, check().
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HubError } from '../../src/core/errors';
import { silentLogger } from '../../src/core/logger';
import { ENTITY_TYPES, type Cursor, type Page, type PlanContext, type ReadContext, type SourceRecord, type SyncMode } from '../../src/ingest/contract';
import { refFields } from '../../src/core/schemas';
import { mappedCsv, type MappedCsvSettings } from './index';

const FIXTURES = path.resolve(__dirname, '../../fixtures/mapped-csv');
const INTERIM = path.join(FIXTURES, 'interim-assessment');
const BEHAVIOUR = path.join(FIXTURES, 'behaviour');
const settingsOf = (dir: string): MappedCsvSettings => JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).tenants[0].connectors[0].settings;

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mapped-csv-test-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function base(baseDir: string, signal = new AbortController().signal) {
  return { tenantId: 't1', connectorId: 'vendor', baseDir, log: silentLogger, signal };
}
const planCtx = (baseDir: string, cursors: Record<string, Cursor | undefined> = {}): PlanContext => ({ ...base(baseDir), cursors });
const readCtx = (baseDir: string, mode: SyncMode, cursor?: Cursor, signal?: AbortSignal): ReadContext => ({ ...base(baseDir, signal), mode, ...(cursor ? { cursor } : {}) });

async function pages(stream: string, settings: MappedCsvSettings, ctx: ReadContext): Promise<Page[]> {
  const out: Page[] = [];
  for await (const p of mappedCsv.read(stream, settings, ctx)) out.push(p);
  return out;
}
async function all(stream: string, settings: MappedCsvSettings, baseDir: string, mode: SyncMode = settings.mode) {
  const ps = await pages(stream, settings, readCtx(baseDir, mode));
  return { records: ps.flatMap((p) => p.records), rejects: ps.flatMap((p) => p.rejects ?? []).map(({ raw: _raw, ...r }) => r), pages: ps };
}
const slim = (r: SourceRecord) => ({ sourceId: r.sourceId, location: r.location, data: r.data });
const ids = (rs: SourceRecord[]) => rs.map((r) => `${r.location} ${r.sourceId}`);

async function caught(p: Promise<unknown>): Promise<HubError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(HubError);
    return e as HubError;
  }
  throw new Error('expected a HubError');
}

/** Writes files under tmp/<name>/ and returns the folder. */
function write(name: string, files: Record<string, string | Buffer>): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), content);
  return dir;
}
const copyOf = (from: string, as: string) => {
  const dir = path.join(tmp, as);
  fs.cpSync(from, dir, { recursive: true });
  return dir;
};
/** A small attendance export mapping, for format and cursor tests. */
const attendance = (extra: Partial<MappedCsvSettings> = {}): MappedCsvSettings => ({
  path: '.',
  mode: 'incremental',
  mappings: [
    {
      entity: 'attendanceEvent',
      sourceId: { template: '{Student}|{Date}' },
      fields: { personId: { column: 'Student' }, date: { column: 'Date', date: 'YYYY-MM-DD' }, category: { column: 'Code', map: { A: 'Unexcused Absence', T: 'Tardy', E: 'Excused Absence' } }, reason: { column: 'Note' } },
      parents: [
        {
          entity: 'person',
          sourceId: { column: 'Student' },
          fields: { givenName: { column: 'First' }, familyName: { column: 'Last' }, enabledUser: { const: true }, identifiers: [{ system: { const: 'sis' }, value: { column: 'Student' } }] },
        },
      ],
    },
  ],
  ...extra,
});
const ATT_HEADER = 'Student,First,Last,Date,Code,Note';
const attRows = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `s${(from + i) % 7},Given${(from + i) % 7},Family,2025-09-${String(1 + ((from + i) % 28)).padStart(2, '0')},A,row ${from + i}`);

// ---------------------------------------------------------------------------------------------------------------

describe('manifest', () => {
  test('one stream per entity type, named after it, every type after the types it refers to', () => {
    const m = mappedCsv.manifest;
    expect(m.id).toBe('mapped-csv');
    expect(m.secretFields).toEqual([]);
    const names = m.streams.map((s) => s.name);
    expect([...names].sort()).toEqual([...ENTITY_TYPES].sort());
    for (const s of m.streams) expect(s).toEqual({ name: s.name, entities: [s.name], modes: ['full', 'incremental'] });
    for (const t of ENTITY_TYPES) {
      for (const r of refFields(t)) if (r.target !== t) expect([t, r.target, names.indexOf(r.target) < names.indexOf(t)]).toEqual([t, r.target, true]);
    }
    const before = (a: string, b: string) => expect(names.indexOf(a)).toBeLessThan(names.indexOf(b));
    before('person', 'assessmentResult');
    before('assessment', 'assessmentResult');
    before('behaviourIncident', 'behaviourParticipant');
    before('behaviourIncident', 'disciplineAction');
    before('org', 'person');
  });
});

describe('plan()', () => {
  test('interim example, full: the streams its mappings yield, parents first', async () => {
    expect(await mappedCsv.plan(settingsOf(INTERIM), planCtx(INTERIM))).toEqual([
      { stream: 'assessment', mode: 'full' },
      { stream: 'person', mode: 'full' },
      { stream: 'assessmentResult', mode: 'full' },
    ]);
  });

  test('behaviour example, incremental', async () => {
    expect(await mappedCsv.plan(settingsOf(BEHAVIOUR), planCtx(BEHAVIOUR))).toEqual(
      ['org', 'behaviourIncident', 'person', 'behaviourParticipant', 'disciplineAction'].map((stream) => ({ stream, mode: 'incremental' })),
    );
  });

  test('a column missing from the file fails the plan (connector_config_invalid) before any row is read', async () => {
    const dir = copyOf(INTERIM, 'renamed-column');
    const file = path.join(dir, 'benchmark_export.csv');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(',Scale Score,', ',Scale,'));
    const e = await caught(mappedCsv.plan(settingsOf(INTERIM), planCtx(dir)));
    expect(e.code).toBe('connector_config_invalid');
    expect(e.details).toEqual([
      {
        path: '$.mappings[0].fields.scores[0].value.column',
        message:
          "column 'Scale Score' not found in benchmark_export.csv; available: 'District Student ID', 'State ID', 'Last Name', 'First Name', 'Grade', 'Test Name', 'Subject', 'Test Date', 'Scale', 'Percentile', 'Performance Level', 'Std 1 Code', 'Std 1 Score', 'Std 2 Code', 'Std 2 Score', 'Std 3 Code', 'Std 3 Score'",
      },
    ]);
    expect(e.message).toBe(`mapped-csv settings: ${e.details[0].path}: ${e.details[0].message}`);
    // read() checks too: the file may change between plan and read.
    expect((await caught(pages('person', settingsOf(INTERIM), readCtx(dir, 'full')))).code).toBe('connector_config_invalid');
  });

  test('invalid settings -> connector_config_invalid with every problem', async () => {
    const s = settingsOf(INTERIM);
    s.mappings![0].fields.score = { column: 'Scale Score' };
    s.mappings![0].fields.administrationDate = { column: 'Test Date', date: 'MM/DD/YY' };
    const e = await caught(mappedCsv.plan(s, planCtx(INTERIM)));
    expect(e.code).toBe('connector_config_invalid');
    expect(e.details.map((d) => d.path)).toEqual(['$.mappings[0].fields.administrationDate.date', '$.mappings[0].fields.score']);
    expect(e.message).toMatch(/^mapped-csv settings: \$\.mappings\[0\]\.fields\.administrationDate\.date: unknown date format 'MM\/DD\/YY'.* \(and 1 more\)$/);
  });

  test('file problems -> source_not_found / source_invalid', async () => {
    expect((await caught(mappedCsv.plan({ ...settingsOf(INTERIM), path: 'nope.csv' }, planCtx(INTERIM)))).code).toBe('source_not_found');
    const empty = write('empty', { 'a.csv': '' });
    const e1 = await caught(mappedCsv.plan(attendance({ path: 'a.csv' }), planCtx(empty)));
    expect([e1.code, e1.message]).toEqual(['source_invalid', 'a.csv: the file is empty: a header row is required']);
    const short = write('short', { 'a.csv': 'banner\r\n' });
    const e2 = await caught(mappedCsv.plan(attendance({ path: 'a.csv', headerRow: 3 }), planCtx(short)));
    expect(e2.message).toBe('a.csv: the file has 1 line, but the header row is line 3 (headerRow)');
    const quoted = write('bad-header', { 'a.csv': 'Student,"First,Last\r\ns1,a,b\r\n' });
    const e3 = await caught(mappedCsv.plan(attendance({ path: 'a.csv' }), planCtx(quoted)));
    expect(e3.message).toBe('a.csv:1: the header row has broken quoting: a quoted field is not closed on this line (values may not contain line breaks)');
    const utf16 = write('utf16', { 'a.csv': Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(ATT_HEADER, 'utf16le')]) });
    const e4 = await caught(mappedCsv.plan(attendance({ path: 'a.csv' }), planCtx(utf16)));
    expect([e4.code, e4.message]).toEqual(['source_invalid', `a.csv: the file is UTF-16 (Excel's "Unicode text"): save it as CSV UTF-8, or as CSV and set encoding 'latin1'`]);
  });

  test('full mode needs a file for every layout; incremental skips a stream with no file (never swept)', async () => {
    const dir = write('no-match', { 'notes.txt': 'hello' });
    const s: MappedCsvSettings = { ...settingsOf(BEHAVIOUR), path: '.' };
    const e = await caught(mappedCsv.plan({ ...s, mode: 'full' }, planCtx(dir)));
    expect(e.code).toBe('source_invalid');
    expect(e.details).toEqual([{ path: '$.files[0].match', message: `no file matches 'incidents_*.csv' in ${dir}` }]);
    const plans = await mappedCsv.plan(s, planCtx(dir));
    expect(plans[0]).toEqual({ stream: 'org', mode: 'incremental', skip: `no file to read ('incidents_*.csv' matches nothing in ${dir})` });
    expect(plans.every((p) => p.skip)).toBe(true);
  });

  test('a complete cursor for the same files and the same mapping skips the stream; a changed mapping reads again', async () => {
    const s = settingsOf(INTERIM);
    const [last] = (await pages('person', s, readCtx(INTERIM, 'full'))).slice(-1);
    expect(last.cursor).toMatchObject({ complete: true, file: 'benchmark_export.csv', line: 21 });
    expect(await mappedCsv.plan(s, planCtx(INTERIM, { person: last.cursor }))).toEqual([
      { stream: 'assessment', mode: 'full' },
      { stream: 'person', mode: 'full', skip: 'unchanged since last run (benchmark_export.csv)' },
      { stream: 'assessmentResult', mode: 'full' },
    ]);
    const edited = settingsOf(INTERIM);
    edited.mappings![0].parents![0].fields.preferredGivenName = { column: 'First Name' };
    expect((await mappedCsv.plan(edited, planCtx(INTERIM, { person: last.cursor })))[1]).toEqual({ stream: 'person', mode: 'full' });
    // pageSize does not change what a row yields
    expect((await mappedCsv.plan({ ...s, pageSize: 7 }, planCtx(INTERIM, { person: last.cursor })))[1].skip).toBeDefined();
  });
});

describe('read(): interim assessment example', () => {
  const s = settingsOf(INTERIM);

  test('person: one per student, first row wins, with state and SIS identifiers', async () => {
    const { records, rejects } = await all('person', s, INTERIM);
    expect(ids(records)).toEqual([
      'benchmark_export.csv:3 9000000101',
      'benchmark_export.csv:5 9000000102',
      'benchmark_export.csv:7 9000000103',
      'benchmark_export.csv:8 9000000104',
      'benchmark_export.csv:9 9000000105',
      'benchmark_export.csv:10 9000000106',
      'benchmark_export.csv:18 9000000110',
      'benchmark_export.csv:19 9000000111',
    ]);
    expect(slim(records[2])).toEqual({
      sourceId: '9000000103',
      location: 'benchmark_export.csv:7',
      data: {
        givenName: 'Chris',
        familyName: 'Nguyen, Jr.',
        enabledUser: true,
        grades: ['5'],
        primaryRole: 'student',
        identifiers: [
          { system: 'state', value: '9000000103' },
          { system: 'sis', value: '100203' },
        ],
      },
    });
    expect(records.every((r) => r.type === 'person')).toBe(true);
    expect(rejects).toEqual([
      { location: 'benchmark_export.csv:11', field: 'State ID', reason: "person.sourceId is required but column 'State ID' is blank", code: 'record_invalid' },
      {
        location: 'benchmark_export.csv:12',
        field: 'Last Name',
        reason: "broken quoting in column 3 ('Last Name'): a closing quote is followed by something other than the delimiter ','",
        code: 'row_malformed',
        sourceId: '9000000108',
      },
      { location: 'benchmark_export.csv:13', reason: 'expected 17 fields as in the header, found 9 (a missing value, or a truncated line?)', code: 'row_malformed', sourceId: '9000000109' },
    ]);
  });

  test('assessment: one per test and subject, deduplicated across rows', async () => {
    const { records, rejects } = await all('assessment', s, INTERIM);
    const levels = [
      { code: '1', label: 'Below Basic', met: false },
      { code: '2', label: 'Basic', met: false },
      { code: '3', label: 'Proficient', met: true },
      { code: '4', label: 'Advanced', met: true },
    ];
    const a = (title: string, subject: string) => ({
      title: `${title} - ${subject}`,
      category: 'Interim',
      subjects: [subject],
      reportingMethods: [{ method: 'scale score' }, { method: 'percentile', min: 1, max: 99 }],
      performanceLevels: levels,
    });
    expect(records.map(slim)).toEqual([
      { sourceId: 'Fall Interim 2025|Math', location: 'benchmark_export.csv:3', data: a('Fall Interim 2025', 'Math') },
      { sourceId: 'Fall Interim 2025|Reading', location: 'benchmark_export.csv:4', data: a('Fall Interim 2025', 'Reading') },
      { sourceId: 'Winter Interim 2026|Math', location: 'benchmark_export.csv:14', data: a('Winter Interim 2026', 'Math') },
    ]);
    // The broken line (12) names an assessment already yielded (its cells are salvaged to tell): no reject needed.
    expect(rejects).toEqual([]);
  });

  test('assessmentResult: exact records and every bad row as a reject', async () => {
    const { records, rejects } = await all('assessmentResult', s, INTERIM);
    expect(ids(records)).toEqual([
      'benchmark_export.csv:3 9000000101|Fall Interim 2025|Math|09/15/2025',
      'benchmark_export.csv:4 9000000101|Fall Interim 2025|Reading|09/16/2025',
      'benchmark_export.csv:5 9000000102|Fall Interim 2025|Math|09/15/2025',
      'benchmark_export.csv:6 9000000102|Fall Interim 2025|Reading|09/16/2025',
      'benchmark_export.csv:7 9000000103|Fall Interim 2025|Math|09/15/2025',
      'benchmark_export.csv:8 9000000104|Fall Interim 2025|Math|09/17/2025',
      'benchmark_export.csv:14 9000000101|Winter Interim 2026|Math|01/20/2026',
      'benchmark_export.csv:15 9000000103|Fall Interim 2025|Reading|09/16/2025',
      'benchmark_export.csv:16 9000000104|Fall Interim 2025|Reading|09/18/2025',
      'benchmark_export.csv:18 9000000110|Winter Interim 2026|Math|01/21/2026',
      'benchmark_export.csv:19 9000000111|Winter Interim 2026|Math|01/21/2026',
    ]);
    expect(slim(records[0]).data).toEqual({
      assessmentId: 'Fall Interim 2025|Math',
      personId: '9000000101',
      administrationDate: '2025-09-15',
      gradeWhenAssessed: '4',
      scores: [
        { method: 'scale score', value: '452' },
        { method: 'percentile', value: '61' },
      ],
      performanceLevel: { code: '3', label: 'Proficient', met: true },
      objectiveResults: [
        { objective: '4.NBT.1', scores: [{ method: 'raw score', value: '8' }] },
        { objective: '4.NBT.2', scores: [{ method: 'raw score', value: '6' }] },
        { objective: '4.OA.1', scores: [{ method: 'raw score', value: '7' }] },
      ],
    });
    // Blank percentile, level and standards: left out.
    expect(slim(records[5]).data).toEqual({
      assessmentId: 'Fall Interim 2025|Math',
      personId: '9000000104',
      administrationDate: '2025-09-17',
      gradeWhenAssessed: '5',
      scores: [{ method: 'scale score', value: '470' }],
      performanceLevel: { code: '2', label: 'Basic', met: false },
    });
    expect(slim(records[8]).data).toEqual({
      assessmentId: 'Fall Interim 2025|Reading',
      personId: '9000000104',
      administrationDate: '2025-09-18',
      gradeWhenAssessed: '5',
      scores: [
        { method: 'scale score', value: '462' },
        { method: 'percentile', value: '48' },
      ],
      objectiveResults: [{ objective: 'RL.5.1', scores: [{ method: 'raw score', value: '6' }] }],
    });
    expect(records[0].raw).toMatchObject({ 'District Student ID': '100201', 'State ID': '9000000101', 'Test Date': '09/15/2025', 'Std 3 Score': '7' });
    const map = `is not in the value map (1, 2, 3, 4), which has no default`;
    expect(rejects).toEqual([
      {
        location: 'benchmark_export.csv:9',
        field: 'Test Date',
        reason: `assessmentResult.administrationDate: "2025-09-15" in column 'Test Date' is not a date in the format MM/DD/YYYY`,
        code: 'row_malformed',
        sourceId: '9000000105|Fall Interim 2025|Math|2025-09-15',
      },
      {
        location: 'benchmark_export.csv:10',
        field: 'Performance Level',
        reason: `assessmentResult.performanceLevel.label: "5" in column 'Performance Level' ${map}; assessmentResult.performanceLevel.met: "5" in column 'Performance Level' ${map}`,
        code: 'row_malformed',
        sourceId: '9000000106|Fall Interim 2025|Reading|09/16/2025',
      },
      {
        location: 'benchmark_export.csv:11',
        field: 'State ID',
        reason: `assessmentResult.sourceId is required but column 'State ID' is blank; assessmentResult.personId is required but column 'State ID' is blank`,
        code: 'record_invalid',
      },
      {
        location: 'benchmark_export.csv:12',
        field: 'Last Name',
        reason: "broken quoting in column 3 ('Last Name'): a closing quote is followed by something other than the delimiter ','",
        code: 'row_malformed',
        sourceId: '9000000108|Fall Interim 2025|Math|09/15/2025',
      },
      {
        location: 'benchmark_export.csv:13',
        reason: 'expected 17 fields as in the header, found 9 (a missing value, or a truncated line?)',
        code: 'row_malformed',
        sourceId: '9000000109|Fall Interim 2025|Math|09/15/2025',
      },
      {
        location: 'benchmark_export.csv:17',
        field: 'Std 2 Code',
        reason: `assessmentResult.objectiveResults[1].objective is required in this item but column 'Std 2 Code' is blank`,
        code: 'record_invalid',
        sourceId: '9000000105|Fall Interim 2025|Reading|09/16/2025',
      },
    ]);
  });

  test('rejects keep the raw row: the row object, or the line text when it could not be parsed', async () => {
    const ps = await pages('assessmentResult', s, readCtx(INTERIM, 'full'));
    const rejects = ps.flatMap((p) => p.rejects ?? []);
    expect(rejects[0].raw).toMatchObject({ 'State ID': '9000000105', 'Test Date': '2025-09-15' });
    expect(rejects[3].raw).toBe('100208,9000000108,"O"Brien",Ian,5,Fall Interim 2025,Math,09/15/2025,467,57,2,5.NBT.1,7,5.NF.1,6,,');
    expect(rejects[4].raw).toEqual(['100209', '9000000109', 'Ito', 'Ivy', '4', 'Fall Interim 2025', 'Math', '09/15/2025', '444']);
  });
});

describe('read(): behaviour example (semicolons, M/D/YYYY, h:mm A)', () => {
  const s = settingsOf(BEHAVIOUR);

  test('org and person parents, deduplicated', async () => {
    const orgs = await all('org', s, BEHAVIOUR);
    expect(orgs.records.map(slim)).toEqual([
      { sourceId: 'MV-EL', location: 'incidents_2025-09.csv:2', data: { name: 'Maple Valley Elementary', type: 'school', identifier: 'MV-EL' } },
      { sourceId: 'MV-MS', location: 'incidents_2025-09.csv:5', data: { name: 'Maple Valley Middle', type: 'school', identifier: 'MV-MS' } },
    ]);
    expect(orgs.rejects).toEqual([]);
    const people = await all('person', s, BEHAVIOUR);
    expect(ids(people.records)).toEqual(['2 S-3001', '3 S-3002', '4 S-3003', '5 S-4001', '6 S-4002', '7 S-4003', '9 S-3004', '10 S-3005', '11 S-4004', '12 S-4005', '16 S-4006'].map((x) => `incidents_2025-09.csv:${x}`));
    expect(people.rejects).toEqual([
      {
        location: 'incidents_2025-09.csv:13',
        field: 'Student ID',
        reason: "person.sourceId is required but column 'Student ID' is blank; person.identifiers is required but column 'Student ID' is blank",
        code: 'record_invalid',
      },
    ]);
  });

  test('behaviourIncident: one per incident; date, time, boolean, quoted text with the delimiter in it', async () => {
    const { records, rejects } = await all('behaviourIncident', s, BEHAVIOUR);
    expect(ids(records)).toEqual(['2 INC-1001', '4 INC-1002', '5 INC-1003', '7 INC-1004', '10 INC-1006', '12 INC-1008', '13 INC-1009', '16 INC-1012', '18 INC-1013'].map((x) => `incidents_2025-09.csv:${x}`));
    expect(records.slice(0, 4).map(slim).map((r) => r.data)).toEqual([
      { schoolId: 'MV-EL', incidentDate: '2025-09-08', incidentTime: '10:15', location: 'Playground', description: 'Pushing during recess; students separated', positive: false, reporterName: 'Ms. Patel' },
      { schoolId: 'MV-EL', incidentDate: '2025-09-09', incidentTime: '13:40', location: 'Library', description: 'Repeated talking after warnings', positive: false, reporterName: 'Mr. Cole' },
      { schoolId: 'MV-MS', incidentDate: '2025-09-10', incidentTime: '08:05', location: 'Hallway', description: 'Helped a new student find "Room 12"', positive: true, reporterName: 'Ms. Ortiz' },
      { schoolId: 'MV-MS', incidentDate: '2025-09-12', incidentTime: '12:05', location: 'Cafeteria', description: "Took another student's phone", positive: false, reporterName: 'Mr. Lee' },
    ]);
    expect(rejects).toEqual([
      { location: 'incidents_2025-09.csv:9', field: 'Date', reason: `behaviourIncident.incidentDate: "31/9/2025" in column 'Date' is not a date in the format M/D/YYYY`, code: 'row_malformed', sourceId: 'INC-1005' },
      { location: 'incidents_2025-09.csv:11', field: 'Positive', reason: `behaviourIncident.positive: "Maybe" in column 'Positive' is neither true nor false (true: Y; false: N)`, code: 'row_malformed', sourceId: 'INC-1007' },
      { location: 'incidents_2025-09.csv:14', field: 'Description', reason: "broken quoting in column 17 ('Description'): a closing quote is followed by something other than the delimiter ';'", code: 'row_malformed', sourceId: 'INC-1010' },
      { location: 'incidents_2025-09.csv:15', reason: 'expected 17 fields as in the header, found 18 (a value with an unquoted delimiter in it?)', code: 'row_malformed', sourceId: 'INC-1011' },
    ]);
  });

  test('behaviourParticipant: one per row; role value map, behaviour label map with a default', async () => {
    const { records, rejects } = await all('behaviourParticipant', s, BEHAVIOUR);
    expect(records.map((r) => `${r.sourceId} ${r.data.role} ${(r.data.behaviours as { label: string }[])[0].label}`)).toEqual([
      'INC-1001/S-3001 Perpetrator Fighting',
      'INC-1001/S-3002 Victim Fighting',
      'INC-1002/S-3003 Perpetrator Classroom disruption',
      'INC-1003/S-4001 Recognized Kindness',
      'INC-1003/S-4002 Witness Kindness',
      'INC-1004/S-4003 Perpetrator Theft',
      'INC-1004/S-4001 Witness Theft',
      'INC-1005/S-3004 Perpetrator Defiance',
      'INC-1007/S-4004 Perpetrator Other',
      'INC-1008/S-4005 Perpetrator Fighting',
      'INC-1012/S-4006 Recognized Kindness',
      'INC-1013/S-3002 Perpetrator Classroom disruption',
    ]);
    expect(slim(records[0])).toEqual({
      sourceId: 'INC-1001/S-3001',
      location: 'incidents_2025-09.csv:2',
      data: { incidentId: 'INC-1001', personId: 'S-3001', role: 'Perpetrator', behaviours: [{ code: 'FIGHT', label: 'Fighting', namespace: 'vendor:behaviour-tool' }] },
    });
    expect(rejects).toEqual([
      {
        location: 'incidents_2025-09.csv:10',
        field: 'Role',
        reason: `behaviourParticipant.role: "Bystander" in column 'Role' is not in the value map (Offender, Victim, Witness, Recipient), which has no default`,
        code: 'row_malformed',
        sourceId: 'INC-1006/S-3005',
      },
      {
        location: 'incidents_2025-09.csv:13',
        field: 'Student ID',
        reason: "behaviourParticipant.sourceId is required but column 'Student ID' is blank; behaviourParticipant.personId is required but column 'Student ID' is blank",
        code: 'record_invalid',
      },
      { location: 'incidents_2025-09.csv:14', field: 'Description', reason: "broken quoting in column 17 ('Description'): a closing quote is followed by something other than the delimiter ';'", code: 'row_malformed', sourceId: 'INC-1010/S-3001' },
      { location: 'incidents_2025-09.csv:15', reason: 'expected 17 fields as in the header, found 18 (a value with an unquoted delimiter in it?)', code: 'row_malformed', sourceId: 'INC-1011/S-4003' },
    ]);
  });

  test('disciplineAction: only rows with an Action (`when`); number of days', async () => {
    const { records, rejects } = await all('disciplineAction', s, BEHAVIOUR);
    expect(records.map(slim)).toEqual([
      { sourceId: 'INC-1001/S-3001/DET', location: 'incidents_2025-09.csv:2', data: { personId: 'S-3001', incidentId: 'INC-1001', schoolId: 'MV-EL', actionDate: '2025-09-08', actions: [{ code: 'DET', label: 'Detention' }], durationDays: 1 } },
      { sourceId: 'INC-1002/S-3003/ISS', location: 'incidents_2025-09.csv:4', data: { personId: 'S-3003', incidentId: 'INC-1002', schoolId: 'MV-EL', actionDate: '2025-09-09', actions: [{ code: 'ISS', label: 'In-school suspension' }], durationDays: 0.5 } },
      { sourceId: 'INC-1003/S-4001/CERT', location: 'incidents_2025-09.csv:5', data: { personId: 'S-4001', incidentId: 'INC-1003', schoolId: 'MV-MS', actionDate: '2025-09-10', actions: [{ code: 'CERT', label: 'Recognition certificate' }] } },
      { sourceId: 'INC-1004/S-4003/OSS', location: 'incidents_2025-09.csv:7', data: { personId: 'S-4003', incidentId: 'INC-1004', schoolId: 'MV-MS', actionDate: '2025-09-12', actions: [{ code: 'OSS', label: 'Out-of-school suspension' }], durationDays: 3 } },
      { sourceId: 'INC-1013/S-3002/DET', location: 'incidents_2025-09.csv:18', data: { personId: 'S-3002', incidentId: 'INC-1013', schoolId: 'MV-EL', actionDate: '2025-09-24', actions: [{ code: 'DET', label: 'Detention' }], durationDays: 0.5 } },
    ]);
    expect(rejects).toEqual([
      { location: 'incidents_2025-09.csv:9', field: 'Date', reason: `disciplineAction.actionDate: "31/9/2025" in column 'Date' is not a date in the format M/D/YYYY`, code: 'row_malformed', sourceId: 'INC-1005/S-3004/DET' },
      { location: 'incidents_2025-09.csv:12', field: 'Action Days', reason: `disciplineAction.durationDays: "two" in column 'Action Days' is not a number`, code: 'row_malformed', sourceId: 'INC-1008/S-4005/OSS' },
      {
        location: 'incidents_2025-09.csv:13',
        field: 'Student ID',
        reason: "disciplineAction.sourceId is required but column 'Student ID' is blank; disciplineAction.personId is required but column 'Student ID' is blank",
        code: 'record_invalid',
      },
      { location: 'incidents_2025-09.csv:14', field: 'Description', reason: "broken quoting in column 17 ('Description'): a closing quote is followed by something other than the delimiter ';'", code: 'row_malformed', sourceId: 'INC-1010/S-3001/DET' },
      { location: 'incidents_2025-09.csv:15', reason: 'expected 17 fields as in the header, found 18 (a value with an unquoted delimiter in it?)', code: 'row_malformed', sourceId: 'INC-1011/S-4003/CONF' },
    ]);
  });

  test('a stream no mapping yields is a caller error; an unknown stream an internal one', async () => {
    expect((await caught(pages('assessment', s, readCtx(BEHAVIOUR, 'incremental')))).code).toBe('connector_config_invalid');
    expect((await caught(pages('students', s, readCtx(BEHAVIOUR, 'incremental')))).code).toBe('internal_error');
  });
});

describe('formats', () => {
  const rows = ['s1,Zoë,Müller,2025-09-02,A,"late, bus"', 's2,Ben,O\'Neil,2025-09-03,T,'];

  test('utf8 with a BOM, CRLF or LF', async () => {
    const dir = write('bom', { 'a.csv': `\uFEFF${ATT_HEADER}\r\n${rows[0]}\n${rows[1]}\r\n` });
    const { records, rejects } = await all('person', attendance({ path: 'a.csv' }), dir);
    expect(records.map((r) => r.data.givenName)).toEqual(['Zoë', 'Ben']);
    expect(rejects).toEqual([]);
  });

  test('latin1 (Windows exports), tab and pipe delimiters (quoting as in RFC 4180)', async () => {
    const latin = write('latin1', { 'a.csv': Buffer.from(`${ATT_HEADER}\r\n${rows.join('\r\n')}\r\n`, 'latin1') });
    const r1 = await all('person', attendance({ path: 'a.csv', encoding: 'latin1' }), latin);
    expect(r1.records.map((r) => `${r.data.givenName} ${r.data.familyName}`)).toEqual(['Zoë Müller', "Ben O'Neil"]);
    const tab = (t: string) => t.replace(/,/g, '\t').replace('"late\t bus"', '"late, bus"');
    const tsv = write('tsv', { 'a.tsv': `${tab(ATT_HEADER)}\n${rows.map(tab).join('\n')}\n` });
    const r2 = await all('attendanceEvent', attendance({ path: 'a.tsv', delimiter: '\t' }), tsv);
    expect(r2.records.map((r) => r.data.reason)).toEqual(['late, bus']);
    const pipe = (t: string) => t.replace(/,/g, '|').replace('"late| bus"', '"late, | bus"');
    const psv = write('psv', { 'a.txt': `${pipe(ATT_HEADER)}\n${rows.map(pipe).join('\n')}\n` });
    const r3 = await all('attendanceEvent', attendance({ path: 'a.txt', delimiter: '|' }), psv);
    expect(r3.records.map((r) => r.data.reason)).toEqual(['late, | bus']);
    // The broken-quoting check follows the delimiter too.
    const bad = write('psv-bad', { 'a.txt': `${pipe(ATT_HEADER)}\ns1|A|B|2025-09-02|A|"x"y\n` });
    expect((await all('attendanceEvent', attendance({ path: 'a.txt', delimiter: '|' }), bad)).rejects).toEqual([
      { location: 'a.txt:2', field: 'Note', reason: "broken quoting in column 6 ('Note'): a closing quote is followed by something other than the delimiter '|'", code: 'row_malformed', sourceId: 's1|2025-09-02' },
    ]);
  });

  test('with mappings and a folder, every .csv/.tsv/.txt is read in name order; hidden and other files are not', async () => {
    const dir = write('folder', { 'b.csv': `${ATT_HEADER}\n${rows[1]}\n`, 'a.CSV': `${ATT_HEADER}\n${rows[0]}\n`, '.hidden.csv': 'x', 'readme.md': '#', 'config.json': '{}' });
    const { records } = await all('attendanceEvent', attendance(), dir);
    expect(ids(records)).toEqual(['a.CSV:2 s1|2025-09-02', 'b.csv:2 s2|2025-09-03']);
    const c = await mappedCsv.check(attendance(), base(dir));
    expect(c).toEqual({ ok: true, details: `2 files in ${dir} (incremental): a.CSV (person, attendanceEvent), b.csv (person, attendanceEvent); ignored (no match): config.json, readme.md` });
  });
});

describe('paging and cursors', () => {
  const big = (n: number) => `${ATT_HEADER}\n${attRows(n).join('\n')}\n`;

  test('pages hold at most pageSize records + rejects, cut between rows; the cursor names the file and last line covered', async () => {
    const dir = write('paging', { 'a.csv': big(10).replace('row 4', '"broken') });
    const ps = await pages('attendanceEvent', attendance({ path: 'a.csv', pageSize: 3 }), readCtx(dir, 'incremental'));
    expect(ps.map((p) => p.records.length + (p.rejects?.length ?? 0))).toEqual([3, 3, 3, 1]);
    expect(ps.map((p) => [p.cursor?.file, p.cursor?.line, p.cursor?.complete])).toEqual([
      ['a.csv', 4, false],
      ['a.csv', 7, false],
      ['a.csv', 10, false],
      ['a.csv', 11, true],
    ]);
    expect(ps[1].rejects).toEqual([expect.objectContaining({ location: 'a.csv:6', code: 'row_malformed' })]);
    expect(ps[3].cursor).toMatchObject({ fingerprint: expect.stringMatching(/^fs:\d+:[\d.]+$/), 'done:a.csv': ps[3].cursor!.fingerprint });
  });

  test('incremental: an incomplete cursor of the same file and mapping resumes after its line; full always starts over', async () => {
    const dir = write('resume', { 'a.csv': big(10) });
    const s = attendance({ path: 'a.csv', pageSize: 4 });
    const first = await pages('attendanceEvent', s, readCtx(dir, 'incremental'));
    const cut = first[0].cursor!;
    expect(cut).toMatchObject({ line: 5, complete: false });
    const resumed = await pages('attendanceEvent', s, readCtx(dir, 'incremental', cut));
    expect(resumed.flatMap((p) => p.records).map((r) => r.location)).toEqual(['a.csv:6', 'a.csv:7', 'a.csv:8', 'a.csv:9', 'a.csv:10', 'a.csv:11']);
    // parents: the dedup set starts empty on resume, so a student is yielded again (an unchanged upsert)
    const persons = await pages('person', s, readCtx(dir, 'incremental', cut));
    expect(persons.flatMap((p) => p.records).map((r) => r.sourceId)).toEqual(['s4', 's5', 's6', 's0', 's1', 's2']);
    expect((await pages('attendanceEvent', s, readCtx(dir, 'full', cut))).flatMap((p) => p.records)).toHaveLength(10);
    // another mapping: start over
    const other = attendance({ path: 'a.csv', pageSize: 4 });
    other.mappings![0].fields.minutes = { const: 0 };
    expect((await pages('attendanceEvent', other, readCtx(dir, 'incremental', cut))).flatMap((p) => p.records)).toHaveLength(10);
    // another file content: start over
    fs.appendFileSync(path.join(dir, 'a.csv'), `${attRows(1, 10)[0]}\n`);
    expect((await pages('attendanceEvent', s, readCtx(dir, 'incremental', cut))).flatMap((p) => p.records)).toHaveLength(11);
  });

  test('incremental, a folder of drops: files read to the end by an earlier run are skipped; a new file alone is read', async () => {
    const dir = write('drops', { 'att_0901.csv': big(3), 'att_0902.csv': `${ATT_HEADER}\n${attRows(2, 3).join('\n')}\n` });
    const s = attendance();
    const run1 = await pages('attendanceEvent', s, readCtx(dir, 'incremental'));
    const c1 = run1[run1.length - 1].cursor!;
    expect(c1).toMatchObject({ complete: true, fingerprint: expect.stringMatching(/^files:2:/) });
    expect(await mappedCsv.plan(s, planCtx(dir, { attendanceEvent: c1 }))).toContainEqual({ stream: 'attendanceEvent', mode: 'incremental', skip: 'unchanged since last run (2 files)' });
    fs.writeFileSync(path.join(dir, 'att_0903.csv'), `${ATT_HEADER}\n${attRows(1, 5)[0]}\n`);
    expect(await mappedCsv.plan(s, planCtx(dir, { attendanceEvent: c1 }))).toContainEqual({ stream: 'attendanceEvent', mode: 'incremental' });
    const run2 = await pages('attendanceEvent', s, readCtx(dir, 'incremental', c1));
    expect(run2.flatMap((p) => p.records).map((r) => r.location)).toEqual(['att_0903.csv:2']);
    expect(Object.keys(run2[run2.length - 1].cursor!).filter((k) => k.startsWith('done:'))).toEqual(['done:att_0901.csv', 'done:att_0902.csv', 'done:att_0903.csv']);
    // full mode reads every file: the sweep after it needs to see every row
    expect((await pages('attendanceEvent', { ...s, mode: 'full' }, readCtx(dir, 'full', c1))).flatMap((p) => p.records)).toHaveLength(6);
  });

  test('a file with no data rows yields one empty, complete page', async () => {
    const dir = write('header-only', { 'a.csv': `${ATT_HEADER}\n\n,,,,,\n` });
    const ps = await pages('attendanceEvent', attendance({ path: 'a.csv' }), readCtx(dir, 'incremental'));
    expect(ps).toEqual([{ records: [], rejects: [], cursor: expect.objectContaining({ complete: true, line: 3 }) }]);
  });
});

describe('abort', () => {
  test('an aborted signal stops the read with an AbortError and no final page', async () => {
    const dir = write('big', { 'a.csv': `${ATT_HEADER}\n${attRows(5000).join('\n')}\n` });
    const ac = new AbortController();
    const seen: Page[] = [];
    await expect(
      (async () => {
        for await (const p of mappedCsv.read('attendanceEvent', attendance({ path: 'a.csv', pageSize: 100 }), readCtx(dir, 'incremental', undefined, ac.signal))) {
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
    await expect(pages('person', settingsOf(INTERIM), readCtx(INTERIM, 'full', undefined, ac.signal))).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('check()', () => {
  test('ok, with the files and what they yield', async () => {
    expect(await mappedCsv.check(settingsOf(INTERIM), base(INTERIM))).toEqual({
      ok: true,
      details: `1 file in ${path.join(INTERIM, 'benchmark_export.csv')} (full): benchmark_export.csv (person, assessment, assessmentResult)`,
    });
  });

  test('never throws: bad settings, missing path, missing column', async () => {
    const bad = await mappedCsv.check({ path: 'x' } as MappedCsvSettings, base(INTERIM));
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error.code).toBe('connector_config_invalid');
    const missing = await mappedCsv.check({ ...settingsOf(INTERIM), path: 'gone.csv' }, base(INTERIM));
    if (missing.ok) throw new Error('expected a failure');
    expect(missing.error.code).toBe('source_not_found');
    const s = settingsOf(INTERIM);
    s.headerRow = 1; // the banner line is not the header
    const banner = await mappedCsv.check(s, base(INTERIM));
    if (banner.ok) throw new Error('expected a failure');
    expect(banner.error.code).toBe('connector_config_invalid');
    expect(banner.error.details[0]).toEqual({
      path: '$.mappings[0].sourceId.template',
      message: "template placeholder {State ID}: column 'State ID' not found in benchmark_export.csv; available: 'Interim Benchmark Export - Maple Valley Unified (synthetic) - generated 10/01/2025'",
    });
  });
});
