/** Storage layout migrations: rebuilt tables keep every row and every index; partial indexes are still used. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeEachDb, supportedDbs } from './helpers/db';
import { PARTIAL_JSON_INDEXES } from '../src/store/migrations/015_partial_json_indexes';
import { jsonFieldSql } from '../src/store/json-sql';
import * as m010 from '../src/store/migrations/010_sqlite_rowid';
import { migrate, openDb, sqliteCacheKb, sqlitePageSize, type Db } from '../src/store/db';

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

describe('SQLite page size of a new store', () => {
  it('is 16 KB by default, takes HUB_SQLITE_PAGE_KB for a new file, keeps an existing file\'s, and refuses nonsense', async () => {
    expect(sqlitePageSize(undefined)).toBe(16384);
    expect(sqlitePageSize('4')).toBe(4096);
    expect(() => sqlitePageSize('12')).toThrow(/HUB_SQLITE_PAGE_KB must be 4, 8, 16, 32 or 64/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-pagesize-'));
    const pageSize = async (file: string) => {
      const db = await openDb({ url: path.join(dir, file) });
      try {
        await migrate(db);
        return Number(((await db.knex.raw('pragma page_size')) as { page_size: number }[])[0].page_size);
      } finally {
        await db.close();
      }
    };
    try {
      expect(await pageSize('default.sqlite')).toBe(16384);
      process.env.HUB_SQLITE_PAGE_KB = '8';
      expect(await pageSize('eight.sqlite')).toBe(8192);
      // An existing store keeps the size it was made with.
      expect(await pageSize('default.sqlite')).toBe(16384);
      // A bad value stops openDb with an error naming the variable (not an unreachable database).
      process.env.HUB_SQLITE_PAGE_KB = '12';
      await expect(openDb({ url: path.join(dir, 'bad.sqlite') })).rejects.toMatchObject({ code: 'config_invalid', details: [{ path: 'env.HUB_SQLITE_PAGE_KB' }] });
    } finally {
      delete process.env.HUB_SQLITE_PAGE_KB;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describeEachDb('015: reference-field indexes on records are partial and still used', (t) => {
  let db: Db;
  const tenant = 'idx';
  beforeAll(async () => {
    db = await t.open();
    const at = new Date().toISOString();
    const rows = [];
    // Enough rows of several types that a scan would be the worse plan even without statistics.
    for (let i = 0; i < 400; i++) {
      rows.push({ tenant_id: tenant, entity_type: 'enrollment', id: `e${i}`, data: JSON.stringify({ personId: `p${i % 40}`, classId: `c${i % 20}`, schoolId: 's1' }), created_seq: i + 1, updated_seq: i + 1, created_at: at, updated_at: at });
      rows.push({ tenant_id: tenant, entity_type: 'person', id: `p${i}`, data: JSON.stringify({ givenName: `G${i}` }), created_seq: i + 1, updated_seq: i + 1, created_at: at, updated_at: at });
    }
    for (let i = 0; i < rows.length; i += 100) await db.knex('records').insert(rows.slice(i, i + 100));
    if (db.dialect === 'pg') await db.knex.raw('analyze records');
  });
  afterAll(async () => db.close());

  it('indexes only the records that carry the field', async () => {
    if (db.dialect === 'sqlite') {
      const defs = (await db.knex.raw(`select name, sql from sqlite_schema where type = 'index' and tbl_name = 'records' and name like 'records_json_%'`)) as { name: string; sql: string }[];
      expect(defs.map((d) => d.name).sort()).toEqual(PARTIAL_JSON_INDEXES.map((i) => i.name).sort());
      for (const d of defs) expect(d.sql).toMatch(/where json_extract\(data, '\$\.\w+'\) is not null$/);
      // Entries in the personId index: only the 400 enrollments, not the 400 persons.
      const n = (await db.knex.raw(`select count(*) as n from records indexed by records_json_personid where tenant_id = ? and entity_type = 'enrollment' and ${jsonFieldSql('sqlite', 'personId')} is not null`, [tenant])) as { n: number }[];
      expect(Number(n[0].n)).toBe(400);
    } else {
      const r = await db.knex.raw(`select indexname, indexdef from pg_indexes where tablename = 'records' and schemaname = current_schema() and indexname like 'records_json_%'`);
      const defs = r.rows as { indexname: string; indexdef: string }[];
      expect(defs.map((d) => d.indexname).sort()).toEqual(PARTIAL_JSON_INDEXES.map((i) => i.name).sort());
      for (const d of defs) expect(d.indexdef).toMatch(/WHERE \(\(\(data\)::jsonb ->> '\w+'::text\) IS NOT NULL\)$/);
    }
  });

  it('= and IN on the field still use the index', async () => {
    const plan = async (sql: string, bindings: unknown[]) => {
      if (db.dialect === 'sqlite') return ((await db.knex.raw(`explain query plan ${sql}`, bindings as never[])) as { detail: string }[]).map((r) => r.detail).join('\n');
      await db.knex.raw('set enable_seqscan = off');
      const r = await db.knex.raw(`explain ${sql}`, bindings as never[]);
      await db.knex.raw('set enable_seqscan = on');
      return (r.rows as { 'QUERY PLAN': string }[]).map((x) => x['QUERY PLAN']).join('\n');
    };
    const d = db.dialect;
    const eq = await plan(`select id from records r where r.tenant_id = ? and r.entity_type = ? and ${jsonFieldSql(d, 'personId', 'r')} = ?`, [tenant, 'enrollment', 'p1']);
    expect(eq).toMatch(/records_json_personid/);
    const inList = await plan(`select id from records where tenant_id = ? and entity_type = ? and ${jsonFieldSql(d, 'classId')} in (?, ?)`, [tenant, 'enrollment', 'c1', 'c2']);
    expect(inList).toMatch(/records_json_classid/);
    const rows = await db.knex('records').where({ tenant_id: tenant, entity_type: 'enrollment' }).whereRaw(`${jsonFieldSql(d, 'personId')} = ?`, ['p3']).select('id');
    expect(rows).toHaveLength(10);
  });
});
