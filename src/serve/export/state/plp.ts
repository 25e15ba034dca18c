/**
 * PLP coverage: which learners have a current Personalized Learning Plan. The extract asks a small interface; the
 * default (`plpTablesPlanSource`) reads the PLP tables (src/derive/plp/, migration 006): a learner has a current
 * plan when their plan has at least one live entry (not deleted) written or updated inside the school year. Free
 * text (plan_text, category free_text) is the live entries' statements, never staff-only comments.
 */
import type { Knex } from 'knex';

export interface PlanDetails {
  /** The latest plan change in the year. */
  updatedAt: string;
  /** Free text of the plan as last written (goals, summary, notes), if any: category free_text. */
  text?: string;
}

export interface PlanSource {
  /** The learners (of these) with a current plan. */
  hasCurrentPlan(learnerIds: readonly string[]): Promise<Set<string>>;
  /** Optional details per learner with a plan. */
  details?(learnerIds: readonly string[]): Promise<Map<string, PlanDetails>>;
}

/** Default: the PLP tables. `q` is the snapshot transaction the extract reads through. */
export function plpTablesPlanSource(q: Knex | Knex.Transaction, tenantId: string, window: { start: string; end: string }): PlanSource {
  const load = async (ids: readonly string[]) => {
    const out = new Map<string, PlanDetails>();
    for (let i = 0; i < ids.length; i += 500) {
      const rows = (await q('plp_items').where({ tenant_id: tenantId }).whereIn('learner_id', ids.slice(i, i + 500) as string[]).whereNull('deleted_at')
        .where('updated_at', '>=', window.start).where('updated_at', '<', nextDay(window.end)).orderBy(['learner_id', 'updated_at'])
        .select('learner_id', 'section', 'fields', 'visibility', 'updated_at')) as { learner_id: string; section: string; fields: string; visibility: string; updated_at: string }[];
      for (const r of rows) {
        const d = out.get(r.learner_id) ?? { updatedAt: r.updated_at };
        if (r.updated_at > d.updatedAt) d.updatedAt = r.updated_at;
        if (r.visibility === 'all' && r.section !== 'sel') {
          const f = JSON.parse(r.fields) as Record<string, unknown>;
          const t = [f.statement, f.title, f.text].find((v): v is string => typeof v === 'string' && v.length > 0);
          if (t) d.text = d.text ? `${d.text} | ${t}` : t;
        }
        out.set(r.learner_id, d);
      }
    }
    return out;
  };
  return {
    hasCurrentPlan: async (ids) => new Set((await load(ids)).keys()),
    details: load,
  };
}

function nextDay(date: string): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}
