/**
 * oneroster-csv: reads a OneRoster 1.1 or 1.2 CSV export (bulk or delta; folder or zip) and yields unified roster
 * records. See README.md in this folder for the mapping, the rejects and how cursors work.
 *
 * Spec: 1EdTech OneRoster CSV Binding 1.1 / 1.2 (1.2.1 errata).
 */
import { resolve } from 'node:path';
import { HubError } from '../../src/core/errors';
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
} from '../../src/ingest/contract';
import configSchema from '../../schemas/connectors/oneroster-csv.config.schema.json';
import { columnsFor, type Column, type OneRosterVersion } from './columns';
import { LineTooLongError, MAX_LINE_BYTES, firstField, readCsvLines, type LineProblem } from './csv';
import { readManifest, type FileMode, type Manifest } from './manifest';
import {
  mapAcademicSession,
  mapCategory,
  mapClass,
  mapCourse,
  mapDemographics,
  mapEnrollment,
  mapLineItem,
  mapLineItemObjective,
  mapOrg,
  mapResult,
  mapResultObjective,
  mapRole,
  mapUser,
  mapUserRoles11,
  type MapManyResult,
  type MapResult,
  type Row,
  type RowContext,
} from './mappers';
import { LIMITS, ObjectiveIndex, type ObjectiveSpec } from './objectives';
import { parentsFirst } from './order';
import { ioError, openSource, type Source, type SourceFile } from './source';

export interface OneRosterCsvSettings {
  /** The export folder or .zip; relative to ctx.baseDir. */
  path: string;
  /** 'auto' (default) reads oneroster.version from manifest.csv. */
  version?: 'auto' | '1.1' | '1.2';
  /** Most records per page (default 2000). */
  pageSize?: number;
}

const DEFAULT_PAGE_SIZE = 2000;
const MAX_PAGE_SIZE = 50000;

// ---------------------------------------------------------------------------------------------------------------
// Streams

interface StreamSpec {
  name: string;
  entity: EntityType;
  /** Which manifest entry (`file.<key>`) and which file feed the stream in this version. */
  input(version: OneRosterVersion): { key: string; file: string };
  map(row: Row, ctx: RowContext): MapResult | MapManyResult;
  /**
   * Small self-referencing files are read whole and yielded parents first (see order.ts); their intermediate
   * cursors say `line: 0` because the yield order is not the file order, so a resume re-reads them whole.
   */
  buffered: boolean;
  /** 1.2: the learning-objective file whose rows go into this stream's records (objectives.ts). */
  objectives?: ObjectiveSpec;
}

const simple = (key: string) => () => ({ key, file: `${key}.csv` });

/** In the order the runtime reads them: referenced records first. */
const STREAMS: StreamSpec[] = [
  { name: 'orgs', entity: 'org', input: simple('orgs'), map: mapOrg, buffered: true },
  { name: 'academicSessions', entity: 'academicSession', input: simple('academicSessions'), map: mapAcademicSession, buffered: true },
  { name: 'courses', entity: 'course', input: simple('courses'), map: mapCourse, buffered: false },
  { name: 'classes', entity: 'class', input: simple('classes'), map: mapClass, buffered: false },
  { name: 'users', entity: 'person', input: simple('users'), map: mapUser, buffered: false },
  {
    name: 'roles',
    entity: 'role',
    // 1.1 has no roles.csv: roles come from users.csv (role + orgSourcedIds) and follow file.users's mode.
    input: (v) => (v === '1.1' ? { key: 'users', file: 'users.csv' } : { key: 'roles', file: 'roles.csv' }),
    map: (row, ctx) => (ctx.version === '1.1' ? mapUserRoles11(row, ctx) : mapRole(row, ctx)),
    buffered: false,
  },
  { name: 'demographics', entity: 'demographics', input: simple('demographics'), map: mapDemographics, buffered: false },
  { name: 'enrollments', entity: 'enrollment', input: simple('enrollments'), map: mapEnrollment, buffered: false },
  // Gradebook: categories and line items before the results that point at them.
  { name: 'categories', entity: 'lineItemCategory', input: simple('categories'), map: mapCategory, buffered: false },
  {
    name: 'lineItems',
    entity: 'lineItem',
    input: simple('lineItems'),
    map: mapLineItem,
    buffered: false,
    objectives: {
      key: 'lineItemLearningObjectiveIds',
      file: 'lineItemLearningObjectiveIds.csv',
      parentColumn: 'lineItemSourcedId',
      parentFile: 'lineItems.csv',
      parentLabel: 'line item',
      field: 'alignment',
      map: mapLineItemObjective,
    },
  },
  {
    name: 'results',
    entity: 'result',
    input: simple('results'),
    map: mapResult,
    buffered: false,
    objectives: {
      key: 'resultLearningObjectiveIds',
      file: 'resultLearningObjectiveIds.csv',
      parentColumn: 'resultSourcedId',
      parentFile: 'results.csv',
      parentLabel: 'result',
      field: 'learningObjectiveResults',
      map: mapResultObjective,
    },
  },
];
const STREAM_BY_NAME = new Map(STREAMS.map((s) => [s.name, s]));

