/**
 * Packages: every real package in ../shared/conformance/case (OpenSALT, CASE 1.0 era) and the synthetic ones in
 * fixtures/case: counts, exact records, the isChildOf tree, 1.0 / 1.1 detection, and the hub's 1.1 rules checked
 * against the official CASE 1.1 CFPackage JSON Schema (read from ../shared only here, never shipped).
 */
import fs from 'node:fs';
import path from 'node:path';
import Ajv2019 from 'ajv/dist/2019';
import addFormats from 'ajv-formats';
import type { SourceRecord } from '../../src/ingest/contract';
import { mapAll } from './mappers';
import { detectCaseVersion, readPackage } from './package';
import { CONFORMANCE, FIXTURES, HAVE_CONFORMANCE, caught, run, slim } from './test-helpers';

/** Records per package: frameworks, items, associations (from the files themselves). */
const OPENSALT: Record<string, { items: number; associations: number; title: string }> = {
  'opensalt_AdoptedTestFramework.json': { items: 1, associations: 1, title: 'Adopted Test' },
  'opensalt_ItemTypeTestFramework.json': { items: 1, associations: 1, title: 'Item Type Test' },
  'opensalt_MarkdownFramework.json': { items: 2, associations: 2, title: 'Test Markdown Framework' },
  'opensalt_Ordering.json': { items: 28, associations: 28, title: 'ACT Holistic Framework, Math' },
  'opensalt_SequenceNumberFramework.json': { items: 2, associations: 2, title: 'Sequence Number Test' },
  'opensalt_SmartLevelFramework.json': { items: 14, associations: 14, title: 'SmartLevel Test' },
  'opensalt_Utf8TestFramework.json': { items: 1, associations: 1, title: 'UTF8 𝑑 Test' },
};

const readJson = (file: string): unknown => JSON.parse(fs.readFileSync(file, 'utf8'));

/**
 * The isChildOf tree: every item has exactly one parent, and following parents always reaches the document (no
 * loop, no dangling parent). Returns children per parent in sequenceNumber order (unnumbered last, stable).
 */
function tree(documentId: string, items: SourceRecord[], associations: SourceRecord[]): Map<string, string[]> {
  const ids = new Set(items.map((i) => i.sourceId));
  const parent = new Map<string, string>();
  const edges = associations.filter((a) => a.data.associationType === 'isChildOf');
  for (const a of edges) {
    const child = a.data.originCaseId as string;
    expect(ids.has(child)).toBe(true);
    expect(parent.has(child)).toBe(false);
    const p = a.data.destinationCaseId as string;
    expect(p === documentId || ids.has(p)).toBe(true);
    parent.set(child, p);
  }
  for (const id of ids) {
    const seen = new Set<string>();
    let at = id;
    while (at !== documentId) {
      expect(seen.has(at)).toBe(false);
      seen.add(at);
      expect(parent.has(at)).toBe(true);
      at = parent.get(at)!;
    }
  }
  const children = new Map<string, { id: string; seq: number }[]>();
  for (const a of edges) {
    const l = children.get(a.data.destinationCaseId as string) ?? [];
    l.push({ id: a.data.originCaseId as string, seq: (a.data.sequenceNumber as number | undefined) ?? Number.MAX_SAFE_INTEGER });
    children.set(a.data.destinationCaseId as string, l);
  }
  return new Map([...children].map(([k, l]) => [k, l.sort((x, y) => x.seq - y.seq).map((x) => x.id)]));
}

/** Indexes of CFItems / CFAssociations the official schema refuses for a reason other than an unknown property. */
function officialRefusals(validate: ReturnType<Ajv2019['compile']>, json: unknown): { items: number[]; associations: number[]; others: string[] } {
  const out = { items: new Set<number>(), associations: new Set<number>(), others: [] as string[] };
  if (validate(json)) return { items: [], associations: [], others: [] };
  for (const e of validate.errors ?? []) {
    if (e.keyword === 'additionalProperties') continue;
    const m = /^\/(CFItems|CFAssociations)\/(\d+)/.exec(e.instancePath);
    if (m) (m[1] === 'CFItems' ? out.items : out.associations).add(Number(m[2]));
    else out.others.push(`${e.instancePath} ${e.message}`);
  }
  return { items: [...out.items].sort((a, b) => a - b), associations: [...out.associations].sort((a, b) => a - b), others: out.others };
}

