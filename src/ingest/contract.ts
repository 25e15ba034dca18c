/**
 * The connector contract. A connector reads one kind of source and yields pages of records already mapped to the
 * unified shape. It never touches the database, the scheduler or the HTTP server: the runtime (src/ingest/runner.ts)
 * validates, resolves references, lands raw payloads, upserts idempotently, commits each page with its cursor in one
 * transaction, and keeps the run report. See connectors/README.md for how to add one.
 */
import type { Logger } from '../core/logger';

/**
 * Unified entity types a connector may yield: one per schema in schemas/unified/ that declares `x-entity`. The list
 * is generated (`npm run gen:types`), so adding an entity type is adding a schema file.
 */
export { ENTITY_TYPES, type EntityType } from '../types/unified.generated';
import type { EntityType } from '../types/unified.generated';

/** Flat JSON, opaque to the core, committed in the same transaction as the page it follows. */
export type Cursor = Record<string, string | number | boolean | null>;

/**
 * One record from the source, mapped to the unified shape.
 *
 * Reference fields (those marked `x-ref` in the unified schema, e.g. `enrollment.classId`) hold the *source id* of
 * the referenced record in this same connector; the runtime translates them into unified ids. A connector must
 * yield referenced records before the records that refer to them (or they must already be stored from an earlier
 * run); a reference that cannot be resolved rejects the record.
 */
export interface SourceRecord {
  type: EntityType;
  /** The id of this record in the source system (OneRoster sourcedId). Stable across runs. */
  sourceId: string;
  /** The unified fields, without `id`. Absent optional fields are omitted, never null. */
  data: Record<string, unknown>;
  /** The raw payload as read (a CSV row as an object, an XML element, a JSON body). Kept for replay. */
  raw?: unknown;
  /**
   * `raw` already serialized to JSON, as the store keeps it: set instead of `raw` when the connector holds a page of
   * large payloads (Ed-Fi XML elements: the string survives while the page is built, the element's object tree dies
   * young and costs the GC nothing). Records read in the worker thread arrive with it set: the worker serializes
   * `raw` as the page crosses (src/ingest/read-wire.ts).
   */
  rawJson?: string;
  /** Where it came from, for reports: `users.csv:17`, `$.users[3]`. */
  location?: string;
  /**
   * The source says this record is deleted (OneRoster `tobedeleted` in a delta). Only `type` and `sourceId` matter
   * then: `data` may be `{}` and is not validated.
   */
  deleted?: boolean;
}

/** A row or element that could not be mapped. Never dropped silently: it lands in the run's reject report. */
export interface Reject {
  /** `file:line`, `file:line:column`, or a JSON path. */
  location: string;
  /** The column, field or JSON path at fault, when there is one. */
  field?: string;
  /** Why, in a sentence an operator can act on. */
  reason: string;
  /** A stable error code from src/core/errors.ts (row_malformed, record_invalid, reference_unresolved). */
  code?: 'row_malformed' | 'record_invalid' | 'reference_unresolved';
  /** The offending raw row, kept in the store's reject report (never logged). */
  raw?: unknown;
  /**
   * The source id of the rejected row, when it can be read. A full refresh keeps (does not sweep) a stored record
   * whose row is present but rejected: one bad row must never delete a student.
   */
  sourceId?: string;
}

export interface Page {
  records: SourceRecord[];
  rejects?: Reject[];
  /** Where to resume this stream; saved with the page. */
  cursor?: Cursor;
}

export type SyncMode = 'full' | 'incremental';

export interface StreamDeclaration {
  name: string;
  /** Entity types the stream yields. A full-mode stream is the complete truth for these types (mark-and-sweep). */
  entities: EntityType[];
  modes: SyncMode[];
}

export interface ConnectorManifest {
  /** kebab-case, permanent. */
  id: string;
  title: string;
  /** Bump when a mapping changes: stored records are re-mapped on the next run. */
  version: string;
  kind: Array<'roster' | 'gradebook' | 'assessment' | 'behaviour' | 'attendance' | 'events' | 'competency'>;
  /** JSON Schema (draft-07) for the connector's `settings`; it lives in schemas/connectors/. */
  configSchema: Record<string, unknown>;
  /** Settings that are secrets: read from the environment or decrypted at run time, redacted everywhere. */
  secretFields: string[];
  /** Streams in the order the runtime reads them (referenced data first). */
  streams: StreamDeclaration[];
  /**
   * Built-in connectors whose reads are CPU-bound parsing of files (CSV, XML, JSON) set this: the runtime may run
   * `read` in a worker thread so parsing overlaps writing (src/ingest/threaded-read.ts). `read` then gets a plain
   * context (no shared state with `plan` or the main thread) and its pages cross as JSON text (plain data only:
   * src/ingest/read-wire.ts).
   * `'default'`: threaded unless `HUB_READ_THREADS=off` (where it was measured faster); `'opt-in'`: only with
   * `HUB_READ_THREADS=on`.
   */
  readInWorker?: 'default' | 'opt-in';
}

/** What a run will read: decided by the connector from its settings, the source and the saved cursors. */
export interface StreamPlan {
  stream: string;
  mode: SyncMode;
  /**
   * When set, the stream is skipped (e.g. `absent` in a OneRoster manifest, or nothing new since the cursor). A
   * skipped stream is never swept, whatever its `mode`.
   */
  skip?: string;
}

export interface ConnectorContext {
  tenantId: string;
  /** The configured connector instance id (e.g. 'sis'); records are keyed by it. */
  connectorId: string;
  /** Directory that relative paths in settings are resolved against (the config file's folder). */
  baseDir: string;
  log: Logger;
  signal: AbortSignal;
}

export interface PlanContext extends ConnectorContext {
  /** Saved cursor per stream, from the last committed page. */
  cursors: Record<string, Cursor | undefined>;
}

export interface ReadContext extends ConnectorContext {
  mode: SyncMode;
  cursor?: Cursor;
}

export type CheckResult = { ok: true; details?: string } | { ok: false; error: import('../core/errors').HubError };

export interface Connector<Settings = Record<string, unknown>> {
  manifest: ConnectorManifest;
  /** A cheap probe (does the folder exist, do the credentials work). Never throws. */
  check(settings: Settings, ctx: ConnectorContext): Promise<CheckResult>;
  /** Which streams this run reads and in which mode. May throw a HubError (source_invalid, source_not_found...). */
  plan(settings: Settings, ctx: PlanContext): Promise<StreamPlan[]>;
  /** Pages of one stream. Throw HubError for failures of the whole source; put bad rows in `rejects`. */
  read(stream: string, settings: Settings, ctx: ReadContext): AsyncIterable<Page>;
  /**
   * Optional checks beyond the settings' JSON Schema, run when the configuration is loaded (e.g. a declarative
   * mapping naming fields the unified schema does not have). Paths are relative to `settings` (`$.mappings[0]...`).
   */
  validateSettings?(settings: unknown): { path: string; message: string }[];
}
