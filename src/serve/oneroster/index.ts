/**
 * The OneRoster 1.2 provider, mounted at /ims/oneroster (outside /api/v1, with its own OAuth 2.0 auth):
 *
 *   POST /ims/oneroster/token                               client credentials → bearer access token (auth.ts)
 *   GET  /ims/oneroster/rostering/v1p2/...                  every Rostering endpoint (routes.ts)
 *   GET  /ims/oneroster/gradebook/v1p2/...                  Gradebook reads; PUT/POST/DELETE writes (write-routes.ts)
 *   GET  /ims/oneroster/resources/v1p2/...                  Resources reads (the hub stores no resources: empty)
 *   GET  /ims/oneroster/{service}/v1p2/discovery            OpenAPI 3.0 of what is implemented (no auth)
 *
 * Errors are imsx_StatusInfo payloads (errors.ts). The token's client decides the tenant; every query is filtered by
 * it. Handlers that return student data set `res.locals.disclosure` ({channel: 'oneroster', categories, personIds})
 * and `res.locals.principal` ({name: 'oneroster:<clientId>', ...}) for the disclosure log.
 */
import express, { type Request, type Response, type Router } from 'express';
import type { Db } from '../../store/db';
import type { HubConfig } from '../../types/unified.generated';
import type { Logger } from '../../core/logger';
import { bearer, loadOneRosterClients, orPrincipal, requireAnyScope, tokenRouter, tokenVerifier } from './auth';
import { signingKeys } from '../signing-keys';
import { oneRosterErrorHandler, oneRosterNotFound, unknownObject } from './errors';
import { READ_ROUTES, expressPath, serviceBase, type Params, type ReadRoute } from './routes';
import { WRITE_ROUTES } from './write-routes';
import { AnswerCache, CountCache, checkParams, getSingle, listCollection, parseFields, tenantSeq, type EngineContext } from './query';
import { escapeJson, UserProjection, type ProjectionOptions } from './projection';
import { EMPTY_TYPES } from './model';
import { selectRows } from '../../store/statements';
import { DISCOVERY_FILES, discoveryDocument } from './discovery';

export interface OneRosterDeps {
  db: Db;
  config: HubConfig;
  log: Logger;
  env: NodeJS.ProcessEnv;
  /** Cache whole read answers while the tenant's data is unchanged (default true; the benchmark measures both). */
  answerCache?: boolean;
  /** Answer users lists from the users projection (default true; false: always from the records). */
  projection?: boolean | ProjectionOptions;
}

/** JSON as express's `json escape` writes it (<, >, & escaped), so cached and computed answers are the same bytes. */
function jsonBytes(body: unknown): Buffer {
  return Buffer.from(escapeJson(JSON.stringify(body)), 'utf8');
}

/** The users projection of each router (drainOneRoster waits for its background work). */
const projections = new WeakMap<Router, UserProjection>();

/** Waits for the router's background projection work (before closing the database). */
export async function drainOneRoster(router: Router): Promise<void> {
  await projections.get(router)?.drain();
}

/** Brings the users projection of a tenant up to date now (the benchmark's warm-up). */
export async function catchUpOneRoster(router: Router, tenantId: string): Promise<void> {
  await projections.get(router)?.catchUpFully(tenantId);
}

export const ONEROSTER_PREFIX = '/ims/oneroster';
const MAX_ID_LENGTH = 255;

const origin = (req: Request) => `${req.protocol}://${req.get('host') ?? 'localhost'}`;

async function checkParents(ctx: EngineContext, route: ReadRoute, params: Params): Promise<void> {
  for (const p of route.parents ?? []) {
    const id = params[p.param];
    const conds = p.conds?.(ctx.db.dialect, params) ?? [];
    const rows = await selectRows(
      ctx.db,
      `select 1 as ok from records r where r.tenant_id = ? and r.entity_type = ? and r.id = ?${conds.map((c) => ` and (${c.sql})`).join('')} limit 1`,
      [ctx.tenantId, p.entity, id, ...conds.flatMap((c) => c.bindings)],
    );
    if (!rows.length) throw unknownObject(`No ${p.label} with sourcedId '${id.slice(0, 100)}'.`);
  }
}

