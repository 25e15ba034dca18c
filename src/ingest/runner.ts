/**
 * The connector runtime: one sync run of one connector. The core, not the connector, owns everything that must
 * hold whatever a connector does:
 *  - one run per connector at a time (a lock row with a heartbeat, valid across processes);
 *  - each page and its cursor commit in one transaction (a crash re-reads at most one page; re-running changes nothing);
 *  - every bad row lands in the reject report with its location and reason;
 *  - full-refresh deletes are mark-and-sweep behind guardrails: no sweep when a stream returned nothing or when more
 *    than `maxDeleteShare` of a type's records would vanish — the run ends `needs_review` and an operator approves it;
 *  - a dry run computes the same counts and writes no data.
 */
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Db } from '../store/db';
import type { LoadedConfig } from '../core/config';
import { findConnector, findTenant, resolveSettings } from '../core/config';
import { HubError, isHubError, toHubError } from '../core/errors';
import { silentLogger, type Logger } from '../core/logger';
import type { Cursor, EntityType, Reject, StreamPlan, SyncMode } from './contract';
import { getConnector } from './registry';
import { prepareReads, streamReader, type StreamReader } from './threaded-read';
import { ingestTx } from '../normalize/ports';
import { addCounts, rememberRefs, writePage, zeroCounts, type PageCounts, type WriteContext } from '../normalize/page-writer';
import { nowIso } from '../normalize/canonical';
import { recomputePersons, type IdentitySettings } from '../normalize/persons';
import { resolveIdentities, type MatchStats } from '../normalize/resolve';
import { resolveAgents } from '../normalize/agents';
import { relevantChanges, type IngestHook } from './hooks';
import { deriveHook } from '../derive/hook';

const PG_ANALYZE = `analyze ${[
  'source_records (tenant_id, connector_id, entity_type, source_id, unified_id, deleted_at, last_run_id)',
  'records (tenant_id, entity_type, id, deleted_at, updated_seq)',
  'change_log (tenant_id, seq, entity_type, entity_id, run_id)',
  'person_identifiers (tenant_id, system, value, connector_id, source_id, person_id)',
].join(', ')}`;

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'needs_review' | 'cancelled';
export type RunTrigger = 'manual' | 'schedule' | 'api' | 'startup';

export interface StreamReport {
  stream: string;
  mode: SyncMode;
  skipped?: string;
  counts: PageCounts;
  /** Wall time from asking for the stream's first page to its last page committed (reads, writes, page hooks). */
  durationMs?: number;
}

export interface SweepReview {
  reason: string;
  maxDeleteShare: number;
  types: { type: EntityType; stream: string; before: number; vanishing: number; share: number; emptySource: boolean }[];
}

export interface RunSummary {
  id: string;
  tenantId: string;
  connectorId: string;
  status: RunStatus;
  dryRun: boolean;
  counts: PageCounts;
  streams: StreamReport[];
  review?: SweepReview;
  /** Identity resolution of the source persons this run brought (linked / review / new). */
  matching?: MatchStats;
  error?: { code: string; message: string; details: unknown[] };
  durationMs: number;
  /** The first rejects (all of them are in the store's reject report). */
  rejects: StoredRejectView[];
}

export interface StoredRejectView {
  stream: string;
  location: string;
  field?: string | null;
  code: string;
  reason: string;
}

export interface SyncOptions {
  tenantId: string;
  connectorId: string;
  trigger?: RunTrigger;
  dryRun?: boolean;
  log?: Logger;
  signal?: AbortSignal;
  /** Called once the run is recorded (the API answers 202 with this id while the run goes on). */
  onStart?: (runId: string) => void;
  /** Called after every committed page (progress bars, tests that crash mid-run). */
  onPage?: (p: { stream: string; pages: number; counts: PageCounts }) => void | Promise<void>;
}

