/**
 * The SIS side: a OneRoster 1.2 CSV bulk export of the whole district (with a few deliberately malformed rows)
 * and a delta export of the changes that follow it.
 */
import { createRng } from './prng';
import { FOREIGN_BIRTHPLACES, GIVEN, OTHER_STATES, TX_CITIES, typo } from './names';
import {
  CALENDAR,
  District,
  F_FIX_FAMILY,
  F_NAME_FIX,
  F_TWIN_B,
  GRADES,
  GRADE_TITLES,
  GUARDIAN_EMAIL_DOMAIN,
  STUDENT_EMAIL_DOMAIN,
  familyName,
  isoDay,
  pad,
  type Band,
} from './model';
import { ExportDir, type ExportResult } from './export-dir';
import type { CsvFile } from './csv';
import type { Progress } from './progress';

export const SIS_SYSTEM_NAME = 'Synthetic SIS';
export const SESSION_IDS = { year: 'sis-as-2027', fall: 'sis-as-2027-s1', spring: 'sis-as-2027-s2' } as const;

export interface Malformed {
  file: string;
  /** Physical line number in the file; the header is line 1. */
  line: number;
  reason: string;
  /** What is wrong with it. */
  kind: 'column-count' | 'empty-required' | 'unknown-reference' | 'invalid-date';
  /** The hub error code the row should be rejected with (reference_unresolved is the runtime's, not the connector's). */
  code: 'row_malformed' | 'record_invalid' | 'reference_unresolved';
  sourcedId: string;
}

type Row = Record<string, string | undefined>;

/** Wait for the stream only when the writer asks for it. */
async function put(file: CsvFile, row: Row): Promise<void> {
  const p = file.put(row);
  if (p) await p;
}

// ---- Course catalog -------------------------------------------------------------------------------------------

interface CourseInfo {
  title: string;
  code: string;
  subject: string;
}

const MIDDLE: ReadonlyArray<(g: number) => CourseInfo> = [
  (g) => ({ title: `English Language Arts ${g}`, code: `ELA${g}`, subject: 'English Language Arts' }),
  (g) => ({ title: g === 8 ? 'Algebra I' : `Mathematics ${g}`, code: g === 8 ? 'ALG1M' : `MTH${g}`, subject: 'Mathematics' }),
  (g) => ({ title: `Science ${g}`, code: `SCI${g}`, subject: 'Science' }),
  (g) => ({ title: ['World Cultures', 'Texas History', 'U.S. History'][g - 6], code: `SOC${g}`, subject: 'Social Studies' }),
  (g) => ({ title: `Physical Education ${g}`, code: `PE${g}`, subject: 'Physical Education' }),
  (g) => ({ title: ['Art', 'Band', 'Spanish I'][g - 6], code: `ELE${g}`, subject: ['Fine Arts', 'Fine Arts', 'World Languages'][g - 6] }),
];

const HIGH: ReadonlyArray<readonly CourseInfo[]> = [
  ['English I', 'English II', 'English III', 'English IV'].map((t, k) => ({ title: t, code: `ENG${k + 1}`, subject: 'English Language Arts' })),
  ['Algebra I', 'Geometry', 'Algebra II', 'Precalculus'].map((t, k) => ({ title: t, code: `MTH${k + 9}`, subject: 'Mathematics' })),
  ['Biology', 'Chemistry', 'Physics', 'Anatomy & Physiology'].map((t, k) => ({ title: t, code: `SCI${k + 9}`, subject: 'Science' })),
  ['World Geography', 'World History', 'U.S. History', 'Government, Economics'].map((t, k) => ({ title: t, code: `SOC${k + 9}`, subject: 'Social Studies' })),
  [
    { title: 'Physical Education', code: 'PE9', subject: 'Physical Education' },
    { title: 'Spanish I', code: 'SPN1', subject: 'World Languages' },
    { title: 'Spanish II', code: 'SPN2', subject: 'World Languages' },
    { title: 'Psychology', code: 'PSY', subject: 'Social Studies' },
  ],
  [
    { title: 'Art I', code: 'ART1', subject: 'Fine Arts' },
    { title: 'Computer Science Principles', code: 'CSP', subject: 'Computer Science' },
    { title: 'Band', code: 'BAND', subject: 'Fine Arts' },
    { title: 'Theatre Arts', code: 'THR1', subject: 'Fine Arts' },
  ],
];

