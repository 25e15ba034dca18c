/**
 * The OneRoster users projection (tables: migration 013). A `/users` page over the unified records costs a JSON scan
 * for every filter and count, a role-record lookup per page, and parsing, mapping and serializing every user; over
 * the projection it is a scan of narrow rows plus the concatenation of pre-serialized objects.
 *
 * Maintained on the read side, from the change log — nothing at ingest writes it:
 *
 *  - `oneroster_projections.seq` is the change-log sequence the rows reflect. Before the provider uses the
 *    projection for a request made at tenant sequence S, the rows must reflect S: `ready()` compares (an in-memory
 *    note of what this process last saw, so a quiet tenant costs nothing) and otherwise catches up.
 *  - Catching up is a series of steps. A step first looks, without a lock, for person and role changes after `seq`:
 *    when there are none (gradebook writes, derived data) it writes nothing and notes in memory how far the rows are
 *    known to be current. Otherwise it takes the projection's row lock (one writer at a time, across processes; on
 *    SQLite it starts with a write, so it holds the write lock and never has to upgrade a read, and waits at most
 *    LOCK_WAIT_MS for another process's lock — SQLITE_BUSY sends the request to the records), reads the person and
 *    role changes after `seq` (at most `stepChanges` of them, within `STEP_SPAN` sequence numbers), rebuilds the
 *    rows of the persons they touch (a role record's person, before and after a change of `personId`) from the
 *    current records, and moves `seq` on, all in one transaction. Every row is rebuilt from data read under the lock,
 *    so a row always reflects at least every change up to the `seq` written with it.
 *  - A request runs `inlineSteps` steps itself (a sync's or an API write's changes: one short step); when more are
 *    left (a first build, a large sync) they go on in the background and the request is answered from the records,
 *    so no request ever waits for a long build, and no answer is ever served from rows older than its sequence.
 *  - `PROJECTION_VERSION` is stored with `seq`: a build by other code (a changed user shape or new columns) starts
 *    again from sequence 0, i.e. from the first change of the tenant (the change log is complete and never pruned).
 *
 * The JSON holds `MARK` where the request's origin goes (hrefs are absolute): `withBase()` puts it in.
 */
import type { Knex } from 'knex';
import type BetterSqlite3 from 'better-sqlite3';
import type { Db, Dialect } from '../../store/db';
import { prepared, rowsOf, selectRows } from '../../store/statements';
import type { Logger } from '../../core/logger';
import { jsonText, setText } from './fields';
import { roleAtOrg, rolesByPerson, TYPES, USER_COLUMNS, type Json, type MapContext } from './model';

/** Bump when the user object, the columns or the role sets change: every tenant's projection is rebuilt. */
export const PROJECTION_VERSION = 1;
const NAME = 'users';
/** At most this many sequence numbers per step, whatever their types (bounds the change-log scan of a step). */
const STEP_SPAN = 50_000;
const ID_CHUNK = 500;
/** SQLite: how long a catch-up waits for another process's write lock before the request goes to the records. */
const LOCK_WAIT_MS = 100;

/** The base URL placeholder: a NUL character, which JSON.stringify writes as the six characters `\u0000`. */
const MARK = '\u0000';
const MARK_JSON = '\\u0000';

/** JSON text as express's `json escape` writes it (<, >, & escaped). */
export function escapeJson(json: string): string {
  return json.replace(/[<>&]/g, (c) => (c === '<' ? '\\u003c' : c === '>' ? '\\u003e' : '\\u0026'));
}

const MARK_BYTES = Buffer.from(MARK_JSON, 'latin1');
const COMMA = Buffer.from(',');

/** The base URL as it goes into JSON text (escaped like the rest of the answer). */
const baseText = (base: string) => escapeJson(JSON.stringify(base).slice(1, -1));

