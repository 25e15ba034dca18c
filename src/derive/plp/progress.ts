/**
 * The plan's progress summary, computed on read from what the hub already holds (never stored, so it is never stale):
 *
 *  - mastery by subject, from the `mastery` table (written by the mastery engine): per subject the count of
 *    competencies mastered / in progress / not started and the average level (raw, and as a share of the scale);
 *  - growth over time: competencies mastered per month (by the month of their last mastery update, cumulative over the
 *    last 12 months) and each assessment's scores across administrations;
 *  - behaviour trend: incidents the learner took part in per month (12 months), the last 90 days against the 90
 *    before, referrals and recognitions counted apart; discipline actions in the same windows;
 *  - attendance over the current term (the term of the learner's classes that contains today, else the latest one).
 *
 * One learner costs a handful of queries, each through an index: the mastery primary key, and the expression index
 * on `records.data.personId` (migration 004) for results, behaviour participants, discipline, attendance and
 * enrollments; incidents, classes and terms are read by primary key.
 */
import type { Db } from '../../store/db';
import { whereJsonField } from '../../serve/sql';

export interface SubjectMastery {
  subject: string | null;
  mastered: number;
  inProgress: number;
  notStarted: number;
  total: number;
  averageLevel: number | null;
  /** Average of (level - scaleMin) / (scaleMax - scaleMin), 0..1. */
  averageShare: number | null;
}

export interface ProgressSummary {
  asOf: string;
  mastery: { available: boolean; bySubject: SubjectMastery[]; totals: { mastered: number; inProgress: number; notStarted: number; total: number } };
  growth: {
    masteredByMonth: { month: string; mastered: number; cumulative: number }[];
    assessments: { assessmentId: string; title: string | null; results: { date: string; value: number; method: string | null; level: string | null }[]; change: number | null }[];
  };
  behaviour: {
    byMonth: { month: string; referrals: number; recognitions: number }[];
    last90Days: { referrals: number; recognitions: number; actions: number };
    previous90Days: { referrals: number; recognitions: number; actions: number };
    trend: 'fewer' | 'more' | 'same';
  };
  attendance: {
    term: { id: string; title: string; startDate: string; endDate: string } | null;
    from: string;
    to: string;
    /** School days counted: days with an attendance event when the source records presence, else weekdays. */
    days: number;
    absentDays: number;
    tardyDays: number;
    rate: number | null;
    method: 'recorded-days' | 'weekdays';
  };
}

const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

function addDays(date: string, n: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/** The 12 months ending with the month of `today`, oldest first (YYYY-MM). */
function lastMonths(today: string, n = 12): string[] {
  const y = Number(today.slice(0, 4));
  const m = Number(today.slice(5, 7)) - 1;
  const out: string[] = [];
  for (let i = n - 1; i >= 0; i--) {
    const d = new Date(Date.UTC(y, m - i, 1));
    out.push(d.toISOString().slice(0, 7));
  }
  return out;
}

function weekdays(from: string, to: string): number {
  let n = 0;
  for (let d = from; d <= to; d = addDays(d, 1)) {
    const wd = new Date(`${d}T00:00:00Z`).getUTCDay();
    if (wd !== 0 && wd !== 6) n++;
  }
  return n;
}

async function byPerson(db: Db, tenantId: string, type: string, learnerId: string): Promise<Record<string, unknown>[]> {
  const q = db.knex('records').where({ tenant_id: tenantId, entity_type: type }).whereNull('deleted_at').select('data');
  whereJsonField(db, q, 'personId', learnerId);
  return ((await q) as { data: string }[]).map((r) => JSON.parse(r.data) as Record<string, unknown>);
}

async function byIds(db: Db, tenantId: string, type: string, ids: readonly string[]): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < ids.length; i += 500) {
    const rows = (await db.knex('records').where({ tenant_id: tenantId, entity_type: type }).whereIn('id', ids.slice(i, i + 500)).whereNull('deleted_at').select('data')) as { data: string }[];
    for (const r of rows) out.push(JSON.parse(r.data) as Record<string, unknown>);
  }
  return out;
}

/** The `mastery` columns the summary reads (numbers may arrive as strings from PostgreSQL numerics). */
interface MasteryRow {
  subject: string | null;
  level: number | string | null;
  scale_min: number | string | null;
  scale_max: number | string | null;
  status: string;
  updated_at: string;
}

