/**
 * The learner record (one person across every system) and the identity review queue.
 *
 *   GET  /tenants/:t/learners?q=                 search by name or by any identifier from any system
 *   GET  /tenants/:t/learners/:id?asOf=          merged record, identifiers per system, sources and how each was
 *                                                matched, per-field provenance, current and past enrollments, roles
 *   POST /tenants/:t/learners/:id/merge          { otherId, reason }          (identity.manage)
 *   POST /tenants/:t/learners/:id/unmerge        { connectorId, sourceId, reason } (identity.manage)
 *   GET  /tenants/:t/identity/candidates?status= the review queue, with the evidence
 *   POST /tenants/:t/identity/candidates/:id/accept|reject { reason }  (identity.manage)
 *   GET  /tenants/:t/identity/decisions?personId=
 *   GET  /tenants/:t/identity/stats              per connector: linked / review / new / manual
 */
import type { Router } from 'express';
import { HubError } from '../core/errors';
import { hasScope } from './auth';
import { tenantRoute, type AppDeps } from './route';
import { badRequest } from './errors';
import { jsonObjectBody, queryString } from './params';
import { decodeCursor, parseLimit, toPage } from './pagination';
import { recordsAsOf } from '../normalize/history';
import { decideCandidate, matchStats, mergePersons, unmergeSource } from '../normalize/resolve';
import type { IdentitySettings } from '../normalize/persons';
import { foldSql, foldText } from '../store/db';
import { whereJsonField } from './sql';
import { jsonFieldSql } from '../store/json-sql';
import { canSeeProtected, requireLearner, visibleLearnerIds } from './access';
import { categoriesOf } from '../core/categories';
import type { Disclosure } from './disclosures';


function optionalString(body: Record<string, unknown>, key: string, max = 2000): string | null {
  const v = body[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || v.length > max) throw badRequest(key, `must be a string of at most ${max} characters`);
  return v;
}

function requiredString(body: Record<string, unknown>, key: string): string {
  const v = optionalString(body, key, 255);
  if (!v) throw badRequest(key, 'is required');
  return v;
}

