/**
 * The change feed: `GET /tenants/:tenant/changes?after=<seq>&limit=&types=` (scope `changes.read`).
 *
 * Every create, update, delete, restore, merge and unmerge from change_log, in seq order (per tenant, gap-free, in
 * commit order), after `after` (default 0). The answer is `{ data, next, hasMore }`: pass `next` (the last seq
 * returned, or `after` when nothing was) as the next `after`. Each item: seq, at, entityType, entityId, op, cause
 * (sync, sweep, approved_sweep, merge, accept, unmerge...), runId, changedFields (the diff's keys).
 *
 * What a key sees:
 *  - field names always; the values (`diff: {field: [old, new]}`) only with `roster.read` too, and a value whose
 *    schema category is demographics/protected only with `demographics.read`;
 *  - changes to wholly demographic/protected entity types (demographics, program participation) only with
 *    `demographics.read`: for anyone else they are not listed at all (their existence is itself protected).
 * A page naming persons is recorded in the disclosure log (channel `feed`).
 */
import type { Router } from 'express';
import { ENTITY_TYPES } from '../types/unified.generated';
import { ENTITY_CATEGORY, SENSITIVE_CATEGORIES, categoriesOfType, fieldCategory, isStudentData, sensitiveTypes } from '../core/categories';
import { ENTITY_EVENTS, changedFields, parseDiff, personIdsOfChanges, type ChangeRow } from '../webhooks/events';
import { hasScope } from './auth';
import type { Disclosure } from './disclosures';
import { badRequest } from './errors';
import { parseLimit } from './pagination';
import { queryString } from './params';
import { tenantRoute, type AppDeps } from './route';

/** Entity types the feed knows: every unified type plus the derived ones that write change_log rows. */
export function feedTypes(): string[] {
  return [...new Set([...ENTITY_TYPES, ...Object.keys(ENTITY_EVENTS), ...Object.keys(ENTITY_CATEGORY)])].sort();
}

export function parseAfter(raw: string | undefined): number {
  if (raw === undefined) return 0;
  if (!/^[0-9]{1,16}$/.test(raw) || !Number.isSafeInteger(Number(raw))) throw badRequest('after', 'must be a non-negative integer (a seq from the feed)');
  return Number(raw);
}

export function parseTypes(raw: string | undefined): string[] | undefined {
  if (raw === undefined) return undefined;
  const known = feedTypes();
  const types = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (!types.length) throw badRequest('types', 'must list entity types, comma-separated');
  for (const t of types) if (!known.includes(t)) throw badRequest('types', `'${t.slice(0, 64)}' is not a known entity type (known: ${known.join(', ')})`);
  return [...new Set(types)];
}

export function changeRoutes(router: Router, deps: AppDeps): void {
  const { db } = deps;
  tenantRoute(router, deps, 'get', '/tenants/:tenant/changes', { scope: 'changes.read', query: ['after', 'limit', 'types'] }, async ({ req, res, tenant, principal }) => {
    const after = parseAfter(queryString(req, 'after'));
    const limit = parseLimit(queryString(req, 'limit'));
    const types = parseTypes(queryString(req, 'types'));
    const seeSensitive = hasScope(principal, 'demographics.read');
    const seeValues = hasScope(principal, 'roster.read');
    const q = db.knex('change_log').where('tenant_id', tenant.id).where('seq', '>', after).orderBy('seq', 'asc').limit(limit + 1)
      .select('tenant_id', 'seq', 'entity_type', 'entity_id', 'op', 'at', 'run_id', 'cause', 'diff');
    if (types) q.whereIn('entity_type', types);
    if (!seeSensitive) q.whereNotIn('entity_type', sensitiveTypes());
    const rows = (await q) as ChangeRow[];
    const hasMore = rows.length > limit;
    const page = hasMore ? rows.slice(0, limit) : rows;

    const categories = new Set<string>();
    const data = page.map((r) => {
      const diff = parseDiff(r.diff);
      const item: Record<string, unknown> = {
        seq: Number(r.seq), at: r.at, entityType: r.entity_type, entityId: r.entity_id, op: r.op, cause: r.cause ?? null, runId: r.run_id ?? null,
        changedFields: changedFields(diff),
      };
      const entityCat = categoriesOfType(r.entity_type).entity;
      if (entityCat) categories.add(entityCat);
      if (seeValues && diff) {
        const shown: Record<string, unknown> = {};
        for (const [f, v] of Object.entries(diff)) {
          const cat = fieldCategory(r.entity_type, f);
          if (cat && SENSITIVE_CATEGORIES.has(cat) && !seeSensitive) continue;
          shown[f] = v;
          if (cat && isStudentData(r.entity_type)) categories.add(cat);
        }
        item.diff = shown;
      }
      return item;
    });
    const studentRows = page.filter((r) => isStudentData(r.entity_type));
    if (studentRows.length) {
      const persons = await personIdsOfChanges(db, tenant.id, studentRows);
      const disclosure: Disclosure = { channel: 'feed', categories: [...categories], personIds: [...new Set([...persons.values()].flat())] };
      res.locals.disclosure = disclosure;
    }
    const last = page[page.length - 1];
    res.json({ data, next: last ? Number(last.seq) : after, hasMore });
  });
}
