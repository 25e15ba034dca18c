/**
 * Pure mappers: one OneRoster REST JSON object (an element of `users[]`, `orgs[]`...) -> one unified record (or
 * several, for roles), or a reject.
 *
 * Conventions shared with oneroster-csv, so that a district moving from CSV drops to the REST API keeps the same
 * records: reference fields (`x-ref`) carry the source sourcedId (here read from GUIDRef objects
 * `{href, sourcedId, type}`), strings are trimmed and an empty optional value is omitted (never null or ""),
 * string booleans "true"/"false" (any case; real JSON booleans too) become booleans, dates must be YYYY-MM-DD,
 * 1.1 roles get the same derived ids (`<user>::<org>`). Enumerations and patterns (org type, role, schoolYear...)
 * are left to the runtime's schema validation, which rejects with record_invalid and this record's location; what
 * the schema cannot see is checked here.
 *
 * `status: "tobedeleted"` makes a deletion (`deleted: true`, `data: {}`), in full and incremental reads alike.
 */
import type { EntityType, Reject, SourceRecord } from '../../src/ingest/contract';
import { DEMOGRAPHIC_STRINGS, RACE_FLAGS, derivedRoleId, isDate, isDateTime, splitList } from '../oneroster-csv/mappers';
import type { OneRosterVersion } from './settings';

export type Obj = Record<string, unknown>;

export interface ObjContext {
  /** Where the object came from, for reports: `GET /users?offset=200 $.users[3]`. */
  location: string;
  version: OneRosterVersion;
}

export type MapResult = { record: SourceRecord; reject?: undefined } | { reject: Reject; record?: undefined };
/** Roles: one user gives one record per role, and a reject per unusable role. */
export interface MapManyResult {
  records: SourceRecord[];
  rejects: Reject[];
}

/** A bad value. row_malformed = cannot be read; record_invalid = readable but unusable. */
export class FieldFault extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
    readonly code: 'row_malformed' | 'record_invalid' = 'row_malformed',
  ) {
    super(reason);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Value helpers

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}

/** An optional string: trimmed, "" -> undefined; numbers are accepted as their decimal text. */
export function str(o: Obj, f: string): string | undefined {
  const v = o[f];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') {
    const t = v.trim();
    return t === '' ? undefined : t;
  }
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  throw new FieldFault(f, `${f} must be a string, found ${show(v)}`);
}

function must(o: Obj, f: string): string {
  const v = str(o, f);
  if (v === undefined) throw new FieldFault(f, `required field ${f} is missing or blank`, 'record_invalid');
  return v;
}

/** "true"/"false" in any case, or a JSON boolean. */
export function bool(o: Obj, f: string): boolean | undefined {
  const v = o[f];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const l = v.trim().toLowerCase();
    if (l === 'true') return true;
    if (l === 'false') return false;
  }
  throw new FieldFault(f, `${f} must be "true" or "false", found ${show(v)}`);
}

const MIDNIGHT_RE = /^(\d{4}-\d{2}-\d{2})T00:00(:00(\.0+)?)?(Z|[+-]00:?00)?$/;

/** YYYY-MM-DD and a real day; a midnight date-time (`2025-08-20T00:00:00Z`, which some servers send) gives its date. */
export function date(o: Obj, f: string): string | undefined {
  const v = str(o, f);
  if (v === undefined) return undefined;
  if (isDate(v)) return v;
  const m = MIDNIGHT_RE.exec(v);
  if (m && isDate(m[1])) return m[1];
  throw new FieldFault(f, `${f} must be a date YYYY-MM-DD, found "${v}"`);
}

const HAS_ZONE_RE = /(Z|[+-]\d{2}:?\d{2})$/;

/**
 * An ISO 8601 date-time, normalized to UTC `YYYY-MM-DDTHH:mm:ss.sssZ` (OneRoster date-times are UTC; one without
 * an offset is read as UTC). A plain date (OneRoster `scoreDate` is a date) becomes midnight UTC of that day.
 */
