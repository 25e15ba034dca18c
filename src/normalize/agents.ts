/**
 * End of a run, for connectors that supply persons: deferred person references and guardian links.
 *
 * 1. Deferred references (`x-ref-deferred`, today `person.agentIds`): a OneRoster student lists its guardians and
 *    each guardian lists the student back, so whichever comes first in users.csv cannot resolve the other yet. The
 *    page writer keeps the source ids on the source row (`refs`) and stores what it could resolve; here, once every
 *    person of the run is stored, each list is resolved against the connector's live persons, the source row is
 *    rewritten (with the hash the page writer will compute next time, so the next run sees it unchanged) and the
 *    unified person recomputed (change log included). An agent the source never supplied is reported in the run's
 *    reject report (`reference_unresolved`, the person itself is kept).
 * 2. Guardian links (`guardianships`, src/serve/access.ts): a pair (A lists B) where one of them acts as a parent,
 *    guardian or relative (a role record, or the 1.1 `primaryRole`) and the other does not becomes a link with
 *    `source` = the connector id and the guardian's role as the relationship. Links of this connector that the
 *    source no longer lists are removed; links made through the API or configuration are never touched (and an API
 *    link for a pair the source also lists is kept as it is). Running it twice changes nothing.
 *
 * A merge made later through the API leaves the old id in `agentIds` until the connector's next run rebuilds them.
 */
import type { Db } from '../store/db';
import { refFields } from '../core/schemas';
import { whereJsonFieldIn } from '../serve/sql';
import { deferredHash } from './page-writer';
import { ingestTx } from './ports';
import { recomputePersons, type IdentitySettings } from './persons';

const GUARDIAN_ROLES = ['parent', 'guardian', 'relative'] as const;
const BATCH = 500;

export interface AgentStats {
  /** Person source rows whose deferred references were completed. */
  completed: number;
  unresolved: number;
  linksAdded: number;
  linksRemoved: number;
}

interface SourceRow {
  source_id: string;
  unified_id: string;
  data: string | null;
  refs: string | null;
}

