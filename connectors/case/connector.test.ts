/**
 * Contract tests for the case connector on files and folders: manifest and settings (secrets included), pages and
 * cursors, plan modes and skips (unchanged, new, changed, removed packages, interrupted runs), check(), abort.
 * The REST provider has its own file (provider.test.ts); the runtime end to end is in runtime.test.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Ajv from 'ajv';
import { settingsProblems } from '../../src/core/config';
import { redactSettings } from '../../src/serve/runs';
import type { Cursor } from '../../src/ingest/contract';
import { caseConnector, cursorPackages, decide, type CaseSettings } from './index';
import { normalize } from './settings';
import type { PackageRef } from './source';
import { FIXTURES, base, caught, cursorsAfter, pages, planCtx, readCtx, run } from './test-helpers';

const STATE_DOC = 'c6124d01-e27a-5ddb-b089-5de9a430d1a9';
const DISTRICT_DOC = '6260d894-e5d8-531b-a7a9-00ef58af4b20';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'case-connector-test-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A copy of fixtures/case/frameworks in a fresh temp folder. */
function frameworksCopy(name: string): string {
  const dir = path.join(tmp, name);
  fs.cpSync(path.join(FIXTURES, 'frameworks'), dir, { recursive: true });
  return dir;
}
const readJson = (f: string) => JSON.parse(fs.readFileSync(f, 'utf8'));
const writeJson = (f: string, v: unknown) => fs.writeFileSync(f, `${JSON.stringify(v, null, 2)}\n`);

// ---------------------------------------------------------------------------------------------------------------

