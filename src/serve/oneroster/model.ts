/**
 * Unified records → OneRoster 1.2 shapes, and the fields each OneRoster type can be filtered, sorted and selected on.
 *
 * sourcedIds are the hub's unified ids (demographics: the person's id, as OneRoster wants one demographics record
 * per user under the user's sourcedId). `status` is `tobedeleted` when the unified record is deleted (or was merged
 * into another person), `dateLastModified` is the record's last change. Booleans are the strings "true"/"false"
 * (1.2), references are GUIDRefs `{href, sourcedId, type}` with an absolute href.
 */
import type { Db, Dialect } from '../../store/db';
import { selectRows } from '../../store/statements';
import { bare, column, jsonField, jsonText, listField, setHas, statusField, type FieldKind, type FieldSpec, type Op, type Sql } from './fields';

export interface RecordRow {
  id: string;
  data: string;
  updated_at: string;
  deleted_at: string | null;
}

export interface MapContext {
  /** `http(s)://host/ims/oneroster` */
  base: string;
  db: Db;
  tenantId: string;
}

export type Json = Record<string, unknown>;
export type Service = 'rostering' | 'gradebook' | 'resources';

export interface ResourceType {
  /** Collection key: `users`, `orgs`, `academicSessions`... */
  collection: string;
  /** Single-object key: `user`, `org`... (demographics: `demographics`). */
  single: string;
  entity: string;
  /** GUIDRef type. */
  refType: string;
  service: Service;
  /** Where a record of this type lives (for hrefs), e.g. `users`. */
  hrefPath: string;
  fields: Record<string, FieldSpec>;
  /** Top-level keys of the output (`fields=` selects among them). */
  selectable: readonly string[];
  /** The expression of the sourcedId (default r.id). */
  idExpr?: (d: Dialect) => string;
  /** Data categories of the disclosure log when this type is returned, and whose persons are in a row. */
  disclosure?: { categories: string[]; persons: (data: Json, id: string) => string[] };
  /**
   * Answered from a read-side projection (projection.ts) when the query allows: `users` has `oneroster_users`. The
   * fields and conditions that have a `proj` form are the ones such a query can use.
   */
  projection?: 'users';
  /** Loads what a page's mapping needs from other records (roles of users, children of orgs...). */
  prepare?: (rows: Array<{ id: string; data: Json }>, ctx: MapContext) => Promise<unknown>;
  map: (row: { id: string; data: Json; updatedAt: string; deleted: boolean }, ctx: MapContext, prepared: unknown) => Json;
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers


export function ref(ctx: MapContext, type: string, hrefPath: string, id: string, service: Service = 'rostering') {
  return { href: `${ctx.base}/${service}/v1p2/${hrefPath}/${encodeURIComponent(id)}`, sourcedId: id, type };
}
const orgRef = (ctx: MapContext, id: string) => ref(ctx, 'org', 'orgs', id);
const sessionRef = (ctx: MapContext, id: string) => ref(ctx, 'academicSession', 'academicSessions', id);
const userRef = (ctx: MapContext, id: string) => ref(ctx, 'user', 'users', id);
const classRef = (ctx: MapContext, id: string) => ref(ctx, 'class', 'classes', id);
const courseRef = (ctx: MapContext, id: string) => ref(ctx, 'course', 'courses', id);

const bool = (v: unknown): string | undefined => (v === true ? 'true' : v === false ? 'false' : undefined);

/** Copies defined values in the given order (OneRoster's field order reads better and is stable). */
function build(entries: Array<[string, unknown]>): Json {
  const out: Json = {};
  for (const [k, v] of entries) if (v !== undefined && v !== null) out[k] = v;
  return out;
}

const base = (row: { id: string; updatedAt: string; deleted: boolean }): Array<[string, unknown]> => [
  ['sourcedId', row.id],
  ['status', row.deleted ? 'tobedeleted' : 'active'],
  ['dateLastModified', row.updatedAt],
];

const COMMON: Record<string, FieldSpec> = {
  sourcedId: column('id', 'string'),
  status: statusField,
  dateLastModified: column('updated_at', 'datetime'),
};

const list = (v: unknown): string[] | undefined => (Array.isArray(v) && v.length ? (v as string[]) : undefined);

/** Loads live records of `type` whose JSON `field` is one of `values` (uses migration 008's expression indexes). */
export async function recordsByField(ctx: MapContext, type: string, field: string, values: string[]): Promise<Array<{ id: string; data: Json }>> {
  const out: Array<{ id: string; data: Json }> = [];
  const d = ctx.db.dialect;
  for (let i = 0; i < values.length; i += 500) {
    const part = values.slice(i, i + 500);
    const rows = await selectRows<{ id: string; data: string }>(
      ctx.db,
      `select r.id, r.data from records r where r.tenant_id = ? and r.entity_type = ? and ${jsonText(d, field)} in (${part.map(() => '?').join(',')}) and r.deleted_at is null`,
      [ctx.tenantId, type, ...part],
    );
    for (const r of rows) out.push({ id: r.id, data: JSON.parse(r.data) as Json });
  }
  return out;
}

export async function recordsById(ctx: MapContext, type: string, ids: string[]): Promise<Map<string, Json>> {
  const out = new Map<string, Json>();
  const uniq = [...new Set(ids)];
  for (let i = 0; i < uniq.length; i += 500) {
    const part = uniq.slice(i, i + 500);
    const rows = await selectRows<{ id: string; data: string }>(ctx.db, `select id, data from records where tenant_id = ? and entity_type = ? and id in (${part.map(() => '?').join(',')})`, [ctx.tenantId, type, ...part]);
    for (const r of rows) out.set(r.id, JSON.parse(r.data) as Json);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Users: roles live in role records (1.2 roles model); `role` / `roles.role` filter through them.

/**
 * One demographics record per person (OneRoster keys demographics by the user's sourcedId): when several sources
 * give one, the live, most recently updated record stands for the person and the others are not served.
 */
export function demographicsWinner(d: Dialect, alias = 'r'): string {
  const pid = (a: string) => jsonText(d, 'personId', a);
  return `not exists (select 1 from records y where y.tenant_id = ${alias}.tenant_id and y.entity_type = 'demographics' and ${pid('y')} = ${pid(alias)} and y.id <> ${alias}.id and y.deleted_at is null and (${alias}.deleted_at is not null or y.updated_at > ${alias}.updated_at or (y.updated_at = ${alias}.updated_at and y.id > ${alias}.id)))`;
}

/** EXISTS over the live role records of the row's person, with an extra condition on the role record `x`. */
function roleExists(d: Dialect, cond: string): string {
  return `exists (select 1 from records x where x.tenant_id = r.tenant_id and x.entity_type = 'role' and ${jsonText(d, 'personId', 'x')} = ${bare(d, 'r.id')} and x.deleted_at is null and ${cond})`;
}

/** Users with a role: a live role record, or (sources without role records) the person's primaryRole. */
export function hasRoleSql(d: Dialect, role: string, orgId?: string): Sql {
  const bindings: unknown[] = [role];
  let viaRecord = `${jsonText(d, 'role', 'x')} = ?`;
  let viaPrimary = `${jsonText(d, 'primaryRole')} = ?`;
  if (orgId !== undefined) {
    viaRecord += ` and ${jsonText(d, 'orgId', 'x')} = ?`;
    viaPrimary += ` and ${jsonText(d, 'primaryOrgId')} = ?`;
    bindings.push(orgId, role, orgId);
  } else bindings.push(role);
  const proj = orgId === undefined ? setHas(d, 'u.roles', role) : setHas(d, 'u.role_at_org', roleAtOrg(role, orgId));
  return { sql: `(${roleExists(d, viaRecord)} or (${viaPrimary}))`, bindings, proj };
}

/** An element of `oneroster_users.role_at_org`: a role held at an org. */
export const roleAtOrg = (role: string, orgId: string) => JSON.stringify([role, orgId]);

/** The `oneroster_users` set column each role field tests (projection.ts fills them). */
const ROLE_SET_COLUMN = { role: 'u.roles', roleType: 'u.role_types', orgId: 'u.role_orgs' } as const;

const roleField = (recordField: 'role' | 'roleType' | 'orgId', withPrimary: boolean): FieldSpec => ({
  kind: 'custom',
  ops: ['=', '!='],
  unsortable: true,
  predicate: (d: Dialect, op: Op, value: string): Sql => {
    const has = withPrimary
      // `is not null`: without a primary role the comparison is false, not NULL (else `role!='x'` loses those users).
      ? { sql: `(${roleExists(d, `${jsonText(d, recordField, 'x')} = ?`)} or (${jsonText(d, 'primaryRole')} is not null and ${jsonText(d, 'primaryRole')} = ?))`, bindings: [value, value] }
      : { sql: roleExists(d, `${jsonText(d, recordField, 'x')} = ?`), bindings: [value] };
    return op === '=' ? has : { sql: `not ${has.sql}`, bindings: has.bindings };
  },
  // The projection's set holds the values of the live role records (+ the primary role for `role`), the same test.
  proj: {
    kind: 'custom',
    ops: ['=', '!='],
    unsortable: true,
    predicate: (d: Dialect, op: Op, value: string): Sql => {
      const has = setHas(d, ROLE_SET_COLUMN[recordField], value);
      return op === '=' ? has : { sql: `not ${has.sql}`, bindings: has.bindings };
    },
  },
});

/** The scalar user fields `oneroster_users` keeps as columns (migration 013): unified JSON field -> column. */
export const USER_COLUMNS = {
  username: 'username', enabledUser: 'enabled_user', givenName: 'given_name', familyName: 'family_name', middleName: 'middle_name',
  preferredGivenName: 'preferred_given_name', preferredMiddleName: 'preferred_middle_name', preferredFamilyName: 'preferred_family_name',
  pronouns: 'pronouns', primaryOrgId: 'primary_org_id', email: 'email', sms: 'sms', phone: 'phone',
} as const;

/** A JSON field of the user that the projection has as a column (extracted with the same expression). */
const userField = (name: keyof typeof USER_COLUMNS, kind: Exclude<FieldKind, 'list' | 'custom' | 'number'> = 'string'): FieldSpec => ({
  ...jsonField(name, kind),
  proj: { kind, expr: () => `u.${USER_COLUMNS[name]}` },
});

/** Groups live role records by person, each person's in role-record id order (a stable order on both databases). */
export function rolesByPerson(roles: Array<{ id: string; data: Json }>): Map<string, Json[]> {
  const byPerson = new Map<string, Json[]>();
  for (const r of [...roles].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    const pid = r.data.personId as string;
    (byPerson.get(pid) ?? byPerson.set(pid, []).get(pid)!).push(r.data);
  }
  return byPerson;
}

/** An identifier of the person (`identifiers[]` items `{system, value}`), by system; `system` undefined = any. */
const identifierField = (system: string | undefined, part: 'value' | 'system' = 'value'): FieldSpec => ({
  kind: 'custom',
  ops: ['=', '!=', '~'],
  unsortable: true,
  predicate: (d: Dialect, op: Op, value: string): Sql => {
    const cmp = op === '~' ? (d === 'pg' ? 'ilike' : 'like') : '=';
    const v = op === '~' ? `%${value.replace(/[\\%_]/g, (c) => `\\${c}`)}%` : value;
    const esc = op === '~' ? ` escape '\\'` : '';
    const bindings: unknown[] = system === undefined ? [v] : [system, v];
    const sql =
      d === 'pg'
        ? `exists (select 1 from jsonb_array_elements(case when jsonb_typeof(r.data::jsonb -> 'identifiers') = 'array' then r.data::jsonb -> 'identifiers' else '[]'::jsonb end) as ji(v) where ${system === undefined ? '' : `ji.v ->> 'system' = ? and `}ji.v ->> '${part}' ${cmp} ?${esc})`
        : `exists (select 1 from json_each(r.data, '$.identifiers') as ji where ${system === undefined ? '' : `json_extract(ji.value, '$.system') = ? and `}json_extract(ji.value, '$.${part}') ${cmp} ?${esc})`;
    return op === '!=' ? { sql: `not ${sql}`, bindings } : { sql, bindings };
  },
});

const SPECIAL_IDENTIFIERS = new Set(['identifier', 'userMasterIdentifier']);

const user: ResourceType = {
  collection: 'users', single: 'user', entity: 'person', refType: 'user', service: 'rostering', hrefPath: 'users',
  fields: {
    ...COMMON,
    userMasterIdentifier: identifierField('userMasterIdentifier'),
    username: userField('username'),
    'userIds.identifier': identifierField(undefined),
    'userIds.type': identifierField(undefined, 'system'),
    enabledUser: userField('enabledUser', 'boolean'),
    givenName: userField('givenName'),
    familyName: userField('familyName'),
    middleName: userField('middleName'),
    preferredFirstName: userField('preferredGivenName'),
    preferredMiddleName: userField('preferredMiddleName'),
    preferredLastName: userField('preferredFamilyName'),
    pronouns: userField('pronouns'),
    role: roleField('role', true),
    'roles.role': roleField('role', true),
    'roles.roleType': roleField('roleType', false),
    'roles.org.sourcedId': roleField('orgId', false),
    'primaryOrg.sourcedId': userField('primaryOrgId'),
    identifier: identifierField('identifier'),
    email: userField('email'),
    sms: userField('sms'),
    phone: userField('phone'),
    grades: listField('grades'),
  },
  selectable: ['sourcedId', 'status', 'dateLastModified', 'metadata', 'userMasterIdentifier', 'username', 'userIds', 'enabledUser', 'givenName', 'familyName', 'middleName',
    'preferredFirstName', 'preferredMiddleName', 'preferredLastName', 'pronouns', 'roles', 'userProfiles', 'primaryOrg', 'identifier', 'email', 'sms', 'phone', 'agents', 'grades', 'password', 'resources'],
  disclosure: { categories: ['identity', 'contact'], persons: (_d, id) => [id] },
  projection: 'users',
  async prepare(rows, ctx) {
    return rolesByPerson(await recordsByField(ctx, 'role', 'personId', rows.map((r) => r.id)));
  },
  map(row, ctx, prepared) {
    const d = row.data;
    const ids = (Array.isArray(d.identifiers) ? d.identifiers : []) as Array<{ system: string; value: string }>;
    const idOf = (system: string) => ids.find((i) => i.system === system)?.value;
    const userIds = ids.filter((i) => !SPECIAL_IDENTIFIERS.has(i.system)).map((i) => ({ type: i.system, identifier: i.value }));
    const roleRecords = (prepared as Map<string, Json[]>).get(row.id) ?? [];
    let roles = roleRecords
      .sort((a, b) => (a.roleType === b.roleType ? 0 : a.roleType === 'primary' ? -1 : 1))
      .map((r) => build([['roleType', r.roleType], ['role', r.role], ['org', orgRef(ctx, r.orgId as string)], ['beginDate', r.beginDate], ['endDate', r.endDate]]));
    if (!roles.length && typeof d.primaryRole === 'string' && typeof d.primaryOrgId === 'string') {
      roles = [{ roleType: 'primary', role: d.primaryRole, org: orgRef(ctx, d.primaryOrgId) }];
    }
    return build([
      ...base(row),
      ['userMasterIdentifier', idOf('userMasterIdentifier')],
      ['username', d.username],
      ['userIds', userIds.length ? userIds : undefined],
      ['enabledUser', bool(d.enabledUser) ?? 'true'],
      ['givenName', d.givenName],
      ['familyName', d.familyName],
      ['middleName', d.middleName],
      ['preferredFirstName', d.preferredGivenName],
      ['preferredMiddleName', d.preferredMiddleName],
      ['preferredLastName', d.preferredFamilyName],
      ['pronouns', d.pronouns],
      ['roles', roles],
      ['primaryOrg', typeof d.primaryOrgId === 'string' ? orgRef(ctx, d.primaryOrgId) : undefined],
      ['identifier', idOf('identifier')],
      ['email', d.email],
      ['sms', d.sms],
      ['phone', d.phone],
      ['grades', list(d.grades)],
    ]);
  },
};

// ---------------------------------------------------------------------------------------------------------------
// Orgs and academic sessions: `children` are the records whose parentId is this one (few: orgs and sessions).

async function childrenOf(rows: Array<{ id: string }>, ctx: MapContext, type: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (!rows.length) return out;
  const ids = rows.map((r) => r.id);
  for (let i = 0; i < ids.length; i += 500) {
    const part = ids.slice(i, i + 500);
    const rows = await selectRows(
      ctx.db,
      `select r.id, ${jsonText(ctx.db.dialect, 'parentId')} as parent from records r where r.tenant_id = ? and r.entity_type = ? and r.deleted_at is null and ${jsonText(ctx.db.dialect, 'parentId')} in (${part.map(() => '?').join(',')}) order by r.id`,
      [ctx.tenantId, type, ...part],
    );
    for (const r of rows) (out.get(r.parent as string) ?? out.set(r.parent as string, []).get(r.parent as string)!).push(r.id as string);
  }
  return out;
}

const org: ResourceType = {
  collection: 'orgs', single: 'org', entity: 'org', refType: 'org', service: 'rostering', hrefPath: 'orgs',
  fields: { ...COMMON, name: jsonField('name'), type: jsonField('type'), identifier: jsonField('identifier'), 'parent.sourcedId': jsonField('parentId') },
  selectable: ['sourcedId', 'status', 'dateLastModified', 'metadata', 'name', 'type', 'identifier', 'parent', 'children'],
  prepare: (rows, ctx) => childrenOf(rows, ctx, 'org'),
  map(row, ctx, prepared) {
    const d = row.data;
    const children = (prepared as Map<string, string[]>).get(row.id);
    return build([
      ...base(row), ['name', d.name], ['type', d.type], ['identifier', d.identifier ?? ''],
      ['parent', typeof d.parentId === 'string' ? orgRef(ctx, d.parentId) : undefined],
      ['children', children?.map((id) => orgRef(ctx, id))],
    ]);
  },
};

const academicSession: ResourceType = {
  collection: 'academicSessions', single: 'academicSession', entity: 'academicSession', refType: 'academicSession', service: 'rostering', hrefPath: 'academicSessions',
  fields: {
    ...COMMON, title: jsonField('title'), type: jsonField('type'), startDate: jsonField('startDate', 'date'), endDate: jsonField('endDate', 'date'),
    schoolYear: jsonField('schoolYear'), 'parent.sourcedId': jsonField('parentId'),
  },
  selectable: ['sourcedId', 'status', 'dateLastModified', 'metadata', 'title', 'startDate', 'endDate', 'type', 'parent', 'children', 'schoolYear'],
  prepare: (rows, ctx) => childrenOf(rows, ctx, 'academicSession'),
  map(row, ctx, prepared) {
    const d = row.data;
    const children = (prepared as Map<string, string[]>).get(row.id);
    return build([
      ...base(row), ['title', d.title], ['startDate', d.startDate], ['endDate', d.endDate], ['type', d.type],
      ['parent', typeof d.parentId === 'string' ? sessionRef(ctx, d.parentId) : undefined],
      ['children', children?.map((id) => sessionRef(ctx, id))],
      ['schoolYear', d.schoolYear],
    ]);
  },
};

const course: ResourceType = {
  collection: 'courses', single: 'course', entity: 'course', refType: 'course', service: 'rostering', hrefPath: 'courses',
  fields: {
    ...COMMON, title: jsonField('title'), courseCode: jsonField('courseCode'), grades: listField('grades'), subjects: listField('subjects'),
    subjectCodes: listField('subjectCodes'), 'org.sourcedId': jsonField('orgId'), 'schoolYear.sourcedId': jsonField('schoolYearId'),
  },
  selectable: ['sourcedId', 'status', 'dateLastModified', 'metadata', 'title', 'schoolYear', 'courseCode', 'grades', 'subjects', 'org', 'subjectCodes', 'resources'],
  map(row, ctx) {
    const d = row.data;
    return build([
      ...base(row), ['title', d.title], ['schoolYear', typeof d.schoolYearId === 'string' ? sessionRef(ctx, d.schoolYearId) : undefined],
      ['courseCode', d.courseCode ?? ''], ['grades', list(d.grades)], ['subjects', list(d.subjects)],
      ['org', typeof d.orgId === 'string' ? orgRef(ctx, d.orgId) : undefined], ['subjectCodes', list(d.subjectCodes)],
    ]);
  },
};

const klass: ResourceType = {
  collection: 'classes', single: 'class', entity: 'class', refType: 'class', service: 'rostering', hrefPath: 'classes',
  fields: {
    ...COMMON, title: jsonField('title'), classCode: jsonField('classCode'), classType: jsonField('classType'), location: jsonField('location'),
    grades: listField('grades'), subjects: listField('subjects'), subjectCodes: listField('subjectCodes'), periods: listField('periods'),
    'course.sourcedId': jsonField('courseId'), 'school.sourcedId': jsonField('schoolId'), 'terms.sourcedId': listField('termIds'),
  },
  selectable: ['sourcedId', 'status', 'dateLastModified', 'metadata', 'title', 'classCode', 'classType', 'location', 'grades', 'subjects', 'course', 'school', 'terms', 'subjectCodes', 'periods', 'resources'],
  map(row, ctx) {
    const d = row.data;
    return build([
      ...base(row), ['title', d.title], ['classCode', d.classCode], ['classType', d.classType], ['location', d.location],
      ['grades', list(d.grades)], ['subjects', list(d.subjects)], ['course', courseRef(ctx, d.courseId as string)], ['school', orgRef(ctx, d.schoolId as string)],
      ['terms', ((d.termIds as string[] | undefined) ?? []).map((t) => sessionRef(ctx, t))], ['subjectCodes', list(d.subjectCodes)], ['periods', list(d.periods)],
    ]);
  },
};

const enrollment: ResourceType = {
  collection: 'enrollments', single: 'enrollment', entity: 'enrollment', refType: 'enrollment', service: 'rostering', hrefPath: 'enrollments',
  fields: {
    ...COMMON, 'user.sourcedId': jsonField('personId'), 'class.sourcedId': jsonField('classId'), 'school.sourcedId': jsonField('schoolId'),
    role: jsonField('role'), primary: jsonField('primary', 'boolean'), beginDate: jsonField('beginDate', 'date'), endDate: jsonField('endDate', 'date'),
  },
  selectable: ['sourcedId', 'status', 'dateLastModified', 'metadata', 'user', 'class', 'school', 'role', 'primary', 'beginDate', 'endDate'],
  disclosure: { categories: ['enrollment'], persons: (d) => [d.personId as string] },
  map(row, ctx) {
    const d = row.data;
    return build([
      ...base(row), ['user', userRef(ctx, d.personId as string)], ['class', classRef(ctx, d.classId as string)], ['school', orgRef(ctx, d.schoolId as string)],
      ['role', d.role], ['primary', bool(d.primary)], ['beginDate', d.beginDate], ['endDate', d.endDate],
    ]);
  },
};

const RACE = ['americanIndianOrAlaskaNative', 'asian', 'blackOrAfricanAmerican', 'nativeHawaiianOrOtherPacificIslander', 'white', 'demographicRaceTwoOrMoreRaces', 'hispanicOrLatinoEthnicity'] as const;
const DEMO_STRINGS = ['countryOfBirthCode', 'stateOfBirthAbbreviation', 'cityOfBirth', 'publicSchoolResidenceStatus'] as const;

const demographics: ResourceType = {
  collection: 'demographics', single: 'demographics', entity: 'demographics', refType: 'demographics', service: 'rostering', hrefPath: 'demographics',
  idExpr: (d) => jsonText(d, 'personId'),
  fields: {
    ...COMMON,
    sourcedId: { kind: 'string', expr: (d) => jsonText(d, 'personId') },
    birthDate: jsonField('birthDate', 'date'), sex: jsonField('sex'),
    ...Object.fromEntries(RACE.map((f) => [f, jsonField(f, 'boolean')])),
    ...Object.fromEntries(DEMO_STRINGS.map((f) => [f, jsonField(f)])),
  },
  selectable: ['sourcedId', 'status', 'dateLastModified', 'metadata', 'birthDate', 'sex', ...RACE, ...DEMO_STRINGS],
  disclosure: { categories: ['demographics'], persons: (d) => [d.personId as string] },
  map(row) {
    const d = row.data;
    return build([
      ['sourcedId', d.personId], ['status', row.deleted ? 'tobedeleted' : 'active'], ['dateLastModified', row.updatedAt],
      ['birthDate', d.birthDate], ['sex', d.sex], ...RACE.map((f): [string, unknown] => [f, bool(d[f])]), ...DEMO_STRINGS.map((f): [string, unknown] => [f, d[f]]),
    ]);
  },
};

// ---------------------------------------------------------------------------------------------------------------
// Gradebook (1.2 Gradebook service). No official 1.2 gradebook OpenAPI is available here: shapes follow the 1.2
// information model as the CSV binding and the REST text name it.

const category: ResourceType = {
  collection: 'categories', single: 'category', entity: 'lineItemCategory', refType: 'category', service: 'gradebook', hrefPath: 'categories',
  fields: { ...COMMON, title: jsonField('title'), weight: jsonField('weight', 'number') },
  selectable: ['sourcedId', 'status', 'dateLastModified', 'metadata', 'title', 'weight'],
  map(row) {
    return build([...base(row), ['title', row.data.title], ['weight', row.data.weight]]);
  },
};

const lineItem: ResourceType = {
  collection: 'lineItems', single: 'lineItem', entity: 'lineItem', refType: 'lineItem', service: 'gradebook', hrefPath: 'lineItems',
  fields: {
    ...COMMON, title: jsonField('title'), description: jsonField('description'), assignDate: jsonField('assignDate', 'datetime'), dueDate: jsonField('dueDate', 'datetime'),
    'class.sourcedId': jsonField('classId'), 'school.sourcedId': jsonField('schoolId'), 'category.sourcedId': jsonField('categoryId'),
    'academicSession.sourcedId': jsonField('gradingPeriodId'), 'gradingPeriod.sourcedId': jsonField('gradingPeriodId'),
    resultValueMin: jsonField('resultValueMin', 'number'), resultValueMax: jsonField('resultValueMax', 'number'),
  },
  selectable: ['sourcedId', 'status', 'dateLastModified', 'metadata', 'title', 'description', 'assignDate', 'dueDate', 'class', 'school', 'category', 'academicSession', 'scoreScale', 'resultValueMin', 'resultValueMax', 'learningObjectiveSet'],
  async prepare(rows, ctx) {
    // The school of a line item that names none is its class's school.
    const missing = rows.filter((r) => typeof r.data.schoolId !== 'string').map((r) => r.data.classId as string);
    return missing.length ? recordsById(ctx, 'class', missing) : new Map();
  },
  map(row, ctx, prepared) {
    const d = row.data;
    const school = (d.schoolId as string | undefined) ?? ((prepared as Map<string, Json>).get(d.classId as string)?.schoolId as string | undefined);
    return build([
      ...base(row), ['title', d.title], ['description', d.description], ['assignDate', d.assignDate], ['dueDate', d.dueDate],
      ['class', classRef(ctx, d.classId as string)], ['school', school ? orgRef(ctx, school) : undefined],
      ['category', typeof d.categoryId === 'string' ? ref(ctx, 'category', 'categories', d.categoryId, 'gradebook') : undefined],
      ['academicSession', typeof d.gradingPeriodId === 'string' ? sessionRef(ctx, d.gradingPeriodId) : undefined],
      ['resultValueMin', d.resultValueMin], ['resultValueMax', d.resultValueMax],
      ['learningObjectiveSet', objectiveSet(d.alignment as Json[] | undefined, false)],
    ]);
  },
};

/** `alignment` / `learningObjectiveResults` → 1.2 `learningObjectiveSet: [{source, learningObjectiveIds | learningObjectiveResults}]`. */
function objectiveSet(items: Json[] | undefined, results: boolean): Json[] | undefined {
  if (!Array.isArray(items) || !items.length) return undefined;
  const bySource = new Map<string, Json[]>();
  for (const it of items) {
    const src = (it.source as string | undefined) ?? 'unknown';
    (bySource.get(src) ?? bySource.set(src, []).get(src)!).push(it);
  }
  return [...bySource].map(([source, list]) =>
    results
      ? { source, learningObjectiveResults: list.map((i) => build([['learningObjectiveId', i.ref], ['score', i.score], ['textScore', i.textScore]])) }
      : { source, learningObjectiveIds: list.map((i) => i.ref as string) },
  );
}

const result: ResourceType = {
  collection: 'results', single: 'result', entity: 'result', refType: 'result', service: 'gradebook', hrefPath: 'results',
  fields: {
    ...COMMON, 'lineItem.sourcedId': jsonField('lineItemId'), 'student.sourcedId': jsonField('personId'), scoreStatus: jsonField('scoreStatus'),
    score: jsonField('score', 'number'), textScore: jsonField('textScore'), scoreDate: jsonField('scoreDate', 'datetime'), comment: jsonField('comment'),
    inProgress: jsonField('inProgress', 'boolean'), incomplete: jsonField('incomplete', 'boolean'), late: jsonField('late', 'boolean'), missing: jsonField('missing', 'boolean'),
  },
  selectable: ['sourcedId', 'status', 'dateLastModified', 'metadata', 'lineItem', 'student', 'class', 'scoreScale', 'scoreStatus', 'score', 'textScore', 'scoreDate', 'comment', 'learningObjectiveSet', 'inProgress', 'incomplete', 'late', 'missing'],
  disclosure: { categories: ['grades'], persons: (d) => [d.personId as string] },
  prepare: (rows, ctx) => recordsById(ctx, 'lineItem', rows.map((r) => r.data.lineItemId as string)),
  map(row, ctx, prepared) {
    const d = row.data;
    const li = (prepared as Map<string, Json>).get(d.lineItemId as string);
    return build([
      ...base(row), ['lineItem', ref(ctx, 'lineItem', 'lineItems', d.lineItemId as string, 'gradebook')], ['student', userRef(ctx, d.personId as string)],
      ['class', typeof li?.classId === 'string' ? classRef(ctx, li.classId) : undefined],
      ['scoreStatus', d.scoreStatus], ['score', d.score], ['textScore', d.textScore], ['scoreDate', d.scoreDate], ['comment', d.comment],
      ['learningObjectiveSet', objectiveSet(d.learningObjectiveResults as Json[] | undefined, true)],
      ['inProgress', bool(d.inProgress)], ['incomplete', bool(d.incomplete)], ['late', bool(d.late)], ['missing', bool(d.missing)],
    ]);
  },
};

/** Types with no unified counterpart: always-empty collections with the right keys, fields and 404s. */
export const EMPTY_TYPES = {
  scoreScales: {
    collection: 'scoreScales', single: 'scoreScale',
    selectable: ['sourcedId', 'status', 'dateLastModified', 'metadata', 'title', 'type', 'class', 'course', 'scoreScaleValue'],
  },
  resources: {
    collection: 'resources', single: 'resource',
    selectable: ['sourcedId', 'status', 'dateLastModified', 'metadata', 'title', 'roles', 'importance', 'vendorResourceId', 'vendorId', 'applicationId'],
  },
} as const;

export const TYPES = { user, org, academicSession, course, klass, enrollment, demographics, category, lineItem, result } as const;
