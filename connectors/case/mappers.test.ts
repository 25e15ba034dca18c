/** Pure mappers on plain objects: the exact unified records, lenient 1.0 readings, strict 1.1 rejects. */
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { entityValidator } from '../../src/core/schemas';
import { mapAll, mapAssociation, mapFramework, mapItem, type PackageContext } from './mappers';
import { normalizeDateTime, readPackage } from './package';

const DOC = '0f8e6a52-3c1b-4d2e-9f00-1a2b3c4d5e6f';
const ITEM = '6a1d3c9e-2b4f-4e8a-8c7d-0e1f2a3b4c5d';
const ctx10: PackageContext = { name: 'p.json', documentId: DOC, caseVersion: '1.0' };
const ctx11: PackageContext = { ...ctx10, caseVersion: '1.1' };

/** What the runtime will check: the unified schema (with a placeholder id and a resolved frameworkId). */
function unifiedValid(type: 'competencyFramework' | 'competencyItem' | 'competencyAssociation', data: Record<string, unknown>): boolean {
  const v = entityValidator(type);
  const ok = v({ id: 'u1', ...data, ...(data.frameworkId ? { frameworkId: 'u0' } : {}) }) as boolean;
  if (!ok) throw new Error(JSON.stringify(v.errors));
  return ok;
}

describe('mapFramework', () => {
  test('every mapped field, in a fixed order, and the detected CASE version', () => {
    const pkg = readPackage(
      {
        CFDocument: {
          identifier: DOC, uri: `https://s.example/ims/case/v1p1/CFDocuments/${DOC}`, creator: ' State DoE ', title: ' Grade 3 Math ',
          lastChangeDateTime: '2025-01-02T03:04:05Z', caseVersion: '1.1', publisher: 'State', version: '2025', subject: ['Math', '', 'Math', 'Numeracy'],
          adoptionStatus: 'Adopted', language: 'en', description: 'not mapped', notes: 'not mapped',
        },
      },
      'state.json',
    );
    const r = mapFramework(pkg);
    expect(r).toEqual({
      type: 'competencyFramework',
      sourceId: DOC,
      location: 'state.json $.CFDocument',
      raw: pkg.document,
      data: {
        caseId: DOC, uri: `https://s.example/ims/case/v1p1/CFDocuments/${DOC}`, title: 'Grade 3 Math', creator: 'State DoE', publisher: 'State',
        version: '2025', subjects: ['Math', 'Numeracy'], adoptionStatus: 'Adopted', language: 'en', lastChangeDateTime: '2025-01-02T03:04:05Z', caseVersion: '1.1',
      },
    });
    expect(Object.keys(r.data)).toEqual(['caseId', 'uri', 'title', 'creator', 'publisher', 'version', 'subjects', 'adoptionStatus', 'language', 'lastChangeDateTime', 'caseVersion']);
    expect(unifiedValid('competencyFramework', r.data)).toBe(true);
  });
});

