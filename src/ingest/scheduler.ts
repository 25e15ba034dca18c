/**
 * Scheduled syncs: one cron job (src/core/cron.ts) per enabled connector with a `schedule`. The connector lock in
 * the store stops a second process's tick from running it twice (it just logs connector_busy).
 */
import type { RuntimeDeps } from './runner';
import { runSync } from './runner';
import { isHubError } from '../core/errors';
import { silentLogger } from '../core/logger';
import { scheduleJobs, type CronJob } from '../core/cron';

export interface Scheduler {
  tasks: { tenantId: string; connectorId: string; schedule: string }[];
  stop(): Promise<void>;
}

export function startScheduler(deps: RuntimeDeps): Scheduler {
  const log = deps.log ?? silentLogger;
  const jobs: CronJob[] = [];
  const listed: Scheduler['tasks'] = [];
  for (const t of deps.config.config.tenants) {
    for (const c of t.connectors ?? []) {
      if (!c.schedule || c.enabled === false) continue;
      jobs.push({
        name: `${t.id}/${c.id}`,
        schedule: c.schedule,
        run: async () => {
          try {
            await runSync(deps, { tenantId: t.id, connectorId: c.id, trigger: 'schedule' });
          } catch (e) {
            if (isHubError(e) && e.code === 'connector_busy') log.info({ tenant: t.id, connector: c.id }, 'scheduled sync skipped: already running');
            else log.error({ tenant: t.id, connector: c.id, code: isHubError(e) ? e.code : 'internal_error' }, `scheduled sync could not start: ${(e as Error).message}`);
          }
        },
      });
      listed.push({ tenantId: t.id, connectorId: c.id, schedule: c.schedule });
    }
  }
  return { tasks: listed, ...scheduleJobs(jobs, log) };
}
