/**
 * Pure mappers: one Ed-Fi interchange element (an object built by xml.ts) -> unified records, or a reject.
 *
 * Reference fields (`x-ref` in schemas/unified) carry the *source id* of the referenced record: the Ed-Fi natural
 * key joined with `|` (values.ts `key`). Enumerations and formats are checked again by the runtime against the
 * unified schemas; the mappers check what the schemas cannot see: required Ed-Fi values, reference shapes, dates.
 * A bad value throws a `Fault` (values.ts) that `mapElement` turns into a reject with the XML path.
 */
import type { EntityType, Reject, SourceRecord } from '../../src/ingest/contract';
import {
  Fault,
  assessmentRef,
  bool,
  date,
  dateTimeOf,
  dayOfDateTime,
  endYear,
  identity,
  isObject,
  key,
  need,
  needDate,
  num,
  numberOrUndefined,
  obj,
  objs,
  offeringKey,
  offeringOf,
  orgRef,
  schoolRef,
  sectionKey,
  sectionOf,
  sessionKey,
  sessionOf,
  str,
  strs,
  studentRef,
  time,
  type Descriptor,
  type Descriptors,
  type RefScope,
  type SectionParts,
} from './values';
import type { XmlObject, XmlValue } from './xml';

export interface MapContext extends RefScope {
  /** File name, for locations. */
  file: string;
  /** Line of the element's start tag. */
  line: number;
  descriptors: Descriptors;
  /** Joins prepared by the stream (see index.ts): only the ones the element type needs are set. */
  joins: Joins;
}

export interface Joins {
  /** students: StudentEducationOrganizationAssociation data per StudentUniqueId. */
  studentEdOrg?: Map<string, StudentEdOrgInfo>;
  /** sections: CourseOffering per offering key. */
  offerings?: Map<string, OfferingInfo>;
  /** gradebookEntries: sections per SectionIdentifier (for entries without a SectionReference). */
  sectionsByIdentifier?: Map<string, SectionParts[]>;
  /** interventions: Intervention per key (EducationOrganizationId|InterventionIdentificationCode). */
  interventions?: Map<string, InterventionInfo>;
  /** assessments: learning standards of each assessment item (key: assessment key|item code). */
  itemStandards?: Map<string, string[]>;
}

export type MapResult = { records: SourceRecord[]; reject?: undefined } | { reject: Reject; records?: undefined };

type Data = Record<string, unknown>;

function put(data: Data, k: string, v: unknown): void {
  if (v === undefined) return;
  if (Array.isArray(v) && v.length === 0) return;
  data[k] = v;
}

function location(ctx: MapContext): string {
  return `${ctx.file}:${ctx.line}`;
}

/** Records built for one element; `sourceId` is set as soon as it is known, so a later fault can name it. */
interface Build {
  sourceId?: string;
  records: SourceRecord[];
}

/**
 * The frame every mapper shares: runs `build`, turns a Fault into a reject (location, XML path, reason, the raw
 * element and the source id when it could be read: a full refresh then keeps the stored record).
 */
export function mapElement(name: string, el: XmlValue, ctx: MapContext, build: (el: XmlObject, ctx: MapContext, b: Build) => void): MapResult {
  const b: Build = { records: [] };
  try {
    if (!isObject(el)) throw new Fault(name, `<${name}> is empty`);
    build(el, ctx, b);
    // The raw payload goes as JSON text, once per element (a Student gives a person and its demographics): a page
    // holds up to pageSize elements until it is written, and as object trees they survived the young generation and
    // were copied into the old one (measured: the 50k-student district's read worker grew to ~190 MB between
    // collections).
    const rawJson = JSON.stringify(el);
    for (const r of b.records) r.rawJson = rawJson;
    return { records: b.records };
  } catch (e) {
    if (!(e instanceof Fault)) throw e;
    return {
      reject: {
        location: location(ctx),
        field: e.field,
        reason: e.reason,
        code: e.code,
        raw: el,
        ...(b.sourceId !== undefined ? { sourceId: b.sourceId } : {}),
      },
    };
  }
}

/** A record of the element being mapped; mapElement adds its raw payload. */
function rec(type: EntityType, sourceId: string, data: Data, ctx: MapContext): SourceRecord {
  return { type, sourceId, data, location: location(ctx) };
}

// ---------------------------------------------------------------------------------------------------------------
// Descriptor helpers

function descriptors(node: XmlObject, k: string, ctx: MapContext): Descriptor[] {
  return strs(node, k).map((v) => ctx.descriptors.parse(v));
}

/** A plain string field from a descriptor: descriptorMap's code, else the label. */
function dtext(node: XmlObject, k: string, ctx: MapContext): string | undefined {
  const v = str(node, k);
  return v === undefined ? undefined : ctx.descriptors.text(v);
}

function dtexts(node: XmlObject, k: string, ctx: MapContext): string[] {
  return strs(node, k).map((v) => ctx.descriptors.text(v));
}

const norm = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, ' ').trim();

/**
 * Ed-Fi GradeLevelDescriptor labels -> the CEDS grade codes OneRoster uses (`Ninth grade` -> `09`), so grades read
 * the same whatever connector brought them. descriptorMap wins; an unknown label is kept as it is.
 */
const GRADES: Record<string, string> = {
  'infant toddler': 'IT',
  'preschool prekindergarten': 'PK',
  preschool: 'PR',
  prekindergarten: 'PK',
  'early education': 'PR',
  'transitional kindergarten': 'TK',
  kindergarten: 'KG',
  'first grade': '01',
  'second grade': '02',
  'third grade': '03',
  'fourth grade': '04',
  'fifth grade': '05',
  'sixth grade': '06',
  'seventh grade': '07',
  'eighth grade': '08',
  'ninth grade': '09',
  'tenth grade': '10',
  'eleventh grade': '11',
  'twelfth grade': '12',
  'grade 13': '13',
  postsecondary: 'PS',
  ungraded: 'UG',
  other: 'Other',
};

export function gradeCode(raw: string, ds: Descriptors): string {
  const mapped = ds.mapped(raw);
  if (mapped !== undefined) return mapped;
  const label = ds.label(raw);
  return GRADES[norm(label)] ?? label;
}

function grades(node: XmlObject, k: string, ctx: MapContext): string[] {
  return strs(node, k).map((v) => gradeCode(v, ctx.descriptors));
}

/** An `ext:` token (unified extensible enumerations) from a free label. */
function ext(label: string): string {
  return `ext:${label.trim().replace(/[^a-zA-Z0-9.\-_]+/g, '_') || 'unknown'}`;
}

