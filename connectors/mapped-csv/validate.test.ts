/**
 * Config-time validation: every problem with the JSON path of the setting at fault. Also: the JSON Schema the hub
 * checks when it loads its configuration agrees with the walk, and both worked examples load.
 */
import fs from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import { validateConfig } from '../../src/core/config';
import { registerConnector } from '../../src/ingest/registry';
import { ENTITY_TYPES, type Connector } from '../../src/ingest/contract';
import { mappedCsv } from './index';
import type { Builder, MappedCsvSettings, Mapping } from './settings';
import { validateMapping, type Problem } from './validate';

const FIXTURES = path.resolve(__dirname, '../../fixtures/mapped-csv');
const fixtureConfig = (name: string) => JSON.parse(fs.readFileSync(path.join(FIXTURES, name, 'config.json'), 'utf8'));
const fixtureSettings = (name: string): MappedCsvSettings => fixtureConfig(name).tenants[0].connectors[0].settings;

/** A valid assessmentResult mapping (with its person and assessment parents) to break in one place. */
function base(fields: Record<string, Builder> = {}, extra: Partial<Mapping> = {}): MappedCsvSettings {
  return {
    path: 'benchmark.csv',
    mode: 'full',
    mappings: [
      {
        entity: 'assessmentResult',
        sourceId: { template: '{SASID}-{Test}' },
        fields: {
          assessmentId: { column: 'Test' },
          personId: { column: 'SASID' },
          administrationDate: { column: 'Date', date: 'MM/DD/YYYY' },
          ...fields,
        },
        parents: [
          {
            entity: 'person',
            sourceId: { column: 'SASID' },
            fields: { givenName: { column: 'First' }, familyName: { column: 'Last' }, enabledUser: { const: true }, identifiers: [{ system: { const: 'state' }, value: { column: 'SASID' } }] },
          },
          { entity: 'assessment', sourceId: { column: 'Test' }, fields: { title: { column: 'Test' } } },
        ],
        ...extra,
      },
    ],
  };
}
const HEADER = ['SASID', 'First', 'Last', 'Test', 'Date', 'Scale', 'Level'];
const v = (s: unknown, headers?: Record<string, string[]> | string[]): Problem[] => validateMapping(s, headers ? { headers } : {});
const field = (fields: Record<string, Builder>) => v(base(fields));

describe('valid settings', () => {
  test('the worked examples and the base mapping are valid, with and without their headers', () => {
    expect(v(fixtureSettings('interim-assessment'))).toEqual([]);
    expect(v(fixtureSettings('behaviour'))).toEqual([]);
    expect(v(base(), { 'benchmark.csv': HEADER })).toEqual([]);
    expect(v(base(), HEADER)).toEqual([]);
  });
});

