/**
 * Pure mappers on plain objects (the shape xml.ts builds): exact records, rejects with XML paths, descriptor
 * translations, joins.
 */
import {
  collectStudentEdOrg,
  gradeCode,
  mapDisciplineAction,
  mapDisciplineParticipant,
  mapGradebookEntry,
  mapObjectiveAssessment,
  mapOrg,
  mapProgramAssociation,
  mapStudent,
  mapStudentAssessment,
  mapStudentGradebookEntry,
  programTypeOf,
  raceFlag,
  scoreStatusOf,
  sexCode,
  sessionTypeOf,
  type Joins,
  type MapContext,
  type StudentEdOrgInfo,
} from './mappers';
import { Descriptors } from './values';
import type { XmlObject } from './xml';

const ds = new Descriptors();
function ctx(joins: Joins = {}, ids: Record<string, XmlObject> = {}, descriptors = ds): MapContext {
  return { file: 'F.xml', line: 7, descriptors, joins, ids: new Map(Object.entries(ids)) };
}
const school = (id: string) => ({ SchoolIdentity: { SchoolId: id } });
const student = (id: string) => ({ StudentIdentity: { StudentUniqueId: id } });

describe('students', () => {
  const el: XmlObject = {
    StudentUniqueId: '1001',
    Name: { PersonalTitlePrefix: 'Ms', FirstName: 'Ada', MiddleName: 'B', LastSurname: 'Lovelace', PreferredFirstName: 'Addie' },
    BirthData: { BirthDate: '2012-12-10', BirthCity: 'London', BirthCountry: 'uri://ed-fi.org/CountryDescriptor#GB', BirthSex: 'uri://ed-fi.org/SexDescriptor#Female' },
  };

  test('Student -> person (StudentUniqueId identifier) and demographics (birth data)', () => {
    const r = mapStudent(el, ctx());
    expect(r.records).toEqual([
      {
        type: 'person', sourceId: '1001', location: 'F.xml:7', rawJson: JSON.stringify(el),
        data: { givenName: 'Ada', familyName: 'Lovelace', middleName: 'B', preferredGivenName: 'Addie', enabledUser: true, primaryRole: 'student', identifiers: [{ system: 'edfi:StudentUniqueId', value: '1001' }] },
      },
      {
        type: 'demographics', sourceId: '1001', location: 'F.xml:7', rawJson: JSON.stringify(el),
        data: { personId: '1001', birthDate: '2012-12-10', sex: 'female', countryOfBirthCode: 'GB', cityOfBirth: 'London' },
      },
    ]);
  });

  test('StudentEducationOrganizationAssociations add identification codes, sex, race flags and ethnicity', () => {
    const into = new Map<string, StudentEdOrgInfo>();
    const code = (value: string, system: string, assigning?: string) => ({
      IdentificationCode: value, StudentIdentificationSystem: `uri://ed-fi.org/StudentIdentificationSystemDescriptor#${system}`, ...(assigning !== undefined ? { AssigningOrganizationIdentificationCode: assigning } : {}),
    });
    collectStudentEdOrg({ StudentReference: student('1001'), StudentIdentificationCode: [code('ST-1', 'State', 'TX'), code('L-9', 'Local', '')], Sex: 'uri://ed-fi.org/SexDescriptor#Male', Race: 'uri://ed-fi.org/RaceDescriptor#Black - African American', HispanicLatinoEthnicity: 'false' }, ctx(), into);
    collectStudentEdOrg({ StudentReference: student('1001'), StudentIdentificationCode: code('ST-1', 'State', 'TX'), Race: ['uri://ed-fi.org/RaceDescriptor#White', 'uri://ed-fi.org/RaceDescriptor#Choose Not to Respond'], HispanicLatinoEthnicity: 'true' }, ctx(), into);
    const r = mapStudent(el, ctx({ studentEdOrg: into }));
    expect(r.records![0].data.identifiers).toEqual([
      { system: 'edfi:StudentUniqueId', value: '1001' },
      { system: 'TX', value: 'ST-1' },
      { system: 'Local', value: 'L-9' },
    ]);
    expect(r.records![1].data).toEqual({
      personId: '1001', birthDate: '2012-12-10', sex: 'male',
      americanIndianOrAlaskaNative: false, asian: false, blackOrAfricanAmerican: true, nativeHawaiianOrOtherPacificIslander: false, white: true,
      demographicRaceTwoOrMoreRaces: true, hispanicOrLatinoEthnicity: true, countryOfBirthCode: 'GB', cityOfBirth: 'London',
    });
  });

  test('a missing required name part is a reject with the XML path and the source id', () => {
    const r = mapStudent({ StudentUniqueId: '9', Name: { LastSurname: 'X' } }, ctx());
    expect(r.reject).toEqual({
      location: 'F.xml:7', field: 'Student/Name/FirstName', reason: 'required FirstName is missing or empty', code: 'record_invalid',
      raw: { StudentUniqueId: '9', Name: { LastSurname: 'X' } }, sourceId: '9',
    });
    expect(mapStudent('', ctx()).reject).toMatchObject({ field: 'Student', reason: '<Student> is empty' });
  });
});