export function courseInfo(band: Band, g: number, slot: number): CourseInfo {
  if (band === 'elementary') return { title: `${GRADE_TITLES[g]} Homeroom`, code: `HR-${GRADES[g]}`, subject: 'Homeroom' };
  if (band === 'middle') return MIDDLE[slot](g);
  return HIGH[slot][g - 9];
}

export function classLocation(s: number, ordinal: number): string {
  if (s % 5 === 0 && ordinal === 3) return 'Portable "B"';
  return `Room ${100 * (1 + (Math.floor(ordinal / 30) % 3)) + (ordinal % 30) + 1}`;
}

// ---- Row builders shared by bulk and delta --------------------------------------------------------------------

function pronounsOf(d: District, i: number): string {
  const r = createRng(d.seed, 'pronouns', i);
  if (!r.chance(0.03)) return '';
  const sex = d.st.sex[i];
  return sex === 2 || r.chance(0.2) ? 'they/them' : sex === 0 ? 'she/her' : 'he/him';
}

/** The student's users.csv row; `asInBulk` reproduces the bulk export's typo for students whose name the delta fixes. */
export function studentUserRow(d: District, i: number, opts: { asInBulk: boolean; grade?: number; enabled?: boolean }): Row {
  const p = d.st;
  let given = GIVEN[p.given[i]];
  let family = familyName(p.family[i], p.family2[i]);
  if (opts.asInBulk && d.flags[i] & F_NAME_FIX) {
    const r = createRng(d.seed, 'sis-typo', i);
    if (d.flags[i] & F_FIX_FAMILY) family = typo(family, r.next);
    else given = typo(given, r.next);
  }
  const local = d.emailLocal(p, i);
  const guardian = d.guardianOf[i];
  return {
    sourcedId: d.studentId(i),
    enabledUser: opts.enabled === false ? 'false' : 'true',
    username: local,
    userIds: `{SIS:${d.studentLocalId(i)}},{STATE:${d.stateId(i)}}`,
    givenName: given,
    familyName: family,
    middleName: d.middleName(p, i),
    identifier: d.stateId(i),
    email: `${local}@${STUDENT_EMAIL_DOMAIN}`,
    agentSourcedIds: guardian >= 0 ? d.guardianId(guardian) : '',
    grades: GRADES[opts.grade ?? d.grade[i]],
    preferredGivenName: d.preferredGiven(i),
    primaryOrgSourcedId: d.schools[d.school[i]].sourcedId,
    pronouns: pronounsOf(d, i),
  };
}

export function studentRoleRow(d: District, i: number): Row {
  return {
    sourcedId: `sis-role-stu-${d.studentNum(i)}`,
    userSourcedId: d.studentId(i),
    roleType: 'primary',
    role: 'student',
    beginDate: i < d.n ? CALENDAR.yearStart : CALENDAR.deltaDate,
    orgSourcedId: d.schools[d.school[i]].sourcedId,
  };
}

const bool = (b: boolean): string => (b ? 'true' : 'false');