function readHandler(route: ReadRoute, db: Db, counts: CountCache, answers: AnswerCache | undefined, projection: UserProjection | undefined) {
  const pattern = `${serviceBase(route.service)}${route.path}`;
  return async (req: Request, res: Response) => {
    res.locals.route = pattern;
    const principal = orPrincipal(req);
    requireAnyScope(principal, route.scopes);
    const seq = await tenantSeq(db, principal.tenantId);
    const cacheKey = `${principal.tenantId}\u0000${origin(req)}\u0000${req.originalUrl}`;
    const hit = answers?.get(cacheKey, seq);
    if (hit) {
      if (hit.disclosure) res.locals.disclosure = hit.disclosure;
      res.set(hit.headers).type('application/json').send(hit.body);
      return;
    }
    const params: Params = {};
    for (const [k, v] of Object.entries(req.params)) {
      const s = String(v);
      if (s.length > MAX_ID_LENGTH) throw unknownObject(`No object with that ${k}.`);
      params[k] = s;
    }
    const ctx: EngineContext = { db, tenantId: principal.tenantId, counts, base: `${origin(req)}${ONEROSTER_PREFIX}`, seq, projection };
    await checkParents(ctx, route, params);
    let persons: string[] = [];
    if (typeof route.type === 'string') {
      // A type the hub has no records of: an empty collection (with the query still checked), or 404.
      const empty = EMPTY_TYPES[route.type];
      if (route.kind === 'single') {
        checkParams(req, ['fields']);
        parseFields(req, empty.selectable);
        throw unknownObject(`No ${empty.single} with sourcedId '${params.sourcedId.slice(0, 100)}'.`);
      }
      checkParams(req, ['limit', 'offset', 'sort', 'orderBy', 'filter', 'fields']);
      parseFields(req, empty.selectable);
      res.set('X-Total-Count', '0');
      res.locals.orBody = { [empty.collection]: [] };
    } else if (route.kind === 'list') {
      ({ persons } = await listCollection(ctx, req, res, route.type, route.conds?.(db.dialect, params) ?? []));
    } else {
      ({ persons } = await getSingle(ctx, req, res, route.type, params.sourcedId, route.conds?.(db.dialect, params) ?? []));
    }
    const categories = new Set<string>();
    const personIds = new Set<string>(persons);
    if (typeof route.type !== 'string' && route.type.disclosure && persons.length) for (const c of route.type.disclosure.categories) categories.add(c);
    if (route.pathPerson) {
      personIds.add(params[route.pathPerson.param]);
      for (const c of route.pathPerson.categories) categories.add(c);
    }
    if (personIds.size) res.locals.disclosure = { channel: 'oneroster', categories: [...categories], personIds: [...personIds] };
    const body = Buffer.isBuffer(res.locals.orBytes) ? res.locals.orBytes : jsonBytes(res.locals.orBody);
    const headers: Record<string, string> = {};
    for (const h of ['X-Total-Count', 'Link']) {
      const v = res.get(h);
      if (v !== undefined) headers[h] = v;
    }
    answers?.set(cacheKey, { seq, body, headers, disclosure: res.locals.disclosure });
    res.type('application/json').send(body);
  };
}

export function oneRosterRouter(deps: OneRosterDeps): Router {
  const clients = loadOneRosterClients(deps.config, deps.env);
  // Tokens live at most tenants[].oneroster.tokenLifetimeSeconds (<= 24 h): a retired key verifies that long.
  const key = signingKeys(deps.db, 'oneroster', 86400, deps.env);
  const verifier = tokenVerifier(clients, key);
  const counts = new CountCache();
  const answers = deps.answerCache === false ? undefined : new AnswerCache();
  const projection = deps.projection === false ? undefined : new UserProjection(deps.db, deps.log, typeof deps.projection === 'object' ? deps.projection : {});
  const router = express.Router();
  if (projection) projections.set(router, projection);

  router.use(tokenRouter(clients, key));

  for (const service of ['rostering', 'gradebook', 'resources'] as const) {
    const base = serviceBase(service);
    const sub = express.Router();
    const discovery = (req: Request, res: Response) => {
      res.locals.route = `${base}/discovery`;
      res.json(discoveryDocument(service, origin(req)));
    };
    sub.get('/discovery', discovery);
    sub.get(`/discovery/${DISCOVERY_FILES[service]}`, discovery);
    sub.use(bearer(verifier));
    sub.use(express.json({ limit: '1mb', strict: true }));
    for (const route of READ_ROUTES.filter((r) => r.service === service)) sub.get(expressPath(route.path), readHandler(route, deps.db, counts, answers, projection));
    if (service === 'gradebook') {
      for (const w of WRITE_ROUTES) {
        sub[w.method](expressPath(w.path), async (req, res) => {
          res.locals.route = `${base}${w.path}`;
          const principal = orPrincipal(req);
          requireAnyScope(principal, [w.scope]);
          const engine: EngineContext = { db: deps.db, tenantId: principal.tenantId, counts, base: `${origin(req)}${ONEROSTER_PREFIX}`, seq: 0 };
          await w.handle({ req, res, db: deps.db, principal, engine });
        });
      }
    }
    router.use(base, sub);
  }
  router.use(ONEROSTER_PREFIX, oneRosterNotFound);
  router.use(ONEROSTER_PREFIX, oneRosterErrorHandler(deps.log));
  return router;
}