describe('education organizations', () => {
  test('parent by identity, by ref to an earlier element, or none; NCES code preferred as identifier', () => {
    const lea = mapOrg('LocalEducationAgency', { NameOfInstitution: 'D', LocalEducationAgencyId: '10', StateEducationAgencyReference: { StateEducationAgencyIdentity: { StateEducationAgencyId: '1' } } }, ctx());
    expect(lea.records![0]).toMatchObject({ type: 'org', sourceId: '10', data: { name: 'D', type: 'district', parentId: '1' } });
    const sch = mapOrg('School', {
      NameOfInstitution: 'S', SchoolId: '100',
      EducationOrganizationIdentificationCode: [
        { IdentificationCode: 'S-100', EducationOrganizationIdentificationSystem: 'uri://ed-fi.org/EducationOrganizationIdentificationSystemDescriptor#SEA' },
        { IdentificationCode: 'N-100', EducationOrganizationIdentificationSystem: 'uri://ed-fi.org/EducationOrganizationIdentificationSystemDescriptor#NCES' },
      ],
      LocalEducationAgencyReference: { '@ref': 'LEA' },
    }, ctx({}, { LEA: { LocalEducationAgencyId: '10' } }));
    expect(sch.records![0].data).toEqual({ name: 'S', type: 'school', identifier: 'N-100', parentId: '10' });
    expect(mapOrg('School', { SchoolId: '1' }, ctx()).reject).toMatchObject({ field: 'School/NameOfInstitution', sourceId: '1' });
  });
});

