/**
 * npm run bench:export -- [--students 20000] [--seed 42] [--page <persons per page; default: the export's own>]
 *
 * State-reporting export of a synthetic district (generated + synced once with the demo connectors; the SQLite file
 * is cached under bench/out/export-<students>.sqlite), against a baseline measured in the same run:
 *  - baseline: a plain keyset-paged `select id, data from records` of the same source types (persons, enrollments,
 *    assessment results, behaviour participants, discipline actions) written as CSV lines to a file, backpressure
 *    respected — reading and writing, no joins, no shaping;
 *  - export: `runStateExport` with a default profile (all files, CSV + NDJSON, schemas, manifest, disclosure).
 * Each runs in its own child process, so peak RSS (getrusage maxRSS) is its own. Prints rows/s, peak RSS and the
 * ratios export / baseline.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { generateDistrict } from '../src/generator/district';
import { validateConfig } from '../src/core/config';
import { openDb, migrate } from '../src/store/db';
import { ensureTenants } from '../src/store/tenants';
import { runSync } from '../src/ingest/runner';
import { runStateExport } from '../src/serve/export/state/extract';
import { PROJECT_ROOT } from '../src/core/paths';

const args = process.argv.slice(2);
const opt = (name: string, def?: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const OUT = path.join(PROJECT_ROOT, 'bench/out');
const students = Number(opt('students', '20000'));
const seed = Number(opt('seed', '42'));
const dbFile = path.join(OUT, `export-${students}-${seed}.sqlite`);
const districtDir = path.join(OUT, `export-district-${students}-${seed}`);
const SOURCE_TYPES = ['person', 'enrollment', 'assessmentResult', 'behaviourParticipant', 'disciplineAction'];

function benchConfig() {
  const demo = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'fixtures/demo/hub.config.json'), 'utf8')) as {
    tenants: { connectors: { id: string; settings: Record<string, unknown>; schedule?: string }[]; identity: unknown }[];
  };
  const connectors = demo.tenants[0].connectors
    .filter((c) => !['state-standards', 'district-competencies'].includes(c.id))
    .map(({ schedule: _s, ...c }) => ({ ...c, settings: { ...c.settings, path: path.join(districtDir, String(c.settings.path).replace(/^\.\/district\//, '')) } }));
  return validateConfig({
    tenants: [{ id: 'bench', name: 'Bench district', identity: demo.tenants[0].identity, connectors, exports: { profiles: [{ name: 'state-doe', recipient: 'State DOE' }] } }],
  }, '(bench)', OUT);
}

async function prepare(): Promise<void> {
  if (fs.existsSync(dbFile)) return;
  fs.mkdirSync(OUT, { recursive: true });
  const t0 = Date.now();
  if (!fs.existsSync(path.join(districtDir, 'expected.json'))) await generateDistrict({ seed, students, outDir: districtDir });
  const cfg = benchConfig();
  const tmp = `${dbFile}.building`;
  for (const f of [tmp, `${tmp}-wal`, `${tmp}-shm`]) fs.rmSync(f, { force: true });
  const db = await openDb({ url: tmp });
  await migrate(db);
  await ensureTenants(db, cfg.config);
  for (const c of cfg.config.tenants[0].connectors!) {
    const t = Date.now();
    const r = await runSync({ db, config: cfg }, { tenantId: 'bench', connectorId: c.id });
    process.stderr.write(`sync ${c.id}: ${r.status}, ${r.counts.read} read in ${((Date.now() - t) / 1000).toFixed(1)}s\n`);
  }
  await db.knex.raw('pragma wal_checkpoint(TRUNCATE)');
  await db.close();
  fs.renameSync(tmp, dbFile);
  for (const f of [`${tmp}-wal`, `${tmp}-shm`]) fs.rmSync(f, { force: true });
  process.stderr.write(`prepared ${dbFile} in ${((Date.now() - t0) / 1000).toFixed(0)}s\n`);
}

interface ChildResult { rows: number; ms: number; maxRssMb: number; heapPeakMb: number; bytes: number }

async function child(mode: string): Promise<void> {
  const db = await openDb({ url: dbFile });
  const cfg = mode === 'baseline' ? undefined : benchConfig(); // config validation (ajv compiles) is not timed
  const target = path.join(OUT, `export-run-${mode}-${process.pid}`);
  fs.rmSync(target, { recursive: true, force: true });
  let heapPeak = 0;
  const sampler = setInterval(() => {
    heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
  }, 50);
  const t0 = process.hrtime.bigint();
  let rows = 0;
  let bytes = 0;
  if (mode === 'baseline') {
    fs.mkdirSync(target);
    const out = fs.createWriteStream(path.join(target, 'records.csv'), { highWaterMark: 256 * 1024 });
    for (const type of SOURCE_TYPES) {
      let after = '';
      for (;;) {
        const page = (await db.knex('records').where({ tenant_id: 'bench', entity_type: type }).whereNull('deleted_at').where('id', '>', after)
          .orderBy('id').limit(1000).select('id', 'data')) as { id: string; data: string }[];
        if (!page.length) break;
        after = page[page.length - 1].id;
        let s = '';
        for (const r of page) s += `${r.id},"${r.data.replace(/"/g, '""')}"\r\n`;
        rows += page.length;
        bytes += Buffer.byteLength(s);
        if (!out.write(s)) await once(out, 'drain');
      }
    }
    out.end();
    await once(out, 'close');
  } else {
    const page = opt('page');
    const m = await runStateExport({ db, config: cfg!, pageSize: page ? Number(page) : undefined }, { tenantId: 'bench', profile: 'state-doe', schoolYear: '2027', out: target });
    for (const f of m.files) if (f.format === 'csv') rows += f.rows;
    bytes = m.files.reduce((n, f) => n + f.bytes, 0);
    // The sets it wrote are shared by content (a re-run writes none); the disclosure row goes.
    await db.knex('disclosures').where({ id: m.disclosure.id }).delete();
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  clearInterval(sampler);
  await db.close();
  fs.rmSync(target, { recursive: true, force: true });
  const result: ChildResult = { rows, ms, maxRssMb: process.resourceUsage().maxRSS / 1024, heapPeakMb: heapPeak / 1048576, bytes };
  process.send!(result);
}

async function measure(mode: string): Promise<ChildResult> {
  const c = fork(__filename, [...args, '--child', mode], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [msg] = (await once(c, 'message')) as [ChildResult];
  await once(c, 'exit');
  return msg;
}

async function main(): Promise<void> {
  const mode = opt('child');
  if (mode) return child(mode);
  await prepare();
  const base = await measure('baseline');
  const exp = await measure('export');
  const base2 = await measure('baseline');
  const exp2 = await measure('export');
  const b = base.ms < base2.ms ? base : base2;
  const e = exp.ms < exp2.ms ? exp : exp2;
  const rate = (r: ChildResult) => Math.round(r.rows / (r.ms / 1000));
  const line = (name: string, r: ChildResult) =>
    `${name.padEnd(10)} ${r.rows.toLocaleString('en-US').padStart(10)} rows  ${(r.ms / 1000).toFixed(2).padStart(7)} s  ${rate(r).toLocaleString('en-US').padStart(9)} rows/s  ${(r.bytes / 1e6).toFixed(1).padStart(7)} MB written  peak RSS ${r.maxRssMb.toFixed(0)} MB, peak JS heap ${r.heapPeakMb.toFixed(0)} MB`;
  console.log(`state export bench: ${students.toLocaleString('en-US')} students (seed ${seed}), SQLite ${path.relative(PROJECT_ROOT, dbFile)}, page ${opt('page') ?? 'default'}, best of 2 each, load avg ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  console.log(line('baseline', b));
  console.log(line('export', e));
  console.log(`ratio export/baseline: rows/s ${(rate(e) / rate(b)).toFixed(2)}x, time per row ${((e.ms / e.rows) / (b.ms / b.rows)).toFixed(2)}x, peak RSS ${(e.maxRssMb / b.maxRssMb).toFixed(2)}x`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
