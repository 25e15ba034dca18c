/**
 * The change feed (GET .../changes) and the disclosure log (middleware, GET .../disclosures, `hub disclosures`) on
 * SQLite and PostgreSQL, over data ingested by the fake connector.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import pino from 'pino';
import request from 'supertest';
import type express from 'express';
import { describeEachDb } from './helpers/db';
import { FAKE_SOURCES, org, person, enrollment } from './helpers/fake-connector';
import type { SourceRecord } from '../src/ingest/contract';
import { validateConfig } from '../src/core/config';
import { ensureTenants } from '../src/store/tenants';
import { runSync } from '../src/ingest/runner';
import { buildApp, settleDisclosures } from '../src/serve/app';
import { disclosurePersons, recordDisclosures } from '../src/serve/disclosures';
import { openDb, migrate, type Db } from '../src/store/db';

const sha = (k: string) => createHash('sha256').update(k).digest('hex');
const KEY = {
  admin: 'cd-admin-00000', feed: 'cd-feed-111111', feedRoster: 'cd-feedr-22222', feedAll: 'cd-feeda-33333', reader: 'cd-reader-4444',
  demo: 'cd-demo-555555', audit: 'cd-audit-66666', t2: 'cd-t2-77777777',
};

const config = () => validateConfig({
  tenants: [
    { id: 't1', name: 'One', connectors: [{ id: 'src', type: 'fake', settings: { source: 'one' } }, { id: 'lms', type: 'fake', settings: { source: 'lms' } }] },
    { id: 't2', name: 'Two', connectors: [{ id: 'src', type: 'fake', settings: { source: 'two' } }] },
  ],
  apiKeys: [
    { name: 'admin', sha256: sha(KEY.admin), tenants: ['*'], scopes: ['admin'] },
    { name: 'feed', sha256: sha(KEY.feed), tenants: ['t1'], scopes: ['changes.read'] },
    { name: 'feed-roster', sha256: sha(KEY.feedRoster), tenants: ['t1'], scopes: ['changes.read', 'roster.read'] },
    { name: 'feed-all', sha256: sha(KEY.feedAll), tenants: ['t1'], scopes: ['changes.read', 'roster.read', 'demographics.read'] },
    { name: 'reader', sha256: sha(KEY.reader), tenants: ['t1'], scopes: ['roster.read'] },
    { name: 'demo', sha256: sha(KEY.demo), tenants: ['t1'], scopes: ['roster.read', 'demographics.read'] },
    { name: 'audit', sha256: sha(KEY.audit), tenants: ['t1'], scopes: ['audit.read'] },
    { name: 't2', sha256: sha(KEY.t2), tenants: ['t2'], scopes: ['roster.read', 'changes.read', 'audit.read'] },
  ],
}, '(test)', process.cwd(), {});

const base = (): SourceRecord[] => [
  org('d1'), org('s1', 'School', 'd1'),
  { type: 'academicSession', sourceId: 'term1', data: { title: 'Term', type: 'term', startDate: '2025-09-01', endDate: '2026-06-30', schoolYear: '2026' } },
  { type: 'course', sourceId: 'crs1', data: { title: 'Course', orgId: 's1' } },
  { type: 'class', sourceId: 'c1', data: { title: 'Class', classType: 'scheduled', courseId: 'crs1', schoolId: 's1', termIds: ['term1'] } },
];
const demographics = (id: string, personId: string, birthDate: string): SourceRecord => ({ type: 'demographics', sourceId: id, data: { personId, birthDate, sex: 'female' } });
function source(name: string, people: SourceRecord[], enrollments: SourceRecord[] = []) {
  const streams: Record<string, SourceRecord[][]> = { orgs: [base()], people: [people] };
  if (enrollments.length) streams.enrollments = [enrollments];
  FAKE_SOURCES.set(name, { streams: Object.fromEntries(Object.entries(streams).map(([s, pages]) => [s, { mode: 'full' as const, pages: pages.map((records) => ({ records })) }])) });
}

describeEachDb('change feed and disclosure log', (t) => {
  let db: Db;
  let app: express.Express;
  let logLines: string[];
  const cfg = config();
  const get = (p: string, key: string) => request(app).get(`/api/v1${p}`).set('Authorization', `Bearer ${key}`);
  const pid = async (sourceId: string, tenant = 't1') => (await db.knex('source_records').where({ tenant_id: tenant, entity_type: 'person', source_id: sourceId }).first()).unified_id as string;
  const disclosures = async () => {
    await settleDisclosures(app);
    return db.knex('disclosures').orderBy('id');
  };

  beforeEach(async () => {
    db = await t.open();
    await ensureTenants(db, cfg.config);
    source('one', [person('p0'), { ...person('p1'), data: { ...person('p1').data, email: 'p1@example.org' } }, person('p2'), demographics('dm0', 'p0', '2011-02-03')], [enrollment('e1', 'p0'), enrollment('e2', 'p1')]);
    source('two', [person('q0')]);
    expect((await runSync({ db, config: cfg }, { tenantId: 't1', connectorId: 'src' })).status).toBe('succeeded');
    await runSync({ db, config: cfg }, { tenantId: 't2', connectorId: 'src' });
    // Second sync: a rename and a changed birth date (updates with diffs).
    source('one', [person('p0', 'Renamed'), { ...person('p1'), data: { ...person('p1').data, email: 'p1@example.org' } }, person('p2'), demographics('dm0', 'p0', '2011-02-04')], [enrollment('e1', 'p0'), enrollment('e2', 'p1')]);
    await runSync({ db, config: cfg }, { tenantId: 't1', connectorId: 'src' });
    logLines = [];
    app = buildApp({ db, config: cfg, env: {}, log: pino({ level: 'warn' }, { write: (s: string) => void logLines.push(s) }) });
  });
  afterEach(async () => {
    await settleDisclosures(app);
    await db.close();
    FAKE_SOURCES.clear();
  });

  it('pages through every change in seq order with next/hasMore', async () => {
    const all = await db.knex('change_log').where({ tenant_id: 't1' }).whereNot('entity_type', 'demographics').orderBy('seq');
    const seen: { seq: number }[] = [];
    let after = 0;
    for (let i = 0; i < 50; i++) {
      const res = await get(`/tenants/t1/changes?after=${after}&limit=4`, KEY.feed);
      expect(res.status).toBe(200);
      seen.push(...res.body.data);
      expect(res.body.next).toBe(res.body.data.length ? res.body.data[res.body.data.length - 1].seq : after);
      after = res.body.next;
      if (!res.body.hasMore) break;
    }
    expect(seen.map((c) => c.seq)).toEqual(all.map((r: { seq: number | string }) => Number(r.seq)));
    const end = await get(`/tenants/t1/changes?after=${after}`, KEY.feed);
    expect(end.body).toEqual({ data: [], next: after, hasMore: false });
    const first = seen[0] as Record<string, unknown>;
    expect(Object.keys(first).sort()).toEqual(['at', 'cause', 'changedFields', 'entityId', 'entityType', 'op', 'runId', 'seq']);
    const types = await get('/tenants/t1/changes?types=person,enrollment&limit=1000', KEY.feed);
    expect(new Set(types.body.data.map((c: { entityType: string }) => c.entityType))).toEqual(new Set(['person', 'enrollment']));
  });

  it('shows field names to changes.read, values with roster.read, demographic values and types only with demographics.read', async () => {
    const p0 = await pid('p0');
    const names = (await get('/tenants/t1/changes?limit=1000', KEY.feed)).body.data as Record<string, unknown>[];
    const rename = names.find((c) => c.entityId === p0 && c.op === 'update')!;
    expect(rename).toMatchObject({ entityType: 'person', changedFields: ['givenName'], cause: 'sync' });
    expect(rename.diff).toBeUndefined();
    expect(names.some((c) => c.entityType === 'demographics')).toBe(false);
    expect(JSON.stringify(names)).not.toMatch(/Renamed|2011-02/);

    const values = (await get('/tenants/t1/changes?limit=1000', KEY.feedRoster)).body.data as Record<string, unknown>[];
    expect(values.find((c) => c.entityId === p0 && c.op === 'update')!.diff).toEqual({ givenName: ['Givenp0', 'Renamed'] });
    expect(values.some((c) => c.entityType === 'demographics')).toBe(false);
    expect((await get('/tenants/t1/changes?types=demographics', KEY.feedRoster)).body.data).toEqual([]);

    const all = (await get('/tenants/t1/changes?limit=1000', KEY.feedAll)).body.data as Record<string, unknown>[];
    const dm = all.filter((c) => c.entityType === 'demographics');
    expect(dm).toHaveLength(2);
    expect(dm[1]).toMatchObject({ op: 'update', changedFields: ['birthDate'], diff: { birthDate: ['2011-02-03', '2011-02-04'] } });
  });

  it('lists identity merges with their cause', async () => {
    const [p0, p2] = [await pid('p0'), await pid('p2')];
    const before = (await get('/tenants/t1/changes?limit=1000', KEY.feed)).body.next;
    const m = await request(app).post(`/api/v1/tenants/t1/learners/${p0}/merge`).set('Authorization', `Bearer ${KEY.admin}`).send({ otherId: p2, reason: 'same child' });
    expect(m.status).toBe(200);
    const after = (await get(`/tenants/t1/changes?after=${before}&types=person`, KEY.feed)).body.data as Record<string, unknown>[];
    expect(after).toEqual(expect.arrayContaining([expect.objectContaining({ entityId: p2, op: 'merge', cause: 'merge', changedFields: ['mergedInto'] })]));
  });

  it('validates after, limit and types, checks scope and tenant', async () => {
    for (const [q, param] of [['after=-1', 'after'], ['after=abc', 'after'], ['after=1.5', 'after'], ['after=99999999999999999', 'after'], ['limit=0', 'limit'], ['limit=5000', 'limit'], ['types=person,nope', 'types'], ['types=,', 'types'], ['since=1', 'since']]) {
      const res = await get(`/tenants/t1/changes?${q}`, KEY.feed);
      expect([q, res.status, res.body.error.details[0].path]).toEqual([q, 400, param]);
    }
    expect((await get('/tenants/t1/changes', KEY.reader)).status).toBe(403);
    expect((await get('/tenants/t1/changes', KEY.t2)).status).toBe(403);
    expect((await get('/tenants/nope/changes', KEY.feed)).status).toBe(403);
    const t2 = (await get('/tenants/t2/changes?limit=1000', KEY.t2)).body.data as { entityId: string }[];
    const t1ids = new Set((await db.knex('change_log').where({ tenant_id: 't1' })).map((r: { entity_id: string }) => r.entity_id));
    expect(t2.length).toBeGreaterThan(0);
    expect(t2.some((c) => t1ids.has(c.entityId))).toBe(false);
  });

  it('records exactly one disclosure for a learner read, with the right categories; none for 404, 403 or non-student data', async () => {
    const [p0, p1] = [await pid('p0'), await pid('p1')];
    const res = await get(`/tenants/t1/learners/${p0}`, KEY.reader);
    expect(res.status).toBe(200);
    let rows = await disclosures();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ tenant_id: 't1', recipient: 'reader', channel: 'api', route: '/api/v1/tenants/:tenant/learners/:id', request_id: res.headers['x-request-id'] });
    expect(JSON.parse(rows[0].categories)).toEqual(['enrollment', 'identity']);
    expect(Number(rows[0].person_count)).toBe(1);
    expect(await disclosurePersons(db, 't1', rows[0].id)).toEqual([p0]);

    // Contact fields and demographics add their categories.
    await get(`/tenants/t1/learners/${p1}`, KEY.demo);
    await get(`/tenants/t1/learners/${p0}`, KEY.demo);
    rows = await disclosures();
    expect(JSON.parse(rows[1].categories)).toEqual(['contact', 'enrollment', 'identity']);
    expect(JSON.parse(rows[2].categories)).toEqual(['demographics', 'enrollment', 'identity']);

    // Refused or missing: nothing recorded. Orgs are not student data.
    expect((await get('/tenants/t1/learners/nope', KEY.reader)).status).toBe(404);
    expect((await get(`/tenants/t1/learners/${p0}`, KEY.audit)).status).toBe(403);
    expect((await get(`/tenants/t2/learners/${p0}`, KEY.t2)).status).toBe(404);
    expect((await get('/tenants/t1/orgs', KEY.reader)).status).toBe(200);
    expect(await disclosures()).toHaveLength(3);

    // Lists: one row per response, every person in it.
    await get('/tenants/t1/persons', KEY.reader);
    await get('/tenants/t1/enrollments', KEY.reader);
    await get('/tenants/t1/learners?q=given', KEY.reader);
    rows = await disclosures();
    expect(rows).toHaveLength(6);
    expect(rows.slice(3).map((r: { person_count: number | string; categories: string }) => [Number(r.person_count), JSON.parse(r.categories)])).toEqual([
      [3, ['contact', 'identity']], [2, ['enrollment']], [2, ['identity']],
    ]);

    // The feed is a disclosure too (channel feed).
    await get('/tenants/t1/changes?limit=1000', KEY.feedRoster);
    const feed = (await disclosures()).pop();
    expect(feed).toMatchObject({ channel: 'feed', recipient: 'feed-roster' });
    expect(JSON.parse(feed.categories)).toEqual(expect.arrayContaining(['identity', 'enrollment']));
    expect(JSON.parse(feed.categories)).not.toContain('demographics');
  });

  it('writes queued disclosures before the store closes (a shutdown loses none)', async () => {
    const p0 = await pid('p0');
    for (let i = 0; i < 3; i++) expect((await get(`/tenants/t1/learners/${p0}`, KEY.reader)).status).toBe(200);
    // No settle: the batch still waits for its timer. The first close hook registered here runs after the
    // recorder's (hooks run in order), so it sees what closing the store wrote.
    let written = -1;
    db.onClose!(async () => {
      written = Number(((await db.knex('disclosures').count({ n: '*' })) as { n: number | string }[])[0].n);
    });
    await db.close();
    expect(written).toBe(3);
    db = await t.open(); // for afterEach
    app = buildApp({ db, config: cfg, env: {}, log: pino({ level: 'silent' }) });
  });

  it('answers who received data about a child (API with audit.read, filters), and never fails a response when it cannot write', async () => {
    const [p0, p1] = [await pid('p0'), await pid('p1')];
    await get(`/tenants/t1/learners/${p0}`, KEY.reader);
    await get(`/tenants/t1/learners/${p1}`, KEY.demo);
    await get('/tenants/t1/persons', KEY.demo);
    await settleDisclosures(app);
    const res = await get(`/tenants/t1/disclosures?personId=${p0}`, KEY.audit);
    expect(res.status).toBe(200);
    expect(res.body.data.map((d: { recipient: string }) => d.recipient)).toEqual(['demo', 'reader']); // newest first
    expect(res.body.data[1]).toMatchObject({ channel: 'api', personCount: 1, personIds: [p0], categories: ['enrollment', 'identity'], route: '/api/v1/tenants/:tenant/learners/:id' });
    expect((await get('/tenants/t1/disclosures?recipient=demo&limit=1', KEY.audit)).body.page.nextCursor).not.toBeNull();
    expect((await get('/tenants/t1/disclosures?since=2999-01-01', KEY.audit)).body.data).toEqual([]);
    expect((await get('/tenants/t1/disclosures?since=yesterday', KEY.audit)).body.error.details[0].path).toBe('since');
    expect((await get('/tenants/t1/disclosures', KEY.reader)).status).toBe(403);
    expect((await get('/tenants/t2/disclosures', KEY.audit)).status).toBe(403);
    expect((await get('/tenants/t2/disclosures', KEY.t2)).body.data).toEqual([]);

    // The log cannot be written: the response still succeeds, a warn line says so without student data.
    await db.knex.schema.dropTable('disclosures');
    const ok = await get(`/tenants/t1/learners/${p0}`, KEY.reader);
    expect(ok.status).toBe(200);
    await settleDisclosures(app);
    const warn = logLines.map((l) => JSON.parse(l)).find((l) => l.msg === 'disclosure could not be recorded');
    expect(warn).toMatchObject({ route: '/api/v1/tenants/:tenant/learners/:id' });
    expect(logLines.join('')).not.toContain(p0);
    expect(logLines.join('')).not.toContain('Givenp0');
  });
});

describe('hub disclosures', () => {
  it('prints who received data about a person', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-disc-'));
    try {
      const cfgFile = path.join(dir, 'hub.config.json');
      fs.writeFileSync(cfgFile, JSON.stringify({ database: { url: './hub.sqlite' }, tenants: [{ id: 'acme', name: 'Acme' }] }));
      const db = await openDb({ url: path.join(dir, 'hub.sqlite') });
      await migrate(db);
      await ensureTenants(db, { tenants: [{ id: 'acme', name: 'Acme' }] });
      await recordDisclosures(db, [
        { tenantId: 'acme', recipient: 'lms-sync', channel: 'api', categories: ['identity', 'enrollment'], personIds: ['per_1', 'per_2'], route: '/api/v1/tenants/:tenant/persons', at: '2025-01-02T03:04:05.000Z' },
        { tenantId: 'acme', recipient: 'webhook:wh_1', channel: 'webhook', categories: ['identity'], personIds: ['per_2'], route: 'learner.updated' },
      ]);
      await db.close();
      const r = spawnSync(process.execPath, [require.resolve('tsx/cli'), path.join(__dirname, '../src/cli/main.ts'), '--config', cfgFile, 'disclosures', '--tenant', 'acme', '--person', 'per_1'],
        { encoding: 'utf8', env: { ...process.env, CI: 'true', LOG_LEVEL: 'warn' }, timeout: 60000 });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^2025-01-02T03:04:05.000Z {2}lms-sync +api +enrollment,identity +2 person\(s\) {2}\/api\/v1\/tenants\/:tenant\/persons$/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
