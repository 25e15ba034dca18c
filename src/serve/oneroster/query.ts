/**
 * The collection engine every OneRoster list shares: `limit`/`offset` paging with `X-Total-Count` and RFC 8288
 * `Link` headers (first, prev, next, last), `sort` + `orderBy`, `filter` compiled to SQL (filter.ts), and `fields`
 * projection. Unknown query parameters are refused (a typo must not silently return everything).
 *
 * Counts are cached per (tenant, query): an entry is valid while the tenant's change sequence
 * (`tenant_sequences.last_seq`, bumped by every write: syncs, merges, API writes) is unchanged, so a cached count is
 * never stale, and each process keeps its own cache.
 */
import type { Request, Response } from 'express';
import type { Db } from '../../store/db';
import { invalidData, invalidSelection, unknownObject } from './errors';
import { filterSql } from './filter';
import type { Sql } from './fields';
import { rowsOf, type Json, type MapContext, type RecordRow, type ResourceType } from './model';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
const LIST_PARAMS = ['limit', 'offset', 'sort', 'orderBy', 'filter', 'fields'];
const COUNT_CACHE_MAX = 1000;

function param(req: Request, name: string): string | undefined {
  const v = (req.query as Record<string, unknown>)[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalidData(`${name}: must be given once`);
  return v;
}

export function checkParams(req: Request, allowed: readonly string[]): void {
  for (const name of Object.keys(req.query as object)) {
    if (!allowed.includes(name)) throw invalidData(`${name}: is not a query parameter of this endpoint (known: ${allowed.join(', ') || 'none'})`);
  }
}

function intParam(req: Request, name: string, def: number, min: number, max: number): number {
  const v = param(req, name);
  if (v === undefined || v === '') return def;
  if (!/^[0-9]{1,9}$/.test(v) || Number(v) < min || Number(v) > max) throw invalidData(`${name}: must be an integer from ${min} to ${max}`);
  return Number(v);
}

/** `fields=a,b`: each must be a field of the type (invalid_selection_field otherwise). */
export function parseFields(req: Request, selectable: readonly string[]): string[] | undefined {
  const v = param(req, 'fields');
  if (v === undefined || v === '') return undefined;
  const out: string[] = [];
  for (const f of v.split(',').map((s) => s.trim())) {
    if (!f) continue;
    if (!selectable.includes(f)) throw invalidSelection(`fields: '${f.slice(0, 60)}' is not a field of this type (known: ${selectable.join(', ')})`);
    if (!out.includes(f)) out.push(f);
  }
  return out.length ? out : undefined;
}

export function project(obj: Json, fields: string[] | undefined): Json {
  if (!fields) return obj;
  const out: Json = {};
  for (const f of fields) if (obj[f] !== undefined) out[f] = obj[f];
  return out;
}

/** The tenant's change sequence: every write bumps it, so anything computed at one value is valid while it holds. */
export async function tenantSeq(db: Db, tenantId: string): Promise<number> {
  const row = (await db.knex('tenant_sequences').where({ tenant_id: tenantId }).first('last_seq')) as { last_seq: number | string } | undefined;
  return Number(row?.last_seq ?? 0);
}

export class CountCache {
  private readonly entries = new Map<string, { seq: number; count: number }>();
  async count(db: Db, tenantId: string, sql: string, bindings: unknown[], seq: number): Promise<number> {
    const key = `${tenantId}\u0000${sql}\u0000${JSON.stringify(bindings)}`;
    const hit = this.entries.get(key);
    if (hit && hit.seq === seq) return hit.count;
    const raw = await db.knex.raw(sql, bindings as never[]);
    const count = Number(rowsOf(raw)[0]?.n ?? 0);
    if (this.entries.size >= COUNT_CACHE_MAX) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, { seq, count });
    return count;
  }
}

export interface EngineContext {
  db: Db;
  tenantId: string;
  counts: CountCache;
  base: string;
  /** The tenant's change sequence read at the start of the request. */
  seq: number;
}

/**
 * Whole answers of read requests, per (tenant, origin, URL), valid while the tenant's change sequence is unchanged
 * (so never stale: any write anywhere in the tenant invalidates them). Bounded by total bytes; oldest out first.
 * The scope check runs before the cache is consulted, and the disclosure of a cached answer is recorded as for a
 * computed one.
 */
export interface CachedAnswer {
  seq: number;
  body: Buffer;
  headers: Record<string, string>;
  disclosure?: unknown;
}

export class AnswerCache {
  private readonly entries = new Map<string, CachedAnswer>();
  private bytes = 0;
  constructor(private readonly maxBytes = 32 * 1024 * 1024) {}

  get(key: string, seq: number): CachedAnswer | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (hit.seq === seq) return hit;
    this.drop(key, hit);
    return undefined;
  }

  set(key: string, answer: CachedAnswer): void {
    if (answer.body.length > this.maxBytes / 16) return;
    const old = this.entries.get(key);
    if (old) this.drop(key, old);
    while (this.bytes + answer.body.length > this.maxBytes && this.entries.size) {
      const [k, v] = this.entries.entries().next().value as [string, CachedAnswer];
      this.drop(k, v);
    }
    this.entries.set(key, answer);
    this.bytes += answer.body.length;
  }

  private drop(key: string, v: CachedAnswer) {
    this.entries.delete(key);
    this.bytes -= v.body.length;
  }
}

function toMapped(rows: RecordRow[]) {
  return rows.map((r) => ({ id: r.id, data: JSON.parse(r.data) as Json, updatedAt: r.updated_at, deleted: r.deleted_at !== null }));
}

