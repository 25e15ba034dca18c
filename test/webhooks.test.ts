/**
 * Webhooks end to end on SQLite and PostgreSQL: subscriptions through the API, the dispatcher fanning change_log
 * and outbox events out to a real local receiver (express on port 0) that checks signatures with its own
 * implementation of the Standard Webhooks convention; timeouts, 500s, backoff, dead letters, redelivery, redirects
 * not followed, SSRF refusals at creation and at delivery, a crash between change and delivery, two dispatchers at
 * once, secret rotation, automatic disabling with an operator notification, and scope/tenant isolation.
 */
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import pino from 'pino';
import request from 'supertest';
import { describeEachDb } from './helpers/db';
import { FAKE_SOURCES, org, person, enrollment } from './helpers/fake-connector';
import type { SourceRecord } from '../src/ingest/contract';
import { validateConfig } from '../src/core/config';
import { ensureTenants } from '../src/store/tenants';
import { runSync } from '../src/ingest/runner';
import { buildApp, drainBackgroundRuns } from '../src/serve/app';
import { listDisclosures } from '../src/serve/disclosures';
import { WebhookDispatcher } from '../src/webhooks/dispatcher';
import { newWebhookSecret } from '../src/webhooks/signing';
import { WebhookSender } from '../src/webhooks/sender';
import type { Db } from '../src/store/db';

const sha = (k: string) => createHash('sha256').update(k).digest('hex');
const KEY = { admin: 'wh-admin-000000', hooks: 'wh-hooks-111111', hooks2: 'wh-hooks2-22222', reader: 'wh-reader-33333', ops: 'wh-ops-4444444' };
const CFG_SECRET = newWebhookSecret();
const ENV = { HUB_SECRET_KEY: 'test-master-key-for-webhooks', WH_CFG_SECRET: CFG_SECRET };

/** Standard Webhooks verification written from the convention, independent of src/webhooks/signing.ts. */
function verify(secret: string, id: string, ts: string, body: string, header: string): boolean {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64');
  return header.split(' ').some((p) => p === `v1,${expected}`);
}

interface Received {
  path: string;
  id: string;
  ts: string;
  sig: string;
  contentType: string;
  body: string;
}

/** A webhook receiver; behaviour by path (mutable). */
async function startReceiver() {
  const got: Received[] = [];
  const behaviour: Record<string, 'ok' | 'fail' | 'hang' | 'redirect-local' | 'redirect-metadata'> = {};
  let targetPort = 0;
  const app = express();
  app.use(express.raw({ type: () => true }), (req, res) => {
    got.push({
      path: req.path, id: String(req.headers['webhook-id']), ts: String(req.headers['webhook-timestamp']), sig: String(req.headers['webhook-signature']),
      contentType: String(req.headers['content-type']), body: Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '',
    });
    const mode = behaviour[req.path] ?? (req.path.startsWith('/fail') ? 'fail' : 'ok');
    if (mode === 'hang') return; // never answers
    if (mode === 'fail') return void res.status(500).send('x'.repeat(1000));
    if (mode === 'redirect-local') return void res.redirect(302, `http://127.0.0.1:${targetPort}/stolen`);
    if (mode === 'redirect-metadata') return void res.redirect(302, 'http://169.254.169.254/latest/meta-data/');
    res.status(204).end();
  });
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  // Where a followed redirect would land.
  const stolen: string[] = [];
  const target = http.createServer((req, res) => {
    stolen.push(req.url ?? '');
    res.end('ok');
  });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  targetPort = (target.address() as AddressInfo).port;
  const port = (server.address() as AddressInfo).port;
  return {
    got, behaviour, stolen, port,
    url: (path: string, host = '127.0.0.1') => `http://${host}:${port}${path}`,
    of: (path: string) => got.filter((g) => g.path === path),
    async close() {
      server.closeAllConnections();
      target.closeAllConnections();
      await new Promise((r) => server.close(r));
      await new Promise((r) => target.close(r));
    },
  };
}
type Receiver = Awaited<ReturnType<typeof startReceiver>>;