describe('mappings against the unified schema', () => {
  test('unknown entity type (with a hint)', () => {
    const s = base();
    s.mappings![0].entity = 'assessmentResults' as never;
    expect(v(s)).toEqual([
      { path: '$.mappings[0].entity', message: `unknown entity type "assessmentResults" (did you mean 'assessmentResult'?); expected one of: ${ENTITY_TYPES.join(', ')}` },
    ]);
  });

  test('a field the entity does not have, at the top and nested', () => {
    expect(field({ score: { column: 'Scale' } })).toEqual([
      {
        path: '$.mappings[0].fields.score',
        message:
          "unknown field 'score' for assessmentResult (did you mean 'scores'?); its fields are: assessmentId, personId, schoolId, administrationDate, attemptNumber, gradeWhenAssessed, reasonNotTested, scores, performanceLevel, objectiveResults, alignment",
      },
    ]);
    expect(field({ scores: [{ method: { const: 'scale score' }, valu: { column: 'Scale' } }] })).toEqual([
      { path: '$.mappings[0].fields.scores[0].valu', message: "unknown field 'valu' in assessmentResult.scores[] (did you mean 'value'?); its fields are: method, value, min, max" },
      { path: '$.mappings[0].fields.scores[0]', message: "required field 'value' of assessmentResult.scores[] is not mapped" },
    ]);
  });

  test('required fields not mapped, at the top and in nested objects', () => {
    const s = base();
    delete s.mappings![0].fields.administrationDate;
    s.mappings![0].parents![0].fields = { givenName: { column: 'First' } };
    expect(v(s)).toEqual([
      { path: '$.mappings[0].fields', message: "required field 'administrationDate' of assessmentResult is not mapped" },
      { path: '$.mappings[0].parents[0].fields', message: "required field 'familyName' of person is not mapped" },
      { path: '$.mappings[0].parents[0].fields', message: "required field 'enabledUser' of person is not mapped" },
      { path: '$.mappings[0].parents[0].fields', message: "required field 'identifiers' of person is not mapped" },
    ]);
    expect(field({ performanceLevel: { label: { column: 'Level' } } })).toEqual([
      { path: '$.mappings[0].fields.performanceLevel', message: "required field 'code' of assessmentResult.performanceLevel is not mapped" },
    ]);
  });

  test('id is the hub\'s; the source id goes in sourceId', () => {
    expect(field({ id: { column: 'SASID' } })).toEqual([{ path: '$.mappings[0].fields.id', message: "id is assigned by the hub: map the source's identifier with sourceId instead" }]);
  });

  test('unknown date and time formats', () => {
    expect(field({ administrationDate: { column: 'Date', date: 'mm/dd/yyyy' } })).toEqual([
      {
        path: '$.mappings[0].fields.administrationDate.date',
        message: "unknown date format 'mm/dd/yyyy': 'dd' is not a token (tokens are case-sensitive: YYYY, MMMM, MMM, MM, M, DD, D, HH, H, hh, h, mm, ss, A; put literal letters in [brackets]), e.g. 'MM/DD/YYYY'",
      },
    ]);
    const s = base();
    s.mappings![0].parents!.push({ entity: 'behaviourIncident', sourceId: { column: 'Test' }, fields: { incidentDate: { column: 'Date', date: 'M/D/YYYY' }, incidentTime: { column: 'Date', time: 'h:mm' } } });
    expect(v(s)).toEqual([
      { path: '$.mappings[0].parents[2].fields.incidentTime.time', message: "unknown time format 'h:mm': 12-hour hours (hh, h) need an AM/PM marker (A); use HH or H for a 24-hour clock" },
    ]);
  });

  test('types: what the expression gives must fit the field, with a hint', () => {
    expect(field({ attemptNumber: { column: 'Scale' } })).toEqual([
      { path: '$.mappings[0].fields.attemptNumber', message: 'assessmentResult.attemptNumber is an integer, but this expression gives a string (add "number": true to read the cell as a number)' },
    ]);
    expect(field({ scores: { column: 'Scale' } })).toEqual([
      { path: '$.mappings[0].fields.scores', message: 'assessmentResult.scores is a list: wrap the expression in [ ], or split a cell with { "column": ..., "split": ";" }' },
    ]);
    expect(field({ performanceLevel: { column: 'Level' } })).toEqual([
      { path: '$.mappings[0].fields.performanceLevel', message: 'assessmentResult.performanceLevel is an object: map its fields, e.g. { "code": { "column": ... } }' },
    ]);
    expect(field({ gradeWhenAssessed: { column: 'Level', split: ',' } })).toEqual([
      { path: '$.mappings[0].fields.gradeWhenAssessed.split', message: 'split makes a list, but assessmentResult.gradeWhenAssessed is a string: remove split' },
    ]);
    expect(field({ scores: { column: 'Level', split: ',' } })).toEqual([
      { path: '$.mappings[0].fields.scores', message: 'split makes a list of strings, but assessmentResult.scores is a list of objects: use a list builder [ { ... } ]' },
    ]);
    expect(field({ gradeWhenAssessed: [{ column: 'Level' }] })).toEqual([
      { path: '$.mappings[0].fields.gradeWhenAssessed', message: 'assessmentResult.gradeWhenAssessed is a string, not a list: use an expression' },
    ]);
    expect(field({ performanceLevel: { code: { column: 'Level' }, met: { column: 'Level', map: { '3': 'yes' } } } })).toEqual([
      { path: '$.mappings[0].fields.performanceLevel.met', message: 'assessmentResult.performanceLevel.met is a boolean, but this expression gives a string (add "boolean": { "true": [...], "false": [...] } to read the cell as a boolean)' },
    ]);
  });

  test('constants and value maps are checked against the field (enumerations, patterns)', () => {
    const s = base();
    s.mappings![0].parents![0].fields.primaryRole = { const: 'pupil' };
    s.mappings![0].parents!.push({ entity: 'org', sourceId: { column: 'Test' }, fields: { name: { column: 'Test' }, type: { column: 'Level', map: { S: 'school', D: 'distric' }, default: 'ext:vendor' } } });
    expect(v(s)).toEqual([
      {
        path: '$.mappings[0].parents[0].fields.primaryRole.const',
        message:
          '"pupil" is not a valid person.primaryRole: must be one of aide, counselor, districtAdministrator, guardian, parent, principal, proctor, relative, siteAdministrator, student, systemAdministrator, teacher or must match pattern "^ext:[a-zA-Z0-9.\\-_]+$"',
      },
      {
        path: '$.mappings[0].parents[2].fields.type.map.D',
        message: '"distric" is not a valid org.type: must be one of department, district, local, national, school, state or must match pattern "^ext:[a-zA-Z0-9.\\-_]+$"',
      },
    ]);
  });

  test('a reference to an entity type no mapping yields (references resolve within this connector only)', () => {
    const s = base();
    s.mappings![0].parents = s.mappings![0].parents!.filter((p) => p.entity !== 'person');
    s.mappings![0].fields.schoolId = { column: 'Test' };
    expect(v(s)).toEqual([
      {
        path: '$.mappings[0].fields.personId',
        message:
          "personId refers to person records, but no mapping yields person records: references resolve only against records this connector yields (add a parent mapping with entity 'person', or leave personId out)",
      },
      {
        path: '$.mappings[0].fields.schoolId',
        message: "schoolId refers to org records, but no mapping yields org records: references resolve only against records this connector yields (add a parent mapping with entity 'org', or leave schoolId out)",
      },
    ]);
  });

  test('expression shapes', () => {
    expect(field({ gradeWhenAssessed: { column: 'Level', const: '4' } as never })).toEqual([
      { path: '$.mappings[0].fields.gradeWhenAssessed', message: 'an expression has exactly one of column, const, template; found column, const' },
    ]);
    expect(field({ gradeWhenAssessed: { column: 'Level', default: 'x' } })).toEqual([
      { path: '$.mappings[0].fields.gradeWhenAssessed.default', message: 'applies to values missing from a value map: add map, or remove default' },
    ]);
    expect(field({ gradeWhenAssessed: { column: 'Level', date: 'MM/DD/YYYY', map: { a: 'b' } } })).toEqual([
      { path: '$.mappings[0].fields.gradeWhenAssessed', message: 'use one of map, date, time, number, boolean on a column, not map, date' },
    ]);
    expect(field({ gradeWhenAssessed: { column: 'Level', trim: false } as never })).toEqual([
      { path: '$.mappings[0].fields.gradeWhenAssessed.trim', message: 'is not allowed here (unknown key; a column expression takes column, split, map, date, time, number, boolean, default)' },
    ]);
    expect(field({ gradeWhenAssessed: { template: 'no placeholder' } })).toEqual([
      { path: '$.mappings[0].fields.gradeWhenAssessed.template', message: 'has no {Column Name} placeholder: use { "const": ... } for a fixed value' },
    ]);
    expect(field({ gradeWhenAssessed: { template: '{Level' } })).toEqual([
      { path: '$.mappings[0].fields.gradeWhenAssessed.template', message: `template "{Level": the '{' at position 1 is never closed` },
    ]);
    expect(field({ gradeWhenAssessed: { column: '' } })).toEqual([
      { path: '$.mappings[0].fields.gradeWhenAssessed.column', message: 'must be a column name as in the header row, or a 1-based column position' },
    ]);
    expect(field({ reasonNotTested: { column: 'Level', map: {} } })).toEqual([
      { path: '$.mappings[0].fields.reasonNotTested.map', message: 'must be a non-empty object of cell value -> output value' },
    ]);
    const both = base();
    both.mappings![0].parents![0].fields.enabledUser = { column: 'Level', boolean: { true: ['Y', 'X'], false: ['N', 'X'] } };
    expect(v(both)).toEqual([{ path: '$.mappings[0].parents[0].fields.enabledUser.boolean', message: "'X' cannot be both true and false" }]);
    const list = base();
    list.mappings![0].sourceId = { column: 'SASID', split: ';' };
    expect(v(list)).toEqual([{ path: '$.mappings[0].sourceId.split', message: 'assessmentResult sourceId is one string: it cannot be a list (remove split)' }]);
  });
});

