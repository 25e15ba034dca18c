/**
 * The LMS side: a second system's OneRoster 1.1 CSV bulk export covering the secondary schools. It knows the same
 * people under its own opaque sourcedIds and carries the dirt identity matching has to cope with: typos,
 * nicknames as given names, given/family swapped, missing state ids, email as the strong id (in mixed case now
 * and then), twins, and namesakes. Its gradebook (categories, lineItems, results) is written by gradebook.ts through
 * writeLmsBulk's `extra` hook, into the same export and manifest.
 */
import { createRng, seedSalt } from './prng';
import { GIVEN, GIVEN_NICKNAMES, typo } from './names';
import { CALENDAR, District, GRADES, GRADE_COUNT, STUDENT_EMAIL_DOMAIN, isoDay, pad, type People } from './model';
import { ExportDir, type ExportResult } from './export-dir';
import { classLocation, courseInfo } from './sis';
import type { CsvFile } from './csv';
import type { Progress } from './progress';

export const LMS_SYSTEM_NAME = 'Synthetic LMS';

const DOMAIN = { org: 1, session: 2, course: 3, class: 4, user: 5, enrollment: 6 } as const;
const TEACHER_BASE = 1 << 26;

export interface LmsResult extends ExportResult {
  counts: { schools: number; students: number; teachers: number; classes: number };
  dirt: { typos: number; nicknames: number; swappedNames: number; missingIdentifier: number; emailCase: number; middleNameDropped: number };
}

type Row = Record<string, string | undefined>;

async function put(file: CsvFile, row: Row): Promise<void> {
  const p = file.put(row);
  if (p) await p;
}

const capitalizeEmail = (email: string): string => {
  const [local, domain] = email.split('@');
  return `${local.split('.').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('.')}@${domain}`;
};

/** The LMS's own ids: opaque, derived from the seed, shared by the roster files and the gradebook. */
export interface LmsIds {
  id(prefix: string, domain: number, counter: number): string;
  orgId(s: number): string;
  districtId: string;
  sessions: { year: string; fall: string; spring: string };
  /** Position of a class among all the district's classes (elementary included), the counter behind its id. */
  classIndex(s: number, ordinal: number): number;
  classId(s: number, ordinal: number): string;
  courseId(s: number, g: number, slot: number): string;
  studentId(i: number): string;
  teacherId(t: number): string;
}

export function lmsIds(d: District): LmsIds {
  const salt = seedSalt(d.seed, 'lms');
  const id = (prefix: string, domain: number, counter: number): string => d.lmsId(prefix, domain, counter, salt);
  const orgIds = d.schools.map((sc) => id('lms-o-', DOMAIN.org, sc.index + 1));
  const classBase = new Uint32Array(d.schools.length);
  for (let s = 1; s < d.schools.length; s++) classBase[s] = classBase[s - 1] + d.classCount[s - 1];
  return {
    id,
    orgId: (s) => orgIds[s],
    districtId: id('lms-o-', DOMAIN.org, 0),
    sessions: { year: id('lms-t-', DOMAIN.session, 0), fall: id('lms-t-', DOMAIN.session, 1), spring: id('lms-t-', DOMAIN.session, 2) },
    classIndex: (s, ordinal) => classBase[s] + ordinal,
    classId: (s, ordinal) => id('lms-c-', DOMAIN.class, classBase[s] + ordinal),
    courseId: (s, g, slot) => id('lms-k-', DOMAIN.course, (s * GRADE_COUNT + g) * 8 + slot),
    studentId: (i) => id('lms-u-', DOMAIN.user, i),
    teacherId: (t) => id('lms-u-', DOMAIN.user, TEACHER_BASE + t),
  };
}

/** Bulk students the LMS knows (those of the secondary schools), in student order. */
export function lmsStudentList(d: District): number[] {
  const out: number[] = [];
  for (let i = 0; i < d.n; i++) if (d.schools[d.school[i]].band !== 'elementary') out.push(i);
  return out;
}

/**
 * Writes lms/bulk and reports each LMS person with their SIS sourcedId through `person`. `extra` may add files to
 * the export before its manifest is written (the gradebook).
 */