/** Serialized projection JSON with the request's base URL (`http(s)://host/ims/oneroster`) in place of the mark. */
export function withBase(json: string, base: string): string {
  return json.split(MARK_JSON).join(baseText(base));
}

/**
 * `head` + the objects (UTF-8, marks replaced by the base URL) joined by commas + `tail`, as one buffer: a page is
 * assembled by copying bytes, without building or re-encoding a string.
 */
export function assemble(head: string, objects: Buffer[], tail: string, base: string): Buffer {
  const b = Buffer.from(baseText(base), 'utf8');
  const chunks: Buffer[] = [Buffer.from(head, 'utf8')];
  objects.forEach((o, i) => {
    if (i) chunks.push(COMMA);
    let at = 0;
    for (let k = o.indexOf(MARK_BYTES); k >= 0; k = o.indexOf(MARK_BYTES, at)) {
      chunks.push(o.subarray(at, k), b);
      at = k + MARK_BYTES.length;
    }
    chunks.push(at ? o.subarray(at) : o);
  });
  chunks.push(Buffer.from(tail, 'utf8'));
  return Buffer.concat(chunks);
}

/**
 * A JSON field's value as the filter over the records saw it: `json_extract` on SQLite (strings; booleans 1/0 — the
 * columns have no type affinity, so values keep their type), `->>` on PostgreSQL (text; booleans 'true'/'false').
 * The person schema makes these fields strings (enabledUser a boolean): records are validated at ingest.
 */
function columnValue(d: Dialect, v: unknown): unknown {
  if (v === undefined || v === null) return null;
  if (typeof v === 'boolean') return d === 'pg' ? String(v) : v ? 1 : 0;
  if (typeof v === 'string') return v;
  return d === 'pg' || typeof v === 'object' ? JSON.stringify(v) : v;
}

const COLUMNS = Object.entries(USER_COLUMNS) as Array<[keyof typeof USER_COLUMNS, string]>;
const ROW_COLS = ['tenant_id', 'id', 'deleted_at', 'updated_at', 'roles', 'role_types', 'role_orgs', 'role_at_org', ...COLUMNS.map(([, c]) => c)];
const SQLITE_UPSERT_ROW = `insert into oneroster_users (${ROW_COLS.join(', ')}) values (${ROW_COLS.map(() => '?').join(', ')})
  on conflict (tenant_id, id) do update set ${ROW_COLS.slice(2).map((c) => `${c} = excluded.${c}`).join(', ')}`;
const SQLITE_UPSERT_JSON = `insert into oneroster_user_json (tenant_id, id, json) values (?, ?, ?) on conflict (tenant_id, id) do update set json = excluded.json`;

export interface ProjectionOptions {
  /** Steps a request runs itself before leaving the rest to the background (default 1). */
  inlineSteps?: number;
  /** Person and role changes per step (default 500: a step blocks the event loop for ~50-100 ms). */
  stepChanges?: number;
}

interface StepResult {
  seq: number;
  done: boolean;
}

