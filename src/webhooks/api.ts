/**
 * Webhook subscriptions and their delivery log (scope `webhooks.manage`), and operator notifications (scope
 * `runs.read`). Another tenant's subscription or delivery id answers 404 like one that does not exist.
 *
 *   GET    /tenants/:t/webhooks                                   list
 *   POST   /tenants/:t/webhooks                                   { url, eventTypes, description?, enabled? } → 201, secret shown once
 *   GET    /tenants/:t/webhooks/:id
 *   PATCH  /tenants/:t/webhooks/:id                               { enabled?, eventTypes?, description?, url? }
 *   DELETE /tenants/:t/webhooks/:id                               → 204 (with its deliveries and log)
 *   POST   /tenants/:t/webhooks/:id/rotate-secret                 { overlapHours? } → the new secret, shown once
 *   GET    /tenants/:t/webhooks/:id/deliveries?status=            newest first
 *   GET    /tenants/:t/webhooks/:id/deliveries/:deliveryId        with every attempt
 *   POST   /tenants/:t/webhooks/:id/deliveries/:deliveryId/redeliver   → 202, sent again with the same webhook-id
 *   GET    /tenants/:t/notifications                              operator notifications, newest first
 */
import type { Router } from 'express';
import { HubError } from '../core/errors';
import { badRequest } from '../serve/errors';
import { decodeCursor, parseLimit, toPage } from '../serve/pagination';
import { jsonObjectBody, queryEnum, queryString } from '../serve/params';
import { tenantRoute, type AppDeps } from '../serve/route';
import { WEBHOOK_EVENT_TYPES, type WebhookEventType } from './events';
import { checkTarget } from './ssrf';
import {
  createSubscription, findSubscription, headCursors, isEnabled, rotateSecret, subscriptionView, syncConfigSubscriptions, tenantPolicy, type SubscriptionRow,
} from './store';
import type { DeliveryRow } from './dispatcher';

const DELIVERY_STATUSES = ['pending', 'retrying', 'succeeded', 'dead'] as const;

const subNotFound = () => new HubError('not_found', 'No webhook subscription with that id exists for the tenant.', [{ path: 'id', message: 'not found' }]);
const deliveryNotFound = () => new HubError('not_found', 'No delivery with that id exists for this subscription.', [{ path: 'deliveryId', message: 'not found' }]);

function eventTypes(v: unknown): WebhookEventType[] {
  if (!Array.isArray(v) || !v.length) throw badRequest('eventTypes', `must be a non-empty array of event types (${WEBHOOK_EVENT_TYPES.join(', ')})`);
  for (const [i, t] of v.entries()) {
    if (typeof t !== 'string' || !(WEBHOOK_EVENT_TYPES as readonly string[]).includes(t)) throw badRequest(`eventTypes[${i}]`, `must be one of ${WEBHOOK_EVENT_TYPES.join(', ')}`);
  }
  return [...new Set(v as WebhookEventType[])];
}

function description(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || v.length > 500) throw badRequest('description', 'must be a string of at most 500 characters');
  return v;
}

function url(v: unknown): string {
  if (typeof v !== 'string' || !v) throw badRequest('url', 'is required (an http or https URL)');
  return v;
}

export function deliveryView(d: DeliveryRow) {
  return {
    id: d.id, eventType: d.event_type, eventKey: d.event_key, seq: d.seq === null ? null : Number(d.seq), status: d.status, attempts: Number(d.attempts),
    nextAttemptAt: d.status === 'pending' || d.status === 'retrying' ? d.next_attempt_at : null,
    lastStatusCode: d.last_status_code ?? null, lastError: d.last_error ?? null, createdAt: d.created_at, finishedAt: d.finished_at ?? null,
    payload: JSON.parse(d.body) as unknown,
  };
}

