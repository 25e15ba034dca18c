/**
 * Categories of student data, for the disclosure log and for what a scope may see. They come from the unified
 * schemas' `x-category` annotations (on the entity: demographics, protected, behaviour, support; on a field: contact,
 * demographics, free_text) plus a base category per entity type that carries student data (a person is `identity`,
 * an enrollment `enrollment`, a result `grades`...). Entity types without a base category (orgs, classes, courses,
 * sessions, line items, frameworks) are not student data.
 */
import { ENTITY_TYPES, UNIFIED_SCHEMA_FILES } from '../types/unified.generated';
import { loadSchema } from './schemas';

/** Base category of each entity type that is about a person. Adding a derived type (mastery, plp) is a line. */
export const ENTITY_CATEGORY: Record<string, string> = {
  person: 'identity',
  demographics: 'demographics',
  programParticipation: 'protected',
  enrollment: 'enrollment',
  role: 'enrollment',
  result: 'grades',
  assessmentResult: 'assessment',
  attendanceEvent: 'attendance',
  behaviourIncident: 'behaviour',
  behaviourParticipant: 'behaviour',
  disciplineAction: 'behaviour',
  intervention: 'support',
  mastery: 'grades',
  plp: 'plp',
};

/** Categories whose values need the `demographics.read` scope (wherever they appear). */
export const SENSITIVE_CATEGORIES: ReadonlySet<string> = new Set(['demographics', 'protected']);

interface TypeCategories {
  /** The entity's own category (schema `x-category` wins over the base table). */
  entity: string | undefined;
  /** Field → category, from the fields' `x-category`. */
  fields: Map<string, string>;
}

const cache = new Map<string, TypeCategories>();

export function categoriesOfType(type: string): TypeCategories {
  const hit = cache.get(type);
  if (hit) return hit;
  let entity = ENTITY_CATEGORY[type];
  const fields = new Map<string, string>();
  if ((ENTITY_TYPES as readonly string[]).includes(type)) {
    const schema = loadSchema(`unified/${UNIFIED_SCHEMA_FILES[type as keyof typeof UNIFIED_SCHEMA_FILES]}.schema.json`) as {
      'x-category'?: string;
      properties?: Record<string, { 'x-category'?: string }>;
    };
    if (schema['x-category']) entity = schema['x-category'];
    for (const [f, p] of Object.entries(schema.properties ?? {})) if (p['x-category']) fields.set(f, p['x-category']);
  }
  const out = { entity, fields };
  cache.set(type, out);
  return out;
}

/** Whether values of this entity type are student data at all. */
export function isStudentData(type: string): boolean {
  return categoriesOfType(type).entity !== undefined;
}

/** The category of one field of a type (the field's own, else the entity's). */
export function fieldCategory(type: string, field: string): string | undefined {
  const c = categoriesOfType(type);
  return c.fields.get(field) ?? c.entity;
}

/** The whole entity type needs demographics.read (demographics, program participation). */
export function isSensitiveType(type: string): boolean {
  const e = categoriesOfType(type).entity;
  return e !== undefined && SENSITIVE_CATEGORIES.has(e);
}

/** Entity types that are wholly sensitive: what a key without demographics.read must not even see listed. */
export function sensitiveTypes(): string[] {
  return [...new Set([...ENTITY_TYPES, ...Object.keys(ENTITY_CATEGORY)])].filter(isSensitiveType);
}

/**
 * The categories disclosed by records of a type whose given fields (present with a value) were sent: the entity's
 * category plus each field's own.
 */
export function categoriesOf(type: string, fields: Iterable<string> = []): Set<string> {
  const out = new Set<string>();
  const c = categoriesOfType(type);
  if (c.entity) out.add(c.entity);
  if (c.entity) for (const f of fields) {
    const fc = c.fields.get(f);
    if (fc) out.add(fc);
  }
  return out;
}
