/**
 * Runs a mapping on CSV rows: pure functions from `fields: string[]` (one parsed line) to records or rejects.
 *
 * A mapping is compiled once per file, against that file's header (column names -> positions) and the unified
 * schema (field order, required members), into a small tree of nodes; evaluating a node reads cells by position.
 * Evaluation never throws: every problem of a row is collected, so one reject names all of them.
 *
 * Semantics (README.md, "The mapping language"): cells are trimmed; a blank cell gives no value and the field is
 * left out (unless a value map or a boolean lists ""); a template with a blank placeholder gives no value; a list
 * drops the items that give no value and is left out when none is left; an object is left out when none of the
 * members that read the row gives a value (constants alone do not keep it); a required field (or a required member
 * of an object that is kept) without a value rejects the row, naming the blank column.
 */
import type { EntityType, Reject, SourceRecord } from '../../src/ingest/contract';
import { rowFactory } from '../oneroster-csv/index';
import { compileFormat, parseDate, parseTime, type CompiledFormat } from './dates';
import { builderKind, parseTemplate } from './language';
import type { Builder, ColumnExpr, ColumnRef, Condition, Group, Mapping, ParentMapping, Scalar } from './settings';
import { entitySchema, items, properties, required, type SchemaNode } from './unified';

// ---------------------------------------------------------------------------------------------------------------
// Header

export interface Header {
  names: string[];
  /** Name -> 0-based position of its first occurrence. */
  index: Map<string, number>;
  /** Keys of the raw row object: the names, made unique (`Score (column 9)`) and never blank. */
  keys: string[];
  /** Builds the raw row object of a well-formed row (one generated object literal: see rowFactory). */
  makeRow: (fields: string[]) => Record<string, string>;
}

export function makeHeader(names: string[]): Header {
  const index = new Map<string, number>();
  const keys: string[] = [];
  const used = new Set<string>();
  names.forEach((n, i) => {
    if (!index.has(n)) index.set(n, i);
    let key = n === '' || n === '__proto__' || used.has(n) ? `${n === '' ? 'column' : n} (column ${i + 1})` : n;
    while (used.has(key)) key += "'";
    used.add(key);
    keys.push(key);
  });
  // `__proto__` is renamed above: it is the one key an object literal would treat specially.
  return { names, index, keys, makeRow: rowFactory(keys, -1) as (fields: string[]) => Record<string, string> };
}

/** The row as an object keyed by header name (the record's `raw`); extra cells of a long row under `(column N)`. */
export function rowObject(header: Header, fields: string[]): Record<string, string> {
  if (fields.length === header.keys.length) return header.makeRow(fields);
  const o: Record<string, string> = {};
  for (let i = 0; i < fields.length; i++) {
    const key = i < header.keys.length ? header.keys[i] : `(column ${i + 1})`;
    Object.defineProperty(o, key, { value: fields[i], enumerable: true, writable: true, configurable: true });
  }
  return o;
}

// ---------------------------------------------------------------------------------------------------------------
// Nodes

type Conv =
  | { k: 'none' }
  | { k: 'map'; table: Map<string, Scalar>; def?: Scalar; keys: string }
  | { k: 'date' | 'time'; f: CompiledFormat }
  | { k: 'number' }
  | { k: 'bool'; t: Set<string>; f: Set<string>; lists: string };

interface Col {
  i: number;
  name: string;
}

type Node =
  | { k: 'col'; col: Col; split?: string; conv: Conv; label: string; blankOk: boolean }
  | { k: 'const'; v: Scalar }
  | { k: 'tpl'; parts: Array<string | Col>; label: string }
  | { k: 'arr'; items: Node[]; label: string }
  | { k: 'obj'; members: Member[]; reads: boolean; label: string };

interface Member {
  key: string;
  node: Node;
  required: boolean;
  reads: boolean;
}

