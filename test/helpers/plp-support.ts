/**
 * Test support for the PLP tests. The `mastery` table belongs to the mastery engine (migration 005, built on another
 * branch); until it is merged, tests create it here with exactly the columns the plan reads, and insert rows.
 * Unified records are inserted directly (the plan only reads them).
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../../src/store/db';

export async function createMasteryTable(db: Db): Promise<void> {
  if (await db.knex.schema.hasTable('mastery')) return;
  await db.knex.schema.createTable('mastery', (t) => {
    t.string('tenant_id', 63).notNullable();
    t.string('learner_id', 64).notNullable();
    t.string('competency_id', 64).notNullable();
    t.string('framework_id', 64).notNullable();
    t.string('subject', 120);
    t.double('level');
    t.double('scale_min');
    t.double('scale_max');
    t.string('status', 16).notNullable();
    t.string('method', 64).notNullable();
    t.integer('evidence_count').notNullable();
    t.string('last_evidence_at', 32);
    t.text('explain');
    t.string('updated_at', 32).notNullable();
    t.primary(['tenant_id', 'learner_id', 'competency_id']);
  });
}

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
