/**
 * npm run bench:api -- [--students 100000] [--seed 42] [--duration 10] [--rounds 3] [--connections 32]
 *
 * The OneRoster 1.2 provider under load. A synthetic district (src/generator) is synced through the SIS connector
 * into a SQLite store once and cached under bench/out/ (re-runs start at once). Then, in this process, the hub app
 * (buildApp: request log, security headers, bearer-token auth, scope check, count cache, SQL, mapping, disclosure
 * log) and a bare express app that answers the very same bytes from memory listen side by side; autocannon (in a
 * child process, so it does not share the server's event loop) drives each for `duration` seconds at `connections`
 * connections:
 *
 *   GET /ims/oneroster/rostering/v1p2/users?limit=100
 *   GET /ims/oneroster/rostering/v1p2/users?limit=100&filter=role='student' AND familyName~'son'
 *
 * Bare and the hub variants take turns, `rounds` times (each run duration/rounds seconds); figures are medians over
 * the rounds, ratios medians of the ratio to the same round's bare run (the load of a shared machine drifts).
 *
 * Three hub variants: the answer cache on (the hub as shipped: a cached answer is keyed on the tenant's change
 * sequence, read on every request, and is still authenticated, scope-checked and written to the disclosure log);
 * off (every request runs SQL over the users projection and joins its pre-serialized objects: the cost of a page no
 * client has read since the data last changed); off and without the projection (SQL over the records' JSON,
 * mapping, serialization: what the projection replaces). Printed: requests/s, p50/p99 latency, the ratio hub / bare
 * (goal >= 0.5 and p99 < 50 ms) for each. Also the cold costs: the first request of each query over the records, the
 * build of the users projection (from the change log, in the background of the first request), and the first
 * request over the projection (its count not yet cached).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { fork } from 'node:child_process';
import express from 'express';
import { validateConfig } from '../src/core/config';
import { openDb, migrate } from '../src/store/db';
import { ensureTenants } from '../src/store/tenants';
import { runSync } from '../src/ingest/runner';
import { generateDistrict } from '../src/generator/district';
import { buildApp, drainBackgroundRuns, warmOneRoster } from '../src/serve/app';
import { OR_SCOPES } from '../src/serve/oneroster/scopes';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};

interface CannonResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  bytes: number;
}

async function runCannon(url: string, headers: Record<string, string>, duration: number, connections: number): Promise<CannonResult> {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, ['--cannon', JSON.stringify({ url, headers, duration, connections })], { execArgv: process.execArgv, stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
    child.on('message', (m) => resolve(m as CannonResult));
    child.on('error', reject);
    child.on('exit', (code) => code !== 0 && reject(new Error(`autocannon child exited ${code}`)));
  });
}

async function cannonChild(spec: { url: string; headers: Record<string, string>; duration: number; connections: number }) {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const autocannon = require('autocannon') as (o: object) => Promise<{ requests: { average: number }; latency: { p50: number; p99: number }; errors: number; non2xx: number; throughput: { average: number } }>;
  const r = await autocannon({ url: spec.url, headers: spec.headers, duration: spec.duration, connections: spec.connections });
  process.send!({ rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors, non2xx: r.non2xx, bytes: r.throughput.average });
  process.exit(0);
}

const CLIENT_SECRET = 'bench-secret';

function benchConfig(dir: string) {
  return validateConfig(
    {
      tenants: [{
        id: 'bench', name: 'Bench',
        connectors: [{ id: 'sis', type: 'oneroster-csv', settings: { path: path.join(dir, 'sis/bulk') } }],
        oneroster: { clients: [{ clientId: 'bench', secret: { $env: 'BENCH_OR_SECRET' }, scopes: [OR_SCOPES.roster, OR_SCOPES.rosterCore] }] },
      }],
    },
    '(bench)',
    process.cwd(),
    { BENCH_OR_SECRET: CLIENT_SECRET },
  );
}

async function prepare(students: number, seed: number) {
  const out = path.resolve(__dirname, 'out');
  const dir = path.join(out, `district-${students}-${seed}`);
  const dbFile = path.join(out, `api-${students}-${seed}.sqlite`);
  const config = benchConfig(dir);
  if (!fs.existsSync(dbFile)) {
    if (!fs.existsSync(path.join(dir, 'sis/bulk/manifest.csv'))) {
      const t = Date.now();
      await generateDistrict({ seed, students, outDir: dir });
      console.log(`generated ${students} students in ${((Date.now() - t) / 1000).toFixed(1)}s`);
    }
    const partial = `${dbFile}.partial`;
    for (const f of [partial, `${partial}-wal`, `${partial}-shm`]) fs.rmSync(f, { force: true });
    const db = await openDb({ url: partial });
    await migrate(db);
    await ensureTenants(db, config.config);
    const t = Date.now();
    const run = await runSync({ db, config }, { tenantId: 'bench', connectorId: 'sis' });
    console.log(`synced the SIS export (${run.counts.inserted} records, ${run.status}) in ${((Date.now() - t) / 1000).toFixed(1)}s`);
    await db.knex.raw('pragma wal_checkpoint(TRUNCATE)');
    await db.close();
    fs.renameSync(partial, dbFile);
  }
  const db = await openDb({ url: dbFile });
  await migrate(db); // an older cached store gets the provider's indexes
  // Every answer is recorded in the disclosure log: start each run from an empty log.
  const t = Date.now();
  const dropped = await db.knex('disclosures').where({ tenant_id: 'bench' }).count({ n: '*' }).first();
  await db.knex('disclosure_person_sets').where({ tenant_id: 'bench' }).delete();
  await db.knex('disclosure_index').where({ tenant_id: 'bench' }).delete();
  await db.knex('disclosures').where({ tenant_id: 'bench' }).delete();
  if (Number(dropped?.n)) console.log(`cleared the disclosure log of earlier runs (${dropped?.n} disclosures) in ${((Date.now() - t) / 1000).toFixed(1)}s`);
  await db.knex.raw('analyze');
  return { db, config };
}

async function listen(app: express.Express): Promise<{ url: string; close: () => Promise<void> }> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((r) => server.once('listening', () => r()));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}

async function main() {
  const cannon = opt('cannon', '');
  if (cannon) return cannonChild(JSON.parse(cannon));
  const students = Number(opt('students', '100000'));
  const seed = Number(opt('seed', '42'));
  const duration = Number(opt('duration', '10'));
  const connections = Number(opt('connections', '32'));
  const rounds = Number(opt('rounds', '3'));
  const { db, config } = await prepare(students, seed);
  const persons = await db.knex('records').where({ tenant_id: 'bench', entity_type: 'person' }).count({ n: '*' }).first();
  console.log(`store: ${persons?.n} persons (${students}-student district, seed ${seed}); autocannon ${connections} connections, ${rounds} rounds of ${Math.max(2, Math.round(duration / rounds))}s per variant`);

  const env = { BENCH_OR_SECRET: CLIENT_SECRET };
  const hubApp = buildApp({ db, config, env });
  const hub = await listen(hubApp);
  // The same app without the answer cache: every request runs auth, SQL over the users projection and the join of
  // its pre-serialized objects.
  const uncachedApp = buildApp({ db, config, env, oneroster: { answerCache: false } });
  const uncached = await listen(uncachedApp);
  // ...and without the projection: SQL over the records' JSON, role lookups, mapping and serialization.
  const recordsApp = buildApp({ db, config, env, oneroster: { answerCache: false, projection: false } });
  const records = await listen(recordsApp);
  const tokenRes = await fetch(`${hub.url}/ims/oneroster/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Basic ${Buffer.from(`bench:${CLIENT_SECRET}`).toString('base64')}` },
    body: 'grant_type=client_credentials',
  });
  const token = ((await tokenRes.json()) as { access_token: string }).access_token;
  const headers = { Authorization: `Bearer ${token}` };

  const queries = [
    { name: 'users?limit=100', path: '/ims/oneroster/rostering/v1p2/users?limit=100' },
    { name: "users filter role='student' AND familyName~'son'", path: `/ims/oneroster/rostering/v1p2/users?limit=100&filter=${encodeURIComponent("role='student' AND familyName~'son'")}` },
  ];
  const bodies = new Map<string, { body: Buffer; total: string; link: string }>();
  const fetchTimed = async (url: string) => {
    const t0 = process.hrtime.bigint();
    const r = await fetch(url, { headers });
    const body = Buffer.from(await r.arrayBuffer());
    if (r.status !== 200) throw new Error(`${url}: ${r.status} ${body.toString().slice(0, 300)}`);
    // Every variant answers on its own port: the hrefs differ in the port only.
    const text = body.toString('utf8').replace(/http:\/\/127\.0\.0\.1:\d+\//g, 'ORIGIN/');
    return { ms: Number(process.hrtime.bigint() - t0) / 1e6, r, body, text };
  };
  const reference = new Map<string, string>();
  for (const q of queries) {
    const cold = await fetchTimed(`${records.url}${q.path}`);
    reference.set(q.path, cold.text);
    console.log(`${q.name}: ${(cold.body.length / 1024).toFixed(1)} KB, X-Total-Count ${cold.r.headers.get('x-total-count')}, first (cold) request over the records ${cold.ms.toFixed(1)} ms`);
  }
  // The first request starts the projection's build (from the change log) and is answered from the records.
  const t0 = Date.now();
  await fetchTimed(`${uncached.url}${queries[0].path}`);
  await warmOneRoster(uncachedApp, 'bench');
  const built = await db.knex('oneroster_users').where({ tenant_id: 'bench' }).count({ n: '*' }).first();
  console.log(`users projection built in ${((Date.now() - t0) / 1000).toFixed(1)} s (${built?.n} rows for ${persons?.n} persons)`);
  for (const q of queries) {
    const cold = await fetchTimed(`${uncached.url}${q.path}`);
    const warm = await fetchTimed(`${uncached.url}${q.path}`);
    const cached = await fetchTimed(`${hub.url}${q.path}`);
    for (const v of [cold, warm, cached]) if (v.text !== reference.get(q.path)) throw new Error(`${q.name}: the projection's answer differs from the records'`);
    bodies.set(q.path, { body: warm.body, total: warm.r.headers.get('x-total-count') ?? '', link: warm.r.headers.get('link') ?? '' });
    console.log(`${q.name}: first request over the projection ${cold.ms.toFixed(1)} ms (count not cached), next ${warm.ms.toFixed(1)} ms; same bytes as over the records`);
  }
  /** The bare baseline: an express app answering the same bytes (and paging headers) from memory. */
  const bareFor = (b: { body: Buffer; total: string; link: string }) => {
    const bare = express();
    bare.disable('x-powered-by');
    bare.set('etag', false);
    bare.use((_req, res) => {
      res.set({ 'Content-Type': 'application/json; charset=utf-8', 'X-Total-Count': b.total, Link: b.link }).send(b.body);
    });
    return bare;
  };

  // Rounds: bare and every hub variant take turns (bare, cached, uncached, records; again...) and each figure is the
  // median over the rounds, each ratio the median of the ratios to the bare run of the same round — on a shared
  // machine the load drifts within minutes, and a ratio of runs minutes apart measured the drift.
  const rows: string[] = [];
  let ok = true;
  let okCached = true;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const fmt = (label: string, runs: CannonResult[], ratios?: number[]) => {
    const [rps, p50, p99] = [median(runs.map((r) => r.rps)), median(runs.map((r) => r.p50)), median(runs.map((r) => r.p99))];
    const line = `  ${label.padEnd(31)} ${rps.toFixed(0).padStart(6)} req/s  p50 ${String(p50).padStart(4)} ms  p99 ${String(p99).padStart(5)} ms`;
    if (!ratios) return { line, met: true };
    const ratio = median(ratios);
    return { line: `${line}  ratio ${ratio.toFixed(2)} (goal >= 0.50; rounds ${ratios.map((x) => x.toFixed(2)).join(' ')}), p99 ${p99 < 50 ? '<' : '>='} 50 ms`, met: ratio >= 0.5 && p99 < 50 };
  };
  const roundSeconds = Math.max(2, Math.round(duration / rounds));
  for (const q of queries) {
    const base = await listen(bareFor(bodies.get(q.path)!));
    const variants = [['hub, answer cache on', hub.url], ['hub, answer cache off', uncached.url], ['hub, cache off, no projection', records.url]] as const;
    const bare: CannonResult[] = [];
    const runs = variants.map(() => [] as CannonResult[]);
    const ratios = variants.map(() => [] as number[]);
    for (let round = 0; round < rounds; round++) {
      const b = await runCannon(`${base.url}${q.path}`, {}, roundSeconds, connections);
      bare.push(b);
      for (const [i, [, url]] of variants.entries()) {
        const h = await runCannon(`${url}${q.path}`, headers, roundSeconds, connections);
        if (h.non2xx || h.errors) throw new Error(`${q.name}: ${h.non2xx} non-2xx, ${h.errors} errors`);
        runs[i].push(h);
        ratios[i].push(h.rps / b.rps);
      }
    }
    await base.close();
    rows.push(`${q.name}`, fmt('bare express, same bytes', bare).line);
    for (const [i, [label, url]] of variants.entries()) {
      const r = fmt(label, runs[i], ratios[i]);
      if (url === uncached.url) ok &&= r.met;
      if (url === hub.url) okCached &&= r.met;
      rows.push(r.line);
    }
  }
  console.log(rows.join('\n'));
  console.log(`load average during the run: ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')} (${(await import('node:os')).cpus().length} cores, shared)`);
  console.log(`goals ${okCached ? 'met' : 'NOT met'} as shipped (answer cache on); ${ok ? 'met' : 'NOT met'} with the answer cache off`);
  await hub.close();
  await uncached.close();
  await records.close();
  for (const a of [hubApp, uncachedApp, recordsApp]) await drainBackgroundRuns(a);
  await db.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