describe('the settings around the mappings', () => {
  test('top-level keys, mode, formats, files vs mappings', () => {
    expect(v({ path: '', mappings: [], delimiter: ':', encoding: 'utf16', headerRow: 0, pageSize: 0, extra: 1 })).toEqual([
      { path: '$.extra', message: 'is not allowed here (unknown key; the settings object takes path, mode, delimiter, encoding, headerRow, pageSize, files, mappings)' },
      { path: '$.path', message: 'is required: the CSV file, or the folder of CSV files, to read' },
      { path: '$.mode', message: "is required: 'full' (the files are the complete truth: records they no longer contain are deleted) or 'incremental' (adds and updates only)" },
      { path: '$.delimiter', message: 'must be one of ",", ";", "\\t", "|", found ":"' },
      { path: '$.encoding', message: "must be 'utf8' or 'latin1' (Windows-1252 exports read as latin1), found \"utf16\"" },
      { path: '$.headerRow', message: 'must be the 1-based line number of the header row (1 to 100)' },
      { path: '$.pageSize', message: 'must be an integer from 1 to 50000' },
      { path: '$.mappings', message: 'must be a non-empty list of mappings { entity, sourceId, fields }' },
    ]);
    expect(v({ path: 'x', mode: 'full' })).toEqual([{ path: '$.mappings', message: 'is required (or files): what each CSV row yields' }]);
    const { mappings } = base();
    expect(v({ path: 'x', mode: 'full', mappings, files: [{ match: 'a.csv', mappings }] })).toEqual([
      { path: '$', message: 'give either files (a layout per file name) or mappings (one layout for every file), not both' },
    ]);
    expect(v({ path: 'x', mode: 'full', files: [{ match: 'a*.csv', mappings }, { match: 'A*.CSV', mappings }, { match: 'sub/b.csv', mappings }] })).toEqual([
      { path: '$.files[1].match', message: "repeats files[0].match 'A*.CSV': a file takes the first entry it matches, so this one never applies" },
      { path: '$.files[2].match', message: 'matches file names inside the folder of path: it may not contain / or \\' },
    ]);
  });

  test('parents do not nest', () => {
    const s = base();
    (s.mappings![0].parents![1] as Mapping).parents = [];
    expect(v(s)).toEqual([
      { path: '$.mappings[0].parents[1].parents', message: 'is not allowed here (unknown key; a parent mapping (parents do not nest) takes entity, sourceId, fields, when)' },
    ]);
  });
});

