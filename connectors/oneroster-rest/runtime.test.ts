/**
 * The connector inside the real runtime (runSync, SQLite and PostgreSQL when present) against the recorded 1.2
 * responses: a first full run (validation, references, rejects, cursors saved), then a delta run that reads only
 * what changed and deletes a `tobedeleted` user.
 */
import nock from 'nock';
import { validateConfig } from '../../src/core/config';
import { registerConnector } from '../../src/ingest/registry';
import { runSync } from '../../src/ingest/runner';
import type { Db } from '../../src/store/db';
import { ensureTenants } from '../../src/store/tenants';
import { describeEachDb } from '../../test/helpers/db';
import { oneRosterRest } from './index';
import { GRADEBOOK, HOST, JSON_HEADERS, ROSTER, recorded, replay, setupNock } from './test-support';

setupNock();
registerConnector('oneroster-rest', oneRosterRest as never);

const STREAMS: Array<[string, string, string]> = [
  ['orgs', ROSTER, 'orgs'],
  ['academicSessions', ROSTER, 'academicSessions'],
  ['courses', ROSTER, 'courses'],
  ['classes', ROSTER, 'classes'],
  ['users', ROSTER, 'users'],
  ['demographics', ROSTER, 'demographics'],
  ['enrollments', ROSTER, 'enrollments'],
  ['categories', GRADEBOOK, 'categories'],
  ['lineItems', GRADEBOOK, 'lineItems'],
  ['assessmentLineItems', GRADEBOOK, 'assessmentLineItems'],
  ['results', GRADEBOOK, 'results'],
  ['assessmentResults', GRADEBOOK, 'assessmentResults'],
];

const config = () =>
  validateConfig(
    {
      tenants: [
        {
          id: 't1',
          name: 'Fictional district',
          connectors: [
            {
              id: 'sis',
              type: 'oneroster-rest',
              settings: { baseUrl: `${HOST}${ROSTER}`, version: '1.2', auth: { type: 'bearer' }, token: { $env: 'OR_REST_RUNTIME_TOKEN' }, pageSize: 2, requestsPerSecond: 1000 },
            },
          ],
        },
      ],
    },
    '(test)',
  );

