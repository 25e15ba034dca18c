/**
 * The HTTP API (express 5). `buildApp` only builds: the CLI listens, tests use supertest. See src/serve/README.md.
 *
 *  - GET /healthz (no auth) answers whether the database does, and nothing else.
 *  - /api/v1 needs an API key (auth.ts); every route names its scope, and tenant routes check the tenant.
 *  - One error envelope (errors.ts); one log line per request with the route pattern, status and duration — never
 *    the URL's query, a body or a key.
 */
import { randomUUID } from 'node:crypto';
import express, { type RequestHandler } from 'express';
import type { Db } from '../store/db';
import type { LoadedConfig } from '../core/config';
import { silentLogger, type Logger } from '../core/logger';
import { authenticate, canSeeTenant, loadApiKeys, principalOf } from './auth';
import { errorHandler, notFoundHandler } from './errors';
import { checkQuery } from './params';
import { API_PREFIX, BackgroundRuns, type AppDeps } from './route';
import { runRoutes } from './runs';
import { learnerRoutes } from './learners';
import { entityRoutes } from './entities';
import { peopleRoutes } from './people';
import { plpRoutes } from './plp';
import { competencyRoutes } from './competencies';
import { sessionKeys } from './sessions';
import { caliperRouter, learningEventRoutes } from '../caliper';
import { changeRoutes } from './changes';
import { disclosureRecorder, disclosureRoutes, type DisclosureRecorder } from './disclosures';
import { webhookRoutes } from '../webhooks/api';
import { catchUpOneRoster, drainOneRoster, oneRosterRouter } from './oneroster';
import type { ProjectionOptions } from './oneroster/projection';
import { exportRoutes } from './export/routes';
import { ltiAdminRoutes, mountLti, type PlpPort } from './lti';
import { stateExportRoutes } from './export/state/routes';

export interface BuildAppDeps {
  db: Db;
  config: LoadedConfig;
  log?: Logger;
  /** Where `apiKeys[].key` secret references are read from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /**
   * OneRoster provider options: the benchmark turns the answer cache off to measure the uncached path, and the users
   * projection off to measure the path over the records (src/serve/oneroster/projection.ts).
   */
  oneroster?: { answerCache?: boolean; projection?: boolean | ProjectionOptions };
  /** The learner plan port of the LTI pages (src/serve/lti/plp.ts); default: the PLP module (src/derive/plp/). */
  plp?: PlpPort;
}

const HEALTH_TIMEOUT_MS = 2000;
const backgroundOf = new WeakMap<express.Express, BackgroundRuns>();
const disclosuresOf = new WeakMap<express.Express, DisclosureRecorder>();
const oneRosterOf = new WeakMap<express.Express, express.Router>();

/** Brings the app's OneRoster users projection of a tenant up to date (the benchmark warms it before measuring). */
export async function warmOneRoster(app: express.Express, tenantId: string): Promise<void> {
  const r = oneRosterOf.get(app);
  if (r) await catchUpOneRoster(r, tenantId);
}

/** Waits until the disclosures of finished responses are written (they are written after the response). */
export async function settleDisclosures(app: express.Express): Promise<void> {
  await disclosuresOf.get(app)?.settle();
}

/**
 * Waits for the syncs started through this app's API; `abort: true` asks them to stop first (for shutdown).
 * Tests call it before closing the database.
 */
export async function drainBackgroundRuns(app: express.Express, opts: { abort?: boolean } = {}): Promise<void> {
  await backgroundOf.get(app)?.drain(opts);
  const or = oneRosterOf.get(app);
  if (or) await drainOneRoster(or);
  await disclosuresOf.get(app)?.settle();
}

const securityHeaders: RequestHandler = (_req, res, next) => {
  res.set({
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-store',
    'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Resource-Policy': 'same-origin',
  });
  next();
};

