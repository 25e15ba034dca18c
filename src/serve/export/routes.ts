/**
 * GET|POST /api/v1/tenants/:tenant/exports/oneroster?sinceSeq=|since=   (scope exports.run)
 *
 * Streams a OneRoster 1.2 CSV zip: bulk without parameters, delta with `sinceSeq` (change-log sequence) or `since`
 * (ISO 8601). `X-OneRoster-Export-Seq` carries the tenant's sequence when the export started: the `sinceSeq` of the
 * next delta. The zip is written as it is read from the store; a failure after the first byte aborts the response
 * (the client sees a truncated download, never a zip that looks complete).
 */
import type { Router } from 'express';
import { tenantRoute, type AppDeps } from '../route';
import { queryString } from '../params';
import { badRequest } from '../errors';
import { exportOneRosterCsv } from './oneroster-csv';

export function parseExportSince(sinceSeq: string | undefined, since: string | undefined): { sinceSeq?: number; since?: string } {
  if (sinceSeq !== undefined && since !== undefined) throw badRequest('sinceSeq', 'give sinceSeq or since, not both');
  if (sinceSeq !== undefined) {
    if (!/^[0-9]{1,15}$/.test(sinceSeq)) throw badRequest('sinceSeq', 'must be a non-negative integer (a change-log sequence number)');
    return { sinceSeq: Number(sinceSeq) };
  }
  if (since !== undefined) {
    const ms = /^\d{4}-\d{2}-\d{2}/.test(since) ? Date.parse(since) : NaN;
    if (Number.isNaN(ms)) throw badRequest('since', 'must be an ISO 8601 date or date-time');
    return { since: new Date(ms).toISOString() };
  }
  return {};
}

export function exportRoutes(router: Router, deps: AppDeps): void {
  for (const method of ['get', 'post'] as const) {
    tenantRoute(router, deps, method, '/tenants/:tenant/exports/oneroster', { scope: 'exports.run', query: ['sinceSeq', 'since'] }, async ({ req, res, tenant }) => {
      const since = parseExportSince(queryString(req, 'sinceSeq'), queryString(req, 'since'));
      const seqRow = (await deps.db.knex('tenant_sequences').where({ tenant_id: tenant.id }).first('last_seq')) as { last_seq: number | string } | undefined;
      const mode = since.sinceSeq !== undefined || since.since !== undefined ? 'delta' : 'bulk';
      res.status(200).set({
        'Content-Type': 'application/zip',
        'Content-Disposition': `attachment; filename="oneroster-${tenant.id}-${mode}.zip"`,
        'X-OneRoster-Export-Seq': String(Number(seqRow?.last_seq ?? 0)),
      });
      try {
        const summary = await exportOneRosterCsv(deps.db, { tenantId: tenant.id, ...since, systemName: 'Learner Data Hub' }, res);
        deps.log.info({ tenant: tenant.id, mode: summary.mode, seq: summary.seq, skipped: summary.skipped, rows: Object.fromEntries(Object.entries(summary.files).map(([f, v]) => [f, v.rows])) }, 'oneroster export');
      } catch (e) {
        if (!res.headersSent) throw e;
        deps.log.error({ tenant: tenant.id, err: e instanceof Error ? e.message : String(e) }, 'oneroster export failed after streaming started');
        res.destroy(e instanceof Error ? e : new Error(String(e)));
      }
    });
  }
}
