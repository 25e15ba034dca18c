/**
 * npm run bench:lti -- [--launches 200] [--views 200] [--learners 35]
 *
 * The LTI tool end to end on SQLite, in one process: a synthetic district synced, one class topped up to `learners`
 * students with 16 competencies of mastery each (the mastery engine's table), the fake LMS of the test suite
 * (test/helpers/fake-lms.ts) registered, the hub (buildApp) listening on 127.0.0.1.
 *
 *  1. launches: `launches` sequential teacher launches, each login -> the LMS's auth endpoint -> form post to
 *     /lti/launch -> the class page. Launches per second (client side, everything included), and the server time of
 *     login + launch (the "launch overhead": request durations from the hub's own request log) p50/p95.
 *  2. views: `views` requests of the teacher page of that class with the session: server time p50/p95.
 *  3. baseline, in the same process: a bare express route serving the same HTML (precomputed), p50/p95.
 * Goals: launch overhead < 50 ms p95, teacher view < 200 ms p95.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import express from 'express';
import pino from 'pino';
import { validateConfig } from '../src/core/config';
import { openDb, migrate } from '../src/store/db';
import { ensureTenants } from '../src/store/tenants';
import { runSync } from '../src/ingest/runner';
import { generateDistrict } from '../src/generator/district';
import { buildApp } from '../src/serve/app';
import { closeLti } from '../src/serve/lti';
import { FakeLms, ROLE } from '../test/helpers/fake-lms';
import { launch, listen } from '../test/helpers/lti';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const LAUNCHES = Number(opt('launches', '200'));
const VIEWS = Number(opt('views', '200'));
const LEARNERS = Number(opt('learners', '35'));

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const ms = (x: number) => `${x.toFixed(1)} ms`;

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-bench-lti-'));
  try {
    await generateDistrict({ seed: 3, students: 600, outDir: path.join(dir, 'district') });
    const db = await openDb({ url: path.join(dir, 'hub.sqlite') });
    await migrate(db);
    const lms = await new FakeLms().start();
    const cfg = validateConfig({
      tenants: [{
        id: 'd1', name: 'Bench', connectors: [{ id: 'sis', type: 'oneroster-csv', settings: { path: path.join(dir, 'district/sis/bulk') } }],
        lti: { platforms: [{ issuer: lms.issuer, clientId: lms.clientId, deploymentIds: [lms.deploymentId], authLoginUrl: `${lms.url}/auth`, authTokenUrl: `${lms.url}/token`, jwksUrl: `${lms.url}/jwks` }] },
      }],
    });
    await ensureTenants(db, cfg.config);
    await runSync({ db, config: cfg }, { tenantId: 'd1', connectorId: 'sis' });

    // One class with LEARNERS students and 16 competencies of mastery each.
    const enr = ((await db.knex('records').where({ tenant_id: 'd1', entity_type: 'enrollment' }).whereNull('deleted_at').select('data')) as { data: string }[]).map((r) => JSON.parse(r.data) as { personId: string; classId: string; schoolId: string; role: string });
    const te = enr.find((e) => e.role === 'teacher')!;
    const inClass = new Set(enr.filter((e) => e.classId === te.classId && e.role === 'student').map((e) => e.personId));
    const extra = [...new Set(enr.filter((e) => e.role === 'student' && !inClass.has(e.personId)).map((e) => e.personId))].slice(0, Math.max(0, LEARNERS - inClass.size));
    const now = new Date().toISOString();
    await db.knex('records').insert(extra.map((p, i) => ({
      tenant_id: 'd1', entity_type: 'enrollment', id: `bench-enr-${i}`, data: JSON.stringify({ id: `bench-enr-${i}`, classId: te.classId, schoolId: te.schoolId, personId: p, role: 'student' }),
      created_seq: 0, updated_seq: 0, created_at: now, updated_at: now, deleted_at: null,
    })));
    const learners = [...inClass, ...extra];
    const rows = learners.flatMap((l, i) => Array.from({ length: 16 }, (_, j) => ({
      tenant_id: 'd1', learner_id: l, competency_id: `comp-${String(j).padStart(2, '0')}`, framework_id: 'fw', subject: 'math', level: 1 + ((i * 7 + j * 3) % 30) / 10, scale_min: 1, scale_max: 4, threshold: 3,
      status: (i + j) % 5 === 0 ? 'mastered' : 'in_progress', method: 'bench', evidence_count: 1 + ((i + j) % 6), last_evidence_at: now, explain: '{}', updated_at: now,
    })));
    for (let i = 0; i < rows.length; i += 200) await db.knex('mastery').insert(rows.slice(i, i + 200));

    const durations = new Map<string, number[]>();
    const sink = new Writable({
      write(chunk, _e, cb) {
        for (const line of String(chunk).split('\n').filter(Boolean)) {
          const l = JSON.parse(line) as { msg?: string; route?: string; durationMs?: number };
          if (l.msg === 'request' && l.route && typeof l.durationMs === 'number') (durations.get(l.route) ?? durations.set(l.route, []).get(l.route)!).push(l.durationMs);
        }
        cb();
      },
    });
    const app = buildApp({ db, config: cfg, log: pino({ level: 'info' }, sink) });
    const hub = await listen(app);
    lms.toolJwksUrl = `${hub.url}/lti/keys`;
    const src = async (type: string, id: string) => ((await db.knex('source_records').where({ tenant_id: 'd1', connector_id: 'sis', entity_type: type, unified_id: id }).first('source_id')) as { source_id: string }).source_id;
    lms.users.set('t-1', { sub: 't-1', roles: [ROLE.instructor], personSourcedId: await src('person', te.personId) });
    lms.hints.set('course', { context: { id: 'ctx-1', title: 'Bench', courseSectionSourcedId: await src('class', te.classId) } });

    // Warm-up (first key generation, caches).
    let location = '';
    for (let i = 0; i < 5; i++) location = (await launch(hub.url, lms, 't-1', 'course')).location!;
    durations.clear();

    const t0 = performance.now();
    for (let i = 0; i < LAUNCHES; i++) {
      const r = await launch(hub.url, lms, 't-1', 'course');
      if (r.status !== 303) throw new Error(`launch ${i} answered ${r.status}`);
      const v = await fetch(new URL(r.location!, hub.url));
      if (v.status !== 200) throw new Error(`view answered ${v.status}`);
      await v.text();
      location = r.location!;
    }
    const launchWall = performance.now() - t0;
    const login = durations.get('/lti/login') ?? [];
    const launchT = durations.get('/lti/launch') ?? [];
    const overhead = login.map((x, i) => x + (launchT[i] ?? 0));
    durations.clear();

    let html = '';
    for (let i = 0; i < VIEWS; i++) {
      const v = await fetch(new URL(location, hub.url));
      html = await v.text();
    }
    const view = durations.get('/lti/app/class/:classId') ?? [];
    if (!html.includes(`${learners.length} learners`)) throw new Error('the view does not show the class');

    // Baseline: a bare express route serving the same HTML, timed the same way (its own request log line).
    const base: number[] = [];
    const bare = express();
    bare.get('/page', (_req, res) => {
      const s = process.hrtime.bigint();
      res.on('finish', () => base.push(Number(process.hrtime.bigint() - s) / 1e6));
      res.type('html').send(html);
    });
    const b = await listen(bare);
    for (let i = 0; i < VIEWS; i++) await (await fetch(`${b.url}/page`)).text();
    await b.close();

    console.log(`LTI bench (SQLite, ${os.cpus().length} cores, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}); class of ${learners.length} learners x 16 competencies`);
    console.log(`launches end to end (login -> LMS auth -> launch -> teacher page): ${LAUNCHES} in ${(launchWall / 1000).toFixed(2)} s = ${(LAUNCHES / (launchWall / 1000)).toFixed(1)} launches/s`);
    console.log(`  launch overhead (server: login + launch)  p50 ${ms(pct(overhead, 50))}  p95 ${ms(pct(overhead, 95))}   goal p95 < 50 ms`);
    console.log(`    of which login p50 ${ms(pct(login, 50))} p95 ${ms(pct(login, 95))}; launch p50 ${ms(pct(launchT, 50))} p95 ${ms(pct(launchT, 95))}`);
    console.log(`teacher view (server)                       p50 ${ms(pct(view, 50))}  p95 ${ms(pct(view, 95))}   goal p95 < 200 ms`);
    console.log(`baseline: bare express route, same HTML      p50 ${ms(pct(base, 50))}  p95 ${ms(pct(base, 95))}`);
    console.log(`ratio view / baseline: p50 ${(pct(view, 50) / pct(base, 50)).toFixed(1)}x, p95 ${(pct(view, 95) / pct(base, 95)).toFixed(1)}x; page ${(html.length / 1024).toFixed(0)} KB`);
    await hub.close();
    await lms.stop();
    await closeLti();
    await db.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
