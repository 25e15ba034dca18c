/**
 * PLP coverage: which learners have a current Personalized Learning Plan. The extract asks a small interface; the
 * default (`plpTablesPlanSource`) reads the PLP tables (src/derive/plp/, migration 006): a learner has a current
 * plan when their plan has at least one live entry (not deleted) written or updated inside the school year. Free
 * text (plan_text, category free_text) is the live entries' statements, never staff-only comments.
 * `changeLogPlanSource` answers the same question from the change log alone (every plan write is logged with
 * `entity_type = 'plp'`, `entity_id` = the learner id).
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

/** Text fields of a plan whose latest value is exported as plan_text (when free_text leaves). */
const TEXT_FIELDS = ['summary', 'goals', 'notes', 'text', 'aspirations', 'reflection'];

/**
 * Default: change_log rows of entity type `plp` for these learners with `at` inside [start, end] (dates, inclusive).
 * `q` is the snapshot transaction the extract reads through.
 */
export function changeLogPlanSource(q: Knex | Knex.Transaction, tenantId: string, window: { start: string; end: string }): PlanSource {
  const load = async (ids: readonly string[]) => {
    const out = new Map<string, PlanDetails>();
    if (!ids.length) return out;
    const rows = (await q('change_log').where({ tenant_id: tenantId, entity_type: 'plp' }).whereIn('entity_id', ids as string[])
      .where('at', '>=', window.start).where('at', '<', nextDay(window.end)).orderBy('seq', 'asc')
      .select('entity_id', 'at', 'op', 'diff')) as { entity_id: string; at: string; op: string; diff: string | null }[];
    for (const r of rows) {
      if (r.op === 'delete') {
        out.delete(r.entity_id);
        continue;
      }
      const prev = out.get(r.entity_id);
      const d: PlanDetails = { updatedAt: r.at, text: prev?.text };
      if (r.diff) {
        try {
          const diff = JSON.parse(r.diff) as Record<string, [unknown, unknown]>;
          const parts: string[] = [];
          for (const f of TEXT_FIELDS) {
            const v = diff[f]?.[1];
            if (typeof v === 'string' && v) parts.push(v);
            else if (Array.isArray(v)) parts.push(...v.filter((x): x is string => typeof x === 'string'));
          }
          if (parts.length) d.text = parts.join(' | ');
        } catch {
          // A diff that is not JSON says nothing about the text; the plan still exists.
        }
      }
      out.set(r.entity_id, d);
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
