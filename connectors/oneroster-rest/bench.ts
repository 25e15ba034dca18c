/**
 * Throughput of the oneroster-rest connector against a local mock OneRoster 1.2 service (node:http on 127.0.0.1,
 * pages served from memory), compared with a bare fetch loop over the same pages (fetch + JSON parse, nothing
 * else). The ratio says how much the connector adds on top of the transport: the goal is that a run is limited by
 * the source, not by the hub.
 *
 *   npx tsx connectors/oneroster-rest/bench.ts --users 20000 [--page-size 1000] [--rps 1000] [--latency 0] [--runs 3]
 *
 * --latency adds a server-side delay per page (ms), to see the same ratio against a source that takes its time.
 * The mock service runs in a child process (as a real source would), so its work does not share the measured
 * event loop; --in-process keeps it in this one.
 * Synthetic, fictional users only.
 */
import { fork } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { silentLogger } from '../../src/core/logger';
import { oneRosterRest, type OneRosterRestSettings } from './index';
import { resetLimiters } from './ratelimit';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i === -1) return dflt;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} needs a number`);
  return v;
}

const USERS = arg('users', 20000);
const PAGE = arg('page-size', 1000);
const RPS = arg('rps', 1000);
const LATENCY = arg('latency', 0);
const RUNS = Math.max(1, arg('runs', 3));
const ROOT = '/ims/oneroster/rostering/v1p2';

const GIVEN = ['Avery', 'Rowan', 'Jules', 'Morgan', 'Noor', 'Kai', 'Phuong', 'Eli', 'Sasha', 'Remy'];
const FAMILY = ['Lindqvist', 'Okafor', 'Marchetti', 'Tanaka', 'Haddad', 'Brandt', 'Nguyen', 'Novak', 'Moreau', 'Quispe'];

function user(i: number): Record<string, unknown> {
  const id = `u-${String(i).padStart(7, '0')}`;
  const school = `sch-${(i % 40) + 1}`;
  const org = (sid: string) => ({ href: `http://127.0.0.1${ROOT}/orgs/${sid}`, sourcedId: sid, type: 'org' });
  return {
    sourcedId: id,
    status: 'active',
    dateLastModified: new Date(Date.UTC(2025, 8, 1) + i * 1000).toISOString(),
    userMasterIdentifier: `MI-${i}`,
    username: `${GIVEN[i % 10].toLowerCase()}.${FAMILY[(i >> 3) % 10].toLowerCase()}${i}`,
    userIds: [{ type: 'LDAP', identifier: `ldap-${i}` }],
    enabledUser: 'true',
    givenName: GIVEN[i % 10],
    familyName: FAMILY[(i >> 3) % 10],
    middleName: '',
    preferredFirstName: GIVEN[(i + 3) % 10],
    roles: [{ roleType: 'primary', role: 'student', org: org(school) }],
    primaryOrg: org(school),
    identifier: `S-${i}`,
    email: `student${i}@students.fictional.example`,
    grades: [String((i % 12) + 1).padStart(2, '0')],
    agents: [],
  };
}

async function startServer(): Promise<{ url: string; close(): Promise<void>; served: () => number }> {
  const all = Array.from({ length: USERS }, (_, i) => user(i));
  const cache = new Map<string, Buffer>();
  let served = 0;
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (u.pathname !== `${ROOT}/users`) {
      res.writeHead(404).end();
      return;
    }
    const limit = Math.min(Number(u.searchParams.get('limit') ?? 100), 1000);
    const offset = Number(u.searchParams.get('offset') ?? 0);
    const key = `${limit}:${offset}`;
    let body = cache.get(key);
    if (!body) {
      body = Buffer.from(JSON.stringify({ users: all.slice(offset, offset + limit) }));
      cache.set(key, body);
    }
    const next = offset + limit < USERS ? `<http://127.0.0.1${ROOT}/users?limit=${limit}&offset=${offset + limit}>; rel="next", ` : '';
    const send = () => {
      served++;
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': body!.length,
        'x-total-count': String(USERS),
        link: `${next}<http://127.0.0.1${ROOT}/users?limit=${limit}&offset=0>; rel="first"`,
      });
      res.end(body);
    };
    if (LATENCY > 0) setTimeout(send, LATENCY);
    else send();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    served: () => served,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** CPU time of this process (user + system) in ms: with the service in a child process, the client's own work. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

