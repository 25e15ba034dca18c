/**
 * Reading and writing plan entries. Every write is one transaction that
 *   1. checks the entry's version (optimistic concurrency: a stale version is `version_conflict`, nothing applied),
 *   2. writes the entry (and a goal's aligned competencies),
 *   3. bumps the plan's version and appends a `plp_revisions` row (who, role, when, field diff, full snapshot),
 *   4. appends a `plp` change to the change log (entity id = the learner), so the change feed and webhooks see
 *      `plp.updated` in the same commit.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { HubError } from '../../core/errors';
import type { Db } from '../../store/db';
import { appendChanges } from '../../store/changes';
import { checkEntry, checkFields, LIMITS, mayCreate, mayModify, withDefaults, type Actor, type Section } from './model';

export interface ItemRow {
  tenant_id: string;
  id: string;
  learner_id: string;
  section: Section;
  fields: string;
  visibility: string;
  version: number | string;
  created_by: string;
  created_role: string;
  created_at: string;
  updated_by: string;
  updated_role: string;
  updated_at: string;
  deleted_at: string | null;
}

export interface PlanItem {
  id: string;
  section: Section;
  version: number;
  fields: Record<string, unknown>;
  visibility: 'all' | 'staff';
  createdBy: string;
  createdRole: string;
  createdAt: string;
  updatedBy: string;
  updatedRole: string;
  updatedAt: string;
  deletedAt: string | null;
}

export function toItem(r: ItemRow): PlanItem {
  return {
    id: r.id, section: r.section, version: Number(r.version), fields: JSON.parse(r.fields) as Record<string, unknown>,
    visibility: r.visibility === 'staff' ? 'staff' : 'all',
    createdBy: r.created_by, createdRole: r.created_role, createdAt: r.created_at,
    updatedBy: r.updated_by, updatedRole: r.updated_role, updatedAt: r.updated_at, deletedAt: r.deleted_at ?? null,
  };
}

const notFound = (section: string) => new HubError('not_found', `No ${section} with that id exists in this learner's plan.`, [{ path: 'itemId', message: 'not found' }]);

function forbidden(a: Actor, what: string): HubError {
  return new HubError('forbidden', `Acting as ${a.role}, you may see this plan but not ${what}.`, [{ path: 'role', message: `${a.role} may not ${what}` }]);
}

/** The live entries of a learner's plan (one indexed query). */
export async function loadItems(db: Db | Knex.Transaction, tenantId: string, learnerId: string, section?: Section): Promise<PlanItem[]> {
  const k = 'knex' in db ? db.knex : db;
  const q = k('plp_items').where({ tenant_id: tenantId, learner_id: learnerId }).whereNull('deleted_at').orderBy([{ column: 'section' }, { column: 'created_at' }, { column: 'id' }]);
  if (section) q.where({ section });
  return ((await q) as ItemRow[]).map(toItem);
}

export async function planVersion(db: Db, tenantId: string, learnerId: string): Promise<{ version: number; updatedAt: string | null }> {
  const r = (await db.knex('plp_plans').where({ tenant_id: tenantId, learner_id: learnerId }).first('version', 'updated_at')) as { version: number | string; updated_at: string } | undefined;
  return r ? { version: Number(r.version), updatedAt: r.updated_at } : { version: 0, updatedAt: null };
}

/** Goal competencies must be live competencyItem records of the tenant; the 400 names the field and the id. */
async function checkCompetencies(trx: Knex.Transaction, tenantId: string, ids: readonly string[]): Promise<void> {
  if (!ids.length) return;
  const found = new Set(((await trx('records').where({ tenant_id: tenantId, entity_type: 'competencyItem' }).whereIn('id', ids).whereNull('deleted_at').select('id')) as { id: string }[]).map((r) => r.id));
  const missing = ids.map((id, i) => ({ id, i })).filter((x) => !found.has(x.id));
  if (missing.length) {
    throw new HubError('bad_request', `competencyIds: ${missing.map((m) => `'${m.id}'`).join(', ')} ${missing.length === 1 ? 'is not a' : 'are not'} known competency item${missing.length === 1 ? '' : 's'}`,
      missing.map((m) => ({ path: `competencyIds[${m.i}]`, message: `no competencyItem '${m.id}' exists for the tenant`, id: m.id })));
  }
}

function diffFields(before: Record<string, unknown>, after: Record<string, unknown>): Record<string, [unknown, unknown]> {
  const out: Record<string, [unknown, unknown]> = {};
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const a = before[k] ?? null;
    const b = after[k] ?? null;
    if (JSON.stringify(a) !== JSON.stringify(b)) out[k] = [a, b];
  }
  return out;
}

function compact(f: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(f)) if (v !== null && v !== undefined) out[k] = v;
  return out;
}

const visibilityOf = (section: Section, f: Record<string, unknown>): 'all' | 'staff' => (section === 'comment' && f.visibility === 'staff' ? 'staff' : 'all');