export interface RuntimeDeps {
  db: Db;
  config: LoadedConfig;
  log?: Logger;
  /** What runs after pages and runs commit (default: the mastery derive hook, src/derive/hook.ts). */
  hooks?: (deps: RuntimeDeps) => IngestHook[];
}

export const defaultHooks = (deps: RuntimeDeps): IngestHook[] => [deriveHook(deps)];

/** A lock whose heartbeat is older than this belongs to a dead process and may be taken over. */
export const LOCK_STALE_MS = 10 * 60 * 1000;
const REPORTED_REJECTS = 100;

export function newRunId(): string {
  return `run_${Date.now().toString(36).padStart(9, '0')}${randomBytes(5).toString('hex')}`;
}

const owner = () => `${os.hostname()}:${process.pid}`;

async function acquireLock(db: Db, tenantId: string, connectorId: string, runId: string): Promise<void> {
  const at = nowIso();
  await db.knex('connector_locks').insert({ tenant_id: tenantId, connector_id: connectorId, run_id: runId, owner: owner(), acquired_at: at, heartbeat_at: at }).onConflict(['tenant_id', 'connector_id']).ignore();
  const row = await db.knex('connector_locks').where({ tenant_id: tenantId, connector_id: connectorId }).first();
  if (row?.run_id === runId) return;
  if (row && Date.now() - Date.parse(row.heartbeat_at) > LOCK_STALE_MS) {
    const taken = await db.knex('connector_locks').where({ tenant_id: tenantId, connector_id: connectorId, run_id: row.run_id }).update({ run_id: runId, owner: owner(), acquired_at: at, heartbeat_at: at });
    if (taken === 1) {
      await db.knex('runs').where({ id: row.run_id, status: 'running' }).update({
        status: 'failed', finished_at: at,
        error: JSON.stringify({ code: 'internal_error', message: `the process running it (${row.owner}) stopped without finishing; its committed pages are kept`, details: [] }),
      });
      return;
    }
  }
  throw new HubError('connector_busy', `Connector '${connectorId}' of tenant '${tenantId}' is already running (run ${row?.run_id ?? '?'}).`, [{ path: 'runId', message: String(row?.run_id) }]);
}

async function releaseLock(db: Db, tenantId: string, connectorId: string, runId: string): Promise<void> {
  await db.knex('connector_locks').where({ tenant_id: tenantId, connector_id: connectorId, run_id: runId }).delete();
}

async function loadCursors(db: Db, tenantId: string, connectorId: string): Promise<Record<string, Cursor | undefined>> {
  const rows = await db.knex('connector_state').where({ tenant_id: tenantId, connector_id: connectorId });
  return Object.fromEntries(rows.map((r: { stream: string; cursor: string | null }) => [r.stream, r.cursor ? (JSON.parse(r.cursor) as Cursor) : undefined]));
}

