/**
 * Who launched, and from which course: the LTI user and context mapped onto the unified person and class.
 *
 * Person, in order (the first that answers wins; the answer is remembered in `lti_identities`):
 *  1. an earlier launch or NRPS roster sync of the same issuer + sub (following merges: `records.merged_into`);
 *  2. the strong identifier `lti` = `<issuer>|<sub>` (what the NRPS connector and OneRoster `userIds {LTI:...}` give);
 *  3. `lis.person_sourcedid` = a person's SIS sourcedId (a source id of any connector), when exactly one person has it;
 *  4. the e-mail, only when the tenant says e-mails are unique (`identity.emailsUnique`), and exactly one person has it.
 * Nobody matched: the launch is refused with a page that says so (no person is invented from a launch).
 *
 * Class: an admin mapping (`lti_contexts.class_id`), else `lis.course_section_sourcedid` = a class's SIS sourcedId,
 * else the class the NRPS connector made for this context (source id `<context id>`).
 */
import { jsonFieldSql } from '../../store/json-sql';
import type { Db } from '../../store/db';
import type { TenantConfig } from '../../core/config';
import type { PersonRole } from '../sessions';
import type { Registration } from './registrations';

export const CLAIM = {
  messageType: 'https://purl.imsglobal.org/spec/lti/claim/message_type',
  version: 'https://purl.imsglobal.org/spec/lti/claim/version',
  deploymentId: 'https://purl.imsglobal.org/spec/lti/claim/deployment_id',
  roles: 'https://purl.imsglobal.org/spec/lti/claim/roles',
  context: 'https://purl.imsglobal.org/spec/lti/claim/context',
  resourceLink: 'https://purl.imsglobal.org/spec/lti/claim/resource_link',
  lis: 'https://purl.imsglobal.org/spec/lti/claim/lis',
  custom: 'https://purl.imsglobal.org/spec/lti/claim/custom',
  roleScopeMentor: 'https://purl.imsglobal.org/spec/lti/claim/role_scope_mentor',
  ags: 'https://purl.imsglobal.org/spec/lti-ags/claim/endpoint',
  nrps: 'https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice',
  dlSettings: 'https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings',
} as const;

const MEMBERSHIP = 'http://purl.imsglobal.org/vocab/lis/v2/membership#';
const INSTITUTION = 'http://purl.imsglobal.org/vocab/lis/v2/institution/person#';
const SYSTEM = 'http://purl.imsglobal.org/vocab/lis/v2/system/person#';

/**
 * LTI roles -> hub roles. Context roles (full URIs, their sub-roles `#Instructor#TeachingAssistant`, and the
 * deprecated short forms `Instructor`) plus institution/system administrators. Unknown roles are ignored; what a
 * person sees is still decided from the data (enrollments, guardianships), not from the role alone.
 */
export function mapRoles(roles: unknown): PersonRole[] {
  const out = new Set<PersonRole>();
  if (!Array.isArray(roles)) return [];
  for (const raw of roles) {
    if (typeof raw !== 'string') continue;
    let r = raw;
    if (r.startsWith(MEMBERSHIP)) r = r.slice(MEMBERSHIP.length).split('#')[0];
    else if (r.startsWith(INSTITUTION)) r = `inst:${r.slice(INSTITUTION.length)}`;
    else if (r.startsWith(SYSTEM)) r = `sys:${r.slice(SYSTEM.length)}`;
    else if (r.includes('://')) continue;
    switch (r) {
      case 'Instructor':
      case 'inst:Instructor':
      case 'inst:Faculty':
        out.add('teacher');
        break;
      case 'Learner':
      case 'inst:Student':
      case 'inst:Learner':
        out.add('student');
        break;
      case 'Mentor':
      case 'inst:Mentor':
        out.add('guardian');
        break;
      case 'Administrator':
      case 'inst:Administrator':
      case 'sys:Administrator':
      case 'sys:SysAdmin':
        out.add('administrator');
        break;
      default:
    }
  }
  return [...out];
}

export const ltiIdentifier = (issuer: string, sub: string): string => `${issuer}|${sub}`;

/** A live person id, following merges (at most a few hops). */
async function livePerson(db: Db, tenantId: string, id: string): Promise<string | undefined> {
  let cur = id;
  for (let i = 0; i < 5; i++) {
    const r = (await db.knex('records').where({ tenant_id: tenantId, entity_type: 'person', id: cur }).first('deleted_at', 'merged_into')) as { deleted_at: string | null; merged_into: string | null } | undefined;
    if (!r) return undefined;
    if (!r.deleted_at) return cur;
    if (!r.merged_into) return undefined;
    cur = r.merged_into;
  }
  return undefined;
}

async function onlyOne(ids: string[], db: Db, tenantId: string): Promise<string | undefined> {
  const live = new Set<string>();
  for (const id of new Set(ids)) {
    const l = await livePerson(db, tenantId, id);
    if (l) live.add(l);
  }
  return live.size === 1 ? [...live][0] : undefined;
}

export interface LtiUser {
  sub: string;
  email?: string;
  personSourcedId?: string;
}

