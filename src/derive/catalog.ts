/**
 * The tenant's competencies as the derive stage sees them: every CASE item (unified competencyItem) with its
 * framework, subject, parent and mastery rules; a resolver from the many ways sources name a competency to the item;
 * and the crosswalk flow — which competencies a piece of evidence counts toward.
 *
 * Crosswalks. A CASE association "A <type> B" with a type in `competencies.crosswalkTypes` (default exactMatchOf and
 * isRelatedTo) makes evidence for B count toward A: districts publish their competencies as the origin and the state
 * standard as the destination ("our CV.M.6.1 is an exact match of the state's M.6.RP.1"), so a state test's result on
 * M.6.RP.1 is evidence for CV.M.6.1. It does not flow back (the district's quiz is not evidence for the state
 * standard), and it is followed transitively. A loop (A counts toward B counts toward A — including a reciprocal
 * exactMatchOf pair) would let evidence count toward itself: the catalog then carries the cycle and nothing is derived
 * (error `crosswalk_cycle` naming the codes in the loop) until it is broken. isChildOf and the other types never carry
 * evidence; isChildOf builds the tree used for subjects and roll-ups.
 *
 * The catalog is cached per tenant and rebuilt when a competency record or the configuration changes (one indexed
 * `max(updated_seq)` query per use).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';
import type { Db } from '../store/db';
import type { LoadedConfig, TenantConfig } from '../core/config';
import { HubError } from '../core/errors';
import { crosswalkGraph, type CrosswalkCycle } from '../../connectors/case/crosswalk';
import { mergeRules, type CompetencyConfig, type Rules } from './rules';

export interface ItemInfo {
  id: string;
  caseId: string;
  uri?: string;
  code?: string;
  statement: string;
  itemType?: string;
  frameworkId: string;
  subject: string | null;
  parentId?: string;
  rules: Rules;
}

export interface FrameworkInfo {
  id: string;
  caseId: string;
  uri?: string;
  title: string;
  subjects: string[];
}

export type Resolution = { id: string } | { error: 'unknown' | 'ambiguous'; message: string };

export interface Catalog {
  tenantId: string;
  version: string;
  items: Map<string, ItemInfo>;
  frameworks: Map<string, FrameworkInfo>;
  cycles: CrosswalkCycle[];
  crosswalkTypes: string[];
  /** Competencies evidence aligned to `id` counts toward, `id` first (empty for an unknown id). */
  targets(id: string): readonly string[];
  /** Competencies whose evidence counts toward `id`, `id` first. */
  contributors(id: string): readonly string[];
  resolve(ref: string, source?: string): Resolution;
  /** Throws crosswalk_cycle when the crosswalks loop. */
  assertNoCycle(): void;
  /** Children in the CASE tree (isChildOf). */
  children(id: string): readonly string[];
}

interface Row {
  entity_type: string;
  id: string;
  data: string;
}

const UUID_TAIL = /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/?$/i;

/** Rules for an item: defaults, then its framework's entry, then the framework + subject entry. */
function rulesFor(c: CompetencyConfig | undefined, fw: FrameworkInfo, subject: string | null): Rules {
  const matches = (f: { framework: string }) => f.framework === fw.id || f.framework.toLowerCase() === fw.caseId.toLowerCase() || (fw.uri !== undefined && f.framework === fw.uri);
  const list = c?.frameworks ?? [];
  const base = list.filter((f) => matches(f) && !f.subject);
  const sub = subject ? list.filter((f) => matches(f) && f.subject !== undefined && f.subject.toLowerCase() === subject.toLowerCase()) : [];
  return mergeRules([c?.defaults, ...base, ...sub]);
}

async function versionOf(q: Knex, tenantId: string): Promise<string> {
  const r = (await q('records').where('tenant_id', tenantId).whereIn('entity_type', ['competencyFramework', 'competencyItem', 'competencyAssociation'])
    .max({ m: 'updated_seq' }).count({ n: '*' }).first()) as { m: number | string | null; n: number | string };
  return `${r.m ?? 0}:${r.n}`;
}

const cache = new WeakMap<object, Map<string, Catalog>>();

export function tenantOf(config: LoadedConfig, tenantId: string): TenantConfig {
  const t = config.config.tenants.find((x) => x.id === tenantId);
  if (!t) throw new HubError('not_found', `No tenant '${tenantId}' is configured.`, [{ path: 'tenant', message: 'unknown' }]);
  return t;
}

/** `q`: the transaction to read in (SQLite has one connection: reading outside a running transaction would wait for it). */
export async function loadCatalog(db: Db, config: LoadedConfig, tenantId: string, q: Knex = db.knex): Promise<Catalog> {
  const version = await versionOf(q, tenantId);
  let byTenant = cache.get(config);
  if (!byTenant) cache.set(config, (byTenant = new Map()));
  const hit = byTenant.get(`${db.description}\u0000${tenantId}`);
  if (hit && hit.version === version) return hit;
  const cat = await buildCatalog(q, tenantOf(config, tenantId), version);
  byTenant.set(`${db.description}\u0000${tenantId}`, cat);
  return cat;
}