export async function runSync(deps: RuntimeDeps, opts: SyncOptions): Promise<RunSummary> {
  const { db, config } = deps;
  const log = (opts.log ?? deps.log ?? silentLogger).child({ tenant: opts.tenantId, connector: opts.connectorId });
  const { connector: cc, index, tenant } = findConnector(config.config, opts.tenantId, opts.connectorId);
  const identity = tenant.identity as IdentitySettings | undefined;
  const impl = getConnector(cc.type);
  if (!impl) throw new HubError('connector_unknown', `No implementation is registered for connector type '${cc.type}'.`);
  const settings = resolveSettings(impl.manifest, cc.settings, `$.tenants[${index[0]}].connectors[${index[1]}].settings`);
  const maxDeleteShare = cc.sweep?.maxDeleteShare ?? 0.1;
  const dryRun = !!opts.dryRun;

  const runId = newRunId();
  const startedAt = nowIso();
  const t0 = Date.now();
  prepareReads(cc.type, impl);
  await acquireLock(db, opts.tenantId, opts.connectorId, runId);
  await db.knex('runs').insert({
    id: runId, tenant_id: opts.tenantId, connector_id: opts.connectorId, connector_type: cc.type, status: 'running',
    trigger: opts.trigger ?? 'manual', dry_run: dryRun, started_at: startedAt,
  });
  log.info({ runId, dryRun }, 'sync started');
  opts.onStart?.(runId);

  const streams: StreamReport[] = [];
  let total = zeroCounts();
  const reported: StoredRejectView[] = [];
  const overlay: WriteContext['overlay'] = dryRun ? { created: new Map(), seen: new Map() } : undefined;
  const refCache = new Map<string, Map<string, string>>();
  const otherPersonSources = !!(await db.knex('source_records').where({ tenant_id: opts.tenantId, entity_type: 'person' }).whereNot('connector_id', opts.connectorId).whereNull('deleted_at').first('source_id'));
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  opts.signal?.addEventListener('abort', onAbort);
  const base = { tenantId: opts.tenantId, connectorId: opts.connectorId, baseDir: config.baseDir, log, signal: controller.signal };
  let status: RunStatus = 'succeeded';
  let review: SweepReview | undefined;
  let error: HubError | undefined;
  let matching: MatchStats | undefined;
  // Fresh planner statistics after a large load. Without them both planners pick the wrong index on
  // source_records: SQLite scanned by the primary key instead of unified_id (150 ms per lookup batch instead of ~1 ms
  // on 10k students); PostgreSQL, with no statistics on a freshly loaded table, looked a landing row up by
  // (tenant, entity_type) through the unified_id index and filtered every person (12 ms per update: a 10k-student
  // SIS sync took 26 s, 12 s with statistics). PostgreSQL analyzes the key columns of the ingest tables only: a bare
  // ANALYZE would read every schema, and the wide JSON columns made it ~750 ms a time at 10k students.
  // SQLite: `pragma optimize` analyzes only the tables that need it — never analyzed, or grown or shrunk ~10x since
  // they were — by SQLite's own rule (0x10000: every table, not only those this connection queried). The first load
  // of a fresh store gets its statistics; a later load into an analyzed store of similar size costs nothing (a bare
  // ANALYZE took ~15 ms a time after a 10k-student Ed-Fi load, twice a run).
  const analyze = async () => {
    if (db.dialect === 'sqlite') {
      await db.knex.raw('pragma analysis_limit = 1000');
      await db.knex.raw('pragma optimize = 0x10002');
    } else await db.knex.raw(PG_ANALYZE);
  };
  const hooks = dryRun ? [] : (deps.hooks ?? defaultHooks)(deps);
  const hookCtx = { tenantId: opts.tenantId, connectorId: opts.connectorId, runId };
  const runHook = async (h: IngestHook, what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (e) {
      log.error({ runId, hook: h.name, code: toHubError(e).code }, `${what} hook failed; the run's data stays committed`);
    }
  };

  let reads: StreamReader | undefined;
  try {
    const cursors = await loadCursors(db, opts.tenantId, opts.connectorId);
    const plan: StreamPlan[] = await impl.plan(settings, { ...base, cursors });
    const order = impl.manifest.streams.map((s) => s.name);
    plan.sort((a, b) => order.indexOf(a.stream) - order.indexOf(b.stream));
    const decl = new Map(impl.manifest.streams.map((s) => [s.name, s.entities]));
    // Identity resolution runs as soon as the last stream it needs is read, before the streams that refer to
    // persons (enrollments, results...): their references then land on the resolved person at once, instead of
    // being written to a provisional person and re-pointed afterwards (which rewrote every dependent record of a
    // newly linked person and logged each rewrite as a change).
    // Matching reads the persons and their demographics (birth date): resolution waits for the last stream of either.
    const carriesPersons = (stream: string) => (decl.get(stream) ?? []).includes('person');
    const feedsMatching = (stream: string) => (decl.get(stream) ?? []).some((t) => t === 'person' || t === 'demographics');
    const anyPersons = plan.some((p) => !p.skip && carriesPersons(p.stream));
    const lastPersonStream = dryRun || !anyPersons ? -1 : plan.reduce((last, p, i) => (!p.skip && feedsMatching(p.stream) ? i : last), -1);
    const resolve = async () => {
      if (total.inserted + total.updated > 1000) await analyze();
      matching = await resolveIdentities(db, { tenantId: opts.tenantId, connectorId: opts.connectorId, runId, identity });
      log.info({ runId, ...matching }, 'identity resolution');
      // Agents listed later in the export (or listing each other), then the guardian links made from them.
      const agents = await resolveAgents(db, { tenantId: opts.tenantId, connectorId: opts.connectorId, runId, identity });
      if (agents.completed || agents.unresolved || agents.linksAdded || agents.linksRemoved) log.info({ runId, ...agents }, 'agents and guardian links');
      // Cached references may point at the provisional persons that resolution just merged away.
      refCache.delete('person');
    };

    const streamPages = (reads = streamReader(cc.type, impl, settings, plan, (q) => ({ ...base, mode: q.mode, cursor: cursors[q.stream] })));
    for (const [streamIndex, p] of plan.entries()) {
      const report: StreamReport = { stream: p.stream, mode: p.mode, counts: zeroCounts() };
      streams.push(report);
      if (p.skip) {
        report.skipped = p.skip;
        continue;
      }
      let pages = 0;
      const streamStart = Date.now();
      for await (const page of streamPages.pages(streamIndex)) {
        if (controller.signal.aborted) throw new HubError('run_cancelled', 'The run was cancelled.');
        const at = nowIso();
        const streamEntities = impl.manifest.streams.find((s) => s.name === p.stream)?.entities;
        const wctx: WriteContext = { tenantId: opts.tenantId, connectorId: opts.connectorId, runId, at, dryRun, overlay, refCache, streamEntities, identity, otherPersonSources };
        const res = await db.knex.transaction(async (trx) => {
          const tx = await ingestTx(db.dialect, trx);
          const res = await writePage(tx, wctx, page.records, page.rejects);
          if (res.rejects.length) await insertRejects(trx, opts.tenantId, runId, p.stream, res.rejects);
          if (!dryRun && page.cursor) {
            await trx('connector_state')
              .insert({ tenant_id: opts.tenantId, connector_id: opts.connectorId, stream: p.stream, cursor: JSON.stringify(page.cursor), updated_at: at })
              .onConflict(['tenant_id', 'connector_id', 'stream']).merge(['cursor', 'updated_at']);
          }
          await trx('runs').where({ id: runId }).increment({
            read_count: res.counts.read, inserted_count: res.counts.inserted, updated_count: res.counts.updated,
            unchanged_count: res.counts.unchanged, deleted_count: res.counts.deleted, rejected_count: res.counts.rejected,
          });
          await trx('connector_locks').where({ tenant_id: opts.tenantId, connector_id: opts.connectorId, run_id: runId }).update({ heartbeat_at: at });
          return res;
        });
        const counts = res.counts;
        for (const r of res.rejects) if (reported.length < REPORTED_REJECTS) reported.push({ stream: p.stream, location: r.location, field: r.field, code: r.code, reason: r.reason });
        if (!dryRun) rememberRefs(refCache, res.resolved, res.deletedSources);
        for (const h of hooks) {
          const changed = relevantChanges(h, res.changed);
          if (changed) await runHook(h, 'page', () => h.afterPage(hookCtx, changed));
        }
        pages++;
        report.counts = addCounts(report.counts, counts);
        total = addCounts(total, counts);
        await opts.onPage?.({ stream: p.stream, pages, counts: total });
      }
      report.durationMs = Date.now() - streamStart;
      if (streamIndex === lastPersonStream) await resolve();
    }

    // Fresh statistics after a large load (see analyze above).
    if (!dryRun && total.inserted + total.updated > 1000) await analyze();

    // Mark-and-sweep for the streams read in full.
    const full = streams.filter((s) => s.mode === 'full' && !s.skipped);
    const candidates = full.flatMap((s) => (decl.get(s.stream) ?? []).map((type) => ({ type, stream: s.stream, empty: s.counts.read === 0 })));
    if (candidates.length) {
      const check = await assessSweep(db, opts.tenantId, opts.connectorId, runId, startedAt, candidates, maxDeleteShare, overlay);
      if (check.refused) {
        status = 'needs_review';
        review = check.review;
        log.warn({ runId, review: check.review.types.map((t) => ({ type: t.type, vanishing: t.vanishing, share: t.share })) }, 'sweep refused: run needs review');
      } else if (!dryRun) {
        // Only the types with rows to delete: the others' count just said none (a first load sweeps nothing).
        const vanishing = check.review.types.filter((t) => t.vanishing > 0).map((t) => t.type);
        const deleted = await sweep(db, opts.tenantId, opts.connectorId, runId, vanishing, 'sweep', identity);
        total.deleted += deleted;
      } else {
        total.deleted += check.review.types.reduce((n, t) => n + t.vanishing, 0);
      }
      if (dryRun && check.refused) review = check.review;
    }

  } catch (e) {
    if (controller.signal.aborted) {
      error = isHubError(e) && e.code === 'run_cancelled' ? e : new HubError('run_cancelled', 'The run was cancelled; committed pages are kept and the next run resumes.');
      status = 'cancelled';
    } else {
      error = toHubError(e);
      status = 'failed';
    }
    log.error({ runId, code: error.code, err: error.kind === 'system' ? (e as Error).stack : undefined }, `sync failed: ${error.message}`);
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    reads?.close();
  }

  const durationMs = Date.now() - t0;
  try {
    // The run's final status and its webhook event (sync.completed / sync.needs_review) commit together.
    await db.knex.transaction(async (trx) => {
      const finishedAt = nowIso();
      await trx('runs').where({ id: runId }).update({
        status, finished_at: finishedAt, duration_ms: durationMs, deleted_count: total.deleted,
        streams: JSON.stringify(streams), review: review ? JSON.stringify(review) : null, error: error ? JSON.stringify(error.toJSON()) : null,
        matching: matching ? JSON.stringify(matching) : null,
      });
      if (!dryRun) await addSyncEvent(trx, opts.tenantId, { runId, connectorId: opts.connectorId, status, counts: total, errorCode: error?.code ?? null }, finishedAt);
    });
  } finally {
    await releaseLock(db, opts.tenantId, opts.connectorId, runId);
  }
  // A failed or cancelled run did no sweep and no identity resolution: its committed pages were derived already.
  for (const h of hooks) if (h.afterRun && (status === 'succeeded' || status === 'needs_review')) await runHook(h, 'run', () => h.afterRun!(hookCtx, { status, counts: total, matching }));
  log.info({ runId, status, durationMs, ...total }, 'sync finished');
  return {
    id: runId, tenantId: opts.tenantId, connectorId: opts.connectorId, status, dryRun, counts: total, streams, review, matching,
    error: error?.toJSON(), durationMs, rejects: reported,
  };
}

