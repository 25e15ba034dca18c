/**
 * Normalize one page: validate each record against its unified schema, translate source references into unified
 * ids, decide insert / update / unchanged / delete by content hash, and write records, landing rows, change-log
 * entries (with field diffs) — all inside the caller's transaction. The decision logic is dialect-free; ports.ts
 * does the writing.
 */
import type { EntityType, Reject, SourceRecord } from '../ingest/contract';
import { ajvDetails, entityValidator, refFields } from '../core/schemas';
import { ENTITY_TYPES } from '../types/unified.generated';
import { diffRecords, hashOf, newUnifiedId } from './canonical';
import type { ChangeRow, IngestTx, RecordRow, SourceRow } from './ports';
import { mergeSources } from './merge';
import { decideStrongLink, personsWithSourceFrom, recomputePersons, strongClaims, strongSystems, writePersonIdentifiersBatch, type Identifier, type IdentitySettings } from './persons';

export interface PageCounts {
  read: number;
  inserted: number;
  updated: number;
  unchanged: number;
  deleted: number;
  rejected: number;
}

export const zeroCounts = (): PageCounts => ({ read: 0, inserted: 0, updated: 0, unchanged: 0, deleted: 0, rejected: 0 });

export function addCounts(a: PageCounts, b: PageCounts): PageCounts {
  return {
    read: a.read + b.read,
    inserted: a.inserted + b.inserted,
    updated: a.updated + b.updated,
    unchanged: a.unchanged + b.unchanged,
    deleted: a.deleted + b.deleted,
    rejected: a.rejected + b.rejected,
  };
}

export interface WriteContext {
  tenantId: string;
  connectorId: string;
  runId: string;
  at: string;
  dryRun: boolean;
  /**
   * Dry runs write nothing, so records they would create are remembered here (type -> sourceId -> unified id) for
   * later pages' references and duplicate checks; `seen` holds what a dry run saw, for its sweep estimate.
   */
  overlay?: { created: Map<string, Map<string, string>>; seen: Map<string, Set<string>> };
  /**
   * Run-level cache of resolved references (type -> source id -> unified id). Only filled after a page commits
   * (see rememberRefs), so a rolled-back page never leaves ids that do not exist. Bounded by the runner.
   */
  refCache?: Map<string, Map<string, string>>;
  /** Entity types of the stream this page belongs to: rejected rows count as seen for these. */
  streamEntities?: EntityType[];
  /** The tenant's identity settings: strong identifiers link persons at ingest; precedence builds merged views. */
  identity?: IdentitySettings;
  /** false when no other connector has persons yet: nothing to link to, no lookups (set once per run). */
  otherPersonSources?: boolean;
}

export interface PageResult {
  counts: PageCounts;
  rejects: (Reject & { code: NonNullable<Reject['code']> })[];
  /** References resolved or created by this page, for the run-level cache once the page has committed. */
  resolved: Map<EntityType, Map<string, string>>;
  /** Source records this page deleted (to drop from that cache). */
  deletedSources: { type: string; sourceIds: string[] }[];
  /** Unified records this page created, updated, restored or deleted (persons excepted), by type: what derive hooks read. */
  changed?: Map<string, string[]>;
}

type StoredReject = PageResult['rejects'][number];

function reject(rec: SourceRecord, code: StoredReject['code'], reason: string, field?: string): StoredReject {
  return { location: rec.location ?? `${rec.type}:${rec.sourceId}`, field, reason, code, raw: rec.raw ?? (rec.rawJson === undefined ? undefined : JSON.parse(rec.rawJson)), sourceId: rec.sourceId };
}

/**
 * Writes a page. Records of several types may be mixed; within a type they are handled in page order, so a record
 * may refer to one earlier in the same page.
 */
