/**
 * Contract tests for the oneroster-rest connector against recorded responses (fixtures/oneroster-rest/, fictional
 * people only) replayed with nock, the network disabled: manifest and settings, plan modes and skips, exact records
 * and rejects of full reads across pages, incremental reads with the dateLastModified filter and deletions, resume
 * from saved cursors, retries, failure classes, OAuth 2.0 token reuse, OAuth 1.0a headers, the rate limit, check().
 */
import fs from 'node:fs';
import path from 'node:path';
import nock from 'nock';
import { resolveSettings, settingsProblems } from '../../src/core/config';
import { ajv } from '../../src/core/schemas';
import type { Page, StreamPlan } from '../../src/ingest/contract';
import { oneRosterRest, type OneRosterRestSettings } from './index';
import { signatureBaseString, hmacSignature } from './oauth1';
import {
  GRADEBOOK,
  HOST,
  HOST11,
  JSON_HEADERS,
  ROOT11,
  ROSTER,
  S12,
  base,
  caught,
  pages,
  planCtx,
  readCtx,
  recorded,
  replay,
  seenOf,
  setupNock,
  slim,
  type Seen,
} from './test-support';

setupNock();

const S11: OneRosterRestSettings = {
  baseUrl: `${HOST11}${ROOT11}`,
  version: '1.1',
  auth: { type: 'oauth1', consumerKey: 'fictional-key' },
  consumerSecret: 'fictional-secret',
  pageSize: 2,
  requestsPerSecond: 1000,
};
const OAUTH2: OneRosterRestSettings = {
  ...S12,
  auth: { type: 'oauth2', tokenUrl: `${HOST}/oauth/token`, clientId: 'fictional-client' },
  token: undefined,
  clientSecret: 'fictional-secret',
};
const USERS = `${ROSTER}/users`;
const DATE = 'Mon, 15 Sep 2025 12:00:00 GMT';
const page = (key: string, items: unknown[], headers: Record<string, string> = {}) => [200, { [key]: items }, { ...JSON_HEADERS, Date: DATE, ...headers }] as const;

const records = (ps: Page[]) => ps.flatMap((p) => p.records);
const rejects = (ps: Page[]) => ps.flatMap((p) => p.rejects ?? []).map(({ raw: _raw, ...r }) => r);
const cursors = (ps: Page[]) => ps.map((p) => p.cursor);

// ---------------------------------------------------------------------------------------------------------------