/**
 * The webhook outbox row of a finished run (src/webhooks/): `sync.needs_review` for a sweep held back, else
 * `sync.completed` with the status. Ids and counts only. Written in the caller's transaction, with the status.
 */
async function addSyncEvent(trx: import('knex').Knex.Transaction, tenantId: string, data: { runId: string; connectorId: string; status: RunStatus } & Record<string, unknown>, at: string): Promise<void> {
  await trx('webhook_outbox').insert({ tenant_id: tenantId, event_type: data.status === 'needs_review' ? 'sync.needs_review' : 'sync.completed', data: JSON.stringify(data), at, fanned_out: false });
}

async function insertRejects(trx: import('knex').Knex.Transaction, tenantId: string, runId: string, stream: string, rejects: (Reject & { code: string })[]) {
  const rows = rejects.map((r) => ({
    tenant_id: tenantId, run_id: runId, stream, location: r.location.slice(0, 300), field: r.field?.slice(0, 200) ?? null,
    code: r.code, reason: r.reason, raw: r.raw === undefined ? null : JSON.stringify(r.raw),
  }));
  for (let i = 0; i < rows.length; i += 500) await trx('run_rejects').insert(rows.slice(i, i + 500));
}

async function assessSweep(
  db: Db, tenantId: string, connectorId: string, runId: string, startedAt: string,
  candidates: { type: EntityType; stream: string; empty: boolean }[], maxDeleteShare: number, overlay: WriteContext['overlay'],
): Promise<{ refused: boolean; review: SweepReview }> {
  const types: SweepReview['types'] = [];
  for (const c of candidates) {
    const live = db.knex('source_records').where({ tenant_id: tenantId, connector_id: connectorId, entity_type: c.type }).whereNull('deleted_at');
    let before: number;
    let vanishing: number;
    if (overlay) {
      before = Number((await live.clone().where('first_seen_at', '<', startedAt).count({ n: '*' }))[0].n);
      const seen = overlay.seen.get(c.type) ?? new Set<string>();
      const ids = (await live.clone().select('source_id')) as { source_id: string }[];
      vanishing = ids.filter((r) => !seen.has(r.source_id)).length;
    } else {
      // One pass over the type's landing rows for both figures (two counts each scanned them: ~3 s of a 20k LMS run).
      const r = (await live.clone().select(
        db.knex.raw('coalesce(sum(case when first_seen_at < ? then 1 else 0 end), 0) as before', [startedAt]),
        db.knex.raw('coalesce(sum(case when last_run_id <> ? then 1 else 0 end), 0) as vanishing', [runId]),
      )) as { before: number | string; vanishing: number | string }[];
      before = Number(r[0].before);
      vanishing = Number(r[0].vanishing);
    }
    types.push({ type: c.type, stream: c.stream, before, vanishing, share: before ? vanishing / before : 0, emptySource: c.empty && before > 0 });
  }
  const empty = types.filter((t) => t.emptySource);
  const over = types.filter((t) => t.vanishing > 0 && t.share > maxDeleteShare);
  const reasons: string[] = [];
  if (empty.length) reasons.push(`the source returned nothing for ${empty.map((t) => t.stream).join(', ')}`);
  if (over.length) reasons.push(over.map((t) => `${t.vanishing} of ${t.before} ${t.type} records (${(t.share * 100).toFixed(1)}%) would be deleted`).join('; ') + ` — more than the allowed ${(maxDeleteShare * 100).toFixed(0)}%`);
  return { refused: reasons.length > 0, review: { reason: reasons.join('; ') || 'within limits', maxDeleteShare, types } };
}