export async function writePage(tx: IngestTx, ctx: WriteContext, records: SourceRecord[], connectorRejects: Reject[] = []): Promise<PageResult> {
  const counts = zeroCounts();
  counts.read = records.length + connectorRejects.length;
  const rejects: StoredReject[] = connectorRejects.map((r) => ({ ...r, code: r.code ?? 'row_malformed' }));
  counts.rejected = rejects.length;

  // 1. What is already stored, for every record and every reference in the page (one lookup per key).
  const byType = new Map<EntityType, SourceRecord[]>();
  for (const r of records) {
    let list = byType.get(r.type);
    if (!list) byType.set(r.type, (list = []));
    list.push(r);
  }
  const existing = new Map<EntityType, Awaited<ReturnType<IngestTx['findSources']>>>();
  const refIds = new Map<EntityType, Set<string>>();
  for (const [type, list] of byType) {
    existing.set(type, await tx.findSources(ctx.tenantId, ctx.connectorId, type, list.map((r) => r.sourceId)));
    for (const rf of refFields(type)) {
      let set = refIds.get(rf.target);
      if (!set) refIds.set(rf.target, (set = new Set()));
      for (const r of list) {
        const v = r.data[rf.field];
        if (typeof v === 'string') set.add(v);
        else if (Array.isArray(v)) for (const x of v) if (typeof x === 'string') set.add(x);
      }
    }
  }
  const resolved = new Map<EntityType, Map<string, string>>();
  for (const [type, ids] of refIds) {
    // Referenced records (schools, classes, people) recur across pages: a run-level cache saves most lookups.
    const cache = ctx.refCache?.get(type);
    const found = new Map<string, string>();
    const missing: string[] = [];
    for (const id of ids) {
      const hit = cache?.get(id);
      if (hit) found.set(id, hit);
      else missing.push(id);
    }
    if (missing.length) for (const [k, v] of await tx.resolveRefs(ctx.tenantId, ctx.connectorId, type, missing)) found.set(k, v);
    resolved.set(type, found);
  }

  // Rejected rows whose record is stored still count as seen: a bad row must not make a full refresh delete it.
  const touchedByReject = new Map<string, string[]>();
  const markSeen = (type: string, sourceId: string) => {
    let l = touchedByReject.get(type);
    if (!l) touchedByReject.set(type, (l = []));
    l.push(sourceId);
  };
  const rejectTypes = ctx.streamEntities ?? [...byType.keys()];
  for (const r of connectorRejects) {
    if (!r.sourceId) continue;
    for (const type of rejectTypes) markSeen(type, r.sourceId);
  }

  const sourceRows: SourceRow[] = [];
  const recordRows: RecordRow[] = [];
  const changes: Omit<ChangeRow, 'seq'>[] = [];
  const touch = new Map<string, string[]>();
  const pendingUpdates: { row: RecordRow; change: Omit<ChangeRow, 'seq'>; data: Record<string, unknown> }[] = [];
  const seenInPage = new Set<string>();
  const deletions: { type: string; id: string }[] = [];
  const deletedSources: { type: string; sourceIds: string[] }[] = [];
  const personsTouched = new Set<string>();
  /** The mapped fields of this page's source persons whose merged person is rebuilt below (no re-parse of their JSON). */
  const freshPersons = new Map<string, Record<string, unknown>>();
  const identifierWrites: { sourceId: string; personId: string; identifiers: Identifier[]; isNew: boolean }[] = [];
  // New source persons: which existing persons claim their strong identifiers (one query for the page).
  let personLinks: { strong: Set<string>; claims: Map<string, Set<string>>; taken: Set<string> } | undefined;
  const newPersons = (byType.get('person') ?? []).filter((r) => !r.deleted && !existing.get('person')!.has(r.sourceId));
  if (newPersons.length && ctx.otherPersonSources !== false && ctx.identity?.connectors?.[ctx.connectorId]?.match !== false) {
    const strong = strongSystems(ctx.identity, ctx.connectorId);
    const pairs = newPersons.flatMap((r) => ((r.data.identifiers as Identifier[] | undefined) ?? []).filter((i) => strong.has(i.system.toLowerCase())));
    const claims = pairs.length ? await strongClaims(tx.knex, ctx.tenantId, ctx.connectorId, pairs) : new Map<string, Set<string>>();
    const claimed = [...new Set([...claims.values()].flatMap((s) => [...s]))];
    personLinks = { strong, claims, taken: claimed.length ? await personsWithSourceFrom(tx.knex, ctx.tenantId, ctx.connectorId, claimed) : new Set() };
  }

  for (const [type, list] of byType) {
    const stored = existing.get(type)!;
    const validate = entityValidator(type);
    const refs = refFields(type);
    const personRefs = refs.filter((r) => r.target === 'person' && !r.many).map((r) => r.field);
    const createdInRun = ctx.overlay?.created.get(type);
    const live = (target: EntityType, sourceId: string): string | undefined =>
      resolved.get(target)?.get(sourceId) ?? ctx.overlay?.created.get(target)?.get(sourceId);

    for (const rec of list) {
      const key = `${type}\u0000${rec.sourceId}`;
      const prev = stored.get(rec.sourceId);
      const seenBefore = seenInPage.has(key) || prev?.lastRunId === ctx.runId || (ctx.overlay?.seen.get(type)?.has(rec.sourceId) ?? false);
      if (seenBefore) {
        rejects.push(reject(rec, 'record_invalid', `duplicate ${type} '${rec.sourceId}': the source supplied it twice in one run; the first one was kept`, 'sourceId'));
        continue;
      }
      seenInPage.add(key);
      ctx.overlay?.seen.get(type)?.add(rec.sourceId) ?? ctx.overlay?.seen.set(type, new Set([rec.sourceId]));

      if (rec.deleted) {
        if (prev && !prev.deleted) {
          counts.deleted++;
          sourceRows.push(sourceRow(ctx, rec, prev.unifiedId, prev.hash, ctx.at));
          if (type === 'person') personsTouched.add(prev.unifiedId); // deleted only when no other source is left
          else {
            deletions.push({ type, id: prev.unifiedId });
            changes.push(change(ctx, type, prev.unifiedId, 'delete', 'sync', null));
          }
          resolved.get(type)?.delete(rec.sourceId);
          deletedSources.push({ type, sourceIds: [rec.sourceId] });
        } else {
          counts.unchanged++;
          if (prev) pushTouch(touch, type, rec.sourceId);
        }
        continue;
      }

      // References: source ids -> unified ids.
      const data: Record<string, unknown> = { ...rec.data };
      let refProblem: StoredReject | undefined;
      let deferred: Record<string, string[]> | undefined;
      for (const rf of refs) {
        const v = data[rf.field];
        if (v === undefined) continue;
        if (rf.many && Array.isArray(v)) {
          const ids: string[] = [];
          for (const x of v) {
            const u = typeof x === 'string' ? live(rf.target, x) : undefined;
            if (!u) {
              // A deferred list reference waits for the end of the run (src/normalize/agents.ts) instead.
              if (rf.deferred && typeof x === 'string') continue;
              refProblem = reject(rec, 'reference_unresolved', `${rf.field} refers to ${rf.target} '${String(x)}', which this source has not supplied (or has deleted)`, rf.field);
              break;
            }
            ids.push(u);
          }
          if (rf.deferred) (deferred ??= {})[rf.field] = (v as unknown[]).filter((x): x is string => typeof x === 'string');
          data[rf.field] = ids;
        } else if (typeof v === 'string') {
          const u = live(rf.target, v);
          if (!u) refProblem = reject(rec, 'reference_unresolved', `${rf.field} refers to ${rf.target} '${v}', which this source has not supplied (or has deleted)`, rf.field);
          else data[rf.field] = u;
        }
        if (refProblem) break;
      }
      if (refProblem) {
        rejects.push(refProblem);
        if (prev) pushTouch(touch, type, rec.sourceId);
        continue;
      }

      let unifiedId = prev?.unifiedId ?? createdInRun?.get(rec.sourceId);
      let match: { state: string; rule: string | null } | undefined;
      if (!unifiedId && type === 'person') {
        // A new source person: the same learner as an existing person when exactly one person claims its strong
        // identifiers. Everything else waits for the scored match at the end of the run (src/normalize/resolve.ts).
        const ids = (data.identifiers as Identifier[] | undefined) ?? [];
        const link = personLinks ? decideStrongLink(ids, personLinks.strong, personLinks.claims, personLinks.taken) : {};
        if (link.personId) {
          unifiedId = link.personId;
          match = { state: 'linked', rule: link.rule ?? 'exact' };
        } else match = { state: link.conflict ? 'conflict' : 'provisional', rule: link.conflict ? `conflict:${link.conflict.join(',')}` : null };
      }
      unifiedId ??= newUnifiedId();
      data.id = unifiedId;
      if (!validate(data)) {
        const details = ajvDetails(validate.errors);
        rejects.push(reject(rec, 'record_invalid', details.map((d) => `${d.path} ${d.message}`).join('; '), details[0]?.path));
        if (prev) pushTouch(touch, type, rec.sourceId);
        continue;
      }
      // Mappers build records in a fixed key order, so plain JSON is stable across runs (and 5x cheaper than sorting).
      const json = JSON.stringify(data);
      const deferredJson = deferred ? JSON.stringify(deferred) : null;
      const hash = deferredJson ? deferredHash(json, deferredJson) : hashOf(json);

      if (prev && !prev.deleted && prev.hash === hash) {
        counts.unchanged++;
        pushTouch(touch, type, rec.sourceId);
        continue;
      }
      const srow = sourceRow(ctx, rec, unifiedId, hash, null);
      if (deferredJson) srow.refs = deferredJson;
      if (type === 'person') {
        srow.data = json;
        if (match) {
          srow.match_state = match.state;
          srow.match_rule = match.rule;
        }
        if (!prev && match?.state !== 'linked') {
          // A brand-new person with this one source: its merged view is its own data; no need to load anything.
          const merged = mergeSources(unifiedId, [{ connectorId: ctx.connectorId, sourceId: rec.sourceId, seenAt: ctx.at, data }], ctx.identity?.precedence);
          recordRows.push({
            tenant_id: ctx.tenantId, entity_type: type, id: unifiedId, data: JSON.stringify(merged.data), created_seq: 0, updated_seq: 0,
            created_at: ctx.at, updated_at: ctx.at, deleted_at: null, provenance: JSON.stringify(merged.provenance),
          });
          changes.push(change(ctx, type, unifiedId, 'create', 'sync', null));
        } else {
          personsTouched.add(unifiedId);
          freshPersons.set(`${ctx.connectorId}\u0000${rec.sourceId}`, data);
        }
        identifierWrites.push({ sourceId: rec.sourceId, personId: unifiedId, identifiers: (data.identifiers as Identifier[] | undefined) ?? [], isNew: !prev });
      } else if (personRefs.length) {
        const r: Record<string, unknown> = {};
        for (const f of personRefs) if (rec.data[f] !== undefined) r[f] = rec.data[f];
        srow.refs = JSON.stringify(r);
      }
      sourceRows.push(srow);
      const row: RecordRow = {
        tenant_id: ctx.tenantId, entity_type: type, id: unifiedId, data: json,
        created_seq: 0, updated_seq: 0, created_at: ctx.at, updated_at: ctx.at, deleted_at: null, provenance: null,
      };
      if (type === 'person') {
        // The record itself is the merged view of every source: rebuilt after the loop.
        if (prev) counts.updated++;
        else counts.inserted++;
        if (ctx.overlay && !prev) {
          let m = ctx.overlay.created.get(type);
          if (!m) ctx.overlay.created.set(type, (m = new Map()));
          m.set(rec.sourceId, unifiedId);
        }
        let m = resolved.get(type);
        if (!m) resolved.set(type, (m = new Map()));
        m.set(rec.sourceId, unifiedId);
      } else if (!prev) {
        counts.inserted++;
        recordRows.push(row);
        changes.push(change(ctx, type, unifiedId, 'create', 'sync', null));
        if (ctx.overlay) {
          let m = ctx.overlay.created.get(type);
          if (!m) ctx.overlay.created.set(type, (m = new Map()));
          m.set(rec.sourceId, unifiedId);
        }
        // Later records in this page may refer to this one.
        let m = resolved.get(type);
        if (!m) resolved.set(type, (m = new Map()));
        m.set(rec.sourceId, unifiedId);
      } else {
        counts.updated++;
        pendingUpdates.push({ row, change: change(ctx, type, unifiedId, prev.deleted ? 'restore' : 'update', 'sync', null), data });
        let m = resolved.get(type);
        if (!m) resolved.set(type, (m = new Map()));
        m.set(rec.sourceId, unifiedId);
      }
    }
  }
  counts.rejected = rejects.length;

  if (ctx.dryRun) return { counts, rejects, resolved, deletedSources };
  const changed = new Map<string, string[]>();

  // Field diffs for updates: the change log carries [old, new] so any past version can be rebuilt.
  if (pendingUpdates.length) {
    const byT = new Map<string, string[]>();
    for (const u of pendingUpdates) (byT.get(u.row.entity_type) ?? byT.set(u.row.entity_type, []).get(u.row.entity_type)!).push(u.row.id);
    const before = new Map<string, string>();
    for (const [t, ids] of byT) for (const [id, d] of await tx.loadRecordData(ctx.tenantId, t, ids)) before.set(`${t}\u0000${id}`, d);
    for (const u of pendingUpdates) {
      const old = before.get(`${u.row.entity_type}\u0000${u.row.id}`);
      u.change.diff = old ? JSON.stringify(diffRecords(JSON.parse(old) as Record<string, unknown>, u.data)) : null;
      recordRows.push(u.row);
      changes.push(u.change);
    }
  }

  if (changes.length) {
    const first = await tx.allocateSeq(ctx.tenantId, changes.length);
    const seqOf = new Map<string, number>();
    const rows = changes.map((c, i) => {
      seqOf.set(`${c.entity_type}\u0000${c.entity_id}`, first + i);
      return { ...c, seq: first + i };
    });
    for (const r of recordRows) {
      const seq = seqOf.get(`${r.entity_type}\u0000${r.id}`)!;
      r.updated_seq = seq;
      r.created_seq = seq; // ignored by the upsert for rows that exist
    }
    await tx.upsertSources(sourceRows);
    await tx.upsertRecords(recordRows);
    for (const d of deletions) await tx.markDeleted(ctx.tenantId, d.type, d.id, seqOf.get(`${d.type}\u0000${d.id}`)!, ctx.at);
    await tx.insertChanges(rows);
    for (const c of changes) (changed.get(c.entity_type) ?? changed.set(c.entity_type, []).get(c.entity_type)!).push(c.entity_id);
  } else if (sourceRows.length) {
    await tx.upsertSources(sourceRows);
  }
  if (identifierWrites.length) await writePersonIdentifiersBatch(tx, ctx.tenantId, ctx.connectorId, identifierWrites);
  if (personsTouched.size) {
    await recomputePersons(tx, { tenantId: ctx.tenantId, runId: ctx.runId, at: ctx.at, cause: 'sync', precedence: ctx.identity?.precedence }, personsTouched, freshPersons);
  }
  for (const [type, ids] of touch) await tx.touchSources(ctx.tenantId, ctx.connectorId, type, ids, ctx.runId, ctx.at);
  for (const [type, ids] of touchedByReject) await tx.touchSources(ctx.tenantId, ctx.connectorId, type, ids, ctx.runId, ctx.at);
  return { counts, rejects, resolved, deletedSources, changed };
}

