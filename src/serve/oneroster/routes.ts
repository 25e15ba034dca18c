/**
 * The OneRoster 1.2 route table. Rostering: every path of the official Rostering OpenAPI with the scopes its
 * `security` block names (test/oneroster-routes.test.ts compares this table with the official file). Gradebook and
 * Resources: the read endpoints of the 1.2 services, plus the gradebook writes in gradebook-write.ts.
 *
 * Paths use the spec's parameter names (`{classSourcedId}`); express patterns are derived from them.
 */
import type { Dialect } from '../../store/db';
import { bare, jsonText, listHas, type Sql } from './fields';
import { demographicsWinner, hasRoleSql, TYPES, type ResourceType, EMPTY_TYPES } from './model';
import { OR_SCOPES, type OneRosterScope } from './scopes';

export type Params = Record<string, string>;

/** A record that must exist for a nested route (else 404 unknownobject): its type and extra conditions. */
export interface ParentCheck {
  entity: string;
  param: string;
  label: string;
  conds?: (d: Dialect, p: Params) => Sql[];
}

export interface ReadRoute {
  service: 'rostering' | 'gradebook' | 'resources';
  method: 'get';
  /** Path as the spec writes it, relative to the service base. */
  path: string;
  scopes: readonly OneRosterScope[];
  kind: 'list' | 'single';
  type: ResourceType | keyof typeof EMPTY_TYPES;
  conds?: (d: Dialect, p: Params) => Sql[];
  parents?: ParentCheck[];
  /** Nested routes that reveal a person's memberships: the path parameter naming the person, and categories. */
  pathPerson?: { param: string; categories: string[] };
}

const CORE = [OR_SCOPES.roster, OR_SCOPES.rosterCore] as const;
const ROSTER = [OR_SCOPES.roster] as const;
const DEMO = [OR_SCOPES.demographics] as const;
const GB_READ = [OR_SCOPES.gradebookRead] as const;
const RES = [OR_SCOPES.resources] as const;

const eq = (d: Dialect, field: string, value: string, alias = 'r'): Sql => ({ sql: `${jsonText(d, field, alias)} = ?`, bindings: [value] });
const live = (d: Dialect, type: string, cond: string, bindings: unknown[]): Sql => ({
  sql: `exists (select 1 from records x where x.tenant_id = r.tenant_id and x.entity_type = '${type}' and x.deleted_at is null and ${cond})`,
  bindings,
});
/** The row (a person) has a live enrollment in class `classId` (with `role` when given). */
const enrolledIn = (d: Dialect, classId: string, role?: string): Sql =>
  live(d, 'enrollment', `${jsonText(d, 'personId', 'x')} = ${bare(d, 'r.id')} and ${jsonText(d, 'classId', 'x')} = ?${role ? ` and ${jsonText(d, 'role', 'x')} = ?` : ''}`, role ? [classId, role] : [classId]);
/** The row (a class) has a live enrollment of person `personId` (with `role` when given). */
const hasMember = (d: Dialect, personId: string, role?: string): Sql =>
  live(d, 'enrollment', `${jsonText(d, 'classId', 'x')} = ${bare(d, 'r.id')} and ${jsonText(d, 'personId', 'x')} = ?${role ? ` and ${jsonText(d, 'role', 'x')} = ?` : ''}`, role ? [personId, role] : [personId]);

