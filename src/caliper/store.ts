/**
 * Writes one Caliper envelope in one transaction and reads events back for the API.
 *
 * The write is the ingest hot path, so it follows src/normalize/ports.ts: on SQLite, prepared statements run
 * synchronously inside a better-sqlite3 transaction on the pool's single connection (nothing can interleave); on
 * PostgreSQL, multi-row statements through knex. A replayed event id is skipped (`on conflict do nothing` on
 * SQLite; looked up first on PostgreSQL) and counted as a duplicate; its sequence number is not consumed.
 *
 * Each envelope is atomic: all of its valid events and entities are stored, or none. On SQLite, envelopes that
 * arrive together share one commit (group commit, see SqliteGroupWriter), each in its own savepoint; on
 * PostgreSQL each envelope is its own transaction (PostgreSQL groups WAL flushes of concurrent commits itself).
 *
 * Durability: the caller acknowledges the envelope only after this resolves, i.e. after COMMIT and, on SQLite,
 * after the write-ahead log is fsynced (walOf). On PostgreSQL a commit is durable with the default
 * synchronous_commit=on.
 */
import fs from 'node:fs';
import path from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import type { Knex } from 'knex';
import type { Db } from '../store/db';
import type { EntityRow, EventRow } from './extract';

export interface EnvelopeWrite {
  tenantId: string;
  sensor: string;
  dataVersion: string;
  receivedAt: string;
  events: EventRow[];
  entities: EntityRow[];
}

export interface WriteResult {
  /** Events stored. */
  inserted: number;
  /** Events whose id the tenant already had (replays), or repeated within the envelope: not stored again. */
  duplicates: number;
  /** Entity describes upserted. */
  entities: number;
}

const EVENT_COLS = [
  'tenant_id', 'seq', 'event_id', 'sensor', 'data_version', 'event_type', 'action', 'profile', 'actor_id', 'actor_type',
  'object_id', 'object_type', 'event_time', 'received_at', 'session_id', 'group_id', 'score_given', 'max_score', 'data',
] as const;
const ENTITY_COLS = ['tenant_id', 'entity_id', 'entity_type', 'sensor', 'data_version', 'data', 'first_seen_at', 'last_seen_at'] as const;
const ENTITY_UPDATE = ['entity_type', 'sensor', 'data_version', 'data', 'last_seen_at'] as const;

const SQL = {
  maxSeq: 'select max(seq) as m from learning_events where tenant_id = ?',
  insertEvent: `insert into learning_events (${EVENT_COLS.join(',')}) values (${EVENT_COLS.map(() => '?').join(',')})
    on conflict (tenant_id, event_id) do nothing`,
  upsertEntity: `insert into caliper_entities (${ENTITY_COLS.join(',')}) values (${ENTITY_COLS.map(() => '?').join(',')})
    on conflict (tenant_id, entity_id) do update set ${ENTITY_UPDATE.map((c) => `${c} = excluded.${c}`).join(', ')}`,
};

type Stmts = { [K in keyof typeof SQL]: BetterSqlite3.Statement };
const stmtCache = new WeakMap<BetterSqlite3.Database, Stmts>();

function sqliteStatements(conn: BetterSqlite3.Database): Stmts {
  let s = stmtCache.get(conn);
  if (!s) {
    s = Object.fromEntries(Object.entries(SQL).map(([k, sql]) => [k, conn.prepare(sql)])) as Stmts;
    stmtCache.set(conn, s);
  }
  return s;
}

interface PoolClient {
  acquireConnection(): Promise<unknown>;
  releaseConnection(conn: unknown): Promise<unknown>;
}

function eventValues(w: EnvelopeWrite, r: EventRow, seq: number): unknown[] {
  return [
    w.tenantId, seq, r.event_id, w.sensor, w.dataVersion, r.event_type, r.action, r.profile, r.actor_id, r.actor_type,
    r.object_id, r.object_type, r.event_time, w.receivedAt, r.session_id, r.group_id, r.score_given, r.max_score, r.data,
  ];
}

/** One group commit holds at most this many envelopes (and as many as are waiting, up to that). */
const MAX_GROUP_ENVELOPES = 256;

interface Pending {
  w: EnvelopeWrite;
  resolve: (r: WriteResult) => void;
  reject: (e: unknown) => void;
}

/**
 * Group commit on SQLite. Envelopes that arrive while the previous group is being written wait in a queue; the
 * next flush writes all of them in one transaction, each inside its own SAVEPOINT (better-sqlite3 nests
 * transactions that way), so each envelope stays atomic — all of its events or none, and a failing envelope does
 * not affect the others. Then the WAL is fsynced off the event loop (see syncWal) and only then is every envelope
 * of the group acknowledged. With one envelope in flight this is exactly one transaction per envelope.
 */
