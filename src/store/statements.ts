/**
 * Prepared SQLite statements, cached per connection: the one cache for the hot paths that bypass knex (the ingest
 * ports, the read APIs, the disclosure log). Statements without knex's per-query machinery (query object, bindings
 * formatting, a fresh prepare, the promise chain around the pool): on SQLite they run as prepared statements,
 * cached per connection, on the pooled better-sqlite3 connection; on PostgreSQL they go through knex.raw.
 *
 * better-sqlite3 is synchronous: a call checks the connection out, runs, and gives it back without yielding, so it
 * can never interleave with a knex transaction holding the same connection (the pool hands it to one user at a
 * time). SQL is written with `?` placeholders, as for knex.raw; values are always bindings.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { Db } from './db';

const MAX_CACHED = 500;
const statements = new WeakMap<BetterSqlite3.Database, Map<string, BetterSqlite3.Statement>>();

/** `conn.prepare(sql)`, prepared once per connection. */
export function prepared(conn: BetterSqlite3.Database, sql: string): BetterSqlite3.Statement {
  let cache = statements.get(conn);
  if (!cache) statements.set(conn, (cache = new Map()));
  let st = cache.get(sql);
  if (!st) {
    if (cache.size >= MAX_CACHED) cache.clear();
    st = conn.prepare(sql);
    cache.set(sql, st);
  }
  return st;
}

const sqliteValue = (v: unknown) => (typeof v === 'boolean' ? Number(v) : v);

/** Runs `fn` with the SQLite connection checked out of the pool (synchronously: `fn` must not await). */
export async function withSqlite<T>(db: Db, fn: (conn: BetterSqlite3.Database, prepare: (sql: string) => BetterSqlite3.Statement) => T): Promise<T> {
  const client = db.knex.client as { acquireConnection(): Promise<BetterSqlite3.Database>; releaseConnection(c: BetterSqlite3.Database): Promise<void> };
  const conn = await client.acquireConnection();
  try {
    return fn(conn, (sql) => prepared(conn, sql));
  } finally {
    await client.releaseConnection(conn);
  }
}

/** The rows of a SELECT. */
export async function selectRows<T = Record<string, unknown>>(db: Db, sql: string, bindings: readonly unknown[]): Promise<T[]> {
  if (db.dialect === 'sqlite') return withSqlite(db, (_c, prepare) => prepare(sql).all(bindings.map(sqliteValue)) as T[]);
  const r = (await db.knex.raw(sql, bindings as never[])) as { rows: T[] };
  return r.rows;
}

/** knex.raw answers differ: an array on SQLite, `{ rows }` on PostgreSQL. */
export function rowsOf<T = Record<string, unknown>>(raw: unknown): T[] {
  return Array.isArray(raw) ? (raw as T[]) : ((raw as { rows: T[] }).rows ?? []);
}
