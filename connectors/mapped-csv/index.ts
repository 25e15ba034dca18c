/**
 * mapped-csv: reads vendor CSV exports that follow no standard (benchmark assessments, behaviour tools, attendance
 * systems, intervention logs) through a declarative mapping in the connector's settings, and yields unified
 * records. See README.md in this folder for the mapping language, validation, preview, cursors and limits.
 */
import { createHash } from 'node:crypto';
import { HubError, type ErrorDetail } from '../../src/core/errors';
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
import configSchema from '../../schemas/connectors/mapped-csv.config.schema.json';
import {
  compileProducer,
  makeHeader,
  processRow,
  producersOf,
  type CompiledProducer,
  type Header,
  type RowInput,
  type RowOutput,
} from './compile';
import { QUOTING, filesFingerprint, locate, salvageFields, readHeader, readLines, type CsvFile, type Located } from './files';
import { DEFAULT_PAGE_SIZE, groupsOf, type MappedCsvSettings } from './settings';
import { streamOrder } from './unified';
import { formatProblems, validateMapping, type Problem } from './validate';

export { validateMapping, formatProblems, type Problem, type ValidateOptions } from './validate';
export type { MappedCsvSettings, Mapping, ParentMapping, Expression, Builder, FileSpec } from './settings';

const ID = 'mapped-csv';

/** Every entity type, parents first: one stream each, named after it. */
const STREAMS = streamOrder();

// ---------------------------------------------------------------------------------------------------------------
// Settings

/** Validated settings (shape and mapping; columns are checked per file). Throws connector_config_invalid. */
function checked(raw: unknown): MappedCsvSettings {
  const problems = validateMapping(raw);
  if (problems.length) throw configError(problems);
  return raw as MappedCsvSettings;
}

function configError(problems: Problem[]): HubError {
  const p = problems[0];
  return new HubError(
    'connector_config_invalid',
    `${ID} settings: ${p.path}: ${p.message}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`,
    problems.map((x) => ({ path: x.path, message: x.message })),
  );
}

/** Produced entity types, in stream order. */
function producedTypes(s: MappedCsvSettings): EntityType[] {
  const set = new Set<EntityType>();
  for (const g of groupsOf(s)) for (const p of producersOf(g)) set.add(p.entity);
  return STREAMS.filter((t) => set.has(t));
}

/**
 * A digest of everything in the settings that changes what a row yields (all but pageSize): cursors carry it, so an
 * edited mapping re-reads files that did not change.
 */