export async function resolveAgents(db: Db, opts: { tenantId: string; connectorId: string; runId: string; identity?: IdentitySettings }): Promise<AgentStats> {
  const stats: AgentStats = { completed: 0, unresolved: 0, linksAdded: 0, linksRemoved: 0 };
  const fields = refFields('person').filter((r) => r.deferred && r.target === 'person').map((r) => r.field);
  if (!fields.length) return stats;
  const { tenantId, connectorId, runId } = opts;
  const live = () => db.knex('source_records').where({ tenant_id: tenantId, connector_id: connectorId, entity_type: 'person' }).whereNull('deleted_at');
  const unifiedOf = new Map(((await live().select('source_id', 'unified_id')) as SourceRow[]).map((r) => [r.source_id, r.unified_id]));
  // Only rows with deferred references carry `refs` (persons have no other use for the column).
  const rows = (await live().whereNotNull('refs').select('source_id', 'unified_id', 'data', 'refs')) as SourceRow[];

  // 1. Complete the deferred lists.
  const rewrites: { sourceId: string; unifiedId: string; data: string; hash: string }[] = [];
  const rejects: { location: string; field: string; reason: string }[] = [];
  const agentsOf = new Map<string, Set<string>>(); // unified person -> unified agents (this connector's view)
  for (const r of rows) {
    if (!r.refs || !r.data) continue;
    const refs = JSON.parse(r.refs) as Record<string, unknown>;
    const data = JSON.parse(r.data) as Record<string, unknown>;
    let changed = false;
    for (const f of fields) {
      const listed = refs[f];
      if (!Array.isArray(listed)) continue;
      const ids: string[] = [];
      for (const s of listed as string[]) {
        const u = unifiedOf.get(s);
        if (u) ids.push(u);
        else rejects.push({ location: `person ${r.source_id}`, field: f, reason: `${f} lists person '${s}', which this source has not supplied (or has deleted); the link was left out, the person kept` });
      }
      const agents = agentsOf.get(r.unified_id) ?? new Set<string>();
      for (const id of ids) agents.add(id);
      agentsOf.set(r.unified_id, agents);
      if (JSON.stringify(data[f] ?? []) !== JSON.stringify(ids)) {
        data[f] = ids;
        changed = true;
      }
    }
    if (changed) {
      const json = JSON.stringify(data);
      rewrites.push({ sourceId: r.source_id, unifiedId: r.unified_id, data: json, hash: deferredHash(json, r.refs) });
    }
  }
  stats.unresolved = rejects.length;
  for (let i = 0; i < rewrites.length; i += BATCH) {
    const part = rewrites.slice(i, i + BATCH);
    await db.knex.transaction(async (trx) => {
      for (const w of part) {
        await trx('source_records').where({ tenant_id: tenantId, connector_id: connectorId, entity_type: 'person', source_id: w.sourceId }).update({ data: w.data, hash: w.hash });
      }
      const tx = await ingestTx(db.dialect, trx);
      await recomputePersons(tx, { tenantId, runId, at: new Date().toISOString(), cause: 'agents', precedence: opts.identity?.precedence }, part.map((w) => w.unifiedId));
    });
    stats.completed += part.length;
  }
  if (rejects.length) {
    const stored = rejects.map((r) => ({ tenant_id: tenantId, run_id: runId, stream: 'agents', location: r.location, field: r.field, code: 'reference_unresolved', reason: r.reason, raw: null }));
    for (let i = 0; i < stored.length; i += BATCH) await db.knex('run_rejects').insert(stored.slice(i, i + BATCH));
  }

  // 2. Guardian links from the pairs.
  const involved = new Set<string>();
  for (const [p, agents] of agentsOf) {
    if (!agents.size) continue;
    involved.add(p);
    for (const a of agents) involved.add(a);
  }
  const guardianRole = await guardianRoles(db, tenantId, [...involved]);
  const desired = new Map<string, { guardian: string; learner: string; relationship: string }>();
  for (const [p, agents] of agentsOf) {
    for (const a of agents) {
      if (a === p) continue;
      const pg = guardianRole.get(p);
      const ag = guardianRole.get(a);
      const link = ag && !pg ? { guardian: a, learner: p, relationship: ag } : pg && !ag ? { guardian: p, learner: a, relationship: pg } : undefined;
      if (link) desired.set(`${link.guardian}\u0000${link.learner}`, link);
    }
  }
  await db.knex.transaction(async (trx) => {
    const existing = (await trx('guardianships').where({ tenant_id: tenantId }).select('guardian_id', 'learner_id', 'source', 'relationship')) as { guardian_id: string; learner_id: string; source: string; relationship: string }[];
    const have = new Map(existing.map((e) => [`${e.guardian_id}\u0000${e.learner_id}`, e]));
    const gone = existing.filter((e) => e.source === connectorId && !desired.has(`${e.guardian_id}\u0000${e.learner_id}`));
    for (const g of gone) await trx('guardianships').where({ tenant_id: tenantId, guardian_id: g.guardian_id, learner_id: g.learner_id, source: connectorId }).delete();
    stats.linksRemoved = gone.length;
    const at = new Date().toISOString();
    const add = [...desired.values()].filter((d) => !have.has(`${d.guardian}\u0000${d.learner}`))
      .map((d) => ({ tenant_id: tenantId, guardian_id: d.guardian, learner_id: d.learner, relationship: d.relationship, source: connectorId, created_at: at }));
    for (let i = 0; i < add.length; i += BATCH) await trx('guardianships').insert(add.slice(i, i + BATCH));
    stats.linksAdded = add.length;
    // The source changed a link's relationship (parent -> guardian): follow it, for this connector's links only.
    for (const d of desired.values()) {
      const e = have.get(`${d.guardian}\u0000${d.learner}`);
      if (e && e.source === connectorId && e.relationship !== d.relationship) {
        await trx('guardianships').where({ tenant_id: tenantId, guardian_id: d.guardian, learner_id: d.learner }).update({ relationship: d.relationship });
      }
    }
  });
  return stats;
}

/** Persons acting as parent, guardian or relative (a live role record, or the person's 1.1 primaryRole): id -> role. */
async function guardianRoles(db: Db, tenantId: string, ids: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const isGuardian = (r: unknown): r is string => typeof r === 'string' && (GUARDIAN_ROLES as readonly string[]).includes(r);
  for (let i = 0; i < ids.length; i += BATCH) {
    const part = ids.slice(i, i + BATCH);
    const q = db.knex('records').where({ tenant_id: tenantId, entity_type: 'role' }).whereNull('deleted_at').select('data');
    whereJsonFieldIn(db, q, 'personId', part);
    for (const r of (await q) as { data: string }[]) {
      const d = JSON.parse(r.data) as { personId: string; role?: string; roleType?: string };
      if (isGuardian(d.role) && (d.roleType === 'primary' || !out.has(d.personId))) out.set(d.personId, d.role);
    }
    const persons = (await db.knex('records').where({ tenant_id: tenantId, entity_type: 'person' }).whereIn('id', part).whereNull('deleted_at').select('id', 'data')) as { id: string; data: string }[];
    for (const p of persons) {
      const role = (JSON.parse(p.data) as { primaryRole?: string }).primaryRole;
      if (isGuardian(role) && !out.has(p.id)) out.set(p.id, role);
    }
  }
  return out;
}
