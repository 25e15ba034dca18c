/**
 * The disclosure log: who received which categories of student data, about whom, when (FERPA's record of
 * disclosures). One `disclosures` row per response (or webhook delivery, or export), naming its persons' sets
 * (`set_ids`); the sets in `disclosure_person_sets` (up to 1,000 sorted ids, stored once under their SHA-256); and
 * `disclosure_index`, one row per (person, UTC day, recipient), so "who received data about this child" reads a few
 * index rows and then only those recipients' disclosures of those days. Migration 016 says why.
 *
 * Convention for every route that sends student data (here and in the other routers):
 *
 *   res.locals.disclosure = { channel: 'api', categories: ['identity', 'contact'], personIds: [...] };
 *
 * set before responding. The app-wide middleware (`disclosureRecorder`, mounted in app.ts before every router)
 * records it when the response finishes with a 2xx, with `res.locals.principal.name` as the recipient. The write
 * happens after the response (batched: the responses finishing within 20 ms share one transaction) and never fails
 * it: an error is a warn line without student data.
 *
 *   GET /tenants/:t/disclosures?personId=&recipient=&since=&limit=&cursor=   (scope audit.read), newest first
 */
import type { RequestHandler, Router } from 'express';
import type { Knex } from 'knex';
import type { Db, Dialect } from '../store/db';
import { dayBefore, dayOfDisclosureId, disclosureIdRange, DISCLOSURE_SET_MAX, disclosureSetId, newDisclosureId } from '../store/disclosure-keys';
import { withSqlite } from '../store/statements';
import { insertRows, type ColumnTypes } from '../store/bulk';
import type { Logger } from '../core/logger';
import { nowIso } from '../normalize/canonical';
import { parseSince } from '../caliper/api';
import { badRequest } from './errors';
import { decodeCursor, parseLimit, toPage } from './pagination';
import { queryString } from './params';
import { tenantRoute, type AppDeps } from './route';

export const DISCLOSURE_CHANNELS = ['api', 'oneroster', 'export', 'webhook', 'lti', 'feed'] as const;
export type DisclosureChannel = (typeof DISCLOSURE_CHANNELS)[number];

/** What a route sets on `res.locals.disclosure`. */
export interface Disclosure {
  channel: DisclosureChannel;
  categories: string[];
  personIds: string[];
}

export interface DisclosureRow extends Disclosure {
  tenantId: string;
  recipient: string;
  at?: string;
  route?: string | null;
  requestId?: string | null;
}

/** Columns and their PostgreSQL types for bulk inserts (src/store/bulk.ts); DISCLOSURE_COLS for the SQLite path. */
const DISCLOSURE_COLUMNS: ColumnTypes = {
  id: 'text', tenant_id: 'text', at: 'text', recipient: 'text', channel: 'text', route: 'text', request_id: 'text', categories: 'text', person_count: 'int',
  set_ids: 'text',
};
const DISCLOSURE_COLS = Object.keys(DISCLOSURE_COLUMNS);
const SET_COLUMNS: ColumnTypes = { tenant_id: 'text', set_id: 'text', person_ids: 'text' };
const SET_KEY = ['tenant_id', 'set_id'];
const INDEX_COLUMNS: ColumnTypes = { tenant_id: 'text', person_id: 'text', day: 'text', recipient: 'text' };
const INDEX_KEY = ['tenant_id', 'person_id', 'day', 'recipient'];

/**
 * What this process has written and seen committed, per store, so repeated answers write nothing but their
 * `disclosures` row. `keys`: index keys (tenant, day, recipient, person). `sets`: sets stored (tenant, set) and sets
 * whose every person is indexed for a (tenant, day, recipient). A recipient that pages through the same students
 * all day (a sync tool, a dashboard) writes each set and each key once. Another process's writes are not known here;
 * `on conflict do nothing` makes those repeats harmless. Bounded: each is cleared when full.
 */
interface Written {
  keys: Set<string>;
  sets: Set<string>;
}
const writtenByDb = new WeakMap<Db, Written>();
// ~140 bytes a key: at most ~7 MB of a serving process; whole sets (below) cover the repeated pages.
const WRITTEN_KEYS_MAX = 50_000;
const WRITTEN_SETS_MAX = 20_000;

