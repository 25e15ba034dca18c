/**
 * edfi/: the state's Ed-Fi Data Standard 5 bulk XML interchanges for the district, as a state reporting system or
 * an Ed-Fi ODS extract would hand them over, modelled on the Grand Bend ISD samples:
 *
 *   AssessmentMetadata.xml   the state summative assessment (grades 3-8, mathematics and English language arts):
 *                            one Assessment per grade and subject, with objective assessments per state standard
 *                            (IdentificationCode and LearningStandardId = the state framework's humanCodingScheme)
 *   StudentAssessment.xml    last spring's (2025-2026) results of today's grade 4-9 students: scale score, raw
 *                            score, performance level, raw score per standard; a few "not tested" (Absent)
 *   StudentDiscipline.xml    this fall's state-reportable incidents (those with a suspension) from the behaviour
 *                            tool, under the SIS's incident numbers: incidents, offender and non-offender
 *                            associations, discipline actions
 *   Student.xml, StudentEnrollment.xml, EducationOrganization.xml
 *                            the students those files reference (StudentUniqueId = the SIS state id, with the state
 *                            id also as a StudentIdentificationCode so identity resolution links them to the SIS),
 *                            the state, the district and its schools. The edfi-xml connector resolves references
 *                            only among the records it yields itself, so without these the results and incidents
 *                            would all be rejected as reference_unresolved.
 *
 * Files are streamed. A few elements are deliberately bad (expected.json lists them with their lines).
 */
import fs from 'node:fs';
import path from 'node:path';
import { clamp, normal, normalCdf, type Abilities } from './abilities';
import { createRng } from './prng';
import { TextSink } from './csv';
import { dayOf, isoDay, pad, type District } from './model';
import { studentDemographicsRow } from './sis';
import { isStateReportable, type Incident } from './behaviour';
import type { Progress } from './progress';
import type { Standards, Subject } from './standards';

const NS = 'http://ed-fi.org/5.0.0';
const ASSESSMENT_NS = 'uri://state.example/Assessment';
const GRADE_NAMES = ['Kindergarten', 'First grade', 'Second grade', 'Third grade', 'Fourth grade', 'Fifth grade', 'Sixth grade',
  'Seventh grade', 'Eighth grade', 'Ninth grade', 'Tenth grade', 'Eleventh grade', 'Twelfth grade'];
const SUMMATIVE_GRADES = [3, 4, 5, 6, 7, 8];
/** ContentStandard/Title is at most 75 characters in the XSD; the URI is the state framework's CFDocument. */
const CONTENT_STANDARD = 'State Learning Standards, Mathematics and ELA (synthetic)';
const SUBJECT_DESCRIPTOR: Record<Subject, string> = { math: 'Mathematics', ela: 'English Language Arts' };
const SUBJECT_CODE: Record<Subject, string> = { math: 'M', ela: 'ELA' };
const LEVELS = [
  { name: 'Below Basic', min: 1000, max: 1399 },
  { name: 'Basic', min: 1400, max: 1499 },
  { name: 'Proficient', min: 1500, max: 1649 },
  { name: 'Advanced', min: 1650, max: 2000 },
];
const D = {
  grade: (g: number) => `uri://ed-fi.org/GradeLevelDescriptor#${GRADE_NAMES[g]}`,
  subject: (s: Subject) => `uri://ed-fi.org/AcademicSubjectDescriptor#${SUBJECT_DESCRIPTOR[s]}`,
  method: (m: string) => `uri://ed-fi.org/AssessmentReportingMethodDescriptor#${m}`,
  datatype: (t: string) => `uri://ed-fi.org/ResultDatatypeTypeDescriptor#${t}`,
  level: (l: string) => `uri://ed-fi.org/PerformanceLevelDescriptor#${l}`,
};

