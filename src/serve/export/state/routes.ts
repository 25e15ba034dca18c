/**
 * State export routes (scope `exports.run`):
 *
 *   POST /tenants/:tenant/exports/state            {profile, schoolYear} -> 202 {data: {id, status, links}}
 *   GET  /tenants/:tenant/exports/state/:id        status, and the manifest once succeeded
 *   GET  /tenants/:tenant/exports/state/:id/download   the zip (409 export_not_ready until it is written)
 *
 * The export runs in the background (tracked by the app's BackgroundRuns, so a shutdown or a test can wait for it).
 * Its disclosure (channel `export`, the profile's recipient) is recorded when the extract is written.
 */
import fs from 'node:fs';
import type { Router } from 'express';
import { HubError } from '../../../core/errors';
import { badRequest } from '../../errors';
import { jsonObjectBody } from '../../params';
import { tenantRoute, type AppDeps } from '../../route';
import { exportRunView, getExportRun, startExport } from './runs';
import { findProfile, parseSchoolYear } from './profile';

const ID_RE = /^exp_[0-9a-z]{9}[0-9a-f]{12}$/;

export function stateExportRoutes(router: Router, deps: AppDeps): void {
  tenantRoute(router, deps, 'post', '/tenants/:tenant/exports/state', { scope: 'exports.run' }, async ({ req, res, tenant, principal }) => {
    const body = jsonObjectBody(req, ['profile', 'schoolYear']);
    findProfile(tenant, body.profile, 'profile');
    const schoolYear = parseSchoolYear(body.schoolYear, 'schoolYear');
    const { id, done } = await startExport({ db: deps.db, config: deps.config, log: deps.log, env: deps.env }, {
      tenantId: tenant.id, profile: body.profile as string, schoolYear, trigger: 'api', requestedBy: principal.name,
    });
    deps.background.track(done.then(() => undefined));
    const base = `/api/v1/tenants/${tenant.id}/exports/state/${id}`;
    res.status(202).location(base).json({ data: { id, status: 'running', links: { self: base, download: `${base}/download` } } });
  });

  const load = async (tenantId: string, id: string) => {
    if (!ID_RE.test(id)) throw badRequest('id', 'is not an export id');
    const r = await getExportRun(deps.db, tenantId, id);
    if (!r) throw new HubError('export_not_found', 'No export with that id exists for the tenant.', [{ path: 'id', message: 'not found' }]);
    return r;
  };

  tenantRoute(router, deps, 'get', '/tenants/:tenant/exports/state/:id', { scope: 'exports.run' }, async ({ req, res, tenant }) => {
    res.json({ data: exportRunView(await load(tenant.id, String(req.params.id))) });
  });

  tenantRoute(router, deps, 'get', '/tenants/:tenant/exports/state/:id/download', { scope: 'exports.run' }, async ({ req, res, tenant }) => {
    const r = await load(tenant.id, String(req.params.id));
    if (r.status !== 'succeeded') throw new HubError('export_not_ready', `The export is ${r.status}: nothing to download.`, [{ path: 'id', message: r.status }]);
    if (!r.path || !r.path.endsWith('.zip') || !fs.existsSync(r.path)) throw new HubError('export_not_found', 'The export file is no longer on disk.', [{ path: 'id', message: 'file missing' }]);
    const size = fs.statSync(r.path).size;
    res.set({ 'Content-Type': 'application/zip', 'Content-Length': String(size), 'Content-Disposition': `attachment; filename="${tenant.id}-${r.profile}-${r.school_year}-${r.id}.zip"` });
    await new Promise<void>((resolve, reject) => {
      const s = fs.createReadStream(r.path!);
      s.on('error', reject);
      res.on('close', () => {
        s.destroy();
        resolve();
      });
      s.pipe(res);
    });
  });
}
