/**
 * What the LTI pages show, read from the unified record with the same access rules as the API (src/serve/access.ts
 * decides who may see the class or the learner before any of this runs). A handful of indexed queries per page:
 * enrollments by class, persons by id, mastery by learner, behaviour participants and assessment results by person.
 */
import type { Db } from '../../store/db';
import type { MasteryRow as EngineMasteryRow } from '../../derive/mastery';
import { studentsOfClasses } from '../access';
import { whereJsonFieldIn } from '../sql';

/** The `mastery` columns the pages read (src/derive/mastery.ts owns the table). */
export type MasteryRow = Pick<EngineMasteryRow, 'learner_id' | 'competency_id' | 'framework_id' | 'subject' | 'level' | 'scale_min' | 'scale_max' | 'status' | 'evidence_count' | 'last_evidence_at' | 'updated_at'>;

export interface Competency {
  id: string;
  code: string;
  statement: string;
  frameworkId: string | null;
}

export interface Learner {
  id: string;
  name: string;
  sortKey: string;
}

export interface Signal {
  learnerId: string;
  date: string;
  kind: 'behaviour' | 'positive' | 'assessment';
  text: string;
}

export interface ClassData {
  classId: string;
  title: string;
  learners: Learner[];
  competencies: Competency[];
  mastery: Map<string, Map<string, MasteryRow>>;
  /** Mean normalised mastery (0..1) per learner, null without evidence. */
  average: Map<string, number | null>;
  signals: Signal[];
  groups: { key: 'extend' | 'on_track' | 'support' | 'no_evidence'; label: string; learners: Learner[] }[];
  needsSupport: { learner: Learner; reasons: string[] }[];
}

export function normalised(m: MasteryRow): number | null {
  if (m.level === null || m.level === undefined) return null;
  const span = Number(m.scale_max) - Number(m.scale_min);
  if (!(span > 0)) return null;
  return Math.max(0, Math.min(1, (Number(m.level) - Number(m.scale_min)) / span));
}

function personName(d: Record<string, unknown>): { name: string; sortKey: string } {
  const given = (d.preferredGivenName as string | undefined) ?? (d.givenName as string);
  const family = (d.preferredFamilyName as string | undefined) ?? (d.familyName as string);
  return { name: `${given} ${family}`, sortKey: `${family} ${given}`.toLowerCase() };
}

export async function learnersByIds(db: Db, tenantId: string, ids: readonly string[]): Promise<Learner[]> {
  const out: Learner[] = [];
  for (let i = 0; i < ids.length; i += 500) {
    const rows = (await db.knex('records').where({ tenant_id: tenantId, entity_type: 'person' }).whereIn('id', ids.slice(i, i + 500)).whereNull('deleted_at').select('id', 'data')) as { id: string; data: string }[];
    for (const r of rows) out.push({ id: r.id, ...personName(JSON.parse(r.data) as Record<string, unknown>) });
  }
  return out.sort((a, b) => a.sortKey.localeCompare(b.sortKey));
}

export async function masteryOf(db: Db, tenantId: string, learnerIds: readonly string[]): Promise<MasteryRow[]> {
  if (!learnerIds.length) return [];
  const out: MasteryRow[] = [];
  for (let i = 0; i < learnerIds.length; i += 500) {
    out.push(...((await db.knex('mastery').where({ tenant_id: tenantId }).whereIn('learner_id', learnerIds.slice(i, i + 500))
      .select('learner_id', 'competency_id', 'framework_id', 'subject', 'level', 'scale_min', 'scale_max', 'status', 'evidence_count', 'last_evidence_at', 'updated_at')) as MasteryRow[]));
  }
  return out;
}

export async function competencies(db: Db, tenantId: string, ids: readonly string[]): Promise<Map<string, Competency>> {
  const out = new Map<string, Competency>();
  for (let i = 0; i < ids.length; i += 500) {
    const rows = (await db.knex('records').where({ tenant_id: tenantId, entity_type: 'competencyItem' }).whereIn('id', ids.slice(i, i + 500)).select('id', 'data')) as { id: string; data: string }[];
    for (const r of rows) {
      const d = JSON.parse(r.data) as { humanCodingScheme?: string; abbreviatedStatement?: string; fullStatement: string; frameworkId?: string };
      out.set(r.id, { id: r.id, code: d.humanCodingScheme ?? d.abbreviatedStatement ?? r.id.slice(0, 10), statement: d.abbreviatedStatement ?? d.fullStatement, frameworkId: d.frameworkId ?? null });
    }
  }
  for (const id of ids) if (!out.has(id)) out.set(id, { id, code: id.slice(0, 12), statement: id, frameworkId: null });
  return out;
}

