/**
 * Competencies, evidence, mastery, readiness groups, alignments and credits (src/derive/). See src/serve/README.md.
 *
 *   GET    /tenants/:t/competencies?framework=&subject=           frameworks and items with their mastery rules
 *   GET    /tenants/:t/learners/:id/mastery?framework=&subject=&competency=&explain=   (persons: who may see the learner)
 *   GET    /tenants/:t/learners/:id/evidence?competency=&limit=&cursor=             (persons: who may see the learner)
 *   POST   /tenants/:t/learners/:id/evidence                      staff-entered evidence (evidence.write, or a
 *                                                                 teacher of the learner / an administrator)
 *   GET    /tenants/:t/learners/:id/credits                       (persons: who may see the learner)
 *   GET    /tenants/:t/classes/:id/mastery?competency=&framework=&subject=   heat map (teacher of the class)
 *   GET    /tenants/:t/classes/:id/groups?competency=&bands=      readiness groups (teacher of the class)
 *   GET    /tenants/:t/alignments?kind=&ref=                      API alignments (roster.read)
 *   POST   /tenants/:t/alignments                                 { evidenceKind, evidenceRef, competency } (evidence.write)
 *   DELETE /tenants/:t/alignments/:id                             (evidence.write)
 *   GET    /tenants/:t/evidence/problems?code=&limit=&cursor=     what could not become evidence (roster.read)
 *   GET    /tenants/:t/courses/:id/competencies                   credit requirements (roster.read)
 *   POST   /tenants/:t/courses/:id/competencies                   { competencies: [...] } (evidence.write)
 *   DELETE /tenants/:t/courses/:id/competencies/:competencyId     (evidence.write)
 *   POST   /tenants/:t/mastery/recompute                          { evidence?: boolean } (sync.run)
 */
import { randomUUID } from 'node:crypto';
import type { Router } from 'express';
import { HubError } from '../core/errors';
import type { Principal } from './auth';
import { tenantRoute, type AppDeps } from './route';
import { badRequest } from './errors';
import { jsonObjectBody, queryBoolean, queryEnum, queryString } from './params';
import { decodeCursor, parseLimit, toPage } from './pagination';
import { requireClass, requireLearner, studentsOfClasses } from './access';
import { loadCatalog, type Catalog, type ItemInfo } from '../derive/catalog';
import { deriveCaliperEvents, deriveChanged, recomputeForLearners, recomputeTenant } from '../derive/index';
import { evidenceId, insertEvidence, toScale, type EvidenceRow } from '../derive/evidence';
import { readinessGroups, type LearnerLevel } from '../derive/groups';
import { methodLabel } from '../derive/rules';
import type { MasteryRow } from '../derive/mastery';
import type { Db } from '../store/db';

const EXTERNAL_KINDS = ['internship', 'communityService', 'onlineCourse', 'independentStudy', 'other'] as const;
const ALIGN_KINDS = ['lineItem', 'assessment', 'objective', 'caliper'] as const;

function itemView(c: Catalog, it: ItemInfo) {
  const fw = c.frameworks.get(it.frameworkId);
  return {
    id: it.id, caseId: it.caseId, uri: it.uri ?? null, code: it.code ?? null, statement: it.statement, itemType: it.itemType ?? null,
    frameworkId: it.frameworkId, framework: fw?.title ?? null, subject: it.subject, parentId: it.parentId ?? null,
    rules: { scale: [it.rules.scaleMin, it.rules.scaleMax], threshold: it.rules.threshold, approaching: it.rules.approaching, method: methodLabel(it.rules.method), late: it.rules.late, missing: it.rules.missing },
  };
}

function filterItems(c: Catalog, framework?: string, subject?: string): ItemInfo[] {
  let items = [...c.items.values()];
  if (framework) {
    const f = [...c.frameworks.values()].find((x) => x.id === framework || x.caseId.toLowerCase() === framework.toLowerCase() || x.uri === framework);
    if (!f) throw badRequest('framework', 'names no framework of the tenant (give its id, CASE identifier or URI)');
    items = items.filter((i) => i.frameworkId === f.id);
  }
  if (subject) items = items.filter((i) => i.subject !== null && i.subject.toLowerCase() === subject.toLowerCase());
  return items.sort((a, b) => ((a.code ?? a.caseId) < (b.code ?? b.caseId) ? -1 : (a.code ?? a.caseId) > (b.code ?? b.caseId) ? 1 : 0));
}

