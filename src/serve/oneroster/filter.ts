/**
 * The OneRoster `filter` query parameter: a parser and a compiler to parameterized SQL.
 *
 * Grammar (OneRoster 1.1/1.2 REST binding, "Filtering"):
 *
 *   filter     := predicate ( logical predicate )*
 *   logical    := ' AND ' | ' OR '                      (upper case, surrounded by spaces)
 *   predicate  := field ws? operator ws? value
 *   field      := [A-Za-z][A-Za-z0-9_]* ( '.' [A-Za-z][A-Za-z0-9_]* )*      e.g. school.sourcedId
 *   operator   := '=' | '!=' | '>' | '>=' | '<' | '<=' | '~'                 (~ = contains)
 *   value      := "'" chars "'"                           ('' inside a value is one quote: 'O''Brien')
 *
 * AND binds tighter than OR (a AND b OR c = (a AND b) OR c). Parentheses are not part of the grammar. Every error
 * names the character position and what was expected; the compiler never puts a value into SQL text — values are
 * bindings, field names are looked up in the resource's table (unknown field → invalid_filter_field).
 */
import type { Dialect } from '../../store/db';
import { containsSql, listHas, type FieldSpec, type Op, type Sql } from './fields';
import { invalidFilter } from './errors';

export interface Predicate {
  field: string;
  op: Op;
  value: string;
  /** 1-based character position of the field in the filter. */
  at: number;
}

/** Disjunction of conjunctions: or[i] = and-list of predicates. */
export interface FilterAst {
  or: Predicate[][];
}

export const MAX_FILTER_LENGTH = 2000;
export const MAX_PREDICATES = 20;

export class FilterSyntaxError extends Error {
  constructor(
    readonly at: number,
    readonly reason: string,
  ) {
    super(`filter: at character ${at}: ${reason}`);
  }
}

const OPS: readonly Op[] = ['>=', '<=', '!=', '=', '>', '<', '~'];

export function parseFilter(text: string): FilterAst {
  if (text.length > MAX_FILTER_LENGTH) throw new FilterSyntaxError(MAX_FILTER_LENGTH + 1, `the filter is longer than ${MAX_FILTER_LENGTH} characters`);
  let i = 0;
  const n = text.length;
  const fail = (reason: string, at = i): never => {
    throw new FilterSyntaxError(at + 1, reason);
  };
  const skipSpaces = () => {
    while (i < n && text[i] === ' ') i++;
  };
  const show = (s: string) => JSON.stringify(s.length > 20 ? `${s.slice(0, 20)}…` : s);

  const or: Predicate[][] = [[]];
  let count = 0;
  skipSpaces();
  if (i >= n) fail('the filter is empty');
  for (;;) {
    // field
    const at = i;
    const fm = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*/.exec(text.slice(i));
    if (!fm) {
      if (text[i] === '(' || text[i] === ')') fail('parentheses are not part of the OneRoster filter grammar');
      fail(`expected a field name, found ${show(text.slice(i))}`);
    }
    const field = fm![0];
    i += field.length;
    skipSpaces();
    // operator
    const op = OPS.find((o) => text.startsWith(o, i));
    if (!op) fail(i >= n ? `expected an operator (=, !=, >, >=, <, <=, ~) after '${field}', found the end of the filter` : `expected an operator (=, !=, >, >=, <, <=, ~) after '${field}', found ${show(text.slice(i))}`);
    i += op!.length;
    skipSpaces();
    // value
    if (text[i] !== "'") fail(i >= n ? `expected a single-quoted value after '${field}${op}', found the end of the filter` : `expected a single-quoted value after '${field}${op}', found ${show(text.slice(i))} (values are in single quotes: ${field}${op}'...')`);
    const open = i;
    i++;
    let value = '';
    for (;;) {
      if (i >= n) fail('unbalanced quote: the value that starts here is never closed', open);
      if (text[i] === "'") {
        if (text[i + 1] === "'" && !(value === '' && i === open + 1 && (i + 2 >= n || text[i + 2] === ' '))) {
          value += "'";
          i += 2;
          continue;
        }
        i++;
        break;
      }
      value += text[i];
      i++;
    }
    if (++count > MAX_PREDICATES) fail(`more than ${MAX_PREDICATES} predicates`, at);
    or[or.length - 1].push({ field, op: op!, value, at: at + 1 });
    // end or logical operator
    if (i >= n) break;
    const rest = text.slice(i);
    const lm = /^ +(AND|OR) +/.exec(rest);
    if (!lm) {
      const word = /^ +([A-Za-z]+)/.exec(rest);
      if (word && /^(and|or)$/i.test(word[1])) fail(`logical operators are upper case: '${word[1].toUpperCase()}', not '${word[1]}'`, i + word[0].length - word[1].length);
      if (/^ *$/.test(rest)) break;
      fail(`expected ' AND ' or ' OR ' (with spaces) or the end of the filter after the value, found ${show(rest.trimStart())}`);
    }
    i += lm![0].length;
    if (i >= n) fail(`expected a predicate after '${lm![1]}'`);
    if (lm![1] === 'OR') or.push([]);
  }
  return { or };
}

// ---------------------------------------------------------------------------------------------------------------
// Compiling

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const DATETIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/;
const NUMBER_RE = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

const SQL_OP: Record<Exclude<Op, '~'>, string> = { '=': '=', '!=': '<>', '>': '>', '>=': '>=', '<': '<', '<=': '<=' };

