/**
 * The merged view of an entity several sources describe (today: persons). Each field takes the value of the
 * strongest source by the tenant's precedence (per field, else default; sources not listed come after, most recently
 * seen first); identifiers are the union of every source's. Provenance says, per field, which source won, when it
 * was seen, by which rule, and what the other sources said when they disagree — conflicts are shown, not hidden.
 */
import { canonicalJson, sameValue } from './canonical';

export interface SourceView {
  connectorId: string;
  sourceId: string;
  seenAt: string;
  data: Record<string, unknown>;
}

export interface Precedence {
  default?: string[];
  fields?: Record<string, string[]>;
}

export interface FieldProvenance {
  connector: string;
  sourceId: string;
  seenAt: string;
  rule: string;
  conflicts?: { connector: string; sourceId: string; value: unknown }[];
}

export type Provenance = Record<string, FieldProvenance | FieldProvenance[]>;

/** Fields whose values are unioned across sources instead of chosen. */
const UNION_FIELDS = new Set(['identifiers']);

function order(sources: SourceView[], list: string[] | undefined): SourceView[] {
  const rank = (s: SourceView) => {
    const i = list?.indexOf(s.connectorId) ?? -1;
    return i < 0 ? Number.MAX_SAFE_INTEGER : i;
  };
  return [...sources].sort((a, b) => rank(a) - rank(b) || (a.seenAt < b.seenAt ? 1 : a.seenAt > b.seenAt ? -1 : 0) || (a.connectorId < b.connectorId ? -1 : 1));
}

export function mergeSources(id: string, sources: SourceView[], precedence: Precedence = {}): { data: Record<string, unknown>; provenance: Provenance } {
  const data: Record<string, unknown> = {};
  const provenance: Provenance = {};
  if (sources.length === 0) return { data: { id }, provenance };
  if (sources.length === 1) return mergeOne(id, sources[0]);
  const fields = new Set<string>();
  for (const s of sources) for (const k of Object.keys(s.data)) if (k !== 'id') fields.add(k);
  // Sources ranked once per precedence list (most fields share the default one), not once per field.
  const orders = new Map<string[] | undefined, SourceView[]>();
  for (const field of [...fields].sort()) {
    const list = precedence.fields?.[field] ?? precedence.default;
    let byRank = orders.get(list);
    if (!byRank) orders.set(list, (byRank = order(sources, list)));
    const ranked = byRank.filter((s) => s.data[field] !== undefined);
    if (!ranked.length) continue;
    if (UNION_FIELDS.has(field)) {
      const seen = new Map<string, unknown>();
      const from: FieldProvenance[] = [];
      for (const s of ranked) {
        for (const v of s.data[field] as unknown[]) {
          const key = unionKey(v);
          if (!seen.has(key)) seen.set(key, v);
        }
        from.push({ connector: s.connectorId, sourceId: s.sourceId, seenAt: s.seenAt, rule: 'union' });
      }
      data[field] = [...seen.values()];
      provenance[field] = from;
      continue;
    }
    const winner = ranked[0];
    const wv = winner.data[field];
    data[field] = wv;
    const rule = ranked.length === 1 ? 'only source' : list?.includes(winner.connectorId) ? precedenceRule(list) : 'most recently seen';
    const p: FieldProvenance = { connector: winner.connectorId, sourceId: winner.sourceId, seenAt: winner.seenAt, rule };
    let conflicts: FieldProvenance['conflicts'];
    for (let i = 1; i < ranked.length; i++) {
      const s = ranked[i];
      const v = s.data[field];
      if (!sameValue(v, wv)) (conflicts ??= []).push({ connector: s.connectorId, sourceId: s.sourceId, value: v });
    }
    if (conflicts) p.conflicts = conflicts;
    provenance[field] = p;
  }
  data.id = id;
  return { data, provenance };
}

/** `precedence: a > b > c`, written once per precedence list (it is every field's rule for every merged person). */
const precedenceRules = new WeakMap<string[], string>();
function precedenceRule(list: string[]): string {
  let r = precedenceRules.get(list);
  if (r === undefined) precedenceRules.set(list, (r = `precedence: ${list.join(' > ')}`));
  return r;
}

/**
 * The identity of a value in a union field: an identifier `{system, value}` (nearly every case) by its two strings,
 * anything else by canonical JSON. The two forms cannot collide: only the first starts with a NUL character (JSON
 * escapes it).
 */
function unionKey(v: unknown): string {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    if (typeof o.system === 'string' && typeof o.value === 'string') {
      let n = 0;
      for (const k in o) if (o[k] !== undefined) n++;
      // The system's length first: no two (system, value) pairs share a key, whatever characters they hold.
      if (n === 2) return `\u0000${o.system.length}:${o.system}${o.value}`;
    }
  }
  return canonicalJson(v);
}

/**
 * The common case (every new person of a bulk load): one source, so every field is its value by 'only source' and
 * identifiers are its own, de-duplicated. Same result as the general path, without ranking or conflict checks.
 */
function mergeOne(id: string, s: SourceView): { data: Record<string, unknown>; provenance: Provenance } {
  const data: Record<string, unknown> = {};
  const provenance: Provenance = {};
  for (const field of Object.keys(s.data).sort()) {
    const v = s.data[field];
    if (field === 'id' || v === undefined) continue;
    if (UNION_FIELDS.has(field)) {
      const seen = new Map<string, unknown>();
      for (const x of v as unknown[]) {
        const key = unionKey(x);
        if (!seen.has(key)) seen.set(key, x);
      }
      data[field] = [...seen.values()];
      provenance[field] = [{ connector: s.connectorId, sourceId: s.sourceId, seenAt: s.seenAt, rule: 'union' }];
      continue;
    }
    data[field] = v;
    provenance[field] = { connector: s.connectorId, sourceId: s.sourceId, seenAt: s.seenAt, rule: 'only source' };
  }
  data.id = id;
  return { data, provenance };
}
