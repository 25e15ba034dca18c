/**
 * The API's edges: authentication and authorization, the error envelope, security headers, request logging and
 * the health check — on SQLite and PostgreSQL.
 */
import { createHash } from 'node:crypto';
import pino from 'pino';
import request from 'supertest';
import type express from 'express';
import { describeEachDb } from './helpers/db';
import { FAKE_SOURCES, fakeConnector, person } from './helpers/fake-connector';
import { validateConfig } from '../src/core/config';
import { registerConnector } from '../src/ingest/registry';
import type { Connector } from '../src/ingest/contract';
import { ensureTenants } from '../src/store/tenants';
import { runSync } from '../src/ingest/runner';
import { buildApp, drainBackgroundRuns } from '../src/serve/app';
import type { Db } from '../src/store/db';

// Reads only once the test opens the gate: a run that is still going when the database disappears.
let openGate: () => void = () => undefined;
let gate = Promise.resolve();
const gatedConnector: Connector<{ source: string }> = {
  ...fakeConnector,
  manifest: { ...fakeConnector.manifest, id: 'gated' },
  async *read(stream, settings, ctx) {
    await gate;
    yield* fakeConnector.read(stream, settings, ctx);
  },
};
registerConnector('gated', gatedConnector as Connector<never>);

const sha = (k: string) => createHash('sha256').update(k).digest('hex');
const KEY = { admin: 'adm-key-7c1e2f', reader: 'rdr-key-a9b8c7', ops: 'ops-key-3d4e5f', t2: 't2-key-0f0f0f', star: 'star-key-112233' };
const ENV = { API_AUTH_ADMIN_KEY: KEY.admin };

const config = () =>
  validateConfig(
    {
      tenants: [
        {
          id: 't1',
          name: 'Tenant One',
          connectors: [
            { id: 'src', type: 'fake', settings: { source: 'main' } },
            { id: 'slow', type: 'gated', settings: { source: 'main' } },
          ],
        },
        { id: 't2', name: 'Tenant Two', connectors: [{ id: 'src', type: 'fake', settings: { source: 'main' } }] },
      ],
      apiKeys: [
        { name: 'admin', key: { $env: 'API_AUTH_ADMIN_KEY' }, tenants: ['*'], scopes: ['admin'] },
        { name: 'reader', sha256: sha(KEY.reader), tenants: ['t1'], scopes: ['roster.read'] },
        { name: 'ops', sha256: sha(KEY.ops), tenants: ['t1'], scopes: ['runs.read', 'sync.run'] },
        { name: 't2-only', sha256: sha(KEY.t2), tenants: ['t2'], scopes: ['roster.read', 'runs.read', 'sync.run'] },
        { name: 'everywhere', sha256: sha(KEY.star), tenants: ['*'], scopes: ['roster.read'] },
      ],
    },
    '(test)',
    process.cwd(),
    ENV,
  );

