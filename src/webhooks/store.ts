/**
 * Webhook subscriptions: the tenant's policy (from hub.config.json), subscriptions made through the API (secret
 * encrypted at rest with HUB_SECRET_KEY: it must be recoverable to sign, so it cannot be only hashed) and those
 * declared in the configuration (mirrored into the table so they have cursors and a delivery log; their secret
 * stays a `$env`/`$enc` reference in the file, resolved when signing).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../store/db';
import type { LoadedConfig, TenantConfig } from '../core/config';
import { HubError } from '../core/errors';
import { encryptSecret, resolveSecret } from '../core/secrets';
import { newWebhookSecret, secretKey } from './signing';
import type { WebhookEventType } from './events';

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface TenantPolicy {
  allowPrivate: boolean;
  retry: RetryPolicy;
  timeoutMs: number;
  overlapMs: number;
  autoDisable: { consecutiveDead: number; failingForMs: number };
  operatorWebhook?: string;
}

export interface PolicyOverrides {
  retry?: Partial<RetryPolicy>;
  timeoutMs?: number;
}

const HOUR = 3600_000;

export function tenantPolicy(tenant: TenantConfig | undefined, o: PolicyOverrides = {}): TenantPolicy {
  const w = tenant?.webhooks ?? {};
  return {
    allowPrivate: w.allowPrivateTargets === true,
    retry: {
      maxAttempts: o.retry?.maxAttempts ?? w.retry?.maxAttempts ?? 8,
      baseDelayMs: o.retry?.baseDelayMs ?? (w.retry?.baseDelaySeconds ?? 600) * 1000,
      maxDelayMs: o.retry?.maxDelayMs ?? (w.retry?.maxDelaySeconds ?? 43200) * 1000,
    },
    timeoutMs: o.timeoutMs ?? (w.timeoutSeconds ?? 10) * 1000,
    overlapMs: (w.secretOverlapHours ?? 24) * HOUR,
    autoDisable: { consecutiveDead: w.autoDisable?.consecutiveDeadLetters ?? 5, failingForMs: (w.autoDisable?.failingForHours ?? 72) * HOUR },
    operatorWebhook: w.operatorWebhook,
  };
}

/** Exponential backoff with full jitter: the wait after the n-th failed attempt is random in [0, min(max, base·2^(n-1))]. */
export function backoffMs(policy: RetryPolicy, failedAttempts: number, random: () => number = Math.random): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, failedAttempts - 1));
  return Math.floor(random() * cap);
}

export interface SubscriptionRow {
  tenant_id: string;
  id: string;
  source: 'api' | 'config';
  url: string;
  description: string | null;
  event_types: string;
  enabled: boolean | number;
  secret_enc: string | null;
  prev_secret_enc: string | null;
  prev_secret_until: string | null;
  change_cursor: number | string;
  outbox_cursor: number | string;
  consecutive_dead: number | string;
  failing_since: string | null;
  disabled_reason: string | null;
  disabled_at: string | null;
  config_hash: string | null;
  created_by: string | null;
  created_at: string;
  updated_at: string;
}

export const isEnabled = (s: Pick<SubscriptionRow, 'enabled'>) => s.enabled === true || s.enabled === 1;
export const eventTypesOf = (s: Pick<SubscriptionRow, 'event_types'>) => JSON.parse(s.event_types) as WebhookEventType[];

export function subscriptionView(s: SubscriptionRow) {
  return {
    id: s.id, source: s.source, url: s.url, description: s.description ?? null, eventTypes: eventTypesOf(s), enabled: isEnabled(s),
    disabledReason: s.disabled_reason ?? null, disabledAt: s.disabled_at ?? null,
    previousSecretValidUntil: s.prev_secret_until ?? null,
    health: { consecutiveDeadLetters: Number(s.consecutive_dead), failingSince: s.failing_since ?? null },
    createdBy: s.created_by ?? null, createdAt: s.created_at, updatedAt: s.updated_at,
  };
}

/** Where the feed and the outbox stand now: a new subscription starts there (it is not sent the past). */
export async function headCursors(db: Db, tenantId: string): Promise<{ change: number; outbox: number }> {
  const seq = await db.knex('tenant_sequences').where({ tenant_id: tenantId }).first('last_seq');
  const ob = (await db.knex('webhook_outbox').where({ tenant_id: tenantId }).max({ m: 'id' }))[0] as { m: number | string | null };
  return { change: Number(seq?.last_seq ?? 0), outbox: Number(ob?.m ?? 0) };
}

function requireSecretKey(env: NodeJS.ProcessEnv): void {
  if (!env.HUB_SECRET_KEY) {
    throw new HubError('secret_missing', 'HUB_SECRET_KEY is not set: webhook signing secrets are stored encrypted with it, so subscriptions cannot be created or rotated without it.', [{ path: 'HUB_SECRET_KEY', message: 'not set' }]);
  }
}

export function newSubscriptionId(): string {
  return `wh_${randomBytes(10).toString('hex')}`;
}

export async function findSubscription(db: Db, tenantId: string, id: string): Promise<SubscriptionRow | undefined> {
  return (await db.knex('webhook_subscriptions').where({ tenant_id: tenantId, id }).first()) as SubscriptionRow | undefined;
}

