/**
 * The LMS gradebook, written into lms/bulk as OneRoster 1.1 CSV (categories.csv, lineItems.csv, results.csv), plus
 * lms/alignment.json: which district competencies (CASE CFItem identifiers) each math and ELA assignment assesses.
 *
 * Every LMS class gets 3-6 assignments over the fall semester up to the export (the SIS delta date), in the
 * categories Homework, Quiz, Test, Project and Participation; every student enrolled in the class has one result per
 * assignment. Scores follow the student's latent ability (abilities.ts), so a student's gradebook, interim benchmark
 * and state test agree roughly. Some work is missing (`not submitted`, score 0, comment "Missing"), some late
 * (`fully graded`, comment "Late", scored after the due date with a penalty), a few students are exempt (`exempt`,
 * no score).
 *
 * 1.1 notes: results.csv has no late/missing columns in 1.1 (they came with 1.2), hence the comments; lineItems.csv
 * references the semester through gradingPeriodSourcedId; the binding marks `score` required, but an exempt result
 * has no score to give, so that cell is blank (the hub's connector accepts it; a strict 1.1 consumer would want 0).
 */
import fs from 'node:fs';
import path from 'node:path';
import { clamp, normal, type Abilities } from './abilities';
import { createRng, mix32 } from './prng';
import { dayOf, isoDay, pad, type District } from './model';
import { TextSink, csvLine, type CsvFile } from './csv';
import { courseInfo } from './sis';
import type { ExportDir } from './export-dir';
import type { LmsIds } from './lms';
import type { Progress } from './progress';
import type { Competency, Standards, Subject } from './standards';

const DOMAIN = { category: 7, lineItem: 8, result: 9 } as const;

export const CATEGORIES = ['Homework', 'Quiz', 'Test', 'Project', 'Participation'] as const;
type Category = 0 | 1 | 2 | 3 | 4;
const HW: Category = 0;
const QUIZ: Category = 1;
const TEST: Category = 2;
const PROJECT: Category = 3;
const PARTICIPATION: Category = 4;
const MAX_POINTS: Record<Category, number> = { 0: 10, 1: 20, 2: 100, 3: 50, 4: 10 };

/** The first assignment, the last due date, the last scoring day (the export is taken on the SIS delta date). */
const FIRST_ASSIGN = dayOf(2026, 8, 24);
const LAST_DUE = dayOf(2026, 11, 13);
const LAST_SCORED = dayOf(2026, 11, 19);

const PROJECT_TOPICS: Record<string, string> = {
  Mathematics: 'Statistics in the news',
  'English Language Arts': 'Author study',
  Science: 'Lab report',
  'Social Studies': 'Primary sources',
  'World Languages': 'Cultural presentation',
  'Fine Arts': 'Portfolio',
  'Physical Education': 'Fitness plan',
  'Computer Science': 'App prototype',
};

const GRADED_COMMENTS = ['Great work!', 'Show your work next time.', 'See me about corrections.', 'Nice improvement.', 'Check units.'];

/** 1970-01-01 was a Thursday. */
const weekday = (day: number): number => (day + 4) % 7;
const schoolDay = (day: number): number => {
  const w = weekday(day);
  return w === 6 ? day + 2 : w === 0 ? day + 1 : day;
};
const addSchoolDays = (day: number, n: number): number => {
  let x = day;
  for (let k = 0; k < n; k++) x = schoolDay(x + 1);
  return x;
};

interface PlannedItem {
  category: Category;
  title: string;
  description: string;
  assign: number;
  due: number;
  max: number;
  competencies: readonly Competency[];
}

export interface QuizAttempt {
  student: number;
  lmsStudent: string;
  lmsClass: string;
  classCode: string;
  courseTitle: string;
  lineItem: string;
  title: string;
  assign: number;
  due: number;
  max: number;
  /** The LMS result: 'fully graded' (possibly late) or 'not submitted'. */
  status: 'fully graded' | 'not submitted';
  score: number;
  late: boolean;
}

export interface GradebookResult {
  categories: number;
  lineItems: number;
  results: number;
  byStatus: Record<string, number>;
  late: number;
  missing: number;
  exempt: number;
  alignment: { file: string; lineItems: number; competencies: number };
  /** Homework and quiz attempts of the math classes at the pilot schools (the learning app's Caliper events are built from them). */
  quizAttempts: QuizAttempt[];
  pilotSchools: string[];
}

function subjectOf(courseSubject: string): Subject | undefined {
  return courseSubject === 'Mathematics' ? 'math' : courseSubject === 'English Language Arts' ? 'ela' : undefined;
}