class SqliteGroupWriter {
  private pending: Pending[] = [];
  private scheduled = false;

  constructor(private readonly db: Db) {}

  write(w: EnvelopeWrite): Promise<WriteResult> {
    return new Promise<WriteResult>((resolve, reject) => {
      this.pending.push({ w, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => void this.flush());
  }

  private async flush(): Promise<void> {
    const client = this.db.knex.client as unknown as PoolClient;
    let conn: BetterSqlite3.Database;
    try {
      conn = (await client.acquireConnection()) as BetterSqlite3.Database;
    } catch (e) {
      // The database is gone (closed, unreachable): nothing waiting can be stored.
      this.scheduled = false;
      for (const p of this.pending.splice(0)) p.reject(e);
      return;
    }
    this.scheduled = false;
    const group = this.pending.splice(0, MAX_GROUP_ENVELOPES);
    if (this.pending.length) this.schedule();
    let outcomes: Outcome[];
    let durable: Promise<void>;
    try {
      const wal = walOf(conn);
      outcomes = commitGroup(conn, group.map((p) => p.w), wal === undefined);
      durable = wal === undefined ? Promise.resolve() : syncWal(wal);
    } catch (e) {
      for (const p of group) p.reject(e);
      return;
    } finally {
      // The next group may commit while this one's fsync runs.
      await client.releaseConnection(conn);
    }
    try {
      await durable;
    } catch (e) {
      // Committed but not known to be on disk: not acknowledged; the sensor retries and the replay is a duplicate.
      for (const p of group) p.reject(e);
      return;
    }
    group.forEach((p, i) => {
      const o = outcomes[i];
      if (o.ok) p.resolve(o.result);
      else p.reject(o.error);
    });
  }
}

type Outcome = { ok: true; result: WriteResult } | { ok: false; error: unknown };

/** Writes the group in one transaction, one savepoint per envelope; `fullSync` fsyncs at COMMIT (non-WAL files). */
function commitGroup(conn: BetterSqlite3.Database, writes: EnvelopeWrite[], fullSync: boolean): Outcome[] {
  const s = sqliteStatements(conn);
  const one = conn.transaction((w: EnvelopeWrite): WriteResult => {
    let seq = Number((s.maxSeq.get(w.tenantId) as { m: number | null }).m ?? 0);
    let inserted = 0;
    let duplicates = 0;
    for (const r of w.events) {
      if (s.insertEvent.run(eventValues(w, r, seq + 1)).changes === 1) {
        seq++;
        inserted++;
      } else {
        duplicates++;
      }
    }
    for (const e of w.entities) s.upsertEntity.run(w.tenantId, e.entity_id, e.entity_type, w.sensor, w.dataVersion, e.data, w.receivedAt, w.receivedAt);
    return { inserted, duplicates, entities: w.entities.length };
  });
  const all = conn.transaction((): Outcome[] =>
    writes.map((w) => {
      try {
        return { ok: true, result: one(w) }; // a SAVEPOINT inside the group's transaction
      } catch (error) {
        return { ok: false, error };
      }
    }),
  );
  if (!fullSync) return all.immediate();
  const previous = Number(conn.pragma('synchronous', { simple: true }));
  conn.pragma('synchronous = FULL');
  try {
    return all.immediate();
  } finally {
    conn.pragma(`synchronous = ${previous}`);
  }
}

/**
 * The connection's write-ahead log, opened once per connection for fsync. In WAL mode the store commits with
 * synchronous=NORMAL (db.ts): COMMIT writes the transaction's frames to the -wal file without fsync, which survives a
 * crash of the process but not of the machine. A sensor deletes what was acknowledged, so a Caliper group is
 * acknowledged only after the -wal file has been fsynced — the guarantee synchronous=FULL gives, but the fsync runs
 * on libuv's thread pool instead of blocking the event loop inside COMMIT. (A checkpoint that resets the WAL first
 * syncs the WAL and the database file itself, so frames it moves are durable too.) `undefined`: not a WAL file
 * (in-memory, or another journal mode): commit with synchronous=FULL instead.
 */
const walFds = new WeakMap<BetterSqlite3.Database, number | null>();
const closeFd = new FinalizationRegistry<number>((fd) => fs.close(fd, () => undefined));

function walOf(conn: BetterSqlite3.Database): number | undefined {
  const known = walFds.get(conn);
  if (known !== undefined) return known ?? undefined;
  if (conn.memory || String(conn.pragma('journal_mode', { simple: true })).toLowerCase() !== 'wal') {
    walFds.set(conn, null);
    return undefined;
  }
  // The log exists once the connection has used the database in WAL mode; until then, commit with FULL.
  const file = `${conn.name}-wal`;
  if (!fs.existsSync(file)) return undefined;
  const fd = fs.openSync(file, 'r+');
  closeFd.register(conn, fd);
  // Make the log's directory entry durable too.
  const dir = fs.openSync(path.dirname(path.resolve(file)), 'r');
  try {
    fs.fsyncSync(dir);
  } finally {
    fs.closeSync(dir);
  }
  walFds.set(conn, fd);
  return fd;
}

function syncWal(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (e) => (e ? reject(e) : resolve())));
}

const writers = new WeakMap<Db, SqliteGroupWriter>();

function writeSqlite(db: Db, w: EnvelopeWrite): Promise<WriteResult> {
  let writer = writers.get(db);
  if (!writer) {
    writer = new SqliteGroupWriter(db);
    writers.set(db, writer);
  }
  return writer.write(w);
}

const PG_CHUNK = 500;
/** pg_advisory_xact_lock(class, hashtext(tenant)): one Caliper writer per tenant at a time (sequence numbers). */
const PG_LOCK_CLASS = 0x43414c49; // 'CALI'

function chunks<T>(xs: T[], n = PG_CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

async function writePg(db: Db, w: EnvelopeWrite): Promise<WriteResult> {
  return db.knex.transaction(async (trx: Knex.Transaction) => {
    await trx.raw('select pg_advisory_xact_lock(?, hashtext(?))', [PG_LOCK_CLASS, w.tenantId]);
    const seen = new Set<string>();
    for (const part of chunks([...new Set(w.events.map((r) => r.event_id))], 1000)) {
      const rows = (await trx('learning_events').select('event_id').where('tenant_id', w.tenantId).whereIn('event_id', part)) as { event_id: string }[];
      for (const r of rows) seen.add(r.event_id);
    }
    const fresh: EventRow[] = [];
    for (const r of w.events) {
      if (seen.has(r.event_id)) continue;
      seen.add(r.event_id);
      fresh.push(r);
    }
    const max = (await trx('learning_events').max({ m: 'seq' }).where('tenant_id', w.tenantId).first()) as { m: string | number | null } | undefined;
    let seq = Number(max?.m ?? 0);
    for (const part of chunks(fresh)) {
      await trx('learning_events').insert(part.map((r) => Object.fromEntries(eventValues(w, r, ++seq).map((v, i) => [EVENT_COLS[i], v]))));
    }
    // One row per entity id (a multi-row upsert may not touch a row twice); the last describe wins.
    const entities = [...new Map(w.entities.map((e) => [e.entity_id, e])).values()];
    for (const part of chunks(entities)) {
      await trx('caliper_entities')
        .insert(part.map((e) => ({
          tenant_id: w.tenantId, entity_id: e.entity_id, entity_type: e.entity_type, sensor: w.sensor, data_version: w.dataVersion,
          data: e.data, first_seen_at: w.receivedAt, last_seen_at: w.receivedAt,
        })))
        .onConflict(['tenant_id', 'entity_id'])
        .merge([...ENTITY_UPDATE]);
    }
    return { inserted: fresh.length, duplicates: w.events.length - fresh.length, entities: w.entities.length };
  });
}

/** Stores the envelope's valid events and entities atomically; resolves after COMMIT. */
export function writeEnvelope(db: Db, w: EnvelopeWrite): Promise<WriteResult> {
  return db.dialect === 'sqlite' ? writeSqlite(db, w) : writePg(db, w);
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

export interface EventFilter {
  actor?: string;
  type?: string;
  /** ISO instant, normalised to YYYY-MM-DDTHH:mm:ss.SSSZ: events whose eventTime is at or after it. */
  since?: string;
  afterSeq?: number;
  limit: number;
}

export interface StoredEvent {
  seq: number | string;
  event_id: string;
  sensor: string;
  data_version: string;
  event_type: string;
  action: string;
  profile: string | null;
  actor_id: string;
  actor_type: string | null;
  object_id: string;
  object_type: string | null;
  event_time: string;
  received_at: string;
  session_id: string | null;
  group_id: string | null;
  score_given: number | null;
  max_score: number | null;
  data: string;
}

/** Events in arrival order (seq), `limit + 1` rows so the caller can tell whether a next page exists. */
export async function listEvents(db: Db, tenantId: string, f: EventFilter): Promise<StoredEvent[]> {
  const q = db.knex('learning_events').select(EVENT_COLS.filter((c) => c !== 'tenant_id')).where('tenant_id', tenantId).orderBy('seq', 'asc').limit(f.limit + 1);
  if (f.actor !== undefined) q.where('actor_id', f.actor);
  if (f.type !== undefined) q.where('event_type', f.type);
  if (f.since !== undefined) q.where('event_time', '>=', f.since);
  if (f.afterSeq !== undefined) q.where('seq', '>', f.afterSeq);
  return (await q) as StoredEvent[];
}
