/**
 * case: reads 1EdTech CASE 1.0 / 1.1 CFPackages (a JSON file, a folder of them, or a CASE provider's REST API) and
 * yields competencyFramework, competencyItem and competencyAssociation records. See README.md in this folder for
 * the mapping, versions, crosswalks, rejects and cursors.
 *
 * Streams, in reading order: frameworks (CFDocument), items (CFItems), associations (CFAssociations: the isChildOf
 * tree and crosswalks). Each stream reads the same packages; within one run a package is fetched or parsed once and
 * shared between the streams (bounded memory, see source.ts).
 */
import { createHash } from 'node:crypto';
import { HubError, toHubError } from '../../src/core/errors';
import type {
  CheckResult,
  Connector,
  ConnectorContext,
  Cursor,
  EntityType,
  Page,
  PlanContext,
  ReadContext,
  Reject,
  SourceRecord,
  StreamPlan,
  SyncMode,
} from '../../src/ingest/contract';
import configSchema from '../../schemas/connectors/case.config.schema.json';
import { DEFAULT_HTTP, type HttpOptions } from './http';
import { mapAll, mapFramework, type MapResult } from './mappers';
import { normalize, type CaseSettings, type Normalized } from './settings';
import { openSource, type CaseSource, type PackageRef } from './source';

export type { CaseSettings, CaseSourceSettings, CaseAuthSettings } from './settings';
export { crosswalkGraph, ALIGNMENT_TYPES, type CrosswalkAssociation, type CrosswalkCycle, type CrosswalkEdge, type CrosswalkGraph } from './crosswalk';
export { readPackage, detectCaseVersion, type CaseVersion, type PackageInfo } from './package';

interface StreamSpec {
  name: 'frameworks' | 'items' | 'associations';
  entity: EntityType;
}

/** In the order the runtime reads them: frameworks before the items and associations that refer to them. */
const STREAMS: StreamSpec[] = [
  { name: 'frameworks', entity: 'competencyFramework' },
  { name: 'items', entity: 'competencyItem' },
  { name: 'associations', entity: 'competencyAssociation' },
];
const LAST_STREAM = STREAMS[STREAMS.length - 1].name;

// ---------------------------------------------------------------------------------------------------------------
// Cursors: per stream, flat JSON (the contract's Cursor type):
//   { complete: boolean, mode: 'full' | 'incremental', 'package:<CFDocument identifier>': <change tag> | null, ... }
// A package is listed once all its records of that stream are committed; `complete` says the stream read every
// package it planned. `null` = the source gave no change tag (such a package is always read again).

const PACKAGE_KEY = 'package:';

export function cursorPackages(cursor: Cursor | undefined): Map<string, string | null> {
  const out = new Map<string, string | null>();
  if (!cursor) return out;
  for (const [k, v] of Object.entries(cursor)) {
    if (k.startsWith(PACKAGE_KEY) && (typeof v === 'string' || v === null)) out.set(k.slice(PACKAGE_KEY.length), v);
  }
  return out;
}

function makeCursor(mode: SyncMode, complete: boolean, packages: Map<string, string | null>): Cursor {
  const c: Cursor = { complete, mode };
  for (const [id, v] of packages) c[`${PACKAGE_KEY}${id}`] = v;
  return c;
}

/** The saved tag matches: a package without a tag never matches (it is always read). */
const unchanged = (saved: string | null | undefined, ref: PackageRef) => ref.version !== undefined && saved === ref.version;

/**
 * Full mode whenever a package changed or vanished: the runtime's sweep then deletes what the newer packages no
 * longer hold, and it needs every package of the stream re-read (records it does not see are deleted). Only new
 * packages next to unchanged ones are read incrementally; nothing new skips the stream.
 */
export function decide(stream: string, refs: PackageRef[], cursor: Cursor | undefined): StreamPlan {
  if (!cursor) return { stream, mode: 'full' };
  // An interrupted full read is read again in full (the sweep needs one run that saw everything); an interrupted
  // incremental read lists what it committed, so it simply continues below.
  if (cursor.complete !== true && cursor.mode !== 'incremental') return { stream, mode: 'full' };
  const saved = cursorPackages(cursor);
  const ids = new Set(refs.map((r) => r.docId));
  const removed = [...saved.keys()].filter((id) => !ids.has(id));
  const changed = refs.filter((r) => saved.has(r.docId) && !unchanged(saved.get(r.docId), r));
  const added = refs.filter((r) => !saved.has(r.docId));
  if (removed.length || changed.length) return { stream, mode: 'full' };
  if (added.length) return { stream, mode: 'incremental' };
  return { stream, mode: 'incremental', skip: `unchanged since the last run (${refs.length} package${refs.length === 1 ? '' : 's'})` };
}

