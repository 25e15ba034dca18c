/**
 * Personalized Learning Plans over HTTP (the model: src/derive/plp/). Every route takes a person session or an API
 * key; what a person may see is decided by src/serve/access.ts (a learner they may not see is a 404), what they may
 * write by src/derive/plp/model.ts (`mayCreate`, `mayModify`: a 403 naming the role, nothing applied).
 *
 *   GET    /tenants/:t/learners/:id/plp[?format=json]     the whole plan for this reader (format=json: a download)
 *   GET    /tenants/:t/learners/:id/plp/print             a printable, self-contained HTML page
 *   GET    /tenants/:t/learners/:id/plp/history?item=     revisions, newest first (who, role, when, diff, fields)
 *   GET    /tenants/:t/learners/:id/plp/{goals|supports|comments|items}[/:itemId]
 *   POST   /tenants/:t/learners/:id/plp/{goals|supports|comments|items}          → 201, ETag: "<version>"
 *   PATCH  /tenants/:t/learners/:id/plp/{goals|supports|comments|items}/:itemId  If-Match: "<version>" → 200
 *   DELETE /tenants/:t/learners/:id/plp/{goals|supports|comments|items}/:itemId  If-Match: "<version>" → 204
 *
 * Reads need `roster.read` from a key; writes need `plp.write`. Edits are optimistic: a PATCH or DELETE names the
 * version it was based on (`If-Match`, or `version` in a PATCH body); missing → 428 `precondition_required`,
 * stale → 409 `version_conflict`. Protected program flags are never part of any of these answers.
 */
import type { Request, Response, Router } from 'express';
import { HubError } from '../core/errors';
import { buildPlan, entryFor, type Entry } from '../derive/plp/document';
import { ITEM_SECTIONS, visibleTo, isStaff, type Actor, type Section } from '../derive/plp/model';
import { PRINT_CSP, renderPlanHtml } from '../derive/plp/render';
import { createItem, deleteItem, loadItems, loadRevisions, updateItem } from '../derive/plp/store';
import { requireLearner, type Relation } from './access';
import type { Principal } from './auth';
import { badRequest } from './errors';
import { decodeCursor, parseLimit, toPage } from './pagination';
import { queryEnum, queryString } from './params';
import { tenantRoute, type AppDeps } from './route';

const ROLE_OF: Record<Relation, Actor['role']> = { service: 'service', self: 'student', guardian: 'guardian', teacher: 'teacher', administrator: 'administrator' };

export function actorOf(p: Principal, rel: Relation): Actor {
  return { by: p.person ? `person:${p.person.personId}` : `key:${p.name}`, role: ROLE_OF[rel] };
}

/** The collections under /plp and the sections each one holds. */
const COLLECTIONS: Record<string, readonly Section[]> = {
  goals: ['goal'],
  supports: ['support'],
  comments: ['comment'],
  items: ITEM_SECTIONS,
};

function objectBody(req: Request): Record<string, unknown> {
  const b: unknown = req.body;
  if (b === undefined) throw badRequest('body', 'a JSON object is required (send Content-Type: application/json)');
  if (!b || typeof b !== 'object' || Array.isArray(b)) throw badRequest('body', 'must be a JSON object');
  return b as Record<string, unknown>;
}

/** The version an edit is based on: `If-Match: "3"` (or W/"3", or 3), or `version` in a PATCH body. */
export function expectedVersion(req: Request, body?: Record<string, unknown>): number {
  const h = req.headers['if-match'];
  let fromHeader: number | undefined;
  if (h !== undefined) {
    const m = /^\s*(?:W\/)?"?(\d{1,9})"?\s*$/.exec(h);
    if (!m) throw badRequest('If-Match', 'must be the entry\'s version as an ETag, e.g. "3"');
    fromHeader = Number(m[1]);
  }
  let fromBody: number | undefined;
  if (body && body.version !== undefined) {
    if (typeof body.version !== 'number' || !Number.isInteger(body.version) || body.version < 1) throw badRequest('version', 'must be a positive integer (the entry version you edited)');
    fromBody = body.version;
  }
  if (fromHeader !== undefined && fromBody !== undefined && fromHeader !== fromBody) throw badRequest('version', `says ${fromBody} but If-Match says ${fromHeader}`);
  const v = fromHeader ?? fromBody;
  if (v === undefined) {
    throw new HubError('precondition_required', 'Send the version you edited as If-Match: "<version>" (from the entry\'s ETag or its `version`), so a stale edit cannot overwrite a newer one.',
      [{ path: 'If-Match', message: 'required' }]);
  }
  return v;
}