export function dateTime(o: Obj, f: string): string | undefined {
  const v = str(o, f);
  if (v === undefined) return undefined;
  if (isDate(v)) return `${v}T00:00:00.000Z`;
  if (isDateTime(v)) {
    const ms = Date.parse(HAS_ZONE_RE.test(v) ? v : `${v}Z`);
    if (!Number.isNaN(ms)) return new Date(ms).toISOString();
  }
  throw new FieldFault(f, `${f} must be an ISO 8601 date-time, found "${v}"`);
}

/** A JSON number, or a string holding one (some servers send scores as text). */
export function num(o: Obj, f: string): number | undefined {
  const v = o[f];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(v)) return Number(v);
  throw new FieldFault(f, `${f} must be a number, found ${show(v)}`);
}

/** An array of strings (items trimmed, empty ones dropped); a comma-separated string is accepted too. */
export function list(o: Obj, f: string): string[] | undefined {
  const v = o[f];
  if (v === undefined || v === null) return undefined;
  let items: string[];
  if (typeof v === 'string') items = splitList(v);
  else if (Array.isArray(v)) {
    items = [];
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (typeof x === 'number' && Number.isFinite(x)) items.push(String(x));
      else if (typeof x !== 'string') throw new FieldFault(`${f}[${i}]`, `${f}[${i}] must be a string, found ${show(x)}`);
      else if (x.trim() !== '') items.push(x.trim());
    }
  } else throw new FieldFault(f, `${f} must be a list of strings, found ${show(v)}`);
  return items.length ? items : undefined;
}

/** A GUIDRef `{href, sourcedId, type}` -> its sourcedId. */
export function ref(o: Obj, f: string): string | undefined {
  const v = o[f];
  if (v === undefined || v === null) return undefined;
  return guidRef(v, f);
}

function guidRef(v: unknown, field: string): string {
  if (!isObj(v)) throw new FieldFault(field, `${field} must be a GUIDRef object {href, sourcedId, type}, found ${show(v)}`);
  const id = v.sourcedId;
  if (typeof id !== 'string' || id.trim() === '') {
    throw new FieldFault(`${field}.sourcedId`, `${field}.sourcedId must be a non-empty string, found ${show(id)}`, 'record_invalid');
  }
  return id.trim();
}

function mustRef(o: Obj, f: string): string {
  const v = ref(o, f);
  if (v === undefined) throw new FieldFault(f, `required reference ${f} is missing`, 'record_invalid');
  return v;
}

/** A list of GUIDRefs -> sourcedIds. */
export function refs(o: Obj, f: string): string[] | undefined {
  const v = o[f];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw new FieldFault(f, `${f} must be a list of GUIDRefs, found ${show(v)}`);
  const out: string[] = [];
  for (let i = 0; i < v.length; i++) out.push(guidRef(v[i], `${f}[${i}]`));
  return out.length ? out : undefined;
}

function put(data: Obj, key: string, value: unknown): void {
  if (value !== undefined) data[key] = value;
}

// ---------------------------------------------------------------------------------------------------------------
// The frame every object shares

/**
 * `status`: `active` or absent = a live record; `tobedeleted` = a deletion; `inactive` (OneRoster 1.0, still sent
 * by some 1.1 servers) = a live record. Anything else is a fault.
 */
export function isDeletion(o: Obj): boolean {
  const s = str(o, 'status');
  if (s === undefined) return false;
  const l = s.toLowerCase();
  if (l === 'tobedeleted') return true;
  if (l === 'active' || l === 'inactive') return false;
  throw new FieldFault('status', `status must be active or tobedeleted, found "${s}"`);
}

