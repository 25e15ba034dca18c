/**
 * Reading values out of interchange elements (objects built by xml.ts), descriptors, references and source ids.
 * Pure functions: no I/O. A value that cannot be used throws a small `Fault` naming the XML path; the mappers turn it
 * into a reject.
 */
import { createHash } from 'node:crypto';
import type { Reject } from '../../src/ingest/contract';
import type { XmlObject, XmlValue } from './xml';

export type RejectCode = NonNullable<Reject['code']>;

/** A value that cannot be mapped. `field` is the XML path (`StudentAssessment/AdministrationDate`). */
export class Fault extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
    readonly code: RejectCode = 'record_invalid',
  ) {
    super(reason);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Children and text

export function isObject(v: XmlValue | XmlValue[] | undefined): v is XmlObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** All children named `key`, in document order. */
export function kids(node: XmlObject, key: string): XmlValue[] {
  const v = node[key];
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

/** The first child named `key`. */
export function child(node: XmlObject, key: string): XmlValue | undefined {
  const v = node[key];
  return Array.isArray(v) ? v[0] : v;
}

/** The text of a value: a text-only element, or the `#text` of one with attributes; blank -> undefined. */
export function textOf(v: XmlValue | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v === '' ? undefined : v;
  const t = v['#text'];
  return typeof t === 'string' && t !== '' ? t : undefined;
}

/** The text of the first child named `key`, or undefined when absent or blank. */
export function str(node: XmlObject, key: string): string | undefined {
  return textOf(child(node, key));
}

/** The texts of every child named `key` (blank ones dropped). */
export function strs(node: XmlObject, key: string): string[] {
  const out: string[] = [];
  for (const v of kids(node, key)) {
    const t = textOf(v);
    if (t !== undefined) out.push(t);
  }
  return out;
}

/** The first child named `key` as an object (an empty `<X/>` is not one). */
export function obj(node: XmlObject, key: string): XmlObject | undefined {
  const v = child(node, key);
  return isObject(v) ? v : undefined;
}

export function objs(node: XmlObject, key: string): XmlObject[] {
  const out: XmlObject[] = [];
  for (const v of kids(node, key)) if (isObject(v)) out.push(v);
  return out;
}

/** A required text: missing or blank -> Fault record_invalid at `at/key`. */
export function need(node: XmlObject, key: string, at: string): string {
  const v = str(node, key);
  if (v === undefined) throw new Fault(`${at}/${key}`, `required ${key} is missing or empty`);
  return v;
}

// ---------------------------------------------------------------------------------------------------------------
// Typed values

const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function digits(v: string, at: number, n: number): number {
  let x = 0;
  for (let i = at; i < at + n; i++) {
    const c = v.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    x = x * 10 + c;
  }
  return x;
}

/** `YYYY-MM-DD` at the start of `v` is a real calendar day. */
export function isDatePrefix(v: string): boolean {
  if (v.length < 10 || v.charCodeAt(4) !== 45 || v.charCodeAt(7) !== 45) return false;
  const y = digits(v, 0, 4);
  const mo = digits(v, 5, 2);
  const d = digits(v, 8, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1) return false;
  if (mo === 2 && d === 29) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  return d <= DAYS_IN_MONTH[mo];
}

// xs:date may carry a zone (2021-05-01Z, 2021-05-01-05:00); the calendar day is what the unified schemas hold.
const DATE_TAIL = /^(Z|[+-]\d\d:\d\d)?$/;
// xs:dateTime: the date, `T`, a time, optional fraction and zone.
const DATETIME_TAIL = /^T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)?$/;
const TIME = /^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?(\.\d+)?(Z|[+-]\d\d:\d\d)?$/;

/** An xs:date as YYYY-MM-DD, or undefined when absent; a malformed one throws (row_malformed). */
export function date(node: XmlObject, key: string, at: string): string | undefined {
  const v = str(node, key);
  if (v === undefined) return undefined;
  if (!isDatePrefix(v) || !DATE_TAIL.test(v.slice(10))) {
    throw new Fault(`${at}/${key}`, `${key} must be a date YYYY-MM-DD, found "${v}"`, 'row_malformed');
  }
  return v.slice(0, 10);
}

export function needDate(node: XmlObject, key: string, at: string): string {
  const d = date(node, key, at);
  if (d === undefined) throw new Fault(`${at}/${key}`, `required ${key} is missing or empty`);
  return d;
}

/** The calendar day of an xs:dateTime (a plain xs:date is accepted too). */
export function dayOfDateTime(node: XmlObject, key: string, at: string): string | undefined {
  const v = str(node, key);
  if (v === undefined) return undefined;
  const tail = v.slice(10);
  if (!isDatePrefix(v) || !(DATETIME_TAIL.test(tail) || DATE_TAIL.test(tail))) {
    throw new Fault(`${at}/${key}`, `${key} must be a date-time YYYY-MM-DDThh:mm:ss, found "${v}"`, 'row_malformed');
  }
  return v.slice(0, 10);
}

/** An xs:time as hh:mm:ss (fraction and zone dropped). */
export function time(node: XmlObject, key: string, at: string): string | undefined {
  const v = str(node, key);
  if (v === undefined) return undefined;
  if (!TIME.test(v)) throw new Fault(`${at}/${key}`, `${key} must be a time hh:mm:ss, found "${v}"`, 'row_malformed');
  return v.length >= 8 && v.charCodeAt(5) === 58 ? v.slice(0, 8) : `${v.slice(0, 5)}:00`;
}

/**
 * Ed-Fi dates and times carry no zone; the unified date-time fields require one, so a day is written as midnight
 * UTC and a day + time as that time in UTC.
 */
export function dateTimeOf(day: string, t?: string): string {
  return `${day}T${t ?? '00:00:00'}Z`;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A decimal number, or undefined when absent; a non-number throws (row_malformed). */
export function num(node: XmlObject, key: string, at: string): number | undefined {
  const v = str(node, key);
  if (v === undefined) return undefined;
  if (!NUMBER.test(v)) throw new Fault(`${at}/${key}`, `${key} must be a number, found "${v}"`, 'row_malformed');
  return Number(v);
}

/** A number when the text is one (scores are strings in Ed-Fi: a level or a number); otherwise undefined. */
export function numberOrUndefined(v: string | undefined): number | undefined {
  return v !== undefined && NUMBER.test(v) ? Number(v) : undefined;
}

export function bool(node: XmlObject, key: string, at: string): boolean | undefined {
  const v = str(node, key);
  if (v === undefined) return undefined;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new Fault(`${at}/${key}`, `${key} must be true or false, found "${v}"`, 'row_malformed');
}

/**
 * An Ed-Fi SchoolYear as the unified `schoolYear` (the year the school year ends): `2021-2022` -> `2022`; a bare
 * year (`2022`, as the Ed-Fi API writes it) is already that.
 */
export function endYear(v: string, field: string): string {
  const m = /^(\d{4})(?:-(\d{4}))?$/.exec(v);
  if (!m) throw new Fault(field, `SchoolYear must be YYYY or YYYY-YYYY, found "${v}"`, 'row_malformed');
  return m[2] ?? m[1];
}

// ---------------------------------------------------------------------------------------------------------------
// Descriptors

/** A descriptor as the unified `{code, label, namespace}` objects carry it. */
export interface Descriptor {
  code: string;
  label?: string;
  namespace?: string;
}

const DESCRIPTOR_CACHE_MAX = 10_000;

/**
 * Ed-Fi descriptors are URIs `<namespace>#<codeValue>`, e.g. `uri://ed-fi.org/AcademicSubjectDescriptor#Reading`.
 * `code` keeps the URI — or the operator's code for it from the `descriptorMap` setting —, `namespace` is the part
 * before `#` and `label` the part after. A value without `#` (a bare code from a non-conforming producer) is kept as
 * code and label; it is never a reject by itself. Lookups in `descriptorMap` are exact first, then ignoring case
 * (Ed-Fi compares descriptors case-insensitively).
 */
export class Descriptors {
  private readonly exact: Map<string, string>;
  private readonly folded: Map<string, string>;
  private readonly cache = new Map<string, Descriptor>();

  constructor(map: Record<string, string> = {}) {
    this.exact = new Map(Object.entries(map));
    this.folded = new Map(Object.entries(map).map(([k, v]) => [k.toLowerCase(), v]));
  }

  /** The operator's code for this URI, when `descriptorMap` has one. */
  mapped(raw: string): string | undefined {
    if (this.exact.size === 0) return undefined;
    return this.exact.get(raw) ?? this.folded.get(raw.toLowerCase());
  }

  parse(raw: string): Descriptor {
    const hit = this.cache.get(raw);
    if (hit) return hit;
    const d = splitDescriptor(raw);
    const mapped = this.mapped(raw);
    const out: Descriptor = mapped !== undefined ? { ...d, code: mapped } : d;
    if (this.cache.size >= DESCRIPTOR_CACHE_MAX) this.cache.clear();
    this.cache.set(raw, out);
    return out;
  }

  /** For plain string fields (a role, a category, a reporting method): the mapped code, else the label. */
  text(raw: string): string {
    const d = this.parse(raw);
    return d.code !== raw ? d.code : (d.label ?? raw);
  }

  /** The label (part after `#`), ignoring descriptorMap: for the built-in translations of enumerated fields. */
  label(raw: string): string {
    return this.parse(raw).label ?? raw;
  }
}

export function splitDescriptor(raw: string): Descriptor {
  const i = raw.indexOf('#');
  if (i > 0 && i < raw.length - 1) {
    const label = raw.slice(i + 1).trim();
    const namespace = raw.slice(0, i).trim();
    if (label !== '' && namespace !== '') return { code: raw, label, namespace };
  }
  return { code: raw, label: raw };
}

// ---------------------------------------------------------------------------------------------------------------
// Source ids: Ed-Fi natural keys joined with '|'

const MAX_SOURCE_ID = 255;

/**
 * A source id from the parts of an Ed-Fi natural key, e.g. `uri://ed-fi.org/Assessment/Assessment.xml|SAT Mathematics`.
 * `%` and `|` inside a part are escaped (`%25`, `%7C`) so distinct keys never collide. Keys longer than 255
 * characters (the store's limit) keep a readable head and end in `~` + a SHA-256 prefix of the whole key.
 */
export function key(...parts: string[]): string {
  let s = '';
  for (let i = 0; i < parts.length; i++) {
    let p = parts[i];
    if (p.includes('%') || p.includes('|')) p = p.replace(/%/g, '%25').replace(/\|/g, '%7C');
    s = i === 0 ? p : `${s}|${p}`;
  }
  if (s.length <= MAX_SOURCE_ID) return s;
  return `${s.slice(0, 200)}~${createHash('sha256').update(s).digest('hex').slice(0, 40)}`;
}

// ---------------------------------------------------------------------------------------------------------------
// References

/**
 * Where the current element is, for reference resolution: the `id` index of the file (elements that may be the
 * target of `ref="…"`, kept as their identity fields).
 */
export interface RefScope {
  ids: Map<string, XmlObject>;
}

/**
 * The identity behind a reference element: its `<…Identity>` child, its `<…Lookup>` child, or — for `ref="X"` — the
 * element of this file whose `id` is X. Undefined when the reference is absent; a Fault when it has another shape or
 * its `ref` names no earlier element.
 */
export function identity(
  node: XmlObject,
  refName: string,
  identityName: string,
  at: string,
  scope: RefScope,
): XmlObject | undefined {
  const v = child(node, refName);
  if (v === undefined) return undefined;
  const path = `${at}/${refName}`;
  if (!isObject(v)) throw new Fault(path, `${refName} is empty: expected <${identityName}> or a ref="…" attribute`);
  const ident = v[identityName];
  if (isObject(ident)) return ident;
  const r = v['@ref'];
  if (typeof r === 'string' && r !== '') {
    const target = scope.ids.get(r);
    if (!target) {
      throw new Fault(path, `${refName} ref="${r}" names no element with that id earlier in this file`, 'reference_unresolved');
    }
    return target;
  }
  const lookupName = identityName.replace(/Identity$/, 'Lookup');
  const lookup = v[lookupName];
  if (isObject(lookup)) return lookup;
  throw new Fault(path, `${refName} has an unknown shape: expected <${identityName}>, <${lookupName}> or a ref="…" attribute`);
}

/** The education organization id of an identity, whatever kind of org it names. */
const ED_ORG_ID_FIELDS = [
  'EducationOrganizationId',
  'SchoolId',
  'LocalEducationAgencyId',
  'StateEducationAgencyId',
  'EducationServiceCenterId',
  'OrganizationDepartmentId',
  'CommunityOrganizationId',
  'CommunityProviderId',
  'PostSecondaryInstitutionId',
];

export function edOrgIdOf(ident: XmlObject): string | undefined {
  for (const f of ED_ORG_ID_FIELDS) {
    const v = str(ident, f);
    if (v !== undefined) return v;
  }
  return undefined;
}

/** An org id from a reference (`SchoolReference`, `EducationOrganizationReference`, …); required -> Fault if absent. */
export function orgRef(node: XmlObject, refName: string, identityName: string, at: string, scope: RefScope, required: true): string;
export function orgRef(node: XmlObject, refName: string, identityName: string, at: string, scope: RefScope, required?: boolean): string | undefined;
export function orgRef(node: XmlObject, refName: string, identityName: string, at: string, scope: RefScope, required = false): string | undefined {
  const ident = identity(node, refName, identityName, at, scope);
  if (!ident) {
    if (required) throw new Fault(`${at}/${refName}`, `required ${refName} is missing`);
    return undefined;
  }
  const id = edOrgIdOf(ident);
  if (id === undefined) throw new Fault(`${at}/${refName}`, `${refName} does not give the organization's id`);
  return id;
}

export function schoolRef(node: XmlObject, refName: string, at: string, scope: RefScope, required: true): string;
export function schoolRef(node: XmlObject, refName: string, at: string, scope: RefScope, required?: boolean): string | undefined;
export function schoolRef(node: XmlObject, refName: string, at: string, scope: RefScope, required = false): string | undefined {
  return orgRef(node, refName, 'SchoolIdentity', at, scope, required);
}

/** A StudentUniqueId from a `StudentReference`. */
export function studentRef(node: XmlObject, at: string, scope: RefScope, refName = 'StudentReference'): string {
  const ident = identity(node, refName, 'StudentIdentity', at, scope);
  if (!ident) throw new Fault(`${at}/${refName}`, `required ${refName} is missing`);
  const id = str(ident, 'StudentUniqueId');
  if (id === undefined) throw new Fault(`${at}/${refName}`, `${refName} does not give the StudentUniqueId`);
  return id;
}

/** `{AssessmentIdentifier, Namespace}` of an `AssessmentReference` (or of an identity holding one). */
export function assessmentRef(node: XmlObject, at: string, scope: RefScope): { identifier: string; namespace: string } {
  const ident = identity(node, 'AssessmentReference', 'AssessmentIdentity', at, scope);
  if (!ident) throw new Fault(`${at}/AssessmentReference`, 'required AssessmentReference is missing');
  const p = `${at}/AssessmentReference`;
  return { identifier: need(ident, 'AssessmentIdentifier', p), namespace: need(ident, 'Namespace', p) };
}

/** Session identity -> the session's source id and parts. */
export function sessionOf(ident: XmlObject, at: string, scope: RefScope): { schoolId: string; schoolYear: string; sessionName: string } {
  return {
    schoolId: schoolRef(ident, 'SchoolReference', at, scope, true),
    schoolYear: need(ident, 'SchoolYear', at),
    sessionName: need(ident, 'SessionName', at),
  };
}

export function sessionKey(s: { schoolId: string; schoolYear: string; sessionName: string }): string {
  return key('session', s.schoolId, s.schoolYear, s.sessionName);
}

export interface SectionParts {
  schoolId: string;
  schoolYear: string;
  sessionName: string;
  localCourseCode: string;
  sectionIdentifier: string;
}

export function sectionKey(s: SectionParts): string {
  return key(s.schoolId, s.schoolYear, s.sessionName, s.localCourseCode, s.sectionIdentifier);
}

/** The parts of a course offering identity (LocalCourseCode, school, session). */
export function offeringOf(ident: XmlObject, at: string, scope: RefScope): Omit<SectionParts, 'sectionIdentifier'> {
  const sessionIdent = identity(ident, 'SessionReference', 'SessionIdentity', at, scope);
  if (!sessionIdent) throw new Fault(`${at}/SessionReference`, 'required SessionReference is missing');
  const session = sessionOf(sessionIdent, `${at}/SessionReference`, scope);
  return {
    schoolId: schoolRef(ident, 'SchoolReference', at, scope, true),
    schoolYear: session.schoolYear,
    sessionName: session.sessionName,
    localCourseCode: need(ident, 'LocalCourseCode', at),
  };
}

export function offeringKey(o: Omit<SectionParts, 'sectionIdentifier'>): string {
  return key(o.schoolId, o.schoolYear, o.sessionName, o.localCourseCode);
}

/** A section identity (SectionIdentifier + CourseOfferingReference) -> its parts. */
export function sectionOf(ident: XmlObject, at: string, scope: RefScope): SectionParts {
  const offering = identity(ident, 'CourseOfferingReference', 'CourseOfferingIdentity', at, scope);
  if (!offering) throw new Fault(`${at}/CourseOfferingReference`, 'required CourseOfferingReference is missing');
  return { ...offeringOf(offering, `${at}/CourseOfferingReference`, scope), sectionIdentifier: need(ident, 'SectionIdentifier', at) };
}

/**
 * Fields kept in the id index for elements that can be the target of `ref="…"`: their identity fields (a few dozen
 * bytes each, so a file with many ids stays small in memory). Top-level `…Reference` elements (an interchange may
 * declare them to be referred to by id) are kept whole.
 */
export const IDENTITY_FIELDS: Record<string, readonly string[]> = {
  StateEducationAgency: ['StateEducationAgencyId'],
  EducationServiceCenter: ['EducationServiceCenterId'],
  LocalEducationAgency: ['LocalEducationAgencyId'],
  School: ['SchoolId'],
  OrganizationDepartment: ['OrganizationDepartmentId'],
  CommunityOrganization: ['CommunityOrganizationId'],
  CommunityProvider: ['CommunityProviderId'],
  PostSecondaryInstitution: ['PostSecondaryInstitutionId'],
  Course: ['CourseCode', 'EducationOrganizationReference'],
  Session: ['SessionName', 'SchoolYear', 'SchoolReference'],
  GradingPeriod: ['SchoolReference', 'GradingPeriod', 'GradingPeriodName', 'SchoolYear'],
  CourseOffering: ['LocalCourseCode', 'SchoolReference', 'SessionReference'],
  Section: ['SectionIdentifier', 'CourseOfferingReference'],
  Student: ['StudentUniqueId'],
  Assessment: ['AssessmentIdentifier', 'Namespace'],
  ObjectiveAssessment: ['IdentificationCode', 'AssessmentReference'],
  AssessmentItem: ['IdentificationCode', 'AssessmentReference'],
  DisciplineIncident: ['IncidentIdentifier', 'SchoolReference'],
  StudentDisciplineIncidentBehaviorAssociation: ['StudentReference', 'DisciplineIncidentReference', 'Behavior'],
  GradebookEntry: ['GradebookEntryIdentifier', 'Namespace'],
  Intervention: ['EducationOrganizationReference', 'InterventionIdentificationCode'],
};

/** Whether an element with an `id` should be kept in the id index. */
export function isRefTarget(name: string): boolean {
  return name in IDENTITY_FIELDS || name.endsWith('Reference');
}

/** What the id index keeps for an element (see IDENTITY_FIELDS). */
export function identityProjection(name: string, value: XmlValue): XmlObject | undefined {
  if (!isObject(value)) return undefined;
  const fields = IDENTITY_FIELDS[name];
  if (!fields) {
    // A top-level reference declaration: `<AssessmentReference id="A1"><AssessmentIdentity>…` -> the identity.
    const identityName = name.replace(/Reference$/, 'Identity');
    const ident = value[identityName];
    return isObject(ident) ? ident : value;
  }
  const out: XmlObject = {};
  for (const f of fields) {
    const v = value[f];
    if (v !== undefined) out[f] = v;
  }
  return out;
}
