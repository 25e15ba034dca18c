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
  /**
   * The same condition over a projection row `u` (e.g. `oneroster_users`, projection.ts) instead of `records r`;
   * absent when it cannot be written there (the query then runs over the records).
   */
  proj?: Sql;
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
  /** The same field over a projection row `u` (projection.ts); absent when the projection does not have it. */
  proj?: FieldSpec;
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

/** A column of `records` (the projection rows have it under the same name). */
export const column = (col: 'id' | 'updated_at', kind: 'string' | 'datetime'): FieldSpec => ({ kind, expr: () => `r.${col}`, proj: { kind, expr: () => `u.${col}` } });

/** `status`: active unless the record is deleted (`alias.deleted_at`; projection rows have the column too). */
function statusOf(alias: 'r' | 'u'): FieldSpec {
  return {
    kind: 'custom',
    ops: ['=', '!='],
    predicate: (_d, op, value) => {
      if (value !== 'active' && value !== 'tobedeleted') return { sql: '1 = 0', bindings: [] };
      const active = (op === '=') === (value === 'active');
      return { sql: active ? `${alias}.deleted_at is null` : `${alias}.deleted_at is not null`, bindings: [] };
    },
    expr: () => `(case when ${alias}.deleted_at is null then 'active' else 'tobedeleted' end)`,
  };
}

export const statusField: FieldSpec = { ...statusOf('r'), proj: statusOf('u') };

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

// ---------------------------------------------------------------------------------------------------------------
// Sets of strings in one text column (the role sets of oneroster_users): SEP + esc(v1) + SEP + esc(v2) + ... + SEP,
// an empty set is SEP alone. esc() removes every SEP from a value (and NUL, which PostgreSQL text cannot hold) with
// prefix-free escapes, so it is injective and an encoded value never contains SEP: `SEP esc(v) SEP` then occurs in
// the text exactly when v is a member, whatever the values hold.

const SEP = '\u001f';

const esc = (v: string) => v.replace(/[\\\u001f\u0000]/g, (c) => (c === '\\' ? '\\\\' : c === SEP ? '\\u' : '\\0'));

/** The text of a set of strings (duplicates removed, in first-seen order). */
export function setText(values: Iterable<string>): string {
  const u = [...new Set(values)];
  return u.length ? `${SEP}${u.map(esc).join(SEP)}${SEP}` : SEP;
}

/** True when the set column `col` holds `value` (a bound string: never parsed as a pattern). */
export function setHas(d: Dialect, col: string, value: string): Sql {
  return { sql: d === 'pg' ? `strpos(${col}, ?) > 0` : `instr(${col}, ?) > 0`, bindings: [`${SEP}${esc(value)}${SEP}`] };
}