/** Keys known to be written (`has`), and the keys added by the rows being built (`add`). */
export interface SeenKeys {
  has(key: string): boolean;
  add(key: string): void;
}

/** Rows to write for disclosures' persons, and what to remember once they are committed. */
export interface SubjectRows {
  sets: Record<string, unknown>[];
  index: Record<string, unknown>[];
  keys: string[];
  setKeys: string[];
}

/** A person id as the log stores it (the columns hold 255 characters): the writer and the reader must agree. */
const personKey = (p: string) => (p.length > 255 ? p.slice(0, 255) : p);

export const emptySubjects = (): SubjectRows => ({ sets: [], index: [], keys: [], setKeys: [] });

/**
 * One disclosure's persons: adds to `out` the sets (parts of DISCLOSURE_SET_MAX sorted ids, named by their SHA-256) and the
 * `disclosure_index` rows, leaving out what `seen` has (already written) and adding the new keys to it. Returns the
 * number of distinct persons and the set ids (`disclosures.set_ids`).
 */
export function disclosureSubjects(
  out: SubjectRows, tenantId: string, disclosureId: string, recipient: string, personIds: readonly string[], seen?: SeenKeys,
): { count: number; setIds: string[] } {
  const ids = [...new Set(personIds.map(personKey))];
  // Pages come in id order: sort only when they do not.
  for (let i = 1; i < ids.length; i++) {
    if (ids[i - 1] > ids[i]) {
      ids.sort();
      break;
    }
  }
  const rcpt = recipient.slice(0, 200);
  const day = dayOfDisclosureId(disclosureId);
  const prefix = `${tenantId}\u0000${day}\u0000${rcpt}\u0000`;
  const setIds: string[] = [];
  for (let i = 0; i < ids.length; i += DISCLOSURE_SET_MAX) {
    const part = ids.length > DISCLOSURE_SET_MAX ? ids.slice(i, i + DISCLOSURE_SET_MAX) : ids;
    const json = JSON.stringify(part);
    const setId = disclosureSetId(json);
    setIds.push(setId);
    const stored = `${tenantId}\u0000${setId}`;
    if (!seen?.has(stored)) {
      seen?.add(stored);
      out.setKeys.push(stored);
      out.sets.push({ tenant_id: tenantId, set_id: setId, person_ids: json });
    }
    const indexed = `${prefix}\u0001${setId}`;
    if (seen?.has(indexed)) continue;
    for (const p of part) {
      const key = prefix + p;
      if (seen?.has(key)) continue;
      seen?.add(key);
      out.keys.push(key);
      out.index.push({ tenant_id: tenantId, person_id: p, day, recipient: rcpt });
    }
    seen?.add(indexed);
    out.setKeys.push(indexed);
  }
  return { count: ids.length, setIds };
}

/** Writes the rows of `disclosureSubjects` (in the caller's transaction). */
export async function writeDisclosureSubjects(k: Knex | Knex.Transaction, dialect: Dialect, rows: SubjectRows): Promise<void> {
  await insertRows(k, dialect, 'disclosure_person_sets', SET_COLUMNS, rows.sets, SET_KEY);
  await insertRows(k, dialect, 'disclosure_index', INDEX_COLUMNS, rows.index, INDEX_KEY);
}

/**
 * Writes disclosures: one `disclosures` row each, the sets of persons and the index keys not yet written, in the
 * given transaction or a new one. Used by the middleware (a batch of responses) and by the webhook dispatcher (a
 * batch, inside its own transaction: what it writes is not remembered, as that transaction may still roll back).
 */