describe('mapItem', () => {
  const full = {
    identifier: ITEM, uri: `https://s.example/ims/case/v1p1/CFItems/${ITEM}`, fullStatement: 'Explain **equal groups**.\n', abbreviatedStatement: 'Equal groups',
    humanCodingScheme: ' 3.OA.1 ', CFItemType: 'Standard', educationLevel: ['03', '04'], listEnumeration: '1', notes: 'A note', lastChangeDateTime: '2025-01-02T03:04:05+02:00',
    alternativeLabel: 'not mapped', conceptKeywords: ['not mapped'],
  };

  test('a complete 1.1 item', () => {
    const r = mapItem(full, 3, ctx11);
    expect(r.record).toEqual({
      type: 'competencyItem',
      sourceId: ITEM,
      location: 'p.json $.CFItems[3]',
      raw: full,
      data: {
        caseId: ITEM, uri: full.uri, frameworkId: DOC, fullStatement: 'Explain **equal groups**.\n', abbreviatedStatement: 'Equal groups', humanCodingScheme: '3.OA.1',
        itemType: 'Standard', educationLevels: ['03', '04'], listEnumeration: '1', notes: 'A note', lastChangeDateTime: '2025-01-02T03:04:05+02:00',
      },
    });
    expect(unifiedValid('competencyItem', r.record!.data)).toBe(true);
  });

  test('1.0 leniency: numbers as text, "09,10" education levels, an offset-less timestamp read as UTC, item type from CFItemTypeURI, nulls as absent', () => {
    const r = mapItem(
      {
        identifier: 'ITEM-1', fullStatement: 'Statement', listEnumeration: 2, humanCodingScheme: 101, educationLevel: '09, 10,,10', lastChangeDateTime: '2017-09-22 23:13:54',
        CFItemTypeURI: { title: 'Standard', identifier: 'x', uri: 'u' }, abbreviatedStatement: '', notes: null,
      },
      0,
      ctx10,
    );
    expect(r.record!.data).toEqual({
      caseId: 'ITEM-1', frameworkId: DOC, fullStatement: 'Statement', humanCodingScheme: '101', itemType: 'Standard', educationLevels: ['09', '10'], listEnumeration: '2',
      lastChangeDateTime: '2017-09-22T23:13:54Z',
    });
    expect(unifiedValid('competencyItem', r.record!.data)).toBe(true);
  });

  test.each([
    [{ fullStatement: 'x' }, '1.0', 'identifier', 'identifier is required'],
    [{ identifier: ITEM }, '1.0', 'fullStatement', 'fullStatement is required'],
    [{ identifier: ITEM, fullStatement: '\n ' }, '1.0', 'fullStatement', 'fullStatement is blank'],
    [{ identifier: ITEM, fullStatement: ['x'] }, '1.0', 'fullStatement', 'fullStatement must be a string, found an array'],
    [{ identifier: ITEM, fullStatement: 'x', lastChangeDateTime: 'yesterday' }, '1.0', 'lastChangeDateTime', 'lastChangeDateTime must be an ISO 8601 date-time with offset (2024-03-01T08:00:00Z), found "yesterday"'],
    [{ identifier: ITEM, fullStatement: 'x', notes: { a: 1 } }, '1.0', 'notes', 'notes must be a string, found an object'],
    [{ identifier: ITEM, fullStatement: 'x' }, '1.1', 'uri', 'uri is required in CASE 1.1; lastChangeDateTime is required in CASE 1.1 (checked with the CASE 1.1 rules)'],
    [{ identifier: ITEM, fullStatement: 'x', uri: 'u', lastChangeDateTime: '2017-09-22 23:13:54' }, '1.1', 'lastChangeDateTime', expect.stringContaining('date-time with offset')],
    [{ identifier: ITEM, fullStatement: 'x', uri: 'u', lastChangeDateTime: '2025-01-01T00:00:00Z', listEnumeration: 2 }, '1.1', 'listEnumeration', expect.stringContaining('must be a string, found number 2')],
    [{ identifier: ITEM, fullStatement: 'x', uri: 'u', lastChangeDateTime: '2025-01-01T00:00:00Z', CFItemTypeURI: { title: 'T', identifier: 'not-a-uuid', uri: 'u' } }, '1.1', 'CFItemTypeURI.identifier', expect.stringContaining('must be a UUID')],
    [{ identifier: ITEM, fullStatement: 'x', uri: 'u', lastChangeDateTime: '2025-01-01T00:00:00Z', statusStartDate: '2025-13-01' }, '1.1', 'statusStartDate', expect.stringContaining('must be a date')],
  ] as const)('reject %j (CASE %s) on %s', (item, version, field, reason) => {
    const r = mapItem(item, 5, version === '1.1' ? ctx11 : ctx10);
    expect(r.reject).toMatchObject({ location: 'p.json $.CFItems[5]', field, reason, code: 'record_invalid' });
  });
});

