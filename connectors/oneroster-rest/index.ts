/**
 * oneroster-rest: reads a OneRoster 1.1 or 1.2 REST service (rostering, and gradebook when offered) with
 * limit/offset paging and `dateLastModified>` delta filters, and yields unified records. See README.md in this
 * folder for endpoints, auth, paging, cursors, retries, the mapping and the rejects.
 *
 * Spec: 1EdTech OneRoster 1.1 / 1.2 REST binding (rostering and gradebook services).
 */
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
import configSchema from '../../schemas/connectors/oneroster-rest.config.schema.json';
import { isDateTime } from '../oneroster-csv/mappers';
import { parentsFirst } from '../oneroster-csv/order';
import { OneRosterHttp, type JsonResponse } from './http';
import {
  isObj,
  mapAcademicSession,
  mapAssessmentLineItem,
  mapAssessmentResult,
  mapCategory,
  mapClass,
  mapCourse,
  mapDemographics,
  mapEnrollment,
  mapLineItem,
  mapOrg,
  mapResult,
  mapUser,
  mapUserRoles,
  type MapManyResult,
  type MapResult,
  type ObjContext,
} from './mappers';
import { deltaFilter, describeUrl, nextOffset, queryString } from './paging';
import { limiterFor } from './ratelimit';
import { gradebookRoot, normalize, type OneRosterRestSettings, type OneRosterVersion, type Settings } from './settings';

export type { OneRosterRestSettings } from './settings';

// ---------------------------------------------------------------------------------------------------------------
// Streams

interface StreamSpec {
  name: string;
  entity: EntityType;
  /** Path under the service root, and the envelope key of the collection (the data type, not the path). */
  endpoint: string;
  key: string;
  service: 'rostering' | 'gradebook';
  versions: OneRosterVersion[];
  /**
   * Optional streams are read when the source offers them: with the default selection, a 404 or 403 from the
   * endpoint skips the stream (with the reason in the run report) instead of failing the run.
   */
  optional: boolean;
  /** Read whole and yielded parents first (self-referencing: orgs.parent, academicSessions.parent). */
  buffered: boolean;
  /** Streams that yield the same entity type: a sweep is only safe when all of them are read in full. */
  group?: string;
  map(o: unknown, ctx: ObjContext): MapResult | MapManyResult;
}

const BOTH: OneRosterVersion[] = ['1.1', '1.2'];

/** In the order the runtime reads them: referenced records first. */
const STREAMS: StreamSpec[] = [
  { name: 'orgs', entity: 'org', endpoint: '/orgs', key: 'orgs', service: 'rostering', versions: BOTH, optional: false, buffered: true, map: mapOrg },
  { name: 'academicSessions', entity: 'academicSession', endpoint: '/academicSessions', key: 'academicSessions', service: 'rostering', versions: BOTH, optional: false, buffered: true, map: mapAcademicSession },
  { name: 'courses', entity: 'course', endpoint: '/courses', key: 'courses', service: 'rostering', versions: BOTH, optional: false, buffered: false, map: mapCourse },
  { name: 'classes', entity: 'class', endpoint: '/classes', key: 'classes', service: 'rostering', versions: BOTH, optional: false, buffered: false, map: mapClass },
  { name: 'users', entity: 'person', endpoint: '/users', key: 'users', service: 'rostering', versions: BOTH, optional: false, buffered: false, map: mapUser },
  // Roles have no endpoint: they are read from the users' roles[] (1.2) or role + orgs[] (1.1).
  { name: 'roles', entity: 'role', endpoint: '/users', key: 'users', service: 'rostering', versions: BOTH, optional: false, buffered: false, map: mapUserRoles },
  { name: 'demographics', entity: 'demographics', endpoint: '/demographics', key: 'demographics', service: 'rostering', versions: BOTH, optional: true, buffered: false, map: mapDemographics },
  { name: 'enrollments', entity: 'enrollment', endpoint: '/enrollments', key: 'enrollments', service: 'rostering', versions: BOTH, optional: false, buffered: false, map: mapEnrollment },
  { name: 'categories', entity: 'lineItemCategory', endpoint: '/categories', key: 'categories', service: 'gradebook', versions: BOTH, optional: true, buffered: false, map: mapCategory },
  { name: 'lineItems', entity: 'lineItem', endpoint: '/lineItems', key: 'lineItems', service: 'gradebook', versions: BOTH, optional: true, buffered: false, group: 'lineItem', map: mapLineItem },
  { name: 'assessmentLineItems', entity: 'lineItem', endpoint: '/assessmentLineItems', key: 'assessmentLineItems', service: 'gradebook', versions: ['1.2'], optional: true, buffered: false, group: 'lineItem', map: mapAssessmentLineItem },
  { name: 'results', entity: 'result', endpoint: '/results', key: 'results', service: 'gradebook', versions: BOTH, optional: true, buffered: false, group: 'result', map: mapResult },
  { name: 'assessmentResults', entity: 'result', endpoint: '/assessmentResults', key: 'assessmentResults', service: 'gradebook', versions: ['1.2'], optional: true, buffered: false, group: 'result', map: mapAssessmentResult },
];
const STREAM_BY_NAME = new Map(STREAMS.map((s) => [s.name, s]));

