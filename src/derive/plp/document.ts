/**
 * The plan as one document (what `GET .../plp`, the JSON export and the print view show), assembled per reader:
 * staff-only comments are left out for students and guardians. Protected program flags are never read here, for
 * anyone: the document is built only from plan entries, imported interventions, competencies, names and the progress
 * summary (src/derive/plp/progress.ts).
 */
import type { Db } from '../../store/db';
import { whereJsonField } from '../../serve/sql';
import { SEL_COMPETENCIES, visibleTo, type Actor, type Section } from './model';
import { loadItems, planVersion, type PlanItem } from './store';
import { progressSummary, type ProgressSummary } from './progress';

export const NOT_AN_IEP =
  'This Personalized Learning Plan is not an Individualized Education Program (IEP), a Section 504 plan or any other legal plan. ' +
  'It does not contain special-education, Section 504 or English-learner information; ask the school for those.';

export interface Author {
  id: string;
  kind: 'person' | 'apiKey';
  role: string;
  name: string | null;
}

export interface Entry {
  id: string;
  version: number;
  [field: string]: unknown;
  author: Author;
  createdAt: string;
  updatedBy: Author;
  updatedAt: string;
}

export interface ImportedSupport {
  id: string;
  title: string;
  category: string | null;
  description: string | null;
  provider: string | null;
  startDate: string;
  endDate: string | null;
  frequency: string | null;
  status: string | null;
  outcome: string | null;
  readOnly: true;
  provenance: { connector: string; sourceId: string; lastSeenAt: string }[];
}

export interface PlanDocument {
  learner: { id: string; givenName: string | null; familyName: string | null; preferredGivenName: string | null; grades: string[] };
  version: number;
  updatedAt: string | null;
  generatedAt: string;
  viewerRole: Actor['role'];
  notice: string;
  strengths: Entry[];
  challenges: Entry[];
  interests: Entry[];
  learningPreferences: Entry[];
  accessibility: Entry[];
  socialEmotional: { competencies: { competency: string; latest: Entry | null }[]; entries: Entry[] };
  goals: Entry[];
  supports: { entered: Entry[]; imported: ImportedSupport[] };
  comments: Entry[];
  progress: ProgressSummary;
}

const SECTION_KEYS: Record<Section, keyof PlanDocument> = {
  goal: 'goals', support: 'supports', comment: 'comments', strength: 'strengths', challenge: 'challenges', interest: 'interests',
  learningPreference: 'learningPreferences', accessibility: 'accessibility', sel: 'socialEmotional',
};
export { SECTION_KEYS };

async function names(db: Db, tenantId: string, by: readonly string[]): Promise<Map<string, string>> {
  const ids = [...new Set(by.filter((b) => b.startsWith('person:')).map((b) => b.slice(7)))];
  const out = new Map<string, string>();
  if (!ids.length) return out;
  const rows = (await db.knex('records').where({ tenant_id: tenantId, entity_type: 'person' }).whereIn('id', ids).select('id', 'data')) as { id: string; data: string }[];
  for (const r of rows) {
    const p = JSON.parse(r.data) as { givenName?: string; familyName?: string; preferredGivenName?: string };
    out.set(`person:${r.id}`, `${p.preferredGivenName ?? p.givenName ?? ''} ${p.familyName ?? ''}`.trim());
  }
  return out;
}

function author(by: string, role: string, nameOf: Map<string, string>): Author {
  if (by.startsWith('key:')) return { id: by, kind: 'apiKey', role, name: by.slice(4) };
  return { id: by.startsWith('person:') ? by.slice(7) : by, kind: 'person', role, name: nameOf.get(by) ?? null };
}

export function toEntry(i: PlanItem, nameOf: Map<string, string>): Entry {
  return {
    id: i.id, version: i.version, ...i.fields,
    author: author(i.createdBy, i.createdRole, nameOf), createdAt: i.createdAt,
    updatedBy: author(i.updatedBy, i.updatedRole, nameOf), updatedAt: i.updatedAt,
  };
}

/** One entry as the API returns it after a write (with its author's name). */
export async function entryFor(db: Db, tenantId: string, item: PlanItem): Promise<Entry> {
  return toEntry(item, await names(db, tenantId, [item.createdBy, item.updatedBy]));
}

