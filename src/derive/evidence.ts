/**
 * Evidence: scores from any system, aligned to competencies and put on the competency framework's scale.
 *
 * Sources, and how each finds its competencies (all three ways add up):
 *   result             its line item's `alignment` (OneRoster 1.2 learning objectives, Ed-Fi learning standards),
 *                      `competencies.alignments` in the configuration (by line item id or source id, or a file), and
 *                      alignments made through the API. `learningObjectiveResults` give objective-level scores that
 *                      replace the line-item score for their competency.
 *   assessmentResult   each objective result: its own `alignment` (the interim vendor's standard codes), the objective
 *                      assessment record's alignment (Ed-Fi ObjectiveAssessment learning standards), config and API
 *                      alignments of (assessment, objective). The whole-assessment score counts for config/API
 *                      alignments of the assessment, and for its source alignment only when no objective did.
 *   Caliper events     scored events (GradeEvent, AssessmentItemEvent…) whose object (or its assignable) IRI is
 *                      aligned in config or through the API; the learner is the attempt's assignee (else the actor),
 *                      mapped to a person by `competencies.caliperActors`.
 *   external           staff-entered evidence (internships, community service…) through the API.
 *
 * A score maps linearly from its own scale [min, max] onto the framework's [scaleMin, scaleMax]. Exempt results are
 * kept as evidence with no level (mastery ignores them); missing work is kept with `missing` (mastery excludes it
 * or scores it at the bottom, per the rules); late work keeps its flag (mastery counts, excludes or penalises it).
 *
 * What cannot become evidence is an `evidence_problems` row, never a silent drop: an alignment to an unknown or
 * ambiguous competency, an unknown learner, a score outside its scale or without one. Re-deriving a source record
 * replaces its evidence and its problems together, in the caller's transaction.
 */
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type { Db } from '../store/db';
import type { LoadedConfig, TenantConfig } from '../core/config';
import { jsonFieldSql } from '../store/json-sql';
import type { Catalog } from './catalog';
import { readAlignmentFile } from './catalog';

export type SourceKind = 'result' | 'assessmentResult' | 'caliper' | 'external';

export interface EvidenceRow {
  tenant_id: string;
  id: string;
  learner_id: string;
  competency_id: string;
  framework_id: string;
  level: number | null;
  raw_score: number | null;
  raw_min: number | null;
  raw_max: number | null;
  attempt: number | null;
  observed_at: string;
  late: boolean;
  exempt: boolean;
  missing: boolean;
  source_kind: SourceKind;
  source_id: string;
  item_id: string | null;
  objective: string | null;
  connector_id: string | null;
  via: string;
  description: string | null;
  attachment_url: string | null;
  author: string | null;
  created_at: string;
}

export interface ProblemRow {
  tenant_id: string;
  source_kind: string;
  source_id: string;
  connector_id: string | null;
  code: 'competency_unknown' | 'learner_unknown' | 'score_out_of_scale' | 'crosswalk_cycle';
  field: string | null;
  ref: string | null;
  reason: string;
  at: string;
}

interface Ref {
  ref: string;
  source?: string;
  via: string;
  /** Where the alignment was declared (for the problem report). */
  where: string;
}

export const evidenceId = (...parts: (string | null | undefined)[]): string => createHash('sha256').update(parts.map((p) => p ?? '').join('\u0000')).digest('hex').slice(0, 32);

const round = (x: number): number => Math.round(x * 1e6) / 1e6;

/** Maps a raw score onto the item's framework scale. */
export function toScale(raw: number, min: number, max: number, scaleMin: number, scaleMax: number): number {
  return round(scaleMin + ((raw - min) / (max - min)) * (scaleMax - scaleMin));
}

type Data = Record<string, unknown>;
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
const alignmentRefs = (v: unknown, where: string): Ref[] =>
  Array.isArray(v) ? v.filter((a): a is { ref: string; source?: string } => !!a && typeof (a as Data).ref === 'string').map((a) => ({ ref: a.ref, source: a.source, via: 'source', where })) : [];

/**
 * Config and API alignments, compiled once per derive call: by unified id, by `connector\0sourceId`, by Caliper IRI.
 */
