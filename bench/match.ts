/**
 * npm run bench:match -- --students 20000 [--seed 42]
 *
 * Identity resolution quality and speed on the generated district: the SIS (OneRoster 1.2) is loaded first, then the
 * LMS export (OneRoster 1.1) that knows the same people under other ids, with typos, nicknames, swapped names,
 * missing identifiers, twins and namesakes. Against the generator's ground truth it prints precision and recall of
 * the automatic links, the share sent to review, and throughput (source persons matched per second).
 * Goals: precision >= 0.999, recall >= 0.97 automatic, review <= 3%, 100k source persons in under a minute.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { validateConfig } from '../src/core/config';
import { openDb, migrate } from '../src/store/db';
import { ensureTenants } from '../src/store/tenants';
import { runSync } from '../src/ingest/runner';
import { generateDistrict } from '../src/generator/district';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};

export async function measureMatching(district: string, dbFile: string) {
  const config = validateConfig({
    tenants: [{ id: 'bench', name: 'Bench', identity: { precedence: { default: ['sis', 'lms'] } }, connectors: [
      { id: 'sis', type: 'oneroster-csv', settings: { path: path.join(district, 'sis/bulk') } },
      { id: 'lms', type: 'oneroster-csv', settings: { path: path.join(district, 'lms/bulk') } },
    ] }],
  });
  const db = await openDb({ url: dbFile });
  await migrate(db);
  await ensureTenants(db, config.config);
  const deps = { db, config };
  const sis = await runSync(deps, { tenantId: 'bench', connectorId: 'sis' });
  const lms = await runSync(deps, { tenantId: 'bench', connectorId: 'lms' });
  const truth = JSON.parse(fs.readFileSync(path.join(district, 'ground-truth.json'), 'utf8')) as { persons: { lms: string; sis: string }[] };
  const rows = (await db.knex('source_records').where({ tenant_id: 'bench', entity_type: 'person' }).select('connector_id', 'source_id', 'unified_id', 'match_state', 'match_rule')) as { connector_id: string; source_id: string; unified_id: string; match_state: string; match_rule: string }[];
  const sisId = new Map(rows.filter((r) => r.connector_id === 'sis').map((r) => [r.source_id, r.unified_id]));
  const lmsRows = new Map(rows.filter((r) => r.connector_id === 'lms').map((r) => [r.source_id, r]));
  const expected = new Map(truth.persons.map((p) => [p.lms, p.sis]));
  let tp = 0, fp = 0, review = 0, missed = 0;
  const wrong: string[] = [];
  const misses: string[] = [];
  for (const [lmsId, r] of lmsRows) {
    const want = expected.get(lmsId);
    const linkedToSis = r.match_state === 'linked';
    if (r.match_state === 'review') review++;
    if (linkedToSis) {
      if (want && sisId.get(want) === r.unified_id) tp++;
      else {
        fp++;
        if (wrong.length < 10) wrong.push(`${lmsId} -> ${r.unified_id} (${r.match_rule}); truth ${want}`);
      }
    } else if (want && r.match_state !== 'review') {
      missed++;
      if (misses.length < 10) misses.push(`${lmsId} (${r.match_state} ${r.match_rule}) truth ${want}`);
    }
  }
  await db.close();
  const total = lmsRows.size;
  return { sis, lms, total, tp, fp, review, missed, wrong, misses, precision: tp + fp ? tp / (tp + fp) : 1, recall: truth.persons.length ? tp / truth.persons.length : 1, reviewShare: total ? review / total : 0 };
}

async function main() {
  const students = Number(opt('students', '20000'));
  const seed = Number(opt('seed', '42'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-match-'));
  await generateDistrict({ seed, students, outDir: path.join(dir, 'district') });
  const t0 = Date.now();
  const r = await measureMatching(path.join(dir, 'district'), path.join(dir, 'hub.sqlite'));
  const m = r.lms.matching!;
  console.log(`district: ${students} students (seed ${seed}); SIS persons ${r.sis.counts.inserted ? '' : ''}loaded in ${(r.sis.durationMs / 1000).toFixed(1)}s; LMS source persons: ${r.total}`);
  console.log(`LMS run: ${(r.lms.durationMs / 1000).toFixed(1)}s total; resolution: considered ${m.considered}, linked ${m.linked + (r.total - m.considered)} (exact at ingest ${r.total - m.considered}, scored ${m.linked}), review ${m.review}, new ${m.created}, conflicts ${m.conflicts}`);
  console.log(`precision ${r.precision.toFixed(4)} (goal >= 0.999)  recall ${r.recall.toFixed(4)} (goal >= 0.97)  review share ${(r.reviewShare * 100).toFixed(2)}% (goal <= 3%)`);
  console.log(`throughput: ${Math.round(r.total / (r.lms.durationMs / 1000))} LMS source persons/s through the whole LMS sync (incl. its classes and enrollments); scored matching + linking (right after the person streams): ${m.considered} persons in ${((m.durationMs ?? 0) / 1000).toFixed(1)}s (${Math.round(m.considered / ((m.durationMs ?? 1) / 1000))}/s); wall ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  if (r.wrong.length) console.log(`wrong links:\n  ${r.wrong.join('\n  ')}`);
  if (r.misses.length) console.log(`missed (first 10):\n  ${r.misses.join('\n  ')}`);
  fs.rmSync(dir, { recursive: true, force: true });
}

if (require.main === module) main().catch((e) => {
  console.error(e);
  process.exit(1);
});
