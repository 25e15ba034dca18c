/**
 * How a OneRoster field (`familyName`, `school.sourcedId`, `enabledUser`...) reads in SQL over a unified record,
 * on both databases. The outer table is always `records r`; unified data is JSON text in `r.data`.
 *
 * JSON paths are written as literals, never bound: they come from the tables in model.ts (never from a request), and
 * SQLite only uses the expression indexes of migration 008 when the query's expression is textually the indexed one
 * (`json_extract(data, '$.personId')`). Values from requests are always bound parameters.
 */
import { jsonFieldSql } from '../../store/json-sql';
import type { Dialect } from '../../store/db';

export type FieldKind = 'string' | 'date' | 'datetime' | 'number' | 'boolean' | 'list' | 'custom';

/** A fragment of SQL with its bindings, in order. */
export interface Sql {
  sql: string;
  bindings: unknown[];
}

export type Op = '=' | '!=' | '>' | '>=' | '<' | '<=' | '~';

export interface FieldSpec {
  kind: FieldKind;
  /** Scalar kinds: the expression of the value (text, or a number for `number`). */
  expr?: (d: Dialect) => string;
  /** `list`: the JSON path of an array of strings. */
  listPath?: string;
  /** `custom`: builds the predicate itself (e.g. users' `role`, which lives in role records). */
  predicate?: (d: Dialect, op: Op, value: string) => Sql;
  /** Operators a custom field accepts. */
  ops?: readonly Op[];
  /** Not usable in `sort` (lists, custom predicates). */
  unsortable?: boolean;
}

/** `json_extract(r.data, '$.f')` / `(r.data::jsonb ->> 'f')`. `name` must be a plain identifier from model.ts. */
export function jsonText(d: Dialect, name: string, alias = 'r'): string {
  return jsonFieldSql(d, name, alias);
}

/**
 * A column compared with a JSON expression. On SQLite a TEXT column gives the comparison TEXT affinity, and then the
 * expression index (whose column has no affinity) cannot be used: unary `+` strips the column's affinity.
 */
export function bare(d: Dialect, col: string): string {
  return d === 'pg' ? col : `+${col}`;
}

export const jsonField = (name: string, kind: Exclude<FieldKind, 'list' | 'custom'> = 'string'): FieldSpec => ({
  kind,
  expr: (d) => (kind === 'number' && d === 'pg' ? `(${jsonText(d, name)})::numeric` : jsonText(d, name)),
});

export const listField = (name: string): FieldSpec => ({ kind: 'list', listPath: name, unsortable: true });

export const column = (col: 'id' | 'updated_at', kind: 'string' | 'datetime'): FieldSpec => ({ kind, expr: () => `r.${col}` });

/** `status`: active unless the unified record is deleted. */
export const statusField: FieldSpec = {
  kind: 'custom',
  ops: ['=', '!='],
  predicate: (_d, op, value) => {
    if (value !== 'active' && value !== 'tobedeleted') return { sql: '1 = 0', bindings: [] };
    const active = (op === '=') === (value === 'active');
    return { sql: active ? 'r.deleted_at is null' : 'r.deleted_at is not null', bindings: [] };
  },
  expr: () => `(case when r.deleted_at is null then 'active' else 'tobedeleted' end)`,
};

/** SQL that is true when the JSON array at `path` has an element matching `cmp` (`v` is the element). */
export function listHas(d: Dialect, path: string, cmp: (v: string) => string, alias = 'r'): string {
  if (!/^[A-Za-z][A-Za-z0-9]*$/.test(path)) throw new Error(`bad JSON field name ${path}`);
  const a = `${alias}.data`;
  if (d === 'pg') return `exists (select 1 from jsonb_array_elements_text(case when jsonb_typeof(${a}::jsonb -> '${path}') = 'array' then ${a}::jsonb -> '${path}' else '[]'::jsonb end) as je(v) where ${cmp('je.v')})`;
  return `exists (select 1 from json_each(${a}, '$.${path}') as je where ${cmp('je.value')})`;
}

/** `expr LIKE %value%`, case-insensitive on both databases; % _ \ in the value are literal. */
export function containsSql(d: Dialect, expr: string, value: string): Sql {
  const pattern = `%${value.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  return d === 'pg' ? { sql: `${expr} ilike ? escape '\\'`, bindings: [pattern] } : { sql: `${expr} like ? escape '\\'`, bindings: [pattern] };
}