/** Bumps the plan version (creating the plan row on first edit) and returns the new version. */
async function bumpPlan(trx: Knex.Transaction, tenantId: string, learnerId: string, actor: Actor, at: string): Promise<number> {
  await trx('plp_plans').insert({ tenant_id: tenantId, learner_id: learnerId, version: 0, created_at: at, updated_at: at, updated_by: actor.by }).onConflict(['tenant_id', 'learner_id']).ignore();
  await trx('plp_plans').where({ tenant_id: tenantId, learner_id: learnerId }).update({ version: trx.raw('version + 1'), updated_at: at, updated_by: actor.by });
  const r = (await trx('plp_plans').where({ tenant_id: tenantId, learner_id: learnerId }).first('version')) as { version: number | string };
  return Number(r.version);
}

async function record(
  trx: Knex.Transaction, tenantId: string, learnerId: string, actor: Actor, at: string,
  item: { id: string; section: Section; version: number; visibility: string }, op: 'create' | 'update' | 'delete',
  diff: Record<string, [unknown, unknown]>, snapshot: Record<string, unknown>,
): Promise<number> {
  const planV = await bumpPlan(trx, tenantId, learnerId, actor, at);
  await trx('plp_revisions').insert({
    tenant_id: tenantId, learner_id: learnerId, plan_version: planV, item_id: item.id, section: item.section, item_version: item.version,
    op, by: actor.by, by_role: actor.role, at, diff: JSON.stringify(diff), snapshot: JSON.stringify(snapshot), visibility: item.visibility,
  });
  await appendChanges(trx, tenantId, [{
    entityType: 'plp', entityId: learnerId, op: 'update', cause: `api:${actor.role === 'service' ? actor.by.replace(/^key:/, '') : actor.role}`,
    diff: { [`${item.section}.${item.id}`]: [op === 'create' ? null : item.version - 1, op === 'delete' ? null : item.version] },
  }], at);
  return planV;
}

export interface WriteResult {
  item: PlanItem;
  planVersion: number;
}

export async function createItem(db: Db, tenantId: string, learnerId: string, section: Section, actor: Actor, body: Record<string, unknown>): Promise<WriteResult> {
  if (!mayCreate(section, actor)) throw forbidden(actor, `add a ${section}`);
  const at = new Date().toISOString();
  const fields = compact(withDefaults(section, checkFields(section, body, false), at.slice(0, 10)));
  checkEntry(section, fields);
  return db.knex.transaction(async (trx) => {
    if (section === 'goal') await checkCompetencies(trx, tenantId, fields.competencyIds as string[]);
    const n = (await trx('plp_items').where({ tenant_id: tenantId, learner_id: learnerId, section }).whereNull('deleted_at').count({ n: '*' }).first()) as { n: number | string };
    if (Number(n.n) >= LIMITS.entriesPerSection) throw new HubError('bad_request', `section: this plan already has ${LIMITS.entriesPerSection} ${section} entries, the most allowed; delete some first`, [{ path: 'section', message: `at most ${LIMITS.entriesPerSection} entries` }]);
    const row: ItemRow = {
      tenant_id: tenantId, id: randomUUID(), learner_id: learnerId, section, fields: JSON.stringify(fields), visibility: visibilityOf(section, fields), version: 1,
      created_by: actor.by, created_role: actor.role, created_at: at, updated_by: actor.by, updated_role: actor.role, updated_at: at, deleted_at: null,
    };
    await trx('plp_items').insert(row);
    if (section === 'goal') await writeCompetencies(trx, tenantId, row.id, fields.competencyIds as string[]);
    const planV = await record(trx, tenantId, learnerId, actor, at, { id: row.id, section, version: 1, visibility: row.visibility }, 'create', diffFields({}, fields), fields);
    return { item: toItem(row), planVersion: planV };
  });
}

async function writeCompetencies(trx: Knex.Transaction, tenantId: string, itemId: string, ids: readonly string[]): Promise<void> {
  await trx('plp_item_competencies').where({ tenant_id: tenantId, item_id: itemId }).delete();
  if (ids.length) await trx('plp_item_competencies').insert(ids.map((c) => ({ tenant_id: tenantId, item_id: itemId, competency_id: c })));
}

async function lockItem(trx: Knex.Transaction, tenantId: string, learnerId: string, sections: readonly Section[], itemId: string, actor: Actor): Promise<PlanItem> {
  const row = (await trx('plp_items').where({ tenant_id: tenantId, id: itemId, learner_id: learnerId }).whereNull('deleted_at').first()) as ItemRow | undefined;
  // An entry the caller may not see (a staff-only comment, for a student) answers like a missing one.
  if (!row || !sections.includes(row.section) || (row.visibility === 'staff' && !['teacher', 'administrator', 'service'].includes(actor.role))) throw notFound(sections.length === 1 ? sections[0] : 'entry');
  return toItem(row);
}

function conflict(current: number, given: number): HubError {
  return new HubError('version_conflict', `The entry was changed since version ${given}; it is now at version ${current}. Reload it and apply your edit again.`,
    [{ path: 'If-Match', message: `stale version ${given}; current is ${current}`, currentVersion: current }]);
}

/**
 * Applies a patch when `expected` is still the entry's version. The version check is repeated in the UPDATE's
 * WHERE clause, so two concurrent edits of the same version cannot both win (one gets `version_conflict`).
 */