/** A `mastery` row as the routes select it (every column but the tenant). */
type MasteryDbRow = Omit<MasteryRow, 'tenant_id'>;

function masteryView(c: Catalog, m: MasteryDbRow, explain: boolean) {
  const it = c.items.get(m.competency_id);
  return {
    competencyId: m.competency_id, code: it?.code ?? null, statement: it?.statement ?? null, frameworkId: m.framework_id, subject: m.subject,
    level: m.level === null ? null : Number(m.level), scale: [Number(m.scale_min), Number(m.scale_max)], threshold: Number(m.threshold), status: m.status,
    method: m.method, evidenceCount: Number(m.evidence_count), lastEvidenceAt: m.last_evidence_at, updatedAt: m.updated_at,
    ...(explain ? { explain: JSON.parse(m.explain) as unknown } : {}),
  };
}

function evidenceView(e: EvidenceRow) {
  return {
    id: e.id, competencyId: e.competency_id, frameworkId: e.framework_id, level: e.level === null ? null : Number(e.level),
    rawScore: e.raw_score === null ? null : Number(e.raw_score), rawScale: e.raw_min === null ? null : [Number(e.raw_min), Number(e.raw_max)],
    attempt: e.attempt, observedAt: e.observed_at, late: !!e.late, exempt: !!e.exempt, missing: !!e.missing,
    source: { kind: e.source_kind, id: e.source_id, itemId: e.item_id, objective: e.objective, connector: e.connector_id, alignedBy: e.via },
    ...(e.source_kind === 'external' ? { description: e.description, attachmentUrl: e.attachment_url, author: e.author } : {}),
  };
}

function requireCompetency(c: Catalog, ref: unknown, path: string): ItemInfo {
  if (typeof ref !== 'string' || !ref || ref.length > 500) throw badRequest(path, 'must be a competency id, CASE identifier or URI, or code');
  const r = c.resolve(ref);
  if ('error' in r) throw new HubError('competency_unknown', `${path}: ${r.message}`, [{ path, message: r.message }]);
  return c.items.get(r.id)!;
}

function whoIs(p: Principal): string {
  return p.person ? `person:${p.person.personId}` : `api:${p.name}`;
}

async function names(db: Db, tenantId: string, ids: readonly string[]): Promise<Map<string, { givenName?: string; familyName?: string }>> {
  const out = new Map<string, { givenName?: string; familyName?: string }>();
  for (let i = 0; i < ids.length; i += 500) {
    for (const r of (await db.knex('records').where({ tenant_id: tenantId, entity_type: 'person' }).whereIn('id', ids.slice(i, i + 500)).select('id', 'data')) as { id: string; data: string }[]) {
      const d = JSON.parse(r.data) as { givenName?: string; familyName?: string; preferredGivenName?: string };
      out.set(r.id, { givenName: d.preferredGivenName ?? d.givenName, familyName: d.familyName });
    }
  }
  return out;
}

