/**
 * Pure mappers: one OneRoster CSV row (an object keyed by header) -> one unified record, or a reject. The 1.2
 * learning-objective files map to an `Objective` (an item for its parent line item or result; see objectives.ts).
 *
 * Reference fields (`x-ref` in schemas/unified) are filled with the *source* sourcedId; the runtime translates them.
 * Enumerations and patterns (org.type, role, schoolYear...) are left to the runtime's schema validation, which
 * rejects with record_invalid and this record's location; what the schema cannot see is checked here: required
 * cells, booleans, dates, the status/dateLastModified rules of bulk and delta files, the `{type:id}` list syntax.
 *
 * Mappers run once per row on large files: no closures or regex compilation per row, and a bad value throws a
 * small RowFault (rows are rarely bad) instead of threading error results through every helper.
 */
import type { EntityType, Reject, SourceRecord } from '../../src/ingest/contract';
import { COLUMNS_1_1, COLUMNS_1_2, type OneRosterVersion } from './columns';
import type { FileMode } from './manifest';

/** A CSV row keyed by header (extension columns included). */
export type Row = Record<string, string>;

export interface RowContext {
  /** File name, for locations (`users.csv`). */
  file: string;
  /** Physical line number in the file. */
  line: number;
  mode: FileMode;
  version: OneRosterVersion;
}

export type MapResult = { record: SourceRecord; reject?: undefined } | { reject: Reject; record?: undefined };
/** The 1.1 roles mapper makes one record per org of the user. */
export type MapManyResult = { records: SourceRecord[]; reject?: undefined } | { reject: Reject; records?: undefined };