describe('manifest and settings', () => {
  test('id, kinds, streams in reading order, secret fields, the schema from schemas/connectors', () => {
    const m = oneRosterRest.manifest;
    expect(m.id).toBe('oneroster-rest');
    expect(m.kind).toEqual(['roster', 'gradebook']);
    expect(m.secretFields).toEqual(['clientSecret', 'consumerSecret', 'token', 'auth.clientSecret', 'auth.consumerSecret', 'auth.token']);
    expect(m.streams.map((s) => [s.name, s.entities])).toEqual([
      ['orgs', ['org']],
      ['academicSessions', ['academicSession']],
      ['courses', ['course']],
      ['classes', ['class']],
      ['users', ['person']],
      ['roles', ['role']],
      ['demographics', ['demographics']],
      ['enrollments', ['enrollment']],
      ['categories', ['lineItemCategory']],
      ['lineItems', ['lineItem']],
      ['assessmentLineItems', ['lineItem']],
      ['results', ['result']],
      ['assessmentResults', ['result']],
    ]);
    for (const s of m.streams) expect(s.modes).toEqual(['full', 'incremental']);
    const file = path.resolve(__dirname, '../../schemas/connectors/oneroster-rest.config.schema.json');
    expect(m.configSchema).toEqual(JSON.parse(fs.readFileSync(file, 'utf8')));
  });

  test('the config schema (draft-07, strict, no extra keys) accepts the documented forms', () => {
    const validate = ajv().getSchema('/schemas/connectors/oneroster-rest.config.schema.json')!;
    expect(oneRosterRest.manifest.configSchema).toMatchObject({ $schema: 'http://json-schema.org/draft-07/schema#', additionalProperties: false });
    const good = [
      { baseUrl: 'https://sis.example/ims/oneroster/rostering/v1p2', version: '1.2', auth: { type: 'oauth2', tokenUrl: 'https://sis.example/token', clientId: 'c' }, clientSecret: 'secret' },
      { baseUrl: 'https://sis.example/ims/oneroster/rostering/v1p2', version: '1.2', auth: { type: 'oauth2', tokenUrl: 'https://sis.example/token', clientId: 'c', clientSecret: { $env: 'OR_SECRET' }, scopes: ['https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly'] } },
      { baseUrl: 'https://sis.example/ims/oneroster/v1p1', version: '1.1', auth: { type: 'oauth1', consumerKey: 'k' }, consumerSecret: 's', streams: ['users', 'roles'], pageSize: 1000, requestsPerSecond: 0.5, timeoutMs: 60000, maxRetries: 0 },
      { baseUrl: 'https://sis.example/ims/oneroster/v1p1', version: '1.1', auth: { type: 'bearer', token: { $enc: 'v1:abc' } }, gradebookBaseUrl: 'https://gb.example/ims/oneroster/v1p1' },
    ];
    for (const g of good) expect([validate(g), validate.errors]).toEqual([true, null]);
    const bad = [
      {},
      { baseUrl: 'sis.example', version: '1.2', auth: { type: 'bearer' } },
      { baseUrl: 'https://x', version: '1.3', auth: { type: 'bearer' } },
      { baseUrl: 'https://x', version: '1.2', auth: { type: 'basic' } },
      { baseUrl: 'https://x', version: '1.2', auth: { type: 'bearer', clientId: 'c' } },
      { baseUrl: 'https://x', version: '1.2', auth: { type: 'bearer' }, pageSize: 1001 },
      { baseUrl: 'https://x', version: '1.2', auth: { type: 'bearer' }, pageSize: 0 },
      { baseUrl: 'https://x', version: '1.2', auth: { type: 'bearer' }, streams: ['students'] },
      { baseUrl: 'https://x', version: '1.2', auth: { type: 'bearer' }, extra: 1 },
      { baseUrl: 'https://x', version: '1.2', auth: { type: 'oauth2', tokenUrl: 'https://x/t', clientId: 'c', scopes: ['a b'] } },
    ];
    for (const b of bad) expect(validate(b)).toBe(false);
  });

  test('secrets: top-level and nested (dotted secretFields) references are checked and resolved by the runtime; literals are refused', async () => {
    const env = { OR_SECRET: 'from-env' };
    const m = oneRosterRest.manifest;
    const top = { baseUrl: `${HOST}${ROSTER}`, version: '1.2', auth: { type: 'oauth2', tokenUrl: `${HOST}/oauth/token`, clientId: 'c' }, clientSecret: { $env: 'OR_SECRET' } };
    expect(settingsProblems(m, top, '$.s', env, true)).toEqual([]);
    expect(resolveSettings(m, top, '$.s', env).clientSecret).toBe('from-env');
    // A literal top-level secret is refused by the runtime.
    expect(settingsProblems(m, { ...top, clientSecret: 'literal' }, '$.s', env, false)).toEqual([
      { path: '$.s.clientSecret', message: 'is a secret: give {"$env": "NAME"} or {"$enc": "..."}, never the value itself' },
    ]);
    // Nested: the runtime resolves dotted secret fields too...
    const nested = { baseUrl: `${HOST}${ROSTER}`, version: '1.2', auth: { type: 'oauth2', tokenUrl: `${HOST}/oauth/token`, clientId: 'c', clientSecret: { $env: 'OR_SECRET' } } };
    expect(settingsProblems(m, nested, '$.s', env, true)).toEqual([]);
    expect(resolveSettings(m, nested, '$.s', env).auth).toEqual({ ...nested.auth, clientSecret: 'from-env' });
    // ...and the connector still resolves a reference it is handed directly (e.g. by check()).
    process.env.OR_REST_TEST_SECRET = 'nested-from-env';
    try {
      const seen: Seen[] = [];
      nock(HOST).post('/oauth/token').reply(200, { access_token: 't', expires_in: 3600 }, JSON_HEADERS).on('request', (req: Request) => seen.push(seenOf(req)));
      nock(HOST).get(`${ROSTER}/orgs`).query(true).reply(...page('orgs', []));
      const r = await oneRosterRest.check({ ...S12, token: undefined, auth: { type: 'oauth2', tokenUrl: `${HOST}/oauth/token`, clientId: 'c', clientSecret: { $env: 'OR_REST_TEST_SECRET' } } }, base());
      expect(r.ok).toBe(true);
      expect(seen[0].headers.authorization).toBe(`Basic ${Buffer.from('c:nested-from-env').toString('base64')}`);
    } finally {
      delete process.env.OR_REST_TEST_SECRET;
    }
  });

  test.each([
    ['no baseUrl', { baseUrl: '' }, 'baseUrl', 'must be a non-empty URL'],
    ['plain http to another host', { baseUrl: 'http://sis.example/ims' }, 'baseUrl', 'must use https (plain http is allowed only for localhost): credentials are sent with every request'],
    ['a query in baseUrl', { baseUrl: `${HOST}${ROSTER}?x=1` }, 'baseUrl', 'must not have a query string or fragment'],
    ['a wrong version', { version: '2.0' }, 'version', 'must be "1.1" or "1.2"'],
    ['pageSize too big', { pageSize: 5000 }, 'pageSize', 'must be an integer from 1 to 1000'],
    ['requestsPerSecond 0', { requestsPerSecond: 0 }, 'requestsPerSecond', 'must be a number from 0.01 to 1000'],
    ['an unknown stream', { streams: ['students'] }, 'streams', '"students" is not a stream of OneRoster 1.2; expected some of: orgs, academicSessions, courses, classes, users, roles, demographics, enrollments, categories, lineItems, assessmentLineItems, results, assessmentResults'],
    ['a 1.2-only stream in 1.1', { version: '1.1', streams: ['assessmentResults'] }, 'streams', '"assessmentResults" is not a stream of OneRoster 1.1; expected some of: orgs, academicSessions, courses, classes, users, roles, demographics, enrollments, categories, lineItems, results'],
    ['no secret', { token: undefined }, 'auth.token', 'is required (or give it as the top-level token)'],
    ['the secret twice', { auth: { type: 'bearer', token: 'a' } }, 'token', 'is given twice (auth.token and token): keep one'],
    ['a secret of another auth type', { clientSecret: 'x' }, 'clientSecret', 'does not apply to auth.type bearer'],
    ['an unknown auth type', { auth: { type: 'basic' } }, 'auth.type', 'must be oauth2, oauth1 or bearer'],
  ])('invalid settings (%s) -> connector_config_invalid from plan, read and check', async (_name, patch, where, message) => {
    const settings = { ...S12, ...patch } as OneRosterRestSettings;
    const e = await caught(oneRosterRest.plan(settings, planCtx()));
    expect(e.code).toBe('connector_config_invalid');
    expect(e.details).toEqual([{ path: where, message }]);
    expect((await caught(pages('users', settings, readCtx('full')))).code).toBe('connector_config_invalid');
    const c = await oneRosterRest.check(settings, base());
    expect(c.ok === false && c.error.code).toBe('connector_config_invalid');
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('plan()', () => {
  const probe = (root: string, endpoint: string, key: string) =>
    nock(HOST).get(`${root}${endpoint}`).query({ limit: '1', offset: '0' }).reply(...page(key, [{ sourcedId: 'x' }], { 'X-Total-Count': '40' }));
  const probeAll12 = (except: string[] = []) => {
    for (const [e, k] of [['/orgs', 'orgs'], ['/academicSessions', 'academicSessions'], ['/courses', 'courses'], ['/classes', 'classes'], ['/users', 'users'], ['/demographics', 'demographics'], ['/enrollments', 'enrollments']]) {
      if (!except.includes(e)) probe(ROSTER, e, k);
    }
    for (const [e, k] of [['/categories', 'categories'], ['/lineItems', 'lineItems'], ['/assessmentLineItems', 'assessmentLineItems'], ['/results', 'results'], ['/assessmentResults', 'assessmentResults']]) {
      if (!except.includes(e)) probe(GRADEBOOK, e, k);
    }
  };

  test('1.2, no history: every stream full, after a one-record probe of each endpoint (/users once)', async () => {
    probeAll12();
    expect(await oneRosterRest.plan(S12, planCtx())).toEqual(oneRosterRest.manifest.streams.map((s) => ({ stream: s.name, mode: 'full' })));
  });

  test('default selection: optional streams the source does not offer (404) or forbids (403) are skipped; their siblings are not swept', async () => {
    probeAll12(['/demographics', '/assessmentLineItems']);
    nock(HOST).get(`${ROSTER}/demographics`).query(true).reply(403, { imsx_codeMajor: 'failure', imsx_severity: 'error', imsx_CodeMinor: { imsx_codeMinorField: [{ imsx_codeMinorFieldValue: 'forbidden' }] } }, JSON_HEADERS);
    nock(HOST).get(`${GRADEBOOK}/assessmentLineItems`).query(true).reply(404, '', JSON_HEADERS);
    const plan = await oneRosterRest.plan(S12, planCtx());
    const by = Object.fromEntries(plan.map((p) => [p.stream, p]));
    expect(by.demographics).toEqual({
      stream: 'demographics', mode: 'incremental',
      skip: `the credentials may not read GET ${ROSTER}/demographics (403): grant the scope, or list the streams to read in settings.streams`,
    });
    expect(by.assessmentLineItems).toEqual({ stream: 'assessmentLineItems', mode: 'incremental', skip: `the source does not offer GET ${GRADEBOOK}/assessmentLineItems (404)` });
    // lineItems and assessmentLineItems both yield lineItem: a full sweep would delete the skipped stream's records.
    expect(by.lineItems).toEqual({ stream: 'lineItems', mode: 'incremental' });
    expect(by.results).toEqual({ stream: 'results', mode: 'full' });
    expect(by.users).toEqual({ stream: 'users', mode: 'full' });
  });

  test('listed streams must be readable: a 403 fails the plan; unlisted streams are skipped without a request', async () => {
    nock(HOST).get(`${ROSTER}/users`).query(true).reply(...page('users', [{ sourcedId: 'x' }]));
    nock(HOST).get(`${ROSTER}/demographics`).query(true).reply(403);
    const e = await caught(oneRosterRest.plan({ ...S12, streams: ['users', 'roles', 'demographics'] }, planCtx()));
    expect(e.kind).toBe('config');
    expect(e.message).toContain(`credentials rejected by sis.example (403) for GET ${ROSTER}/demographics`);

    nock(HOST).get(`${ROSTER}/users`).query(true).reply(...page('users', [{ sourcedId: 'x' }]));
    const plan = await oneRosterRest.plan({ ...S12, streams: ['users', 'roles'] }, planCtx());
    expect(plan.filter((p) => !p.skip)).toEqual([{ stream: 'users', mode: 'full' }, { stream: 'roles', mode: 'full' }]);
    expect(plan.find((p) => p.stream === 'orgs')).toEqual({ stream: 'orgs', mode: 'incremental', skip: 'not selected in settings.streams' });
  });

  test('a core stream that answers 404 fails the plan before anything is read', async () => {
    nock(HOST).get(`${ROSTER}/orgs`).query(true).reply(404);
    const e = await caught(oneRosterRest.plan(S12, planCtx()));
    expect(e.code).toBe('source_invalid');
    expect(e.message).toBe(`sis.example answered GET ${ROSTER}/orgs with 404: the source has no such endpoint (check baseUrl, version and gradebookBaseUrl).`);
  });

  test('1.1: assessment streams are not part of it; the gradebook is read under baseUrl', async () => {
    for (const [e, k] of [['/orgs', 'orgs'], ['/academicSessions', 'academicSessions'], ['/courses', 'courses'], ['/classes', 'classes'], ['/users', 'users'], ['/demographics', 'demographics'], ['/enrollments', 'enrollments'], ['/categories', 'categories'], ['/lineItems', 'lineItems'], ['/results', 'results']]) {
      nock(HOST11).get(`${ROOT11}${e}`).query(true).reply(...page(k, [{ sourcedId: 'x' }]));
    }
    const plan = await oneRosterRest.plan(S11, planCtx());
    expect(plan.find((p) => p.stream === 'assessmentResults')).toEqual({ stream: 'assessmentResults', mode: 'incremental', skip: 'not part of OneRoster 1.1' });
    expect(plan.filter((p) => !p.skip).map((p) => p.stream)).toEqual(['orgs', 'academicSessions', 'courses', 'classes', 'users', 'roles', 'demographics', 'enrollments', 'categories', 'lineItems', 'results']);
    expect(plan.every((p) => p.skip || p.mode === 'full')).toBe(true);
  });

  test('a 1.2 baseUrl that is not …/rostering/v1p2 and no gradebookBaseUrl: gradebook streams skipped, or a config error (before any request) when listed', async () => {
    const s = { ...S12, baseUrl: `${HOST}/api/oneroster`, streams: ['users', 'lineItems'] };
    const e = await caught(oneRosterRest.plan(s, planCtx()));
    expect(e.code).toBe('connector_config_invalid');
    expect(e.details[0]).toEqual({ path: 'gradebookBaseUrl', message: 'is needed for lineItems: baseUrl does not end in /rostering/v1p2, so the gradebook service root cannot be derived' });

    for (const [e2, k] of [['/orgs', 'orgs'], ['/academicSessions', 'academicSessions'], ['/courses', 'courses'], ['/classes', 'classes'], ['/users', 'users'], ['/demographics', 'demographics'], ['/enrollments', 'enrollments']]) {
      nock(HOST).get(`/api/oneroster${e2}`).query(true).reply(...page(k, [{ sourcedId: 'x' }]));
    }
    const plan = await oneRosterRest.plan({ ...s, streams: undefined }, planCtx());
    for (const g of ['categories', 'lineItems', 'assessmentLineItems', 'results', 'assessmentResults']) {
      expect(plan.find((p) => p.stream === g)).toEqual({ stream: g, mode: 'incremental', skip: 'gradebookBaseUrl is not set and cannot be derived from baseUrl' });
    }
    expect(plan.find((p) => p.stream === 'users')).toEqual({ stream: 'users', mode: 'full' });
  });

  test('cursors decide the mode: a completed watermark = a filtered probe (skipped when nothing changed); an interrupted pull = incremental', async () => {
    const since = '2025-09-10T00:00:00.000Z';
    nock(HOST).get(USERS).query({ limit: '1', offset: '0', filter: `dateLastModified>'${since}'` }).reply(...page('users', [{ sourcedId: 'u-1' }]));
    nock(HOST).get(USERS).query({ limit: '1', offset: '0', filter: "dateLastModified>'2025-09-14T00:00:00Z'" }).reply(...page('users', []));
    nock(HOST).get(`${ROSTER}/enrollments`).query({ limit: '1', offset: '0' }).reply(...page('enrollments', [{ sourcedId: 'e' }]));
    const plan = await oneRosterRest.plan(
      { ...S12, streams: ['users', 'roles', 'enrollments'] },
      planCtx({
        users: { since, offset: 0, complete: true },
        roles: { since: '2025-09-14T00:00:00Z', offset: 0, complete: true },
        enrollments: { offset: 400, startedAt: '2025-09-15T12:00:00.000Z', complete: false },
      }),
    );
    expect(plan.filter((p) => !p.skip || p.skip.startsWith('no changes'))).toEqual([
      { stream: 'users', mode: 'incremental' },
      { stream: 'roles', mode: 'incremental', skip: "no changes since 2025-09-14T00:00:00Z" },
      // A full pull interrupted after offset 400: it goes on from there, and this run cannot sweep.
      { stream: 'enrollments', mode: 'incremental' },
    ]);
  });

  test('credentials rejected on the first probe fail the plan', async () => {
    nock(HOST).get(`${ROSTER}/orgs`).query(true).reply(401);
    const e = await caught(oneRosterRest.plan(S12, planCtx()));
    expect(e.kind).toBe('config');
    expect(e.message).toContain('credentials rejected by sis.example (401)');
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('read(): full pulls of 1.2', () => {
  test('users: three pages (X-Total-Count + Link), exact records, rejects and cursors; password never kept', async () => {
    const seen = replay('v1p2/users.json');
    const ps = await pages('users', S12, readCtx('full'));
    expect(seen.map((s) => s.path)).toEqual([`${USERS}?limit=2&offset=0`, `${USERS}?limit=2&offset=2`, `${USERS}?limit=2&offset=4`]);
    expect(seen.every((s) => s.headers.authorization === 'Bearer fictional-bearer-token' && s.headers.accept === 'application/json')).toBe(true);
    expect(records(ps).map(slim)).toEqual([
      {
        sourceId: 'u-1', location: 'GET /users?offset=0 $.users[0]',
        data: {
          givenName: 'Avery', familyName: 'Lindqvist', preferredGivenName: 'Ava', pronouns: 'she/her', username: 'avery.lindqvist', email: 'avery.lindqvist@students.fictional.example',
          enabledUser: true, grades: ['09'], primaryOrgId: 'sch-1',
          identifiers: [{ system: 'LDAP', value: 'alindqvist' }, { system: 'identifier', value: 'S-1001' }, { system: 'userMasterIdentifier', value: 'MI-0001' }],
        },
      },
      {
        sourceId: 'u-2', location: 'GET /users?offset=0 $.users[1]',
        data: { givenName: 'Rowan', familyName: 'Okafor', username: 'r.okafor', email: 'r.okafor@fictional.example', phone: '555-0100', enabledUser: false, primaryOrgId: 'sch-1', identifiers: [] },
      },
      { sourceId: 'u-5', location: 'GET /users?offset=4 $.users[0]', data: { givenName: 'Morgan', familyName: 'Lindqvist', enabledUser: true, identifiers: [{ system: 'state', value: 'G-77' }] } },
    ]);
    expect(rejects(ps)).toEqual([
      { location: 'GET /users?offset=2 $.users[0]', field: 'enabledUser', reason: 'enabledUser must be "true" or "false", found "yes"', code: 'row_malformed', sourceId: 'u-3' },
      { location: 'GET /users?offset=2 $.users[1]', field: 'givenName', reason: 'required field givenName is missing or blank', code: 'record_invalid', sourceId: 'u-4' },
    ]);
    expect(cursors(ps)).toEqual([
      { offset: 2, startedAt: '2025-09-15T12:00:00.000Z', maxSeen: '2025-09-03T09:15:00.000Z', complete: false },
      { offset: 4, startedAt: '2025-09-15T12:00:00.000Z', maxSeen: '2025-09-03T09:15:00.000Z', complete: false },
      { since: '2025-09-04T07:45:00.000Z', offset: 0, complete: true },
    ]);
    const raw = records(ps)[0].raw as Record<string, unknown>;
    expect(raw).not.toHaveProperty('password');
    expect(raw).toMatchObject({ sourcedId: 'u-1', agents: [{ sourcedId: 'u-5' }] });
    expect(JSON.stringify(ps)).not.toContain('fictional-password');
  });

  test('roles from the same pages: one per roles[] entry, a role without org rejected alone', async () => {
    replay('v1p2/users.json');
    const ps = await pages('roles', S12, readCtx('full'));
    expect(records(ps).map((r) => [r.sourceId, r.location, r.data])).toEqual([
      ['u-1::sch-1::student', 'GET /users?offset=0 $.users[0].roles[0]', { personId: 'u-1', orgId: 'sch-1', roleType: 'primary', role: 'student', beginDate: '2025-08-20' }],
      ['u-2::sch-1::teacher', 'GET /users?offset=0 $.users[1].roles[0]', { personId: 'u-2', orgId: 'sch-1', roleType: 'primary', role: 'teacher' }],
      ['u-2::sch-1::aide', 'GET /users?offset=0 $.users[1].roles[1]', { personId: 'u-2', orgId: 'sch-1', roleType: 'secondary', role: 'aide', endDate: '2026-06-12' }],
      ['u-3::sch-1::student', 'GET /users?offset=2 $.users[0].roles[0]', { personId: 'u-3', orgId: 'sch-1', roleType: 'primary', role: 'student' }],
      ['u-5::dist-1::guardian', 'GET /users?offset=4 $.users[0].roles[0]', { personId: 'u-5', orgId: 'dist-1', roleType: 'primary', role: 'guardian' }],
    ]);
    expect(rejects(ps)).toEqual([{ location: 'GET /users?offset=2 $.users[1].roles[0]', field: 'roles[0].org', reason: 'required reference org is missing', code: 'record_invalid' }]);
  });

  test('orgs: read whole and yielded parents first; intermediate cursors restart the stream', async () => {
    replay('v1p2/orgs.json');
    const ps = await pages('orgs', S12, readCtx('full'));
    expect(records(ps).map(slim)).toEqual([
      { sourceId: 'dist-1', location: 'GET /orgs?offset=2 $.orgs[0]', data: { name: 'Fictional Unified School District', type: 'district', identifier: 'DIST-01' } },
      { sourceId: 'sch-1', location: 'GET /orgs?offset=0 $.orgs[0]', data: { name: 'Maple Grove Elementary', type: 'school', identifier: 'NCES-0001', parentId: 'dist-1' } },
      { sourceId: 'dept-1', location: 'GET /orgs?offset=0 $.orgs[1]', data: { name: 'Science Department', type: 'department', parentId: 'sch-1' } },
    ]);
    expect(cursors(ps)).toEqual([
      { offset: 0, startedAt: '2025-09-15T12:00:00.000Z', maxSeen: '2025-09-02T08:30:00.000Z', complete: false },
      { since: '2025-09-02T08:30:00.000Z', offset: 0, complete: true },
    ]);
  });

  test.each([
    ['academicSessions', [
      { sourceId: 'sy-2026', location: 'GET /academicSessions?offset=0 $.academicSessions[0]', data: { title: '2025-2026', type: 'schoolYear', startDate: '2025-08-01', endDate: '2026-07-31', schoolYear: '2026' } },
      { sourceId: 'term-1', location: 'GET /academicSessions?offset=0 $.academicSessions[1]', data: { title: 'Fall 2025', type: 'term', startDate: '2025-08-20', endDate: '2025-12-19', parentId: 'sy-2026', schoolYear: '2026' } },
    ], [{ location: 'GET /academicSessions?offset=2 $.academicSessions[0]', field: 'startDate', reason: 'startDate must be a date YYYY-MM-DD, found "2026-13-05"', code: 'row_malformed', sourceId: 'term-2' }]],
    ['courses', [
      { sourceId: 'crs-1', location: 'GET /courses?offset=0 $.courses[0]', data: { title: 'Biology I', orgId: 'sch-1', schoolYearId: 'sy-2026', courseCode: 'BIO-1', grades: ['09', '10'], subjects: ['Biology'] } },
    ], []],
    ['classes', [
      { sourceId: 'cls-1', location: 'GET /classes?offset=0 $.classes[0]', data: { title: 'Biology I - Period 1', classType: 'scheduled', courseId: 'crs-1', schoolId: 'sch-1', termIds: ['term-1'], classCode: 'BIO-1-01', location: 'Room 19', grades: ['09'], subjects: ['Biology'], periods: ['1', '3'] } },
    ], [{ location: 'GET /classes?offset=0 $.classes[1]', field: 'terms', reason: 'required field terms lists no term', code: 'record_invalid', sourceId: 'cls-2' }]],
    ['demographics', [
      {
        sourceId: 'u-1', location: 'GET /demographics?offset=0 $.demographics[0]',
        data: {
          personId: 'u-1', birthDate: '2010-05-04', sex: 'female', americanIndianOrAlaskaNative: false, asian: true, blackOrAfricanAmerican: false, nativeHawaiianOrOtherPacificIslander: false,
          white: false, demographicRaceTwoOrMoreRaces: false, hispanicOrLatinoEthnicity: false, countryOfBirthCode: 'US', stateOfBirthAbbreviation: 'OR', cityOfBirth: 'Portland', publicSchoolResidenceStatus: '01652',
        },
      },
    ], [{ location: 'GET /demographics?offset=0 $.demographics[1]', field: 'birthDate', reason: 'birthDate must be a date YYYY-MM-DD, found "1985-02-30"', code: 'row_malformed', sourceId: 'u-2' }]],
    ['enrollments', [
      { sourceId: 'enr-1', location: 'GET /enrollments?offset=0 $.enrollments[0]', data: { classId: 'cls-1', schoolId: 'sch-1', personId: 'u-1', role: 'student', primary: false, beginDate: '2025-08-20', endDate: '2025-12-19' } },
      { sourceId: 'enr-2', location: 'GET /enrollments?offset=0 $.enrollments[1]', data: { classId: 'cls-1', schoolId: 'sch-1', personId: 'u-2', role: 'teacher', primary: true } },
    ], [{ location: 'GET /enrollments?offset=2 $.enrollments[0]', field: 'class', reason: 'required reference class is missing', code: 'record_invalid', sourceId: 'enr-3' }]],
    ['categories', [{ sourceId: 'cat-1', location: 'GET /categories?offset=0 $.categories[0]', data: { title: 'Homework', weight: 0.4 } }], []],
    ['lineItems', [
      {
        sourceId: 'li-1', location: 'GET /lineItems?offset=0 $.lineItems[0]',
        data: {
          title: 'Cell structure worksheet', description: 'Label the organelles', classId: 'cls-1', schoolId: 'sch-1', categoryId: 'cat-1', gradingPeriodId: 'term-1',
          assignDate: '2025-09-01T08:00:00.000Z', dueDate: '2025-09-08T23:59:59.000Z', resultValueMin: 0, resultValueMax: 100,
          alignment: [{ ref: 'std-bio-1', source: 'case' }, { ref: 'std-bio-2', source: 'case' }],
        },
      },
    ], []],
    ['assessmentLineItems', [
      { sourceId: 'ali-1', location: 'GET /assessmentLineItems?offset=0 $.assessmentLineItems[0]', data: { title: 'Fall benchmark', classId: 'cls-1', resultValueMin: 100, resultValueMax: 300, alignment: [{ ref: 'SCI.9.1', source: 'state-framework' }] } },
    ], [{ location: 'GET /assessmentLineItems?offset=0 $.assessmentLineItems[1]', field: 'class', reason: 'assessmentLineItem has no class: the unified lineItem needs one (an assessment given outside a class cannot be stored as a line item)', code: 'record_invalid', sourceId: 'ali-2' }]],
    ['results', [
      {
        sourceId: 'res-1', location: 'GET /results?offset=0 $.results[0]',
        data: {
          lineItemId: 'li-1', personId: 'u-1', scoreStatus: 'fully graded', score: 95.5, scoreDate: '2025-09-09T00:00:00.000Z', comment: 'Careful labels', late: false, missing: false,
          learningObjectiveResults: [{ ref: 'std-bio-1', source: 'case', score: 3 }, { ref: 'std-bio-2', source: 'case', textScore: 'meets' }],
        },
      },
    ], [{ location: 'GET /results?offset=0 $.results[1]', field: 'score', reason: 'score must be a number, found "n/a"', code: 'row_malformed', sourceId: 'res-2' }]],
    ['assessmentResults', [
      { sourceId: 'ares-1', location: 'GET /assessmentResults?offset=0 $.assessmentResults[0]', data: { lineItemId: 'ali-1', personId: 'u-1', scoreStatus: 'fully graded', score: 245, textScore: 'Proficient', scoreDate: '2025-10-01T00:00:00.000Z', inProgress: false } },
    ], []],
  ])('%s: exact records and rejects', async (stream, expectedRecords, expectedRejects) => {
    const seen = replay(`v1p2/${stream}.json`);
    const ps = await pages(stream, S12, readCtx('full'));
    expect(records(ps).map(slim)).toEqual(expectedRecords);
    expect(rejects(ps)).toEqual(expectedRejects);
    expect(ps[ps.length - 1].cursor).toEqual({ since: '2025-09-01T10:00:00.000Z', offset: 0, complete: true });
    const root = ['categories', 'lineItems', 'assessmentLineItems', 'results', 'assessmentResults'].includes(stream) ? GRADEBOOK : ROSTER;
    expect(seen[0].path).toBe(`${root}/${stream}?limit=2&offset=0`);
  });

  test('every record passes the unified schemas (ajv), except the rejected ones', async () => {
    for (const stream of ['orgs', 'academicSessions', 'courses', 'classes', 'users', 'roles', 'demographics', 'enrollments', 'categories', 'lineItems', 'assessmentLineItems', 'results', 'assessmentResults']) {
      replay(`v1p2/${stream === 'roles' ? 'users' : stream}.json`);
      for (const r of records(await pages(stream, S12, readCtx('full')))) {
        const file = { org: 'org', academicSession: 'academic-session', course: 'course', class: 'class', person: 'person', role: 'role', demographics: 'demographics', enrollment: 'enrollment', lineItemCategory: 'line-item-category', lineItem: 'line-item', result: 'result' }[r.type as string];
        const v = ajv().getSchema(`/schemas/unified/${file}.schema.json`)!;
        expect([r.type, r.sourceId, v({ id: 'x', ...r.data }), v.errors]).toEqual([r.type, r.sourceId, true, null]);
      }
    }
  });
});

describe('read(): OneRoster 1.1 with OAuth 1.0a', () => {
  test('users, roles derived from role + orgs[], results; every request signed', async () => {
    const seen = replay('v1p1/users.json');
    const users = await pages('users', S11, readCtx('full'));
    expect(records(users).map((r) => [r.sourceId, r.data])).toEqual([
      ['t-1', { givenName: 'Kai', familyName: 'Brandt', username: 'k.brandt', email: 'k.brandt@fictional.example', enabledUser: true, grades: ['09', '10'], primaryRole: 'teacher', identifiers: [{ system: 'LDAP', value: 'kbrandt' }, { system: 'identifier', value: 'T-501' }] }],
      ['s-1', { givenName: 'Phuong', familyName: 'Nguyen', username: 'p.nguyen', enabledUser: true, primaryRole: 'student', identifiers: [] }],
      ['s-2', { givenName: 'Eli', familyName: 'Novak', enabledUser: true, primaryRole: 'student', identifiers: [] }],
    ]);
    // The Authorization header: OAuth 1.0a, HMAC-SHA256, signature over this very request.
    for (const s of seen) {
      const h = s.headers.authorization;
      expect(h).toMatch(/^OAuth /);
      const params = Object.fromEntries([...h.slice(6).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], decodeURIComponent(m[2])]));
      expect(params).toMatchObject({ oauth_consumer_key: 'fictional-key', oauth_signature_method: 'HMAC-SHA256', oauth_version: '1.0' });
      const { oauth_signature: sig, ...rest } = params;
      expect(hmacSignature('HMAC-SHA256', signatureBaseString('GET', new URL(`${HOST11}${s.path}`), rest), 'fictional-secret')).toBe(sig);
    }

    replay('v1p1/users.json');
    const roles = await pages('roles', S11, readCtx('full'));
    expect(records(roles).map((r) => [r.sourceId, r.data])).toEqual([
      ['t-1::sch-1', { personId: 't-1', orgId: 'sch-1', roleType: 'primary', role: 'teacher' }],
      ['t-1::sch-2', { personId: 't-1', orgId: 'sch-2', roleType: 'secondary', role: 'teacher' }],
      ['s-1::sch-1', { personId: 's-1', orgId: 'sch-1', roleType: 'primary', role: 'student' }],
    ]);
    expect(rejects(roles)).toEqual([{ location: 'GET /users?offset=2 $.users[0]', field: 'orgs', reason: 'required field orgs lists no org: no role can be derived for this user', code: 'record_invalid' }]);

    replay('v1p1/results.json');
    const results = await pages('results', S11, readCtx('full'));
    expect(records(results).map((r) => [r.sourceId, r.data])).toEqual([
      ['r-1', { lineItemId: 'li-9', personId: 's-1', scoreStatus: 'fully graded', score: 88, scoreDate: '2025-09-20T00:00:00.000Z' }],
      ['r-2', { lineItemId: 'li-9', personId: 's-2', scoreStatus: 'not submitted', score: 0, scoreDate: '2025-09-20T15:30:00.000Z' }],
    ]);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('incremental reads and resume', () => {
  const since = '2025-09-10T00:00:00.000Z';

  test('a completed watermark reads dateLastModified>since (URL-encoded); tobedeleted = deleted; the new watermark is the greatest date seen', async () => {
    const seen = replay('v1p2/users.delta.json');
    const ps = await pages('users', S12, readCtx('incremental', { since, offset: 0, complete: true }));
    expect(seen.map((s) => s.path)).toEqual([
      `${USERS}?limit=2&offset=0&filter=dateLastModified%3E%272025-09-10T00%3A00%3A00.000Z%27`,
      `${USERS}?limit=2&offset=2&filter=dateLastModified%3E%272025-09-10T00%3A00%3A00.000Z%27`,
    ]);
    expect(records(ps).map(slim)).toEqual([
      { sourceId: 'u-1', location: 'GET /users?offset=0 $.users[0]', data: { givenName: 'Avery', familyName: 'Lindqvist-Berg', enabledUser: true, identifiers: [] } },
      { sourceId: 'u-2', location: 'GET /users?offset=0 $.users[1]', deleted: true, data: {} },
      { sourceId: 'u-6', location: 'GET /users?offset=2 $.users[0]', data: { givenName: 'Noor', familyName: 'Haddad', enabledUser: true, identifiers: [] } },
    ]);
    expect(cursors(ps)).toEqual([
      { since, offset: 2, startedAt: '2025-09-15T12:00:00.000Z', maxSeen: '2025-09-12T16:20:00.000Z', complete: false },
      { since: '2025-09-14T18:00:00.000Z', offset: 0, complete: true },
    ]);

    // Roles of a deleted user are deleted with it.
    replay('v1p2/users.delta.json');
    const roles = await pages('roles', S12, readCtx('incremental', { since, offset: 0, complete: true }));
    expect(records(roles).filter((r) => r.deleted).map((r) => r.sourceId)).toEqual(['u-2::sch-1::teacher']);
  });

  test('the watermark never passes the start of the pull (changes made while it ran are read again next time)', async () => {
    nock(HOST).get(USERS).query(true).reply(...page('users', [{ sourcedId: 'u-7', status: 'active', dateLastModified: '2025-09-15T12:00:05Z', enabledUser: 'true', givenName: 'A', familyName: 'B' }], { 'X-Total-Count': '1' }));
    const ps = await pages('users', S12, readCtx('incremental', { since, offset: 0, complete: true }));
    expect(ps[0].cursor).toEqual({ since: '2025-09-15T12:00:00.000Z', offset: 0, complete: true });
  });

  test('resume a full pull from a saved mid-stream cursor: the remaining pages only, the saved maxSeen kept', async () => {
    const seen = replay('v1p2/users.json');
    const cursor = { offset: 4, startedAt: '2025-09-15T11:00:00.000Z', maxSeen: '2025-09-05T00:00:00.000Z', complete: false };
    const ps = await pages('users', S12, readCtx('incremental', cursor));
    expect(seen.map((s) => s.path)).toEqual([`${USERS}?limit=2&offset=4`]);
    expect(records(ps).map((r) => r.sourceId)).toEqual(['u-5']);
    expect(cursors(ps)).toEqual([{ since: '2025-09-05T00:00:00.000Z', offset: 0, complete: true }]);
    nock.cleanAll(); // the two pages this resume did not need
  });

  test('resume a delta from its saved offset, with its filter', async () => {
    const seen = replay('v1p2/users.delta.json');
    const ps = await pages('users', S12, readCtx('incremental', { since, offset: 2, startedAt: '2025-09-15T12:00:00.000Z', maxSeen: '2025-09-12T16:20:00.000Z', complete: false }));
    expect(seen.map((s) => s.path)).toEqual([`${USERS}?limit=2&offset=2&filter=dateLastModified%3E%272025-09-10T00%3A00%3A00.000Z%27`]);
    expect(records(ps).map((r) => r.sourceId)).toEqual(['u-6']);
    expect(ps[0].cursor).toEqual({ since: '2025-09-14T18:00:00.000Z', offset: 0, complete: true });
    nock.cleanAll();
  });

  test('mode full ignores a watermark: everything, unfiltered, from offset 0', async () => {
    const seen = replay('v1p2/users.json');
    await pages('users', S12, readCtx('full', { since, offset: 0, complete: true }));
    expect(seen.map((s) => s.path)).toEqual([`${USERS}?limit=2&offset=0`, `${USERS}?limit=2&offset=2`, `${USERS}?limit=2&offset=4`]);
  });

  test('buffered streams (orgs) restart from offset 0 on resume', async () => {
    const seen = replay('v1p2/orgs.json');
    await pages('orgs', S12, readCtx('incremental', { offset: 0, startedAt: '2025-09-15T12:00:00.000Z', complete: false }));
    expect(seen.map((s) => s.path)).toEqual([`${ROSTER}/orgs?limit=2&offset=0`, `${ROSTER}/orgs?limit=2&offset=2`]);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('paging edge cases', () => {
  test('a record shifted onto the next page is not yielded twice; the Link URL is never requested (only its offset is used)', async () => {
    const u = (id: string) => ({ sourcedId: id, enabledUser: 'true', givenName: 'G', familyName: id });
    const seen: Seen[] = [];
    nock(HOST).get(USERS).query({ limit: '2', offset: '0' }).reply(...page('users', [u('a'), u('b')], { Link: '<http://elsewhere.example/steal?offset=2&limit=2>; rel="next"' })).on('request', (r: Request) => seen.push(seenOf(r)));
    nock(HOST).get(USERS).query({ limit: '2', offset: '2' }).reply(...page('users', [u('b'), u('c')], { Link: '<x>; rel="first"' })).on('request', (r: Request) => seen.push(seenOf(r)));
    const ps = await pages('users', S12, readCtx('full'));
    expect(records(ps).map((r) => [r.sourceId, r.location])).toEqual([
      ['a', 'GET /users?offset=0 $.users[0]'],
      ['b', 'GET /users?offset=0 $.users[1]'],
      ['c', 'GET /users?offset=2 $.users[1]'],
    ]);
    expect(seen.map((s) => s.path)).toEqual([`${USERS}?limit=2&offset=0`, `${USERS}?limit=2&offset=2`]);
  });

  test('without Link or X-Total-Count: pages until an empty one; a server that ignores offset is refused', async () => {
    const u = (id: string) => ({ sourcedId: id, enabledUser: 'true', givenName: 'G', familyName: id });
    nock(HOST).get(USERS).query({ limit: '2', offset: '0' }).reply(...page('users', [u('a'), u('b')]));
    nock(HOST).get(USERS).query({ limit: '2', offset: '2' }).reply(...page('users', [u('c')]));
    nock(HOST).get(USERS).query({ limit: '2', offset: '3' }).reply(...page('users', []));
    expect(records(await pages('users', S12, readCtx('full'))).map((r) => r.sourceId)).toEqual(['a', 'b', 'c']);

    nock(HOST).get(USERS).query({ limit: '2', offset: '0' }).reply(...page('users', [u('a'), u('b')]));
    nock(HOST).get(USERS).query({ limit: '2', offset: '2' }).reply(...page('users', [u('a'), u('b')]));
    const e = await caught(pages('users', S12, readCtx('full')));
    expect(e.code).toBe('source_invalid');
    expect(e.message).toBe(`sis.example answered GET ${USERS} at offset 2 with the same records as the page before: the server seems to ignore the offset parameter.`);
  });

  test('a response without the collection key -> source_invalid naming what it found', async () => {
    nock(HOST).get(USERS).query(true).reply(200, { data: [], meta: {} }, JSON_HEADERS);
    const e = await caught(pages('users', S12, readCtx('full')));
    expect(e.message).toBe(`sis.example answered GET ${USERS} without a "users" array (found "data", "meta"); is baseUrl the OneRoster rostering service root?`);
  });

  test('an abort between pages stops the read with the signal\'s reason', async () => {
    replay('v1p2/users.json');
    const ac = new AbortController();
    const it = oneRosterRest.read('users', S12, readCtx('full', undefined, ac.signal))[Symbol.asyncIterator]();
    await it.next();
    ac.abort(new Error('cancelled by operator'));
    await expect(it.next()).rejects.toThrow('cancelled by operator');
    nock.cleanAll();
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('HTTP failures during a read', () => {
  test('429 with Retry-After, then the page', async () => {
    nock(HOST).get(USERS).query({ limit: '2', offset: '0' }).reply(429, { imsx_codeMajor: 'failure', imsx_severity: 'error', imsx_CodeMinor: { imsx_codeMinorField: [{ imsx_codeMinorFieldValue: 'server_busy' }] } }, { ...JSON_HEADERS, 'Retry-After': '1' });
    const seen = replay('v1p2/users.json');
    const t0 = Date.now();
    const ps = await pages('users', S12, readCtx('full'));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect(records(ps).map((r) => r.sourceId)).toEqual(['u-1', 'u-2', 'u-5']);
    expect(seen).toHaveLength(3);
  });

  test('503 until the retries are spent -> source_unavailable (transient)', async () => {
    nock(HOST).get(USERS).query(true).times(3).reply(503, 'down for maintenance', { 'Retry-After': '0' });
    const e = await caught(pages('users', { ...S12, maxRetries: 2 }, readCtx('full')));
    expect(e.code).toBe('source_unavailable');
    expect(e.kind).toBe('transient');
    expect(e.message).toBe(`sis.example did not answer GET ${USERS} after 3 attempts (last: 503 Service Unavailable); the next run will try again.`);
  });

  test('an HTML login page -> source_invalid naming the path and the content-type', async () => {
    nock(HOST).get(USERS).query(true).reply(200, '<html><body>Please sign in</body></html>', { 'Content-Type': 'text/html' });
    const e = await caught(pages('users', S12, readCtx('full')));
    expect(e.code).toBe('source_invalid');
    expect(e.message).toBe(`sis.example answered GET ${USERS} with content-type "text/html", not JSON (a login page, a proxy or a wrong baseUrl?).`);
  });

  test('401 with a static token -> config error at once, never retried', async () => {
    nock(HOST).get(USERS).query(true).once().reply(401);
    const e = await caught(pages('users', S12, readCtx('full')));
    expect(e.code).toBe('source_unauthorized');
    expect(e.kind).toBe('config');
    expect(e.message).toBe(`credentials rejected by sis.example (401) for GET ${USERS}: check settings.auth (the credentials or token are not accepted).`);
  });

  test('OAuth 2.0: a 401 mid-stream renews the token once and the read goes on', async () => {
    const tokens: Seen[] = [];
    let n = 0;
    nock(HOST).post('/oauth/token').times(2).reply(() => [200, { access_token: `tok-${++n}`, token_type: 'bearer', expires_in: 3600 }, JSON_HEADERS]).on('request', (r: Request) => tokens.push(seenOf(r)));
    const p0 = recorded('v1p2/users.json', `${USERS}?limit=2&offset=0`);
    const p2 = recorded('v1p2/users.json', `${USERS}?limit=2&offset=2`);
    const p4 = recorded('v1p2/users.json', `${USERS}?limit=2&offset=4`);
    nock(HOST).get(USERS).query({ limit: '2', offset: '0' }).matchHeader('authorization', 'Bearer tok-1').reply(200, p0.response, p0.rawHeaders);
    nock(HOST).get(USERS).query({ limit: '2', offset: '2' }).matchHeader('authorization', 'Bearer tok-1').reply(401);
    nock(HOST).get(USERS).query({ limit: '2', offset: '2' }).matchHeader('authorization', 'Bearer tok-2').reply(200, p2.response, p2.rawHeaders);
    nock(HOST).get(USERS).query({ limit: '2', offset: '4' }).matchHeader('authorization', 'Bearer tok-2').reply(200, p4.response, p4.rawHeaders);
    const ps = await pages('users', OAUTH2, readCtx('full'));
    expect(records(ps)).toHaveLength(3);
    expect(tokens).toHaveLength(2);
  });

  test('OAuth 2.0: one token for the plan probes and every page of several streams', async () => {
    const tokens: Seen[] = [];
    nock(HOST).post('/oauth/token').reply(200, { access_token: 'tok-1', token_type: 'bearer', expires_in: 3600 }, JSON_HEADERS).on('request', (r: Request) => tokens.push(seenOf(r)));
    nock(HOST).get(USERS).query({ limit: '1', offset: '0' }).matchHeader('authorization', 'Bearer tok-1').reply(...page('users', [{ sourcedId: 'u' }]));
    const seen = replay('v1p2/users.json');
    replay('v1p2/users.json', seen);
    const s = { ...OAUTH2, streams: ['users', 'roles'] };
    await oneRosterRest.plan(s, planCtx());
    await pages('users', s, readCtx('full'));
    await pages('roles', s, readCtx('full'));
    expect(tokens).toHaveLength(1);
    expect(seen).toHaveLength(6);
    expect(seen.every((x) => x.headers.authorization === 'Bearer tok-1')).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('rate limit', () => {
  /** Advances the fake clock in 10 ms steps, letting the (real) I/O callbacks of the mocked responses run between. */
  async function tick(ms: number): Promise<void> {
    for (let t = 0; t < ms; t += 10) {
      await jest.advanceTimersByTimeAsync(10);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  test('requestsPerSecond: 2 -> requests start 500 ms apart (fake timers)', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'], now: new Date('2025-09-15T12:00:00Z') });
    try {
      const t0 = Date.now();
      const at: number[] = [];
      for (const scope of nock.define(JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../fixtures/oneroster-rest/v1p2/users.json'), 'utf8')))) {
        scope.on('request', () => at.push(Date.now() - t0));
      }
      const run = pages('users', { ...S12, requestsPerSecond: 2 }, readCtx('full'));
      await tick(490);
      expect(at).toEqual([0]);
      // The next requests wait for their slot (500 ms apart) and for the mocked responses' real I/O, which a loaded
      // machine may deliver a few fake-clock ticks late: advance until they have started, then check the spacing.
      for (let i = 0; i < 300 && at.length < 3; i++) await tick(10);
      expect(at).toHaveLength(3);
      expect(at[1]).toBeGreaterThanOrEqual(500);
      expect(at[2] - at[1]).toBeGreaterThanOrEqual(500);
      expect(records(await run)).toHaveLength(3);
      // No one-second window holds more than two request starts.
      for (const t of at) expect(at.filter((x) => x >= t && x < t + 1000).length).toBeLessThanOrEqual(2);
    } finally {
      jest.useRealTimers();
    }
  });

  test('one limiter per configured connector: plan and read share it', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    try {
      const at: number[] = [];
      const t0 = Date.now();
      nock(HOST).get(USERS).query({ limit: '1', offset: '0' }).reply(...page('users', [{ sourcedId: 'u' }])).on('request', () => at.push(Date.now() - t0));
      for (const scope of nock.define(JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../fixtures/oneroster-rest/v1p2/users.json'), 'utf8')).slice(0, 1))) {
        scope.on('request', () => at.push(Date.now() - t0));
      }
      const s = { ...S12, requestsPerSecond: 1, streams: ['users'] };
      const planned = oneRosterRest.plan(s, planCtx());
      await tick(10);
      await planned;
      const it = oneRosterRest.read('users', s, readCtx('full'))[Symbol.asyncIterator]();
      const first = it.next();
      await tick(1000);
      await first;
      expect(at).toEqual([0, 1000]);
    } finally {
      jest.useRealTimers();
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('check()', () => {
  test('OAuth 2.0: a token, then GET orgs?limit=1', async () => {
    nock(HOST).post('/oauth/token').reply(200, { access_token: 'tok', expires_in: 3600 }, JSON_HEADERS);
    nock(HOST).get(`${ROSTER}/orgs`).query({ limit: '1', offset: '0' }).matchHeader('authorization', 'Bearer tok').reply(...page('orgs', [{ sourcedId: 'dist-1' }], { 'X-Total-Count': '12' }));
    expect(await oneRosterRest.check(OAUTH2, base())).toEqual({
      ok: true,
      details: `OneRoster 1.2 at sis.example${ROSTER}: oauth2 credentials accepted; GET ${ROSTER}/orgs?limit&offset answered (X-Total-Count 12)`,
    });
  });

  test('never throws: a refused client, an unreachable source', async () => {
    nock(HOST).post('/oauth/token').reply(400, { error: 'invalid_scope' }, JSON_HEADERS);
    const r = await oneRosterRest.check(OAUTH2, base());
    expect(r.ok === false && [r.error.code, r.error.message]).toEqual(['source_unauthorized', 'OAuth 2.0 credentials rejected by sis.example (400 (invalid_scope)): check settings.auth clientId, clientSecret and scopes.']);
    nock(HOST).get(`${ROSTER}/orgs`).query(true).reply(503, '', { 'Retry-After': '0' });
    const u = await oneRosterRest.check({ ...S12, maxRetries: 0 }, base());
    expect(u.ok === false && u.error.code).toBe('source_unavailable');
  });
});

// Keep the type import used (plans are asserted structurally above).
export type _Plans = StreamPlan[];