describeEachDb('HTTP API edges', (t) => {
  let db: Db;
  let app: express.Express;
  let logs: string[];

  beforeEach(async () => {
    db = await t.open();
    const cfg = config();
    await ensureTenants(db, cfg.config);
    FAKE_SOURCES.set('main', { streams: { people: { mode: 'full', pages: [{ records: [person('p1'), person('p2')] }] } } });
    await runSync({ db, config: cfg }, { tenantId: 't1', connectorId: 'src' });
    logs = [];
    const log = pino({ level: 'info' }, { write: (s: string) => void logs.push(s) });
    app = buildApp({ db, config: cfg, log, env: ENV });
  });
  afterEach(async () => {
    await drainBackgroundRuns(app);
    await db.close().catch(() => undefined);
    FAKE_SOURCES.clear();
  });

  const expectEnvelope = (body: unknown, code: string) =>
    expect(body).toEqual({ error: { code, message: expect.any(String), details: expect.any(Array) } });

  describe('authentication', () => {
    it('accepts Bearer and X-API-Key, and keys given as an environment secret', async () => {
      expect((await request(app).get('/api/v1/tenants/t1/persons').set('Authorization', `Bearer ${KEY.reader}`)).status).toBe(200);
      expect((await request(app).get('/api/v1/tenants/t1/persons').set('Authorization', `bearer ${KEY.reader}`)).status).toBe(200);
      expect((await request(app).get('/api/v1/tenants/t1/persons').set('X-API-Key', KEY.reader)).status).toBe(200);
      expect((await request(app).get('/api/v1/tenants/t1/persons').set('X-API-Key', KEY.admin)).status).toBe(200);
    });

    it('answers 401 with WWW-Authenticate for no key, a wrong key or a malformed header', async () => {
      const cases: [string, Record<string, string>][] = [
        ['no key', {}],
        ['wrong key', { Authorization: 'Bearer not-a-key' }],
        ['wrong X-API-Key', { 'X-API-Key': 'not-a-key' }],
        ['hash instead of key', { Authorization: `Bearer ${sha(KEY.reader)}` }],
        ['Basic scheme', { Authorization: `Basic ${Buffer.from(`u:${KEY.reader}`).toString('base64')}` }],
        ['Bearer without key', { Authorization: 'Bearer ' }],
        ['key with a space', { Authorization: `Bearer ${KEY.reader} extra` }],
        ['bare key', { Authorization: KEY.reader }],
        ['very long key', { Authorization: `Bearer ${'x'.repeat(5000)}` }],
      ];
      for (const [name, headers] of cases) {
        const res = await request(app).get('/api/v1/tenants').set(headers);
        expect([name, res.status]).toEqual([name, 401]);
        expectEnvelope(res.body, 'unauthenticated');
        expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      }
      // Even routes that do not exist: nothing is revealed before authentication.
      expect((await request(app).get('/api/v1/nope')).status).toBe(401);
    });

    it('refuses to build with a key whose secret is missing, or two entries for one key', () => {
      const cfg = config();
      expect(() => buildApp({ db, config: cfg, env: {} })).toThrow(expect.objectContaining({ code: 'secret_missing' }));
      const dup = validateConfig({ ...cfg.config, apiKeys: [...cfg.config.apiKeys!, { name: 'again', sha256: sha(KEY.reader), tenants: ['t1'], scopes: ['admin'] }] }, '(test)', process.cwd(), ENV);
      expect(() => buildApp({ db, config: dup, env: ENV })).toThrow(expect.objectContaining({ code: 'config_invalid' }));
    });
  });

  describe('authorization', () => {
    it('answers 403 for a tenant outside the key, and the same 403 for a tenant that does not exist', async () => {
      const other = await request(app).get('/api/v1/tenants/t1/persons').set('X-API-Key', KEY.t2);
      expect(other.status).toBe(403);
      expectEnvelope(other.body, 'forbidden');
      const ghost = await request(app).get('/api/v1/tenants/t9/persons').set('X-API-Key', KEY.t2);
      expect(ghost.status).toBe(403);
      expect(ghost.body).toEqual(other.body);
      // A key for every tenant cannot tell a missing tenant from a forbidden one either.
      const ghostStar = await request(app).get('/api/v1/tenants/t9/persons').set('X-API-Key', KEY.star);
      expect(ghostStar.status).toBe(403);
      expect(ghostStar.body).toEqual(other.body);
      expect((await request(app).get('/api/v1/tenants/t2/persons').set('X-API-Key', KEY.star)).status).toBe(200);
      expect((await request(app).get('/api/v1/tenants').set('X-API-Key', KEY.t2)).body.data).toEqual([{ id: 't2', name: 'Tenant Two' }]);
    });

    it('answers 403 for a key without the scope', async () => {
      const sync = await request(app).post('/api/v1/tenants/t1/connectors/src/sync').set('X-API-Key', KEY.reader).send({});
      expect(sync.status).toBe(403);
      expectEnvelope(sync.body, 'forbidden');
      expect(await db.knex('runs').where({ trigger: 'api' })).toHaveLength(0);
      expect((await request(app).get('/api/v1/tenants/t1/runs').set('X-API-Key', KEY.reader)).status).toBe(403);
      expect((await request(app).get('/api/v1/tenants/t1/connectors').set('X-API-Key', KEY.reader)).status).toBe(403);
      expect((await request(app).get('/api/v1/tenants/t1/persons').set('X-API-Key', KEY.ops)).status).toBe(403);
      expect((await request(app).post('/api/v1/tenants/t1/runs/run_x/approve').set('X-API-Key', KEY.reader)).status).toBe(403);
      // admin implies every scope
      expect((await request(app).get('/api/v1/tenants/t2/runs').set('X-API-Key', KEY.admin)).status).toBe(200);
      expect((await request(app).get('/api/v1/tenants/t2/connectors').set('X-API-Key', KEY.admin)).status).toBe(200);
    });
  });

  describe('errors, headers and logs', () => {
    it('uses the envelope for unknown routes and methods', async () => {
      const outside = await request(app).get('/nope');
      expect(outside.status).toBe(404);
      expectEnvelope(outside.body, 'not_found');
      const inside = await request(app).get('/api/v1/nope').set('X-API-Key', KEY.admin);
      expect(inside.status).toBe(404);
      expectEnvelope(inside.body, 'not_found');
      const method = await request(app).delete('/api/v1/tenants/t1/persons').set('X-API-Key', KEY.admin);
      expect(method.status).toBe(404);
      expectEnvelope(method.body, 'not_found');
      const demographics = await request(app).get('/api/v1/tenants/t1/demographics').set('X-API-Key', KEY.admin);
      expect(demographics.status).toBe(404);
    });

    it('refuses a body over 1 MB with the envelope', async () => {
      const res = await request(app).post('/api/v1/tenants/t1/connectors/src/sync').set('X-API-Key', KEY.ops)
        .set('Content-Type', 'application/json').send(JSON.stringify({ pad: 'x'.repeat(1_100_000) }));
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'bad_request', details: [{ path: 'body' }] });
    });

    it('sets security headers and no x-powered-by', async () => {
      for (const path of ['/api/v1/tenants', '/healthz', '/nope']) {
        const res = await request(app).get(path).set('X-API-Key', KEY.admin);
        expect(res.headers['x-powered-by']).toBeUndefined();
        expect(res.headers['x-content-type-options']).toBe('nosniff');
        expect(res.headers['cache-control']).toBe('no-store');
        expect(res.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
        expect(res.headers['content-type']).toMatch(/^application\/json/);
      }
    });

    it('answers 500 internal_error with a generic message and logs the stack, never the body', async () => {
      await db.knex.schema.dropTable('records');
      const res = await request(app).get('/api/v1/tenants/t1/persons').set('X-API-Key', KEY.reader);
      expect(res.status).toBe(500);
      expect(res.body).toEqual({ error: { code: 'internal_error', message: 'Unexpected internal error.', details: [] } });
      expect(JSON.stringify(res.body)).not.toMatch(/records|sqlite|relation|select/i);
      const failed = logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'request failed');
      expect(failed).toMatchObject({ level: 50, route: '/api/v1/tenants/:tenant/persons', code: 'internal_error', reqId: res.headers['x-request-id'] });
      expect(failed.err).toMatch(/records/);
    });

    it('logs one line per request with the route pattern, status and duration — no query values, bodies or keys', async () => {
      await request(app).get('/api/v1/tenants/t1/persons?limit=7&cursor=c2VjcmV0LXZhbHVl').set('X-API-Key', KEY.reader);
      await request(app).get('/api/v1/tenants/t1/persons').set('Authorization', `Bearer ${KEY.ops}`);
      await request(app).post('/api/v1/tenants/t1/connectors/src/sync').set('X-API-Key', KEY.ops).send({ dryRun: true });
      await request(app).get('/api/v1/tenants').set('Authorization', 'Bearer wrong-key-value');
      await drainBackgroundRuns(app);
      const lines = logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request');
      expect(lines).toHaveLength(4);
      expect(lines[0]).toMatchObject({ method: 'GET', route: '/api/v1/tenants/:tenant/persons', status: 400, apiKey: 'reader', code: 'bad_request', durationMs: expect.any(Number) });
      expect(lines[1]).toMatchObject({ route: '/api/v1/tenants/:tenant/persons', status: 403, apiKey: 'ops', code: 'forbidden' });
      expect(lines[2]).toMatchObject({ method: 'POST', route: '/api/v1/tenants/:tenant/connectors/:connector/sync', status: 202 });
      expect(lines[3]).toMatchObject({ route: null, status: 401, code: 'unauthenticated' });
      const all = logs.join('\n');
      for (const secret of [...Object.values(KEY), 'wrong-key-value', 'c2VjcmV0LXZhbHVl', 'limit=7']) expect(all).not.toContain(secret);
    });
  });

  describe('background runs', () => {
    it('catches and logs a run that fails after the 202 — never an unhandled rejection', async () => {
      const unhandled: unknown[] = [];
      const onUnhandled = (e: unknown) => void unhandled.push(e);
      process.on('unhandledRejection', onUnhandled);
      try {
        gate = new Promise<void>((r) => (openGate = r));
        const res = await request(app).post('/api/v1/tenants/t1/connectors/slow/sync').set('X-API-Key', KEY.ops).send({});
        expect(res.status).toBe(202);
        await db.close(); // the run can neither write its pages nor record its end
        openGate();
        await drainBackgroundRuns(app);
        await new Promise((r) => setTimeout(r, 50));
        const entries = logs.map((l) => JSON.parse(l));
        expect(entries).toContainEqual(expect.objectContaining({ level: 50, msg: 'background sync failed after it started', tenant: 't1', connector: 'slow' }));
        expect(unhandled).toEqual([]);
      } finally {
        process.off('unhandledRejection', onUnhandled);
        openGate();
        gate = Promise.resolve();
      }
    });
  });

  describe('health', () => {
    it('answers 200 with the database up, without auth and without anything else', async () => {
      const res = await request(app).get('/healthz');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: 'ok', database: 'ok' });
    });

    it('answers 503 once the database is closed', async () => {
      await db.close();
      const res = await request(app).get('/healthz');
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ status: 'unavailable', database: 'unreachable' });
      // API routes answer database_unavailable, not a 500.
      const api = await request(app).get('/api/v1/tenants/t1/persons').set('X-API-Key', KEY.reader);
      expect(api.status).toBe(503);
      expectEnvelope(api.body, 'database_unavailable');
    });
  });
});
