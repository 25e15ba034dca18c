/**
 * Connectors and runs: list configured connectors (secrets redacted), start a sync (202 + Location, the run goes on
 * in the background), read runs and their reject reports, approve a sweep held for review.
 */
import type { Router } from 'express';
import { HubError, toHubError } from '../core/errors';
import type { ConnectorConfig } from '../core/config';
import { isSecretRef } from '../core/secrets';
import { getConnector } from '../ingest/registry';
import { approveRun, runRowToSummary, runSync, type RunStatus, type RunSummary } from '../ingest/runner';
import { hasScope } from './auth';
import { badRequest } from './errors';
import { decodeCursor, parseLimit, toPage } from './pagination';
import { jsonObjectBody, queryEnum, queryString } from './params';
import { API_PREFIX, tenantRoute, type AppDeps } from './route';

export const SECRET_PLACEHOLDER = '[secret]';
const RUN_STATUSES: readonly RunStatus[] = ['running', 'succeeded', 'failed', 'needs_review', 'cancelled'];

/** A run as the API shows it: the runner's summary (without the embedded first rejects) plus when and why. */
export interface RunView extends Omit<RunSummary, 'rejects' | 'review' | 'error' | 'matching'> {
  connectorType: string;
  trigger: string;
  startedAt: string;
  finishedAt: string | null;
  review: RunSummary['review'] | null;
  matching: RunSummary['matching'] | null;
  error: RunSummary['error'] | null;
  reviewedBy: string | null;
  reviewedAt: string | null;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function runView(row: any): RunView {
  const { rejects: _rejects, review, error, matching, ...summary } = runRowToSummary(row);
  return {
    ...summary,
    review: review ?? null,
    matching: matching ?? null,
    error: error ?? null,
    connectorType: row.connector_type,
    trigger: row.trigger,
    startedAt: row.started_at,
    finishedAt: row.finished_at ?? null,
    reviewedBy: row.reviewed_by ?? null,
    reviewedAt: row.reviewed_at ?? null,
  };
}

/** Settings with the manifest's secret fields, and any secret reference anywhere, replaced by "[secret]". */
export function redactSettings(settings: Record<string, unknown>, secretFields: readonly string[]): Record<string, unknown> {
  const deep = (v: unknown): unknown => {
    if (isSecretRef(v)) return SECRET_PLACEHOLDER;
    if (Array.isArray(v)) return v.map(deep);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deep(x)]));
    return v;
  };
  return Object.fromEntries(Object.entries(settings ?? {}).map(([k, v]) => [k, secretFields.includes(k) ? SECRET_PLACEHOLDER : deep(v)]));
}

function connectorView(c: ConnectorConfig, lastRun: RunView | null) {
  const manifest = getConnector(c.type)?.manifest;
  return {
    id: c.id,
    type: c.type,
    enabled: c.enabled ?? true,
    schedule: c.schedule ?? null,
    settings: redactSettings(c.settings, manifest?.secretFields ?? []),
    sweep: { maxDeleteShare: c.sweep?.maxDeleteShare ?? 0.1 },
    lastRun,
  };
}

async function findRunRow(deps: AppDeps, tenantId: string, runId: string) {
  const row = await deps.db.knex('runs').where({ id: runId, tenant_id: tenantId }).first();
  if (!row) throw new HubError('run_not_found', 'No run with that id exists for the tenant.', [{ path: 'runId', message: 'not found' }]);
  return row;
}

/**
 * Starts runSync in the background and resolves with the run id as soon as the run is recorded. Failures before
 * that (unknown connector, busy, bad settings) reject; failures after it are recorded on the run by runSync, and
 * anything that still escapes is logged — never an unhandled rejection.
 */
function startSync(deps: AppDeps, tenantId: string, connectorId: string, dryRun: boolean): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let started = false;
    const log = deps.log.child({ tenant: tenantId, connector: connectorId });
    const run = runSync(
      { db: deps.db, config: deps.config, log },
      {
        tenantId, connectorId, dryRun, trigger: 'api', signal: deps.background.controller.signal,
        onStart: (runId) => {
          started = true;
          resolve(runId);
        },
      },
    ).then(
      () => {
        if (!started) reject(new HubError('internal_error', 'The run ended without being recorded.'));
      },
      (e: unknown) => {
        if (!started) return reject(e);
        const err = toHubError(e);
        log.error({ code: err.code, err: e instanceof Error ? e.stack : String(e) }, 'background sync failed after it started');
      },
    );
    deps.background.track(run);
  });
}

