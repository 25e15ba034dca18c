/**
 * CFPackage structure: is this JSON a CASE package, which CASE version is it, and what is wrong with it.
 *
 * Two rule sets, picked by the detected version:
 *  - CASE 1.1 (declared with `CFDocument.caseVersion: "1.1"`, or recognised by 1.1-only fields): the official 1.1
 *    CFPackage schema's `required` lists, types and formats (identifiers are UUIDs, timestamps are date-times,
 *    LinkGenURI needs title, identifier and uri, associationType is one of the ten or `ext:`).
 *  - CASE 1.0 and 1.0-era packages (OpenSALT and most state servers: CFPackageURI, CFDocumentURI, no caseVersion):
 *    lenient, only what the hub needs to store a usable record.
 * In both, properties the version does not define never reject a record (they stay in `raw`): real providers add
 * them, and the official schema's `additionalProperties: false` would throw away good standards for a stray field.
 *
 * The official schema itself is not shipped: these are the hub's own checks, tested against it.
 */
import { fullFormats } from 'ajv-formats/dist/formats';
import { HubError, type ErrorDetail } from '../../src/core/errors';

export type CaseVersion = '1.0' | '1.1';

export interface PackageInfo {
  /** For locations and messages: `state.json`, `CFPackages/<id>`. */
  name: string;
  caseVersion: CaseVersion;
  /** Why that version, in words (for check() and the README's detection table). */
  versionEvidence: string;
  /** The CFDocument, already checked (identifier and title are non-empty strings). */
  document: Record<string, unknown>;
  items: unknown[];
  associations: unknown[];
}

/** A field-level problem of one item, association or document. */
export interface Problem {
  /** Dotted path inside the object: `fullStatement`, `destinationNodeURI.identifier`. */
  field: string;
  reason: string;
}

export const ASSOCIATION_TYPES_1_1 = [
  'isChildOf', 'isPeerOf', 'isPartOf', 'exactMatchOf', 'precedes', 'isRelatedTo', 'replacedBy', 'exemplar', 'hasSkillLevel', 'isTranslationOf',
] as const;
const ASSOCIATION_TYPES = new Set<string>(ASSOCIATION_TYPES_1_1);
const EXT_TYPE_RE = /^ext:[A-Za-z0-9._|-]+$/;
const UUID_RE = fullFormats.uuid as RegExp;
const isDateTime = (fullFormats['date-time'] as { validate: (s: string) => boolean }).validate;
const isDate = (fullFormats.date as { validate: (s: string) => boolean }).validate;

/** A date-time the unified schema accepts, from what providers write. Undefined when it cannot be read. */
export function normalizeDateTime(v: string): string | undefined {
  if (isDateTime(v)) return v;
  // Older exports write `2017-09-22 23:13:54` or omit the offset: CASE timestamps are system times, read as UTC.
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)$/.exec(v.trim());
  if (m) {
    const fixed = `${m[1]}T${m[2].length === 5 ? `${m[2]}:00` : m[2]}Z`;
    if (isDateTime(fixed)) return fixed;
  }
  return undefined;
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function invalid(name: string, path: string, message: string, more: ErrorDetail[] = []): HubError {
  return new HubError('source_invalid', `${name} ${path}: ${message}`, [{ path: `${name} ${path}`, message }, ...more]);
}

// ---------------------------------------------------------------------------------------------------------------
// Version detection

/** Fields CASE 1.1 added; their presence (without a declared caseVersion) marks a 1.1 package. */
function firstMarker11(doc: Record<string, unknown>, items: unknown[], associations: unknown[]): string | undefined {
  if ('frameworkType' in doc) return 'CFDocument.frameworkType (added in CASE 1.1)';
  for (let i = 0; i < items.length; i++) {
    const it = items[i];
    if (isObject(it) && ('subject' in it || 'subjectURI' in it)) return `CFItems[${i}].subject (added in CASE 1.1)`;
  }
  for (let i = 0; i < associations.length; i++) {
    const a = associations[i];
    if (!isObject(a)) continue;
    if ('notes' in a) return `CFAssociations[${i}].notes (added in CASE 1.1)`;
    for (const end of ['originNodeURI', 'destinationNodeURI']) {
      const e = a[end];
      if (isObject(e) && 'targetType' in e) return `CFAssociations[${i}].${end}.targetType (added in CASE 1.1)`;
    }
  }
  return undefined;
}