async function masterySummary(db: Db, tenantId: string, learnerId: string, months: string[]): Promise<{ mastery: ProgressSummary['mastery']; byMonth: ProgressSummary['growth']['masteredByMonth'] }> {
  const empty = { mastered: 0, inProgress: 0, notStarted: 0, total: 0 };
  const rows = (await db.knex('mastery').where({ tenant_id: tenantId, learner_id: learnerId })
    .select('subject', 'level', 'scale_min', 'scale_max', 'status', 'updated_at')) as MasteryRow[];
  const groups = new Map<string, { s: SubjectMastery; levels: number[]; shares: number[] }>();
  const totals = { ...empty };
  const masteredMonths = new Map<string, number>();
  let before = 0;
  for (const r of rows) {
    const key = r.subject ?? '\u0000';
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { s: { subject: r.subject ?? null, mastered: 0, inProgress: 0, notStarted: 0, total: 0, averageLevel: null, averageShare: null }, levels: [], shares: [] }));
    g.s.total++;
    totals.total++;
    if (r.status === 'mastered') {
      g.s.mastered++;
      totals.mastered++;
      const m = r.updated_at.slice(0, 7);
      if (m < months[0]) before++;
      else masteredMonths.set(m, (masteredMonths.get(m) ?? 0) + 1);
    } else if (r.status === 'in_progress') {
      g.s.inProgress++;
      totals.inProgress++;
    } else {
      g.s.notStarted++;
      totals.notStarted++;
    }
    if (r.status !== 'not_started' && r.level !== null && Number.isFinite(Number(r.level))) {
      const level = Number(r.level);
      g.levels.push(level);
      const lo = Number(r.scale_min);
      const hi = Number(r.scale_max);
      if (Number.isFinite(lo) && Number.isFinite(hi) && hi > lo) g.shares.push(Math.min(1, Math.max(0, (level - lo) / (hi - lo))));
    }
  }
  const bySubject = [...groups.values()].map((g) => ({
    ...g.s,
    averageLevel: g.levels.length ? round(g.levels.reduce((a, b) => a + b, 0) / g.levels.length) : null,
    averageShare: g.shares.length ? round(g.shares.reduce((a, b) => a + b, 0) / g.shares.length, 3) : null,
  })).sort((a, b) => (a.subject === null ? 1 : b.subject === null ? -1 : a.subject.localeCompare(b.subject)));
  let cumulative = before;
  const byMonth = months.map((month) => {
    const mastered = masteredMonths.get(month) ?? 0;
    cumulative += mastered;
    return { month, mastered, cumulative };
  });
  return { mastery: { available: true, bySubject, totals }, byMonth };
}

function numericScore(scores: unknown): { value: number; method: string | null } | null {
  if (!Array.isArray(scores)) return null;
  const nums = (scores as { value?: unknown; method?: unknown }[])
    .map((s) => ({ value: Number(s.value), method: typeof s.method === 'string' ? s.method : null }))
    .filter((s) => Number.isFinite(s.value));
  return nums.find((s) => s.method && /scale/i.test(s.method)) ?? nums[0] ?? null;
}

async function assessmentGrowth(db: Db, tenantId: string, learnerId: string): Promise<ProgressSummary['growth']['assessments']> {
  const results = await byPerson(db, tenantId, 'assessmentResult', learnerId);
  const series = new Map<string, { date: string; value: number; method: string | null; level: string | null }[]>();
  for (const r of results) {
    const score = numericScore(r.scores);
    if (!score || typeof r.assessmentId !== 'string' || typeof r.administrationDate !== 'string') continue;
    const level = (r.performanceLevel as { label?: string; code?: string } | undefined);
    let list = series.get(r.assessmentId);
    if (!list) series.set(r.assessmentId, (list = []));
    list.push({ date: r.administrationDate, value: score.value, method: score.method, level: level?.label ?? level?.code ?? null });
  }
  const titles = new Map((await byIds(db, tenantId, 'assessment', [...series.keys()])).map((a) => [a.id as string, typeof a.title === 'string' ? a.title : null]));
  return [...series.entries()].map(([assessmentId, list]) => {
    const sorted = list.sort((a, b) => a.date.localeCompare(b.date)).slice(-20);
    return { assessmentId, title: titles.get(assessmentId) ?? null, results: sorted, change: sorted.length > 1 ? round(sorted[sorted.length - 1].value - sorted[0].value) : null };
  }).sort((a, b) => (a.title ?? a.assessmentId).localeCompare(b.title ?? b.assessmentId)).slice(0, 20);
}

