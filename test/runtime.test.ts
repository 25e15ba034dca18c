import { describeEachDb } from './helpers/db';
import { FAKE_SOURCES, org, person } from './helpers/fake-connector';
import { validateConfig } from '../src/core/config';
import { ensureTenants } from '../src/store/tenants';
import { runSync, approveRun, getRunSummary } from '../src/ingest/runner';
import { openDb, type Db } from '../src/store/db';
import type { SourceRecord } from '../src/ingest/contract';

const config = (maxDeleteShare = 0.1) =>
  validateConfig({
    tenants: [
      { id: 't1', name: 'Tenant One', connectors: [{ id: 'src', type: 'fake', settings: { source: 'main' }, sweep: { maxDeleteShare } }] },
      { id: 't2', name: 'Tenant Two', connectors: [{ id: 'src', type: 'fake', settings: { source: 'other' } }] },
    ],
  });

const people = (n: number, from = 0) => Array.from({ length: n }, (_, i) => person(`p${from + i}`));
const count = async (db: Db, table: string, where: Record<string, unknown> = {}) => Number((await db.knex(table).where(where).count({ n: '*' }))[0].n);
const live = async (db: Db, tenant: string, type: string) => Number((await db.knex('records').where({ tenant_id: tenant, entity_type: type }).whereNull('deleted_at').count({ n: '*' }))[0].n);