/** Fields CASE 1.1 removed; OpenSALT and most 1.0 servers write them. */
function firstMarker10(doc: Record<string, unknown>, items: unknown[], associations: unknown[]): string | undefined {
  if ('CFPackageURI' in doc) return 'CFDocument.CFPackageURI (CASE 1.0 only)';
  const i = items.findIndex((it) => isObject(it) && 'CFDocumentURI' in it);
  if (i >= 0) return `CFItems[${i}].CFDocumentURI (CASE 1.0 only)`;
  const a = associations.findIndex((x) => isObject(x) && 'CFDocumentURI' in x);
  if (a >= 0) return `CFAssociations[${a}].CFDocumentURI (CASE 1.0 only)`;
  return undefined;
}

/** `/ims/case/v1p0/` in a URI or provider path. */
export function versionFromPath(uri: unknown): CaseVersion | undefined {
  if (typeof uri !== 'string') return undefined;
  const m = /\/ims\/case\/v1p([01])(?:\/|$)/.exec(uri);
  return m ? (m[1] === '1' ? '1.1' : '1.0') : undefined;
}

/**
 * Declared caseVersion > 1.0-only fields > 1.1-only fields > the provider's path (`hint`) > the document URI's
 * path > 1.0. A package with neither markers nor version paths is read with the lenient 1.0 rules.
 */
export function detectCaseVersion(
  doc: Record<string, unknown>,
  items: unknown[],
  associations: unknown[],
  hint?: CaseVersion,
): { version: CaseVersion; evidence: string } | { error: string } {
  const declared = doc.caseVersion;
  if (declared !== undefined) {
    if (declared === '1.1') return { version: '1.1', evidence: 'CFDocument.caseVersion is "1.1"' };
    if (declared === '1.0') return { version: '1.0', evidence: 'CFDocument.caseVersion is "1.0"' };
    return { error: `caseVersion ${JSON.stringify(declared)} is not supported (expected "1.1", or none for CASE 1.0)` };
  }
  const m10 = firstMarker10(doc, items, associations);
  if (m10) return { version: '1.0', evidence: m10 };
  const m11 = firstMarker11(doc, items, associations);
  if (m11) return { version: '1.1', evidence: m11 };
  if (hint) return { version: hint, evidence: `the provider's path is /ims/case/v1p${hint === '1.1' ? '1' : '0'}` };
  const fromUri = versionFromPath(doc.uri);
  if (fromUri) return { version: fromUri, evidence: `CFDocument.uri is under /ims/case/v1p${fromUri === '1.1' ? '1' : '0'}/` };
  return { version: '1.0', evidence: 'no caseVersion and no 1.1-only field: read as CASE 1.0' };
}

// ---------------------------------------------------------------------------------------------------------------
// Field rules

type Kind = 'string' | 'text' | 'uuid' | 'dateTime' | 'date' | 'strings' | 'link' | 'links' | 'linkGen' | 'integer' | 'associationType';

interface FieldRule {
  name: string;
  kind: Kind;
  /** Required in CASE 1.1 (official schema). */
  req11?: boolean;
  /** Required by the hub in any version. */
  req?: boolean;
  /** The hub maps it: its type is checked in 1.0 too. */
  mapped?: boolean;
}

