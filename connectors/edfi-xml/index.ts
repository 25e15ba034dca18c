/**
 * edfi-xml: reads Ed-Fi Data Standard 5 bulk XML interchange files (a folder of them, or one file) and yields unified
 * records: education organizations, courses, sessions, sections, students (+ demographics), program participation,
 * assessments and results, discipline, gradebook, attendance, interventions. See README.md for the mapping, the
 * rejects, the cursors and the limits.
 *
 * Files are streamed: saxes tokenizes them and each top-level element is built into an object and mapped on its own
 * (xml.ts), so memory stays bounded whatever the file size — except in the two small metadata streams
 * (educationOrganizations, assessments), which are read whole to yield parents first, and in the join indexes a few
 * streams build from small companion elements (README "Limits").
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
  SyncMode,
} from '../../src/ingest/contract';
import configSchema from '../../schemas/connectors/edfi-xml.config.schema.json';
import {
  ORG_ELEMENTS,
  PROGRAM_ASSOCIATIONS,
  collectStudentEdOrg,
  interventionInfo,
  itemStandardsOf,
  mapAssessment,
  mapCourse,
  mapDisciplineAction,
  mapDisciplineIncident,
  mapDisciplineParticipant,
  mapGradebookEntry,
  mapGradingPeriod,
  mapObjectiveAssessment,
  mapOrg,
  mapProgramAssociation,
  mapSchoolAttendance,
  mapSection,
  mapSectionAttendance,
  mapSession,
  mapStudent,
  mapStudentAssessment,
  mapStudentGradebookEntry,
  mapStudentIntervention,
  offeringInfo,
  type Joins,
  type MapContext,
  type MapResult,
} from './mappers';
import { describeFile, fingerprintOf, ioError, listFiles, openSource, openText, type InterchangeFile, type Source } from './source';
import { Descriptors, Fault, identityProjection, isObject, isRefTarget, sectionOf, type SectionParts } from './values';
import { ElementReader, ElementTooLargeError, type XmlElement, type XmlObject, type XmlValue } from './xml';

export interface EdfiXmlSettings {
  /** A folder of interchange .xml files, or one file; relative to ctx.baseDir. */
  path: string;
  /** Exact file names in the folder to read (default: every *.xml file). */
  files?: string[];
  /** Most records (+ rejects) per page, 1..50000 (default 2000). */
  pageSize?: number;
  /** Descriptor URI -> the code to use for it. */
  descriptorMap?: Record<string, string>;
  /** 'full' (default): the files are complete extracts, records missing from them are swept. 'incremental': changes only. */
  mode?: SyncMode;
}

const DEFAULT_PAGE_SIZE = 2000;
const MAX_PAGE_SIZE = 50000;

// ---------------------------------------------------------------------------------------------------------------
// Streams

type ElementMapper = (name: string, el: XmlValue, ctx: MapContext) => MapResult;
const plain = (fn: (el: XmlValue, ctx: MapContext) => MapResult): ElementMapper => (_name, el, ctx) => fn(el, ctx);

interface StreamSpec {
  name: string;
  entities: EntityType[];
  /** Interchanges whose files the stream reads (in file-name order). */
  interchanges: string[];
  /** Top-level elements mapped to records, by name. */
  elements: Record<string, ElementMapper>;
  /** Interchanges read beforehand to build `joins` (also part of the stream's fingerprint). */
  joinInterchanges?: string[];
  /** Builds the joins from the join files (elements named in `joinElements`). */
  joinElements?: string[];
  join?: (el: XmlElement & { value: XmlObject }, ctx: MapContext, joins: Joins) => void;
  /**
   * Read whole, then yielded parents first (`data.parentId` before the records naming it): the intermediate cursors
   * say `element: 0` because the yield order is not the file order, so a resume re-reads them whole. Small files.
   */
  buffered?: boolean;
  /** Elements of the stream's own files collected before mapping (buffered streams only). */
  collect?: (el: XmlElement & { value: XmlObject }, ctx: MapContext, joins: Joins) => void;
  collectElements?: string[];
}

