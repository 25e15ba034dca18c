/**
 * The state-reporting extract's files and fields: ONE list per file, from which the CSV header, the NDJSON keys and
 * the JSON Schema written next to each file are all made, so the schema and the writer cannot disagree. Every field
 * names its category (what the disclosure log records, what a profile lets out) and where it comes from
 * (docs/state-export.md is the same information for people).
 *
 * A field with `category: null` is structural (a key or a code that says nothing about a student by itself) and is
 * always present; every other field leaves only when its category is in the profile's categories.
 */

export type FieldType = 'string' | 'integer' | 'number' | 'boolean' | 'date' | 'date-time';

export const EXPORT_CATEGORIES = ['identity', 'enrollment', 'grades', 'assessment', 'attendance', 'behaviour', 'demographics', 'protected', 'sel', 'plp', 'free_text'] as const;
export type ExportCategory = (typeof EXPORT_CATEGORIES)[number];

/** What never leaves unless a profile lists it in `include`. */
export const OPT_IN_CATEGORIES: readonly ExportCategory[] = ['protected', 'sel', 'free_text'];
export const DEFAULT_CATEGORIES: readonly ExportCategory[] = EXPORT_CATEGORIES.filter((c) => !OPT_IN_CATEGORIES.includes(c));

export interface FieldDef {
  name: string;
  type: FieldType;
  /** null = structural, always present. */
  category: ExportCategory | null;
  nullable?: boolean;
  /** A person's real identifier other than the unified id (state id): dropped from pseudonymized extracts. */
  realId?: boolean;
  /** The field holds a person id: pseudonymized. */
  personId?: boolean;
  description: string;
  /** Where the value comes from (the data dictionary). */
  source: string;
}

export interface FileDef {
  id: string;
  title: string;
  /** The file's own category: when the profile does not let it out, the file is not produced. */
  category: ExportCategory;
  /** What one row is. */
  grain: string;
  fields: FieldDef[];
}

const f = (name: string, type: FieldType, category: ExportCategory | null, description: string, source: string, extra: Partial<FieldDef> = {}): FieldDef =>
  ({ name, type, category, description, source, nullable: true, ...extra });

const STUDENT_ID = f('student_id', 'string', null, 'The student: the hub unified person id, or its HMAC-SHA256 pseudonym for this recipient.', 'person.id', { nullable: false, personId: true });

/** Accountability subgroup fields, appended to every per-student file. */
export const SUBGROUP_FIELDS: FieldDef[] = [
  f('school_id', 'string', null, "The student's school this year (unified org id): the school with most of the student's enrollments this year.", 'enrollment.schoolId'),
  f('school_code', 'string', null, "The school's state/NCES identifier.", 'org.identifier'),
  f('grade_level', 'string', 'enrollment', 'Grade level (KG, 01..12).', 'person.grades[0], else the grades of the class'),
  f('sex', 'string', 'demographics', 'male, female, unspecified, other.', 'demographics.sex'),
  f('american_indian_or_alaska_native', 'boolean', 'demographics', 'Race flag.', 'demographics.americanIndianOrAlaskaNative'),
  f('asian', 'boolean', 'demographics', 'Race flag.', 'demographics.asian'),
  f('black_or_african_american', 'boolean', 'demographics', 'Race flag.', 'demographics.blackOrAfricanAmerican'),
  f('native_hawaiian_or_other_pacific_islander', 'boolean', 'demographics', 'Race flag.', 'demographics.nativeHawaiianOrOtherPacificIslander'),
  f('white', 'boolean', 'demographics', 'Race flag.', 'demographics.white'),
  f('two_or_more_races', 'boolean', 'demographics', 'Race flag.', 'demographics.demographicRaceTwoOrMoreRaces'),
  f('hispanic_or_latino', 'boolean', 'demographics', 'Ethnicity flag.', 'demographics.hispanicOrLatinoEthnicity'),
  f('iep', 'boolean', 'protected', 'Special education (IEP) during the school year.', "programParticipation programType 'specialEducation'", { nullable: false }),
  f('section_504', 'boolean', 'protected', 'Section 504 plan during the school year.', "programParticipation programType 'section504'", { nullable: false }),
  f('english_learner', 'boolean', 'protected', 'English learner during the school year.', "programParticipation programType 'englishLearner'", { nullable: false }),
  f('economically_disadvantaged', 'boolean', 'protected', 'Free/reduced lunch eligibility during the school year.', "programParticipation programType 'freeReducedLunch'", { nullable: false }),
  f('gifted_talented', 'boolean', 'protected', 'Gifted and talented program.', "programParticipation programType 'giftedTalented'", { nullable: false }),
  f('migrant', 'boolean', 'protected', 'Migrant program.', "programParticipation programType 'migrant'", { nullable: false }),
  f('homeless', 'boolean', 'protected', 'Homeless (McKinney-Vento).', "programParticipation programType 'homeless'", { nullable: false }),
  f('foster_care', 'boolean', 'protected', 'Foster care.', "programParticipation programType 'fosterCare'", { nullable: false }),
  f('title1', 'boolean', 'protected', 'Title I program participation.', "programParticipation programType 'title1'", { nullable: false }),
];

