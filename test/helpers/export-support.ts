/**
 * Test support for the state export: a synced synthetic district with what the generator does not write
 * (attendance events, program participation — through a real connector run, linked to the SIS students by their
 * strong identifiers), the mastery table of the mastery branch (migration 005 there; created here when absent) and
 * PLP change-log rows.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Connector, SourceRecord } from '../../src/ingest/contract';
import { registerConnector } from '../../src/ingest/registry';
import type { Db } from '../../src/store/db';
import { createItem } from '../../src/derive/plp/store';
import { PROJECT_ROOT } from '../../src/core/paths';

export const EXTRAS = new Map<string, SourceRecord[]>();

const extrasConnector: Connector<{ source: string }> = {
  manifest: {
    id: 'export-extras', title: 'Attendance and programs (tests)', version: '1', kind: ['attendance'],
    configSchema: { type: 'object', additionalProperties: false, required: ['source'], properties: { source: { type: 'string' } } },
    secretFields: [],
    streams: [{ name: 'all', entities: ['person', 'programParticipation', 'attendanceEvent'], modes: ['full'] }],
  },
  async check() {
    return { ok: true };
  },
  async plan() {
    return [{ stream: 'all', mode: 'full' }];
  },
  async *read(_stream, settings) {
    const recs = EXTRAS.get(settings.source) ?? [];
    for (let i = 0; i < recs.length; i += 500) yield { records: recs.slice(i, i + 500), cursor: { page: i } };
  },
};
registerConnector('export-extras', extrasConnector as Connector<never>);

export interface StudentRef {
  id: string;
  data: { givenName: string; familyName: string; identifiers: { system: string; value: string }[] };
}

/** Attendance (every 3rd student: two absences, one excused, and a tardy) and programs (every 4th: IEP, every 5th: EL). */
export function extrasFor(students: StudentRef[], schoolYearStart: string): SourceRecord[] {
  const out: SourceRecord[] = [];
  const day = (n: number) => {
    const d = new Date(`${schoolYearStart}T00:00:00Z`);
    d.setUTCDate(d.getUTCDate() + n);
    return d.toISOString().slice(0, 10);
  };
  students.forEach((s, i) => {
    const sid = `p-${i}`;
    out.push({ type: 'person', sourceId: sid, data: { givenName: s.data.givenName, familyName: s.data.familyName, enabledUser: true, identifiers: s.data.identifiers } });
    if (i % 3 === 0) {
      // 2026-08-17 is a Monday: days 1, 2, 3 are Tue, Wed, Thu.
      out.push({ type: 'attendanceEvent', sourceId: `a-${i}-1`, data: { personId: sid, date: day(1), category: 'uri://ed-fi.org/AttendanceEventCategoryDescriptor#Excused Absence', reason: 'Dentist appointment' } });
      out.push({ type: 'attendanceEvent', sourceId: `a-${i}-2`, data: { personId: sid, date: day(2), category: 'Unexcused Absence' } });
      out.push({ type: 'attendanceEvent', sourceId: `a-${i}-3`, data: { personId: sid, date: day(3), category: 'Tardy' } });
    }
    if (i % 4 === 0) out.push({ type: 'programParticipation', sourceId: `iep-${i}`, data: { personId: sid, program: 'Special Education', programType: 'specialEducation', beginDate: '2024-09-01' } });
    if (i % 5 === 0) out.push({ type: 'programParticipation', sourceId: `el-${i}`, data: { personId: sid, program: 'ELL', programType: 'englishLearner', beginDate: '2025-09-01' } });
  });
  return out;
}

/** Two mastery rows per learner: a math competency and a social-emotional one. */
export async function seedMastery(db: Db, tenantId: string, learnerIds: string[]): Promise<void> {
  const rows = learnerIds.flatMap((id, i) => [
    { tenant_id: tenantId, learner_id: id, competency_id: 'comp-math-1', framework_id: 'fw-math', subject: 'Math', level: 2 + (i % 3), scale_min: 1, scale_max: 4, threshold: 3, status: 'proficient', method: 'decaying_average', evidence_count: 3 + i, last_evidence_at: '2026-10-01T00:00:00Z', explain: '{"secret":"explain text"}', updated_at: '2026-10-02T00:00:00Z' },
    { tenant_id: tenantId, learner_id: id, competency_id: 'comp-sel-1', framework_id: 'fw-sel', subject: 'Social-Emotional Learning', level: 3, scale_min: 1, scale_max: 4, threshold: 3, status: 'developing', method: 'most_recent', evidence_count: 1, last_evidence_at: '2026-10-03T00:00:00Z', explain: '{}', updated_at: '2026-10-04T00:00:00Z' },
  ]);
  for (let i = 0; i < rows.length; i += 50) await db.knex('mastery').insert(rows.slice(i, i + 50));
}

/** A plan per learner, written through the PLP store (a goal), dated `at` (inside the school year under test). */
export async function seedPlans(db: Db, tenantId: string, learnerIds: string[], at: string): Promise<void> {
  for (const id of learnerIds) {
    await createItem(db, tenantId, id, 'goal', { by: 'key:test', role: 'service' }, { statement: `Plan for ${id.slice(-4)}: wants to study nursing` });
  }
  await db.knex('plp_items').where({ tenant_id: tenantId }).whereIn('learner_id', learnerIds).update({ created_at: at, updated_at: at });
}

/** The demo configuration's connectors, pointed at a generated district. */
export function demoConnectors(districtDir: string): Record<string, unknown>[] {
  const demo = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'fixtures/demo/hub.config.json'), 'utf8')) as { tenants: { connectors: { id: string; settings: Record<string, unknown> }[] }[] };
  const rel = (p: string) => path.join(districtDir, p.replace(/^\.\/district\//, ''));
  return demo.tenants[0].connectors.map((c) => {
    const s = { ...c.settings };
    if (typeof s.path === 'string') s.path = rel(s.path);
    const src = s.source as { file?: string } | undefined;
    if (src?.file) s.source = { ...src, file: rel(src.file) };
    const { schedule: _s, ...rest } = c as Record<string, unknown>;
    return { ...rest, settings: s };
  });
}

export function demoPrecedence(): Record<string, unknown> {
  const demo = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'fixtures/demo/hub.config.json'), 'utf8')) as { tenants: { identity: Record<string, unknown> }[] };
  return demo.tenants[0].identity;
}