const DAY = 86400_000;

/** Behaviour incidents (last `days`) and assessment results (most recent) of these learners. */
export async function signalsOf(db: Db, tenantId: string, learnerIds: readonly string[], days = 30, perLearner = 3): Promise<Signal[]> {
  if (!learnerIds.length) return [];
  const since = new Date(Date.now() - days * DAY).toISOString().slice(0, 10);
  const out: Signal[] = [];
  const parts = whereJsonFieldIn(db, db.knex('records').where({ tenant_id: tenantId, entity_type: 'behaviourParticipant' }).whereNull('deleted_at').select('data'), 'personId', learnerIds);
  const participants = ((await parts) as { data: string }[]).map((r) => JSON.parse(r.data) as { incidentId: string; personId: string; role?: string });
  const incidentIds = [...new Set(participants.map((p) => p.incidentId))];
  const incidents = new Map<string, { incidentDate: string; positive?: boolean; behaviours?: string[]; description?: string }>();
  for (let i = 0; i < incidentIds.length; i += 500) {
    for (const r of (await db.knex('records').where({ tenant_id: tenantId, entity_type: 'behaviourIncident' }).whereIn('id', incidentIds.slice(i, i + 500)).whereNull('deleted_at').select('id', 'data')) as { id: string; data: string }[]) {
      incidents.set(r.id, JSON.parse(r.data) as { incidentDate: string; positive?: boolean; behaviours?: string[] });
    }
  }
  for (const p of participants) {
    const inc = incidents.get(p.incidentId);
    if (!inc || inc.incidentDate < since) continue;
    const what = inc.behaviours?.length ? inc.behaviours.join(', ') : inc.positive ? 'positive behaviour' : 'behaviour incident';
    out.push({ learnerId: p.personId, date: inc.incidentDate.slice(0, 10), kind: inc.positive ? 'positive' : 'behaviour', text: what });
  }
  const results = whereJsonFieldIn(db, db.knex('records').where({ tenant_id: tenantId, entity_type: 'assessmentResult' }).whereNull('deleted_at').select('data'), 'personId', learnerIds);
  const byLearner = new Map<string, { date: string; assessmentId: string; level?: string; score?: string }[]>();
  for (const r of (await results) as { data: string }[]) {
    const d = JSON.parse(r.data) as { personId: string; assessmentId: string; administrationDate: string; performanceLevel?: string; scores?: { value?: unknown; result?: unknown }[] };
    const l = byLearner.get(d.personId) ?? [];
    const s = d.scores?.[0];
    l.push({ date: d.administrationDate.slice(0, 10), assessmentId: d.assessmentId, level: d.performanceLevel, score: s ? String(s.value ?? s.result ?? '') : undefined });
    byLearner.set(d.personId, l);
  }
  const assessmentIds = new Set<string>();
  const picked: { learnerId: string; date: string; assessmentId: string; level?: string; score?: string }[] = [];
  for (const [learnerId, l] of byLearner) {
    for (const x of l.sort((a, b) => b.date.localeCompare(a.date)).slice(0, perLearner)) {
      picked.push({ learnerId, ...x });
      assessmentIds.add(x.assessmentId);
    }
  }
  const titles = new Map<string, string>();
  const aIds = [...assessmentIds];
  for (let i = 0; i < aIds.length; i += 500) {
    for (const r of (await db.knex('records').where({ tenant_id: tenantId, entity_type: 'assessment' }).whereIn('id', aIds.slice(i, i + 500)).select('id', 'data')) as { id: string; data: string }[]) {
      titles.set(r.id, (JSON.parse(r.data) as { title: string }).title);
    }
  }
  for (const p of picked) {
    const detail = [p.level, p.score].filter(Boolean).join(', ');
    out.push({ learnerId: p.learnerId, date: p.date, kind: 'assessment', text: `${titles.get(p.assessmentId) ?? 'Assessment'}${detail ? `: ${detail}` : ''}` });
  }
  return out.sort((a, b) => b.date.localeCompare(a.date));
}

