/**
 * The derive stage: evidence -> mastery -> credits, incrementally (the records a sync page or a Caliper envelope
 * changed) or for a whole tenant (`hub mastery recompute`, `POST /mastery/recompute`, a changed framework or
 * method). Each call is one transaction: evidence, problems, mastery, credits and their change-log entries commit
 * together or not at all. On PostgreSQL a per-tenant advisory lock serialises derives (SQLite has one writer).
 */
import type { Knex } from 'knex';
import type { Db } from '../store/db';
import type { LoadedConfig } from '../core/config';
import { HubError } from '../core/errors';
import { silentLogger, type Logger } from '../core/logger';
import { loadCatalog, type Catalog } from './catalog';
import {
  Aligner, deriveAssessmentResults, deriveCaliper, deriveResults, insertEvidence, insertProblems, loadByIds, recordsReferring, replaceEvidence,
  type CaliperEventRow, type DeriveEnv, type Derived, type SourceKind,
} from './evidence';
import { learnerMastery, writeMastery, type EvidenceLike, type MasteryRow, type WriteStats } from './mastery';
import { decideCredits, loadRequirements, type Requirements } from './credit';

export interface DeriveDeps {
  db: Db;
  config: LoadedConfig;
  log?: Logger;
}

export interface DeriveCause {
  cause: string;
  runId?: string | null;
}

export interface DeriveOutcome {
  evidence: number;
  problems: number;
  learners: number;
  mastery: WriteStats;
  credits: { awarded: number; revoked: number };
  /** Phases of a full recompute, in ms. */
  timings?: { evidenceMs: number; masteryMs: number; creditsMs: number };
  durationMs: number;
}

/** The unified entity types whose changes can change evidence. */
export const EVIDENCE_TYPES = ['result', 'lineItem', 'assessmentResult', 'assessment'] as const;
export const COMPETENCY_TYPES = ['competencyFramework', 'competencyItem', 'competencyAssociation'] as const;

const PG_LOCK_CLASS = 0x4d415354; // 'MAST'

async function lockTenant(db: Db, trx: Knex.Transaction, tenantId: string): Promise<void> {
  if (db.dialect === 'pg') await trx.raw('select pg_advisory_xact_lock(?, hashtext(?))', [PG_LOCK_CLASS, tenantId]);
}

async function envFor(deps: DeriveDeps, trx: Knex.Transaction, tenantId: string, at: string): Promise<DeriveEnv & { requirements: Requirements }> {
  const ti = deps.config.config.tenants.findIndex((t) => t.id === tenantId);
  if (ti < 0) throw new HubError('not_found', `No tenant '${tenantId}' is configured.`, [{ path: 'tenant', message: 'unknown' }]);
  const tenant = deps.config.config.tenants[ti];
  const catalog = await loadCatalog(deps.db, deps.config, tenantId, trx);
  catalog.assertNoCycle();
  const aligner = new Aligner(trx, tenant, deps.config, ti);
  const requirements = await loadRequirements(trx, tenant, ti, catalog);
  return { db: deps.db, trx, tenant, catalog, aligner, at, requirements };
}

const zero = (): WriteStats => ({ created: 0, updated: 0, deleted: 0, unchanged: 0 });
const add = (a: WriteStats, b: WriteStats) => {
  a.created += b.created;
  a.updated += b.updated;
  a.deleted += b.deleted;
  a.unchanged += b.unchanged;
};

const EV_COLS = ['id', 'learner_id', 'competency_id', 'level', 'raw_score', 'raw_max', 'attempt', 'observed_at', 'late', 'exempt', 'missing', 'source_kind', 'source_id', 'item_id', 'objective'];

/**
 * Recomputes mastery for learners: `targets` per learner (null = every competency their evidence reaches, and every
 * stored row, so rows whose evidence vanished are deleted). Then re-decides their credits.
 */
