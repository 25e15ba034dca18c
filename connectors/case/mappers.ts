/**
 * Pure mappers: CFDocument -> competencyFramework, CFItem -> competencyItem, CFAssociation -> competencyAssociation.
 *
 * The framework's source id is the CFDocument identifier; items and associations carry it in `frameworkId` (an
 * x-ref the runtime translates). Association ends stay CASE identifiers and URIs: a crosswalk may point to an item
 * of a framework the hub has not loaded. A record the hub cannot use is a reject with its JSON path
 * (`state.json $.CFItems[12]`), the field at fault and the reason; never an exception.
 */
import type { Reject, SourceRecord } from '../../src/ingest/contract';
import {
  associationProblems,
  isObject,
  itemProblems,
  normalizeDateTime,
  type CaseVersion,
  type PackageInfo,
  type Problem,
} from './package';

export type MapResult = { record: SourceRecord; reject?: undefined } | { reject: Reject; record?: undefined };

export interface PackageContext {
  /** Package name for locations: `state.json`, `CFPackages/<id>`. */
  name: string;
  /** CFDocument identifier: the framework's source id. */
  documentId: string;
  caseVersion: CaseVersion;
}

/** A trimmed non-empty string, or undefined. Numbers are read as text (1.0 exporters write `listEnumeration: 1`). */
function str(v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  return t === '' ? undefined : t;
}

/** Text kept as written (statements may be Markdown), unless blank. */
function text(v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return typeof v === 'string' && v.trim() !== '' ? v : undefined;
}

/** A list of distinct non-blank strings; a comma-separated string is split (`"09,10"`). */
function list(v: unknown): string[] | undefined {
  const parts = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',') : [];
  const out: string[] = [];
  for (const p of parts) {
    const s = str(p);
    if (s !== undefined && !out.includes(s)) out.push(s);
  }
  return out.length ? out : undefined;
}

function dateTime(v: unknown): string | undefined {
  return typeof v === 'string' ? normalizeDateTime(v) : undefined;
}

/** Adds `key: value` when value is defined; keeps a fixed key order (the runtime hashes plain JSON). */
function put(data: Record<string, unknown>, key: string, value: unknown): void {
  if (value !== undefined) data[key] = value;
}

export function mapFramework(pkg: PackageInfo): SourceRecord {
  const d = pkg.document;
  const caseId = str(d.identifier)!;
  const data: Record<string, unknown> = { caseId };
  put(data, 'uri', str(d.uri));
  data.title = text(d.title)!.trim();
  put(data, 'creator', str(d.creator));
  put(data, 'publisher', str(d.publisher));
  put(data, 'version', str(d.version));
  put(data, 'subjects', list(d.subject));
  put(data, 'adoptionStatus', str(d.adoptionStatus));
  put(data, 'language', str(d.language));
  put(data, 'lastChangeDateTime', dateTime(d.lastChangeDateTime));
  data.caseVersion = pkg.caseVersion;
  return { type: 'competencyFramework', sourceId: caseId, data, raw: d, location: `${pkg.name} $.CFDocument` };
}

function rejectOf(ctx: PackageContext, path: string, raw: unknown, problems: Problem[], sourceId: string | undefined): Reject {
  const strictNote = ctx.caseVersion === '1.1' ? ' (checked with the CASE 1.1 rules)' : '';
  return {
    location: `${ctx.name} ${path}`,
    field: problems[0].field,
    reason: `${problems.map((p) => p.reason).join('; ')}${strictNote}`,
    code: 'record_invalid',
    raw,
    ...(sourceId !== undefined ? { sourceId } : {}),
  };
}

function malformed(ctx: PackageContext, path: string, raw: unknown, what: string): Reject {
  return {
    location: `${ctx.name} ${path}`,
    reason: `${what} must be a JSON object, found ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw}`,
    code: 'row_malformed',
    raw,
  };
}