/** XML text / attribute escaping. */
export function xmlEscape(s: string): string {
  return s.replace(/[&<>"]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&quot;'));
}
const x = xmlEscape;

/** A streamed XML file that knows which line it is on. */
class XmlFile {
  private readonly sink: TextSink;
  /** Lines completed so far; the next text starts on line `lines + 1`. */
  lines = 0;
  elements: Record<string, number> = {};

  constructor(readonly file: string, fullPath: string, root: string, comment: string) {
    this.sink = new TextSink(fullPath);
    this.write(`<?xml version="1.0" encoding="UTF-8"?>\n<!-- ${x(comment)} -->\n<${root} xmlns="${NS}">\n`);
  }

  get nextLine(): number {
    return this.lines + 1;
  }

  write(text: string): Promise<void> | undefined {
    let k = text.indexOf('\n');
    while (k >= 0) {
      this.lines++;
      k = text.indexOf('\n', k + 1);
    }
    return this.sink.write(text);
  }

  /** Writes one top-level element (text starting with a tab and ending with a newline) and counts it. */
  element(name: string, text: string): Promise<void> | undefined {
    this.elements[name] = (this.elements[name] ?? 0) + 1;
    return this.write(text);
  }

  async close(root: string): Promise<{ bytes: number; lines: number }> {
    this.write(`</${root}>\n`);
    await this.sink.close();
    return { bytes: this.sink.bytes, lines: this.lines };
  }
}

export interface EdfiMalformed {
  file: string;
  line: number;
  element: string;
  kind: string;
  reason: string;
  code: 'row_malformed' | 'record_invalid' | 'reference_unresolved';
}

export interface EdfiResult {
  dir: string;
  files: Record<string, { bytes: number; rows: number; elements: Record<string, number> }>;
  assessments: number;
  objectiveAssessments: number;
  studentAssessments: number;
  notTested: number;
  students: number;
  incidents: number;
  behaviourAssociations: number;
  nonOffenderAssociations: number;
  disciplineActions: number;
  malformed: EdfiMalformed[];
}

const studentRef = (stateId: string): string =>
  `<StudentReference><StudentIdentity><StudentUniqueId>${x(stateId)}</StudentUniqueId></StudentIdentity></StudentReference>`;
const schoolRef = (tag: string, id: string): string => `<${tag}><SchoolIdentity><SchoolId>${id}</SchoolId></SchoolIdentity></${tag}>`;
const assessmentIdentity = (id: string): string =>
  `<AssessmentIdentity><AssessmentIdentifier>${x(id)}</AssessmentIdentifier><Namespace>${ASSESSMENT_NS}</Namespace></AssessmentIdentity>`;
const assessmentId = (s: Subject, g: number): string => `SSA-${SUBJECT_CODE[s]}-${pad(g, 2)}`;
const xmlId = (s: Subject, g: number): string => `A_${SUBJECT_CODE[s]}_${pad(g, 2)}`;
const scoreResult = (indent: string, value: string | number, method: string): string =>
  `${indent}<ScoreResult>\n${indent}\t<Result>${value}</Result>\n${indent}\t<ResultDatatypeType>${D.datatype('Integer')}</ResultDatatypeType>\n` +
  `${indent}\t<AssessmentReportingMethod>${D.method(method)}</AssessmentReportingMethod>\n${indent}</ScoreResult>\n`;

const weekday = (day: number): number => (day + 4) % 7;
const addSchoolDays = (day: number, n: number): number => {
  let v = day;
  for (let k = 0; k < n; k++) {
    v++;
    while (weekday(v) === 0 || weekday(v) === 6) v++;
  }
  return v;
};

const SEX: Record<string, string> = { female: 'Female', male: 'Male', unspecified: 'Not Selected' };
const RACES: Array<[string, string]> = [
  ['americanIndianOrAlaskaNative', 'American Indian - Alaska Native'],
  ['asian', 'Asian'],
  ['blackOrAfricanAmerican', 'Black - African American'],
  ['nativeHawaiianOrOtherPacificIslander', 'Native Hawaiian - Pacific Islander'],
  ['white', 'White'],
];
const LOCATION: Record<string, string> = {
  Classroom: 'Classroom', Hallway: 'Hallway or stairs', Cafeteria: 'Cafeteria area', Bus: 'School bus', Playground: 'Playground',
  Courtyard: 'On school', Library: 'Library/media center', 'Parking lot': 'Parking lot', Gym: 'Locker room or gym areas',
  Restroom: 'Restroom', Office: 'Administrative offices area',
};
const STATE_OFFENSES = new Set(['FIGHT', 'THEFT', 'VAPE', 'BULLY']);
const BEHAVIOUR_LABEL: Record<string, string> = {
  FIGHT: 'Fighting', THEFT: 'Theft', VAPE: 'Possession of a vaping device', BULLY: 'Bullying', DISRUPT: 'Disruptive conduct',
  DEFIANCE: 'Insubordination', PHONE: 'Electronic device violation', TARDY: 'Excessive tardiness', SKIP: 'Truancy - class',
  BUS: 'Bus misconduct',
};

export async function writeEdfi(
  d: District,
  s: Standards,
  abilities: Abilities,
  incidents: readonly Incident[],
  dir: string,
  progress: Progress,
): Promise<EdfiResult> {
  fs.mkdirSync(dir, { recursive: true });
  const files: EdfiResult['files'] = {};
  const malformed: EdfiMalformed[] = [];
  const seaId = '48';
  const leaId = d.district.identifier;
  const finish = async (f: XmlFile, root: string): Promise<void> => {
    const r = await f.close(root);
    files[f.file] = { bytes: r.bytes, rows: Object.values(f.elements).reduce((a, b) => a + b, 0), elements: f.elements };
  };

  // Who is in the files: last spring's test takers (today's grades 4-9) and the students of reportable incidents.
  const reportable = incidents.filter(isStateReportable);
  const inFiles = new Uint8Array(d.n);
  for (let i = 0; i < d.n; i++) if (d.grade[i] >= 4 && d.grade[i] <= 9) inFiles[i] = 1;
  for (const inc of reportable) for (const p of inc.participants) inFiles[p.student] = 1;

  // ---- EducationOrganization.xml
  {
    const f = new XmlFile('EducationOrganization.xml', path.join(dir, 'EducationOrganization.xml'), 'InterchangeEducationOrganization',
      'Synthetic state, district and schools (Learner Data Hub generator); no real organization.');
    await f.element('StateEducationAgency',
      `\t<StateEducationAgency>\n\t\t<NameOfInstitution>State Education Agency (synthetic)</NameOfInstitution>\n` +
      `\t\t<EducationOrganizationCategory>uri://ed-fi.org/EducationOrganizationCategoryDescriptor#State Education Agency</EducationOrganizationCategory>\n` +
      `\t\t<StateEducationAgencyId>${seaId}</StateEducationAgencyId>\n\t</StateEducationAgency>\n`);
    await f.element('LocalEducationAgency',
      `\t<LocalEducationAgency id="LEA_${leaId}">\n\t\t<NameOfInstitution>${x(d.district.name)}</NameOfInstitution>\n` +
      `\t\t<EducationOrganizationCategory>uri://ed-fi.org/EducationOrganizationCategoryDescriptor#Local Education Agency</EducationOrganizationCategory>\n` +
      `\t\t<LocalEducationAgencyId>${leaId}</LocalEducationAgencyId>\n` +
      `\t\t<LocalEducationAgencyCategory>uri://ed-fi.org/LocalEducationAgencyCategoryDescriptor#Independent</LocalEducationAgencyCategory>\n` +
      `\t\t<StateEducationAgencyReference><StateEducationAgencyIdentity><StateEducationAgencyId>${seaId}</StateEducationAgencyId></StateEducationAgencyIdentity></StateEducationAgencyReference>\n` +
      `\t</LocalEducationAgency>\n`);
    for (const sc of d.schools) {
      const grades = sc.band === 'elementary' ? [0, 1, 2, 3, 4, 5] : sc.band === 'middle' ? [6, 7, 8] : [9, 10, 11, 12];
      await f.element('School',
        `\t<School id="SCH_${sc.identifier}">\n` +
        `\t\t<EducationOrganizationIdentificationCode>\n\t\t\t<IdentificationCode>${sc.identifier}</IdentificationCode>\n` +
        `\t\t\t<EducationOrganizationIdentificationSystem>uri://ed-fi.org/EducationOrganizationIdentificationSystemDescriptor#SEA</EducationOrganizationIdentificationSystem>\n\t\t</EducationOrganizationIdentificationCode>\n` +
        `\t\t<NameOfInstitution>${x(sc.name)}</NameOfInstitution>\n` +
        `\t\t<EducationOrganizationCategory>uri://ed-fi.org/EducationOrganizationCategoryDescriptor#School</EducationOrganizationCategory>\n` +
        `\t\t<SchoolId>${sc.identifier}</SchoolId>\n` +
        grades.map((g) => `\t\t<GradeLevel>${D.grade(g)}</GradeLevel>\n`).join('') +
        `\t\t<SchoolCategory>uri://ed-fi.org/SchoolCategoryDescriptor#${sc.band === 'elementary' ? 'Elementary School' : sc.band === 'middle' ? 'Middle School' : 'High School'}</SchoolCategory>\n` +
        `\t\t<LocalEducationAgencyReference ref="LEA_${leaId}"/>\n\t</School>\n`);
    }
    await finish(f, 'InterchangeEducationOrganization');
  }

  // ---- Student.xml and StudentEnrollment.xml
  let students = 0;
  {
    const st = new XmlFile('Student.xml', path.join(dir, 'Student.xml'), 'InterchangeStudent',
      'Synthetic students (Learner Data Hub generator); StudentUniqueId is the state student id.');
    const en = new XmlFile('StudentEnrollment.xml', path.join(dir, 'StudentEnrollment.xml'), 'InterchangeStudentEnrollment',
      'Synthetic student-district associations: identification codes, sex, ethnicity and race.');
    for (let i = 0; i < d.n; i++) {
      if (!inFiles[i]) continue;
      students++;
      const stateId = d.stateId(i);
      const demo = studentDemographicsRow(d, i);
      const middle = d.middleName(d.st, i);
      const preferred = d.preferredGiven(i);
      const birth =
        `\t\t\t<BirthDate>${demo.birthDate}</BirthDate>\n` +
        (demo.cityOfBirth ? `\t\t\t<BirthCity>${x(demo.cityOfBirth)}</BirthCity>\n` : '') +
        (demo.stateOfBirthAbbreviation ? `\t\t\t<BirthStateAbbreviation>uri://ed-fi.org/StateAbbreviationDescriptor#${demo.stateOfBirthAbbreviation}</BirthStateAbbreviation>\n` : '') +
        `\t\t\t<BirthCountry>uri://ed-fi.org/CountryDescriptor#${demo.countryOfBirthCode}</BirthCountry>\n`;
      const p1 = st.element('Student',
        `\t<Student>\n\t\t<StudentUniqueId>${stateId}</StudentUniqueId>\n\t\t<Name>\n` +
        `\t\t\t<FirstName>${x(d.givenName(d.st, i))}</FirstName>\n` +
        (middle ? `\t\t\t<MiddleName>${x(middle)}</MiddleName>\n` : '') +
        `\t\t\t<LastSurname>${x(d.familyName(d.st, i))}</LastSurname>\n` +
        (preferred ? `\t\t\t<PreferredFirstName>${x(preferred)}</PreferredFirstName>\n` : '') +
        `\t\t</Name>\n\t\t<BirthData>\n${birth}\t\t</BirthData>\n\t</Student>\n`);
      if (p1) await p1;
      const races = RACES.filter(([k]) => demo[k] === 'true').map(([, label]) => `\t\t<Race>uri://ed-fi.org/RaceDescriptor#${label}</Race>\n`).join('');
      const p2 = en.element('StudentEducationOrganizationAssociation',
        `\t<StudentEducationOrganizationAssociation>\n\t\t${studentRef(stateId)}\n` +
        `\t\t<EducationOrganizationReference><EducationOrganizationIdentity><EducationOrganizationId>${leaId}</EducationOrganizationId></EducationOrganizationIdentity></EducationOrganizationReference>\n` +
        `\t\t<StudentIdentificationCode>\n\t\t\t<IdentificationCode>${stateId}</IdentificationCode>\n` +
        `\t\t\t<StudentIdentificationSystem>uri://ed-fi.org/StudentIdentificationSystemDescriptor#State</StudentIdentificationSystem>\n` +
        `\t\t\t<AssigningOrganizationIdentificationCode>State</AssigningOrganizationIdentificationCode>\n\t\t</StudentIdentificationCode>\n` +
        `\t\t<Sex>uri://ed-fi.org/SexDescriptor#${SEX[demo.sex ?? 'unspecified']}</Sex>\n` +
        `\t\t<HispanicLatinoEthnicity>${demo.hispanicOrLatinoEthnicity}</HispanicLatinoEthnicity>\n${races}` +
        `\t</StudentEducationOrganizationAssociation>\n`);
      if (p2) await p2;
    }
    progress.tick(d.n);
    await finish(st, 'InterchangeStudent');
    await finish(en, 'InterchangeStudentEnrollment');
  }

  // ---- AssessmentMetadata.xml
  let assessments = 0;
  let objectives = 0;
  {
    const f = new XmlFile('AssessmentMetadata.xml', path.join(dir, 'AssessmentMetadata.xml'), 'InterchangeAssessmentMetadata',
      'Synthetic state summative assessment, grades 3-8; objective assessments are the state standards (case/state-standards.json).');
    for (const subject of ['math', 'ela'] as Subject[]) {
      for (const g of SUMMATIVE_GRADES) {
        assessments++;
        await f.element('Assessment',
          `\t<Assessment>\n\t\t<AssessmentIdentifier>${assessmentId(subject, g)}</AssessmentIdentifier>\n` +
          `\t\t<AssessmentTitle>State Summative Assessment - ${SUBJECT_DESCRIPTOR[subject]} Grade ${g} (synthetic)</AssessmentTitle>\n` +
          `\t\t<AssessmentCategory>uri://ed-fi.org/AssessmentCategoryDescriptor#State summative assessment 3-8 general</AssessmentCategory>\n` +
          `\t\t<AcademicSubject>${D.subject(subject)}</AcademicSubject>\n\t\t<AssessedGradeLevel>${D.grade(g)}</AssessedGradeLevel>\n` +
          `\t\t<AssessmentScore>\n\t\t\t<AssessmentReportingMethod>${D.method('Scale score')}</AssessmentReportingMethod>\n` +
          `\t\t\t<MinimumScore>1000</MinimumScore>\n\t\t\t<MaximumScore>2000</MaximumScore>\n\t\t\t<ResultDatatypeType>${D.datatype('Integer')}</ResultDatatypeType>\n\t\t</AssessmentScore>\n` +
          `\t\t<AssessmentScore>\n\t\t\t<AssessmentReportingMethod>${D.method('Raw score')}</AssessmentReportingMethod>\n` +
          `\t\t\t<MinimumScore>0</MinimumScore>\n\t\t\t<MaximumScore>30</MaximumScore>\n\t\t\t<ResultDatatypeType>${D.datatype('Integer')}</ResultDatatypeType>\n\t\t</AssessmentScore>\n` +
          LEVELS.map((l) =>
            `\t\t<AssessmentPerformanceLevel>\n\t\t\t<PerformanceLevel>${D.level(l.name)}</PerformanceLevel>\n` +
            `\t\t\t<AssessmentReportingMethod>${D.method('Scale score')}</AssessmentReportingMethod>\n` +
            `\t\t\t<MinimumScore>${l.min}</MinimumScore>\n\t\t\t<MaximumScore>${l.max}</MaximumScore>\n` +
            `\t\t\t<ResultDatatypeType>${D.datatype('Integer')}</ResultDatatypeType>\n\t\t</AssessmentPerformanceLevel>\n`).join('') +
          `\t\t<ContentStandard>\n\t\t\t<Title>${x(CONTENT_STANDARD)}</Title>\n\t\t\t<Version>${x(s.state.version)}</Version>\n\t\t\t<URI>${x(s.state.uri)}</URI>\n\t\t</ContentStandard>\n` +
          `\t\t<AssessmentVersion>2026</AssessmentVersion>\n\t\t<RevisionDate>2025-12-01</RevisionDate>\n\t\t<MaxRawScore>30</MaxRawScore>\n` +
          `\t\t<Namespace>${ASSESSMENT_NS}</Namespace>\n\t\t<AdaptiveAssessment>false</AdaptiveAssessment>\n` +
          `\t\t<PlatformType>uri://ed-fi.org/PlatformTypeDescriptor#Computer-based</PlatformType>\n\t</Assessment>\n`);
      }
    }
    for (const subject of ['math', 'ela'] as Subject[]) {
      for (const g of SUMMATIVE_GRADES) {
        for (const std of s.stateFor(subject, g)) {
          objectives++;
          await f.element('ObjectiveAssessment',
            `\t<ObjectiveAssessment>\n\t\t<IdentificationCode>${x(std.code)}</IdentificationCode>\n\t\t<MaxRawScore>10</MaxRawScore>\n` +
            `\t\t<Description>${x(std.statement)}</Description>\n` +
            `\t\t<LearningStandardReference><LearningStandardIdentity><LearningStandardId>${x(std.code)}</LearningStandardId></LearningStandardIdentity></LearningStandardReference>\n` +
            `\t\t<AssessmentReference>${assessmentIdentity(assessmentId(subject, g))}</AssessmentReference>\n` +
            `\t\t<AssessmentScore>\n\t\t\t<AssessmentReportingMethod>${D.method('Raw score')}</AssessmentReportingMethod>\n` +
            `\t\t\t<MinimumScore>0</MinimumScore>\n\t\t\t<MaximumScore>10</MaximumScore>\n\t\t</AssessmentScore>\n` +
            `\t\t<AcademicSubject>${D.subject(subject)}</AcademicSubject>\n\t</ObjectiveAssessment>\n`);
        }
      }
    }
    await finish(f, 'InterchangeAssessmentMetadata');
  }

  // ---- StudentAssessment.xml: spring 2026, taken in the grade below today's.
  let studentAssessments = 0;
  let notTested = 0;
  {
    const f = new XmlFile('StudentAssessment.xml', path.join(dir, 'StudentAssessment.xml'), 'InterchangeStudentAssessment',
      'Synthetic state summative results, spring 2026 (school year 2025-2026).');
    // Top-level reference declarations, referenced below with ref="…" (as the Grand Bend samples and many producers do).
    for (const subject of ['math', 'ela'] as Subject[]) {
      for (const g of SUMMATIVE_GRADES) {
        await f.element('AssessmentReference', `\t<AssessmentReference id="${xmlId(subject, g)}">${assessmentIdentity(assessmentId(subject, g))}</AssessmentReference>\n`);
        for (const [k, std] of s.stateFor(subject, g).entries()) {
          await f.element('ObjectiveAssessmentReference',
            `\t<ObjectiveAssessmentReference id="O_${SUBJECT_CODE[subject]}_${pad(g, 2)}_${k + 1}"><ObjectiveAssessmentIdentity><IdentificationCode>${x(std.code)}</IdentificationCode>` +
            `<AssessmentReference>${assessmentIdentity(assessmentId(subject, g))}</AssessmentReference></ObjectiveAssessmentIdentity></ObjectiveAssessmentReference>\n`);
        }
      }
    }
    const rng = createRng(d.seed, 'state-assessment');
    const windowStart = dayOf(2026, 4, 7);
    let takers = 0;
    for (let i = 0; i < d.n; i++) if (d.grade[i] >= 4 && d.grade[i] <= 9) takers++;
    const badAt = Math.floor(takers * 0.55);
    let taker = 0;
    for (let i = 0; i < d.n; i++) {
      const g = d.grade[i] - 1;
      if (g < 3 || g > 8) continue;
      const stateId = d.stateId(i);
      const bad = taker++ === badAt;
      for (const subject of ['math', 'ela'] as Subject[]) {
        studentAssessments++;
        const day = addSchoolDays(windowStart - 1, 1 + (d.school[i] % 3) + (subject === 'ela' ? 5 : 0));
        let date = `${isoDay(day)}T08:30:00`;
        const identifier = `SA2026-${SUBJECT_CODE[subject]}${pad(g, 2)}-${stateId}`;
        const line = f.nextLine;
        if (bad && subject === 'math') {
          const t = new Date(day * 86_400_000);
          date = `${pad(t.getUTCMonth() + 1, 2)}/${pad(t.getUTCDate(), 2)}/${t.getUTCFullYear()}`;
          malformed.push({
            file: 'edfi/StudentAssessment.xml', line, element: 'StudentAssessment', kind: 'invalid-date',
            reason: `AdministrationDate "${date}" is not an xs:dateTime`, code: 'row_malformed',
          });
        }
        let body: string;
        if (rng.chance(0.01)) {
          notTested++;
          body =
            `\t\t<ReasonNotTested>uri://ed-fi.org/ReasonNotTestedDescriptor#Absent</ReasonNotTested>\n` +
            `\t\t<WhenAssessedGradeLevel>${D.grade(g)}</WhenAssessedGradeLevel>\n\t\t${studentRef(stateId)}\n` +
            `\t\t<AssessmentReference ref="${xmlId(subject, g)}"/>\n`;
        } else {
          const theta = abilities.of(subject === 'math' ? 'math' : 'reading', i) - 0.1 + 0.3 * normal(rng);
          const scale = Math.round(clamp(1520 + 110 * theta, 1000, 2000));
          const level = LEVELS.find((l) => scale >= l.min && scale <= l.max)!.name;
          const raws = s.stateFor(subject, g).map(() => Math.round(10 * clamp(0.6 + 0.17 * theta + 0.12 * normal(rng), 0, 1)));
          body =
            scoreResult('\t\t', scale, 'Scale score') +
            scoreResult('\t\t', raws.reduce((a, b) => a + b, 0), 'Raw score') +
            `\t\t<WhenAssessedGradeLevel>${D.grade(g)}</WhenAssessedGradeLevel>\n` +
            `\t\t<PerformanceLevel>\n\t\t\t<PerformanceLevel>${D.level(level)}</PerformanceLevel>\n` +
            `\t\t\t<AssessmentReportingMethod>${D.method('Scale score')}</AssessmentReportingMethod>\n\t\t</PerformanceLevel>\n` +
            `\t\t${studentRef(stateId)}\n\t\t<AssessmentReference ref="${xmlId(subject, g)}"/>\n` +
            raws.map((raw, k) =>
              `\t\t<StudentObjectiveAssessment>\n${scoreResult('\t\t\t', raw, 'Raw score')}` +
              `\t\t\t<ObjectiveAssessmentReference ref="O_${SUBJECT_CODE[subject]}_${pad(g, 2)}_${k + 1}"/>\n\t\t</StudentObjectiveAssessment>\n`).join('');
        }
        const p = f.element('StudentAssessment',
          `\t<StudentAssessment>\n\t\t<StudentAssessmentIdentifier>${identifier}</StudentAssessmentIdentifier>\n` +
          `\t\t<AdministrationDate>${date}</AdministrationDate>\n${body}\t\t<SchoolYear>2025-2026</SchoolYear>\n\t</StudentAssessment>\n`);
        if (p) await p;
      }
    }
    progress.tick(d.n);
    await finish(f, 'InterchangeStudentAssessment');
  }

  // ---- StudentDiscipline.xml: incidents, then associations, then actions (references point backwards).
  let behaviourAssociations = 0;
  let nonOffender = 0;
  let actions = 0;
  {
    const f = new XmlFile('StudentDiscipline.xml', path.join(dir, 'StudentDiscipline.xml'), 'InterchangeStudentDiscipline',
      'Synthetic state-reportable discipline incidents, fall 2026 (school year 2026-2027).');
    const idOf = (inc: Incident): string => `DI_${inc.sisId.replace(/-/g, '_')}`;
    const behaviourOf = (inc: Incident): string =>
      `uri://ed-fi.org/BehaviorDescriptor#${STATE_OFFENSES.has(inc.behaviour) ? 'State Offense' : 'School Code of Conduct'}`;
    for (const inc of reportable) {
      const sc = d.schools[inc.school];
      const t = inc.reporter;
      const hh = pad(Math.floor(inc.minutes / 60), 2);
      const mm = pad(inc.minutes % 60, 2);
      await f.element('DisciplineIncident',
        `\t<DisciplineIncident id="${idOf(inc)}">\n\t\t<IncidentIdentifier>${inc.sisId}</IncidentIdentifier>\n` +
        `\t\t<IncidentDate>${isoDay(inc.day)}</IncidentDate>\n\t\t<IncidentTime>${hh}:${mm}:00</IncidentTime>\n` +
        `\t\t<IncidentLocation>uri://ed-fi.org/IncidentLocationDescriptor#${x(LOCATION[inc.location] ?? 'On school')}</IncidentLocation>\n` +
        `\t\t<IncidentDescription>${x(inc.description)}</IncidentDescription>\n` +
        `\t\t<ReporterDescription>uri://ed-fi.org/ReporterDescriptionDescriptor#Staff</ReporterDescription>\n` +
        `\t\t<ReporterName>${x(`${d.familyName(d.te, t)}, ${d.givenName(d.te, t)}`)}</ReporterName>\n` +
        `\t\t<Behavior>\n\t\t\t<BehaviorDetailedDescription>${x(BEHAVIOUR_LABEL[inc.behaviour] ?? inc.behaviour)}</BehaviorDetailedDescription>\n` +
        `\t\t\t<Behavior>${behaviourOf(inc)}</Behavior>\n\t\t</Behavior>\n` +
        `\t\t<ReportedToLawEnforcement>false</ReportedToLawEnforcement>\n\t\t${schoolRef('SchoolReference', sc.identifier)}\n\t</DisciplineIncident>\n`);
    }
    const badAssociationAt = Math.floor(reportable.length * 0.5);
    for (const [k, inc] of reportable.entries()) {
      for (const p of inc.participants) {
        const stateId = d.stateId(p.student);
        if (p.role === 'Offender') {
          behaviourAssociations++;
          let ref = idOf(inc);
          if (k === badAssociationAt && p === inc.participants[0]) {
            ref = 'DI_2027_MISSING';
            malformed.push({
              file: 'edfi/StudentDiscipline.xml', line: f.nextLine, element: 'StudentDisciplineIncidentBehaviorAssociation', kind: 'dangling-ref',
              reason: `DisciplineIncidentReference ref="${ref}" names no DisciplineIncident in the file`, code: 'reference_unresolved',
            });
          }
          await f.element('StudentDisciplineIncidentBehaviorAssociation',
            `\t<StudentDisciplineIncidentBehaviorAssociation>\n\t\t${studentRef(stateId)}\n\t\t<DisciplineIncidentReference ref="${ref}"/>\n` +
            `\t\t<Behavior>${behaviourOf(inc)}</Behavior>\n\t\t<BehaviorDetailedDescription>${x(BEHAVIOUR_LABEL[inc.behaviour] ?? inc.behaviour)}</BehaviorDetailedDescription>\n` +
            `\t\t<DisciplineIncidentParticipationCode>uri://ed-fi.org/DisciplineIncidentParticipationCodeDescriptor#Perpetrator</DisciplineIncidentParticipationCode>\n` +
            `\t</StudentDisciplineIncidentBehaviorAssociation>\n`);
        } else {
          nonOffender++;
          await f.element('StudentDisciplineIncidentNonOffenderAssociation',
            `\t<StudentDisciplineIncidentNonOffenderAssociation>\n\t\t${studentRef(stateId)}\n\t\t<DisciplineIncidentReference ref="${idOf(inc)}"/>\n` +
            `\t\t<DisciplineIncidentParticipationCode>uri://ed-fi.org/DisciplineIncidentParticipationCodeDescriptor#${p.role}</DisciplineIncidentParticipationCode>\n` +
            `\t</StudentDisciplineIncidentNonOffenderAssociation>\n`);
        }
      }
    }
    const badActionAt = Math.floor(reportable.length * 0.25);
    let actionCounter = 0;
    for (const [k, inc] of reportable.entries()) {
      const sc = d.schools[inc.school];
      for (const p of inc.participants) {
        if (p.action?.code !== 'ISS' && p.action?.code !== 'OSS') continue;
        actions++;
        const stateId = d.stateId(p.student);
        const days = p.action.days ?? 1;
        let date = isoDay(addSchoolDays(inc.day, 1));
        if (k === badActionAt) {
          const t = new Date(addSchoolDays(inc.day, 1) * 86_400_000);
          date = `${pad(t.getUTCMonth() + 1, 2)}/${pad(t.getUTCDate(), 2)}/${t.getUTCFullYear()}`;
          malformed.push({
            file: 'edfi/StudentDiscipline.xml', line: f.nextLine, element: 'DisciplineAction', kind: 'invalid-date',
            reason: `DisciplineDate "${date}" is not an xs:date`, code: 'row_malformed',
          });
        }
        await f.element('DisciplineAction',
          `\t<DisciplineAction>\n\t\t<DisciplineActionIdentifier>DA-${inc.sisId}-${++actionCounter}</DisciplineActionIdentifier>\n` +
          `\t\t<Discipline>uri://ed-fi.org/DisciplineDescriptor#${p.action.code === 'ISS' ? 'In School Suspension' : 'Out of School Suspension'}</Discipline>\n` +
          `\t\t<DisciplineDate>${date}</DisciplineDate>\n\t\t<DisciplineActionLength>${days}</DisciplineActionLength>\n` +
          `\t\t<ActualDisciplineActionLength>${days}</ActualDisciplineActionLength>\n\t\t${studentRef(stateId)}\n` +
          `\t\t${schoolRef('ResponsibilitySchoolReference', sc.identifier)}\n` +
          `\t\t<StudentDisciplineIncidentBehaviorAssociationReference><StudentDisciplineIncidentBehaviorAssociationIdentity>` +
          `${studentRef(stateId)}<DisciplineIncidentReference ref="${idOf(inc)}"/><Behavior>${behaviourOf(inc)}</Behavior>` +
          `</StudentDisciplineIncidentBehaviorAssociationIdentity></StudentDisciplineIncidentBehaviorAssociationReference>\n\t</DisciplineAction>\n`);
      }
    }
    await finish(f, 'InterchangeStudentDiscipline');
  }

  const ordered: EdfiResult['files'] = {};
  for (const name of Object.keys(files).sort()) ordered[name] = files[name];
  malformed.sort((a, b) => (a.file === b.file ? a.line - b.line : a.file < b.file ? -1 : 1));
  return {
    dir: 'edfi',
    files: ordered,
    assessments,
    objectiveAssessments: objectives,
    studentAssessments,
    notTested,
    students,
    incidents: reportable.length,
    behaviourAssociations,
    nonOffenderAssociations: nonOffender,
    disciplineActions: actions,
    malformed,
  };
}
