/**
 * Webhook event types and how change_log rows map to them. Entity changes come from change_log (durable in the same
 * transaction as the change); sync events from webhook_outbox (written with the run's final status).
 *
 * Events are thin: ids, the change_log seq and the names of the changed fields — never a field's value. Consumers
 * fetch what they need with their own scoped credentials.
 */
import type { Db } from '../store/db';
import { isStudentData } from '../core/categories';

export const WEBHOOK_EVENT_TYPES = [
  'learner.updated', 'learner.merged', 'enrollment.changed', 'mastery.changed', 'plp.updated', 'sync.completed', 'sync.needs_review',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/**
 * Entity type → the event its changes raise. Adding a derived type is a line here. Demographics and program
 * participation raise no event: even "changed" is protected information.
 */
export const ENTITY_EVENTS: Record<string, WebhookEventType> = {
  person: 'learner.updated',
  enrollment: 'enrollment.changed',
  mastery: 'mastery.changed',
  plp: 'plp.updated',
};

/** change_log causes written by identity decisions (src/normalize/resolve.ts: auto_link is recorded as 'merge'). */
const IDENTITY_CAUSES = new Set(['merge', 'accept', 'unmerge']);

export interface ChangeRow {
  tenant_id: string;
  seq: number | string;
  entity_type: string;
  entity_id: string;
  op: string;
  at: string;
  run_id: string | null;
  cause: string | null;
  diff: string | null;
}

export function eventTypeOfChange(row: Pick<ChangeRow, 'entity_type' | 'op' | 'cause'>): WebhookEventType | undefined {
  const t = ENTITY_EVENTS[row.entity_type];
  if (t === 'learner.updated' && (row.op === 'merge' || row.op === 'unmerge' || IDENTITY_CAUSES.has(row.cause ?? ''))) return 'learner.merged';
  return t;
}

export function parseDiff(diff: string | null): Record<string, [unknown, unknown]> | null {
  if (!diff) return null;
  return JSON.parse(diff) as Record<string, [unknown, unknown]>;
}

/** The names of the fields a change touched (the diff's keys; none for creates and deletes). */
export function changedFields(diff: Record<string, unknown> | null): string[] {
  return diff ? Object.keys(diff).sort() : [];
}

/**
 * The persons each change is about: a person change names its own id (and the person it was merged into); a
 * change to a record that belongs to a person (enrollment, result, mastery...) names its `personId`, read from the
 * record (one query per entity type and batch) and from the diff when personId itself changed.
 */
export async function personIdsOfChanges(db: Db, tenantId: string, rows: ChangeRow[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const key = (r: ChangeRow) => String(r.seq);
  const lookup = new Map<string, Set<string>>();
  for (const r of rows) {
    const ids = new Set<string>();
    const diff = parseDiff(r.diff);
    if (r.entity_type === 'person') {
      ids.add(r.entity_id);
      const into = diff?.mergedInto?.[1];
      if (typeof into === 'string') ids.add(into);
    } else if (isStudentData(r.entity_type)) {
      for (const v of diff?.personId ?? []) if (typeof v === 'string') ids.add(v);
      (lookup.get(r.entity_type) ?? lookup.set(r.entity_type, new Set()).get(r.entity_type)!).add(r.entity_id);
    }
    out.set(key(r), [...ids]);
  }
  const personOf = new Map<string, string>();
  for (const [type, idSet] of lookup) {
    const ids = [...idSet];
    for (let i = 0; i < ids.length; i += 500) {
      const recs = (await db.knex('records').where({ tenant_id: tenantId, entity_type: type }).whereIn('id', ids.slice(i, i + 500)).select('id', 'data')) as { id: string; data: string }[];
      for (const rec of recs) {
        const p = (JSON.parse(rec.data) as { personId?: unknown }).personId;
        if (typeof p === 'string') personOf.set(`${type}/${rec.id}`, p);
      }
    }
  }
  for (const r of rows) {
    const p = personOf.get(`${r.entity_type}/${r.entity_id}`);
    if (p) {
      const list = out.get(key(r))!;
      if (!list.includes(p)) list.push(p);
    }
  }
  return out;
}