export interface RowError {
  /** The CSV column at fault, when there is one. */
  column?: string;
  message: string;
  code: 'row_malformed' | 'record_invalid';
}

interface Ctx {
  errors: RowError[];
  /** A cell beyond the end of a short row was needed (structural rejects): the value is unknown, not blank. */
  missing: boolean;
}

function colOf(ref: ColumnRef, header: Header): Col {
  if (typeof ref === 'number') return { i: ref - 1, name: header.names[ref - 1] || `column ${ref}` };
  const i = header.index.get(ref.trim());
  // Validation against the header runs first; an unknown name here is a programming error.
  if (i === undefined) throw new Error(`column '${ref}' is not in the header`);
  return { i, name: ref.trim() };
}

function reads(n: Node): boolean {
  return n.k === 'col' || n.k === 'tpl' || (n.k === 'arr' && n.items.some(reads)) || (n.k === 'obj' && n.reads);
}

const listOf = (xs: Iterable<string>) => [...xs].map((x) => (x === '' ? '(blank)' : x)).join(', ');

function compileConv(e: ColumnExpr): Conv {
  if (e.map) {
    return { k: 'map', table: new Map(Object.entries(e.map)), ...(e.default !== undefined ? { def: e.default } : {}), keys: listOf(Object.keys(e.map)) };
  }
  if (e.date !== undefined || e.time !== undefined) {
    const kind = e.date !== undefined ? 'date' : 'time';
    const f = compileFormat((e.date ?? e.time)!, kind);
    if (!f.ok) throw new Error(f.message);
    return { k: kind, f: f.format };
  }
  if (e.number) return { k: 'number' };
  if (e.boolean) return { k: 'bool', t: new Set(e.boolean.true), f: new Set(e.boolean.false), lists: `true: ${listOf(e.boolean.true)}; false: ${listOf(e.boolean.false)}` };
  return { k: 'none' };
}

function compileBuilder(b: Builder, node: SchemaNode | undefined, label: string, header: Header): Node {
  switch (builderKind(b)) {
    case 'const':
      return { k: 'const', v: (b as { const: Scalar }).const };
    case 'template': {
      const t = parseTemplate((b as { template: string }).template);
      if ('error' in t) throw new Error(t.error);
      return { k: 'tpl', parts: t.parts.map((p) => ('text' in p ? p.text : colOf(p.column, header))), label };
    }
    case 'column': {
      const e = b as ColumnExpr;
      const conv = compileConv(e);
      const blankOk = (conv.k === 'map' && conv.table.has('')) || (conv.k === 'bool' && (conv.t.has('') || conv.f.has('')));
      return { k: 'col', col: colOf(e.column, header), ...(e.split ? { split: e.split } : {}), conv, label, blankOk };
    }
    case 'array': {
      const it = node ? items(node) : undefined;
      return { k: 'arr', items: (b as Builder[]).map((x, i) => compileBuilder(x, it, `${label}[${i}]`, header)), label };
    }
    case 'object': {
      const props = node ? properties(node) : new Map<string, SchemaNode>();
      const req = new Set(node ? required(node) : []);
      const o = b as Record<string, Builder>;
      // Schema order, so that a record's JSON (and its hash) does not depend on the order keys have in the config.
      const keys = [...props.keys()].filter((k) => k in o);
      for (const k of Object.keys(o)) if (!keys.includes(k)) keys.push(k);
      const members = keys.map((k) => {
        const n = compileBuilder(o[k], props.get(k), `${label}.${k}`, header);
        return { key: k, node: n, required: req.has(k), reads: reads(n) };
      });
      return { k: 'obj', members, reads: members.some((m) => m.reads), label };
    }
    default:
      throw new Error(`${label}: not a valid builder`);
  }
}

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

type ColNode = Extract<Node, { k: 'col' }>;

function fail(n: ColNode, v: string, what: string, ctx: Ctx): undefined {
  ctx.errors.push({ column: n.col.name, message: `${n.label}: "${v}" in column '${n.col.name}' ${what}`, code: 'row_malformed' });
  return undefined;
}

