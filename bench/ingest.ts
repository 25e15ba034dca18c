/**
 * npm run bench:ingest -- --students 50000 [--seed 42] [--keep]
 *
 * The hub path runs as the shipped CLI (`hub sync`, compiled dist/, built first) in its own process.
 * Ingests the generated district's OneRoster CSV (SIS bulk) into a fresh SQLite store through the full connector
 * path (parse, map, validate, resolve references, hash, upsert, change log, reject report) and, in the same run,
 * loads the same files with a plain baseline: csv-parse streaming into better-sqlite3 prepared INSERTs of the raw
 * rows in 10k-row transactions. Each path runs in its own child process so peak RSS is its own. Prints rows/s, the
 * ratio hub/baseline, and peak RSS. Also measures an identical re-run (everything unchanged, its own process) and the
 * storage floor: the rows the hub wrote, re-inserted into a fresh store with the same schema by prepared statements
 * (no parsing or logic) — the fastest the hub path could be with what it stores.
 *
 * npm run bench:ingest -- --all --students 5000 [--seed 42] [--keep] [--only state-assessment,interim] [--repeat 5]
 *
 * Every connector of the demo tenant (fixtures/demo/hub.config.json, with its settings as they are: SIS OneRoster 1.2
 * CSV, LMS OneRoster 1.1 CSV with gradebook, two CASE packages, the interim-benchmark and behaviour mapped CSVs, the
 * Ed-Fi XML state assessment + discipline) on the generated district, each through `hub sync` (the compiled dist/,
 * built first) in its own process, next to a baseline of its format on the same files, also in its own child:
 * CSV csv-parse -> prepared INSERT of the raw rows; XML saxes tokenizing -> one row per top-level element; CASE
 * JSON.parse -> one row per CFItem and CFAssociation. Connectors that refer to students (all but the SIS and CASE) run
 * on a copy of the store the SIS run left; only their own run is timed. Each run's storage floor is measured too.
 * Prints one table (rows, hub rows/s, baseline rows/s, ratio, floor, MB/s, hub peak RSS), then each run's time per
 * stream. `--only` measures the connectors named (the SIS still runs first, unmeasured, when one of them needs its
 * store). `--repeat N` runs each baseline and hub run N times, alternated so that both see the same moments of a
 * shared machine, and reports the medians (each time is listed below the table): a single run on a busy host can
 * be off by 30% or more, and the ratio to the baseline is the figure that holds.
 * Caliper (pushed over HTTP, not a connector) is measured by bench:caliper.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { parse } from 'csv-parse';
import Database from 'better-sqlite3';
import { SaxesParser } from 'saxes';
import { openDb, migrate } from '../src/store/db';
import { generateDistrict } from '../src/generator/district';

const args = process.argv.slice(2);
const opt = (name: string, def?: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const FILES = ['orgs.csv', 'academicSessions.csv', 'courses.csv', 'classes.csv', 'users.csv', 'roles.csv', 'demographics.csv', 'enrollments.csv'];

/** One CSV file of a baseline load: rows land raw in their own table. */
interface CsvInput {
  file: string;
  table: string;
  delimiter?: string;
  /** 1-based line of the header (mapped-csv `headerRow`); default 1. */
  fromLine?: number;
}

async function baseline(dir: string, dbFile: string) {
  return csvBaseline(FILES.map((f) => ({ file: path.join(dir, f), table: f.replace('.csv', '') })), dbFile);
}