/** A descriptor for an enumerated unified field: descriptorMap, then the built-in translation of its label. */
function enumerated(raw: string, ds: Descriptors, translate: (label: string) => string | undefined, fallback: (label: string) => string): string {
  const mapped = ds.mapped(raw);
  if (mapped !== undefined) return mapped;
  const label = ds.label(raw);
  return translate(norm(label)) ?? fallback(label);
}

export function sexCode(raw: string, ds: Descriptors): string {
  return enumerated(
    raw,
    ds,
    (l) => (l === 'male' || l === 'm' ? 'male' : l === 'female' || l === 'f' ? 'female' : l === 'not selected' || l === 'unknown' || l === 'not reported' ? 'unspecified' : l === 'other' || l === 'non binary' ? 'other' : undefined),
    ext,
  );
}

export function programTypeOf(raw: string, ds: Descriptors): string {
  const mapped = ds.mapped(raw);
  if (mapped !== undefined) return mapped;
  const l = norm(ds.label(raw));
  if (l.includes('special education') || /\bidea\b/.test(l)) return 'specialEducation';
  if (l.includes('504')) return 'section504';
  if (/\btitle iii\b/.test(l) || l.includes('english') || l.includes('bilingual') || l.includes('language instruction')) return 'englishLearner';
  if (l.includes('gifted')) return 'giftedTalented';
  if (/\btitle i\b/.test(l)) return 'title1';
  if (l.includes('migrant')) return 'migrant';
  if (l.includes('homeless')) return 'homeless';
  if (l.includes('foster')) return 'fosterCare';
  if (l.includes('food service') || l.includes('lunch') || l.includes('free and reduced')) return 'freeReducedLunch';
  return 'other';
}

/** Specialized program associations say what kind of program they are. */
const PROGRAM_ASSOCIATION_TYPES: Record<string, string | undefined> = {
  StudentSpecialEducationProgramAssociation: 'specialEducation',
  StudentTitleIPartAProgramAssociation: 'title1',
  StudentMigrantEducationProgramAssociation: 'migrant',
  StudentLanguageInstructionProgramAssociation: 'englishLearner',
  StudentHomelessProgramAssociation: 'homeless',
  StudentSchoolFoodServiceProgramAssociation: 'freeReducedLunch',
};
export const PROGRAM_ASSOCIATIONS = [
  'StudentProgramAssociation',
  'StudentSpecialEducationProgramAssociation',
  'StudentCTEProgramAssociation',
  'StudentTitleIPartAProgramAssociation',
  'StudentMigrantEducationProgramAssociation',
  'StudentLanguageInstructionProgramAssociation',
  'StudentHomelessProgramAssociation',
  'StudentNeglectedOrDelinquentProgramAssociation',
  'StudentSchoolFoodServiceProgramAssociation',
];

export function sessionTypeOf(raw: string, ds: Descriptors): string {
  return enumerated(
    raw,
    ds,
    (l) => (l.includes('semester') ? 'semester' : l.includes('year') ? 'schoolYear' : undefined),
    () => 'term',
  );
}

const SCORE_STATUSES = ['exempt', 'fully graded', 'not submitted', 'partially graded', 'submitted'];

/**
 * SubmissionStatus -> OneRoster scoreStatus. Without a status (or with one not known here) a grade earned means
 * `fully graded`, none means `not submitted`.
 */
export function scoreStatusOf(raw: string | undefined, graded: boolean, ds: Descriptors): string {
  if (raw !== undefined) {
    const mapped = ds.mapped(raw);
    if (mapped !== undefined) return mapped;
    const l = norm(ds.label(raw));
    if (SCORE_STATUSES.includes(l)) return l;
    if (l === 'graded' || l === 'scored' || l === 'complete' || l === 'completed') return 'fully graded';
    if (l.includes('partial') || l === 'in progress') return 'partially graded';
    if (l === 'turned in' || l === 'submitted late' || l === 'handed in') return 'submitted';
    if (l === 'missing' || l === 'not turned in' || l === 'not submitted') return 'not submitted';
    if (l === 'exempt' || l === 'excused') return 'exempt';
  }
  return graded ? 'fully graded' : 'not submitted';
}

// ---------------------------------------------------------------------------------------------------------------
// Education organizations

export const ORG_ELEMENTS: Record<string, { idField: string; type: string }> = {
  StateEducationAgency: { idField: 'StateEducationAgencyId', type: 'state' },
  EducationServiceCenter: { idField: 'EducationServiceCenterId', type: 'ext:educationServiceCenter' },
  LocalEducationAgency: { idField: 'LocalEducationAgencyId', type: 'district' },
  School: { idField: 'SchoolId', type: 'school' },
  OrganizationDepartment: { idField: 'OrganizationDepartmentId', type: 'department' },
  CommunityOrganization: { idField: 'CommunityOrganizationId', type: 'ext:communityOrganization' },
  CommunityProvider: { idField: 'CommunityProviderId', type: 'ext:communityProvider' },
  PostSecondaryInstitution: { idField: 'PostSecondaryInstitutionId', type: 'ext:postSecondaryInstitution' },
};

/** The parent reference per org kind, most specific first: the first one present is the parent. */
const ORG_PARENTS: Record<string, Array<[string, string]>> = {
  School: [['LocalEducationAgencyReference', 'LocalEducationAgencyIdentity']],
  LocalEducationAgency: [
    ['ParentLocalEducationAgencyReference', 'LocalEducationAgencyIdentity'],
    ['StateEducationAgencyReference', 'StateEducationAgencyIdentity'],
    ['EducationServiceCenterReference', 'EducationServiceCenterIdentity'],
  ],
  EducationServiceCenter: [['StateEducationAgencyReference', 'StateEducationAgencyIdentity']],
  OrganizationDepartment: [['ParentEducationOrganizationReference', 'EducationOrganizationIdentity']],
  CommunityProvider: [['CommunityOrganizationReference', 'CommunityOrganizationIdentity']],
};

/** The identification code to show as `identifier`: NCES first, then the state's (SEA), then the first listed. */
function orgIdentifier(el: XmlObject, ctx: MapContext): string | undefined {
  const codes = objs(el, 'EducationOrganizationIdentificationCode')
    .map((c) => ({ code: str(c, 'IdentificationCode'), system: str(c, 'EducationOrganizationIdentificationSystem') }))
    .filter((c): c is { code: string; system: string | undefined } => c.code !== undefined);
  const bySystem = (s: string) => codes.find((c) => c.system !== undefined && ctx.descriptors.label(c.system).toUpperCase() === s);
  return (bySystem('NCES') ?? bySystem('SEA') ?? codes[0])?.code;
}