export function webhookRoutes(router: Router, deps: AppDeps): void {
  const { db } = deps;
  let synced: Promise<void> | undefined;
  const ensureConfig = () => (synced ??= syncConfigSubscriptions(db, deps.config, Date.now()).catch((e: unknown) => {
    synced = undefined;
    throw e;
  }));
  const load = async (tenantId: string, id: string): Promise<SubscriptionRow> => {
    await ensureConfig();
    const s = await findSubscription(db, tenantId, id);
    if (!s) throw subNotFound();
    return s;
  };
  const configManaged = (s: SubscriptionRow, what: string) => {
    if (s.source === 'config') throw new HubError('webhook_config_managed', `Subscription '${s.id}' is declared in the configuration: ${what} it there.`, [{ path: 'id', message: 'declared in hub.config.json' }]);
  };

  tenantRoute(router, deps, 'get', '/tenants/:tenant/webhooks', { scope: 'webhooks.manage', query: ['limit', 'cursor'] }, async ({ req, res, tenant }) => {
    await ensureConfig();
    const limit = parseLimit(queryString(req, 'limit'));
    const after = decodeCursor(queryString(req, 'cursor'), 'webhooks', 'string');
    const q = db.knex('webhook_subscriptions').where({ tenant_id: tenant.id }).orderBy('id').limit(limit + 1);
    if (after !== undefined) q.where('id', '>', after);
    res.json(toPage((await q) as SubscriptionRow[], limit, 'webhooks', (s) => s.id, subscriptionView));
  });

  tenantRoute(router, deps, 'post', '/tenants/:tenant/webhooks', { scope: 'webhooks.manage' }, async ({ req, res, tenant, principal }) => {
    const body = jsonObjectBody(req, ['url', 'eventTypes', 'description', 'enabled']);
    const target = url(body.url);
    const types = eventTypes(body.eventTypes);
    const desc = description(body.description);
    if (body.enabled !== undefined && typeof body.enabled !== 'boolean') throw badRequest('enabled', 'must be a boolean');
    await checkTarget(target, tenantPolicy(tenant).allowPrivate);
    const { row, secret } = await createSubscription(db, deps.env, tenant.id, { url: target, eventTypes: types, description: desc, enabled: body.enabled !== false }, principal.name, Date.now());
    res.status(201).json({ data: { ...subscriptionView(row), secret } });
  });

  tenantRoute(router, deps, 'get', '/tenants/:tenant/webhooks/:id', { scope: 'webhooks.manage' }, async ({ req, res, tenant }) => {
    res.json({ data: subscriptionView(await load(tenant.id, String(req.params.id))) });
  });

  tenantRoute(router, deps, 'patch', '/tenants/:tenant/webhooks/:id', { scope: 'webhooks.manage' }, async ({ req, res, tenant, principal }) => {
    const s = await load(tenant.id, String(req.params.id));
    const body = jsonObjectBody(req, ['enabled', 'eventTypes', 'description', 'url']);
    const now = new Date().toISOString();
    const patch: Record<string, unknown> = {};
    if (body.eventTypes !== undefined || body.description !== undefined || body.url !== undefined) configManaged(s, 'change');
    if (body.eventTypes !== undefined) patch.event_types = JSON.stringify(eventTypes(body.eventTypes));
    if (body.description !== undefined) patch.description = description(body.description);
    if (body.url !== undefined) {
      patch.url = url(body.url);
      await checkTarget(patch.url as string, tenantPolicy(tenant).allowPrivate);
    }
    if (body.enabled !== undefined) {
      if (typeof body.enabled !== 'boolean') throw badRequest('enabled', 'must be a boolean');
      if (body.enabled && !isEnabled(s)) {
        // Re-enabled: it resumes at the head of the feed (what it missed is in GET .../changes).
        const head = await headCursors(db, tenant.id);
        Object.assign(patch, { enabled: true, disabled_reason: null, disabled_at: null, consecutive_dead: 0, failing_since: null, change_cursor: head.change, outbox_cursor: head.outbox });
      } else if (!body.enabled && isEnabled(s)) {
        Object.assign(patch, { enabled: false, disabled_reason: `disabled by ${principal.name}`, disabled_at: now });
      }
    }
    if (Object.keys(patch).length) await db.knex('webhook_subscriptions').where({ tenant_id: tenant.id, id: s.id }).update({ ...patch, updated_at: now });
    res.json({ data: subscriptionView((await findSubscription(db, tenant.id, s.id))!) });
  });

  tenantRoute(router, deps, 'delete', '/tenants/:tenant/webhooks/:id', { scope: 'webhooks.manage' }, async ({ req, res, tenant }) => {
    const s = await load(tenant.id, String(req.params.id));
    configManaged(s, 'remove');
    await db.knex.transaction(async (trx) => {
      await trx('webhook_attempts').where({ tenant_id: tenant.id, subscription_id: s.id }).delete();
      await trx('webhook_deliveries').where({ tenant_id: tenant.id, subscription_id: s.id }).delete();
      await trx('webhook_subscriptions').where({ tenant_id: tenant.id, id: s.id }).delete();
    });
    res.status(204).end();
  });

  tenantRoute(router, deps, 'post', '/tenants/:tenant/webhooks/:id/rotate-secret', { scope: 'webhooks.manage' }, async ({ req, res, tenant }) => {
    const s = await load(tenant.id, String(req.params.id));
    configManaged(s, 'rotate the secret');
    const body = jsonObjectBody(req, ['overlapHours']);
    let overlapMs = tenantPolicy(tenant).overlapMs;
    if (body.overlapHours !== undefined) {
      if (typeof body.overlapHours !== 'number' || !(body.overlapHours >= 0 && body.overlapHours <= 720)) throw badRequest('overlapHours', 'must be a number from 0 to 720');
      overlapMs = body.overlapHours * 3600_000;
    }
    const r = await rotateSecret(db, deps.env, s, overlapMs, Date.now());
    res.json({ data: { ...subscriptionView((await findSubscription(db, tenant.id, s.id))!), secret: r.secret } });
  });

  tenantRoute(router, deps, 'get', '/tenants/:tenant/webhooks/:id/deliveries', { scope: 'webhooks.manage', query: ['status', 'limit', 'cursor'] }, async ({ req, res, tenant }) => {
    const s = await load(tenant.id, String(req.params.id));
    const limit = parseLimit(queryString(req, 'limit'));
    const after = decodeCursor(queryString(req, 'cursor'), 'deliveries', 'string');
    const status = queryEnum(req, 'status', DELIVERY_STATUSES);
    const q = db.knex('webhook_deliveries').where({ tenant_id: tenant.id, subscription_id: s.id }).orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(limit + 1);
    if (status) q.where({ status });
    if (after !== undefined) {
      const [c, id] = [after.slice(0, after.indexOf('|')), after.slice(after.indexOf('|') + 1)];
      q.where((w) => w.where('created_at', '<', c).orWhere((x) => x.where('created_at', c).where('id', '<', id)));
    }
    res.json(toPage((await q) as DeliveryRow[], limit, 'deliveries', (d) => `${d.created_at}|${d.id}`, deliveryView));
  });

  const loadDelivery = async (tenantId: string, subId: string, deliveryId: string) => {
    const s = await load(tenantId, subId);
    const d = (await db.knex('webhook_deliveries').where({ tenant_id: tenantId, subscription_id: s.id, id: deliveryId }).first()) as DeliveryRow | undefined;
    if (!d) throw deliveryNotFound();
    return d;
  };

  tenantRoute(router, deps, 'get', '/tenants/:tenant/webhooks/:id/deliveries/:deliveryId', { scope: 'webhooks.manage' }, async ({ req, res, tenant }) => {
    const d = await loadDelivery(tenant.id, String(req.params.id), String(req.params.deliveryId));
    const attempts = (await db.knex('webhook_attempts').where({ tenant_id: tenant.id, delivery_id: d.id }).orderBy('id')) as Record<string, unknown>[];
    res.json({
      data: {
        ...deliveryView(d),
        attemptLog: attempts.map((a) => ({
          attempt: Number(a.attempt), at: a.at, durationMs: Number(a.duration_ms), statusCode: a.status_code === null ? null : Number(a.status_code), outcome: a.outcome,
          errorClass: a.error_class ?? null, errorMessage: a.error_message ?? null, responseSnippet: a.response_snippet ?? null,
        })),
      },
    });
  });

  tenantRoute(router, deps, 'post', '/tenants/:tenant/webhooks/:id/deliveries/:deliveryId/redeliver', { scope: 'webhooks.manage' }, async ({ req, res, tenant }) => {
    jsonObjectBody(req, []);
    const d = await loadDelivery(tenant.id, String(req.params.id), String(req.params.deliveryId));
    const now = new Date().toISOString();
    await db.knex('webhook_deliveries').where({ id: d.id }).update({
      status: 'pending', attempts: 0, next_attempt_at: now, finished_at: null, lease_owner: null, lease_until: null, lease_token: null,
    });
    const again = (await db.knex('webhook_deliveries').where({ id: d.id }).first()) as DeliveryRow;
    res.status(202).json({ data: deliveryView(again) });
  });

  tenantRoute(router, deps, 'get', '/tenants/:tenant/notifications', { scope: 'runs.read', query: ['limit', 'cursor'] }, async ({ req, res, tenant }) => {
    const limit = parseLimit(queryString(req, 'limit'));
    const before = decodeCursor(queryString(req, 'cursor'), 'notifications', 'number');
    const q = db.knex('operator_notifications').where({ tenant_id: tenant.id }).orderBy('id', 'desc').limit(limit + 1);
    if (before !== undefined) q.where('id', '<', before);
    type Row = { id: number | string; at: string; kind: string; subject: string | null; message: string; details: string | null };
    res.json(toPage((await q) as Row[], limit, 'notifications', (r) => Number(r.id), (r) => ({
      id: Number(r.id), at: r.at, kind: r.kind, subject: r.subject ?? null, message: r.message, details: r.details ? (JSON.parse(r.details) as unknown) : null,
    })));
  });
}