describe('columns against the header row', () => {
  test("a column missing from the file names the file and the columns it has, with a hint", () => {
    const s = base({ scores: [{ method: { const: 'scale score' }, value: { column: 'Scale Score' } }], gradeWhenAssessed: { template: '{grade}' } }, { when: { column: 'Tested' } });
    expect(v(s, { 'benchmark.csv': [...HEADER, 'Grade'] })).toEqual([
      { path: '$.mappings[0].fields.scores[0].value.column', message: "column 'Scale Score' not found in benchmark.csv; available: 'SASID', 'First', 'Last', 'Test', 'Date', 'Scale', 'Level', 'Grade'" },
      {
        path: '$.mappings[0].fields.gradeWhenAssessed.template',
        message: "template placeholder {grade}: column 'grade' not found in benchmark.csv (did you mean 'Grade'? names are case-sensitive); available: 'SASID', 'First', 'Last', 'Test', 'Date', 'Scale', 'Level', 'Grade'",
      },
      { path: '$.mappings[0].when.column', message: "column 'Tested' not found in benchmark.csv (did you mean 'Test'?); available: 'SASID', 'First', 'Last', 'Test', 'Date', 'Scale', 'Level', 'Grade'" },
    ]);
  });

  test('a repeated header name must be referred to by position; a position past the end', () => {
    const s = base({ scores: [{ value: { column: 'Score' } }, { value: { column: 12 } }] });
    expect(v(s, { 'b.csv': [...HEADER, 'Score', 'Score'] })).toEqual([
      { path: '$.mappings[0].fields.scores[0].value.column', message: `column 'Score' appears 2 times in b.csv (columns 8, 9): refer to one by position, e.g. { "column": 9 }` },
      { path: '$.mappings[0].fields.scores[1].value.column', message: 'column 12 is past the last column in b.csv (it has 9)' },
    ]);
  });

  test('a header that is not UTF-8 gets an encoding hint', () => {
    expect(v(base(), { 'b.csv': ['SASID', 'First', 'Last', 'Test', 'D\uFFFDte'] })[0].message).toMatch(/set encoding 'latin1'/);
  });

  test('each file is checked against the layout its name matches', () => {
    const { mappings } = base();
    const s: MappedCsvSettings = { path: 'dir', mode: 'full', files: [{ match: 'bench_*.csv', mappings: mappings! }, { match: 'other.csv', mappings: [{ entity: 'org', sourceId: { column: 'Code' }, fields: { name: { column: 'Name' }, type: { const: 'school' } } }] }] };
    expect(v(s, { 'bench_1.csv': HEADER, 'other.csv': ['Code', 'Nom'], 'ignored.txt': [] })).toEqual([
      { path: '$.files[1].mappings[0].fields.name.column', message: "column 'Name' not found in other.csv; available: 'Code', 'Nom'" },
    ]);
  });
});

