/**
 * Identity resolution: which unified person each source person is.
 *
 * Order of rules (per tenant, per connector overrides in config `identity`):
 *  1. at ingest, exact match on strong identifiers (state id, SIS id, `identifier`, LTI sub...) — persons.ts;
 *  2. at the end of a run, for source persons still provisional: exact e-mail when the district says e-mails are
 *     unique, then a scored match on normalized names (accents, hyphens, nicknames, typos, swapped order), birth date,
 *     middle name, grade and sex, among candidates that share a blocking key;
 *  3. score >= thresholds.link (and no second candidate in the review band): link; >= thresholds.review: a match
 *     candidate in the review queue, with the evidence; below: a new person.
 * Every link is an identity decision (who/what, when, why), reversible by unmerge. Decisions survive re-syncs:
 * a source person pinned by an operator ('manual') is never re-matched, and a rejected pair is never proposed again.
 */
import { randomBytes } from 'node:crypto';
import type { Db } from '../store/db';
import { HubError } from '../core/errors';
import { ingestTx } from './ports';
import { newUnifiedId, nowIso } from './canonical';
import { blockingKeys, featuresOf, lookupKeys, mergeFeatures, scorePair, type PersonFeatures } from './match';
import { recomputePersons, reresolveMovedRefs, type IdentitySettings } from './persons';
import type { Knex } from 'knex';

export interface MatchStats {
  connectorId: string;
  considered: number;
  linked: number;
  review: number;
  created: number;
  conflicts: number;
  /** Time spent matching and linking after the run's pages were committed. */
  durationMs?: number;
}

const newId = (p: string) => `${p}_${Date.now().toString(36)}${randomBytes(5).toString('hex')}`;

interface SourcePerson {
  connector_id: string;
  source_id: string;
  unified_id: string;
  data: string | null;
  match_state: string | null;
  match_rule: string | null;
}

/** Birth dates and sex per unified person, from its demographics records. */
async function demographicsByPerson(db: Db, tenantId: string): Promise<Map<string, { birthDates: string[]; sex: string[] }>> {
  const out = new Map<string, { birthDates: string[]; sex: string[] }>();
  const rows = (await db.knex('records').where({ tenant_id: tenantId, entity_type: 'demographics' }).whereNull('deleted_at').select('data')) as { data: string }[];
  for (const r of rows) {
    const d = JSON.parse(r.data) as { personId: string; birthDate?: string; sex?: string };
    const e = out.get(d.personId) ?? { birthDates: [], sex: [] };
    if (d.birthDate && !e.birthDates.includes(d.birthDate)) e.birthDates.push(d.birthDate);
    if (d.sex && d.sex !== 'unspecified' && !e.sex.includes(d.sex)) e.sex.push(d.sex);
    out.set(d.personId, e);
  }
  return out;
}

export async function resolveIdentities(db: Db, opts: { tenantId: string; connectorId: string; runId: string | null; identity?: IdentitySettings; by?: string }): Promise<MatchStats> {
  const t0 = Date.now();
  const stats = await resolve(db, opts);
  stats.durationMs = Date.now() - t0;
  return stats;
}

/** Match states of source persons this pass decides: not linked at ingest, or claimed by several persons. */
const PENDING = ['provisional', 'conflict'];

