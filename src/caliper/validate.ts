/**
 * The semantic Caliper validator. The official JSON Schemas (draft-04) check shapes but not what makes an event
 * meaningful — which actions an event type permits, which entity types may be its actor, object or generated
 * entity, the id and date formats — so the hub checks those itself, for Caliper 1.1 and 1.2:
 *
 *  - envelope: `{sensor, sendTime, dataVersion, data[]}`, nothing else, `data` non-empty;
 *  - event: `@context`, `id` (`urn:uuid:<uuid>`), `type`, `actor`, `action`, `object`, `eventTime` required (null
 *    counts as missing); the type is a Caliper event type of the version (1.2 types under 1.1 only with their 1.1
 *    profile-extension context); the action is one the type permits; the 1.2 `profile` uses the type; actor, object,
 *    generated, target, referrer, edApp, group, membership, session and federatedSession have the entity types the
 *    specification allows (e.g. GradeEvent generated is a Score, SessionEvent TimedOut actor is a
 *    SoftwareApplication, ToolLaunchEvent Launched carries a federatedSession);
 *  - entity: `id` (an IRI) and `type` (a known Caliper type) required; every property the model knows has its type
 *    (string, number, non-negative integer, boolean, list, date-time, duration, controlled vocabulary, entity of a
 *    given type); unknown properties are left alone, custom data belongs under `extensions` (any JSON object);
 *  - `@context`: the Caliper context of the envelope's version, an array whose last element is that context, or an
 *    inline context object; nested entities may repeat it;
 *  - dates `YYYY-MM-DDTHH:mm:ss.SSSZ` (UTC, milliseconds, a real calendar date); durations ISO 8601 (`PT1H2M3.5S`);
 *  - optional properties that are null are treated as absent (the specification says SHOULD omit them).
 *
 * Every problem names its JSON path (`$.data[2].generated.type`), a rule id and a reason. Messages quote vocabulary
 * terms and type names, never free-text values (they may be student data and end up in logs).
 */
import { EMBEDDED_REQUIRED, ENTITY_TYPES, EVENT_TYPES, PROFILE_EVENTS, isA, propsOf, type EventDef, type Kind, type Slots } from './model';
import {
  ACTIONS_V1P1, ACTIONS_V1P2, ACTION_ALIASES, CALIPER_CONTEXT, EXTENSION_OF_CONTEXT, PROFILES, V1P1_EXTENSIONS, contextsOf, versionOf,
  type CaliperVersion, type V1p1Extension,
} from './vocab';

export type Rule =
  | 'json' // not JSON / not an object
  | 'envelope' // envelope shape
  | 'required' // a required property is missing
  | 'null' // a required property is null
  | 'context' // @context unknown, misplaced or of another version
  | 'event-type' // not an event type of this version
  | 'action' // action unknown, or not permitted for the event type
  | 'profile' // profile unknown, or does not use the event type
  | 'entity-type' // entity of a type the property does not allow
  | 'unknown-type' // not a Caliper type
  | 'uuid' // event id is not urn:uuid:<uuid>
  | 'iri' // not an IRI
  | 'datetime' // not YYYY-MM-DDTHH:mm:ss.SSSZ
  | 'duration' // not an ISO 8601 duration
  | 'value-type' // wrong JSON type (string, number, integer, boolean, list, object)
  | 'vocab' // not a term of a controlled vocabulary
  | 'depth'; // nested too deeply

export interface Problem {
  path: string;
  rule: Rule;
  message: string;
}

const MAX_DEPTH = 24;
/** Caliper's minimum supported length for ids (Appendix G); the byte cap keeps an indexed IRI within a PostgreSQL B-tree entry. */
const MAX_IRI_CHARS = 2048;
const MAX_IRI_BYTES = 2600;
const MAX_PROBLEMS_PER_ITEM = 20;

