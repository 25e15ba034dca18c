/** previewMapping / formatPreview: the first rows mapped, with rejects and problems, for `hub connector preview`. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatPreview, previewMapping, type MappedCsvSettings } from './index';

const FIXTURES = path.resolve(__dirname, '../../fixtures/mapped-csv');
const INTERIM = path.join(FIXTURES, 'interim-assessment');
const BEHAVIOUR = path.join(FIXTURES, 'behaviour');
const settingsOf = (dir: string): MappedCsvSettings => JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).tenants[0].connectors[0].settings;

describe('previewMapping', () => {
  test('the first rows, in row order: parents once, before the records of their row; a malformed line once', async () => {
    const r = await previewMapping(settingsOf(INTERIM), INTERIM, { limit: 10 });
    expect(r.problems).toEqual([]);
    expect(r.files).toEqual([{ name: 'benchmark_export.csv', layout: 'mappings', rows: 10 }]);
    expect(r.records.map((x) => `${x.location} ${x.type} ${x.sourceId}`)).toEqual([
      'benchmark_export.csv:3 person 9000000101',
      'benchmark_export.csv:3 assessment Fall Interim 2025|Math',
      'benchmark_export.csv:3 assessmentResult 9000000101|Fall Interim 2025|Math|09/15/2025',
      'benchmark_export.csv:4 assessment Fall Interim 2025|Reading',
      'benchmark_export.csv:4 assessmentResult 9000000101|Fall Interim 2025|Reading|09/16/2025',
      'benchmark_export.csv:5 person 9000000102',
      'benchmark_export.csv:5 assessmentResult 9000000102|Fall Interim 2025|Math|09/15/2025',
      'benchmark_export.csv:6 assessmentResult 9000000102|Fall Interim 2025|Reading|09/16/2025',
      'benchmark_export.csv:7 person 9000000103',
      'benchmark_export.csv:7 assessmentResult 9000000103|Fall Interim 2025|Math|09/15/2025',
      'benchmark_export.csv:8 person 9000000104',
      'benchmark_export.csv:8 assessmentResult 9000000104|Fall Interim 2025|Math|09/17/2025',
      'benchmark_export.csv:9 person 9000000105',
      'benchmark_export.csv:10 person 9000000106',
    ]);
    expect(r.rejects.map(({ raw: _raw, ...x }) => x)).toEqual([
      expect.objectContaining({ location: 'benchmark_export.csv:9', entity: 'assessmentResult', field: 'Test Date' }),
      expect.objectContaining({ location: 'benchmark_export.csv:10', entity: 'assessmentResult', field: 'Performance Level' }),
      { location: 'benchmark_export.csv:11', entity: 'person', field: 'State ID', code: 'record_invalid', reason: "person.sourceId is required but column 'State ID' is blank" },
      expect.objectContaining({ location: 'benchmark_export.csv:11', entity: 'assessmentResult', field: 'State ID' }),
      {
        location: 'benchmark_export.csv:12',
        field: 'Last Name',
        code: 'row_malformed',
        reason: "broken quoting in column 3 ('Last Name'): a closing quote is followed by something other than the delimiter ','",
      },
    ]);
  });

  test('the default limit is 10 rows; a layout per file pattern shows its first file', async () => {
    const r = await previewMapping(settingsOf(BEHAVIOUR), BEHAVIOUR);
    expect(r.files).toEqual([{ name: 'incidents_2025-09.csv', layout: "files[0] 'incidents_*.csv'", rows: 10 }]);
    expect(r.records.at(-1)?.location).toBe('incidents_2025-09.csv:11');
  });

  test('settings problems come back as problems, with nothing mapped; columns are checked in the same pass', async () => {
    const s = settingsOf(INTERIM);
    s.mappings![0].fields.administrationDate = { column: 'Test Date', date: 'MM/DD/YY' };
    s.mappings![0].fields.gradeWhenAssessed = { column: 'Grade Level' };
    const r = await previewMapping(s, INTERIM);
    expect(r).toEqual({
      records: [],
      rejects: [],
      files: [],
      problems: [
        {
          path: '$.mappings[0].fields.administrationDate.date',
          message: "unknown date format 'MM/DD/YY': two-digit years (YY) are not supported (the century would be a guess); the export needs four-digit years (YYYY)",
        },
        { path: '$.mappings[0].fields.gradeWhenAssessed.column', message: expect.stringMatching(/^column 'Grade Level' not found in benchmark_export.csv/) },
      ],
    });
    // Settings too broken to find the files: the settings problems alone.
    expect((await previewMapping({ mode: 'full', mappings: s.mappings }, INTERIM)).problems.map((p) => p.path)).toEqual(['$.path', '$.mappings[0].fields.administrationDate.date']);
  });

  test('a column the file does not have, and a path that does not exist', async () => {
    const s = settingsOf(INTERIM);
    s.mappings![0].fields.gradeWhenAssessed = { column: 'grade' };
    const r = await previewMapping(s, INTERIM);
    expect(r.records).toEqual([]);
    expect(r.problems).toEqual([
      {
        path: '$.mappings[0].fields.gradeWhenAssessed.column',
        message: expect.stringMatching(/^column 'grade' not found in benchmark_export.csv \(did you mean 'Grade'\? names are case-sensitive\); available: 'District Student ID', /),
      },
    ]);
    const gone = await previewMapping({ ...settingsOf(INTERIM), path: 'nope.csv' }, INTERIM);
    expect(gone.problems).toEqual([{ path: '$.path', message: `${path.join(INTERIM, 'nope.csv')}: no such file or folder` }]);
  });

  test('a layout with no file is a problem, the others are still previewed', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapped-csv-preview-'));
    try {
      fs.copyFileSync(path.join(BEHAVIOUR, 'export', 'incidents_2025-09.csv'), path.join(dir, 'incidents_2025-09.csv'));
      const s = settingsOf(BEHAVIOUR);
      s.path = dir;
      s.files!.push({ match: 'attendance_*.csv', mappings: [{ entity: 'org', sourceId: { column: 'School' }, fields: { name: { column: 'School' }, type: { const: 'school' } } }] });
      const r = await previewMapping(s, BEHAVIOUR, { limit: 1 });
      expect(r.problems).toEqual([{ path: '$.files[1].match', message: `no file matches 'attendance_*.csv' in ${dir}` }]);
      expect(r.records.map((x) => x.type)).toEqual(['org', 'person', 'behaviourIncident', 'behaviourParticipant', 'disciplineAction']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('formatPreview', () => {
  test('one line per record and reject, in row order, after the problems and the files read', async () => {
    const r = await previewMapping(settingsOf(BEHAVIOUR), BEHAVIOUR, { limit: 11 });
    const text = formatPreview(r).split('\n');
    expect(text.slice(0, 3)).toEqual([
      "incidents_2025-09.csv (files[0] 'incidents_*.csv'): 11 rows read",
      '32 records, 5 rejects:',
      '  incidents_2025-09.csv:2  org MV-EL {"name":"Maple Valley Elementary","type":"school","identifier":"MV-EL"}',
    ]);
    expect(text.filter((l) => l.includes('REJECT'))).toEqual([
      `  incidents_2025-09.csv:9  REJECT behaviourIncident INC-1005 [Date]: behaviourIncident.incidentDate: "31/9/2025" in column 'Date' is not a date in the format M/D/YYYY`,
      `  incidents_2025-09.csv:9  REJECT disciplineAction INC-1005/S-3004/DET [Date]: disciplineAction.actionDate: "31/9/2025" in column 'Date' is not a date in the format M/D/YYYY`,
      `  incidents_2025-09.csv:10  REJECT behaviourParticipant INC-1006/S-3005 [Role]: behaviourParticipant.role: "Bystander" in column 'Role' is not in the value map (Offender, Victim, Witness, Recipient), which has no default`,
      `  incidents_2025-09.csv:11  REJECT behaviourIncident INC-1007 [Positive]: behaviourIncident.positive: "Maybe" in column 'Positive' is neither true nor false (true: Y; false: N)`,
      `  incidents_2025-09.csv:12  REJECT disciplineAction INC-1008/S-4005/OSS [Action Days]: disciplineAction.durationDays: "two" in column 'Action Days' is not a number`,
    ]);
    const locations = text.slice(2).map((l) => Number(/:(\d+) {2}/.exec(l)![1]));
    expect(locations).toEqual([...locations].sort((a, b) => a - b));
  });

  test('problems first, with their paths', () => {
    expect(formatPreview({ records: [], rejects: [], files: [], problems: [{ path: '$.mode', message: 'is required' }] })).toBe('1 problem:\n  $.mode: is required');
  });
});