export async function recordDisclosures(db: Db, rows: DisclosureRow[], trx?: Knex.Transaction): Promise<void> {
  if (!rows.length) return;
  const at = nowIso();
  const main: Record<string, unknown>[] = [];
  const written = trx ? undefined : (writtenByDb.get(db) ?? writtenByDb.set(db, { keys: new Set(), sets: new Set() }).get(db)!);
  // This batch's keys are skipped within it and remembered only once it has committed.
  const batch = new Set<string>();
  const seen: SeenKeys = written ? { has: (k) => batch.has(k) || written.keys.has(k) || written.sets.has(k), add: (k) => batch.add(k) } : batch;
  const subjects = emptySubjects();
  for (const r of rows) {
    const id = newDisclosureId();
    const { count, setIds } = disclosureSubjects(subjects, r.tenantId, id, r.recipient, r.personIds, seen);
    main.push({
      id, tenant_id: r.tenantId, at: r.at ?? at, recipient: r.recipient.slice(0, 200), channel: r.channel, route: r.route?.slice(0, 300) ?? null,
      request_id: r.requestId?.slice(0, 64) ?? null, categories: JSON.stringify([...new Set(r.categories)].sort()), person_count: count,
      set_ids: JSON.stringify(setIds),
    });
  }
  const remember = () => {
    if (!written) return;
    if (written.keys.size + subjects.keys.length > WRITTEN_KEYS_MAX) written.keys.clear();
    for (const k of subjects.keys) written.keys.add(k);
    if (written.sets.size + subjects.setKeys.length > WRITTEN_SETS_MAX) written.sets.clear();
    for (const k of subjects.setKeys) written.sets.add(k);
  };
  if (!trx && db.dialect === 'sqlite') {
    // The read hot path: prepared statements in one SQLite transaction, no knex.
    await withSqlite(db, (conn, prepare) => {
      const one = prepare(`insert into disclosures (${DISCLOSURE_COLS.join(', ')}) values (${DISCLOSURE_COLS.map(() => '?').join(', ')})`);
      const set = prepare('insert into disclosure_person_sets (tenant_id, set_id, person_ids) values (?, ?, ?) on conflict do nothing');
      const key = prepare('insert into disclosure_index (tenant_id, person_id, day, recipient) values (?, ?, ?, ?) on conflict do nothing');
      conn.transaction(() => {
        for (const m of main) one.run(DISCLOSURE_COLS.map((c) => m[c]));
        for (const x of subjects.sets) set.run(x.tenant_id, x.set_id, x.person_ids);
        for (const x of subjects.index) key.run(x.tenant_id, x.person_id, x.day, x.recipient);
      })();
    });
    remember();
    return;
  }
  const write = async (k: Knex.Transaction) => {
    await insertRows(k, db.dialect, 'disclosures', DISCLOSURE_COLUMNS, main);
    await writeDisclosureSubjects(k, db.dialect, subjects);
  };
  if (trx) await write(trx);
  else {
    await db.knex.transaction(write);
    remember();
  }
}

/** Pending writes per recorder, so tests (and shutdown) can wait for them. */
export interface DisclosureRecorder extends RequestHandler {
  /** Writes what is queued now and waits for every write. */
  settle(): Promise<void>;
}

/**
 * Responses finishing within this window are recorded in one transaction (or as soon as BATCH_MAX are queued): a
 * commit per response would cost more than the rest of the response on SQLite.
 */
const BATCH_MS = 20;
const BATCH_MAX = 200;

/**
 * Records `res.locals.disclosure` on finish when the status is 2xx. The tenant is the route's `:tenant`
 * (`res.locals.tenantId` when a router sets it, else `req.params.tenant`). Writes are batched (BATCH_MS): the
 * response never waits for them, as before; `at` is the time the response finished.
 */
