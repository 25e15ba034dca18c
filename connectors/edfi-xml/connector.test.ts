/**
 * Contract tests for the edfi-xml connector: the Ed-Fi Grand Bend ISD sample interchanges (read from
 * ../shared/conformance/edfi/samples, skipped loudly when absent), the synthetic district in fixtures/edfi-xml/district
 * (interchanges the samples lack), broken files in fixtures/edfi-xml/broken, and variants written to a temp dir:
 * plan and skips, exact records and rejects, descriptor mapping, paging, cursors and resume, abort, check(), settings.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Ajv from 'ajv';
import { HubError } from '../../src/core/errors';
import { silentLogger } from '../../src/core/logger';
import { entityValidator } from '../../src/core/schemas';
import type { Cursor, Page, PlanContext, ReadContext, SourceRecord, SyncMode } from '../../src/ingest/contract';
import { edfiXml, type EdfiXmlSettings } from './index';

const FIXTURES = path.resolve(__dirname, '../../fixtures/edfi-xml');
const SAMPLES = path.resolve(__dirname, '../../../shared/conformance/edfi/samples');
const HAVE_SAMPLES = fs.existsSync(SAMPLES);
if (!HAVE_SAMPLES) {
  console.warn(`\n*** edfi-xml: SKIPPING the Grand Bend sample tests: ${SAMPLES} is absent. They are NOT passing, they did not run. ***\n`);
}
const describeSamples = HAVE_SAMPLES ? describe : describe.skip;

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edfi-xml-test-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function base(baseDir = FIXTURES, signal = new AbortController().signal) {
  return { tenantId: 't1', connectorId: 'edfi', baseDir, log: silentLogger, signal };
}
const planCtx = (cursors: Record<string, Cursor | undefined> = {}, baseDir = FIXTURES): PlanContext => ({ ...base(baseDir), cursors });
const readCtx = (mode: SyncMode = 'full', cursor?: Cursor, signal?: AbortSignal, baseDir = FIXTURES): ReadContext => ({
  ...base(baseDir, signal),
  mode,
  ...(cursor ? { cursor } : {}),
});

async function pages(stream: string, settings: EdfiXmlSettings, ctx: ReadContext = readCtx()): Promise<Page[]> {
  const out: Page[] = [];
  for await (const p of edfiXml.read(stream, settings, ctx)) out.push(p);
  return out;
}
async function records(stream: string, settings: EdfiXmlSettings, ctx?: ReadContext): Promise<SourceRecord[]> {
  return (await pages(stream, settings, ctx)).flatMap((p) => p.records);
}
const slim = (r: SourceRecord) => ({ type: r.type, sourceId: r.sourceId, location: r.location, data: r.data });
const noRaw = <T extends { raw?: unknown }>({ raw, ...r }: T) => r;

async function caught(p: Promise<unknown>): Promise<HubError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(HubError);
    return e as HubError;
  }
  throw new Error('expected a HubError');
}

const ALL_STREAMS = [
  'educationOrganizations', 'courses', 'sessions', 'sections', 'students', 'programs', 'assessments', 'assessmentResults',
  'disciplineIncidents', 'disciplineParticipants', 'disciplineActions', 'gradebookEntries', 'gradebookResults', 'attendance', 'interventions',
];

// ---------------------------------------------------------------------------------------------------------------

describe('manifest and settings', () => {
  test('id, kind, streams in dependency order, each with its entity types; config schema from schemas/connectors', () => {
    const m = edfiXml.manifest;
    expect(m.id).toBe('edfi-xml');
    expect(m.secretFields).toEqual([]);
    expect(m.streams.map((s) => [s.name, s.entities])).toEqual([
      ['educationOrganizations', ['org']],
      ['courses', ['course']],
      ['sessions', ['academicSession']],
      ['sections', ['class']],
      ['students', ['person', 'demographics']],
      ['programs', ['programParticipation']],
      ['assessments', ['assessment']],
      ['assessmentResults', ['assessmentResult']],
      ['disciplineIncidents', ['behaviourIncident']],
      ['disciplineParticipants', ['behaviourParticipant']],
      ['disciplineActions', ['disciplineAction']],
      ['gradebookEntries', ['lineItem']],
      ['gradebookResults', ['result']],
      ['attendance', ['attendanceEvent']],
      ['interventions', ['intervention']],
    ]);
    expect(m.streams.every((s) => s.modes.join() === 'full,incremental')).toBe(true);
    const file = path.resolve(__dirname, '../../schemas/connectors/edfi-xml.config.schema.json');
    expect(m.configSchema).toEqual(JSON.parse(fs.readFileSync(file, 'utf8')));
  });

  test('the config schema is strict draft-07 and says what the settings are', () => {
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
    const validate = ajv.compile(edfiXml.manifest.configSchema);
    expect(edfiXml.manifest.configSchema).toMatchObject({ $schema: 'http://json-schema.org/draft-07/schema#', $id: '/schemas/connectors/edfi-xml.config.schema.json', additionalProperties: false });
    expect(validate({ path: './edfi' })).toBe(true);
    expect(validate({ path: 'x', files: ['Student.xml'], pageSize: 50000, descriptorMap: { 'uri://ed-fi.org/SexDescriptor#Female': 'female' }, mode: 'incremental' })).toBe(true);
    for (const bad of [
      {}, { path: '' }, { path: 'x', pageSize: 0 }, { path: 'x', pageSize: 50001 }, { path: 'x', files: [] }, { path: 'x', files: ['a/b.xml'] }, { path: 'x', files: ['*.xml'] },
      { path: 'x', descriptorMap: { a: 1 } }, { path: 'x', descriptorMap: { a: '' } }, { path: 'x', mode: 'delta' }, { path: 'x', extra: 1 },
    ]) {
      expect(validate(bad)).toBe(false);
    }
  });

  test('invalid settings -> connector_config_invalid', async () => {
    expect((await caught(edfiXml.plan({ path: '' }, planCtx()))).code).toBe('connector_config_invalid');
    expect((await caught(edfiXml.plan({ path: 'district', pageSize: 0 }, planCtx()))).code).toBe('connector_config_invalid');
    expect((await caught(edfiXml.plan({ path: 'district', files: ['../x.xml'] }, planCtx()))).code).toBe('connector_config_invalid');
    expect((await caught(edfiXml.plan({ path: 'district', mode: 'delta' as SyncMode }, planCtx()))).code).toBe('connector_config_invalid');
    expect((await caught(edfiXml.plan({ path: 'district/Student.xml', files: ['Student.xml'] }, planCtx()))).code).toBe('connector_config_invalid');
  });
});

// ---------------------------------------------------------------------------------------------------------------

describeSamples(`Grand Bend ISD samples (${SAMPLES})`, () => {
  const s = { path: 'samples' };
  const ctx = () => readCtx('full', undefined, undefined, path.dirname(SAMPLES));
  const pctx = () => planCtx({}, path.dirname(SAMPLES));

  test('plan: streams with a file are read in full; the others are skipped with a reason', async () => {
    expect(await edfiXml.plan(s, pctx())).toEqual([
      { stream: 'educationOrganizations', mode: 'full' },
      { stream: 'courses', mode: 'full' },
      { stream: 'sessions', mode: 'incremental', skip: 'no InterchangeEducationOrgCalendar file' },
      { stream: 'sections', mode: 'incremental', skip: 'no InterchangeMasterSchedule file' },
      { stream: 'students', mode: 'full' },
      { stream: 'programs', mode: 'incremental', skip: 'no InterchangeStudentProgram file' },
      { stream: 'assessments', mode: 'full' },
      { stream: 'assessmentResults', mode: 'full' },
      { stream: 'disciplineIncidents', mode: 'full' },
      { stream: 'disciplineParticipants', mode: 'full' },
      { stream: 'disciplineActions', mode: 'full' },
      { stream: 'gradebookEntries', mode: 'full' },
      { stream: 'gradebookResults', mode: 'full' },
      { stream: 'attendance', mode: 'incremental', skip: 'no InterchangeStudentAttendance file' },
      { stream: 'interventions', mode: 'incremental', skip: 'no InterchangeStudentIntervention file' },
    ]);
  });

  test('counts per stream, no rejects, every record valid against its unified schema', async () => {
    const counts: Record<string, Record<string, number>> = {};
    for (const stream of ['educationOrganizations', 'courses', 'students', 'assessments', 'assessmentResults', 'disciplineIncidents', 'disciplineParticipants', 'disciplineActions', 'gradebookEntries', 'gradebookResults']) {
      const ps = await pages(stream, s, ctx());
      expect(ps.flatMap((p) => p.rejects ?? [])).toEqual([]);
      expect(ps[ps.length - 1].cursor).toMatchObject({ complete: true });
      for (const r of ps.flatMap((p) => p.records)) {
        (counts[stream] ??= {})[r.type] = (counts[stream][r.type] ?? 0) + 1;
        const validate = entityValidator(r.type);
        if (!validate({ ...r.data, id: 'u1' })) throw new Error(`${r.location}: ${JSON.stringify(validate.errors)}`);
      }
    }
    expect(counts).toEqual({
      educationOrganizations: { org: 9 },
      courses: { course: 84 },
      students: { person: 960, demographics: 960 },
      assessments: { assessment: 41 },
      assessmentResults: { assessmentResult: 41 },
      disciplineIncidents: { behaviourIncident: 21 },
      disciplineParticipants: { behaviourParticipant: 23 },
      disciplineActions: { disciplineAction: 25 },
      gradebookEntries: { lineItem: 10 },
      gradebookResults: { result: 250 },
    });
  });

  test('education organizations: parents first (ref="…" references resolved), types by element', async () => {
    expect((await records('educationOrganizations', s, ctx())).map((r) => [r.sourceId, r.data.type, r.data.parentId ?? null, r.location])).toEqual([
      ['255950', 'ext:educationServiceCenter', null, 'EducationOrganization.xml:3'],
      ['255901', 'district', '255950', 'EducationOrganization.xml:36'],
      ['255901001', 'school', '255901', 'EducationOrganization.xml:74'],
      ['255901044', 'school', '255901', 'EducationOrganization.xml:131'],
      ['255901107', 'school', '255901', 'EducationOrganization.xml:187'],
      ['19', 'ext:communityOrganization', null, 'EducationOrganization.xml:245'],
      ['19255901', 'ext:communityProvider', '19', 'EducationOrganization.xml:255'],
      ['6000203', 'ext:postSecondaryInstitution', null, 'EducationOrganization.xml:3373'],
      ['2559011', 'department', '255901', 'EducationOrganization.xml:3386'],
    ]);
  });

  test('a student: names, StudentUniqueId identifier, demographics with the birth date', async () => {
    const lisa = (await records('students', s, ctx())).filter((r) => r.sourceId === '604822');
    expect(lisa.map(slim)).toEqual([
      {
        type: 'person', sourceId: '604822', location: 'Student.xml:16',
        data: {
          givenName: 'Lisa', familyName: 'Woods', middleName: 'Sybil', preferredGivenName: 'Lisarae', preferredFamilyName: 'Woodlock',
          enabledUser: true, primaryRole: 'student', identifiers: [{ system: 'edfi:StudentUniqueId', value: '604822' }],
        },
      },
      { type: 'demographics', sourceId: '604822', location: 'Student.xml:16', data: { personId: '604822', birthDate: '2008-09-13' } },
    ]);
    // The raw payload is the element, already as the JSON the store keeps.
    expect(lisa[0].raw).toBeUndefined();
    expect(JSON.parse(lisa[0].rawJson!)).toMatchObject({ StudentUniqueId: '604822', Name: { PersonalTitlePrefix: 'Ms', FirstName: 'Lisa' } });
  });

  test('a StudentAssessment: scores, grade, performance level', async () => {
    const all = await records('assessmentResults', s, ctx());
    expect(slim(all.find((r) => r.sourceId.endsWith('|0CR2jJB43489mQDoOsxHJh7qGfZ8x4OUuyIm+/IK'))!)).toEqual({
      type: 'assessmentResult',
      sourceId: 'uri://ed-fi.org/Assessment/Assessment.xml|SAT Critical Reading|605472|0CR2jJB43489mQDoOsxHJh7qGfZ8x4OUuyIm+/IK',
      location: 'StudentAssessment-SAT.xml:3',
      data: {
        assessmentId: 'uri://ed-fi.org/Assessment/Assessment.xml|SAT Critical Reading', personId: '605472', administrationDate: '2021-05-01', gradeWhenAssessed: '12',
        scores: [
          { method: 'National College-Bound Percentile', value: '89' },
          { method: 'Raw score', value: '650' },
          { method: 'State College-Bound Percentile', value: '92' },
        ],
        performanceLevel: { code: 'uri://ed-fi.org/PerformanceLevelDescriptor#Met Standard', label: 'Met Standard', method: 'Raw score' },
      },
    });
  });

  test('assessments and objective assessments: reporting methods, levels, parents, learning standards from the items', async () => {
    const all = await records('assessments', s, ctx());
    const by = (id: string) => all.find((r) => r.sourceId === id)!;
    expect(by('uri://ed-fi.org/Assessment/Assessment.xml|SAT Critical Reading').data).toEqual({
      title: 'SAT', identifier: 'SAT Critical Reading', namespace: 'uri://ed-fi.org/Assessment/Assessment.xml', version: '2016', category: 'College entrance exam',
      subjects: ['Reading'], grades: ['12'],
      reportingMethods: [
        { method: 'National College-Bound Percentile', min: 1, max: 100, resultDatatype: 'Integer' },
        { method: 'Raw score', min: 200, max: 800, resultDatatype: 'Integer' },
        { method: 'State College-Bound Percentile', min: 1, max: 100, resultDatatype: 'Integer' },
      ],
      performanceLevels: [{ code: 'uri://ed-fi.org/PerformanceLevelDescriptor#Met Standard', label: 'Met Standard', method: 'Raw score', min: 480, max: 800 }],
    });
    expect(by('uri://ed-fi.org/Assessment|ACT-ABW|ACT-ABW-E-CSE').data).toMatchObject({ title: 'The ACT with Writing - English - Conventions of Standard English', parentId: 'uri://ed-fi.org/Assessment|ACT-ABW|ACT-ABW-E' });
    expect(by('uri://ed-fi.org/Assessment/Assessment.xml|MP-2013-Mathematics-Seventh grade|Seventh grade Mathematics-37').data.alignment).toEqual([
      { ref: 'CC.4.NF.1', source: 'edfi' }, { ref: 'CC.5.NBT.3', source: 'edfi' }, { ref: 'CC.6.NS.3', source: 'edfi' },
    ]);
    // Parents first: every parentId names a record yielded before it.
    const seen = new Set<string>();
    for (const r of all) {
      if (typeof r.data.parentId === 'string') expect(seen.has(r.data.parentId)).toBe(true);
      seen.add(r.sourceId);
    }
  });

  test('a discipline incident with its behaviours, its participants (ref="…" to the incident) and an action', async () => {
    const incident = (await records('disciplineIncidents', s, ctx())).find((r) => r.sourceId === '255901001|12')!;
    expect(slim(incident)).toEqual({
      type: 'behaviourIncident', sourceId: '255901001|12', location: 'StudentDiscipline.xml:39',
      data: {
        schoolId: '255901001', incidentDate: '2021-10-21', incidentTime: '15:10:00', location: 'Classroom',
        behaviours: [{ code: 'uri://ed-fi.org/BehaviorDescriptor#School Code of Conduct', label: 'School Code of Conduct', namespace: 'uri://ed-fi.org/BehaviorDescriptor' }],
        reporterName: 'Rodriguez, Efrain',
      },
    });
    const participants = await records('disciplineParticipants', s, ctx());
    expect(participants.filter((r) => r.data.incidentId === '255901001|12').map(slim)).toEqual([
      {
        type: 'behaviourParticipant', sourceId: '255901001|12|604892|uri://ed-fi.org/BehaviorDescriptor#School Code of Conduct', location: 'StudentDiscipline.xml:802',
        data: { incidentId: '255901001|12', personId: '604892', role: 'Perpetrator', behaviours: [incident.data.behaviours && (incident.data.behaviours as unknown[])[0]] },
      },
    ]);
    expect(participants.filter((r) => r.sourceId.endsWith('|non-offender')).map((r) => [r.sourceId, r.data.role])).toEqual([
      ['255901107|1|605275|non-offender', 'Witness'],
      ['255901107|2|605565|non-offender', 'Witness'],
    ]);
    const action = (await records('disciplineActions', s, ctx())).find((r) => r.sourceId === '604848|18|2022-01-18')!;
    expect(action.data).toEqual({
      personId: '604848', incidentId: '255901001|18', schoolId: '255901001', actionDate: '2022-01-18',
      actions: [{ code: 'uri://ed-fi.org/DisciplineDescriptor#In School Suspension', label: 'In School Suspension', namespace: 'uri://ed-fi.org/DisciplineDescriptor' }],
      durationDays: 3, actualDurationDays: 3,
    });
  });

  test('a gradebook entry (class = its section) and a student result', async () => {
    const entry = (await records('gradebookEntries', s, ctx()))[0];
    expect(slim(entry)).toEqual({
      type: 'lineItem', sourceId: 'uri://ed-fi.org/GradebookEntry/GradebookEntry.xml|8907100001', location: 'StudentGradebook.xml:3',
      data: {
        title: 'Assignment 1', classId: '255901001|2021-2022|2021-2022 Fall Semester|ALG-1|25590100102Trad220ALG112011', schoolId: '255901001',
        assignDate: '2021-08-23T00:00:00Z', dueDate: '2021-08-24T00:00:00Z',
      },
    });
    const results = await records('gradebookResults', s, ctx());
    expect(slim(results[0])).toEqual({
      type: 'result', sourceId: 'uri://ed-fi.org/GradebookEntry/GradebookEntry.xml|8907100001|604822', location: 'StudentGradebook.xml:341',
      data: { lineItemId: entry.sourceId, personId: '604822', scoreStatus: 'fully graded', score: 74, late: false },
    });
    expect(results.filter((r) => r.data.late === true)).toHaveLength(25);
  });

  test('check(): lists the interchanges, the streams they feed and the files not read', async () => {
    const r = await edfiXml.check(s, base(path.dirname(SAMPLES)));
    expect(r.ok).toBe(true);
    const details = (r as { details: string }).details;
    expect(details).toMatch(/^11 Ed-Fi interchange file\(s\): AssessmentMetadata-LearningStandardsMastery.xml \(InterchangeAssessmentMetadata\), /);
    expect(details).toContain('streams: educationOrganizations, courses, students, assessments, assessmentResults, disciplineIncidents, disciplineParticipants, disciplineActions, gradebookEntries, gradebookResults');
    expect(details).toContain('not read: StudentProgramEvaluation.xml (InterchangeStudentProgramEvaluation)');
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('synthetic district: interchanges the samples lack', () => {
  const s = { path: 'district' };

  test('plan: every stream has a file and is read in full', async () => {
    expect(await edfiXml.plan(s, planCtx())).toEqual(ALL_STREAMS.map((stream) => ({ stream, mode: 'full' })));
  });

  test('every record is valid against its unified schema', async () => {
    for (const stream of ALL_STREAMS) {
      for (const r of await records(stream, s)) {
        const validate = entityValidator(r.type);
        if (!validate({ ...r.data, id: 'u1' })) throw new Error(`${stream} ${r.location}: ${JSON.stringify(validate.errors)}`);
      }
    }
  });

  test('sessions and grading periods -> academic sessions', async () => {
    expect((await records('sessions', s)).map(slim)).toEqual([
      {
        type: 'academicSession', sourceId: 'gradingPeriod|990001|2025-2026|uri://ed-fi.org/GradingPeriodDescriptor#First Six Weeks|2025-2026 Fall Semester Period 1', location: 'EducationOrgCalendar.xml:3',
        data: { title: '2025-2026 Fall Semester Period 1', type: 'gradingPeriod', startDate: '2025-08-25', endDate: '2025-10-03', schoolYear: '2026' },
      },
      {
        type: 'academicSession', sourceId: 'session|990001|2025-2026|2025-2026 Fall Semester', location: 'EducationOrgCalendar.xml:13',
        data: { title: '2025-2026 Fall Semester', type: 'semester', startDate: '2025-08-25', endDate: '2025-12-19', schoolYear: '2026' },
      },
    ]);
  });

  test('sections -> classes with course (from the CourseOffering), school, term; an unknown offering is a reject', async () => {
    const ps = await pages('sections', s);
    expect(ps.flatMap((p) => p.records).map(slim)).toEqual([
      {
        type: 'class', sourceId: '990001|2025-2026|2025-2026 Fall Semester|MATH-6|M6-01', location: 'MasterSchedule.xml:11',
        data: {
          title: 'Math 6 - Section 1', classCode: 'M6-01', classType: 'scheduled', location: 'Room 12', courseId: '9900|MATH-6', schoolId: '990001',
          termIds: ['session|990001|2025-2026|2025-2026 Fall Semester'], grades: ['06'], periods: ['Period 2'],
        },
      },
      {
        type: 'class', sourceId: '990001|2025-2026|2025-2026 Fall Semester|MATH-6|M6-02', location: 'MasterSchedule.xml:18',
        data: { title: 'Math 6 (Fall) - M6-02', classCode: 'M6-02', classType: 'scheduled', courseId: '9900|MATH-6', schoolId: '990001', termIds: ['session|990001|2025-2026|2025-2026 Fall Semester'], grades: ['06'] },
      },
    ]);
    expect(ps.flatMap((p) => p.rejects ?? []).map(noRaw)).toEqual([
      {
        location: 'MasterSchedule.xml:22', field: 'Section/CourseOfferingReference', code: 'reference_unresolved', sourceId: '990001|2025-2026|2025-2026 Fall Semester|ART-6|ART-01',
        reason: 'course offering ART-6 (school 990001, session "2025-2026 Fall Semester" 2025-2026) is not in the MasterSchedule files: the class\'s course cannot be determined',
      },
    ]);
  });

  test('students: identification codes, sex and races from StudentEducationOrganizationAssociation; entities and CDATA decoded', async () => {
    const ps = await pages('students', s);
    // One page: persons first, then the demographics that refer to them.
    expect(ps.flatMap((p) => p.records).map((r) => [r.type, r.sourceId, r.data])).toEqual([
      ['person', 'S-1001', {
        givenName: 'Zoë', familyName: 'Lindqvist & Ortega', middleName: 'Åsa', preferredGivenName: 'Zo', enabledUser: true, primaryRole: 'student',
        identifiers: [{ system: 'edfi:StudentUniqueId', value: 'S-1001' }, { system: 'State', value: 'ST-778899' }, { system: '9900', value: 'L-1001' }],
      }],
      ['person', 'S-1002', { givenName: 'Mateo', familyName: 'Núñez', enabledUser: true, primaryRole: 'student', identifiers: [{ system: 'edfi:StudentUniqueId', value: 'S-1002' }, { system: 'District', value: 'D-1002' }] }],
      ['demographics', 'S-1001', {
        personId: 'S-1001', birthDate: '2014-03-09', sex: 'female', americanIndianOrAlaskaNative: false, asian: true, blackOrAfricanAmerican: false,
        nativeHawaiianOrOtherPacificIslander: false, white: true, demographicRaceTwoOrMoreRaces: true, hispanicOrLatinoEthnicity: false,
        countryOfBirthCode: 'US', stateOfBirthAbbreviation: 'WA', cityOfBirth: 'Spokane',
      }],
      ['demographics', 'S-1002', { personId: 'S-1002', birthDate: '2013-11-30', sex: 'male', hispanicOrLatinoEthnicity: true }],
    ]);
    expect(ps.flatMap((p) => p.rejects ?? []).map(noRaw)).toEqual([
      { location: 'Student.xml:29', field: 'Student/Name/FirstName', code: 'record_invalid', reason: 'required FirstName is missing or empty', sourceId: 'S-1003' },
    ]);
  });

  test('programs: type from the specialized association or the ProgramType; a bad date is a reject', async () => {
    const ps = await pages('programs', s);
    expect(ps.flatMap((p) => p.records).map((r) => r.data)).toEqual([
      { personId: 'S-1001', schoolId: '990001', program: 'Gifted and Talented', programType: 'giftedTalented', beginDate: '2025-08-25' },
      { personId: 'S-1002', schoolId: '990001', program: 'Resource Room', programType: 'specialEducation', beginDate: '2024-09-03', endDate: '2025-06-13', reasonExited: 'Program completion' },
    ]);
    expect(ps.flatMap((p) => p.rejects ?? []).map(noRaw)).toEqual([
      { location: 'StudentProgram.xml:26', field: 'StudentProgramAssociation/BeginDate', code: 'row_malformed', reason: 'BeginDate must be a date YYYY-MM-DD, found "2025-13-01"' },
    ]);
  });

  test('assessment results: objective and item results; missing AdministrationDate, unresolved ref, unknown reference shape, bad date', async () => {
    const ps = await pages('assessmentResults', s);
    expect(ps.flatMap((p) => p.records).map(slim)).toEqual([
      {
        type: 'assessmentResult', sourceId: 'uri://example.org/Assessment|MV-MATH-6-BOY|S-1001|SA-1', location: 'StudentAssessment.xml:6',
        data: {
          assessmentId: 'uri://example.org/Assessment|MV-MATH-6-BOY', personId: 'S-1001', schoolId: '990001', administrationDate: '2025-09-10', gradeWhenAssessed: '06',
          scores: [{ method: 'Scale score', value: '212' }],
          performanceLevel: { code: 'uri://ed-fi.org/PerformanceLevelDescriptor#Proficient', label: 'Proficient', method: 'Scale score' },
          objectiveResults: [
            { objective: 'MV-M6-NS', scores: [{ method: 'Raw score', value: '8' }], performanceLevel: { code: 'uri://ed-fi.org/PerformanceLevelDescriptor#Advanced', label: 'Advanced', method: 'Raw score' } },
            { objective: 'item:Q1', scores: [{ method: 'item result', value: 'Correct' }, { method: 'raw score', value: '1' }] },
          ],
        },
      },
    ]);
    expect(ps.flatMap((p) => p.rejects ?? []).map(noRaw)).toEqual([
      {
        location: 'StudentAssessment.xml:40', field: 'StudentAssessment/AdministrationDate', code: 'record_invalid', sourceId: 'uri://example.org/Assessment|MV-MATH-6-BOY|S-1002|SA-2',
        reason: 'required AdministrationDate is missing or empty (the unified assessment result needs the day it was taken)',
      },
      { location: 'StudentAssessment.xml:46', field: 'StudentAssessment/AssessmentReference', code: 'reference_unresolved', reason: 'AssessmentReference ref="EOY" names no element with that id earlier in this file' },
      { location: 'StudentAssessment.xml:52', field: 'StudentAssessment/StudentReference', code: 'record_invalid', reason: 'StudentReference is empty: expected <StudentIdentity> or a ref="…" attribute' },
      {
        location: 'StudentAssessment.xml:58', field: 'StudentAssessment/AdministrationDate', code: 'row_malformed', sourceId: 'uri://example.org/Assessment|MV-MATH-6-BOY|S-1002|SA-5',
        reason: 'AdministrationDate must be a date-time YYYY-MM-DDThh:mm:ss, found "10/09/2025"',
      },
    ]);
    expect(ps.flatMap((p) => p.rejects ?? [])[0].raw).toMatchObject({ StudentAssessmentIdentifier: 'SA-2', AssessmentReference: { '@ref': 'BOY' } });
  });

  test('assessments: objective assessments after their parents (the file lists children first), alignment from items', async () => {
    expect((await records('assessments', s)).map((r) => [r.sourceId, r.data.parentId ?? null, r.data.alignment ?? null])).toEqual([
      ['uri://example.org/Assessment|MV-MATH-6-BOY', null, [{ ref: 'CC.6.NS.1', source: 'edfi' }]],
      ['uri://example.org/Assessment|MV-MATH-6-BOY|MV-M6-NS', 'uri://example.org/Assessment|MV-MATH-6-BOY', [{ ref: 'CC.6.NS', source: 'edfi' }]],
      ['uri://example.org/Assessment|MV-MATH-6-BOY|MV-M6-NS-1', 'uri://example.org/Assessment|MV-MATH-6-BOY|MV-M6-NS', [{ ref: 'CC.6.NS.1', source: 'edfi' }]],
    ]);
  });

  test('gradebook: entry with section, grading period and standard; entry resolved by SourceSectionIdentifier; unresolvable class rejected', async () => {
    const ps = await pages('gradebookEntries', s);
    expect(ps.flatMap((p) => p.records).map((r) => [r.sourceId, r.data])).toEqual([
      ['uri://example.org/Gradebook|HW-1', {
        title: 'Fractions homework', description: 'Exercises 1-20', classId: '990001|2025-2026|2025-2026 Fall Semester|MATH-6|M6-01', schoolId: '990001',
        gradingPeriodId: 'gradingPeriod|990001|2025-2026|uri://ed-fi.org/GradingPeriodDescriptor#First Six Weeks|2025-2026 Fall Semester Period 1',
        assignDate: '2025-09-02T00:00:00Z', dueDate: '2025-09-05T08:30:00Z', resultValueMax: 20, alignment: [{ ref: 'CC.6.NS.1', source: 'edfi' }],
      }],
      ['uri://example.org/Gradebook|QZ-1', { title: 'Quiz 1', classId: '990001|2025-2026|2025-2026 Fall Semester|MATH-6|M6-02', schoolId: '990001', assignDate: '2025-09-08T00:00:00Z' }],
    ]);
    expect(ps.flatMap((p) => p.rejects ?? []).map(noRaw)).toEqual([
      {
        location: 'StudentGradebook.xml:29', field: 'GradebookEntry/SectionReference', code: 'reference_unresolved', sourceId: 'uri://example.org/Gradebook|QZ-2',
        reason: 'no SectionReference, and no Section with SectionIdentifier "SCI-9" (SourceSectionIdentifier) in the MasterSchedule files: the line item\'s class cannot be determined',
      },
    ]);
    expect((await records('gradebookResults', s)).map((r) => r.data)).toEqual([
      { lineItemId: 'uri://example.org/Gradebook|HW-1', personId: 'S-1001', scoreStatus: 'fully graded', score: 18, textScore: 'A-', scoreDate: '2025-09-05T00:00:00Z', late: true },
      { lineItemId: 'uri://example.org/Gradebook|QZ-1', personId: 'S-1002', scoreStatus: 'not submitted', missing: true },
    ]);
  });

  test('attendance: school and section events; a lookup without StudentUniqueId is a reject', async () => {
    const ps = await pages('attendance', s);
    expect(ps.flatMap((p) => p.records).map((r) => [r.sourceId, r.data])).toEqual([
      ['school|990001|2025-2026|2025-2026 Fall Semester|S-1001|2025-09-15|uri://ed-fi.org/AttendanceEventCategoryDescriptor#Excused Absence',
        { personId: 'S-1001', schoolId: '990001', date: '2025-09-15', category: 'Excused Absence', reason: 'Dentist appointment', minutes: 390 }],
      ['section|990001|2025-2026|2025-2026 Fall Semester|MATH-6|M6-01|S-1002|2025-09-16|uri://ed-fi.org/AttendanceEventCategoryDescriptor#Tardy',
        { personId: 'S-1002', schoolId: '990001', classId: '990001|2025-2026|2025-2026 Fall Semester|MATH-6|M6-01', date: '2025-09-16', category: 'Tardy', minutes: 40 }],
    ]);
    expect(ps.flatMap((p) => p.rejects ?? []).map(noRaw)).toEqual([
      { location: 'StudentAttendance.xml:23', field: 'StudentSchoolAttendanceEvent/StudentReference', code: 'record_invalid', reason: 'StudentReference does not give the StudentUniqueId' },
    ]);
  });

  test('interventions: joined with their Intervention (even one further down the file, by ref); an unknown one is a reject', async () => {
    const ps = await pages('interventions', s);
    expect(ps.flatMap((p) => p.records).map((r) => [r.sourceId, r.data])).toEqual([
      ['990001|READ-FLUENCY-6|S-1002', { personId: 'S-1002', schoolId: '990001', title: 'READ-FLUENCY-6', category: 'Instructional', description: 'Reading fluency below benchmark', startDate: '2025-09-01', endDate: '2025-12-19' }],
      ['990001|READ-FLUENCY-6|S-1001', { personId: 'S-1001', schoolId: '990001', title: 'READ-FLUENCY-6', category: 'Instructional', startDate: '2025-09-01', endDate: '2025-12-19', outcome: 'Positive Effect' }],
    ]);
    expect(ps.flatMap((p) => p.rejects ?? []).map(noRaw)).toEqual([
      {
        location: 'StudentIntervention.xml:31', field: 'StudentInterventionAssociation/InterventionReference', code: 'reference_unresolved', sourceId: '990001|MATH-LAB|S-1001',
        reason: 'intervention "MATH-LAB" of organization 990001 is not in the StudentIntervention files: its dates and class are unknown',
      },
    ]);
  });

  test('discipline: ref="…" to an earlier incident resolves; one to an incident further down the file is a reject', async () => {
    expect((await records('disciplineIncidents', s)).map((r) => [r.sourceId, r.data])).toEqual([
      ['990001|INC-1', {
        schoolId: '990001', incidentDate: '2025-10-02', incidentTime: '12:15:00', location: 'Cafeteria area', description: 'Food thrown during lunch.',
        behaviours: [{ code: 'uri://example.org/BehaviorDescriptor#Disruption', label: 'Disruption', namespace: 'uri://example.org/BehaviorDescriptor' }],
      }],
      ['990001|INC-2', { schoolId: '990001', incidentDate: '2025-10-09' }],
    ]);
    const ps = await pages('disciplineParticipants', s);
    expect(ps.flatMap((p) => p.records).map((r) => [r.sourceId, r.data.incidentId, r.data.personId, r.data.role ?? null])).toEqual([
      ['990001|INC-1|S-1002|uri://example.org/BehaviorDescriptor#Disruption', '990001|INC-1', 'S-1002', 'Perpetrator'],
      ['990001|INC-1|S-1001|non-offender', '990001|INC-1', 'S-1001', 'Witness'],
    ]);
    expect(ps.flatMap((p) => p.rejects ?? []).map(noRaw)).toEqual([
      {
        location: 'StudentDiscipline.xml:25', field: 'StudentDisciplineIncidentBehaviorAssociation/DisciplineIncidentReference', code: 'reference_unresolved',
        reason: 'DisciplineIncidentReference ref="INC_2" names no element with that id earlier in this file',
      },
    ]);
    expect((await records('disciplineActions', s)).map((r) => [r.sourceId, r.data])).toEqual([
      ['S-1002|ACT-1|2025-10-03', {
        personId: 'S-1002', incidentId: '990001|INC-1', schoolId: '990001', actionDate: '2025-10-03',
        actions: [
          { code: 'uri://ed-fi.org/DisciplineDescriptor#Detention', label: 'Detention', namespace: 'uri://ed-fi.org/DisciplineDescriptor' },
          { code: 'uri://ed-fi.org/DisciplineDescriptor#Parent conference', label: 'Parent conference', namespace: 'uri://ed-fi.org/DisciplineDescriptor' },
        ],
        durationDays: 1,
      }],
    ]);
  });

  test('descriptorMap: mapped codes replace the URI in code fields and the label in text fields', async () => {
    const mapped = {
      ...s,
      descriptorMap: {
        'uri://ed-fi.org/AttendanceEventCategoryDescriptor#Excused Absence': 'EXCUSED',
        'URI://ED-FI.ORG/GRADELEVELDESCRIPTOR#SIXTH GRADE': '6',
        'uri://ed-fi.org/PerformanceLevelDescriptor#Proficient': 'L3',
        'uri://example.org/SexDescriptor#M': 'other',
      },
    };
    expect((await records('attendance', mapped))[0].data.category).toBe('EXCUSED');
    const result = (await records('assessmentResults', mapped))[0];
    expect(result.data).toMatchObject({ gradeWhenAssessed: '6', performanceLevel: { code: 'L3', label: 'Proficient' } });
    expect((await records('students', mapped)).find((r) => r.type === 'demographics' && r.sourceId === 'S-1002')!.data.sex).toBe('other');
  });

  test('one file as path; the files setting picks files; a listed file that is missing is source_not_found', async () => {
    expect((await records('students', { path: 'district/Student.xml' })).map((r) => r.sourceId)).toEqual(['S-1001', 'S-1002', 'S-1001', 'S-1002']);
    expect((await edfiXml.plan({ path: 'district', files: ['Student.xml'] }, planCtx())).filter((p) => !p.skip).map((p) => p.stream)).toEqual(['students']);
    const e = await caught(edfiXml.plan({ path: 'district', files: ['Student.xml', 'Nope.xml'] }, planCtx()));
    expect(e.code).toBe('source_not_found');
    expect(e.message).toContain('"Nope.xml"');
    expect((await caught(edfiXml.plan({ path: 'nowhere' }, planCtx()))).code).toBe('source_not_found');
  });

  test('reading a stream with no file is a source error', async () => {
    const e = await caught(pages('attendance', { path: 'district/Student.xml' }));
    expect(e.code).toBe('source_invalid');
    expect(e.message).toContain('stream attendance has nothing to read: no InterchangeStudentAttendance file');
  });

  test('mode incremental: every stream is planned incremental (the runtime never sweeps)', async () => {
    expect((await edfiXml.plan({ ...s, mode: 'incremental' }, planCtx())).map((p) => p.mode)).toEqual(ALL_STREAMS.map(() => 'incremental'));
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('broken files', () => {
  test('truncated: the complete elements are handed over, then source_invalid naming the file and line', async () => {
    const seen: Page[] = [];
    const err = await caught(
      (async () => {
        for await (const p of edfiXml.read('assessmentResults', { path: 'broken/truncated-StudentAssessment.xml' }, readCtx())) seen.push(p);
      })(),
    );
    expect(seen.map((p) => [p.records.map((r) => r.sourceId), p.cursor])).toEqual([
      [['uri://example.org/Assessment|MV-MATH-6-BOY|S-1001|T-1', 'uri://example.org/Assessment|MV-MATH-6-BOY|S-1002|T-2'], { fingerprint: expect.any(String), element: 2, complete: false }],
    ]);
    expect(err.code).toBe('source_invalid');
    expect(err.message).toMatch(/^truncated-StudentAssessment\.xml:31:0: XML is truncated or malformed at line 31, column 0: /);
    expect(err.details).toEqual([{ path: 'truncated-StudentAssessment.xml:31:0', message: expect.stringMatching(/^XML is truncated or malformed at line 31/) }]);
  });

  test('malformed in the middle: elements before the error are handed over', async () => {
    const seen: Page[] = [];
    const err = await caught(
      (async () => {
        for await (const p of edfiXml.read('assessmentResults', { path: 'broken/malformed-StudentAssessment.xml' }, readCtx())) seen.push(p);
      })(),
    );
    expect(seen.flatMap((p) => p.records).map((r) => r.sourceId)).toEqual(['uri://example.org/Assessment|MV-MATH-6-BOY|S-1001|T-1']);
    expect(err.details[0].path).toMatch(/^malformed-StudentAssessment\.xml:21:\d+$/);
    expect(err.message).toContain('XML is truncated or malformed at line 21');
  });

  test('a file whose root is not an Ed-Fi interchange, another namespace, an empty file -> source_invalid', async () => {
    const notEdfi = await caught(edfiXml.plan({ path: 'broken/not-edfi-catalog.xml' }, planCtx()));
    expect(notEdfi.code).toBe('source_invalid');
    expect(notEdfi.details).toEqual([{ path: 'not-edfi-catalog.xml:2', message: 'the root element is <catalog>, not an Ed-Fi interchange (<Interchange…>)' }]);
    const ns = await caught(edfiXml.plan({ path: 'broken/wrong-namespace-Student.xml' }, planCtx()));
    expect(ns.details[0].message).toBe('the root element <InterchangeStudent> is in namespace http://example.org/not-edfi, not an Ed-Fi one (http://ed-fi.org/…)');
    const empty = await caught(edfiXml.plan({ path: 'broken/empty.xml' }, planCtx()));
    expect(empty.code).toBe('source_invalid');
    expect(empty.message).toContain('the file is empty');
  });

  test('a folder mixing interchanges with a non-interchange file: plan refuses it, check() says so', async () => {
    expect((await caught(edfiXml.plan({ path: 'broken' }, planCtx()))).code).toBe('source_invalid');
    const r = await edfiXml.check({ path: 'broken' }, base());
    expect(r).toMatchObject({ ok: true, details: expect.stringContaining('problems (a sync refuses these files; exclude them with "files"): ') });
    expect(await edfiXml.check({ path: 'broken', files: ['not-edfi-catalog.xml', 'empty.xml'] }, base())).toMatchObject({ ok: false, error: { code: 'source_invalid' } });
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('paging and cursors', () => {
  function copyDistrict(name: string): string {
    const dir = path.join(tmp, name);
    fs.cpSync(path.join(FIXTURES, 'district'), dir, { recursive: true });
    return dir;
  }

  test('pages hold at most pageSize items; an element\'s records stay together; the cursor names the last element covered', async () => {
    const ps = await pages('students', { path: 'district', pageSize: 3 });
    expect(ps.map((p) => [p.records.map((r) => `${r.type}:${r.sourceId}`), (p.rejects ?? []).map((r) => r.sourceId), p.cursor?.element, p.cursor?.complete])).toEqual([
      [['person:S-1001', 'demographics:S-1001'], [], 1, false],
      [['person:S-1002', 'demographics:S-1002'], ['S-1003'], 3, true],
    ]);
    // Types are ordered within a page (persons before the demographics that refer to them).
    const one = await pages('students', { path: 'district', pageSize: 4 });
    expect(one[0].records.map((r) => `${r.type}:${r.sourceId}`)).toEqual(['person:S-1001', 'person:S-1002', 'demographics:S-1001', 'demographics:S-1002']);
  });

  test('a complete cursor with the same fingerprint skips the stream; a changed file (or a changed join file) reads it again', async () => {
    const dir = copyDistrict('unchanged');
    const last = (ps: Page[]) => ps[ps.length - 1].cursor!;
    const students = last(await pages('students', { path: dir }));
    const sections = last(await pages('sections', { path: dir }));
    const plan = await edfiXml.plan({ path: dir }, planCtx({ students, sections }));
    expect(plan.find((p) => p.stream === 'students')).toEqual({ stream: 'students', mode: 'full', skip: 'unchanged since last run (Student.xml, StudentEnrollment.xml)' });
    expect(plan.find((p) => p.stream === 'sections')).toEqual({ stream: 'sections', mode: 'full', skip: 'unchanged since last run (MasterSchedule.xml)' });
    expect(plan.find((p) => p.stream === 'courses')).toEqual({ stream: 'courses', mode: 'full' });
    expect((await edfiXml.plan({ path: dir }, planCtx({ students: { ...students, complete: false } }))).find((p) => p.stream === 'students')?.skip).toBeUndefined();
    // The join file (StudentEnrollment.xml) is part of the students fingerprint.
    const seoa = path.join(dir, 'StudentEnrollment.xml');
    fs.utimesSync(seoa, new Date(), new Date(Date.now() + 5000));
    expect((await edfiXml.plan({ path: dir }, planCtx({ students }))).find((p) => p.stream === 'students')?.skip).toBeUndefined();
  });

  test('incremental: an incomplete cursor of the same files resumes after its element, across files', async () => {
    const dir = copyDistrict('resume');
    const fixed = fs.readFileSync(path.join(FIXTURES, 'broken/malformed-StudentAssessment.xml'), 'utf8').replace('</ScoreResults>', '</ScoreResult>');
    fs.writeFileSync(path.join(dir, 'StudentAssessment2.xml'), fixed);
    const settings = { path: dir, pageSize: 1, files: ['StudentAssessment.xml', 'StudentAssessment2.xml'] };
    const all = await pages('assessmentResults', settings, readCtx('incremental'));
    expect(all.map((p) => [p.records.map((r) => r.sourceId.split('|').pop()), (p.rejects ?? []).length, p.cursor?.element, p.cursor?.complete])).toEqual([
      [['SA-1'], 0, 2, false],
      [[], 1, 3, false],
      [[], 1, 4, false],
      [[], 1, 5, false],
      [[], 1, 6, false],
      [['T-1'], 0, 7, false],
      [['T-2'], 0, 8, false],
      [['T-3'], 0, 9, true],
    ]);
    const resumed = await pages('assessmentResults', settings, readCtx('incremental', all[4].cursor));
    expect(resumed.map((p) => [p.records.map((r) => r.sourceId.split('|').pop()), p.cursor?.element, p.cursor?.complete])).toEqual([
      [['T-1'], 7, false],
      [['T-2'], 8, false],
      [['T-3'], 9, true],
    ]);
    // Another fingerprint, or full mode: from the start.
    expect((await records('assessmentResults', settings, readCtx('incremental', { ...all[4].cursor!, fingerprint: 'fs:0:x' }))).length).toBe(4);
    expect((await records('assessmentResults', settings, readCtx('full', all[4].cursor))).length).toBe(4);
  });

  test('a resumed read still resolves ref="…" to elements before the cursor', async () => {
    const all = await pages('assessmentResults', { path: 'district', pageSize: 1 }, readCtx('incremental'));
    const resumed = await pages('assessmentResults', { path: 'district', pageSize: 1 }, readCtx('incremental', all[0].cursor));
    // BOY is declared (element 1) before the first page's cursor; SA-2..SA-5 keep their own rejects, not new ones.
    expect(resumed.flatMap((p) => p.rejects ?? []).map((r) => r.reason)).toEqual(all.slice(1).flatMap((p) => p.rejects ?? []).map((r) => r.reason));
  });

  test('buffered streams (educationOrganizations, assessments): intermediate cursors say element 0', async () => {
    const ps = await pages('educationOrganizations', { path: 'district', pageSize: 2 });
    expect(ps.map((p) => [p.records.map((r) => r.sourceId), p.cursor?.element, p.cursor?.complete])).toEqual([
      [['99', '9900'], 0, false],
      [['990001'], 4, true],
    ]);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('abort', () => {
  function bigFile(n: number): string {
    const dir = path.join(tmp, `big-${n}`);
    fs.mkdirSync(dir, { recursive: true });
    const el = (i: number) =>
      `<Student><StudentUniqueId>${i}</StudentUniqueId><Name><FirstName>F${i}</FirstName><LastSurname>L${i}</LastSurname></Name><BirthData><BirthDate>2014-01-01</BirthDate></BirthData></Student>\n`;
    const parts = ['<?xml version="1.0"?>\n<InterchangeStudent xmlns="http://ed-fi.org/5.0.0">\n'];
    for (let i = 0; i < n; i++) parts.push(el(i));
    parts.push('</InterchangeStudent>\n');
    fs.writeFileSync(path.join(dir, 'Student.xml'), parts.join(''));
    return dir;
  }

  test('an aborted signal stops the read with an AbortError and no final page', async () => {
    const dir = bigFile(20000);
    const ac = new AbortController();
    const seen: Page[] = [];
    await expect(
      (async () => {
        for await (const p of edfiXml.read('students', { path: dir, pageSize: 100 }, readCtx('full', undefined, ac.signal))) {
          seen.push(p);
          if (seen.length === 2) ac.abort();
        }
      })(),
    ).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen).toHaveLength(2);
    expect(seen.every((p) => p.cursor?.complete === false)).toBe(true);
  });

  test('already aborted: nothing is read', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(pages('students', { path: 'district' }, readCtx('full', undefined, ac.signal))).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('check()', () => {
  test('ok with the interchanges and streams', async () => {
    const r = await edfiXml.check({ path: 'district' }, base());
    expect(r.ok).toBe(true);
    expect((r as { details: string }).details).toContain(`streams: ${ALL_STREAMS.join(', ')}`);
  });

  test('never throws: missing path, no interchange, bad settings', async () => {
    expect(await edfiXml.check({ path: 'nope' }, base())).toMatchObject({ ok: false, error: { code: 'source_not_found' } });
    expect(await edfiXml.check({ path: 'broken/not-edfi-catalog.xml' }, base())).toMatchObject({ ok: false, error: { code: 'source_invalid' } });
    expect(await edfiXml.check(undefined as unknown as EdfiXmlSettings, base())).toMatchObject({ ok: false, error: { code: 'connector_config_invalid' } });
  });
});
