/**
 * Test support for the PLP tests: mastery rows (the table comes from migration 005) and unified records are
 * inserted directly — the plan only reads them.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../../src/store/db';

export interface MasteryInput {
  competencyId?: string;
  subject: string | null;
  level: number;
  status: 'not_started' | 'in_progress' | 'mastered';
  updatedAt?: string;
  scaleMin?: number;
  scaleMax?: number;
}

export async function insertMastery(db: Db, tenantId: string, learnerId: string, rows: MasteryInput[]): Promise<void> {
  await db.knex('mastery').insert(rows.map((r) => ({
    tenant_id: tenantId, learner_id: learnerId, competency_id: r.competencyId ?? randomUUID(), framework_id: 'fw-1', subject: r.subject,
    level: r.level, scale_min: r.scaleMin ?? 1, scale_max: r.scaleMax ?? 4, threshold: 3, status: r.status, method: 'decaying-average', evidence_count: 3,
    last_evidence_at: r.updatedAt ?? new Date().toISOString(), explain: JSON.stringify({ evidence: [] }), updated_at: r.updatedAt ?? new Date().toISOString(),
  })));
}

/** Inserts a unified record as if a sync had written it; returns its id. */
export async function insertRecord(db: Db, tenantId: string, type: string, data: Record<string, unknown>, source?: { connector: string; sourceId: string }): Promise<string> {
  const id = (data.id as string | undefined) ?? randomUUID();
  const at = new Date().toISOString();
  await db.knex('records').insert({ tenant_id: tenantId, entity_type: type, id, data: JSON.stringify({ ...data, id }), created_seq: 0, updated_seq: 0, created_at: at, updated_at: at, deleted_at: null });
  if (source) {
    await db.knex('source_records').insert({
      tenant_id: tenantId, connector_id: source.connector, entity_type: type, source_id: source.sourceId, unified_id: id, hash: 'h', first_seen_at: at, last_seen_at: at, last_run_id: 'run_test',
    });
  }
  return id;
}

export function daysAgo(n: number, from = new Date()): string {
  const d = new Date(from);
  d.setUTCDate(d.getUTCDate() - n);
  return d.toISOString().slice(0, 10);
}
