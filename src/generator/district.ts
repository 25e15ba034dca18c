/**
 * Synthetic district generator: a deterministic, scalable fake school district for tests, demos and benchmarks.
 *
 *   outDir/
 *     README.md          every folder and the connector that reads it
 *     sis/bulk/          OneRoster 1.2 CSV bulk export of the SIS (with a few deliberately malformed rows)
 *     sis/bulk.zip       the same files at the zip root
 *     sis/delta-1/       OneRoster 1.2 CSV delta: new, corrected and withdrawn students, schedule changes
 *     lms/bulk/          an LMS's OneRoster 1.1 CSV bulk export of the secondary schools, own ids, dirty names,
 *                        with its gradebook (categories, lineItems, results)
 *     lms/alignment.json which district competencies each LMS assignment assesses (gradebook.ts)
 *     case/              the state standards and the district competencies as CASE 1.1 packages (case.ts)
 *     assessment/        an interim benchmark vendor's CSV export + its mapped-csv settings (interim.ts)
 *     behaviour/         the behaviour tool's CSV export + its mapped-csv settings (behaviour.ts)
 *     edfi/              the state's Ed-Fi XML interchanges: state assessment, discipline (edfi.ts)
 *     caliper/           a learning app's Caliper 1.2 envelopes, NDJSON (caliper.ts)
 *     ground-truth.json  which LMS person is which SIS person; the twins and namesakes
 *     expected.json      counts, the malformed rows (file, line, reason) and the delta's changes, for tests
 *
 * The students are the same everywhere: the other systems know them by state id (the SIS `identifier`), SIS local
 * id or LMS sourcedId, and latent abilities (abilities.ts) keep their grades, benchmark and state test scores and
 * behaviour consistent with one another.
 *
 * Same seed and options give byte-identical files. Nothing here is real data: names are drawn from hand-written
 * lists of common names, ids and dates are synthetic.
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ZipFile } from 'yazl';
import { CALENDAR, District } from './model';
import { TextSink } from './csv';
import { Progress } from './progress';
import { SIS_SYSTEM_NAME, writeSisBulk, writeSisDelta, type Malformed } from './sis';
import { LMS_SYSTEM_NAME, writeLmsBulk } from './lms';
import type { ExportResult, FileCount } from './export-dir';
import { Abilities } from './abilities';
import { Standards } from './standards';
import { writeCase } from './case';
import { writeGradebook, type GradebookResult } from './gradebook';
import { writeInterim } from './interim';
import { buildIncidents, writeBehaviour } from './behaviour';
import { writeEdfi } from './edfi';
import { writeCaliper } from './caliper';

export interface GenerateDistrictOptions {
  seed: number;
  students: number;
  outDir: string;
  /** Default max(3, round(students / 600)); split elementary (K-5), middle (6-8) and high (9-12) about 6:3:4. */
  schools?: number;
  log?: (msg: string) => void;
}

export interface FileSummary {
  bytes: number;
  /** Data rows (CSV, header excluded), persons (ground-truth.json) or entries (zip). */
  rows?: number;
}

export interface DistrictSummary {
  outDir: string;
  seed: number;
  students: number;
  schools: number;
  /** Every file written, by path relative to outDir (forward slashes). */
  files: Record<string, FileSummary>;
  /** Absolute paths of every file written, in the order above. */
  paths: string[];
  counts: {
    students: number;
    teachers: number;
    administrators: number;
    guardians: number;
    courses: number;
    classes: number;
    enrollments: number;
    deltaNewStudents: number;
    lmsStudents: number;
    lmsTeachers: number;
    twinPairs: number;
    sameNamePairs: number;
    malformedRows: number;
    lineItems: number;
    results: number;
    competencies: number;
    stateStandards: number;
    interimRows: number;
    behaviourRows: number;
    stateAssessmentResults: number;
    disciplineIncidents: number;
    caliperEvents: number;
  };
  elapsedMs: number;
}

/** Fixed zip timestamp, built from local-time fields so the DOS date/time written is the same in every time zone. */
const ZIP_MTIME = new Date(2026, 10, 20, 8, 0, 0);

async function writeZip(srcDir: string, names: string[], zipPath: string): Promise<number> {
  const zip = new ZipFile();
  for (const name of names) {
    zip.addFile(path.join(srcDir, name), name, { mtime: ZIP_MTIME, mode: 0o100644, forceDosTimestamp: true, compress: true });
  }
  const out = fs.createWriteStream(zipPath);
  await new Promise<void>((resolve, reject) => {
    zip.on('error', reject);
    out.on('error', reject);
    out.on('close', () => resolve());
    zip.outputStream.pipe(out);
    zip.end();
  });
  return fs.statSync(zipPath).size;
}