async function resolve(db: Db, opts: { tenantId: string; connectorId: string; runId: string | null; identity?: IdentitySettings; by?: string }): Promise<MatchStats> {
  const { tenantId, connectorId, identity } = opts;
  const stats: MatchStats = { connectorId, considered: 0, linked: 0, review: 0, created: 0, conflicts: 0 };
  const linkAt = identity?.thresholds?.link ?? 0.95;
  const reviewAt = identity?.thresholds?.review ?? 0.6;
  const others = await db.knex('source_records').where({ tenant_id: tenantId, entity_type: 'person' }).whereNot('connector_id', connectorId).whereNull('deleted_at').first('source_id');
  if (!others) {
    // Nobody else to match against: every provisional source person is a new learner (no features loaded).
    const n = await db.knex('source_records').where({ tenant_id: tenantId, connector_id: connectorId, entity_type: 'person', match_state: 'provisional' }).update({ match_state: 'new', match_rule: 'only system' });
    stats.considered = stats.created = Number(n);
    return stats;
  }
  // Nothing left to match (every new source person was linked at ingest by a strong identifier, the usual case for a
  // state or assessment export): done, without loading every person of the tenant (~30 ms at 15k persons).
  const anyPending = await db.knex('source_records').where({ tenant_id: tenantId, connector_id: connectorId, entity_type: 'person' }).whereIn('match_state', PENDING).whereNull('deleted_at').first('source_id');
  if (!anyPending) return stats;
  const all = (await db.knex('source_records').where({ tenant_id: tenantId, entity_type: 'person' }).whereNull('deleted_at')
    .select('connector_id', 'source_id', 'unified_id', 'data', 'match_state', 'match_rule')) as SourcePerson[];
  const pending = all.filter((s) => s.connector_id === connectorId && PENDING.includes(s.match_state ?? ''));
  const demo = await demographicsByPerson(db, tenantId);

  // Features per unified person (every source's names, e-mails...), the connectors it has, and blocking indices.
  // Only persons with no source from this connector can be candidates (one source per system per person); the
  // pending ones are kept for their own features. A single-system tenant therefore builds no index at all.
  const withThisConnector = new Set(all.filter((s) => s.connector_id === connectorId).map((s) => s.unified_id));
  const pendingIds = new Set(pending.map((s) => s.unified_id));
  const byPerson = new Map<string, { features: PersonFeatures[]; connectors: Set<string> }>();
  for (const s of all) {
    if (!s.data) continue;
    if (withThisConnector.has(s.unified_id) && !pendingIds.has(s.unified_id)) continue;
    const e = byPerson.get(s.unified_id) ?? { features: [], connectors: new Set<string>() };
    e.features.push(featuresOf(JSON.parse(s.data) as Record<string, unknown>, demo.get(s.unified_id)));
    e.connectors.add(s.connector_id);
    byPerson.set(s.unified_id, e);
  }
  const merged = new Map<string, PersonFeatures>();
  const index = new Map<string, string[]>();
  for (const [id, e] of byPerson) {
    const f = mergeFeatures(e.features);
    merged.set(id, f);
    if (e.connectors.has(connectorId)) continue; // not a candidate for this connector's persons
    for (const k of blockingKeys(f)) (index.get(k) ?? index.set(k, []).get(k)!).push(id);
  }
  const rejected = new Set(
    ((await db.knex('match_candidates').where({ tenant_id: tenantId, connector_id: connectorId }).whereIn('status', ['rejected', 'open']).select('source_id', 'candidate_id', 'status')) as { source_id: string; candidate_id: string; status: string }[])
      .map((r) => `${r.source_id}\u0000${r.candidate_id}\u0000${r.status}`),
  );
  const isRejected = (sid: string, cid: string) => rejected.has(`${sid}\u0000${cid}\u0000rejected`);
  const isOpen = (sid: string, cid: string) => rejected.has(`${sid}\u0000${cid}\u0000open`);
  const emailsUnique = identity?.emailsUnique === true;

  const links: { source: SourcePerson; to: string; score: number; rule: string; evidence: unknown }[] = [];
  const candidates: { source: SourcePerson; to: string; score: number; evidence: unknown }[] = [];
  const finals: { source: SourcePerson; state: string; rule: string | null; score: number | null }[] = [];

  for (const s of pending) {
    stats.considered++;
    const own = merged.get(s.unified_id) ?? featuresOf({}, {});
    if (s.match_state === 'conflict') {
      // Two or more persons claim this source person's strong identifier: never linked automatically.
      stats.conflicts++;
      const claimed = (s.match_rule ?? '').replace(/^conflict:/, '').split(',').filter(Boolean);
      for (const c of claimed) if (!isRejected(s.source_id, c) && !isOpen(s.source_id, c)) candidates.push({ source: s, to: c, score: 0.5, evidence: { rule: 'conflicting strong identifiers', persons: claimed } });
      finals.push({ source: s, state: 'review', rule: s.match_rule, score: null });
      stats.review++;
      continue;
    }
    const pool = new Set<string>();
    for (const k of lookupKeys(own)) for (const id of index.get(k) ?? []) pool.add(id);
    const scored: { id: string; score: number; evidence: Record<string, string>; rule: string }[] = [];
    for (const id of pool) {
      if (id === s.unified_id) continue;
      const other = byPerson.get(id);
      if (!other || other.connectors.has(connectorId)) continue; // one source per system per person
      if (isRejected(s.source_id, id)) continue;
      const f = merged.get(id)!;
      if (emailsUnique && own.emails.length && own.emails.some((e) => f.emails.includes(e))) {
        scored.push({ id, score: 1, evidence: { email: 'equal (emails are unique in this district)' }, rule: 'exact:email' });
        continue;
      }
      const r = scorePair(own, f);
      scored.push({ id, score: r.score, evidence: r.evidence, rule: 'score' });
    }
    scored.sort((a, b) => b.score - a.score);
    const [best, second] = scored;
    if (best && best.score >= linkAt && !(second && second.score >= reviewAt)) {
      links.push({ source: s, to: best.id, score: best.score, rule: best.rule === 'score' ? `score:${best.score}` : best.rule, evidence: best.evidence });
      stats.linked++;
    } else if (best && best.score >= reviewAt) {
      for (const c of scored.filter((x) => x.score >= reviewAt).slice(0, 3)) {
        if (!isOpen(s.source_id, c.id)) candidates.push({ source: s, to: c.id, score: c.score, evidence: { rule: 'score', ...c.evidence } });
      }
      finals.push({ source: s, state: 'review', rule: `score:${best.score}`, score: best.score });
      stats.review++;
    } else {
      finals.push({ source: s, state: 'new', rule: best ? `best score ${best.score}` : 'no candidate', score: best?.score ?? null });
      stats.created++;
    }
  }

  const at = nowIso();
  const by = opts.by ?? 'resolver';
  if (links.length) {
    // One transaction: references are re-resolved in one pass over each referencing type.
    await db.knex.transaction(async (trx) => {
      const moves = links.map((l) => ({ connectorId: l.source.connector_id, sourceId: l.source.source_id, from: l.source.unified_id, to: l.to, rule: l.rule, score: l.score, evidence: l.evidence }));
      await moveSources(db, trx, tenantId, opts.runId, at, moves, identity, 'auto_link', by, null);
    });
  }
  await db.knex.transaction(async (trx) => {
    for (const f of finals) {
      await trx('source_records').where({ tenant_id: tenantId, connector_id: f.source.connector_id, entity_type: 'person', source_id: f.source.source_id })
        .update({ match_state: f.state, match_rule: f.rule?.slice(0, 64) ?? null, match_score: f.score });
    }
    for (const c of candidates) {
      await trx('match_candidates').insert({
        id: newId('mc'), tenant_id: tenantId, connector_id: c.source.connector_id, source_id: c.source.source_id, person_id: c.source.unified_id,
        candidate_id: c.to, score: c.score, evidence: JSON.stringify(c.evidence), status: 'open', created_at: at,
      });
    }
  });
  return stats;
}