async function recomputeLearners(
  env: DeriveEnv & { requirements: Requirements }, targets: Map<string, Set<string> | null>, cause: DeriveCause, stats: DeriveOutcome,
): Promise<void> {
  const { trx, tenant, catalog, at } = env;
  const learners = [...targets.keys()];
  const creditPairs = new Map<string, Set<string>>();
  for (let i = 0; i < learners.length; i += 400) {
    const part = learners.slice(i, i + 400);
    const evRows = (await trx('evidence').where({ tenant_id: tenant.id }).whereIn('learner_id', part).select(EV_COLS)) as (EvidenceLike & { learner_id: string })[];
    const byLearner = new Map<string, EvidenceLike[]>();
    for (const e of evRows) (byLearner.get(e.learner_id) ?? byLearner.set(e.learner_id, []).get(e.learner_id)!).push(e);
    const storedRows = (await trx('mastery').where({ tenant_id: tenant.id }).whereIn('learner_id', part)) as MasteryRow[];
    const stored = new Map<string, MasteryRow>();
    const storedBy = new Map<string, MasteryRow[]>();
    for (const s of storedRows) {
      stored.set(`${s.learner_id}\u0000${s.competency_id}`, s);
      (storedBy.get(s.learner_id) ?? storedBy.set(s.learner_id, []).get(s.learner_id)!).push(s);
    }
    const computed = new Map<string, MasteryRow | null>();
    for (const l of part) {
      const want = targets.get(l) ?? null;
      const rows = learnerMastery(tenant.id, l, byLearner.get(l) ?? [], catalog, at, want ?? undefined);
      for (const [c, r] of rows) computed.set(`${l}\u0000${c}`, r);
      // Stored rows not reached any more (evidence gone, competency deleted): deleted.
      for (const s of storedBy.get(l) ?? []) {
        const k = `${l}\u0000${s.competency_id}`;
        if (!computed.has(k) && (want === null || want.has(s.competency_id))) computed.set(k, null);
      }
    }
    const { stats: w, changes } = await writeMastery(trx, tenant.id, computed, stored, cause, at);
    add(stats.mastery, w);
    for (const ch of changes) {
      for (const course of env.requirements.byCompetency.get(ch.competencyId) ?? []) (creditPairs.get(ch.learnerId) ?? creditPairs.set(ch.learnerId, new Set()).get(ch.learnerId)!).add(course);
    }
  }
  stats.learners += learners.length;
  const c = await decideCredits(trx, tenant.id, env.requirements, creditPairs, catalog, cause, at);
  stats.credits.awarded += c.awarded;
  stats.credits.revoked += c.revoked;
}

function targetsOfPairs(catalog: Catalog, pairs: Iterable<string>): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const p of pairs) {
    const [learner, comp] = p.split('\u0000');
    const set = out.get(learner) ?? out.set(learner, new Set()).get(learner)!;
    const reach = catalog.targets(comp);
    if (reach.length) for (const t of reach) set.add(t);
    else set.add(comp); // a competency no longer in the catalog: its stored row is deleted
  }
  return out;
}

function newOutcome(): DeriveOutcome {
  return { evidence: 0, problems: 0, learners: 0, mastery: zero(), credits: { awarded: 0, revoked: 0 }, durationMs: 0 };
}

/** Derives what these changed records (by entity type) imply: their evidence, then the mastery it touches. */
export async function deriveChanged(deps: DeriveDeps, tenantId: string, changed: ReadonlyMap<string, readonly string[]>, cause: DeriveCause): Promise<DeriveOutcome | null> {
  const has = (t: string) => (changed.get(t)?.length ?? 0) > 0;
  if (!EVIDENCE_TYPES.some(has)) return null;
  const t0 = Date.now();
  const out = newOutcome();
  const at = new Date().toISOString();
  await deps.db.knex.transaction(async (trx) => {
    await lockTenant(deps.db, trx, tenantId);
    const env = await envFor(deps, trx, tenantId, at);
    if (!env.catalog.items.size) return;
    const touched = new Set<string>();
    const run = async (kind: SourceKind, ids: string[], derive: (rows: { id: string; data: Record<string, unknown> }[]) => Promise<Derived>, rows: { id: string; data: Record<string, unknown> }[]) => {
      if (!ids.length) return;
      const d = await derive(rows);
      out.evidence += d.evidence.length;
      out.problems += d.problems.length;
      for (const p of await replaceEvidence(env, kind, ids, d)) touched.add(p);
    };
    // The changed results, plus the results of changed line items (their scale or alignment may have changed);
    // the same for assessment results and assessments.
    const withReferring = async (type: 'result' | 'assessmentResult', parent: 'lineItem' | 'assessment') => {
      const ids = new Set(changed.get(type) ?? []);
      const rows = await loadByIds(env, type, [...ids]);
      for (const r of await recordsReferring(env, type, changed.get(parent) ?? [])) if (!ids.has(r.id)) {
        ids.add(r.id);
        rows.push(r);
      }
      return { ids: [...ids], rows };
    };
    const results = await withReferring('result', 'lineItem');
    await run('result', results.ids, (rows) => deriveResults(env, rows), results.rows);
    const ars = await withReferring('assessmentResult', 'assessment');
    await run('assessmentResult', ars.ids, (rows) => deriveAssessmentResults(env, rows), ars.rows);
    if (touched.size) await recomputeLearners(env, targetsOfPairs(env.catalog, touched), cause, out);
  });
  out.durationMs = Date.now() - t0;
  return out;
}