/** Deletes (soft) the live source records of these types not seen by `runId`, with their unified records. */
async function sweep(db: Db, tenantId: string, connectorId: string, runId: string, types: EntityType[], cause: string, identity?: IdentitySettings): Promise<number> {
  let deleted = 0;
  for (const type of types) {
    for (;;) {
      const n = await db.knex.transaction(async (trx) => {
        const rows = (await trx('source_records').select('source_id', 'unified_id')
          .where({ tenant_id: tenantId, connector_id: connectorId, entity_type: type }).whereNull('deleted_at').whereNot('last_run_id', runId)
          .orderBy('source_id').limit(1000)) as { source_id: string; unified_id: string }[];
        if (!rows.length) return 0;
        const at = nowIso();
        const tx = await ingestTx(db.dialect, trx);
        await trx('source_records').where({ tenant_id: tenantId, connector_id: connectorId, entity_type: type }).whereIn('source_id', rows.map((r) => r.source_id)).update({ deleted_at: at });
        if (type === 'person') {
          // A person stays while another system still knows them: rebuild from the sources left, delete when none is.
          await recomputePersons(tx, { tenantId, runId, at, cause, precedence: identity?.precedence }, rows.map((r) => r.unified_id));
          return rows.length;
        }
        const first = await tx.allocateSeq(tenantId, rows.length);
        for (const [i, r] of rows.entries()) await tx.markDeleted(tenantId, type, r.unified_id, first + i, at);
        await tx.insertChanges(rows.map((r, i) => ({ tenant_id: tenantId, seq: first + i, entity_type: type, entity_id: r.unified_id, op: 'delete' as const, at, run_id: runId, cause, diff: null })));
        return rows.length;
      });
      deleted += n;
      if (n === 0) break;
    }
  }
  return deleted;
}