function fileTable(res: ExportResult, malformed: Malformed[] = []): Record<string, { rows: number; malformed: number }> {
  const table: Record<string, { rows: number; malformed: number }> = {};
  for (const [name, c] of Object.entries(res.files)) {
    table[name] = { rows: c.rows, malformed: malformed.filter((m) => m.file === name).length };
  }
  return table;
}

export async function generateDistrict(opts: GenerateDistrictOptions): Promise<DistrictSummary> {
  const started = performance.now();
  const log = opts.log;
  const outDir = path.resolve(opts.outDir);
  const d = new District({ seed: opts.seed, students: opts.students, schools: opts.schools });
  log?.(`generate: seed ${d.seed}, ${d.n} students, ${d.schools.length} schools, ${d.teacherCount} teachers -> ${outDir}`);

  let secondaryStudents = 0;
  for (const sc of d.schools) if (sc.band !== 'elementary') secondaryStudents += d.schoolStudents[sc.index];
  // SIS bulk 4n, LMS roster 3 x secondary, gradebook 1 x secondary, interim n, Ed-Fi 2n.
  const progress = new Progress(7 * d.n + 4 * secondaryStudents, log);
  const abilities = new Abilities(d);
  const standards = new Standards(d);

  fs.mkdirSync(outDir, { recursive: true });
  const files: Record<string, FileSummary> = {};
  const record = (rel: string, res: ExportResult): void => {
    for (const [name, c] of Object.entries(res.files) as Array<[string, FileCount]>) files[`${rel}/${name}`] = { rows: c.rows, bytes: c.bytes };
  };

  // SIS bulk + zip.
  const sisDir = path.join(outDir, 'sis', 'bulk');
  const sis = await writeSisBulk(d, sisDir, progress);
  record('sis/bulk', sis);
  const zipNames = Object.keys(sis.files);
  log?.('generate: writing sis/bulk.zip');
  const zipBytes = await writeZip(sisDir, zipNames, path.join(outDir, 'sis', 'bulk.zip'));
  files['sis/bulk.zip'] = { rows: zipNames.length, bytes: zipBytes };

  // SIS delta.
  log?.('generate: writing sis/delta-1');
  const delta = await writeSisDelta(d, path.join(outDir, 'sis', 'delta-1'));
  record('sis/delta-1', delta);

  // LMS bulk, with the ground truth streamed alongside.
  const gt = new TextSink(path.join(outDir, 'ground-truth.json'));
  gt.write('{\n  "persons": [\n');
  let persons = 0;
  let gradebook: GradebookResult | undefined;
  const alignmentPath = path.join(outDir, 'lms', 'alignment.json');
  const lms = await writeLmsBulk(
    d,
    path.join(outDir, 'lms', 'bulk'),
    progress,
    (lmsId, sisId) => gt.write(`${persons++ === 0 ? '' : ',\n'}    {"lms": ${JSON.stringify(lmsId)}, "sis": ${JSON.stringify(sisId)}}`),
    async (out, ids, lmsStudents) => {
      gradebook = await writeGradebook(d, standards, abilities, out, ids, lmsStudents, alignmentPath, progress);
    },
  );
  record('lms/bulk', lms);
  if (!gradebook) throw new Error('the LMS gradebook was not written');
  const gb: GradebookResult = gradebook;
  files['lms/alignment.json'] = { rows: gb.alignment.lineItems, bytes: fs.statSync(alignmentPath).size };
  const pairs = (list: Array<[number, number]>): string =>
    list.map(([a, b]) => `    ${JSON.stringify([d.studentId(a), d.studentId(b)])}`).join(',\n');
  gt.write(`\n  ],\n  "twins": [\n${pairs(d.twins)}\n  ],\n  "sameName": [\n${pairs(d.sameName)}\n  ]\n}\n`);
  await gt.close();
  files['ground-truth.json'] = { rows: persons, bytes: gt.bytes };

  // The other systems.
  log?.('generate: writing case/');
  const caseRes = writeCase(standards, path.join(outDir, 'case'));
  for (const [name, f] of Object.entries(caseRes.files)) files[`case/${name}`] = f;

  progress.label = 'assessment/interim-benchmark.csv';
  const interim = await writeInterim(d, standards, abilities, path.join(outDir, 'assessment'), progress);
  files['assessment/interim-benchmark.csv'] = { rows: interim.rows, bytes: interim.bytes };
  files['assessment/mapping.json'] = { bytes: fs.statSync(path.join(outDir, 'assessment', 'mapping.json')).size };

  log?.('generate: writing behaviour/');
  const incidents = buildIncidents(d, abilities);
  const behaviour = await writeBehaviour(d, incidents, path.join(outDir, 'behaviour'));
  files['behaviour/incidents.csv'] = { rows: behaviour.rows, bytes: behaviour.bytes };
  files['behaviour/mapping.json'] = { bytes: fs.statSync(path.join(outDir, 'behaviour', 'mapping.json')).size };

  progress.label = 'edfi/';
  const edfi = await writeEdfi(d, standards, abilities, incidents, path.join(outDir, 'edfi'), progress);
  for (const [name, f] of Object.entries(edfi.files)) files[`edfi/${name}`] = { rows: f.rows, bytes: f.bytes };

  log?.('generate: writing caliper/');
  const caliper = await writeCaliper(d, gb.quizAttempts, path.join(outDir, 'caliper'));
  files['caliper/events.ndjson'] = { rows: caliper.envelopes, bytes: fs.statSync(path.join(outDir, 'caliper', 'events.ndjson')).size };
  files['caliper/README.md'] = { bytes: fs.statSync(path.join(outDir, 'caliper', 'README.md')).size };

  const readme = districtReadme(d.district.name, d.seed, d.n);
  fs.writeFileSync(path.join(outDir, 'README.md'), readme);
  files['README.md'] = { bytes: Buffer.byteLength(readme) };

  // expected.json
  const rejected = (name: string): number => sis.malformed.filter((m) => m.file === name).length;
  const rows = (name: string): number => sis.files[name]?.rows ?? 0;
  const expected = {
    generator: { seed: d.seed, students: d.n, schools: d.schools.length, calendar: CALENDAR },
    sis: {
      dir: 'sis/bulk',
      zip: 'sis/bulk.zip',
      version: '1.2',
      systemName: SIS_SYSTEM_NAME,
      files: fileTable(sis, sis.malformed),
      absent: sis.absent,
      malformed: sis.malformed,
      schools: d.schools.length,
      elementarySchools: d.schools.filter((s) => s.band === 'elementary').length,
      middleSchools: d.schools.filter((s) => s.band === 'middle').length,
      highSchools: d.schools.filter((s) => s.band === 'high').length,
      students: sis.counts.students,
      teachers: sis.counts.teachers,
      administrators: sis.counts.administrators,
      guardians: sis.counts.guardians,
      courses: sis.counts.courses,
      classes: sis.counts.classes,
      twinPairs: d.twins.length,
      sameNamePairs: d.sameName.length,
      /** Records a conforming connector accepts, per unified entity type (the malformed rows rejected). */
      accepted: {
        org: rows('orgs.csv'),
        academicSession: rows('academicSessions.csv'),
        course: rows('courses.csv'),
        class: rows('classes.csv'),
        person: rows('users.csv') - rejected('users.csv'),
        role: rows('roles.csv'),
        enrollment: rows('enrollments.csv') - rejected('enrollments.csv'),
        demographics: rows('demographics.csv') - rejected('demographics.csv'),
      },
    },
    delta: {
      dir: 'sis/delta-1',
      version: '1.2',
      timestamp: CALENDAR.deltaTimestamp,
      files: fileTable(delta),
      absent: delta.absent,
      ...delta.changes,
    },
    lms: {
      dir: 'lms/bulk',
      version: '1.1',
      systemName: LMS_SYSTEM_NAME,
      files: fileTable(lms),
      absent: lms.absent,
      ...lms.counts,
      dirt: lms.dirt,
      gradebook: {
        categories: gb.categories,
        lineItems: gb.lineItems,
        results: gb.results,
        byStatus: gb.byStatus,
        late: gb.late,
        missing: gb.missing,
        exempt: gb.exempt,
        gradingPeriod: 'the fall semester (academicSessions.csv)',
      },
      alignment: gb.alignment,
    },
    groundTruth: { file: 'ground-truth.json', persons, twinPairs: d.twins.length, sameNamePairs: d.sameName.length },
    case: caseRes,
    assessment: { ...interim, bytes: undefined },
    behaviour: { ...behaviour, bytes: undefined },
    edfi: {
      ...edfi,
      /** What the edfi-xml connector yields, per unified entity type, once the malformed elements are rejected. */
      accepted: {
        org: 2 + d.schools.length,
        person: edfi.students,
        assessment: edfi.assessments + edfi.objectiveAssessments,
        assessmentResult: edfi.studentAssessments - edfi.malformed.filter((m) => m.element === 'StudentAssessment').length,
        behaviourIncident: edfi.incidents,
        behaviourParticipant:
          edfi.behaviourAssociations + edfi.nonOffenderAssociations - edfi.malformed.filter((m) => m.element.startsWith('StudentDiscipline')).length,
        disciplineAction: edfi.disciplineActions - edfi.malformed.filter((m) => m.element === 'DisciplineAction').length,
      },
    },
    caliper: { ...caliper, pilotSchools: gb.pilotSchools },
  };
  const expectedPath = path.join(outDir, 'expected.json');
  const expectedText = `${JSON.stringify(expected, null, 2)}\n`;
  fs.writeFileSync(expectedPath, expectedText);
  files['expected.json'] = { bytes: Buffer.byteLength(expectedText) };

  const elapsedMs = Math.round(performance.now() - started);
  log?.(`generate: done in ${elapsedMs} ms`);
  const ordered = Object.keys(files);
  return {
    outDir,
    seed: d.seed,
    students: d.n,
    schools: d.schools.length,
    files,
    paths: ordered.map((rel) => path.join(outDir, ...rel.split('/'))),
    counts: {
      students: d.n,
      teachers: d.teacherCount,
      administrators: d.admins.length,
      guardians: d.guardianCount,
      courses: sis.counts.courses,
      classes: sis.counts.classes,
      enrollments: rows('enrollments.csv') - rejected('enrollments.csv'),
      deltaNewStudents: d.newCount,
      lmsStudents: lms.counts.students,
      lmsTeachers: lms.counts.teachers,
      twinPairs: d.twins.length,
      sameNamePairs: d.sameName.length,
      malformedRows: sis.malformed.length,
      lineItems: gb.lineItems,
      results: gb.results,
      competencies: standards.competencies.length,
      stateStandards: standards.stateStandards.length,
      interimRows: interim.rows,
      behaviourRows: behaviour.rows,
      stateAssessmentResults: edfi.studentAssessments,
      disciplineIncidents: edfi.incidents,
      caliperEvents: caliper.events,
    },
    elapsedMs,
  };
}