/** A bad cell. `code` follows src/core/errors.ts: row_malformed = cannot be parsed, record_invalid = parsed but unusable. */
export class RowFault extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
    readonly code: 'row_malformed' | 'record_invalid' = 'row_malformed',
  ) {
    super(reason);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Cell helpers. Cells are trimmed: the binding has no meaningful leading/trailing blanks, and a padded sourcedId
// would silently break reference resolution. `raw` keeps the untrimmed row.

// ISO 8601 date-time as the binding uses it (2019-03-14T18:51:09.000Z); seconds, fraction and offset optional.
const DATETIME_RE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?(Z|[+-]([01]\d|2[0-3]):?[0-5]\d)?$/;

function cell(row: Row, col: string): string | undefined {
  const v = row[col];
  if (v === undefined || v === '') return undefined;
  const t = v.trim();
  return t === '' ? undefined : t;
}

/** A required cell; presence was checked up front by `checkRequired`, so this only narrows the type. */
function must(row: Row, col: string): string {
  const v = cell(row, col);
  if (v === undefined) throw new RowFault(col, `required column ${col} is blank`, 'record_invalid');
  return v;
}

function bool(row: Row, col: string): boolean | undefined {
  const v = cell(row, col);
  if (v === undefined) return undefined;
  const l = v.toLowerCase();
  if (l === 'true') return true;
  if (l === 'false') return false;
  throw new RowFault(col, `${col} must be true or false, found "${v}"`);
}

const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Two or four ASCII digits at `at`, or -1. */
function digits(v: string, at: number, n: number): number {
  let x = 0;
  for (let i = at; i < at + n; i++) {
    const c = v.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    x = x * 10 + c;
  }
  return x;
}

/**
 * YYYY-MM-DD and a real calendar day. Hand-rolled (no regex match array, no Date): it runs for several cells of
 * most rows.
 */
export function isDate(v: string): boolean {
  if (v.length !== 10 || v.charCodeAt(4) !== 45 || v.charCodeAt(7) !== 45) return false;
  const y = digits(v, 0, 4);
  const mo = digits(v, 5, 2);
  const d = digits(v, 8, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1) return false;
  if (mo === 2 && d === 29) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  return d <= DAYS_IN_MONTH[mo];
}

export function isDateTime(v: string): boolean {
  return DATETIME_RE.test(v) && isDate(v.slice(0, 10));
}

function date(row: Row, col: string): string | undefined {
  const v = cell(row, col);
  if (v === undefined) return undefined;
  if (!isDate(v)) throw new RowFault(col, `${col} must be a date YYYY-MM-DD, found "${v}"`);
  return v;
}

// Decimal numbers as the binding writes Float/Integer cells: no thousands separators, a point for decimals.
const NUMBER_RE = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

function num(row: Row, col: string): number | undefined {
  const v = cell(row, col);
  if (v === undefined) return undefined;
  const n = NUMBER_RE.test(v) ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw new RowFault(col, `${col} must be a number, found "${v}"`);
  return n;
}

const HAS_ZONE_RE = /(Z|[+-]\d{2}:?\d{2})$/;

/**
 * assignDate, dueDate, scoreDate: the binding types them Date, producers often write date-times, and the unified
 * fields are date-times. A date becomes midnight UTC of that day (as in oneroster-rest); a date-time is normalized
 * to UTC `YYYY-MM-DDTHH:mm:ss.sssZ` (one without an offset is read as UTC, OneRoster's zone).
 */
function dateTime(row: Row, col: string): string | undefined {
  const v = cell(row, col);
  if (v === undefined) return undefined;
  if (isDate(v)) return `${v}T00:00:00.000Z`;
  if (isDateTime(v)) {
    const ms = Date.parse(HAS_ZONE_RE.test(v) ? v : `${v}Z`);
    if (!Number.isNaN(ms)) return new Date(ms).toISOString();
  }
  throw new RowFault(col, `${col} must be a date YYYY-MM-DD or an ISO 8601 date-time, found "${v}"`);
}

/** OneRoster scoreStatus, with spaces (CSV binding and 1.2 REST alike). */
export const SCORE_STATUSES = ['exempt', 'fully graded', 'not submitted', 'partially graded', 'submitted'] as const;
const SCORE_STATUS_SET = new Set<string>(SCORE_STATUSES);

/** Case-insensitive (`Fully Graded` reads as `fully graded`); anything else is refused with the list. */
function scoreStatus(row: Row): string {
  const v = must(row, 'scoreStatus');
  const l = v.toLowerCase();
  if (!SCORE_STATUS_SET.has(l)) {
    throw new RowFault('scoreStatus', `scoreStatus must be one of ${SCORE_STATUSES.join(', ')} (with spaces), found "${v}"`, 'record_invalid');
  }
  return l;
}

/** A comma-separated list inside one cell (`"09,10"`); items trimmed, empty items dropped. */
export function splitList(v: string): string[] {
  const out: string[] = [];
  for (const part of v.split(',')) {
    const t = part.trim();
    if (t !== '') out.push(t);
  }
  return out;
}

function list(row: Row, col: string): string[] | undefined {
  const v = cell(row, col);
  if (v === undefined) return undefined;
  const items = splitList(v);
  return items.length > 0 ? items : undefined;
}

/**
 * `userIds`: `{type:id}` pairs separated by commas, e.g. `{LDAP:abc},{state:123}`. The first colon separates type
 * from id (ids may contain colons). Returns null when the syntax is wrong.
 */
export function parseUserIds(v: string): Array<{ system: string; value: string }> | null {
  const out: Array<{ system: string; value: string }> = [];
  let i = 0;
  const n = v.length;
  for (;;) {
    while (i < n && (v[i] === ' ' || v[i] === ',')) i++;
    if (i >= n) break;
    if (v[i] !== '{') return null;
    const close = v.indexOf('}', i);
    if (close === -1) return null;
    const colon = v.indexOf(':', i);
    if (colon === -1 || colon > close) return null;
    const system = v.slice(i + 1, colon).trim();
    const value = v.slice(colon + 1, close).trim();
    if (!system || !value) return null;
    out.push({ system, value });
    i = close + 1;
    if (i < n && v[i] !== ',' && v[i] !== ' ') return null;
  }
  return out;
}

function put(data: Record<string, unknown>, key: string, value: unknown): void {
  if (value !== undefined) data[key] = value;
}

// ---------------------------------------------------------------------------------------------------------------
// Row rules shared by every file.

/** Required ('yes') columns per version and file, computed once. */
const REQUIRED: Record<OneRosterVersion, Record<string, string[]>> = {
  '1.1': requiredOf(COLUMNS_1_1),
  '1.2': requiredOf(COLUMNS_1_2),
};
function requiredOf(cols: Record<string, Array<{ header: string; required: string }>>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [file, list] of Object.entries(cols)) out[file] = list.filter((c) => c.required === 'yes').map((c) => c.header);
  return out;
}