export async function updateItem(db: Db, tenantId: string, learnerId: string, sections: readonly Section[], itemId: string, actor: Actor, expected: number, body: Record<string, unknown>): Promise<WriteResult> {
  const at = new Date().toISOString();
  return db.knex.transaction(async (trx) => {
    const item = await lockItem(trx, tenantId, learnerId, sections, itemId, actor);
    if (!mayModify(item.section, actor, item, 'update')) throw forbidden(actor, `change this ${item.section}`);
    const patch = checkFields(item.section, body, true, ['version']);
    if (item.version !== expected) throw conflict(item.version, expected);
    const fields = compact({ ...item.fields, ...patch });
    checkEntry(item.section, fields);
    if (item.section === 'goal' && 'competencyIds' in patch) await checkCompetencies(trx, tenantId, (fields.competencyIds as string[] | undefined) ?? []);
    const diff = diffFields(item.fields, fields);
    if (!Object.keys(diff).length) return { item, planVersion: (await planVersionTrx(trx, tenantId, learnerId)) };
    const visibility = visibilityOf(item.section, fields);
    const n = await trx('plp_items').where({ tenant_id: tenantId, id: itemId, version: expected }).whereNull('deleted_at')
      .update({ fields: JSON.stringify(fields), visibility, version: expected + 1, updated_by: actor.by, updated_role: actor.role, updated_at: at });
    if (n !== 1) throw conflict(expected + 1, expected);
    if (item.section === 'goal' && 'competencyIds' in diff) await writeCompetencies(trx, tenantId, itemId, (fields.competencyIds as string[] | undefined) ?? []);
    const planV = await record(trx, tenantId, learnerId, actor, at, { id: itemId, section: item.section, version: expected + 1, visibility }, 'update', diff, fields);
    return { item: { ...item, fields, visibility, version: expected + 1, updatedBy: actor.by, updatedRole: actor.role, updatedAt: at }, planVersion: planV };
  });
}

async function planVersionTrx(trx: Knex.Transaction, tenantId: string, learnerId: string): Promise<number> {
  const r = (await trx('plp_plans').where({ tenant_id: tenantId, learner_id: learnerId }).first('version')) as { version: number | string } | undefined;
  return r ? Number(r.version) : 0;
}

export async function deleteItem(db: Db, tenantId: string, learnerId: string, sections: readonly Section[], itemId: string, actor: Actor, expected: number): Promise<number> {
  const at = new Date().toISOString();
  return db.knex.transaction(async (trx) => {
    const item = await lockItem(trx, tenantId, learnerId, sections, itemId, actor);
    if (!mayModify(item.section, actor, item, 'delete')) throw forbidden(actor, `delete this ${item.section}`);
    if (item.version !== expected) throw conflict(item.version, expected);
    const n = await trx('plp_items').where({ tenant_id: tenantId, id: itemId, version: expected }).whereNull('deleted_at')
      .update({ deleted_at: at, version: expected + 1, updated_by: actor.by, updated_role: actor.role, updated_at: at });
    if (n !== 1) throw conflict(expected + 1, expected);
    if (item.section === 'goal') await writeCompetencies(trx, tenantId, itemId, []);
    return record(trx, tenantId, learnerId, actor, at, { id: itemId, section: item.section, version: expected + 1, visibility: item.visibility }, 'delete', diffFields(item.fields, {}), item.fields);
  });
}

export interface Revision {
  planVersion: number;
  itemId: string;
  section: Section;
  itemVersion: number;
  op: 'create' | 'update' | 'delete';
  by: string;
  role: string;
  at: string;
  diff: Record<string, [unknown, unknown]>;
  /** The entry's fields at `itemVersion` (for a delete: the last fields before it). */
  fields: Record<string, unknown>;
}

/** Revisions, newest first, keyset-paginated by plan version. */
export async function loadRevisions(db: Db, tenantId: string, learnerId: string, opts: { before?: number; limit: number; itemId?: string; staff: boolean }): Promise<Revision[]> {
  const q = db.knex('plp_revisions').where({ tenant_id: tenantId, learner_id: learnerId }).orderBy('plan_version', 'desc').limit(opts.limit);
  if (opts.before !== undefined) q.where('plan_version', '<', opts.before);
  if (opts.itemId) q.where({ item_id: opts.itemId });
  if (!opts.staff) {
    // Students and guardians see no revision of an entry that is (now) staff-only, nor staff-only states of it.
    q.where('visibility', 'all').whereNotIn('item_id', db.knex('plp_items').where({ tenant_id: tenantId, learner_id: learnerId, visibility: 'staff' }).select('id'));
  }
  return ((await q) as Record<string, string>[]).map((r) => ({
    planVersion: Number(r.plan_version), itemId: r.item_id, section: r.section as Section, itemVersion: Number(r.item_version), op: r.op as Revision['op'],
    by: r.by, role: r.by_role, at: r.at, diff: JSON.parse(r.diff) as Record<string, [unknown, unknown]>, fields: JSON.parse(r.snapshot) as Record<string, unknown>,
  }));
}