async function viaConnector(base: string): Promise<{ ms: number; cpu: number; records: number; rejects: number; pages: number }> {
  resetLimiters();
  const settings: OneRosterRestSettings = {
    baseUrl: `${base}${ROOT}`,
    version: '1.2',
    auth: { type: 'bearer' },
    token: 'fictional-bench-token',
    pageSize: PAGE,
    requestsPerSecond: RPS,
    streams: ['users'],
  };
  const ctx = { tenantId: 'bench', connectorId: 'sis', baseDir: process.cwd(), log: silentLogger, signal: new AbortController().signal, mode: 'full' as const };
  const t0 = performance.now();
  const c0 = cpuMs();
  let records = 0;
  let rejects = 0;
  let pages = 0;
  for await (const p of oneRosterRest.read('users', settings, ctx)) {
    records += p.records.length;
    rejects += p.rejects?.length ?? 0;
    pages++;
  }
  return { ms: performance.now() - t0, cpu: cpuMs() - c0, records, rejects, pages };
}

async function viaFetch(base: string): Promise<{ ms: number; cpu: number; records: number }> {
  const t0 = performance.now();
  const c0 = cpuMs();
  let records = 0;
  for (let offset = 0; ; offset += PAGE) {
    const res = await fetch(`${base}${ROOT}/users?limit=${PAGE}&offset=${offset}`, { headers: { accept: 'application/json', authorization: 'Bearer x' } });
    const body = (await res.json()) as { users: unknown[] };
    records += body.users.length;
    if (offset + PAGE >= Number(res.headers.get('x-total-count'))) break;
  }
  return { ms: performance.now() - t0, cpu: cpuMs() - c0, records };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);

/** The mock service in a child process (this same file with --serve); resolves with its URL. */
async function startChild(): Promise<{ url: string; close(): Promise<void>; served: () => number }> {
  const child = fork(__filename, [...process.argv.slice(2), '--serve'], { execArgv: process.execArgv, stdio: 'inherit' });
  let served = 0;
  const url = await new Promise<string>((resolve, reject) => {
    child.on('message', (m: { url?: string; served?: number }) => {
      if (m.url) resolve(m.url);
      if (m.served !== undefined) served = m.served;
    });
    child.on('exit', (code) => reject(new Error(`the mock service exited (${code})`)));
  });
  return {
    url,
    served: () => served,
    close: async () => {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.send('stop');
      await gone;
    },
  };
}

async function main(): Promise<void> {
  if (process.argv.includes('--serve')) {
    const server = await startServer();
    process.send!({ url: server.url });
    process.on('message', async () => {
      process.send!({ served: server.served() });
      await server.close();
      process.exit(0);
    });
    return;
  }
  const server = process.argv.includes('--in-process') ? await startServer() : await startChild();
  try {
    // Warm-up: fills the server's page cache and JIT-compiles both paths.
    await viaFetch(server.url);
    await viaConnector(server.url);
    const c: number[] = [];
    const f: number[] = [];
    const cc: number[] = [];
    const fc: number[] = [];
    let last = { records: 0, rejects: 0, pages: 0 };
    for (let r = 0; r < RUNS; r++) {
      const a = await viaFetch(server.url);
      f.push(a.ms);
      fc.push(a.cpu);
      const b = await viaConnector(server.url);
      c.push(b.ms);
      cc.push(b.cpu);
      last = b;
      if (process.argv.includes('--verbose')) console.log(`  run ${r + 1}: fetch ${a.ms.toFixed(0)} ms (cpu ${a.cpu.toFixed(0)}), connector ${b.ms.toFixed(0)} ms (cpu ${b.cpu.toFixed(0)}), rss ${Math.round(process.memoryUsage().rss / 1048576)} MiB`);
      if (b.records !== USERS || a.records !== USERS) throw new Error(`expected ${USERS} records, got ${b.records} (connector) / ${a.records} (fetch)`);
    }
    const cm = median(c);
    const fm = median(f);
    console.log(`oneroster-rest bench: ${USERS} users, pageSize ${PAGE}, requestsPerSecond ${RPS}, server latency ${LATENCY} ms/page, ${RUNS} runs (median)`);
    const ccm = median(cc);
    const fcm = median(fc);
    console.log(`  connector  ${cm.toFixed(0).padStart(6)} ms wall ${ccm.toFixed(0).padStart(6)} ms cpu  ${String(rate(USERS, cm)).padStart(8)} records/s  (${last.pages} pages, ${last.rejects} rejects)`);
    console.log(`  bare fetch ${fm.toFixed(0).padStart(6)} ms wall ${fcm.toFixed(0).padStart(6)} ms cpu  ${String(rate(USERS, fm)).padStart(8)} records/s`);
    console.log(`  ratio connector/fetch: wall ${(cm / fm).toFixed(2)}, cpu ${(ccm / fcm).toFixed(2)}  (1.00 = the connector adds nothing to the transport)`);
    console.log(`  rss of the measuring process ${Math.round(process.memoryUsage().rss / 1048576)} MiB`);
  } finally {
    await server.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
