/**
 * The disclosure log's storage (migration 016, src/serve/disclosures.ts) on SQLite and PostgreSQL: persons as sets
 * stored once by content, the per-(person, day, recipient) index, listings about a person across days and recipients, index keys written
 * once, never remembered from a transaction that rolled back, and the migration of the older layout.
 */
import { describeEachDb } from './helpers/db';
import { disclosurePersons, listDisclosures, recordDisclosures, type DisclosureRow } from '../src/serve/disclosures';
import { dayOfDisclosureId, DISCLOSURE_SET_MAX } from '../src/store/disclosure-keys';
import * as m016 from '../src/store/migrations/016_disclosure_sets';
import type { Db } from '../src/store/db';

const DAY = 86_400_000;
const T0 = Date.parse('2026-03-02T10:00:00.000Z');

/** Records at a given time: disclosure ids are made (from Date.now) before the first await. */
async function recordAt(db: Db, ms: number, rows: DisclosureRow[]): Promise<void> {
  const spy = jest.spyOn(Date, 'now').mockReturnValue(ms);
  let p: Promise<void>;
  try {
    p = recordDisclosures(db, rows);
  } finally {
    spy.mockRestore();
  }
  await p;
}

const row = (tenantId: string, recipient: string, personIds: string[], route = '/r'): DisclosureRow => ({ tenantId, recipient, channel: 'api', categories: ['identity'], personIds, route });

