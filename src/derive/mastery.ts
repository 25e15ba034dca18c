/**
 * Mastery per learner per competency, from the learner's evidence for the competency and for every competency that
 * counts toward it through crosswalks (catalog.ts), by the method the framework's rules name (rules.ts):
 *
 *   highest            the highest level
 *   mostRecent         the latest level (by observed date; retakes are later attempts)
 *   meanOfLast(n)      the mean of the n most recent levels
 *   decayingAverage(w) oldest first: v = first level, then v = w * next + (1 - w) * v (the newest weighs w)
 *   masteredTimes(n)   level = the mean of the n highest levels; mastered only when n levels reach the threshold
 *
 * Counted evidence: exempt evidence never counts; missing work is excluded (rules.missing = 'exclude', the default) or
 * counts at the bottom of the scale ('zero'); late work counts as scored ('count', the default), is excluded, or loses
 * `penalty` x the scale's span. Evidence on another framework's scale (a state standard crosswalked to a district
 * competency) is mapped linearly onto this framework's scale. Status: `not_started` without counted evidence,
 * `mastered` at or above the threshold (for masteredTimes: n levels at or above it), else `in_progress`.
 *
 * Every row explains itself: `explain` lists the evidence (id, source, date, level, weight, or why it was excluded),
 * the method and the arithmetic. Pure functions here; writing is in writeMastery.
 */
import type { Knex } from 'knex';
import { appendChanges, type ChangeInput } from '../store/changes';
import type { Catalog, ItemInfo } from './catalog';
import { methodLabel, type Rules } from './rules';

export interface EvidenceLike {
  id: string;
  competency_id: string;
  level: number | null;
  raw_score: number | null;
  raw_max: number | null;
  attempt: number | null;
  observed_at: string;
  late: boolean | number;
  exempt: boolean | number;
  missing: boolean | number;
  source_kind: string;
  source_id: string;
  item_id: string | null;
  objective?: string | null;
}

export type Status = 'not_started' | 'in_progress' | 'mastered';

export interface MasteryRow {
  tenant_id: string;
  learner_id: string;
  competency_id: string;
  framework_id: string;
  subject: string | null;
  level: number | null;
  scale_min: number;
  scale_max: number;
  threshold: number;
  status: Status;
  method: string;
  evidence_count: number;
  last_evidence_at: string | null;
  explain: string;
  updated_at: string;
}

export interface ExplainEntry {
  evidenceId: string;
  sourceKind: string;
  sourceId: string;
  itemId: string | null;
  attempt: number;
  observedAt: string;
  /** On this competency's scale (after crosswalk mapping and late penalty). */
  level: number | null;
  /** The competency the evidence is aligned to, when it counts here through a crosswalk. */
  via?: string;
  weight?: number;
  excluded?: 'exempt' | 'missing' | 'late' | 'no score';
  late?: boolean;
}

export interface Explain {
  method: string;
  rule: string;
  scale: [number, number];
  threshold: number;
  level: number | null;
  status: Status;
  counted: number;
  evidence: ExplainEntry[];
  /** Evidence entries left out of `evidence` (only the 50 most recent are listed). */
  truncated?: number;
}

const MAX_LISTED = 50;
const round = (x: number): number => Math.round(x * 1e4) / 1e4;
const truthy = (v: boolean | number): boolean => v === true || v === 1;

const cmp = (a: string | null | undefined, b: string | null | undefined): number => ((a ?? '') < (b ?? '') ? -1 : (a ?? '') > (b ?? '') ? 1 : 0);

/** Oldest first; same day: attempt, then the objective code (stable across databases), then the evidence id. */
function byTime(a: EvidenceLike, b: EvidenceLike): number {
  return cmp(a.observed_at, b.observed_at) || (a.attempt ?? 0) - (b.attempt ?? 0) || cmp(a.objective, b.objective) || cmp(a.id, b.id);
}

