/**
 * Longitudinal reads: a unified record as it was at a point in time, rebuilt from its current version and the
 * change log's field diffs applied backwards. Nothing is overwritten without trace, so any past version exists.
 */
import type { Db } from '../store/db';

export interface VersionAt {
  data: Record<string, unknown>;
  /** Whether the record existed (created, not deleted or merged away) at that time. */
  existed: boolean;
}

interface ChangeRowLite {
  op: string;
  at: string;
  diff: string | null;
}

/** Rebuilds one version from the current data and the record's changes, newest first. */
export function versionAt(current: Record<string, unknown>, changesNewestFirst: ChangeRowLite[], asOf: string): VersionAt {
  const data: Record<string, unknown> = { ...current };
  let existed = true;
  for (const c of changesNewestFirst) {
    if (c.at <= asOf) {
      // The last change at or before asOf decides whether it was alive then.
      existed = c.op !== 'delete' && c.op !== 'merge';
      return { data, existed };
    }
    if (c.op === 'create') return { data, existed: false };
    if ((c.op === 'update' || c.op === 'restore' || c.op === 'unmerge') && c.diff) {
      for (const [field, pair] of Object.entries(JSON.parse(c.diff) as Record<string, [unknown, unknown]>)) {
        if (pair[0] === null || pair[0] === undefined) delete data[field];
        else data[field] = pair[0];
      }
    }
  }
  return { data, existed };
}

export async function recordsAsOf(db: Db, tenantId: string, type: string, rows: { id: string; data: string }[], asOf: string): Promise<Map<string, VersionAt>> {
  const out = new Map<string, VersionAt>();
  for (let i = 0; i < rows.length; i += 500) {
    const part = rows.slice(i, i + 500);
    const changes = (await db.knex('change_log').where({ tenant_id: tenantId, entity_type: type }).whereIn('entity_id', part.map((r) => r.id))
      .orderBy('seq', 'desc').select('entity_id', 'op', 'at', 'diff')) as (ChangeRowLite & { entity_id: string })[];
    const byId = new Map<string, ChangeRowLite[]>();
    for (const c of changes) (byId.get(c.entity_id) ?? byId.set(c.entity_id, []).get(c.entity_id)!).push(c);
    for (const r of part) out.set(r.id, versionAt(JSON.parse(r.data) as Record<string, unknown>, byId.get(r.id) ?? [], asOf));
  }
  return out;
}