function mappingDigest(s: MappedCsvSettings): string {
  const stable = (v: unknown): string =>
    Array.isArray(v) ? `[${v.map(stable).join(',')}]`
    : v && typeof v === 'object' ? `{${Object.keys(v).sort().filter((k) => k !== 'pageSize').map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`).join(',')}}`
    : JSON.stringify(v);
  return createHash('sha256').update(stable(s)).digest('hex').slice(0, 16);
}

// ---------------------------------------------------------------------------------------------------------------
// Files and headers

interface Prepared {
  file: CsvFile;
  header: Header;
}

/** Reads the header of each file and checks every column the mappings name. Throws connector_config_invalid. */
async function headers(files: CsvFile[], s: MappedCsvSettings): Promise<Map<CsvFile, Header>> {
  const out = new Map<CsvFile, Header>();
  const byName: Record<string, string[]> = {};
  for (const f of files) {
    const names = await readHeader(f, f.group.format);
    out.set(f, makeHeader(names));
    byName[f.name] = names;
  }
  const problems = validateMapping(s, { headers: byName });
  if (problems.length) throw configError(problems);
  return out;
}

/** full mode needs every layout's files: a layout that matches nothing means a missing (or misnamed) export. */
function requireFiles(loc: Located, s: MappedCsvSettings): void {
  if (s.mode !== 'full') return;
  if (s.files && loc.unmatched.length) {
    const g = loc.unmatched[0];
    const where = loc.kind === 'file' ? `the file ${loc.root} is not` : `no file in ${loc.root} is`;
    throw new HubError(
      'source_invalid',
      `${where} a match for files[${g.index}].match '${g.match}': a full read is the complete truth for its entity types and needs their files (use mode 'incremental' when files come and go)`,
      loc.unmatched.map((u) => ({ path: `$.files[${u.index}].match`, message: `no file matches '${u.match}' in ${loc.root}` })),
    );
  }
  if (!s.files && loc.files.length === 0) {
    throw new HubError('source_invalid', `${loc.root} holds no .csv, .tsv or .txt file: a full read needs the export`, [{ path: loc.root, message: 'no data file' }]);
  }
}

function malformedRow(l: { line: number; fields: string[]; problem?: { column: number; kind: keyof typeof QUOTING; text: string } }, header: Header, delimiter: string): RowInput['malformed'] {
  if (l.problem) {
    const col = l.problem.column;
    const name = header.names[col];
    return {
      reason: `broken quoting in column ${col + 1}${name ? ` ('${name}')` : ''}: ${QUOTING[l.problem.kind](delimiter)}`,
      ...(name ? { field: name } : {}),
      raw: l.problem.text,
      available: salvageFields(l.problem.text, col, delimiter, header.names.length),
    };
  }
  const n = header.names.length;
  const found = l.fields.length;
  return {
    reason: `expected ${n} fields as in the header, found ${found}${found > n ? ' (a value with an unquoted delimiter in it?)' : ' (a missing value, or a truncated line?)'}`,
    raw: l.fields,
    available: l.fields,
  };
}

/**
 * The rows of a file after its header, as RowInput (blank lines skipped), in batches. `after`: skip lines up to
 * and including this one (resume).
 */
async function* rows(file: CsvFile, header: Header, after: number, signal: AbortSignal): AsyncGenerator<RowInput[]> {
  const { headerRow, delimiter } = file.group.format;
  for await (const batch of readLines(file, file.group.format)) {
    signal.throwIfAborted();
    const out: RowInput[] = [];
    for (const l of batch) {
      if (l.line <= headerRow || l.line <= after) continue;
      if (!l.problem && l.fields.every((f) => f.trim() === '')) {
        // A blank line, or a row of empty cells (spreadsheets leave them at the end): covered, yields nothing.
        out.push({ file: file.name, line: l.line, fields: [] });
        continue;
      }
      out.push({
        file: file.name,
        line: l.line,
        fields: l.fields,
        ...(l.problem || l.fields.length !== header.names.length ? { malformed: malformedRow(l, header, delimiter) } : {}),
      });
    }
    if (out.length) yield out;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// read()

function streamEntity(name: string): EntityType {
  const t = STREAMS.find((s) => s === name);
  if (!t) throw new HubError('internal_error', `${ID} has no stream "${name}".`);
  return t;
}

const strip = (r: Reject & { entity?: EntityType }): Reject => {
  const { entity: _e, ...rest } = r;
  return rest;
};

async function* readStream(stream: string, raw: MappedCsvSettings, ctx: ReadContext): AsyncGenerator<Page> {
  const entity = streamEntity(stream);
  const s = checked(raw);
  const { signal } = ctx;
  signal.throwIfAborted();
  if (!producedTypes(s).includes(entity)) {
    throw new HubError('connector_config_invalid', `${ID}: no mapping yields ${entity} records, so stream ${stream} has nothing to read.`, [
      { path: '$.mappings', message: `no mapping yields ${entity}` },
    ]);
  }
  const loc = await locate(s, ctx.baseDir);
  const files = loc.files.filter((f) => producersOf(f.group).some((p) => p.entity === entity));
  const fingerprint = filesFingerprint(files);
  const mapping = mappingDigest(s);
  const pageSize = s.pageSize ?? DEFAULT_PAGE_SIZE;
  const c = ctx.cursor;
  const sameMapping = ctx.mode === 'incremental' && c !== undefined && c.mapping === mapping;

  const done: Cursor = {};
  const seen = new Set<string>();
  let out: RowOutput = { records: [], rejects: [] };
  let items = 0;
  let lastFile: string | null = null;
  let lastLine = 0;
  const cursor = (complete: boolean): Cursor => ({ fingerprint, mapping, file: lastFile, line: lastLine, complete, ...done });

  for (const file of files) {
    const doneKey = `done:${file.name}`;
    // incremental: a file read to its end by an earlier run (same content, same mapping) has nothing new.
    if (sameMapping && c[doneKey] === file.fingerprint) {
      done[doneKey] = file.fingerprint;
      continue;
    }
    // incremental: resume after the last committed line of the file being read when the run stopped.
    const after = sameMapping && c.complete === false && c.fingerprint === fingerprint && c.file === file.name && typeof c.line === 'number' ? c.line : 0;
    const header = (await headers([file], s)).get(file)!;
    const cps: CompiledProducer[] = producersOf(file.group).filter((p) => p.entity === entity).map((p) => compileProducer(p, header));
    for await (const batch of rows(file, header, after, signal)) {
      for (const row of batch) {
        if (row.fields.length || row.malformed) {
          const r0 = out.records.length;
          const j0 = out.rejects.length;
          processRow(cps, row, header, seen, out);
          const n = out.records.length - r0 + out.rejects.length - j0;
          if (n > 0 && items > 0 && items + n > pageSize) {
            // The page is full before this row: it goes out without the row's items, which start the next page.
            const next: RowOutput = { records: out.records.splice(r0), rejects: out.rejects.splice(j0) };
            yield { records: out.records, rejects: out.rejects.map(strip), cursor: cursor(false) };
            out = next;
            items = 0;
            signal.throwIfAborted();
          }
          items += n;
        }
        lastFile = file.name;
        lastLine = row.line;
      }
    }
    done[doneKey] = file.fingerprint;
    lastFile = file.name;
  }
  yield { records: out.records, rejects: out.rejects.map(strip), cursor: cursor(true) };
}

// ---------------------------------------------------------------------------------------------------------------
// plan() and check()

async function plan(raw: MappedCsvSettings, ctx: PlanContext): Promise<StreamPlan[]> {
  const s = checked(raw);
  const loc = await locate(s, ctx.baseDir);
  requireFiles(loc, s);
  // Every column a mapping names must be in its files' headers: fail before the first page is committed.
  await headers(loc.files, s);
  const mapping = mappingDigest(s);
  const plans: StreamPlan[] = [];
  for (const entity of producedTypes(s)) {
    const files = loc.files.filter((f) => producersOf(f.group).some((p) => p.entity === entity));
    if (files.length === 0) {
      // Never swept: `incremental` says so even if a runtime ignored `skip`.
      plans.push({ stream: entity, mode: 'incremental', skip: `no file to read (${loc.unmatched.map((g) => `'${g.match}'`).join(', ') || 'no data file'} matches nothing in ${loc.root})` });
      continue;
    }
    const c = ctx.cursors[entity];
    if (c && c.complete === true && c.mapping === mapping && c.fingerprint === filesFingerprint(files)) {
      plans.push({ stream: entity, mode: s.mode, skip: `unchanged since last run (${files.length === 1 ? files[0].name : `${files.length} files`})` });
      continue;
    }
    plans.push({ stream: entity, mode: s.mode });
  }
  ctx.log.debug({ connector: ID, files: loc.files.length, ignored: loc.ignored.length }, 'mapped-csv plan');
  return plans;
}

async function check(raw: MappedCsvSettings, ctx: ConnectorContext): Promise<CheckResult> {
  try {
    const s = checked(raw);
    const loc = await locate(s, ctx.baseDir);
    requireFiles(loc, s);
    await headers(loc.files, s);
    const shown = loc.files.slice(0, 10).map((f) => `${f.name} (${[...new Set(producersOf(f.group).map((p) => p.entity))].join(', ')})`);
    const more = loc.files.length > 10 ? `, and ${loc.files.length - 10} more` : '';
    const ignored = loc.ignored.length ? `; ignored (no match): ${loc.ignored.slice(0, 10).join(', ')}${loc.ignored.length > 10 ? '…' : ''}` : '';
    const unmatched = loc.unmatched.length ? `; no file for ${loc.unmatched.map((g) => `'${g.match}'`).join(', ')}` : '';
    return {
      ok: true as const,
      details: `${loc.files.length} file${loc.files.length === 1 ? '' : 's'} in ${loc.root} (${s.mode}): ${shown.join(', ') || 'none'}${more}${ignored}${unmatched}`,
    };
  } catch (e) {
    const error = e instanceof HubError ? e : new HubError('internal_error', 'Unexpected error while checking the mapped CSV source.', [], { cause: e });
    return { ok: false, error };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Preview

export interface PreviewReject extends Reject {
  /** The entity type whose mapping failed; absent when the whole line is unreadable. */
  entity?: EntityType;
}

export interface PreviewResult {
  /** The records of the first rows, in row order (each row's parents before its records). */
  records: SourceRecord[];
  rejects: PreviewReject[];
  /** Settings and file problems; when there are any, nothing was mapped. */
  problems: Problem[];
  /** The files previewed (the first of each layout) and how many data rows were read from each. */
  files: Array<{ name: string; layout: string; rows: number }>;
}

/** The preview reads the first file (by name) of each layout. */
function firstOfEachLayout(files: CsvFile[]): CsvFile[] {
  const out: CsvFile[] = [];
  for (const f of files) if (!out.some((x) => x.group === f.group)) out.push(f);
  return out;
}

function problemsOf(e: unknown): Problem[] {
  if (e instanceof HubError) {
    if (e.code === 'connector_config_invalid') return e.details.map((d: ErrorDetail) => ({ path: d.path ?? '$', message: d.message }));
    return e.details.length ? e.details.map((d) => ({ path: '$.path', message: d.path ? `${d.path}: ${d.message}` : d.message })) : [{ path: '$.path', message: e.message }];
  }
  throw e;
}

/**
 * Maps the first `limit` data rows of the first file of each layout, without writing anything: what District IT
 * runs while writing a mapping (`hub connector preview <id>`). Never throws for bad settings or files: those come
 * back as `problems`.
 */
export async function previewMapping(settings: unknown, baseDir: string, opts: { limit?: number } = {}): Promise<PreviewResult> {
  const limit = Math.max(1, Math.floor(opts.limit ?? 10));
  const result: PreviewResult = { records: [], rejects: [], problems: [], files: [] };
  result.problems = validateMapping(settings);
  if (result.problems.length) {
    // Nothing is mapped, but the columns are still checked against the files when they can be read, so that one
    // preview lists every problem.
    try {
      const loc = await locate(settings as MappedCsvSettings, baseDir);
      const byName: Record<string, string[]> = {};
      for (const f of firstOfEachLayout(loc.files)) byName[f.name] = await readHeader(f, f.group.format);
      result.problems = validateMapping(settings, { headers: byName });
    } catch {
      // the settings problems say enough
    }
    return result;
  }
  const s = settings as MappedCsvSettings;
  let loc: Located;
  let hdrs: Map<CsvFile, Header>;
  let firsts: CsvFile[];
  try {
    loc = await locate(s, baseDir);
    firsts = firstOfEachLayout(loc.files);
    hdrs = await headers(firsts, s);
  } catch (e) {
    result.problems = problemsOf(e);
    return result;
  }
  for (const g of loc.unmatched) {
    if (s.files) result.problems.push({ path: `$.files[${g.index}].match`, message: `no file matches '${g.match}' in ${loc.root}` });
  }
  if (loc.files.length === 0) result.problems.push({ path: '$.path', message: `${loc.root} holds no .csv, .tsv or .txt file` });
  const seen = new Set<string>();
  const never = new AbortController().signal;
  for (const file of firsts) {
    const header = hdrs.get(file)!;
    const cps = producersOf(file.group).map((p) => compileProducer(p, header));
    let n = 0;
    try {
      outer: for await (const batch of rows(file, header, 0, never)) {
        for (const row of batch) {
          if (!row.fields.length && !row.malformed) continue;
          processRow(cps, row, header, seen, result, true);
          if (++n >= limit) break outer;
        }
      }
    } catch (e) {
      result.problems.push(...problemsOf(e));
    }
    result.files.push({ name: file.name, layout: s.files ? `files[${file.group.index}] '${file.group.match}'` : 'mappings', rows: n });
  }
  return result;
}

/** The preview as text for a terminal: problems, then records and rejects in row order, one per line. */
export function formatPreview(r: PreviewResult): string {
  const out: string[] = [];
  if (r.problems.length) {
    out.push(`${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}:`, ...formatProblems(r.problems).split('\n').map((l) => `  ${l}`));
  }
  for (const f of r.files) out.push(`${f.name} (${f.layout}): ${f.rows} row${f.rows === 1 ? '' : 's'} read`);
  type Item = { location: string; text: string };
  const lineOf = (loc: string) => Number(loc.slice(loc.lastIndexOf(':') + 1)) || 0;
  const rows: Item[] = [
    ...r.records.map((x) => ({ location: x.location ?? '', text: `${x.type} ${x.sourceId} ${JSON.stringify(x.data)}` })),
    ...r.rejects.map((x) => ({
      location: x.location,
      text: `REJECT ${x.entity ?? 'row'}${x.sourceId ? ` ${x.sourceId}` : ''}${x.field ? ` [${x.field}]` : ''}: ${x.reason}`,
    })),
  ];
  // Stable sort by file then line: records and rejects of a row stay together, in the order they were made.
  const fileOf = (loc: string) => loc.slice(0, loc.lastIndexOf(':'));
  rows.sort((a, b) => (fileOf(a.location) < fileOf(b.location) ? -1 : fileOf(a.location) > fileOf(b.location) ? 1 : lineOf(a.location) - lineOf(b.location)));
  if (rows.length) out.push(`${r.records.length} record${r.records.length === 1 ? '' : 's'}, ${r.rejects.length} reject${r.rejects.length === 1 ? '' : 's'}:`);
  for (const x of rows) out.push(`  ${x.location}  ${x.text}`);
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------------------------

export const mappedCsv: Connector<MappedCsvSettings> & {
  /** Mapping validation for the config loader: `[]` when the settings are fine (columns are checked at plan time). */
  validateSettings: (settings: unknown) => Problem[];
} = {
  manifest: {
    id: ID,
    title: 'Mapped CSV (vendor exports mapped by configuration)',
    version: '1.0.0',
    kind: ['assessment', 'behaviour', 'attendance', 'roster', 'gradebook', 'competency'],
    configSchema,
    secretFields: [],
    readInWorker: 'opt-in',
    streams: STREAMS.map((t) => ({ name: t, entities: [t], modes: ['full', 'incremental'] })),
  },
  check,
  plan,
  read: (stream, settings, ctx) => readStream(stream, settings, ctx),
  validateSettings: (settings) => validateMapping(settings),
};

export default mappedCsv;