function convert(v: string, n: ColNode, ctx: Ctx): Scalar | undefined {
  const c = n.conv;
  switch (c.k) {
    case 'none':
      return v;
    case 'map': {
      const out = c.table.get(v);
      if (out !== undefined) return out;
      if (c.def !== undefined) return c.def;
      return fail(n, v, `is not in the value map (${c.keys}), which has no default`, ctx);
    }
    case 'date':
      return parseDate(v, c.f) ?? fail(n, v, `is not a date in the format ${c.f.source}`, ctx);
    case 'time':
      return parseTime(v, c.f) ?? fail(n, v, `is not a time in the format ${c.f.source}`, ctx);
    case 'number':
      return NUMBER.test(v) ? Number(v) : fail(n, v, 'is not a number', ctx);
    case 'bool':
      if (c.t.has(v)) return true;
      if (c.f.has(v)) return false;
      return fail(n, v, `is neither true nor false (${c.lists})`, ctx);
  }
}

function cell(fields: string[], col: Col, ctx: Ctx): string | undefined {
  const v = fields[col.i];
  if (v === undefined) {
    ctx.missing = true;
    return undefined;
  }
  return v.trim();
}

function evaluate(n: Node, fields: string[], ctx: Ctx): unknown {
  switch (n.k) {
    case 'const':
      return n.v;
    case 'col': {
      const v = cell(fields, n.col, ctx);
      if (v === undefined) return undefined;
      if (n.split !== undefined) {
        const out: Scalar[] = [];
        for (const item of v.split(n.split)) {
          const t = item.trim();
          if (t === '') continue;
          const x = convert(t, n, ctx);
          if (x !== undefined) out.push(x);
        }
        return out.length ? out : undefined;
      }
      if (v === '' && !n.blankOk) return undefined;
      return convert(v, n, ctx);
    }
    case 'tpl': {
      let s = '';
      for (const p of n.parts) {
        if (typeof p === 'string') s += p;
        else {
          const v = cell(fields, p, ctx);
          if (v === undefined || v === '') return undefined;
          s += v;
        }
      }
      return s;
    }
    case 'arr': {
      const out: unknown[] = [];
      for (const it of n.items) {
        const v = evaluate(it, fields, ctx);
        if (v === undefined) continue;
        if (Array.isArray(v) && it.k === 'col') out.push(...v); // a split cell inside a list: its items join the list
        else out.push(v);
      }
      return out.length ? out : undefined;
    }
    case 'obj': {
      const out: Record<string, unknown> = {};
      let any = false;
      let blank = false;
      const before = ctx.errors.length;
      for (const m of n.members) {
        const v = evaluate(m.node, fields, ctx);
        if (v !== undefined) {
          out[m.key] = v;
          if (m.reads) any = true;
        } else if (m.required) blank = true;
      }
      if (n.reads && !any) return undefined;
      // A kept item without a required member (reported only when the item has no other problem).
      if (blank && ctx.errors.length === before) for (const m of n.members) if (m.required && out[m.key] === undefined) requiredBlank(m.node, fields, ctx, 'in this item ');
      return out;
    }
  }
}

function columnsOf(n: Node): Col[] {
  switch (n.k) {
    case 'col':
      return [n.col];
    case 'tpl':
      return n.parts.filter((p): p is Col => typeof p !== 'string');
    case 'arr':
      return n.items.flatMap(columnsOf);
    case 'obj':
      return n.members.flatMap((m) => columnsOf(m.node));
    default:
      return [];
  }
}

function labelOf(n: Node): string {
  return n.k === 'const' ? '' : n.label;
}

