/**
 * The webhook dispatcher: started by `hub serve` / `hub start`, stoppable, and safe with several processes on one
 * database.
 *
 *  1. Fan-out (per tenant, under a named lease in webhook_leases so one process does it at a time — and idempotent
 *     anyway: a delivery is unique per subscription and event): change_log rows after each subscription's cursor
 *     and unsent webhook_outbox rows become webhook_deliveries rows, and the cursors advance, in one transaction.
 *     Nothing is lost when a process dies: the events are durable before the fan-out, the deliveries before the send.
 *  2. Delivery: due rows are claimed with a lease (a token, an owner, an expiry — like the connector lock): a
 *     process that dies mid-send leaves rows that another process takes over when the lease expires; a delivery is
 *     only sent while its lease outlasts its timeout. Each is POSTed with `webhook-id` (the delivery id: stable per
 *     event and subscription, so retries and redeliveries can be deduplicated), `webhook-timestamp` and
 *     `webhook-signature`. The outcome of a batch (attempt log, status, next attempt, disclosure log, subscription
 *     health) is written in one transaction. The stages overlap (deliverDue): the next batch is claimed while one is
 *     being sent, a finished batch is recorded while the next ones are being sent, and a round's fan-out runs
 *     alongside its sending — on PostgreSQL each a round trip or a few (one UPDATE ... RETURNING to claim, bulk
 *     statements to record), so the network wait of the database hides behind the receivers'.
 *  3. Failures are retried with exponential backoff and full jitter, then dead-lettered. A subscription with too
 *     many dead letters in a row, or failing for too long, is disabled: a warn line (no secrets, no URLs' query),
 *     an operator_notifications row, and an optional POST to the tenant's `operatorWebhook`.
 */
import os from 'node:os';
import { createHash, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Db } from '../store/db';
import { insertRows, pgRecordset, type ColumnTypes } from '../store/bulk';
import type { LoadedConfig, TenantConfig } from '../core/config';
import { findTenant } from '../core/config';
import { silentLogger, type Logger } from '../core/logger';
import { categoriesOfType } from '../core/categories';
import { recordDisclosures, type DisclosureRow } from '../serve/disclosures';
import { changedFields, eventTypeOfChange, parseDiff, personIdsOfChanges, type ChangeRow, type WebhookEventType } from './events';
import { WebhookSender, type SendResult } from './sender';
import { backoffMs, eventTypesOf, isEnabled, signingKeys, syncConfigSubscriptions, tenantPolicy, type PolicyOverrides, type SubscriptionRow, type TenantPolicy } from './store';
import { signatureHeader } from './signing';

export interface DispatcherOptions {
  db: Db;
  config: LoadedConfig;
  env?: NodeJS.ProcessEnv;
  log?: Logger;
  /** Milliseconds since the epoch (tests inject a clock). */
  now?: () => number;
  /** In [0, 1): the jitter (tests inject it). */
  random?: () => number;
  /** Who holds leases (default host:pid:random). */
  owner?: string;
  /** Sleep between polls when there was nothing to do (default 500 ms). */
  pollMs?: number;
  /** Deliveries claimed at once (default 200) and sent in parallel (default 32). */
  batchSize?: number;
  concurrency?: number;
  /**
   * A claimed delivery not finished within this is taken over by another process (default 60 s; a claim's lease is
   * at least twice the longest timeout). A delivery is only sent while its lease outlasts its timeout.
   */
  leaseMs?: number;
  /** Overrides of every tenant's retry policy and timeout (tests, benchmarks). */
  overrides?: PolicyOverrides;
  sender?: WebhookSender;
}

export interface DeliveryRow {
  id: string;
  tenant_id: string;
  subscription_id: string;
  event_key: string;
  event_type: string;
  seq: number | string | null;
  body: string;
  person_ids: string | null;
  categories: string | null;
  status: 'pending' | 'retrying' | 'succeeded' | 'dead';
  attempts: number | string;
  next_attempt_at: string;
  lease_owner: string | null;
  lease_until: string | null;
  lease_token: string | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  finished_at: string | null;
}

