/** The mapping language on plain rows: every expression kind, nested builders, required fields, parents, malformed rows. */
import {
  compileProducer,
  makeHeader,
  mapRow,
  processRow,
  producersOf,
  rowObject,
  type CompiledProducer,
  type RowOutput,
} from './compile';
import { leadingFields, salvageFields } from './files';
import { groupsOf, type Builder, type Expression, type Mapping, type MappedCsvSettings } from './settings';
import type { EntityType } from '../../src/ingest/contract';

function compiled(mappings: Mapping[], header: string[]): CompiledProducer[] {
  const settings: MappedCsvSettings = { path: 'x.csv', mode: 'full', mappings };
  const h = makeHeader(header);
  return producersOf(groupsOf(settings)[0]).map((p) => compileProducer(p, h));
}

/** Maps one row (column -> cell) with a single mapping; returns what mapRow gives. */
function map1(entity: EntityType, fields: Record<string, Builder>, row: Record<string, string>, sourceId: Expression = { column: 'id' }) {
  const header = Object.keys(row);
  const [cp] = compiled([{ entity, sourceId, fields }], header);
  return mapRow(cp, header.map((h) => row[h]));
}
/** The data of a row mapped with one assessment field `f` (title is required by the schema, so it is always mapped). */
const field = (f: string, b: Builder, row: Record<string, string>) => map1('assessment', { title: { const: 'T' }, [f]: b }, { id: 'a1', ...row });