/** Maps a page of rows to OneRoster objects; returns the persons in it (for the disclosure log). */
export async function mapRows(ctx: EngineContext, type: ResourceType, rows: RecordRow[]): Promise<{ items: Json[]; persons: string[] }> {
  const mctx: MapContext = { base: ctx.base, db: ctx.db, tenantId: ctx.tenantId };
  const mapped = toMapped(rows);
  const prepared = type.prepare ? await type.prepare(mapped, mctx) : undefined;
  const persons = new Set<string>();
  const items = mapped.map((m) => {
    if (type.disclosure) for (const p of type.disclosure.persons(m.data, m.id)) if (p) persons.add(p);
    return type.map(m, mctx, prepared);
  });
  return { items, persons: [...persons] };
}

function linkHeader(req: Request, limit: number, offset: number, total: number): string {
  const url = new URL(req.originalUrl, `${req.protocol}://${req.get('host') ?? 'localhost'}`);
  const at = (o: number) => {
    url.searchParams.set('limit', String(limit));
    url.searchParams.set('offset', String(o));
    return url.toString();
  };
  const lastOffset = total > 0 ? Math.floor((total - 1) / limit) * limit : 0;
  const links = [`<${at(0)}>; rel="first"`];
  if (offset > 0) links.push(`<${at(Math.max(0, Math.min(offset - limit, lastOffset)))}>; rel="prev"`);
  if (offset + limit < total) links.push(`<${at(offset + limit)}>; rel="next"`);
  links.push(`<${at(lastOffset)}>; rel="last"`);
  return links.join(', ');
}

/**
 * Answers a collection request: `{ <collection>: [...] }` with paging headers. `conds` narrow the records (the view:
 * schools, students, a parent's children...).
 */
export async function listCollection(ctx: EngineContext, req: Request, res: Response, type: ResourceType, conds: Sql[]): Promise<{ persons: string[] }> {
  checkParams(req, LIST_PARAMS);
  const d = ctx.db.dialect;
  const limit = intParam(req, 'limit', DEFAULT_LIMIT, 1, MAX_LIMIT);
  const offset = intParam(req, 'offset', 0, 0, 1_000_000_000);
  const fields = parseFields(req, type.selectable);
  const where: string[] = ['r.tenant_id = ?', `r.entity_type = '${type.entity}'`];
  const bindings: unknown[] = [ctx.tenantId];
  // The filter's plain comparisons before the view's conditions (often subqueries): SQLite evaluates in order.
  const filter = param(req, 'filter');
  if (filter !== undefined && filter !== '') {
    const f = filterSql(d, filter, type.fields);
    where.push(`(${f.sql})`);
    bindings.push(...f.bindings);
  }
  for (const c of conds) {
    where.push(`(${c.sql})`);
    bindings.push(...c.bindings);
  }
  const sort = param(req, 'sort');
  const orderBy = param(req, 'orderBy');
  if (orderBy !== undefined && orderBy !== 'asc' && orderBy !== 'desc') throw invalidData("orderBy: must be 'asc' or 'desc'");
  const dir = orderBy === 'desc' ? 'desc' : 'asc';
  let order = `r.id ${dir}`;
  if (sort !== undefined && sort !== '') {
    const spec = Object.prototype.hasOwnProperty.call(type.fields, sort) ? type.fields[sort] : undefined;
    if (!spec || spec.unsortable || !spec.expr || spec.kind === 'list') {
      throw invalidSelection(`sort: '${sort.slice(0, 60)}' is not a field this collection can be sorted on (known: ${Object.entries(type.fields).filter(([, s]) => !s.unsortable && s.expr && s.kind !== 'list').map(([k]) => k).join(', ')})`);
    }
    order = `${spec.expr(d)} ${dir} nulls last, r.id asc`;
  } else if (type.idExpr) order = `${type.idExpr(d)} ${dir}, r.id asc`;
  const whereSql = where.join(' and ');
  const total = await ctx.counts.count(ctx.db, ctx.tenantId, `select count(*) as n from records r where ${whereSql}`, bindings, ctx.seq);
  const rows = rowsOf(await ctx.db.knex.raw(`select r.id, r.data, r.updated_at, r.deleted_at from records r where ${whereSql} order by ${order} limit ? offset ?`, [...bindings, limit, offset] as never[])) as unknown as RecordRow[];
  const { items, persons } = await mapRows(ctx, type, rows);
  res.set('X-Total-Count', String(total));
  res.set('Link', linkHeader(req, limit, offset, total));
  res.locals.orBody = { [type.collection]: items.map((i) => project(i, fields)) };
  return { persons };
}

/** Answers a single-object request `{ <single>: {...} }`, 404 unknownobject when no record matches. */
export async function getSingle(ctx: EngineContext, req: Request, res: Response, type: ResourceType, id: string, conds: Sql[], readQuery = true): Promise<{ persons: string[] }> {
  if (readQuery) checkParams(req, ['fields']);
  const fields = readQuery ? parseFields(req, type.selectable) : undefined;
  const idExpr = type.idExpr ? type.idExpr(ctx.db.dialect) : 'r.id';
  const where = ['r.tenant_id = ?', `r.entity_type = '${type.entity}'`, `${idExpr} = ?`, ...conds.map((c) => `(${c.sql})`)];
  const bindings = [ctx.tenantId, id, ...conds.flatMap((c) => c.bindings)];
  const rows = rowsOf(await ctx.db.knex.raw(`select r.id, r.data, r.updated_at, r.deleted_at from records r where ${where.join(' and ')} order by r.deleted_at is not null, r.updated_at desc limit 1`, bindings as never[])) as unknown as RecordRow[];
  if (!rows.length) throw unknownObject(`No ${type.single} with sourcedId '${id.slice(0, 100)}'.`);
  const { items, persons } = await mapRows(ctx, type, rows);
  res.locals.orBody = { [type.single]: project(items[0], fields) };
  return { persons };
}