export function learnerRoutes(router: Router, deps: AppDeps): void {
  const { db } = deps;
  // Names are compared folded (case and accents): q=garcia finds García.
  const jsonField = (field: string) => foldSql(db.dialect, jsonFieldSql(db.dialect, field));

  tenantRoute(router, deps, 'get', '/tenants/:tenant/learners', { scope: 'roster.read', persons: true, query: ['q', 'limit', 'cursor'] }, async ({ req, res, tenant, principal }) => {
    const limit = parseLimit(queryString(req, 'limit'));
    const after = decodeCursor(queryString(req, 'cursor'), 'learners', 'string');
    const q = (queryString(req, 'q') ?? '').trim();
    if (q.length > 200) throw badRequest('q', 'is longer than 200 characters');
    const query = db.knex('records').where({ tenant_id: tenant.id, entity_type: 'person' }).whereNull('deleted_at').orderBy('id').limit(limit + 1).select('id', 'data');
    if (after) query.where('id', '>', after);
    const visible = await visibleLearnerIds(db, tenant.id, principal);
    if (visible !== 'all') query.whereIn('id', visible);
    if (q) {
      const byId = db.knex('person_identifiers').where({ tenant_id: tenant.id, value: q }).select('person_id');
      const words = foldText(q).split(/\s+/).filter(Boolean).slice(0, 4);
      query.where((w) => {
        w.whereIn('id', byId);
        w.orWhere((n) => {
          for (const word of words) n.whereRaw(`(${jsonField('givenName')} like ? or ${jsonField('familyName')} like ? or ${jsonField('preferredGivenName')} like ?)`, [`%${word}%`, `%${word}%`, `%${word}%`]);
        });
      });
    }
    const rows = (await query) as { id: string; data: string }[];
    const page = toPage(rows, limit, 'learners', (r) => r.id, (r) => {
      const d = JSON.parse(r.data) as Record<string, unknown>;
      return { id: r.id, givenName: d.givenName, familyName: d.familyName, preferredGivenName: d.preferredGivenName, grades: d.grades, identifiers: d.identifiers };
    });
    if (page.data.length) res.locals.disclosure = { channel: 'api', categories: ['identity'], personIds: page.data.map((p) => p.id) } satisfies Disclosure;
    res.json(page);
  });

  tenantRoute(router, deps, 'get', '/tenants/:tenant/learners/:id', { scope: 'roster.read', persons: true, query: ['asOf'] }, async ({ req, res, tenant, principal }) => {
    const id = String(req.params.id);
    if (principal.person) await requireLearner(db, tenant.id, principal, id);
    const asOfRaw = queryString(req, 'asOf');
    let asOf: string | undefined;
    if (asOfRaw !== undefined) {
      const t = Date.parse(asOfRaw);
      if (!/^\d{4}-\d{2}-\d{2}/.test(asOfRaw) || Number.isNaN(t)) throw badRequest('asOf', 'must be an ISO 8601 date or date-time');
      asOf = new Date(asOfRaw.length === 10 ? `${asOfRaw}T23:59:59.999Z` : t).toISOString();
    }
    const row = (await db.knex('records').where({ tenant_id: tenant.id, entity_type: 'person', id }).first()) as
      | { id: string; data: string; deleted_at: string | null; provenance: string | null; merged_into: string | null; updated_at: string } | undefined;
    if (!row) throw new HubError('not_found', 'No learner with that id exists for the tenant.', [{ path: 'id', message: 'not found' }]);
    let person = JSON.parse(row.data) as Record<string, unknown>;
    if (asOf) {
      const v = (await recordsAsOf(db, tenant.id, 'person', [row], asOf)).get(id)!;
      if (!v.existed) throw new HubError('not_found', `Learner '${id}' did not exist on ${asOf}.`, [{ path: 'asOf', message: 'not yet created, or deleted by then' }]);
      person = v.data;
    } else if (row.deleted_at) {
      const details = row.merged_into ? [{ path: 'id', message: `merged into ${row.merged_into}`, mergedInto: row.merged_into }] : [{ path: 'id', message: 'deleted' }];
      throw new HubError('not_found', row.merged_into ? `Learner '${id}' was merged into '${row.merged_into}'.` : `Learner '${id}' was deleted.`, details);
    }
    const sources = await db.knex('source_records').where({ tenant_id: tenant.id, entity_type: 'person', unified_id: id })
      .select('connector_id', 'source_id', 'first_seen_at', 'last_seen_at', 'deleted_at', 'match_state', 'match_rule', 'match_score').orderBy(['connector_id', 'source_id']);
    const identifiers = await db.knex('person_identifiers').where({ tenant_id: tenant.id, person_id: id }).select('system', 'value', 'connector_id', 'source_id').orderBy(['system', 'value']);
    const enrollRows = (await db.knex('records').where({ tenant_id: tenant.id, entity_type: 'enrollment' })
      .whereRaw(`${jsonFieldSql(db.dialect, 'personId')} = ?`, [id]).select('id', 'data', 'deleted_at', 'created_at')) as { id: string; data: string; deleted_at: string | null; created_at: string }[];
    const versions = asOf ? await recordsAsOf(db, tenant.id, 'enrollment', enrollRows, asOf) : undefined;
    const classIds = [...new Set(enrollRows.map((e) => (JSON.parse(e.data) as { classId: string }).classId))];
    const classes = new Map(((await db.knex('records').where({ tenant_id: tenant.id, entity_type: 'class' }).whereIn('id', classIds).select('id', 'data')) as { id: string; data: string }[])
      .map((c) => [c.id, (JSON.parse(c.data) as { title: string }).title]));
    const current: unknown[] = [];
    const past: unknown[] = [];
    for (const e of enrollRows) {
      const v = versions?.get(e.id);
      if (versions && !v?.existed && e.created_at > asOf!) continue;
      const data = v?.data ?? (JSON.parse(e.data) as Record<string, unknown>);
      const ended = versions ? !v!.existed || (typeof data.endDate === 'string' && data.endDate < asOf!.slice(0, 10)) : !!e.deleted_at || (typeof data.endDate === 'string' && data.endDate < new Date().toISOString().slice(0, 10));
      const item = { ...data, classTitle: classes.get(data.classId as string) ?? null, ...(e.deleted_at && !versions ? { removedAt: e.deleted_at } : {}) };
      (ended ? past : current).push(item);
    }
    const roles = ((await db.knex('records').where({ tenant_id: tenant.id, entity_type: 'role' }).whereNull('deleted_at')
      .whereRaw(`${jsonFieldSql(db.dialect, 'personId')} = ?`, [id]).select('data')) as { data: string }[]).map((r) => JSON.parse(r.data));
    const out: Record<string, unknown> = {
      id, asOf: asOf ?? null, person, provenance: asOf ? null : row.provenance ? JSON.parse(row.provenance) : null,
      identifiers: identifiers.map((i: Record<string, string>) => ({ system: i.system, value: i.value, connector: i.connector_id, sourceId: i.source_id })),
      sources: sources.map((s: Record<string, unknown>) => ({ connector: s.connector_id, sourceId: s.source_id, firstSeenAt: s.first_seen_at, lastSeenAt: s.last_seen_at, deletedAt: s.deleted_at ?? null, match: { state: s.match_state, rule: s.match_rule, score: s.match_score === null ? null : Number(s.match_score) } })),
      enrollments: { current, past }, roles,
    };
    const categories = categoriesOf('person', Object.keys(person).filter((k) => person[k] !== undefined && person[k] !== null));
    if (current.length || past.length || roles.length) categories.add('enrollment');
    if (hasScope(principal, 'demographics.read')) {
      const demographics = ((await db.knex('records').where({ tenant_id: tenant.id, entity_type: 'demographics' }).whereNull('deleted_at')
        .whereRaw(`${jsonFieldSql(db.dialect, 'personId')} = ?`, [id]).select('data')) as { data: string }[]).map((r) => JSON.parse(r.data) as Record<string, unknown>);
      out.demographics = demographics;
      if (demographics.length) categories.add('demographics');
    }
    if (canSeeProtected(principal, tenant)) {
      // IEP, 504, English learner and other protected programs: only here, only for roles allowed to see them; never
      // in a Personalized Learning Plan (src/derive/plp/).
      const pq = db.knex('records').where({ tenant_id: tenant.id, entity_type: 'programParticipation' }).whereNull('deleted_at').select('data');
      whereJsonField(db, pq, 'personId', id);
      const programs = ((await pq) as { data: string }[]).map((r) => JSON.parse(r.data) as { programType?: string; beginDate: string; endDate?: string });
      const today = new Date().toISOString().slice(0, 10);
      const active = (t: string) => programs.some((p) => p.programType === t && p.beginDate <= today && !(p.endDate && p.endDate < today));
      out.protected = { programs, flags: { iep: active('specialEducation'), section504: active('section504'), englishLearner: active('englishLearner') } };
      categories.add('protected');
    }
    res.locals.disclosure = { channel: 'api', categories: [...categories], personIds: [id] } satisfies Disclosure;
    res.json({ data: out });
  });

  const identity = (t: { identity?: unknown }) => t.identity as IdentitySettings | undefined;

  tenantRoute(router, deps, 'post', '/tenants/:tenant/learners/:id/merge', { scope: 'identity.manage' }, async ({ req, res, tenant, principal }) => {
    const body = jsonObjectBody(req, ['otherId', 'reason']);
    const decision = await mergePersons(db, tenant.id, String(req.params.id), requiredString(body, 'otherId'), principal.name, optionalString(body, 'reason'), identity(tenant));
    res.json({ data: { decision, personId: String(req.params.id) } });
  });

  tenantRoute(router, deps, 'post', '/tenants/:tenant/learners/:id/unmerge', { scope: 'identity.manage' }, async ({ req, res, tenant, principal }) => {
    const body = jsonObjectBody(req, ['connectorId', 'sourceId', 'reason']);
    const r = await unmergeSource(db, tenant.id, String(req.params.id), requiredString(body, 'connectorId'), requiredString(body, 'sourceId'), principal.name, optionalString(body, 'reason'), identity(tenant));
    res.json({ data: r });
  });

  tenantRoute(router, deps, 'get', '/tenants/:tenant/identity/candidates', { scope: 'roster.read', query: ['status', 'limit', 'cursor'] }, async ({ req, res, tenant }) => {
    const limit = parseLimit(queryString(req, 'limit'));
    const after = decodeCursor(queryString(req, 'cursor'), 'candidates', 'string');
    const status = queryString(req, 'status') ?? 'open';
    if (!['open', 'accepted', 'rejected', 'superseded'].includes(status)) throw badRequest('status', 'must be one of open, accepted, rejected, superseded');
    const q = db.knex('match_candidates').where({ tenant_id: tenant.id, status }).orderBy('id').limit(limit + 1);
    if (after) q.where('id', '>', after);
    const rows = (await q) as Record<string, string>[];
    const ids = [...new Set(rows.flatMap((r) => [r.person_id, r.candidate_id]))];
    const persons = new Map(((await db.knex('records').where({ tenant_id: tenant.id, entity_type: 'person' }).whereIn('id', ids).select('id', 'data')) as { id: string; data: string }[])
      .map((p) => [p.id, JSON.parse(p.data) as Record<string, unknown>]));
    const brief = (id: string) => {
      const p = persons.get(id);
      return p ? { id, givenName: p.givenName, familyName: p.familyName, grades: p.grades, email: p.email } : { id };
    };
    res.json(toPage(rows, limit, 'candidates', (r) => r.id, (r) => ({
      id: r.id, status: r.status, score: Number(r.score), evidence: JSON.parse(r.evidence), connector: r.connector_id, sourceId: r.source_id,
      person: brief(r.person_id), candidate: brief(r.candidate_id), createdAt: r.created_at, decidedBy: r.decided_by ?? null, decidedAt: r.decided_at ?? null, reason: r.reason ?? null,
    })));
  });

  for (const verb of ['accept', 'reject'] as const) {
    tenantRoute(router, deps, 'post', `/tenants/:tenant/identity/candidates/:id/${verb}`, { scope: 'identity.manage' }, async ({ req, res, tenant, principal }) => {
      const body = jsonObjectBody(req, ['reason']);
      const r = await decideCandidate(db, tenant.id, String(req.params.id), verb === 'accept', principal.name, optionalString(body, 'reason'), identity(tenant));
      res.json({ data: r });
    });
  }

  tenantRoute(router, deps, 'get', '/tenants/:tenant/identity/decisions', { scope: 'roster.read', query: ['personId', 'limit', 'cursor'] }, async ({ req, res, tenant }) => {
    const limit = parseLimit(queryString(req, 'limit'));
    const after = decodeCursor(queryString(req, 'cursor'), 'decisions', 'string');
    const q = db.knex('identity_decisions').where({ tenant_id: tenant.id }).orderBy('id').limit(limit + 1);
    const pid = queryString(req, 'personId');
    if (pid) q.where((w) => w.where('person_id', pid).orWhere('other_id', pid));
    if (after) q.where('id', '>', after);
    res.json(toPage((await q) as Record<string, string>[], limit, 'decisions', (r) => r.id, (r) => ({
      id: r.id, kind: r.kind, personId: r.person_id, otherId: r.other_id ?? null, moved: (JSON.parse(r.payload) as { moved: unknown[] }).moved,
      runId: r.run_id ?? null, decidedBy: r.decided_by, decidedAt: r.decided_at, reason: r.reason ?? null,
    })));
  });

  tenantRoute(router, deps, 'get', '/tenants/:tenant/identity/stats', { scope: 'roster.read' }, async ({ res, tenant }) => {
    const stats = await matchStats(db, tenant.id);
    const out: Record<string, unknown> = {};
    for (const [connector, c] of Object.entries(stats)) {
      const share = (n = 0) => (c.total ? Math.round((n / c.total) * 10000) / 10000 : 0);
      out[connector] = { ...c, share: { linked: share(c.linked), review: share(c.review), new: share(c.new), provisional: share(c.provisional), manual: share(c.manual) } };
    }
    res.json({ data: out });
  });
}