/** Computes one mastery value. `evidence` may include other competencies' evidence (contributors) and any order. */
export function computeMastery(target: ItemInfo, evidence: readonly EvidenceLike[], catalog: Pick<Catalog, 'items'>): { level: number | null; status: Status; counted: number; last: string | null; explain: Explain } {
  const r: Rules = target.rules;
  const span = r.scaleMax - r.scaleMin;
  const sorted = [...evidence].sort(byTime);
  const attempts = new Map<string, number>();
  const entries: ExplainEntry[] = [];
  const counted: { e: ExplainEntry; level: number }[] = [];
  for (const ev of sorted) {
    const key = ev.item_id ?? ev.id;
    const attempt = ev.attempt ?? (attempts.get(key) ?? 0) + 1;
    attempts.set(key, Math.max(attempt, attempts.get(key) ?? 0));
    let level = ev.level;
    const via = ev.competency_id !== target.id ? ev.competency_id : undefined;
    if (level !== null && via) {
      const src = catalog.items.get(ev.competency_id)?.rules;
      if (src && (src.scaleMin !== r.scaleMin || src.scaleMax !== r.scaleMax)) level = r.scaleMin + ((level - src.scaleMin) / (src.scaleMax - src.scaleMin)) * span;
    }
    const entry: ExplainEntry = { evidenceId: ev.id, sourceKind: ev.source_kind, sourceId: ev.source_id, itemId: ev.item_id, attempt, observedAt: ev.observed_at, level: level === null ? null : round(level) };
    if (via) entry.via = via;
    if (truthy(ev.late)) entry.late = true;
    entries.push(entry);
    if (truthy(ev.exempt)) entry.excluded = 'exempt';
    else if (truthy(ev.missing)) {
      if (r.missing === 'zero') {
        entry.level = r.scaleMin;
        counted.push({ e: entry, level: r.scaleMin });
      } else entry.excluded = 'missing';
    } else if (level === null) entry.excluded = 'no score';
    else if (truthy(ev.late) && r.late === 'exclude') entry.excluded = 'late';
    else {
      if (truthy(ev.late) && typeof r.late === 'object') level = Math.max(r.scaleMin, level - r.late.penalty * span);
      entry.level = round(level);
      counted.push({ e: entry, level });
    }
  }

  const m = r.method;
  let level: number | null = null;
  let rule = '';
  let mastered = false;
  const n = counted.length;
  if (n) {
    const levels = counted.map((c) => c.level);
    switch (m.type) {
      case 'highest': {
        let best = 0;
        for (let i = 1; i < n; i++) if (levels[i] >= levels[best]) best = i;
        level = levels[best];
        counted.forEach((c, i) => (c.e.weight = i === best ? 1 : 0));
        rule = `highest of ${n} = ${round(level)}`;
        break;
      }
      case 'mostRecent':
        level = levels[n - 1];
        counted.forEach((c, i) => (c.e.weight = i === n - 1 ? 1 : 0));
        rule = `most recent of ${n} = ${round(level)}`;
        break;
      case 'meanOfLast': {
        const k = Math.min(m.n ?? 1, n);
        const last = levels.slice(n - k);
        level = last.reduce((a, b) => a + b, 0) / k;
        counted.forEach((c, i) => (c.e.weight = i >= n - k ? round(1 / k) : 0));
        rule = `mean of the last ${k} (${last.map(round).join(', ')}) = ${round(level)}`;
        break;
      }
      case 'decayingAverage': {
        const w = m.weight ?? 0.65;
        let v = levels[0];
        for (let i = 1; i < n; i++) v = w * levels[i] + (1 - w) * v;
        level = v;
        // Weight of each level in the result: the newest w, the one before w(1-w), ..., the oldest (1-w)^(n-1).
        counted.forEach((c, i) => (c.e.weight = round(i === 0 ? Math.pow(1 - w, n - 1) : w * Math.pow(1 - w, n - 1 - i))));
        rule = n === 1 ? `one level: ${round(v)}` : `oldest first, v = ${w} x next + ${round(1 - w)} x v over ${n} levels = ${round(v)}`;
        break;
      }
      case 'masteredTimes': {
        const need = m.n ?? 1;
        const order = levels.map((l, i) => [l, i] as const).sort((a, b) => b[0] - a[0] || b[1] - a[1]);
        const top = order.slice(0, Math.min(need, n));
        level = top.reduce((a, [l]) => a + l, 0) / top.length;
        const times = levels.filter((l) => l >= r.threshold).length;
        mastered = times >= need;
        const chosen = new Set(top.map(([, i]) => i));
        counted.forEach((c, i) => (c.e.weight = chosen.has(i) ? round(1 / top.length) : 0));
        rule = `${times} of ${n} levels at or above ${r.threshold} (${need} needed); level = mean of the ${top.length} highest = ${round(level)}`;
        break;
      }
    }
  }
  level = level === null ? null : round(level);
  const status: Status = level === null ? 'not_started' : (m.type === 'masteredTimes' ? mastered : level >= r.threshold) ? 'mastered' : 'in_progress';
  const listed = entries.length > MAX_LISTED ? entries.slice(entries.length - MAX_LISTED) : entries;
  const explain: Explain = {
    method: methodLabel(m), rule: rule || 'no counted evidence', scale: [r.scaleMin, r.scaleMax], threshold: r.threshold, level, status, counted: n, evidence: listed,
    ...(entries.length > MAX_LISTED ? { truncated: entries.length - MAX_LISTED } : {}),
  };
  return { level, status, counted: n, last: sorted.length ? sorted[sorted.length - 1].observed_at : null, explain };
}

