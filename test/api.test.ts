/**
 * The HTTP API over real data: the fake connector ingests a small roster, then every route is exercised through
 * supertest on SQLite and PostgreSQL. Auth, error envelope and health checks: api-auth.test.ts.
 */
import { createHash } from 'node:crypto';
import request from 'supertest';
import type express from 'express';
import { describeEachDb } from './helpers/db';
import { FAKE_SOURCES, fakeConnector, org, person, enrollment } from './helpers/fake-connector';
import { validateConfig } from '../src/core/config';
import { registerConnector } from '../src/ingest/registry';
import { ensureTenants } from '../src/store/tenants';
import { runSync } from '../src/ingest/runner';
import { buildApp, drainBackgroundRuns } from '../src/serve/app';
import type { Connector, SourceRecord } from '../src/ingest/contract';
import type { Db } from '../src/store/db';

// A connector that waits for the test to open a gate before reading: a run that is reliably "still running".
let gate = newGate();
function newGate() {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}
const gatedConnector: Connector<{ source: string }> = {
  ...fakeConnector,
  manifest: { ...fakeConnector.manifest, id: 'gated' },
  async *read(stream, settings, ctx) {
    await gate.promise;
    yield* fakeConnector.read(stream, settings, ctx);
  },
};
registerConnector('gated', gatedConnector as Connector<never>);

const sha = (k: string) => createHash('sha256').update(k).digest('hex');
const KEY = { admin: 'adm-9f8e7d6c5b4a', reader: 'rdr-0a1b2c3d4e', ops: 'ops-5f6e7d8c9b', t2: 't2r-1234567890' };
const ENV = { API_TEST_ADMIN_KEY: KEY.admin };

const config = () =>
  validateConfig(
    {
      tenants: [
        {
          id: 't1',
          name: 'Tenant One',
          connectors: [
            { id: 'src', type: 'fake', settings: { source: 'main' }, sweep: { maxDeleteShare: 0.5 } },
            { id: 'slow', type: 'gated', settings: { source: 'slow' } },
            { id: 'vault', type: 'fake', enabled: false, schedule: '0 3 * * *', settings: { source: 'none', token: { $env: 'API_TEST_VAULT_TOKEN' } } },
          ],
        },
        { id: 't2', name: 'Tenant Two', connectors: [{ id: 'src', type: 'fake', settings: { source: 'other' } }] },
      ],
      apiKeys: [
        { name: 'admin', key: { $env: 'API_TEST_ADMIN_KEY' }, tenants: ['*'], scopes: ['admin'] },
        { name: 'reader', sha256: sha(KEY.reader), tenants: ['t1'], scopes: ['roster.read'] },
        { name: 'ops', sha256: sha(KEY.ops), tenants: ['t1'], scopes: ['runs.read', 'sync.run'] },
        { name: 't2-reader', sha256: sha(KEY.t2), tenants: ['t2'], scopes: ['roster.read', 'runs.read'] },
      ],
    },
    '(test)',
    process.cwd(),
    ENV,
  );

const session = (id: string): SourceRecord => ({
  type: 'academicSession', sourceId: id, data: { title: `Term ${id}`, type: 'term', startDate: '2025-09-01', endDate: '2026-06-30', schoolYear: '2026' }, location: `academicSessions:${id}`,
});
const course = (id: string, orgId: string): SourceRecord => ({ type: 'course', sourceId: id, data: { title: `Course ${id}`, orgId }, location: `courses:${id}` });
const klass = (id: string, schoolId: string): SourceRecord => ({
  type: 'class', sourceId: id, data: { title: `Class ${id}`, classType: 'scheduled', courseId: 'crs1', schoolId, termIds: ['term1'] }, location: `classes:${id}`,
});
const role = (id: string, personId: string, orgId: string): SourceRecord => ({
  type: 'role', sourceId: id, data: { personId, orgId, roleType: 'primary', role: 'student' }, location: `roles:${id}`,
});
const people = (n: number, from = 0) => Array.from({ length: n }, (_, i) => person(`p${from + i}`));

