/**
 * The Caliper endpoint: `POST /caliper/:tenant` takes envelopes from the tenant's sensors, `GET /caliper/:tenant`
 * describes the endpoint (Caliper "endpoint configuration"). Mounted by buildApp outside /api/v1: sensors
 * authenticate with their own bearer token (auth.ts), not with API keys. See src/caliper/README.md.
 *
 * Order of checks on POST (each answered with the hub's error envelope):
 *   401 token (before anything is read) → 415 Content-Type / encoding → 413 body over the tenant's limit →
 *   400 not UTF-8 / not JSON → 403 envelope `sensor` is not the authenticated sensor → 422 unsupported dataVersion →
 *   400 malformed envelope → validation of each item → one transaction → 200.
 *
 * Partial acceptance: an invalid event does not sink the valid ones. Valid items are stored; the answer is 200 with
 * an empty body when every item was accepted (replays count as accepted), 200 with a JSON report naming the
 * rejected items when some were rejected, and 400 `event_invalid` when none was valid (nothing stored).
 */
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import { HubError, type ErrorDetail } from '../core/errors';
import { nowIso } from '../normalize/canonical';
import type { AppDeps } from '../serve/route';
import { checkQuery } from '../serve/params';
import { bearerToken, loadSensors, matchSensor, type Sensor, type TenantSensors } from './auth';
import { entityRow, eventRow, type EntityRow, type EventRow } from './extract';
import { writeEnvelope } from './store';
import { afterCaliper } from '../derive/caliper-hook';
import { checkEnvelope, isPlainObject, validateItem, type Problem } from './validate';
import { SUPPORTED_VERSIONS } from './vocab';

export const CALIPER_ROUTE = '/caliper/:tenant';

/** At most this many problems are returned (and never logged with values). */
const MAX_DETAILS = 100;

export type CaliperDeps = Pick<AppDeps, 'db' | 'config' | 'log' | 'env'>;

interface Authenticated {
  tenantId: string;
  tenant: TenantSensors;
  sensor: Sensor;
}

const UUID_URN = /^urn:uuid:[0-9a-fA-F-]{36}$/;
const SAFE_TERM = /^[A-Za-z0-9._-]{1,64}$/;

export interface RejectedItem {
  index: number;
  id?: string;
  type?: string;
  problems: Problem[];
}

/** The answer to a partly accepted envelope (status 200). */
export interface PartialAcceptance {
  accepted: number;
  duplicates: number;
  entities: number;
  rejected: RejectedItem[];
}

function authOf(res: Response): Authenticated {
  return res.locals.caliper as Authenticated;
}