/** The mastery row of a learner for a competency, or null when there is no evidence at all. */
export function masteryRow(tenantId: string, learnerId: string, target: ItemInfo, evidence: readonly EvidenceLike[], catalog: Pick<Catalog, 'items'>, at: string): MasteryRow | null {
  if (!evidence.length) return null;
  const m = computeMastery(target, evidence, catalog);
  return {
    tenant_id: tenantId, learner_id: learnerId, competency_id: target.id, framework_id: target.frameworkId, subject: target.subject,
    level: m.level, scale_min: target.rules.scaleMin, scale_max: target.rules.scaleMax, threshold: target.rules.threshold, status: m.status,
    method: methodLabel(target.rules.method), evidence_count: m.counted, last_evidence_at: m.last, explain: JSON.stringify(m.explain), updated_at: at,
  };
}

/** Computes every mastery row of one learner whose competency is in `targets` (or all reachable ones). */
export function learnerMastery(tenantId: string, learnerId: string, evidence: readonly EvidenceLike[], catalog: Catalog, at: string, targets?: ReadonlySet<string>): Map<string, MasteryRow | null> {
  const byComp = new Map<string, EvidenceLike[]>();
  for (const e of evidence) (byComp.get(e.competency_id) ?? byComp.set(e.competency_id, []).get(e.competency_id)!).push(e);
  const wanted = targets ?? new Set([...byComp.keys()].flatMap((c) => catalog.targets(c)));
  const out = new Map<string, MasteryRow | null>();
  for (const t of wanted) {
    const item = catalog.items.get(t);
    if (!item) continue;
    const ev: EvidenceLike[] = [];
    for (const c of catalog.contributors(t)) for (const e of byComp.get(c) ?? []) ev.push(e);
    out.set(t, masteryRow(tenantId, learnerId, item, ev, catalog, at));
  }
  return out;
}

const COMPARED = ['level', 'status', 'evidence_count', 'last_evidence_at', 'method', 'threshold', 'scale_min', 'scale_max', 'explain', 'framework_id', 'subject'] as const;
const DIFFED = ['level', 'status', 'evidence_count', 'method', 'threshold'] as const;

export interface WriteStats {
  created: number;
  updated: number;
  deleted: number;
  unchanged: number;
}

export interface MasteryChange {
  learnerId: string;
  competencyId: string;
  status: Status | null;
}

/**
 * Writes computed rows against the stored ones (same keys): inserts, updates only what changed, deletes rows whose
 * evidence is gone; every change goes to the change log (entity `mastery`, entity id = the learner, the diff names
 * the competency) in the caller's transaction.
 */
export async function writeMastery(
  trx: Knex.Transaction, tenantId: string, computed: ReadonlyMap<string, MasteryRow | null>, stored: ReadonlyMap<string, MasteryRow>,
  cause: { cause: string; runId?: string | null }, at: string,
): Promise<{ stats: WriteStats; changes: MasteryChange[] }> {
  const stats: WriteStats = { created: 0, updated: 0, deleted: 0, unchanged: 0 };
  const upserts: MasteryRow[] = [];
  const deletes: MasteryRow[] = [];
  const log: ChangeInput[] = [];
  const changes: MasteryChange[] = [];
  for (const [key, row] of computed) {
    const old = stored.get(key);
    if (!row) {
      if (old) {
        deletes.push(old);
        stats.deleted++;
        log.push({ entityType: 'mastery', entityId: old.learner_id, op: 'delete', cause: cause.cause, runId: cause.runId, diff: { competencyId: [old.competency_id, null], level: [old.level, null], status: [old.status, null] } });
        changes.push({ learnerId: old.learner_id, competencyId: old.competency_id, status: null });
      }
      continue;
    }
    if (old && COMPARED.every((c) => sameValue(old[c], row[c]))) {
      stats.unchanged++;
      continue;
    }
    upserts.push(row);
    const diff: Record<string, [unknown, unknown]> = { competencyId: [old ? row.competency_id : null, row.competency_id] };
    for (const c of DIFFED) if (!old || !sameValue(old[c], row[c])) diff[c] = [old ? old[c] : null, row[c]];
    log.push({ entityType: 'mastery', entityId: row.learner_id, op: old ? 'update' : 'create', cause: cause.cause, runId: cause.runId, diff });
    changes.push({ learnerId: row.learner_id, competencyId: row.competency_id, status: row.status });
    if (old) stats.updated++;
    else stats.created++;
  }
  for (let i = 0; i < upserts.length; i += 60) {
    await trx('mastery').insert(upserts.slice(i, i + 60)).onConflict(['tenant_id', 'learner_id', 'competency_id'])
      .merge(['framework_id', 'subject', 'level', 'scale_min', 'scale_max', 'threshold', 'status', 'method', 'evidence_count', 'last_evidence_at', 'explain', 'updated_at']);
  }
  for (const d of deletes) await trx('mastery').where({ tenant_id: tenantId, learner_id: d.learner_id, competency_id: d.competency_id }).delete();
  await appendChanges(trx, tenantId, log, at);
  return { stats, changes };
}

function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' || typeof b === 'number') return a !== null && b !== null && a !== undefined && b !== undefined ? Math.abs(Number(a) - Number(b)) < 1e-9 : a === b;
  return (a ?? null) === (b ?? null);
}