/** A datetime filter value as the store writes them (toISOString), so text comparison is chronological. */
function normalizeDateTime(v: string, p: Predicate): string {
  const s = DATE_RE.test(v) ? `${v}T00:00:00Z` : v;
  if (!DATETIME_RE.test(s)) throw invalidFilter(`filter: at character ${p.at}: '${p.field}' is a date-time: the value must be ISO 8601 (2024-01-31T00:00:00Z), found '${v.slice(0, 40)}'`);
  const ms = Date.parse(/(Z|[+-]\d{2}:?\d{2})$/.test(s) ? s : `${s}Z`);
  if (Number.isNaN(ms)) throw invalidFilter(`filter: at character ${p.at}: '${v.slice(0, 40)}' is not a valid date-time`);
  return new Date(ms).toISOString();
}

function compilePredicate(d: Dialect, p: Predicate, spec: FieldSpec): Sql {
  const bad = (why: string) => invalidFilter(`filter: at character ${p.at}: ${why}`);
  if (spec.kind === 'custom') {
    if (spec.ops && !spec.ops.includes(p.op)) throw bad(`'${p.field}' accepts only ${spec.ops.join(' ')}`);
    return spec.predicate!(d, p.op, p.value);
  }
  if (spec.kind === 'list') {
    if (p.op === '=') return { sql: listHas(d, spec.listPath!, (v) => `${v} = ?`), bindings: [p.value] };
    if (p.op === '!=') return { sql: `not ${listHas(d, spec.listPath!, (v) => `${v} = ?`)}`, bindings: [p.value] };
    if (p.op === '~') {
      const c = containsSql(d, 'X', p.value);
      return { sql: listHas(d, spec.listPath!, (v) => c.sql.replace('X', v)), bindings: c.bindings };
    }
    throw bad(`'${p.field}' is a list: it accepts = (has an item), != (has no such item) and ~ (an item contains)`);
  }
  const expr = spec.expr!(d);
  let value: unknown = p.value;
  switch (spec.kind) {
    case 'boolean':
      if (p.op !== '=' && p.op !== '!=') throw bad(`'${p.field}' is a boolean: use = or !=`);
      if (p.value !== 'true' && p.value !== 'false') throw bad(`'${p.field}' is a boolean: the value must be 'true' or 'false'`);
      // SQLite's json_extract gives 1/0 for JSON true/false; PostgreSQL's ->> gives 'true'/'false'.
      value = d === 'pg' ? p.value : p.value === 'true' ? 1 : 0;
      break;
    case 'number':
      if (p.op === '~') throw bad(`'${p.field}' is a number: ~ (contains) does not apply`);
      if (!NUMBER_RE.test(p.value)) throw bad(`'${p.field}' is a number: found '${p.value.slice(0, 40)}'`);
      value = Number(p.value);
      break;
    case 'date':
      if (p.op !== '~' && !DATE_RE.test(p.value)) throw bad(`'${p.field}' is a date: the value must be YYYY-MM-DD, found '${p.value.slice(0, 40)}'`);
      break;
    case 'datetime':
      if (p.op !== '~') value = normalizeDateTime(p.value, p);
      break;
    default:
      break;
  }
  if (p.op === '~') return containsSql(d, expr, p.value);
  if (p.op === '!=') return { sql: `(${expr} is null or ${expr} <> ?)`, bindings: [value] };
  return { sql: `${expr} ${SQL_OP[p.op]} ?`, bindings: [value] };
}

/**
 * SQL for a parsed filter over the resource's fields. Unknown field → invalid_filter_field naming it and listing the
 * known ones.
 */
export function compileFilter(d: Dialect, ast: FilterAst, fields: Readonly<Record<string, FieldSpec>>): Sql {
  const bindings: unknown[] = [];
  const specOf = (p: Predicate) => {
    const spec = Object.prototype.hasOwnProperty.call(fields, p.field) ? fields[p.field] : undefined;
    if (!spec) throw invalidFilter(`filter: at character ${p.at}: '${p.field}' is not a field that can be filtered here (known: ${Object.keys(fields).join(', ')})`);
    return spec;
  };
  // Within an AND, plain comparisons first and subquery predicates (lists, roles, identifiers) last: SQLite
  // evaluates the terms in order, so a cheap failing comparison spares the subquery.
  const costly = (s: FieldSpec) => (s.kind === 'custom' || s.kind === 'list' ? 1 : 0);
  const ors = ast.or.map((and) =>
    and
      .map((p) => ({ p, spec: specOf(p) }))
      .sort((a, b) => costly(a.spec) - costly(b.spec))
      .map(({ p, spec }) => {
        const s = compilePredicate(d, p, spec);
        bindings.push(...s.bindings);
        return `(${s.sql})`;
      })
      .join(' and '),
  );
  return { sql: ors.length === 1 ? ors[0] : ors.map((s) => `(${s})`).join(' or '), bindings };
}

/** Parses; syntax errors become invalid_filter_field. */
export function parseFilterText(text: string): FilterAst {
  try {
    return parseFilter(text);
  } catch (e) {
    if (e instanceof FilterSyntaxError) throw invalidFilter(e.message);
    throw e;
  }
}

/** Parses and compiles; syntax errors become invalid_filter_field. */
export function filterSql(d: Dialect, text: string, fields: Readonly<Record<string, FieldSpec>>): Sql {
  return compileFilter(d, parseFilterText(text), fields);
}

/**
 * The fields of a resource that have a projection form (`proj`), as specs over the projection row `u`. A filter
 * whose every field is in here can run over the projection.
 */
export function projectedFields(fields: Readonly<Record<string, FieldSpec>>): Record<string, FieldSpec> {
  const out: Record<string, FieldSpec> = {};
  for (const [k, s] of Object.entries(fields)) if (s.proj) out[k] = { ...s.proj, unsortable: s.unsortable || s.proj.unsortable };
  return out;
}