/** "X is required but column 'Student ID' is blank" (naming the blank cells the value comes from). */
function requiredBlank(n: Node, fields: string[], ctx: Ctx, where = ''): void {
  if (ctx.missing) return;
  const cols = columnsOf(n);
  const blank = cols.filter((c) => (fields[c.i] ?? '').trim() === '');
  const names = (blank.length ? blank : cols).map((c) => `'${c.name}'`);
  const unique = [...new Set(names)];
  const what =
    unique.length === 0 ? 'has no value'
    : blank.length ? `but column${unique.length > 1 ? 's' : ''} ${unique.join(', ')} ${unique.length > 1 ? 'are' : 'is'} blank`
    : `but column ${unique.join(', ')} gives no value`;
  const first = blank[0] ?? cols[0];
  ctx.errors.push({ ...(first ? { column: first.name } : {}), message: `${labelOf(n)} is required ${where}${what}`, code: 'record_invalid' });
}

// ---------------------------------------------------------------------------------------------------------------
// Producers: the records one row yields

/** One mapping of a layout, flattened: every mapping's parents come before it, in row order. */
export interface Producer {
  entity: EntityType;
  parent: boolean;
  mapping: ParentMapping;
  /** JSON path of the mapping in the settings. */
  at: string;
}

export function producersOf(group: Group): Producer[] {
  const out: Producer[] = [];
  group.mappings.forEach((m: Mapping, i) => {
    const at = `${group.at === '$' ? '$' : `${group.at}`}.mappings[${i}]`;
    (m.parents ?? []).forEach((p, j) => out.push({ entity: p.entity, parent: true, mapping: p, at: `${at}.parents[${j}]` }));
    out.push({ entity: m.entity, parent: false, mapping: m, at });
  });
  return out;
}

interface CompiledCondition {
  col: Col;
  in?: Set<string>;
  notIn?: Set<string>;
}

export interface CompiledProducer extends Producer {
  sourceId: Node;
  fields: Array<{ key: string; node: Node; required: boolean }>;
  when?: CompiledCondition;
}

export function compileProducer(p: Producer, header: Header): CompiledProducer {
  const schema = entitySchema(p.entity);
  const props = properties(schema);
  const req = new Set(required(schema));
  const sourceId = compileBuilder(p.mapping.sourceId, undefined, `${p.entity}.sourceId`, header);
  const fields = [...props.keys()]
    .filter((k) => k in p.mapping.fields)
    .map((k) => ({ key: k, node: compileBuilder(p.mapping.fields[k], props.get(k), `${p.entity}.${k}`, header), required: req.has(k) }));
  const w: Condition | undefined = p.mapping.when;
  return {
    ...p,
    sourceId,
    fields,
    ...(w ? { when: { col: colOf(w.column, header), ...(w.in ? { in: new Set(w.in) } : {}), ...(w.notIn ? { notIn: new Set(w.notIn) } : {}) } } : {}),
  };
}

/** Whether the mapping applies to the row; undefined when the condition's cell is not available (a broken row). */
export function applies(cp: CompiledProducer, fields: string[]): boolean | undefined {
  if (!cp.when) return true;
  const raw = fields[cp.when.col.i];
  if (raw === undefined) return undefined;
  const v = raw.trim();
  if (cp.when.in) return cp.when.in.has(v) && !cp.when.notIn?.has(v);
  return v !== '' && !cp.when.notIn?.has(v);
}

/** The record's sourceId, when the row gives one (no errors reported). */
export function sourceIdOf(cp: CompiledProducer, fields: string[]): string | undefined {
  const ctx: Ctx = { errors: [], missing: false };
  const v = evaluate(cp.sourceId, fields, ctx);
  if (v === undefined || ctx.errors.length || ctx.missing) return undefined;
  const s = String(v);
  return s === '' ? undefined : s;
}

export type MapResult = { sourceId: string; data: Record<string, unknown>; errors?: undefined } | { sourceId?: string; data?: undefined; errors: RowError[] };

