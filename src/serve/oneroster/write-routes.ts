/**
 * The gradebook write endpoints (1.2 Gradebook service) and what each does; the work is in gradebook-write.ts.
 */
import type { Request, Response } from 'express';
import type { Db } from '../../store/db';
import type { EntityType } from '../../ingest/contract';
import { OR_SCOPES, type OneRosterScope } from './scopes';
import { allocateId, applyWrites, checkSourcedId, readCategory, readLineItem, readResult, unprocessable, type Pending } from './gradebook-write';
import { unknownObject } from './errors';
import { jsonText } from './fields';
import { TYPES, type Json, type ResourceType } from './model';
import { rowsOf } from '../../store/statements';
import { getSingle, type EngineContext } from './query';
import type { OneRosterPrincipal } from './auth';

export interface WriteRoute {
  method: 'put' | 'post' | 'delete';
  path: string;
  scope: OneRosterScope;
  handle(ctx: WriteContext): Promise<void>;
}

export interface WriteContext {
  req: Request;
  res: Response;
  db: Db;
  principal: OneRosterPrincipal;
  engine: EngineContext;
}

const KINDS: Record<'categories' | 'lineItems' | 'results', { type: ResourceType; entity: EntityType; single: string; read: typeof readCategory | typeof readLineItem | typeof readResult }> = {
  categories: { type: TYPES.category, entity: 'lineItemCategory', single: 'category', read: readCategory },
  lineItems: { type: TYPES.lineItem, entity: 'lineItem', single: 'lineItem', read: readLineItem },
  results: { type: TYPES.result, entity: 'result', single: 'result', read: readResult },
};

function bodyKey(req: Request, key: string): unknown {
  const body = req.body as unknown;
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw unprocessable(`the body must be a JSON object {"${key}": ...}`);
  const keys = Object.keys(body);
  if (keys.length !== 1 || keys[0] !== key) throw unprocessable(`the body must be {"${key}": ...}; found ${keys.map((k) => `"${k.slice(0, 40)}"`).join(', ') || 'no key'}`);
  return (body as Json)[key];
}

/** 404 unknownobject unless a live record of the path exists (for POST under a class, a school, a line item). */
async function mustExist(ctx: WriteContext, entity: string, id: string, label: string, extra?: { field: string; value: string }) {
  const d = ctx.db.dialect;
  const raw = await ctx.db.knex.raw(
    `select 1 as ok from records r where r.tenant_id = ? and r.entity_type = ? and r.id = ? and r.deleted_at is null${extra ? ` and ${jsonText(d, extra.field)} = ?` : ''}`,
    [ctx.principal.tenantId, entity, id, ...(extra ? [extra.value] : [])],
  );
  if (!rowsOf(raw).length) throw unknownObject(`No ${label} with sourcedId '${id.slice(0, 64)}'.`);
}

function disclose(res: Response, principal: OneRosterPrincipal, categories: string[], personIds: string[]) {
  res.locals.disclosure = { channel: 'oneroster', categories, personIds };
  res.locals.principal = principal;
}

function putRoute(kind: keyof typeof KINDS): WriteRoute {
  const k = KINDS[kind];
  return {
    method: 'put',
    path: `/${kind}/{sourcedId}`,
    scope: OR_SCOPES.gradebookWrite,
    async handle(ctx) {
      const id = checkSourcedId(String(ctx.req.params.sourcedId), 'path');
      const item = k.read(bodyKey(ctx.req, k.single), k.single, { sourcedId: id });
      const [out] = await applyWrites(ctx.db, ctx.principal.tenantId, ctx.principal.clientId, [
        { type: k.entity, id, data: item.data, refs: item.refs, raw: item.raw, location: `PUT /${kind}/${id}` },
      ]);
      await getSingle(ctx.engine, ctx.req, ctx.res, k.type, id, [], false);
      if (kind === 'results') disclose(ctx.res, ctx.principal, ['grades'], [item.data!.personId as string]);
      ctx.res.status(out.op === 'create' ? 201 : 200).json(ctx.res.locals.orBody);
    },
  };
}

function deleteRoute(kind: keyof typeof KINDS): WriteRoute {
  const k = KINDS[kind];
  return {
    method: 'delete',
    path: `/${kind}/{sourcedId}`,
    scope: OR_SCOPES.gradebookDelete,
    async handle(ctx) {
      const id = String(ctx.req.params.sourcedId);
      if (id.length > 64) throw unknownObject(`No ${k.single} with that sourcedId.`);
      await applyWrites(ctx.db, ctx.principal.tenantId, ctx.principal.clientId, [{ type: k.entity, id, data: null, refs: [], raw: undefined, location: `DELETE /${kind}/${id}` }]);
      ctx.res.status(204).end();
    },
  };
}

/** POST of several items under a parent: the hub allocates ids; `{sourcedIdPairs:[{suppliedSourcedId, allocatedSourcedId}]}`. */
function postRoute(path: string, key: 'lineItems' | 'results', prepare: (ctx: WriteContext) => Promise<Record<string, string>>): WriteRoute {
  const k = KINDS[key];
  return {
    method: 'post',
    path,
    scope: OR_SCOPES.gradebookWrite,
    async handle(ctx) {
      const fixed = await prepare(ctx);
      const items = bodyKey(ctx.req, key);
      if (!Array.isArray(items) || !items.length) throw unprocessable(`${key}: must be a non-empty array`);
      if (items.length > 1000) throw unprocessable(`${key}: at most 1000 items per request`);
      const pending: Pending[] = [];
      const pairs: Array<{ suppliedSourcedId: string; allocatedSourcedId: string }> = [];
      items.forEach((obj, i) => {
        const item = k.read(obj, `${key}[${i}]`, fixed);
        const id = allocateId();
        pairs.push({ suppliedSourcedId: item.supplied ?? '', allocatedSourcedId: id });
        pending.push({ type: k.entity, id, data: item.data, refs: item.refs, raw: obj, location: `POST ${ctx.req.path} ${key}[${i}]` });
      });
      await applyWrites(ctx.db, ctx.principal.tenantId, ctx.principal.clientId, pending);
      if (key === 'results') disclose(ctx.res, ctx.principal, ['grades'], [...new Set(pending.map((p) => p.data!.personId as string))]);
      ctx.res.status(201).json({ sourcedIdPairs: pairs });
    },
  };
}

export const WRITE_ROUTES: WriteRoute[] = [
  putRoute('categories'),
  deleteRoute('categories'),
  putRoute('lineItems'),
  deleteRoute('lineItems'),
  putRoute('results'),
  deleteRoute('results'),
  postRoute('/classes/{classSourcedId}/lineItems', 'lineItems', async (ctx) => {
    const classId = String(ctx.req.params.classSourcedId);
    await mustExist(ctx, 'class', classId, 'class');
    return { classId };
  }),
  postRoute('/schools/{schoolSourcedId}/lineItems', 'lineItems', async (ctx) => {
    const schoolId = String(ctx.req.params.schoolSourcedId);
    await mustExist(ctx, 'org', schoolId, 'school', { field: 'type', value: 'school' });
    return { schoolId };
  }),
  postRoute('/lineItems/{lineItemSourcedId}/results', 'results', async (ctx) => {
    const lineItemId = String(ctx.req.params.lineItemSourcedId);
    await mustExist(ctx, 'lineItem', lineItemId, 'line item');
    return { lineItemId };
  }),
];