export function streamNames(version: OneRosterVersion): string[] {
  return STREAMS.filter((s) => s.versions.includes(version)).map((s) => s.name);
}

function streamSpec(name: string): StreamSpec {
  const spec = STREAM_BY_NAME.get(name);
  if (!spec) throw new HubError('internal_error', `oneroster-rest has no stream "${name}".`);
  return spec;
}

function settingsOf(raw: OneRosterRestSettings): Settings {
  return normalize(raw, streamNames);
}

function rootFor(spec: StreamSpec, s: Settings): URL | undefined {
  return spec.service === 'rostering' ? s.baseUrl : gradebookRoot(s);
}

function configError(path: string, message: string): HubError {
  return new HubError('connector_config_invalid', `oneroster-rest settings: ${path} ${message}`, [{ path, message }]);
}

/** The service root of a stream the settings ask for; throws when the stream cannot be read with these settings. */
function requireRoot(spec: StreamSpec, s: Settings): URL {
  if (!spec.versions.includes(s.version)) throw configError('version', `${s.version} has no ${spec.name} stream (it is OneRoster ${spec.versions.join('/')} only)`);
  const root = rootFor(spec, s);
  if (!root) {
    throw configError('gradebookBaseUrl', `is needed for ${spec.name}: baseUrl does not end in /rostering/v1p2, so the gradebook service root cannot be derived`);
  }
  return root;
}

function clientFor(s: Settings, ctx: ConnectorContext): OneRosterHttp {
  return new OneRosterHttp({
    auth: s.auth,
    timeoutMs: s.timeoutMs,
    maxRetries: s.maxRetries,
    limiter: limiterFor(`${ctx.tenantId}\u0000${ctx.connectorId}`, s.requestsPerSecond),
    log: ctx.log,
  });
}

/** `<root>/<endpoint>?limit=&offset=[&filter=dateLastModified>'since']`, strictly encoded. */
export function pageUrl(root: URL, endpoint: string, limit: number, offset: number, since?: string): URL {
  const params: Array<[string, string | number]> = [['limit', limit], ['offset', offset]];
  if (since !== undefined) params.push(['filter', deltaFilter(since)]);
  return new URL(`${root.href.replace(/\/+$/, '')}${endpoint}?${queryString(params)}`);
}

/** The collection array of a response: `{"users": [...]}`. */
function envelope(res: JsonResponse, spec: StreamSpec): unknown[] {
  const where = `GET ${res.url.pathname}`;
  if (!isObj(res.body)) {
    throw new HubError('source_invalid', `${res.url.host} answered ${where} with JSON that is not an object (expected {"${spec.key}": [...]}).`, [
      { path: where, message: `expected {"${spec.key}": [...]}` },
    ]);
  }
  const items = res.body[spec.key];
  if (!Array.isArray(items)) {
    const keys = Object.keys(res.body).slice(0, 5).map((k) => `"${k}"`).join(', ');
    throw new HubError(
      'source_invalid',
      `${res.url.host} answered ${where} without a "${spec.key}" array (found ${keys || 'no keys'}); is baseUrl the OneRoster ${spec.service} service root?`,
      [{ path: where, message: `no "${spec.key}" array` }],
    );
  }
  return items;
}