export async function rememberIdentity(db: Db, tenantId: string, issuer: string, sub: string, personId: string, matchedBy: string, launched: boolean): Promise<void> {
  const now = new Date().toISOString();
  const key = { tenant_id: tenantId, issuer, sub };
  const existing = (await db.knex('lti_identities').where(key).first('person_id')) as { person_id: string } | undefined;
  if (existing) {
    await db.knex('lti_identities').where(key).update({ person_id: personId, ...(existing.person_id !== personId ? { matched_by: matchedBy } : {}), ...(launched ? { last_launch_at: now } : {}) });
  } else {
    await db.knex('lti_identities').insert({ ...key, person_id: personId, matched_by: matchedBy, created_at: now, last_launch_at: launched ? now : null });
  }
}

/** The unified person of an LTI user, or undefined. */
export async function resolvePerson(db: Db, tenant: TenantConfig, issuer: string, u: LtiUser): Promise<{ personId: string; matchedBy: string } | undefined> {
  const t = tenant.id;
  const known = (await db.knex('lti_identities').where({ tenant_id: t, issuer, sub: u.sub }).first('person_id')) as { person_id: string } | undefined;
  if (known) {
    const p = await livePerson(db, t, known.person_id);
    if (p) return { personId: p, matchedBy: 'lti' };
  }
  const byId = (await db.knex('person_identifiers').where({ tenant_id: t, system: 'lti' }).whereIn('value', [ltiIdentifier(issuer, u.sub)]).select('person_id')) as { person_id: string }[];
  const strong = await onlyOne(byId.map((r) => r.person_id), db, t);
  if (strong) return { personId: strong, matchedBy: 'lti' };
  if (u.personSourcedId) {
    const rows = (await db.knex('source_records').where({ tenant_id: t, entity_type: 'person', source_id: u.personSourcedId }).whereNull('deleted_at').select('unified_id')) as { unified_id: string }[];
    const p = await onlyOne(rows.map((r) => r.unified_id), db, t);
    if (p) return { personId: p, matchedBy: 'sourcedid' };
  }
  if (u.email && tenant.identity?.emailsUnique === true) {
    const expr = `lower(${jsonFieldSql(db.dialect, 'email')})`;
    const rows = (await db.knex('records').where({ tenant_id: t, entity_type: 'person' }).whereNull('deleted_at').whereRaw(`${expr} = ?`, [u.email.toLowerCase()]).select('id')) as { id: string }[];
    const p = await onlyOne(rows.map((r) => r.id), db, t);
    if (p) return { personId: p, matchedBy: 'email' };
  }
  return undefined;
}

export interface ContextInfo {
  id: string;
  title?: string;
  label?: string;
  courseSectionSourcedId?: string;
  lineitemsUrl?: string;
  agsScopes?: string[];
  membershipsUrl?: string;
}

/** Records the context (and its service endpoints) and returns the class it stands for, if any. */
export async function resolveContext(db: Db, tenant: TenantConfig, reg: Registration, c: ContextInfo): Promise<string | undefined> {
  const t = tenant.id;
  const key = { tenant_id: t, registration_id: reg.id, context_id: c.id };
  const row = (await db.knex('lti_contexts').where(key).first('class_id', 'mapped_by')) as { class_id: string | null; mapped_by: string | null } | undefined;
  let classId = row?.mapped_by === 'admin' ? (row.class_id ?? undefined) : undefined;
  let mappedBy = classId ? 'admin' : undefined;
  const liveClass = async (ids: string[]) => {
    const live = ids.length ? ((await db.knex('records').where({ tenant_id: t, entity_type: 'class' }).whereIn('id', [...new Set(ids)]).whereNull('deleted_at').select('id')) as { id: string }[]) : [];
    return live.length === 1 ? live[0].id : undefined;
  };
  if (!classId && c.courseSectionSourcedId) {
    const rows = (await db.knex('source_records').where({ tenant_id: t, entity_type: 'class', source_id: c.courseSectionSourcedId }).whereNull('deleted_at').select('unified_id')) as { unified_id: string }[];
    classId = await liveClass(rows.map((r) => r.unified_id));
    if (classId) mappedBy = 'sourcedid';
  }
  if (!classId) {
    const nrps = (tenant.connectors ?? []).filter((x) => x.type === 'lti-nrps').map((x) => x.id);
    if (nrps.length) {
      const rows = (await db.knex('source_records').where({ tenant_id: t, entity_type: 'class', source_id: c.id }).whereIn('connector_id', nrps).whereNull('deleted_at').select('unified_id')) as { unified_id: string }[];
      classId = await liveClass(rows.map((r) => r.unified_id));
      if (classId) mappedBy = 'nrps';
    }
  }
  const now = new Date().toISOString();
  const fields = {
    class_id: classId ?? null, mapped_by: mappedBy ?? null, title: (c.title ?? c.label ?? '').slice(0, 300) || null,
    lineitems_url: c.lineitemsUrl ?? null, ags_scopes: c.agsScopes ? JSON.stringify(c.agsScopes) : null, memberships_url: c.membershipsUrl ?? null, updated_at: now,
  };
  if (row) await db.knex('lti_contexts').where(key).update(fields);
  else await db.knex('lti_contexts').insert({ ...key, ...fields });
  return classId;
}