describe('mapAssociation', () => {
  const A = '9c8b7a65-4321-4fed-8cba-0987654321ff';
  const S = '11111111-2222-4333-8444-555555555555';
  test('a crosswalk to an item of another framework keeps both CASE identifiers and URIs', () => {
    const a = {
      identifier: A, associationType: 'exactMatchOf', uri: `https://d.example/CFAssociations/${A}`, lastChangeDateTime: '2025-08-20T09:30:00+00:00',
      originNodeURI: { title: 'RB.3.M.1', identifier: ITEM, uri: `https://d.example/CFItems/${ITEM}`, targetType: 'CASE' },
      destinationNodeURI: { title: '3.OA.1', identifier: S, uri: `https://state.example/ims/case/v1p1/CFItems/${S}`, targetType: 'CASE' },
    };
    const r = mapAssociation(a, 7, ctx11);
    expect(r.record).toEqual({
      type: 'competencyAssociation',
      sourceId: A,
      location: 'p.json $.CFAssociations[7]',
      raw: a,
      data: {
        caseId: A, frameworkId: DOC, associationType: 'exactMatchOf', originCaseId: ITEM, originUri: `https://d.example/CFItems/${ITEM}`,
        destinationCaseId: S, destinationUri: `https://state.example/ims/case/v1p1/CFItems/${S}`, lastChangeDateTime: '2025-08-20T09:30:00+00:00',
      },
    });
    expect(unifiedValid('competencyAssociation', r.record!.data)).toBe(true);
  });

  test('1.0: a numeric-string sequenceNumber, any association type, ends without URIs', () => {
    const r = mapAssociation({ identifier: 'a1', associationType: 'isSimilarTo', originNodeURI: { identifier: 'i1' }, destinationNodeURI: { identifier: 'd1' }, sequenceNumber: ' 4 ' }, 0, ctx10);
    expect(r.record!.data).toEqual({ caseId: 'a1', frameworkId: DOC, associationType: 'isSimilarTo', originCaseId: 'i1', destinationCaseId: 'd1', sequenceNumber: 4 });
  });

  test.each([
    [{ identifier: 'a1', associationType: 'isChildOf', destinationNodeURI: { identifier: 'd' } }, '1.0', 'originNodeURI', 'originNodeURI is required'],
    [{ identifier: 'a1', associationType: 'isChildOf', originNodeURI: 'i1', destinationNodeURI: { identifier: 'd' } }, '1.0', 'originNodeURI', 'originNodeURI must be an object with title, identifier and uri, found string "i1"'],
    [{ identifier: 'a1', associationType: 'isChildOf', originNodeURI: { identifier: 'i' }, destinationNodeURI: { identifier: 'd' }, sequenceNumber: 1.5 }, '1.0', 'sequenceNumber', 'sequenceNumber must be an integer, found number 1.5'],
    [{ identifier: 'a1', associationType: '', originNodeURI: { identifier: 'i' }, destinationNodeURI: { identifier: 'd' } }, '1.0', 'associationType', expect.stringContaining('non-empty string')],
    [
      { identifier: A, associationType: 'isChildOf', uri: 'u', lastChangeDateTime: '2025-01-01T00:00:00Z', originNodeURI: { title: 't', identifier: 'i', uri: 'u', targetType: 'Other' }, destinationNodeURI: { title: 't', identifier: 'd', uri: 'u' } },
      '1.1', 'originNodeURI.targetType', 'originNodeURI.targetType must be "CASE" or "ext:<name>", found string "Other" (checked with the CASE 1.1 rules)',
    ],
    [{ identifier: 'a1', associationType: 'isChildOf', originNodeURI: { identifier: 'i' }, destinationNodeURI: { identifier: 'd' } }, '1.1', 'identifier', expect.stringContaining('identifier must be a UUID in CASE 1.1')],
  ] as const)('reject %j (CASE %s) on %s', (a, version, field, reason) => {
    const r = mapAssociation(a, 2, (version as string) === '1.1' ? ctx11 : ctx10);
    expect(r.reject).toMatchObject({ location: 'p.json $.CFAssociations[2]', field, reason, code: 'record_invalid', sourceId: a.identifier });
  });
});

describe('mapAll', () => {
  test('a second record with the same identifier in one package is rejected, pointing at the first', () => {
    const pkg = readPackage({ CFDocument: { identifier: DOC, title: 'T' }, CFItems: [{ identifier: 'i1', fullStatement: 'a' }, { identifier: 'i2', fullStatement: 'b' }, { identifier: 'i1', fullStatement: 'c' }] }, 'p.json');
    const out = [...mapAll(pkg, 'items')];
    expect(out.map((r) => r.record?.sourceId ?? r.reject?.reason)).toEqual(['i1', 'i2', 'duplicate identifier i1: $.CFItems[0] has it too; the first one was kept']);
    expect(out[2].reject).toMatchObject({ location: 'p.json $.CFItems[2]', field: 'identifier', sourceId: 'i1' });
  });
});

describe('normalizeDateTime', () => {
  test.each([
    ['2017-09-22T23:13:54+00:00', '2017-09-22T23:13:54+00:00'],
    ['2024-03-01T08:00:00.123Z', '2024-03-01T08:00:00.123Z'],
    ['2017-09-22 23:13:54', '2017-09-22T23:13:54Z'],
    ['2017-09-22T23:13', '2017-09-22T23:13:00Z'],
    ['2017-02-30T00:00:00Z', undefined],
    ['2017-09-22', undefined],
    ['', undefined],
  ])('%s -> %s', (v, out) => {
    expect(normalizeDateTime(v)).toBe(out);
    // Whatever comes out passes the unified schema's date-time format.
    if (out) {
      const ajv = new Ajv();
      addFormats(ajv);
      expect(ajv.validate({ type: 'string', format: 'date-time' }, out)).toBe(true);
    }
  });
});