const REF_CACHE_MAX = 50_000;

let refTargets: Set<string> | undefined;
/** Entity types some other type refers to (orgs, sessions, courses, classes, persons, line items...): the only ones worth caching. */
function referenceTargets(): Set<string> {
  if (!refTargets) refTargets = new Set(ENTITY_TYPES.flatMap((t) => refFields(t).map((r) => r.target)));
  return refTargets;
}

/**
 * Adds a committed page's resolved references to the run's cache. Only types that are referred to are kept (not the
 * enrollments or results that make up most of a load), and past the bound the oldest entries go first: the working
 * set of a sorted export (the school's classes, the class's students) stays, and the cache's memory does not grow
 * with the district (it is part of the live heap, which V8 lets the heap grow to a multiple of).
 */
export function rememberRefs(cache: Map<string, Map<string, string>>, resolved: PageResult['resolved'], deleted: { type: string; sourceIds: string[] }[] = []): void {
  const targets = referenceTargets();
  for (const [type, m] of resolved) {
    if (!targets.has(type)) continue;
    let c = cache.get(type);
    if (!c) cache.set(type, (c = new Map()));
    for (const [k, v] of m) {
      c.delete(k); // re-inserted at the end: recently used
      c.set(k, v);
    }
  }
  for (const d of deleted) for (const id of d.sourceIds) cache.get(d.type)?.delete(id);
  let size = 0;
  for (const m of cache.values()) size += m.size;
  if (size <= REF_CACHE_MAX) return;
  // Evict down to three quarters of the bound, oldest first, from each type in proportion to its size.
  const excess = size - Math.floor(REF_CACHE_MAX * 0.75);
  for (const m of cache.values()) {
    let drop = Math.floor((excess * m.size) / size);
    for (const k of m.keys()) {
      if (drop-- <= 0) break;
      m.delete(k);
    }
  }
}