/** The assignments of one class, a pure function of the class and the seed. */
function planClass(d: District, s: Standards, salt: number, school: number, g: number, slot: number, classIdx: number): PlannedItem[] {
  const band = d.schools[school].band;
  const course = courseInfo(band, g, slot);
  const h = mix32(classIdx ^ salt);
  const subject = subjectOf(course.subject);
  const comps = subject ? s.competenciesFor(subject, g) : [];
  const activity = course.subject === 'Physical Education' || course.subject === 'Fine Arts';
  const cats: Category[] = activity
    ? [PARTICIPATION, ...(h & 1 ? [QUIZ] : []), PROJECT]
    : [HW, QUIZ, HW, ...((h >>> 1) % 3 === 0 ? [PROJECT] : []), ...((h >>> 3) & 1 ? [HW] : []), TEST];
  const items: PlannedItem[] = [];
  const n = cats.length;
  const counters = [0, 0, 0, 0, 0];
  for (let j = 0; j < n; j++) {
    const category = cats[j];
    const k = ++counters[category];
    const assign = schoolDay(FIRST_ASSIGN + Math.floor((j * (LAST_DUE - 14 - FIRST_ASSIGN)) / Math.max(1, n - 1)) + ((h >>> (5 + j)) & 1));
    const span = category === HW ? 2 : category === QUIZ ? 3 : category === TEST ? 6 : category === PROJECT ? 12 : 25;
    const due = Math.min(LAST_DUE, addSchoolDays(assign, span));
    const title =
      category === HW ? `Homework ${k}` :
      category === QUIZ ? `Quiz ${k}` :
      category === TEST ? `Unit ${k} Test` :
      category === PROJECT ? `Project: ${PROJECT_TOPICS[course.subject] ?? 'Research'}` :
      'Participation: first grading period';
    const aligned: readonly Competency[] =
      comps.length === 0 || category === PARTICIPATION ? [] :
      category === TEST ? comps :
      category === PROJECT ? [comps[1]] :
      [comps[(k + (category === QUIZ ? 1 : 0)) % comps.length]];
    const description = aligned.length
      ? `${course.title}: ${aligned.map((c) => c.statement.replace(/^I can /, '').replace(/\.$/, '')).join('; ')}`
      : `${course.title}: ${title}`;
    items.push({ category, title, description, assign, due, max: MAX_POINTS[category], competencies: aligned });
  }
  return items;
}

const fmtScore = (x: number): string => (Number.isInteger(x) ? String(x) : x.toFixed(1));

/** Rows are keyed by header name, so the files follow whatever header columns.ts gives (see export-dir.ts). */
async function put(file: CsvFile, row: Record<string, string>): Promise<void> {
  const p = file.put(row);
  if (p) await p;
}