export function studentDemographicsRow(d: District, i: number): Row {
  // Twins share everything but their names.
  const key = d.flags[i] & F_TWIN_B ? i - 1 : i;
  const r = createRng(d.seed, 'demographics', key);
  const races = [false, false, false, false, false]; // aian, asian, black, nhpi, white
  const pickRace = (): number => {
    const x = r.next();
    return x < 0.01 ? 0 : x < 0.08 ? 1 : x < 0.23 ? 2 : x < 0.235 ? 3 : 4;
  };
  races[pickRace()] = true;
  const multi = r.chance(0.05);
  if (multi) {
    let second = pickRace();
    if (races[second]) second = (second + 1 + r.int(4)) % 5;
    races[second] = true;
  }
  const hispanic = r.chance(0.52);
  let country = 'US';
  let state = '';
  let city = '';
  if (r.chance(0.88)) {
    if (r.chance(0.85)) {
      state = 'TX';
      city = r.pick(TX_CITIES);
    } else {
      state = r.pick(OTHER_STATES);
    }
  } else {
    [country, city] = r.pick(FOREIGN_BIRTHPLACES);
  }
  const sex = d.st.sex[i];
  return {
    sourcedId: d.studentId(i),
    birthDate: isoDay(d.birth[i]),
    sex: sex === 0 ? 'female' : sex === 1 ? 'male' : 'unspecified',
    americanIndianOrAlaskaNative: bool(races[0]),
    asian: bool(races[1]),
    blackOrAfricanAmerican: bool(races[2]),
    nativeHawaiianOrOtherPacificIslander: bool(races[3]),
    white: bool(races[4]),
    demographicRaceTwoOrMoreRaces: bool(multi),
    hispanicOrLatinoEthnicity: bool(hispanic),
    countryOfBirthCode: country,
    stateOfBirthAbbreviation: state,
    cityOfBirth: city,
  };
}

function enrollmentRow(d: District, i: number, grade: number, slot: number, sec: number, idSuffix = ''): Row {
  const s = d.school[i];
  const isNew = i >= d.n || idSuffix !== '';
  return {
    sourcedId: `sis-enr-${d.studentNum(i)}-${d.slotTag(grade, slot)}${idSuffix}`,
    classSourcedId: d.classId(s, grade, slot, sec),
    schoolSourcedId: d.schools[s].sourcedId,
    userSourcedId: d.studentId(i),
    role: 'student',
    beginDate: isNew ? CALENDAR.deltaDate : CALENDAR.yearStart,
    endDate: CALENDAR.yearEnd,
  };
}

// ---- Bulk -----------------------------------------------------------------------------------------------------

export interface SisBulkResult extends ExportResult {
  malformed: Malformed[];
  counts: {
    schools: number;
    students: number;
    teachers: number;
    administrators: number;
    guardians: number;
    courses: number;
    classes: number;
  };
}