const UUID_URN = /^urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
// An absolute IRI: a scheme, a colon, then no whitespace, control characters or characters IRIs exclude.
// eslint-disable-next-line no-control-regex
const IRI = /^[A-Za-z][A-Za-z0-9+.-]*:[^\s\u0000-\u001f\u007f<>"{}|\\^`]+$/;
const DATETIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.\d{3}Z$/;
const DURATION = /^P(?!$)(\d+(?:[.,]\d+)?Y)?(\d+(?:[.,]\d+)?M)?(\d+(?:[.,]\d+)?W)?(\d+(?:[.,]\d+)?D)?(T(?=\d)(\d+(?:[.,]\d+)?H)?(\d+(?:[.,]\d+)?M)?(\d+(?:[.,]\d+)?S)?)?$/;
const TERM = /^[A-Za-z0-9#._-]{1,64}$/;

/** Vocabulary terms and type names are quoted in messages; anything else is not (it could be personal data). */
function term(v: unknown): string {
  return typeof v === 'string' && TERM.test(v) ? `'${v}'` : 'the value';
}

/** "a Person", "an Attempt or Result". */
function oneOf(types: readonly string[]): string {
  return `${/^[AEIOU]/.test(types[0] ?? '') ? 'an' : 'a'} ${types.join(' or ')}`;
}

export function isIri(v: unknown): v is string {
  return typeof v === 'string' && v.length <= MAX_IRI_CHARS && IRI.test(v) && (v.length <= MAX_IRI_BYTES / 4 || Buffer.byteLength(v) <= MAX_IRI_BYTES);
}

/** `YYYY-MM-DDTHH:mm:ss.SSSZ` that is a real UTC instant (no Feb 30, no hour 24). */
export function isCaliperDateTime(v: unknown): v is string {
  if (typeof v !== 'string') return false;
  const m = DATETIME.exec(v);
  if (!m) return false;
  const [y, mo, d, h, mi, s] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])];
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return false;
  const days = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  return d <= days;
}