async function buildCatalog(q: Knex, tenant: TenantConfig, version: string): Promise<Catalog> {
  const rows = (await q('records').where('tenant_id', tenant.id).whereIn('entity_type', ['competencyFramework', 'competencyItem', 'competencyAssociation'])
    .whereNull('deleted_at').select('entity_type', 'id', 'data')) as Row[];
  const cfg = tenant.competencies;
  const frameworks = new Map<string, FrameworkInfo>();
  type RawItem = { id: string; caseId: string; uri?: string; humanCodingScheme?: string; fullStatement: string; itemType?: string; frameworkId: string };
  type RawAssoc = { caseId: string; associationType: string; originCaseId: string; destinationCaseId: string; frameworkId: string };
  const rawItems: RawItem[] = [];
  const assocs: RawAssoc[] = [];
  for (const r of rows) {
    const d = JSON.parse(r.data) as Record<string, unknown>;
    if (r.entity_type === 'competencyFramework') {
      frameworks.set(r.id, { id: r.id, caseId: String(d.caseId), uri: d.uri as string | undefined, title: String(d.title), subjects: (d.subjects as string[] | undefined) ?? [] });
    } else if (r.entity_type === 'competencyItem') rawItems.push({ ...(d as unknown as RawItem), id: r.id });
    else assocs.push(d as unknown as RawAssoc);
  }
  const byCase = new Map<string, RawItem>();
  for (const it of rawItems) byCase.set(it.caseId.toLowerCase(), it);
  // The tree: isChildOf origin (child) -> destination (parent item, or the document).
  const parentCase = new Map<string, string>();
  for (const a of assocs) if (a.associationType === 'isChildOf') parentCase.set(a.originCaseId.toLowerCase(), a.destinationCaseId.toLowerCase());
  const subjectOf = (it: RawItem): string | null => {
    const seen = new Set<string>();
    let cur: RawItem | undefined = it;
    while (cur && !seen.has(cur.caseId)) {
      seen.add(cur.caseId);
      if (cur.itemType && /subject/i.test(cur.itemType)) return cur.fullStatement;
      const p = parentCase.get(cur.caseId.toLowerCase());
      cur = p ? byCase.get(p) : undefined;
    }
    const fw = frameworks.get(it.frameworkId);
    return fw && fw.subjects.length === 1 ? fw.subjects[0] : null;
  };
  const items = new Map<string, ItemInfo>();
  const children = new Map<string, string[]>();
  const idOfCase = new Map<string, string>();
  for (const it of rawItems) idOfCase.set(it.caseId.toLowerCase(), it.id);
  const unknownFw: FrameworkInfo = { id: '', caseId: '', title: '', subjects: [] };
  for (const it of rawItems) {
    const subject = subjectOf(it);
    const fw = frameworks.get(it.frameworkId) ?? { ...unknownFw, id: it.frameworkId };
    const p = parentCase.get(it.caseId.toLowerCase());
    const parentId = p ? idOfCase.get(p) : undefined;
    items.set(it.id, {
      id: it.id, caseId: it.caseId, uri: it.uri, code: it.humanCodingScheme, statement: it.fullStatement, itemType: it.itemType,
      frameworkId: it.frameworkId, subject, parentId, rules: rulesFor(cfg, fw, subject),
    });
    if (parentId) (children.get(parentId) ?? children.set(parentId, []).get(parentId)!).push(it.id);
  }

  // Resolver indexes.
  const byUri = new Map<string, string>();
  const byCode = new Map<string, string[]>();
  for (const it of items.values()) {
    if (it.uri) byUri.set(it.uri, it.id);
    if (it.code) (byCode.get(it.code) ?? byCode.set(it.code, []).get(it.code)!).push(it.id);
  }
  const fwBySource = (source: string): FrameworkInfo | undefined => {
    const s = source.toLowerCase();
    for (const f of frameworks.values()) if (f.id === source || f.caseId.toLowerCase() === s || (f.uri && f.uri.toLowerCase() === s)) return f;
    return undefined;
  };
  const resolve = (ref: string, source?: string): Resolution => {
    if (items.has(ref)) return { id: ref };
    const c = idOfCase.get(ref.toLowerCase());
    if (c) return { id: c };
    const u = byUri.get(ref);
    if (u) return { id: u };
    const tail = UUID_TAIL.exec(ref);
    if (tail && /^https?:\/\//.test(ref)) {
      const t = idOfCase.get(tail[1].toLowerCase());
      if (t) return { id: t };
    }
    const coded = byCode.get(ref) ?? [];
    if (source) {
      const fw = fwBySource(source);
      if (fw) {
        const inFw = coded.filter((id) => items.get(id)!.frameworkId === fw.id);
        if (inFw.length === 1) return { id: inFw[0] };
        if (inFw.length > 1) return { error: 'ambiguous', message: `code '${ref}' names ${inFw.length} items of framework '${fw.title}'` };
        return { error: 'unknown', message: `framework '${fw.title}' has no item '${ref}'` };
      }
    }
    if (coded.length === 1) return { id: coded[0] };
    if (coded.length > 1) return { error: 'ambiguous', message: `code '${ref}' names items in ${coded.length} frameworks; give the framework as the alignment's source` };
    return { error: 'unknown', message: `no competency '${ref}'${source ? ` (source '${source}')` : ''} in the tenant's frameworks` };
  };

  // Crosswalk flow: "A <type> B" => evidence for B counts toward A. crosswalkGraph's edges run origin -> destination;
  // a cycle is a cycle in either direction.
  const crosswalkTypes = cfg?.crosswalkTypes ?? ['exactMatchOf', 'isRelatedTo'];
  const graph = crosswalkGraph(assocs.map((a) => ({ ...a })), { types: crosswalkTypes });
  const toward = new Map<string, Set<string>>(); // destination item id -> origin item ids
  for (const e of graph.edges) {
    const from = idOfCase.get(e.to.toLowerCase());
    const to = idOfCase.get(e.from.toLowerCase());
    if (!from || !to || from === to) continue;
    (toward.get(from) ?? toward.set(from, new Set()).get(from)!).add(to);
  }
  const targetsMemo = new Map<string, string[]>();
  const targets = (id: string): readonly string[] => {
    if (!items.has(id)) return [];
    let t = targetsMemo.get(id);
    if (t) return t;
    const out = [id];
    const seen = new Set(out);
    for (let i = 0; i < out.length; i++) for (const n of toward.get(out[i]) ?? []) if (!seen.has(n)) { seen.add(n); out.push(n); }
    targetsMemo.set(id, (t = out));
    return t;
  };
  const contributorsMap = new Map<string, string[]>();
  for (const id of items.keys()) for (const t of targets(id)) if (t !== id) (contributorsMap.get(t) ?? contributorsMap.set(t, []).get(t)!).push(id);
  const contributors = (id: string): readonly string[] => [id, ...(contributorsMap.get(id) ?? [])];

  const codeOf = (caseId: string) => {
    const id = idOfCase.get(caseId.toLowerCase());
    const it = id ? items.get(id) : undefined;
    return it?.code ?? caseId;
  };
  return {
    tenantId: tenant.id, version, items, frameworks, cycles: graph.cycles, crosswalkTypes, targets, contributors, resolve,
    children: (id) => children.get(id) ?? [],
    assertNoCycle() {
      if (!graph.cycles.length) return;
      const c = graph.cycles[0];
      const loop = c.path.map(codeOf).join(' -> ');
      throw new HubError('crosswalk_cycle', `Competency crosswalks loop: ${loop}${graph.cycles.length > 1 ? ` (and ${graph.cycles.length - 1} more loop(s))` : ''}; evidence would count toward itself. Remove one of these associations or drop its type from competencies.crosswalkTypes; nothing was derived.`,
        graph.cycles.map((cy) => ({
          path: cy.path.map(codeOf).join(' -> '), message: `associations: ${cy.edges.map((e) => `${codeOf(e.from)} ${e.type} ${codeOf(e.to)}${e.associationId ? ` (${e.associationId})` : ''}`).join('; ')}`,
        })));
    },
  };
}