export async function createSubscription(
  db: Db, env: NodeJS.ProcessEnv, tenantId: string,
  input: { url: string; eventTypes: WebhookEventType[]; description: string | null; enabled: boolean }, by: string, now: number,
): Promise<{ row: SubscriptionRow; secret: string }> {
  requireSecretKey(env);
  const secret = newWebhookSecret();
  const at = new Date(now).toISOString();
  const head = await headCursors(db, tenantId);
  const row: SubscriptionRow = {
    tenant_id: tenantId, id: newSubscriptionId(), source: 'api', url: input.url, description: input.description, event_types: JSON.stringify(input.eventTypes),
    enabled: input.enabled, secret_enc: encryptSecret(secret, env), prev_secret_enc: null, prev_secret_until: null,
    change_cursor: head.change, outbox_cursor: head.outbox, consecutive_dead: 0, failing_since: null, disabled_reason: null, disabled_at: null,
    config_hash: null, created_by: by, created_at: at, updated_at: at,
  };
  await db.knex('webhook_subscriptions').insert(row);
  return { row: (await findSubscription(db, tenantId, row.id))!, secret };
}

/** A new secret; the old one keeps signing (a second signature) until `now + overlapMs`. */
export async function rotateSecret(db: Db, env: NodeJS.ProcessEnv, s: SubscriptionRow, overlapMs: number, now: number): Promise<{ secret: string; previousValidUntil: string | null }> {
  requireSecretKey(env);
  const secret = newWebhookSecret();
  const until = overlapMs > 0 ? new Date(now + overlapMs).toISOString() : null;
  await db.knex('webhook_subscriptions').where({ tenant_id: s.tenant_id, id: s.id }).update({
    secret_enc: encryptSecret(secret, env), prev_secret_enc: until ? s.secret_enc : null, prev_secret_until: until, updated_at: new Date(now).toISOString(),
  });
  return { secret, previousValidUntil: until };
}

/**
 * The HMAC keys to sign with, newest first: the current secret, and the previous one while its overlap lasts.
 * Throws secret_missing when a secret cannot be read (HUB_SECRET_KEY gone, `$env` unset, not a whsec_ value).
 */
export function signingKeys(s: SubscriptionRow, tenant: TenantConfig | undefined, env: NodeJS.ProcessEnv, now: number): Buffer[] {
  const bad = (why: string) => new HubError('secret_missing', `webhook subscription ${s.id}: ${why}`, [{ path: 'secret', message: why }]);
  const decode = (secret: string) => {
    const k = secretKey(secret);
    if (!k) throw bad('the secret is not a whsec_<base64> value');
    return k;
  };
  if (s.source === 'config') {
    const cfg = tenant?.webhooks?.subscriptions?.find((c) => c.id === s.id);
    if (!cfg) throw bad('no longer in the configuration');
    return [decode(resolveSecret(cfg.secret, `webhooks.subscriptions[${s.id}].secret`, env))];
  }
  if (!s.secret_enc) throw bad('has no secret');
  const keys = [decode(resolveSecret({ $enc: s.secret_enc }, `webhook subscription ${s.id}`, env))];
  if (s.prev_secret_enc && s.prev_secret_until && Date.parse(s.prev_secret_until) > now) {
    keys.push(decode(resolveSecret({ $enc: s.prev_secret_enc }, `webhook subscription ${s.id}`, env)));
  }
  return keys;
}

/**
 * Mirrors the subscriptions declared in the configuration into the table. A new one starts at the head of the
 * feed; a changed declaration (url, events, enabled) is applied; one that left the configuration is disabled. An
 * automatic disable survives restarts until the declaration changes or an operator re-enables it.
 */
export async function syncConfigSubscriptions(db: Db, config: LoadedConfig, now: number): Promise<void> {
  const at = new Date(now).toISOString();
  for (const t of config.config.tenants) {
    const declared = t.webhooks?.subscriptions ?? [];
    const existing = (await db.knex('webhook_subscriptions').where({ tenant_id: t.id, source: 'config' })) as SubscriptionRow[];
    const byId = new Map(existing.map((s) => [s.id, s]));
    for (const c of declared) {
      const hash = createHash('sha256').update(JSON.stringify({ url: c.url, events: c.events, description: c.description ?? null, enabled: c.enabled ?? true })).digest('hex');
      const cur = byId.get(c.id);
      if (cur && cur.config_hash === hash) continue;
      const fields = {
        url: c.url, description: c.description ?? null, event_types: JSON.stringify(c.events), enabled: c.enabled ?? true,
        disabled_reason: c.enabled === false ? 'disabled in the configuration' : null, disabled_at: c.enabled === false ? at : null, config_hash: hash, updated_at: at,
      };
      if (cur) {
        const head = !isEnabled(cur) && fields.enabled ? await headCursors(db, t.id) : undefined;
        await db.knex('webhook_subscriptions').where({ tenant_id: t.id, id: c.id }).update({ ...fields, ...(head ? { change_cursor: head.change, outbox_cursor: head.outbox, consecutive_dead: 0, failing_since: null } : {}) });
      } else {
        const head = await headCursors(db, t.id);
        await db.knex('webhook_subscriptions').insert({
          tenant_id: t.id, id: c.id, source: 'config', ...fields, secret_enc: null, prev_secret_enc: null, prev_secret_until: null,
          change_cursor: head.change, outbox_cursor: head.outbox, consecutive_dead: 0, failing_since: null, created_by: 'config', created_at: at,
        }).onConflict(['tenant_id', 'id']).ignore();
      }
    }
    const ids = new Set(declared.map((c) => c.id));
    for (const s of existing) {
      if (!ids.has(s.id) && isEnabled(s)) {
        await db.knex('webhook_subscriptions').where({ tenant_id: t.id, id: s.id }).update({ enabled: false, disabled_reason: 'removed from the configuration', disabled_at: at, config_hash: null, updated_at: at });
      }
    }
  }
}