/** The roster: 3 orgs, 1 term, 1 course, 3 classes, `n` persons, 1 role, 4 enrollments. */
function roster(n = 7, extraPeople: SourceRecord[] = []): Record<string, SourceRecord[][]> {
  return {
    orgs: [[org('d1'), org('s1', 'School One', 'd1'), org('s2', 'School Two', 'd1')], [session('term1')], [course('crs1', 's1')], [klass('c1', 's1'), klass('c2', 's1'), klass('c3', 's2')]],
    people: [[...people(n), ...extraPeople], [role('r1', 'p0', 's1')]],
    enrollments: [[enrollment('e1', 'p0', 'c1'), enrollment('e2', 'p1', 'c1'), enrollment('e3', 'p0', 'c2'), enrollment('e4', 'p2', 'c3', 's2')]],
  };
}

function source(name: string, streams: Record<string, SourceRecord[][]>) {
  FAKE_SOURCES.set(name, { streams: Object.fromEntries(Object.entries(streams).map(([s, pages]) => [s, { mode: 'full' as const, pages: pages.map((records) => ({ records })) }])) });
}

/** Unified ids by source key, read from the landing table after each ingest (ids are assigned by the hub). */
let idMap = new Map<string, string>();
const uid = (type: string, sourceId: string, tenant = 't1', connector = 'src') => {
  const id = idMap.get(`${tenant}/${connector}/${type}/${sourceId}`);
  if (!id) throw new Error(`no unified id for ${tenant}/${connector}/${type}/${sourceId}`);
  return id;
};
async function loadIds(db: Db) {
  const rows = (await db.knex('source_records').select('tenant_id', 'connector_id', 'entity_type', 'source_id', 'unified_id')) as Record<string, string>[];
  idMap = new Map(rows.map((r) => [`${r.tenant_id}/${r.connector_id}/${r.entity_type}/${r.source_id}`, r.unified_id]));
}