const people = (n: number, prefix = 'p', name = 'Given') => Array.from({ length: n }, (_, i) => person(`${prefix}${i}`, `${name}${i}`));
function source(name: string, persons: SourceRecord[], enrollments: SourceRecord[] = []) {
  const base: SourceRecord[] = [
    org('d1'), org('s1', 'School', 'd1'),
    { type: 'academicSession', sourceId: 'term1', data: { title: 'Term', type: 'term', startDate: '2025-09-01', endDate: '2026-06-30', schoolYear: '2026' } },
    { type: 'course', sourceId: 'crs1', data: { title: 'Course', orgId: 's1' } },
    { type: 'class', sourceId: 'c1', data: { title: 'Class', classType: 'scheduled', courseId: 'crs1', schoolId: 's1', termIds: ['term1'] } },
  ];
  const streams: Record<string, SourceRecord[][]> = { orgs: [base], people: [persons] };
  if (enrollments.length) streams.enrollments = [enrollments];
  FAKE_SOURCES.set(name, { streams: Object.fromEntries(Object.entries(streams).map(([s, pages]) => [s, { mode: 'full' as const, pages: pages.map((records) => ({ records })) }])) });
}

function makeConfig(rx: Receiver) {
  return validateConfig(
    {
      tenants: [
        {
          id: 't1', name: 'One',
          connectors: [{ id: 'src', type: 'fake', settings: { source: 'one' }, sweep: { maxDeleteShare: 1 } }],
          webhooks: { allowPrivateTargets: true, secretOverlapHours: 1, autoDisable: { consecutiveDeadLetters: 2, failingForHours: 1 }, operatorWebhook: rx.url('/ops') },
        },
        {
          id: 't2', name: 'Two',
          connectors: [{ id: 'src', type: 'fake', settings: { source: 'two' } }],
          webhooks: { subscriptions: [{ id: 'cfg-local', url: rx.url('/cfg', 'localhost'), events: ['learner.updated', 'sync.completed'], secret: { $env: 'WH_CFG_SECRET' } }] },
        },
      ],
      apiKeys: [
        { name: 'admin', sha256: sha(KEY.admin), tenants: ['*'], scopes: ['admin'] },
        { name: 'hooks', sha256: sha(KEY.hooks), tenants: ['t1'], scopes: ['webhooks.manage'] },
        { name: 'hooks2', sha256: sha(KEY.hooks2), tenants: ['t2'], scopes: ['webhooks.manage'] },
        { name: 'reader', sha256: sha(KEY.reader), tenants: ['t1'], scopes: ['roster.read'] },
        { name: 'ops', sha256: sha(KEY.ops), tenants: ['t1'], scopes: ['runs.read'] },
      ],
    },
    '(test)', process.cwd(), ENV,
  );
}