describeEachDb('oneroster-rest in the runtime', (t) => {
  let db: Db;
  beforeAll(() => {
    process.env.OR_REST_RUNTIME_TOKEN = 'fictional-runtime-token';
  });
  afterAll(() => {
    delete process.env.OR_REST_RUNTIME_TOKEN;
  });
  beforeEach(async () => {
    db = await t.open();
  });
  afterEach(async () => {
    await db.close();
  });

  it('a full run, then a delta run', async () => {
    const deps = { db, config: config() };
    await ensureTenants(db, deps.config.config);

    // Run 1: plan probes (limit=1), then every page of every stream (users twice: users and roles).
    for (const [, root, key] of STREAMS) {
      nock(HOST).get(`${root}/${key}`).query({ limit: '1', offset: '0' }).matchHeader('authorization', 'Bearer fictional-runtime-token').reply(200, { [key]: [{ sourcedId: 'x' }] }, JSON_HEADERS);
      replay(`v1p2/${key}.json`);
    }
    replay('v1p2/users.json');
    const first = await runSync(deps, { tenantId: 't1', connectorId: 'sis' });
    expect([first.status, first.error]).toEqual(['succeeded', undefined]);
    expect(first.streams.map((s) => [s.stream, s.mode, s.skipped ?? null])).toEqual([
      ['orgs', 'full', null], ['academicSessions', 'full', null], ['courses', 'full', null], ['classes', 'full', null], ['users', 'full', null], ['roles', 'full', null],
      ['demographics', 'full', null], ['enrollments', 'full', null], ['categories', 'full', null], ['lineItems', 'full', null], ['assessmentLineItems', 'full', null],
      ['results', 'full', null], ['assessmentResults', 'full', null],
    ]);
    expect(first.counts).toMatchObject({ inserted: 22, rejected: 10, deleted: 0 });
    expect(first.rejects.map((r) => [r.stream, r.location, r.code])).toEqual([
      ['academicSessions', 'GET /academicSessions?offset=2 $.academicSessions[0]', 'row_malformed'],
      ['classes', 'GET /classes?offset=0 $.classes[1]', 'record_invalid'],
      ['users', 'GET /users?offset=2 $.users[0]', 'row_malformed'],
      ['users', 'GET /users?offset=2 $.users[1]', 'record_invalid'],
      ['roles', 'GET /users?offset=2 $.users[1].roles[0]', 'record_invalid'],
      // The runtime's own: u-3 was rejected, so its role cannot point at it.
      ['roles', 'GET /users?offset=2 $.users[0].roles[0]', 'reference_unresolved'],
      ['demographics', 'GET /demographics?offset=0 $.demographics[1]', 'row_malformed'],
      ['enrollments', 'GET /enrollments?offset=2 $.enrollments[0]', 'record_invalid'],
      ['assessmentLineItems', 'GET /assessmentLineItems?offset=0 $.assessmentLineItems[1]', 'record_invalid'],
      ['results', 'GET /results?offset=0 $.results[1]', 'row_malformed'],
    ]);
    const state = Object.fromEntries((await db.knex('connector_state').where({ tenant_id: 't1', connector_id: 'sis' })).map((r: { stream: string; cursor: string }) => [r.stream, JSON.parse(r.cursor)]));
    expect(state.users).toEqual({ since: '2025-09-04T07:45:00.000Z', offset: 0, complete: true });
    expect(state.orgs).toEqual({ since: '2025-09-02T08:30:00.000Z', offset: 0, complete: true });
    expect(JSON.stringify(await db.knex('source_records').select('raw'))).not.toContain('fictional-password');

    // Run 2: every stream has a watermark. Probes filter on it; only users (and roles) have changes.
    const filterOf = (q: Record<string, unknown>) => String(q.filter ?? '');
    for (const [name, root, key] of STREAMS) {
      if (key === 'users') continue;
      nock(HOST).get(`${root}/${key}`).query((q) => q.limit === '1' && filterOf(q) === `dateLastModified>'${state[name].since}'`).reply(200, { [key]: [] }, JSON_HEADERS);
    }
    const delta = (offset: number) => recorded('v1p2/users.delta.json', `${ROSTER}/users?limit=2&offset=${offset}&filter=dateLastModified%3E%272025-09-10T00%3A00%3A00.000Z%27`);
    const usersSince = "dateLastModified>'2025-09-04T07:45:00.000Z'";
    // One probe (users and roles ask the same), then two pages for users and two for roles.
    nock(HOST).get(`${ROSTER}/users`).query((q) => q.limit === '1' && filterOf(q) === usersSince).reply(200, { users: [{ sourcedId: 'u-1' }] }, JSON_HEADERS);
    for (let i = 0; i < 2; i++) {
      for (const offset of [0, 2]) {
        const d = delta(offset);
        nock(HOST).get(`${ROSTER}/users`).query((q) => q.limit === '2' && q.offset === String(offset) && filterOf(q) === usersSince).reply(200, d.response, d.rawHeaders);
      }
    }
    const second = await runSync(deps, { tenantId: 't1', connectorId: 'sis' });
    expect([second.status, second.error]).toEqual(['succeeded', undefined]);
    const by = Object.fromEntries(second.streams.map((s) => [s.stream, s]));
    expect(by.orgs.skipped).toBe('no changes since 2025-09-02T08:30:00.000Z');
    expect([by.users.mode, by.users.counts]).toEqual(['incremental', expect.objectContaining({ read: 3, inserted: 1, updated: 1, deleted: 1 })]);
    expect([by.roles.mode, by.roles.counts]).toEqual(['incremental', expect.objectContaining({ read: 3, inserted: 1, updated: 1, deleted: 1 })]);
    const u2 = await db.knex('source_records').where({ tenant_id: 't1', connector_id: 'sis', entity_type: 'person', source_id: 'u-2' }).first();
    expect(u2.deleted_at).not.toBeNull();
    const after = Object.fromEntries((await db.knex('connector_state').where({ tenant_id: 't1', connector_id: 'sis' })).map((r: { stream: string; cursor: string }) => [r.stream, JSON.parse(r.cursor)]));
    expect(after.users).toEqual({ since: '2025-09-14T18:00:00.000Z', offset: 0, complete: true });
    expect(after.orgs).toEqual(state.orgs);
  });
});