function pushTouch(m: Map<string, string[]>, type: string, id: string) {
  const l = m.get(type);
  if (l) l.push(id);
  else m.set(type, [id]);
}

/**
 * The content hash of a record with deferred references: the source ids wait in `refs`, so they count too (a newly
 * listed agent that cannot be resolved yet still makes the row change). src/normalize/agents.ts writes the same hash
 * once it has resolved them.
 */
export function deferredHash(json: string, refsJson: string): string {
  return hashOf(`${json}\u0000${refsJson}`);
}

function sourceRow(ctx: WriteContext, rec: SourceRecord, unifiedId: string, hash: string, deletedAt: string | null): SourceRow {
  return {
    tenant_id: ctx.tenantId, connector_id: ctx.connectorId, entity_type: rec.type, source_id: rec.sourceId,
    unified_id: unifiedId, hash, raw: rec.rawJson ?? (rec.raw === undefined ? null : JSON.stringify(rec.raw)), location: rec.location ?? null,
    first_seen_at: ctx.at, last_seen_at: ctx.at, last_run_id: ctx.runId, deleted_at: deletedAt,
    data: null, refs: null, match_state: null, match_rule: null, match_score: null,
  };
}

function change(ctx: WriteContext, type: string, id: string, op: ChangeRow['op'], cause: string, diff: string | null): Omit<ChangeRow, 'seq'> {
  return { tenant_id: ctx.tenantId, entity_type: type, entity_id: id, op, at: ctx.at, run_id: ctx.runId, cause, diff };
}