export function disclosureRecorder(db: Db, log: Logger): DisclosureRecorder {
  const pending = new Set<Promise<void>>();
  let queue: DisclosureRow[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (!queue.length) return;
    const rows = queue;
    queue = [];
    const p = recordDisclosures(db, rows).catch((e: unknown) => {
      // Never student data here: no ids, no categories' contents beyond the route.
      for (const r of rows) log.warn({ reqId: r.requestId ?? null, route: r.route ?? null, code: (e as { code?: unknown }).code ?? null }, 'disclosure could not be recorded');
    });
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };
  const mw = ((req, res, next) => {
    res.on('finish', () => {
      const d = res.locals.disclosure as Disclosure | undefined;
      if (!d || res.statusCode < 200 || res.statusCode >= 300) return;
      const tenantId = (res.locals.tenantId as string | undefined) ?? (req.params as Record<string, string | undefined>).tenant;
      const principal = res.locals.principal as { name?: string } | undefined;
      if (!tenantId) {
        log.warn({ reqId: res.locals.reqId, route: res.locals.route ?? null }, 'disclosure not recorded: the route has no tenant');
        return;
      }
      queue.push({
        tenantId, recipient: principal?.name ?? '(unauthenticated)', channel: d.channel, categories: d.categories, personIds: d.personIds, at: nowIso(),
        route: (res.locals.route as string | undefined) ?? null, requestId: (res.locals.reqId as string | undefined) ?? null,
      });
      if (queue.length >= BATCH_MAX) flush();
      else timer ??= setTimeout(flush, BATCH_MS);
    });
    next();
  }) as DisclosureRecorder;
  mw.settle = async () => {
    flush();
    while (pending.size) await Promise.allSettled([...pending]);
  };
  // Closing the store writes what is queued first: a disclosure must not be lost to a shutdown.
  db.onClose?.(mw.settle);
  return mw;
}

interface DisclosureDbRow {
  id: string;
  at: string;
  recipient: string;
  channel: string;
  route: string | null;
  request_id: string | null;
  categories: string;
  person_count: number | string;
  set_ids: string | null;
}

/** A disclosure as listed: its persons instead of their sets' ids. */
export type ListedDisclosure = Omit<DisclosureDbRow, 'set_ids'> & { personIds: string[] };

/** The disclosures of a tenant, newest first, with their person ids (for `hub disclosures` and the API). */
export async function listDisclosures(
  db: Db, tenantId: string, opts: { personId?: string; recipient?: string; since?: string; beforeId?: string; limit: number },
): Promise<ListedDisclosure[]> {
  const rows = opts.personId !== undefined ? await disclosuresAbout(db, tenantId, opts.personId, opts) : await disclosureRows(db, tenantId, opts, opts.limit);
  const persons = await personsOf(db, tenantId, rows);
  return rows.map(({ set_ids: _sets, ...r }) => ({ ...r, personIds: persons.get(r.id) ?? [] }));
}

/** The person ids of disclosures (their sets in order), by disclosure id. */
async function personsOf(db: Db, tenantId: string, rows: { id: string; set_ids: string | null }[]): Promise<Map<string, string[]>> {
  const setsOf = new Map(rows.map((r) => [r.id, r.set_ids ? (JSON.parse(r.set_ids) as string[]) : []]));
  const wanted = [...new Set([...setsOf.values()].flat())];
  const sets = new Map<string, string[]>();
  for (let i = 0; i < wanted.length; i += 500) {
    const got = (await db.knex('disclosure_person_sets').where('tenant_id', tenantId).whereIn('set_id', wanted.slice(i, i + 500)).select('set_id', 'person_ids')) as { set_id: string; person_ids: string }[];
    for (const s of got) sets.set(s.set_id, JSON.parse(s.person_ids) as string[]);
  }
  const out = new Map<string, string[]>();
  for (const [id, ids] of setsOf) {
    const list: string[] = [];
    for (const s of ids) for (const p of sets.get(s) ?? []) list.push(p);
    out.set(id, list);
  }
  return out;
}

/** The person ids of one disclosure. */
export async function disclosurePersons(db: Db, tenantId: string, disclosureId: string): Promise<string[]> {
  const rows = (await db.knex('disclosures').where({ tenant_id: tenantId, id: disclosureId }).select('id', 'set_ids')) as { id: string; set_ids: string | null }[];
  return (await personsOf(db, tenantId, rows)).get(disclosureId) ?? [];
}

type ListFilter = { recipient?: string; since?: string; beforeId?: string };