const P = {
  class: (param = 'classSourcedId'): ParentCheck => ({ entity: 'class', param, label: 'class' }),
  school: (param = 'schoolSourcedId'): ParentCheck => ({ entity: 'org', param, label: 'school', conds: (d) => [{ sql: `${jsonText(d, 'type')} = 'school'`, bindings: [] }] }),
  classInSchool: (): ParentCheck => ({ entity: 'class', param: 'classSourcedId', label: 'class in this school', conds: (d, p) => [eq(d, 'schoolId', p.schoolSourcedId)] }),
  course: (): ParentCheck => ({ entity: 'course', param: 'courseSourcedId', label: 'course' }),
  user: (param: string, role?: string): ParentCheck => ({ entity: 'person', param, label: role ?? 'user', conds: role ? (d) => [hasRoleSql(d, role)] : undefined }),
  term: (): ParentCheck => ({ entity: 'academicSession', param: 'termSourcedId', label: 'term', conds: (d) => [{ sql: `${jsonText(d, 'type')} = 'term'`, bindings: [] }] }),
  lineItem: (param = 'lineItemSourcedId'): ParentCheck => ({ entity: 'lineItem', param, label: 'line item' }),
};

const typeIs = (value: string) => (d: Dialect): Sql[] => [{ sql: `${jsonText(d, 'type')} = ?`, bindings: [value] }];
const role = (value: string) => (d: Dialect): Sql[] => [hasRoleSql(d, value)];

const r = (path: string, scopes: readonly OneRosterScope[], kind: 'list' | 'single', type: ReadRoute['type'], extra: Partial<ReadRoute> = {}): ReadRoute => ({
  service: 'rostering', method: 'get', path, scopes, kind, type, ...extra,
});

const { user, org, academicSession, course, klass, enrollment, demographics, category, lineItem, result } = TYPES;