/** The webhook-id of an event for a subscription: the same on every attempt, retry and redelivery. */
export function deliveryId(tenantId: string, subscriptionId: string, eventKey: string): string {
  return `msg_${createHash('sha256').update(`${tenantId}\u0000${subscriptionId}\u0000${eventKey}`).digest('base64url').slice(0, 27)}`;
}

const FANOUT_BATCH = 1000;

const DELIVERY_COLUMNS: ColumnTypes = {
  id: 'text', tenant_id: 'text', subscription_id: 'text', event_key: 'text', event_type: 'text', seq: 'bigint', body: 'text', person_ids: 'text',
  categories: 'text', status: 'text', attempts: 'int', next_attempt_at: 'text', created_at: 'text',
};
const ATTEMPT_COLUMNS: ColumnTypes = {
  tenant_id: 'text', delivery_id: 'text', subscription_id: 'text', attempt: 'int', at: 'text', duration_ms: 'int', status_code: 'int', outcome: 'text',
  error_class: 'text', error_message: 'text', response_snippet: 'text',
};
const DELIVERY_KEY = ['tenant_id', 'subscription_id', 'event_key'];
/** A sent delivery's new state (PostgreSQL: all of a batch's in one UPDATE ... FROM json_to_recordset). */
const OUTCOME_COLUMNS: ColumnTypes = { id: 'text', status: 'text', code: 'int', err: 'text', next: 'text', finished: 'text' };

/** A delivery's answer (or why it was not sent) and when it was sent. */
interface Outcome {
  d: DeliveryRow;
  r: SendResult;
  at: number;
}

/** Not sent, so no attempt: released for a later claim (disabled subscription, lease too short to finish). */
const isReleased = (r: SendResult) => r.errorClass === 'disabled' || r.errorClass === 'lease_expiring';

interface PendingDelivery {
  id: string;
  tenant_id: string;
  subscription_id: string;
  event_key: string;
  event_type: string;
  seq: number | null;
  body: string;
  person_ids: string | null;
  categories: string | null;
  status: 'pending';
  attempts: 0;
  next_attempt_at: string;
  created_at: string;
}