// 'text': a string that must not be blank (the hub cannot store a blank statement or title).
const DOCUMENT_RULES: FieldRule[] = [
  { name: 'identifier', kind: 'uuid', req11: true, req: true, mapped: true },
  { name: 'uri', kind: 'string', req11: true, mapped: true },
  { name: 'creator', kind: 'string', req11: true, mapped: true },
  { name: 'title', kind: 'text', req11: true, req: true, mapped: true },
  { name: 'lastChangeDateTime', kind: 'dateTime', req11: true, mapped: true },
  { name: 'frameworkType', kind: 'string' },
  { name: 'officialSourceURL', kind: 'string' },
  { name: 'publisher', kind: 'string', mapped: true },
  { name: 'description', kind: 'string' },
  { name: 'subject', kind: 'strings', mapped: true },
  { name: 'subjectURI', kind: 'links' },
  { name: 'language', kind: 'string', mapped: true },
  { name: 'version', kind: 'string', mapped: true },
  { name: 'adoptionStatus', kind: 'string', mapped: true },
  { name: 'statusStartDate', kind: 'date' },
  { name: 'statusEndDate', kind: 'date' },
  { name: 'licenseURI', kind: 'link' },
  { name: 'notes', kind: 'string' },
];

const ITEM_RULES: FieldRule[] = [
  { name: 'identifier', kind: 'uuid', req11: true, req: true, mapped: true },
  { name: 'fullStatement', kind: 'text', req11: true, req: true, mapped: true },
  { name: 'uri', kind: 'string', req11: true, mapped: true },
  { name: 'lastChangeDateTime', kind: 'dateTime', req11: true, mapped: true },
  { name: 'alternativeLabel', kind: 'string' },
  { name: 'CFItemType', kind: 'string', mapped: true },
  { name: 'humanCodingScheme', kind: 'string', mapped: true },
  { name: 'listEnumeration', kind: 'string', mapped: true },
  { name: 'abbreviatedStatement', kind: 'string', mapped: true },
  { name: 'conceptKeywords', kind: 'strings' },
  { name: 'conceptKeywordsURI', kind: 'link' },
  { name: 'notes', kind: 'string', mapped: true },
  { name: 'subject', kind: 'strings' },
  { name: 'subjectURI', kind: 'links' },
  { name: 'language', kind: 'string' },
  { name: 'educationLevel', kind: 'strings', mapped: true },
  { name: 'CFItemTypeURI', kind: 'link' },
  { name: 'licenseURI', kind: 'link' },
  { name: 'statusStartDate', kind: 'date' },
  { name: 'statusEndDate', kind: 'date' },
];

const ASSOCIATION_RULES: FieldRule[] = [
  { name: 'identifier', kind: 'uuid', req11: true, req: true, mapped: true },
  { name: 'associationType', kind: 'associationType', req11: true, req: true, mapped: true },
  { name: 'sequenceNumber', kind: 'integer', mapped: true },
  { name: 'uri', kind: 'string', req11: true },
  { name: 'originNodeURI', kind: 'linkGen', req11: true, req: true, mapped: true },
  { name: 'destinationNodeURI', kind: 'linkGen', req11: true, req: true, mapped: true },
  { name: 'CFAssociationGroupingURI', kind: 'link' },
  { name: 'lastChangeDateTime', kind: 'dateTime', req11: true, mapped: true },
  { name: 'notes', kind: 'string' },
];

const describe = (v: unknown): string =>
  v === undefined ? 'nothing' : v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `${typeof v} ${String(JSON.stringify(v)).slice(0, 60)}`;

/** LinkURI (1.1: title, identifier as UUID, uri) and LinkGenURI (title, identifier, uri, targetType?). */
function linkProblems(v: unknown, field: string, strict: boolean, gen: boolean, out: Problem[]): void {
  if (!isObject(v)) {
    out.push({ field, reason: `${field} must be an object with title, identifier and uri, found ${describe(v)}` });
    return;
  }
  const id = v.identifier;
  if (strict) {
    for (const k of ['title', 'identifier', 'uri']) {
      if (v[k] === undefined) out.push({ field: `${field}.${k}`, reason: `${field}.${k} is required in CASE 1.1` });
      else if (typeof v[k] !== 'string') out.push({ field: `${field}.${k}`, reason: `${field}.${k} must be a string, found ${describe(v[k])}` });
    }
    if (!gen && typeof id === 'string' && !UUID_RE.test(id)) out.push({ field: `${field}.identifier`, reason: `${field}.identifier must be a UUID in CASE 1.1, found "${id}"` });
    if (gen && v.targetType !== undefined) {
      const t = v.targetType;
      if (typeof t !== 'string' || (t !== 'CASE' && !EXT_TYPE_RE.test(t))) {
        out.push({ field: `${field}.targetType`, reason: `${field}.targetType must be "CASE" or "ext:<name>", found ${describe(t)}` });
      }
    }
  } else if (gen) {
    // The hub stores both ends by CASE identifier (the other end may be in a framework not loaded yet).
    if (typeof id !== 'string' || id.trim() === '') out.push({ field: `${field}.identifier`, reason: `${field}.identifier is required (the hub links both ends by CASE identifier), found ${describe(id)}` });
    if (v.uri !== undefined && typeof v.uri !== 'string') out.push({ field: `${field}.uri`, reason: `${field}.uri must be a string, found ${describe(v.uri)}` });
  }
}