async function csvBaseline(inputs: CsvInput[], dbFile: string) {
  const db = new Database(dbFile);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  let rows = 0;
  const t0 = process.hrtime.bigint();
  for (const input of inputs) {
    const file = input.file;
    if (!fs.existsSync(file)) continue;
    const parser = fs.createReadStream(file).pipe(parse({ bom: true, relax_column_count: true, skip_records_with_error: true, delimiter: input.delimiter ?? ',', from_line: input.fromLine ?? 1 }));
    let insert: Database.Statement | undefined;
    let width = 0;
    let batch: string[][] = [];
    const flush = db.transaction((b: string[][]) => {
      for (const r of b) insert!.run(r.length === width ? r : [...r, ...Array(Math.max(0, width - r.length)).fill(null)].slice(0, width));
    });
    for await (const rec of parser as AsyncIterable<string[]>) {
      if (!insert) {
        width = rec.length;
        const table = input.table;
        // Header names as column names (a repeated or empty one gets its position appended).
        const cols = rec.map((h, i) => (h && rec.indexOf(h) === i ? h : `${h}_${i}`).replace(/"/g, '""'));
        db.exec(`create table "${table}" (${cols.map((h) => `"${h}" text`).join(',')})`);
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

/** The SIS connector's id in the single-connector bench config. */
const SIS_ID = 'sis';

/**
 * The SIS export through the shipped CLI (hubSync: `hub sync` from the compiled dist/, as `npm start` and the Docker
 * image run it): what a district's scheduled sync costs. `again`: the identical re-run on the same store.
 */
function hubCli(dir: string, dbFile: string, again: boolean): { result: HubOne; maxRssMb: number } {
  const cfg = path.join(path.dirname(dbFile), 'hub.config.json');
  fs.writeFileSync(cfg, JSON.stringify({ tenants: [{ id: 'bench', name: 'Bench', connectors: [{ id: SIS_ID, type: 'oneroster-csv', settings: { path: dir } }] }] }));
  if (again) {
    // The re-run: cursors cleared so every row is re-read and found unchanged.
    const db = new Database(dbFile);
    db.exec('delete from connector_state');
    db.close();
  }
  const r = hubSync(cfg, dbFile, SIS_ID);
  if (r.result.status !== 'succeeded') throw new Error(`hub sync ${SIS_ID}: ${r.result.status} ${r.result.error ?? ''}`);
  return r;
}

const DIST = path.resolve(__dirname, '../dist/src');
const CLI = path.join(DIST, 'cli/main.js');

/** Compiles dist/ so the CLI measured is the code in this checkout. */
function build(): void {
  const r = spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build', '--silent'], { cwd: path.resolve(__dirname, '..'), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm run build failed: ${r.stdout}${r.stderr}`);
}

/** The tables the hub path writes while loading, in the order it writes them within a page. */
const FLOOR_TABLES = ['source_records', 'records', 'change_log', 'person_identifiers'] as const;

/**
 * The storage floor: the very rows a connector's first run wrote (landing rows with raw payload, records, change log,
 * identifier index), inserted by prepared statements in pages of 2,000 rows per table, one transaction per page, as
 * the hub commits them, into the store as it was before that run (a fresh one, or a copy of `baseDb`: same schema,
 * same indexes, same rows already there). Records the run updated (a person another source already had) are
 * upserted. No parsing, mapping, validation, hashing or lookups: what writing this much costs by itself. The hub
 * cannot be faster than this.
 */
async function floor(fromDb: string, dbFile: string, connectorId: string, baseDb?: string) {
  if (baseDb) copyStore(baseDb, dbFile);
  else {
    const hubDb = await openDb({ url: dbFile });
    await migrate(hubDb);
    await hubDb.close();
  }
  const src = new Database(fromDb, { readonly: true });
  const run = src.prepare(`select id from runs where connector_id = ? order by started_at limit 1`).get(connectorId) as { id: string } | undefined;
  if (!run) throw new Error(`${fromDb}: no run of connector ${connectorId}`);
  const seqs = src.prepare(`select min(seq) as lo, max(seq) as hi from change_log where run_id = ?`).get(run.id) as { lo: number | null; hi: number | null };
  const which: Record<(typeof FLOOR_TABLES)[number], [string, unknown[]]> = {
    source_records: ['connector_id = ?', [connectorId]], // a later identical re-run re-stamps last_run_id
    records: ['updated_seq between ? and ?', [seqs.lo ?? 0, seqs.hi ?? -1]],
    change_log: ['run_id = ?', [run.id]],
    person_identifiers: ['connector_id = ?', [connectorId]],
  };
  const db = new Database(dbFile);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma(`cache_size = -${16 * 1024}`);
  db.pragma('wal_autocheckpoint = 10000');
  const cols = (t: string) => (src.prepare(`select name from pragma_table_info(?)`).all(t) as { name: string }[]).map((c) => `"${c.name}"`);
  const tables = FLOOR_TABLES.map((t) => {
    const c = cols(t);
    const [where, args] = which[t];
    const upsert = t === 'records' ? ` on conflict (tenant_id, entity_type, id) do update set ${['data', 'updated_seq', 'updated_at', 'deleted_at', 'provenance'].map((k) => `${k} = excluded.${k}`).join(', ')}` : '';
    return {
      rows: src.prepare(`select ${c.join(',')} from ${t} where ${where}`).raw().all(...args) as unknown[][],
      insert: db.prepare(`insert into ${t} (${c.join(',')}) values (${c.map(() => '?').join(',')})${upsert}`),
    };
  });
  src.close();
  const PAGE = 2000;
  const written = tables.reduce((n, t) => n + t.rows.length, 0);
  const t0 = process.hrtime.bigint();
  const page = db.transaction((from: number) => {
    for (const t of tables) for (let i = from; i < Math.min(from + PAGE, t.rows.length); i++) t.insert.run(t.rows[i]);
  });
  const longest = Math.max(...tables.map((t) => t.rows.length));
  for (let from = 0; from < longest; from += PAGE) page(from);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  db.close();
  return { written, ms };
}

// ---------------------------------------------------------------------------------------------------------------
// --all: every connector of the demo tenant (fixtures/demo/hub.config.json, its settings as they are), each next to
// the raw baseline of its format, on the same generated files.

const DEMO_CONFIG_FILE = path.resolve(__dirname, '../fixtures/demo/hub.config.json');
type Format = 'csv' | 'xml' | 'case';
const FORMATS: Record<string, Format> = { 'oneroster-csv': 'csv', 'mapped-csv': 'csv', 'edfi-xml': 'xml', case: 'case' };
interface DemoConnector { id: string; type: string; settings: Record<string, unknown> }
interface DemoTenant { id: string; name: string; connectors: DemoConnector[]; identity?: unknown }
interface BaselineSpec { format: Format; csv?: CsvInput[]; files?: string[] }
interface HubOne {
  status: string;
  ms: number;
  counts: { read: number; inserted: number; updated: number; unchanged: number; rejected: number };
  streams: { stream: string; durationMs?: number; counts: { read: number } }[];
  error?: string;
}

function demoTenant(): DemoTenant {
  return (JSON.parse(fs.readFileSync(DEMO_CONFIG_FILE, 'utf8')) as { tenants: DemoTenant[] }).tenants[0];
}

/**
 * The demo tenant's connectors and identity settings: a hub config whose relative paths resolve against the folder
 * holding `district/`. Its API keys, OneRoster clients and sensors are left out: no secrets needed to ingest.
 */
function ingestConfig(): { tenants: unknown[] } {
  const t = demoTenant();
  return { tenants: [{ id: t.id, name: t.name, connectors: t.connectors, ...(t.identity ? { identity: t.identity } : {}) }] };
}

const listDir = (dir: string, ext: string) => fs.readdirSync(dir).filter((f) => f.toLowerCase().endsWith(ext) && f !== 'manifest.csv').sort().map((f) => path.join(dir, f));

/** What the baseline of a connector's format reads: the same files the connector reads, per its demo settings. */
function baselineSpec(c: DemoConnector, baseDir: string): BaselineSpec | undefined {
  const format = FORMATS[c.type];
  const s = c.settings as { path?: string; files?: string[]; delimiter?: string; headerRow?: number; source?: { file?: string } };
  if (format === 'csv') {
    const root = path.resolve(baseDir, s.path!);
    const files = fs.statSync(root).isDirectory() ? listDir(root, '.csv') : [root];
    return { format, csv: files.map((file) => ({ file, table: `${c.id}_${path.basename(file, '.csv')}`, delimiter: s.delimiter, fromLine: s.headerRow })) };
  }
  if (format === 'xml') {
    const root = path.resolve(baseDir, s.path!);
    const files = !fs.statSync(root).isDirectory() ? [root] : s.files ? s.files.map((f) => path.join(root, f)) : listDir(root, '.xml');
    return { format, files };
  }
  if (format === 'case' && s.source?.file) return { format, files: [path.resolve(baseDir, s.source.file)] };
  return undefined;
}

function rawDb(dbFile: string) {
  const db = new Database(dbFile);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  return db;
}

/** Ed-Fi XML baseline: saxes tokenizes; one row per top-level element (file, element name, its leaf values as JSON). */
async function xmlBaseline(files: string[], dbFile: string) {
  const db = rawDb(dbFile);
  db.exec('create table elements (file text, element text, data text)');
  const insert = db.prepare('insert into elements values (?, ?, ?)');
  const flush = db.transaction((b: string[][]) => {
    for (const r of b) insert.run(r);
  });
  let rows = 0;
  const t0 = process.hrtime.bigint();
  for (const file of files) {
    const name = path.basename(file);
    const p = new SaxesParser({ xmlns: false });
    let depth = 0;
    let element = '';
    let tag = '';
    let values: string[] = [];
    let batch: string[][] = [];
    p.on('opentag', (t) => {
      depth++;
      tag = t.name;
      if (depth === 2) {
        element = t.name;
        values = [];
      }
    });
    p.on('text', (t) => {
      if (depth >= 2) {
        const v = t.trim();
        if (v) values.push(tag, v);
      }
    });
    p.on('closetag', () => {
      if (depth-- !== 2) return;
      batch.push([name, element, JSON.stringify(values)]);
      rows++;
      if (batch.length >= 10000) {
        flush(batch);
        batch = [];
      }
    });
    for await (const chunk of fs.createReadStream(file, { encoding: 'utf8' })) p.write(chunk as string);
    p.close();
    if (batch.length) flush(batch);
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  db.close();
  return { rows, ms };
}

/** CASE baseline: JSON.parse of the CFPackage; one row per CFItem and per CFAssociation (identifier, JSON). */
async function caseBaseline(files: string[], dbFile: string) {
  const db = rawDb(dbFile);
  db.exec('create table case_rows (kind text, identifier text, data text)');
  const insert = db.prepare('insert into case_rows values (?, ?, ?)');
  let rows = 0;
  const t0 = process.hrtime.bigint();
  for (const file of files) {
    const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { CFItems?: Array<{ identifier: string }>; CFAssociations?: Array<{ identifier: string }> };
    db.transaction(() => {
      for (const [kind, list] of [['CFItem', pkg.CFItems ?? []], ['CFAssociation', pkg.CFAssociations ?? []]] as const) {
        for (const x of list) {
          insert.run(kind, x.identifier, JSON.stringify(x));
          rows++;
        }
      }
    })();
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  db.close();
  return { rows, ms };
}

async function runBaseline(spec: BaselineSpec, dbFile: string) {
  if (spec.format === 'csv') return csvBaseline(spec.csv!, dbFile);
  if (spec.format === 'xml') return xmlBaseline(spec.files!, dbFile);
  return caseBaseline(spec.files!, dbFile);
}

/**
 * `hub sync <connectorId>` through the shipped CLI (compiled dist/, built first; plain node: no TypeScript loader in
 * the process or in the read worker it starts — through tsx, modules first needed inside the run were compiled on the
 * clock, ~0.3-0.5 s of a 10k-student Ed-Fi run, and the worker inherited the loader), in its own process, quiet (not a
 * TTY). bench/rss-preload.cjs reports its peak RSS; times and counts come from the `runs` row the run leaves
 * (`duration_ms`: from the run's start to its last commit), streams from its report.
 */
function hubSync(cfg: string, dbFile: string, connectorId: string): { result: HubOne; maxRssMb: number } {
  const r = spawnSync(process.execPath, ['--require', path.join(__dirname, 'rss-preload.cjs'), CLI, '--config', cfg, '--database', dbFile, 'sync', connectorId], { encoding: 'utf8', maxBuffer: 1 << 26, env: { ...process.env, LOG_LEVEL: 'warn' } });
  const rss = /HUB_BENCH_MAXRSS_KB (\d+)/.exec(r.stderr);
  if (!rss) throw new Error(`hub sync ${connectorId} did not run (${r.status}): ${r.stderr}`);
  const db = new Database(dbFile, { readonly: true });
  const run = db.prepare(`select status, duration_ms, read_count, inserted_count, updated_count, unchanged_count, rejected_count, streams, error from runs where connector_id = ? order by started_at desc limit 1`).get(connectorId) as
    | { status: string; duration_ms: number; read_count: number; inserted_count: number; updated_count: number; unchanged_count: number; rejected_count: number; streams: string | null; error: string | null }
    | undefined;
  db.close();
  if (!run) throw new Error(`hub sync ${connectorId} left no run (${r.status}): ${r.stderr}`);
  const streams = ((run.streams ? JSON.parse(run.streams) : []) as { stream: string; skipped?: string; durationMs?: number; counts: { read: number } }[])
    .filter((x) => !x.skipped).map((x) => ({ stream: x.stream, durationMs: x.durationMs, counts: { read: x.counts.read } }));
  const error = run.error ? (JSON.parse(run.error) as { code: string; message: string }) : undefined;
  return {
    result: {
      status: run.status, ms: run.duration_ms, streams,
      counts: { read: run.read_count, inserted: run.inserted_count, updated: run.updated_count, unchanged: run.unchanged_count, rejected: run.rejected_count },
      ...(error ? { error: `${error.code}: ${error.message}` } : {}),
    },
    maxRssMb: Number(rss[1]) / 1024,
  };
}

/**
 * One connector of the demo tenant (hubSync) on `dbFile` (empty, or a copy of the store after the SIS load). The
 * config is written beside `district/` so its relative paths resolve as in the demo.
 */
function hubAll(baseDir: string, dbFile: string, connectorId: string): { result: HubOne; maxRssMb: number } {
  const cfg = path.join(baseDir, `hub.config.${connectorId}.json`);
  fs.writeFileSync(cfg, JSON.stringify(ingestConfig()));
  return hubSync(cfg, dbFile, connectorId);
}

function spawnChild(childArgs: string[]): { result: unknown; maxRssMb: number } {
  const r = spawnSync(process.execPath, [...process.execArgv, __filename, ...childArgs], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`child ${childArgs.slice(0, 4).join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

/** A SQLite store file with its -wal / -shm companions, if any. */
function copyStore(from: string, to: string) {
  for (const suffix of ['', '-wal', '-shm']) if (fs.existsSync(from + suffix)) fs.copyFileSync(from + suffix, to + suffix);
}

async function mainAll(outDir: string) {
  build();
  const tenant = demoTenant();
  // The demo config's paths say ./district/...: a temp folder whose `district` is the generated district.
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-bench-all-'));
  const baseDir = path.join(work, 'base');
  fs.mkdirSync(baseDir);
  fs.symlinkSync(outDir, path.join(baseDir, 'district'), 'dir');
  const template = path.join(work, 'after-sis.sqlite');
  const sis = tenant.connectors.find((c) => c.type === 'oneroster-csv');
  if (!sis) throw new Error(`${DEMO_CONFIG_FILE}: no oneroster-csv connector (the SIS) in the demo tenant`);
  // Everything but the SIS itself and the CASE frameworks refers to students (or is matched against them): it runs
  // on a copy of the store as the SIS run left it.
  const afterSis = (c: DemoConnector) => c.id !== sis.id && c.type !== 'case';
  const ordered = [sis, ...tenant.connectors.filter((c) => c !== sis)];
  const only = opt('only')?.split(',').map((x) => x.trim()).filter(Boolean);
  const unknown = (only ?? []).filter((id) => !ordered.some((c) => c.id === id));
  if (unknown.length) throw new Error(`--only: no connector ${unknown.join(', ')} in the demo tenant (it has ${ordered.map((c) => c.id).join(', ')})`);
  const measured = (c: DemoConnector) => !only || only.includes(c.id);
  const repeat = Number(opt('repeat', '1'));
  if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat needs a whole number >= 1, got ${opt('repeat')}`);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
  const repeats: string[] = [];
  console.log(`load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; ${os.cpus().length} CPUs; node ${process.version}`);
  const table: string[][] = [];
  const skipped: string[] = [];
  let totRows = 0;
  let totHubMs = 0;
  let totBaseMs = 0;
  let totFloorMs = 0;
  const perStream: string[] = [];
  try {
    for (const c of ordered) {
      const removeStores = (prefix: string) => {
        for (const f of fs.readdirSync(work)) if (f.startsWith(`${prefix}-${c.id}.sqlite`)) fs.rmSync(path.join(work, f));
      };
      if (!measured(c)) {
        // Not measured, but the connectors measured after it run on the store it leaves.
        if (c === sis && ordered.some((o) => measured(o) && afterSis(o))) {
          const hubDb = path.join(work, `hub-${c.id}.sqlite`);
          hubAll(baseDir, hubDb, c.id);
          copyStore(hubDb, template);
          removeStores('hub');
        }
        continue;
      }
      const spec = baselineSpec(c, baseDir);
      if (!spec) {
        skipped.push(`${c.id} (${c.type}): no baseline for this source`);
        continue;
      }
      const files = spec.csv ? spec.csv.map((x) => x.file) : spec.files!;
      const mb = files.reduce((a, f) => a + fs.statSync(f).size, 0) / 1e6;
      const bases: { rows: number; ms: number }[] = [];
      const hubs: ReturnType<typeof hubAll>[] = [];
      const hubDb = path.join(work, `hub-${c.id}.sqlite`);
      for (let k = 0; k < repeat; k++) {
        bases.push(spawnChild(['--child', 'all-baseline', '--spec', JSON.stringify(spec), '--db', path.join(work, `baseline-${c.id}.sqlite`)]).result as { rows: number; ms: number });
        removeStores('baseline');
        removeStores('hub'); // the previous repetition's
        if (afterSis(c)) copyStore(template, hubDb);
        hubs.push(hubAll(baseDir, hubDb, c.id));
      }
      // The last run's store: the SIS template for the connectors after it, and the rows its storage floor re-inserts.
      if (c === sis) copyStore(hubDb, template);
      const fl = spawnChild(['--child', 'floor', '--from', hubDb, '--db', path.join(work, `floor-${c.id}.sqlite`), '--connector', c.id, ...(afterSis(c) ? ['--base-db', template] : [])]).result as { written: number; ms: number };
      removeStores('floor');
      removeStores('hub');
      const b = { rows: bases[0].rows, ms: median(bases.map((x) => x.ms)) };
      const medianHub = median(hubs.map((x) => x.result.ms));
      const h = { ...hubs.find((x) => x.result.ms === medianHub)!, maxRssMb: Math.max(...hubs.map((x) => x.maxRssMb)) };
      const r = h.result;
      if (repeat > 1) {
        const secs = (xs: number[]) => xs.map((x) => (x / 1000).toFixed(2)).join(' ');
        repeats.push(`${c.id}: hub ${secs(hubs.map((x) => x.result.ms))} s, baseline ${secs(bases.map((x) => x.ms))} s, ratio per pair ${hubs.map((x, i) => (bases[i].ms / x.result.ms).toFixed(2)).join(' ')}`);
      }
      const hubRate = b.rows / (r.ms / 1000);
      const baseRate = b.rows / (b.ms / 1000);
      totRows += b.rows;
      totHubMs += r.ms;
      totBaseMs += b.ms;
      totFloorMs += fl.ms;
      table.push([
        c.id + (afterSis(c) ? ' *' : ''), `${c.type} (${spec.format})`, fmtInt(b.rows), mb.toFixed(1), fmtInt(r.counts.read), fmtInt(r.counts.rejected),
        (r.ms / 1000).toFixed(2), fmtInt(hubRate), fmtInt(baseRate), (hubRate / baseRate).toFixed(2), (fl.ms / 1000).toFixed(2), (mb / (r.ms / 1000)).toFixed(1), (mb / (fl.ms / 1000)).toFixed(1), `${h.maxRssMb.toFixed(0)} MB`, r.status,
      ]);
      if (r.error) skipped.push(`${c.id}: run ${r.status}: ${r.error}`);
      if (r.streams.length > 1) perStream.push(`${c.id}: ${r.streams.map((x) => `${x.stream} ${((x.durationMs ?? 0) / 1000).toFixed(2)}s (${fmtInt(x.counts.read)})`).join(', ')}`);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  const head = ['connector', 'type (format)', 'rows', 'MB', 'hub records', 'rejected', 'hub s', 'hub rows/s', 'baseline rows/s', 'ratio', 'floor s', 'hub MB/s', 'floor MB/s', 'hub peak RSS', 'status'];
  table.push(['all of the above', '', fmtInt(totRows), '', '', '', (totHubMs / 1000).toFixed(2), fmtInt(totRows / (totHubMs / 1000)), fmtInt(totRows / (totBaseMs / 1000)), (totBaseMs / totHubMs).toFixed(2), (totFloorMs / 1000).toFixed(2), '', '', '', '']);
  const widths = head.map((hd, i) => Math.max(hd.length, ...table.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((x, i) => (i < 2 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join('  ');
  console.log(line(head));
  for (const r of table) console.log(line(r));
  console.log(
    [
      'rows: source rows (CSV data rows, top-level XML elements, CFItems + CFAssociations) — both rates are these rows over each path\'s own time, so ratio = baseline time / hub time;',
      'hub records: what the connector yielded (a mapped CSV row may give several records). Baselines: CSV csv-parse -> prepared INSERT of the raw rows;',
      'XML saxes tokenizing -> one row per top-level element; CASE JSON.parse -> one row per CFItem / CFAssociation; 10k-row transactions, fresh SQLite, own child process.',
      `* runs on a copy of the store after the ${sis.id} load (only its own run is timed, in its own process).`,
      'floor: the rows that run wrote (landing, records, change log, identifiers), re-inserted by prepared statements into the store as it was before the run,',
      'no parsing or logic: what storing them costs by itself. MB/s: the source files\' bytes over each time (Ed-Fi goal: hub >= 20 MB/s).',
      'Not here: Caliper is pushed over HTTP, not a connector (npm run bench:caliper); oneroster-rest needs a server (connectors/oneroster-rest/bench.ts, local mock);',
      'lti-nrps is not in the demo.',
    ].join('\n'),
  );
  if (repeat > 1) {
    console.log(`${repeat} alternated runs each (the table shows the medians, and the highest peak RSS); every time, in run order:`);
    for (const x of repeats) console.log(`  ${x}`);
  }
  console.log('per stream (seconds, rows read; identity resolution and the sweep come between and after streams):');
  for (const s of perStream) console.log(`  ${s}`);
  for (const s of skipped) console.log(`note: ${s}`);
}

const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');

const child = (kind: string, dir: string, dbFile: string, extra: string[] = []) => spawnChild(['--child', kind, '--dir', dir, '--db', dbFile, ...extra]);

async function main() {
  const kind = opt('child');
  if (kind) {
    const dir = opt('dir')!;
    const db = opt('db')!;
    const result =
      kind === 'all-baseline' ? await runBaseline(JSON.parse(opt('spec')!) as BaselineSpec, db)
      : kind === 'baseline' ? await baseline(dir, db)
      : kind === 'floor' ? await floor(opt('from')!, db, opt('connector')!, opt('base-db'))
      : undefined;
    if (!result) throw new Error(`unknown child kind ${kind}`);
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
  if (args.includes('--all')) {
    await mainAll(outDir);
    if (!args.includes('--keep')) fs.rmSync(outDir, { recursive: true, force: true });
    return;
  }
  const dir = path.join(outDir, 'sis/bulk');
  const bytes = FILES.map((f) => path.join(dir, f)).filter((f) => fs.existsSync(f)).reduce((a, f) => a + fs.statSync(f).size, 0);
  console.log(`input: ${dir} (${(bytes / 1e6).toFixed(1)} MB)`);

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-bench-'));
  try {
    const hubDb = path.join(work, 'hub.sqlite');
    const base = child('baseline', dir, path.join(work, 'baseline.sqlite'));
    build();
    const h = hubCli(dir, hubDb, false);
    const a = hubCli(dir, hubDb, true);
    const f = child('floor', dir, path.join(work, 'floor.sqlite'), ['--from', hubDb, '--connector', SIS_ID]);
    const b = base.result as { rows: number; ms: number };
    const first = h.result;
    const again = a.result;
    const fl = f.result as { written: number; ms: number };
    const bRate = b.rows / (b.ms / 1000);
    const hRate = first.counts.read / (first.ms / 1000);
    const aRate = again.counts.read / (again.ms / 1000);
    const fRate = first.counts.read / (fl.ms / 1000);
    const row = (name: string, rows: number, ms: number, rate: number, rss: number | string, ratio?: number) =>
      console.log(`${name.padEnd(48)} ${String(rows).padStart(9)} ${(ms / 1000).toFixed(2).padStart(8)}s ${Math.round(rate).toString().padStart(9)} rows/s ${typeof rss === 'number' ? rss.toFixed(0).padStart(6) + ' MB' : rss.padStart(9)} ${ratio === undefined ? '' : ratio.toFixed(2).padStart(6)}`);
    console.log(`${'path'.padEnd(48)} ${'rows'.padStart(9)} ${'time'.padStart(9)} ${'rate'.padStart(16)} ${'peak RSS'.padStart(9)} ${'ratio'.padStart(6)}`);
    row('baseline: csv-parse -> prepared INSERT raw', b.rows, b.ms, bRate, base.maxRssMb, 1);
    row(`hub sync (dist CLI): full path (${first.status})`, first.counts.read, first.ms, hRate, h.maxRssMb, hRate / bRate);
    row('hub: identical re-run (all unchanged)', again.counts.read, again.ms, aRate, a.maxRssMb, aRate / bRate);
    row(`storage floor: the hub's ${fmtInt(fl.written)} rows, prepared INSERT`, first.counts.read, fl.ms, fRate, f.maxRssMb, fRate / bRate);
    console.log(`ratio hub / baseline: ${(hRate / bRate).toFixed(2)}  (goal >= 0.40); peak RSS of the load ${h.maxRssMb.toFixed(0)} MB (goal < 300); rejected rows: ${first.counts.rejected}; inserted: ${first.counts.inserted}`);
    console.log(`storage floor / baseline: ${(fRate / bRate).toFixed(2)} — writing what the hub stores (raw payload, record, change log, identifiers, indexes) costs this much with no parsing or logic; hub / floor: ${(hRate / fRate).toFixed(2)}`);
    console.log('rates are source rows over each path\'s own time; each path runs in its own child process, so peak RSS is its own.');
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  if (!args.includes('--keep')) fs.rmSync(outDir, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