export class WebhookDispatcher {
  readonly db: Db;
  private readonly config: LoadedConfig;
  private readonly env: NodeJS.ProcessEnv;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly random: () => number;
  readonly owner: string;
  private readonly pollMs: number;
  private readonly batchSize: number;
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly overrides: PolicyOverrides;
  private readonly sender: WebhookSender;
  private readonly ownSender: boolean;
  private configSynced = false;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(o: DispatcherOptions) {
    this.db = o.db;
    this.config = o.config;
    this.env = o.env ?? process.env;
    this.log = (o.log ?? silentLogger).child({ component: 'webhooks' });
    this.now = o.now ?? Date.now;
    this.random = o.random ?? Math.random;
    this.owner = o.owner ?? `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.pollMs = o.pollMs ?? 500;
    this.batchSize = o.batchSize ?? 200;
    this.concurrency = o.concurrency ?? 32;
    this.leaseMs = o.leaseMs ?? 60_000;
    this.overrides = o.overrides ?? {};
    this.ownSender = !o.sender;
    this.sender = o.sender ?? new WebhookSender();
  }

  private iso(ms = this.now()): string {
    return new Date(ms).toISOString();
  }

  private tenant(id: string): TenantConfig | undefined {
    return findTenant(this.config.config, id);
  }

  policy(tenantId: string): TenantPolicy {
    return tenantPolicy(this.tenant(tenantId), this.overrides);
  }

  /** Starts the background loop (idempotent). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        let worked = 0;
        try {
          worked = await this.tick();
        } catch (e) {
          this.log.error({ err: e instanceof Error ? e.stack : String(e) }, 'webhook dispatcher tick failed');
        }
        if (!worked && this.running) {
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, this.pollMs);
            this.wake = () => {
              clearTimeout(t);
              resolve();
            };
          });
          this.wake = undefined;
        }
      }
    })();
  }

  /** Asks the loop to look for work now (after a change, in tests). */
  poke(): void {
    this.wake?.();
  }

  /** Stops after the batch in flight; gives up its fan-out leases. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    this.loop = undefined;
    await this.db.knex('webhook_leases').where({ owner: this.owner }).delete().catch(() => undefined);
    if (this.ownSender) this.sender.destroy();
  }

  /**
   * One round: fans out every tenant while sending what is already due (the two overlap: a delivery made by this
   * round's fan-out is sent by the next round). Returns how much work it did (0: idle).
   */
  async tick(): Promise<number> {
    if (!this.configSynced) {
      await syncConfigSubscriptions(this.db, this.config, this.now());
      this.configSynced = true;
    }
    const fanOut = async () => {
      let made = 0;
      for (const t of this.config.config.tenants) made += await this.fanOut(t.id);
      return made;
    };
    const [made, sent] = await Promise.allSettled([fanOut(), this.deliverDue()]);
    if (made.status === 'rejected') throw made.reason;
    if (sent.status === 'rejected') throw sent.reason;
    return made.value + sent.value;
  }

  /** Takes (or renews) a named lease; false when another live owner holds it. */
  async acquireLease(name: string, ms: number): Promise<boolean> {
    const now = this.iso();
    const until = this.iso(this.now() + ms);
    await this.db.knex('webhook_leases').insert({ name, owner: this.owner, lease_until: until }).onConflict('name').ignore();
    const n = await this.db.knex('webhook_leases').where({ name }).where((q) => q.where({ owner: this.owner }).orWhere('lease_until', '<', now)).update({ owner: this.owner, lease_until: until });
    return Number(n) === 1;
  }

  /** Turns new change_log and outbox rows of a tenant into deliveries. Returns how many deliveries it made. */
  async fanOut(tenantId: string): Promise<number> {
    if (!(await this.acquireLease(`fanout:${tenantId}`, Math.max(this.leaseMs, 5000)))) return 0;
    const subs = ((await this.db.knex('webhook_subscriptions').where({ tenant_id: tenantId, enabled: true })) as SubscriptionRow[]);
    const at = this.iso();
    if (!subs.length) {
      await this.db.knex('webhook_outbox').where({ tenant_id: tenantId, fanned_out: false }).update({ fanned_out: true });
      return 0;
    }
    let made = 0;
    const types = new Map(subs.map((s) => [s.id, new Set(eventTypesOf(s))]));

    // Entity changes from change_log.
    const from = Math.min(...subs.map((s) => Number(s.change_cursor)));
    const rows = (await this.db.knex('change_log').where('tenant_id', tenantId).where('seq', '>', from).orderBy('seq').limit(FANOUT_BATCH)
      .select('tenant_id', 'seq', 'entity_type', 'entity_id', 'op', 'at', 'run_id', 'cause', 'diff')) as ChangeRow[];
    if (rows.length) {
      const evented = rows.map((r) => ({ r, type: eventTypeOfChange(r) })).filter((e): e is { r: ChangeRow; type: WebhookEventType } => !!e.type);
      const persons = evented.length ? await personIdsOfChanges(this.db, tenantId, evented.map((e) => e.r)) : new Map<string, string[]>();
      const deliveries: PendingDelivery[] = [];
      for (const { r, type } of evented) {
        const seq = Number(r.seq);
        const diff = parseDiff(r.diff);
        const personIds = persons.get(String(r.seq)) ?? [];
        const data: Record<string, unknown> = {
          tenantId, seq, entityType: r.entity_type, entityId: r.entity_id, op: r.op, cause: r.cause ?? null, runId: r.run_id ?? null, changedFields: changedFields(diff),
        };
        if (r.entity_type !== 'person' && personIds.length) data.personId = personIds[personIds.length - 1];
        if (typeof diff?.mergedInto?.[1] === 'string') data.mergedInto = diff.mergedInto[1];
        const body = JSON.stringify({ type, timestamp: r.at, data });
        const cat = categoriesOfType(r.entity_type).entity;
        for (const s of subs) {
          if (Number(s.change_cursor) >= seq || !types.get(s.id)!.has(type)) continue;
          const key = `c:${seq}`;
          deliveries.push({
            id: deliveryId(tenantId, s.id, key), tenant_id: tenantId, subscription_id: s.id, event_key: key, event_type: type, seq, body,
            person_ids: JSON.stringify(personIds), categories: JSON.stringify(cat ? [cat] : []), status: 'pending', attempts: 0, next_attempt_at: at, created_at: at,
          });
        }
      }
      const last = Number(rows[rows.length - 1].seq);
      await this.db.knex.transaction(async (trx) => {
        await insertRows(trx, this.db.dialect, 'webhook_deliveries', DELIVERY_COLUMNS, deliveries as unknown as Record<string, unknown>[], DELIVERY_KEY);
        await trx('webhook_subscriptions').where({ tenant_id: tenantId, enabled: true }).whereIn('id', subs.map((s) => s.id)).where('change_cursor', '<', last).update({ change_cursor: last });
      });
      made += deliveries.length;
    }

    // Sync events from the outbox.
    const outbox = (await this.db.knex('webhook_outbox').where({ tenant_id: tenantId, fanned_out: false }).orderBy('id').limit(FANOUT_BATCH)) as
      { id: number | string; event_type: string; data: string; at: string }[];
    if (outbox.length) {
      const deliveries: PendingDelivery[] = [];
      for (const o of outbox) {
        const id = Number(o.id);
        const body = JSON.stringify({ type: o.event_type, timestamp: o.at, data: { tenantId, ...(JSON.parse(o.data) as object) } });
        for (const s of subs) {
          if (Number(s.outbox_cursor) >= id || !types.get(s.id)!.has(o.event_type as WebhookEventType)) continue;
          const key = `o:${id}`;
          deliveries.push({
            id: deliveryId(tenantId, s.id, key), tenant_id: tenantId, subscription_id: s.id, event_key: key, event_type: o.event_type, seq: null, body,
            person_ids: null, categories: null, status: 'pending', attempts: 0, next_attempt_at: at, created_at: at,
          });
        }
      }
      await this.db.knex.transaction(async (trx) => {
        await insertRows(trx, this.db.dialect, 'webhook_deliveries', DELIVERY_COLUMNS, deliveries as unknown as Record<string, unknown>[], DELIVERY_KEY);
        await trx('webhook_outbox').whereIn('id', outbox.map((o) => o.id)).update({ fanned_out: true });
      });
      made += deliveries.length;
    }
    return made + (rows.length || outbox.length ? 1 : 0);
  }

  /**
   * Claims up to `limit` due deliveries of enabled subscriptions for this process: one UPDATE that leases them and
   * returns them (on PostgreSQL the candidates are picked with SKIP LOCKED, so two dispatchers claiming at once
   * split the due rows instead of waiting on each other's row locks).
   */
  async claim(limit = this.batchSize, leaseMs = this.claimLeaseMs()): Promise<{ token: string; leaseUntil: number; rows: DeliveryRow[] }> {
    const now = this.iso();
    const token = randomUUID();
    const leaseUntil = this.now() + leaseMs;
    const k = this.db.knex;
    const due = k('webhook_deliveries as d').select('d.id')
      .whereIn('d.status', ['pending', 'retrying']).where('d.next_attempt_at', '<=', now)
      .where((q) => q.whereNull('d.lease_until').orWhere('d.lease_until', '<', now))
      .whereExists(k('webhook_subscriptions as s').select(k.raw('1')).whereRaw('s.tenant_id = d.tenant_id and s.id = d.subscription_id').where('s.enabled', true))
      .orderBy('d.next_attempt_at').limit(limit);
    const lease = { lease_owner: this.owner, lease_until: this.iso(leaseUntil), lease_token: token };
    let rows: DeliveryRow[];
    if (this.db.dialect === 'pg') {
      // Materialized: an `id in (select ... limit n for update skip locked)` may be evaluated more than once and
      // lease more than n rows.
      const pick = due.forUpdate().skipLocked().toSQL();
      const res = await k.raw(
        `with c as materialized (${pick.sql}) update webhook_deliveries w set lease_owner = ?, lease_until = ?, lease_token = ? from c where w.id = c.id returning w.*`,
        [...pick.bindings, lease.lease_owner, lease.lease_until, lease.lease_token],
      );
      rows = (res as { rows: DeliveryRow[] }).rows;
    } else {
      rows = (await k('webhook_deliveries').whereIn('id', due).whereIn('status', ['pending', 'retrying'])
        .where((q) => q.whereNull('lease_until').orWhere('lease_until', '<', now))
        .update(lease, '*')) as DeliveryRow[];
    }
    return { token, leaseUntil, rows };
  }

  /**
   * A claim's lease: `leaseMs`, and at least twice the longest delivery timeout of any tenant (timeouts go up to
   * 60 s, the default lease), so that a claimed delivery can always be sent within its lease.
   */
  private claimLeaseMs(): number {
    return Math.max(this.leaseMs, 2 * Math.max(0, ...this.config.config.tenants.map((t) => this.policy(t.id).timeoutMs)));
  }

  /** Claims one batch, sends it, records the outcome. Returns how many deliveries it attempted. */
  async deliverBatch(): Promise<number> {
    return this.deliverDue(1);
  }

  /**
   * Sends what is due, up to `maxBatches` claims: the next batch is leased while the current one is being sent,
   * `concurrency` requests stay in flight across batch boundaries, and each batch's outcome is recorded (one
   * transaction per batch, one batch at a time) as soon as its last delivery has an answer — while the next ones
   * are being sent. A delivery whose lease would run out before its timeout is not sent but released
   * (another process may take an expired lease over; it must never find the delivery still in flight here).
   * Returns how many deliveries it attempted (not those it released).
   */
  async deliverDue(maxBatches = 10): Promise<number> {
    interface Batch { token: string; leaseUntil: number; subs: Map<string, SubscriptionRow>; results: Outcome[]; left: number }
    const queue: { b: Batch; d: DeliveryRow }[] = [];
    // Secrets are decrypted once per subscription and round, not per delivery.
    const keys = new Map<string, Buffer[] | Error>();
    // Subscriptions disabled by a batch recorded during this round: what is still queued for them is released.
    const stopped = new Set<string>();
    let claims = 0;
    let more = true;
    let fetching: Promise<void> | undefined;
    let recording: Promise<void> = Promise.resolve();
    let failure: { e: unknown } | undefined;
    let handled = 0;
    const fetchNext = () => {
      if (fetching || !more || failure || claims >= maxBatches) return;
      claims++;
      fetching = (async () => {
        try {
          const { token, leaseUntil, rows } = await this.claim();
          if (rows.length < this.batchSize) more = false;
          if (!rows.length) return;
          const b: Batch = { token, leaseUntil, subs: await this.subscriptionsOf(rows), results: [], left: rows.length };
          for (const d of rows) queue.push({ b, d });
        } catch (e) {
          failure ??= { e };
        } finally {
          fetching = undefined;
        }
      })();
    };
    const worker = async () => {
      for (;;) {
        // Keep the next batch leased before this one runs dry.
        if (queue.length <= this.batchSize / 2) fetchNext();
        const item = queue.shift();
        if (!item) {
          if (!fetching) return;
          await fetching;
          continue;
        }
        const { b, d } = item;
        const at = this.now();
        const key = `${d.tenant_id}/${d.subscription_id}`;
        const r = await this.sendOne(d, stopped.has(key) ? undefined : b.subs.get(key), keys, b.leaseUntil);
        b.results.push({ d, r, at });
        if (!isReleased(r)) handled++;
        if (--b.left === 0) {
          recording = recording.then(async () => {
            for (const k of await this.record(b.token, b.results)) stopped.add(k);
          }).catch((e: unknown) => {
            failure ??= { e };
          });
        }
      }
    };
    fetchNext();
    await Promise.all(Array.from({ length: Math.max(1, this.concurrency) }, worker));
    await recording;
    if (failure) throw failure.e;
    return handled;
  }

  private async subscriptionsOf(rows: DeliveryRow[]): Promise<Map<string, SubscriptionRow>> {
    const subs = new Map<string, SubscriptionRow>();
    for (const tid of new Set(rows.map((r) => r.tenant_id))) {
      const ids = [...new Set(rows.filter((r) => r.tenant_id === tid).map((r) => r.subscription_id))];
      for (const s of (await this.db.knex('webhook_subscriptions').where({ tenant_id: tid }).whereIn('id', ids)) as SubscriptionRow[]) subs.set(`${tid}/${s.id}`, s);
    }
    return subs;
  }

  private async sendOne(d: DeliveryRow, s: SubscriptionRow | undefined, cache: Map<string, Buffer[] | Error>, leaseUntil: number): Promise<SendResult> {
    const fail = (errorClass: SendResult['errorClass'], msg: string): SendResult => ({ ok: false, statusCode: null, durationMs: 0, errorClass, errorMessage: msg, snippet: null });
    if (!s || !isEnabled(s)) return fail('disabled', 'the subscription is disabled or gone');
    const policy = this.policy(d.tenant_id);
    if (this.now() + policy.timeoutMs >= leaseUntil) return fail('lease_expiring', 'the lease would run out before the timeout');
    const cacheKey = `${s.tenant_id}/${s.id}`;
    let keys = cache.get(cacheKey);
    if (!keys) {
      try {
        keys = signingKeys(s, this.tenant(d.tenant_id), this.env, this.now());
      } catch (e) {
        keys = e as Error;
      }
      cache.set(cacheKey, keys);
    }
    if (keys instanceof Error) return fail('secret_unavailable', keys.message);
    const ts = Math.floor(this.now() / 1000);
    return this.sender.send(s.url, d.body, {
      'webhook-id': d.id, 'webhook-timestamp': String(ts), 'webhook-signature': signatureHeader(keys, d.id, ts, d.body),
    }, { allowPrivate: policy.allowPrivate, timeoutMs: policy.timeoutMs });
  }

  /**
   * Writes a batch's outcome in one transaction: the attempt log, every delivery's new state (PostgreSQL: one
   * UPDATE for the whole batch; SQLite: one per status code of the successes, one per failure), the subscriptions'
   * health and the disclosure log. Then disables subscriptions that fail persistently; returns those it disabled.
   */
  private async record(token: string, results: Outcome[]): Promise<string[]> {
    const now = this.now();
    const nowIso = this.iso(now);
    const touched = new Set<string>();
    const deadBySub = new Map<string, number>();
    const okSubs = new Set<string>();
    const outcomes: { id: string; status: 'succeeded' | 'retrying' | 'dead'; code: number | null; err: string | null; next: string | null; finished: string | null }[] = [];
    const released: string[] = [];
    for (const { d, r } of results) {
      const key = `${d.tenant_id}/${d.subscription_id}`;
      if (isReleased(r)) {
        released.push(d.id);
        continue;
      }
      if (r.ok) {
        okSubs.add(key);
        outcomes.push({ id: d.id, status: 'succeeded', code: r.statusCode, err: null, next: null, finished: nowIso });
        continue;
      }
      const policy = this.policy(d.tenant_id);
      const n = Number(d.attempts) + 1;
      const dead = n >= policy.retry.maxAttempts;
      outcomes.push({
        id: d.id, status: dead ? 'dead' : 'retrying', code: r.statusCode, err: r.errorClass,
        next: dead ? nowIso : this.iso(now + backoffMs(policy.retry, n, this.random)), finished: dead ? nowIso : null,
      });
      touched.add(key);
      if (dead) deadBySub.set(key, (deadBySub.get(key) ?? 0) + 1);
    }
    await this.db.knex.transaction(async (trx) => {
      const attempts = results.filter((x) => !isReleased(x.r)).map(({ d, r, at }) => ({
        tenant_id: d.tenant_id, delivery_id: d.id, subscription_id: d.subscription_id, attempt: Number(d.attempts) + 1, at: this.iso(at),
        duration_ms: r.durationMs, status_code: r.statusCode, outcome: r.ok ? 'succeeded' : 'failed', error_class: r.errorClass,
        error_message: r.errorMessage?.slice(0, 300) ?? null, response_snippet: r.snippet?.slice(0, 200) ?? null,
      }));
      await insertRows(trx, this.db.dialect, 'webhook_attempts', ATTEMPT_COLUMNS, attempts);

      // Released without an attempt: the subscription was disabled meanwhile, or the lease was too short to send.
      if (released.length) await trx('webhook_deliveries').whereIn('id', released).where({ lease_token: token }).update({ lease_owner: null, lease_until: null, lease_token: null });

      // Only rows this claim still holds (lease_token) change: a lease taken over by another process is its own.
      if (this.db.dialect === 'pg') {
        if (outcomes.length) {
          await trx.raw(
            `update webhook_deliveries d set status = x.status, attempts = d.attempts + 1, last_status_code = x.code, last_error = x.err,
               next_attempt_at = coalesce(x.next, d.next_attempt_at), finished_at = x.finished, lease_owner = null, lease_until = null, lease_token = null
             from ${pgRecordset(OUTCOME_COLUMNS)} where d.id = x.id and d.lease_token = ?`,
            [JSON.stringify(outcomes), token],
          );
        }
      } else {
        const okByStatus = new Map<number, string[]>();
        for (const o of outcomes) if (o.status === 'succeeded') (okByStatus.get(o.code!) ?? okByStatus.set(o.code!, []).get(o.code!)!).push(o.id);
        for (const [code, ids] of okByStatus) {
          for (let i = 0; i < ids.length; i += 500) {
            await trx('webhook_deliveries').whereIn('id', ids.slice(i, i + 500)).where({ lease_token: token }).update({
              status: 'succeeded', attempts: trx.raw('attempts + 1'), last_status_code: code, last_error: null, finished_at: nowIso, lease_owner: null, lease_until: null, lease_token: null,
            });
          }
        }
        for (const o of outcomes) {
          if (o.status === 'succeeded') continue;
          await trx('webhook_deliveries').where({ id: o.id, lease_token: token }).update({
            status: o.status, attempts: trx.raw('attempts + 1'), last_status_code: o.code, last_error: o.err, next_attempt_at: o.next!, finished_at: o.finished,
            lease_owner: null, lease_until: null, lease_token: null,
          });
        }
      }

      // Subscription health: a success resets it; a failure starts the "failing since" clock; dead letters count.
      // Read in SQL, not from the claim's snapshot: another batch may have been recorded since.
      for (const key of okSubs) {
        const [tenantId, id] = splitKey(key);
        await trx('webhook_subscriptions').where({ tenant_id: tenantId, id }).where((q) => q.whereNot('consecutive_dead', 0).orWhereNotNull('failing_since'))
          .update({ consecutive_dead: 0, failing_since: null });
      }
      for (const key of touched) {
        if (okSubs.has(key)) continue;
        const [tenantId, id] = splitKey(key);
        await trx('webhook_subscriptions').where({ tenant_id: tenantId, id }).update({
          consecutive_dead: trx.raw('consecutive_dead + ?', [deadBySub.get(key) ?? 0]),
          failing_since: trx.raw('coalesce(failing_since, ?)', [nowIso]),
        });
      }

      const disclosed: DisclosureRow[] = results.filter((x) => x.r.ok && x.d.person_ids).map(({ d }) => ({
        tenantId: d.tenant_id, recipient: `webhook:${d.subscription_id}`, channel: 'webhook' as const, at: nowIso, route: d.event_type, requestId: d.id,
        categories: JSON.parse(d.categories ?? '[]') as string[], personIds: JSON.parse(d.person_ids!) as string[],
      })).filter((x) => x.personIds.length || x.categories.length);
      await recordDisclosures(this.db, disclosed, trx);
    });
    const disabled: string[] = [];
    for (const key of touched) if (await this.checkHealth(key)) disabled.push(key);
    return disabled;
  }

  /** Disables a subscription whose deliveries fail persistently, and tells an operator. True when it disabled it. */
  private async checkHealth(key: string): Promise<boolean> {
    const [tenantId, id] = splitKey(key);
    const s = (await this.db.knex('webhook_subscriptions').where({ tenant_id: tenantId, id }).first()) as SubscriptionRow | undefined;
    if (!s || !isEnabled(s)) return false;
    const p = this.policy(tenantId).autoDisable;
    const now = this.now();
    let reason: string | undefined;
    if (Number(s.consecutive_dead) >= p.consecutiveDead) reason = `${Number(s.consecutive_dead)} deliveries in a row were dead-lettered (limit ${p.consecutiveDead})`;
    else if (s.failing_since && now - Date.parse(s.failing_since) >= p.failingForMs) reason = `deliveries have failed without a success since ${s.failing_since} (limit ${Math.round(p.failingForMs / 3600_000 * 10) / 10} h)`;
    if (!reason) return false;
    const at = this.iso(now);
    const disabled = await this.db.knex.transaction(async (trx) => {
      const n = await trx('webhook_subscriptions').where({ tenant_id: tenantId, id, enabled: true }).update({ enabled: false, disabled_reason: `automatically: ${reason}`, disabled_at: at, updated_at: at });
      if (!Number(n)) return false;
      await trx('operator_notifications').insert({
        tenant_id: tenantId, at, kind: 'webhook.subscription_disabled', subject: id,
        message: `Webhook subscription ${id} was disabled automatically: ${reason}. Fix the receiver, then re-enable it (PATCH .../webhooks/${id} {"enabled": true}).`,
        details: JSON.stringify({ subscriptionId: id, reason, consecutiveDeadLetters: Number(s.consecutive_dead), failingSince: s.failing_since ?? null }),
      });
      return true;
    });
    if (!disabled) return false;
    this.log.warn({ tenant: tenantId, subscription: id, reason }, 'webhook subscription disabled automatically');
    const target = this.policy(tenantId).operatorWebhook;
    if (target) {
      const body = JSON.stringify({ type: 'webhook.subscription_disabled', timestamp: at, data: { tenantId, subscriptionId: id, reason } });
      const r = await this.sender.send(target, body, { 'webhook-id': `ntf_${randomUUID()}`, 'webhook-timestamp': String(Math.floor(now / 1000)) }, { allowPrivate: this.policy(tenantId).allowPrivate, timeoutMs: this.policy(tenantId).timeoutMs });
      if (!r.ok) this.log.warn({ tenant: tenantId, subscription: id, errorClass: r.errorClass, status: r.statusCode }, 'operator webhook could not be notified');
    }
    return true;
  }
}

/** `tenant/subscription` keys of the dispatcher's maps (tenant ids contain no slash). */
function splitKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}