export function isDuration(v: unknown): v is string {
  return typeof v === 'string' && DURATION.test(v);
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

interface Ctx {
  version: CaliperVersion;
  contexts: ReadonlySet<string>;
  /** 1.1 profile extensions named by the item's @context. */
  extensions: Set<V1p1Extension>;
  problems: Problem[];
}

function add(ctx: Ctx, path: string, rule: Rule, message: string): void {
  if (ctx.problems.length < MAX_PROBLEMS_PER_ITEM) ctx.problems.push({ path, rule, message });
}

function newCtx(version: CaliperVersion): Ctx {
  return { version, contexts: contextsOf(version), extensions: new Set(), problems: [] };
}

const VERSION_NAME: Record<CaliperVersion, string> = { v1p1: 'Caliper 1.1', v1p2: 'Caliper 1.2' };

// ---------------------------------------------------------------------------------------------------------------
// @context

function checkContextIri(ctx: Ctx, v: string, path: string, mustBeCaliper: boolean): void {
  if (ctx.contexts.has(v)) {
    const ext = EXTENSION_OF_CONTEXT.get(v);
    if (ext) ctx.extensions.add(ext);
    return;
  }
  const other = (Object.keys(CALIPER_CONTEXT) as CaliperVersion[]).find((k) => k !== ctx.version && contextsOf(k).has(v));
  if (other) {
    add(ctx, path, 'context', `is the ${VERSION_NAME[other]} context but the envelope's dataVersion is ${VERSION_NAME[ctx.version]}`);
  } else if (mustBeCaliper) {
    add(ctx, path, 'context', `is not a ${VERSION_NAME[ctx.version]} context (expected '${CALIPER_CONTEXT[ctx.version]}')`);
  } else if (!isIri(v)) {
    add(ctx, path, 'context', 'must be a context IRI or an inline context object');
  }
}

function checkContext(ctx: Ctx, v: unknown, path: string, required: boolean): void {
  if (v === undefined || v === null) {
    if (required) add(ctx, path, v === null ? 'null' : 'required', `is required (the ${VERSION_NAME[ctx.version]} context)`);
    return;
  }
  if (typeof v === 'string') return checkContextIri(ctx, v, path, true);
  if (Array.isArray(v)) {
    if (!v.length) return add(ctx, path, 'context', 'must not be an empty list');
    v.forEach((c, i) => {
      const at = `${path}[${i}]`;
      if (typeof c === 'string') checkContextIri(ctx, c, at, i === v.length - 1);
      else if (!isPlainObject(c)) add(ctx, at, 'context', 'must be a context IRI or an inline context object');
      else if (i === v.length - 1) add(ctx, at, 'context', `the Caliper context must be the last element (expected '${CALIPER_CONTEXT[ctx.version]}')`);
    });
    return;
  }
  // An inline context object defines the terms itself; the envelope's dataVersion says which model applies.
  if (!isPlainObject(v)) add(ctx, path, 'context', 'must be a context IRI, a list of contexts or an inline context object');
}

// ---------------------------------------------------------------------------------------------------------------
// Values

function checkKind(ctx: Ctx, v: unknown, kind: Kind, path: string, depth: number): void {
  switch (kind.k) {
    case 'string':
      if (typeof v !== 'string') add(ctx, path, 'value-type', 'must be a string');
      return;
    case 'datetime':
      if (!isCaliperDateTime(v)) add(ctx, path, 'datetime', 'must be a UTC date-time with milliseconds, YYYY-MM-DDTHH:mm:ss.SSSZ');
      return;
    case 'duration':
      if (!isDuration(v)) add(ctx, path, 'duration', 'must be an ISO 8601 duration such as PT1H30M or PT45.5S');
      return;
    case 'boolean':
      if (typeof v !== 'boolean') add(ctx, path, 'value-type', 'must be true or false');
      return;
    case 'int':
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) add(ctx, path, 'value-type', 'must be a non-negative integer');
      return;
    case 'number':
      if (typeof v !== 'number' || !Number.isFinite(v)) add(ctx, path, 'value-type', 'must be a number');
      return;
    case 'map':
      if (!isPlainObject(v)) add(ctx, path, 'value-type', 'must be a JSON object');
      return;
    case 'vocab':
      if (typeof v !== 'string') add(ctx, path, 'value-type', `must be a ${kind.name} term (a string)`);
      else if (!kind.values.has(v)) add(ctx, path, 'vocab', `${term(v)} is not a Caliper ${kind.name}`);
      return;
    case 'list':
      if (!Array.isArray(v)) return add(ctx, path, 'value-type', 'must be a list');
      v.forEach((x, i) => {
        if (x === null) add(ctx, `${path}[${i}]`, 'null', 'list elements must not be null');
        else checkKind(ctx, x, kind.of, `${path}[${i}]`, depth);
      });
      return;
    case 'ref':
      return checkRef(ctx, v, kind.types, path, depth);
    case 'embedded':
      if (!isPlainObject(v)) return add(ctx, path, 'value-type', `must be ${oneOf([kind.type])} object`);
      if (v.type !== kind.type) return add(ctx, `${path}.type`, 'entity-type', `must be '${kind.type}' (got ${term(v.type)})`);
      return checkEntityProps(ctx, v, kind.type, path, depth + 1);
  }
}

/** An entity reference: its IRI, or the entity object (of one of `expected` types or a subtype). */
function checkRef(ctx: Ctx, v: unknown, expected: readonly string[], path: string, depth: number): void {
  if (typeof v === 'string') {
    if (!isIri(v)) add(ctx, path, 'iri', `must be an IRI or ${oneOf(expected)} object`);
    return;
  }
  if (!isPlainObject(v)) return add(ctx, path, 'value-type', `must be an IRI or ${oneOf(expected)} object`);
  checkEntity(ctx, v, path, expected, depth + 1, false);
}

function checkEntityProps(ctx: Ctx, o: Record<string, unknown>, type: string, path: string, depth: number): void {
  const props = propsOf(type);
  for (const req of EMBEDDED_REQUIRED[type] ?? []) {
    if (o[req] === undefined) add(ctx, `${path}.${req}`, 'required', 'is required');
    else if (o[req] === null) add(ctx, `${path}.${req}`, 'null', 'is required and must not be null');
  }
  for (const [k, v] of Object.entries(o)) {
    if (k === 'type' || k === 'id' || k === '@context' || v === null) continue;
    const kind = props[k];
    if (kind) checkKind(ctx, v, kind, `${path}.${k}`, depth);
  }
}

