/**
 * assessment/: an interim (benchmark) assessment vendor's export and the mapped-csv settings that read it.
 *
 *   assessment/interim-benchmark.csv  a report banner on line 1, the header on line 2, then one row per student,
 *                                     administration and subject: fall 2026 and winter 2027, Math and Reading,
 *                                     grades 3-11, with a scale score, a national percentile, a performance level 1-4
 *                                     and raw scores (0-10) on three state standards (the state framework's
 *                                     humanCodingScheme). Students are identified by state id (the SIS identifier)
 *                                     and the SIS local id. A few rows are deliberately bad (expected.json lists them).
 *   assessment/mapping.json           the `settings` of a mapped-csv connector reading that file (paths relative to
 *                                     this folder; the demo configuration embeds them with its own path)
 *
 * The winter window is in January 2027: it includes the students the SIS delta added and leaves out the one it
 * withdrew, and students whose grade the delta corrected test in their corrected grade.
 */
import fs from 'node:fs';
import path from 'node:path';
import { clamp, normal, normalCdf, type Abilities } from './abilities';
import { createRng } from './prng';
import { F_GRADE_CHANGE, dayOf, pad, type District } from './model';
import { CsvFile } from './csv';
import type { Progress } from './progress';
import { STATE_GRADES, type Standards, type Subject } from './standards';

export const INTERIM_HEADER = [
  'District Student ID', 'State ID', 'Last Name', 'First Name', 'Grade', 'Test Name', 'Subject', 'Test Date', 'Scale Score',
  'Percentile', 'Performance Level', 'Std 1 Code', 'Std 1 Score', 'Std 2 Code', 'Std 2 Score', 'Std 3 Code', 'Std 3 Score',
] as const;

export const LEVELS: Record<string, string> = { '1': 'Below Basic', '2': 'Basic', '3': 'Proficient', '4': 'Advanced' };

export interface VendorMalformed {
  file: string;
  /** Physical line (the banner is line 1, the header line 2). */
  line: number;
  kind: string;
  reason: string;
  /** The reject the hub's connector gives the row's assessment result, or null when the row is accepted as is. */
  code: 'row_malformed' | 'record_invalid' | null;
  /** The SIS student the row really is about. */
  sisSourcedId: string;
}

export interface InterimResult {
  file: string;
  mapping: string;
  headerRow: number;
  rows: number;
  bytes: number;
  administrations: Array<{ testName: string; subjects: string[]; from: string; to: string; rows: number }>;
  malformed: VendorMalformed[];
  /** What the mapped-csv connector yields from the file. */
  accepted: { person: number; assessment: number; assessmentResult: number };
}

interface Window {
  name: string;
  start: number;
  winter: boolean;
}

const WINDOWS: Window[] = [
  { name: 'Fall Benchmark 2026', start: dayOf(2026, 9, 8), winter: false },
  { name: 'Winter Benchmark 2027', start: dayOf(2027, 1, 12), winter: true },
];
const TESTS: Array<{ subject: Subject; name: string }> = [
  { subject: 'math', name: 'Math' },
  { subject: 'ela', name: 'Reading' },
];

const weekday = (day: number): number => (day + 4) % 7;
const addSchoolDays = (day: number, n: number): number => {
  let x = day;
  for (let k = 0; k < n; k++) {
    x++;
    while (weekday(x) === 0 || weekday(x) === 6) x++;
  }
  return x;
};
const usDate = (day: number): string => {
  const t = new Date(day * 86_400_000);
  return `${pad(t.getUTCMonth() + 1, 2)}/${pad(t.getUTCDate(), 2)}/${t.getUTCFullYear()}`;
};
const isoDate = (day: number): string => new Date(day * 86_400_000).toISOString().slice(0, 10);

/** The defects, at fixed fractions of the file. */
const DEFECTS: Array<{ at: number; kind: string }> = [
  { at: 0.11, kind: 'date-format' },
  { at: 0.27, kind: 'performance-level' },
  { at: 0.43, kind: 'blank-state-id' },
  { at: 0.59, kind: 'truncated' },
  { at: 0.74, kind: 'score-without-code' },
  { at: 0.9, kind: 'state-id-typo' },
];