function disclosureRows(db: Db, tenantId: string, opts: ListFilter, limit: number, extra?: (q: Knex.QueryBuilder) => void): Promise<DisclosureDbRow[]> {
  const q = db.knex('disclosures as d').where('d.tenant_id', tenantId).orderBy('d.id', 'desc').limit(limit)
    .select('d.id', 'd.at', 'd.recipient', 'd.channel', 'd.route', 'd.request_id', 'd.categories', 'd.person_count', 'd.set_ids');
  if (opts.recipient !== undefined) q.where('d.recipient', opts.recipient);
  if (opts.since) q.where('d.at', '>=', opts.since);
  if (opts.beforeId !== undefined) q.where('d.id', '<', opts.beforeId);
  extra?.(q);
  return q as unknown as Promise<DisclosureDbRow[]>;
}

/**
 * The disclosures about one person, newest first: the days and recipients of `disclosure_index` (newest day first),
 * then, a day at a time, those recipients' disclosures of that day whose sets hold the person. The index is keyed by
 * the day of the disclosure id; `since` filters on `at`, so the index is read from the day before.
 */
async function disclosuresAbout(db: Db, tenantId: string, personId: string, opts: ListFilter & { limit: number }): Promise<DisclosureDbRow[]> {
  const person = personKey(personId);
  const idx = db.knex('disclosure_index').where({ tenant_id: tenantId, person_id: person }).orderBy([{ column: 'day', order: 'desc' }, 'recipient']).select('day', 'recipient');
  if (opts.recipient !== undefined) idx.where('recipient', opts.recipient);
  if (opts.since) idx.where('day', '>=', dayBefore(opts.since.slice(0, 10)));
  if (opts.beforeId !== undefined) idx.where('day', '<=', dayOfDisclosureId(opts.beforeId));
  const days = new Map<string, string[]>();
  for (const r of (await idx) as { day: string; recipient: string }[]) (days.get(r.day) ?? days.set(r.day, []).get(r.day)!).push(r.recipient);
  const holds = db.dialect === 'pg'
    ? `exists (select 1 from json_array_elements_text(d.set_ids::json) h(v) join disclosure_person_sets s on s.tenant_id = d.tenant_id and s.set_id = h.v
        where s.person_ids::jsonb @> jsonb_build_array(?::text))`
    : 'exists (select 1 from json_each(d.set_ids) h, disclosure_person_sets s, json_each(s.person_ids) j where s.tenant_id = d.tenant_id and s.set_id = h.value and j.value = ?)';
  const out: DisclosureDbRow[] = [];
  for (const [day, recipients] of days) {
    const range = disclosureIdRange(day);
    const got = await disclosureRows(db, tenantId, opts, opts.limit - out.length, (q) => {
      q.whereIn('d.recipient', recipients).where('d.id', '>=', range.from).where('d.id', '<', range.to).whereRaw(holds, [person]);
    });
    out.push(...got);
    if (out.length >= opts.limit) break;
  }
  return out;
}

export function disclosureView(r: ListedDisclosure) {
  return {
    id: r.id, at: r.at, recipient: r.recipient, channel: r.channel, route: r.route ?? null, requestId: r.request_id ?? null,
    categories: JSON.parse(r.categories) as string[], personCount: Number(r.person_count), personIds: r.personIds,
  };
}

export function disclosureRoutes(router: Router, deps: AppDeps): void {
  tenantRoute(router, deps, 'get', '/tenants/:tenant/disclosures', { scope: 'audit.read', query: ['personId', 'recipient', 'since', 'limit', 'cursor'] }, async ({ req, res, tenant }) => {
    const limit = parseLimit(queryString(req, 'limit'));
    const beforeId = decodeCursor(queryString(req, 'cursor'), 'disclosures', 'string');
    const personId = queryString(req, 'personId');
    if (personId !== undefined && personId.length > 255) throw badRequest('personId', 'is longer than 255 characters');
    const recipient = queryString(req, 'recipient');
    if (recipient !== undefined && recipient.length > 200) throw badRequest('recipient', 'is longer than 200 characters');
    const since = parseSince(queryString(req, 'since'));
    const rows = await listDisclosures(deps.db, tenant.id, { personId, recipient, since, beforeId, limit: limit + 1 });
    res.json(toPage(rows, limit, 'disclosures', (r) => r.id, disclosureView));
  });
}