const STREAMS: StreamSpec[] = [
  {
    name: 'educationOrganizations',
    entities: ['org'],
    interchanges: ['InterchangeEducationOrganization'],
    elements: Object.fromEntries(Object.keys(ORG_ELEMENTS).map((n) => [n, mapOrg])),
    buffered: true,
  },
  {
    name: 'courses',
    entities: ['course'],
    interchanges: ['InterchangeEducationOrganization'],
    elements: { Course: plain(mapCourse) },
  },
  {
    name: 'sessions',
    entities: ['academicSession'],
    interchanges: ['InterchangeEducationOrgCalendar'],
    elements: { Session: plain(mapSession), GradingPeriod: plain(mapGradingPeriod) },
  },
  {
    name: 'sections',
    entities: ['class'],
    interchanges: ['InterchangeMasterSchedule'],
    elements: { Section: plain(mapSection) },
    joinInterchanges: ['InterchangeMasterSchedule'],
    joinElements: ['CourseOffering'],
    join: (el, ctx, joins) => {
      const { key, info } = offeringInfo(el.value, ctx);
      (joins.offerings ??= new Map()).set(key, info);
    },
  },
  {
    name: 'students',
    entities: ['person', 'demographics'],
    interchanges: ['InterchangeStudent'],
    elements: { Student: plain(mapStudent) },
    joinInterchanges: ['InterchangeStudentEnrollment'],
    joinElements: ['StudentEducationOrganizationAssociation'],
    join: (el, ctx, joins) => collectStudentEdOrg(el.value, ctx, (joins.studentEdOrg ??= new Map())),
  },
  {
    name: 'programs',
    entities: ['programParticipation'],
    interchanges: ['InterchangeStudentProgram'],
    elements: Object.fromEntries(PROGRAM_ASSOCIATIONS.map((n) => [n, mapProgramAssociation])),
  },
  {
    name: 'assessments',
    entities: ['assessment'],
    interchanges: ['InterchangeAssessmentMetadata'],
    elements: { Assessment: plain(mapAssessment), ObjectiveAssessment: plain(mapObjectiveAssessment) },
    buffered: true,
    collectElements: ['AssessmentItem'],
    collect: (el, ctx, joins) => {
      const { key, standards } = itemStandardsOf(el.value, ctx);
      if (standards.length) (joins.itemStandards ??= new Map()).set(key, standards);
    },
  },
  {
    name: 'assessmentResults',
    entities: ['assessmentResult'],
    interchanges: ['InterchangeStudentAssessment'],
    elements: { StudentAssessment: plain(mapStudentAssessment) },
  },
  {
    name: 'disciplineIncidents',
    entities: ['behaviourIncident'],
    interchanges: ['InterchangeStudentDiscipline'],
    elements: { DisciplineIncident: plain(mapDisciplineIncident) },
  },
  {
    name: 'disciplineParticipants',
    entities: ['behaviourParticipant'],
    interchanges: ['InterchangeStudentDiscipline'],
    elements: {
      StudentDisciplineIncidentBehaviorAssociation: mapDisciplineParticipant,
      StudentDisciplineIncidentNonOffenderAssociation: mapDisciplineParticipant,
    },
  },
  {
    name: 'disciplineActions',
    entities: ['disciplineAction'],
    interchanges: ['InterchangeStudentDiscipline'],
    elements: { DisciplineAction: plain(mapDisciplineAction) },
  },
  {
    name: 'gradebookEntries',
    entities: ['lineItem'],
    interchanges: ['InterchangeStudentGradebook'],
    elements: { GradebookEntry: plain(mapGradebookEntry) },
    joinInterchanges: ['InterchangeMasterSchedule'],
    joinElements: ['Section'],
    join: (el, ctx, joins) => {
      let parts: SectionParts;
      try {
        parts = sectionOf(el.value, 'Section', ctx);
      } catch (e) {
        if (e instanceof Fault) return; // the sections stream reports it
        throw e;
      }
      const m = (joins.sectionsByIdentifier ??= new Map());
      const list = m.get(parts.sectionIdentifier);
      if (list) list.push(parts);
      else m.set(parts.sectionIdentifier, [parts]);
    },
  },
  {
    name: 'gradebookResults',
    entities: ['result'],
    interchanges: ['InterchangeStudentGradebook'],
    elements: { StudentGradebookEntry: plain(mapStudentGradebookEntry) },
  },
  {
    name: 'attendance',
    entities: ['attendanceEvent'],
    interchanges: ['InterchangeStudentAttendance'],
    elements: { StudentSchoolAttendanceEvent: plain(mapSchoolAttendance), StudentSectionAttendanceEvent: plain(mapSectionAttendance) },
  },
  {
    name: 'interventions',
    entities: ['intervention'],
    interchanges: ['InterchangeStudentIntervention'],
    elements: { StudentInterventionAssociation: plain(mapStudentIntervention) },
    joinInterchanges: ['InterchangeStudentIntervention'],
    joinElements: ['Intervention'],
    join: (el, ctx, joins) => {
      const { key, info } = interventionInfo(el.value, ctx);
      (joins.interventions ??= new Map()).set(key, info);
    },
  },
];
const STREAM_BY_NAME = new Map(STREAMS.map((s) => [s.name, s]));