const indexOf = (location: string) => Number(/\[(\d+)\]$/.exec(location)![1]);

// ---------------------------------------------------------------------------------------------------------------

if (!HAVE_CONFORMANCE) {
  console.warn(
    `${'!'.repeat(100)}\nCASE conformance tests SKIPPED: ${CONFORMANCE} is absent (a fresh clone has no ../shared). They must run in CI.\n${'!'.repeat(100)}`,
  );
}
const describeConformance = HAVE_CONFORMANCE ? describe : describe.skip;

describeConformance(`CASE conformance packages (${CONFORMANCE})${HAVE_CONFORMANCE ? '' : ' — SKIPPED: folder absent'}`, () => {
  let official: ReturnType<Ajv2019['compile']>;
  beforeAll(() => {
    const ajv = new Ajv2019({ allErrors: true, strict: false });
    addFormats(ajv);
    official = ajv.compile(readJson(path.join(CONFORMANCE, 'case_v1p1_cfpackage_jsonschema.json')) as object);
  });

  test('the folder holds the official 1.1 schema and the 7 OpenSALT packages this test knows', () => {
    const files = fs.readdirSync(CONFORMANCE).filter((f) => f.endsWith('.json')).sort();
    expect(files).toEqual(['case_v1p1_cfpackage_jsonschema.json', ...Object.keys(OPENSALT)].sort());
  });

  describe.each(Object.entries(OPENSALT))('%s', (file, expected) => {
    let r: Awaited<ReturnType<typeof run>>;
    beforeAll(async () => {
      r = await run({ source: { file: path.join(CONFORMANCE, file) } });
    });

    test('counts of frameworks, items and associations; no rejects; all read in full on a first run', () => {
      expect(r.frameworks.records).toHaveLength(1);
      expect(r.items.records).toHaveLength(expected.items);
      expect(r.associations.records).toHaveLength(expected.associations);
      for (const s of [r.frameworks, r.items, r.associations]) {
        expect(s.rejects).toEqual([]);
        expect(s.plan).toEqual({ stream: s.plan.stream, mode: 'full' });
      }
      expect(r.frameworks.records[0].data.title).toBe(expected.title);
    });

    test('detected as CASE 1.0 (a 1.0-era OpenSALT package), whether or not it also passes the 1.1 schema', () => {
      const pkg = readPackage(readJson(path.join(CONFORMANCE, file)), file);
      expect(pkg.caseVersion).toBe('1.0');
      expect(r.frameworks.records[0].data.caseVersion).toBe('1.0');
      // The evidence: CFPackageURI (Ordering) or the /ims/case/v1p0/ path of the document URI (the others).
      expect(pkg.versionEvidence).toMatch(file === 'opensalt_Ordering.json' ? /CFPackageURI/ : /v1p0/);
    });

    test('the isChildOf tree is complete: every item reaches the document through exactly one parent', () => {
      const docId = r.frameworks.records[0].sourceId;
      tree(docId, r.items.records, r.associations.records);
      for (const rec of [...r.items.records, ...r.associations.records]) expect(rec.data.frameworkId).toBe(docId);
    });
  });

  test('Ordering.json fails the strict 1.1 schema (CFPackageURI, CFDocumentURI) yet is accepted whole as CASE 1.0', async () => {
    const file = path.join(CONFORMANCE, 'opensalt_Ordering.json');
    expect(official(readJson(file))).toBe(false);
    const props = new Set((official.errors ?? []).map((e) => `${e.keyword}:${(e.params as { additionalProperty?: string }).additionalProperty}`));
    expect(props).toEqual(new Set(['additionalProperties:CFPackageURI', 'additionalProperties:CFDocumentURI']));
    const r = await run({ source: { file } });
    expect(r.items.records).toHaveLength(28);
    expect(r.items.rejects).toEqual([]);
  });

  test('the other six pass the official 1.1 schema as they are', () => {
    for (const f of Object.keys(OPENSALT).filter((x) => x !== 'opensalt_Ordering.json')) expect([f, official(readJson(path.join(CONFORMANCE, f)))]).toEqual([f, true]);
  });

  test('exact records from Ordering.json: the framework, an item with notes, an association to the document', async () => {
    const r = await run({ source: { file: path.join(CONFORMANCE, 'opensalt_Ordering.json') } });
    const doc = 'a33fc64e-5c40-11e7-82c4-3d54268aa9ee';
    expect(slim(r.frameworks.records[0])).toEqual({
      sourceId: doc,
      location: 'opensalt_Ordering.json $.CFDocument',
      data: {
        caseId: doc,
        uri: `http://localhost:3000/ims/case/v1p0/CFDocuments/${doc}`,
        title: 'ACT Holistic Framework, Math',
        creator: 'ACT, Inc.',
        lastChangeDateTime: '2017-10-18T15:02:46+00:00',
        caseVersion: '1.0',
      },
    });
    expect(slim(r.items.records[0])).toEqual({
      sourceId: '3d8cdec5-83d6-49b4-9300-91a824c59758',
      location: 'opensalt_Ordering.json $.CFItems[0]',
      data: {
        caseId: '3d8cdec5-83d6-49b4-9300-91a824c59758',
        uri: 'http://localhost:3000/ims/case/v1p0/CFItems/3d8cdec5-83d6-49b4-9300-91a824c59758',
        frameworkId: doc,
        fullStatement: 'Properties and measurements of and relationships among two?- and three-dimensional shapes',
        abbreviatedStatement: 'Geometry and Measurement',
        humanCodingScheme: 'H.A.MATH.GM',
        lastChangeDateTime: '2017-10-18T15:02:46+00:00',
      },
    });
    expect(r.items.records[7].data).toMatchObject({
      humanCodingScheme: 'H.A.MATH.GM.PF.2DFP.L1.12',
      notes: 'The number of sides a shape has and whether or not it is open or closed are defining attributes. The size, orientation, and color of a shape are some non-defining attributes.',
    });
    // raw is the CFItem as read, 1.0 fields included.
    expect((r.items.records[0].raw as Record<string, unknown>).CFDocumentURI).toMatchObject({ identifier: doc });
    expect(slim(r.associations.records[0])).toEqual({
      sourceId: '6667866c-b415-11e7-a2d3-31b52d3214c8',
      location: 'opensalt_Ordering.json $.CFAssociations[0]',
      data: {
        caseId: '6667866c-b415-11e7-a2d3-31b52d3214c8',
        frameworkId: doc,
        associationType: 'isChildOf',
        originCaseId: '3d8cdec5-83d6-49b4-9300-91a824c59758',
        originUri: 'http://localhost:3000/ims/case/v1p0/CFItems/3d8cdec5-83d6-49b4-9300-91a824c59758',
        destinationCaseId: doc,
        destinationUri: `http://localhost:3000/ims/case/v1p0/CFDocuments/${doc}`,
        lastChangeDateTime: '2017-10-18T15:07:29+00:00',
      },
    });
  });

  test('item types, Markdown and UTF-8 statements are kept as written; sequenceNumber orders siblings', async () => {
    const itemType = await run({ source: { file: path.join(CONFORMANCE, 'opensalt_ItemTypeTestFramework.json') } });
    expect(itemType.items.records[0].data.itemType).toBe('Standard');
    expect(itemType.frameworks.records[0].data.adoptionStatus).toBe('Draft');

    const md = await run({ source: { file: path.join(CONFORMANCE, 'opensalt_MarkdownFramework.json') } });
    expect(md.items.records[0].data.fullStatement).toBe(
      'This contains a _table_ in markdown:\r\n\r\n| Column 1 | Column 2 |\r\n| --- | --- |\r\n| data 1 | data 2|\r\n\r\n Here is a math equation $x = {-b \\pm \\sqrt{b^2-4ac} \\over 2a}$',
    );

    const utf8 = await run({ source: { file: path.join(CONFORMANCE, 'opensalt_Utf8TestFramework.json') } });
    expect(utf8.frameworks.records[0].data.title).toBe('UTF8 𝑑 Test');
    expect(utf8.items.records[0].data.fullStatement).toBe('Item 𝑑 1');

    const seq = await run({ source: { file: path.join(CONFORMANCE, 'opensalt_SequenceNumberFramework.json') } });
    const docId = seq.frameworks.records[0].sourceId;
    const kids = tree(docId, seq.items.records, seq.associations.records).get(docId)!;
    const code = (id: string) => seq.items.records.find((i) => i.sourceId === id)!.data.humanCodingScheme;
    // "Second added item, but should be first": sequenceNumber 1.
    expect(kids.map(code)).toEqual(['SNT.2', 'SNT.1']);
  });

  test('Ordering.json: a four-level tree under the document', async () => {
    const r = await run({ source: { file: path.join(CONFORMANCE, 'opensalt_Ordering.json') } });
    const docId = r.frameworks.records[0].sourceId;
    const kids = tree(docId, r.items.records, r.associations.records);
    const code = (id: string) => r.items.records.find((i) => i.sourceId === id)!.data.humanCodingScheme;
    expect(kids.get(docId)!.map(code)).toEqual(['H.A.MATH.GM']);
    const depth = (id: string): number => (kids.get(id) ?? []).reduce((d, c) => Math.max(d, 1 + depth(c)), 0);
    expect(depth(docId)).toBe(5);
    expect(kids.get('43bf51d6-3d92-4170-9531-df56731a1b6d')).toHaveLength(24); // the L1 items under "Level 1"
  });

  test.each([
    ['frameworks/state-math-grade3.json'],
    ['frameworks/district-math-grade3.json'],
    ['bad/v11-invalid-items.json'],
  ])('1.1 rules agree with the official schema on %s (except unknown properties, which never reject)', async (file) => {
    const json = readJson(path.join(FIXTURES, file));
    expect(readPackage(json, file).caseVersion).toBe('1.1');
    const refused = officialRefusals(official, json);
    expect(refused.others).toEqual([]);
    const r = await run({ source: { file: path.join(FIXTURES, file) } });
    expect(r.items.rejects.map((x) => indexOf(x.location))).toEqual(refused.items);
    expect(r.associations.rejects.map((x) => indexOf(x.location))).toEqual(refused.associations);
  });

  test('the synthetic 1.1 frameworks are valid CASE 1.1 packages', () => {
    for (const f of ['state-math-grade3.json', 'district-math-grade3.json']) expect([f, official(readJson(path.join(FIXTURES, 'frameworks', f)))]).toEqual([f, true]);
  });

  test('a 1.1 document the official schema refuses is source_invalid with the same fields named', async () => {
    const file = path.join(FIXTURES, 'bad/v11-bad-document.json');
    expect(official(readJson(file))).toBe(false);
    const officialPaths = (official.errors ?? []).map((e) => (e.keyword === 'required' ? `${e.instancePath}/${(e.params as { missingProperty: string }).missingProperty}` : e.instancePath));
    const e = await caught(run({ source: { file } }));
    expect(e.code).toBe('source_invalid');
    const ours = e.details.map((d) => d.path!.replace('v11-bad-document.json $.', '/').replace(/\./g, '/'));
    expect(ours.sort()).toEqual(officialPaths.sort());
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('CASE version detection', () => {
  const doc = (extra: Record<string, unknown> = {}) => ({ identifier: 'd1', title: 'T', ...extra });
  test.each([
    ['declared 1.1', doc({ caseVersion: '1.1', CFPackageURI: {} }), [], [], undefined, '1.1', /caseVersion/],
    ['declared 1.0', doc({ caseVersion: '1.0' }), [], [], '1.1', '1.0', /caseVersion/],
    ['CFPackageURI', doc({ CFPackageURI: {} }), [], [], '1.1', '1.0', /CFPackageURI/],
    ['CFDocumentURI on an item', doc(), [{ CFDocumentURI: {} }], [], '1.1', '1.0', /CFItems\[0\]\.CFDocumentURI/],
    ['frameworkType', doc({ frameworkType: 'Standards' }), [], [], '1.0', '1.1', /frameworkType/],
    ['targetType', doc(), [], [{ originNodeURI: { targetType: 'CASE' } }], undefined, '1.1', /targetType/],
    ['item subject', doc(), [{}, { subject: ['Math'] }], [], undefined, '1.1', /CFItems\[1\]\.subject/],
    ['association notes', doc(), [], [{ notes: 'n' }], undefined, '1.1', /notes/],
    ['provider path v1p1', doc({ uri: 'https://x/ims/case/v1p0/CFDocuments/d1' }), [], [], '1.1', '1.1', /provider's path/],
    ['document URI v1p1', doc({ uri: 'https://x/ims/case/v1p1/CFDocuments/d1' }), [], [], undefined, '1.1', /CFDocument\.uri/],
    ['document URI v1p0', doc({ uri: 'https://x/ims/case/v1p0/CFDocuments/d1' }), [], [], undefined, '1.0', /CFDocument\.uri/],
    ['nothing to go by', doc({ uri: 'urn:x' }), [], [], undefined, '1.0', /read as CASE 1\.0/],
  ] as const)('%s', (_name, d, items, assocs, hint, version, evidence) => {
    const r = detectCaseVersion(d as Record<string, unknown>, [...items], [...assocs], hint);
    expect(r).toEqual({ version, evidence: expect.stringMatching(evidence) });
  });

  test('an unknown caseVersion is source_invalid naming the file and the JSON path', () => {
    expect(() => readPackage({ CFDocument: { identifier: 'd', title: 't', caseVersion: '2.0' } }, 'x.json')).toThrow(
      expect.objectContaining({ code: 'source_invalid', message: expect.stringContaining('x.json $.CFDocument.caseVersion') }),
    );
  });
});

describe('synthetic bad packages (fixtures/case/bad)', () => {
  test('missing or blank fullStatement, missing identifier, a non-object item: rejects with JSON path, field and reason', async () => {
    const r = await run({ source: { file: 'bad/missing-fullstatement.json' } });
    const raw = readJson(path.join(FIXTURES, 'bad/missing-fullstatement.json')) as { CFItems: { identifier?: string }[] };
    expect(r.frameworks.records).toHaveLength(1);
    expect(r.items.records.map((x) => x.location)).toEqual(['missing-fullstatement.json $.CFItems[0]']);
    // The source id is kept when readable, so a full refresh does not delete the stored item for one bad row.
    expect(r.items.rejects.map(({ raw: _raw, ...x }) => x)).toEqual([
      { location: 'missing-fullstatement.json $.CFItems[1]', field: 'fullStatement', reason: 'fullStatement is required', code: 'record_invalid', sourceId: raw.CFItems[1].identifier },
      { location: 'missing-fullstatement.json $.CFItems[2]', field: 'identifier', reason: 'identifier is required', code: 'record_invalid' },
      { location: 'missing-fullstatement.json $.CFItems[3]', field: 'fullStatement', reason: 'fullStatement is blank', code: 'record_invalid', sourceId: raw.CFItems[3].identifier },
      { location: 'missing-fullstatement.json $.CFItems[4]', reason: 'a CFItem must be a JSON object, found string', code: 'row_malformed' },
    ]);
    expect(r.items.rejects[0].raw).toEqual(raw.CFItems[1]);

    expect(r.associations.records).toHaveLength(1);
    expect(r.associations.rejects.map((x) => [x.location, x.field, x.reason])).toEqual([
      ['missing-fullstatement.json $.CFAssociations[1]', 'destinationNodeURI.identifier', expect.stringMatching(/^destinationNodeURI\.identifier is required/)],
      ['missing-fullstatement.json $.CFAssociations[2]', 'identifier', expect.stringMatching(/^duplicate identifier .*: \$\.CFAssociations\[0\] has it too/)],
    ]);
  });

  test('1.1 rules: the offending items and associations are rejected one by one, the others load', async () => {
    const r = await run({ source: { file: 'bad/v11-invalid-items.json' } });
    expect(r.frameworks.records[0].data.caseVersion).toBe('1.1');
    expect(r.items.rejects.map((x) => [x.location, x.field, x.reason])).toEqual([
      ['v11-invalid-items.json $.CFItems[1]', 'uri', 'uri is required in CASE 1.1; lastChangeDateTime is required in CASE 1.1 (checked with the CASE 1.1 rules)'],
      ['v11-invalid-items.json $.CFItems[2]', 'identifier', 'identifier must be a UUID in CASE 1.1, found "ART-3" (checked with the CASE 1.1 rules)'],
      ['v11-invalid-items.json $.CFItems[3]', 'educationLevel', 'educationLevel must be an array of strings, found string "03" (checked with the CASE 1.1 rules)'],
    ]);
    // The unknown property of CFItems[4] does not reject it; it stays in raw.
    expect(r.items.records.map((x) => x.location)).toEqual(['v11-invalid-items.json $.CFItems[0]', 'v11-invalid-items.json $.CFItems[4]']);
    expect((r.items.records[1].raw as Record<string, unknown>)['x-localCode']).toBe('A5');
    expect(r.associations.rejects.map((x) => [x.location, x.field])).toEqual([
      ['v11-invalid-items.json $.CFAssociations[1]', 'associationType'],
      ['v11-invalid-items.json $.CFAssociations[2]', 'destinationNodeURI.title'],
    ]);
    expect(r.associations.records.map((x) => x.data.associationType)).toEqual(['isChildOf', 'ext:hasExemplarTask']);
  });

  test('the same rows read as CASE 1.0 (no caseVersion, a /v1p0/ URI) are accepted: the lenient rules need only what the hub stores', async () => {
    const json = readJson(path.join(FIXTURES, 'bad/v11-invalid-items.json')) as { CFDocument: Record<string, unknown> };
    delete json.CFDocument.caseVersion;
    json.CFDocument.uri = 'https://case.fictional.example/ims/case/v1p0/CFDocuments/x';
    const pkg = readPackage(json, 'as10.json');
    expect(pkg.caseVersion).toBe('1.0');
    const items = [...mapAll(pkg, 'items')];
    const associations = [...mapAll(pkg, 'associations')];
    expect(items.filter((x) => x.reject)).toEqual([]);
    expect(associations.filter((x) => x.reject)).toEqual([]);
    expect(items.map((x) => x.record!.data.educationLevels)).toEqual([undefined, undefined, undefined, ['03'], undefined]);
    expect(associations.map((x) => x.record!.data.associationType)).toEqual(['isChildOf', 'alignsWith', 'isChildOf', 'ext:hasExemplarTask']);
  });

  test('not a CFPackage (a saved /CFDocuments list): source_invalid naming the file and the JSON path', async () => {
    const e = await caught(run({ source: { file: 'bad/not-a-package.json' } }));
    expect(e.code).toBe('source_invalid');
    expect(e.message).toBe(
      'not-a-package.json $.CFDocument: is not a CFPackage: $.CFDocument is missing (found CFDocuments) (this looks like a GET /CFDocuments list; export the package from /CFPackages/{identifier})',
    );
    expect(e.details[0]).toEqual({ path: 'not-a-package.json $.CFDocument', message: expect.stringContaining('is not a CFPackage') });
  });

  test('broken JSON: source_invalid with the line and column', async () => {
    const e = await caught(run({ source: { file: 'bad/truncated.json' } }));
    expect(e.code).toBe('source_invalid');
    expect(e.message).toMatch(/^truncated\.json is not valid JSON at line \d+, column \d+/);
  });

  test('a 1.1 document without creator and with a bad date: source_invalid listing both', async () => {
    const e = await caught(run({ source: { file: 'bad/v11-bad-document.json' } }));
    expect(e.code).toBe('source_invalid');
    expect(e.message).toMatch(/^v11-bad-document\.json: the CFDocument is not usable \(CASE 1\.1 rules, CFDocument\.caseVersion is "1\.1"\): \$\.CFDocument\.creator: creator is required in CASE 1\.1; \$\.CFDocument\.lastChangeDateTime: /);
    expect(e.details.map((d) => d.path)).toEqual(['v11-bad-document.json $.CFDocument.creator', 'v11-bad-document.json $.CFDocument.lastChangeDateTime']);
  });

  test.each([
    [[], '$: is not a CFPackage: expected a JSON object with a CFDocument, found an array'],
    [{ CFDocument: 'x' }, '$.CFDocument: must be an object, found string "x"'],
    [{ CFDocument: { identifier: 'd', title: 't' }, CFItems: {} }, '$.CFItems: must be an array, found an object'],
    [{ CFPackage: { CFDocument: {} } }, '$.CFDocument: is not a CFPackage: $.CFDocument is missing (found CFPackage) (the package is wrapped in "CFPackage"; save the inner object)'],
    [{ CFDocument: { identifier: 'd', title: '  ' } }, 'the CFDocument is not usable'],
  ])('not usable as a package: %j', (json, message) => {
    expect(() => readPackage(json, 'p.json')).toThrow(expect.objectContaining({ code: 'source_invalid', message: expect.stringContaining(message) }));
  });
});
