/**
 * What runs after ingest commits: derived data (competency evidence and mastery) follows the records it is computed
 * from. A hook names the entity types it wants; the runner calls `afterPage` after each committed page that changed
 * any of them (with the changed unified ids per type) and `afterRun` once the run is over (sweep and identity
 * resolution included). A hook never fails the run: its errors are logged and the run's data stays committed.
 */
import type { RunSummary } from './runner';

export interface HookContext {
  tenantId: string;
  connectorId: string;
  runId: string;
}

export interface IngestHook {
  name: string;
  entityTypes: readonly string[];
  afterPage(ctx: HookContext, changed: ReadonlyMap<string, readonly string[]>): Promise<void>;
  afterRun?(ctx: HookContext, run: Pick<RunSummary, 'status' | 'counts' | 'matching'>): Promise<void>;
}

/** The page's changes restricted to the hook's types, or null when none of them changed. */
export function relevantChanges(hook: IngestHook, changed: ReadonlyMap<string, readonly string[]> | undefined): Map<string, readonly string[]> | null {
  if (!changed) return null;
  const out = new Map<string, readonly string[]>();
  for (const t of hook.entityTypes) {
    const ids = changed.get(t);
    if (ids?.length) out.set(t, ids);
  }
  return out.size ? out : null;
}
