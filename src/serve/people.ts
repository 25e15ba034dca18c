/**
 * Person sessions and the relationships access is decided from (src/serve/access.ts).
 *
 *   POST   /tenants/:t/sessions                    { personId, roles, ttlSeconds? } → { token, expiresAt }  (sessions.issue)
 *   GET    /tenants/:t/me                          the caller's person, roles, and whom they may see   (person sessions)
 *   GET    /tenants/:t/learners/:id/guardians      guardian links of a learner                          (roster.read)
 *   POST   /tenants/:t/guardianships               { guardianId, learnerId, relationship }             (identity.manage)
 *   DELETE /tenants/:t/guardianships/:guardianId/:learnerId                                            (identity.manage)
 */
import type { Router } from 'express';
import { HubError } from '../core/errors';
import type { Db } from '../store/db';
import { tenantRoute, type AppDeps } from './route';
import { badRequest } from './errors';
import { jsonObjectBody } from './params';
import { classesTaughtBy, learnersOfGuardian, requireLearner } from './access';
import { PERSON_ROLES, sessionKeys, type PersonRole } from './sessions';

const RELATIONSHIPS = ['parent', 'guardian', 'relative', 'mentor'] as const;

function idField(body: Record<string, unknown>, key: string): string {
  const v = body[key];
  if (typeof v !== 'string' || !v || v.length > 64) throw badRequest(key, 'is required (a unified person id)');
  return v;
}

async function requirePerson(db: Db, tenantId: string, id: string, path: string): Promise<void> {
  const row = await db.knex('records').where({ tenant_id: tenantId, entity_type: 'person', id }).whereNull('deleted_at').first('id');
  if (!row) throw new HubError('not_found', `${path}: no person with that id exists for the tenant.`, [{ path, message: 'not found' }]);
}

export async function linkGuardian(db: Db, tenantId: string, guardianId: string, learnerId: string, relationship: string, source: string): Promise<boolean> {
  const existing = await db.knex('guardianships').where({ tenant_id: tenantId, guardian_id: guardianId, learner_id: learnerId }).first('learner_id');
  if (existing) return false;
  await db.knex('guardianships').insert({ tenant_id: tenantId, guardian_id: guardianId, learner_id: learnerId, relationship, source, created_at: new Date().toISOString() });
  return true;
}

export function peopleRoutes(router: Router, deps: AppDeps): void {
  const { db } = deps;

  tenantRoute(router, deps, 'post', '/tenants/:tenant/sessions', { scope: 'sessions.issue' }, async ({ req, res, tenant, principal }) => {
    const body = jsonObjectBody(req, ['personId', 'roles', 'ttlSeconds']);
    const personId = idField(body, 'personId');
    const roles = body.roles;
    if (!Array.isArray(roles) || !roles.length || roles.some((r) => !(PERSON_ROLES as readonly unknown[]).includes(r))) {
      throw badRequest('roles', `must be a non-empty array of: ${PERSON_ROLES.join(', ')}`);
    }
    if (body.ttlSeconds !== undefined && typeof body.ttlSeconds !== 'number') throw badRequest('ttlSeconds', 'must be a number of seconds');
    await requirePerson(db, tenant.id, personId, 'personId');
    const s = await sessionKeys(db, deps.env).issue({ tenantId: tenant.id, personId, roles: [...new Set(roles as PersonRole[])], via: `api:${principal.name}`, ttlSeconds: body.ttlSeconds as number | undefined });
    deps.log.info({ tenant: tenant.id, jti: s.jti, issuer: principal.name }, 'person session issued');
    res.status(201).json({ data: { token: s.token, tokenType: 'Bearer', expiresAt: s.expiresAt } });
  });

  tenantRoute(router, deps, 'get', '/tenants/:tenant/me', { scope: 'roster.read', persons: true }, async ({ res, tenant, principal }) => {
    const person = principal.person;
    if (!person) throw new HubError('bad_request', 'This route describes a person session; an API key is not a person.', [{ path: 'authorization', message: 'person session required' }]);
    const roles = [...person.roles];
    res.json({
      data: {
        personId: person.personId, roles, via: person.via, expiresAt: person.expiresAt,
        ...(person.roles.has('teacher') ? { classes: await classesTaughtBy(db, tenant.id, person.personId) } : {}),
        ...(person.roles.has('guardian') ? { learners: await learnersOfGuardian(db, tenant.id, person.personId) } : {}),
      },
    });
  });

  tenantRoute(router, deps, 'get', '/tenants/:tenant/learners/:id/guardians', { scope: 'roster.read', persons: true }, async ({ req, res, tenant, principal }) => {
    const id = String(req.params.id);
    await requireLearner(db, tenant.id, principal, id, ['service', 'administrator', 'teacher', 'guardian']);
    const rows = (await db.knex('guardianships').where({ tenant_id: tenant.id, learner_id: id }).orderBy('guardian_id')
      .select('guardian_id', 'relationship', 'source', 'created_at')) as Record<string, string>[];
    res.json({ data: rows.map((r) => ({ guardianId: r.guardian_id, relationship: r.relationship, source: r.source, createdAt: r.created_at })) });
  });

  tenantRoute(router, deps, 'post', '/tenants/:tenant/guardianships', { scope: 'identity.manage' }, async ({ req, res, tenant, principal }) => {
    const body = jsonObjectBody(req, ['guardianId', 'learnerId', 'relationship']);
    const guardianId = idField(body, 'guardianId');
    const learnerId = idField(body, 'learnerId');
    if (guardianId === learnerId) throw badRequest('guardianId', 'a person cannot be their own guardian');
    const relationship = body.relationship ?? 'guardian';
    if (!(RELATIONSHIPS as readonly unknown[]).includes(relationship)) throw badRequest('relationship', `must be one of: ${RELATIONSHIPS.join(', ')}`);
    await requirePerson(db, tenant.id, guardianId, 'guardianId');
    await requirePerson(db, tenant.id, learnerId, 'learnerId');
    const created = await linkGuardian(db, tenant.id, guardianId, learnerId, relationship as string, `api:${principal.name}`);
    res.status(created ? 201 : 200).json({ data: { guardianId, learnerId, relationship, created } });
  });

  tenantRoute(router, deps, 'delete', '/tenants/:tenant/guardianships/:guardianId/:learnerId', { scope: 'identity.manage' }, async ({ req, res, tenant }) => {
    const n = await db.knex('guardianships').where({ tenant_id: tenant.id, guardian_id: String(req.params.guardianId), learner_id: String(req.params.learnerId) }).delete();
    if (!n) throw new HubError('not_found', 'No such guardian link.', [{ path: 'guardianId', message: 'not found' }]);
    res.status(204).end();
  });
}