export class Aligner {
  private readonly lineItemById = new Map<string, Ref[]>();
  private readonly lineItemBySource = new Map<string, Ref[]>();
  private readonly assessmentById = new Map<string, Ref[]>();
  private readonly assessmentBySource = new Map<string, Ref[]>();
  private readonly caliper = new Map<string, Ref[]>();
  private apiCache = new Map<string, Ref[]>();

  constructor(private readonly knex: Knex, private readonly tenant: TenantConfig, config: LoadedConfig, tenantIndex: number) {
    const add = (m: Map<string, Ref[]>, k: string, refs: Ref[]) => m.set(k, [...(m.get(k) ?? []), ...refs]);
    (tenant.competencies?.alignments ?? []).forEach((a, i) => {
      const where = `$.tenants[${tenantIndex}].competencies.alignments[${i}]`;
      const refs = (a.competencies ?? []).map((ref) => ({ ref, via: 'config', where }));
      if (a.file) {
        const file = readAlignmentFile(config, a.file, where);
        for (const [sid, list] of Object.entries(file)) {
          const r = list.map((ref) => ({ ref, via: 'config', where: `${where}.file` }));
          if (a.connector) add(this.lineItemBySource, `${a.connector}\u0000${sid}`, r);
          else add(this.lineItemById, sid, r);
        }
      } else if (a.lineItem) {
        if (a.lineItem.id) add(this.lineItemById, a.lineItem.id, refs);
        else add(this.lineItemBySource, `${a.lineItem.connector}\u0000${a.lineItem.sourceId}`, refs);
      } else if (a.assessment) {
        const obj = a.objective ?? '';
        if (a.assessment.id) add(this.assessmentById, `${a.assessment.id}\u0000${obj}`, refs);
        else add(this.assessmentBySource, `${a.assessment.connector}\u0000${a.assessment.sourceId}\u0000${obj}`, refs);
      } else if (a.caliper) add(this.caliper, a.caliper, refs);
    });
  }

  get hasSourceKeyed(): boolean {
    return this.lineItemBySource.size > 0 || this.assessmentBySource.size > 0;
  }

  /** API alignments (table `alignments`) for these refs of a kind, loaded in one query per call. */
  async loadApi(kind: 'lineItem' | 'assessment' | 'objective' | 'caliper', refs: readonly string[]): Promise<void> {
    const missing = [...new Set(refs)].filter((r) => !this.apiCache.has(`${kind}\u0000${r}`));
    for (const r of missing) this.apiCache.set(`${kind}\u0000${r}`, []);
    for (let i = 0; i < missing.length; i += 500) {
      const rows = (await this.knex('alignments').where({ tenant_id: this.tenant.id, evidence_kind: kind }).whereIn('evidence_ref', missing.slice(i, i + 500))
        .select('id', 'evidence_ref', 'competency_id')) as { id: string; evidence_ref: string; competency_id: string }[];
      for (const r of rows) this.apiCache.get(`${kind}\u0000${r.evidence_ref}`)!.push({ ref: r.competency_id, via: 'api', where: `alignment ${r.id}` });
    }
  }

  api(kind: 'lineItem' | 'assessment' | 'objective' | 'caliper', ref: string): Ref[] {
    return this.apiCache.get(`${kind}\u0000${ref}`) ?? [];
  }

  lineItem(id: string, sources: readonly string[]): Ref[] {
    return [...(this.lineItemById.get(id) ?? []), ...sources.flatMap((s) => this.lineItemBySource.get(s) ?? []), ...this.api('lineItem', id)];
  }

  assessment(id: string, objective: string | undefined, sources: readonly string[]): Ref[] {
    const o = objective ?? '';
    return [
      ...(this.assessmentById.get(`${id}\u0000${o}`) ?? []),
      ...sources.flatMap((s) => this.assessmentBySource.get(`${s}\u0000${o}`) ?? []),
      ...this.api(objective === undefined ? 'assessment' : 'objective', objective === undefined ? id : `${id}|${objective}`),
    ];
  }

  caliperIri(iri: string): Ref[] {
    return [...(this.caliper.get(iri) ?? []), ...this.api('caliper', iri)];
  }
}

export interface DeriveEnv {
  db: Db;
  trx: Knex.Transaction;
  tenant: TenantConfig;
  catalog: Catalog;
  aligner: Aligner;
  at: string;
}

