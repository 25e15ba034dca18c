/**
 * The disclosure log: who received which categories of student data, about whom, when (FERPA's record of
 * disclosures). One `disclosures` row per response (or webhook delivery), the person ids in `disclosure_persons`
 * keyed by person, so "who received data about this child" is one index range.
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
import { randomBytes } from 'node:crypto';
import type { RequestHandler, Router } from 'express';
import type { Knex } from 'knex';
import type { Db } from '../store/db';
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
};
const DISCLOSURE_COLS = Object.keys(DISCLOSURE_COLUMNS);
const PERSON_COLUMNS: ColumnTypes = { tenant_id: 'text', person_id: 'text', disclosure_id: 'text' };

let lastMs = 0;
let counter = 0;

/**
 * A disclosure id: `dsc_` + base-36 milliseconds (fixed width) + a per-process counter + random bits. Sorting by id
 * is sorting by time (within a millisecond, by order of writing in a process), so the log pages on its id.
 */
export function newDisclosureId(now = Date.now()): string {
  if (now === lastMs) counter++;
  else {
    lastMs = now;
    counter = 0;
  }
  return `dsc_${now.toString(36).padStart(9, '0')}${counter.toString(36).padStart(4, '0')}${randomBytes(5).toString('hex')}`;
}

/**
 * Writes disclosures (one row each, their person ids batched: two bulk inserts, src/store/bulk.ts) in the given
 * transaction or a new one. Used by the middleware (one at a time) and by the webhook dispatcher (a batch).
 */
export async function recordDisclosures(db: Db, rows: DisclosureRow[], trx?: Knex.Transaction): Promise<void> {
  if (!rows.length) return;
  const at = nowIso();
  const main: Record<string, unknown>[] = [];
  const persons: { tenant_id: string; person_id: string; disclosure_id: string }[] = [];
  for (const r of rows) {
    const id = newDisclosureId();
    const ids = [...new Set(r.personIds.map((p) => p.slice(0, 255)))];
    main.push({
      id, tenant_id: r.tenantId, at: r.at ?? at, recipient: r.recipient.slice(0, 200), channel: r.channel, route: r.route?.slice(0, 300) ?? null,
      request_id: r.requestId?.slice(0, 64) ?? null, categories: JSON.stringify([...new Set(r.categories)].sort()), person_count: ids.length,
    });
    for (const p of ids) persons.push({ tenant_id: r.tenantId, person_id: p, disclosure_id: id });
  }
  if (!trx && db.dialect === 'sqlite') {
    // One response's disclosure on the read hot path: prepared statements in one SQLite transaction, no knex.
    await withSqlite(db, (conn, prepare) => {
      const one = prepare(`insert into disclosures (${DISCLOSURE_COLS.join(', ')}) values (${DISCLOSURE_COLS.map(() => '?').join(', ')})`);
      const person = prepare('insert into disclosure_persons (tenant_id, person_id, disclosure_id) values (?, ?, ?)');
      conn.transaction(() => {
        for (const m of main) one.run(DISCLOSURE_COLS.map((c) => m[c]));
        for (const p of persons) person.run(p.tenant_id, p.person_id, p.disclosure_id);
      })();
    });
    return;
  }
  const write = async (k: Knex.Transaction) => {
    await insertRows(k, db.dialect, 'disclosures', DISCLOSURE_COLUMNS, main);
    await insertRows(k, db.dialect, 'disclosure_persons', PERSON_COLUMNS, persons);
  };
  if (trx) await write(trx);
  else await db.knex.transaction(write);
}

/** Pending writes per recorder, so tests (and shutdown) can wait for them. */
export interface DisclosureRecorder extends RequestHandler {
  /** Writes what is queued now and waits for every write. */
  settle(): Promise<void>;
}

/**
 * Responses finishing within this window are recorded in one transaction (or as soon as BATCH_MAX are queued). A
 * transaction per response cost ~2 ms on SQLite (the commit writes one page of `disclosure_persons` per person,
 * ~100 for a OneRoster page), more than everything else the response did; batched, those pages are written once.
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
}

/** The disclosures of a tenant, newest first, with their person ids (for `hub disclosures` and the API). */
export async function listDisclosures(
  db: Db, tenantId: string, opts: { personId?: string; recipient?: string; since?: string; beforeId?: string; limit: number },
): Promise<(DisclosureDbRow & { personIds: string[] })[]> {
  const q = db.knex('disclosures as d').where('d.tenant_id', tenantId).orderBy('d.id', 'desc').limit(opts.limit)
    .select('d.id', 'd.at', 'd.recipient', 'd.channel', 'd.route', 'd.request_id', 'd.categories', 'd.person_count');
  if (opts.personId) q.whereIn('d.id', db.knex('disclosure_persons').select('disclosure_id').where({ tenant_id: tenantId, person_id: opts.personId }));
  if (opts.recipient) q.where('d.recipient', opts.recipient);
  if (opts.since) q.where('d.at', '>=', opts.since);
  if (opts.beforeId !== undefined) q.where('d.id', '<', opts.beforeId);
  const rows = (await q) as DisclosureDbRow[];
  const persons = new Map<string, string[]>();
  const ids = rows.map((r) => r.id);
  for (let i = 0; i < ids.length; i += 500) {
    const ps = (await db.knex('disclosure_persons').where('tenant_id', tenantId).whereIn('disclosure_id', ids.slice(i, i + 500))
      .select('disclosure_id', 'person_id').orderBy(['disclosure_id', 'person_id'])) as { disclosure_id: string; person_id: string }[];
    for (const p of ps) (persons.get(p.disclosure_id) ?? persons.set(p.disclosure_id, []).get(p.disclosure_id)!).push(p.person_id);
  }
  return rows.map((r) => ({ ...r, personIds: persons.get(r.id) ?? [] }));
}

export function disclosureView(r: DisclosureDbRow & { personIds: string[] }) {
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