describeEachDb('disclosure log storage', (t) => {
  let db: Db;
  beforeAll(async () => {
    db = await t.open();
    await db.knex('tenants').insert([{ id: 'a', name: 'A', created_at: '2026-01-01', updated_at: '2026-01-01' }, { id: 'b', name: 'B', created_at: '2026-01-01', updated_at: '2026-01-01' }]);
  });
  afterAll(async () => db.close());

  const indexKeys = async (tenant: string, person: string) =>
    ((await db.knex('disclosure_index').where({ tenant_id: tenant, person_id: person }).orderBy(['day', 'recipient']).select('day', 'recipient')) as { day: string; recipient: string }[])
      .map((r) => `${r.day} ${r.recipient}`);

  it('finds a person whose id is longer than the log keeps (255 characters) by that same id', async () => {
    const long = `p-${'x'.repeat(300)}`;
    await recordAt(db, T0 + 5 * DAY, [row('b', 'r-long', [long, 'short'])]);
    const about = await listDisclosures(db, 'b', { personId: long, limit: 10 });
    expect(about.map((d) => d.recipient)).toEqual(['r-long']);
    expect(about[0].personIds).toContain(long.slice(0, 255));
  });

  it('lists the disclosures about a person newest first, across days and recipients, with filters and paging', async () => {
    await recordAt(db, T0, [row('a', 'r1', ['p1', 'p2'])]);
    await recordAt(db, T0 + 1000, [row('a', 'r2', ['p1'])]);
    await recordAt(db, T0 + DAY, [row('a', 'r1', ['p2'])]);
    await recordAt(db, T0 + 2 * DAY, [row('a', 'r1', ['p1', 'p3'], '/x'), row('a', 'r1', ['p1'], '/y')]);
    await recordAt(db, T0 + 2 * DAY, [row('b', 'r1', ['p1'])]); // another tenant, same person id

    const about = await listDisclosures(db, 'a', { personId: 'p1', limit: 50 });
    expect(about.map((d) => [d.recipient, d.route, dayOfDisclosureId(d.id)])).toEqual([
      ['r1', '/y', '2026-03-04'], ['r1', '/x', '2026-03-04'], ['r2', '/r', '2026-03-02'], ['r1', '/r', '2026-03-02'],
    ]);
    expect(about.map((d) => d.id)).toEqual([...about.map((d) => d.id)].sort().reverse());
    expect(about[1].personIds).toEqual(['p1', 'p3']);
    // One index key per (person, day, recipient): the two disclosures of day 3 share one.
    expect(await indexKeys('a', 'p1')).toEqual(['2026-03-02 r1', '2026-03-02 r2', '2026-03-04 r1']);
    expect(await indexKeys('b', 'p1')).toEqual(['2026-03-04 r1']);

    expect((await listDisclosures(db, 'a', { personId: 'p1', recipient: 'r2', limit: 50 })).map((d) => d.recipient)).toEqual(['r2']);
    expect((await listDisclosures(db, 'a', { personId: 'p2', limit: 50 })).map((d) => dayOfDisclosureId(d.id))).toEqual(['2026-03-03', '2026-03-02']);
    expect(await listDisclosures(db, 'a', { personId: 'nobody', limit: 50 })).toEqual([]);
    // since filters on `at`; the day before is read from the index, nothing earlier comes back.
    const recent = await listDisclosures(db, 'a', { personId: 'p1', since: new Date(T0 + 2 * DAY - 60_000).toISOString(), limit: 50 });
    expect(recent.map((d) => d.route)).toEqual(['/y', '/x']);

    // Paging on the id, two at a time, gives the same list.
    const paged: string[] = [];
    let before: string | undefined;
    for (;;) {
      const page = await listDisclosures(db, 'a', { personId: 'p1', beforeId: before, limit: 2 });
      paged.push(...page.map((d) => d.id));
      if (page.length < 2) break;
      before = page[page.length - 1].id;
    }
    expect(paged).toEqual(about.map((d) => d.id));
  });

  it('writes an index key once per process, but every disclosure', async () => {
    const now = Date.now();
    await recordAt(db, now, [row('a', 'sync-tool', ['q1', 'q2'])]);
    const keys = await db.knex('disclosure_index').where({ tenant_id: 'a', recipient: 'sync-tool' }).count({ n: '*' }).first();
    // A key deleted behind the writer's back stays unwritten: the writer remembers it wrote it (this is what saves
    // the writes) ...
    await db.knex('disclosure_index').where({ tenant_id: 'a', recipient: 'sync-tool', person_id: 'q1' }).delete();
    await recordAt(db, now + 1, [row('a', 'sync-tool', ['q1', 'q2'])]);
    expect(Number((await db.knex('disclosure_index').where({ tenant_id: 'a', recipient: 'sync-tool' }).count({ n: '*' }).first())!.n)).toBe(Number(keys!.n) - 1);
    // ... and a new person in the same answer is indexed.
    await recordAt(db, now + 2, [row('a', 'sync-tool', ['q1', 'q2', 'q3'])]);
    expect(await indexKeys('a', 'q3')).toEqual([`${new Date(now + 2).toISOString().slice(0, 10)} sync-tool`]);
    expect(await listDisclosures(db, 'a', { personId: 'q2', recipient: 'sync-tool', limit: 10 })).toHaveLength(3);
  });

  it('stores a set of persons once, whoever receives it, and keeps the order of the parts', async () => {
    const count = async () => Number((await db.knex('disclosure_person_sets').where({ tenant_id: 'a' }).count({ n: '*' }).first())!.n);
    const before = await count();
    await recordDisclosures(db, [row('a', 'poller', ['s2', 's1', 's3']), row('a', 'poller', ['s1', 's2', 's3'])]);
    await recordDisclosures(db, [row('a', 'other', ['s3', 's2', 's1'])]);
    expect(await count()).toBe(before + 1);
    const listed = await listDisclosures(db, 'a', { personId: 's2', limit: 10 });
    expect(listed.map((d) => [d.recipient, d.personIds])).toEqual([['other', ['s1', 's2', 's3']], ['poller', ['s1', 's2', 's3']], ['poller', ['s1', 's2', 's3']]]);
    // Another tenant's identical set is its own row.
    await recordDisclosures(db, [row('b', 'poller', ['s1', 's2', 's3'])]);
    expect(await count()).toBe(before + 1);
    expect(Number((await db.knex('disclosure_person_sets').where({ tenant_id: 'b' }).count({ n: '*' }).first())!.n)).toBeGreaterThanOrEqual(1);
    expect((await listDisclosures(db, 'b', { personId: 's1', limit: 10 })).map((d) => d.personIds)).toEqual([['s1', 's2', 's3']]);
  });

  it('does not remember keys written in a transaction that rolled back', async () => {
    const r = row('a', 'webhook:wh_rb', ['w1']);
    await expect(db.knex.transaction(async (trx) => {
      await recordDisclosures(db, [r], trx);
      throw new Error('rolled back');
    })).rejects.toThrow('rolled back');
    expect(await indexKeys('a', 'w1')).toEqual([]);
    await recordDisclosures(db, [r]);
    expect(await indexKeys('a', 'w1')).toHaveLength(1);
    expect(await listDisclosures(db, 'a', { personId: 'w1', limit: 10 })).toHaveLength(1);
  });

  it('keeps a large disclosure in parts, and counts distinct persons', async () => {
    const ids = Array.from({ length: 2 * DISCLOSURE_SET_MAX + 500 }, (_, i) => `big${String(i).padStart(5, '0')}`);
    await recordDisclosures(db, [{ ...row('a', 'state', [...ids, ids[0], ids[1]]), channel: 'export' }]);
    const [d] = await listDisclosures(db, 'a', { recipient: 'state', limit: 1 });
    expect(Number(d.person_count)).toBe(ids.length);
    const stored = await db.knex('disclosures').where({ id: d.id }).first('set_ids');
    const sets = JSON.parse(stored.set_ids) as string[];
    expect(sets).toHaveLength(3);
    expect((await db.knex('disclosure_person_sets').where({ tenant_id: 'a' }).whereIn('set_id', sets).pluck('person_ids')).map((j: string) => JSON.parse(j).length).sort((x: number, y: number) => x - y)).toEqual([500, DISCLOSURE_SET_MAX, DISCLOSURE_SET_MAX]);
    expect(await disclosurePersons(db, 'a', d.id)).toEqual(ids);
    expect((await listDisclosures(db, 'a', { personId: ids[2400], limit: 5 })).map((x) => x.id)).toEqual([d.id]);
  });

  it('016 moves the older layout over, and back', async () => {
    const before = await listDisclosures(db, 'a', { personId: 'p1', limit: 50 });
    const all = await listDisclosures(db, 'a', { limit: 1000 });
    await m016.down(db.knex);
    const old = await db.knex('disclosure_persons').where({ tenant_id: 'a', person_id: 'p1' }).pluck('disclosure_id');
    expect([...old].sort()).toEqual(before.map((d) => d.id).sort());
    await m016.up(db.knex);
    expect(await listDisclosures(db, 'a', { personId: 'p1', limit: 50 })).toEqual(before);
    expect(await listDisclosures(db, 'a', { limit: 1000 })).toEqual(all);
    expect(await indexKeys('a', 'p1')).toEqual(['2026-03-02 r1', '2026-03-02 r2', '2026-03-04 r1']);
  });
});