describe('assessments', () => {
  const a = { AssessmentIdentity: { AssessmentIdentifier: 'MATH', Namespace: 'uri://x/Assessment' } };

  test('ObjectiveAssessment: parent objective or assessment, learning standards of its own and of its items', () => {
    const el: XmlObject = {
      IdentificationCode: 'OA-1', Description: 'Fractions',
      AssessmentItemReference: { AssessmentItemIdentity: { IdentificationCode: 'Q1', AssessmentReference: a } },
      LearningStandardReference: { LearningStandardIdentity: { LearningStandardId: 'STD-0' } },
      ParentObjectiveAssessmentReference: { ObjectiveAssessmentIdentity: { IdentificationCode: 'OA', AssessmentReference: a } },
      AssessmentReference: a,
      AssessmentScore: { AssessmentReportingMethod: 'uri://ed-fi.org/AssessmentReportingMethodDescriptor#Raw score', MinimumScore: '0', MaximumScore: 'ten' },
    };
    const r = mapObjectiveAssessment(el, ctx({ itemStandards: new Map([['uri://x/Assessment|MATH|Q1', ['STD-1', 'STD-0']]]) }));
    expect(r.records![0]).toMatchObject({
      type: 'assessment', sourceId: 'uri://x/Assessment|MATH|OA-1',
      data: {
        title: 'Fractions', identifier: 'OA-1', namespace: 'uri://x/Assessment', parentId: 'uri://x/Assessment|MATH|OA',
        reportingMethods: [{ method: 'Raw score', min: 0 }],
        alignment: [{ ref: 'STD-0', source: 'edfi' }, { ref: 'STD-1', source: 'edfi' }],
      },
    });
    const top = mapObjectiveAssessment({ IdentificationCode: 'OA', AssessmentReference: a }, ctx());
    expect(top.records![0].data).toEqual({ title: 'OA', identifier: 'OA', namespace: 'uri://x/Assessment', parentId: 'uri://x/Assessment|MATH' });
  });

  test('StudentAssessment: scores, first performance level, objective and item results', () => {
    const el: XmlObject = {
      StudentAssessmentIdentifier: 'SA', AdministrationDate: '2025-01-02T08:00:00',
      ScoreResult: [
        { Result: '210', ResultDatatypeType: 'uri://ed-fi.org/ResultDatatypeTypeDescriptor#Integer', AssessmentReportingMethod: 'uri://ed-fi.org/AssessmentReportingMethodDescriptor#Scale score' },
        { Result: 'Proficient', ResultDatatypeType: 'uri://ed-fi.org/ResultDatatypeTypeDescriptor#Level', AssessmentReportingMethod: 'uri://ed-fi.org/AssessmentReportingMethodDescriptor#Proficiency level' },
      ],
      WhenAssessedGradeLevel: 'uri://ed-fi.org/GradeLevelDescriptor#Kindergarten',
      PerformanceLevel: [
        { PerformanceLevel: 'uri://ed-fi.org/PerformanceLevelDescriptor#Proficient', AssessmentReportingMethod: 'uri://ed-fi.org/AssessmentReportingMethodDescriptor#Scale score' },
        { PerformanceLevel: 'uri://ed-fi.org/PerformanceLevelDescriptor#Advanced', AssessmentReportingMethod: 'uri://ed-fi.org/AssessmentReportingMethodDescriptor#Percentile' },
      ],
      StudentReference: student('7'), AssessmentReference: a,
      StudentAssessmentItem: [
        { AssessmentItemResult: 'uri://ed-fi.org/AssessmentItemResultDescriptor#Incorrect', AssessmentItemReference: { AssessmentItemIdentity: { IdentificationCode: 'Q9', AssessmentReference: a } } },
      ],
      StudentObjectiveAssessment: { ScoreResult: { Result: '4', ResultDatatypeType: 'x', AssessmentReportingMethod: 'uri://ed-fi.org/AssessmentReportingMethodDescriptor#Raw score' }, ObjectiveAssessmentReference: { ObjectiveAssessmentIdentity: { IdentificationCode: 'OA-1', AssessmentReference: a } } },
    };
    expect(mapStudentAssessment(el, ctx()).records![0]).toMatchObject({
      type: 'assessmentResult', sourceId: 'uri://x/Assessment|MATH|7|SA',
      data: {
        assessmentId: 'uri://x/Assessment|MATH', personId: '7', administrationDate: '2025-01-02', gradeWhenAssessed: 'KG',
        scores: [{ method: 'Scale score', value: '210' }, { method: 'Proficiency level', value: 'Proficient' }],
        performanceLevel: { code: 'uri://ed-fi.org/PerformanceLevelDescriptor#Proficient', label: 'Proficient', method: 'Scale score' },
        objectiveResults: [
          { objective: 'OA-1', scores: [{ method: 'Raw score', value: '4' }] },
          { objective: 'item:Q9', scores: [{ method: 'item result', value: 'Incorrect' }] },
        ],
      },
    });
  });

  test('StudentAssessment without AdministrationDate -> reject naming StudentAssessment/AdministrationDate', () => {
    const r = mapStudentAssessment({ StudentAssessmentIdentifier: 'SA', StudentReference: student('7'), AssessmentReference: a }, ctx());
    expect(r.reject).toMatchObject({ location: 'F.xml:7', field: 'StudentAssessment/AdministrationDate', code: 'record_invalid', sourceId: 'uri://x/Assessment|MATH|7|SA' });
  });
});