export const ROSTERING_ROUTES: ReadRoute[] = [
  r('/academicSessions', CORE, 'list', academicSession),
  r('/academicSessions/{sourcedId}', CORE, 'single', academicSession),
  r('/classes', CORE, 'list', klass),
  r('/classes/{sourcedId}', CORE, 'single', klass),
  r('/classes/{classSourcedId}/students', ROSTER, 'list', user, { conds: (d, p) => [enrolledIn(d, p.classSourcedId, 'student')], parents: [P.class()] }),
  r('/classes/{classSourcedId}/teachers', ROSTER, 'list', user, { conds: (d, p) => [enrolledIn(d, p.classSourcedId, 'teacher')], parents: [P.class()] }),
  r('/courses', CORE, 'list', course),
  r('/courses/{sourcedId}', CORE, 'single', course),
  r('/courses/{courseSourcedId}/classes', ROSTER, 'list', klass, { conds: (d, p) => [eq(d, 'courseId', p.courseSourcedId)], parents: [P.course()] }),
  r('/demographics', DEMO, 'list', demographics, { conds: (d) => [{ sql: demographicsWinner(d), bindings: [] }] }),
  r('/demographics/{sourcedId}', DEMO, 'single', demographics, { conds: (d) => [{ sql: demographicsWinner(d), bindings: [] }] }),
  r('/enrollments', CORE, 'list', enrollment),
  r('/enrollments/{sourcedId}', CORE, 'single', enrollment),
  r('/gradingPeriods', CORE, 'list', academicSession, { conds: typeIs('gradingPeriod') }),
  r('/gradingPeriods/{sourcedId}', CORE, 'single', academicSession, { conds: typeIs('gradingPeriod') }),
  r('/orgs', CORE, 'list', org),
  r('/orgs/{sourcedId}', CORE, 'single', org),
  r('/schools', CORE, 'list', org, { conds: typeIs('school') }),
  r('/schools/{sourcedId}', CORE, 'single', org, { conds: typeIs('school') }),
  r('/schools/{schoolSourcedId}/classes', ROSTER, 'list', klass, { conds: (d, p) => [eq(d, 'schoolId', p.schoolSourcedId)], parents: [P.school()] }),
  r('/schools/{schoolSourcedId}/classes/{classSourcedId}/enrollments', ROSTER, 'list', enrollment, {
    conds: (d, p) => [eq(d, 'classId', p.classSourcedId), eq(d, 'schoolId', p.schoolSourcedId)], parents: [P.school(), P.classInSchool()],
  }),
  r('/schools/{schoolSourcedId}/classes/{classSourcedId}/students', ROSTER, 'list', user, { conds: (d, p) => [enrolledIn(d, p.classSourcedId, 'student')], parents: [P.school(), P.classInSchool()] }),
  r('/schools/{schoolSourcedId}/classes/{classSourcedId}/teachers', ROSTER, 'list', user, { conds: (d, p) => [enrolledIn(d, p.classSourcedId, 'teacher')], parents: [P.school(), P.classInSchool()] }),
  r('/schools/{schoolSourcedId}/courses', ROSTER, 'list', course, { conds: (d, p) => [eq(d, 'orgId', p.schoolSourcedId)], parents: [P.school()] }),
  r('/schools/{schoolSourcedId}/enrollments', ROSTER, 'list', enrollment, { conds: (d, p) => [eq(d, 'schoolId', p.schoolSourcedId)], parents: [P.school()] }),
  r('/schools/{schoolSourcedId}/students', ROSTER, 'list', user, { conds: (d, p) => [hasRoleSql(d, 'student', p.schoolSourcedId)], parents: [P.school()] }),
  r('/schools/{schoolSourcedId}/teachers', ROSTER, 'list', user, { conds: (d, p) => [hasRoleSql(d, 'teacher', p.schoolSourcedId)], parents: [P.school()] }),
  // The sessions the school's classes run in (unified sessions carry no org).
  r('/schools/{schoolSourcedId}/terms', ROSTER, 'list', academicSession, {
    conds: (d, p) => [live(d, 'class', `${jsonText(d, 'schoolId', 'x')} = ? and ${listHas(d, 'termIds', (v) => `${v} = r.id`, 'x')}`, [p.schoolSourcedId])],
    parents: [P.school()],
  }),
  r('/students', CORE, 'list', user, { conds: role('student') }),
  r('/students/{sourcedId}', CORE, 'single', user, { conds: role('student') }),
  r('/students/{studentSourcedId}/classes', ROSTER, 'list', klass, {
    conds: (d, p) => [hasMember(d, p.studentSourcedId, 'student')], parents: [P.user('studentSourcedId', 'student')], pathPerson: { param: 'studentSourcedId', categories: ['enrollment'] },
  }),
  r('/teachers', CORE, 'list', user, { conds: role('teacher') }),
  r('/teachers/{sourcedId}', CORE, 'single', user, { conds: role('teacher') }),
  r('/teachers/{teacherSourcedId}/classes', ROSTER, 'list', klass, {
    conds: (d, p) => [hasMember(d, p.teacherSourcedId, 'teacher')], parents: [P.user('teacherSourcedId', 'teacher')], pathPerson: { param: 'teacherSourcedId', categories: ['enrollment'] },
  }),
  r('/terms', CORE, 'list', academicSession, { conds: typeIs('term') }),
  r('/terms/{sourcedId}', CORE, 'single', academicSession, { conds: typeIs('term') }),
  r('/terms/{termSourcedId}/classes', ROSTER, 'list', klass, { conds: (d, p) => [{ sql: listHas(d, 'termIds', (v) => `${v} = ?`), bindings: [p.termSourcedId] }], parents: [P.term()] }),
  r('/terms/{termSourcedId}/gradingPeriods', ROSTER, 'list', academicSession, {
    conds: (d, p) => [eq(d, 'parentId', p.termSourcedId), { sql: `${jsonText(d, 'type')} = 'gradingPeriod'`, bindings: [] }], parents: [P.term()],
  }),
  r('/users', CORE, 'list', user),
  r('/users/{sourcedId}', CORE, 'single', user),
  r('/users/{userSourcedId}/classes', ROSTER, 'list', klass, {
    conds: (d, p) => [hasMember(d, p.userSourcedId)], parents: [P.user('userSourcedId')], pathPerson: { param: 'userSourcedId', categories: ['enrollment'] },
  }),
];