async function importedSupports(db: Db, tenantId: string, learnerId: string): Promise<ImportedSupport[]> {
  const q = db.knex('records').where({ tenant_id: tenantId, entity_type: 'intervention' }).whereNull('deleted_at').select('id', 'data');
  whereJsonField(db, q, 'personId', learnerId);
  const rows = (await q) as { id: string; data: string }[];
  if (!rows.length) return [];
  const sources = (await db.knex('source_records').where({ tenant_id: tenantId, entity_type: 'intervention' }).whereIn('unified_id', rows.map((r) => r.id)).whereNull('deleted_at')
    .select('unified_id', 'connector_id', 'source_id', 'last_seen_at')) as { unified_id: string; connector_id: string; source_id: string; last_seen_at: string }[];
  const prov = new Map<string, ImportedSupport['provenance']>();
  for (const s of sources) (prov.get(s.unified_id) ?? prov.set(s.unified_id, []).get(s.unified_id)!).push({ connector: s.connector_id, sourceId: s.source_id, lastSeenAt: s.last_seen_at });
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  return rows.map((r) => {
    const d = JSON.parse(r.data) as Record<string, unknown>;
    return {
      id: r.id, title: String(d.title), category: str(d.category), description: str(d.description), provider: str(d.provider), startDate: String(d.startDate),
      endDate: str(d.endDate), frequency: str(d.frequency), status: str(d.status), outcome: str(d.outcome), readOnly: true as const, provenance: prov.get(r.id) ?? [],
    };
  }).sort((a, b) => b.startDate.localeCompare(a.startDate) || a.id.localeCompare(b.id));
}

/** The goals' competencies, for display: code and statement of each aligned competency item. */
async function competencyLabels(db: Db, tenantId: string, ids: readonly string[]): Promise<Map<string, { id: string; code: string | null; statement: string }>> {
  const out = new Map<string, { id: string; code: string | null; statement: string }>();
  for (let i = 0; i < ids.length; i += 500) {
    const rows = (await db.knex('records').where({ tenant_id: tenantId, entity_type: 'competencyItem' }).whereIn('id', ids.slice(i, i + 500)).select('id', 'data')) as { id: string; data: string }[];
    for (const r of rows) {
      const d = JSON.parse(r.data) as { humanCodingScheme?: string; abbreviatedStatement?: string; fullStatement?: string };
      out.set(r.id, { id: r.id, code: d.humanCodingScheme ?? null, statement: d.abbreviatedStatement ?? d.fullStatement ?? '' });
    }
  }
  return out;
}

export async function buildPlan(db: Db, tenantId: string, learnerId: string, actor: Actor, now: Date = new Date()): Promise<PlanDocument> {
  const personRow = (await db.knex('records').where({ tenant_id: tenantId, entity_type: 'person', id: learnerId }).first('data')) as { data: string } | undefined;
  const person = personRow ? (JSON.parse(personRow.data) as Record<string, unknown>) : {};
  const items = (await loadItems(db, tenantId, learnerId)).filter((i) => visibleTo(actor, i.visibility));
  const nameOf = await names(db, tenantId, items.flatMap((i) => [i.createdBy, i.updatedBy]));
  const comps = await competencyLabels(db, tenantId, [...new Set(items.filter((i) => i.section === 'goal').flatMap((i) => (i.fields.competencyIds as string[] | undefined) ?? []))]);
  const of = (s: Section) => items.filter((i) => i.section === s).map((i) => toEntry(i, nameOf));
  const goals = of('goal').map((g) => ({ ...g, competencies: ((g.competencyIds as string[] | undefined) ?? []).map((id) => comps.get(id) ?? { id, code: null, statement: '(competency no longer available)' }) }));
  const sel = of('sel').sort((a, b) => String(a.observedOn).localeCompare(String(b.observedOn)) || a.createdAt.localeCompare(b.createdAt));
  const { version, updatedAt } = await planVersion(db, tenantId, learnerId);
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  return {
    learner: {
      id: learnerId, givenName: str(person.givenName), familyName: str(person.familyName), preferredGivenName: str(person.preferredGivenName),
      grades: Array.isArray(person.grades) ? (person.grades as string[]) : [],
    },
    version, updatedAt, generatedAt: now.toISOString(), viewerRole: actor.role, notice: NOT_AN_IEP,
    strengths: of('strength'), challenges: of('challenge'), interests: of('interest'), learningPreferences: of('learningPreference'), accessibility: of('accessibility'),
    socialEmotional: {
      competencies: SEL_COMPETENCIES.map((c) => ({ competency: c, latest: [...sel].reverse().find((e) => e.competency === c && e.rating !== undefined) ?? null })),
      entries: sel,
    },
    goals,
    supports: { entered: of('support'), imported: await importedSupports(db, tenantId, learnerId) },
    comments: of('comment').reverse(),
    progress: await progressSummary(db, tenantId, learnerId, now),
  };
}