export function competencyRoutes(router: Router, deps: AppDeps): void {
  const { db, config } = deps;
  const derive = { db, config, log: deps.log };
  const catalog = (tenantId: string) => loadCatalog(db, config, tenantId);

  tenantRoute(router, deps, 'get', '/tenants/:tenant/competencies', { scope: 'roster.read', persons: true, query: ['framework', 'subject'] }, async ({ req, res, tenant }) => {
    const c = await catalog(tenant.id);
    const items = filterItems(c, queryString(req, 'framework'), queryString(req, 'subject'));
    res.json({
      data: items.map((i) => itemView(c, i)),
      frameworks: [...c.frameworks.values()].map((f) => ({ id: f.id, caseId: f.caseId, uri: f.uri ?? null, title: f.title, subjects: f.subjects })),
      crosswalkTypes: c.crosswalkTypes,
      crosswalkCycles: c.cycles.map((cy) => cy.path.map((caseId) => {
        const r = c.resolve(caseId);
        return ('id' in r ? c.items.get(r.id)?.code : undefined) ?? caseId;
      })),
    });
  });

  tenantRoute(router, deps, 'get', '/tenants/:tenant/learners/:id/mastery', { scope: 'roster.read', persons: true, query: ['framework', 'subject', 'competency', 'explain'] }, async ({ req, res, tenant, principal }) => {
    const learner = String(req.params.id);
    await requireLearner(db, tenant.id, principal, learner);
    const c = await catalog(tenant.id);
    const explain = queryBoolean(req, 'explain') ?? false;
    const q = db.knex('mastery').where({ tenant_id: tenant.id, learner_id: learner });
    const framework = queryString(req, 'framework');
    const subject = queryString(req, 'subject');
    if (framework || subject) q.whereIn('competency_id', filterItems(c, framework, subject).map((i) => i.id));
    const comp = queryString(req, 'competency');
    if (comp) q.where('competency_id', requireCompetency(c, comp, 'competency').id);
    const rows = (await q.orderBy('competency_id')) as MasteryDbRow[];
    res.json({ data: rows.map((m) => masteryView(c, m, explain)) });
  });

  tenantRoute(router, deps, 'get', '/tenants/:tenant/learners/:id/evidence', { scope: 'roster.read', persons: true, query: ['competency', 'limit', 'cursor'] }, async ({ req, res, tenant, principal }) => {
    const learner = String(req.params.id);
    await requireLearner(db, tenant.id, principal, learner);
    const limit = parseLimit(queryString(req, 'limit'));
    const after = decodeCursor(queryString(req, 'cursor'), 'evidence', 'string');
    const q = db.knex('evidence').where({ tenant_id: tenant.id, learner_id: learner }).orderBy('id').limit(limit + 1);
    const comp = queryString(req, 'competency');
    if (comp) {
      const c = await catalog(tenant.id);
      // The evidence that counts toward the competency: its own and its crosswalked contributors'.
      q.whereIn('competency_id', [...c.contributors(requireCompetency(c, comp, 'competency').id)]);
    }
    if (after) q.where('id', '>', after);
    res.json(toPage((await q) as EvidenceRow[], limit, 'evidence', (e) => e.id, evidenceView));
  });

  tenantRoute(router, deps, 'post', '/tenants/:tenant/learners/:id/evidence', { scope: 'evidence.write', persons: true }, async ({ req, res, tenant, principal }) => {
    const learner = String(req.params.id);
    if (principal.person) await requireLearner(db, tenant.id, principal, learner, ['teacher', 'administrator']);
    else await requireLearner(db, tenant.id, principal, learner);
    const body = jsonObjectBody(req, ['competency', 'kind', 'description', 'attachmentUrl', 'observedAt', 'level', 'score', 'scoreMin', 'scoreMax']);
    const c = await catalog(tenant.id);
    const item = requireCompetency(c, body.competency, 'competency');
    const kind = body.kind;
    if (typeof kind !== 'string' || !(EXTERNAL_KINDS as readonly string[]).includes(kind)) throw badRequest('kind', `must be one of: ${EXTERNAL_KINDS.join(', ')}`);
    if (typeof body.description !== 'string' || !body.description.trim() || body.description.length > 4000) throw badRequest('description', 'is required (at most 4000 characters)');
    let url: string | null = null;
    if (body.attachmentUrl !== undefined && body.attachmentUrl !== null) {
      const ok = typeof body.attachmentUrl === 'string' && body.attachmentUrl.length <= 2000 && /^https?:\/\/[^\s]+$/i.test(body.attachmentUrl);
      if (!ok) throw badRequest('attachmentUrl', 'must be an http(s) URL of at most 2000 characters');
      try {
        url = new URL(body.attachmentUrl as string).toString();
      } catch {
        throw badRequest('attachmentUrl', 'must be an http(s) URL of at most 2000 characters');
      }
    }
    const observedAt = body.observedAt === undefined ? new Date().toISOString().slice(0, 10) : body.observedAt;
    if (typeof observedAt !== 'string' || !/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(observedAt) || Number.isNaN(Date.parse(observedAt))) throw badRequest('observedAt', 'must be a date (YYYY-MM-DD) or an ISO date-time');
    const r = item.rules;
    let raw: number;
    let min: number;
    let max: number;
    if (body.level !== undefined) {
      if (body.score !== undefined) throw badRequest('score', 'give either level (on the framework scale) or score with scoreMin/scoreMax, not both');
      if (typeof body.level !== 'number' || !Number.isFinite(body.level)) throw badRequest('level', 'must be a number');
      [raw, min, max] = [body.level, r.scaleMin, r.scaleMax];
      if (raw < min || raw > max) throw new HubError('score_out_of_scale', `level: ${raw} is outside the framework scale ${min}..${max}`, [{ path: 'level', message: `outside ${min}..${max}` }]);
    } else {
      if (typeof body.score !== 'number' || typeof body.scoreMax !== 'number' || !Number.isFinite(body.score) || !Number.isFinite(body.scoreMax)) throw badRequest('score', 'give level, or score with scoreMax (and optionally scoreMin, default 0)');
      min = body.scoreMin === undefined ? 0 : (body.scoreMin as number);
      if (typeof min !== 'number' || !Number.isFinite(min) || !(body.scoreMax > min)) throw badRequest('scoreMin', 'must be a number below scoreMax');
      [raw, max] = [body.score, body.scoreMax];
      if (raw < min || raw > max) throw new HubError('score_out_of_scale', `score: ${raw} is outside its scale ${min}..${max}`, [{ path: 'score', message: `outside ${min}..${max}` }]);
    }
    const at = new Date().toISOString();
    const sourceId = `ext_${randomUUID()}`;
    const row: EvidenceRow = {
      tenant_id: tenant.id, id: evidenceId('external', sourceId, item.id, null), learner_id: learner, competency_id: item.id, framework_id: item.frameworkId,
      level: toScale(raw, min, max, r.scaleMin, r.scaleMax), raw_score: raw, raw_min: min, raw_max: max, attempt: null, observed_at: observedAt,
      late: false, exempt: false, missing: false, source_kind: 'external', source_id: sourceId, item_id: `external:${kind}`, objective: null, connector_id: null,
      via: 'api', description: body.description.trim(), attachment_url: url, author: whoIs(principal), created_at: at,
    };
    let mastery: MasteryDbRow[] = [];
    await db.knex.transaction(async (trx) => {
      await insertEvidence(trx, [row]);
      await recomputeForLearners(derive, tenant.id, [learner], { cause: `api:${principal.person ? 'person' : principal.name}` }, trx);
      mastery = (await trx('mastery').where({ tenant_id: tenant.id, learner_id: learner }).whereIn('competency_id', [...c.targets(item.id)])) as MasteryDbRow[];
    });
    res.status(201).json({ data: { evidence: evidenceView(row), mastery: mastery.map((m) => masteryView(c, m, false)) } });
  });

  tenantRoute(router, deps, 'get', '/tenants/:tenant/learners/:id/credits', { scope: 'roster.read', persons: true }, async ({ req, res, tenant, principal }) => {
    const learner = String(req.params.id);
    await requireLearner(db, tenant.id, principal, learner);
    const rows = (await db.knex('credits').where({ tenant_id: tenant.id, learner_id: learner }).orderBy('course_id')) as { course_id: string; status: string; awarded_at: string; revoked_at: string | null; trail: string; updated_at: string }[];
    res.json({ data: rows.map((r) => ({ courseId: r.course_id, status: r.status, awardedAt: r.awarded_at, revokedAt: r.revoked_at, updatedAt: r.updated_at, trail: JSON.parse(r.trail) as unknown })) });
  });

  tenantRoute(router, deps, 'get', '/tenants/:tenant/classes/:id/mastery', { scope: 'roster.read', persons: true, query: ['competency', 'framework', 'subject'] }, async ({ req, res, tenant, principal }) => {
    const classId = String(req.params.id);
    await requireClass(db, tenant.id, principal, classId);
    const c = await catalog(tenant.id);
    const learners = (await studentsOfClasses(db, tenant.id, [classId])).sort();
    const q = db.knex('mastery').where({ tenant_id: tenant.id }).whereIn('learner_id', learners.length ? learners : ['']).select('learner_id', 'competency_id', 'level', 'status', 'evidence_count');
    const comp = queryString(req, 'competency');
    const framework = queryString(req, 'framework');
    const subject = queryString(req, 'subject');
    if (comp) q.where('competency_id', requireCompetency(c, comp, 'competency').id);
    else if (framework || subject) q.whereIn('competency_id', filterItems(c, framework, subject).map((i) => i.id));
    const rows = (await q) as { learner_id: string; competency_id: string; level: number | null; status: string; evidence_count: number }[];
    const comps = [...new Set(rows.map((r) => r.competency_id))].map((id) => c.items.get(id)).filter((x): x is ItemInfo => !!x)
      .sort((a, b) => ((a.code ?? a.id) < (b.code ?? b.id) ? -1 : 1));
    const byLearner = new Map<string, Record<string, { level: number | null; status: string; evidenceCount: number }>>();
    for (const r of rows) (byLearner.get(r.learner_id) ?? byLearner.set(r.learner_id, {}).get(r.learner_id)!)[r.competency_id] = { level: r.level === null ? null : Number(r.level), status: r.status, evidenceCount: Number(r.evidence_count) };
    const who = await names(db, tenant.id, learners);
    res.json({
      data: {
        classId,
        competencies: comps.map((i) => ({ id: i.id, code: i.code ?? null, statement: i.statement, subject: i.subject, scale: [i.rules.scaleMin, i.rules.scaleMax], threshold: i.rules.threshold })),
        learners: learners.map((l) => ({ id: l, ...who.get(l), mastery: byLearner.get(l) ?? {} })),
      },
    });
  });

  tenantRoute(router, deps, 'get', '/tenants/:tenant/classes/:id/groups', { scope: 'roster.read', persons: true, query: ['competency', 'bands'] }, async ({ req, res, tenant, principal }) => {
    const classId = String(req.params.id);
    await requireClass(db, tenant.id, principal, classId);
    const c = await catalog(tenant.id);
    const compRef = queryString(req, 'competency');
    if (!compRef) throw badRequest('competency', 'is required');
    const item = requireCompetency(c, compRef, 'competency');
    let bands: number[] | undefined;
    const b = queryString(req, 'bands');
    if (b !== undefined) {
      bands = b.split(',').map(Number);
      const ok = bands.length <= 10 && bands.every((x, i) => Number.isFinite(x) && x > item.rules.scaleMin && x < item.rules.scaleMax && (i === 0 || x > bands![i - 1]));
      if (!ok) throw badRequest('bands', `must be up to 10 ascending cut points strictly inside the scale ${item.rules.scaleMin}..${item.rules.scaleMax}`);
    }
    const learners = await studentsOfClasses(db, tenant.id, [classId]);
    const rows = learners.length ? ((await db.knex('mastery').where({ tenant_id: tenant.id, competency_id: item.id }).whereIn('learner_id', learners).select('learner_id', 'level', 'status')) as { learner_id: string; level: number | null; status: string }[]) : [];
    const m = new Map<string, LearnerLevel>(rows.map((r) => [r.learner_id, { learnerId: r.learner_id, level: r.level === null ? null : Number(r.level), status: r.status }]));
    const who = await names(db, tenant.id, learners);
    const groups = readinessGroups(item, learners, m, bands);
    res.json({
      data: {
        classId, competency: itemView(c, item),
        groups: groups.map((g) => ({ ...g, learners: g.learners.map((l) => ({ ...l, ...who.get(l.learnerId) })) })),
      },
    });
  });

  tenantRoute(router, deps, 'get', '/tenants/:tenant/alignments', { scope: 'roster.read', query: ['kind', 'ref'] }, async ({ req, res, tenant }) => {
    const q = db.knex('alignments').where({ tenant_id: tenant.id }).orderBy('id');
    const kind = queryEnum(req, 'kind', ALIGN_KINDS);
    if (kind) q.where('evidence_kind', kind);
    const ref = queryString(req, 'ref');
    if (ref) q.where('evidence_ref', ref);
    const rows = (await q) as { id: string; evidence_kind: string; evidence_ref: string; competency_id: string; created_by: string; created_at: string }[];
    res.json({ data: rows.map((r) => ({ id: r.id, evidenceKind: r.evidence_kind, evidenceRef: r.evidence_ref, competencyId: r.competency_id, createdBy: r.created_by, createdAt: r.created_at })) });
  });

  /** Re-derives what an alignment change affects. */
  const rederive = async (tenantId: string, kind: string, ref: string, cause: string) => {
    if (kind === 'lineItem') await deriveChanged(derive, tenantId, new Map([['lineItem', [ref]]]), { cause });
    else if (kind === 'assessment' || kind === 'objective') await deriveChanged(derive, tenantId, new Map([['assessment', [kind === 'objective' ? ref.split('|')[0] : ref]]]), { cause });
    else {
      const ids = ((await db.knex('learning_events').where({ tenant_id: tenantId, object_id: ref }).whereNotNull('score_given').select('event_id')) as { event_id: string }[]).map((r) => r.event_id);
      await deriveCaliperEvents(derive, tenantId, ids, { cause });
    }
  };

  tenantRoute(router, deps, 'post', '/tenants/:tenant/alignments', { scope: 'evidence.write' }, async ({ req, res, tenant, principal }) => {
    const body = jsonObjectBody(req, ['evidenceKind', 'evidenceRef', 'competency']);
    const kind = body.evidenceKind;
    if (typeof kind !== 'string' || !(ALIGN_KINDS as readonly string[]).includes(kind)) throw badRequest('evidenceKind', `must be one of: ${ALIGN_KINDS.join(', ')}`);
    const ref = body.evidenceRef;
    if (typeof ref !== 'string' || !ref || ref.length > 500) throw badRequest('evidenceRef', 'is required (a line item or assessment id, `<assessment id>|<objective code>`, or a Caliper IRI)');
    if (kind !== 'caliper') {
      const type = kind === 'lineItem' ? 'lineItem' : 'assessment';
      const id = kind === 'objective' ? ref.split('|')[0] : ref;
      if (kind === 'objective' && !ref.includes('|')) throw badRequest('evidenceRef', "an objective is '<assessment id>|<objective code>'");
      const exists = await db.knex('records').where({ tenant_id: tenant.id, entity_type: type, id }).whereNull('deleted_at').first('id');
      if (!exists) throw new HubError('not_found', `No ${type} with that id exists for the tenant.`, [{ path: 'evidenceRef', message: 'not found' }]);
    } else if (!/^[a-z][a-z0-9+.-]*:/i.test(ref)) throw badRequest('evidenceRef', 'a Caliper object is named by its IRI');
    const c = await catalog(tenant.id);
    const item = requireCompetency(c, body.competency, 'competency');
    const id = `aln_${randomUUID()}`;
    await db.knex('alignments').insert({ tenant_id: tenant.id, id, evidence_kind: kind, evidence_ref: ref, competency_id: item.id, created_by: whoIs(principal), created_at: new Date().toISOString() })
      .onConflict(['tenant_id', 'evidence_kind', 'evidence_ref', 'competency_id']).ignore();
    const row = await db.knex('alignments').where({ tenant_id: tenant.id, evidence_kind: kind, evidence_ref: ref, competency_id: item.id }).first();
    await rederive(tenant.id, kind, ref, `api:${principal.name}`);
    res.status(row.id === id ? 201 : 200).json({ data: { id: row.id, evidenceKind: kind, evidenceRef: ref, competencyId: item.id, createdBy: row.created_by, createdAt: row.created_at } });
  });

  tenantRoute(router, deps, 'delete', '/tenants/:tenant/alignments/:id', { scope: 'evidence.write' }, async ({ req, res, tenant, principal }) => {
    const row = (await db.knex('alignments').where({ tenant_id: tenant.id, id: String(req.params.id) }).first()) as { evidence_kind: string; evidence_ref: string } | undefined;
    if (!row) throw new HubError('not_found', 'No alignment with that id exists for the tenant.', [{ path: 'id', message: 'not found' }]);
    await db.knex('alignments').where({ tenant_id: tenant.id, id: String(req.params.id) }).delete();
    await rederive(tenant.id, row.evidence_kind, row.evidence_ref, `api:${principal.name}`);
    res.status(204).end();
  });

  tenantRoute(router, deps, 'get', '/tenants/:tenant/evidence/problems', { scope: 'roster.read', query: ['code', 'limit', 'cursor'] }, async ({ req, res, tenant }) => {
    const limit = parseLimit(queryString(req, 'limit'));
    const after = decodeCursor(queryString(req, 'cursor'), 'evidence-problems', 'number');
    const q = db.knex('evidence_problems').where({ tenant_id: tenant.id }).orderBy('id').limit(limit + 1);
    const code = queryEnum(req, 'code', ['competency_unknown', 'learner_unknown', 'score_out_of_scale', 'crosswalk_cycle'] as const);
    if (code) q.where('code', code);
    if (after !== undefined) q.where('id', '>', after);
    const rows = (await q) as { id: number; source_kind: string; source_id: string; connector_id: string | null; code: string; field: string | null; ref: string | null; reason: string; at: string }[];
    res.json(toPage(rows, limit, 'evidence-problems', (r) => Number(r.id), (r) => ({ source: { kind: r.source_kind, id: r.source_id, connector: r.connector_id }, code: r.code, field: r.field, ref: r.ref, reason: r.reason, at: r.at })));
  });

  tenantRoute(router, deps, 'get', '/tenants/:tenant/courses/:id/competencies', { scope: 'roster.read' }, async ({ req, res, tenant }) => {
    const courseId = String(req.params.id);
    const rows = (await db.knex('course_competencies').where({ tenant_id: tenant.id, course_id: courseId }).orderBy('competency_id')) as { competency_id: string; created_by: string; created_at: string }[];
    res.json({ data: rows.map((r) => ({ competencyId: r.competency_id, createdBy: r.created_by, createdAt: r.created_at })) });
  });

  tenantRoute(router, deps, 'post', '/tenants/:tenant/courses/:id/competencies', { scope: 'evidence.write' }, async ({ req, res, tenant, principal }) => {
    const courseId = String(req.params.id);
    const exists = await db.knex('records').where({ tenant_id: tenant.id, entity_type: 'course', id: courseId }).whereNull('deleted_at').first('id');
    if (!exists) throw new HubError('not_found', 'No course with that id exists for the tenant.', [{ path: 'id', message: 'not found' }]);
    const body = jsonObjectBody(req, ['competencies']);
    if (!Array.isArray(body.competencies) || !body.competencies.length || body.competencies.length > 200) throw badRequest('competencies', 'must be a non-empty array (at most 200)');
    const c = await catalog(tenant.id);
    const items = body.competencies.map((x, i) => requireCompetency(c, x, `competencies[${i}]`));
    const at = new Date().toISOString();
    await db.knex('course_competencies').insert(items.map((i) => ({ tenant_id: tenant.id, course_id: courseId, competency_id: i.id, created_by: whoIs(principal), created_at: at })))
      .onConflict(['tenant_id', 'course_id', 'competency_id']).ignore();
    // Credits follow the new requirement at once: every learner with mastery of these competencies is re-decided.
    const learners = ((await db.knex('mastery').where({ tenant_id: tenant.id }).whereIn('competency_id', items.map((i) => i.id)).distinct('learner_id')) as { learner_id: string }[]).map((r) => r.learner_id);
    const outcome = await recomputeForLearners(derive, tenant.id, learners, { cause: `api:${principal.name}` });
    res.status(201).json({ data: { courseId, competencies: items.map((i) => i.id), credits: outcome.credits } });
  });

  tenantRoute(router, deps, 'delete', '/tenants/:tenant/courses/:id/competencies/:competencyId', { scope: 'evidence.write' }, async ({ req, res, tenant, principal }) => {
    const n = await db.knex('course_competencies').where({ tenant_id: tenant.id, course_id: String(req.params.id), competency_id: String(req.params.competencyId) }).delete();
    if (!n) throw new HubError('not_found', 'That course has no such competency requirement.', [{ path: 'competencyId', message: 'not found' }]);
    const learners = ((await db.knex('credits').where({ tenant_id: tenant.id, course_id: String(req.params.id) }).select('learner_id')) as { learner_id: string }[]).map((r) => r.learner_id);
    await recomputeForLearners(derive, tenant.id, learners, { cause: `api:${principal.name}` });
    res.status(204).end();
  });

  tenantRoute(router, deps, 'post', '/tenants/:tenant/mastery/recompute', { scope: 'sync.run' }, async ({ req, res, tenant, principal }) => {
    const body = jsonObjectBody(req, ['evidence']);
    if (body.evidence !== undefined && typeof body.evidence !== 'boolean') throw badRequest('evidence', 'must be true or false');
    const out = await recomputeTenant(derive, tenant.id, { cause: `api:${principal.name}`, evidence: body.evidence as boolean | undefined });
    res.json({ data: out });
  });
}