describeEachDb('webhooks', (t) => {
  let db: Db;
  let rx: Receiver;
  let cfg: ReturnType<typeof makeConfig>;
  let app: express.Express;
  let clock: number;
  let logLines: string[];
  const dispatchers: WebhookDispatcher[] = [];

  const api = (method: 'get' | 'post' | 'patch' | 'delete', path: string, key = KEY.hooks, body?: object) => {
    const r = request(app)[method](`/api/v1${path}`).set('Authorization', `Bearer ${key}`);
    return body ? r.send(body) : r;
  };
  const dispatcher = (o: Partial<ConstructorParameters<typeof WebhookDispatcher>[0]> = {}) => {
    const log = pino({ level: 'info' }, { write: (s: string) => void logLines.push(s) });
    const d = new WebhookDispatcher({
      db, config: cfg, env: ENV, log, now: () => clock, random: () => 0.5, leaseMs: 5000,
      overrides: { retry: { maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 60_000 }, timeoutMs: 400 }, ...o,
    });
    dispatchers.push(d);
    return d;
  };
  /** Ticks until a round does nothing. */
  const settle = async (d: WebhookDispatcher) => {
    for (let i = 0; i < 20; i++) if (!(await d.tick())) return;
    throw new Error('dispatcher never idle');
  };
  const subscribe = async (url: string, eventTypes: string[], key = KEY.hooks, tenant = 't1') => {
    const res = await api('post', `/tenants/${tenant}/webhooks`, key, { url, eventTypes, description: 'test' });
    expect(res.status).toBe(201);
    return res.body.data as { id: string; secret: string; enabled: boolean };
  };
  const deliveries = async (subId: string) => db.knex('webhook_deliveries').where({ subscription_id: subId }).orderBy('created_at');

  beforeEach(async () => {
    db = await t.open();
    rx = await startReceiver();
    cfg = makeConfig(rx);
    await ensureTenants(db, cfg.config);
    clock = Date.now();
    logLines = [];
    source('one', people(3), [enrollment('e1', 'p0')]);
    source('two', people(2, 'q'));
    app = buildApp({ db, config: cfg, env: ENV });
  });
  afterEach(async () => {
    for (const d of dispatchers.splice(0)) await d.stop();
    await drainBackgroundRuns(app);
    await rx.close();
    await db.close();
    FAKE_SOURCES.clear();
  });

  it('delivers thin, signed events for entity changes and finished runs, and logs each delivery as a disclosure', async () => {
    const sub = await subscribe(rx.url('/ok', 'localhost'), ['learner.updated', 'enrollment.changed', 'sync.completed']);
    expect(sub.secret).toMatch(/^whsec_/);
    const stored = await db.knex('webhook_subscriptions').where({ id: sub.id }).first();
    expect(stored.secret_enc).toMatch(/^v1:/);
    expect(JSON.stringify(stored)).not.toContain(sub.secret.slice(6));

    // A change before the subscription existed is not sent; this run's changes are.
    const run = await runSync({ db, config: cfg }, { tenantId: 't1', connectorId: 'src' });
    expect(run.status).toBe('succeeded');
    const d = dispatcher();
    await settle(d);

    const changes = await db.knex('change_log').where({ tenant_id: 't1' }).whereIn('entity_type', ['person', 'enrollment']).orderBy('seq');
    const got = rx.of('/ok');
    expect(got).toHaveLength(changes.length + 1);
    expect(new Set(got.map((g) => g.id)).size).toBe(got.length);
    for (const g of got) {
      expect(g.contentType).toBe('application/json');
      expect(Math.abs(Number(g.ts) - Math.floor(clock / 1000))).toBeLessThanOrEqual(1);
      expect(verify(sub.secret, g.id, g.ts, g.body, g.sig)).toBe(true);
      expect(verify(sub.secret, g.id, g.ts, `${g.body} `, g.sig)).toBe(false);
      expect(verify(sub.secret, g.id, g.ts, g.body.replace('"data":{', '"data":{"x":1,'), g.sig)).toBe(false);
      expect(g.body).not.toMatch(/Given|Family|"sis"/); // thin: never field values
    }
    const bodies = got.map((g) => JSON.parse(g.body));
    const persons = bodies.filter((b) => b.type === 'learner.updated');
    expect(persons).toHaveLength(3);
    expect(persons[0]).toEqual({ type: 'learner.updated', timestamp: expect.any(String), data: expect.objectContaining({ tenantId: 't1', entityType: 'person', op: 'create', seq: expect.any(Number), changedFields: [], runId: run.id }) });
    const enr = bodies.find((b) => b.type === 'enrollment.changed');
    const p0 = (await db.knex('source_records').where({ tenant_id: 't1', entity_type: 'person', source_id: 'p0' }).first()).unified_id;
    expect(enr.data).toMatchObject({ entityType: 'enrollment', personId: p0 });
    expect(bodies.find((b) => b.type === 'sync.completed').data).toMatchObject({ tenantId: 't1', runId: run.id, connectorId: 'src', status: 'succeeded', counts: expect.objectContaining({ read: expect.any(Number) }) });

    // An update carries the changed field names only.
    source('one', [person('p0', 'Renamed0'), ...people(3).slice(1)], [enrollment('e1', 'p0')]);
    await runSync({ db, config: cfg }, { tenantId: 't1', connectorId: 'src' });
    await settle(d);
    const upd = rx.of('/ok').map((g) => JSON.parse(g.body)).find((b) => b.type === 'learner.updated' && b.data.op === 'update');
    expect(upd.data).toMatchObject({ entityId: p0, changedFields: ['givenName'] });
    expect(JSON.stringify(upd)).not.toContain('Renamed0');

    // Delivery log through the API; every delivery is in the disclosure log, recipient webhook:<id>.
    const list = await api('get', `/tenants/t1/webhooks/${sub.id}/deliveries?limit=100`);
    expect(list.status).toBe(200);
    expect(list.body.data.every((x: { status: string }) => x.status === 'succeeded')).toBe(true);
    const one = await api('get', `/tenants/t1/webhooks/${sub.id}/deliveries/${got[0].id}`);
    expect(one.body.data.attemptLog).toEqual([expect.objectContaining({ attempt: 1, statusCode: 204, outcome: 'succeeded', errorClass: null })]);
    const disclosures = await db.knex('disclosures').where({ tenant_id: 't1', channel: 'webhook' });
    expect(disclosures).toHaveLength(rx.of('/ok').length - 2); // not the two sync.completed
    expect(disclosures[0].recipient).toBe(`webhook:${sub.id}`);
    const aboutP0 = (await listDisclosures(db, 't1', { personId: p0, limit: 100 })).filter((d) => d.channel === 'webhook');
    expect(aboutP0.length).toBeGreaterThanOrEqual(3); // created, enrolled, renamed
    expect(logLines.join('')).not.toContain('whsec_');
  });

  it('retries a receiver that hangs (timeout), then delivers with the same webhook-id', async () => {
    rx.behaviour['/slow'] = 'hang';
    const sub = await subscribe(rx.url('/slow'), ['sync.completed']);
    await runSync({ db, config: cfg }, { tenantId: 't1', connectorId: 'src' });
    const d = dispatcher();
    await settle(d);
    let [row] = await deliveries(sub.id);
    expect(row).toMatchObject({ status: 'retrying', last_error: 'timeout' });
    expect(Number(row.attempts)).toBe(1);
    expect(Date.parse(row.next_attempt_at) - clock).toBe(500); // random 0.5 x base 1 s
    rx.behaviour['/slow'] = 'ok';
    await settle(d);
    expect(rx.of('/slow')).toHaveLength(1); // not due yet
    clock += 1000;
    await settle(d);
    [row] = await deliveries(sub.id);
    expect(row.status).toBe('succeeded');
    const ids = rx.of('/slow').map((g) => g.id);
    expect(ids).toEqual([row.id, row.id]);
  });

  it('backs off on 500, dead-letters after the last attempt, and redelivers on request', async () => {
    const sub = await subscribe(rx.url('/fail'), ['sync.completed']);
    await runSync({ db, config: cfg }, { tenantId: 't1', connectorId: 'src' });
    const d = dispatcher();
    const t0 = clock;
    await settle(d);
    let [row] = await deliveries(sub.id);
    expect(Date.parse(row.next_attempt_at) - t0).toBe(500);
    clock += 500;
    await settle(d);
    [row] = await deliveries(sub.id);
    expect(Number(row.attempts)).toBe(2);
    expect(Date.parse(row.next_attempt_at) - clock).toBe(1000); // 0.5 x 2 s
    clock += 1000;
    await settle(d);
    [row] = await deliveries(sub.id);
    expect(row).toMatchObject({ status: 'dead', last_status_code: 500, last_error: 'http_status' });
    clock += 3600_000;
    await settle(d);
    expect(rx.of('/fail')).toHaveLength(3);
    const log = (await api('get', `/tenants/t1/webhooks/${sub.id}/deliveries/${row.id}`)).body.data;
    expect(log.status).toBe('dead');
    expect(log.attemptLog.map((a: { statusCode: number; errorClass: string }) => [a.statusCode, a.errorClass])).toEqual([[500, 'http_status'], [500, 'http_status'], [500, 'http_status']]);
    expect(log.attemptLog[0].responseSnippet).toHaveLength(200);

    // Redelivery: same webhook-id, to a receiver that works now.
    expect((await api('get', `/tenants/t1/webhooks/${sub.id}/deliveries?status=dead`)).body.data).toHaveLength(1);
    const again = await api('post', `/tenants/t1/webhooks/${sub.id}/deliveries/${row.id}/redeliver`);
    expect(again.status).toBe(202);
    expect(again.body.data).toMatchObject({ id: row.id, status: 'pending', attempts: 0 });
    rx.behaviour['/fail'] = 'ok';
    await settle(d);
    [row] = await deliveries(sub.id);
    expect(row.status).toBe('succeeded');
    expect(new Set(rx.of('/fail').map((g) => g.id))).toEqual(new Set([row.id]));
    expect(rx.of('/fail')).toHaveLength(4);
    expect((await api('post', `/tenants/t1/webhooks/${sub.id}/deliveries/msg_nope/redeliver`)).status).toBe(404);
  });

  it('does not follow redirects (to loopback or to the metadata address): a 3xx is a failure', async () => {
    rx.behaviour['/r1'] = 'redirect-local';
    rx.behaviour['/r2'] = 'redirect-metadata';
    const a = await subscribe(rx.url('/r1'), ['sync.completed']);
    const b = await subscribe(rx.url('/r2'), ['sync.completed']);
    await runSync({ db, config: cfg }, { tenantId: 't1', connectorId: 'src' });
    await settle(dispatcher());
    for (const s of [a, b]) {
      const [row] = await deliveries(s.id);
      expect(row).toMatchObject({ status: 'retrying', last_status_code: 302, last_error: 'redirect' });
    }
    expect(rx.stolen).toEqual([]);
  });

  it('refuses non-public targets at creation without the allowance, and at delivery after a name or URL is re-pointed', async () => {
    for (const url of [
      'http://127.0.0.1/x', 'http://[::1]/x', 'http://[::ffff:127.0.0.1]/x', 'http://10.0.0.1/x', 'http://172.16.0.1/x', 'http://192.168.0.1/x',
      'http://169.254.169.254/latest/meta-data/', 'http://100.64.0.1/x', 'http://0.0.0.0/x', 'http://224.0.0.1/x', 'http://[fc00::1]/x', 'http://[fe80::1]/x',
      `http://localhost:${rx.port}/x`, 'ftp://93.184.216.34/x', 'http://u:p@93.184.216.34/x',
    ]) {
      const res = await api('post', '/tenants/t2/webhooks', KEY.hooks2, { url, eventTypes: ['learner.updated'] });
      expect([url, res.status, res.body.error?.code]).toEqual([url, 400, 'webhook_target_refused']);
      expect(res.body.error.details[0].path).toBe('url');
    }
    const pub = await subscribe('http://93.184.216.34/hook', ['learner.updated', 'sync.completed'], KEY.hooks2, 't2');
    // The URL now points at the receiver on loopback (as a DNS change would): refused at delivery.
    await db.knex('webhook_subscriptions').where({ id: pub.id }).update({ url: rx.url('/repointed') });
    const d = dispatcher();
    await settle(d); // mirrors the configured subscription (it starts at the head of the feed)
    await runSync({ db, config: cfg }, { tenantId: 't2', connectorId: 'src' });
    await settle(d);
    // The configured subscription uses localhost (resolves to 127.0.0.1), the tenant has no allowance.
    for (const id of [pub.id, 'cfg-local']) {
      const rows = await deliveries(id);
      expect(rows.length).toBeGreaterThan(0);
      for (const r of rows) expect(r).toMatchObject({ status: 'retrying', last_error: 'target_refused', last_status_code: null });
    }
    expect(rx.of('/repointed')).toHaveLength(0);
    expect(rx.of('/cfg')).toHaveLength(0);
    const attempt = await db.knex('webhook_attempts').where({ subscription_id: 'cfg-local' }).first();
    expect(attempt.error_message).toMatch(/loopback/);
  });

  it('loses nothing when a process dies between change and delivery, and two dispatchers never send an event twice', async () => {
    const sub = await subscribe(rx.url('/ok'), ['learner.updated']);
    source('one', people(12));
    await runSync({ db, config: cfg }, { tenantId: 't1', connectorId: 'src' });
    // Process A fans out, claims three deliveries, and dies before sending them.
    const a = dispatcher({ owner: 'A' });
    await a.fanOut('t1');
    const claimed = await a.claim(3, 2000);
    expect(claimed.rows).toHaveLength(3);
    // Process B starts: sends the rest now, A's three once A's lease has expired.
    const b = dispatcher({ owner: 'B' });
    await settle(b);
    expect(rx.of('/ok')).toHaveLength(9);
    clock += 2001;
    await settle(b);
    const events = await db.knex('change_log').where({ tenant_id: 't1', entity_type: 'person' });
    expect(events).toHaveLength(12);
    const ids = rx.of('/ok').map((g) => g.id);
    expect(ids).toHaveLength(12);
    expect(new Set(ids).size).toBe(12);
    expect((await deliveries(sub.id)).every((r: { status: string }) => r.status === 'succeeded')).toBe(true);

    // Two live dispatchers on the same database. B stops (giving up its leases); the dead A's fan-out lease expires.
    await b.stop();
    clock += 5000;
    source('one', people(12, 'p', 'Again'));
    await runSync({ db, config: cfg }, { tenantId: 't1', connectorId: 'src' });
    const c = dispatcher({ owner: 'C', batchSize: 2, concurrency: 2 });
    const e = dispatcher({ owner: 'E', batchSize: 2, concurrency: 2 });
    await Promise.all([settle(c), settle(e), settle(c), settle(e)]);
    await settle(c);
    const all = rx.of('/ok').map((g) => g.id);
    expect(all).toHaveLength(24);
    expect(new Set(all).size).toBe(24);
  });

  it('pipelined rounds (next batch leased while one is sent, batches recorded while the next are sent): each delivery sent and recorded once, nothing left leased', async () => {
    const ok = await subscribe(rx.url('/ok'), ['learner.updated']);
    const bad = await subscribe(rx.url('/fail'), ['learner.updated']);
    source('one', people(23));
    await runSync({ db, config: cfg }, { tenantId: 't1', connectorId: 'src' });
    const d = dispatcher({ batchSize: 5, concurrency: 3 });
    await settle(d);
    const okIds = rx.of('/ok').map((g) => g.id);
    expect(okIds).toHaveLength(23);
    expect(new Set(okIds).size).toBe(23);
    expect(new Set(rx.of('/fail').map((g) => g.id)).size).toBe(23);
    for (const r of await deliveries(ok.id)) expect([r.status, Number(r.attempts), r.lease_token, r.last_status_code]).toEqual(['succeeded', 1, null, 204]);
    for (const r of await deliveries(bad.id)) {
      expect([r.status, Number(r.attempts), r.lease_token, r.last_error]).toEqual(['retrying', 1, null, 'http_status']);
      expect(Date.parse(r.next_attempt_at) - clock).toBe(500);
    }
    const attempts = await db.knex('webhook_attempts').where({ tenant_id: 't1' });
    expect(attempts).toHaveLength(46);
    expect(new Set(attempts.map((a: { delivery_id: string }) => a.delivery_id)).size).toBe(46);
    // Disclosures for the successes only; health: the failing subscription's clock runs, the other's does not.
    expect(await db.knex('disclosures').where({ tenant_id: 't1', recipient: `webhook:${ok.id}` })).toHaveLength(23);
    expect(await db.knex('disclosures').where({ tenant_id: 't1', recipient: `webhook:${bad.id}` })).toHaveLength(0);
    const health = async (id: string) => (await api('get', `/tenants/t1/webhooks/${id}`)).body.data.health;
    expect(await health(ok.id)).toEqual({ consecutiveDeadLetters: 0, failingSince: null });
    expect((await health(bad.id)).failingSince).not.toBeNull();
    // A success later resets the failing subscription's health even though batches were claimed before it.
    rx.behaviour['/fail'] = 'ok';
    clock += 500;
    await settle(d);
    expect(await health(bad.id)).toEqual({ consecutiveDeadLetters: 0, failingSince: null });
    expect(new Set(rx.of('/fail').map((g) => g.id)).size).toBe(23);
  });

  it('never sends a delivery whose lease would run out before its timeout: it is released and sent under a later lease', async () => {
    const sub = await subscribe(rx.url('/ok'), ['learner.updated']);
    source('one', people(10));
    await runSync({ db, config: cfg }, { tenantId: 't1', connectorId: 'src' });
    // Every POST takes 300 ms of the (injected) clock; the lease is 2 s, the timeout 400 ms.
    const sender = new WebhookSender();
    const send = sender.send.bind(sender);
    const sentAt: number[] = [];
    sender.send = (...a: Parameters<WebhookSender['send']>) => {
      sentAt.push(clock);
      clock += 300;
      return send(...a);
    };
    const d = dispatcher({ sender, leaseMs: 2000, batchSize: 10, concurrency: 1 });
    await d.fanOut('t1');
    const t0 = clock;
    expect(await d.deliverBatch()).toBe(6);
    expect(sentAt.map((t) => t - t0)).toEqual([0, 300, 600, 900, 1200, 1500]); // 1800 + 400 would pass the lease
    let rows = await deliveries(sub.id);
    expect(rows.filter((r: { status: string }) => r.status === 'succeeded')).toHaveLength(6);
    const released = rows.filter((r: { status: string }) => r.status === 'pending');
    expect(released).toHaveLength(4);
    for (const r of released) expect([Number(r.attempts), r.lease_token, r.lease_owner]).toEqual([0, null, null]);
    expect(await db.knex('webhook_attempts').whereIn('delivery_id', released.map((r: { id: string }) => r.id))).toHaveLength(0);
    await settle(d);
    rows = await deliveries(sub.id);
    expect(rows.every((r: { status: string; attempts: number | string }) => r.status === 'succeeded' && Number(r.attempts) === 1)).toBe(true);
    const ids = rx.of('/ok').map((g) => g.id);
    expect(ids).toHaveLength(10);
    expect(new Set(ids).size).toBe(10);
    sender.destroy();
  });

  it('started and stopped as a loop, it picks up new changes', async () => {
    await subscribe(rx.url('/ok'), ['sync.completed']);
    const d = new WebhookDispatcher({ db, config: cfg, env: ENV, pollMs: 20 });
    d.start();
    await runSync({ db, config: cfg }, { tenantId: 't1', connectorId: 'src' });
    for (let i = 0; i < 200 && rx.of('/ok').length < 1; i++) await new Promise((r) => setTimeout(r, 20));
    await d.stop();
    expect(rx.of('/ok')).toHaveLength(1);
  });

  it('signs with both secrets during a rotation overlap, then with the new one only', async () => {
    const sub = await subscribe(rx.url('/ok'), ['sync.completed']);
    const rot = await api('post', `/tenants/t1/webhooks/${sub.id}/rotate-secret`, KEY.hooks, { overlapHours: 1 });
    expect(rot.status).toBe(200);
    const fresh = rot.body.data.secret as string;
    expect(fresh).toMatch(/^whsec_/);
    expect(fresh).not.toBe(sub.secret);
    expect(Date.parse(rot.body.data.previousSecretValidUntil) - Date.now()).toBeGreaterThan(3590_000);
    await runSync({ db, config: cfg }, { tenantId: 't1', connectorId: 'src' });
    const d = dispatcher();
    await settle(d);
    let [g] = rx.of('/ok');
    expect(g.sig.split(' ')).toHaveLength(2);
    expect(verify(fresh, g.id, g.ts, g.body, g.sig)).toBe(true);
    expect(verify(sub.secret, g.id, g.ts, g.body, g.sig)).toBe(true);
    clock += 2 * 3600_000;
    await runSync({ db, config: cfg }, { tenantId: 't1', connectorId: 'src' });
    await settle(d);
    g = rx.of('/ok')[1];
    expect(g.sig.split(' ')).toHaveLength(1);
    expect(verify(fresh, g.id, g.ts, g.body, g.sig)).toBe(true);
    expect(verify(sub.secret, g.id, g.ts, g.body, g.sig)).toBe(false);
    // A configured subscription's secret lives in the configuration.
    const cfgRot = await api('post', '/tenants/t2/webhooks/cfg-local/rotate-secret', KEY.hooks2);
    expect(cfgRot.status).toBe(409);
    expect(cfgRot.body.error.code).toBe('webhook_config_managed');
  });

  it('disables a persistently failing subscription and tells an operator (notification, warn line, operator webhook)', async () => {
    const sub = await subscribe(rx.url('/fail-a'), ['sync.completed']);
    const d = dispatcher({ overrides: { retry: { maxAttempts: 1, baseDelayMs: 1000, maxDelayMs: 1000 }, timeoutMs: 400 } });
    await runSync({ db, config: cfg }, { tenantId: 't1', connectorId: 'src' });
    await settle(d);
    expect((await api('get', `/tenants/t1/webhooks/${sub.id}`)).body.data).toMatchObject({ enabled: true, health: { consecutiveDeadLetters: 1 } });
    await runSync({ db, config: cfg }, { tenantId: 't1', connectorId: 'src' });
    await settle(d);
    const view = (await api('get', `/tenants/t1/webhooks/${sub.id}`)).body.data;
    expect(view.enabled).toBe(false);
    expect(view.disabledReason).toMatch(/^automatically: 2 deliveries in a row were dead-lettered/);
    const notes = await api('get', '/tenants/t1/notifications', KEY.ops);
    expect(notes.status).toBe(200);
    expect(notes.body.data).toEqual([expect.objectContaining({ kind: 'webhook.subscription_disabled', subject: sub.id, details: expect.objectContaining({ subscriptionId: sub.id }) })]);
    expect((await api('get', '/tenants/t1/notifications', KEY.reader)).status).toBe(403);
    const warn = logLines.map((l) => JSON.parse(l)).find((l) => l.msg === 'webhook subscription disabled automatically');
    expect(warn).toMatchObject({ level: 40, subscription: sub.id, tenant: 't1' });
    expect(logLines.join('')).not.toMatch(/whsec_|v1,/);
    const ops = rx.of('/ops');
    expect(ops).toHaveLength(1);
    expect(JSON.parse(ops[0].body)).toMatchObject({ type: 'webhook.subscription_disabled', data: { tenantId: 't1', subscriptionId: sub.id } });
    // Disabled: no further attempts. Re-enabled: it resumes at the head.
    await runSync({ db, config: cfg }, { tenantId: 't1', connectorId: 'src' });
    await settle(d);
    expect(rx.of('/fail-a')).toHaveLength(2);
    const on = await api('patch', `/tenants/t1/webhooks/${sub.id}`, KEY.hooks, { enabled: true });
    expect(on.body.data).toMatchObject({ enabled: true, disabledReason: null, health: { consecutiveDeadLetters: 0, failingSince: null } });

    // Failing for longer than failingForHours (1 h) also disables, before the dead letters add up.
    const slow = await subscribe(rx.url('/fail-b'), ['sync.completed']);
    await d.stop();
    const d2 = dispatcher();
    await runSync({ db, config: cfg }, { tenantId: 't1', connectorId: 'src' });
    await settle(d2);
    expect((await api('get', `/tenants/t1/webhooks/${slow.id}`)).body.data.health.failingSince).not.toBeNull();
    clock += 3600_000 + 1000;
    await settle(d2);
    const v2 = (await api('get', `/tenants/t1/webhooks/${slow.id}`)).body.data;
    expect(v2.enabled).toBe(false);
    expect(v2.disabledReason).toMatch(/failed without a success since/);
  });

  it('checks scope, tenant and input on every route; another tenant\'s ids are 404', async () => {
    const sub = await subscribe(rx.url('/ok'), ['learner.updated']);
    const t1paths: [('get' | 'post' | 'patch' | 'delete'), string][] = [
      ['get', '/tenants/t1/webhooks'], ['post', '/tenants/t1/webhooks'], ['get', `/tenants/t1/webhooks/${sub.id}`], ['patch', `/tenants/t1/webhooks/${sub.id}`],
      ['delete', `/tenants/t1/webhooks/${sub.id}`], ['post', `/tenants/t1/webhooks/${sub.id}/rotate-secret`], ['get', `/tenants/t1/webhooks/${sub.id}/deliveries`],
    ];
    for (const [m, p] of t1paths) {
      expect([m, p, (await api(m, p, KEY.reader)).status]).toEqual([m, p, 403]); // no webhooks.manage
      expect([m, p, (await api(m, p, KEY.hooks2)).status]).toEqual([m, p, 403]); // other tenant's key
      const missing = await api(m, p.replace('/t1/', '/nope/'), KEY.hooks);
      expect(missing.status).toBe(403);
      expect((await request(app)[m](`/api/v1${p}`)).status).toBe(401);
    }
    for (const [m, p] of t1paths.slice(2)) {
      const res = await api(m, p.replace('/t1/', '/t2/'), KEY.hooks2, {});
      expect([m, p, res.status, res.body.error?.code]).toEqual([m, p, 404, 'not_found']);
    }
    const list = await api('get', '/tenants/t1/webhooks');
    expect(list.body.data.map((s: { id: string }) => s.id)).toEqual([sub.id]);
    expect(JSON.stringify(list.body)).not.toContain(sub.secret);
    expect(JSON.stringify(list.body)).not.toContain('v1:');
    const t2list = await api('get', '/tenants/t2/webhooks', KEY.hooks2);
    expect(t2list.body.data).toEqual([expect.objectContaining({ id: 'cfg-local', source: 'config', enabled: true, eventTypes: ['learner.updated', 'sync.completed'] })]);
    expect(JSON.stringify(t2list.body)).not.toContain(CFG_SECRET);

    const bad = async (body: object, path: string) => {
      const res = await api('post', '/tenants/t1/webhooks', KEY.hooks, body);
      expect([res.status, res.body.error.details[0].path]).toEqual([400, path]);
    };
    await bad({ eventTypes: ['learner.updated'] }, 'url');
    await bad({ url: rx.url('/ok'), eventTypes: [] }, 'eventTypes');
    await bad({ url: rx.url('/ok'), eventTypes: ['learner.updated', 'nope'] }, 'eventTypes[1]');
    await bad({ url: rx.url('/ok'), eventTypes: ['learner.updated'], secret: 'mine' }, 'secret');
    await bad({ url: rx.url('/ok'), eventTypes: ['learner.updated'], enabled: 'yes' }, 'enabled');
    const patchCfg = await api('patch', '/tenants/t2/webhooks/cfg-local', KEY.hooks2, { url: 'https://93.184.216.34/' });
    expect(patchCfg.body.error.code).toBe('webhook_config_managed');
    const off = await api('patch', '/tenants/t2/webhooks/cfg-local', KEY.hooks2, { enabled: false });
    expect(off.body.data).toMatchObject({ enabled: false, disabledReason: 'disabled by hooks2' });
    expect((await api('delete', '/tenants/t2/webhooks/cfg-local', KEY.hooks2)).status).toBe(409);

    const patched = await api('patch', `/tenants/t1/webhooks/${sub.id}`, KEY.hooks, { eventTypes: ['sync.completed'], description: 'renamed' });
    expect(patched.body.data).toMatchObject({ eventTypes: ['sync.completed'], description: 'renamed' });
    expect((await api('delete', `/tenants/t1/webhooks/${sub.id}`)).status).toBe(204);
    expect((await api('get', `/tenants/t1/webhooks/${sub.id}`)).status).toBe(404);

    // Without HUB_SECRET_KEY a secret cannot be stored encrypted: refused, clearly.
    const noKey = buildApp({ db, config: cfg, env: { WH_CFG_SECRET: CFG_SECRET } });
    const res = await request(noKey).post('/api/v1/tenants/t1/webhooks').set('Authorization', `Bearer ${KEY.hooks}`).send({ url: rx.url('/ok'), eventTypes: ['learner.updated'] });
    expect(res.status).toBe(500);
    expect(res.body.error).toMatchObject({ code: 'secret_missing', message: expect.stringMatching(/HUB_SECRET_KEY/) });
  });
});