describe('discipline', () => {
  const incident = { DisciplineIncidentIdentity: { IncidentIdentifier: '12', SchoolReference: school('100') } };

  test('behaviour and non-offender associations -> participants, roles from the participation codes', () => {
    const off = mapDisciplineParticipant('StudentDisciplineIncidentBehaviorAssociation', {
      StudentReference: student('7'), DisciplineIncidentReference: incident, Behavior: 'uri://ed-fi.org/BehaviorDescriptor#Fighting',
      DisciplineIncidentParticipationCode: ['uri://ed-fi.org/DisciplineIncidentParticipationCodeDescriptor#Perpetrator', 'uri://ed-fi.org/DisciplineIncidentParticipationCodeDescriptor#Victim'],
    }, ctx());
    expect(off.records![0]).toMatchObject({
      type: 'behaviourParticipant', sourceId: '100|12|7|uri://ed-fi.org/BehaviorDescriptor#Fighting',
      data: { incidentId: '100|12', personId: '7', role: 'Perpetrator, Victim', behaviours: [{ code: 'uri://ed-fi.org/BehaviorDescriptor#Fighting', label: 'Fighting', namespace: 'uri://ed-fi.org/BehaviorDescriptor' }] },
    });
    const non = mapDisciplineParticipant('StudentDisciplineIncidentNonOffenderAssociation', { StudentReference: student('8'), DisciplineIncidentReference: { '@ref': 'D12' } }, ctx({}, { D12: { IncidentIdentifier: '12', SchoolReference: school('100') } }));
    expect(non.records![0]).toMatchObject({ sourceId: '100|12|8|non-offender', data: { incidentId: '100|12', personId: '8' } });
    expect(non.records![0].data).not.toHaveProperty('role');
  });

  test('DisciplineAction: actions with descriptorMap codes, incident from the behaviour association', () => {
    const map = new Descriptors({ 'uri://ed-fi.org/DisciplineDescriptor#In School Suspension': 'ISS' });
    const r = mapDisciplineAction({
      DisciplineActionIdentifier: 'A1', Discipline: 'uri://ed-fi.org/DisciplineDescriptor#In School Suspension', DisciplineDate: '2022-01-18', DisciplineActionLength: '1.5',
      StudentReference: student('7'), ResponsibilitySchoolReference: school('100'),
      StudentDisciplineIncidentBehaviorAssociationReference: { StudentDisciplineIncidentBehaviorAssociationIdentity: { StudentReference: student('7'), DisciplineIncidentReference: incident, Behavior: 'x' } },
    }, ctx({}, {}, map));
    expect(r.records![0].data).toEqual({
      personId: '7', incidentId: '100|12', schoolId: '100', actionDate: '2022-01-18',
      actions: [{ code: 'ISS', label: 'In School Suspension', namespace: 'uri://ed-fi.org/DisciplineDescriptor' }], durationDays: 1.5,
    });
  });
});

describe('gradebook', () => {
  const section = { SectionIdentifier: 'S1', CourseOfferingReference: { CourseOfferingIdentity: { LocalCourseCode: 'ALG', SchoolReference: school('100'), SessionReference: { SessionIdentity: { SessionName: 'Fall', SchoolYear: '2021-2022', SchoolReference: school('100') } } } } };

  test('GradebookEntry with a SectionReference; without one, by SourceSectionIdentifier when one section matches', () => {
    const base = { GradebookEntryIdentifier: 'G1', Namespace: 'uri://x/G', SourceSectionIdentifier: 'S1', DateAssigned: '2021-08-23', Title: 'A1' };
    expect(mapGradebookEntry({ ...base, SectionReference: { SectionIdentity: section }, DueDate: '2021-08-24', DueTime: '23:59' }, ctx()).records![0]).toMatchObject({
      type: 'lineItem', sourceId: 'uri://x/G|G1',
      data: { title: 'A1', classId: '100|2021-2022|Fall|ALG|S1', schoolId: '100', assignDate: '2021-08-23T00:00:00Z', dueDate: '2021-08-24T23:59:00Z' },
    });
    const parts = { schoolId: '100', schoolYear: '2021-2022', sessionName: 'Fall', localCourseCode: 'ALG', sectionIdentifier: 'S1' };
    expect(mapGradebookEntry(base, ctx({ sectionsByIdentifier: new Map([['S1', [parts]]]) })).records![0].data.classId).toBe('100|2021-2022|Fall|ALG|S1');
    expect(mapGradebookEntry(base, ctx()).reject).toMatchObject({ field: 'GradebookEntry/SectionReference', code: 'reference_unresolved', reason: expect.stringContaining('no Section with SectionIdentifier "S1"') });
    expect(mapGradebookEntry(base, ctx({ sectionsByIdentifier: new Map([['S1', [parts, { ...parts, schoolId: '200' }]]]) })).reject!.reason).toContain('2 Sections have SectionIdentifier "S1"');
  });

  test('StudentGradebookEntry -> result; scoreStatus from SubmissionStatus or inferred', () => {
    const r = mapStudentGradebookEntry({
      GradebookEntryReference: { GradebookEntryIdentity: { GradebookEntryIdentifier: 'G1', Namespace: 'uri://x/G' } }, StudentReference: student('7'),
      NumericGradeEarned: '74.00', SubmissionStatus: 'uri://ed-fi.org/SubmissionStatusDescriptor#Graded', AssignmentLateStatus: 'uri://ed-fi.org/AssignmentLateStatusDescriptor#Not Late', DiagnosticStatement: 'Good work',
    }, ctx());
    expect(r.records![0]).toMatchObject({ type: 'result', sourceId: 'uri://x/G|G1|7', data: { lineItemId: 'uri://x/G|G1', personId: '7', scoreStatus: 'fully graded', score: 74, comment: 'Good work', late: false } });
    expect(scoreStatusOf(undefined, false, ds)).toBe('not submitted');
    expect(scoreStatusOf(undefined, true, ds)).toBe('fully graded');
    expect(scoreStatusOf('uri://ed-fi.org/SubmissionStatusDescriptor#Turned In', false, ds)).toBe('submitted');
    expect(scoreStatusOf('uri://ed-fi.org/SubmissionStatusDescriptor#Missing', false, ds)).toBe('not submitted');
    expect(scoreStatusOf('uri://x#Whatever', true, new Descriptors({ 'uri://x#Whatever': 'exempt' }))).toBe('exempt');
  });
});