// ---------------------------------------------------------------------------------------------------------------
// Cursors
//
// In progress:  full   { offset, startedAt, maxSeen?, complete: false }
//               delta  { since, offset, startedAt, maxSeen?, complete: false }
// Done:                { since?, offset: 0, complete: true }
//
// `offset` is where the next page starts; `startedAt` is when the pull began (the server's Date header of its
// first page); `maxSeen` the greatest dateLastModified read so far (as the server wrote it); `since` the
// watermark of the pull in progress, or (done) the one the next delta reads from.

interface CursorState {
  since?: string;
  offset: number;
  startedAt?: string;
  maxSeen?: string;
  complete: boolean;
}

function validTime(v: unknown): v is string {
  return typeof v === 'string' && isDateTime(v);
}

/** A saved cursor, or undefined when it is missing or not one of ours (the stream then starts afresh). */
export function parseCursor(c: Cursor | undefined): CursorState | undefined {
  if (!c || typeof c.offset !== 'number' || !Number.isInteger(c.offset) || c.offset < 0 || typeof c.complete !== 'boolean') return undefined;
  if (c.since !== undefined && c.since !== null && !validTime(c.since)) return undefined;
  return {
    ...(validTime(c.since) ? { since: c.since } : {}),
    offset: c.offset,
    ...(validTime(c.startedAt) ? { startedAt: c.startedAt } : {}),
    ...(validTime(c.maxSeen) ? { maxSeen: c.maxSeen } : {}),
    complete: c.complete,
  };
}

type Position =
  /** No usable history: an unfiltered pull from offset 0 (mode full). */
  | { kind: 'fresh' }
  /** A pull interrupted after a committed page: go on from `offset` with the same filter (mode incremental). */
  | { kind: 'resume'; state: CursorState }
  /** The last pull completed with a watermark: a delta pull (mode incremental). */
  | { kind: 'delta'; since: string };

export function positionOf(c: Cursor | undefined): Position {
  const s = parseCursor(c);
  if (!s) return { kind: 'fresh' };
  if (s.complete) return s.since ? { kind: 'delta', since: s.since } : { kind: 'fresh' };
  if (s.since === undefined && s.offset === 0) return { kind: 'fresh' };
  return { kind: 'resume', state: s };
}

function toMs(v: string): number {
  return Date.parse(/(Z|[+-]\d{2}:?\d{2})$/.test(v) ? v : `${v}Z`);
}

/** The server's Date header as ISO, or this machine's clock. */
function serverTime(res: JsonResponse): string {
  const d = res.headers.get('date');
  const ms = d ? Date.parse(d) : NaN;
  return new Date(Number.isNaN(ms) ? Date.now() : ms).toISOString();
}

/**
 * The watermark a completed pull leaves: the greatest dateLastModified it read, but never later than the moment
 * the pull started (a record changed during the pull, on a page already read, must be read again next time).
 * Nothing read: a delta keeps its watermark; a full pull leaves none (the next run is a full pull again).
 */
export function watermark(since: string | undefined, maxSeen: string | undefined, startedAt: string | undefined): string | undefined {
  if (maxSeen === undefined) return since;
  if (startedAt !== undefined && toMs(maxSeen) > toMs(startedAt)) return startedAt;
  return maxSeen;
}

// ---------------------------------------------------------------------------------------------------------------
// read()

interface RawPage {
  offset: number;
  url: URL;
  /** Items with their index in the response (items repeated from the previous page are left out). */
  items: Array<{ index: number; item: unknown }>;
  next: number | null;
  res: JsonResponse;
}

function sourcedIdOf(o: unknown): string | undefined {
  return isObj(o) && typeof o.sourcedId === 'string' ? o.sourcedId.trim() : undefined;
}

/**
 * The pages of one collection from `offset`. Offset paging over a changing collection can show a record on two
 * consecutive pages (a record inserted before it shifts it); such repeats are dropped here, so the runtime does
 * not reject them as duplicates. A page that only repeats the previous one means the server ignores `offset`.
 */