function checkRequired(row: Row, required: readonly string[]): void {
  let missing: string[] | undefined;
  for (const col of required) {
    if (cell(row, col) === undefined) (missing ??= []).push(col);
  }
  if (missing) {
    throw new RowFault(
      missing[0],
      missing.length === 1 ? `required column ${missing[0]} is blank` : `required columns ${missing.join(', ')} are blank`,
      'record_invalid',
    );
  }
}

/**
 * status/dateLastModified per the binding. Bulk: the file is the complete truth, so a row is never a deletion
 * (status blank or `active`; dateLastModified is not used). Delta: status `active|tobedeleted` and an ISO 8601
 * dateLastModified are mandatory. Returns true when the row deletes its record.
 */
function isDeletion(row: Row, ctx: RowContext): boolean {
  const status = cell(row, 'status');
  const s = status?.toLowerCase();
  if (ctx.mode === 'bulk') {
    if (s === undefined || s === 'active') return false;
    if (s === 'tobedeleted') {
      throw new RowFault(
        'status',
        'status tobedeleted is not allowed in a bulk file (a bulk file is the complete truth: leave the record out, or send it in a delta file)',
        'record_invalid',
      );
    }
    throw new RowFault('status', `status must be blank or active in a bulk file, found "${status}"`);
  }
  if (s !== 'active' && s !== 'tobedeleted') {
    throw new RowFault('status', status === undefined ? 'status is required in a delta file (active or tobedeleted)' : `status must be active or tobedeleted, found "${status}"`);
  }
  const dlm = cell(row, 'dateLastModified');
  if (dlm === undefined) throw new RowFault('dateLastModified', 'dateLastModified is required in a delta file (ISO 8601 date-time)');
  if (!isDateTime(dlm)) throw new RowFault('dateLastModified', `dateLastModified must be an ISO 8601 date-time, found "${dlm}"`);
  return s === 'tobedeleted';
}

function location(ctx: RowContext): string {
  return `${ctx.file}:${ctx.line}`;
}

/**
 * A fault -> a reject. `sourceId` (when the row has one) lets the runtime keep the stored record during a full
 * refresh: one bad row must never delete a student. Derived 1.1 roles pass `withSourceId: false` (their ids are
 * `user::org`, not the row's sourcedId).
 */
export function toReject(e: unknown, row: Row, ctx: RowContext, withSourceId = true): Reject {
  if (!(e instanceof RowFault)) throw e;
  const sourceId = withSourceId ? cell(row, 'sourcedId') : undefined;
  return {
    location: location(ctx),
    field: e.field,
    reason: e.reason,
    code: e.code,
    raw: row,
    ...(sourceId !== undefined ? { sourceId } : {}),
  };
}

/**
 * The frame every single-record mapper shares: sourcedId, bulk/delta status rules, deletions (a delete needs only
 * its sourcedId), required cells, then the file-specific `build`.
 */