export interface Derived {
  evidence: EvidenceRow[];
  problems: ProblemRow[];
}

interface Pending {
  learner: string;
  kind: SourceKind;
  sourceId: string;
  connector: string | null;
  itemId: string | null;
  objective: string | null;
  attempt: number | null;
  observedAt: string;
  late: boolean;
  exempt: boolean;
  missing: boolean;
  score: { raw: number; min: number; max: number } | null;
  /** When the score could not be placed on a scale: why (a problem per aligned competency). */
  scaleProblem?: { field: string; reason: string };
}

/** Turns one scored observation + its alignments into evidence rows and problems. */
function emit(env: DeriveEnv, out: Derived, p: Pending, refs: Ref[]): number {
  let n = 0;
  const seen = new Set<string>();
  for (const r of refs) {
    const res = env.catalog.resolve(r.ref, r.source);
    if ('error' in res) {
      out.problems.push({
        tenant_id: env.tenant.id, source_kind: p.kind, source_id: p.sourceId, connector_id: p.connector, code: 'competency_unknown',
        field: r.where, ref: r.ref, reason: `${res.message} (aligned by ${r.via} at ${r.where})`, at: env.at,
      });
      continue;
    }
    if (seen.has(res.id)) continue;
    seen.add(res.id);
    const item = env.catalog.items.get(res.id)!;
    if (p.scaleProblem) {
      out.problems.push({ tenant_id: env.tenant.id, source_kind: p.kind, source_id: p.sourceId, connector_id: p.connector, code: 'score_out_of_scale', field: p.scaleProblem.field, ref: item.code ?? item.caseId, reason: p.scaleProblem.reason, at: env.at });
      continue;
    }
    const { rules } = item;
    out.evidence.push({
      tenant_id: env.tenant.id, id: evidenceId(p.kind, p.sourceId, res.id, p.objective), learner_id: p.learner, competency_id: res.id, framework_id: item.frameworkId,
      level: p.score ? toScale(p.score.raw, p.score.min, p.score.max, rules.scaleMin, rules.scaleMax) : null,
      raw_score: p.score?.raw ?? null, raw_min: p.score?.min ?? null, raw_max: p.score?.max ?? null, attempt: p.attempt, observed_at: p.observedAt,
      late: p.late, exempt: p.exempt, missing: p.missing, source_kind: p.kind, source_id: p.sourceId, item_id: p.itemId, objective: p.objective,
      connector_id: p.connector, via: r.via, description: null, attachment_url: null, author: null, created_at: env.at,
    });
    n++;
  }
  return n;
}

function checkScale(raw: number | undefined, min: number | undefined, max: number | undefined, field: string): Pick<Pending, 'score' | 'scaleProblem'> {
  if (raw === undefined) return { score: null };
  if (max === undefined || min === undefined || !(max > min)) {
    return { score: null, scaleProblem: { field, reason: `score ${raw} has no scale to be placed on (min ${min ?? '?'}, max ${max ?? '?'})` } };
  }
  if (raw < min || raw > max) return { score: null, scaleProblem: { field, reason: `score ${raw} is outside its scale ${min}..${max}` } };
  return { score: { raw, min, max } };
}

/** Source ids (`connector\0sourceId`) of unified records, for source-keyed config alignments. */
async function sourceKeys(env: DeriveEnv, type: string, ids: readonly string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (!env.aligner.hasSourceKeyed) return out;
  for (let i = 0; i < ids.length; i += 500) {
    const rows = (await env.trx('source_records').where({ tenant_id: env.tenant.id, entity_type: type }).whereIn('unified_id', ids.slice(i, i + 500))
      .select('connector_id', 'source_id', 'unified_id')) as { connector_id: string; source_id: string; unified_id: string }[];
    for (const r of rows) (out.get(r.unified_id) ?? out.set(r.unified_id, []).get(r.unified_id)!).push(`${r.connector_id}\u0000${r.source_id}`);
  }
  return out;
}

