/**
 * Caliper ingest's hook into the derive stage: once an envelope is stored and acknowledged, its scored events are
 * derived (evidence for aligned objects, mastery). Errors are logged, never sent to the sensor: the events are stored,
 * and the next derive (or `hub mastery recompute`) picks them up.
 */
import type { Logger } from '../core/logger';
import { isHubError } from '../core/errors';
import { deriveCaliperEvents, type DeriveDeps } from './index';

export async function afterCaliper(deps: DeriveDeps & { log: Logger }, tenantId: string, eventIds: readonly string[]): Promise<void> {
  if (!eventIds.length) return;
  try {
    await deriveCaliperEvents(deps, tenantId, eventIds, { cause: 'caliper' });
  } catch (e) {
    deps.log.error({ tenant: tenantId, code: isHubError(e) ? e.code : 'internal_error', err: isHubError(e) ? undefined : (e as Error).stack }, 'mastery derive after a Caliper envelope failed');
  }
}