/** The mapped-csv settings for the file (paths relative to `baseDir`). */
export function interimSettings(s: Standards, filePath = './interim-benchmark.csv'): Record<string, unknown> {
  const gradeMap = Object.fromEntries(STATE_GRADES.map((g) => [String(g), pad(g, 2)]));
  const objective = (k: number): Record<string, unknown> => ({
    objective: { column: `Std ${k} Code` },
    scores: [{ method: { const: 'raw score' }, value: { column: `Std ${k} Score` }, min: { const: 0 }, max: { const: 10 } }],
    alignment: [{ ref: { column: `Std ${k} Code` }, source: { const: s.state.uri } }],
  });
  return {
    path: filePath,
    mode: 'full',
    headerRow: 2,
    mappings: [
      {
        entity: 'assessmentResult',
        sourceId: { template: '{State ID}|{Test Name}|{Subject}|{Test Date}' },
        fields: {
          assessmentId: { template: '{Test Name}|{Subject}' },
          personId: { column: 'State ID' },
          administrationDate: { column: 'Test Date', date: 'MM/DD/YYYY' },
          gradeWhenAssessed: { column: 'Grade', map: gradeMap },
          scores: [
            { method: { const: 'scale score' }, value: { column: 'Scale Score' } },
            { method: { const: 'percentile' }, value: { column: 'Percentile' }, min: { const: 1 }, max: { const: 99 } },
          ],
          performanceLevel: {
            code: { column: 'Performance Level' },
            label: { column: 'Performance Level', map: LEVELS },
            met: { column: 'Performance Level', map: { '1': false, '2': false, '3': true, '4': true } },
          },
          objectiveResults: [objective(1), objective(2), objective(3)],
        },
        parents: [
          {
            entity: 'person',
            sourceId: { column: 'State ID' },
            fields: {
              givenName: { column: 'First Name' },
              familyName: { column: 'Last Name' },
              enabledUser: { const: true },
              grades: [{ column: 'Grade', map: gradeMap }],
              primaryRole: { const: 'student' },
              identifiers: [
                { system: { const: 'state' }, value: { column: 'State ID' } },
                { system: { const: 'sis' }, value: { column: 'District Student ID' } },
              ],
            },
          },
          {
            entity: 'assessment',
            sourceId: { template: '{Test Name}|{Subject}' },
            fields: {
              title: { template: '{Test Name} - {Subject}' },
              identifier: { template: '{Test Name}|{Subject}' },
              category: { const: 'Interim' },
              subjects: [{ column: 'Subject' }],
              reportingMethods: [
                { method: { const: 'scale score' }, min: { const: 100 }, max: { const: 800 } },
                { method: { const: 'percentile' }, min: { const: 1 }, max: { const: 99 } },
              ],
              performanceLevels: Object.entries(LEVELS).map(([code, label]) => ({
                code: { const: code }, label: { const: label }, met: { const: code === '3' || code === '4' },
              })),
            },
          },
        ],
      },
    ],
  };
}