/** The connector that supplied each record (for provenance), first source wins. */
async function connectorsOf(trx: Knex.Transaction, tenantId: string, type: string, ids: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let i = 0; i < ids.length; i += 500) {
    const rows = (await trx('source_records').where({ tenant_id: tenantId, entity_type: type }).whereIn('unified_id', ids.slice(i, i + 500)).whereNull('deleted_at')
      .select('connector_id', 'unified_id')) as { connector_id: string; unified_id: string }[];
    for (const r of rows) if (!out.has(r.unified_id)) out.set(r.unified_id, r.connector_id);
  }
  return out;
}

async function loadRecords(trx: Knex.Transaction, tenantId: string, type: string, ids: readonly string[]): Promise<Map<string, Data>> {
  const out = new Map<string, Data>();
  for (let i = 0; i < ids.length; i += 500) {
    const rows = (await trx('records').where({ tenant_id: tenantId, entity_type: type }).whereIn('id', ids.slice(i, i + 500)).whereNull('deleted_at').select('id', 'data')) as { id: string; data: string }[];
    for (const r of rows) out.set(r.id, JSON.parse(r.data) as Data);
  }
  return out;
}

/** Evidence of gradebook results (already loaded records). */
export async function deriveResults(env: DeriveEnv, results: readonly { id: string; data: Data }[], lineItemCache?: Map<string, Data>): Promise<Derived> {
  const out: Derived = { evidence: [], problems: [] };
  if (!results.length) return out;
  const liIds = [...new Set(results.map((r) => String(r.data.lineItemId)))];
  const need = lineItemCache ? liIds.filter((id) => !lineItemCache.has(id)) : liIds;
  const loaded = await loadRecords(env.trx, env.tenant.id, 'lineItem', need);
  if (lineItemCache) for (const [k, v] of loaded) lineItemCache.set(k, v);
  const lineItems = lineItemCache ?? loaded;
  const liSources = await sourceKeys(env, 'lineItem', liIds);
  await env.aligner.loadApi('lineItem', liIds);
  const connectors = await connectorsOf(env.trx, env.tenant.id, 'result', results.map((r) => r.id));
  for (const { id, data: r } of results) {
    const li = lineItems.get(String(r.lineItemId));
    if (!li) continue;
    const refs = [...alignmentRefs(li.alignment, `lineItem ${String(r.lineItemId)} alignment`), ...env.aligner.lineItem(String(r.lineItemId), liSources.get(String(r.lineItemId)) ?? [])];
    const loResults = Array.isArray(r.learningObjectiveResults) ? (r.learningObjectiveResults as Data[]) : [];
    if (!refs.length && !loResults.length) continue;
    const status = String(r.scoreStatus);
    const exempt = status === 'exempt';
    const missing = status === 'not submitted' || r.missing === true;
    const min = num(li.resultValueMin) ?? 0;
    const max = num(li.resultValueMax);
    const base: Omit<Pending, 'score' | 'objective'> = {
      learner: String(r.personId), kind: 'result', sourceId: id, connector: connectors.get(id) ?? null, itemId: String(r.lineItemId), attempt: null,
      observedAt: str(r.scoreDate) ?? str(li.dueDate) ?? env.at, late: r.late === true, exempt, missing,
    };
    const raw = num(r.score);
    if (raw === undefined && !exempt && !missing) continue; // not graded yet: nothing observed
    const objectiveRefs = new Set<string>();
    for (const [k, lo] of loResults.entries()) {
      const loScore = num(lo.score);
      if (loScore === undefined && !exempt) continue;
      const sc = exempt ? { score: null } : checkScale(loScore, min, max, `learningObjectiveResults[${k}].score`);
      const ref = { ref: String(lo.ref), source: str(lo.source), via: 'source', where: `result learningObjectiveResults[${k}]` };
      objectiveRefs.add(ref.ref);
      emit(env, out, { ...base, ...sc, objective: String(lo.ref) }, [ref]);
    }
    const rest = refs.filter((x) => !objectiveRefs.has(x.ref));
    if (!rest.length) continue;
    const sc = exempt ? { score: null } : missing && raw === undefined ? { score: { raw: min, min, max: max ?? min + 1 } } : checkScale(raw, min, max, 'score');
    emit(env, out, { ...base, ...sc, objective: null }, rest);
  }
  return out;
}

interface AssessmentIndex {
  byId: Map<string, Data>;
  /** `${parentId}\0${identifier}` -> objective assessment id */
  objective: Map<string, string>;
}

