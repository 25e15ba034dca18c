/**
 * Pure mapping of NRPS 2.0 members (application/vnd.ims.lti-nrps.v2.membershipcontainer+json) to unified records.
 * Source ids: a person is the platform's `user_id`; an enrollment `<context id>:<user_id>`; the class is the context
 * id; its course `course:<context id>`; one org `platform` and one academic session `term` hold them.
 */
import type { Reject, SourceRecord } from '../../src/ingest/contract';

export interface NrpsMember {
  user_id?: unknown;
  roles?: unknown;
  status?: unknown;
  name?: unknown;
  given_name?: unknown;
  family_name?: unknown;
  middle_name?: unknown;
  email?: unknown;
  lis_person_sourcedid?: unknown;
}

const MEMBERSHIP = 'http://purl.imsglobal.org/vocab/lis/v2/membership#';

/** Context role -> enrollment role; other roles (Mentor, ContentDeveloper...) make no enrollment. */
export function enrollmentRole(roles: unknown): 'teacher' | 'student' | undefined {
  if (!Array.isArray(roles)) return undefined;
  const short = roles.filter((r): r is string => typeof r === 'string').map((r) => (r.startsWith(MEMBERSHIP) ? r.slice(MEMBERSHIP.length).split('#')[0] : r));
  if (short.includes('Instructor')) return 'teacher';
  if (short.includes('Learner')) return 'student';
  return undefined;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v.trim() : undefined);

export interface MapContext {
  issuer: string;
  contextId: string;
  /** JSON path prefix for rejects, e.g. `ctx-1$.members`. */
  at: string;
}

/** Members of one page -> persons and enrollments (active members), enrollment deletes (Deleted/Inactive) and rejects. */
export function mapMembers(members: NrpsMember[], ctx: MapContext, opts: { deletes: boolean }): { records: SourceRecord[]; rejects: Reject[] } {
  const records: SourceRecord[] = [];
  const rejects: Reject[] = [];
  members.forEach((m, i) => {
    const location = `${ctx.at}[${i}]`;
    const userId = str(m.user_id);
    if (!userId) {
      rejects.push({ location, field: 'user_id', reason: 'member has no user_id', code: 'record_invalid' });
      return;
    }
    const enrollmentId = `${ctx.contextId}:${userId}`;
    const status = str(m.status) ?? 'Active';
    if (status !== 'Active') {
      if (opts.deletes) records.push({ type: 'enrollment', sourceId: enrollmentId, data: {}, deleted: true, location });
      return;
    }
    const role = enrollmentRole(m.roles);
    let given = str(m.given_name);
    let family = str(m.family_name);
    const full = str(m.name);
    if ((!given || !family) && full) {
      const parts = full.split(/\s+/);
      given ??= parts.slice(0, -1).join(' ') || parts[0];
      family ??= parts.length > 1 ? parts[parts.length - 1] : undefined;
    }
    if (!given || !family) {
      rejects.push({ location, field: 'name', reason: 'member has no given and family name (the platform withholds names): not imported', code: 'record_invalid', sourceId: userId });
      return;
    }
    const identifiers = [{ system: 'lti', value: `${ctx.issuer}|${userId}` }];
    const sourced = str(m.lis_person_sourcedid);
    if (sourced) identifiers.push({ system: 'lis_person_sourcedid', value: sourced });
    const data: Record<string, unknown> = { givenName: given, familyName: family, enabledUser: true, identifiers };
    const middle = str(m.middle_name);
    if (middle) data.middleName = middle;
    const email = str(m.email);
    if (email) data.email = email;
    if (role) data.primaryRole = role;
    records.push({ type: 'person', sourceId: userId, data, raw: { user_id: userId, roles: m.roles, status }, location });
    if (role) records.push({ type: 'enrollment', sourceId: enrollmentId, data: { classId: ctx.contextId, schoolId: 'platform', personId: userId, role }, location });
  });
  return { records, rejects };
}

/** The org, term, course and class the context's enrollments hang on. */
export function structure(ctx: { contextId: string; title: string; orgName: string; term: { startDate: string; endDate: string; schoolYear: string } }, withShared: boolean): SourceRecord[] {
  const out: SourceRecord[] = [];
  if (withShared) {
    out.push({ type: 'org', sourceId: 'platform', data: { name: ctx.orgName, type: 'ext:lti-platform' } });
    out.push({ type: 'academicSession', sourceId: 'term', data: { title: `LMS courses ${ctx.term.schoolYear}`, type: 'schoolYear', ...ctx.term } });
  }
  out.push({ type: 'course', sourceId: `course:${ctx.contextId}`, data: { title: ctx.title, orgId: 'platform' } });
  out.push({ type: 'class', sourceId: ctx.contextId, data: { title: ctx.title, classType: 'scheduled', courseId: `course:${ctx.contextId}`, schoolId: 'platform', termIds: ['term'] } });
  return out;
}

/** The school year containing `d`: 1 August to 31 July. */
export function defaultTerm(d = new Date()): { startDate: string; endDate: string; schoolYear: string } {
  const y = d.getUTCMonth() >= 7 ? d.getUTCFullYear() : d.getUTCFullYear() - 1;
  return { startDate: `${y}-08-01`, endDate: `${y + 1}-07-31`, schoolYear: String(y + 1) };
}