describe('expressions', () => {
  test('column: cells are trimmed; a blank cell leaves the field out; a column may be named by position', () => {
    expect(field('identifier', { column: 'Code' }, { Code: '  X-1 ' })).toEqual({ sourceId: 'a1', data: { title: 'T', identifier: 'X-1' } });
    expect(field('identifier', { column: 'Code' }, { Code: '   ' })).toEqual({ sourceId: 'a1', data: { title: 'T' } });
    expect(field('identifier', { column: 2 }, { Code: 'by position' })).toEqual({ sourceId: 'a1', data: { title: 'T', identifier: 'by position' } });
  });

  test('const: strings, numbers and booleans as given', () => {
    expect(map1('assessment', { title: { const: 'Interim' }, reportingMethods: [{ method: { const: 'percentile' }, min: { const: 1 } }], performanceLevels: [{ code: { const: '3' }, met: { const: true } }] }, { id: 'a1' })).toEqual({
      sourceId: 'a1',
      data: { title: 'Interim', reportingMethods: [{ method: 'percentile', min: 1 }], performanceLevels: [{ code: '3', met: true }] },
    });
  });

  test('template: placeholders by column name, {{ }} literal braces; a blank placeholder gives nothing', () => {
    const t = { template: '{Test} - {Subject} {{v2}}' };
    expect(field('identifier', t, { Test: 'Fall', Subject: 'Math' }).data).toEqual({ title: 'T', identifier: 'Fall - Math {v2}' });
    expect(field('identifier', t, { Test: 'Fall', Subject: '' }).data).toEqual({ title: 'T' });
  });

  test('value map: hit, default for a value not in the map, "" for a blank cell, non-string outputs', () => {
    const m = { column: 'L', map: { '1': 'Below', '2': 'Basic' } };
    expect(field('category', m, { L: '2' }).data).toEqual({ title: 'T', category: 'Basic' });
    expect(field('category', { ...m, default: 'Other' }, { L: '9' }).data).toEqual({ title: 'T', category: 'Other' });
    expect(field('category', m, { L: '' }).data).toEqual({ title: 'T' });
    expect(field('category', { column: 'L', map: { '': 'Not tested', '1': 'Below' } }, { L: ' ' }).data).toEqual({ title: 'T', category: 'Not tested' });
    expect(field('performanceLevels', [{ code: { column: 'L' }, met: { column: 'L', map: { '1': false, '4': true } } }], { L: '4' }).data).toEqual({
      title: 'T',
      performanceLevels: [{ code: '4', met: true }],
    });
  });

  test('value map without default: a value not in it rejects the row, naming the column, the field and the keys', () => {
    expect(field('category', { column: 'Level', map: { '1': 'Below', '2': 'Basic' } }, { Level: '5' })).toEqual({
      sourceId: 'a1',
      errors: [{ column: 'Level', code: 'row_malformed', message: `assessment.category: "5" in column 'Level' is not in the value map (1, 2), which has no default` }],
    });
  });

  test('date and time: to ISO; a value not in the format rejects', () => {
    const inc = (row: Record<string, string>) =>
      map1('behaviourIncident', { incidentDate: { column: 'When', date: 'DD.MM.YYYY' }, incidentTime: { column: 'At', time: 'h:mm A' } }, { id: 'i1', ...row });
    expect(inc({ When: '15.09.2025', At: '1:05 PM' })).toEqual({ sourceId: 'i1', data: { incidentDate: '2025-09-15', incidentTime: '13:05' } });
    expect(inc({ When: '09/15/2025', At: '13:05' })).toEqual({
      sourceId: 'i1',
      errors: [
        { column: 'When', code: 'row_malformed', message: `behaviourIncident.incidentDate: "09/15/2025" in column 'When' is not a date in the format DD.MM.YYYY` },
        { column: 'At', code: 'row_malformed', message: `behaviourIncident.incidentTime: "13:05" in column 'At' is not a time in the format h:mm A` },
      ],
    });
  });

  test('number: decimals and signs; anything else rejects', () => {
    const rm = (v: string) => field('reportingMethods', [{ method: { const: 'scale' }, min: { column: 'N', number: true } }], { N: v });
    expect(rm('12').data).toEqual({ title: 'T', reportingMethods: [{ method: 'scale', min: 12 }] });
    expect(rm('-3.5').data).toEqual({ title: 'T', reportingMethods: [{ method: 'scale', min: -3.5 }] });
    expect(rm('1e3').data).toEqual({ title: 'T', reportingMethods: [{ method: 'scale', min: 1000 }] });
    for (const bad of ['12abc', '0x10', '1,5', 'Infinity']) {
      expect(rm(bad).errors).toEqual([{ column: 'N', code: 'row_malformed', message: `assessment.reportingMethods[0].min: "${bad}" in column 'N' is not a number` }]);
    }
  });

  test('boolean: exact values from the lists; "" may be listed for a blank cell; others reject', () => {
    const pos = (v: string, lists = { true: ['Y', 'Yes'], false: ['N', 'No'] }) =>
      map1('behaviourIncident', { incidentDate: { const: '2025-09-01' }, positive: { column: 'P', boolean: lists } }, { id: 'i1', P: v });
    expect(pos('Yes').data).toEqual({ incidentDate: '2025-09-01', positive: true });
    expect(pos('N').data).toEqual({ incidentDate: '2025-09-01', positive: false });
    expect(pos('').data).toEqual({ incidentDate: '2025-09-01' });
    expect(pos('', { true: ['Y'], false: ['N', ''] }).data).toEqual({ incidentDate: '2025-09-01', positive: false });
    expect(pos('y').errors).toEqual([{ column: 'P', code: 'row_malformed', message: `behaviourIncident.positive: "y" in column 'P' is neither true nor false (true: Y, Yes; false: N, No)` }]);
  });

  test('split: a list from one cell, items trimmed, blank items dropped, each item mapped; inside a list its items join it', () => {
    expect(field('subjects', { column: 'S', split: ';' }, { S: ' Math ; ;ELA;' }).data).toEqual({ title: 'T', subjects: ['Math', 'ELA'] });
    expect(field('grades', { column: 'G', split: ',', map: { K: 'KG', '1': '01' } }, { G: 'K,1' }).data).toEqual({ title: 'T', grades: ['KG', '01'] });
    expect(field('subjects', [{ const: 'Core' }, { column: 'S', split: '|' }], { S: 'Math|Science' }).data).toEqual({ title: 'T', subjects: ['Core', 'Math', 'Science'] });
    expect(field('subjects', { column: 'S', split: ';' }, { S: ' ; ' }).data).toEqual({ title: 'T' });
  });
});