/** Maps one well-formed row. */
export function mapRow(cp: CompiledProducer, fields: string[]): MapResult {
  const ctx: Ctx = { errors: [], missing: false };
  const sid = evaluate(cp.sourceId, fields, ctx);
  const sourceId = sid === undefined || sid === '' ? undefined : String(sid);
  if (sourceId === undefined && ctx.errors.length === 0) requiredBlank(cp.sourceId, fields, ctx);
  const data: Record<string, unknown> = {};
  for (const f of cp.fields) {
    const before = ctx.errors.length;
    const v = evaluate(f.node, fields, ctx);
    if (v !== undefined) data[f.key] = v;
    else if (f.required && ctx.errors.length === before) requiredBlank(f.node, fields, ctx);
  }
  if (ctx.errors.length) return { ...(sourceId !== undefined ? { sourceId } : {}), errors: ctx.errors };
  return { sourceId: sourceId!, data };
}

// ---------------------------------------------------------------------------------------------------------------
// Rows -> records and rejects

export interface RowInput {
  file: string;
  line: number;
  fields: string[];
  /** Set when the line could not be parsed (quoting), or does not have the header's number of fields. */
  malformed?: { reason: string; field?: string; raw: unknown; available: string[] };
}

export interface RowOutput {
  records: SourceRecord[];
  rejects: Array<Reject & { entity?: EntityType }>;
}

/**
 * Yields what one row gives for the producers (of one entity type when reading a stream; of all when previewing).
 * `seen` holds `entity\0sourceId` of the parents already yielded in this run. A malformed row gives one reject per
 * producer that would have read it (with its sourceId when the cells before the break give it), or, with
 * `onePerLine`, a single reject for the line.
 */
export function processRow(cps: CompiledProducer[], row: RowInput, header: Header, seen: Set<string>, out: RowOutput, onePerLine = false): void {
  const location = `${row.file}:${row.line}`;
  if (row.malformed) {
    const m = row.malformed;
    const ids = new Set<string>();
    for (const cp of cps) {
      if (applies(cp, m.available) === false) continue;
      const sourceId = sourceIdOf(cp, m.available);
      if (cp.parent && sourceId !== undefined && seen.has(`${cp.entity}\u0000${sourceId}`)) continue;
      if (onePerLine) {
        out.rejects.push({ location, ...(m.field !== undefined ? { field: m.field } : {}), reason: m.reason, code: 'row_malformed', raw: m.raw });
        return;
      }
      const key = `${cp.entity}\u0000${sourceId ?? ''}`;
      if (ids.has(key)) continue; // two mappings of one type on the row, no different id to tell them apart
      ids.add(key);
      out.rejects.push({
        location,
        ...(m.field !== undefined ? { field: m.field } : {}),
        reason: m.reason,
        code: 'row_malformed',
        raw: m.raw,
        ...(sourceId !== undefined ? { sourceId } : {}),
        entity: cp.entity,
      });
    }
    return;
  }
  let raw: Record<string, string> | undefined;
  for (const cp of cps) {
    if (!applies(cp, row.fields)) continue;
    if (cp.parent) {
      const sid = sourceIdOf(cp, row.fields);
      if (sid !== undefined && seen.has(`${cp.entity}\u0000${sid}`)) continue;
    }
    const r = mapRow(cp, row.fields);
    raw ??= rowObject(header, row.fields);
    if (r.errors) {
      const first = r.errors[0];
      out.rejects.push({
        location,
        ...(first.column !== undefined ? { field: first.column } : {}),
        reason: r.errors.map((e) => e.message).join('; '),
        code: first.code,
        raw,
        ...(r.sourceId !== undefined ? { sourceId: r.sourceId } : {}),
        entity: cp.entity,
      });
      continue;
    }
    if (cp.parent) seen.add(`${cp.entity}\u0000${r.sourceId}`);
    out.records.push({ type: cp.entity, sourceId: r.sourceId, data: r.data, raw, location });
  }
}