export interface Move {
  connectorId: string;
  sourceId: string;
  from: string;
  to: string;
  rule: string;
  score: number | null;
  evidence?: unknown;
}

/**
 * Moves source persons to other unified persons, in the caller's transaction: landing rows, identifier index,
 * merged records (an emptied person ends as op 'merge' into the target), references from every other record, and
 * one identity decision per target with what it moved — enough to reverse it exactly.
 */
export async function moveSources(
  db: Db, trx: Knex.Transaction, tenantId: string, runId: string | null, at: string, moves: Move[], identity: IdentitySettings | undefined,
  kind: 'auto_link' | 'merge' | 'accept' | 'unmerge', by: string, reason: string | null,
): Promise<string[]> {
  const tx = await ingestTx(db.dialect, trx);
  const state = kind === 'unmerge' ? 'manual' : kind === 'auto_link' ? 'linked' : 'manual';
  await tx.moveSourcePersons(tenantId, moves.map((m) => ({ connectorId: m.connectorId, sourceId: m.sourceId, to: m.to, state, rule: m.rule.slice(0, 64), score: m.score })));
  const affected = [...new Set(moves.flatMap((m) => [m.from, m.to]))];
  const mergedInto = new Map<string, string>();
  if (kind !== 'unmerge') for (const m of moves) mergedInto.set(m.from, m.to);
  const cause = kind === 'auto_link' ? 'merge' : kind;
  await recomputePersons(tx, { tenantId, runId, at, cause, precedence: identity?.precedence, mergedInto }, affected);
  await reresolveMovedRefs(tx, { tenantId, runId, at, cause, precedence: identity?.precedence }, moves);
  const decisions: string[] = [];
  const byTarget = new Map<string, Move[]>();
  for (const m of moves) (byTarget.get(m.to) ?? byTarget.set(m.to, []).get(m.to)!).push(m);
  const rows = [...byTarget].map(([to, ms]) => {
    const id = newId('idd');
    decisions.push(id);
    return {
      id, tenant_id: tenantId, kind, person_id: kind === 'unmerge' ? ms[0].from : to, other_id: kind === 'unmerge' ? to : ms[0].from,
      payload: JSON.stringify({ moved: ms }), run_id: runId, decided_by: by, decided_at: at, reason,
    };
  });
  for (let i = 0; i < rows.length; i += 100) await trx('identity_decisions').insert(rows.slice(i, i + 100));
  return decisions;
}