describe('lists and objects', () => {
  const result = (row: Record<string, string>) =>
    map1(
      'assessmentResult',
      {
        // deliberately not in schema order: records are built in schema order, so their JSON does not depend on the config
        objectiveResults: [
          { objective: { column: 'S1' }, scores: [{ method: { const: 'raw score' }, value: { column: 'S1 Score' } }] },
          { objective: { column: 'S2' }, scores: [{ method: { const: 'raw score' }, value: { column: 'S2 Score' } }] },
        ],
        scores: [
          { method: { const: 'scale score' }, value: { column: 'Scale' } },
          { method: { const: 'percentile' }, value: { column: 'Pct' } },
        ],
        performanceLevel: { code: { column: 'Level' }, method: { const: 'vendor' } },
        administrationDate: { const: '2025-09-15' },
        personId: { column: 'id' },
        assessmentId: { const: 'A' },
      },
      { id: 'p1', Scale: '450', Pct: '', Level: '', S1: 'RL.1', 'S1 Score': '7', S2: '', 'S2 Score': '', ...row },
    );

  test('items and objects whose cells are all blank are left out (constants alone do not keep them); keys follow the schema', () => {
    const r = result({});
    expect(r).toEqual({
      sourceId: 'p1',
      data: {
        assessmentId: 'A',
        personId: 'p1',
        administrationDate: '2025-09-15',
        scores: [{ method: 'scale score', value: '450' }],
        objectiveResults: [{ objective: 'RL.1', scores: [{ method: 'raw score', value: '7' }] }],
      },
    });
    expect(Object.keys(r.data!)).toEqual(['assessmentId', 'personId', 'administrationDate', 'scores', 'objectiveResults']);
  });

  test('a kept item without a required member rejects the row, naming the blank column', () => {
    expect(result({ 'S2 Score': '5' }).errors).toEqual([
      { column: 'S2', code: 'record_invalid', message: `assessmentResult.objectiveResults[1].objective is required in this item but column 'S2' is blank` },
    ]);
  });

  test('a list of constant objects is kept as is', () => {
    const levels: Builder = [{ code: { const: '1' }, label: { const: 'Below' } }, { code: { const: '2' }, met: { const: true } }];
    expect(field('performanceLevels', levels, {}).data).toEqual({ title: 'T', performanceLevels: [{ code: '1', label: 'Below' }, { code: '2', met: true }] });
  });
});

describe('required fields and sourceId', () => {
  const fields = { assessmentId: { const: 'A' }, personId: { column: 'SASID' }, administrationDate: { column: 'Date', date: 'MM/DD/YYYY' } };

  test('every problem of a row in one result: blank sourceId, blank required field, bad value', () => {
    expect(map1('assessmentResult', fields, { SASID: '', Date: '13/01/2025', Test: 'Fall' }, { template: '{SASID}-{Test}' })).toEqual({
      errors: [
        { column: 'SASID', code: 'record_invalid', message: `assessmentResult.sourceId is required but column 'SASID' is blank` },
        { column: 'SASID', code: 'record_invalid', message: `assessmentResult.personId is required but column 'SASID' is blank` },
        { column: 'Date', code: 'row_malformed', message: `assessmentResult.administrationDate: "13/01/2025" in column 'Date' is not a date in the format MM/DD/YYYY` },
      ],
    });
  });

  test('a required field with a bad value is reported once (the bad value), not also as blank', () => {
    expect(map1('assessmentResult', fields, { SASID: '9', Date: 'x', Test: 'F' }, { template: '{SASID}-{Test}' })).toEqual({
      sourceId: '9-F',
      errors: [{ column: 'Date', code: 'row_malformed', message: `assessmentResult.administrationDate: "x" in column 'Date' is not a date in the format MM/DD/YYYY` }],
    });
  });

  test('a template sourceId names every blank placeholder', () => {
    expect(map1('assessment', { title: { const: 'T' } }, { A: '', B: '' }, { template: '{A}-{B}' }).errors).toEqual([
      { column: 'A', code: 'record_invalid', message: `assessment.sourceId is required but columns 'A', 'B' are blank` },
    ]);
  });

  test('a sourceId from a number or date expression is its string form', () => {
    expect(map1('assessment', { title: { const: 'T' } }, { N: '0042' }, { column: 'N', number: true }).sourceId).toBe('42');
  });
});

