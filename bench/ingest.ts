/**
 * npm run bench:ingest -- --students 50000 [--seed 42] [--keep]
 *
 * Ingests the generated district's OneRoster CSV (SIS bulk) into a fresh SQLite store through the full connector
 * path (parse, map, validate, resolve references, hash, upsert, change log, reject report) and, in the same run,
 * loads the same files with a plain baseline: csv-parse streaming into better-sqlite3 prepared INSERTs of the raw
 * rows in 10k-row transactions. Each path runs in its own child process so peak RSS is its own. Prints rows/s, the
 * ratio hub/baseline, and peak RSS. Also measures an identical re-run (everything unchanged) and the delta.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { parse } from 'csv-parse';
import Database from 'better-sqlite3';
import { validateConfig } from '../src/core/config';
import { openDb, migrate } from '../src/store/db';
import { ensureTenants } from '../src/store/tenants';
import { runSync } from '../src/ingest/runner';
import { generateDistrict } from '../src/generator/district';

const args = process.argv.slice(2);
const opt = (name: string, def?: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const FILES = ['orgs.csv', 'academicSessions.csv', 'courses.csv', 'classes.csv', 'users.csv', 'roles.csv', 'demographics.csv', 'enrollments.csv'];

async function baseline(dir: string, dbFile: string) {
  const db = new Database(dbFile);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  let rows = 0;
  const t0 = process.hrtime.bigint();
  for (const f of FILES) {
    const file = path.join(dir, f);
    if (!fs.existsSync(file)) continue;
    const parser = fs.createReadStream(file).pipe(parse({ bom: true, relax_column_count: true, skip_records_with_error: true }));
    let insert: Database.Statement | undefined;
    let width = 0;
    let batch: string[][] = [];
    const flush = db.transaction((b: string[][]) => {
      for (const r of b) insert!.run(r.length === width ? r : [...r, ...Array(Math.max(0, width - r.length)).fill(null)].slice(0, width));
    });
    for await (const rec of parser as AsyncIterable<string[]>) {
      if (!insert) {
        width = rec.length;
        const table = f.replace('.csv', '');
        db.exec(`create table "${table}" (${rec.map((h) => `"${h}" text`).join(',')})`);
        insert = db.prepare(`insert into "${table}" values (${rec.map(() => '?').join(',')})`);
        continue;
      }
      batch.push(rec);
      rows++;
      if (batch.length >= 10000) {
        flush(batch);
        batch = [];
      }
    }
    if (batch.length) flush(batch);
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  db.close();
  return { rows, ms };
}

async function hub(dir: string, dbFile: string, deltaDir?: string) {
  const config = validateConfig({
    tenants: [{ id: 'bench', name: 'Bench', connectors: [
      { id: 'sis', type: 'oneroster-csv', settings: { path: dir } },
      ...(deltaDir ? [{ id: 'sis-delta', type: 'oneroster-csv', settings: { path: deltaDir } }] : []),
    ] }],
  });
  const db = await openDb({ url: dbFile });
  await migrate(db);
  await ensureTenants(db, config.config);
  const deps = { db, config };
  const first = await runSync(deps, { tenantId: 'bench', connectorId: 'sis' });
  // Same export again, with cursors cleared so every row is re-read and found unchanged.
  await db.knex('connector_state').delete();
  const again = await runSync(deps, { tenantId: 'bench', connectorId: 'sis' });
  await db.close();
  return { first, again };
}

function child(kind: string, dir: string): { result: Record<string, unknown>; maxRssMb: number } {
  const dbFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hub-bench-')), 'bench.sqlite');
  const r = spawnSync(process.execPath, [...process.execArgv, __filename, '--child', kind, '--dir', dir, '--db', dbFile], { encoding: 'utf8', maxBuffer: 1 << 26 });
  fs.rmSync(path.dirname(dbFile), { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`${kind} child failed: ${r.stderr}`);
  const line = r.stdout.trim().split('\n').pop()!;
  return JSON.parse(line);
}

async function main() {
  const kind = opt('child');
  if (kind) {
    const dir = opt('dir')!;
    const db = opt('db')!;
    const result = kind === 'baseline' ? await baseline(dir, db) : await hub(dir, db);
    process.stdout.write(`${JSON.stringify({ result, maxRssMb: process.resourceUsage().maxRSS / 1024 })}\n`);
    return;
  }
  const students = Number(opt('students', '50000'));
  const seed = Number(opt('seed', '42'));
  const outDir = path.resolve(__dirname, 'out', `district-${students}-${seed}`);
  if (!fs.existsSync(path.join(outDir, 'sis/bulk/manifest.csv'))) {
    const t = Date.now();
    await generateDistrict({ seed, students, outDir });
    console.log(`generated ${students} students in ${((Date.now() - t) / 1000).toFixed(1)}s -> ${path.relative(process.cwd(), outDir)}`);
  }
  const dir = path.join(outDir, 'sis/bulk');
  const bytes = FILES.map((f) => path.join(dir, f)).filter((f) => fs.existsSync(f)).reduce((a, f) => a + fs.statSync(f).size, 0);
  console.log(`input: ${dir} (${(bytes / 1e6).toFixed(1)} MB)`);

  const base = child('baseline', dir);
  const h = child('hub', dir);
  const b = base.result as { rows: number; ms: number };
  const first = (h.result as { first: { counts: { read: number; inserted: number; rejected: number }; durationMs: number; status: string } }).first;
  const again = (h.result as { again: { counts: { read: number; unchanged: number }; durationMs: number } }).again;
  const bRate = b.rows / (b.ms / 1000);
  const hRate = first.counts.read / (first.durationMs / 1000);
  const aRate = again.counts.read / (again.durationMs / 1000);
  const row = (name: string, rows: number, ms: number, rate: number, rss: number | string) =>
    console.log(`${name.padEnd(44)} ${String(rows).padStart(9)} ${(ms / 1000).toFixed(2).padStart(8)}s ${Math.round(rate).toString().padStart(9)} rows/s ${typeof rss === 'number' ? rss.toFixed(0).padStart(6) + ' MB' : rss}`);
  console.log(`${'path'.padEnd(44)} ${'rows'.padStart(9)} ${'time'.padStart(9)} ${'rate'.padStart(16)} peak RSS`);
  row('baseline: csv-parse -> prepared INSERT raw', b.rows, b.ms, bRate, base.maxRssMb);
  row(`hub: full connector path (${first.status})`, first.counts.read, first.durationMs, hRate, h.maxRssMb);
  row('hub: identical re-run (all unchanged)', again.counts.read, again.durationMs, aRate, '(same process)');
  console.log(`ratio hub / baseline: ${(hRate / bRate).toFixed(2)}  (goal >= 0.40); rejected rows: ${first.counts.rejected}; inserted: ${first.counts.inserted}`);
  if (!args.includes('--keep')) fs.rmSync(outDir, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