/** `application/json` or `application/ld+json`, UTF-8 (the default) if a charset is given. */
function mediaTypeProblem(header: string | undefined): string | undefined {
  if (!header) return 'Send the envelope with Content-Type: application/json.';
  const [type, ...params] = header.split(';');
  const t = type.trim().toLowerCase();
  if (t !== 'application/json' && t !== 'application/ld+json') return 'The Content-Type must be application/json (or application/ld+json).';
  for (const p of params) {
    const [k, v] = p.split('=').map((s) => s.trim().toLowerCase());
    if (k === 'charset' && v.replace(/^"|"$/g, '') !== 'utf-8' && v.replace(/^"|"$/g, '') !== 'utf8') return 'The charset must be UTF-8.';
  }
  return undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function toDetails(problems: readonly Problem[]): ErrorDetail[] {
  return problems.slice(0, MAX_DETAILS).map((p) => ({ path: p.path, message: p.message, rule: p.rule }));
}

export function caliperRouter(deps: CaliperDeps): express.Router {
  const { db, log } = deps;
  const sensorsOf = loadSensors(deps.config.config, deps.env);
  const router = express.Router();

  // 401 before anything else: an unknown tenant and a wrong token get the same answer.
  const authenticate: RequestHandler = (req, res, next) => {
    res.locals.route = CALIPER_ROUTE;
    const tenantId = String(req.params.tenant);
    const { token, problem } = bearerToken(req.headers.authorization);
    if (problem) return next(new HubError('unauthenticated', problem));
    const tenant = sensorsOf.get(tenantId);
    const sensor = tenant ? matchSensor(tenant.sensors, token!) : undefined;
    if (!tenant || !sensor) return next(new HubError('unauthenticated', 'The sensor token is not valid for this endpoint.'));
    res.locals.caliper = { tenantId, tenant, sensor } satisfies Authenticated;
    next();
  };

  const requireJson: RequestHandler = (req, _res, next) => {
    const problem = mediaTypeProblem(req.headers['content-type']);
    next(problem ? new HubError('unsupported_media_type', problem, [{ path: 'Content-Type', message: problem }]) : undefined);
  };

  // express.raw (body-parser) enforces the limit (Content-Length up front, then while reading) and inflates
  // gzip/deflate; one parser per distinct limit.
  const parsers = new Map<number, RequestHandler>();
  const readBody: RequestHandler = (req, res, next) => {
    const limit = authOf(res).tenant.maxPayloadBytes;
    let parse = parsers.get(limit);
    if (!parse) {
      parse = express.raw({ type: () => true, limit, inflate: true });
      parsers.set(limit, parse);
    }
    parse(req, res, next);
  };

  router.get(CALIPER_ROUTE, authenticate, (req: Request, res: Response) => {
    checkQuery(req, []);
    res.json({ caliper_supported_versions: SUPPORTED_VERSIONS, caliper_maximum_payload_size: authOf(res).tenant.maxPayloadBytes });
  });

  router.post(CALIPER_ROUTE, authenticate, requireJson, readBody, async (req: Request, res: Response) => {
    const { tenantId, sensor } = authOf(res);
    checkQuery(req, []);
    const raw: unknown = req.body;
    if (!Buffer.isBuffer(raw) || raw.length === 0) throw new HubError('bad_request', 'The request has no body: send a Caliper envelope.', [{ path: 'body', message: 'is empty' }]);
    let text: string;
    try {
      text = utf8.decode(raw);
    } catch {
      throw new HubError('bad_request', 'The body is not valid UTF-8.', [{ path: 'body', message: 'is not valid UTF-8' }]);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (e) {
      const at = /position (\d+)/.exec((e as Error).message)?.[1];
      const message = `is not valid JSON${at ? ` (at character ${at})` : ''}`;
      throw new HubError('bad_request', `body: ${message}`, [{ path: 'body', message }]);
    }

    // The envelope must come from the sensor the token belongs to.
    if (isPlainObject(body) && typeof body.sensor === 'string' && body.sensor !== sensor.id) {
      throw new HubError('forbidden', "The envelope's sensor is not the sensor this token belongs to.", [{ path: '$.sensor', message: 'does not match the authenticated sensor' }]);
    }
    const env = checkEnvelope(body);
    if (!env.ok) {
      if (env.status === 422) throw new HubError('unsupported_version', `Unsupported Caliper dataVersion: ${env.problems[0].message}`, toDetails(env.problems));
      throw new HubError('bad_request', `Malformed Caliper envelope: ${env.problems[0].path} ${env.problems[0].message}`, toDetails(env.problems));
    }

    const events: EventRow[] = [];
    const entities: EntityRow[] = [];
    const rejected: RejectedItem[] = [];
    env.data.forEach((item, index) => {
      const check = validateItem(item, env.version, `$.data[${index}]`);
      const o = item as Record<string, unknown>;
      if (check.problems.length) {
        rejected.push({
          index,
          ...(typeof o?.id === 'string' && UUID_URN.test(o.id) ? { id: o.id } : {}),
          ...(typeof o?.type === 'string' && SAFE_TERM.test(o.type) ? { type: o.type } : {}),
          problems: check.problems,
        });
      } else if (check.kind === 'event') {
        events.push(eventRow(o, env.version));
      } else {
        entities.push(entityRow(o));
      }
    });
    if (!events.length && !entities.length) {
      const problems = rejected.flatMap((r) => r.problems);
      throw new HubError('event_invalid', `No event or entity of the envelope is valid (${rejected.length} rejected); nothing was stored.`, toDetails(problems));
    }

    // Acknowledged only once committed: a failure here is a 5xx and the sensor keeps the envelope.
    const result = await writeEnvelope(db, { tenantId, sensor: sensor.id, dataVersion: env.dataVersion, receivedAt: nowIso(), events, entities });
    const summary = { reqId: res.locals.reqId, tenant: tenantId, sensor: sensor.name, items: env.data.length, ...result, rejected: rejected.length };
    // Scored events may be competency evidence: derived after the acknowledgement (never delaying it, never failing it).
    const scored = events.filter((e) => e.score_given !== null).map((e) => e.event_id);
    const derive = () => afterCaliper({ db, config: deps.config, log }, tenantId, scored);
    if (!rejected.length) {
      log.debug(summary, 'caliper envelope');
      res.status(200).end();
      await derive();
      return;
    }
    log.warn({ ...summary, problems: rejected.slice(0, 5).flatMap((r) => r.problems.slice(0, 2).map((p) => `${p.rule} ${p.path}`)) }, 'caliper envelope: items rejected');
    let budget = MAX_DETAILS;
    const report: PartialAcceptance = {
      accepted: result.inserted, duplicates: result.duplicates, entities: result.entities,
      rejected: rejected.map((r) => {
        const problems = r.problems.slice(0, Math.max(1, budget));
        budget -= problems.length;
        return { ...r, problems };
      }),
    };
    res.status(200).json(report);
    await derive();
  });

  // Body-parser errors get Caliper's codes; the app's error handler answers with the envelope.
  const errors: ErrorRequestHandler = (err, _req, res, next) => {
    let e: unknown = err;
    const type = (err as { type?: unknown } | null)?.type;
    if (type === 'entity.too.large') {
      e = new HubError('payload_too_large', `The body is larger than this endpoint accepts (${authOf(res)?.tenant.maxPayloadBytes ?? 'the limit'} bytes).`, [{ path: 'body', message: 'too large' }]);
    } else if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
      e = new HubError('unsupported_media_type', 'The Content-Encoding or charset is not supported (send UTF-8 JSON, optionally gzip or deflate).', [{ path: 'Content-Encoding', message: 'unsupported' }]);
    }
    next(e);
  };
  router.use(errors);
  return router;
}