/** Derives stored Caliper events (by event id) into evidence and mastery. */
export async function deriveCaliperEvents(deps: DeriveDeps, tenantId: string, eventIds: readonly string[], cause: DeriveCause): Promise<DeriveOutcome | null> {
  if (!eventIds.length) return null;
  const t0 = Date.now();
  const out = newOutcome();
  const at = new Date().toISOString();
  await deps.db.knex.transaction(async (trx) => {
    await lockTenant(deps.db, trx, tenantId);
    const env = await envFor(deps, trx, tenantId, at);
    if (!env.catalog.items.size) return;
    const rows: CaliperEventRow[] = [];
    for (let i = 0; i < eventIds.length; i += 500) {
      rows.push(...((await trx('learning_events').where({ tenant_id: tenantId }).whereIn('event_id', eventIds.slice(i, i + 500)).whereNotNull('score_given')
        .select('event_id', 'event_type', 'actor_id', 'object_id', 'event_time', 'score_given', 'max_score', 'data')) as CaliperEventRow[]));
    }
    if (!rows.length) return;
    const d = await deriveCaliper(env, rows);
    out.evidence = d.evidence.length;
    out.problems = d.problems.length;
    const touched = await replaceEvidence(env, 'caliper', rows.map((r) => r.event_id), d);
    if (touched.size) await recomputeLearners(env, targetsOfPairs(env.catalog, touched), cause, out);
  });
  out.durationMs = Date.now() - t0;
  return out;
}

/** Recomputes mastery (and credits) for these learners from their stored evidence, e.g. after external evidence. */
export async function recomputeForLearners(deps: DeriveDeps, tenantId: string, learnerIds: readonly string[], cause: DeriveCause, trx?: Knex.Transaction): Promise<DeriveOutcome> {
  const t0 = Date.now();
  const out = newOutcome();
  const work = async (t: Knex.Transaction) => {
    await lockTenant(deps.db, t, tenantId);
    const env = await envFor(deps, t, tenantId, new Date().toISOString());
    await recomputeLearners(env, new Map(learnerIds.map((l) => [l, null])), cause, out);
  };
  if (trx) await work(trx);
  else await deps.db.knex.transaction(work);
  out.durationMs = Date.now() - t0;
  return out;
}

/**
 * The whole tenant: evidence re-derived from every result, assessment result and scored Caliper event (staff-entered
 * evidence is kept), then mastery for every learner with evidence or a stored row, then credits. `evidence: false`
 * keeps the stored evidence and recomputes mastery only (a method or threshold change).
 */
