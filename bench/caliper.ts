/**
 * npm run bench:caliper -- [--events 50000] [--batch 50] [--clients 8] [--keep]
 *
 * Caliper ingest over HTTP on one process with durable storage. The hub (buildApp on a fresh SQLite file in WAL
 * mode; every envelope acknowledged only after its commit's write-ahead log is fsynced) listens on 127.0.0.1 on an
 * ephemeral port in a child process; this process
 * POSTs `events / batch` envelopes of `batch` synthetic Caliper 1.2 events (src/caliper/sample.ts, ~1.2 KB each)
 * from `clients` concurrent keep-alive connections, each sending its next envelope when the previous one is
 * answered, until all are sent. In the same run, a baseline child answers the same requests with a bare express
 * route that parses the same JSON (express.json) and answers 200 without validating or storing anything. Then the
 * same envelopes are sent to the hub again (every event a replay: detected, not stored).
 *
 * Prints events/s, requests/s, p50/p99 latency per request and the server's peak RSS for each, and the ratio
 * hub / baseline; checks that the hub stored exactly `events` rows. The header shows the machine's load average and
 * the median fdatasync latency of the temp disk: durable ingest is bound by both.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { fork, type ChildProcess } from 'node:child_process';
import express from 'express';
import { validateConfig } from '../src/core/config';
import { openDb, migrate } from '../src/store/db';
import { ensureTenants } from '../src/store/tenants';
import { buildApp } from '../src/serve/app';
import { sampleEnvelope, sampleEvents } from '../src/caliper/sample';

const args = process.argv.slice(2);
const opt = (name: string, def?: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};

const SENSOR = 'https://lms.example.edu/sensors/bench';
const TOKEN = 'bench-sensor-token-0123456789';
const WARMUP_ENVELOPES = 20;

type ChildMsg = { port: number } | { maxRssMb: number; stored: number };

// ---------------------------------------------------------------------------------------------------------------
// Children: the servers

async function hubChild(dbFile: string): Promise<void> {
  const config = validateConfig(
    { tenants: [{ id: 'bench', name: 'Bench', caliper: { maxPayloadBytes: 4 * 1024 * 1024, sensors: [{ id: SENSOR, name: 'bench', token: { $env: 'BENCH_CALIPER_TOKEN' } }] } }] },
    '(bench)', process.cwd(), { BENCH_CALIPER_TOKEN: TOKEN },
  );
  const db = await openDb({ url: dbFile });
  await migrate(db);
  await ensureTenants(db, config.config);
  const app = buildApp({ db, config, env: { BENCH_CALIPER_TOKEN: TOKEN } });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  process.send!({ port: (server.address() as { port: number }).port } satisfies ChildMsg);
  process.once('message', async () => {
    server.close();
    const [{ n }] = (await db.knex('learning_events').count({ n: '*' })) as { n: number }[];
    await db.close();
    process.send!({ maxRssMb: process.resourceUsage().maxRSS / 1024, stored: Number(n) } satisfies ChildMsg, () => process.exit(0));
  });
}

async function baselineChild(): Promise<void> {
  const app = express();
  app.post('/caliper/:tenant', express.json({ limit: '4mb', type: ['application/json', 'application/ld+json'] }), (req, res) => {
    res.status(Array.isArray((req.body as { data?: unknown }).data) ? 200 : 400).end();
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  process.send!({ port: (server.address() as { port: number }).port } satisfies ChildMsg);
  process.once('message', () => {
    server.close();
    process.send!({ maxRssMb: process.resourceUsage().maxRSS / 1024, stored: 0 } satisfies ChildMsg, () => process.exit(0));
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Parent: the clients

function startChild(kind: 'hub' | 'baseline', dbFile?: string): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(__filename, ['--child', kind, ...(dbFile ? ['--db', dbFile] : [])], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (m: ChildMsg) => ('port' in m ? resolve({ child, port: m.port }) : reject(new Error('unexpected message'))));
    child.once('exit', (code) => reject(new Error(`${kind} child exited with ${code}`)));
  });
}

function stopChild(child: ChildProcess): Promise<{ maxRssMb: number; stored: number }> {
  return new Promise((resolve) => {
    child.once('message', (m: ChildMsg) => resolve(m as { maxRssMb: number; stored: number }));
    child.send('stop');
  });
}

interface RunResult {
  ms: number;
  latencies: number[];
  errors: Map<number, number>;
}

async function load(port: number, bodies: string[], clients: number): Promise<RunResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const latencies: number[] = [];
  const errors = new Map<number, number>();
  let next = 0;
  const send = (body: string) =>
    new Promise<number>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port, method: 'POST', path: '/caliper/bench', agent, headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const worker = async () => {
    while (next < bodies.length) {
      const body = bodies[next++];
      const t = process.hrtime.bigint();
      const status = await send(body);
      latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
      if (status !== 200) errors.set(status, (errors.get(status) ?? 0) + 1);
    }
  };
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: clients }, worker));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  agent.destroy();
  return { ms, latencies, errors };
}

/** Median fdatasync of a 64 KB append in `dir` (ms): the disk's durability cost. */
function fsyncProbe(dir: string): number {
  const file = path.join(dir, 'fsync-probe');
  const fd = fs.openSync(file, 'w');
  const buf = Buffer.alloc(65536, 1);
  const times: number[] = [];
  try {
    for (let i = 0; i < 30; i++) {
      fs.writeSync(fd, buf);
      const t = process.hrtime.bigint();
      fs.fdatasyncSync(fd);
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
  return pct(times, 50);
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};

async function main() {
  const kind = opt('child');
  if (kind === 'hub') return hubChild(opt('db')!);
  if (kind === 'baseline') return baselineChild();

  const events = Number(opt('events', '50000'));
  const batch = Number(opt('batch', '50'));
  const clients = Number(opt('clients', '8'));
  if (!(events > 0 && batch > 0 && clients > 0)) throw new Error('--events, --batch and --clients must be positive numbers');
  const envelopes = Math.ceil(events / batch);
  const make = (from: number, n: number) => JSON.stringify(sampleEnvelope(SENSOR, sampleEvents(n, from)));
  const bodies = Array.from({ length: envelopes }, (_, i) => make(i * batch, Math.min(batch, events - i * batch)));
  const warmup = Array.from({ length: WARMUP_ENVELOPES }, (_, i) => make(10_000_000 + i * batch, batch));
  const bytes = bodies.reduce((a, b) => a + Buffer.byteLength(b), 0);
  console.log(`${events} events in ${envelopes} envelopes of ${batch} (${(bytes / events).toFixed(0)} B/event, ${(bytes / 1e6).toFixed(1)} MB), ${clients} concurrent clients, node ${process.version}, ${os.cpus()[0]?.model ?? '?'} x${os.cpus().length}`);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-bench-caliper-'));
  const dbFile = path.join(dir, 'bench.sqlite');
  console.log(`load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; fdatasync p50 ${fsyncProbe(dir).toFixed(1)} ms (${dir})`);
  try {
    const base = await startChild('baseline');
    await load(base.port, warmup, clients);
    const b = await load(base.port, bodies, clients);
    const bStop = await stopChild(base.child);

    const hub = await startChild('hub', dbFile);
    await load(hub.port, warmup, clients);
    const h = await load(hub.port, bodies, clients);
    const replay = await load(hub.port, bodies, clients);
    const hStop = await stopChild(hub.child);

    const rate = (r: RunResult) => events / (r.ms / 1000);
    const row = (name: string, r: RunResult, rss: string) => {
      const errs = [...r.errors].map(([s, n]) => `${n}x${s}`).join(' ') || '-';
      console.log(`${name.padEnd(46)} ${Math.round(rate(r)).toString().padStart(8)} ev/s ${Math.round(envelopes / (r.ms / 1000)).toString().padStart(6)} req/s  p50 ${pct(r.latencies, 50).toFixed(1).padStart(6)} ms  p99 ${pct(r.latencies, 99).toFixed(1).padStart(6)} ms  ${rss.padStart(8)}  errors ${errs}`);
    };
    console.log(`${'path'.padEnd(46)} ${'events/s'.padStart(13)} ${'req/s'.padStart(12)}  ${'latency per request'.padEnd(30)} peak RSS`);
    row('baseline: express.json + 200', b, `${bStop.maxRssMb.toFixed(0)} MB`);
    row('hub: auth, validate, store, fsync, 200', h, `${hStop.maxRssMb.toFixed(0)} MB`);
    row('hub: same envelopes again (all replays)', replay, '(same)');
    console.log(`ratio hub / baseline: ${(rate(h) / rate(b)).toFixed(2)}; goal >= 5000 events/s: ${rate(h) >= 5000 ? 'met' : 'NOT met'}; stored ${hStop.stored - WARMUP_ENVELOPES * batch} of ${events} events${hStop.stored - WARMUP_ENVELOPES * batch === events ? ' (exact)' : ' (MISMATCH)'}`);
    if (hStop.stored - WARMUP_ENVELOPES * batch !== events || h.errors.size || replay.errors.size) process.exitCode = 1;
  } finally {
    if (!args.includes('--keep')) fs.rmSync(dir, { recursive: true, force: true });
    else console.log(`kept ${dbFile}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