describeEachDb('connector runtime', (t) => {
  let db: Db;
  let deps: { db: Db; config: ReturnType<typeof config> };
  beforeEach(async () => {
    db = await t.open();
    deps = { db, config: config() };
    await ensureTenants(db, deps.config.config);
  });
  afterEach(async () => {
    await db.close();
    FAKE_SOURCES.clear();
  });

  const source = (streams: Record<string, SourceRecord[][]>, mode: 'full' | 'incremental' = 'full', name = 'main') =>
    FAKE_SOURCES.set(name, { streams: Object.fromEntries(Object.entries(streams).map(([s, pages]) => [s, { mode, pages: pages.map((records) => ({ records })) }])) });

  it('refreshes the planner statistics of the ingest tables after a large load (both databases)', async () => {
    // Without statistics on freshly loaded tables, both planners looked landing rows up through the wrong index
    // (PostgreSQL: 12 ms an update, a 10k-student sync 26 s instead of 10 s).
    const analyzed = async () => {
      if (db.dialect === 'sqlite') {
        if (!((await db.knex.raw(`select name from sqlite_master where name = 'sqlite_stat1'`)) as unknown[]).length) return false;
        return ((await db.knex.raw(`select tbl from sqlite_stat1 where tbl = 'source_records'`)) as unknown[]).length > 0;
      }
      const r = await db.knex.raw(`select last_analyze from pg_stat_user_tables where schemaname = current_schema() and relname = 'source_records'`);
      return (r.rows as { last_analyze: unknown }[])[0]?.last_analyze != null;
    };
    source({ people: [people(300)] });
    await runSync(deps, { tenantId: 't1', connectorId: 'src' });
    expect(await analyzed()).toBe(false); // a small load leaves the statistics alone
    source({ people: [people(300), people(600, 300), people(600, 900)] });
    expect((await runSync(deps, { tenantId: 't1', connectorId: 'src' })).status).toBe('succeeded');
    expect(await analyzed()).toBe(true);
  });

  it('inserts, then counts an identical re-run as unchanged without new changes', async () => {
    source({ orgs: [[org('d1'), org('s1', 'School', 'd1')]], people: [people(5), people(5, 5)] });
    const first = await runSync(deps, { tenantId: 't1', connectorId: 'src' });
    expect(first.status).toBe('succeeded');
    expect(first.counts).toMatchObject({ read: 12, inserted: 12, updated: 0, unchanged: 0, rejected: 0 });
    expect(await count(db, 'change_log', { tenant_id: 't1' })).toBe(12);

    const again = await runSync(deps, { tenantId: 't1', connectorId: 'src' });
    expect(again.counts).toMatchObject({ read: 12, inserted: 0, updated: 0, unchanged: 12, deleted: 0 });
    expect(await count(db, 'change_log', { tenant_id: 't1' })).toBe(12);
    // The school's parent reference was translated to the district's unified id.
    const rows = await db.knex('records').where({ tenant_id: 't1', entity_type: 'org' });
    const district = rows.find((r: { data: string }) => JSON.parse(r.data).type === 'district');
    const school = rows.find((r: { data: string }) => JSON.parse(r.data).type === 'school');
    expect(JSON.parse(school.data).parentId).toBe(district.id);
  });

  it('records an update with a field diff and a monotonically increasing sequence', async () => {
    source({ people: [[person('p1', 'Ana'), person('p2', 'Ben')]] });
    await runSync(deps, { tenantId: 't1', connectorId: 'src' });
    source({ people: [[person('p1', 'Anna'), person('p2', 'Ben')]] });
    const run = await runSync(deps, { tenantId: 't1', connectorId: 'src' });
    expect(run.counts).toMatchObject({ updated: 1, unchanged: 1 });
    const log = await db.knex('change_log').where({ tenant_id: 't1' }).orderBy('seq');
    expect(log.map((r: { seq: number | string }) => Number(r.seq))).toEqual([1, 2, 3]);
    expect(log[2].op).toBe('update');
    expect(JSON.parse(log[2].diff)).toEqual({ givenName: ['Ana', 'Anna'] });
    expect(log[2].run_id).toBe(run.id);
  });

  it('rejects invalid records and unresolved references with their location and reason, keeping the rest', async () => {
    const bad = person('p9');
    bad.data.givenName = '';
    source({ people: [[person('p1'), bad]], enrollments: [[{ type: 'enrollment', sourceId: 'e1', data: { personId: 'p1', classId: 'nope', schoolId: 'nope', role: 'student' }, location: 'enrollments.csv:2' }]] });
    const run = await runSync(deps, { tenantId: 't1', connectorId: 'src' });
    expect(run.status).toBe('succeeded');
    expect(run.counts).toMatchObject({ read: 3, inserted: 1, rejected: 2 });
    const rejects = await db.knex('run_rejects').where({ run_id: run.id }).orderBy('id');
    expect(rejects).toHaveLength(2);
    expect(rejects[0]).toMatchObject({ location: 'people:p9', field: 'givenName', code: 'record_invalid' });
    expect(rejects[0].reason).toMatch(/givenName must NOT have fewer than 1 characters/);
    expect(rejects[1]).toMatchObject({ location: 'enrollments.csv:2', code: 'reference_unresolved', field: 'classId' });
    expect(rejects[1].reason).toMatch(/class 'nope'/);
    expect(JSON.parse(rejects[0].raw)).toEqual({ id: 'p9' });
  });

  it('sweeps records that vanished from a full refresh within the limit', async () => {
    source({ people: [people(20)] });
    await runSync(deps, { tenantId: 't1', connectorId: 'src' });
    source({ people: [people(19)] });
    const run = await runSync(deps, { tenantId: 't1', connectorId: 'src' });
    expect(run.status).toBe('succeeded');
    expect(run.counts.deleted).toBe(1);
    expect(await live(db, 't1', 'person')).toBe(19);
    const del = await db.knex('change_log').where({ tenant_id: 't1', op: 'delete' });
    expect(del).toHaveLength(1);
    expect(del[0].cause).toBe('sweep');
  });

  it('refuses a sweep over the limit, and an operator approval applies it', async () => {
    source({ people: [people(20)] });
    await runSync(deps, { tenantId: 't1', connectorId: 'src' });
    source({ people: [people(10)] });
    const run = await runSync(deps, { tenantId: 't1', connectorId: 'src' });
    expect(run.status).toBe('needs_review');
    expect(run.review?.types[0]).toMatchObject({ type: 'person', before: 20, vanishing: 10, share: 0.5 });
    expect(run.review?.reason).toMatch(/10 of 20 person records \(50\.0%\) would be deleted/);
    expect(await live(db, 't1', 'person')).toBe(20);

    const approved = await approveRun(deps, 't1', run.id, 'ops@district');
    expect(approved.status).toBe('succeeded');
    expect(approved.counts.deleted).toBe(10);
    expect(await live(db, 't1', 'person')).toBe(10);
    await expect(approveRun(deps, 't1', run.id, 'ops')).rejects.toMatchObject({ code: 'run_not_reviewable' });
  });

  it('refuses to sweep when a full stream returns nothing', async () => {
    source({ people: [people(3)] });
    await runSync(deps, { tenantId: 't1', connectorId: 'src' });
    source({ people: [[]] });
    const run = await runSync(deps, { tenantId: 't1', connectorId: 'src' });
    expect(run.status).toBe('needs_review');
    expect(run.review?.reason).toMatch(/returned nothing for people/);
    expect(await live(db, 't1', 'person')).toBe(3);
  });

  it('does not sweep a stored record whose row was present but rejected', async () => {
    source({ people: [people(3)] });
    await runSync(deps, { tenantId: 't1', connectorId: 'src' });
    FAKE_SOURCES.set('main', { streams: { people: { mode: 'full', pages: [{ records: people(2), rejects: [{ location: 'users.csv:4', reason: 'bad date', sourceId: 'p2' }] }] } } });
    const run = await runSync(deps, { tenantId: 't1', connectorId: 'src' });
    expect(run.status).toBe('succeeded');
    expect(run.counts).toMatchObject({ deleted: 0, rejected: 1 });
    expect(await live(db, 't1', 'person')).toBe(3);
  });

  it('reports how long each stream took, in the summary and in the stored run', async () => {
    FAKE_SOURCES.set('main', {
      streams: {
        people: { mode: 'full', pages: [{ records: people(2) }, { records: people(2, 2) }], delayMs: 40 },
        enrollments: { mode: 'full', pages: [{ records: [] }] },
      },
    });
    const run = await runSync(deps, { tenantId: 't1', connectorId: 'src' });
    const [p, e] = run.streams;
    expect(p.stream).toBe('people');
    expect(p.durationMs).toBeGreaterThanOrEqual(70); // two pages, each 40 ms late
    expect(e.durationMs).toBeGreaterThanOrEqual(0);
    expect(e.durationMs!).toBeLessThan(p.durationMs!);
    expect((await getRunSummary(db, 't1', run.id)).streams).toEqual(run.streams);
  });

  it('applies deletes from an incremental stream', async () => {
    source({ people: [people(3)] });
    await runSync(deps, { tenantId: 't1', connectorId: 'src' });
    // The saved cursor says page 1 was read; the incremental stream resumes after it.
    source({ people: [people(3), [{ ...person('p1'), deleted: true }, { ...person('p404'), deleted: true }]] }, 'incremental');
    const run = await runSync(deps, { tenantId: 't1', connectorId: 'src' });
    expect(run.counts).toMatchObject({ deleted: 1, unchanged: 1 });
    expect(await live(db, 't1', 'person')).toBe(2);
  });

  it('dry-run computes the diff and writes nothing', async () => {
    source({ people: [people(10)] });
    await runSync(deps, { tenantId: 't1', connectorId: 'src' });
    const before = await count(db, 'change_log');
    source({ people: [[person('p0', 'Changed'), ...people(5, 1), person('new1')]] });
    const run = await runSync(deps, { tenantId: 't1', connectorId: 'src', dryRun: true });
    expect(run.dryRun).toBe(true);
    expect(run.counts).toMatchObject({ inserted: 1, updated: 1, unchanged: 5 });
    expect(run.status).toBe('needs_review'); // 4 of 10 would vanish
    expect(run.review?.types[0].vanishing).toBe(4);
    expect(await count(db, 'change_log')).toBe(before);
    expect(await live(db, 't1', 'person')).toBe(10);
  });

  it('resumes after a crash: committed pages stay, the re-run finishes the job without duplicates', async () => {
    const pages = [people(4), people(4, 4), people(4, 8)].map((records) => ({ records }));
    FAKE_SOURCES.set('main', { streams: { people: { mode: 'incremental', pages } }, failAfterPages: 2 });
    const crashed = await runSync(deps, { tenantId: 't1', connectorId: 'src' });
    expect(crashed.status).toBe('failed');
    expect(crashed.error?.code).toBe('internal_error');
    expect(await live(db, 't1', 'person')).toBe(8);
    const state = await db.knex('connector_state').where({ tenant_id: 't1', connector_id: 'src', stream: 'people' }).first();
    expect(JSON.parse(state.cursor)).toEqual({ page: 2 });

    const resumed = await runSync(deps, { tenantId: 't1', connectorId: 'src' });
    expect(resumed.status).toBe('succeeded');
    expect(resumed.counts).toMatchObject({ read: 4, inserted: 4 });
    expect(await live(db, 't1', 'person')).toBe(12);
    expect(await count(db, 'change_log', { tenant_id: 't1' })).toBe(12);
  });

  it('a cancelled run ends `cancelled`, keeps its committed pages, and the next run resumes', async () => {
    FAKE_SOURCES.set('main', { streams: { people: { mode: 'incremental', pages: [people(2), people(2, 2), people(2, 4)].map((records) => ({ records })) } } });
    const ac = new AbortController();
    const run = await runSync(deps, { tenantId: 't1', connectorId: 'src', signal: ac.signal, onPage: ({ pages }) => { if (pages === 1) ac.abort(); } });
    expect(run.status).toBe('cancelled');
    expect(run.error?.code).toBe('run_cancelled');
    expect(await live(db, 't1', 'person')).toBe(2);
    const next = await runSync(deps, { tenantId: 't1', connectorId: 'src' });
    expect(next.status).toBe('succeeded');
    expect(await live(db, 't1', 'person')).toBe(6);
  });

  it('never runs one connector twice at once', async () => {
    source({ people: [people(2), people(2, 2)] });
    let second: Promise<unknown> | undefined;
    const run = await runSync(deps, {
      tenantId: 't1', connectorId: 'src',
      onPage: async () => {
        second ??= runSync(deps, { tenantId: 't1', connectorId: 'src' });
        await second.catch(() => undefined);
      },
    });
    expect(run.status).toBe('succeeded');
    await expect(second).rejects.toMatchObject({ code: 'connector_busy' });
  });

  it('keeps tenants apart: same connector id and source ids, separate records and sequences', async () => {
    source({ people: [people(3)] });
    source({ people: [people(2)] }, 'full', 'other');
    await runSync(deps, { tenantId: 't1', connectorId: 'src' });
    await runSync(deps, { tenantId: 't2', connectorId: 'src' });
    expect(await live(db, 't1', 'person')).toBe(3);
    expect(await live(db, 't2', 'person')).toBe(2);
    const ids1 = (await db.knex('records').where({ tenant_id: 't1' }).pluck('id')) as string[];
    const ids2 = (await db.knex('records').where({ tenant_id: 't2' }).pluck('id')) as string[];
    expect(ids1.filter((i) => ids2.includes(i))).toEqual([]);
    const seq2 = await db.knex('change_log').where({ tenant_id: 't2' }).pluck('seq');
    expect(seq2.map(Number)).toEqual([1, 2]);
  });
});

describe('runtime without a database', () => {
  it('a database that is not reachable gives database_unavailable naming it without the password', async () => {
    const err = (await openDb({ url: 'postgres://hub:s3cret@127.0.0.1:1/nowhere' }).catch((e: unknown) => e)) as { code: string; message: string };
    expect(err.code).toBe('database_unavailable');
    expect(err.message).toContain('postgres://hub:***@127.0.0.1:1/nowhere');
    expect(err.message).not.toContain('s3cret');
  });
});