export class UserProjection {
  /** Per tenant: the sequence the projection is known to reflect (by this process). */
  private readonly fresh = new Map<string, number>();
  /** Per tenant: no person or role change up to this sequence since the stored one (rows reflect it, unwritten). */
  private readonly quiet = new Map<string, number>();
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly background = new Map<string, Promise<void>>();
  private readonly inlineSteps: number;
  private readonly stepChanges: number;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    opts: ProjectionOptions = {},
  ) {
    this.inlineSteps = opts.inlineSteps ?? 1;
    this.stepChanges = opts.stepChanges ?? 500;
  }

  /**
   * True when the tenant's projection reflects sequence `seq` (catching up first when that is one short step).
   * False while a longer catch-up runs in the background, or when catching up failed (logged): answer from the
   * records then.
   */
  async ready(tenantId: string, seq: number): Promise<boolean> {
    if ((this.fresh.get(tenantId) ?? -1) >= seq) return true;
    if (this.background.has(tenantId)) return false;
    let p = this.inflight.get(tenantId);
    if (!p) {
      p = this.catchUp(tenantId).finally(() => this.inflight.delete(tenantId));
      this.inflight.set(tenantId, p);
    }
    try {
      await p;
    } catch (e) {
      const code = (e as { code?: unknown }).code ?? null;
      // Another process writing (SQLite): expected during its sync, not worth a warning per request.
      if (code === 'SQLITE_BUSY') this.log.debug({ tenantId }, 'oneroster users projection: the database is busy; answering from the records');
      else this.log.warn({ tenantId, code, err: (e as Error).message }, 'oneroster users projection: catching up failed; answering from the records');
      return false;
    }
    return (this.fresh.get(tenantId) ?? -1) >= seq;
  }

  /** Waits for background catch-ups (tests and shutdown, before the database closes). */
  async drain(): Promise<void> {
    while (this.inflight.size || this.background.size) await Promise.allSettled([...this.inflight.values(), ...this.background.values()]);
  }

  /** Brings the tenant's projection fully up to date (the benchmark's warm-up; a CLI could call it after a sync). */
  async catchUpFully(tenantId: string): Promise<void> {
    await this.drain();
    while (!(await this.step(tenantId)).done);
  }

  private async catchUp(tenantId: string): Promise<void> {
    for (let i = 0; i < this.inlineSteps; i++) if ((await this.step(tenantId)).done) return;
    const run = (async () => {
      for (;;) {
        await new Promise((r) => setImmediate(r));
        if ((await this.step(tenantId)).done) return;
      }
    })()
      .catch((e: unknown) => {
        this.log.warn({ tenantId, code: (e as { code?: unknown }).code ?? null, err: (e as Error).message }, 'oneroster users projection: background catch-up failed; the next request retries');
      })
      .finally(() => this.background.delete(tenantId));
    this.background.set(tenantId, run);
  }

  /**
   * Where the rows stand: the stored sequence (0 when another code version built them), or further when this process
   * saw no person or role change after it (`quiet`).
   */
  private from(tenantId: string, st: { version: number | string; seq: number | string } | undefined): number {
    if (st && Number(st.version) !== PROJECTION_VERSION) {
      this.quiet.delete(tenantId);
      return 0;
    }
    return Math.max(Number(st?.seq ?? 0), this.quiet.get(tenantId) ?? 0);
  }

  private note(tenantId: string, r: StepResult): StepResult {
    if (r.seq > (this.fresh.get(tenantId) ?? -1)) this.fresh.set(tenantId, r.seq);
    return r;
  }

  /** One step (see the header); returns the sequence the projection now reflects and whether that is the tenant's. */
  async step(tenantId: string): Promise<StepResult> {
    // First without a lock: when no person or role changed (a gradebook write, derived data...), nothing is written,
    // so a read takes the write lock only when there is something to rebuild.
    const [st0] = await selectRows<{ version: number | string; seq: number | string }>(this.db, 'select version, seq from oneroster_projections where tenant_id = ? and name = ?', [tenantId, NAME]);
    const [ts] = await selectRows<{ last_seq: number | string }>(this.db, 'select last_seq from tenant_sequences where tenant_id = ?', [tenantId]);
    const cur0 = Number(ts?.last_seq ?? 0);
    const from0 = this.from(tenantId, st0);
    if (from0 >= cur0) return this.note(tenantId, { seq: from0, done: true });
    const upTo0 = Math.min(cur0, from0 + STEP_SPAN);
    const relevant = await selectRows(this.db, `select 1 as x from change_log where tenant_id = ? and seq > ? and seq <= ? and entity_type in ('person', 'role') limit 1`, [tenantId, from0, upTo0]);
    if (!relevant.length && (!st0 || Number(st0.version) === PROJECTION_VERSION)) {
      this.quiet.set(tenantId, upTo0);
      return this.note(tenantId, { seq: upTo0, done: upTo0 >= cur0 });
    }
    const d = this.db.dialect;
    const r = await this.db.knex.transaction(async (trx): Promise<StepResult> => {
      // SQLite: a reader must not stall behind another process's long write (better-sqlite3 waits synchronously):
      // give up after a moment (SQLITE_BUSY: the request is answered from the records).
      const busy = d === 'sqlite' ? Number((rowsOf(await trx.raw('pragma busy_timeout'))[0] as { timeout?: number } | undefined)?.timeout ?? 5000) : 0;
      if (d === 'sqlite') await trx.raw(`pragma busy_timeout = ${LOCK_WAIT_MS}`);
      try {
        // First statement a write: on SQLite the transaction holds the write lock from here on.
        await trx.raw(`insert into oneroster_projections (tenant_id, name, version, seq) values (?, ?, ?, 0) on conflict (tenant_id, name) do nothing`, [tenantId, NAME, PROJECTION_VERSION]);
      } finally {
        if (d === 'sqlite') await trx.raw(`pragma busy_timeout = ${busy}`);
      }
      const st = rowsOf(await trx.raw(`select version, seq from oneroster_projections where tenant_id = ? and name = ?${d === 'pg' ? ' for update' : ''}`, [tenantId, NAME]))[0] as { version: number | string; seq: number | string };
      const from = this.from(tenantId, st);
      const cur = Number((rowsOf(await trx.raw('select last_seq from tenant_sequences where tenant_id = ?', [tenantId]))[0] as { last_seq?: number | string } | undefined)?.last_seq ?? 0);
      if (from >= cur) return { seq: from, done: true };
      const upTo = Math.min(cur, from + STEP_SPAN);
      const changes = rowsOf(await trx.raw(
        `select seq, entity_type, entity_id, diff from change_log where tenant_id = ? and seq > ? and seq <= ? and entity_type in ('person', 'role') order by seq limit ?`,
        [tenantId, from, upTo, this.stepChanges],
      )) as Array<{ seq: number | string; entity_type: string; entity_id: string; diff: string | null }>;
      const end = changes.length === this.stepChanges ? Number(changes[changes.length - 1].seq) : upTo;
      const persons = new Set<string>();
      const roleIds: string[] = [];
      for (const c of changes) {
        if (c.entity_type === 'person') persons.add(c.entity_id);
        else {
          roleIds.push(c.entity_id);
          // A role record moved to another person (an update, a merge's reference rewrite): the old one too.
          if (c.diff && c.diff.includes('"personId"')) {
            const old = (JSON.parse(c.diff) as Record<string, unknown[]>).personId?.[0];
            if (typeof old === 'string') persons.add(old);
          }
        }
      }
      for (let i = 0; i < roleIds.length; i += ID_CHUNK) {
        const part = [...new Set(roleIds.slice(i, i + ID_CHUNK))];
        const raw = await trx.raw(`select ${jsonText(d, 'personId', 'r')} as pid from records r where r.tenant_id = ? and r.entity_type = 'role' and r.id in (${part.map(() => '?').join(',')})`, [tenantId, ...part]);
        for (const row of rowsOf(raw)) if (typeof row.pid === 'string') persons.add(row.pid);
      }
      await this.rebuild(trx, tenantId, [...persons]);
      await trx.raw(`update oneroster_projections set seq = ?, version = ? where tenant_id = ? and name = ?`, [end, PROJECTION_VERSION, tenantId, NAME]);
      return { seq: end, done: end >= cur };
    });
    return this.note(tenantId, r);
  }

  /** Rebuilds the rows of these persons from their current record and live role records. */
  private async rebuild(trx: Knex.Transaction, tenantId: string, personIds: string[]): Promise<void> {
    const d = this.db.dialect;
    const mctx: MapContext = { base: MARK, db: this.db, tenantId };
    const sqlite = d === 'sqlite' ? ((await trx.client.acquireConnection()) as BetterSqlite3.Database) : undefined;
    // In key order: the rows' B-trees are written left to right.
    const ids = [...personIds].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (let i = 0; i < ids.length; i += ID_CHUNK) {
      const part = ids.slice(i, i + ID_CHUNK);
      const marks = part.map(() => '?').join(',');
      const persons = rowsOf(await trx.raw(`select r.id, r.data, r.updated_at, r.deleted_at from records r where r.tenant_id = ? and r.entity_type = 'person' and r.id in (${marks})`, [tenantId, ...part]));
      if (!persons.length) continue;
      const roleRows = rowsOf(await trx.raw(
        `select r.id, r.data from records r where r.tenant_id = ? and r.entity_type = 'role' and ${jsonText(d, 'personId', 'r')} in (${marks}) and r.deleted_at is null`,
        [tenantId, ...part],
      )) as Array<{ id: string; data: string }>;
      const unsafe = new Set<string>();
      const roles = roleRows.map((r) => {
        const data = JSON.parse(r.data) as Json;
        if (r.data.includes(MARK_JSON)) unsafe.add(data.personId as string);
        return { id: r.id, data };
      });
      const byPerson = rolesByPerson(roles);
      const rows: Array<Record<string, unknown>> = [];
      const jsons: Array<{ tenant_id: string; id: string; json: Buffer | null }> = [];
      for (const p of persons) {
        const id = p.id as string;
        const text = p.data as string;
        const data = JSON.parse(text) as Json;
        const own = byPerson.get(id) ?? [];
        const str = (v: unknown): v is string => typeof v === 'string';
        const primaryRole = str(data.primaryRole) ? data.primaryRole : undefined;
        const primaryOrg = str(data.primaryOrgId) ? data.primaryOrgId : undefined;
        const roleValues = own.map((r) => r.role).filter(str);
        const pairs = own.filter((r) => str(r.role) && str(r.orgId)).map((r) => roleAtOrg(r.role as string, r.orgId as string));
        if (primaryRole !== undefined) roleValues.push(primaryRole);
        if (primaryRole !== undefined && primaryOrg !== undefined) pairs.push(roleAtOrg(primaryRole, primaryOrg));
        const row: Record<string, unknown> = {
          tenant_id: tenantId, id, deleted_at: p.deleted_at ?? null, updated_at: p.updated_at,
          roles: setText(roleValues), role_types: setText(own.map((r) => r.roleType).filter(str)), role_orgs: setText(own.map((r) => r.orgId).filter(str)), role_at_org: setText(pairs),
        };
        for (const [f, c] of COLUMNS) row[c] = columnValue(d, data[f]);
        rows.push(row);
        // The mark stands for the origin: a record whose text already holds that escape is mapped per request.
        const safe = !unsafe.has(id) && !text.includes(MARK_JSON) && !id.includes(MARK);
        const obj = TYPES.user.map({ id, data, updatedAt: p.updated_at as string, deleted: p.deleted_at !== null && p.deleted_at !== undefined }, mctx, byPerson);
        jsons.push({ tenant_id: tenantId, id, json: safe ? Buffer.from(escapeJson(JSON.stringify(obj)), 'utf8') : null });
      }
      if (sqlite) {
        const upsertRow = prepared(sqlite, SQLITE_UPSERT_ROW);
        const upsertJson = prepared(sqlite, SQLITE_UPSERT_JSON);
        for (const r of rows) upsertRow.run(ROW_COLS.map((c) => r[c]));
        for (const j of jsons) upsertJson.run(j.tenant_id, j.id, j.json);
      } else {
        await trx('oneroster_users').insert(rows).onConflict(['tenant_id', 'id']).merge();
        await trx('oneroster_user_json').insert(jsons).onConflict(['tenant_id', 'id']).merge();
      }
    }
  }
}