const assessmentCache = new WeakMap<Knex, Map<string, { version: string; index: AssessmentIndex }>>();

/** Every assessment of the tenant (few: one per test, grade and objective), cached by version. */
async function assessmentIndex(env: DeriveEnv): Promise<AssessmentIndex> {
  const v = (await env.trx('records').where({ tenant_id: env.tenant.id, entity_type: 'assessment' }).max({ m: 'updated_seq' }).count({ n: '*' }).first()) as { m: unknown; n: unknown };
  const version = `${String(v.m)}:${String(v.n)}`;
  let m = assessmentCache.get(env.db.knex);
  if (!m) assessmentCache.set(env.db.knex, (m = new Map()));
  const hit = m.get(env.tenant.id);
  if (hit && hit.version === version) return hit.index;
  const rows = (await env.trx('records').where({ tenant_id: env.tenant.id, entity_type: 'assessment' }).whereNull('deleted_at').select('id', 'data')) as { id: string; data: string }[];
  const index: AssessmentIndex = { byId: new Map(), objective: new Map() };
  for (const r of rows) {
    const d = JSON.parse(r.data) as Data;
    index.byId.set(r.id, d);
    if (typeof d.parentId === 'string' && typeof d.identifier === 'string') index.objective.set(`${d.parentId}\u0000${d.identifier}`, r.id);
  }
  m.set(env.tenant.id, { version, index });
  return index;
}

/** The scale of a reported score: its own min/max, else the reporting method's on the (objective) assessment. */
function scoreScale(s: Data, ...assessments: (Data | undefined)[]): { min?: number; max?: number } {
  if (num(s.min) !== undefined && num(s.max) !== undefined) return { min: num(s.min), max: num(s.max) };
  const method = str(s.method)?.toLowerCase();
  for (const a of assessments) {
    const rm = Array.isArray(a?.reportingMethods) ? (a!.reportingMethods as Data[]) : [];
    const m = rm.find((x) => str(x.method)?.toLowerCase() === method);
    if (m && num(m.max) !== undefined) return { min: num(m.min) ?? 0, max: num(m.max) };
  }
  return {};
}

/** The first numeric score with a scale (raw, scale score...), else the first numeric one (reported as unscaled). */
function pickScore(scores: unknown, field: string, ...assessments: (Data | undefined)[]): Pick<Pending, 'score' | 'scaleProblem'> | undefined {
  const list = Array.isArray(scores) ? (scores as Data[]) : [];
  let firstNumeric: Pick<Pending, 'score' | 'scaleProblem'> | undefined;
  for (const [k, s] of list.entries()) {
    const raw = num(s.value);
    if (raw === undefined) continue;
    const { min, max } = scoreScale(s, ...assessments);
    const r = checkScale(raw, min, max, `${field}[${k}].value`);
    if (r.score) return r;
    if (!firstNumeric) firstNumeric = r;
  }
  return firstNumeric;
}