describe('the JSON Schema (what the hub checks when it loads its configuration)', () => {
  const schema = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../schemas/connectors/mapped-csv.config.schema.json'), 'utf8'));
  const validate = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true }).compile(schema);

  test('strict draft-07, additionalProperties false on every fixed-shape object, entity types from the unified schemas', () => {
    expect(schema).toMatchObject({ $schema: 'http://json-schema.org/draft-07/schema#', $id: '/schemas/connectors/mapped-csv.config.schema.json', additionalProperties: false });
    for (const [name, def] of Object.entries(schema.definitions as Record<string, { type?: string; additionalProperties?: unknown }>)) {
      if (def.type === 'object' && name !== 'fileSpec') expect([name, def.additionalProperties]).toEqual([name, false]);
    }
    expect(schema.definitions.mapping.properties.entity.enum).toEqual([...ENTITY_TYPES]);
    expect(mappedCsv.manifest.configSchema).toEqual(schema);
  });

  test('it accepts what the walk accepts and refuses the shapes the walk refuses', () => {
    for (const ok of [fixtureSettings('interim-assessment'), fixtureSettings('behaviour'), base()]) expect(validate(ok)).toBe(true);
    const bad: unknown[] = [
      {},
      { path: 'x', mode: 'full' },
      { path: 'x', mode: 'sometimes', mappings: base().mappings },
      { ...base(), delimiter: ':' },
      { ...base(), files: [{ match: 'a', mappings: base().mappings }] },
      base({ x: { column: 'a', const: 'b' } as never }),
      base({ x: { column: 'a', number: false } as never }),
      base({ x: [] }),
      { ...base(), mappings: [{ ...base().mappings![0], entity: 'student' }] },
      { ...base(), mappings: [{ ...base().mappings![0], parents: [{ ...base().mappings![0] }] }] },
    ];
    for (const b of bad) {
      expect(v(b).length).toBeGreaterThan(0);
      expect(validate(b)).toBe(false);
    }
  });
});

describe('hub configuration', () => {
  beforeAll(() => registerConnector('mapped-csv', mappedCsv as unknown as Connector<never>));

  test('both worked examples load as hub configurations', () => {
    for (const name of ['interim-assessment', 'behaviour']) {
      expect(() => validateConfig(fixtureConfig(name), `${name}/config.json`, path.join(FIXTURES, name))).not.toThrow();
    }
  });

  test('a mapping the schema refuses fails the configuration load with a JSON path', () => {
    const cfg = fixtureConfig('interim-assessment');
    cfg.tenants[0].connectors[0].settings.mappings[0].entity = 'assessmentResults';
    expect(() => validateConfig(cfg)).toThrow(/\$\.tenants\[0\]\.connectors\[0\]\.settings\.mappings\.0\.entity: must be equal to one of the allowed values/);
  });

  test('validateSettings is there for the config loader to call (the semantic checks)', () => {
    const s = fixtureSettings('interim-assessment');
    s.mappings![0].fields.score = { column: 'Scale Score' };
    expect(mappedCsv.validateSettings(s)).toEqual([expect.objectContaining({ path: '$.mappings[0].fields.score' })]);
  });
});