export async function writeLmsBulk(
  d: District,
  dir: string,
  progress: Progress,
  person: (lms: string, sis: string) => Promise<void> | undefined,
  extra?: (out: ExportDir, ids: LmsIds, lmsStudents: readonly number[]) => Promise<void>,
): Promise<LmsResult> {
  const out = new ExportDir(dir, '1.1', 'bulk', LMS_SYSTEM_NAME, 'synthetic-lms');
  const ids = lmsIds(d);
  const { id, orgId, sessions, classId, courseId, studentId, teacherId } = ids;
  const secondary = d.schools.filter((sc) => sc.band !== 'elementary');
  const isSecondarySchool = (s: number): boolean => d.schools[s].band !== 'elementary';
  let enrollmentCounter = 0;

  // orgs.csv: the district and the secondary schools, names abbreviated the way the LMS admin typed them.
  const orgs = out.file('orgs.csv');
  const districtId = ids.districtId;
  await put(orgs, { sourcedId: districtId, name: d.district.name.replace('Independent School District', 'ISD'), type: 'district', identifier: d.district.identifier });
  for (const sc of secondary) {
    await put(orgs, {
      sourcedId: orgId(sc.index),
      name: sc.name.replace('High School', 'HS').replace('Middle School', 'MS'),
      type: 'school',
      identifier: sc.identifier,
      parentSourcedId: districtId,
    });
  }

  // academicSessions.csv
  const as = out.file('academicSessions.csv');
  await put(as, { sourcedId: sessions.year, title: '2026-27', type: 'schoolYear', startDate: CALENDAR.yearStart, endDate: CALENDAR.yearEnd, schoolYear: CALENDAR.schoolYear });
  await put(as, { sourcedId: sessions.fall, title: 'S1 2026-27', type: 'semester', startDate: CALENDAR.fallStart, endDate: CALENDAR.fallEnd, parentSourcedId: sessions.year, schoolYear: CALENDAR.schoolYear });
  await put(as, { sourcedId: sessions.spring, title: 'S2 2026-27', type: 'semester', startDate: CALENDAR.springStart, endDate: CALENDAR.springEnd, parentSourcedId: sessions.year, schoolYear: CALENDAR.schoolYear });

  // courses.csv
  const courses = out.file('courses.csv');
  for (const sc of secondary) {
    const grades = sc.band === 'middle' ? [6, 7, 8] : [9, 10, 11, 12];
    for (const g of grades) {
      for (let slot = 0; slot < d.slotsOf(g); slot++) {
        const c = courseInfo(sc.band, g, slot);
        await put(courses, {
          sourcedId: courseId(sc.index, g, slot),
          schoolYearSourcedId: sessions.year,
          title: c.title,
          courseCode: c.code,
          grades: GRADES[g],
          orgSourcedId: orgId(sc.index),
          subjects: c.subject,
        });
      }
    }
  }

  // classes.csv
  const classes = out.file('classes.csv');
  let classCount = 0;
  for (const { s, g, slot, sec, ordinal } of d.classes()) {
    if (!isSecondarySchool(s)) continue;
    classCount++;
    const c = courseInfo(d.schools[s].band, g, slot);
    await put(classes, {
      sourcedId: classId(s, ordinal),
      title: `${c.title} (Sec ${pad(sec + 1, 2)})`,
      grades: GRADES[g],
      courseSourcedId: courseId(s, g, slot),
      classCode: `${c.code}-${pad(sec + 1, 2)}`,
      classType: 'scheduled',
      location: classLocation(s, ordinal),
      schoolSourcedId: orgId(s),
      termSourcedIds: `${sessions.fall},${sessions.spring}`,
      subjects: c.subject,
    });
  }

  // users.csv (1.1: role and orgSourcedIds on the user row): secondary teachers, then secondary students.
  progress.label = 'lms/bulk/users.csv';
  const users = out.file('users.csv');
  const dirt = { typos: 0, nicknames: 0, swappedNames: 0, missingIdentifier: 0, emailCase: 0, middleNameDropped: 0 };
  const rng = createRng(d.seed, 'lms-dirt');
  const lmsStudents = lmsStudentList(d);
  const forcedSwaps = new Set([Math.floor(lmsStudents.length * 0.25), Math.floor(lmsStudents.length * 0.75)]);

  const dirty = (
    p: People,
    k: number,
    opts: { preferred: string; identifier: string; typoRate: number; swap: boolean },
  ): { given: string; family: string; middle: string; identifier: string; email: string } => {
    let given = GIVEN[p.given[k]];
    let family = d.familyName(p, k);
    let middle = d.middleName(p, k);
    const nick = GIVEN_NICKNAMES[p.given[k]];
    if (opts.preferred !== '' && rng.chance(0.8)) {
      given = opts.preferred;
      dirt.nicknames++;
    } else if (nick !== undefined && rng.chance(0.15)) {
      given = rng.pick(nick);
      dirt.nicknames++;
    }
    if (rng.chance(opts.typoRate)) {
      if (rng.chance(0.6)) given = typo(given, rng.next);
      else family = typo(family, rng.next);
      dirt.typos++;
    }
    if (opts.swap) {
      [given, family] = [family, given];
      dirt.swappedNames++;
    }
    if (middle !== '' && rng.chance(0.5)) {
      middle = '';
      dirt.middleNameDropped++;
    }
    let identifier = opts.identifier;
    if (rng.chance(0.2)) {
      identifier = '';
      dirt.missingIdentifier++;
    }
    let email = `${d.emailLocal(p, k)}@${STUDENT_EMAIL_DOMAIN}`;
    if (rng.chance(0.03)) {
      email = capitalizeEmail(email);
      dirt.emailCase++;
    }
    return { given, family, middle, identifier, email };
  };

  let teacherCount = 0;
  for (let t = 0; t < d.teacherCount; t++) {
    const s = d.teacherSchool[t];
    if (!isSecondarySchool(s)) continue;
    teacherCount++;
    const v = dirty(d.te, t, { preferred: '', identifier: d.teacherLocalId(t), typoRate: 0.02, swap: false });
    const lms = teacherId(t);
    await put(users, {
      sourcedId: lms,
      enabledUser: 'true',
      orgSourcedIds: orgId(s),
      role: 'teacher',
      username: v.email.toLowerCase(),
      givenName: v.given,
      familyName: v.family,
      middleName: v.middle,
      identifier: v.identifier,
      email: v.email,
    });
    const p = person(lms, d.teacherId(t));
    if (p) await p;
  }
  for (let pos = 0; pos < lmsStudents.length; pos++) {
    const i = lmsStudents[pos];
    const swap = forcedSwaps.has(pos) || rng.chance(0.004);
    const v = dirty(d.st, i, { preferred: d.preferredGiven(i), identifier: d.stateId(i), typoRate: 0.05, swap });
    const lms = studentId(i);
    await put(users, {
      sourcedId: lms,
      enabledUser: 'true',
      orgSourcedIds: orgId(d.school[i]),
      role: 'student',
      username: v.email.toLowerCase(),
      givenName: v.given,
      familyName: v.family,
      middleName: v.middle,
      identifier: v.identifier,
      email: v.email,
      grades: GRADES[d.grade[i]],
    });
    const p = person(lms, d.studentId(i));
    if (p) await p;
    progress.tick();
  }

  // enrollments.csv
  progress.label = 'lms/bulk/enrollments.csv';
  const enrollments = out.file('enrollments.csv');
  for (const { s, ordinal } of d.classes()) {
    if (!isSecondarySchool(s)) continue;
    await put(enrollments, {
      sourcedId: id('lms-e-', DOMAIN.enrollment, enrollmentCounter++),
      classSourcedId: classId(s, ordinal),
      schoolSourcedId: orgId(s),
      userSourcedId: teacherId(d.teacherOfClass(s, ordinal)),
      role: 'teacher',
      primary: 'true',
    });
  }
  for (const i of lmsStudents) {
    const s = d.school[i];
    const g = d.grade[i];
    const user = studentId(i);
    for (let slot = 0; slot < d.slotsOf(g); slot++) {
      await put(enrollments, {
        sourcedId: id('lms-e-', DOMAIN.enrollment, enrollmentCounter++),
        classSourcedId: classId(s, d.classOrdinal(s, g, slot, d.sectionOf(i, slot))),
        schoolSourcedId: orgId(s),
        userSourcedId: user,
        role: 'student',
        primary: 'false',
      });
    }
    progress.tick();
  }

  // demographics.csv: birth date and sex only (the true birth date, also where the SIS mistyped it).
  progress.label = 'lms/bulk/demographics.csv';
  const demographics = out.file('demographics.csv');
  for (const i of lmsStudents) {
    const sex = d.st.sex[i];
    await put(demographics, {
      sourcedId: studentId(i),
      birthDate: isoDay(d.birth[i]),
      sex: sex === 0 ? 'female' : sex === 1 ? 'male' : 'unspecified',
    });
    progress.tick();
  }

  if (extra) await extra(out, ids, lmsStudents);

  const result = await out.close();
  return {
    ...result,
    counts: { schools: secondary.length, students: lmsStudents.length, teachers: teacherCount, classes: classCount },
    dirt,
  };
}
