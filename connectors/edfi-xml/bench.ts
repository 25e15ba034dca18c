/**
 * Throughput and memory of the edfi-xml connector on a large synthetic StudentAssessment interchange.
 *
 *   npx tsx connectors/edfi-xml/bench.ts --mb 200 [--keep] [--file /path/to/existing.xml] [--page-size 2000]
 *
 * Writes the file (streamed, bounded memory) to the OS temp dir, then runs each phase in its own child process so
 * that each peak RSS is its own:
 *   raw        the file only tokenized by saxes (no objects): the floor
 *   connector  edfiXml.read('assessmentResults'): saxes -> objects from sax events -> mappers -> pages of 2000
 *   fxp        the alternative design: saxes cuts each top-level element's text, fast-xml-parser parses it, the same
 *              mapper maps it (the cutter counts UTF-16 positions: fine for this ASCII file)
 * Prints MB/s, records/s and peak RSS per phase. Synthetic, fictional data only.
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, promises as fsp, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { SaxesParser } from 'saxes';
import { silentLogger } from '../../src/core/logger';
import { edfiXml } from './index';
import { openText } from './source';
import { mapStudentAssessment, type MapContext } from './mappers';
import { Descriptors } from './values';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const D = 'uri://ed-fi.org';
const METHODS = ['Scale score', 'Raw score', 'Percentile rank'];
const LEVELS = ['Below Basic', 'Basic', 'Proficient', 'Advanced'];

/** One synthetic StudentAssessment (~2.3 KB): three scores, a level, two objective results, five items. */
function element(i: number): string {
  const student = 700000 + (i % 250000);
  const score = (n: number, method: string) =>
    `\t\t<ScoreResult>\n\t\t\t<Result>${n}</Result>\n\t\t\t<ResultDatatypeType>${D}/ResultDatatypeTypeDescriptor#Integer</ResultDatatypeType>\n\t\t\t<AssessmentReportingMethod>${D}/AssessmentReportingMethodDescriptor#${method}</AssessmentReportingMethod>\n\t\t</ScoreResult>\n`;
  const assessment = `<AssessmentReference><AssessmentIdentity><AssessmentIdentifier>BENCH-MATH-${i % 12}</AssessmentIdentifier><Namespace>uri://example.org/Assessment</Namespace></AssessmentIdentity></AssessmentReference>`;
  let items = '';
  for (let q = 1; q <= 5; q++) {
    items += `\t\t<StudentAssessmentItem>\n\t\t\t<AssessmentItemResult>${D}/AssessmentItemResultDescriptor#${(i + q) % 3 ? 'Correct' : 'Incorrect'}</AssessmentItemResult>\n\t\t\t<RawScoreResult>${(i + q) % 3 ? 1 : 0}</RawScoreResult>\n\t\t\t<AssessmentItemReference><AssessmentItemIdentity><IdentificationCode>Q${q}</IdentificationCode>${assessment}</AssessmentItemIdentity></AssessmentItemReference>\n\t\t</StudentAssessmentItem>\n`;
  }
  let objectives = '';
  for (const o of ['NS', 'EE']) {
    objectives += `\t\t<StudentObjectiveAssessment>\n${score(i % 20, 'Raw score')}\t\t\t<ObjectiveAssessmentReference><ObjectiveAssessmentIdentity><IdentificationCode>BENCH-${o}</IdentificationCode>${assessment}</ObjectiveAssessmentIdentity></ObjectiveAssessmentReference>\n\t\t</StudentObjectiveAssessment>\n`;
  }
  return (
    `\t<StudentAssessment>\n\t\t<StudentAssessmentIdentifier>SA-${i.toString(36)}-${student}</StudentAssessmentIdentifier>\n` +
    `\t\t<AdministrationDate>2025-0${1 + (i % 9)}-1${i % 10}T09:00:00</AdministrationDate>\n` +
    METHODS.map((m, k) => score(100 + ((i * (k + 7)) % 200), m)).join('') +
    `\t\t<WhenAssessedGradeLevel>${D}/GradeLevelDescriptor#Sixth grade</WhenAssessedGradeLevel>\n` +
    `\t\t<PerformanceLevel>\n\t\t\t<PerformanceLevel>${D}/PerformanceLevelDescriptor#${LEVELS[i % 4]}</PerformanceLevel>\n\t\t\t<AssessmentReportingMethod>${D}/AssessmentReportingMethodDescriptor#Scale score</AssessmentReportingMethod>\n\t\t</PerformanceLevel>\n` +
    `\t\t<StudentReference><StudentIdentity><StudentUniqueId>${student}</StudentUniqueId></StudentIdentity></StudentReference>\n` +
    `\t\t${assessment}\n${items}${objectives}` +
    `\t\t<ReportedSchoolReference><SchoolIdentity><SchoolId>${990001 + (i % 40)}</SchoolId></SchoolIdentity></ReportedSchoolReference>\n` +
    `\t\t<SchoolYear>2024-2025</SchoolYear>\n\t</StudentAssessment>\n`
  );
}