export async function writeGradebook(
  d: District,
  s: Standards,
  abilities: Abilities,
  out: ExportDir,
  ids: LmsIds,
  lmsStudents: readonly number[],
  alignmentPath: string,
  progress: Progress,
): Promise<GradebookResult> {
  const salt = createRng(d.seed, 'gradebook-salt').u32();

  // categories.csv
  const categories = out.file('categories.csv');
  const categoryIds = CATEGORIES.map((_, k) => ids.id('lms-g-', DOMAIN.category, k));
  for (let k = 0; k < CATEGORIES.length; k++) await put(categories, { sourcedId: categoryIds[k], title: CATEGORIES[k] });

  // lineItems.csv, class by class; lms/alignment.json alongside.
  const lineItems = out.file('lineItems.csv');
  const totalClasses = d.schools.reduce((a, sc) => a + d.classCount[sc.index], 0);
  const firstItem = new Int32Array(totalClasses).fill(-1);
  const plans: PlannedItem[][] = [];
  const planOf = new Int32Array(totalClasses).fill(-1);
  fs.mkdirSync(path.dirname(alignmentPath), { recursive: true });
  const alignment = new TextSink(alignmentPath);
  alignment.write(
    `{\n  "description": "Alignment of LMS assignments (lms/bulk/lineItems.csv sourcedId) to district competencies (CASE CFItem identifiers in case/district-competencies.json). Math and ELA assignments only; participation grades are not aligned.",\n` +
      `  "framework": ${JSON.stringify({ identifier: s.district.identifier, uri: s.district.uri, title: s.district.title, file: 'case/district-competencies.json' })},\n` +
      '  "lineItems": {\n',
  );
  let aligned = 0;
  const competencySet = new Set<string>();
  let itemCounter = 0;
  for (const { s: school, g, slot, ordinal } of d.classes()) {
    if (d.schools[school].band === 'elementary') continue;
    const classIdx = ids.classIndex(school, ordinal);
    const plan = planClass(d, s, salt, school, g, slot, classIdx);
    planOf[classIdx] = plans.length;
    plans.push(plan);
    firstItem[classIdx] = itemCounter;
    const classId = ids.classId(school, ordinal);
    for (const item of plan) {
      const itemId = ids.id('lms-l-', DOMAIN.lineItem, itemCounter++);
      await put(lineItems, {
        sourcedId: itemId,
        title: item.title,
        description: item.description,
        assignDate: isoDay(item.assign),
        dueDate: isoDay(item.due),
        classSourcedId: classId,
        categorySourcedId: categoryIds[item.category],
        gradingPeriodSourcedId: ids.sessions.fall,
        resultValueMin: '0',
        resultValueMax: String(item.max),
      });
      if (item.competencies.length) {
        const p = alignment.write(`${aligned++ === 0 ? '' : ',\n'}    ${JSON.stringify(itemId)}: ${JSON.stringify(item.competencies.map((c) => c.identifier))}`);
        if (p) await p;
        for (const c of item.competencies) competencySet.add(c.identifier);
      }
    }
  }
  alignment.write('\n  }\n}\n');
  await alignment.close();

  // results.csv, student by student (the order an LMS export walks its enrollments).
  progress.label = 'lms/bulk/results.csv';
  const results = out.file('results.csv');
  const rng = createRng(d.seed, 'gradebook');
  const byStatus: Record<string, number> = { 'fully graded': 0, 'not submitted': 0, exempt: 0 };
  let late = 0;
  let resultCounter = 0;
  const pilot = new Set<number>();
  const firstMiddle = d.schools.find((sc) => sc.band === 'middle');
  const firstHigh = d.schools.find((sc) => sc.band === 'high');
  if (firstMiddle) pilot.add(firstMiddle.index);
  if (firstHigh) pilot.add(firstHigh.index);
  const quizAttempts: QuizAttempt[] = [];
  for (const i of lmsStudents) {
    const school = d.school[i];
    const g = d.grade[i];
    const student = ids.studentId(i);
    const general = abilities.general[i];
    for (let slot = 0; slot < d.slotsOf(g); slot++) {
      const sec = d.sectionOf(i, slot);
      const ordinal = d.classOrdinal(school, g, slot, sec);
      const classIdx = ids.classIndex(school, ordinal);
      const plan = plans[planOf[classIdx]];
      const course = courseInfo(d.schools[school].band, g, slot);
      const subject = subjectOf(course.subject);
      const theta = subject === 'math' ? abilities.math[i] : subject === 'ela' ? abilities.reading[i] : general;
      const pMissing = clamp(0.03 + 0.05 * Math.max(0, -general), 0, 0.25);
      for (let j = 0; j < plan.length; j++) {
        const item = plan[j];
        const itemId = ids.id('lms-l-', DOMAIN.lineItem, firstItem[classIdx] + j);
        const u = rng.next();
        let status: 'fully graded' | 'not submitted' | 'exempt';
        let score = '';
        let comment = '';
        let scoreDay: number;
        let isLate = false;
        let points = 0;
        if (u < 0.008) {
          status = 'exempt';
          comment = 'Exempt';
          scoreDay = item.due;
        } else if (item.category !== PARTICIPATION && u < 0.008 + pMissing) {
          status = 'not submitted';
          score = '0';
          comment = 'Missing';
          scoreDay = addSchoolDays(item.due, 2);
        } else {
          status = 'fully graded';
          isLate = item.category !== PARTICIPATION && rng.chance(0.05 + (general < -0.5 ? 0.05 : 0));
          const mean = 0.82 + 0.08 * theta - (item.category === TEST ? 0.04 : 0) - (isLate ? 0.08 : 0);
          const pct = clamp(mean + 0.09 * normal(rng), 0.25, 1);
          points = item.max <= 20 ? Math.round(pct * item.max * 2) / 2 : Math.round(pct * item.max);
          score = fmtScore(points);
          scoreDay = addSchoolDays(item.due, (isLate ? 3 : 1) + rng.int(3));
          if (isLate) {
            comment = 'Late';
            late++;
          } else if (rng.chance(0.04)) comment = rng.pick(GRADED_COMMENTS);
        }
        if (scoreDay > LAST_SCORED) scoreDay = LAST_SCORED;
        byStatus[status]++;
        await put(results, {
          sourcedId: ids.id('lms-r-', DOMAIN.result, resultCounter++),
          lineItemSourcedId: itemId,
          studentSourcedId: student,
          scoreStatus: status,
          score,
          scoreDate: isoDay(scoreDay),
          comment,
        });
        if ((item.category === QUIZ || item.category === HW) && subject === 'math' && pilot.has(school) && status !== 'exempt') {
          quizAttempts.push({
            student: i,
            lmsStudent: student,
            lmsClass: ids.classId(school, ordinal),
            classCode: `${course.code}-${pad(sec + 1, 2)}`,
            courseTitle: course.title,
            lineItem: itemId,
            title: item.title,
            assign: item.assign,
            due: item.due,
            max: item.max,
            status,
            score: points,
            late: isLate,
          });
        }
      }
    }
    progress.tick();
  }

  return {
    categories: CATEGORIES.length,
    lineItems: itemCounter,
    results: resultCounter,
    byStatus,
    late,
    missing: byStatus['not submitted'],
    exempt: byStatus.exempt,
    alignment: { file: 'lms/alignment.json', lineItems: aligned, competencies: competencySet.size },
    quizAttempts,
    pilotSchools: [...pilot].sort((a, b) => a - b).map((x) => d.schools[x].sourcedId),
  };
}