async function behaviourTrend(db: Db, tenantId: string, learnerId: string, today: string, months: string[]): Promise<ProgressSummary['behaviour']> {
  const parts = await byPerson(db, tenantId, 'behaviourParticipant', learnerId);
  const incidents = await byIds(db, tenantId, 'behaviourIncident', [...new Set(parts.map((p) => p.incidentId as string))]);
  const actions = await byPerson(db, tenantId, 'disciplineAction', learnerId);
  const start90 = addDays(today, -89);
  const start180 = addDays(today, -179);
  const w = () => ({ referrals: 0, recognitions: 0, actions: 0 });
  const last = w();
  const prev = w();
  const byMonth = new Map(months.map((m) => [m, { month: m, referrals: 0, recognitions: 0 }]));
  for (const i of incidents) {
    const d = i.incidentDate as string;
    if (typeof d !== 'string' || d > today) continue;
    const key = i.positive === true ? 'recognitions' : 'referrals';
    const m = byMonth.get(d.slice(0, 7));
    if (m) m[key]++;
    if (d >= start90) last[key]++;
    else if (d >= start180) prev[key]++;
  }
  for (const a of actions) {
    const d = a.actionDate as string;
    if (typeof d !== 'string' || d > today) continue;
    if (d >= start90) last.actions++;
    else if (d >= start180) prev.actions++;
  }
  const trend = last.referrals < prev.referrals ? 'fewer' : last.referrals > prev.referrals ? 'more' : 'same';
  return { byMonth: [...byMonth.values()], last90Days: last, previous90Days: prev, trend };
}

async function currentTerm(db: Db, tenantId: string, learnerId: string, today: string): Promise<ProgressSummary['attendance']['term']> {
  const enrollments = await byPerson(db, tenantId, 'enrollment', learnerId);
  const classIds = [...new Set(enrollments.filter((e) => e.role === 'student').map((e) => e.classId as string))];
  const classes = await byIds(db, tenantId, 'class', classIds);
  const termIds = [...new Set(classes.flatMap((c) => (Array.isArray(c.termIds) ? (c.termIds as string[]) : [])))];
  const terms = (await byIds(db, tenantId, 'academicSession', termIds))
    .filter((t) => typeof t.startDate === 'string' && typeof t.endDate === 'string' && t.type !== 'schoolYear')
    .map((t) => ({ id: t.id as string, title: String(t.title ?? ''), startDate: t.startDate as string, endDate: t.endDate as string }));
  const current = terms.filter((t) => t.startDate <= today && today <= t.endDate).sort((a, b) => b.startDate.localeCompare(a.startDate))[0];
  return current ?? terms.filter((t) => t.endDate < today).sort((a, b) => b.endDate.localeCompare(a.endDate))[0] ?? null;
}

async function attendanceSummary(db: Db, tenantId: string, learnerId: string, today: string): Promise<ProgressSummary['attendance']> {
  const term = await currentTerm(db, tenantId, learnerId, today);
  const from = term?.startDate ?? addDays(today, -179);
  const to = term ? (term.endDate < today ? term.endDate : today) : today;
  const events = (await byPerson(db, tenantId, 'attendanceEvent', learnerId)).filter((e) => typeof e.date === 'string' && (e.date as string) >= from && (e.date as string) <= to);
  // School-level events when the source has them; section-level ones otherwise (a day counts once either way).
  const school = events.filter((e) => e.classId === undefined);
  const use = school.length ? school : events;
  const recordsPresence = use.some((e) => /attend|present/i.test(String(e.category)) && !/absen/i.test(String(e.category)));
  const absent = new Set(use.filter((e) => /absen/i.test(String(e.category))).map((e) => e.date as string));
  const tardy = new Set(use.filter((e) => /tard|late/i.test(String(e.category))).map((e) => e.date as string));
  const days = recordsPresence ? new Set(use.map((e) => e.date as string)).size : weekdays(from, to);
  return {
    term, from, to, days, absentDays: absent.size, tardyDays: tardy.size,
    rate: days ? round((days - Math.min(days, absent.size)) / days, 4) : null,
    method: recordsPresence ? 'recorded-days' : 'weekdays',
  };
}

export async function progressSummary(db: Db, tenantId: string, learnerId: string, now: Date = new Date()): Promise<ProgressSummary> {
  const today = now.toISOString().slice(0, 10);
  const months = lastMonths(today);
  const [m, assessments, behaviour, attendance] = [
    await masterySummary(db, tenantId, learnerId, months),
    await assessmentGrowth(db, tenantId, learnerId),
    await behaviourTrend(db, tenantId, learnerId, today, months),
    await attendanceSummary(db, tenantId, learnerId, today),
  ];
  return { asOf: now.toISOString(), mastery: m.mastery, growth: { masteredByMonth: m.byMonth, assessments }, behaviour, attendance };
}