/** Configured alignment files (`{"lineItems": {"<source id>": [refs]}}`), read once per file version. */
const fileCache = new Map<string, { mtimeMs: number; lineItems: Record<string, string[]> }>();

export function readAlignmentFile(config: LoadedConfig, file: string, at: string): Record<string, string[]> {
  const abs = path.resolve(config.baseDir, file);
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch {
    throw new HubError('config_invalid', `${at}.file: ${abs} cannot be read`, [{ path: `${at}.file`, message: 'not readable' }]);
  }
  const hit = fileCache.get(abs);
  if (hit && hit.mtimeMs === st.mtimeMs) return hit.lineItems;
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(abs, 'utf8'));
  } catch (e) {
    throw new HubError('config_invalid', `${at}.file: ${abs} is not JSON (${(e as Error).message})`, [{ path: `${at}.file`, message: 'not JSON' }]);
  }
  const li = (json as { lineItems?: unknown }).lineItems;
  if (!li || typeof li !== 'object' || Array.isArray(li) || !Object.values(li).every((v) => Array.isArray(v) && v.every((x) => typeof x === 'string'))) {
    throw new HubError('config_invalid', `${at}.file: ${abs} must hold {"lineItems": {"<source id>": ["<competency>", ...]}}`, [{ path: `${at}.file`, message: 'unexpected shape' }]);
  }
  fileCache.set(abs, { mtimeMs: st.mtimeMs, lineItems: li as Record<string, string[]> });
  return li as Record<string, string[]>;
}
