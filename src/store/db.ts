/**
 * The store: SQLite (better-sqlite3) by default, PostgreSQL when a postgres:// URL is given. knex owns the schema
 * (migrations in src/store/migrations) and ordinary queries; the ingest hot path uses prepared statements on SQLite
 * and multi-row statements on PostgreSQL (src/normalize/ports.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { HubError } from '../core/errors';
import { migrationSource } from './migrations';

export type Dialect = 'sqlite' | 'pg';

/** Lower case without diacritics: the folding name search uses on both databases. */
export function foldText(s: string): string {
  return s.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
}

/**
 * The same folding as SQL over an expression: hub_fold() on SQLite (registered per connection), lower() + a
 * translate() of the common Latin accented letters on PostgreSQL (no extension needed).
 */
export function foldSql(dialect: Dialect, expr: string): string {
  if (dialect === 'sqlite') return `hub_fold(${expr})`;
  const from = 'áàâäãåāăąçćčďéèêëēėęěíìîïīįıñńňóòôöõøōőŕřśšşťúùûüūůűųýÿźżž';
  const to = 'aaaaaaaaacccdeeeeeeeeiiiiiiinnnoooooooorrssstuuuuuuuuyyzzz';
  return `translate(lower(${expr}), '${from}', '${to}')`;
}

export interface Db {
  knex: Knex;
  dialect: Dialect;
  /** Where it points, with any password removed: safe to print. */
  description: string;
  /** Runs the close hooks (pending writes finish first), then closes the pool. */
  close(): Promise<void>;
  /**
   * Work that must finish before the pool closes: writes queued after a response (the disclosure log) would
   * otherwise be lost at shutdown. Returns a function that removes the hook.
   */
  onClose?(hook: () => Promise<void>): () => void;
}

/** The SQLite page cache in KiB: HUB_SQLITE_CACHE_MB (2..4096), else 16 MB. */
export function sqliteCacheKb(mb: string | undefined): number {
  const n = mb === undefined || mb === '' ? 16 : Number(mb);
  if (!Number.isInteger(n) || n < 2 || n > 4096) throw new HubError('config_invalid', `HUB_SQLITE_CACHE_MB must be a whole number of megabytes between 2 and 4096, found "${mb}".`, [{ path: 'env.HUB_SQLITE_CACHE_MB', message: '2..4096' }]);
  return n * 1024;
}

/**
 * The page size of a new SQLite store, in bytes: HUB_SQLITE_PAGE_KB (4, 8, 16, 32 or 64), default 16.
 * PAGE_SIZE_NOTE: the ingest writes rows of 0.3-2 KB (raw payload, record JSON) into about ten B-trees per record;
 * with 16 KB pages the B-trees split less often and fewer rows overflow a page.
 */
export function sqlitePageSize(kb: string | undefined): number {
  const n = kb === undefined || kb === '' ? 16 : Number(kb);
  if (![4, 8, 16, 32, 64].includes(n)) throw new HubError('config_invalid', `HUB_SQLITE_PAGE_KB must be 4, 8, 16, 32 or 64 (kilobytes), found "${kb}".`, [{ path: 'env.HUB_SQLITE_PAGE_KB', message: '4 | 8 | 16 | 32 | 64' }]);
  return n * 1024;
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):([^@/]*)@/, '//$1:***@');
}

export interface OpenOptions {
  /** A SQLite file path (or ':memory:') or a postgres:// URL. */
  url: string;
  /** PostgreSQL schema to use (tests use one per run). */
  schema?: string;
}

export async function openDb(opts: OpenOptions): Promise<Db> {
  const { url } = opts;
  let knex: Knex;
  let dialect: Dialect;
  if (isPostgresUrl(url)) {
    dialect = 'pg';
    knex = knexFactory({
      client: 'pg',
      connection: { connectionString: url },
      searchPath: opts.schema ? [opts.schema] : undefined,
      // Fail a request that cannot get a connection within 10 s (pool exhausted, server gone, pool being closed)
      // instead of knex's 60 s default: a clear database_unavailable beats a hung request or run.
      acquireConnectionTimeout: 10000,
      pool: {
        min: 0,
        max: 10,
        afterCreate: (conn: { query: (sql: string, cb: (err: Error | null) => void) => void }, done: (err: Error | null, conn: unknown) => void) => {
          if (!opts.schema) return done(null, conn);
          conn.query(`create schema if not exists "${opts.schema}"; set search_path to "${opts.schema}"`, (err) => done(err, conn));
        },
      },
    });
  } else {
    dialect = 'sqlite';
    // Settings from the environment are checked once, here: a bad value is a config_invalid naming the variable, not
    // a failure of every pooled connection reported as an unreachable database.
    const pageSize = sqlitePageSize(process.env.HUB_SQLITE_PAGE_KB);
    const cacheKb = sqliteCacheKb(process.env.HUB_SQLITE_CACHE_MB);
    if (url !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(url)), { recursive: true });
    knex = knexFactory({
      client: 'better-sqlite3',
      connection: { filename: url },
      useNullAsDefault: true,
      pool: {
        afterCreate: (conn: { pragma: (s: string) => unknown }, done: (err: Error | null, conn: unknown) => void) => {
          // A new store gets 16 KB pages (SQLite's default is 4 KB). PAGE_SIZE_NOTE says why; an existing store keeps
          // the page size it was made with (the pragma changes nothing once the file has pages, or is in WAL mode).
          conn.pragma(`page_size = ${pageSize}`);
          // WAL: readers never block the writer; NORMAL is durable across process crashes in WAL mode.
          conn.pragma('journal_mode = WAL');
          conn.pragma('synchronous = NORMAL');
          conn.pragma('foreign_keys = ON');
          conn.pragma('busy_timeout = 5000');
          // Page cache: 16 MB by default (SQLite's own default, 2 MB, thrashes: ingest touches several B-trees per
          // record). Measured on a 50k-student SIS load: 64 MB bought no speed (30–32 s either way) and cost 70–100 MB
          // of RSS (304 vs 376–407 MB). HUB_SQLITE_CACHE_MB overrides it (e.g. for very large districts).
          conn.pragma(`cache_size = -${cacheKb}`);
          conn.pragma('temp_store = MEMORY');
          conn.pragma('wal_autocheckpoint = 10000');
          // Accent- and case-folding for name search (SQLite's lower() folds ASCII only): García ~ garcia.
          (conn as unknown as { function: (name: string, opts: object, fn: (v: unknown) => unknown) => void }).function('hub_fold', { deterministic: true }, (v) => (typeof v === 'string' ? foldText(v) : v));
          done(null, conn);
        },
      },
    });
  }
  const description = dialect === 'pg' ? redactUrl(url) : `sqlite:${url}`;
  try {
    await knex.raw('select 1');
  } catch (e) {
    await knex.destroy().catch(() => undefined);
    throw new HubError('database_unavailable', `Cannot connect to the database at ${description}: ${(e as Error).message}`, [], { cause: e });
  }
  const hooks = new Set<() => Promise<void>>();
  return {
    knex, dialect, description,
    onClose: (hook) => {
      hooks.add(hook);
      return () => hooks.delete(hook);
    },
    close: async () => {
      for (const hook of [...hooks]) await hook().catch(() => undefined);
      await knex.destroy();
    },
  };
}

export async function migrate(db: Db): Promise<string[]> {
  const [, applied] = (await db.knex.migrate.latest({ migrationSource })) as [number, string[]];
  return applied;
}
