/**
 * npx tsx bench/plp.ts [--students 5000] [--requests 300] [--keep]
 *
 * Reading one learner's Personalized Learning Plan. A synthetic district of `students` is synced from its SIS export
 * into a fresh SQLite file; one learner gets a full plan (goals, supports, comments, statements, SEL ratings: 48
 * entries through the API), 120 mastery rows, 40 assessment results, 60 behaviour incidents and 180 attendance
 * events, and 2,000 other learners get attendance and behaviour records too, so the per-learner lookups must go
 * through the indexes. Then, interleaved, `requests` times each:
 *
 *   baseline   GET /learners/:id            the learner record (the existing route, ~8 indexed queries)
 *   plan       GET /learners/:id/plp        the whole plan with its progress summary, computed on read
 *   print      GET /learners/:id/plp/print  the same rendered as the printable HTML page
 *
 * Prints p50 / p95 latency of each and the ratios plan / baseline and print / baseline.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { validateConfig } from '../src/core/config';
import { openDb, migrate, type Db } from '../src/store/db';
import { ensureTenants } from '../src/store/tenants';
import { runSync } from '../src/ingest/runner';
import { generateDistrict } from '../src/generator/district';
import { buildApp } from '../src/serve/app';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const STUDENTS = Number(opt('students', '5000'));
const REQUESTS = Number(opt('requests', '300'));
const KEY = 'bench-plp-admin-key';

function daysAgo(n: number): string {
  const d = new Date();
  d.setUTCDate(d.getUTCDate() - n);
  return d.toISOString().slice(0, 10);
}

async function insertRecords(db: Db, type: string, rows: Record<string, unknown>[]): Promise<string[]> {
  const at = new Date().toISOString();
  const out = rows.map((r) => ({ ...r, id: randomUUID() }));
  for (let i = 0; i < out.length; i += 200) {
    await db.knex('records').insert(out.slice(i, i + 200).map((d) => ({ tenant_id: 'bench', entity_type: type, id: d.id, data: JSON.stringify(d), created_seq: 0, updated_seq: 0, created_at: at, updated_at: at, deleted_at: null })));
  }
  return out.map((r) => r.id);
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-bench-plp-'));
  const t0 = Date.now();
  await generateDistrict({ seed: 7, students: STUDENTS, outDir: path.join(dir, 'district') });
  const config = validateConfig({
    apiKeys: [{ name: 'bench', key: { $env: 'BENCH_PLP_KEY' }, tenants: ['*'], scopes: ['admin'] }],
    tenants: [{ id: 'bench', name: 'Bench', connectors: [{ id: 'sis', type: 'oneroster-csv', settings: { path: path.join(dir, 'district/sis/bulk') } }] }],
  }, '(bench)', process.cwd(), { BENCH_PLP_KEY: KEY });
  const db = await openDb({ url: path.join(dir, 'hub.sqlite') });
  await migrate(db);
  await ensureTenants(db, config.config);
  const run = await runSync({ db, config }, { tenantId: 'bench', connectorId: 'sis' });
  if (run.status !== 'succeeded') throw new Error(`sync ${run.status}`);
  console.log(`district of ${STUDENTS} students generated and synced in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const students = ((await db.knex('records').where({ tenant_id: 'bench', entity_type: 'enrollment' }).select('data')) as { data: string }[])
    .map((r) => JSON.parse(r.data) as { personId: string; role: string }).filter((e) => e.role === 'student').map((e) => e.personId);
  const ids = [...new Set(students)];
  const learner = ids[0];

  const app = buildApp({ db, config, env: { BENCH_PLP_KEY: KEY } });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/tenants/bench/learners/${learner}`;
  const call = async (p: string, init?: RequestInit): Promise<string> => {
    let res: Response;
    try {
      res = await fetch(`${base}${p}`, { ...init, headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json', ...(init?.headers ?? {}) } });
    } catch {
      // A keep-alive connection the server closed while the bench was loading data: once more on a fresh one.
      res = await fetch(`${base}${p}`, { ...init, headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json', ...(init?.headers ?? {}) } });
    }
    const body = await res.text();
    if (res.status >= 300) throw new Error(`${p}: ${res.status} ${body.slice(0, 200)}`);
    return body;
  };

  // The learner's plan, through the API.
  const comps = await insertRecords(db, 'competencyItem', Array.from({ length: 30 }, (_, i) => ({ caseId: `c${i}`, frameworkId: 'fw', fullStatement: `Competency ${i}`, humanCodingScheme: `C.${i}` })));
  for (let i = 0; i < 12; i++) await call('/plp/goals', { method: 'POST', body: JSON.stringify({ statement: `Goal ${i}: read and write more`, teacherSupport: 'Feedback weekly', competencyIds: comps.slice(i, i + 3), targetDate: '2030-06-01' }) });
  for (let i = 0; i < 6; i++) await call('/plp/supports', { method: 'POST', body: JSON.stringify({ title: `Support ${i}`, provider: 'Specialist', startDate: '2025-01-10', frequency: 'weekly' }) });
  for (let i = 0; i < 10; i++) await call('/plp/comments', { method: 'POST', body: JSON.stringify({ text: `Comment ${i}: steady progress`, visibility: i % 3 ? 'family' : 'staff' }) });
  for (const section of ['strength', 'challenge', 'interest', 'learningPreference', 'accessibility']) {
    for (let i = 0; i < 2; i++) await call('/plp/items', { method: 'POST', body: JSON.stringify({ section, text: `${section} ${i}` }) });
  }
  for (let i = 0; i < 10; i++) await call('/plp/items', { method: 'POST', body: JSON.stringify({ section: 'sel', competency: ['selfAwareness', 'selfManagement', 'socialAwareness', 'relationshipSkills', 'responsibleDecisionMaking'][i % 5], rating: 1 + (i % 4), observedOn: daysAgo(200 - i * 15) }) });

  // Data the progress summary reads, for this learner and (noise) for 2,000 others.
  const subjects = ['Mathematics', 'English Language Arts', 'Science', 'Social Studies'];
  await db.knex('mastery').insert(Array.from({ length: 120 }, (_, i) => ({
    tenant_id: 'bench', learner_id: learner, competency_id: `comp-${i}`, framework_id: 'fw', subject: subjects[i % 4], level: 1 + (i % 4), scale_min: 1, scale_max: 4, threshold: 3,
    status: ['not_started', 'in_progress', 'mastered'][i % 3], method: 'decaying-average', evidence_count: 3, last_evidence_at: null, explain: '{}', updated_at: new Date(Date.now() - i * 3 * 86400000).toISOString(),
  })));
  const assessment = (await insertRecords(db, 'assessment', [{ title: 'Interim' }]))[0];
  await insertRecords(db, 'assessmentResult', Array.from({ length: 40 }, (_, i) => ({ assessmentId: assessment, personId: learner, administrationDate: daysAgo(i * 9), scores: [{ method: 'Scale score', value: String(400 + i) }] })));
  const others = ids.slice(1, 2001);
  for (const [who, n] of [[learner, 180] as const, ...others.map((o) => [o, 20] as const)]) {
    await insertRecords(db, 'attendanceEvent', Array.from({ length: n }, (_, i) => ({ personId: who, date: daysAgo(i), category: i % 11 === 0 ? 'Excused Absence' : 'In Attendance' })));
  }
  for (const who of [learner, ...others.slice(0, 500)]) {
    const incidents = await insertRecords(db, 'behaviourIncident', Array.from({ length: who === learner ? 60 : 4 }, (_, i) => ({ incidentDate: daysAgo(i * 5), positive: i % 4 === 0 })));
    await insertRecords(db, 'behaviourParticipant', incidents.map((incidentId) => ({ incidentId, personId: who })));
  }
  await db.knex.raw('analyze');
  const [{ n }] = (await db.knex('records').where({ tenant_id: 'bench' }).count({ n: '*' })) as { n: number }[];
  console.log(`records table: ${n} rows; plan of learner: 48 entries, 120 mastery rows`);

  const routes = { baseline: '', plan: '/plp', print: '/plp/print' } as const;
  const times: Record<keyof typeof routes, number[]> = { baseline: [], plan: [], print: [] };
  for (let i = 0; i < 20; i++) for (const p of Object.values(routes)) await call(p); // warm-up
  for (let i = 0; i < REQUESTS; i++) {
    for (const [k, p] of Object.entries(routes) as [keyof typeof routes, string][]) {
      const s = process.hrtime.bigint();
      await call(p);
      times[k].push(Number(process.hrtime.bigint() - s) / 1e6);
    }
  }
  server.close();
  await db.close();
  if (!args.includes('--keep')) fs.rmSync(dir, { recursive: true, force: true });
  const b50 = pct(times.baseline, 50);
  const b95 = pct(times.baseline, 95);
  console.log(`load average: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log('route      p50 ms   p95 ms   p50 ratio  p95 ratio');
  for (const k of Object.keys(routes) as (keyof typeof routes)[]) {
    const p50 = pct(times[k], 50);
    const p95 = pct(times[k], 95);
    console.log(`${k.padEnd(9)} ${p50.toFixed(2).padStart(7)} ${p95.toFixed(2).padStart(8)} ${(p50 / b50).toFixed(2).padStart(10)} ${(p95 / b95).toFixed(2).padStart(10)}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