/** dateLastModified, when present, must be an ISO 8601 date-time: it drives delta reads. */
function checkDateLastModified(o: Obj): void {
  const v = o.dateLastModified;
  if (v === undefined || v === null || v === '') return;
  if (typeof v !== 'string' || !isDateTime(v.trim())) {
    throw new FieldFault('dateLastModified', `dateLastModified must be an ISO 8601 date-time, found ${show(v)}`);
  }
}

/** The object as kept in `raw`: `password` (users) is never kept, not even in reject reports. */
export function cleanRaw(o: unknown): unknown {
  if (!isObj(o) || !('password' in o)) return o;
  const { password: _password, ...rest } = o;
  return rest;
}

function sourcedIdOf(o: unknown): string | undefined {
  if (!isObj(o) || typeof o.sourcedId !== 'string') return undefined;
  const t = o.sourcedId.trim();
  return t === '' ? undefined : t;
}

/**
 * A fault -> a reject. `sourceId` (by default the object's sourcedId) lets the runtime keep the stored record during
 * a full refresh: one bad object must never delete a student. Roles pass their derived id, or `{}` for none.
 */
export function toReject(e: unknown, o: unknown, location: string, id: { sourceId?: string } = { sourceId: sourcedIdOf(o) }): Reject {
  if (!(e instanceof FieldFault)) throw e;
  const sourceId = id.sourceId;
  return {
    location,
    field: e.field,
    reason: e.reason,
    code: e.code,
    raw: cleanRaw(o),
    ...(sourceId !== undefined ? { sourceId } : {}),
  };
}

