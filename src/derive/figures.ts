/**
 * Mastery figures for a tenant (what `hub mastery` prints): evidence by source, problems by code, mastery by
 * framework / subject and status, credits by status.
 */
import type { Db } from '../store/db';
import type { LoadedConfig } from '../core/config';
import { loadCatalog } from './catalog';

export interface MasteryFigures {
  evidence: Record<string, number>;
  problems: Record<string, number>;
  mastery: { framework: string; subject: string | null; not_started: number; in_progress: number; mastered: number; meanLevel: number | null }[];
  learners: number;
  credits: Record<string, number>;
  crosswalkCycles: number;
}

export async function masteryFigures(db: Db, config: LoadedConfig, tenantId: string): Promise<MasteryFigures> {
  const k = db.knex;
  const count = (rows: Record<string, unknown>[], key: string) => Object.fromEntries(rows.map((r) => [String(r[key]), Number(r.n)]));
  const cat = await loadCatalog(db, config, tenantId);
  const evidence = count(await k('evidence').where({ tenant_id: tenantId }).select('source_kind').count({ n: '*' }).groupBy('source_kind'), 'source_kind');
  const problems = count(await k('evidence_problems').where({ tenant_id: tenantId }).select('code').count({ n: '*' }).groupBy('code'), 'code');
  const credits = count(await k('credits').where({ tenant_id: tenantId }).select('status').count({ n: '*' }).groupBy('status'), 'status');
  const rows = (await k('mastery').where({ tenant_id: tenantId }).select('framework_id', 'subject', 'status').count({ n: '*' }).avg({ a: 'level' }).groupBy('framework_id', 'subject', 'status')) as
    { framework_id: string; subject: string | null; status: string; n: number | string; a: number | string | null }[];
  const by = new Map<string, MasteryFigures['mastery'][number] & { sum: number; cnt: number }>();
  for (const r of rows) {
    const key = `${r.framework_id}\u0000${r.subject ?? ''}`;
    let f = by.get(key);
    if (!f) by.set(key, (f = { framework: cat.frameworks.get(r.framework_id)?.title ?? r.framework_id, subject: r.subject, not_started: 0, in_progress: 0, mastered: 0, meanLevel: null, sum: 0, cnt: 0 }));
    const n = Number(r.n);
    f[r.status as 'not_started' | 'in_progress' | 'mastered'] = n;
    if (r.a !== null) {
      f.sum += Number(r.a) * n;
      f.cnt += n;
    }
  }
  const mastery = [...by.values()].map(({ sum, cnt, ...f }) => ({ ...f, meanLevel: cnt ? Math.round((sum / cnt) * 100) / 100 : null }))
    .sort((a, b) => (a.framework + (a.subject ?? '') < b.framework + (b.subject ?? '') ? -1 : 1));
  const learners = Number(((await k('mastery').where({ tenant_id: tenantId }).countDistinct({ n: 'learner_id' })) as { n: number | string }[])[0].n);
  return { evidence, problems, mastery, learners, credits, crosswalkCycles: cat.cycles.length };
}

export function formatFigures(f: MasteryFigures): string[] {
  const out: string[] = [];
  const kv = (o: Record<string, number>) => Object.entries(o).map(([a, b]) => `${a} ${b.toLocaleString('en-US')}`).join(', ') || 'none';
  out.push(`evidence: ${kv(f.evidence)}`);
  out.push(`problems: ${kv(f.problems)}${f.crosswalkCycles ? `  (crosswalk loops: ${f.crosswalkCycles})` : ''}`);
  out.push(`mastery: ${f.learners.toLocaleString('en-US')} learners`);
  for (const m of f.mastery) {
    out.push(`  ${m.framework.slice(0, 60).padEnd(60)} ${(m.subject ?? '-').padEnd(22)} mastered ${String(m.mastered).padStart(6)}  in progress ${String(m.in_progress).padStart(6)}  not started ${String(m.not_started).padStart(5)}  mean level ${m.meanLevel ?? '-'}`);
  }
  out.push(`credits: ${kv(f.credits)}`);
  return out;
}