export async function writeSisBulk(d: District, dir: string, progress: Progress): Promise<SisBulkResult> {
  const out = new ExportDir(dir, '1.2', 'bulk', SIS_SYSTEM_NAME, 'synthetic-sis');
  const malformed: Malformed[] = [];
  const yearTerms = `${SESSION_IDS.fall},${SESSION_IDS.spring}`;

  // orgs.csv
  const orgs = out.file('orgs.csv');
  await put(orgs, { sourcedId: d.district.sourcedId, name: d.district.name, type: 'district', identifier: d.district.identifier });
  for (const sc of d.schools) {
    await put(orgs, { sourcedId: sc.sourcedId, name: sc.name, type: 'school', identifier: sc.identifier, parentSourcedId: d.district.sourcedId });
  }

  // academicSessions.csv
  const sessions = out.file('academicSessions.csv');
  await put(sessions, { sourcedId: SESSION_IDS.year, title: '2026-2027 School Year', type: 'schoolYear', startDate: CALENDAR.yearStart, endDate: CALENDAR.yearEnd, schoolYear: CALENDAR.schoolYear });
  await put(sessions, { sourcedId: SESSION_IDS.fall, title: 'Fall 2026', type: 'semester', startDate: CALENDAR.fallStart, endDate: CALENDAR.fallEnd, parentSourcedId: SESSION_IDS.year, schoolYear: CALENDAR.schoolYear });
  await put(sessions, { sourcedId: SESSION_IDS.spring, title: 'Spring 2027', type: 'semester', startDate: CALENDAR.springStart, endDate: CALENDAR.springEnd, parentSourcedId: SESSION_IDS.year, schoolYear: CALENDAR.schoolYear });

  // courses.csv: one course per school, grade and slot.
  const courses = out.file('courses.csv');
  for (const sc of d.schools) {
    const grades = sc.band === 'elementary' ? [0, 1, 2, 3, 4, 5] : sc.band === 'middle' ? [6, 7, 8] : [9, 10, 11, 12];
    for (const g of grades) {
      for (let slot = 0; slot < d.slotsOf(g); slot++) {
        const c = courseInfo(sc.band, g, slot);
        await put(courses, {
          sourcedId: d.courseId(sc.index, g, slot),
          schoolYearSourcedId: SESSION_IDS.year,
          title: c.title,
          courseCode: c.code,
          grades: GRADES[g],
          orgSourcedId: sc.sourcedId,
          subjects: c.subject,
        });
      }
    }
  }

  // classes.csv
  const classes = out.file('classes.csv');
  for (const { s, g, slot, sec, ordinal } of d.classes()) {
    const sc = d.schools[s];
    const c = courseInfo(sc.band, g, slot);
    const homeroom = sc.band === 'elementary';
    await put(classes, {
      sourcedId: d.classId(s, g, slot, sec),
      title: `${c.title} - ${pad(sec + 1, 2)}`,
      grades: GRADES[g],
      courseSourcedId: d.courseId(s, g, slot),
      classCode: `${c.code}-${pad(sec + 1, 2)}`,
      classType: homeroom ? 'homeroom' : 'scheduled',
      location: classLocation(s, ordinal),
      schoolSourcedId: sc.sourcedId,
      termSourcedIds: homeroom ? SESSION_IDS.year : yearTerms,
      subjects: homeroom ? '' : c.subject,
    });
  }

  // users.csv: administrators, teachers, students (with two malformed rows among them), guardians.
  progress.label = 'sis/bulk/users.csv';
  const users = out.file('users.csv');
  for (const a of d.admins) {
    await put(users, {
      sourcedId: a.sourcedId,
      enabledUser: 'true',
      username: a.email.split('@')[0],
      userIds: `{SIS:${a.localId}}`,
      givenName: GIVEN[a.given],
      familyName: familyName(a.family, 0xffff),
      identifier: a.localId,
      email: a.email,
      primaryOrgSourcedId: a.school < 0 ? d.district.sourcedId : d.schools[a.school].sourcedId,
    });
  }
  for (let t = 0; t < d.teacherCount; t++) {
    const local = d.emailLocal(d.te, t);
    await put(users, {
      sourcedId: d.teacherId(t),
      enabledUser: 'true',
      username: local,
      userIds: `{SIS:${d.teacherLocalId(t)}}`,
      givenName: d.givenName(d.te, t),
      familyName: d.familyName(d.te, t),
      middleName: d.middleName(d.te, t),
      identifier: d.teacherLocalId(t),
      email: `${local}@${STUDENT_EMAIL_DOMAIN}`,
      primaryOrgSourcedId: d.schools[d.teacherSchool[t]].sourcedId,
    });
  }
  const emptyGivenAfter = Math.floor(d.n * 0.37);
  const shortRowAfter = Math.floor(d.n * 0.71);
  for (let i = 0; i < d.n; i++) {
    await put(users, studentUserRow(d, i, { asInBulk: true }));
    if (i === emptyGivenAfter) {
      const bad = { ...studentUserRow(d, i, { asInBulk: true }) };
      bad.sourcedId = 'sis-stu-x00001';
      bad.givenName = '';
      bad.username = 'unnamed.x00001';
      bad.userIds = '{SIS:X00001}';
      bad.identifier = '';
      bad.email = '';
      bad.agentSourcedIds = '';
      bad.preferredGivenName = '';
      malformed.push({ file: 'users.csv', line: users.nextLine, reason: 'givenName is empty', kind: 'empty-required', code: 'record_invalid', sourcedId: bad.sourcedId });
      await put(users, bad);
    }
    if (i === shortRowAfter) {
      const bad = { ...studentUserRow(d, i, { asInBulk: true }) };
      bad.sourcedId = 'sis-stu-x00002';
      bad.username = 'short.x00002';
      bad.userIds = '{SIS:X00002}';
      bad.identifier = '';
      bad.email = '';
      bad.agentSourcedIds = '';
      const fields = users.header.filter((h) => h !== 'middleName').map((h) => bad[h] ?? '');
      malformed.push({
        file: 'users.csv',
        line: users.nextLine,
        reason: `row has ${fields.length} columns, the header has ${users.header.length} (middleName missing)`,
        kind: 'column-count',
        code: 'row_malformed',
        sourcedId: bad.sourcedId ?? '',
      });
      const p = users.raw(fields);
      if (p) await p;
    }
    progress.tick();
  }
  for (let k = 0; k < d.guardianCount; k++) {
    const child = d.guardianChild[k];
    const kids = d.flags[child + 1] & F_TWIN_B && d.guardianOf[child + 1] === k ? [child, child + 1] : [child];
    const family = d.familyName(d.gu, k);
    const given = d.givenName(d.gu, k);
    const local = `${d.emailLocal(d.gu, k)}${k + 1}`;
    await put(users, {
      sourcedId: d.guardianId(k),
      enabledUser: 'true',
      username: local,
      userIds: `{SIS:${d.guardianLocalId(k)}}`,
      givenName: given,
      familyName: family,
      middleName: d.middleName(d.gu, k),
      email: `${local}@${GUARDIAN_EMAIL_DOMAIN}`,
      phone: `+1-512-555-01${pad(k % 100, 2)}`,
      agentSourcedIds: kids.map((c) => d.studentId(c)).join(','),
    });
  }

  // roles.csv
  progress.label = 'sis/bulk/roles.csv';
  const roles = out.file('roles.csv');
  for (const a of d.admins) {
    await put(roles, {
      sourcedId: `sis-role-${a.sourcedId.slice(4)}`,
      userSourcedId: a.sourcedId,
      roleType: 'primary',
      role: a.role,
      orgSourcedId: a.school < 0 ? d.district.sourcedId : d.schools[a.school].sourcedId,
    });
  }
  for (let t = 0; t < d.teacherCount; t++) {
    await put(roles, {
      sourcedId: `sis-role-${d.teacherId(t).slice(4)}`,
      userSourcedId: d.teacherId(t),
      roleType: 'primary',
      role: 'teacher',
      orgSourcedId: d.schools[d.teacherSchool[t]].sourcedId,
    });
  }
  for (let i = 0; i < d.n; i++) {
    await put(roles, studentRoleRow(d, i));
    progress.tick();
  }
  for (let k = 0; k < d.guardianCount; k++) {
    await put(roles, {
      sourcedId: `sis-role-${d.guardianId(k).slice(4)}`,
      userSourcedId: d.guardianId(k),
      roleType: 'primary',
      role: d.guardianRole[k] ? 'guardian' : 'parent',
      orgSourcedId: d.schools[d.school[d.guardianChild[k]]].sourcedId,
    });
  }

  // enrollments.csv: teachers by class, then students (with one dangling class reference).
  progress.label = 'sis/bulk/enrollments.csv';
  const enrollments = out.file('enrollments.csv');
  let classCount = 0;
  for (const { s, g, slot, sec, ordinal } of d.classes()) {
    classCount++;
    const classId = d.classId(s, g, slot, sec);
    await put(enrollments, {
      sourcedId: `sis-enr-t-${classId.slice(8)}`,
      classSourcedId: classId,
      schoolSourcedId: d.schools[s].sourcedId,
      userSourcedId: d.teacherId(d.teacherOfClass(s, ordinal)),
      role: 'teacher',
      primary: 'true',
      beginDate: CALENDAR.yearStart,
      endDate: CALENDAR.yearEnd,
    });
  }
  const danglingAfter = Math.floor(d.n / 2);
  for (let i = 0; i < d.n; i++) {
    const g = d.grade[i];
    for (let slot = 0; slot < d.slotsOf(g); slot++) {
      await put(enrollments, enrollmentRow(d, i, g, slot, d.sectionOf(i, slot)));
    }
    if (i === danglingAfter) {
      const row = enrollmentRow(d, i, g, 0, 0);
      row.sourcedId = `sis-enr-${d.studentNum(i)}-x`;
      row.classSourcedId = `sis-cls-${d.schools[d.school[i]].num}-${GRADES[g]}-9-99`;
      malformed.push({
        file: 'enrollments.csv',
        line: enrollments.nextLine,
        reason: `classSourcedId ${row.classSourcedId} does not exist in classes.csv`,
        kind: 'unknown-reference',
        code: 'reference_unresolved',
        sourcedId: row.sourcedId,
      });
      await put(enrollments, row);
    }
    progress.tick();
  }

  // demographics.csv (students only), one with an impossible birth date.
  progress.label = 'sis/bulk/demographics.csv';
  const demographics = out.file('demographics.csv');
  for (let i = 0; i < d.n; i++) {
    const row = studentDemographicsRow(d, i);
    if (i === d.badBirthdate) {
      row.birthDate = '2013-02-30';
      malformed.push({
        file: 'demographics.csv',
        line: demographics.nextLine,
        reason: 'birthDate 2013-02-30 is not a valid date',
        kind: 'invalid-date',
        code: 'row_malformed',
        sourcedId: row.sourcedId ?? '',
      });
    }
    await put(demographics, row);
    progress.tick();
  }

  const result = await out.close();
  malformed.sort((a, b) => (a.file === b.file ? a.line - b.line : a.file < b.file ? -1 : 1));
  return {
    ...result,
    malformed,
    counts: {
      schools: d.schools.length,
      students: d.n,
      teachers: d.teacherCount,
      administrators: d.admins.length,
      guardians: d.guardianCount,
      courses: courses.rows,
      classes: classCount,
    },
  };
}