export async function writeInterim(d: District, s: Standards, abilities: Abilities, dir: string, progress: Progress): Promise<InterimResult> {
  fs.mkdirSync(dir, { recursive: true });
  const file = 'assessment/interim-benchmark.csv';
  const rng = createRng(d.seed, 'interim');

  // Who sits which window: the bulk students, and in winter the delta's new students, minus the withdrawn one.
  const gradeAt = (i: number, w: Window): number => (w.winter && d.flags[i] & F_GRADE_CHANGE ? d.grade[i] + 1 : d.grade[i]);
  const tested = (i: number, w: Window): boolean => {
    if (w.winter ? i === d.withdrawn : i >= d.n) return false;
    const g = gradeAt(i, w);
    return g >= 3 && g <= 11;
  };
  let planned = 0;
  for (const w of WINDOWS) for (let i = 0; i < (w.winter ? d.total : d.n); i++) if (tested(i, w)) planned += TESTS.length;
  // Each defect lands on the first row written at or after its position (a student may have missed the window).
  const defectPositions = DEFECTS.map((x) => Math.floor(planned * x.at));
  let nextDefect = 0;

  // A banner line (the report title) above the header, padded to the header's width as Excel saves it.
  const banner = `Interim Benchmark Export - ${d.district.name} (synthetic) - generated 01/25/2027${','.repeat(INTERIM_HEADER.length - 1)}\r\n`;
  const csv = new CsvFile('interim-benchmark.csv', path.join(dir, 'interim-benchmark.csv'), INTERIM_HEADER, { preamble: banner });

  const malformed: VendorMalformed[] = [];
  const persons = new Set<string>();
  const administrations: InterimResult['administrations'] = [];
  let position = 0;
  let results = 0;
  for (const w of WINDOWS) {
    let rowsInWindow = 0;
    let first = Infinity;
    let last = -Infinity;
    for (const t of TESTS) {
      for (let i = 0; i < (w.winter ? d.total : d.n); i++) {
        if (!tested(i, w)) continue;
        const pos = position++;
        // About 3% miss the window; 3% test in the make-up week.
        const u = rng.next();
        if (u < 0.03) continue;
        const g = gradeAt(i, w);
        const school = d.school[i];
        let day = addSchoolDays(w.start - 1, 1 + (school % 4) + (t.subject === 'ela' ? 1 : 0));
        if (u < 0.06) day = addSchoolDays(day, 5 + rng.int(3));
        first = Math.min(first, day);
        last = Math.max(last, day);
        const theta = abilities.of(t.subject === 'math' ? 'math' : 'reading', i) + (w.winter ? 0.05 : 0) + 0.3 * normal(rng);
        const scale = Math.round(clamp(300 + 35 * g + (w.winter ? 12 : 0) + 45 * theta, 100, 800));
        const pct = Math.round(clamp(normalCdf(theta) * 100, 1, 99));
        const level = pct < 25 ? '1' : pct < 50 ? '2' : pct < 80 ? '3' : '4';
        const stds = s.stateFor(t.subject, g);
        const reported = rng.chance(0.05) ? 2 : 3;
        const cells: string[] = [
          d.studentLocalId(i),
          d.stateId(i),
          d.familyName(d.st, i),
          d.preferredGiven(i) !== '' && rng.chance(0.3) ? d.preferredGiven(i) : d.givenName(d.st, i),
          String(g),
          w.name,
          t.name,
          usDate(day),
          String(scale),
          String(pct),
          level,
        ];
        for (let k = 0; k < 3; k++) {
          if (k < reported) {
            const raw = Math.round(10 * clamp(0.62 + 0.16 * theta + 0.12 * normal(rng), 0, 1));
            cells.push(stds[k].code, String(raw));
          } else cells.push('', '');
        }
        let kind: string | undefined;
        if (nextDefect < DEFECTS.length && pos >= defectPositions[nextDefect]) kind = DEFECTS[nextDefect++].kind;
        let person = true;
        let result = true;
        let out: string[] = cells;
        if (kind !== undefined) {
          const line = csv.nextLine;
          const add = (reason: string, code: VendorMalformed['code']): void => {
            malformed.push({ file, line, kind, reason, code, sisSourcedId: d.studentId(i) });
          };
          if (kind === 'date-format') {
            out[7] = isoDate(day);
            add(`Test Date "${out[7]}" is not in the MM/DD/YYYY format the rest of the file uses`, 'row_malformed');
            result = false;
          } else if (kind === 'performance-level') {
            out[10] = '5';
            add('Performance Level "5" is outside the 1-4 scale (no label, no met value)', 'row_malformed');
            result = false;
          } else if (kind === 'blank-state-id') {
            out[1] = '';
            add('State ID is blank: neither the person nor the result can be identified', 'record_invalid');
            person = false;
            result = false;
          } else if (kind === 'truncated') {
            out = cells.slice(0, 9);
            add(`the row has ${out.length} cells, the header ${INTERIM_HEADER.length} (truncated after Scale Score)`, 'row_malformed');
            person = false;
            result = false;
          } else if (kind === 'score-without-code') {
            out[13] = '';
            add('Std 2 Score is given but Std 2 Code is blank', 'record_invalid');
            result = false;
          } else if (kind === 'state-id-typo') {
            out[1] = out[1].slice(0, -1);
            add(`State ID "${out[1]}" lost its last digit: it matches no SIS student. The connector accepts the row; its District Student ID and name still point to the real student, so it is a case for identity review`, null);
          }
        }
        if (person) persons.add(out[1]);
        if (result) results++;
        rowsInWindow++;
        const p = csv.raw(out);
        if (p) await p;
      }
    }
    administrations.push({ testName: w.name, subjects: TESTS.map((t) => t.name), from: isoDate(first), to: isoDate(last), rows: rowsInWindow });
  }
  progress.tick(d.n);
  await csv.close();

  const mappingText = `${JSON.stringify(interimSettings(s), null, 2)}\n`;
  fs.writeFileSync(path.join(dir, 'mapping.json'), mappingText);

  return {
    file,
    mapping: 'assessment/mapping.json',
    headerRow: 2,
    rows: csv.rows,
    bytes: csv.bytes,
    administrations,
    malformed,
    accepted: { person: persons.size, assessment: WINDOWS.length * TESTS.length, assessmentResult: results },
  };
}