/** programParticipation.programType -> subgroup flag. */
export const PROGRAM_FLAGS: Record<string, string> = {
  specialEducation: 'iep', section504: 'section_504', englishLearner: 'english_learner', freeReducedLunch: 'economically_disadvantaged',
  giftedTalented: 'gifted_talented', migrant: 'migrant', homeless: 'homeless', fosterCare: 'foster_care', title1: 'title1',
};

export const FILES: FileDef[] = [
  {
    id: 'students', title: 'Students', category: 'identity', grain: 'one row per student enrolled in a class of the school year',
    fields: [
      STUDENT_ID,
      f('state_student_id', 'string', 'identity', "The state student id (identifier system 'state', else 'identifier'); left out when pseudonymized.", 'person.identifiers', { realId: true }),
      f('local_student_id', 'string', 'identity', "The district's SIS id; left out when pseudonymized.", "person.identifiers system 'sis'", { realId: true }),
      f('birth_date', 'date', 'demographics', 'Date of birth.', 'demographics.birthDate'),
      ...SUBGROUP_FIELDS,
    ],
  },
  {
    id: 'enrollment', title: 'Enrollment', category: 'enrollment', grain: "one row per student class enrollment in a class of the school year (a class is in the year when one of its terms is)",
    fields: [
      STUDENT_ID,
      f('enrollment_id', 'string', null, 'Unified enrollment id.', 'enrollment.id', { nullable: false }),
      f('school_id', 'string', null, 'School of the class (unified org id).', 'enrollment.schoolId', { nullable: false }),
      f('school_code', 'string', null, "The school's state/NCES identifier.", 'org.identifier'),
      f('class_id', 'string', null, 'Class (section), unified id.', 'enrollment.classId', { nullable: false }),
      f('class_code', 'string', null, 'Class code.', 'class.classCode'),
      f('class_title', 'string', null, 'Class title.', 'class.title'),
      f('course_id', 'string', null, 'Course, unified id.', 'class.courseId'),
      f('course_code', 'string', null, 'Course code.', 'course.courseCode'),
      f('entry_date', 'date', 'enrollment', 'First day in the class.', 'enrollment.beginDate, else the start of the class term'),
      f('exit_date', 'date', 'enrollment', 'Last day in the class.', 'enrollment.endDate, else the end of the class term'),
      f('grade_level', 'string', 'enrollment', "Student's grade level.", 'person.grades[0], else the grades of the class'),
    ],
  },
  {
    id: 'course_credits', title: 'Courses and credits', category: 'grades',
    grain: "one row per student course of the year (from enrollments) plus one per credit awarded in the `credits` table, when that table exists",
    fields: [
      STUDENT_ID,
      f('school_id', 'string', null, 'School (unified org id).', 'enrollment.schoolId / credits'),
      f('course_id', 'string', null, 'Course, unified id.', 'class.courseId / credits.course_id'),
      f('course_code', 'string', null, 'Course code.', 'course.courseCode'),
      f('course_title', 'string', null, 'Course title.', 'course.title'),
      f('competency_id', 'string', null, 'For credit by competency: the competency.', 'credits.competency_id'),
      f('status', 'string', 'grades', "completed (the student's last day in the course has passed), in_progress, or awarded (a credits row).", 'enrollment dates / credits', { nullable: false }),
      f('completion_date', 'date', 'grades', 'Last day in the course when completed; the award date for credits.', 'enrollment.endDate / credits'),
      f('credits_earned', 'number', 'grades', 'Credits awarded (credits table only; the unified course carries no credit value).', 'credits'),
      f('credit_source', 'string', null, "'enrollment' or 'credits'.", 'derived', { nullable: false }),
    ],
  },
  {
    id: 'assessment_results', title: 'Assessment results with growth', category: 'assessment',
    grain: 'one row per assessment result administered in the school year; growth against the previous administration of the same assessment family (category, else the assessment) and subject, any year',
    fields: [
      STUDENT_ID,
      f('result_id', 'string', null, 'Unified assessment result id.', 'assessmentResult.id', { nullable: false }),
      f('assessment_id', 'string', null, 'Unified assessment id.', 'assessmentResult.assessmentId', { nullable: false }),
      f('assessment_title', 'string', null, 'Assessment title.', 'assessment.title'),
      f('assessment_category', 'string', null, 'State summative, Interim, ...', 'assessment.category'),
      f('subject', 'string', null, 'Subject.', 'assessment.subjects[0]'),
      f('school_id', 'string', null, 'Where it was taken.', 'assessmentResult.schoolId'),
      f('administration_date', 'date', 'assessment', 'Date taken.', 'assessmentResult.administrationDate', { nullable: false }),
      f('grade_when_assessed', 'string', 'assessment', 'Grade when assessed.', 'assessmentResult.gradeWhenAssessed'),
      f('scale_score', 'number', 'assessment', 'Scale score.', "assessmentResult.scores (method containing 'scale')"),
      f('performance_level', 'string', 'assessment', 'Performance level code.', 'assessmentResult.performanceLevel.code'),
      f('performance_level_label', 'string', 'assessment', 'Performance level label.', 'assessmentResult.performanceLevel.label'),
      f('met_standard', 'boolean', 'assessment', 'The level counts as proficient.', 'assessmentResult.performanceLevel.met'),
      f('prior_administration_date', 'date', 'assessment', 'Date of the previous administration of the same family and subject.', 'derived'),
      f('prior_scale_score', 'number', 'assessment', 'Its scale score.', 'derived'),
      f('scale_score_change', 'number', 'assessment', 'scale_score - prior_scale_score.', 'derived'),
      f('prior_performance_level', 'string', 'assessment', 'Its performance level code.', 'derived'),
      f('level_change', 'integer', 'assessment', 'Levels gained (+) or lost (-): numeric codes subtracted, else positions in the assessment\'s performanceLevels.', 'derived'),
    ],
  },
  {
    id: 'behaviour', title: 'Behaviour incidents', category: 'behaviour', grain: "one row per student's part in an incident dated in the school year",
    fields: [
      STUDENT_ID,
      f('participant_id', 'string', null, 'Unified behaviourParticipant id.', 'behaviourParticipant.id', { nullable: false }),
      f('incident_id', 'string', null, 'Unified incident id.', 'behaviourParticipant.incidentId', { nullable: false }),
      f('school_id', 'string', null, 'School.', 'behaviourIncident.schoolId'),
      f('incident_date', 'date', 'behaviour', 'Date.', 'behaviourIncident.incidentDate'),
      f('positive', 'boolean', 'behaviour', 'A recognised positive behaviour, not a referral.', 'behaviourIncident.positive'),
      f('behaviour_codes', 'string', 'behaviour', "Behaviour codes, '|'-separated.", 'behaviourParticipant.behaviours, else behaviourIncident.behaviours'),
      f('behaviour_labels', 'string', 'behaviour', "Their labels, '|'-separated.", 'same'),
      f('participant_role', 'string', 'behaviour', 'Perpetrator, Victim, Witness, ...', 'behaviourParticipant.role'),
      f('incident_description', 'string', 'free_text', 'The free-text description (free_text: only when the profile includes it).', 'behaviourIncident.description'),
    ],
  },
  {
    id: 'discipline_actions', title: 'Discipline actions', category: 'behaviour', grain: 'one row per discipline action dated in the school year',
    fields: [
      STUDENT_ID,
      f('action_id', 'string', null, 'Unified disciplineAction id.', 'disciplineAction.id', { nullable: false }),
      f('incident_id', 'string', null, 'The incident it responds to.', 'disciplineAction.incidentId'),
      f('school_id', 'string', null, 'School.', 'disciplineAction.schoolId'),
      f('action_date', 'date', 'behaviour', 'Date.', 'disciplineAction.actionDate', { nullable: false }),
      f('action_codes', 'string', 'behaviour', "Action codes, '|'-separated.", 'disciplineAction.actions[].code'),
      f('action_labels', 'string', 'behaviour', "Their labels, '|'-separated.", 'disciplineAction.actions[].label'),
      f('duration_days', 'number', 'behaviour', 'Assigned length in days.', 'disciplineAction.durationDays'),
      f('actual_duration_days', 'number', 'behaviour', 'Served length in days.', 'disciplineAction.actualDurationDays'),
    ],
  },
  {
    id: 'attendance', title: 'Attendance', category: 'attendance', grain: 'one row per student and school of the year',
    fields: [
      STUDENT_ID,
      f('attendance_school_id', 'string', null, 'The school these days are counted at.', 'enrollment.schoolId', { nullable: false }),
      f('days_enrolled', 'integer', 'attendance', 'Weekdays (Mon-Fri) on which the student had an enrollment at the school, from the start of the year to its end or today, whichever is first.', 'enrollment dates, class terms, academicSession', { nullable: false }),
      f('days_absent', 'integer', 'attendance', 'Enrolled days with a school-level absence event (category containing "absen").', 'attendanceEvent.category', { nullable: false }),
      f('days_excused_absence', 'integer', 'attendance', 'Of which excused.', 'attendanceEvent.category', { nullable: false }),
      f('days_unexcused_absence', 'integer', 'attendance', 'Of which not excused.', 'attendanceEvent.category', { nullable: false }),
      f('days_tardy', 'integer', 'attendance', 'Enrolled days with a tardy event.', 'attendanceEvent.category', { nullable: false }),
      f('days_present', 'integer', 'attendance', 'days_enrolled - days_absent.', 'derived', { nullable: false }),
      f('attendance_rate', 'number', 'attendance', 'days_present / days_enrolled (null when no day was enrolled yet).', 'derived'),
      ...SUBGROUP_FIELDS,
    ],
  },
  {
    id: 'competency_mastery', title: 'Competency mastery', category: 'grades',
    grain: 'one row per student competency in the mastery table (social-emotional competencies are category sel)',
    fields: [
      STUDENT_ID,
      f('competency_id', 'string', null, 'Competency (unified competencyItem id).', 'mastery.competency_id', { nullable: false }),
      f('framework_id', 'string', null, 'Framework.', 'mastery.framework_id'),
      f('subject', 'string', null, 'Subject.', 'mastery.subject'),
      f('level', 'number', 'grades', 'Mastery level on the scale.', 'mastery.level'),
      f('scale_min', 'number', 'grades', 'Scale minimum.', 'mastery.scale_min'),
      f('scale_max', 'number', 'grades', 'Scale maximum.', 'mastery.scale_max'),
      f('status', 'string', 'grades', 'Mastery status.', 'mastery.status'),
      f('method', 'string', 'grades', 'How it was computed.', 'mastery.method'),
      f('evidence_count', 'integer', 'grades', 'Pieces of evidence.', 'mastery.evidence_count'),
      f('last_evidence_at', 'string', 'grades', 'Latest evidence time.', 'mastery.last_evidence_at'),
    ],
  },
  {
    id: 'plp_coverage', title: 'Personal learning plan coverage', category: 'plp', grain: 'one row per student in grades 07-12',
    fields: [
      STUDENT_ID,
      f('has_current_plan', 'boolean', 'plp', 'The student has a current plan this school year.', 'PlanSource.hasCurrentPlan (default: the learner has a live PLP entry written or updated in the school year)', { nullable: false }),
      f('plan_updated_at', 'string', 'plp', 'When the plan last changed in the school year.', 'PlanSource.details'),
      f('plan_text', 'string', 'free_text', 'The plan\'s free text (free_text: only when the profile includes it).', 'PlanSource.details'),
      ...SUBGROUP_FIELDS,
    ],
  },
];