/** Merges person `other` into `into` (an operator's decision): every live source of `other` moves. */
export async function mergePersons(db: Db, tenantId: string, into: string, other: string, by: string, reason: string | null, identity?: IdentitySettings): Promise<string> {
  if (into === other) throw new HubError('bad_request', 'A person cannot be merged into itself.', [{ path: 'otherId', message: 'same as the target' }]);
  return db.knex.transaction(async (trx) => {
    const target = await trx('records').where({ tenant_id: tenantId, entity_type: 'person', id: into }).whereNull('deleted_at').first();
    if (!target) throw new HubError('not_found', `No person '${into}'.`);
    const sources = (await trx('source_records').where({ tenant_id: tenantId, entity_type: 'person', unified_id: other }).whereNull('deleted_at').select('connector_id', 'source_id')) as { connector_id: string; source_id: string }[];
    if (!sources.length) throw new HubError('not_found', `No person '${other}' (or it has no live source).`);
    const moves = sources.map((s) => ({ connectorId: s.connector_id, sourceId: s.source_id, from: other, to: into, rule: 'manual merge', score: null }));
    const [decision] = await moveSources(db, trx, tenantId, null, nowIso(), moves, identity, 'merge', by, reason);
    await trx('match_candidates').where({ tenant_id: tenantId, status: 'open' }).where((q) => q.where({ person_id: other, candidate_id: into }).orWhere({ person_id: into, candidate_id: other }))
      .update({ status: 'accepted', decided_by: by, decided_at: nowIso(), reason });
    return decision;
  });
}

/**
 * Splits one source person back out of a merged person. It gets back the id it had before the merge (when it had
 * one), its records point at it again, it is pinned ('manual') so re-syncs never re-link it, and the pair is
 * remembered as rejected.
 */
export async function unmergeSource(db: Db, tenantId: string, personId: string, connectorId: string, sourceId: string, by: string, reason: string | null, identity?: IdentitySettings): Promise<{ decision: string; personId: string }> {
  return db.knex.transaction(async (trx) => {
    const src = await trx('source_records').where({ tenant_id: tenantId, entity_type: 'person', connector_id: connectorId, source_id: sourceId, unified_id: personId }).whereNull('deleted_at').first();
    if (!src) throw new HubError('not_found', `Person '${personId}' has no live source ${connectorId}/${sourceId}.`);
    const others = await trx('source_records').where({ tenant_id: tenantId, entity_type: 'person', unified_id: personId }).whereNull('deleted_at').count({ n: '*' });
    if (Number(others[0].n) < 2) throw new HubError('bad_request', `Person '${personId}' has only this source: there is nothing to split it from.`);
    // The id it had before it was merged, if the decision log knows it and that person is not in use.
    const decisions = (await trx('identity_decisions').where({ tenant_id: tenantId, person_id: personId }).whereNot('kind', 'unmerge').orderBy('decided_at', 'desc').select('payload')) as { payload: string }[];
    let restoreId: string | undefined;
    for (const d of decisions) {
      const mv = (JSON.parse(d.payload) as { moved: Move[] }).moved.find((m) => m.connectorId === connectorId && m.sourceId === sourceId);
      if (mv) {
        restoreId = mv.from;
        break;
      }
    }
    if (restoreId) {
      const live = await trx('source_records').where({ tenant_id: tenantId, entity_type: 'person', unified_id: restoreId }).whereNull('deleted_at').first();
      if (live) restoreId = undefined;
    }
    const to = restoreId ?? newUnifiedId();
    const at = nowIso();
    const [decision] = await moveSources(db, trx, tenantId, null, at, [{ connectorId, sourceId, from: personId, to, rule: 'manual unmerge', score: null }], identity, 'unmerge', by, reason);
    await trx('match_candidates').insert({
      id: newId('mc'), tenant_id: tenantId, connector_id: connectorId, source_id: sourceId, person_id: to, candidate_id: personId, score: 0,
      evidence: JSON.stringify({ rule: 'unmerged by an operator' }), status: 'rejected', created_at: at, decided_by: by, decided_at: at, reason,
    });
    return { decision, personId: to };
  });
}