function mapOne(type: EntityType, o: unknown, ctx: ObjContext, build: (o: Obj, ctx: ObjContext) => Obj): MapResult {
  try {
    if (!isObj(o)) throw new FieldFault('$', `expected an object, found ${show(o)}`);
    const sourceId = must(o, 'sourcedId');
    const deleted = isDeletion(o);
    checkDateLastModified(o);
    if (deleted) return { record: { type, sourceId, data: {}, raw: cleanRaw(o), location: ctx.location, deleted: true } };
    return { record: { type, sourceId, data: build(o, ctx), raw: cleanRaw(o), location: ctx.location } };
  } catch (e) {
    return { reject: toReject(e, o, ctx.location) };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Builders

function buildOrg(o: Obj): Obj {
  const data: Obj = { name: must(o, 'name'), type: must(o, 'type') };
  put(data, 'identifier', str(o, 'identifier'));
  put(data, 'parentId', ref(o, 'parent'));
  return data;
}

function buildAcademicSession(o: Obj): Obj {
  const data: Obj = { title: must(o, 'title'), type: must(o, 'type') };
  const startDate = date(o, 'startDate');
  const endDate = date(o, 'endDate');
  if (startDate === undefined) throw new FieldFault('startDate', 'required field startDate is missing or blank', 'record_invalid');
  if (endDate === undefined) throw new FieldFault('endDate', 'required field endDate is missing or blank', 'record_invalid');
  data.startDate = startDate;
  data.endDate = endDate;
  put(data, 'parentId', ref(o, 'parent'));
  data.schoolYear = must(o, 'schoolYear');
  return data;
}

function buildCourse(o: Obj): Obj {
  const data: Obj = { title: must(o, 'title'), orgId: mustRef(o, 'org') };
  put(data, 'schoolYearId', ref(o, 'schoolYear'));
  put(data, 'courseCode', str(o, 'courseCode'));
  put(data, 'grades', list(o, 'grades'));
  put(data, 'subjects', list(o, 'subjects'));
  put(data, 'subjectCodes', list(o, 'subjectCodes'));
  return data;
}

function buildClass(o: Obj): Obj {
  const termIds = refs(o, 'terms');
  if (!termIds) throw new FieldFault('terms', 'required field terms lists no term', 'record_invalid');
  const data: Obj = {
    title: must(o, 'title'),
    classType: must(o, 'classType'),
    courseId: mustRef(o, 'course'),
    schoolId: mustRef(o, 'school'),
    termIds,
  };
  put(data, 'classCode', str(o, 'classCode'));
  put(data, 'location', str(o, 'location'));
  put(data, 'grades', list(o, 'grades'));
  put(data, 'subjects', list(o, 'subjects'));
  put(data, 'subjectCodes', list(o, 'subjectCodes'));
  put(data, 'periods', list(o, 'periods'));
  return data;
}

function identifiersOf(o: Obj): Array<{ system: string; value: string }> {
  const out: Array<{ system: string; value: string }> = [];
  const ids = o.userIds;
  if (ids !== undefined && ids !== null) {
    if (!Array.isArray(ids)) throw new FieldFault('userIds', `userIds must be a list of {type, identifier}, found ${show(ids)}`);
    for (let i = 0; i < ids.length; i++) {
      const u = ids[i];
      if (!isObj(u)) throw new FieldFault(`userIds[${i}]`, `userIds[${i}] must be an object {type, identifier}, found ${show(u)}`);
      const system = str(u, 'type');
      const value = str(u, 'identifier');
      if (system === undefined || value === undefined) {
        throw new FieldFault(`userIds[${i}]`, `userIds[${i}] needs a non-blank type and identifier, found ${show(u)}`);
      }
      out.push({ system, value });
    }
  }
  const identifier = str(o, 'identifier');
  if (identifier !== undefined) out.push({ system: 'identifier', value: identifier });
  const master = str(o, 'userMasterIdentifier');
  if (master !== undefined) out.push({ system: 'userMasterIdentifier', value: master });
  return out;
}

function buildPerson(o: Obj, ctx: ObjContext): Obj {
  const identifiers = identifiersOf(o);
  const enabledUser = bool(o, 'enabledUser');
  if (enabledUser === undefined) throw new FieldFault('enabledUser', 'required field enabledUser is missing or blank', 'record_invalid');
  const data: Obj = { givenName: must(o, 'givenName'), familyName: must(o, 'familyName') };
  put(data, 'middleName', str(o, 'middleName'));
  // The REST binding says preferredFirstName / preferredLastName where the CSV binding says ...GivenName / ...FamilyName.
  put(data, 'preferredGivenName', str(o, 'preferredFirstName'));
  put(data, 'preferredMiddleName', str(o, 'preferredMiddleName'));
  put(data, 'preferredFamilyName', str(o, 'preferredLastName'));
  put(data, 'pronouns', str(o, 'pronouns'));
  put(data, 'username', str(o, 'username'));
  put(data, 'email', str(o, 'email'));
  put(data, 'sms', str(o, 'sms'));
  put(data, 'phone', str(o, 'phone'));
  data.enabledUser = enabledUser;
  put(data, 'grades', list(o, 'grades'));
  // 1.1 carries one role on the user; 1.2 has roles[] (each a role record in the roles stream).
  if (ctx.version === '1.1') put(data, 'primaryRole', str(o, 'role'));
  if (ctx.version === '1.2') put(data, 'primaryOrgId', ref(o, 'primaryOrg'));
  data.identifiers = identifiers;
  return data;
}

function buildDemographics(o: Obj): Obj {
  // One demographics object per user, with the user's sourcedId.
  const data: Obj = { personId: must(o, 'sourcedId') };
  put(data, 'birthDate', date(o, 'birthDate'));
  put(data, 'sex', str(o, 'sex'));
  for (const flag of RACE_FLAGS) put(data, flag, bool(o, flag));
  for (const f of DEMOGRAPHIC_STRINGS) put(data, f, str(o, f));
  return data;
}

function buildEnrollment(o: Obj): Obj {
  const data: Obj = {
    classId: mustRef(o, 'class'),
    schoolId: mustRef(o, 'school'),
    personId: mustRef(o, 'user'),
    role: must(o, 'role'),
  };
  put(data, 'primary', bool(o, 'primary'));
  put(data, 'beginDate', date(o, 'beginDate'));
  put(data, 'endDate', date(o, 'endDate'));
  return data;
}

function buildCategory(o: Obj): Obj {
  const data: Obj = { title: must(o, 'title') };
  put(data, 'weight', num(o, 'weight'));
  return data;
}

/** learningObjectiveSet `[{source, learningObjectiveIds[]}]` -> alignment `[{ref, source}]`. */
function alignmentOf(o: Obj): Array<{ ref: string; source?: string }> | undefined {
  const set = o.learningObjectiveSet;
  if (set === undefined || set === null) return undefined;
  if (!Array.isArray(set)) throw new FieldFault('learningObjectiveSet', `learningObjectiveSet must be a list, found ${show(set)}`);
  const out: Array<{ ref: string; source?: string }> = [];
  for (let i = 0; i < set.length; i++) {
    const s = set[i];
    const at = `learningObjectiveSet[${i}]`;
    if (!isObj(s)) throw new FieldFault(at, `${at} must be an object {source, learningObjectiveIds}, found ${show(s)}`);
    const source = str(s, 'source');
    const ids = list(s, 'learningObjectiveIds');
    for (const id of ids ?? []) out.push(source !== undefined ? { ref: id, source } : { ref: id });
  }
  return out.length ? out : undefined;
}

/** learningObjectiveSet `[{source, learningObjectiveResults[{learningObjectiveId, score, textScore}]}]`. */
function objectiveResultsOf(o: Obj): Array<Obj> | undefined {
  const set = o.learningObjectiveSet;
  if (set === undefined || set === null) return undefined;
  if (!Array.isArray(set)) throw new FieldFault('learningObjectiveSet', `learningObjectiveSet must be a list, found ${show(set)}`);
  const out: Obj[] = [];
  for (let i = 0; i < set.length; i++) {
    const s = set[i];
    const at = `learningObjectiveSet[${i}]`;
    if (!isObj(s)) throw new FieldFault(at, `${at} must be an object {source, learningObjectiveResults}, found ${show(s)}`);
    const source = str(s, 'source');
    const results = s.learningObjectiveResults;
    if (results === undefined || results === null) continue;
    if (!Array.isArray(results)) throw new FieldFault(`${at}.learningObjectiveResults`, `${at}.learningObjectiveResults must be a list, found ${show(results)}`);
    for (let j = 0; j < results.length; j++) {
      const r = results[j];
      const rat = `${at}.learningObjectiveResults[${j}]`;
      if (!isObj(r)) throw new FieldFault(rat, `${rat} must be an object {learningObjectiveId, score, textScore}, found ${show(r)}`);
      const id = str(r, 'learningObjectiveId');
      if (id === undefined) throw new FieldFault(`${rat}.learningObjectiveId`, `${rat}.learningObjectiveId is missing or blank`, 'record_invalid');
      const item: Obj = { ref: id };
      put(item, 'source', source);
      try {
        put(item, 'score', num(r, 'score'));
        put(item, 'textScore', str(r, 'textScore'));
      } catch (e) {
        if (e instanceof FieldFault) throw new FieldFault(`${rat}.${e.field}`, `${rat}.${e.reason}`, e.code);
        throw e;
      }
      out.push(item);
    }
  }
  return out.length ? out : undefined;
}

function buildLineItem(o: Obj): Obj {
  const data: Obj = { title: must(o, 'title') };
  put(data, 'description', str(o, 'description'));
  data.classId = mustRef(o, 'class');
  put(data, 'schoolId', ref(o, 'school'));
  put(data, 'categoryId', ref(o, 'category'));
  put(data, 'gradingPeriodId', ref(o, 'gradingPeriod'));
  put(data, 'assignDate', dateTime(o, 'assignDate'));
  put(data, 'dueDate', dateTime(o, 'dueDate'));
  put(data, 'resultValueMin', num(o, 'resultValueMin'));
  put(data, 'resultValueMax', num(o, 'resultValueMax'));
  put(data, 'alignment', alignmentOf(o));
  return data;
}

function buildAssessmentLineItem(o: Obj): Obj {
  if (o.class === undefined || o.class === null) {
    throw new FieldFault('class', 'assessmentLineItem has no class: the unified lineItem needs one (an assessment given outside a class cannot be stored as a line item)', 'record_invalid');
  }
  return buildLineItem(o);
}

function resultFields(o: Obj, data: Obj): Obj {
  data.personId = mustRef(o, 'student');
  data.scoreStatus = must(o, 'scoreStatus');
  put(data, 'score', num(o, 'score'));
  put(data, 'textScore', str(o, 'textScore'));
  put(data, 'scoreDate', dateTime(o, 'scoreDate'));
  put(data, 'comment', str(o, 'comment'));
  put(data, 'late', bool(o, 'late'));
  put(data, 'missing', bool(o, 'missing'));
  put(data, 'incomplete', bool(o, 'incomplete'));
  put(data, 'inProgress', bool(o, 'inProgress'));
  put(data, 'learningObjectiveResults', objectiveResultsOf(o));
  return data;
}

function buildResult(o: Obj): Obj {
  return resultFields(o, { lineItemId: mustRef(o, 'lineItem') });
}

function buildAssessmentResult(o: Obj): Obj {
  return resultFields(o, { lineItemId: mustRef(o, 'assessmentLineItem') });
}

// ---------------------------------------------------------------------------------------------------------------
// Public mappers, one per collection

export const mapOrg = (o: unknown, ctx: ObjContext): MapResult => mapOne('org', o, ctx, buildOrg);
export const mapAcademicSession = (o: unknown, ctx: ObjContext): MapResult => mapOne('academicSession', o, ctx, buildAcademicSession);
export const mapCourse = (o: unknown, ctx: ObjContext): MapResult => mapOne('course', o, ctx, buildCourse);
export const mapClass = (o: unknown, ctx: ObjContext): MapResult => mapOne('class', o, ctx, buildClass);
/** users[] -> person */
export const mapUser = (o: unknown, ctx: ObjContext): MapResult => mapOne('person', o, ctx, buildPerson);
/** demographics[] -> demographics (personId = sourcedId) */
export const mapDemographics = (o: unknown, ctx: ObjContext): MapResult => mapOne('demographics', o, ctx, buildDemographics);
export const mapEnrollment = (o: unknown, ctx: ObjContext): MapResult => mapOne('enrollment', o, ctx, buildEnrollment);
/** categories[] -> lineItemCategory */
export const mapCategory = (o: unknown, ctx: ObjContext): MapResult => mapOne('lineItemCategory', o, ctx, buildCategory);
export const mapLineItem = (o: unknown, ctx: ObjContext): MapResult => mapOne('lineItem', o, ctx, buildLineItem);
/** assessmentLineItems[] (1.2) -> lineItem */
export const mapAssessmentLineItem = (o: unknown, ctx: ObjContext): MapResult => mapOne('lineItem', o, ctx, buildAssessmentLineItem);
export const mapResult = (o: unknown, ctx: ObjContext): MapResult => mapOne('result', o, ctx, buildResult);
/** assessmentResults[] (1.2) -> result */
export const mapAssessmentResult = (o: unknown, ctx: ObjContext): MapResult => mapOne('result', o, ctx, buildAssessmentResult);

/** The source id of a role derived from a 1.2 user's roles[] entry. */
export function derivedRoleId12(userSourcedId: string, orgSourcedId: string, role: string): string {
  return `${userSourcedId}::${orgSourcedId}::${role}`;
}

/**
 * users[] -> roles. 1.2: one role per `roles[]` entry (`roleType`, `role`, `org`, `beginDate`, `endDate`), id
 * `<user>::<org>::<role>` (a user may hold a primary and a secondary role at one org). 1.1: `role` at each of
 * `orgs[]`, id `<user>::<org>` as oneroster-csv derives it, the first org primary. A bad entry rejects that role
 * only. A deleted user deletes the roles its object still lists.
 */
export function mapUserRoles(o: unknown, ctx: ObjContext): MapManyResult {
  const records: SourceRecord[] = [];
  const rejects: Reject[] = [];
  let userId: string;
  let deleted: boolean;
  try {
    if (!isObj(o)) throw new FieldFault('$', `expected an object, found ${show(o)}`);
    userId = must(o, 'sourcedId');
    deleted = isDeletion(o);
    checkDateLastModified(o);
  } catch (e) {
    // Derived role ids are not the user's sourcedId: no sourceId on the reject.
    rejects.push(toReject(e, o, ctx.location, {}));
    return { records, rejects };
  }
  const user = o as Obj;
  if (ctx.version === '1.1') {
    try {
      const orgs = refs(user, 'orgs');
      if (deleted) {
        for (const org of dedupe(orgs ?? [])) records.push(roleRecord(derivedRoleId(userId, org), {}, { role: user.role, org }, ctx.location, true));
        return { records, rejects };
      }
      const role = str(user, 'role');
      if (role === undefined) throw new FieldFault('role', 'required field role is missing or blank: no role can be derived for this user', 'record_invalid');
      if (!orgs) throw new FieldFault('orgs', 'required field orgs lists no org: no role can be derived for this user', 'record_invalid');
      dedupe(orgs).forEach((org, i) => {
        records.push(roleRecord(derivedRoleId(userId, org), { personId: userId, orgId: org, roleType: i === 0 ? 'primary' : 'secondary', role }, { role, org }, ctx.location, false));
      });
    } catch (e) {
      rejects.push(toReject(e, user, ctx.location, {}));
    }
    return { records, rejects };
  }

  const list = user.roles;
  if (list === undefined || list === null || (Array.isArray(list) && list.length === 0)) {
    if (!deleted) rejects.push(toReject(new FieldFault('roles', 'required field roles is missing or empty: the user has no role', 'record_invalid'), user, ctx.location, {}));
    return { records, rejects };
  }
  if (!Array.isArray(list)) {
    rejects.push(toReject(new FieldFault('roles', `roles must be a list, found ${show(list)}`), user, ctx.location, {}));
    return { records, rejects };
  }
  for (let i = 0; i < list.length; i++) {
    const entry = list[i];
    const location = `${ctx.location}.roles[${i}]`;
    let id: string | undefined;
    try {
      if (!isObj(entry)) throw new FieldFault(`roles[${i}]`, `roles[${i}] must be an object {roleType, role, org}, found ${show(entry)}`);
      const org = mustRef(entry, 'org');
      const role = must(entry, 'role');
      id = derivedRoleId12(userId, org, role);
      if (deleted) {
        records.push(roleRecord(id, {}, entry, location, true));
        continue;
      }
      const data: Obj = { personId: userId, orgId: org, roleType: must(entry, 'roleType'), role };
      put(data, 'beginDate', date(entry, 'beginDate'));
      put(data, 'endDate', date(entry, 'endDate'));
      records.push(roleRecord(id, data, entry, location, false));
    } catch (e) {
      if (!(e instanceof FieldFault)) throw e;
      const field = e.field.startsWith(`roles[${i}]`) ? e.field : `roles[${i}].${e.field}`;
      rejects.push(toReject(new FieldFault(field, e.reason, e.code), entry, location, { sourceId: id }));
    }
  }
  return { records, rejects };
}

function roleRecord(sourceId: string, data: Obj, raw: unknown, location: string, deleted: boolean): SourceRecord {
  return { type: 'role', sourceId, data, raw, location, ...(deleted ? { deleted: true } : {}) };
}

function dedupe(items: string[]): string[] {
  return items.length < 2 ? items : [...new Set(items)];
}