export const FILE_IDS = FILES.map((x) => x.id);

export function fileDef(id: string): FileDef {
  const d = FILES.find((x) => x.id === id);
  if (!d) throw new Error(`unknown export file ${id}`);
  return d;
}

/** The fields of a file that leave under these categories (and pseudonymization). */
export function selectFields(file: FileDef, categories: ReadonlySet<string>, pseudonymized: boolean): FieldDef[] {
  return file.fields.filter((x) => (x.category === null || categories.has(x.category)) && !(pseudonymized && x.realId));
}

const JSON_TYPES: Record<FieldType, { type: string; format?: string }> = {
  string: { type: 'string' }, integer: { type: 'integer' }, number: { type: 'number' }, boolean: { type: 'boolean' },
  date: { type: 'string', format: 'date' }, 'date-time': { type: 'string', format: 'date-time' },
};

/** The JSON Schema (draft-07) of one row, from the same field list the writer uses. */
export function rowSchema(file: FileDef, fields: readonly FieldDef[], meta: { profile: string }): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const x of fields) {
    const t = JSON_TYPES[x.type];
    properties[x.name] = {
      type: x.nullable === false ? t.type : [t.type, 'null'],
      ...(t.format ? { format: t.format } : {}),
      description: x.description,
      'x-category': x.category ?? 'key',
      'x-source': x.source,
    };
  }
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: `urn:learner-data-hub:state-export:${meta.profile}:${file.id}`,
    title: `${file.title} (${file.id})`,
    description: `One row: ${file.grain}. CSV: the same columns in this order, empty = null, booleans true/false.`,
    type: 'object',
    additionalProperties: false,
    required: fields.map((x) => x.name),
    properties,
    'x-columns': fields.map((x) => x.name),
  };
}