function fieldProblems(obj: Record<string, unknown>, rules: FieldRule[], version: CaseVersion): Problem[] {
  const strict = version === '1.1';
  const out: Problem[] = [];
  for (const r of rules) {
    const v = obj[r.name];
    if (v === undefined || v === null) {
      // null is how some exporters write "absent"; the 1.1 schema has no nullable fields.
      if (v === null && strict) out.push({ field: r.name, reason: `${r.name} must not be null in CASE 1.1` });
      else if (r.req || (strict && r.req11)) out.push({ field: r.name, reason: `${r.name} is required${!r.req ? ' in CASE 1.1' : ''}` });
      continue;
    }
    if (!strict && !r.mapped) continue;
    const p = valueProblem(v, r, strict);
    if (p) out.push(...(typeof p === 'string' ? [{ field: r.name, reason: p }] : p));
  }
  return out;
}

/** Why `v` is not a valid value for the rule, or undefined. Lenient (1.0) mode accepts numbers for strings. */
function valueProblem(v: unknown, r: FieldRule, strict: boolean): string | Problem[] | undefined {
  const n = r.name;
  const asString = typeof v === 'string' ? v : !strict && typeof v === 'number' ? String(v) : undefined;
  switch (r.kind) {
    case 'string':
      return asString === undefined ? `${n} must be a string, found ${describe(v)}` : undefined;
    case 'text':
      if (asString === undefined) return `${n} must be a string, found ${describe(v)}`;
      return asString.trim() === '' ? `${n} is blank` : undefined;
    case 'uuid':
      if (typeof v !== 'string') return `${n} must be a string, found ${describe(v)}`;
      if (v.trim() === '') return `${n} is blank`;
      if (strict && !UUID_RE.test(v)) return `${n} must be a UUID in CASE 1.1, found "${v}"`;
      return undefined;
    case 'dateTime':
      if (typeof v !== 'string') return `${n} must be a date-time string, found ${describe(v)}`;
      if (strict ? !isDateTime(v) : normalizeDateTime(v) === undefined) return `${n} must be an ISO 8601 date-time with offset (2024-03-01T08:00:00Z), found "${v}"`;
      return undefined;
    case 'date':
      if (typeof v !== 'string' || !isDate(v)) return `${n} must be a date (YYYY-MM-DD), found ${describe(v)}`;
      return undefined;
    case 'strings':
      if (Array.isArray(v)) return v.every((x) => typeof x === 'string') ? undefined : `${n} must be an array of strings`;
      // Some 1.0 exporters write educationLevel as "09,10".
      return !strict && typeof v === 'string' ? undefined : `${n} must be an array of strings, found ${describe(v)}`;
    case 'integer':
      if (typeof v === 'number' && Number.isInteger(v)) return undefined;
      if (!strict && typeof v === 'string' && /^-?\d{1,9}$/.test(v.trim())) return undefined;
      return `${n} must be an integer, found ${describe(v)}`;
    case 'associationType':
      if (typeof v !== 'string' || v.trim() === '') return `${n} must be a non-empty string, found ${describe(v)}`;
      if (strict && !ASSOCIATION_TYPES.has(v) && !EXT_TYPE_RE.test(v)) {
        return `${n} "${v}" is not a CASE 1.1 association type (${ASSOCIATION_TYPES_1_1.join(', ')}, or ext:<name>)`;
      }
      return undefined;
    case 'link':
    case 'linkGen': {
      const out: Problem[] = [];
      linkProblems(v, n, strict, r.kind === 'linkGen', out);
      return out.length ? out : undefined;
    }
    case 'links': {
      if (!Array.isArray(v)) return `${n} must be an array, found ${describe(v)}`;
      const out: Problem[] = [];
      v.forEach((x, i) => linkProblems(x, `${n}[${i}]`, strict, false, out));
      return out.length ? out : undefined;
    }
  }
}