describe('rows: parents, conditions, malformed lines', () => {
  const header = ['Student', 'First', 'Last', 'Test', 'Date', 'Score', 'Action'];
  const mappings: Mapping[] = [
    {
      entity: 'assessmentResult',
      sourceId: { template: '{Student}|{Test}' },
      fields: { assessmentId: { column: 'Test' }, personId: { column: 'Student' }, administrationDate: { column: 'Date', date: 'YYYY-MM-DD' }, scores: [{ value: { column: 'Score' } }] },
      parents: [
        {
          entity: 'person',
          sourceId: { column: 'Student' },
          fields: { givenName: { column: 'First' }, familyName: { column: 'Last' }, enabledUser: { const: true }, identifiers: [{ system: { const: 'state' }, value: { column: 'Student' } }] },
        },
        { entity: 'assessment', sourceId: { column: 'Test' }, fields: { title: { column: 'Test' } } },
      ],
    },
    { entity: 'intervention', when: { column: 'Action', notIn: ['none'] }, sourceId: { template: '{Student}|{Action}' }, fields: { personId: { column: 'Student' }, title: { column: 'Action' }, startDate: { column: 'Date', date: 'YYYY-MM-DD' } } },
  ];
  const cps = compiled(mappings, header);
  const h = makeHeader(header);
  const run = (lines: Array<string[] | { malformed: string; fields?: string[]; available: string[] }>, only?: EntityType, onePerLine = false) => {
    const out: RowOutput = { records: [], rejects: [] };
    const seen = new Set<string>();
    lines.forEach((l, i) => {
      const use = only ? cps.filter((c) => c.entity === only) : cps;
      if (Array.isArray(l)) processRow(use, { file: 'f.csv', line: i + 2, fields: l }, h, seen, out, onePerLine);
      else processRow(use, { file: 'f.csv', line: i + 2, fields: l.fields ?? [], malformed: { reason: l.malformed, raw: 'raw', available: l.available } }, h, seen, out, onePerLine);
    });
    return { records: out.records.map((r) => `${r.location} ${r.type} ${r.sourceId}`), rejects: out.rejects.map((r) => ({ ...r, raw: undefined })) };
  };

  test('a row yields its parents first, each parent once per run, then its records; `when` picks the rows', () => {
    const r = run([
      ['s1', 'Ana', 'R', 'Fall', '2025-09-15', '450', 'Tutoring'],
      ['s1', 'Ana', 'R', 'Winter', '2026-01-20', '470', 'none'],
      ['s2', 'Ben', 'O', 'Fall', '2025-09-15', '400', ''],
    ]);
    expect(r.records).toEqual([
      'f.csv:2 person s1',
      'f.csv:2 assessment Fall',
      'f.csv:2 assessmentResult s1|Fall',
      'f.csv:2 intervention s1|Tutoring',
      'f.csv:3 assessment Winter',
      'f.csv:3 assessmentResult s1|Winter',
      'f.csv:4 person s2',
      'f.csv:4 assessmentResult s2|Fall',
    ]);
    expect(r.rejects).toEqual([]);
  });

  test('a parent whose row fails is tried again on its next row; the child is still yielded (the runtime resolves references)', () => {
    const r = run([
      ['s1', '', 'R', 'Fall', '2025-09-15', '450', ''],
      ['s1', 'Ana', 'R', 'Winter', '2026-01-20', '470', ''],
    ]);
    expect(r.records).toEqual(['f.csv:2 assessment Fall', 'f.csv:2 assessmentResult s1|Fall', 'f.csv:3 person s1', 'f.csv:3 assessment Winter', 'f.csv:3 assessmentResult s1|Winter']);
    expect(r.rejects).toEqual([
      { location: 'f.csv:2', field: 'First', reason: `person.givenName is required but column 'First' is blank`, code: 'record_invalid', sourceId: 's1', entity: 'person', raw: undefined },
    ]);
  });

  test('a malformed row: one reject per record it would have yielded, with the sourceId the intact cells give', () => {
    // Quoting broke in column 4 (Test): Student, First, Last are intact.
    const broken = { malformed: 'broken quoting in column 4', available: ['s9', 'Ivy', 'Ito'] };
    expect(run([broken]).rejects).toEqual([
      { location: 'f.csv:2', reason: 'broken quoting in column 4', code: 'row_malformed', raw: undefined, sourceId: 's9', entity: 'person' },
      { location: 'f.csv:2', reason: 'broken quoting in column 4', code: 'row_malformed', raw: undefined, entity: 'assessment' },
      { location: 'f.csv:2', reason: 'broken quoting in column 4', code: 'row_malformed', raw: undefined, entity: 'assessmentResult' },
      { location: 'f.csv:2', reason: 'broken quoting in column 4', code: 'row_malformed', raw: undefined, entity: 'intervention' },
    ]);
    // A parent already yielded needs no reject; a condition that is readable and false skips the mapping.
    const short = { malformed: 'expected 7 fields, found 6', available: ['s1', 'Ana', 'R', 'Fall', '2025-09-15', '450', 'none'] };
    const r = run([['s1', 'Ana', 'R', 'Fall', '2025-09-15', '450', ''], short]);
    expect(r.rejects).toEqual([{ location: 'f.csv:3', reason: 'expected 7 fields, found 6', code: 'row_malformed', raw: undefined, sourceId: 's1|Fall', entity: 'assessmentResult' }]);
    // The preview reports a malformed line once.
    expect(run([broken], undefined, true).rejects).toEqual([{ location: 'f.csv:2', reason: 'broken quoting in column 4', code: 'row_malformed', raw: undefined }]);
  });

  test('reading one stream runs only its producers', () => {
    const r = run([['s1', 'Ana', 'R', 'Fall', '2025-09-15', '450', 'Tutoring']], 'person');
    expect(r.records).toEqual(['f.csv:2 person s1']);
  });

  test('`when` with `in`', () => {
    const [cp] = compiled([{ entity: 'assessment', when: { column: 'K', in: ['a', ''] }, sourceId: { column: 'K' }, fields: { title: { const: 'T' } } }], ['K']);
    const out: RowOutput = { records: [], rejects: [] };
    for (const v of ['a', 'b', '']) processRow([cp], { file: 'f', line: 2, fields: [v] }, makeHeader(['K']), new Set(), out);
    expect(out.records.map((r) => r.sourceId)).toEqual(['a']);
    expect(out.rejects.map((r) => r.reason)).toEqual([`assessment.sourceId is required but column 'K' is blank`]);
  });
});

