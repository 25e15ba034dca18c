/**
 * Export runs: every state export (CLI, API, schedule) is an `export_runs` row (migration 011) with its status and,
 * once written, its manifest. The API and the scheduler write zips under the tenant's `exports.outputDir`; the CLI
 * writes where it is told.
 */
import fs from 'node:fs';
import path from 'node:path';
import { scheduleJobs, type CronJob } from '../../../core/cron';
import type { Db } from '../../../store/db';
import type { LoadedConfig } from '../../../core/config';
import { findTenant } from '../../../core/config';
import { HubError, isHubError, toHubError } from '../../../core/errors';
import { silentLogger, type Logger } from '../../../core/logger';
import { nowIso } from '../../../normalize/canonical';
import { newExportId, runStateExport, type ExportDeps, type Manifest } from './extract';
import { currentSchoolYear, exportsDir, findProfile, profilesOf } from './profile';

export type ExportTrigger = 'cli' | 'api' | 'schedule';

export interface ExportRunRow {
  id: string;
  tenant_id: string;
  kind: string;
  profile: string;
  school_year: string;
  status: 'running' | 'succeeded' | 'failed';
  trigger: ExportTrigger;
  requested_by: string;
  started_at: string;
  finished_at: string | null;
  path: string | null;
  bytes: number | string | null;
  manifest: string | null;
  error: string | null;
}

export interface ExportStart {
  tenantId: string;
  profile: string;
  schoolYear: string;
  trigger: ExportTrigger;
  requestedBy: string;
  /** Output path; default `<outputDir>/<tenant>/<id>.zip`. */
  out?: string;
}

/** Validates, inserts the run row, and returns the id plus a promise of the finished run (never rejects). */
export async function startExport(deps: ExportDeps, s: ExportStart): Promise<{ id: string; done: Promise<ExportRunRow> }> {
  const tenant = findTenant(deps.config.config, s.tenantId);
  if (!tenant) throw new HubError('bad_request', `tenant: no tenant '${s.tenantId}' is configured.`, [{ path: 'tenant', message: 'unknown tenant' }]);
  findProfile(tenant, s.profile); // a bad name fails before anything is recorded
  const id = newExportId();
  const out = s.out ?? path.join(exportsDir(deps.config, tenant), tenant.id, `${id}.zip`);
  await deps.db.knex('export_runs').insert({
    id, tenant_id: tenant.id, kind: 'state', profile: s.profile, school_year: s.schoolYear, status: 'running', trigger: s.trigger,
    requested_by: s.requestedBy.slice(0, 200), started_at: nowIso(), path: out,
  });
  const done = (async () => {
    try {
      const manifest = await runStateExport(deps, { tenantId: tenant.id, profile: s.profile, schoolYear: s.schoolYear, out, exportId: id });
      const bytes = fs.statSync(out).isFile() ? fs.statSync(out).size : manifest.files.reduce((n, f) => n + f.bytes, 0);
      await deps.db.knex('export_runs').where({ id }).update({ status: 'succeeded', finished_at: nowIso(), manifest: JSON.stringify(manifest), bytes });
    } catch (e) {
      const h = toHubError(e);
      (deps.log ?? silentLogger).warn({ tenant: tenant.id, exportId: id, code: h.code }, isHubError(e) ? `state export failed: ${h.message}` : 'state export failed');
      await deps.db.knex('export_runs').where({ id }).update({ status: 'failed', finished_at: nowIso(), error: JSON.stringify({ code: h.code, message: h.message }) })
        .catch(() => undefined);
    }
    return (await getExportRun(deps.db, tenant.id, id))!;
  })();
  return { id, done };
}

export async function getExportRun(db: Db, tenantId: string, id: string): Promise<ExportRunRow | undefined> {
  return (await db.knex('export_runs').where({ tenant_id: tenantId, id }).first()) as ExportRunRow | undefined;
}

export function exportRunView(r: ExportRunRow) {
  return {
    id: r.id, kind: r.kind, profile: r.profile, schoolYear: r.school_year, status: r.status, trigger: r.trigger, requestedBy: r.requested_by,
    startedAt: r.started_at, finishedAt: r.finished_at ?? null, bytes: r.bytes === null || r.bytes === undefined ? null : Number(r.bytes),
    manifest: r.manifest ? (JSON.parse(r.manifest) as Manifest) : null,
    error: r.error ? (JSON.parse(r.error) as { code: string; message: string }) : null,
  };
}

export interface ExportScheduler {
  tasks: { tenantId: string; profile: string; schedule: string }[];
  stop(): Promise<void>;
}

/**
 * One cron job (src/core/cron.ts) per profile with a `schedule`: each tick starts an export
 * of the profile's `schoolYear` (default: the current school year) into the tenant's outputDir.
 */
export function startExportScheduler(deps: { db: Db; config: LoadedConfig; log?: Logger; env?: NodeJS.ProcessEnv }): ExportScheduler {
  const log = deps.log ?? silentLogger;
  const jobs: CronJob[] = [];
  const listed: ExportScheduler['tasks'] = [];
  for (const t of deps.config.config.tenants) {
    for (const p of profilesOf(t)) {
      if (!p.schedule) continue;
      jobs.push({
        name: `export:${t.id}/${p.name}`,
        schedule: p.schedule,
        run: async () => {
          try {
            const { done } = await startExport(deps, { tenantId: t.id, profile: p.name, schoolYear: p.schoolYear ?? currentSchoolYear(), trigger: 'schedule', requestedBy: 'schedule' });
            const r = await done;
            log.info({ tenant: t.id, profile: p.name, exportId: r.id, status: r.status }, 'scheduled state export finished');
          } catch (e) {
            log.error({ tenant: t.id, profile: p.name, code: isHubError(e) ? e.code : 'internal_error' }, 'scheduled state export could not start');
          }
        },
      });
      listed.push({ tenantId: t.id, profile: p.name, schedule: p.schedule });
    }
  }
  return { tasks: listed, ...scheduleJobs(jobs, log) };
}