/** `<out>/README.md`: one line per folder and the connector that reads it. */
function districtReadme(name: string, seed: number, students: number): string {
  return `# Synthetic district: ${name}

Generated by the Learner Data Hub district generator (seed ${seed}, ${students} students). Nothing here is real data:
names come from hand-written lists, ids and dates are synthetic, the standards are written for the generator. The
same students appear in every system, under the ids each system uses (SIS sourcedId, SIS local id, state id, LMS
sourcedId). \`expected.json\` lists the counts and every deliberately malformed row; \`ground-truth.json\` says
which LMS person is which SIS person.

| folder | what | read by |
|---|---|---|
| \`sis/bulk/\`, \`sis/bulk.zip\` | the SIS: OneRoster 1.2 CSV bulk export (orgs, sessions, courses, classes, users, roles, enrollments, demographics) | \`oneroster-csv\` (demo connector \`sis\`) |
| \`sis/delta-1/\` | the SIS's OneRoster 1.2 CSV delta: new, corrected and withdrawn students, schedule changes | \`oneroster-csv\` |
| \`lms/bulk/\` | the LMS: OneRoster 1.1 CSV bulk export of the secondary schools under its own ids, with its gradebook (categories, lineItems, results) | \`oneroster-csv\` (demo connector \`lms\`) |
| \`lms/alignment.json\` | which district competencies (CASE CFItem identifiers) each math and ELA assignment assesses | no connector: input for competency evidence |
| \`case/\` | \`state-standards.json\` and \`district-competencies.json\`: CASE 1.1 CFPackages, the district's crosswalk to the state | \`case\` (demo connectors \`state-standards\`, \`district-competencies\`) |
| \`assessment/\` | \`interim-benchmark.csv\`: an interim benchmark vendor's export (fall and winter, math and reading, per-standard scores); \`mapping.json\`: its connector settings | \`mapped-csv\` (demo connector \`interim\`) |
| \`behaviour/\` | \`incidents.csv\`: the behaviour tool's export (referrals, recognitions, actions); \`mapping.json\`: its connector settings | \`mapped-csv\` (demo connector \`behaviour\`) |
| \`edfi/\` | the state's Ed-Fi DS 5 XML interchanges: state summative results and metadata, discipline, and the students, schools and district they reference | \`edfi-xml\` (demo connector \`state-assessment\`) |
| \`caliper/\` | \`events.ndjson\`: a learning app's Caliper 1.2 envelopes; \`README.md\`: how to POST them | the hub's Caliper endpoint \`POST /caliper/<tenant>\` (not a connector) |
`;
}
