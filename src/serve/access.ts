/**
 * Who may see which learner. Every route that returns or changes one learner's data asks `requireLearner`; every
 * route that lists learners filters with `visibleLearnerIds`. The answer comes from the data, per request:
 *
 *   service API key        every learner of the tenants the key may act on (the route's scope is checked first)
 *   student                themselves
 *   guardian               the learners linked to them in `guardianships` (config, API or a source's agents)
 *   teacher                learners with an active student enrollment in a class where they have an active
 *                          teacher enrollment
 *   administrator          every learner of the tenant (a district or school administrator launched from the LMS)
 *
 * A person acts only in the roles their session names: a teacher who signs in as a guardian sees their own children,
 * not their classes. A learner the caller may not see answers exactly like one that does not exist (404), so ids
 * cannot be probed. Protected flags (IEP, 504, English learner) need `canSeeProtected` on top.
 */
import { HubError } from '../core/errors';
import type { TenantConfig } from '../core/config';
import type { Db } from '../store/db';
import type { Principal } from './auth';
import { hasScope } from './auth';
import type { PersonRole } from './sessions';
import { whereJsonField, whereJsonFieldIn } from './sql';

export type Relation = 'service' | 'self' | 'guardian' | 'teacher' | 'administrator';

const notFound = (what = 'learner') => new HubError('not_found', `No ${what} with that id exists for the tenant.`, [{ path: 'id', message: 'not found' }]);

function today(): string {
  return new Date().toISOString().slice(0, 10);
}

interface EnrollmentRow {
  data: string;
}

/** Active enrollments of one person (not deleted, not ended), optionally with a given role. */
async function activeEnrollments(db: Db, tenantId: string, personId: string, role?: string): Promise<{ classId: string; role: string }[]> {
  const q = db.knex('records').where({ tenant_id: tenantId, entity_type: 'enrollment' }).whereNull('deleted_at').select('data');
  whereJsonField(db, q, 'personId', personId);
  const d = today();
  return ((await q) as EnrollmentRow[])
    .map((r) => JSON.parse(r.data) as { classId: string; role: string; endDate?: string })
    .filter((e) => (!role || e.role === role) && !(typeof e.endDate === 'string' && e.endDate < d))
    .map((e) => ({ classId: e.classId, role: e.role }));
}

/** Classes the person teaches now (active teacher enrollments). */
export async function classesTaughtBy(db: Db, tenantId: string, personId: string): Promise<string[]> {
  return [...new Set((await activeEnrollments(db, tenantId, personId, 'teacher')).map((e) => e.classId))];
}

/** The active student enrollments' person ids of the given classes. */
export async function studentsOfClasses(db: Db, tenantId: string, classIds: readonly string[]): Promise<string[]> {
  if (!classIds.length) return [];
  const q = db.knex('records').where({ tenant_id: tenantId, entity_type: 'enrollment' }).whereNull('deleted_at').select('data');
  whereJsonFieldIn(db, q, 'classId', classIds);
  const d = today();
  const ids = new Set<string>();
  for (const r of (await q) as EnrollmentRow[]) {
    const e = JSON.parse(r.data) as { personId: string; role: string; endDate?: string };
    if (e.role === 'student' && !(typeof e.endDate === 'string' && e.endDate < d)) ids.add(e.personId);
  }
  return [...ids];
}

export async function learnersOfGuardian(db: Db, tenantId: string, guardianId: string): Promise<string[]> {
  return ((await db.knex('guardianships').where({ tenant_id: tenantId, guardian_id: guardianId }).select('learner_id')) as { learner_id: string }[]).map((r) => r.learner_id);
}

function roles(p: Principal): ReadonlySet<PersonRole> {
  return p.person?.roles ?? new Set();
}

/**
 * How the caller relates to the learner, or null when they may not see them. Does not check that the learner
 * exists: `requireLearner` does.
 */
export async function relationTo(db: Db, tenantId: string, p: Principal, learnerId: string): Promise<Relation | null> {
  if (!p.person) return 'service';
  if (p.person.tenantId !== tenantId) return null;
  const r = roles(p);
  if (r.has('administrator')) return 'administrator';
  if (p.person.personId === learnerId) return 'self';
  if (r.has('guardian')) {
    const link = await db.knex('guardianships').where({ tenant_id: tenantId, guardian_id: p.person.personId, learner_id: learnerId }).first('learner_id');
    if (link) return 'guardian';
  }
  if (r.has('teacher')) {
    const taught = new Set(await classesTaughtBy(db, tenantId, p.person.personId));
    if (taught.size && (await activeEnrollments(db, tenantId, learnerId, 'student')).some((e) => taught.has(e.classId))) return 'teacher';
  }
  return null;
}

/**
 * The learner exists (a live unified person) and the caller may see them; otherwise 404, the same answer for both.
 * `allow` narrows the relations accepted (e.g. only teachers may comment).
 */
export async function requireLearner(db: Db, tenantId: string, p: Principal, learnerId: string, allow?: readonly Relation[]): Promise<Relation> {
  const rel = await relationTo(db, tenantId, p, learnerId);
  const exists = await db.knex('records').where({ tenant_id: tenantId, entity_type: 'person', id: learnerId }).whereNull('deleted_at').first('id');
  if (!rel || !exists) throw notFound();
  if (allow && !allow.includes(rel)) {
    throw new HubError('forbidden', `Acting as ${rel}, you may see this learner but not do this.`, [{ path: 'role', message: `allowed: ${allow.join(', ')}` }]);
  }
  return rel;
}

/** The learner ids the caller may see, or 'all' (service keys and administrators). */
export async function visibleLearnerIds(db: Db, tenantId: string, p: Principal): Promise<'all' | string[]> {
  if (!p.person) return 'all';
  if (p.person.tenantId !== tenantId) return [];
  const r = roles(p);
  if (r.has('administrator')) return 'all';
  const ids = new Set<string>();
  if (r.has('student')) ids.add(p.person.personId);
  if (r.has('guardian')) for (const id of await learnersOfGuardian(db, tenantId, p.person.personId)) ids.add(id);
  if (r.has('teacher')) for (const id of await studentsOfClasses(db, tenantId, await classesTaughtBy(db, tenantId, p.person.personId))) ids.add(id);
  return [...ids];
}

/** The class exists and the caller may see it as a whole (service, administrator, or a teacher of the class). */
export async function requireClass(db: Db, tenantId: string, p: Principal, classId: string): Promise<Relation> {
  const exists = await db.knex('records').where({ tenant_id: tenantId, entity_type: 'class', id: classId }).whereNull('deleted_at').first('id');
  if (!exists) throw notFound('class');
  if (!p.person) return 'service';
  if (p.person.tenantId === tenantId) {
    if (roles(p).has('administrator')) return 'administrator';
    if (roles(p).has('teacher') && (await classesTaughtBy(db, tenantId, p.person.personId)).includes(classId)) return 'teacher';
  }
  throw notFound('class');
}

/**
 * IEP, 504, English-learner and other protected program flags: service keys with `protected.read`, and persons
 * acting in a role the tenant lists in `access.protectedRoles` (default: administrator only). Never students,
 * never guardians through the PLP.
 */
export function canSeeProtected(p: Principal, tenant: TenantConfig): boolean {
  if (!p.person) return hasScope(p, 'protected.read');
  const allowed: readonly string[] = tenant.access?.protectedRoles ?? ['administrator'];
  return [...p.person.roles].some((r) => allowed.includes(r));
}