export function mapItem(raw: unknown, index: number, ctx: PackageContext): MapResult {
  const path = `$.CFItems[${index}]`;
  if (!isObject(raw)) return { reject: malformed(ctx, path, raw, 'a CFItem') };
  const problems = itemProblems(raw, ctx.caseVersion);
  const caseId = str(raw.identifier);
  if (problems.length) return { reject: rejectOf(ctx, path, raw, problems, caseId) };
  const data: Record<string, unknown> = { caseId: caseId! };
  put(data, 'uri', str(raw.uri));
  data.frameworkId = ctx.documentId;
  data.fullStatement = text(raw.fullStatement);
  put(data, 'abbreviatedStatement', text(raw.abbreviatedStatement));
  put(data, 'humanCodingScheme', str(raw.humanCodingScheme));
  const typeLink = isObject(raw.CFItemTypeURI) ? str(raw.CFItemTypeURI.title) : undefined;
  put(data, 'itemType', str(raw.CFItemType) ?? typeLink);
  put(data, 'educationLevels', list(raw.educationLevel));
  put(data, 'listEnumeration', str(raw.listEnumeration));
  put(data, 'notes', text(raw.notes));
  put(data, 'lastChangeDateTime', dateTime(raw.lastChangeDateTime));
  return { record: { type: 'competencyItem', sourceId: caseId!, data, raw, location: `${ctx.name} ${path}` } };
}

export function mapAssociation(raw: unknown, index: number, ctx: PackageContext): MapResult {
  const path = `$.CFAssociations[${index}]`;
  if (!isObject(raw)) return { reject: malformed(ctx, path, raw, 'a CFAssociation') };
  const problems = associationProblems(raw, ctx.caseVersion);
  const caseId = str(raw.identifier);
  if (problems.length) return { reject: rejectOf(ctx, path, raw, problems, caseId) };
  const origin = raw.originNodeURI as Record<string, unknown>;
  const destination = raw.destinationNodeURI as Record<string, unknown>;
  const data: Record<string, unknown> = { caseId: caseId!, frameworkId: ctx.documentId, associationType: str(raw.associationType) };
  data.originCaseId = str(origin.identifier);
  put(data, 'originUri', str(origin.uri));
  data.destinationCaseId = str(destination.identifier);
  put(data, 'destinationUri', str(destination.uri));
  const seq = raw.sequenceNumber;
  put(data, 'sequenceNumber', typeof seq === 'number' ? seq : typeof seq === 'string' ? Number.parseInt(seq.trim(), 10) : undefined);
  put(data, 'lastChangeDateTime', dateTime(raw.lastChangeDateTime));
  return { record: { type: 'competencyAssociation', sourceId: caseId!, data, raw, location: `${ctx.name} ${path}` } };
}

/**
 * Maps every item or association of a package, rejecting a second record with an identifier already used in the
 * package (the first one wins, as in the runtime; the reject says where the first one is).
 */
export function* mapAll(
  pkg: PackageInfo,
  what: 'items' | 'associations',
): Generator<MapResult> {
  const ctx: PackageContext = { name: pkg.name, documentId: str(pkg.document.identifier)!, caseVersion: pkg.caseVersion };
  const list = what === 'items' ? pkg.items : pkg.associations;
  const map = what === 'items' ? mapItem : mapAssociation;
  const key = what === 'items' ? 'CFItems' : 'CFAssociations';
  const seen = new Map<string, number>();
  for (let i = 0; i < list.length; i++) {
    const r = map(list[i], i, ctx);
    if (r.record) {
      const first = seen.get(r.record.sourceId);
      if (first !== undefined) {
        yield {
          reject: {
            location: r.record.location!,
            field: 'identifier',
            reason: `duplicate identifier ${r.record.sourceId}: $.${key}[${first}] has it too; the first one was kept`,
            code: 'record_invalid',
            raw: list[i],
            sourceId: r.record.sourceId,
          },
        };
        continue;
      }
      seen.set(r.record.sourceId, i);
    }
    yield r;
  }
}