export const documentProblems = (doc: Record<string, unknown>, v: CaseVersion): Problem[] => fieldProblems(doc, DOCUMENT_RULES, v);
export const itemProblems = (item: Record<string, unknown>, v: CaseVersion): Problem[] => fieldProblems(item, ITEM_RULES, v);
export const associationProblems = (a: Record<string, unknown>, v: CaseVersion): Problem[] => fieldProblems(a, ASSOCIATION_RULES, v);

// ---------------------------------------------------------------------------------------------------------------
// The package as a whole

/**
 * Checks that `json` is a CFPackage and its CFDocument is usable, and detects the CASE version. Items and
 * associations are checked one by one later (a bad one is a reject, not a failed package). Throws source_invalid
 * naming the package and the JSON path.
 */
export function readPackage(json: unknown, name: string, hint?: CaseVersion): PackageInfo {
  if (!isObject(json)) throw invalid(name, '$', `is not a CFPackage: expected a JSON object with a CFDocument, found ${describe(json)}`);
  if (!('CFDocument' in json)) {
    const keys = Object.keys(json).slice(0, 6);
    const hintText = 'CFDocuments' in json
      ? ' (this looks like a GET /CFDocuments list; export the package from /CFPackages/{identifier})'
      : isObject(json.CFPackage) && 'CFDocument' in json.CFPackage ? ' (the package is wrapped in "CFPackage"; save the inner object)' : '';
    throw invalid(name, '$.CFDocument', `is not a CFPackage: $.CFDocument is missing (found ${keys.length ? keys.join(', ') : 'an empty object'})${hintText}`);
  }
  const doc = json.CFDocument;
  if (!isObject(doc)) throw invalid(name, '$.CFDocument', `must be an object, found ${describe(doc)}`);
  for (const key of ['CFItems', 'CFAssociations'] as const) {
    if (json[key] !== undefined && !Array.isArray(json[key])) throw invalid(name, `$.${key}`, `must be an array, found ${describe(json[key])}`);
  }
  const items = (json.CFItems as unknown[] | undefined) ?? [];
  const associations = (json.CFAssociations as unknown[] | undefined) ?? [];
  const detected = detectCaseVersion(doc, items, associations, hint);
  if ('error' in detected) throw invalid(name, '$.CFDocument.caseVersion', detected.error);
  const problems = documentProblems(doc, detected.version);
  if (problems.length) {
    const details = problems.map((p) => ({ path: `${name} $.CFDocument.${p.field}`, message: p.reason }));
    const first = problems.slice(0, 3).map((p) => `$.CFDocument.${p.field}: ${p.reason}`).join('; ');
    throw new HubError(
      'source_invalid',
      `${name}: the CFDocument is not usable (CASE ${detected.version} rules, ${detected.evidence}): ${first}${problems.length > 3 ? ` (and ${problems.length - 3} more)` : ''}`,
      details,
    );
  }
  return { name, caseVersion: detected.version, versionEvidence: detected.evidence, document: doc, items, associations };
}

/** JSON.parse with a location (`line:column`) in the error. */
export function parseJson(text: string, name: string): unknown {
  try {
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    const msg = (e as Error).message;
    const m = /position (\d+)/.exec(msg);
    let where = '';
    if (m) {
      const pos = Number(m[1]);
      const before = text.slice(0, pos);
      where = ` at line ${before.split('\n').length}, column ${pos - before.lastIndexOf('\n')}`;
    }
    throw new HubError('source_invalid', `${name} is not valid JSON${where}: ${msg}`, [{ path: name, message: `not valid JSON${where}` }]);
  }
}