function sendEntry(res: Response, status: number, entry: Entry, planVersion: number): void {
  res.status(status).set({ ETag: `"${entry.version}"`, 'X-Plan-Version': String(planVersion) }).json({ data: entry });
}

export function plpRoutes(router: Router, deps: AppDeps): void {
  const { db } = deps;
  const base = '/tenants/:tenant/learners/:id/plp';

  const reader = async (principal: Principal, tenantId: string, learnerId: string): Promise<Actor> =>
    actorOf(principal, await requireLearner(db, tenantId, principal, learnerId));

  tenantRoute(router, deps, 'get', base, { scope: 'roster.read', persons: true, query: ['format'] }, async ({ req, res, tenant, principal }) => {
    const format = queryEnum(req, 'format', ['json'] as const);
    const learnerId = String(req.params.id);
    const actor = await reader(principal, tenant.id, learnerId);
    const doc = await buildPlan(db, tenant.id, learnerId, actor);
    res.set('ETag', `"plan-${doc.version}"`);
    if (format === 'json') {
      res.set('Content-Disposition', `attachment; filename="plp-${learnerId.replace(/[^A-Za-z0-9_-]/g, '_')}.json"`);
      res.type('application/json').send(JSON.stringify({ format: 'learner-data-hub/plp', formatVersion: 1, plan: doc }, null, 2));
      return;
    }
    res.json({ data: doc });
  });

  tenantRoute(router, deps, 'get', `${base}/print`, { scope: 'roster.read', persons: true }, async ({ req, res, tenant, principal }) => {
    const learnerId = String(req.params.id);
    const actor = await reader(principal, tenant.id, learnerId);
    const html = renderPlanHtml(await buildPlan(db, tenant.id, learnerId, actor));
    // This page only: its own inline <style> is allowed by hash; still no scripts, no loads, no framing.
    res.set('Content-Security-Policy', PRINT_CSP).type('text/html; charset=utf-8').send(html);
  });

  tenantRoute(router, deps, 'get', `${base}/history`, { scope: 'roster.read', persons: true, query: ['item', 'limit', 'cursor'] }, async ({ req, res, tenant, principal }) => {
    const learnerId = String(req.params.id);
    const actor = await reader(principal, tenant.id, learnerId);
    const limit = parseLimit(queryString(req, 'limit'));
    const before = decodeCursor(queryString(req, 'cursor'), 'plp-history', 'number');
    const itemId = queryString(req, 'item');
    if (itemId !== undefined && itemId.length > 64) throw badRequest('item', 'is not an entry id');
    const revs = await loadRevisions(db, tenant.id, learnerId, { before, limit: limit + 1, itemId, staff: isStaff(actor) });
    res.json(toPage(revs, limit, 'plp-history', (r) => r.planVersion, (r) => {
      const who = r.by.startsWith('key:') ? { id: r.by, kind: 'apiKey', role: r.role, name: r.by.slice(4) } : { id: r.by.replace(/^person:/, ''), kind: 'person', role: r.role };
      return { planVersion: r.planVersion, itemId: r.itemId, section: r.section, itemVersion: r.itemVersion, op: r.op, by: who, at: r.at, diff: r.diff, fields: r.fields };
    }));
  });

  for (const [name, sections] of Object.entries(COLLECTIONS)) {
    const sectionOf = (body: Record<string, unknown>): Section => {
      if (sections.length === 1) return sections[0];
      const s = body.section;
      if (typeof s !== 'string' || !(sections as readonly string[]).includes(s)) throw badRequest('section', `is required: one of ${sections.join(', ')}`);
      return s as Section;
    };

    tenantRoute(router, deps, 'get', `${base}/${name}`, { scope: 'roster.read', persons: true, query: sections.length > 1 ? ['section'] : [] }, async ({ req, res, tenant, principal }) => {
      const learnerId = String(req.params.id);
      const actor = await reader(principal, tenant.id, learnerId);
      const only = sections.length > 1 ? queryEnum(req, 'section', sections) : undefined;
      const items = (await loadItems(db, tenant.id, learnerId)).filter((i) => sections.includes(i.section) && (!only || i.section === only) && visibleTo(actor, i.visibility));
      const out: Entry[] = [];
      for (const i of items) out.push({ ...(await entryFor(db, tenant.id, i)), ...(sections.length > 1 ? { section: i.section } : {}) });
      res.json({ data: out });
    });

    tenantRoute(router, deps, 'get', `${base}/${name}/:itemId`, { scope: 'roster.read', persons: true }, async ({ req, res, tenant, principal }) => {
      const learnerId = String(req.params.id);
      const actor = await reader(principal, tenant.id, learnerId);
      const item = (await loadItems(db, tenant.id, learnerId)).find((i) => i.id === String(req.params.itemId) && sections.includes(i.section) && visibleTo(actor, i.visibility));
      if (!item) throw new HubError('not_found', 'No entry with that id exists in this learner\'s plan.', [{ path: 'itemId', message: 'not found' }]);
      const entry = await entryFor(db, tenant.id, item);
      res.set('ETag', `"${entry.version}"`).json({ data: { ...entry, ...(sections.length > 1 ? { section: item.section } : {}) } });
    });

    tenantRoute(router, deps, 'post', `${base}/${name}`, { scope: 'plp.write', persons: true }, async ({ req, res, tenant, principal }) => {
      const learnerId = String(req.params.id);
      const actor = actorOf(principal, await requireLearner(db, tenant.id, principal, learnerId));
      const body = objectBody(req);
      const section = sectionOf(body);
      const { section: _s, ...fields } = body;
      const r = await createItem(db, tenant.id, learnerId, section, actor, sections.length > 1 ? fields : body);
      res.set('Location', `/api/v1/tenants/${tenant.id}/learners/${learnerId}/plp/${name}/${r.item.id}`);
      sendEntry(res, 201, { ...(await entryFor(db, tenant.id, r.item)), ...(sections.length > 1 ? { section } : {}) }, r.planVersion);
    });

    tenantRoute(router, deps, 'patch', `${base}/${name}/:itemId`, { scope: 'plp.write', persons: true }, async ({ req, res, tenant, principal }) => {
      const learnerId = String(req.params.id);
      const actor = actorOf(principal, await requireLearner(db, tenant.id, principal, learnerId));
      const body = objectBody(req);
      if ('section' in body) throw badRequest('section', 'an entry cannot move to another section; delete it and add a new one');
      const expected = expectedVersion(req, body);
      const r = await updateItem(db, tenant.id, learnerId, sections, String(req.params.itemId), actor, expected, body);
      sendEntry(res, 200, { ...(await entryFor(db, tenant.id, r.item)), ...(sections.length > 1 ? { section: r.item.section } : {}) }, r.planVersion);
    });

    tenantRoute(router, deps, 'delete', `${base}/${name}/:itemId`, { scope: 'plp.write', persons: true }, async ({ req, res, tenant, principal }) => {
      const learnerId = String(req.params.id);
      const actor = actorOf(principal, await requireLearner(db, tenant.id, principal, learnerId));
      const expected = expectedVersion(req);
      const planVersion = await deleteItem(db, tenant.id, learnerId, sections, String(req.params.itemId), actor, expected);
      res.status(204).set('X-Plan-Version', String(planVersion)).end();
    });
  }
}