/**
 * Approves the sweep a run held back. Only the connector's latest run can be approved (a newer run has newer marks),
 * and the deletions are exactly the records that run did not see.
 */
export async function approveRun(deps: RuntimeDeps, tenantId: string, runId: string, by: string): Promise<RunSummary> {
  const { db } = deps;
  const run = await db.knex('runs').where({ id: runId, tenant_id: tenantId }).first();
  if (!run) throw new HubError('run_not_found', `No run '${runId}' in tenant '${tenantId}'.`);
  if (run.status !== 'needs_review' || run.dry_run === 1 || run.dry_run === true) {
    throw new HubError('run_not_reviewable', `Run '${runId}' is ${run.dry_run ? 'a dry run' : `'${run.status}'`}, not waiting for review.`);
  }
  const latest = await db.knex('runs').where({ tenant_id: tenantId, connector_id: run.connector_id, dry_run: false }).orderBy('started_at', 'desc').orderBy('id', 'desc').first();
  if (latest.id !== runId) throw new HubError('run_not_reviewable', `Run '${runId}' has been superseded by run '${latest.id}'; approve that one instead.`);
  const review = JSON.parse(run.review) as SweepReview;
  await acquireLock(db, tenantId, run.connector_id, runId);
  try {
    const deleted = await sweep(db, tenantId, run.connector_id, runId, review.types.map((t) => t.type), 'approved_sweep', findTenant(deps.config.config, tenantId)?.identity);
    await db.knex.transaction(async (trx) => {
      const at = nowIso();
      await trx('runs').where({ id: runId }).update({ status: 'succeeded', reviewed_by: by, reviewed_at: at, deleted_count: Number(run.deleted_count) + deleted });
      await addSyncEvent(trx, tenantId, { runId, connectorId: run.connector_id, status: 'succeeded', approvedBy: by, deleted }, at);
    });
  } finally {
    await releaseLock(db, tenantId, run.connector_id, runId);
  }
  return getRunSummary(db, tenantId, runId);
}