async function* pagesOf(spec: StreamSpec, client: OneRosterHttp, root: URL, pageSize: number, start: number, since: string | undefined, signal: AbortSignal): AsyncGenerator<RawPage> {
  let offset = start;
  let previous = new Set<string>();
  for (;;) {
    signal.throwIfAborted();
    const url = pageUrl(root, spec.endpoint, pageSize, offset, since);
    const res = await client.getJson(url, signal);
    const all = envelope(res, spec);
    const ids = new Set<string>();
    const items: RawPage['items'] = [];
    for (let i = 0; i < all.length; i++) {
      const id = sourcedIdOf(all[i]);
      if (id !== undefined) {
        ids.add(id);
        if (previous.has(id)) continue;
      }
      items.push({ index: i, item: all[i] });
    }
    if (all.length > 0 && items.length === 0) {
      throw new HubError(
        'source_invalid',
        `${url.host} answered GET ${url.pathname} at offset ${offset} with the same records as the page before: the server seems to ignore the offset parameter.`,
        [{ path: `GET ${url.pathname}?offset=${offset}`, message: 'page repeats the previous page' }],
      );
    }
    const next = nextOffset({ offset, count: all.length, link: res.headers.get('link'), totalCount: res.headers.get('x-total-count'), requestUrl: url });
    yield { offset, url, items, next, res };
    if (next === null) return;
    offset = next;
    previous = ids;
  }
}

function collect(r: MapResult | MapManyResult, records: SourceRecord[], rejects: Reject[]): void {
  if ('rejects' in r && Array.isArray(r.rejects)) {
    for (const x of r.records) records.push(x);
    for (const x of r.rejects) rejects.push(x);
    return;
  }
  const one = r as MapResult;
  if (one.reject) rejects.push(one.reject);
  else records.push(one.record);
}

async function* readStream(name: string, raw: OneRosterRestSettings, ctx: ReadContext): AsyncGenerator<Page> {
  const spec = streamSpec(name);
  const s = settingsOf(raw);
  const root = requireRoot(spec, s);
  const { signal } = ctx;
  signal.throwIfAborted();
  const client = clientFor(s, ctx);

  // Mode full = this run must see every record (the runtime sweeps what it did not see): always from offset 0,
  // unfiltered. Mode incremental: resume an interrupted pull, or a delta from the watermark, or (no history) an
  // unfiltered pull that is not swept.
  const pos: Position = ctx.mode === 'full' ? { kind: 'fresh' } : positionOf(ctx.cursor);
  const since = pos.kind === 'delta' ? pos.since : pos.kind === 'resume' ? pos.state.since : undefined;
  const start = pos.kind === 'resume' && !spec.buffered ? pos.state.offset : 0;
  let startedAt = pos.kind === 'resume' ? pos.state.startedAt : undefined;
  let maxSeen = pos.kind === 'resume' ? pos.state.maxSeen : undefined;
  let maxSeenMs = maxSeen !== undefined ? toMs(maxSeen) : -Infinity;

  const progress = (offset: number): Cursor => ({
    ...(since !== undefined ? { since } : {}),
    offset,
    startedAt: startedAt ?? new Date().toISOString(),
    ...(maxSeen !== undefined ? { maxSeen } : {}),
    complete: false,
  });
  const done = (): Cursor => {
    const w = watermark(since, maxSeen, startedAt);
    return { ...(w !== undefined ? { since: w } : {}), offset: 0, complete: true };
  };
  const pathOf = spec.endpoint;
  const objCtx: ObjContext = { location: '', version: s.version };
  let pages = 0;
  let recordCount = 0;
  let rejectCount = 0;

  const mapPage = (p: RawPage, records: SourceRecord[], rejects: Reject[]): void => {
    if (startedAt === undefined) startedAt = serverTime(p.res);
    const prefix = `GET ${pathOf}?offset=${p.offset} $.${spec.key}[`;
    for (const { index, item } of p.items) {
      if (isObj(item) && typeof item.dateLastModified === 'string') {
        const v = item.dateLastModified.trim();
        if (isDateTime(v)) {
          const ms = toMs(v);
          if (ms > maxSeenMs) {
            maxSeenMs = ms;
            maxSeen = v;
          }
        }
      }
      objCtx.location = `${prefix}${index}]`;
      collect(spec.map(item, objCtx), records, rejects);
    }
  };

  ctx.log.debug({ connector: 'oneroster-rest', stream: name, mode: ctx.mode, position: pos.kind, offset: start, delta: since !== undefined }, 'oneroster-rest read');

  if (spec.buffered) {
    // Small self-referencing collections: read whole, then parents first. Intermediate cursors say offset 0 (a
    // resume re-reads the collection: the yield order is not the source order).
    const records: SourceRecord[] = [];
    const rejects: Reject[] = [];
    for await (const p of pagesOf(spec, client, root, s.pageSize, start, since, signal)) {
      pages++;
      mapPage(p, records, rejects);
    }
    const ordered = parentsFirst(records);
    recordCount = ordered.length;
    rejectCount = rejects.length;
    let i = 0;
    let ri = 0;
    for (;;) {
      const pageRecords = ordered.slice(i, i + s.pageSize);
      i += pageRecords.length;
      const pageRejects = rejects.slice(ri, ri + s.pageSize - pageRecords.length);
      ri += pageRejects.length;
      const complete = i >= ordered.length && ri >= rejects.length;
      yield { records: pageRecords, rejects: pageRejects, cursor: complete ? done() : progress(0) };
      if (complete) break;
      signal.throwIfAborted();
    }
  } else {
    for await (const p of pagesOf(spec, client, root, s.pageSize, start, since, signal)) {
      pages++;
      const records: SourceRecord[] = [];
      const rejects: Reject[] = [];
      mapPage(p, records, rejects);
      recordCount += records.length;
      rejectCount += rejects.length;
      yield { records, rejects, cursor: p.next === null ? done() : progress(p.next) };
    }
  }
  ctx.log.info({ connector: 'oneroster-rest', stream: name, pages, records: recordCount, rejects: rejectCount, requests: client.requests }, 'oneroster-rest stream read');
}