describeEachDb('HTTP API', (t) => {
  let db: Db;
  let deps: { db: Db; config: ReturnType<typeof config> };
  let app: express.Express;

  const get = (path: string, key: string) => request(app).get(path).set('Authorization', `Bearer ${key}`);
  const post = (path: string, key: string, body?: unknown) => {
    const r = request(app).post(path).set('Authorization', `Bearer ${key}`);
    return body === undefined ? r : r.send(body as object);
  };
  /** Polls a run until it is no longer running (bounded). */
  async function waitRun(tenant: string, runId: string, key = KEY.ops) {
    for (let i = 0; i < 400; i++) {
      const res = await get(`/api/v1/tenants/${tenant}/runs/${runId}`, key);
      expect(res.status).toBe(200);
      if (res.body.data.status !== 'running') return res.body.data;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`run ${runId} still running after 10 s`);
  }
  /** Follows page.nextCursor to the end; returns every page. */
  async function walk(path: string, key: string, limit = 2) {
    const pages: { data: unknown[]; page: { nextCursor: string | null; limit: number } }[] = [];
    let cursor: string | null = null;
    do {
      const sep = path.includes('?') ? '&' : '?';
      const res = await get(`${path}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`, key);
      expect(res.status).toBe(200);
      expect(res.body.page.limit).toBe(limit);
      pages.push(res.body);
      cursor = res.body.page.nextCursor;
      if (pages.length > 100) throw new Error('pagination does not end');
    } while (cursor);
    return pages;
  }

  beforeEach(async () => {
    db = await t.open();
    deps = { db, config: config() };
    await ensureTenants(db, deps.config.config);
    source('main', roster());
    source('other', { people: [people(2)] });
    const first = await runSync(deps, { tenantId: 't1', connectorId: 'src' });
    expect(first.status).toBe('succeeded');
    expect(first.counts.rejected).toBe(0);
    await runSync(deps, { tenantId: 't2', connectorId: 'src' });
    await loadIds(db);
    app = buildApp({ ...deps, env: ENV });
  });
  afterEach(async () => {
    gate.open();
    await drainBackgroundRuns(app);
    gate = newGate();
    await db.close();
    FAKE_SOURCES.clear();
  });

  it('lists the tenants a key may see', async () => {
    expect((await get('/api/v1/tenants', KEY.admin)).body).toEqual({ data: [{ id: 't1', name: 'Tenant One' }, { id: 't2', name: 'Tenant Two' }] });
    expect((await get('/api/v1/tenants', KEY.reader)).body).toEqual({ data: [{ id: 't1', name: 'Tenant One' }] });
  });

  it('lists connectors with their last run, secrets redacted', async () => {
    const res = await get('/api/v1/tenants/t1/connectors', KEY.ops);
    expect(res.status).toBe(200);
    const [src, slow, vault] = res.body.data;
    expect(src).toMatchObject({ id: 'src', type: 'fake', enabled: true, schedule: null, settings: { source: 'main' }, sweep: { maxDeleteShare: 0.5 } });
    expect(src.lastRun).toMatchObject({ connectorId: 'src', status: 'succeeded', trigger: 'manual', counts: { read: 20, inserted: 20, rejected: 0 } });
    expect(slow).toMatchObject({ id: 'slow', type: 'gated', lastRun: null });
    expect(vault).toMatchObject({ id: 'vault', enabled: false, schedule: '0 3 * * *', settings: { source: 'none', token: '[secret]' } });
    expect(JSON.stringify(res.body)).not.toContain('API_TEST_VAULT_TOKEN');
  });

  it('serves every entity collection and each record by id, with meta', async () => {
    const expected: Record<string, number> = { orgs: 3, academicSessions: 1, courses: 1, classes: 3, persons: 7, enrollments: 4, roles: 1 };
    for (const [coll, n] of Object.entries(expected)) {
      const res = await get(`/api/v1/tenants/t1/${coll}`, KEY.reader);
      expect(res.status).toBe(200);
      expect(res.body.data).toHaveLength(n);
      expect(res.body.page).toEqual({ nextCursor: null, limit: 100 });
      const first = res.body.data[0];
      expect(first.meta).toEqual({ createdSeq: expect.any(Number), updatedSeq: expect.any(Number), updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), deletedAt: null });
      const one = await get(`/api/v1/tenants/t1/${coll}/${first.data.id}`, KEY.reader);
      expect(one.status).toBe(200);
      expect(one.body).toEqual(first);
    }
    const p0 = await get(`/api/v1/tenants/t1/persons/${uid('person', 'p0')}`, KEY.reader);
    expect(p0.body.data).toEqual({ id: uid('person', 'p0'), givenName: 'Givenp0', familyName: 'Family', enabledUser: true, identifiers: [{ system: 'sis', value: 'p0' }] });
    const e1 = await get(`/api/v1/tenants/t1/enrollments/${uid('enrollment', 'e1')}`, KEY.reader);
    // References are unified ids.
    expect(e1.body.data).toMatchObject({ personId: uid('person', 'p0'), classId: uid('class', 'c1'), schoolId: uid('org', 's1'), role: 'student' });
    expect((await get(`/api/v1/tenants/t1/persons/${uid('org', 'd1')}`, KEY.reader)).status).toBe(404);
    const missing = await get('/api/v1/tenants/t1/classes/nope', KEY.reader);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
  });

  it('keeps tenants apart', async () => {
    const t2 = await get('/api/v1/tenants/t2/persons', KEY.t2);
    expect(t2.body.data).toHaveLength(2);
    expect((await get(`/api/v1/tenants/t2/persons/${uid('person', 'p0')}`, KEY.t2)).status).toBe(404);
    expect((await get(`/api/v1/tenants/t2/persons/${uid('person', 'p0', 't2')}`, KEY.t2)).status).toBe(200);
  });

  it('filters enrollments by class and person, classes by school', async () => {
    const ids = async (path: string) => ((await get(path, KEY.reader)).body.data as { data: { id: string } }[]).map((x) => x.data.id).sort();
    expect(await ids(`/api/v1/tenants/t1/enrollments?classId=${uid('class', 'c1')}`)).toEqual([uid('enrollment', 'e1'), uid('enrollment', 'e2')].sort());
    expect(await ids(`/api/v1/tenants/t1/enrollments?personId=${uid('person', 'p0')}`)).toEqual([uid('enrollment', 'e1'), uid('enrollment', 'e3')].sort());
    expect(await ids(`/api/v1/tenants/t1/enrollments?personId=${uid('person', 'p0')}&classId=${uid('class', 'c2')}`)).toEqual([uid('enrollment', 'e3')]);
    expect(await ids(`/api/v1/tenants/t1/enrollments?classId=nope`)).toEqual([]);
    expect(await ids(`/api/v1/tenants/t1/classes?schoolId=${uid('org', 's2')}`)).toEqual([uid('class', 'c3')]);
    // A filter a collection does not have is refused, not ignored.
    const res = await get('/api/v1/tenants/t1/persons?role=student', KEY.reader);
    expect(res.status).toBe(400);
    expect(res.body.error.details[0].path).toBe('role');
  });

  it('walks every page exactly once with limit=2', async () => {
    source('main', roster(7, people(4, 100)));
    await runSync(deps, { tenantId: 't1', connectorId: 'src' });
    const pages = await walk('/api/v1/tenants/t1/persons', KEY.reader);
    expect(pages).toHaveLength(6); // 11 persons
    expect(pages.slice(0, -1).every((p) => p.data.length === 2)).toBe(true);
    expect(pages[pages.length - 1].page.nextCursor).toBeNull();
    const seen = pages.flatMap((p) => (p.data as { data: { id: string } }[]).map((x) => x.data.id));
    const stored = ((await db.knex('records').where({ tenant_id: 't1', entity_type: 'person' }).pluck('id')) as string[]).sort();
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort()).toEqual(stored);
    expect(seen).toEqual([...seen].sort()); // ordered by id

    // Filters hold across pages.
    const filtered = await walk(`/api/v1/tenants/t1/enrollments?personId=${uid('person', 'p0')}`, KEY.reader, 1);
    expect(filtered.flatMap((p) => p.data)).toHaveLength(2);
  });

  it('hides deleted records from lists and by id, unless includeDeleted=true', async () => {
    source('main', roster(6)); // p6 vanishes: 1 of 7, within the 50% limit
    const run = await runSync(deps, { tenantId: 't1', connectorId: 'src' });
    expect(run.counts.deleted).toBe(1);
    const gone = uid('person', 'p6');
    const list = await get('/api/v1/tenants/t1/persons', KEY.reader);
    expect(list.body.data).toHaveLength(6);
    expect(list.body.data.map((x: { data: { id: string } }) => x.data.id)).not.toContain(gone);
    const all = await get('/api/v1/tenants/t1/persons?includeDeleted=true', KEY.reader);
    expect(all.body.data).toHaveLength(7);
    expect(all.body.data.find((x: { data: { id: string } }) => x.data.id === gone).meta.deletedAt).toEqual(expect.any(String));
    expect((await get(`/api/v1/tenants/t1/persons/${gone}`, KEY.reader)).status).toBe(404);
    expect((await get(`/api/v1/tenants/t1/persons/${gone}/sources`, KEY.reader)).status).toBe(404);
    const shown = await get(`/api/v1/tenants/t1/persons/${gone}?includeDeleted=true`, KEY.reader);
    expect(shown.status).toBe(200);
    expect(shown.body.meta.deletedAt).toEqual(expect.any(String));
    const bad = await get('/api/v1/tenants/t1/persons?includeDeleted=yes', KEY.reader);
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].path).toBe('includeDeleted');
  });

  it('shows the landing rows that feed a person, without the raw payload', async () => {
    const res = await get(`/api/v1/tenants/t1/persons/${uid('person', 'p3')}/sources`, KEY.reader);
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual([{ connectorId: 'src', sourceId: 'p3', location: 'people:p3', firstSeenAt: expect.any(String), lastSeenAt: expect.any(String), deletedAt: null }]);
    expect(JSON.stringify(res.body)).not.toContain('raw');
  });

  it('starts a sync (202 + Location), which then completes with counts', async () => {
    const res = await post('/api/v1/tenants/t1/connectors/src/sync', KEY.ops, {});
    expect(res.status).toBe(202);
    const { runId } = res.body.data;
    expect(res.body).toEqual({ data: { runId: expect.stringMatching(/^run_/), status: 'running' } });
    expect(res.headers.location).toBe(`/api/v1/tenants/t1/runs/${runId}`);
    const run = await waitRun('t1', runId);
    expect(run).toMatchObject({ id: runId, status: 'succeeded', trigger: 'api', dryRun: false, counts: { read: 20, inserted: 0, unchanged: 20, deleted: 0, rejected: 0 }, error: null, review: null });
    expect(run.durationMs).toEqual(expect.any(Number));
    expect(run.streams.map((s: { stream: string }) => s.stream)).toEqual(['orgs', 'people', 'enrollments']);
    expect(run.finishedAt).toEqual(expect.any(String));

    // Without a body at all, and as a dry run.
    expect((await post('/api/v1/tenants/t1/connectors/src/sync', KEY.ops)).status).toBe(202);
    await drainBackgroundRuns(app);
    const dry = await post('/api/v1/tenants/t1/connectors/src/sync', KEY.ops, { dryRun: true });
    expect(dry.status).toBe(202);
    expect((await waitRun('t1', dry.body.data.runId)).dryRun).toBe(true);
  });

  it('refuses a second sync while the connector runs (409), then the first completes', async () => {
    source('slow', { people: [people(3), people(3, 3)] });
    const first = await post('/api/v1/tenants/t1/connectors/slow/sync', KEY.ops, {});
    expect(first.status).toBe(202);
    const second = await post('/api/v1/tenants/t1/connectors/slow/sync', KEY.ops, {});
    expect(second.status).toBe(409);
    expect(second.body.error).toMatchObject({ code: 'connector_busy', message: expect.any(String), details: expect.any(Array) });
    expect((await get(`/api/v1/tenants/t1/runs/${first.body.data.runId}`, KEY.ops)).body.data.status).toBe('running');
    gate.open();
    const run = await waitRun('t1', first.body.data.runId);
    expect(run).toMatchObject({ status: 'succeeded', counts: { read: 6, inserted: 6 } });
    expect((await post('/api/v1/tenants/t1/connectors/slow/sync', KEY.ops, {})).status).toBe(202);
  });

  it('refuses bad sync requests', async () => {
    const unknown = await post('/api/v1/tenants/t1/connectors/nope/sync', KEY.ops, {});
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('connector_unknown');
    const badType = await post('/api/v1/tenants/t1/connectors/src/sync', KEY.ops, { dryRun: 'yes' });
    expect(badType.status).toBe(400);
    expect(badType.body.error.details[0].path).toBe('dryRun');
    const extra = await post('/api/v1/tenants/t1/connectors/src/sync', KEY.ops, { dryrun: true });
    expect(extra.status).toBe(400);
    expect(extra.body.error.details[0].path).toBe('dryrun');
    const malformed = await post('/api/v1/tenants/t1/connectors/src/sync', KEY.ops).set('Content-Type', 'application/json').send('{"dryRun": tru');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toMatchObject({ code: 'bad_request', details: [{ path: 'body' }] });
    // A dryRun flag the server cannot read must not start a real run.
    const text = await post('/api/v1/tenants/t1/connectors/src/sync', KEY.ops).set('Content-Type', 'text/plain').send('{"dryRun": true}');
    expect(text.status).toBe(400);
    expect(Number((await db.knex('runs').where({ trigger: 'api' }).count({ n: '*' }))[0].n)).toBe(0);
  });

  it('approves a run held for review', async () => {
    source('main', roster(3)); // 4 of 7 persons would vanish: over 50%
    const started = await post('/api/v1/tenants/t1/connectors/src/sync', KEY.ops, {});
    const run = await waitRun('t1', started.body.data.runId);
    expect(run.status).toBe('needs_review');
    expect(run.review.types).toContainEqual(expect.objectContaining({ type: 'person', before: 7, vanishing: 4 }));
    expect((await get('/api/v1/tenants/t1/persons', KEY.reader)).body.data).toHaveLength(7);

    const denied = await post(`/api/v1/tenants/t1/runs/${run.id}/approve`, KEY.reader);
    expect(denied.status).toBe(403);
    const ok = await post(`/api/v1/tenants/t1/runs/${run.id}/approve`, KEY.ops);
    expect(ok.status).toBe(200);
    expect(ok.body.data).toMatchObject({ id: run.id, status: 'succeeded', reviewedBy: 'ops', reviewedAt: expect.any(String), counts: { deleted: 4 } });
    expect((await get('/api/v1/tenants/t1/persons', KEY.reader)).body.data).toHaveLength(3);

    const again = await post(`/api/v1/tenants/t1/runs/${run.id}/approve`, KEY.ops);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('run_not_reviewable');
    const missing = await post('/api/v1/tenants/t1/runs/run_nope/approve', KEY.ops);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('run_not_found');
  });

  it('lists runs newest first with filters and pagination', async () => {
    for (let i = 0; i < 4; i++) await runSync(deps, { tenantId: 't1', connectorId: 'src', dryRun: i % 2 === 1 });
    source('main', roster(2));
    const review = await runSync(deps, { tenantId: 't1', connectorId: 'src' });
    expect(review.status).toBe('needs_review');
    const all = (await db.knex('runs').where({ tenant_id: 't1' }).orderBy('started_at', 'desc').orderBy('id', 'desc').pluck('id')) as string[];
    expect(all).toHaveLength(6);
    const pages = await walk('/api/v1/tenants/t1/runs', KEY.ops);
    expect(pages).toHaveLength(3);
    const ids = pages.flatMap((p) => (p.data as { id: string }[]).map((r) => r.id));
    expect(ids).toEqual(all);
    const item = pages[0].data[0] as Record<string, unknown>;
    expect(Object.keys(item).sort()).toEqual(
      ['connectorId', 'connectorType', 'counts', 'dryRun', 'durationMs', 'error', 'finishedAt', 'id', 'matching', 'review', 'reviewedAt', 'reviewedBy', 'startedAt', 'status', 'streams', 'tenantId', 'trigger'].sort(),
    );

    const held = await get('/api/v1/tenants/t1/runs?status=needs_review', KEY.ops);
    expect(held.body.data.map((r: { id: string }) => r.id)).toEqual([review.id]);
    expect((await get('/api/v1/tenants/t1/runs?connector=slow', KEY.ops)).body.data).toEqual([]);
    expect((await get('/api/v1/tenants/t1/runs?connector=src&status=succeeded', KEY.ops)).body.data).toHaveLength(5);
    const bad = await get('/api/v1/tenants/t1/runs?status=done', KEY.ops);
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].path).toBe('status');
    // Another tenant's runs are not visible, even by id.
    expect((await get(`/api/v1/tenants/t2/runs/${review.id}`, KEY.admin)).status).toBe(404);
    expect((await get(`/api/v1/tenants/t2/runs/${review.id}`, KEY.admin)).body.error.code).toBe('run_not_found');
  });

  it('serves the reject report without raw rows, unless an admin asks for them', async () => {
    const bad = (id: string) => ({ ...person(id), data: { ...person(id).data, givenName: '' }, raw: { id, givenName: '', secretNote: 'student data' } });
    source('main', roster(7, [bad('x1'), bad('x2'), bad('x3'), bad('x4'), bad('x5')]));
    const started = await post('/api/v1/tenants/t1/connectors/src/sync', KEY.ops, {});
    const run = await waitRun('t1', started.body.data.runId);
    expect(run.counts.rejected).toBe(5);

    const res = await get(`/api/v1/tenants/t1/runs/${run.id}/rejects`, KEY.ops);
    expect(res.status).toBe(200);
    expect(res.body.data).toHaveLength(5);
    expect(res.body.data[0]).toEqual({ stream: 'people', location: 'people:x1', field: 'givenName', code: 'record_invalid', reason: expect.stringMatching(/givenName/) });
    expect(JSON.stringify(res.body)).not.toContain('student data');

    const pages = await walk(`/api/v1/tenants/t1/runs/${run.id}/rejects`, KEY.ops);
    expect(pages.map((p) => p.data.length)).toEqual([2, 2, 1]);
    expect(pages.flatMap((p) => (p.data as { location: string }[]).map((r) => r.location))).toEqual(['people:x1', 'people:x2', 'people:x3', 'people:x4', 'people:x5']);

    const denied = await get(`/api/v1/tenants/t1/runs/${run.id}/rejects?include=raw`, KEY.ops);
    expect(denied.status).toBe(403);
    expect(denied.body.error).toMatchObject({ code: 'forbidden', details: [{ path: 'include' }] });
    const raw = await get(`/api/v1/tenants/t1/runs/${run.id}/rejects?include=raw&limit=1`, KEY.admin);
    expect(raw.status).toBe(200);
    expect(raw.body.data[0].raw).toEqual({ id: 'x1', givenName: '', secretNote: 'student data' });
    expect((await get(`/api/v1/tenants/t1/runs/${run.id}/rejects?include=everything`, KEY.admin)).status).toBe(400);
    expect((await get('/api/v1/tenants/t1/runs/run_nope/rejects', KEY.ops)).status).toBe(404);
  });

  it('answers 400 with the envelope for a bad limit or cursor', async () => {
    for (const limit of ['0', '1001', 'abc', '-1', '2.5', '']) {
      const res = await get(`/api/v1/tenants/t1/persons?limit=${limit}`, KEY.reader);
      if (limit === '') {
        expect(res.status).toBe(200); // empty = default
        continue;
      }
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: { code: 'bad_request', message: expect.stringContaining('limit'), details: [{ path: 'limit', message: expect.any(String) }] } });
    }
    const runsCursor = (await get('/api/v1/tenants/t1/runs?limit=1', KEY.admin)).body.page;
    for (const cursor of ['garbage!', 'bm90IGpzb24', Buffer.from('{"c":"persons","k":5}').toString('base64url'), runsCursor.nextCursor ?? 'x']) {
      const res = await get(`/api/v1/tenants/t1/persons?cursor=${encodeURIComponent(cursor)}`, KEY.reader);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('bad_request');
      expect(res.body.error.details[0].path).toBe('cursor');
    }
    const twice = await get('/api/v1/tenants/t1/persons?limit=1&limit=2', KEY.reader);
    expect(twice.status).toBe(400);
    expect(twice.body.error.details[0].path).toBe('limit');
    const rejectsCursor = await get('/api/v1/tenants/t1/runs/run_x/rejects?cursor=' + Buffer.from('{"c":"rejects","k":"a"}').toString('base64url'), KEY.ops);
    expect(rejectsCursor.status).toBe(400);
    expect(rejectsCursor.body.error.details[0].path).toBe('cursor');
  });
});
