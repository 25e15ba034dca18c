/** Storage layout migrations that rebuild tables keep every row and every index. */
import { supportedDbs } from './helpers/db';
import * as m010 from '../src/store/migrations/010_sqlite_rowid';
import { sqliteCacheKb, type Db } from '../src/store/db';

const sqlite = supportedDbs().find((d) => d.name === 'sqlite')!;

describe('010: wide SQLite tables become rowid tables', () => {
  let db: Db;
  beforeAll(async () => {
    db = await sqlite.open();
  });
  afterAll(async () => db.close());

  const layout = async () => (await db.knex.raw(`select type, name, sql from sqlite_schema where tbl_name in ('records', 'source_records') order by name`)) as { type: string; name: string; sql: string | null }[];

  it('a fresh store has rowid records/source_records with their indexes', async () => {
    const rows = await layout();
    for (const t of rows.filter((r) => r.type === 'table')) expect(t.sql).not.toMatch(/without rowid/i);
    expect(rows.map((r) => r.name)).toEqual(expect.arrayContaining(['records_json_personid', 'records_json_classid', 'source_records_tenant_id_entity_type_unified_id_index']));
  });

  it('round-trips data and indexes through down and up, and upserts still conflict on the key', async () => {
    const at = new Date().toISOString();
    await db.knex('records').insert({ tenant_id: 't', entity_type: 'person', id: 'p1', data: '{"personId":"x"}', created_seq: 1, updated_seq: 1, created_at: at, updated_at: at });
    await db.knex('source_records').insert({ tenant_id: 't', connector_id: 'c', entity_type: 'person', source_id: 's1', unified_id: 'p1', hash: 'h', raw: '{}', first_seen_at: at, last_seen_at: at, last_run_id: 'r' });
    const before = await layout();
    await m010.down(db.knex);
    expect((await layout()).find((r) => r.name === 'records')!.sql).toMatch(/without rowid/i);
    await m010.up(db.knex);
    const after = await layout();
    expect(after.map((r) => [r.type, r.name, r.sql])).toEqual(before.map((r) => [r.type, r.name, r.sql]));
    expect(await db.knex('records').select('id', 'data')).toEqual([{ id: 'p1', data: '{"personId":"x"}' }]);
    expect((await db.knex('source_records').select('unified_id'))[0].unified_id).toBe('p1');
    let dup: unknown;
    try {
      await db.knex('records').insert({ tenant_id: 't', entity_type: 'person', id: 'p1', data: '{}', created_seq: 2, updated_seq: 2, created_at: at, updated_at: at });
    } catch (e) {
      dup = e;
    }
    expect(String((dup as Error | undefined)?.message)).toMatch(/UNIQUE constraint failed: records/);
  });
});

describe('SQLite page cache setting', () => {
  it('defaults to 16 MB, takes HUB_SQLITE_CACHE_MB, and refuses nonsense naming the variable', () => {
    expect(sqliteCacheKb(undefined)).toBe(16 * 1024);
    expect(sqliteCacheKb('64')).toBe(64 * 1024);
    expect(() => sqliteCacheKb('lots')).toThrow(/HUB_SQLITE_CACHE_MB/);
    expect(() => sqliteCacheKb('1')).toThrow(/between 2 and 4096/);
  });
});