// ---------------------------------------------------------------------------------------------------------------
// plan() and check()

function httpStatus(e: unknown): number | undefined {
  if (!(e instanceof HubError)) return undefined;
  const s = e.details[0]?.status;
  return typeof s === 'number' ? s : undefined;
}

async function plan(raw: OneRosterRestSettings, ctx: PlanContext): Promise<StreamPlan[]> {
  const s = settingsOf(raw);
  const client = clientFor(s, ctx);
  const explicit = s.streams !== undefined;
  const probes = new Map<string, Promise<JsonResponse>>();
  const plans: StreamPlan[] = [];
  /** Streams of the selection that this run does not read in full (incremental or skipped). */
  const notFull = new Set<string>();
  // Listed streams must be readable with these settings: say so before any request.
  if (explicit) for (const name of s.streams!) requireRoot(streamSpec(name), s);

  for (const spec of STREAMS) {
    if (!spec.versions.includes(s.version)) {
      plans.push({ stream: spec.name, mode: 'incremental', skip: `not part of OneRoster ${s.version}` });
      continue;
    }
    if (explicit && !s.streams!.has(spec.name)) {
      plans.push({ stream: spec.name, mode: 'incremental', skip: 'not selected in settings.streams' });
      continue;
    }
    const root = rootFor(spec, s);
    if (!root) {
      plans.push({ stream: spec.name, mode: 'incremental', skip: 'gradebookBaseUrl is not set and cannot be derived from baseUrl' });
      notFull.add(spec.name);
      continue;
    }
    const pos = positionOf(ctx.cursors[spec.name]);
    const mode = pos.kind === 'fresh' ? 'full' : 'incremental';
    const since = pos.kind === 'delta' ? pos.since : pos.kind === 'resume' ? pos.state.since : undefined;
    // A one-record probe of what the read will ask for: the credentials, the endpoint and the filter are checked
    // before any page is committed, and a delta with nothing new is skipped.
    const url = pageUrl(root, spec.endpoint, 1, 0, since);
    let probe = probes.get(url.href);
    if (!probe) {
      probe = client.getJson(url, ctx.signal);
      probes.set(url.href, probe);
    }
    let res: JsonResponse;
    try {
      res = await probe;
    } catch (e) {
      const status = httpStatus(e);
      if (spec.optional && !explicit && (status === 404 || status === 403)) {
        plans.push({
          stream: spec.name,
          mode: 'incremental',
          skip:
            status === 404
              ? `the source does not offer GET ${url.pathname} (404)`
              : `the credentials may not read GET ${url.pathname} (403): grant the scope, or list the streams to read in settings.streams`,
        });
        notFull.add(spec.name);
        continue;
      }
      throw e;
    }
    const items = envelope(res, spec);
    if (pos.kind === 'delta' && items.length === 0) {
      plans.push({ stream: spec.name, mode: 'incremental', skip: `no changes since ${pos.since}` });
      notFull.add(spec.name);
      continue;
    }
    plans.push({ stream: spec.name, mode });
    if (mode !== 'full') notFull.add(spec.name);
  }

  // lineItems + assessmentLineItems both yield lineItem, results + assessmentResults both yield result: the
  // runtime sweeps by entity type, so a full read of one would delete the other's records when the other is not
  // read in full in the same run. Such a stream is still read from offset 0 unfiltered, but as incremental.
  for (const p of plans) {
    const spec = STREAM_BY_NAME.get(p.stream)!;
    if (p.skip || p.mode !== 'full' || !spec.group) continue;
    const sibling = STREAMS.find((o) => o.group === spec.group && o !== spec && notFull.has(o.name));
    if (sibling) {
      p.mode = 'incremental';
      ctx.log.info({ connector: 'oneroster-rest', stream: p.stream, sibling: sibling.name }, 'oneroster-rest: full read without sweep (a stream of the same entity type is not read in full)');
    }
  }
  ctx.log.debug({ connector: 'oneroster-rest', version: s.version, plans: plans.map((p) => `${p.stream}:${p.skip ? 'skip' : p.mode}`) }, 'oneroster-rest plan');
  return plans;
}

