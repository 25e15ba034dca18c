/**
 * The JSON Schemas in schemas/ are the single source of truth for validation (here, with ajv) and for the
 * TypeScript types (src/types/unified.generated.ts, made by `npm run gen:types`). One ajv instance per process;
 * compiled validators are cached by ajv itself.
 */
import fs from 'node:fs';
import path from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { SCHEMAS_DIR } from './paths';
import type { EntityType } from '../ingest/contract';

export { UNIFIED_SCHEMA_FILES } from '../types/unified.generated';
import { UNIFIED_SCHEMA_FILES } from '../types/unified.generated';

function listJson(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listJson(p));
    else if (e.name.endsWith('.json')) out.push(p);
  }
  return out;
}

let ajvInstance: Ajv | undefined;

/** The shared ajv instance with every schema under schemas/ registered by its $id. */
export function ajv(): Ajv {
  if (ajvInstance) return ajvInstance;
  const a = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
  addFormats(a);
  a.addKeyword({ keyword: 'x-ref', schemaType: 'string' });
  a.addKeyword({ keyword: 'x-category', schemaType: 'string' });
  a.addKeyword({ keyword: 'x-ref-deferred', schemaType: 'boolean' });
  a.addKeyword({ keyword: 'x-entity', schemaType: 'string' });
  for (const file of listJson(SCHEMAS_DIR)) {
    const schema = JSON.parse(fs.readFileSync(file, 'utf8')) as { $id?: string };
    if (!schema.$id) throw new Error(`${path.relative(SCHEMAS_DIR, file)}: schema has no $id`);
    a.addSchema(schema);
  }
  ajvInstance = a;
  return a;
}

export function schemaId(relative: string): string {
  return `/schemas/${relative}`;
}

export function validator(relative: string): ValidateFunction {
  const v = ajv().getSchema(schemaId(relative));
  if (!v) throw new Error(`no schema ${relative}`);
  return v;
}

export function entityValidator(type: EntityType): ValidateFunction {
  return validator(`unified/${UNIFIED_SCHEMA_FILES[type]}.schema.json`);
}

export function loadSchema(relative: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(SCHEMAS_DIR, relative), 'utf8')) as Record<string, unknown>;
}

export interface RefField {
  field: string;
  target: EntityType;
  many: boolean;
  required: boolean;
  /**
   * `x-ref-deferred` on a list reference: items the page cannot resolve yet (listed later in the export, or in a
   * cycle such as a student and a guardian listing each other) are left out for now instead of rejecting the record;
   * the source ids are kept on the source row and resolved at the end of the run (src/normalize/agents.ts).
   */
  deferred: boolean;
}

const refCache = new Map<EntityType, RefField[]>();

/** Reference fields of an entity type, read from the `x-ref` annotations of its schema. */
export function refFields(type: EntityType): RefField[] {
  const cached = refCache.get(type);
  if (cached) return cached;
  const schema = loadSchema(`unified/${UNIFIED_SCHEMA_FILES[type]}.schema.json`) as {
    properties: Record<string, { 'x-ref'?: EntityType; 'x-ref-deferred'?: boolean; items?: { 'x-ref'?: EntityType } }>;
    required?: string[];
  };
  const out: RefField[] = [];
  for (const [field, prop] of Object.entries(schema.properties)) {
    const single = prop['x-ref'];
    const many = prop.items?.['x-ref'];
    if (single || many) {
      out.push({ field, target: (single ?? many)!, many: !single, required: schema.required?.includes(field) ?? false, deferred: !single && prop['x-ref-deferred'] === true });
    }
  }
  refCache.set(type, out);
  return out;
}

/** ajv errors as `{path, message}` details: `/termIds/0 must match format "date"`. */
export function ajvDetails(errors: ErrorObject[] | null | undefined, prefix = ''): { path: string; message: string }[] {
  return (errors ?? []).map((e) => {
    let p = e.instancePath || '';
    if (e.keyword === 'required') p += `/${(e.params as { missingProperty: string }).missingProperty}`;
    if (e.keyword === 'additionalProperties') p += `/${(e.params as { additionalProperty: string }).additionalProperty}`;
    const msg = e.keyword === 'additionalProperties' ? 'is not allowed here (unknown key)' : e.message ?? 'is invalid';
    return { path: prefix + (p ? p.replace(/^\//, '').replace(/\//g, '.') : '(root)'), message: msg };
  });
}
