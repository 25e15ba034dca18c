/**
 * bench:mastery — competency mastery on a generated district.
 *
 *   npx tsx bench/mastery.ts --students 10000 --retakes 10
 *
 * 1. Generates the district (cached under bench/out/) and syncs SIS, LMS gradebook, both CASE frameworks, the interim
 *    benchmark and the Ed-Fi state assessment into a fresh SQLite file; evidence and mastery are derived by the sync
 *    hooks as in production.
 * 2. `--retakes k` adds k-1 synthetic retakes of every evidence row (later dates, scores jittered), to reach a
 *    realistic year of evidence (~40 rows per learner from one fall becomes ~40k per 1k learners x k).
 * 3. Full recompute of mastery from the stored evidence (recomputeTenant, evidence: false), evidence rows per second,
 *    against a baseline measured in the same run: a plain SQL `group by learner, competency` over the same rows
 *    (count, avg, max, last date) — what any aggregate costs before methods, crosswalks, explain and the change log.
 * 4. Incremental latency: 200 single-result updates — the result's record rewritten (the store step), then the derive
 *    (`deriveChanged`): p50 / p95 from before the store to the mastery row updated (goal p95 < 50 ms).
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { generateDistrict } from '../src/generator/district';
import { openDb, migrate } from '../src/store/db';
import { validateConfig } from '../src/core/config';
import { ensureTenants } from '../src/store/tenants';
import { runSync } from '../src/ingest/runner';
import { deriveChanged, recomputeTenant } from '../src/derive/index';
import { createLogger } from '../src/core/logger';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const students = arg('students', 10000);
const retakes = arg('retakes', 10);
const updates = arg('updates', 200);
const root = path.resolve(__dirname, 'out');

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function main() {
  const districtDir = path.join(root, `mastery-district-${students}`);
  if (!fs.existsSync(path.join(districtDir, 'sis/bulk/manifest.csv'))) {
    const t = performance.now();
    await generateDistrict({ seed: 42, students, outDir: districtDir });
    console.log(`generated ${fmt(students)} students in ${((performance.now() - t) / 1000).toFixed(1)}s`);
  }
  const demo = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../fixtures/demo/hub.config.json'), 'utf8')) as { tenants: { connectors: { id: string }[]; competencies: Record<string, unknown> }[] };
  const tenant = demo.tenants[0];
  tenant.connectors = tenant.connectors.filter((c) => c.id !== 'behaviour');
  // The demo's course requirement names a course of the 1,200-student demo; a bench district has others.
  delete tenant.competencies.courses;
  const cfg = validateConfig({ tenants: [tenant] }, '(bench)', root, {});
  fs.rmSync(path.join(root, 'district'), { force: true, recursive: true });
  fs.symlinkSync(districtDir, path.join(root, 'district'));
  const file = path.join(root, 'mastery-bench.sqlite');
  for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true });
  const db = await openDb({ url: file });
  await migrate(db);
  await ensureTenants(db, cfg.config);
  const log = createLogger({ level: 'warn', fd: 2 });
  const deps = { db, config: cfg, log };
  const tenantId = cfg.config.tenants[0].id;

  let t = performance.now();
  for (const c of cfg.config.tenants[0].connectors ?? []) {
    const t0 = performance.now();
    const r = await runSync(deps, { tenantId, connectorId: c.id });
    console.log(`sync ${c.id.padEnd(22)} ${r.status.padEnd(10)} ${fmt(r.counts.read).padStart(9)} read  ${((performance.now() - t0) / 1000).toFixed(1)}s`);
  }
  console.log(`syncs (with derivation hooks) ${((performance.now() - t) / 1000).toFixed(1)}s`);
  const count = async (table: string) => Number(((await db.knex(table).where({ tenant_id: tenantId }).count({ n: '*' })) as { n: number }[])[0].n);
  console.log(`evidence ${fmt(await count('evidence'))}, mastery ${fmt(await count('mastery'))}, problems ${fmt(await count('evidence_problems'))}`);

  if (retakes > 1) {
    t = performance.now();
    const base = (await db.knex('evidence').where({ tenant_id: tenantId })) as Record<string, unknown>[];
    await db.knex.transaction(async (trx) => {
      for (let k = 1; k < retakes; k++) {
        const rows = base.map((e, i) => {
          const level = e.level === null ? null : Math.max(0, Math.min(4, Number(e.level) + (((i * 7919 + k * 104729) % 100) / 100 - 0.4)));
          const day = new Date(Date.parse(String(e.observed_at).slice(0, 10)) + k * 14 * 86_400_000).toISOString().slice(0, 10);
          return { ...e, id: `${String(e.id).slice(0, 28)}r${String(k).padStart(3, '0')}`, level, observed_at: day, attempt: null, source_id: `${String(e.source_id)}#${k}` };
        });
        for (let i = 0; i < rows.length; i += 400) await trx('evidence').insert(rows.slice(i, i + 400));
      }
    });
    await db.knex.raw('analyze');
    console.log(`added ${retakes - 1} synthetic retakes of every evidence row in ${((performance.now() - t) / 1000).toFixed(1)}s`);
  }
  const evidence = await count('evidence');
  const learners = Number(((await db.knex('evidence').where({ tenant_id: tenantId }).countDistinct({ n: 'learner_id' })) as { n: number }[])[0].n);
  console.log(`evidence rows ${fmt(evidence)} for ${fmt(learners)} learners`);

  // Baseline: the plain aggregate over the same rows.
  t = performance.now();
  const groups = (await db.knex('evidence').where({ tenant_id: tenantId }).select('learner_id', 'competency_id').count({ n: '*' }).avg({ a: 'level' }).max({ m: 'level' }).max({ d: 'observed_at' })
    .groupBy('learner_id', 'competency_id')) as unknown[];
  const baselineMs = performance.now() - t;

  // Full recompute (mastery from stored evidence; twice: the first one writes the retakes' effect, the second is a no-op compare).
  const r1 = await recomputeTenant(deps, tenantId, { evidence: false });
  const r2 = await recomputeTenant(deps, tenantId, { evidence: false });
  // Evidence re-derivation from the records too (what `hub mastery recompute` does without --mastery-only), on the synced rows.
  const r3 = await recomputeTenant(deps, tenantId, { evidence: true });
  console.log(`\nfull recompute (mastery from ${fmt(evidence)} evidence rows, ${fmt(r1.learners)} learners):`);
  console.log(`  writing changes: ${(r1.timings!.masteryMs / 1000).toFixed(2)}s = ${fmt(evidence / (r1.timings!.masteryMs / 1000))} evidence/s  (created ${fmt(r1.mastery.created)}, updated ${fmt(r1.mastery.updated)}, deleted ${fmt(r1.mastery.deleted)})`);
  console.log(`  nothing to change:  ${(r2.timings!.masteryMs / 1000).toFixed(2)}s = ${fmt(evidence / (r2.timings!.masteryMs / 1000))} evidence/s`);
  console.log(`  baseline select ... group by (${fmt(groups.length)} groups): ${(baselineMs / 1000).toFixed(2)}s = ${fmt(evidence / (baselineMs / 1000))} evidence/s`);
  console.log(`  ratio (baseline time / recompute time): ${(baselineMs / r1.timings!.masteryMs).toFixed(3)} writing, ${(baselineMs / r2.timings!.masteryMs).toFixed(3)} unchanged`);
  console.log(`  evidence re-derived from records: ${fmt(r3.evidence)} rows in ${(r3.timings!.evidenceMs / 1000).toFixed(2)}s, then mastery ${(r3.timings!.masteryMs / 1000).toFixed(2)}s`);

  // Incremental: one result at a time.
  const withEvidence = (await db.knex('evidence').where({ tenant_id: tenantId, source_kind: 'result' }).distinct('source_id').limit(5000)) as { source_id: string }[];
  const lat: number[] = [];
  for (let i = 0; i < Math.min(updates, withEvidence.length); i++) {
    const id = withEvidence[(i * 7919) % withEvidence.length].source_id;
    const rec = (await db.knex('records').where({ tenant_id: tenantId, entity_type: 'result', id }).first('data')) as { data: string };
    const data = JSON.parse(rec.data) as { score?: number; scoreStatus: string };
    const li = JSON.parse(((await db.knex('records').where({ tenant_id: tenantId, entity_type: 'lineItem', id: (data as unknown as { lineItemId: string }).lineItemId }).first('data')) as { data: string }).data) as { resultValueMax: number };
    data.score = Math.floor((data.score ?? 0) + 1) % (Math.floor(li.resultValueMax) + 1);
    data.scoreStatus = 'fully graded';
    const t0 = performance.now();
    await db.knex('records').where({ tenant_id: tenantId, entity_type: 'result', id }).update({ data: JSON.stringify(data) });
    const out = await deriveChanged(deps, tenantId, new Map([['result', [id]]]), { cause: 'bench' });
    lat.push(performance.now() - t0);
    if (!out || out.evidence < 1) throw new Error(`result ${id} derived no evidence`);
  }
  console.log(`\nincremental: ${lat.length} single-result updates, result stored -> mastery updated: p50 ${pct(lat, 50).toFixed(1)} ms, p95 ${pct(lat, 95).toFixed(1)} ms, max ${Math.max(...lat).toFixed(1)} ms (goal p95 < 50 ms)`);
  await db.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