// ---------------------------------------------------------------------------------------------------------------
// Settings

interface Settings {
  path: string;
  version: 'auto' | OneRosterVersion;
  pageSize: number;
}

/** The runtime validates settings against configSchema; this guards direct callers and gives the defaults. */
function normalize(settings: OneRosterCsvSettings): Settings {
  const bad = (path: string, message: string): HubError =>
    new HubError('connector_config_invalid', `oneroster-csv settings: ${path} ${message}`, [{ path, message }]);
  if (!settings || typeof settings.path !== 'string' || settings.path === '') throw bad('path', 'must be a non-empty string');
  const version = settings.version ?? 'auto';
  if (version !== 'auto' && version !== '1.1' && version !== '1.2') throw bad('version', 'must be auto, 1.1 or 1.2');
  const pageSize = settings.pageSize ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) throw bad('pageSize', `must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  return { path: settings.path, version, pageSize };
}

function sourcePath(settings: Settings, ctx: ConnectorContext): string {
  return resolve(ctx.baseDir, settings.path);
}

// ---------------------------------------------------------------------------------------------------------------
// Rows of one file: header check, blank lines, quoting and field-count rejects, row objects.

type RowItem = { line: number; row: Row; reject?: undefined } | { line: number; reject: Reject; row?: undefined };

function invalid(path: string, message: string): HubError {
  return new HubError('source_invalid', `${path}: ${message}`, [{ path, message }]);
}

/**
 * Checks the header exactly (names, order, case) against the binding's columns; columns appended to the right are
 * extension columns, kept in `raw`. Returns the keys for row objects.
 */
export function checkHeader(file: string, fields: string[], columns: Column[]): string[] {
  const at = `${file}:1`;
  for (let i = 0; i < columns.length; i++) {
    const found = fields[i];
    if (found !== columns[i].header) {
      throw invalid(
        at,
        found === undefined
          ? `expected column ${i + 1} to be "${columns[i].header}", found no column (the header has ${fields.length})`
          : `expected column ${i + 1} to be "${columns[i].header}", found "${found}"`,
      );
    }
  }
  const seen = new Set(columns.map((c) => c.header));
  for (let i = columns.length; i < fields.length; i++) {
    const name = fields[i];
    if (name === '') throw invalid(at, `extension column ${i + 1} has a blank header`);
    if (seen.has(name)) throw invalid(at, `extension column ${i + 1} repeats the header "${name}"`);
    if (name === '__proto__') throw invalid(at, `extension column ${i + 1} may not be named "__proto__"`);
    seen.add(name);
  }
  return fields;
}

/**
 * A row-object factory for one header, made once per file: `(fields) => ({ "sourcedId": fields[0], ... })`.
 * Why generated code: an object literal with a fixed shape is ~10x faster to build than assigning keys in a loop
 * (measured on users.csv, 23 columns), and it gives every row of a file the same hidden class, which keeps the
 * mappers' property reads monomorphic. Keys are embedded with JSON.stringify (a valid, fully escaped JS string
 * literal); `__proto__` is refused in checkHeader, the one key an object literal would treat specially.
 */
export function rowFactory(keys: string[], dropped: number): (fields: string[]) => Row {
  const props: string[] = [];
  for (let i = 0; i < keys.length; i++) if (i !== dropped) props.push(`${JSON.stringify(keys[i])}: f[${i}]`);
  return new Function('f', `return { ${props.join(', ')} };`) as (fields: string[]) => Row;
}

const QUOTING: Record<LineProblem['kind'], string> = {
  unclosed: 'a quoted field is not closed on this line (fields may not contain line breaks)',
  stray: 'a quote appears inside an unquoted field (such fields must be quoted, with inner quotes doubled)',
  after_closing: 'a closing quote is followed by something other than a comma',
};

/**
 * Yields the rows of a file in batches. Throws source_invalid for a wrong or missing header and for a file
 * without data rows ("files with no data rows are not permitted").
 */
async function* fileRows(file: SourceFile, columns: Column[]): AsyncGenerator<RowItem[]> {
  let keys: string[] | undefined;
  let makeRow: ((fields: string[]) => Row) | undefined;
  // users.csv has a `password` column: it maps to nothing and is kept out of raw payloads and reject reports. A line
  // that cannot be parsed cannot be cleaned reliably, so its rejects carry no raw text in such a file.
  let hasPassword = false;
  let dataRows = 0;
  let input;
  try {
    input = await file.open();
  } catch (e) {
    throw ioError(file.name, e);
  }
  try {
    for await (const batch of readCsvLines(input)) {
      const out: RowItem[] = [];
      for (const l of batch) {
        if (!keys) {
          if (l.problem) throw invalid(`${file.name}:1`, `the header row has broken quoting: ${QUOTING[l.problem.kind]}`);
          keys = checkHeader(file.name, l.fields, columns);
          const password = keys.indexOf('password');
          hasPassword = password >= 0;
          makeRow = rowFactory(keys, password);
          continue;
        }
        const f = l.fields;
        if (l.problem) {
          dataRows++;
          const column = l.problem.column;
          const header = keys[column];
          const sourceId = column > 0 ? firstField(l.problem.text) : undefined;
          out.push({
            line: l.line,
            reject: {
              location: `${file.name}:${l.line}`,
              ...(header !== undefined ? { field: header } : {}),
              reason: `broken quoting in column ${column + 1}${header !== undefined ? ` (${header})` : ''}: ${QUOTING[l.problem.kind]}`,
              code: 'row_malformed',
              ...(hasPassword ? {} : { raw: l.problem.text }),
              ...(sourceId !== undefined ? { sourceId } : {}),
            },
          });
          continue;
        }
        if (f.length === 1 && f[0] === '') continue; // a blank line is not a row
        dataRows++;
        if (f.length !== keys.length) {
          const sourceId = f[0].trim();
          out.push({
            line: l.line,
            reject: {
              location: `${file.name}:${l.line}`,
              reason: `expected ${keys.length} fields as in the header, found ${f.length}`,
              code: 'row_malformed',
              ...(hasPassword ? {} : { raw: f }),
              ...(sourceId !== '' ? { sourceId } : {}),
            },
          });
          continue;
        }
        out.push({ line: l.line, row: makeRow!(f) });
      }
      if (out.length > 0) yield out;
    }
  } catch (e) {
    if (e instanceof HubError) throw e;
    if (e instanceof LineTooLongError) {
      throw invalid(`${file.name}:${e.line}`, `line is longer than ${MAX_LINE_BYTES} bytes (line breaks must be LF or CRLF)`);
    }
    throw ioError(file.name, e);
  }
  if (!keys) throw invalid(`${file.name}:1`, 'the file is empty: a header row is required');
  if (dataRows === 0) {
    throw invalid(file.name, 'the file has a header but no data rows: files with no data rows are not permitted; declare it absent in manifest.csv');
  }
}

/** Header and first data row only: lets plan() fail before any page is committed. */
async function peek(file: SourceFile, columns: Column[]): Promise<void> {
  for await (const batch of fileRows(file, columns)) {
    if (batch.length > 0) return;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Resolving a stream against the export

interface Resolved {
  spec: StreamSpec;
  manifest: Manifest;
  key: string;
  file: string;
  /** bulk|delta, or undefined when the manifest says absent or does not list the file. */
  mode?: FileMode;
  columns: Column[];
  /** 1.2 line items / results: their learning-objective file, when the manifest declares it bulk or delta. */
  objectives?: ResolvedObjectives;
}

interface ResolvedObjectives {
  spec: ObjectiveSpec;
  mode: FileMode;
  columns: Column[];
  /** The manifest line that declares it. */
  line: number;
}

function resolveStream(spec: StreamSpec, manifest: Manifest): Resolved {
  const { key, file } = spec.input(manifest.version);
  const declared = manifest.files.get(key);
  const mode = declared && declared.value !== 'absent' ? declared.value : undefined;
  const resolved: Resolved = { spec, manifest, key, file, mode, columns: columnsFor(manifest.version)[file] };
  // 1.1 has no learning-objective files: a 1.1 manifest that lists them is ignored like any file this connector does not read.
  const o = spec.objectives;
  const od = o && manifest.version === '1.2' ? manifest.files.get(o.key) : undefined;
  if (o && od && od.value !== 'absent') resolved.objectives = { spec: o, mode: od.value, columns: columnsFor('1.2')[o.file], line: od.line };
  return resolved;
}

/**
 * A bulk parent file replaces its records whole, objectives included, so a delta objective file (changes to objectives
 * the connector does not hold) cannot go with it. The other pairs are fine: see README "Learning objectives".
 */
function checkObjectiveModes(s: Resolved): void {
  if (s.mode === 'bulk' && s.objectives?.mode === 'delta') {
    throw new HubError(
      'source_invalid',
      `manifest.csv:${s.objectives.line}: file.${s.objectives.spec.key} is delta but file.${s.key} is bulk: learning objectives are stored inside their ${s.objectives.spec.parentLabel}s, which a bulk file replaces whole; declare both bulk (or send ${s.file} as a delta too)`,
      [{ path: `manifest.csv:${s.objectives.line}`, message: `file.${s.objectives.spec.key} is delta but file.${s.key} is bulk` }],
    );
  }
}

function streamSpec(name: string): StreamSpec {
  const spec = STREAM_BY_NAME.get(name);
  if (!spec) throw new HubError('internal_error', `oneroster-csv has no stream "${name}".`);
  return spec;
}

/** The files a stream reads: its own and, for 1.2 line items / results, their learning-objective file. */
async function streamFiles(source: Source, s: Resolved): Promise<{ file: SourceFile; objectives?: SourceFile; fingerprint: string }> {
  const get = async (name: string): Promise<SourceFile> => {
    const f = await source.get(name);
    if (!f) throw invalid(name, 'the file disappeared from the export while it was being read');
    return f;
  };
  const file = await get(s.file);
  if (!s.objectives) return { file, fingerprint: file.fingerprint };
  const objectives = await get(s.objectives.spec.file);
  // Both files make the stream's content: a changed objective file alone must not let the plan skip the stream.
  return { file, objectives, fingerprint: `${file.fingerprint}+${objectives.fingerprint}` };
}

/** The saved cursor, when it belongs to this very file content. */
function sameFile(cursor: Cursor | undefined, fingerprint: string): Cursor | undefined {
  return cursor && cursor.fingerprint === fingerprint ? cursor : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// read()

function count(r: MapResult | MapManyResult): number {
  return r.reject ? 1 : 'records' in r && r.records ? r.records.length : 1;
}

function collect(r: MapResult | MapManyResult, records: SourceRecord[], rejects: Reject[]): void {
  if (r.reject) rejects.push(r.reject);
  else if ('record' in r && r.record) records.push(r.record);
  else if ('records' in r && r.records) for (const rec of r.records) records.push(rec);
}

/**
 * Fills pages of at most `size` records + rejects. A page is handed over only when the next result does not fit, so
 * the last page is never empty unless the whole (remaining) file produced nothing, and `line` is always the last line
 * the page covers.
 */
class Pager {
  private records: SourceRecord[] = [];
  private rejects: Reject[] = [];

  constructor(
    private readonly size: number,
    private readonly fingerprint: string,
    private lastLine: number,
  ) {}

  /** Adds the result of the row at `line` (default: no new line); returns the page to hand over first, if any. */
  add(r: MapResult | MapManyResult, line = this.lastLine): Page | undefined {
    const n = this.records.length + this.rejects.length;
    const out = n > 0 && n + count(r) > this.size ? this.take(false) : undefined;
    collect(r, this.records, this.rejects);
    this.lastLine = line;
    return out;
  }

  take(complete: boolean): Page {
    const page: Page = { records: this.records, rejects: this.rejects, cursor: { fingerprint: this.fingerprint, line: this.lastLine, complete } };
    this.records = [];
    this.rejects = [];
    return page;
  }
}

/** Reads a learning-objective file whole into an index keyed by parent sourcedId (bounded: LIMITS.objectiveRows). */
async function loadObjectives(file: SourceFile, o: ResolvedObjectives, signal: AbortSignal): Promise<ObjectiveIndex> {
  const index = new ObjectiveIndex(o.spec, o.mode);
  const ctx: RowContext = { file: o.spec.file, line: 0, mode: o.mode, version: '1.2' };
  for await (const batch of fileRows(file, o.columns)) {
    signal.throwIfAborted();
    for (const item of batch) {
      if (index.rows >= LIMITS.objectiveRows) {
        throw invalid(
          `${o.spec.file}:${item.line}`,
          `more than ${LIMITS.objectiveRows} rows: the connector holds this file in memory to join it with ${o.spec.parentFile}; split the export (e.g. one per school)`,
        );
      }
      if (item.reject) {
        // The first field of an unparsable row is the objective row's own sourcedId, which names no hub record.
        const { sourceId: _ignored, ...reject } = item.reject;
        index.add({ reject });
      } else {
        ctx.line = item.line;
        index.add(o.spec.map(item.row, ctx));
      }
    }
  }
  return index;
}

const isMany = (r: MapResult | MapManyResult): r is MapManyResult => 'records' in r;

async function* readStream(name: string, raw: OneRosterCsvSettings, ctx: ReadContext): AsyncGenerator<Page> {
  const spec = streamSpec(name);
  const settings = normalize(raw);
  const { signal } = ctx;
  signal.throwIfAborted();
  const source = await openSource(sourcePath(settings, ctx));
  try {
    const manifest = await readManifest(source, settings.version);
    const s = resolveStream(spec, manifest);
    if (!s.mode) throw invalid('manifest.csv', `file.${s.key} is not declared bulk or delta: stream ${name} has nothing to read`);
    if (s.mode === 'delta' && ctx.mode === 'full') {
      // A full read is the complete truth and is followed by a sweep; a delta file would make it delete everything
      // the delta does not mention.
      throw invalid('manifest.csv', `file.${s.key} is delta: stream ${name} cannot be read in full mode (a delta is not the complete truth)`);
    }
    checkObjectiveModes(s);
    const { file, objectives: objectiveFile, fingerprint } = await streamFiles(source, s);
    const saved = sameFile(ctx.cursor, fingerprint);
    // Incremental mode resumes after the last committed line of the same file. Full mode always reads every row:
    // the runtime's mark-and-sweep needs to see the whole file.
    const resumeAfter =
      ctx.mode === 'incremental' && !spec.buffered && saved && typeof saved.line === 'number' ? saved.line : 0;
    const rowCtx: RowContext = { file: s.file, line: 0, mode: s.mode, version: manifest.version };
    const { pageSize } = settings;

    if (spec.buffered) {
      yield* readBuffered(spec, file, s.columns, rowCtx, pageSize, signal);
      return;
    }

    const pager = new Pager(pageSize, fingerprint, resumeAfter);
    const index = s.objectives && objectiveFile ? await loadObjectives(objectiveFile, s.objectives, signal) : undefined;
    // The objective file's own rejects go first (a resumed read reports them again: the file is read again).
    for (const reject of index?.rejects ?? []) {
      const page = pager.add({ reject });
      if (page) {
        yield page;
        signal.throwIfAborted();
      }
    }
    for await (const batch of fileRows(file, s.columns)) {
      signal.throwIfAborted();
      for (const item of batch) {
        if (item.line <= resumeAfter) {
          // Committed by an earlier read, objectives included: take them out so they are not reported as orphans.
          if (index) {
            const id = item.row ? (item.row.sourcedId ?? '').trim() : item.reject.sourceId;
            if (id) index.skip(id);
          }
          continue;
        }
        let result: MapResult | MapManyResult;
        if (item.reject) result = { reject: item.reject };
        else {
          rowCtx.line = item.line;
          result = spec.map(item.row, rowCtx);
        }
        if (index && !isMany(result)) result = index.attach(result);
        const page = pager.add(result, item.line);
        if (page) {
          yield page;
          signal.throwIfAborted();
        }
      }
    }
    if (index && objectiveFile && s.objectives && index.reportsOrphans(s.mode) && index.hasOrphans()) {
      // Objective rows whose parent never came. The index keeps no rows, so the file is read again (only when
      // there are such rows) to report them with their line and raw row.
      const octx: RowContext = { file: s.objectives.spec.file, line: 0, mode: s.objectives.mode, version: manifest.version };
      for await (const batch of fileRows(objectiveFile, s.objectives.columns)) {
        signal.throwIfAborted();
        for (const item of batch) {
          if (!item.row) continue;
          octx.line = item.line;
          const reject = index.orphan(item.row, octx, s.mode);
          if (!reject) continue;
          const page = pager.add({ reject });
          if (page) {
            yield page;
            signal.throwIfAborted();
          }
        }
      }
    }
    yield pager.take(true);
  } finally {
    await source.close();
  }
}

async function* readBuffered(
  spec: StreamSpec,
  file: SourceFile,
  columns: Column[],
  rowCtx: RowContext,
  pageSize: number,
  signal: AbortSignal,
): AsyncGenerator<Page> {
  const records: SourceRecord[] = [];
  const rejects: Reject[] = [];
  let lastLine = 0;
  for await (const batch of fileRows(file, columns)) {
    signal.throwIfAborted();
    for (const item of batch) {
      if (item.reject) rejects.push(item.reject);
      else {
        rowCtx.line = item.line;
        collect(spec.map(item.row, rowCtx), records, rejects);
      }
      lastLine = item.line;
    }
  }
  const ordered = parentsFirst(records);
  const fingerprint = file.fingerprint;
  // Records fill the pages first, rejects the room left (so pages rarely hold rejects alone: the runtime keeps a
  // rejected row's stored record only for entity types present in the same page). At most pageSize items a page.
  let i = 0;
  let ri = 0;
  for (;;) {
    const pageRecords = ordered.slice(i, i + pageSize);
    i += pageRecords.length;
    const pageRejects = rejects.slice(ri, ri + pageSize - pageRecords.length);
    ri += pageRejects.length;
    const complete = i >= ordered.length && ri >= rejects.length;
    yield { records: pageRecords, rejects: pageRejects, cursor: { fingerprint, line: complete ? lastLine : 0, complete } };
    if (complete) return;
    signal.throwIfAborted();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// plan() and check()

async function withSource<T>(settings: Settings, ctx: ConnectorContext, fn: (source: Source) => Promise<T>): Promise<T> {
  const source = await openSource(sourcePath(settings, ctx));
  try {
    return await fn(source);
  } finally {
    await source.close();
  }
}

async function plan(raw: OneRosterCsvSettings, ctx: PlanContext): Promise<StreamPlan[]> {
  const settings = normalize(raw);
  return withSource(settings, ctx, async (source) => {
    const manifest = await readManifest(source, settings.version);
    const plans: StreamPlan[] = [];
    for (const spec of STREAMS) {
      const s = resolveStream(spec, manifest);
      if (!s.mode) {
        // A skipped stream is not read, so it is never swept: `incremental` says so even if a runtime ignored `skip`.
        const declared = manifest.files.has(s.key);
        // Learning objectives go inside their parents: without the parent file there is nothing to put them in.
        const unused = s.objectives ? ` (${s.objectives.spec.file} is not applied without it)` : '';
        plans.push({
          stream: spec.name,
          mode: 'incremental',
          skip: `${declared ? `manifest.csv declares file.${s.key} absent` : `manifest.csv does not list file.${s.key}`}${unused}`,
        });
        continue;
      }
      const mode = s.mode === 'bulk' ? 'full' : 'incremental';
      checkObjectiveModes(s);
      const { file, objectives, fingerprint } = await streamFiles(source, s);
      const saved = sameFile(ctx.cursors[spec.name], fingerprint);
      if (saved && saved.complete === true) {
        plans.push({ stream: spec.name, mode, skip: `unchanged since last run (${objectives ? `${s.file}, ${objectives.name}` : s.file})` });
        continue;
      }
      // Fail before the first page is committed when a file to read has a wrong header or no data rows.
      await peek(file, s.columns);
      if (objectives && s.objectives) await peek(objectives, s.objectives.columns);
      plans.push({ stream: spec.name, mode });
    }
    ctx.log.debug({ connector: 'oneroster-csv', version: manifest.version, kind: source.kind }, 'oneroster-csv plan');
    return plans;
  });
}

async function check(raw: OneRosterCsvSettings, ctx: ConnectorContext): Promise<CheckResult> {
  try {
    const settings = normalize(raw);
    return await withSource(settings, ctx, async (source) => {
      const manifest = await readManifest(source, settings.version);
      const byMode: Record<string, string[]> = { bulk: [], delta: [], absent: [] };
      for (const [key, f] of manifest.files) byMode[f.value].push(key);
      const parts = (['bulk', 'delta', 'absent'] as const).filter((m) => byMode[m].length).map((m) => `${m}: ${byMode[m].join(', ')}`);
      return {
        ok: true as const,
        details: `OneRoster ${manifest.version} ${source.kind}${manifest.systemName ? ` from ${manifest.systemName}` : ''}; ${parts.join('; ') || 'no files declared'}`,
      };
    });
  } catch (e) {
    const error = e instanceof HubError ? e : new HubError('internal_error', 'Unexpected error while checking the OneRoster export.', [], { cause: e });
    return { ok: false, error };
  }
}

// ---------------------------------------------------------------------------------------------------------------

export const oneRosterCsv: Connector<OneRosterCsvSettings> = {
  manifest: {
    id: 'oneroster-csv',
    title: 'OneRoster CSV (1.1 / 1.2, bulk and delta)',
    version: '1.1.0',
    kind: ['roster', 'gradebook'],
    configSchema,
    secretFields: [],
    readInWorker: 'opt-in',
    streams: STREAMS.map((s) => ({ name: s.name, entities: [s.entity], modes: ['full', 'incremental'] })),
  },
  check,
  plan,
  read: (stream, settings, ctx) => readStream(stream, settings, ctx),
};

export default oneRosterCsv;