function mapOne(
  type: EntityType,
  file: string,
  row: Row,
  ctx: RowContext,
  build: (row: Row, ctx: RowContext) => Record<string, unknown>,
): MapResult {
  try {
    const sourceId = must(row, 'sourcedId');
    if (isDeletion(row, ctx)) {
      return { record: { type, sourceId, data: {}, raw: row, location: location(ctx), deleted: true } };
    }
    checkRequired(row, REQUIRED[ctx.version][file] ?? []);
    return { record: { type, sourceId, data: build(row, ctx), raw: row, location: location(ctx) } };
  } catch (e) {
    return { reject: toReject(e, row, ctx) };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// One builder per file. Each is a plain function (no per-row closure) passed to mapOne.

function buildOrg(row: Row): Record<string, unknown> {
  const data: Record<string, unknown> = { name: must(row, 'name'), type: must(row, 'type') };
  put(data, 'identifier', cell(row, 'identifier'));
  put(data, 'parentId', cell(row, 'parentSourcedId'));
  return data;
}

function buildAcademicSession(row: Row): Record<string, unknown> {
  const data: Record<string, unknown> = {
    title: must(row, 'title'),
    type: must(row, 'type'),
    startDate: date(row, 'startDate'),
    endDate: date(row, 'endDate'),
  };
  put(data, 'parentId', cell(row, 'parentSourcedId'));
  data.schoolYear = must(row, 'schoolYear');
  return data;
}

function buildCourse(row: Row): Record<string, unknown> {
  const data: Record<string, unknown> = { title: must(row, 'title'), orgId: must(row, 'orgSourcedId') };
  put(data, 'schoolYearId', cell(row, 'schoolYearSourcedId'));
  put(data, 'courseCode', cell(row, 'courseCode'));
  put(data, 'grades', list(row, 'grades'));
  put(data, 'subjects', list(row, 'subjects'));
  put(data, 'subjectCodes', list(row, 'subjectCodes'));
  return data;
}

function buildClass(row: Row): Record<string, unknown> {
  const termIds = list(row, 'termSourcedIds');
  if (!termIds) throw new RowFault('termSourcedIds', 'required column termSourcedIds lists no term', 'record_invalid');
  const data: Record<string, unknown> = {
    title: must(row, 'title'),
    classType: must(row, 'classType'),
    courseId: must(row, 'courseSourcedId'),
    schoolId: must(row, 'schoolSourcedId'),
    termIds,
  };
  put(data, 'classCode', cell(row, 'classCode'));
  put(data, 'location', cell(row, 'location'));
  put(data, 'grades', list(row, 'grades'));
  put(data, 'subjects', list(row, 'subjects'));
  put(data, 'subjectCodes', list(row, 'subjectCodes'));
  put(data, 'periods', list(row, 'periods'));
  return data;
}

function buildPerson(row: Row, ctx: RowContext): Record<string, unknown> {
  const identifiers: Array<{ system: string; value: string }> = [];
  const userIds = cell(row, 'userIds');
  if (userIds !== undefined) {
    const parsed = parseUserIds(userIds);
    if (!parsed) throw new RowFault('userIds', `userIds must be a list of {type:id} pairs, e.g. {LDAP:abc},{state:123}; found "${userIds}"`);
    for (const p of parsed) identifiers.push(p);
  }
  const identifier = cell(row, 'identifier');
  if (identifier !== undefined) identifiers.push({ system: 'identifier', value: identifier });
  const master = cell(row, 'userMasterIdentifier');
  if (master !== undefined) identifiers.push({ system: 'userMasterIdentifier', value: master });

  const enabledUser = bool(row, 'enabledUser');
  if (enabledUser === undefined) throw new RowFault('enabledUser', 'required column enabledUser is blank', 'record_invalid');

  const data: Record<string, unknown> = { givenName: must(row, 'givenName'), familyName: must(row, 'familyName') };
  put(data, 'middleName', cell(row, 'middleName'));
  put(data, 'preferredGivenName', cell(row, 'preferredGivenName'));
  put(data, 'preferredMiddleName', cell(row, 'preferredMiddleName'));
  put(data, 'preferredFamilyName', cell(row, 'preferredFamilyName'));
  put(data, 'pronouns', cell(row, 'pronouns'));
  put(data, 'username', cell(row, 'username'));
  put(data, 'email', cell(row, 'email'));
  put(data, 'sms', cell(row, 'sms'));
  put(data, 'phone', cell(row, 'phone'));
  data.enabledUser = enabledUser;
  put(data, 'grades', list(row, 'grades'));
  // 1.1 carries one role on the user row; 1.2 moved roles to roles.csv (the primary one is a role record there).
  if (ctx.version === '1.1') put(data, 'primaryRole', cell(row, 'role'));
  put(data, 'primaryOrgId', cell(row, 'primaryOrgSourcedId'));
  // agentSourcedIds: a student's parents/guardians/relatives, a guardian's children (resolved at the end of the run).
  const agents = list(row, 'agentSourcedIds');
  if (agents) put(data, 'agentIds', dedupe(agents));
  data.identifiers = identifiers;
  return data;
}

function buildRole(row: Row): Record<string, unknown> {
  const data: Record<string, unknown> = {
    personId: must(row, 'userSourcedId'),
    orgId: must(row, 'orgSourcedId'),
    roleType: must(row, 'roleType'),
    role: must(row, 'role'),
  };
  put(data, 'beginDate', date(row, 'beginDate'));
  put(data, 'endDate', date(row, 'endDate'));
  return data;
}

/** Demographics race/ethnicity flags of the OneRoster data model (CSV and REST alike). */
export const RACE_FLAGS = [
  'americanIndianOrAlaskaNative',
  'asian',
  'blackOrAfricanAmerican',
  'nativeHawaiianOrOtherPacificIslander',
  'white',
  'demographicRaceTwoOrMoreRaces',
  'hispanicOrLatinoEthnicity',
] as const;
export const DEMOGRAPHIC_STRINGS = ['countryOfBirthCode', 'stateOfBirthAbbreviation', 'cityOfBirth', 'publicSchoolResidenceStatus'] as const;

function buildDemographics(row: Row): Record<string, unknown> {
  // demographics.sourcedId is the user's sourcedId (OneRoster: one demographics record per user, same id).
  const data: Record<string, unknown> = { personId: must(row, 'sourcedId') };
  put(data, 'birthDate', date(row, 'birthDate'));
  put(data, 'sex', cell(row, 'sex'));
  for (const flag of RACE_FLAGS) put(data, flag, bool(row, flag));
  for (const col of DEMOGRAPHIC_STRINGS) put(data, col, cell(row, col));
  return data;
}

function buildEnrollment(row: Row): Record<string, unknown> {
  const data: Record<string, unknown> = {
    classId: must(row, 'classSourcedId'),
    schoolId: must(row, 'schoolSourcedId'),
    personId: must(row, 'userSourcedId'),
    role: must(row, 'role'),
  };
  put(data, 'primary', bool(row, 'primary'));
  put(data, 'beginDate', date(row, 'beginDate'));
  put(data, 'endDate', date(row, 'endDate'));
  return data;
}

function buildCategory(row: Row): Record<string, unknown> {
  const data: Record<string, unknown> = { title: must(row, 'title') };
  put(data, 'weight', num(row, 'weight'));
  return data;
}

function buildLineItem(row: Row, ctx: RowContext): Record<string, unknown> {
  const data: Record<string, unknown> = { title: must(row, 'title') };
  put(data, 'description', cell(row, 'description'));
  data.classId = must(row, 'classSourcedId');
  put(data, 'schoolId', cell(row, 'schoolSourcedId')); // 1.2 only
  put(data, 'categoryId', cell(row, 'categorySourcedId'));
  // 1.1 names the session gradingPeriodSourcedId; 1.2 academicSessionSourcedId (any session type).
  put(data, 'gradingPeriodId', cell(row, ctx.version === '1.1' ? 'gradingPeriodSourcedId' : 'academicSessionSourcedId'));
  put(data, 'assignDate', dateTime(row, 'assignDate'));
  put(data, 'dueDate', dateTime(row, 'dueDate'));
  const min = num(row, 'resultValueMin');
  const max = num(row, 'resultValueMax');
  if (min !== undefined && max !== undefined && min > max) {
    throw new RowFault('resultValueMax', `resultValueMax ${max} is less than resultValueMin ${min}`, 'record_invalid');
  }
  put(data, 'resultValueMin', min);
  put(data, 'resultValueMax', max);
  return data;
}

function buildResult(row: Row): Record<string, unknown> {
  const data: Record<string, unknown> = {
    lineItemId: must(row, 'lineItemSourcedId'),
    personId: must(row, 'studentSourcedId'),
    scoreStatus: scoreStatus(row),
  };
  // A score above resultValueMax (extra credit) is kept as is.
  put(data, 'score', num(row, 'score'));
  put(data, 'textScore', cell(row, 'textScore'));
  put(data, 'scoreDate', dateTime(row, 'scoreDate'));
  put(data, 'comment', cell(row, 'comment'));
  // 1.2 only: textScore above, the four flags here; classSourcedId stays in raw (the line item names the class).
  put(data, 'late', bool(row, 'late'));
  put(data, 'missing', bool(row, 'missing'));
  put(data, 'incomplete', bool(row, 'incomplete'));
  put(data, 'inProgress', bool(row, 'inProgress'));
  return data;
}

// ---------------------------------------------------------------------------------------------------------------
// Public mappers, one per file.

/** orgs.csv -> org */
export function mapOrg(row: Row, ctx: RowContext): MapResult {
  return mapOne('org', 'orgs.csv', row, ctx, buildOrg);
}

/** academicSessions.csv -> academicSession */
export function mapAcademicSession(row: Row, ctx: RowContext): MapResult {
  return mapOne('academicSession', 'academicSessions.csv', row, ctx, buildAcademicSession);
}

/** courses.csv -> course */
export function mapCourse(row: Row, ctx: RowContext): MapResult {
  return mapOne('course', 'courses.csv', row, ctx, buildCourse);
}

/** classes.csv -> class */
export function mapClass(row: Row, ctx: RowContext): MapResult {
  return mapOne('class', 'classes.csv', row, ctx, buildClass);
}

/** users.csv -> person (1.1 and 1.2) */
export function mapUser(row: Row, ctx: RowContext): MapResult {
  return mapOne('person', 'users.csv', row, ctx, buildPerson);
}

/** roles.csv (1.2) -> role */
export function mapRole(row: Row, ctx: RowContext): MapResult {
  return mapOne('role', 'roles.csv', row, ctx, buildRole);
}

/** demographics.csv -> demographics (personId = sourcedId) */
export function mapDemographics(row: Row, ctx: RowContext): MapResult {
  return mapOne('demographics', 'demographics.csv', row, ctx, buildDemographics);
}

/** enrollments.csv -> enrollment */
export function mapEnrollment(row: Row, ctx: RowContext): MapResult {
  return mapOne('enrollment', 'enrollments.csv', row, ctx, buildEnrollment);
}

/** categories.csv -> lineItemCategory */
export function mapCategory(row: Row, ctx: RowContext): MapResult {
  return mapOne('lineItemCategory', 'categories.csv', row, ctx, buildCategory);
}

/** lineItems.csv -> lineItem (alignment is attached from lineItemLearningObjectiveIds.csv by the connector) */
export function mapLineItem(row: Row, ctx: RowContext): MapResult {
  return mapOne('lineItem', 'lineItems.csv', row, ctx, buildLineItem);
}

/** results.csv -> result (learningObjectiveResults are attached from resultLearningObjectiveIds.csv by the connector) */
export function mapResult(row: Row, ctx: RowContext): MapResult {
  return mapOne('result', 'results.csv', row, ctx, buildResult);
}

/**
 * One row of a 1.2 learning-objective file: not a record of its own (the unified model has none) but an item of its
 * parent's list — `alignment` of a line item, `learningObjectiveResults` of a result.
 */
export interface Objective {
  /** The parent's sourcedId (lineItemSourcedId / resultSourcedId). */
  parentId: string;
  /** `tobedeleted` (delta): nothing to attach; the row still needs its parent re-sent to take effect. */
  deleted: boolean;
  /** `{ref, source}` or `{ref, source, score?, textScore?}`; absent when deleted. */
  item?: Record<string, unknown>;
}

/** A rejected objective row carries its parent's sourcedId when readable: the parent cannot be stored without it. */
export type ObjectiveResult = { objective: Objective; reject?: undefined } | { reject: Reject; parentId?: string; objective?: undefined };

function mapObjective(file: string, parentColumn: string, withScores: boolean, row: Row, ctx: RowContext): ObjectiveResult {
  try {
    must(row, 'sourcedId');
    if (isDeletion(row, ctx)) {
      const parentId = cell(row, parentColumn);
      if (parentId === undefined) {
        throw new RowFault(
          parentColumn,
          `a tobedeleted row must still name its ${parentColumn}: learning objectives are stored on their parent, so without it there is nothing to change`,
          'record_invalid',
        );
      }
      return { objective: { parentId, deleted: true } };
    }
    checkRequired(row, REQUIRED[ctx.version][file] ?? []);
    const item: Record<string, unknown> = { ref: must(row, 'learningObjectiveId'), source: must(row, 'source') };
    if (withScores) {
      put(item, 'score', num(row, 'score'));
      put(item, 'textScore', cell(row, 'textScore'));
    }
    return { objective: { parentId: must(row, parentColumn), deleted: false, item } };
  } catch (e) {
    // No sourceId: the row's sourcedId names no hub record (and must not protect a parent that happens to share it).
    const reject = toReject(e, row, ctx, false);
    const parentId = cell(row, parentColumn);
    return parentId !== undefined ? { reject, parentId } : { reject };
  }
}

/** lineItemLearningObjectiveIds.csv (1.2) -> an `alignment` item `{ref: learningObjectiveId, source}` of its line item */
export function mapLineItemObjective(row: Row, ctx: RowContext): ObjectiveResult {
  return mapObjective('lineItemLearningObjectiveIds.csv', 'lineItemSourcedId', false, row, ctx);
}

/** resultLearningObjectiveIds.csv (1.2) -> a `learningObjectiveResults` item `{ref, source, score?, textScore?}` of its result */
export function mapResultObjective(row: Row, ctx: RowContext): ObjectiveResult {
  return mapObjective('resultLearningObjectiveIds.csv', 'resultSourcedId', true, row, ctx);
}

/** The source id of a role derived from a 1.1 user row. */
export function derivedRoleId(userSourcedId: string, orgSourcedId: string): string {
  return `${userSourcedId}::${orgSourcedId}`;
}

/**
 * users.csv (1.1) -> roles. OneRoster 1.1 has no roles.csv: a user has one `role` at each org of `orgSourcedIds`.
 * One role per org; the first listed org is the primary one. A deleted user deletes the roles it lists (a delete
 * row that lists no org yields nothing: there is no role id to delete).
 */
export function mapUserRoles11(row: Row, ctx: RowContext): MapManyResult {
  try {
    const userId = must(row, 'sourcedId');
    const deleted = isDeletion(row, ctx);
    const orgs = list(row, 'orgSourcedIds');
    const loc = location(ctx);
    if (deleted) {
      return {
        records: (orgs ? dedupe(orgs) : []).map((org) => ({
          type: 'role' as const, sourceId: derivedRoleId(userId, org), data: {}, raw: row, location: loc, deleted: true,
        })),
      };
    }
    const role = cell(row, 'role');
    if (role === undefined) throw new RowFault('role', 'required column role is blank: no role can be derived for this user', 'record_invalid');
    if (!orgs) throw new RowFault('orgSourcedIds', 'required column orgSourcedIds is blank: no role can be derived for this user', 'record_invalid');
    return {
      records: dedupe(orgs).map((org, i) => ({
        type: 'role' as const,
        sourceId: derivedRoleId(userId, org),
        data: { personId: userId, orgId: org, roleType: i === 0 ? 'primary' : 'secondary', role },
        raw: row,
        location: loc,
      })),
    };
  } catch (e) {
    return { reject: toReject(e, row, ctx, false) };
  }
}

function dedupe(items: string[]): string[] {
  return items.length < 2 ? items : [...new Set(items)];
}