/** Accepts or rejects a review-queue candidate. Accepting links the source person to the candidate. */
export async function decideCandidate(db: Db, tenantId: string, candidateId: string, accept: boolean, by: string, reason: string | null, identity?: IdentitySettings): Promise<{ status: string; decision?: string }> {
  return db.knex.transaction(async (trx) => {
    const c = await trx('match_candidates').where({ tenant_id: tenantId, id: candidateId }).first();
    if (!c) throw new HubError('not_found', `No match candidate '${candidateId}'.`);
    if (c.status !== 'open') throw new HubError('bad_request', `Candidate '${candidateId}' is already ${c.status}.`, [{ path: 'candidateId', message: c.status }]);
    const at = nowIso();
    let decision: string | undefined;
    if (accept) {
      const src = await trx('source_records').where({ tenant_id: tenantId, entity_type: 'person', connector_id: c.connector_id, source_id: c.source_id }).whereNull('deleted_at').first();
      if (!src) throw new HubError('not_found', `The source person ${c.connector_id}/${c.source_id} no longer exists.`);
      [decision] = await moveSources(db, trx, tenantId, null, at, [{ connectorId: c.connector_id, sourceId: c.source_id, from: src.unified_id, to: c.candidate_id, rule: 'review accepted', score: Number(c.score) }], identity, 'accept', by, reason);
      await trx('match_candidates').where({ tenant_id: tenantId, connector_id: c.connector_id, source_id: c.source_id, status: 'open' }).whereNot('id', candidateId)
        .update({ status: 'superseded', decided_by: by, decided_at: at });
    } else {
      const left = await trx('match_candidates').where({ tenant_id: tenantId, connector_id: c.connector_id, source_id: c.source_id, status: 'open' }).whereNot('id', candidateId).count({ n: '*' });
      if (Number(left[0].n) === 0) await trx('source_records').where({ tenant_id: tenantId, entity_type: 'person', connector_id: c.connector_id, source_id: c.source_id }).update({ match_state: 'manual', match_rule: 'review rejected' });
    }
    await trx('match_candidates').where({ id: candidateId }).update({ status: accept ? 'accepted' : 'rejected', decided_by: by, decided_at: at, reason });
    return { status: accept ? 'accepted' : 'rejected', decision };
  });
}

/** Share of a connector's source persons linked automatically, waiting in review, new, and pinned by an operator. */
export async function matchStats(db: Db, tenantId: string): Promise<Record<string, Record<string, number>>> {
  const rows = (await db.knex('source_records').where({ tenant_id: tenantId, entity_type: 'person' }).whereNull('deleted_at')
    .select('connector_id', 'match_state').count({ n: '*' }).groupBy('connector_id', 'match_state')) as { connector_id: string; match_state: string | null; n: number | string }[];
  const out: Record<string, Record<string, number>> = {};
  for (const r of rows) {
    const c = (out[r.connector_id] ??= { total: 0 });
    c[r.match_state ?? 'unknown'] = (c[r.match_state ?? 'unknown'] ?? 0) + Number(r.n);
    c.total += Number(r.n);
  }
  return out;
}