describe('raw rows and broken lines', () => {
  test('raw is the row keyed by header; blank, repeated and __proto__ names get a position; extra cells are kept', () => {
    const h = makeHeader(['A', '', 'A', '__proto__']);
    const raw = rowObject(h, ['1', '2', '3', '4', '5']);
    expect(raw).toEqual({ A: '1', 'column (column 2)': '2', 'A (column 3)': '3', '__proto__ (column 4)': '4', '(column 5)': '5' });
    expect(Object.getPrototypeOf(raw)).toBe(Object.prototype);
    const evil = rowObject(makeHeader(['x']), ['1']);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    expect(evil.x).toBe('1');
  });

  test('leadingFields reads the intact cells before the break', () => {
    expect(leadingFields('a,"b,c",d,"e', 3, ',')).toEqual(['a', 'b,c', 'd']);
    expect(leadingFields('a;"say ""hi""";x"y', 2, ';')).toEqual(['a', 'say "hi"']);
    expect(leadingFields('x,"a"b,c', 1, ',')).toEqual(['x']);
    expect(leadingFields('a,b', 0, ',')).toEqual([]);
  });

  test("salvageFields: the cells after the break too, when a plain split gives the header's number of cells", () => {
    expect(salvageFields('1,"O"Brien",x,"y ""z"""', 1, ',', 4)).toEqual(['1', 'O"Brien', 'x', 'y "z"']);
    expect(salvageFields('1,"O"Brien, Jr.",x', 1, ',', 3)).toEqual(['1']);
  });

});
