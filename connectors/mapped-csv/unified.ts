/**
 * What the mapping language needs to know about the unified schemas (schemas/unified/), read from the schemas
 * themselves so that a new field or entity type needs no change here: each entity's properties in schema order,
 * which are required, their JSON types, nested objects and arrays, `x-ref` targets, and an ajv validator for any
 * property (to check constants and value maps when the config is loaded). Also the order of the streams: an entity
 * type comes after every type it refers to.
 */
import path from 'node:path';
import type { ValidateFunction } from 'ajv';
import { ajv, loadSchema, refFields } from '../../src/core/schemas';
import { ENTITY_TYPES, type EntityType } from '../../src/ingest/contract';
import { UNIFIED_SCHEMA_FILES } from '../../src/types/unified.generated';

export type JsonType = 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array' | 'null';

type Raw = Record<string, unknown>;

/** A subschema with the ajv key that reaches it (`<$id>#<JSON pointer>`), `$ref`s already followed. */
export interface SchemaNode {
  raw: Raw;
  key: string;
}

const SCHEMA_PREFIX = '/schemas/';
const docs = new Map<string, Raw>();

function doc(id: string): Raw {
  let d = docs.get(id);
  if (!d) {
    d = loadSchema(id.slice(SCHEMA_PREFIX.length));
    docs.set(id, d);
  }
  return d;
}

function atPointer(root: Raw, pointer: string): Raw {
  let node: unknown = root;
  for (const seg of pointer.split('/').slice(1)) {
    node = (node as Raw)[seg.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return node as Raw;
}

const esc = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

/** Follows `$ref` (relative to the schema's $id), keeping sibling keywords (descriptions) of the referring node. */
function follow(node: SchemaNode): SchemaNode {
  let cur = node;
  for (let hops = 0; typeof cur.raw.$ref === 'string' && hops < 10; hops++) {
    const [file, pointer = ''] = (cur.raw.$ref as string).split('#');
    const baseId = cur.key.split('#')[0];
    const id = file ? path.posix.join(path.posix.dirname(baseId), file) : baseId;
    const { $ref: _ref, ...rest } = cur.raw;
    cur = { raw: { ...atPointer(doc(id), pointer), ...rest }, key: `${id}#${pointer}` };
  }
  return cur;
}

function child(node: SchemaNode, ...segs: string[]): SchemaNode {
  let raw: unknown = node.raw;
  for (const s of segs) raw = (raw as Raw)[s];
  return follow({ raw: raw as Raw, key: `${node.key}/${segs.map(esc).join('/')}` });
}

const entityNodes = new Map<EntityType, SchemaNode>();

export function isEntityType(v: unknown): v is EntityType {
  return typeof v === 'string' && (ENTITY_TYPES as readonly string[]).includes(v);
}

export function entitySchema(type: EntityType): SchemaNode {
  let n = entityNodes.get(type);
  if (!n) {
    const id = `${SCHEMA_PREFIX}unified/${UNIFIED_SCHEMA_FILES[type]}.schema.json`;
    n = { raw: doc(id), key: `${id}#` };
    entityNodes.set(type, n);
  }
  return n;
}

/** Properties in schema order (the order records are built in, so their JSON, and hash, is stable). */
export function properties(node: SchemaNode): Map<string, SchemaNode> {
  const props = node.raw.properties as Record<string, unknown> | undefined;
  const out = new Map<string, SchemaNode>();
  if (props) for (const k of Object.keys(props)) out.set(k, child(node, 'properties', k));
  return out;
}

export function required(node: SchemaNode): string[] {
  return Array.isArray(node.raw.required) ? (node.raw.required as string[]) : [];
}

export function items(node: SchemaNode): SchemaNode | undefined {
  return node.raw.items && typeof node.raw.items === 'object' ? child(node, 'items') : undefined;
}

/** The JSON types a node accepts; empty when the schema does not say (anything goes). */
export function jsonTypes(node: SchemaNode): Set<JsonType> {
  const out = new Set<JsonType>();
  const r = node.raw;
  if (typeof r.type === 'string') out.add(r.type as JsonType);
  else if (Array.isArray(r.type)) for (const t of r.type) out.add(t as JsonType);
  else if (Array.isArray(r.enum)) for (const v of r.enum) out.add(v === null ? 'null' : (typeof v as JsonType));
  else if ('const' in r) out.add(r.const === null ? 'null' : (typeof r.const as JsonType));
  else if (r.properties) out.add('object');
  else {
    const branches = (r.anyOf ?? r.oneOf) as unknown[] | undefined;
    if (Array.isArray(branches)) {
      branches.forEach((_, i) => {
        for (const t of jsonTypes(child(node, r.anyOf ? 'anyOf' : 'oneOf', String(i)))) out.add(t);
      });
    }
  }
  if (out.has('integer')) out.add('number');
  return out;
}

/** The entity type a reference field (or a list of references) points to, from `x-ref`. */
export function refTarget(node: SchemaNode): EntityType | undefined {
  const direct = node.raw['x-ref'];
  if (isEntityType(direct)) return direct;
  const it = items(node);
  const many = it?.raw['x-ref'];
  return isEntityType(many) ? many : undefined;
}

/** An ajv validator for the node (compiled once by ajv, which caches by key). */
export function validatorFor(node: SchemaNode): ValidateFunction | undefined {
  try {
    return ajv().getSchema(node.key);
  } catch {
    return undefined;
  }
}

/** Why a value does not fit the node, in one sentence; undefined when it fits. */
export function valueProblem(node: SchemaNode, value: unknown): string | undefined {
  const v = validatorFor(node);
  if (!v || v(value)) return undefined;
  const errs = (v.errors ?? []).filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'oneOf');
  const parts = errs.map((e) =>
    e.keyword === 'enum' ? `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}` : (e.message ?? 'is invalid'),
  );
  return [...new Set(parts)].join(' or ');
}

/**
 * Every entity type, each after the types it refers to (self-references aside), so that a run reads parents before
 * children: by depth in the reference graph, then alphabetically.
 */
export function streamOrder(): EntityType[] {
  const depth = new Map<EntityType, number>();
  const visit = (t: EntityType, stack: Set<EntityType>): number => {
    const known = depth.get(t);
    if (known !== undefined) return known;
    if (stack.has(t)) return 0; // a cycle through other types: none today; keep going rather than loop
    stack.add(t);
    let d = 0;
    for (const r of refFields(t)) if (r.target !== t) d = Math.max(d, visit(r.target, stack) + 1);
    stack.delete(t);
    depth.set(t, d);
    return d;
  };
  for (const t of ENTITY_TYPES) visit(t, new Set());
  return [...ENTITY_TYPES].sort((a, b) => depth.get(a)! - depth.get(b)! || a.localeCompare(b));
}