export async function getRunSummary(db: Db, tenantId: string, runId: string): Promise<RunSummary> {
  const r = await db.knex('runs').where({ id: runId, tenant_id: tenantId }).first();
  if (!r) throw new HubError('run_not_found', `No run '${runId}' in tenant '${tenantId}'.`);
  const rejects = await db.knex('run_rejects').where({ run_id: runId }).orderBy('id').limit(REPORTED_REJECTS);
  return runRowToSummary(r, rejects);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function runRowToSummary(r: any, rejects: any[] = []): RunSummary {
  return {
    id: r.id, tenantId: r.tenant_id, connectorId: r.connector_id, status: r.status, dryRun: !!r.dry_run,
    counts: { read: Number(r.read_count), inserted: Number(r.inserted_count), updated: Number(r.updated_count), unchanged: Number(r.unchanged_count), deleted: Number(r.deleted_count), rejected: Number(r.rejected_count) },
    streams: r.streams ? JSON.parse(r.streams) : [], review: r.review ? JSON.parse(r.review) : undefined,
    matching: r.matching ? JSON.parse(r.matching) : undefined,
    error: r.error ? JSON.parse(r.error) : undefined, durationMs: r.duration_ms ?? Date.now() - Date.parse(r.started_at),
    rejects: rejects.map((x) => ({ stream: x.stream, location: x.location, field: x.field, code: x.code, reason: x.reason })),
  };
}