// ---- Delta ----------------------------------------------------------------------------------------------------

export interface SisDeltaResult extends ExportResult {
  changes: {
    newStudents: number;
    nameCorrections: string[];
    gradeChanges: Array<{ sourcedId: string; from: string; to: string }>;
    withdrawn: string;
    scheduleChanges: number;
    /** Enrollments ended (tobedeleted): the withdrawal, grade changes, schedule changes. */
    droppedEnrollments: number;
    /** Replacement enrollments for grade and schedule changes. */
    addedEnrollments: number;
    /** Enrollments of the new students. */
    newStudentEnrollments: number;
    tobedeleted: Record<string, number>;
  };
}

export async function writeSisDelta(d: District, dir: string): Promise<SisDeltaResult> {
  const out = new ExportDir(dir, '1.2', 'delta', SIS_SYSTEM_NAME, 'synthetic-sis');
  const stamp = { dateLastModified: CALENDAR.deltaTimestamp };
  const active = (row: Row): Row => ({ ...row, status: 'active', ...stamp });
  const deleted = (row: Row): Row => ({ ...row, status: 'tobedeleted', ...stamp });
  const tobedeleted: Record<string, number> = {};
  const del = async (file: CsvFile, row: Row): Promise<void> => {
    tobedeleted[file.name] = (tobedeleted[file.name] ?? 0) + 1;
    await put(file, deleted(row));
  };
  let dropped = 0;
  let added = 0;
  let newEnrollments = 0;

  // users.csv: corrections, grade changes and the withdrawal in student order, then the new students.
  const users = out.file('users.csv');
  const gradeChange = new Set(d.gradeChanges);
  const updated = [...d.nameFixes, ...d.gradeChanges, d.withdrawn].sort((a, b) => a - b);
  for (const i of updated) {
    if (i === d.withdrawn) await put(users, active(studentUserRow(d, i, { asInBulk: false, enabled: false })));
    else if (gradeChange.has(i)) await put(users, active(studentUserRow(d, i, { asInBulk: false, grade: d.grade[i] + 1 })));
    else await put(users, active(studentUserRow(d, i, { asInBulk: false })));
  }
  for (let i = d.n; i < d.total; i++) await put(users, active(studentUserRow(d, i, { asInBulk: false })));

  // roles.csv: the withdrawn student's role ends; new students get one.
  const roles = out.file('roles.csv');
  await put(roles, active({ ...studentRoleRow(d, d.withdrawn), endDate: CALENDAR.lastDayBeforeDelta }));
  for (let i = d.n; i < d.total; i++) await put(roles, active(studentRoleRow(d, i)));

  // enrollments.csv
  const enrollments = out.file('enrollments.csv');
  const changes = new Map<number, Array<{ slot: number; newSection: number }>>();
  for (const c of d.scheduleChanges) changes.set(c.student, [...(changes.get(c.student) ?? []), c]);
  const touched = [...new Set([...d.gradeChanges, d.withdrawn, ...changes.keys()])].sort((a, b) => a - b);
  for (const i of touched) {
    const g = d.grade[i];
    if (i === d.withdrawn) {
      for (let slot = 0; slot < d.slotsOf(g); slot++) {
        await del(enrollments, { ...enrollmentRow(d, i, g, slot, d.sectionOf(i, slot)), endDate: CALENDAR.lastDayBeforeDelta });
        dropped++;
      }
    } else if (gradeChange.has(i)) {
      await del(enrollments, { ...enrollmentRow(d, i, g, 0, d.sectionOf(i, 0)), endDate: CALENDAR.lastDayBeforeDelta });
      dropped++;
      await put(enrollments, active(enrollmentRow(d, i, g + 1, 0, d.sectionOf(i, 0, g + 1), 'b')));
      added++;
    } else {
      for (const c of changes.get(i) ?? []) {
        await del(enrollments, { ...enrollmentRow(d, i, g, c.slot, d.sectionOf(i, c.slot)), endDate: CALENDAR.lastDayBeforeDelta });
        dropped++;
        if (c.newSection >= 0) {
          await put(enrollments, active(enrollmentRow(d, i, g, c.slot, c.newSection, 'b')));
          added++;
        }
      }
    }
  }
  for (let i = d.n; i < d.total; i++) {
    const g = d.grade[i];
    for (let slot = 0; slot < d.slotsOf(g); slot++) {
      await put(enrollments, active(enrollmentRow(d, i, g, slot, d.sectionOf(i, slot))));
      newEnrollments++;
    }
  }

  // demographics.csv: the new students.
  const demographics = out.file('demographics.csv');
  for (let i = d.n; i < d.total; i++) await put(demographics, active(studentDemographicsRow(d, i)));

  const result = await out.close();
  return {
    ...result,
    changes: {
      newStudents: d.newCount,
      nameCorrections: d.nameFixes.map((i) => d.studentId(i)),
      gradeChanges: d.gradeChanges.map((i) => ({ sourcedId: d.studentId(i), from: GRADES[d.grade[i]], to: GRADES[d.grade[i] + 1] })),
      withdrawn: d.studentId(d.withdrawn),
      scheduleChanges: d.scheduleChanges.length,
      droppedEnrollments: dropped,
      addedEnrollments: added,
      newStudentEnrollments: newEnrollments,
      tobedeleted,
    },
  };
}