export function mapOrg(name: string, el: XmlValue, ctx: MapContext): MapResult {
  return mapElement(name, el, ctx, (e, c, b) => {
    const spec = ORG_ELEMENTS[name];
    const id = need(e, spec.idField, name);
    b.sourceId = id;
    const data: Data = { name: need(e, 'NameOfInstitution', name), type: spec.type };
    put(data, 'identifier', orgIdentifier(e, c));
    for (const [refName, identName] of ORG_PARENTS[name] ?? []) {
      const parent = orgRef(e, refName, identName, name, c);
      if (parent !== undefined) {
        if (parent !== id) data.parentId = parent;
        break;
      }
    }
    b.records.push(rec('org', id, data, c));
  });
}

/** Course (EducationOrganization interchange) -> course. */
export function mapCourse(el: XmlValue, ctx: MapContext): MapResult {
  return mapElement('Course', el, ctx, (e, c, b) => {
    const at = 'Course';
    const code = need(e, 'CourseCode', at);
    const orgId = orgRef(e, 'EducationOrganizationReference', 'EducationOrganizationIdentity', at, c, true);
    b.sourceId = key(orgId, code);
    const data: Data = { title: need(e, 'CourseTitle', at), courseCode: code };
    put(data, 'grades', grades(e, 'OfferedGradeLevel', c));
    put(data, 'subjects', dtexts(e, 'AcademicSubject', c));
    data.orgId = orgId;
    b.records.push(rec('course', b.sourceId, data, c));
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Calendar and master schedule

/** Session (EducationOrgCalendar) -> academicSession. */
export function mapSession(el: XmlValue, ctx: MapContext): MapResult {
  return mapElement('Session', el, ctx, (e, c, b) => {
    const at = 'Session';
    const s = sessionOf(e, at, c);
    b.sourceId = sessionKey(s);
    const term = need(e, 'Term', at);
    b.records.push(
      rec('academicSession', b.sourceId, {
        title: s.sessionName,
        type: sessionTypeOf(term, c.descriptors),
        startDate: needDate(e, 'BeginDate', at),
        endDate: needDate(e, 'EndDate', at),
        schoolYear: endYear(s.schoolYear, `${at}/SchoolYear`),
      }, c),
    );
  });
}

export function gradingPeriodKey(schoolId: string, schoolYear: string, period: string, name: string): string {
  return key('gradingPeriod', schoolId, schoolYear, period, name);
}

function gradingPeriodOf(ident: XmlObject, at: string, scope: RefScope): string {
  return gradingPeriodKey(
    schoolRef(ident, 'SchoolReference', at, scope, true),
    need(ident, 'SchoolYear', at),
    need(ident, 'GradingPeriod', at),
    need(ident, 'GradingPeriodName', at),
  );
}

/** GradingPeriod (EducationOrgCalendar) -> academicSession of type gradingPeriod. */
export function mapGradingPeriod(el: XmlValue, ctx: MapContext): MapResult {
  return mapElement('GradingPeriod', el, ctx, (e, c, b) => {
    const at = 'GradingPeriod';
    b.sourceId = gradingPeriodOf(e, at, c);
    b.records.push(
      rec('academicSession', b.sourceId, {
        title: need(e, 'GradingPeriodName', at),
        type: 'gradingPeriod',
        startDate: needDate(e, 'BeginDate', at),
        endDate: needDate(e, 'EndDate', at),
        schoolYear: endYear(need(e, 'SchoolYear', at), `${at}/SchoolYear`),
      }, c),
    );
  });
}

export interface OfferingInfo {
  courseId: string;
  title?: string;
  grades: string[];
}

/** CourseOffering -> what a section needs of it (course, title, grades). Faults when its course is not identified. */
export function offeringInfo(el: XmlObject, ctx: MapContext): { key: string; info: OfferingInfo } {
  const at = 'CourseOffering';
  const parts = offeringOf(el, at, ctx);
  const course = identity(el, 'CourseReference', 'CourseIdentity', at, ctx);
  if (!course) throw new Fault(`${at}/CourseReference`, 'required CourseReference is missing');
  const p = `${at}/CourseReference`;
  const courseId = key(orgRef(course, 'EducationOrganizationReference', 'EducationOrganizationIdentity', p, ctx, true), need(course, 'CourseCode', p));
  const info: OfferingInfo = { courseId, grades: grades(el, 'OfferedGradeLevel', ctx) };
  const title = str(el, 'LocalCourseTitle');
  if (title !== undefined) info.title = title;
  return { key: offeringKey(parts), info };
}

/** Section (MasterSchedule) -> class; its CourseOffering must be in the MasterSchedule files (joins.offerings). */
export function mapSection(el: XmlValue, ctx: MapContext): MapResult {
  return mapElement('Section', el, ctx, (e, c, b) => {
    const at = 'Section';
    const parts = sectionOf(e, at, c);
    b.sourceId = sectionKey(parts);
    const offering = c.joins.offerings?.get(offeringKey(parts));
    if (!offering) {
      throw new Fault(
        `${at}/CourseOfferingReference`,
        `course offering ${parts.localCourseCode} (school ${parts.schoolId}, session "${parts.sessionName}" ${parts.schoolYear}) is not in the MasterSchedule files: the class's course cannot be determined`,
        'reference_unresolved',
      );
    }
    const data: Data = {
      title: str(e, 'SectionName') ?? `${offering.title ?? parts.localCourseCode} - ${parts.sectionIdentifier}`,
      classCode: parts.sectionIdentifier,
      classType: 'scheduled',
    };
    const location = identity(e, 'LocationReference', 'LocationIdentity', at, c);
    put(data, 'location', location ? str(location, 'ClassroomIdentificationCode') : undefined);
    data.courseId = offering.courseId;
    data.schoolId = parts.schoolId;
    data.termIds = [sessionKey(parts)];
    const own = grades(e, 'OfferedGradeLevel', c);
    put(data, 'grades', own.length ? own : offering.grades);
    const periods: string[] = [];
    for (const p of objs(e, 'ClassPeriodReference')) {
      const ident = identity({ ClassPeriodReference: p }, 'ClassPeriodReference', 'ClassPeriodIdentity', at, c);
      const n = ident ? str(ident, 'ClassPeriodName') : undefined;
      if (n !== undefined) periods.push(n);
    }
    put(data, 'periods', periods);
    b.records.push(rec('class', b.sourceId, data, c));
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Students

export interface StudentEdOrgInfo {
  identifiers: Array<{ system: string; value: string }>;
  sex?: string;
  races: Set<string>;
  hispanic?: boolean;
}

const RACE_FLAGS = ['americanIndianOrAlaskaNative', 'asian', 'blackOrAfricanAmerican', 'nativeHawaiianOrOtherPacificIslander', 'white'] as const;

/** RaceDescriptor -> a unified race flag name (descriptorMap may map a URI straight to a flag name). */
export function raceFlag(raw: string, ds: Descriptors): string | undefined {
  const mapped = ds.mapped(raw);
  if (mapped !== undefined) return (RACE_FLAGS as readonly string[]).includes(mapped) ? mapped : undefined;
  const l = norm(ds.label(raw));
  if (l.includes('american indian') || l.includes('alaska')) return 'americanIndianOrAlaskaNative';
  if (l.includes('hawaiian') || l.includes('pacific islander')) return 'nativeHawaiianOrOtherPacificIslander';
  if (/\basian\b/.test(l)) return 'asian';
  if (l.includes('black') || l.includes('african american')) return 'blackOrAfricanAmerican';
  if (/\bwhite\b/.test(l)) return 'white';
  return undefined;
}

/**
 * StudentEducationOrganizationAssociation (StudentEnrollment interchange): in Data Standard 5 the student's
 * identification codes, sex, races and ethnicity live here, per education organization. Merged into `into` (a
 * student may have several): codes are unioned, the first sex wins, races are unioned, ethnicity is true if any says so.
 */
export function collectStudentEdOrg(el: XmlObject, ctx: MapContext, into: Map<string, StudentEdOrgInfo>): void {
  const at = 'StudentEducationOrganizationAssociation';
  const student = studentRef(el, at, ctx);
  let info = into.get(student);
  if (!info) into.set(student, (info = { identifiers: [], races: new Set() }));
  for (const code of objs(el, 'StudentIdentificationCode')) {
    const value = str(code, 'IdentificationCode');
    if (value === undefined) continue;
    const assigning = str(code, 'AssigningOrganizationIdentificationCode');
    const sys = str(code, 'StudentIdentificationSystem');
    const system = assigning ?? (sys !== undefined ? ctx.descriptors.text(sys) : undefined);
    if (system === undefined) continue;
    if (!info.identifiers.some((i) => i.system === system && i.value === value)) info.identifiers.push({ system, value });
  }
  const sex = str(el, 'Sex');
  if (sex !== undefined && info.sex === undefined) info.sex = sexCode(sex, ctx.descriptors);
  for (const r of strs(el, 'Race')) {
    const flag = raceFlag(r, ctx.descriptors);
    if (flag) info.races.add(flag);
  }
  const hispanic = bool(el, 'HispanicLatinoEthnicity', at);
  if (hispanic !== undefined) info.hispanic = info.hispanic === true || hispanic;
}

export const STUDENT_ID_SYSTEM = 'edfi:StudentUniqueId';

/** Student -> person, and demographics (birth date, sex, race flags) with personId = sourceId = StudentUniqueId. */
export function mapStudent(el: XmlValue, ctx: MapContext): MapResult {
  return mapElement('Student', el, ctx, (e, c, b) => {
    const at = 'Student';
    const id = need(e, 'StudentUniqueId', at);
    b.sourceId = id;
    const name = obj(e, 'Name');
    if (!name) throw new Fault(`${at}/Name`, 'required Name is missing');
    const person: Data = { givenName: need(name, 'FirstName', `${at}/Name`), familyName: need(name, 'LastSurname', `${at}/Name`) };
    put(person, 'middleName', str(name, 'MiddleName'));
    put(person, 'preferredGivenName', str(name, 'PreferredFirstName'));
    put(person, 'preferredFamilyName', str(name, 'PreferredLastSurname'));
    person.enabledUser = true;
    person.primaryRole = 'student';
    const edOrg = c.joins.studentEdOrg?.get(id);
    person.identifiers = [{ system: STUDENT_ID_SYSTEM, value: id }, ...(edOrg?.identifiers ?? [])];
    b.records.push(rec('person', id, person, c));

    const demo: Data = { personId: id };
    const birth = obj(e, 'BirthData');
    if (birth) put(demo, 'birthDate', date(birth, 'BirthDate', `${at}/BirthData`));
    const birthSex = birth ? str(birth, 'BirthSex') : undefined;
    put(demo, 'sex', edOrg?.sex ?? (birthSex !== undefined ? sexCode(birthSex, c.descriptors) : undefined));
    if (edOrg && edOrg.races.size > 0) {
      for (const flag of RACE_FLAGS) demo[flag] = edOrg.races.has(flag);
      demo.demographicRaceTwoOrMoreRaces = edOrg.races.size > 1;
    }
    put(demo, 'hispanicOrLatinoEthnicity', edOrg?.hispanic);
    if (birth) {
      put(demo, 'countryOfBirthCode', dtext(birth, 'BirthCountry', c));
      put(demo, 'stateOfBirthAbbreviation', dtext(birth, 'BirthStateAbbreviation', c));
      put(demo, 'cityOfBirth', str(birth, 'BirthCity'));
    }
    b.records.push(rec('demographics', id, demo, c));
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Programs

/** StudentProgramAssociation and its specialized kinds -> programParticipation. */
export function mapProgramAssociation(name: string, el: XmlValue, ctx: MapContext): MapResult {
  return mapElement(name, el, ctx, (e, c, b) => {
    const at = name;
    const student = studentRef(e, at, c);
    const program = identity(e, 'ProgramReference', 'ProgramIdentity', at, c);
    if (!program) throw new Fault(`${at}/ProgramReference`, 'required ProgramReference is missing');
    const p = `${at}/ProgramReference`;
    const programName = need(program, 'ProgramName', p);
    const programTypeRaw = need(program, 'ProgramType', p);
    const programOrg = orgRef(program, 'EducationOrganizationReference', 'EducationOrganizationIdentity', p, c, true);
    const orgId = orgRef(e, 'EducationOrganizationReference', 'EducationOrganizationIdentity', at, c, true);
    const beginDate = needDate(e, 'BeginDate', at);
    b.sourceId = key(student, orgId, programOrg, programTypeRaw, programName, beginDate);
    const data: Data = { personId: student, schoolId: orgId, program: programName };
    data.programType = c.descriptors.mapped(programTypeRaw) ?? PROGRAM_ASSOCIATION_TYPES[name] ?? programTypeOf(programTypeRaw, c.descriptors);
    data.beginDate = beginDate;
    put(data, 'endDate', date(e, 'EndDate', at));
    put(data, 'reasonExited', dtext(e, 'ReasonExited', c));
    b.records.push(rec('programParticipation', b.sourceId, data, c));
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Assessments

export function assessmentKey(namespace: string, identifier: string): string {
  return key(namespace, identifier);
}

export function objectiveKey(namespace: string, identifier: string, code: string): string {
  return key(namespace, identifier, code);
}

function reportingMethods(e: XmlObject, at: string, c: MapContext): Data[] {
  return objs(e, 'AssessmentScore').map((s) => {
    const m: Data = { method: c.descriptors.text(need(s, 'AssessmentReportingMethod', `${at}/AssessmentScore`)) };
    put(m, 'min', numberOrUndefined(str(s, 'MinimumScore')));
    put(m, 'max', numberOrUndefined(str(s, 'MaximumScore')));
    put(m, 'resultDatatype', dtext(s, 'ResultDatatypeType', c));
    return m;
  });
}

function performanceLevels(e: XmlObject, at: string, c: MapContext): Data[] {
  return objs(e, 'AssessmentPerformanceLevel').map((pl) => {
    const p = `${at}/AssessmentPerformanceLevel`;
    const level = c.descriptors.parse(need(pl, 'PerformanceLevel', p));
    const out: Data = { code: level.code };
    put(out, 'label', level.label);
    put(out, 'method', c.descriptors.text(need(pl, 'AssessmentReportingMethod', p)));
    put(out, 'min', numberOrUndefined(str(pl, 'MinimumScore')));
    put(out, 'max', numberOrUndefined(str(pl, 'MaximumScore')));
    return out;
  });
}

function learningStandards(e: XmlObject, at: string, c: MapContext): string[] {
  const out: string[] = [];
  for (const r of objs(e, 'LearningStandardReference')) {
    const ident = identity({ LearningStandardReference: r }, 'LearningStandardReference', 'LearningStandardIdentity', at, c);
    const id = ident ? str(ident, 'LearningStandardId') : undefined;
    if (id !== undefined) out.push(id);
  }
  return out;
}

function alignment(ids: Iterable<string>): Data[] {
  return [...new Set(ids)].map((ref) => ({ ref, source: 'edfi' }));
}

/** The item key used by joins.itemStandards. */
export function itemKey(namespace: string, identifier: string, code: string): string {
  return key(namespace, identifier, code);
}

/** AssessmentItem -> (its key, its learning standards): items are not unified records, they align their objectives. */
export function itemStandardsOf(el: XmlObject, ctx: MapContext): { key: string; standards: string[] } {
  const at = 'AssessmentItem';
  const a = assessmentRef(el, at, ctx);
  return { key: itemKey(a.namespace, a.identifier, need(el, 'IdentificationCode', at)), standards: learningStandards(el, at, ctx) };
}

/** The learning standards of the items an element lists (AssessmentItemReference), from joins.itemStandards. */
function itemAlignment(e: XmlObject, at: string, c: MapContext): string[] {
  const out: string[] = [];
  const standards = c.joins.itemStandards;
  if (!standards) return out;
  for (const r of objs(e, 'AssessmentItemReference')) {
    const ident = identity({ AssessmentItemReference: r }, 'AssessmentItemReference', 'AssessmentItemIdentity', at, c);
    if (!ident) continue;
    const code = str(ident, 'IdentificationCode');
    const a = obj(ident, 'AssessmentReference') ? assessmentRef(ident, `${at}/AssessmentItemReference`, c) : undefined;
    if (code === undefined || !a) continue;
    for (const s of standards.get(itemKey(a.namespace, a.identifier, code)) ?? []) out.push(s);
  }
  return out;
}

/** Assessment -> assessment. `alignment` = the learning standards of all its items (joins.itemStandards). */
export function mapAssessment(el: XmlValue, ctx: MapContext): MapResult {
  return mapElement('Assessment', el, ctx, (e, c, b) => {
    const at = 'Assessment';
    const identifier = need(e, 'AssessmentIdentifier', at);
    const namespace = need(e, 'Namespace', at);
    b.sourceId = assessmentKey(namespace, identifier);
    const data: Data = { title: need(e, 'AssessmentTitle', at), identifier, namespace };
    put(data, 'version', str(e, 'AssessmentVersion'));
    put(data, 'category', dtext(e, 'AssessmentCategory', c));
    put(data, 'subjects', dtexts(e, 'AcademicSubject', c));
    put(data, 'grades', grades(e, 'AssessedGradeLevel', c));
    put(data, 'reportingMethods', reportingMethods(e, at, c));
    put(data, 'performanceLevels', performanceLevels(e, at, c));
    const prefix = `${key(namespace, identifier)}|`;
    const standards: string[] = [];
    for (const [k, v] of c.joins.itemStandards ?? []) if (k.startsWith(prefix)) standards.push(...v);
    put(data, 'alignment', alignment(standards));
    b.records.push(rec('assessment', b.sourceId, data, c));
  });
}

/** ObjectiveAssessment -> assessment with parentId (the parent objective, else the assessment). */
export function mapObjectiveAssessment(el: XmlValue, ctx: MapContext): MapResult {
  return mapElement('ObjectiveAssessment', el, ctx, (e, c, b) => {
    const at = 'ObjectiveAssessment';
    const code = need(e, 'IdentificationCode', at);
    const a = assessmentRef(e, at, c);
    b.sourceId = objectiveKey(a.namespace, a.identifier, code);
    const data: Data = { title: str(e, 'Description') ?? code, identifier: code, namespace: a.namespace };
    const parent = identity(e, 'ParentObjectiveAssessmentReference', 'ObjectiveAssessmentIdentity', at, c);
    if (parent) {
      const p = `${at}/ParentObjectiveAssessmentReference`;
      const pa = obj(parent, 'AssessmentReference') ? assessmentRef(parent, p, c) : a;
      data.parentId = objectiveKey(pa.namespace, pa.identifier, need(parent, 'IdentificationCode', p));
    } else {
      data.parentId = assessmentKey(a.namespace, a.identifier);
    }
    put(data, 'subjects', dtexts(e, 'AcademicSubject', c));
    put(data, 'reportingMethods', reportingMethods(e, at, c));
    put(data, 'performanceLevels', performanceLevels(e, at, c));
    put(data, 'alignment', alignment([...learningStandards(e, at, c), ...itemAlignment(e, at, c)]));
    b.records.push(rec('assessment', b.sourceId, data, c));
  });
}

function scores(e: XmlObject, at: string, c: MapContext): Data[] {
  const out: Data[] = [];
  for (const s of objs(e, 'ScoreResult')) {
    const p = `${at}/ScoreResult`;
    const value = str(s, 'Result');
    if (value === undefined) throw new Fault(`${p}/Result`, 'required Result is missing or empty');
    out.push({ method: c.descriptors.text(need(s, 'AssessmentReportingMethod', p)), value });
  }
  return out;
}

/** The first PerformanceLevel of a result (the unified result keeps one). */
function performanceLevel(e: XmlObject, at: string, c: MapContext): Data | undefined {
  const pl = obj(e, 'PerformanceLevel');
  if (!pl) return undefined;
  const p = `${at}/PerformanceLevel`;
  const level = c.descriptors.parse(need(pl, 'PerformanceLevel', p));
  const out: Data = { code: level.code };
  put(out, 'label', level.label);
  put(out, 'method', dtext(pl, 'AssessmentReportingMethod', c));
  return out;
}

/**
 * StudentAssessment -> assessmentResult. StudentObjectiveAssessments become objectiveResults (objective = the
 * objective's IdentificationCode); StudentAssessmentItems are summarised there too, one entry per item with
 * objective `item:<IdentificationCode>` and scores `item result` (Correct, Incorrect…) and `raw score`.
 */
export function mapStudentAssessment(el: XmlValue, ctx: MapContext): MapResult {
  return mapElement('StudentAssessment', el, ctx, (e, c, b) => {
    const at = 'StudentAssessment';
    const said = need(e, 'StudentAssessmentIdentifier', at);
    const student = studentRef(e, at, c);
    const a = assessmentRef(e, at, c);
    b.sourceId = key(a.namespace, a.identifier, student, said);
    const administrationDate = dayOfDateTime(e, 'AdministrationDate', at);
    if (administrationDate === undefined) throw new Fault(`${at}/AdministrationDate`, 'required AdministrationDate is missing or empty (the unified assessment result needs the day it was taken)');
    const data: Data = { assessmentId: assessmentKey(a.namespace, a.identifier), personId: student };
    put(data, 'schoolId', schoolRef(e, 'ReportedSchoolReference', at, c));
    data.administrationDate = administrationDate;
    const grade = str(e, 'WhenAssessedGradeLevel');
    put(data, 'gradeWhenAssessed', grade !== undefined ? gradeCode(grade, c.descriptors) : undefined);
    put(data, 'reasonNotTested', dtext(e, 'ReasonNotTested', c));
    put(data, 'scores', scores(e, at, c));
    put(data, 'performanceLevel', performanceLevel(e, at, c));
    const objectives: Data[] = [];
    for (const so of objs(e, 'StudentObjectiveAssessment')) {
      const p = `${at}/StudentObjectiveAssessment`;
      const ident = identity(so, 'ObjectiveAssessmentReference', 'ObjectiveAssessmentIdentity', p, c);
      if (!ident) throw new Fault(`${p}/ObjectiveAssessmentReference`, 'required ObjectiveAssessmentReference is missing');
      const r: Data = { objective: need(ident, 'IdentificationCode', `${p}/ObjectiveAssessmentReference`) };
      put(r, 'scores', scores(so, p, c));
      put(r, 'performanceLevel', performanceLevel(so, p, c));
      objectives.push(r);
    }
    for (const item of objs(e, 'StudentAssessmentItem')) {
      const p = `${at}/StudentAssessmentItem`;
      const ident = identity(item, 'AssessmentItemReference', 'AssessmentItemIdentity', p, c);
      if (!ident) throw new Fault(`${p}/AssessmentItemReference`, 'required AssessmentItemReference is missing');
      const itemScores: Data[] = [{ method: 'item result', value: c.descriptors.text(need(item, 'AssessmentItemResult', p)) }];
      const raw = str(item, 'RawScoreResult');
      if (raw !== undefined) itemScores.push({ method: 'raw score', value: raw });
      objectives.push({ objective: `item:${need(ident, 'IdentificationCode', `${p}/AssessmentItemReference`)}`, scores: itemScores });
    }
    put(data, 'objectiveResults', objectives);
    b.records.push(rec('assessmentResult', b.sourceId, data, c));
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Discipline

/** [SchoolId, IncidentIdentifier]: the natural key of a discipline incident. */
function incidentOf(ident: XmlObject, at: string, scope: RefScope): [string, string] {
  return [schoolRef(ident, 'SchoolReference', at, scope, true), need(ident, 'IncidentIdentifier', at)];
}

/** DisciplineIncident -> behaviourIncident. */
export function mapDisciplineIncident(el: XmlValue, ctx: MapContext): MapResult {
  return mapElement('DisciplineIncident', el, ctx, (e, c, b) => {
    const at = 'DisciplineIncident';
    b.sourceId = key(...incidentOf(e, at, c));
    const data: Data = { schoolId: schoolRef(e, 'SchoolReference', at, c, true), incidentDate: needDate(e, 'IncidentDate', at) };
    put(data, 'incidentTime', time(e, 'IncidentTime', at));
    put(data, 'location', dtext(e, 'IncidentLocation', c));
    put(data, 'description', str(e, 'IncidentDescription'));
    put(data, 'behaviours', objs(e, 'Behavior').map((bh) => ({ ...c.descriptors.parse(need(bh, 'Behavior', `${at}/Behavior`)) })));
    put(data, 'reporterName', str(e, 'ReporterName'));
    b.records.push(rec('behaviourIncident', b.sourceId, data, c));
  });
}

/** The role from DisciplineIncidentParticipationCode(s): their labels (or mapped codes), joined when several. */
function participation(e: XmlObject, c: MapContext): string | undefined {
  const codes = dtexts(e, 'DisciplineIncidentParticipationCode', c);
  return codes.length ? codes.join(', ') : undefined;
}

function incidentRef(e: XmlObject, at: string, c: MapContext): [string, string] {
  const ident = identity(e, 'DisciplineIncidentReference', 'DisciplineIncidentIdentity', at, c);
  if (!ident) throw new Fault(`${at}/DisciplineIncidentReference`, 'required DisciplineIncidentReference is missing');
  return incidentOf(ident, `${at}/DisciplineIncidentReference`, c);
}

/**
 * StudentDisciplineIncidentBehaviorAssociation -> behaviourParticipant (one per student, incident and behaviour, as
 * in Ed-Fi), and StudentDisciplineIncidentNonOffenderAssociation -> behaviourParticipant without behaviours.
 */
export function mapDisciplineParticipant(name: string, el: XmlValue, ctx: MapContext): MapResult {
  return mapElement(name, el, ctx, (e, c, b) => {
    const at = name;
    const student = studentRef(e, at, c);
    const incident = incidentRef(e, at, c);
    const offender = name === 'StudentDisciplineIncidentBehaviorAssociation';
    const behavior = offender ? need(e, 'Behavior', at) : undefined;
    b.sourceId = key(...incident, student, behavior ?? 'non-offender');
    const data: Data = { incidentId: key(...incident), personId: student };
    put(data, 'role', participation(e, c));
    if (behavior !== undefined) data.behaviours = [{ ...c.descriptors.parse(behavior) }];
    b.records.push(rec('behaviourParticipant', b.sourceId, data, c));
  });
}

/** DisciplineAction -> disciplineAction (incidentId from its first StudentDisciplineIncidentBehaviorAssociationReference). */
export function mapDisciplineAction(el: XmlValue, ctx: MapContext): MapResult {
  return mapElement('DisciplineAction', el, ctx, (e, c, b) => {
    const at = 'DisciplineAction';
    const student = studentRef(e, at, c);
    const identifier = need(e, 'DisciplineActionIdentifier', at);
    const actionDate = needDate(e, 'DisciplineDate', at);
    b.sourceId = key(student, identifier, actionDate);
    const data: Data = { personId: student };
    const assoc = identity(e, 'StudentDisciplineIncidentBehaviorAssociationReference', 'StudentDisciplineIncidentBehaviorAssociationIdentity', at, c);
    if (assoc) data.incidentId = key(...incidentRef(assoc, `${at}/StudentDisciplineIncidentBehaviorAssociationReference`, c));
    data.schoolId = schoolRef(e, 'ResponsibilitySchoolReference', at, c, true);
    data.actionDate = actionDate;
    const actions = descriptors(e, 'Discipline', c);
    if (!actions.length) throw new Fault(`${at}/Discipline`, 'required Discipline is missing or empty');
    data.actions = actions.map((d) => ({ ...d }));
    put(data, 'durationDays', num(e, 'DisciplineActionLength', at));
    put(data, 'actualDurationDays', num(e, 'ActualDisciplineActionLength', at));
    b.records.push(rec('disciplineAction', b.sourceId, data, c));
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Gradebook

export function gradebookEntryKey(namespace: string, identifier: string): string {
  return key(namespace, identifier);
}

/**
 * The class of a gradebook entry: its SectionReference when present; otherwise SourceSectionIdentifier, when exactly
 * one section of the MasterSchedule files has that SectionIdentifier (joins.sectionsByIdentifier).
 */
function entryClass(e: XmlObject, at: string, c: MapContext): SectionParts {
  const ident = identity(e, 'SectionReference', 'SectionIdentity', at, c);
  if (ident) return sectionOf(ident, `${at}/SectionReference`, c);
  const source = need(e, 'SourceSectionIdentifier', at);
  const candidates = c.joins.sectionsByIdentifier?.get(source) ?? [];
  if (candidates.length === 1) return candidates[0];
  throw new Fault(
    `${at}/SectionReference`,
    candidates.length === 0
      ? `no SectionReference, and no Section with SectionIdentifier "${source}" (SourceSectionIdentifier) in the MasterSchedule files: the line item's class cannot be determined`
      : `no SectionReference, and ${candidates.length} Sections have SectionIdentifier "${source}" in the MasterSchedule files: the line item's class is ambiguous`,
    'reference_unresolved',
  );
}

/** GradebookEntry -> lineItem. */
export function mapGradebookEntry(el: XmlValue, ctx: MapContext): MapResult {
  return mapElement('GradebookEntry', el, ctx, (e, c, b) => {
    const at = 'GradebookEntry';
    const namespace = need(e, 'Namespace', at);
    const identifier = need(e, 'GradebookEntryIdentifier', at);
    b.sourceId = gradebookEntryKey(namespace, identifier);
    const cls = entryClass(e, at, c);
    const data: Data = { title: need(e, 'Title', at) };
    put(data, 'description', str(e, 'Description'));
    data.classId = sectionKey(cls);
    data.schoolId = cls.schoolId;
    const gp = identity(e, 'GradingPeriodReference', 'GradingPeriodIdentity', at, c);
    if (gp) data.gradingPeriodId = gradingPeriodOf(gp, `${at}/GradingPeriodReference`, c);
    data.assignDate = dateTimeOf(needDate(e, 'DateAssigned', at));
    const due = date(e, 'DueDate', at);
    if (due !== undefined) data.dueDate = dateTimeOf(due, time(e, 'DueTime', at));
    put(data, 'resultValueMax', num(e, 'MaxPoints', at));
    put(data, 'alignment', alignment(learningStandards(e, at, c)));
    b.records.push(rec('lineItem', b.sourceId, data, c));
  });
}

/** StudentGradebookEntry -> result. */
export function mapStudentGradebookEntry(el: XmlValue, ctx: MapContext): MapResult {
  return mapElement('StudentGradebookEntry', el, ctx, (e, c, b) => {
    const at = 'StudentGradebookEntry';
    const entry = identity(e, 'GradebookEntryReference', 'GradebookEntryIdentity', at, c);
    if (!entry) throw new Fault(`${at}/GradebookEntryReference`, 'required GradebookEntryReference is missing');
    const p = `${at}/GradebookEntryReference`;
    const namespace = need(entry, 'Namespace', p);
    const identifier = need(entry, 'GradebookEntryIdentifier', p);
    const lineItemId = gradebookEntryKey(namespace, identifier);
    const student = studentRef(e, at, c);
    b.sourceId = key(namespace, identifier, student);
    const score = num(e, 'PointsEarned', at) ?? num(e, 'NumericGradeEarned', at);
    const letter = str(e, 'LetterGradeEarned');
    const competency = dtext(e, 'CompetencyLevel', c);
    const status = str(e, 'SubmissionStatus');
    const data: Data = {
      lineItemId,
      personId: student,
      scoreStatus: scoreStatusOf(status, score !== undefined || letter !== undefined || competency !== undefined, c.descriptors),
    };
    put(data, 'score', score);
    put(data, 'textScore', letter ?? competency);
    const fulfilled = date(e, 'DateFulfilled', at);
    if (fulfilled !== undefined) data.scoreDate = dateTimeOf(fulfilled, time(e, 'TimeFulfilled', at));
    put(data, 'comment', str(e, 'DiagnosticStatement'));
    const late = str(e, 'AssignmentLateStatus');
    if (late !== undefined) {
      const l = norm(c.descriptors.text(late));
      if (l === 'late') data.late = true;
      else if (l === 'not late' || l === 'on time') data.late = false;
    }
    if (status !== undefined && norm(c.descriptors.label(status)) === 'missing') data.missing = true;
    b.records.push(rec('result', b.sourceId, data, c));
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Attendance

function attendanceEvent(e: XmlObject, at: string, c: MapContext): { date: string; categoryRaw: string; data: Data } {
  const ev = obj(e, 'AttendanceEvent');
  if (!ev) throw new Fault(`${at}/AttendanceEvent`, 'required AttendanceEvent is missing');
  const p = `${at}/AttendanceEvent`;
  const categoryRaw = need(ev, 'AttendanceEventCategory', p);
  const data: Data = { date: needDate(ev, 'EventDate', p), category: c.descriptors.text(categoryRaw) };
  put(data, 'reason', str(ev, 'AttendanceEventReason'));
  return { date: data.date as string, categoryRaw, data };
}

/** StudentSchoolAttendanceEvent -> attendanceEvent (school level). */
export function mapSchoolAttendance(el: XmlValue, ctx: MapContext): MapResult {
  return mapElement('StudentSchoolAttendanceEvent', el, ctx, (e, c, b) => {
    const at = 'StudentSchoolAttendanceEvent';
    const student = studentRef(e, at, c);
    const schoolId = schoolRef(e, 'SchoolReference', at, c, true);
    const session = identity(e, 'SessionReference', 'SessionIdentity', at, c);
    if (!session) throw new Fault(`${at}/SessionReference`, 'required SessionReference is missing');
    const s = sessionOf(session, `${at}/SessionReference`, c);
    const ev = attendanceEvent(e, at, c);
    b.sourceId = key('school', schoolId, s.schoolYear, s.sessionName, student, ev.date, ev.categoryRaw);
    const data: Data = { personId: student, schoolId, date: ev.data.date, category: ev.data.category };
    put(data, 'reason', ev.data.reason);
    put(data, 'minutes', num(e, 'SchoolAttendanceDuration', at));
    b.records.push(rec('attendanceEvent', b.sourceId, data, c));
  });
}

/** StudentSectionAttendanceEvent -> attendanceEvent (class level). */
export function mapSectionAttendance(el: XmlValue, ctx: MapContext): MapResult {
  return mapElement('StudentSectionAttendanceEvent', el, ctx, (e, c, b) => {
    const at = 'StudentSectionAttendanceEvent';
    const student = studentRef(e, at, c);
    const section = identity(e, 'SectionReference', 'SectionIdentity', at, c);
    if (!section) throw new Fault(`${at}/SectionReference`, 'required SectionReference is missing');
    const s = sectionOf(section, `${at}/SectionReference`, c);
    const ev = attendanceEvent(e, at, c);
    const classId = sectionKey(s);
    b.sourceId = key('section', s.schoolId, s.schoolYear, s.sessionName, s.localCourseCode, s.sectionIdentifier, student, ev.date, ev.categoryRaw);
    const data: Data = { personId: student, schoolId: s.schoolId, classId, date: ev.data.date, category: ev.data.category };
    put(data, 'reason', ev.data.reason);
    put(data, 'minutes', num(e, 'SectionAttendanceDuration', at));
    b.records.push(rec('attendanceEvent', b.sourceId, data, c));
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Interventions

export interface InterventionInfo {
  code: string;
  orgId: string;
  category?: string;
  beginDate: string;
  endDate?: string;
}

export function interventionKey(orgId: string, code: string): string {
  return key(orgId, code);
}

/** Intervention -> what a student's intervention needs of it. */
export function interventionInfo(el: XmlObject, ctx: MapContext): { key: string; info: InterventionInfo } {
  const at = 'Intervention';
  const code = need(el, 'InterventionIdentificationCode', at);
  const orgId = orgRef(el, 'EducationOrganizationReference', 'EducationOrganizationIdentity', at, ctx, true);
  const info: InterventionInfo = { code, orgId, beginDate: needDate(el, 'BeginDate', at) };
  const category = dtext(el, 'InterventionClass', ctx);
  if (category !== undefined) info.category = category;
  const end = date(el, 'EndDate', at);
  if (end !== undefined) info.endDate = end;
  return { key: interventionKey(orgId, code), info };
}

/**
 * StudentInterventionAssociation + its Intervention -> intervention. Ed-Fi interventions have no title: the
 * InterventionIdentificationCode is it; dates and class come from the Intervention.
 */
export function mapStudentIntervention(el: XmlValue, ctx: MapContext): MapResult {
  return mapElement('StudentInterventionAssociation', el, ctx, (e, c, b) => {
    const at = 'StudentInterventionAssociation';
    const student = studentRef(e, at, c);
    const ident = identity(e, 'InterventionReference', 'InterventionIdentity', at, c);
    if (!ident) throw new Fault(`${at}/InterventionReference`, 'required InterventionReference is missing');
    const p = `${at}/InterventionReference`;
    const code = need(ident, 'InterventionIdentificationCode', p);
    const orgId = orgRef(ident, 'EducationOrganizationReference', 'EducationOrganizationIdentity', p, c, true);
    b.sourceId = key(orgId, code, student);
    const info = c.joins.interventions?.get(interventionKey(orgId, code));
    if (!info) {
      throw new Fault(p, `intervention "${code}" of organization ${orgId} is not in the StudentIntervention files: its dates and class are unknown`, 'reference_unresolved');
    }
    const data: Data = { personId: student, schoolId: orgId, title: code };
    put(data, 'category', info.category);
    put(data, 'description', str(e, 'DiagnosticStatement'));
    data.startDate = info.beginDate;
    put(data, 'endDate', info.endDate);
    const ratings = objs(e, 'InterventionEffectiveness')
      .map((x) => str(x, 'InterventionEffectivenessRating'))
      .filter((x): x is string => x !== undefined)
      .map((x) => c.descriptors.text(x));
    put(data, 'outcome', ratings.length ? [...new Set(ratings)].join(', ') : undefined);
    b.records.push(rec('intervention', b.sourceId, data, c));
  });
}