/** Evidence of assessment results (state tests, benchmarks), objective by objective. */
export async function deriveAssessmentResults(env: DeriveEnv, results: readonly { id: string; data: Data }[]): Promise<Derived> {
  const out: Derived = { evidence: [], problems: [] };
  if (!results.length) return out;
  const idx = await assessmentIndex(env);
  const aIds = [...new Set(results.map((r) => String(r.data.assessmentId)))];
  const aSources = await sourceKeys(env, 'assessment', aIds);
  await env.aligner.loadApi('assessment', aIds);
  const objKeys: string[] = [];
  for (const { data: r } of results) for (const o of (Array.isArray(r.objectiveResults) ? r.objectiveResults : []) as Data[]) objKeys.push(`${String(r.assessmentId)}|${String(o.objective)}`);
  await env.aligner.loadApi('objective', objKeys);
  const connectors = await connectorsOf(env.trx, env.tenant.id, 'assessmentResult', results.map((r) => r.id));
  for (const { id, data: r } of results) {
    const aId = String(r.assessmentId);
    const assessment = idx.byId.get(aId);
    const sources = aSources.get(aId) ?? [];
    const exempt = !!str(r.reasonNotTested) && !(Array.isArray(r.scores) && r.scores.length);
    const base = {
      learner: String(r.personId), kind: 'assessmentResult' as const, sourceId: id, connector: connectors.get(id) ?? null,
      attempt: typeof r.attemptNumber === 'number' ? r.attemptNumber : null, observedAt: str(r.administrationDate) ?? env.at, late: false, exempt, missing: false,
    };
    let objectiveEvidence = 0;
    for (const [k, o] of ((Array.isArray(r.objectiveResults) ? r.objectiveResults : []) as Data[]).entries()) {
      const code = String(o.objective);
      const objId = idx.objective.get(`${aId}\u0000${code}`);
      const objective = objId ? idx.byId.get(objId) : undefined;
      const refs = [
        ...alignmentRefs(o.alignment, `objectiveResults[${k}].alignment`),
        ...alignmentRefs(objective?.alignment, `objective assessment ${code} alignment`),
        ...env.aligner.assessment(aId, code, sources),
      ];
      if (!refs.length) continue;
      const sc = pickScore(o.scores, `objectiveResults[${k}].scores`, objective, assessment);
      if (!sc && !exempt) continue;
      objectiveEvidence += emit(env, out, { ...base, ...(sc ?? { score: null }), itemId: `${aId}|${code}`, objective: code }, refs);
    }
    const whole = [...env.aligner.assessment(aId, undefined, sources), ...(objectiveEvidence ? [] : alignmentRefs(assessment?.alignment, `assessment ${aId} alignment`)), ...alignmentRefs(r.alignment, 'alignment')];
    if (!whole.length) continue;
    const sc = pickScore(r.scores, 'scores', assessment);
    if (!sc && !exempt) continue;
    emit(env, out, { ...base, ...(sc ?? { score: null }), itemId: aId, objective: null }, whole);
  }
  return out;
}

export interface CaliperEventRow {
  event_id: string;
  event_type: string;
  actor_id: string;
  object_id: string;
  event_time: string;
  score_given: number | null;
  max_score: number | null;
  data: string;
}

const idOf = (v: unknown): string | undefined => (typeof v === 'string' ? v : v && typeof v === 'object' && typeof (v as Data).id === 'string' ? ((v as Data).id as string) : undefined);

/** Evidence of scored Caliper events whose object is aligned. */
export async function deriveCaliper(env: DeriveEnv, events: readonly CaliperEventRow[]): Promise<Derived> {
  const out: Derived = { evidence: [], problems: [] };
  const scored = events.filter((e) => e.score_given !== null);
  if (!scored.length) return out;
  const parsed = scored.map((e) => {
    const d = JSON.parse(e.data) as Data;
    const obj = d.object as Data | undefined;
    const assignable = obj && typeof obj === 'object' ? idOf(obj.assignable) : undefined;
    const learnerIri = (obj && typeof obj === 'object' ? idOf(obj.assignee) : undefined) ?? e.actor_id;
    return { e, d, iris: [e.object_id, ...(assignable ? [assignable] : [])], learnerIri };
  });
  await env.aligner.loadApi('caliper', parsed.flatMap((p) => p.iris));
  const actors = env.tenant.competencies?.caliperActors ?? [];
  const wanted: { connector: string; sourceId: string }[] = [];
  for (const p of parsed) for (const a of actors) if (p.learnerIri.startsWith(a.prefix)) wanted.push({ connector: a.connector, sourceId: p.learnerIri.slice(a.prefix.length) });
  const persons = new Map<string, string>();
  for (const w of wanted) {
    const k = `${w.connector}\u0000${w.sourceId}`;
    if (persons.has(k)) continue;
    const row = (await env.trx('source_records').where({ tenant_id: env.tenant.id, connector_id: w.connector, entity_type: 'person', source_id: w.sourceId }).whereNull('deleted_at').first('unified_id')) as { unified_id: string } | undefined;
    if (row) persons.set(k, row.unified_id);
  }
  for (const p of parsed) {
    const refs = p.iris.flatMap((iri) => env.aligner.caliperIri(iri).map((r) => ({ ...r, where: `${r.where} (${iri})` })));
    if (!refs.length) continue;
    const a = actors.find((x) => p.learnerIri.startsWith(x.prefix));
    const learner = a ? persons.get(`${a.connector}\u0000${p.learnerIri.slice(a.prefix.length)}`) : undefined;
    if (!learner) {
      out.problems.push({
        tenant_id: env.tenant.id, source_kind: 'caliper', source_id: p.e.event_id, connector_id: null, code: 'learner_unknown', field: 'object.assignee', ref: null,
        reason: a ? 'the learner IRI names no person of that connector' : 'the learner IRI matches no competencies.caliperActors prefix', at: env.at,
      });
      continue;
    }
    const sc = checkScale(p.e.score_given ?? undefined, 0, p.e.max_score ?? undefined, 'generated.scoreGiven');
    const attemptCount = num(((p.d.object as Data | undefined)?.count));
    emit(env, out, {
      learner, kind: 'caliper', sourceId: p.e.event_id, connector: null, itemId: p.iris[p.iris.length - 1], objective: null,
      attempt: attemptCount ?? null, observedAt: p.e.event_time, late: false, exempt: false, missing: false, ...sc,
    }, refs);
  }
  return out;
}

