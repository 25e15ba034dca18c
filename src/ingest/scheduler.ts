/**
 * Scheduled syncs: one node-cron task per enabled connector with a `schedule`. `noOverlap` stops a slow run from
 * being started again by this process; the connector lock in the store stops it across processes (a second node's
 * tick just logs connector_busy).
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { RuntimeDeps } from './runner';
import { runSync } from './runner';
import { isHubError } from '../core/errors';
import { silentLogger } from '../core/logger';

export interface Scheduler {
  tasks: { tenantId: string; connectorId: string; schedule: string }[];
  stop(): Promise<void>;
}

export function startScheduler(deps: RuntimeDeps): Scheduler {
  const log = deps.log ?? silentLogger;
  const tasks: ScheduledTask[] = [];
  const listed: Scheduler['tasks'] = [];
  for (const t of deps.config.config.tenants) {
    for (const c of t.connectors ?? []) {
      if (!c.schedule || c.enabled === false) continue;
      const task = cron.schedule(
        c.schedule,
        async () => {
          try {
            await runSync(deps, { tenantId: t.id, connectorId: c.id, trigger: 'schedule' });
          } catch (e) {
            if (isHubError(e) && e.code === 'connector_busy') log.info({ tenant: t.id, connector: c.id }, 'scheduled sync skipped: already running');
            else log.error({ tenant: t.id, connector: c.id, code: isHubError(e) ? e.code : 'internal_error' }, `scheduled sync could not start: ${(e as Error).message}`);
          }
        },
        { name: `${t.id}/${c.id}`, noOverlap: true },
      );
      tasks.push(task);
      listed.push({ tenantId: t.id, connectorId: c.id, schedule: c.schedule });
    }
  }
  return {
    tasks: listed,
    async stop() {
      for (const task of tasks) await task.stop();
    },
  };
}