function requestLog(log: Logger): RequestHandler {
  return (req, res, next) => {
    const t0 = process.hrtime.bigint();
    const reqId = randomUUID();
    res.locals.reqId = reqId;
    res.set('X-Request-Id', reqId);
    let done = false;
    const line = () => {
      if (done) return;
      done = true;
      const principal = res.locals.principal as { name: string } | undefined;
      log.info(
        {
          reqId, method: req.method, route: (res.locals.route as string | undefined) ?? null, status: res.statusCode,
          durationMs: Math.round(Number(process.hrtime.bigint() - t0) / 1e4) / 100,
          ...(principal ? { apiKey: principal.name } : {}),
          ...(res.locals.errorCode ? { code: res.locals.errorCode as string } : {}),
          ...(res.writableFinished ? {} : { aborted: true }),
        },
        'request',
      );
    };
    res.on('finish', line);
    res.on('close', line);
    next();
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error('timeout')), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export function buildApp(deps: BuildAppDeps): express.Express {
  const log = deps.log ?? silentLogger;
  const env = deps.env ?? process.env;
  const keys = loadApiKeys(deps.config.config, env);
  if (!keys.length) log.warn('no apiKeys are configured: every /api/v1 request will be refused');
  const background = new BackgroundRuns();
  const appDeps: AppDeps = { db: deps.db, config: deps.config, log, env, background };

  const app = express();
  backgroundOf.set(app, background);
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.set('json escape', true);

  // The disclosure log sees every response, whichever router sends student data (src/serve/disclosures.ts).
  const disclosures = disclosureRecorder(deps.db, log);
  disclosuresOf.set(app, disclosures);
  app.use(securityHeaders, requestLog(log), disclosures);

  app.get('/healthz', async (_req, res) => {
    res.locals.route = '/healthz';
    try {
      await withTimeout(deps.db.knex.raw('select 1'), HEALTH_TIMEOUT_MS);
      res.json({ status: 'ok', database: 'ok' });
    } catch (e) {
      log.warn({ code: (e as { code?: unknown }).code ?? null }, 'health check: database unreachable');
      res.status(503).json({ status: 'unavailable', database: 'unreachable' });
    }
  });

  // Authentication comes before body parsing: unauthenticated callers cannot make the hub parse a megabyte.
  const api = express.Router();
  api.use(authenticate(keys, sessionKeys(deps.db, env)));
  api.use(express.json({ limit: '1mb', strict: true }));

  api.get('/tenants', async (req, res) => {
    res.locals.route = `${API_PREFIX}/tenants`;
    checkQuery(req, []);
    const principal = principalOf(res);
    res.json({ data: deps.config.config.tenants.filter((t) => canSeeTenant(principal, t.id)).map((t) => ({ id: t.id, name: t.name })) });
  });
  runRoutes(api, appDeps);
  entityRoutes(api, appDeps);
  learnerRoutes(api, appDeps);
  peopleRoutes(api, appDeps);
  plpRoutes(api, appDeps);
  competencyRoutes(api, appDeps);
  learningEventRoutes(api, appDeps);
  changeRoutes(api, appDeps);
  webhookRoutes(api, appDeps);
  disclosureRoutes(api, appDeps);
  exportRoutes(api, appDeps);
  const lti = { plp: deps.plp };
  ltiAdminRoutes(api, appDeps, lti);
  stateExportRoutes(api, appDeps);

  // Caliper sensors post to /caliper/:tenant with their own bearer tokens (src/caliper/README.md).
  app.use(caliperRouter(appDeps));
  // OneRoster 1.2 provider: /ims/oneroster/... with OAuth 2.0 client credentials (src/serve/oneroster/).
  const oneRoster = oneRosterRouter({ db: deps.db, config: deps.config.config, log, env, answerCache: deps.oneroster?.answerCache, projection: deps.oneroster?.projection });
  oneRosterOf.set(app, oneRoster);
  app.use(oneRoster);
  // The LTI 1.3 tool: /lti/login, /lti/launch, /lti/keys, /lti/register and the pages under /lti/app (src/serve/lti/).
  mountLti(app, appDeps, lti);
  app.use(API_PREFIX, api);
  app.use(notFoundHandler);
  app.use(errorHandler(log));
  return app;
}