// ---------------------------------------------------------------------------------------------------------------
// One source per run: plan() and the three read() calls of a run share the run's AbortSignal, so the package list
// and parsed packages are kept per signal (and dropped with it). A direct caller with a fresh signal gets a fresh
// source: correctness never depends on this cache.

const RUNS = new WeakMap<AbortSignal, Map<string, CaseSource>>();

function sourceFor(s: Normalized, ctx: ConnectorContext, http: HttpOptions): CaseSource {
  const key = `${ctx.tenantId}\u0000${ctx.connectorId}\u0000${ctx.baseDir}\u0000${createHash('sha256').update(JSON.stringify(s)).digest('hex')}`;
  let byKey = RUNS.get(ctx.signal);
  if (!byKey) RUNS.set(ctx.signal, (byKey = new Map()));
  let src = byKey.get(key);
  if (!src) byKey.set(key, (src = openSource(s, ctx.baseDir, http, ctx.signal)));
  return src;
}

function streamSpec(name: string): StreamSpec {
  const spec = STREAMS.find((s) => s.name === name);
  if (!spec) throw new HubError('internal_error', `case has no stream "${name}".`);
  return spec;
}

// ---------------------------------------------------------------------------------------------------------------

export interface CaseConnectorOptions {
  /** HTTP behaviour (retries, waits, timeouts); tests inject a recording sleep. */
  http?: Partial<HttpOptions>;
}

export function createCaseConnector(options: CaseConnectorOptions = {}): Connector<CaseSettings> {
  const http: HttpOptions = { ...DEFAULT_HTTP, ...options.http };

  async function check(settings: CaseSettings, ctx: ConnectorContext): Promise<CheckResult> {
    try {
      const s = normalize(settings);
      // A fresh source: check() must not leave a half-read inventory in the run cache.
      const details = await openSource(s, ctx.baseDir, http, ctx.signal).probe();
      return { ok: true, details };
    } catch (e) {
      return { ok: false, error: toHubError(e) };
    }
  }

  async function plan(settings: CaseSettings, ctx: PlanContext): Promise<StreamPlan[]> {
    const s = normalize(settings);
    const refs = await sourceFor(s, ctx, http).inventory();
    return STREAMS.map((spec) => decide(spec.name, refs, ctx.cursors[spec.name]));
  }

  async function* read(stream: string, settings: CaseSettings, ctx: ReadContext): AsyncGenerator<Page> {
    const spec = streamSpec(stream);
    const s = normalize(settings);
    const { signal } = ctx;
    signal.throwIfAborted();
    const source = sourceFor(s, ctx, http);
    const refs = await source.inventory();
    const saved = ctx.mode === 'incremental' ? cursorPackages(ctx.cursor) : new Map<string, string | null>();
    // Full: every package (the sweep deletes what is not seen). Incremental: the packages new or changed since the
    // cursor, the others' tags carried over.
    const todo = ctx.mode === 'full' ? refs : refs.filter((r) => !unchanged(saved.get(r.docId), r));
    const done = new Map(saved);
    const { pageSize } = s;

    // One page behind, so the last page of the stream can say `complete: true`.
    let pending: Page | undefined;
    let records: SourceRecord[] = [];
    let rejects: Reject[] = [];
    const take = (): Page => {
      const page: Page = { records, ...(rejects.length ? { rejects } : {}), cursor: makeCursor(ctx.mode, false, done) };
      records = [];
      rejects = [];
      return page;
    };

    for (const ref of todo) {
      signal.throwIfAborted();
      const pkg = await source.load(ref);
      const results: Iterable<MapResult> =
        spec.name === 'frameworks' ? [{ record: mapFramework(pkg) }] : mapAll(pkg, spec.name);
      for (const r of results) {
        if (r.record) records.push(r.record);
        else rejects.push(r.reject);
        if (records.length + rejects.length >= pageSize) {
          if (pending) yield pending;
          pending = take();
          signal.throwIfAborted();
        }
      }
      done.set(ref.docId, ref.version ?? null);
      // Every package ends its own page: the cursor then names exactly the packages committed.
      if (records.length || rejects.length || !pending) {
        if (pending) yield pending;
        pending = take();
      } else {
        pending.cursor = makeCursor(ctx.mode, false, done);
      }
      if (stream === LAST_STREAM) source.release(ref);
    }
    const last = pending ?? take();
    last.cursor = makeCursor(ctx.mode, true, done);
    yield last;
  }

  return {
    manifest: {
      id: 'case',
      title: 'CASE competency frameworks (1EdTech CASE 1.0 / 1.1: package files or a CASE provider)',
      version: '1',
      kind: ['competency'],
      configSchema: configSchema as Record<string, unknown>,
      secretFields: ['token', 'clientSecret'],
      streams: STREAMS.map((s) => ({ name: s.name, entities: [s.entity], modes: ['full', 'incremental'] })),
    },
    check,
    plan,
    read,
  };
}

export const caseConnector = createCaseConnector();