/** Every interchange some stream reads. */
const READ_INTERCHANGES = new Set(STREAMS.flatMap((s) => [...s.interchanges, ...(s.joinInterchanges ?? [])]));

function streamSpec(name: string): StreamSpec {
  const spec = STREAM_BY_NAME.get(name);
  if (!spec) throw new HubError('internal_error', `edfi-xml has no stream "${name}".`);
  return spec;
}

// ---------------------------------------------------------------------------------------------------------------
// Settings

interface Settings {
  path: string;
  files?: string[];
  pageSize: number;
  descriptorMap: Record<string, string>;
  mode: SyncMode;
}

/** The runtime validates settings against configSchema; this guards direct callers and gives the defaults. */
function normalize(settings: EdfiXmlSettings): Settings {
  const bad = (path: string, message: string): HubError =>
    new HubError('connector_config_invalid', `edfi-xml settings: ${path} ${message}`, [{ path, message }]);
  if (!settings || typeof settings.path !== 'string' || settings.path === '') throw bad('path', 'must be a non-empty string');
  const pageSize = settings.pageSize ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) throw bad('pageSize', `must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  if (settings.files !== undefined) {
    if (!Array.isArray(settings.files)) throw bad('files', 'must be a list of file names');
    for (const f of settings.files) {
      if (typeof f !== 'string' || f === '' || /[/\\*?[\]]/.test(f)) throw bad('files', 'must list plain file names (no folders, no wildcards)');
    }
  }
  const map = settings.descriptorMap ?? {};
  if (typeof map !== 'object' || map === null || Array.isArray(map) || Object.values(map).some((v) => typeof v !== 'string' || v === '')) {
    throw bad('descriptorMap', 'must map descriptor URIs to non-empty codes');
  }
  const mode = settings.mode ?? 'full';
  if (mode !== 'full' && mode !== 'incremental') throw bad('mode', 'must be full or incremental');
  return { path: settings.path, ...(settings.files ? { files: settings.files } : {}), pageSize, descriptorMap: map, mode };
}

function sourcePath(settings: Settings, ctx: ConnectorContext): string {
  return resolve(ctx.baseDir, settings.path);
}

// ---------------------------------------------------------------------------------------------------------------
// Files of a stream

interface StreamFiles {
  main: InterchangeFile[];
  join: InterchangeFile[];
  fingerprint: string;
}

function filesOf(source: Source, interchanges: string[] | undefined): InterchangeFile[] {
  if (!interchanges) return [];
  return source.files.filter((f) => interchanges.includes(f.interchange));
}

function streamFiles(spec: StreamSpec, source: Source): StreamFiles {
  const main = filesOf(source, spec.interchanges);
  const join = filesOf(source, spec.joinInterchanges);
  const all = [...main, ...join.filter((f) => !main.includes(f))];
  return { main, join, fingerprint: fingerprintOf(all) };
}

function xmlError(file: InterchangeFile, e: unknown): HubError {
  if (e instanceof ElementTooLargeError) {
    return new HubError('source_invalid', `${file.name}:${e.line}: ${e.message}`, [{ path: `${file.name}:${e.line}`, message: e.message }]);
  }
  const err = e as { line: number; column: number; detail: string };
  const message = `XML is truncated or malformed at line ${err.line}, column ${err.column}: ${err.detail}`;
  return new HubError('source_invalid', `${file.name}:${err.line}:${err.column}: ${message}`, [{ path: `${file.name}:${err.line}:${err.column}`, message }]);
}

/**
 * The top-level elements of one file, in batches. `want(name, index)` says which to build; elements that may be
 * the target of `ref="…"` are built too when they carry an `id`. Throws source_invalid at the first XML error —
 * after the batches completed before it — and when the file is no longer the interchange it was.
 */
async function* fileElements(file: InterchangeFile, want: (name: string, index: number) => boolean, signal: AbortSignal): AsyncGenerator<XmlElement[]> {
  let index = 0;
  const reader = new ElementReader((name, hasId) => {
    index++;
    return want(name, index) || (hasId && isRefTarget(name));
  });
  const input = openText(file);
  try {
    for await (const chunk of input) {
      signal.throwIfAborted();
      reader.write(chunk);
      if (reader.root && reader.root.name !== file.interchange) {
        throw new HubError('source_invalid', `${file.name}: the file changed while it was being read (its root is now <${reader.root.name}>)`, [
          { path: file.name, message: 'changed while being read' },
        ]);
      }
      const batch = reader.take();
      if (batch.length) yield batch;
      if (reader.error) break;
    }
    if (!reader.error) reader.end();
    const rest = reader.take();
    if (rest.length) yield rest;
  } catch (e) {
    if (e instanceof HubError || (e as Error)?.name === 'AbortError') throw e;
    throw ioError(file.name, e);
  } finally {
    await input.return(undefined);
  }
  if (reader.error) throw xmlError(file, reader.error);
}

function remember(ids: Map<string, XmlObject>, el: XmlElement): void {
  if (el.id === undefined || el.value === undefined || !isRefTarget(el.name)) return;
  const p = identityProjection(el.name, el.value);
  if (p) ids.set(el.id, p);
}

function mapContext(file: string, descriptors: Descriptors, joins: Joins): MapContext {
  return { file, line: 0, descriptors, joins, ids: new Map() };
}

/** A reject for a companion element (join) that cannot be read. */
function joinReject(e: unknown, el: XmlElement, ctx: MapContext): Reject {
  if (!(e instanceof Fault)) throw e;
  return { location: `${ctx.file}:${el.line}`, field: e.field, reason: `${e.reason} (this ${el.name} is ignored)`, code: e.code, raw: el.value };
}

/**
 * Reads the join files of a stream into `joins`; what cannot be read becomes rejects. The id index of each file read
 * is kept too: when a stream pre-reads its own files (sections, interventions), `ref="…"` may then point forward.
 */
async function prepareJoins(
  spec: StreamSpec,
  files: InterchangeFile[],
  descriptors: Descriptors,
  signal: AbortSignal,
): Promise<{ joins: Joins; rejects: Reject[]; ids: Map<string, Map<string, XmlObject>> }> {
  const joins: Joins = {};
  const rejects: Reject[] = [];
  const ids = new Map<string, Map<string, XmlObject>>();
  if (!spec.join || !spec.joinElements) return { joins, rejects, ids };
  const names = new Set(spec.joinElements);
  for (const file of files) {
    const ctx = mapContext(file.name, descriptors, joins);
    ids.set(file.name, ctx.ids);
    for await (const batch of fileElements(file, (name) => names.has(name), signal)) {
      for (const el of batch) {
        remember(ctx.ids, el);
        if (!names.has(el.name) || !isObject(el.value)) continue;
        ctx.line = el.line;
        try {
          spec.join(el as XmlElement & { value: XmlObject }, ctx, joins);
        } catch (e) {
          rejects.push(joinReject(e, el, ctx));
        }
      }
    }
  }
  return { joins, rejects, ids };
}

// ---------------------------------------------------------------------------------------------------------------
// Pages

function count(r: MapResult): number {
  return r.reject ? 1 : r.records.length;
}

function collect(r: MapResult, records: SourceRecord[], rejects: Reject[]): void {
  if (r.reject) rejects.push(r.reject);
  else for (const rec of r.records) records.push(rec);
}

/**
 * The runtime handles a page's records type by type, in the order each type first appears. A stream with several
 * types (students: person, demographics) puts the referenced type first, so a demographics record never precedes
 * its person in a page.
 */
function ordered(records: SourceRecord[], entities: EntityType[]): SourceRecord[] {
  if (entities.length < 2) return records;
  const rank = new Map(entities.map((t, i) => [t, i]));
  return records
    .map((r, i) => ({ r, i }))
    .sort((a, b) => (rank.get(a.r.type) ?? 0) - (rank.get(b.r.type) ?? 0) || a.i - b.i)
    .map((x) => x.r);
}

/** Parents before children (by `data.parentId` among the records); order otherwise kept; cycles broken. */
export function parentsFirst(records: SourceRecord[]): SourceRecord[] {
  const byId = new Map<string, SourceRecord>();
  for (const r of records) if (!byId.has(r.sourceId)) byId.set(r.sourceId, r);
  const out: SourceRecord[] = [];
  const state = new Map<SourceRecord, 1 | 2>();
  for (const start of records) {
    // Walk up to the first ancestor not yet placed, then place the chain top-down (iterative: deep trees are fine).
    const chain: SourceRecord[] = [];
    let cur: SourceRecord | undefined = start;
    while (cur && !state.has(cur)) {
      state.set(cur, 1);
      chain.push(cur);
      const parent: unknown = cur.data.parentId;
      cur = typeof parent === 'string' ? byId.get(parent) : undefined;
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      state.set(chain[i], 2);
      out.push(chain[i]);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// read()

async function* readStream(name: string, raw: EdfiXmlSettings, ctx: ReadContext): AsyncGenerator<Page> {
  const spec = streamSpec(name);
  const settings = normalize(raw);
  const { signal } = ctx;
  signal.throwIfAborted();
  const source = await openSource(sourcePath(settings, ctx), settings.files);
  const files = streamFiles(spec, source);
  if (!files.main.length) {
    throw new HubError('source_invalid', `stream ${name} has nothing to read: no ${spec.interchanges.join(' or ')} file in ${source.path}`, [
      { path: source.path, message: `no ${spec.interchanges.join(' or ')} file` },
    ]);
  }
  const descriptors = new Descriptors(settings.descriptorMap);
  const { joins, rejects: joinRejects, ids: joinIds } = await prepareJoins(spec, files.join, descriptors, signal);
  if (spec.buffered) {
    yield* readBuffered(spec, files, descriptors, joins, joinRejects, settings.pageSize, signal);
    return;
  }
  const saved = ctx.cursor && ctx.cursor.fingerprint === files.fingerprint ? ctx.cursor : undefined;
  // Incremental mode resumes after the last committed element of the same files. Full mode always reads every
  // element: the runtime's mark-and-sweep needs to see them all.
  const resumeAfter = ctx.mode === 'incremental' && saved && saved.complete !== true && typeof saved.element === 'number' ? saved.element : 0;
  const { fingerprint } = files;
  const pageSize = settings.pageSize;
  let records: SourceRecord[] = [];
  let rejects: Reject[] = resumeAfter > 0 ? [] : joinRejects;
  let covered = resumeAfter;
  let base = 0;
  const page = (complete: boolean): Page => ({
    records: ordered(records, spec.entities),
    rejects,
    cursor: { fingerprint, element: covered, complete },
  });

  for (const file of files.main) {
    const mctx = mapContext(file.name, descriptors, joins);
    const known = joinIds.get(file.name);
    if (known) mctx.ids = known;
    let last = 0;
    try {
      for await (const batch of fileElements(file, (n, i) => base + i > resumeAfter && n in spec.elements, signal)) {
        for (const el of batch) {
          remember(mctx.ids, el);
          last = el.index;
          const idx = base + el.index;
          if (idx <= resumeAfter) continue;
          const mapper = spec.elements[el.name];
          if (mapper && el.value !== undefined) {
            mctx.line = el.line;
            const result = mapper(el.name, el.value, mctx);
            // A page is handed over only when the next element does not fit, so `covered` is always the last
            // element the page covers, and the last page is never empty unless the whole stream produced nothing.
            const size = records.length + rejects.length;
            if (size > 0 && size + count(result) > pageSize) {
              yield page(false);
              signal.throwIfAborted();
              records = [];
              rejects = [];
            }
            collect(result, records, rejects);
          }
          covered = idx;
        }
      }
    } catch (e) {
      // A malformed or truncated file: hand over what was read before the error (its cursor lets an incremental
      // run resume there), then fail the stream.
      if (e instanceof HubError && e.code === 'source_invalid' && records.length + rejects.length > 0) yield page(false);
      throw e;
    }
    base += last;
  }
  yield page(true);
}

async function* readBuffered(
  spec: StreamSpec,
  files: StreamFiles,
  descriptors: Descriptors,
  joins: Joins,
  joinRejects: Reject[],
  pageSize: number,
  signal: AbortSignal,
): AsyncGenerator<Page> {
  const wanted = new Set([...Object.keys(spec.elements), ...(spec.collectElements ?? [])]);
  const collectNames = new Set(spec.collectElements ?? []);
  const rejects: Reject[] = [...joinRejects];
  const pending: Array<{ el: XmlElement; ctx: MapContext }> = [];
  let total = 0;
  for (const file of files.main) {
    const mctx = mapContext(file.name, descriptors, joins);
    let last = 0;
    for await (const batch of fileElements(file, (n) => wanted.has(n), signal)) {
      for (const el of batch) {
        last = el.index;
        remember(mctx.ids, el);
        if (el.value === undefined) continue;
        if (collectNames.has(el.name)) {
          if (!isObject(el.value)) continue;
          try {
            mctx.line = el.line;
            spec.collect!(el as XmlElement & { value: XmlObject }, mctx, joins);
          } catch (e) {
            rejects.push(joinReject(e, el, mctx));
          }
        } else if (el.name in spec.elements) {
          // Mapped once the file is read: a ref="…" may name an element further down.
          pending.push({ el, ctx: mctx });
        }
      }
    }
    total += last;
  }
  const records: SourceRecord[] = [];
  for (const { el, ctx } of pending) {
    ctx.line = el.line;
    collect(spec.elements[el.name](el.name, el.value!, ctx), records, rejects);
  }
  const all = parentsFirst(records);
  // Records fill the pages first, rejects the room left. At most pageSize items a page.
  let i = 0;
  let ri = 0;
  for (;;) {
    const pageRecords = all.slice(i, i + pageSize);
    i += pageRecords.length;
    const pageRejects = rejects.slice(ri, ri + pageSize - pageRecords.length);
    ri += pageRejects.length;
    const complete = i >= all.length && ri >= rejects.length;
    yield { records: pageRecords, rejects: pageRejects, cursor: { fingerprint: files.fingerprint, element: complete ? total : 0, complete } };
    if (complete) return;
    signal.throwIfAborted();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// plan() and check()

function sameFiles(cursor: Cursor | undefined, fingerprint: string): Cursor | undefined {
  return cursor && cursor.fingerprint === fingerprint ? cursor : undefined;
}

const listNames = (files: InterchangeFile[]) => files.map((f) => f.name).join(', ');

async function plan(raw: EdfiXmlSettings, ctx: PlanContext): Promise<StreamPlan[]> {
  const settings = normalize(raw);
  const source = await openSource(sourcePath(settings, ctx), settings.files);
  const plans: StreamPlan[] = [];
  for (const spec of STREAMS) {
    const files = streamFiles(spec, source);
    if (!files.main.length) {
      // A skipped stream is not read, so it is never swept: `incremental` says so even if a runtime ignored `skip`.
      plans.push({ stream: spec.name, mode: 'incremental', skip: `no ${spec.interchanges.join(' or ')} file` });
      continue;
    }
    const saved = sameFiles(ctx.cursors[spec.name], files.fingerprint);
    if (saved && saved.complete === true) {
      plans.push({ stream: spec.name, mode: settings.mode, skip: `unchanged since last run (${listNames([...files.main, ...files.join.filter((f) => !files.main.includes(f))])})` });
      continue;
    }
    plans.push({ stream: spec.name, mode: settings.mode });
  }
  ctx.log.debug({ connector: 'edfi-xml', files: source.files.length }, 'edfi-xml plan');
  return plans;
}

async function check(raw: EdfiXmlSettings, ctx: ConnectorContext): Promise<CheckResult> {
  try {
    const settings = normalize(raw);
    const path = sourcePath(settings, ctx);
    const names = await listFiles(path, settings.files);
    const found: InterchangeFile[] = [];
    const problems: string[] = [];
    for (const { name, path: p } of names) {
      try {
        found.push(await describeFile(p, name));
      } catch (e) {
        if (!(e instanceof HubError)) throw e;
        problems.push(e.message);
      }
    }
    if (!found.length) {
      const error = new HubError('source_invalid', `No Ed-Fi interchange file in ${path}${problems.length ? `: ${problems.join('; ')}` : ''}`, [
        { path, message: 'no Ed-Fi interchange file' },
        ...problems.map((m) => ({ path, message: m })),
      ]);
      return { ok: false, error };
    }
    const read = found.filter((f) => READ_INTERCHANGES.has(f.interchange));
    const unread = found.filter((f) => !READ_INTERCHANGES.has(f.interchange));
    const streams = STREAMS.filter((s) => found.some((f) => s.interchanges.includes(f.interchange))).map((s) => s.name);
    const parts = [
      `${found.length} Ed-Fi interchange file(s): ${read.map((f) => `${f.name} (${f.interchange})`).join(', ') || 'none this connector reads'}`,
      `streams: ${streams.join(', ') || 'none'}`,
    ];
    if (unread.length) parts.push(`not read: ${unread.map((f) => `${f.name} (${f.interchange})`).join(', ')}`);
    const versions = [...new Set(found.map((f) => f.namespace).filter((n): n is string => !!n && !n.startsWith('http://ed-fi.org/5.')))];
    if (versions.length) parts.push(`warning: namespace ${versions.join(', ')} is not Data Standard 5 (the mapping follows DS 5)`);
    if (problems.length) parts.push(`problems (a sync refuses these files; exclude them with "files"): ${problems.join('; ')}`);
    return { ok: true, details: parts.join('; ') };
  } catch (e) {
    const error = e instanceof HubError ? e : new HubError('internal_error', 'Unexpected error while checking the Ed-Fi interchange files.', [], { cause: e });
    return { ok: false, error };
  }
}

// ---------------------------------------------------------------------------------------------------------------

export const edfiXml: Connector<EdfiXmlSettings> = {
  manifest: {
    id: 'edfi-xml',
    title: 'Ed-Fi XML interchanges (Data Standard 5)',
    version: '1.0.0',
    kind: ['roster', 'assessment', 'gradebook', 'behaviour', 'attendance'],
    configSchema,
    secretFields: [],
    readInWorker: 'default',
    streams: STREAMS.map((s) => ({ name: s.name, entities: s.entities, modes: ['full', 'incremental'] })),
  },
  check,
  plan,
  read: (stream, settings, ctx) => readStream(stream, settings, ctx),
};

export default edfiXml;