describe('descriptor translations for enumerated fields', () => {
  test('grades to CEDS codes, sex, program types, session types, race flags', () => {
    expect(gradeCode('uri://ed-fi.org/GradeLevelDescriptor#Ninth grade', ds)).toBe('09');
    expect(gradeCode('uri://ed-fi.org/GradeLevelDescriptor#No grade level', ds)).toBe('No grade level');
    expect(gradeCode('uri://ed-fi.org/GradeLevelDescriptor#Ninth grade', new Descriptors({ 'uri://ed-fi.org/GradeLevelDescriptor#Ninth grade': '9' }))).toBe('9');
    expect(sexCode('uri://ed-fi.org/SexDescriptor#Not Selected', ds)).toBe('unspecified');
    expect(sexCode('uri://state/SexDescriptor#X (Nonbinary)', ds)).toBe('ext:X_Nonbinary_');
    expect(programTypeOf('uri://ed-fi.org/ProgramTypeDescriptor#Special Education', ds)).toBe('specialEducation');
    expect(programTypeOf('uri://ed-fi.org/ProgramTypeDescriptor#Section 504 Placement', ds)).toBe('section504');
    expect(programTypeOf('uri://ed-fi.org/ProgramTypeDescriptor#Title III Immigrant', ds)).toBe('englishLearner');
    expect(programTypeOf('uri://ed-fi.org/ProgramTypeDescriptor#Title I Part A', ds)).toBe('title1');
    expect(programTypeOf('uri://ed-fi.org/ProgramTypeDescriptor#Athletics', ds)).toBe('other');
    expect(sessionTypeOf('uri://ed-fi.org/TermDescriptor#Spring Semester', ds)).toBe('semester');
    expect(sessionTypeOf('uri://ed-fi.org/TermDescriptor#Year Round', ds)).toBe('schoolYear');
    expect(sessionTypeOf('uri://ed-fi.org/TermDescriptor#First Quarter', ds)).toBe('term');
    expect(raceFlag('uri://ed-fi.org/RaceDescriptor#American Indian - Alaska Native', ds)).toBe('americanIndianOrAlaskaNative');
    expect(raceFlag('uri://ed-fi.org/RaceDescriptor#Native Hawaiian - Pacific Islander', ds)).toBe('nativeHawaiianOrOtherPacificIslander');
    expect(raceFlag('uri://ed-fi.org/RaceDescriptor#Other', ds)).toBeUndefined();
    expect(raceFlag('uri://state/RaceDescriptor#AS', new Descriptors({ 'uri://state/RaceDescriptor#AS': 'asian' }))).toBe('asian');
  });

  test('program associations: specialized kinds say their type; descriptorMap wins', () => {
    const el = (type: string): XmlObject => ({
      StudentReference: student('7'),
      ProgramReference: { ProgramIdentity: { EducationOrganizationReference: { EducationOrganizationIdentity: { EducationOrganizationId: '10' } }, ProgramName: 'P', ProgramType: type } },
      BeginDate: '2025-01-01', EducationOrganizationReference: { EducationOrganizationIdentity: { EducationOrganizationId: '100' } },
    });
    expect(mapProgramAssociation('StudentSpecialEducationProgramAssociation', el('uri://x#RR'), ctx()).records![0].data).toEqual({
      personId: '7', schoolId: '100', program: 'P', programType: 'specialEducation', beginDate: '2025-01-01',
    });
    expect(mapProgramAssociation('StudentProgramAssociation', el('uri://x#RR'), ctx({}, {}, new Descriptors({ 'uri://x#RR': 'section504' }))).records![0].data.programType).toBe('section504');
  });
});
