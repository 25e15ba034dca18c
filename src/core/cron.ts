/**
 * Jobs on node-cron schedules (connector syncs, state exports). `noOverlap` stops a slow job from being started
 * again by this process; cross-process exclusion is the job's own business (the connector lock, export runs).
 * A job handles its own errors: whatever escapes is logged here, never thrown into node-cron.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from './logger';

export interface CronJob {
  /** Task name, also logged: `tenant/connector`, `export:tenant/profile`. */
  name: string;
  schedule: string;
  run: () => Promise<void>;
}

export function scheduleJobs(jobs: readonly CronJob[], log: Logger): { stop(): Promise<void> } {
  const tasks: ScheduledTask[] = jobs.map((j) => cron.schedule(j.schedule, async () => {
    try {
      await j.run();
    } catch (e) {
      log.error({ job: j.name, code: (e as { code?: unknown }).code ?? 'internal_error' }, 'scheduled job failed');
    }
  }, { name: j.name, noOverlap: true }));
  return {
    async stop() {
      for (const task of tasks) await task.stop();
    },
  };
}
