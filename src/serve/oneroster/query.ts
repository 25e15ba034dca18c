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
import { selectRows } from '../../store/statements';
import { invalidData, invalidSelection, unknownObject } from './errors';
import { compileFilter, parseFilterText, projectedFields, type FilterAst } from './filter';
import type { FieldSpec, Sql } from './fields';
import { type Json, type MapContext, type RecordRow, type ResourceType } from './model';
import { assemble, withBase, type UserProjection } from './projection';

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
  const [row] = await selectRows<{ last_seq: number | string }>(db, 'select last_seq from tenant_sequences where tenant_id = ?', [tenantId]);
  return Number(row?.last_seq ?? 0);
}

export class CountCache {
  private readonly entries = new Map<string, { seq: number; count: number }>();
  async count(db: Db, tenantId: string, sql: string, bindings: unknown[], seq: number): Promise<number> {
    const key = `${tenantId}\u0000${sql}\u0000${JSON.stringify(bindings)}`;
    const hit = this.entries.get(key);
    if (hit && hit.seq === seq) return hit.count;
    const [row] = await selectRows<{ n: number | string }>(db, sql, bindings);
    const count = Number(row?.n ?? 0);
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
  /** The users projection (absent: every list runs over the records). */
  projection?: UserProjection;
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
 * schools, students, a parent's children...). Users are answered from the projection (projection.ts) when it is up
 * to date and the filter, the sort and the view all have a projection form; otherwise, and for every other type,
 * from the records.
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
  const ast = filter !== undefined && filter !== '' ? parseFilterText(filter) : undefined;
  if (ast) {
    const f = compileFilter(d, ast, type.fields);
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
  let sortSpec: FieldSpec | undefined;
  if (sort !== undefined && sort !== '') {
    sortSpec = Object.prototype.hasOwnProperty.call(type.fields, sort) ? type.fields[sort] : undefined;
    if (!sortSpec || sortSpec.unsortable || !sortSpec.expr || sortSpec.kind === 'list') {
      throw invalidSelection(`sort: '${sort.slice(0, 60)}' is not a field this collection can be sorted on (known: ${Object.entries(type.fields).filter(([, s]) => !s.unsortable && s.expr && s.kind !== 'list').map(([k]) => k).join(', ')})`);
    }
    order = `${sortSpec.expr(d)} ${dir} nulls last, r.id asc`;
  } else if (type.idExpr) order = `${type.idExpr(d)} ${dir}, r.id asc`;
  const page: Page = { limit, offset, fields, dir };
  if (type.projection && ctx.projection && projectable(type, ast, conds, sortSpec) && (await ctx.projection.ready(ctx.tenantId, ctx.seq))) {
    return listProjected(ctx, req, res, type, ast, conds, sortSpec, page);
  }
  const whereSql = where.join(' and ');
  const total = await ctx.counts.count(ctx.db, ctx.tenantId, `select count(*) as n from records r where ${whereSql}`, bindings, ctx.seq);
  const rows = await selectRows<RecordRow>(ctx.db, `select r.id, r.data, r.updated_at, r.deleted_at from records r where ${whereSql} order by ${order} limit ? offset ?`, [...bindings, limit, offset]);
  const { items, persons } = await mapRows(ctx, type, rows);
  res.set('X-Total-Count', String(total));
  res.set('Link', linkHeader(req, limit, offset, total));
  res.locals.orBody = { [type.collection]: items.map((i) => project(i, fields)) };
  return { persons };
}

interface Page {
  limit: number;
  offset: number;
  fields: string[] | undefined;
  dir: 'asc' | 'desc';
}

const projectedFieldsOf = new WeakMap<ResourceType, Record<string, FieldSpec>>();
function projFields(type: ResourceType): Record<string, FieldSpec> {
  let f = projectedFieldsOf.get(type);
  if (!f) projectedFieldsOf.set(type, (f = projectedFields(type.fields)));
  return f;
}

/** Every filter field, the sort field and every view condition have a projection form. */
function projectable(type: ResourceType, ast: FilterAst | undefined, conds: Sql[], sortSpec: FieldSpec | undefined): boolean {
  const pf = projFields(type);
  if (ast && !ast.or.every((and) => and.every((p) => Object.prototype.hasOwnProperty.call(pf, p.field)))) return false;
  if (sortSpec && !sortSpec.proj?.expr) return false;
  return conds.every((c) => c.proj !== undefined);
}

/**
 * The projected list: the page's ids from the narrow rows, then their pre-serialized objects, joined into the answer
 * bytes (`res.locals.orBytes`). Rows without an object (records the mark cannot be used for) are mapped as usual.
 */
async function listProjected(ctx: EngineContext, req: Request, res: Response, type: ResourceType, ast: FilterAst | undefined, conds: Sql[], sortSpec: FieldSpec | undefined, page: Page): Promise<{ persons: string[] }> {
  const d = ctx.db.dialect;
  const where: string[] = ['u.tenant_id = ?'];
  const bindings: unknown[] = [ctx.tenantId];
  if (ast) {
    const f = compileFilter(d, ast, projFields(type));
    where.push(`(${f.sql})`);
    bindings.push(...f.bindings);
  }
  for (const c of conds) {
    where.push(`(${c.proj!.sql})`);
    bindings.push(...c.proj!.bindings);
  }
  const key = sortSpec ? sortSpec.proj!.expr!(d) : undefined;
  const whereSql = where.join(' and ');
  const total = await ctx.counts.count(ctx.db, ctx.tenantId, `select count(*) as n from oneroster_users u where ${whereSql}`, bindings, ctx.seq);
  // The page's ids from the narrow rows, then their objects by key. (One statement joining both would need an
  // ORDER BY over the joined rows: SQLite then copies every object into a temporary B-tree to sort them.)
  const ids = (await selectRows<{ id: string }>(
    ctx.db,
    key
      ? `select u.id from oneroster_users u where ${whereSql} order by ${key} ${page.dir} nulls last, u.id asc limit ? offset ?`
      : `select u.id from oneroster_users u where ${whereSql} order by u.id ${page.dir} limit ? offset ?`,
    [...bindings, page.limit, page.offset],
  )).map((r) => r.id);
  const byId = new Map<string, Buffer | string | null>();
  if (ids.length) {
    const got = await selectRows<{ id: string; json: Buffer | string | null }>(ctx.db, `select id, json from oneroster_user_json where tenant_id = ? and id in (${ids.map(() => '?').join(',')})`, [ctx.tenantId, ...ids]);
    for (const r of got) byId.set(r.id, r.json);
  }
  const rows = ids.map((id) => ({ id, json: byId.get(id) ?? null }));
  // Objects (UTF-8) with the mark in place of the origin, which goes in as the page is assembled.
  const parts = rows.map((r) => (r.json === null || r.json === undefined ? undefined : Buffer.isBuffer(r.json) ? r.json : Buffer.from(r.json, 'utf8')));
  const unmapped = ids.filter((_id, i) => parts[i] === undefined);
  let mapped: Map<string, Json> | undefined;
  if (unmapped.length) {
    const recs = await selectRows<RecordRow>(ctx.db, `select r.id, r.data, r.updated_at, r.deleted_at from records r where r.tenant_id = ? and r.entity_type = ? and r.id in (${unmapped.map(() => '?').join(',')})`, [ctx.tenantId, type.entity, ...unmapped]);
    const { items } = await mapRows(ctx, type, recs);
    mapped = new Map(items.map((it) => [it.sourcedId as string, it]));
  }
  const listed = ids.filter((id, i) => parts[i] !== undefined || mapped?.has(id));
  const head = `{${JSON.stringify(type.collection)}:[`;
  res.set('X-Total-Count', String(total));
  res.set('Link', linkHeader(req, page.limit, page.offset, total));
  if (!mapped && !page.fields) res.locals.orBytes = assemble(head, parts as Buffer[], ']}', ctx.base);
  else {
    const items: Json[] = [];
    ids.forEach((id, i) => {
      const o = parts[i] !== undefined ? (JSON.parse(withBase(parts[i]!.toString('utf8'), ctx.base)) as Json) : mapped?.get(id);
      if (o !== undefined) items.push(project(o, page.fields));
    });
    res.locals.orBody = { [type.collection]: items };
  }
  return { persons: type.disclosure ? listed : [] };
}

/** Answers a single-object request `{ <single>: {...} }`, 404 unknownobject when no record matches. */
export async function getSingle(ctx: EngineContext, req: Request, res: Response, type: ResourceType, id: string, conds: Sql[], readQuery = true): Promise<{ persons: string[] }> {
  if (readQuery) checkParams(req, ['fields']);
  const fields = readQuery ? parseFields(req, type.selectable) : undefined;
  const idExpr = type.idExpr ? type.idExpr(ctx.db.dialect) : 'r.id';
  const where = ['r.tenant_id = ?', `r.entity_type = '${type.entity}'`, `${idExpr} = ?`, ...conds.map((c) => `(${c.sql})`)];
  const bindings = [ctx.tenantId, id, ...conds.flatMap((c) => c.bindings)];
  const rows = await selectRows<RecordRow>(ctx.db, `select r.id, r.data, r.updated_at, r.deleted_at from records r where ${where.join(' and ')} order by r.deleted_at is not null, r.updated_at desc limit 1`, bindings);
  if (!rows.length) throw unknownObject(`No ${type.single} with sourcedId '${id.slice(0, 100)}'.`);
  const { items, persons } = await mapRows(ctx, type, rows);
  res.locals.orBody = { [type.single]: project(items[0], fields) };
  return { persons };
}