function checkEntity(ctx: Ctx, o: Record<string, unknown>, path: string, expected: readonly string[] | undefined, depth: number, topLevel: boolean): void {
  if (depth > MAX_DEPTH) return add(ctx, path, 'depth', `entities are nested more than ${MAX_DEPTH} levels deep`);
  checkContext(ctx, o['@context'], `${path}.@context`, topLevel);
  const type = o.type;
  if (type === undefined || type === null) {
    add(ctx, `${path}.type`, type === null ? 'null' : 'required', 'is required');
  } else if (typeof type !== 'string') {
    add(ctx, `${path}.type`, 'value-type', 'must be a string');
  } else if (!ENTITY_TYPES[type]) {
    add(ctx, `${path}.type`, 'unknown-type', EVENT_TYPES[type] ? `an event (${term(type)}) cannot be used as an entity` : `${term(type)} is not a Caliper entity type`);
  } else if (ENTITY_TYPES[type].embedded) {
    add(ctx, `${path}.type`, 'entity-type', `a ${type} is not an entity${expected ? ` (expected ${oneOf(expected)})` : ''}`);
  } else if (expected && !isA(type, expected)) {
    add(ctx, `${path}.type`, 'entity-type', `must be ${oneOf(expected)} (got ${term(type)})`);
  }
  const id = o.id;
  if (id === undefined || id === null) add(ctx, `${path}.id`, id === null ? 'null' : 'required', 'is required (the entity IRI)');
  else if (!isIri(id)) add(ctx, `${path}.id`, 'iri', 'must be an IRI');
  if (typeof type === 'string' && ENTITY_TYPES[type] && !ENTITY_TYPES[type].embedded) checkEntityProps(ctx, o, type, path, depth);
}

// ---------------------------------------------------------------------------------------------------------------
// Events

const EVENT_REQUIRED = ['id', 'type', 'actor', 'action', 'object', 'eventTime'] as const;

/** Roles every event has, with the entity types they take. */
const EVENT_CONTEXT_SLOTS: Readonly<Record<string, readonly string[]>> = {
  edApp: ['SoftwareApplication'],
  group: ['Organization'],
  membership: ['Membership'],
  session: ['Session'],
  federatedSession: ['LtiSession'],
};

function slot(def: EventDef | undefined, action: unknown, name: keyof Slots): readonly string[] | undefined {
  if (!def) return undefined;
  const narrowed = typeof action === 'string' ? def.byAction?.[action]?.[name] : undefined;
  return (narrowed ?? def[name]) as readonly string[] | undefined;
}