export function runRoutes(router: Router, deps: AppDeps): void {
  const { db } = deps;

  tenantRoute(router, deps, 'get', '/tenants/:tenant/connectors', { scope: 'runs.read' }, async ({ res, tenant }) => {
    const data = [];
    for (const c of tenant.connectors ?? []) {
      const row = await db.knex('runs').where({ tenant_id: tenant.id, connector_id: c.id }).orderBy('id', 'desc').first();
      data.push(connectorView(c, row ? runView(row) : null));
    }
    res.json({ data });
  });

  tenantRoute(router, deps, 'post', '/tenants/:tenant/connectors/:connector/sync', { scope: 'sync.run' }, async ({ req, res, tenant }) => {
    const body = jsonObjectBody(req, ['dryRun']);
    if (body.dryRun !== undefined && typeof body.dryRun !== 'boolean') throw badRequest('dryRun', 'must be a boolean');
    const connectorId = String(req.params.connector);
    if (!(tenant.connectors ?? []).some((c) => c.id === connectorId)) {
      throw new HubError('connector_unknown', 'No connector with that id is configured for the tenant.', [{ path: 'connector', message: 'not configured' }]);
    }
    const runId = await startSync(deps, tenant.id, connectorId, body.dryRun === true);
    res.status(202).location(`${API_PREFIX}/tenants/${encodeURIComponent(tenant.id)}/runs/${encodeURIComponent(runId)}`).json({ data: { runId, status: 'running' } });
  });

  tenantRoute(router, deps, 'get', '/tenants/:tenant/runs', { scope: 'runs.read', query: ['connector', 'status', 'limit', 'cursor'] }, async ({ req, res, tenant }) => {
    const limit = parseLimit(queryString(req, 'limit'));
    const after = decodeCursor(queryString(req, 'cursor'), 'runs', 'string');
    const connector = queryString(req, 'connector');
    const status = queryEnum(req, 'status', RUN_STATUSES);
    // Run ids start with a zero-padded base-36 timestamp: id order is start order, and unique.
    const q = db.knex('runs').where({ tenant_id: tenant.id }).orderBy('id', 'desc').limit(limit + 1);
    if (connector) q.where({ connector_id: connector });
    if (status) q.where({ status });
    if (after !== undefined) q.where('id', '<', after);
    res.json(toPage(await q, limit, 'runs', (r: { id: string }) => r.id, runView));
  });

  tenantRoute(router, deps, 'get', '/tenants/:tenant/runs/:runId', { scope: 'runs.read' }, async ({ req, res, tenant }) => {
    res.json({ data: runView(await findRunRow(deps, tenant.id, String(req.params.runId))) });
  });

  tenantRoute(router, deps, 'get', '/tenants/:tenant/runs/:runId/rejects', { scope: 'runs.read', query: ['limit', 'cursor', 'include'] }, async ({ req, res, tenant, principal }) => {
    const limit = parseLimit(queryString(req, 'limit'));
    const after = decodeCursor(queryString(req, 'cursor'), 'rejects', 'number');
    const include = queryEnum(req, 'include', ['raw'] as const);
    // Raw rows may hold student data: only admin keys see them, and only when they ask.
    if (include === 'raw' && !hasScope(principal, 'admin')) {
      throw new HubError('forbidden', "include=raw needs the 'admin' scope (raw rows may hold student data).", [{ path: 'include', message: 'requires admin' }]);
    }
    const run = await findRunRow(deps, tenant.id, String(req.params.runId));
    const cols = ['id', 'stream', 'location', 'field', 'code', 'reason', ...(include === 'raw' ? ['raw'] : [])];
    const q = db.knex('run_rejects').select(cols).where({ tenant_id: tenant.id, run_id: run.id }).orderBy('id', 'asc').limit(limit + 1);
    if (after !== undefined) q.where('id', '>', after);
    type Row = { id: number | string; stream: string; location: string; field: string | null; code: string; reason: string; raw?: string | null };
    res.json(
      toPage(await q, limit, 'rejects', (r: Row) => Number(r.id), (r: Row) => ({
        stream: r.stream, location: r.location, field: r.field ?? null, code: r.code, reason: r.reason,
        ...(include === 'raw' ? { raw: r.raw == null ? null : (JSON.parse(r.raw) as unknown) } : {}),
      })),
    );
  });

  tenantRoute(router, deps, 'post', '/tenants/:tenant/runs/:runId/approve', { scope: 'sync.run' }, async ({ req, res, tenant, principal }) => {
    jsonObjectBody(req, []);
    const runId = String(req.params.runId);
    await approveRun({ db, config: deps.config, log: deps.log }, tenant.id, runId, principal.name);
    res.json({ data: runView(await findRunRow(deps, tenant.id, runId)) });
  });
}