describe('manifest and settings', () => {
  test('id, kind, secrets, streams in reading order, config schema from schemas/connectors', () => {
    const m = caseConnector.manifest;
    expect(m.id).toBe('case');
    expect(m.kind).toEqual(['competency']);
    expect(m.secretFields).toEqual(['token', 'clientSecret']);
    expect(m.streams).toEqual([
      { name: 'frameworks', entities: ['competencyFramework'], modes: ['full', 'incremental'] },
      { name: 'items', entities: ['competencyItem'], modes: ['full', 'incremental'] },
      { name: 'associations', entities: ['competencyAssociation'], modes: ['full', 'incremental'] },
    ]);
    const file = path.resolve(__dirname, '../../schemas/connectors/case.config.schema.json');
    expect(m.configSchema).toEqual(JSON.parse(fs.readFileSync(file, 'utf8')));
  });

  test('the config schema is strict draft-07 and says what the settings are', () => {
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
    const validate = ajv.compile(caseConnector.manifest.configSchema);
    expect(caseConnector.manifest.configSchema).toMatchObject({ $schema: 'http://json-schema.org/draft-07/schema#', $id: '/schemas/connectors/case.config.schema.json', additionalProperties: false });
    const good = [
      { source: { file: 'standards/state.json' } },
      { source: { folder: 'standards' }, pageSize: 500 },
      { source: { baseUrl: 'https://case.example/ims/case/v1p0' } },
      { source: { baseUrl: 'https://case.example/ims/case/v1p1', documents: [STATE_DOC], auth: { type: 'bearer' } }, token: 'resolved-or-placeholder' },
      { source: { baseUrl: 'https://case.example/ims/case/v1p1', auth: { type: 'bearer', token: { $env: 'CASE_TOKEN' } } } },
      { source: { baseUrl: 'https://case.example/ims/case/v1p1', auth: { type: 'oauth2', tokenUrl: 'https://auth.example/token', clientId: 'hub', scopes: ['s1'] } }, clientSecret: 'x' },
      { source: { baseUrl: 'http://127.0.0.1:8080/ims/case/v1p0', auth: { type: 'oauth2', tokenUrl: 'https://auth.example/token', clientId: 'hub', clientSecret: { $enc: 'v1:abc' } } } },
    ];
    for (const g of good) expect([g, validate(g)]).toEqual([g, true]);
    const bad = [
      {},
      { source: {} },
      { source: { file: '' } },
      { source: { file: 'a.json', folder: 'b' } },
      { source: { baseUrl: 'ftp://x' } },
      { source: { baseUrl: 'https://x', documents: [] } },
      { source: { baseUrl: 'https://x', auth: { type: 'basic' } } },
      // a literal secret in the nested form is refused: only a reference is accepted there
      { source: { baseUrl: 'https://x', auth: { type: 'bearer', token: 'literal' } } },
      { source: { baseUrl: 'https://x', auth: { type: 'oauth2', tokenUrl: 'https://a/t', clientId: 'c', clientSecret: 'literal' } } },
      { source: { baseUrl: 'https://x', auth: { type: 'oauth2', clientId: 'c' } } },
      { source: { file: 'x' }, pageSize: 0 },
      { source: { file: 'x' }, pageSize: 50001 },
      { source: { file: 'x' }, extra: 1 },
    ];
    for (const b of bad) expect([b, validate(b)]).toEqual([b, false]);
  });

  test('the runtime checks the top-level secrets: a literal is refused, a reference accepted; nested references pass and are redacted', () => {
    const m = caseConnector.manifest;
    const at = '$.tenants[0].connectors[0].settings';
    const src = { baseUrl: 'https://case.example/ims/case/v1p0', auth: { type: 'bearer' } };
    expect(settingsProblems(m, { source: src, token: 'abc' }, at, {}, false)).toEqual([
      { path: `${at}.token`, message: 'is a secret: give {"$env": "NAME"} or {"$enc": "..."}, never the value itself' },
    ]);
    expect(settingsProblems(m, { source: src, token: { $env: 'CASE_TOKEN' } }, at, { CASE_TOKEN: 't' }, true)).toEqual([]);
    const nested = { source: { ...src, auth: { type: 'bearer', token: { $env: 'CASE_TOKEN' } } } };
    expect(settingsProblems(m, nested, at, {}, false)).toEqual([]);
    expect(JSON.stringify(redactSettings(nested, m.secretFields))).not.toContain('CASE_TOKEN');
    expect(JSON.stringify(redactSettings({ source: src, token: { $env: 'CASE_TOKEN' } }, m.secretFields))).not.toContain('CASE_TOKEN');
  });

  describe('normalize', () => {
    const provider = 'https://case.example/ims/case/v1p1/';
    afterEach(() => {
      delete process.env.CASE_TEST_TOKEN;
    });
    test('defaults, trailing slash, version hint from the provider path', () => {
      expect(normalize({ source: { file: 'a.json' } })).toEqual({ kind: 'file', path: 'a.json', pageSize: 1000 });
      expect(normalize({ source: { baseUrl: provider, documents: [' d1 ', 'd1', 'd2'] } })).toEqual({
        kind: 'provider', baseUrl: 'https://case.example/ims/case/v1p1', documents: ['d1', 'd2'], versionHint: '1.1', pageSize: 1000,
      });
      expect(normalize({ source: { baseUrl: 'https://case.example/case' } })).toEqual({ kind: 'provider', baseUrl: 'https://case.example/case', pageSize: 1000 });
    });
    test('secrets: top-level (resolved by the runtime) or nested (a reference resolved here), never both', () => {
      expect(normalize({ source: { baseUrl: provider, auth: { type: 'bearer' } }, token: 'tok' })).toMatchObject({ auth: { type: 'bearer', token: 'tok' } });
      process.env.CASE_TEST_TOKEN = 'from-env';
      expect(normalize({ source: { baseUrl: provider, auth: { type: 'bearer', token: { $env: 'CASE_TEST_TOKEN' } } } })).toMatchObject({ auth: { type: 'bearer', token: 'from-env' } });
      expect(
        normalize({ source: { baseUrl: provider, auth: { type: 'oauth2', tokenUrl: 'https://a.example/token', clientId: 'hub', clientSecret: { $env: 'CASE_TEST_TOKEN' } } } }),
      ).toMatchObject({ auth: { type: 'oauth2', tokenUrl: 'https://a.example/token', clientId: 'hub', clientSecret: 'from-env', scopes: [] } });
    });
    test.each([
      [{ source: { baseUrl: provider, auth: { type: 'bearer' } } }, 'connector_config_invalid', /token is required/],
      [{ source: { baseUrl: provider, auth: { type: 'bearer', token: { $env: 'CASE_TEST_TOKEN' } } }, token: 'x' }, 'connector_config_invalid', /both set/],
      [{ source: { baseUrl: provider, auth: { type: 'bearer', token: { $env: 'CASE_TEST_NOT_SET' } } } }, 'secret_missing', /CASE_TEST_NOT_SET/],
      [{ source: { baseUrl: provider }, token: 'x' }, 'connector_config_invalid', /source\.auth is not/],
      [{ source: { baseUrl: provider, auth: { type: 'oauth2', tokenUrl: 'https://a/t', clientId: 'c' } }, token: 'x' }, 'connector_config_invalid', /token is for source\.auth\.type "bearer"/],
      [{ source: { file: 'a.json' }, clientSecret: 'x' }, 'connector_config_invalid', /only used with a CASE provider/],
      [{ source: { file: 'a.json', folder: 'b' } }, 'connector_config_invalid', /exactly one of file, folder or baseUrl \(found file, folder\)/],
      [{ source: { baseUrl: 'https://x/?q=1' } }, 'connector_config_invalid', /query string/],
      [{ source: { file: 'a.json' }, pageSize: 0 }, 'connector_config_invalid', /pageSize/],
    ])('%j -> %s', (settings, code, message) => {
      expect(() => normalize(settings as unknown as CaseSettings)).toThrow(expect.objectContaining({ code, message: expect.stringMatching(message) }));
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('pages and cursors', () => {
  test('one file: pages of pageSize, each with a cursor; the last one complete and naming the package', async () => {
    const settings: CaseSettings = { source: { file: 'frameworks/state-math-grade3.json' }, pageSize: 5 };
    const ps = await pages('items', settings, readCtx('full'));
    expect(ps.map((p) => p.records.length)).toEqual([5, 5, 2]);
    expect(ps.map((p) => p.cursor!.complete)).toEqual([false, false, true]);
    expect(ps[0].cursor).toEqual({ complete: false, mode: 'full' });
    expect(ps[2].cursor).toEqual({ complete: true, mode: 'full', [`package:${STATE_DOC}`]: expect.stringMatching(/^sha256:[0-9a-f]{16}$/) });
    expect(ps.flatMap((p) => p.records).map((r) => r.data.humanCodingScheme)).toEqual(['3.OA', '3.OA.1', '3.OA.2', '3.OA.3', '3.NF', '3.NF.1', '3.NF.2', '3.NF.3', '3.MD', '3.MD.1', '3.MD.2', '3.MD.3']);
  });

  test('a folder: packages in file-name order, each ending its own page, the cursor growing package by package', async () => {
    const settings: CaseSettings = { source: { folder: 'frameworks' }, pageSize: 5 };
    const ps = await pages('items', settings, readCtx('full'));
    expect(ps.map((p) => p.records.length)).toEqual([5, 2, 5, 5, 2]);
    expect(ps.map((p) => cursorPackages(p.cursor).size)).toEqual([0, 1, 1, 1, 2]);
    expect(ps[1].records.every((r) => r.data.frameworkId === DISTRICT_DOC)).toBe(true);
    expect(ps[4].cursor).toMatchObject({ complete: true, mode: 'full' });
    expect([...cursorPackages(ps[4].cursor).keys()]).toEqual([DISTRICT_DOC, STATE_DOC]);
  });

  test('frameworks come first, with items and associations referring to them by CFDocument identifier', async () => {
    const r = await run({ source: { folder: 'frameworks' } });
    expect(r.frameworks.records.map((f) => [f.sourceId, f.data.title, f.data.caseVersion])).toEqual([
      [DISTRICT_DOC, 'Riverbend USD Grade 3 Mathematics Priority Standards', '1.1'],
      [STATE_DOC, 'Fictional State Grade 3 Mathematics Standards', '1.1'],
    ]);
    expect(r.items.records).toHaveLength(19);
    expect(r.associations.records).toHaveLength(12 + 16);
    expect(new Set(r.items.records.map((i) => i.data.frameworkId))).toEqual(new Set([DISTRICT_DOC, STATE_DOC]));
    const cross = r.associations.records.find((a) => a.data.associationType === 'exactMatchOf')!;
    expect(cross.data).toMatchObject({ frameworkId: DISTRICT_DOC, destinationUri: expect.stringMatching(/^https:\/\/standards\.fictional-state\.example\/ims\/case\/v1p1\/CFItems\//) });
  });

  test('a package with no associations still commits a page with its cursor', async () => {
    const dir = path.join(tmp, 'no-assoc');
    fs.mkdirSync(dir);
    const pkg = readJson(path.join(FIXTURES, 'frameworks/state-math-grade3.json'));
    pkg.CFAssociations = [];
    writeJson(path.join(dir, 'p.json'), pkg);
    const ps = await pages('associations', { source: { folder: dir } }, readCtx('full'));
    expect(ps).toEqual([{ records: [], cursor: { complete: true, mode: 'full', [`package:${STATE_DOC}`]: expect.any(String) } }]);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('plan: versions of packages', () => {
  test('first run full; the same packages again skip every stream; nothing is read', async () => {
    const dir = frameworksCopy('same');
    const first = await run({ source: { folder: dir } });
    expect(Object.values(first).map((s) => s.plan.mode)).toEqual(['full', 'full', 'full']);
    const again = await run({ source: { folder: dir } }, cursorsAfter(first));
    expect(Object.values(again).map((s) => s.plan)).toEqual(
      ['frameworks', 'items', 'associations'].map((stream) => ({ stream, mode: 'incremental', skip: 'unchanged since the last run (2 packages)' })),
    );
  });

  test('a new package next to unchanged ones: incremental, only the new one is read; the cursor keeps both', async () => {
    const dir = path.join(tmp, 'grow');
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(FIXTURES, 'frameworks/state-math-grade3.json'), path.join(dir, 'state.json'));
    const first = await run({ source: { folder: dir } });
    fs.copyFileSync(path.join(FIXTURES, 'frameworks/district-math-grade3.json'), path.join(dir, 'district.json'));
    const second = await run({ source: { folder: dir } }, cursorsAfter(first));
    expect(second.items.plan).toEqual({ stream: 'items', mode: 'incremental' });
    expect(new Set(second.items.records.map((r) => r.data.frameworkId))).toEqual(new Set([DISTRICT_DOC]));
    expect(second.frameworks.records.map((r) => r.sourceId)).toEqual([DISTRICT_DOC]);
    expect([...cursorPackages(second.items.cursor).keys()].sort()).toEqual([DISTRICT_DOC, STATE_DOC].sort());
    expect(second.items.cursor).toMatchObject({ complete: true, mode: 'incremental' });
  });

  test('a package re-published with changes: full, every package read again (the runtime sweeps what vanished)', async () => {
    const dir = frameworksCopy('changed');
    const first = await run({ source: { folder: dir } });
    const file = path.join(dir, 'state-math-grade3.json');
    const pkg = readJson(file);
    pkg.CFItems[1].fullStatement = 'Explain a product of two whole numbers as the total number of objects in equal groups.';
    pkg.CFItems[1].lastChangeDateTime = '2026-01-15T10:00:00+00:00';
    pkg.CFItems.splice(11, 1); // 3.MD.3 withdrawn
    pkg.CFAssociations.splice(11, 1);
    writeJson(file, pkg);
    const second = await run({ source: { folder: dir } }, cursorsAfter(first));
    expect(Object.values(second).map((s) => s.plan.mode)).toEqual(['full', 'full', 'full']);
    expect(second.items.records).toHaveLength(18);
    const changed = second.items.records.find((r) => r.data.humanCodingScheme === '3.OA.1')!;
    expect(changed.data).toMatchObject({ fullStatement: expect.stringContaining('total number of objects'), lastChangeDateTime: '2026-01-15T10:00:00+00:00' });
    expect(second.items.records.some((r) => r.data.humanCodingScheme === '3.MD.3')).toBe(false);
    expect(cursorPackages(second.items.cursor).get(STATE_DOC)).not.toBe(cursorPackages(first.items.cursor).get(STATE_DOC));
  });

  test('a package removed from the folder: full, and the cursor forgets it', async () => {
    const dir = frameworksCopy('shrink');
    const first = await run({ source: { folder: dir } });
    fs.rmSync(path.join(dir, 'district-math-grade3.json'));
    const second = await run({ source: { folder: dir } }, cursorsAfter(first));
    expect(Object.values(second).map((s) => s.plan.mode)).toEqual(['full', 'full', 'full']);
    expect([...cursorPackages(second.items.cursor).keys()]).toEqual([STATE_DOC]);
  });

  describe('decide', () => {
    const refs: PackageRef[] = [
      { docId: 'a', version: 'v1', name: 'a.json' },
      { docId: 'b', version: 'v1', name: 'b.json' },
    ];
    const c = (extra: Cursor): Cursor => ({ complete: true, mode: 'full', 'package:a': 'v1', 'package:b': 'v1', ...extra });
    test.each([
      ['no cursor', undefined, 'full', undefined],
      ['unchanged', c({}), 'incremental', 'unchanged since the last run (2 packages)'],
      ['one changed', c({ 'package:b': 'v0' }), 'full', undefined],
      ['one new', { complete: true, mode: 'full', 'package:a': 'v1' }, 'incremental', undefined],
      ['one removed', c({ 'package:z': 'v1' }), 'full', undefined],
      ['an interrupted full read', c({ complete: false }), 'full', undefined],
      ['an interrupted incremental read, a left', { complete: false, mode: 'incremental', 'package:b': 'v1' }, 'incremental', undefined],
      ['an interrupted incremental read, nothing left', { complete: false, mode: 'incremental', 'package:a': 'v1', 'package:b': 'v1' }, 'incremental', expect.stringMatching(/^unchanged/)],
      ['a saved tag of null (unknown)', c({ 'package:b': null }), 'full', undefined],
    ] as const)('%s', (_name, cursor, mode, skip) => {
      const p = decide('items', refs, cursor as Cursor | undefined);
      expect(p).toEqual({ stream: 'items', mode, ...(skip ? { skip } : {}) });
    });
    test('a package without a change tag is always read (full)', () => {
      expect(decide('items', [{ docId: 'a', name: 'a' }], { complete: true, mode: 'full', 'package:a': null })).toEqual({ stream: 'items', mode: 'full' });
    });
  });

  test('an interrupted incremental read resumes with the packages it had not committed', async () => {
    const dir = path.join(tmp, 'resume');
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(FIXTURES, 'frameworks/state-math-grade3.json'), path.join(dir, 'b-state.json'));
    const first = await run({ source: { folder: dir } });
    fs.copyFileSync(path.join(FIXTURES, 'frameworks/district-math-grade3.json'), path.join(dir, 'a-district.json'));
    // The incremental items read commits the district package's page, then the process dies.
    const planned = await caseConnector.plan({ source: { folder: dir } }, planCtx(cursorsAfter(first)));
    expect(planned.find((p) => p.stream === 'items')).toEqual({ stream: 'items', mode: 'incremental' });
    const ps = await pages('items', { source: { folder: dir }, pageSize: 3 }, readCtx('incremental', first.items.cursor));
    const crashedAfter = ps[0].cursor!;
    expect(crashedAfter).toMatchObject({ complete: false, mode: 'incremental' });
    expect([...cursorPackages(crashedAfter).keys()]).toEqual([STATE_DOC]); // carried over; the district not yet
    const resumed = await run({ source: { folder: dir } }, { ...cursorsAfter(first), items: crashedAfter });
    expect(resumed.items.plan.mode).toBe('incremental');
    expect(new Set(resumed.items.records.map((r) => r.data.frameworkId))).toEqual(new Set([DISTRICT_DOC]));
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('failures of the whole source', () => {
  test('a missing file or folder is source_not_found', async () => {
    expect((await caught(run({ source: { file: 'nope.json' } }))).code).toBe('source_not_found');
    expect((await caught(run({ source: { folder: 'nope' } }))).code).toBe('source_not_found');
  });

  test('a folder without packages, or with the same framework twice, is source_invalid', async () => {
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    fs.writeFileSync(path.join(empty, 'README.txt'), 'no packages');
    expect(await caught(run({ source: { folder: empty } }))).toMatchObject({ code: 'source_invalid', message: expect.stringMatching(/has no \.json CFPackage files/) });
    const twice = frameworksCopy('twice');
    fs.copyFileSync(path.join(twice, 'state-math-grade3.json'), path.join(twice, 'state-copy.json'));
    expect(await caught(run({ source: { folder: twice } }))).toMatchObject({
      code: 'source_invalid',
      message: `state-math-grade3.json and state-copy.json hold the same CFDocument ${STATE_DOC}: keep one package per framework in the folder.`,
    });
  });

  test('one bad file in a folder fails plan() before anything is read, naming the file', async () => {
    const dir = frameworksCopy('one-bad');
    fs.copyFileSync(path.join(FIXTURES, 'bad/not-a-package.json'), path.join(dir, 'zz.json'));
    const e = await caught(caseConnector.plan({ source: { folder: dir } }, planCtx()));
    expect(e).toMatchObject({ code: 'source_invalid', message: expect.stringMatching(/^zz\.json \$\.CFDocument: is not a CFPackage/) });
  });

  test('within one run, plan() and read() use the same parsed package even if the file changes meanwhile', async () => {
    const dir = frameworksCopy('moving');
    const file = path.join(dir, 'state-math-grade3.json');
    const settings: CaseSettings = { source: { file } };
    const signal = new AbortController().signal;
    await caseConnector.plan(settings, planCtx({}, signal));
    const pkg = readJson(file);
    pkg.CFItems[0].fullStatement = 'edited';
    writeJson(file, pkg);
    // Same run: the parsed package from plan() is used, consistently.
    const same = await pages('items', settings, readCtx('full', undefined, signal));
    expect(same[0].records[0].data.fullStatement).not.toBe('edited');
  });

  test('abort: read stops with the signal', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(pages('items', { source: { folder: 'frameworks' } }, readCtx('full', undefined, ac.signal))).rejects.toBeDefined();
  });

  test('an unknown stream is an internal error', async () => {
    expect((await caught(pages('nope', { source: { folder: 'frameworks' } }, readCtx('full')))).code).toBe('internal_error');
  });
});

describe('check()', () => {
  test('ok for a file, a folder; says what it found', async () => {
    expect(await caseConnector.check({ source: { file: 'frameworks/state-math-grade3.json' } }, base())).toEqual({
      ok: true,
      details: 'file state-math-grade3.json: CASE 1.1 package "Fictional State Grade 3 Mathematics Standards" (12 items, 12 associations; version: CFDocument.caseVersion is "1.1")',
    });
    expect(await caseConnector.check({ source: { folder: 'frameworks' } }, base())).toEqual({
      ok: true,
      details: `folder ${path.join(FIXTURES, 'frameworks')}: 2 package(s): district-math-grade3.json, state-math-grade3.json`,
    });
  });

  test('never throws: missing, not a package, bad settings', async () => {
    for (const [settings, code] of [
      [{ source: { file: 'nope.json' } }, 'source_not_found'],
      [{ source: { file: 'bad/not-a-package.json' } }, 'source_invalid'],
      [{ source: { file: 'bad/truncated.json' } }, 'source_invalid'],
      [{ source: {} }, 'connector_config_invalid'],
      [undefined, 'connector_config_invalid'],
    ] as const) {
      const r = await caseConnector.check(settings as unknown as CaseSettings, base());
      expect(r).toMatchObject({ ok: false, error: { code } });
    }
  });
});
