/**
 * Appending to the change log from outside the ingest path (derived data such as mastery and plans, API edits).
 * The ingest page writer uses the bulk ports in src/normalize/ports.ts; both share `tenant_sequences`, so sequence
 * numbers stay gap-free and monotonic per tenant whichever path writes. Call inside the transaction that makes the
 * change: the change and its log entry commit together (what the change feed and webhooks rely on).
 */
import type { Knex } from 'knex';
import { rowsOf } from './statements';

export interface ChangeInput {
  /** A unified entity type, or a derived one (`mastery`, `plp`, ...): at most 32 characters. */
  entityType: string;
  entityId: string;
  op: 'create' | 'update' | 'delete';
  /** Why: `run`, `api:<key or person>`, `recompute`, `decision:<id>`... at most 32 characters. */
  cause: string;
  runId?: string | null;
  /** `{ field: [old, new] }` — the same shape the page writer records. */
  diff?: Record<string, [unknown, unknown]> | null;
}

/** Reserves sequence numbers and writes the entries; returns their seqs in order. */
export async function appendChanges(trx: Knex.Transaction, tenantId: string, changes: readonly ChangeInput[], at: string = new Date().toISOString()): Promise<number[]> {
  if (!changes.length) return [];
  const rows = rowsOf<{ last_seq: number | string }>(await trx.raw('update tenant_sequences set last_seq = last_seq + ? where tenant_id = ? returning last_seq', [changes.length, tenantId]));
  if (!rows.length) throw new Error(`tenant ${tenantId} has no sequence row (was it created with ensureTenants?)`);
  const last = Number(rows[0].last_seq);
  const first = last - changes.length + 1;
  const entries = changes.map((c, i) => ({
    tenant_id: tenantId, seq: first + i, entity_type: c.entityType, entity_id: c.entityId, op: c.op, at,
    run_id: c.runId ?? null, cause: c.cause.slice(0, 32), diff: c.diff ? JSON.stringify(c.diff) : null,
  }));
  for (let i = 0; i < entries.length; i += 400) await trx('change_log').insert(entries.slice(i, i + 400));
  return entries.map((e) => e.seq);
}