export async function recomputeTenant(deps: DeriveDeps, tenantId: string, opts: { cause?: string; runId?: string | null; evidence?: boolean } = {}): Promise<DeriveOutcome> {
  const log = deps.log ?? silentLogger;
  const t0 = Date.now();
  const out = newOutcome();
  const cause: DeriveCause = { cause: opts.cause ?? 'recompute', runId: opts.runId ?? null };
  const at = new Date().toISOString();
  await deps.db.knex.transaction(async (trx) => {
    await lockTenant(deps.db, trx, tenantId);
    const env = await envFor(deps, trx, tenantId, at);
    let tEv = Date.now();
    if (opts.evidence !== false) {
      await trx('evidence').where({ tenant_id: tenantId }).whereNot('source_kind', 'external').delete();
      await trx('evidence_problems').where({ tenant_id: tenantId }).delete();
      const lineItems = new Map<string, Record<string, unknown>>();
      for (const [type, derive] of [
        ['result', (rows: { id: string; data: Record<string, unknown> }[]) => deriveResults(env, rows, lineItems)],
        ['assessmentResult', (rows: { id: string; data: Record<string, unknown> }[]) => deriveAssessmentResults(env, rows)],
      ] as const) {
        let after = '';
        for (;;) {
          const rows = (await trx('records').where({ tenant_id: tenantId, entity_type: type }).whereNull('deleted_at').where('id', '>', after).orderBy('id').limit(5000).select('id', 'data')) as { id: string; data: string }[];
          if (!rows.length) break;
          after = rows[rows.length - 1].id;
          const d = await derive(rows.map((r) => ({ id: r.id, data: JSON.parse(r.data) as Record<string, unknown> })));
          await insertEvidence(trx, d.evidence);
          await insertProblems(trx, d.problems);
          out.evidence += d.evidence.length;
          out.problems += d.problems.length;
        }
      }
      let afterSeq = 0;
      for (;;) {
        const rows = (await trx('learning_events').where({ tenant_id: tenantId }).where('seq', '>', afterSeq).whereNotNull('score_given').orderBy('seq').limit(5000)
          .select('seq', 'event_id', 'event_type', 'actor_id', 'object_id', 'event_time', 'score_given', 'max_score', 'data')) as (CaliperEventRow & { seq: number })[];
        if (!rows.length) break;
        afterSeq = Number(rows[rows.length - 1].seq);
        const d = await deriveCaliper(env, rows);
        await insertEvidence(trx, d.evidence);
        await insertProblems(trx, d.problems);
        out.evidence += d.evidence.length;
        out.problems += d.problems.length;
      }
    } else {
      out.evidence = Number(((await trx('evidence').where({ tenant_id: tenantId }).count({ n: '*' })) as { n: number | string }[])[0].n);
    }
    tEv = Date.now() - tEv;
    const tM0 = Date.now();
    const learners = new Set<string>();
    for (const r of (await trx('evidence').where({ tenant_id: tenantId }).distinct('learner_id')) as { learner_id: string }[]) learners.add(r.learner_id);
    for (const r of (await trx('mastery').where({ tenant_id: tenantId }).distinct('learner_id')) as { learner_id: string }[]) learners.add(r.learner_id);
    await recomputeLearners(env, new Map([...learners].sort().map((l) => [l, null])), cause, out);
    const masteryMs = Date.now() - tM0;
    const tC0 = Date.now();
    // Credits: learners whose mastery did not change are re-decided too (requirements may have changed).
    const pairs = new Map<string, Set<string>>();
    const required = [...env.requirements.byCompetency.keys()];
    for (let i = 0; i < required.length; i += 500) {
      for (const r of (await trx('mastery').where({ tenant_id: tenantId }).whereIn('competency_id', required.slice(i, i + 500)).select('learner_id', 'competency_id')) as { learner_id: string; competency_id: string }[]) {
        for (const c of env.requirements.byCompetency.get(r.competency_id) ?? []) (pairs.get(r.learner_id) ?? pairs.set(r.learner_id, new Set()).get(r.learner_id)!).add(c);
      }
    }
    for (const r of (await trx('credits').where({ tenant_id: tenantId, status: 'awarded' }).select('learner_id', 'course_id')) as { learner_id: string; course_id: string }[]) {
      (pairs.get(r.learner_id) ?? pairs.set(r.learner_id, new Set()).get(r.learner_id)!).add(r.course_id);
    }
    const c = await decideCredits(trx, tenantId, env.requirements, pairs, env.catalog, cause, at);
    out.credits = { awarded: out.credits.awarded + c.awarded, revoked: out.credits.revoked + c.revoked };
    out.timings = { evidenceMs: tEv, masteryMs, creditsMs: Date.now() - tC0 };
  });
  out.durationMs = Date.now() - t0;
  log.info({ tenant: tenantId, evidence: out.evidence, problems: out.problems, learners: out.learners, ...out.mastery, durationMs: out.durationMs }, 'mastery recomputed');
  return out;
}