function checkEvent(ctx: Ctx, e: Record<string, unknown>, path: string): void {
  checkContext(ctx, e['@context'], `${path}.@context`, true);
  for (const p of EVENT_REQUIRED) {
    if (e[p] === undefined) add(ctx, `${path}.${p}`, 'required', 'is required');
    else if (e[p] === null) add(ctx, `${path}.${p}`, 'null', 'is required and must not be null');
  }

  // type
  let def: EventDef | undefined;
  const type = e.type;
  if (type !== undefined && type !== null) {
    if (typeof type !== 'string') add(ctx, `${path}.type`, 'value-type', 'must be a string');
    else if (!EVENT_TYPES[type]) add(ctx, `${path}.type`, 'event-type', `${term(type)} is not a Caliper event type`);
    else {
      def = EVENT_TYPES[type];
      if (ctx.version === 'v1p1' && def.since === 'v1p2') {
        if (!def.extension) add(ctx, `${path}.type`, 'event-type', `${term(type)} is not a Caliper 1.1 event type`);
        else if (!ctx.extensions.has(def.extension)) {
          add(ctx, `${path}.type`, 'event-type', `${term(type)} is a Caliper 1.2 event type; under 1.1 its @context must be '${V1P1_EXTENSIONS[def.extension]}'`);
        }
      } else if (ctx.version === 'v1p2' && def.until === 'v1p1') {
        add(ctx, `${path}.type`, 'event-type', `${term(type)} was deprecated in Caliper 1.1 and removed in 1.2`);
      }
    }
  }

  // id
  if (e.id !== undefined && e.id !== null && (typeof e.id !== 'string' || !UUID_URN.test(e.id))) {
    add(ctx, `${path}.id`, 'uuid', 'must be a UUID URN, urn:uuid:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx');
  }

  // action
  const action = e.action;
  if (action !== undefined && action !== null) {
    const known = ctx.version === 'v1p2' || (def && def.since === 'v1p2') ? ACTIONS_V1P2 : ACTIONS_V1P1;
    const canonical = typeof action === 'string' ? (ACTION_ALIASES[action] ?? action) : undefined;
    if (typeof action !== 'string') add(ctx, `${path}.action`, 'value-type', 'must be an action term (a string)');
    else if (!known.has(canonical!)) add(ctx, `${path}.action`, 'action', `${term(action)} is not a ${VERSION_NAME[ctx.version]} action`);
    else if (def && def.actions !== 'any' && !def.actions.includes(canonical!) && !(ctx.version === 'v1p1' && def.deprecatedV1p1?.includes(canonical!))) {
      add(ctx, `${path}.action`, 'action', `${term(type)} does not permit ${term(action)} (permitted: ${def.actions.join(', ')})`);
    }
  }

  // profile (1.2; 1.1 has no profiles and the term is not in its context)
  const profile = e.profile;
  if (ctx.version === 'v1p2' && profile !== undefined && profile !== null) {
    if (typeof profile !== 'string') add(ctx, `${path}.profile`, 'value-type', 'must be a profile term (a string)');
    else if (!PROFILES.has(profile)) add(ctx, `${path}.profile`, 'profile', `${term(profile)} is not a Caliper 1.2 profile`);
    else if (profile !== 'GeneralProfile' && typeof type === 'string' && def && !PROFILE_EVENTS.get(profile)!.has(type)) {
      add(ctx, `${path}.profile`, 'profile', `${term(profile)} does not use ${term(type)}`);
    } else if (profile === 'GeneralProfile' && def && def.until) {
      add(ctx, `${path}.profile`, 'profile', `${term(profile)} does not use ${term(type)}`);
    }
  }

  if (e.eventTime !== undefined && e.eventTime !== null && !isCaliperDateTime(e.eventTime)) {
    add(ctx, `${path}.eventTime`, 'datetime', 'must be a UTC date-time with milliseconds, YYYY-MM-DDTHH:mm:ss.SSSZ');
  }

  // The entities the event binds.
  for (const name of ['actor', 'object', 'generated', 'target', 'referrer'] as const) {
    const v = e[name];
    if (v === undefined || v === null) continue;
    checkRef(ctx, v, slot(def, action, name) ?? (name === 'actor' ? ['Agent'] : ['Entity']), `${path}.${name}`, 0);
  }
  for (const [name, types] of Object.entries(EVENT_CONTEXT_SLOTS)) {
    const v = e[name];
    if (v !== undefined && v !== null) checkRef(ctx, v, types, `${path}.${name}`, 0);
  }
  if (e.extensions !== undefined && e.extensions !== null && !isPlainObject(e.extensions)) {
    add(ctx, `${path}.extensions`, 'value-type', 'must be a JSON object');
  }
  for (const req of slot(def, action, 'required') ?? []) {
    if (e[req] === undefined || e[req] === null) add(ctx, `${path}.${req}`, 'required', `is required for ${term(type)} ${term(action)}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Entry points

/** Whether a data item is an event (rather than an entity describe). */
export function looksLikeEvent(o: Record<string, unknown>): boolean {
  const type = o.type;
  if (typeof type === 'string') {
    if (EVENT_TYPES[type]) return true;
    if (ENTITY_TYPES[type]) return false;
    if (type.endsWith('Event')) return true;
  }
  return 'action' in o || 'actor' in o || 'eventTime' in o;
}

export interface ItemCheck {
  kind: 'event' | 'entity';
  problems: Problem[];
}

/** One element of an envelope's `data`: an event or an entity describe, with its own `@context`. */
export function validateItem(value: unknown, version: CaliperVersion, path = '$'): ItemCheck {
  const ctx = newCtx(version);
  if (!isPlainObject(value)) {
    add(ctx, path, 'value-type', 'must be a Caliper event or entity object');
    return { kind: 'entity', problems: ctx.problems };
  }
  if (looksLikeEvent(value)) {
    // The item's own context decides which 1.1 extensions are in force; read it before the type check.
    checkEvent(ctx, value, path);
    return { kind: 'event', problems: ctx.problems };
  }
  checkEntity(ctx, value, path, undefined, 0, true);
  return { kind: 'entity', problems: ctx.problems };
}

export function validateEvent(value: unknown, version: CaliperVersion, path = '$'): Problem[] {
  const ctx = newCtx(version);
  if (!isPlainObject(value)) add(ctx, path, 'value-type', 'must be a Caliper event object');
  else checkEvent(ctx, value, path);
  return ctx.problems;
}

/**
 * An entity on its own (an entity describe, or with `embedded` a SystemIdentifier / TextPositionSelector, which
 * only occur inside entities).
 */
export function validateEntity(value: unknown, version: CaliperVersion, opts: { path?: string; embedded?: boolean } = {}): Problem[] {
  const path = opts.path ?? '$';
  const ctx = newCtx(version);
  if (!isPlainObject(value)) add(ctx, path, 'value-type', 'must be a Caliper entity object');
  else if (opts.embedded && typeof value.type === 'string' && ENTITY_TYPES[value.type]?.embedded) checkKind(ctx, value, { k: 'embedded', type: value.type }, path, 0);
  else checkEntity(ctx, value, path, undefined, 0, true);
  return ctx.problems;
}

export type EnvelopeCheck =
  | { ok: false; status: 400 | 422; problems: Problem[] }
  | { ok: true; version: CaliperVersion; dataVersion: string; sensor: string; sendTime: string; data: unknown[] };

const ENVELOPE_KEYS = new Set(['sensor', 'sendTime', 'dataVersion', 'data']);

/**
 * The envelope itself (its items are checked one by one with validateItem). 422 only for a `dataVersion` the hub
 * does not speak; every other defect is a 400.
 */
export function checkEnvelope(body: unknown): EnvelopeCheck {
  const bad = (path: string, message: string): EnvelopeCheck => ({ ok: false, status: 400, problems: [{ path, rule: 'envelope', message }] });
  if (!isPlainObject(body)) return bad('$', 'must be a Caliper envelope: {sensor, sendTime, dataVersion, data}');
  const dv = body.dataVersion;
  if (dv === undefined || dv === null) return bad('$.dataVersion', 'is required');
  if (typeof dv !== 'string') return bad('$.dataVersion', 'must be a string (a Caliper context IRI)');
  const version = versionOf(dv);
  if (!version) {
    return {
      ok: false, status: 422,
      problems: [{ path: '$.dataVersion', rule: 'envelope', message: `${term(dv)} is not supported; supported: ${CALIPER_CONTEXT.v1p1}, ${CALIPER_CONTEXT.v1p2}` }],
    };
  }
  const problems: Problem[] = [];
  const p = (path: string, message: string) => problems.push({ path, rule: 'envelope', message });
  if (body.sensor === undefined || body.sensor === null) p('$.sensor', 'is required');
  else if (!isIri(body.sensor)) p('$.sensor', 'must be the sensor IRI');
  if (body.sendTime === undefined || body.sendTime === null) p('$.sendTime', 'is required');
  else if (!isCaliperDateTime(body.sendTime)) p('$.sendTime', 'must be a UTC date-time with milliseconds, YYYY-MM-DDTHH:mm:ss.SSSZ');
  if (body.data === undefined || body.data === null) p('$.data', 'is required');
  else if (!Array.isArray(body.data)) p('$.data', 'must be a list of events and entities');
  else if (!body.data.length) p('$.data', 'must hold at least one event or entity');
  for (const k of Object.keys(body)) if (!ENVELOPE_KEYS.has(k)) p(`$.${TERM.test(k) ? k : '?'}`, 'is not an envelope property (sensor, sendTime, dataVersion, data)');
  if (problems.length) return { ok: false, status: 400, problems };
  return { ok: true, version, dataVersion: dv, sensor: body.sensor as string, sendTime: body.sendTime as string, data: body.data as unknown[] };
}