/** Readiness thresholds on mean normalised mastery. */
export const READY_AT = 0.75;
export const SUPPORT_BELOW = 0.45;

export async function classData(db: Db, tenantId: string, classId: string, maxCompetencies = 16): Promise<ClassData> {
  const cls = (await db.knex('records').where({ tenant_id: tenantId, entity_type: 'class', id: classId }).first('data')) as { data: string } | undefined;
  const title = cls ? (JSON.parse(cls.data) as { title: string }).title : classId;
  const learners = await learnersByIds(db, tenantId, await studentsOfClasses(db, tenantId, [classId]));
  const ids = learners.map((l) => l.id);
  const [rows, signals] = await Promise.all([masteryOf(db, tenantId, ids), signalsOf(db, tenantId, ids)]);
  // Columns: the competencies with the most evidence in this class.
  const weight = new Map<string, number>();
  for (const m of rows) weight.set(m.competency_id, (weight.get(m.competency_id) ?? 0) + 1 + Number(m.evidence_count ?? 0));
  const top = [...weight.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, maxCompetencies).map(([id]) => id);
  const comps = await competencies(db, tenantId, top);
  const columns = top.map((id) => comps.get(id)!).sort((a, b) => a.code.localeCompare(b.code));
  const mastery = new Map<string, Map<string, MasteryRow>>();
  const sums = new Map<string, { s: number; n: number }>();
  for (const m of rows) {
    (mastery.get(m.learner_id) ?? mastery.set(m.learner_id, new Map()).get(m.learner_id)!).set(m.competency_id, m);
    const v = normalised(m);
    if (v === null) continue;
    const e = sums.get(m.learner_id) ?? { s: 0, n: 0 };
    e.s += v;
    e.n++;
    sums.set(m.learner_id, e);
  }
  const average = new Map<string, number | null>(learners.map((l) => {
    const e = sums.get(l.id);
    return [l.id, e ? e.s / e.n : null];
  }));
  const groups: ClassData['groups'] = [
    { key: 'extend', label: 'Ready to extend', learners: [] },
    { key: 'on_track', label: 'On track', learners: [] },
    { key: 'support', label: 'Needs support', learners: [] },
    { key: 'no_evidence', label: 'No mastery evidence yet', learners: [] },
  ];
  for (const l of learners) {
    const a = average.get(l.id);
    const g = a === null || a === undefined ? 3 : a >= READY_AT ? 0 : a >= SUPPORT_BELOW ? 1 : 2;
    groups[g].learners.push(l);
  }
  const since = new Date(Date.now() - 14 * DAY).toISOString().slice(0, 10);
  const needsSupport: ClassData['needsSupport'] = [];
  for (const l of learners) {
    const reasons: string[] = [];
    const a = average.get(l.id);
    if (a !== null && a !== undefined && a < SUPPORT_BELOW) reasons.push(`low mastery (${Math.round(a * 100)}% of scale on average)`);
    const incidents = signals.filter((s) => s.learnerId === l.id && s.kind === 'behaviour' && s.date >= since).length;
    if (incidents) reasons.push(`${incidents} behaviour incident${incidents > 1 ? 's' : ''} in the last 14 days`);
    if (reasons.length) needsSupport.push({ learner: l, reasons });
  }
  return { classId, title, learners, competencies: columns, mastery, average, signals, groups, needsSupport };
}

export interface LearnerData {
  learner: Learner;
  mastery: { competency: Competency; row: MasteryRow }[];
  signals: Signal[];
}

export async function learnerData(db: Db, tenantId: string, learnerId: string, withBehaviour: boolean): Promise<LearnerData | undefined> {
  const [learner] = await learnersByIds(db, tenantId, [learnerId]);
  if (!learner) return undefined;
  const rows = await masteryOf(db, tenantId, [learnerId]);
  const comps = await competencies(db, tenantId, rows.map((r) => r.competency_id));
  const signals = (await signalsOf(db, tenantId, [learnerId], 90, 8)).filter((s) => withBehaviour || s.kind !== 'behaviour');
  return {
    learner,
    mastery: rows.map((row) => ({ competency: comps.get(row.competency_id)!, row })).sort((a, b) => a.competency.code.localeCompare(b.competency.code)),
    signals,
  };
}