/** Results of line items / assessments (through the partial indexes of migration 005). */
export async function recordsReferring(env: DeriveEnv, type: 'result' | 'assessmentResult', ids: readonly string[]): Promise<{ id: string; data: Data }[]> {
  const field = type === 'result' ? 'lineItemId' : 'assessmentId';
  const expr = jsonFieldSql(env.db.dialect, field);
  const out: { id: string; data: Data }[] = [];
  for (let i = 0; i < ids.length; i += 500) {
    const part = ids.slice(i, i + 500);
    const rows = (await env.trx.raw(
      `select id, data from records where tenant_id = ? and entity_type = '${type}' and ${expr} in (${part.map(() => '?').join(',')}) and deleted_at is null`,
      [env.tenant.id, ...part],
    )) as { id: string; data: string }[] | { rows: { id: string; data: string }[] };
    for (const r of Array.isArray(rows) ? rows : rows.rows) out.push({ id: r.id, data: JSON.parse(r.data) as Data });
  }
  return out;
}

export async function loadByIds(env: DeriveEnv, type: string, ids: readonly string[]): Promise<{ id: string; data: Data }[]> {
  return [...(await loadRecords(env.trx, env.tenant.id, type, ids))].map(([id, data]) => ({ id, data }));
}

const EVIDENCE_COLS = 24;

/**
 * Replaces the evidence and problems of these source records with `derived`; returns the (learner, competency)
 * pairs touched (before and after).
 */
export async function replaceEvidence(env: DeriveEnv, kind: SourceKind, sourceIds: readonly string[], derived: Derived): Promise<Set<string>> {
  const touched = new Set<string>();
  for (let i = 0; i < sourceIds.length; i += 500) {
    const part = sourceIds.slice(i, i + 500);
    const old = (await env.trx('evidence').where({ tenant_id: env.tenant.id, source_kind: kind }).whereIn('source_id', part).select('learner_id', 'competency_id')) as { learner_id: string; competency_id: string }[];
    for (const o of old) touched.add(`${o.learner_id}\u0000${o.competency_id}`);
    if (old.length) await env.trx('evidence').where({ tenant_id: env.tenant.id, source_kind: kind }).whereIn('source_id', part).delete();
    await env.trx('evidence_problems').where({ tenant_id: env.tenant.id, source_kind: kind }).whereIn('source_id', part).delete();
  }
  await insertEvidence(env.trx, derived.evidence);
  await insertProblems(env.trx, derived.problems);
  for (const e of derived.evidence) touched.add(`${e.learner_id}\u0000${e.competency_id}`);
  return touched;
}

export async function insertEvidence(trx: Knex.Transaction, rows: readonly EvidenceRow[]): Promise<void> {
  // Two evidence rows for one (source, competency, objective) — e.g. a line item aligned twice — keep the first.
  const unique = [...new Map(rows.map((r) => [r.id, r])).values()];
  const per = Math.floor(900 / EVIDENCE_COLS) * 10;
  for (let i = 0; i < unique.length; i += per) await trx('evidence').insert(unique.slice(i, i + per)).onConflict(['tenant_id', 'id']).ignore();
}

export async function insertProblems(trx: Knex.Transaction, rows: readonly ProblemRow[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 300) await trx('evidence_problems').insert(rows.slice(i, i + 300));
}