const g = (path: string, kind: 'list' | 'single', type: ReadRoute['type'], extra: Partial<ReadRoute> = {}): ReadRoute => ({
  service: 'gradebook', method: 'get', path, scopes: GB_READ, kind, type, ...extra,
});
/** Results whose line item belongs to class `classId`. */
const resultInClass = (d: Dialect, classId: string): Sql =>
  ({ sql: `exists (select 1 from records x where x.tenant_id = r.tenant_id and x.entity_type = 'lineItem' and x.id = ${jsonText(d, 'lineItemId')} and ${jsonText(d, 'classId', 'x')} = ?)`, bindings: [classId] });

export const GRADEBOOK_ROUTES: ReadRoute[] = [
  g('/categories', 'list', category),
  g('/categories/{sourcedId}', 'single', category),
  g('/classes/{classSourcedId}/categories', 'list', category, {
    conds: (d, p) => [{ sql: `exists (select 1 from records x where x.tenant_id = r.tenant_id and x.entity_type = 'lineItem' and x.deleted_at is null and ${jsonText(d, 'classId', 'x')} = ? and ${jsonText(d, 'categoryId', 'x')} = ${bare(d, 'r.id')})`, bindings: [p.classSourcedId] }],
    parents: [P.class()],
  }),
  g('/classes/{classSourcedId}/lineItems', 'list', lineItem, { conds: (d, p) => [eq(d, 'classId', p.classSourcedId)], parents: [P.class()] }),
  g('/classes/{classSourcedId}/lineItems/{lineItemSourcedId}/results', 'list', result, {
    conds: (d, p) => [eq(d, 'lineItemId', p.lineItemSourcedId)],
    parents: [P.class(), { ...P.lineItem(), label: 'line item of this class', conds: (d, p) => [eq(d, 'classId', p.classSourcedId)] }],
  }),
  g('/classes/{classSourcedId}/results', 'list', result, { conds: (d, p) => [resultInClass(d, p.classSourcedId)], parents: [P.class()] }),
  g('/classes/{classSourcedId}/scoreScales', 'list', 'scoreScales', { parents: [P.class()] }),
  g('/classes/{classSourcedId}/students/{studentSourcedId}/results', 'list', result, {
    conds: (d, p) => [eq(d, 'personId', p.studentSourcedId), resultInClass(d, p.classSourcedId)], parents: [P.class(), P.user('studentSourcedId')],
    pathPerson: { param: 'studentSourcedId', categories: ['grades'] },
  }),
  g('/lineItems', 'list', lineItem),
  g('/lineItems/{sourcedId}', 'single', lineItem),
  g('/results', 'list', result),
  g('/results/{sourcedId}', 'single', result),
  g('/schools/{schoolSourcedId}/scoreScales', 'list', 'scoreScales', { parents: [P.school()] }),
  g('/scoreScales', 'list', 'scoreScales'),
  g('/scoreScales/{sourcedId}', 'single', 'scoreScales'),
];

const res = (path: string, kind: 'list' | 'single', extra: Partial<ReadRoute> = {}): ReadRoute => ({
  service: 'resources', method: 'get', path, scopes: RES, kind, type: 'resources', ...extra,
});

export const RESOURCE_ROUTES: ReadRoute[] = [
  res('/resources', 'list'),
  res('/resources/{sourcedId}', 'single'),
  res('/courses/{courseSourcedId}/resources', 'list', { parents: [P.course()] }),
  res('/classes/{classSourcedId}/resources', 'list', { parents: [P.class()] }),
  res('/users/{userSourcedId}/resources', 'list', { parents: [P.user('userSourcedId')] }),
];

export const READ_ROUTES: ReadRoute[] = [...ROSTERING_ROUTES, ...GRADEBOOK_ROUTES, ...RESOURCE_ROUTES];

/** `/classes/{classSourcedId}/students` → `/classes/:classSourcedId/students` */
export const expressPath = (p: string) => p.replace(/\{([A-Za-z]+)\}/g, ':$1');
export const serviceBase = (s: ReadRoute['service']) => `/ims/oneroster/${s}/v1p2`;
