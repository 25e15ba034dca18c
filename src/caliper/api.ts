/**
 * `GET /api/v1/tenants/:tenant/learning-events?actor=&type=&since=&limit=&cursor=` (scope `roster.read`): the
 * tenant's Caliper events in arrival order, keyset-paginated on the per-tenant sequence number. Each item is
 * `{ data: <the Caliper event as received>, meta: { seq, sensor, dataVersion, receivedAt, actorId, objectId,
 * scoreGiven, maxScore } }`. Filters: `actor` (the actor IRI, exact), `type` (a Caliper event type), `since` (an
 * ISO 8601 date or date-time: events whose eventTime is at or after it).
 */
import type { Router } from 'express';
import { badRequest } from '../serve/errors';
import { decodeCursor, parseLimit, toPage } from '../serve/pagination';
import { queryString } from '../serve/params';
import { tenantRoute, type AppDeps } from '../serve/route';
import { EVENT_TYPES } from './model';
import { listEvents, type StoredEvent } from './store';
import { isIri } from './validate';
import type { Disclosure } from '../serve/disclosures';

const COLLECTION = 'learning-events';
const SINCE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/;

/** An ISO 8601 date or date-time with a zone → `YYYY-MM-DDTHH:mm:ss.SSSZ`, the form event times are stored in. */
export function parseSince(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const t = SINCE.test(raw) ? Date.parse(raw.length === 10 ? `${raw}T00:00:00Z` : raw) : NaN;
  if (!Number.isFinite(t)) throw badRequest('since', 'must be an ISO 8601 date or date-time with a zone, e.g. 2024-09-01 or 2024-09-01T08:00:00Z');
  return new Date(t).toISOString();
}

export function eventItem(r: StoredEvent) {
  return {
    data: JSON.parse(r.data) as Record<string, unknown>,
    meta: {
      seq: Number(r.seq), sensor: r.sensor, dataVersion: r.data_version, receivedAt: r.received_at,
      actorId: r.actor_id, objectId: r.object_id, scoreGiven: r.score_given ?? null, maxScore: r.max_score ?? null,
    },
  };
}

export function learningEventRoutes(router: Router, deps: AppDeps): void {
  const query = ['actor', 'type', 'since', 'limit', 'cursor'];
  tenantRoute(router, deps, 'get', '/tenants/:tenant/learning-events', { scope: 'roster.read', query }, async ({ req, res, tenant }) => {
    const limit = parseLimit(queryString(req, 'limit'));
    const afterSeq = decodeCursor(queryString(req, 'cursor'), COLLECTION, 'number');
    const actor = queryString(req, 'actor');
    if (actor !== undefined && !isIri(actor)) throw badRequest('actor', 'must be the actor IRI');
    const type = queryString(req, 'type');
    if (type !== undefined && !EVENT_TYPES[type]) throw badRequest('type', 'must be a Caliper event type, e.g. AssessmentEvent or GradeEvent');
    const since = parseSince(queryString(req, 'since'));
    const rows = await listEvents(deps.db, tenant.id, { actor, type, since, afterSeq, limit });
    const page = toPage(rows, limit, COLLECTION, (r) => Number(r.seq), eventItem);
    // Learning activity about the actors. Until actors are resolved to persons, the actor IRI is the person id logged.
    if (page.data.length) res.locals.disclosure = { channel: 'api', categories: ['learning_activity'], personIds: [...new Set(page.data.map((e) => e.meta.actorId))] } satisfies Disclosure;
    res.json(page);
  });
}