async function check(raw: OneRosterRestSettings, ctx: ConnectorContext): Promise<CheckResult> {
  try {
    const s = settingsOf(raw);
    const client = clientFor(s, ctx);
    if (s.auth.type === 'oauth2') await client.token(ctx.signal);
    const url = pageUrl(s.baseUrl, '/orgs', 1, 0);
    const res = await client.getJson(url, ctx.signal);
    envelope(res, STREAM_BY_NAME.get('orgs')!);
    const total = res.headers.get('x-total-count');
    return {
      ok: true,
      details: `OneRoster ${s.version} at ${s.baseUrl.host}${s.baseUrl.pathname}: ${s.auth.type} credentials accepted; GET ${describeUrl(url)} answered${total ? ` (X-Total-Count ${total})` : ''}`,
    };
  } catch (e) {
    const error = e instanceof HubError ? e : new HubError('internal_error', 'Unexpected error while checking the OneRoster service.', [], { cause: e });
    return { ok: false, error };
  }
}

// ---------------------------------------------------------------------------------------------------------------

export const oneRosterRest: Connector<OneRosterRestSettings> = {
  manifest: {
    id: 'oneroster-rest',
    title: 'OneRoster REST (1.1 / 1.2, rostering and gradebook)',
    version: '1.0.0',
    kind: ['roster', 'gradebook'],
    configSchema,
    // Top-level names are what today's runtime resolves; the dotted ones are where the secrets live in `auth`
    // (no-ops until the runtime resolves nested secret fields: see README.md, "Secrets").
    secretFields: ['clientSecret', 'consumerSecret', 'token', 'auth.clientSecret', 'auth.consumerSecret', 'auth.token'],
    streams: STREAMS.map((s) => ({ name: s.name, entities: [s.entity], modes: ['full', 'incremental'] })),
  },
  check,
  plan,
  read: (stream, settings, ctx) => readStream(stream, settings, ctx),
};

export default oneRosterRest;