async function generate(file: string, mb: number): Promise<number> {
  const target = mb * 1024 * 1024;
  const out = createWriteStream(file);
  let written = 0;
  let n = 0;
  const write = (s: string) => {
    written += s.length;
    return out.write(s);
  };
  write('<?xml version="1.0" encoding="UTF-8"?>\n<InterchangeStudentAssessment xmlns="http://ed-fi.org/5.0.0">\n');
  while (written < target) {
    if (!write(element(n++))) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  write('</InterchangeStudentAssessment>\n');
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  return n;
}

// ---------------------------------------------------------------------------------------------------------------
// Phases (each run in a child process)

async function raw(file: string): Promise<number> {
  const p = new SaxesParser({ xmlns: false, position: true });
  let depth = 0;
  let n = 0;
  p.on('opentag', () => depth++);
  p.on('closetag', () => {
    if (--depth === 1) n++;
  });
  for await (const chunk of openText(file)) p.write(chunk);
  p.close();
  return n;
}

async function connector(file: string): Promise<number> {
  const ctx = { tenantId: 't', connectorId: 'bench', baseDir: path.dirname(file), log: silentLogger, signal: new AbortController().signal, mode: 'full' as const };
  let n = 0;
  const pageSize = Number(arg('page-size') ?? 2000);
  for await (const page of edfiXml.read('assessmentResults', { path: path.basename(file), pageSize }, ctx)) {
    n += page.records.length + (page.rejects?.length ?? 0);
  }
  return n;
}

async function fxp(file: string): Promise<number> {
  const xp = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false, removeNSPrefix: true, trimValues: true });
  const ctx: MapContext = { file: path.basename(file), line: 0, descriptors: new Descriptors(), joins: {}, ids: new Map() };
  const p = new SaxesParser({ xmlns: false, position: true });
  let buf = '';
  let bufStart = 0;
  let depth = 0;
  let start = -1;
  let n = 0;
  let page = 0;
  p.on('opentagstart', (t) => {
    if (depth === 1) start = p.position - t.name.length - 2;
  });
  p.on('opentag', () => depth++);
  p.on('closetag', () => {
    if (--depth !== 1) return;
    const text = buf.slice(start - bufStart, p.position - bufStart);
    start = -1;
    const obj = xp.parse(text) as Record<string, unknown>;
    const r = mapStudentAssessment(obj.StudentAssessment as never, ctx);
    n += r.reject ? 1 : r.records.length;
    if (++page === 2000) page = 0; // pages of 2000, as the connector hands them over
  });
  for await (const chunk of openText(file)) {
    buf += chunk;
    p.write(chunk);
    // Keep the current element's text; outside one, keep from the last '<' (a start tag the chunk cut in two).
    const last = buf.lastIndexOf('<');
    const keep = start >= 0 ? start : last >= 0 ? bufStart + last : p.position;
    buf = buf.slice(keep - bufStart);
    bufStart = keep;
  }
  p.close();
  return n;
}

const PHASES: Record<string, (file: string) => Promise<number>> = { raw, connector, fxp };

async function child(phase: string, file: string): Promise<void> {
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const n = await PHASES[phase](file);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  process.stdout.write(JSON.stringify({ phase, n, seconds, cpuSeconds: (c.user + c.system) / 1e6, maxRssKb: process.resourceUsage().maxRSS }));
}

async function main(): Promise<void> {
  const phase = arg('phase');
  if (phase) return child(phase, arg('file')!);

  const mb = Number(arg('mb') ?? 200);
  let file = arg('file');
  let elements: number | undefined;
  if (!file) {
    file = path.join(os.tmpdir(), `edfi-bench-StudentAssessment-${mb}mb.xml`);
    const t0 = Date.now();
    elements = await generate(file, mb);
    console.log(`generated ${file}: ${elements.toLocaleString()} StudentAssessment elements in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  const size = statSync(file).size / (1024 * 1024);
  console.log(`file: ${size.toFixed(1)} MB; node ${process.version}; ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'})\n`);
  console.log(`load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} (MB/s by wall clock; 'cpu MB/s' by the process's own CPU time, steadier on a busy machine)`);
  console.log(`${'phase'.padEnd(11)} ${'MB/s'.padStart(7)} ${'cpu MB/s'.padStart(9)} ${'records/s'.padStart(11)} ${'items'.padStart(10)} ${'seconds'.padStart(8)} ${'peak RSS'.padStart(9)}`);
  for (const p of ['raw', 'connector', 'fxp']) {
    const extra = arg('page-size') ? ['--page-size', arg('page-size')!] : [];
    const res = spawnSync(process.execPath, [...process.execArgv, __filename, '--phase', p, '--file', file, ...extra], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (res.status !== 0) {
      console.error(`phase ${p} failed:\n${res.stderr}`);
      process.exitCode = 1;
      continue;
    }
    const r = JSON.parse(res.stdout.trim().split('\n').pop()!) as { n: number; seconds: number; cpuSeconds: number; maxRssKb: number };
    const rate = p === 'raw' ? '—' : Math.round(r.n / r.seconds).toLocaleString();
    console.log(
      `${p.padEnd(11)} ${(size / r.seconds).toFixed(1).padStart(7)} ${(size / r.cpuSeconds).toFixed(1).padStart(9)} ${rate.padStart(11)} ${r.n.toLocaleString().padStart(10)} ${r.seconds.toFixed(1).padStart(8)} ${`${Math.round(r.maxRssKb / 1024)} MB`.padStart(9)}`,
    );
  }
  if (!arg('file') && !process.argv.includes('--keep')) await fsp.rm(file, { force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
