/**
 * Config-time validation of mapped-csv settings: every problem with the JSON path of the setting at fault
 * (`$.mappings[0].fields.scores[0].value.column`) and a message an operator can act on.
 *
 * Without headers it checks what the settings alone can tell: the shape, entity types, fields against the unified
 * schema (unknown, required but unmapped, wrong type), date and time formats, value maps and constants against the
 * field's schema (enumerations, patterns), references to entity types no mapping yields. With the header row of
 * the files (plan(), check() and the preview read it) it also checks every column a mapping names.
 *
 * The connector's JSON Schema (what the hub checks when it loads its configuration) says the same about the shape
 * in coarser words; it runs last here, as a backstop for anything this walk does not look at.
 */
import { ajv, ajvDetails } from '../../src/core/schemas';
import { ENTITY_TYPES, type EntityType } from '../../src/ingest/contract';
import { compileFormat } from './dates';
import { CONVERSIONS, EXPRESSION_KEYS, builderKind, matchesGlob, parseTemplate, suggest } from './language';
import {
  DELIMITERS,
  ENCODINGS,
  MAX_HEADER_ROW,
  MAX_PAGE_SIZE,
  pathKey,
  type ColumnRef,
  type Scalar,
} from './settings';
import {
  entitySchema,
  isEntityType,
  items,
  jsonTypes,
  properties,
  refTarget,
  required,
  valueProblem,
  type JsonType,
  type SchemaNode,
} from './unified';

export interface Problem {
  /** JSON path into the settings: `$.mappings[0].fields.personId.column`. */
  path: string;
  message: string;
}

export interface ValidateOptions {
  /**
   * Header rows (names, in file order) read from the files: by file name — each is checked against the layout whose
   * `match` it meets — or one header for every layout.
   */
  headers?: Record<string, string[]> | string[];
}

export const CONFIG_SCHEMA_ID = '/schemas/connectors/mapped-csv.config.schema.json';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);
const list = (xs: Iterable<string>) => [...xs].join(', ');
const quoteList = (xs: Iterable<string>) => [...xs].map((x) => `'${x}'`).join(', ');

const TOP_KEYS = ['path', 'mode', 'delimiter', 'encoding', 'headerRow', 'pageSize', 'files', 'mappings'];
const FILE_KEYS = ['match', 'delimiter', 'encoding', 'headerRow', 'mappings'];
const MAPPING_KEYS = ['entity', 'sourceId', 'fields', 'when', 'parents'];
const COLUMN_KEYS = ['column', 'split', ...CONVERSIONS, 'default'];
const CONDITION_KEYS = ['column', 'in', 'notIn'];

/** Where a mapping names a column: checked against the header when one is known. */
interface ColumnUse {
  at: string;
  ref: ColumnRef;
  via: 'column' | 'template' | 'when';
}

/** The schema node a sourceId must fit. */
const SOURCE_ID_NODE: SchemaNode = { raw: { type: 'string', minLength: 1 }, key: '' };

class Walk {
  readonly problems: Problem[] = [];
  /** Column uses per layout (index of files[], or 0 for top-level mappings). */
  readonly uses = new Map<number, ColumnUse[]>();
  private group = 0;

  constructor(private readonly produced: Set<EntityType>) {}

  add(path: string, message: string): void {
    this.problems.push({ path, message });
  }

  unknownKeys(o: Obj, at: string, allowed: string[], what: string): void {
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) {
        const hint = suggest(k, allowed);
        this.add(pathKey(at, k), `is not allowed here (unknown key${hint ? `; did you mean '${hint}'?` : ''}; ${what} takes ${list(allowed)})`);
      }
    }
  }

  useColumn(use: ColumnUse): void {
    let l = this.uses.get(this.group);
    if (!l) this.uses.set(this.group, (l = []));
    l.push(use);
  }

  top(s: unknown): void {
    if (!isObj(s)) {
      this.add('$', 'settings must be an object');
      return;
    }
    this.unknownKeys(s, '$', TOP_KEYS, 'the settings object');
    if (typeof s.path !== 'string' || s.path.trim() === '') this.add('$.path', 'is required: the CSV file, or the folder of CSV files, to read');
    if (s.mode === undefined) {
      this.add('$.mode', "is required: 'full' (the files are the complete truth: records they no longer contain are deleted) or 'incremental' (adds and updates only)");
    } else if (s.mode !== 'full' && s.mode !== 'incremental') {
      this.add('$.mode', `must be 'full' or 'incremental', found ${JSON.stringify(s.mode)}`);
    }
    this.format(s, '$');
    if (s.pageSize !== undefined && !(Number.isInteger(s.pageSize) && (s.pageSize as number) >= 1 && (s.pageSize as number) <= MAX_PAGE_SIZE)) {
      this.add('$.pageSize', `must be an integer from 1 to ${MAX_PAGE_SIZE}`);
    }
    const hasFiles = s.files !== undefined;
    const hasMappings = s.mappings !== undefined;
    if (hasFiles && hasMappings) {
      this.add('$', 'give either files (a layout per file name) or mappings (one layout for every file), not both');
    } else if (!hasFiles && !hasMappings) {
      this.add('$.mappings', 'is required (or files): what each CSV row yields');
    }
    if (hasFiles) {
      if (!Array.isArray(s.files) || s.files.length === 0) {
        this.add('$.files', 'must be a non-empty list of { match, mappings }');
      } else {
        const seen = new Map<string, number>();
        s.files.forEach((f, i) => {
          const at = `$.files[${i}]`;
          this.group = i;
          if (!isObj(f)) {
            this.add(at, 'must be an object { match, mappings }');
            return;
          }
          this.unknownKeys(f, at, FILE_KEYS, 'a files[] entry');
          if (typeof f.match !== 'string' || f.match.trim() === '') {
            this.add(`${at}.match`, "is required: a file name or a pattern such as 'benchmark_*.csv'");
          } else if (/[\\/]/.test(f.match)) {
            this.add(`${at}.match`, 'matches file names inside the folder of path: it may not contain / or \\');
          } else {
            const first = seen.get(f.match.toLowerCase());
            if (first !== undefined) this.add(`${at}.match`, `repeats files[${first}].match '${f.match}': a file takes the first entry it matches, so this one never applies`);
            else seen.set(f.match.toLowerCase(), i);
          }
          this.format(f, at);
          this.mappings(f.mappings, `${at}.mappings`);
        });
      }
    } else if (hasMappings) {
      this.group = 0;
      this.mappings(s.mappings, '$.mappings');
    }
  }

  format(o: Obj, at: string): void {
    if (o.delimiter !== undefined && !DELIMITERS.includes(o.delimiter as never)) {
      this.add(`${at}.delimiter`, `must be one of ${DELIMITERS.map((d) => JSON.stringify(d)).join(', ')}, found ${JSON.stringify(o.delimiter)}`);
    }
    if (o.encoding !== undefined && !ENCODINGS.includes(o.encoding as never)) {
      this.add(`${at}.encoding`, `must be 'utf8' or 'latin1' (Windows-1252 exports read as latin1), found ${JSON.stringify(o.encoding)}`);
    }
    if (o.headerRow !== undefined && !(Number.isInteger(o.headerRow) && (o.headerRow as number) >= 1 && (o.headerRow as number) <= MAX_HEADER_ROW)) {
      this.add(`${at}.headerRow`, `must be the 1-based line number of the header row (1 to ${MAX_HEADER_ROW})`);
    }
  }

  mappings(ms: unknown, at: string): void {
    if (!Array.isArray(ms) || ms.length === 0) {
      this.add(at, 'must be a non-empty list of mappings { entity, sourceId, fields }');
      return;
    }
    ms.forEach((m, i) => this.mapping(m, `${at}[${i}]`, true));
  }

  mapping(m: unknown, at: string, allowParents: boolean): void {
    if (!isObj(m)) {
      this.add(at, 'must be a mapping { entity, sourceId, fields }');
      return;
    }
    this.unknownKeys(m, at, allowParents ? MAPPING_KEYS : MAPPING_KEYS.filter((k) => k !== 'parents'), allowParents ? 'a mapping' : 'a parent mapping (parents do not nest)');
    let entity: EntityType | undefined;
    if (m.entity === undefined) this.add(`${at}.entity`, 'is required: the unified entity type this mapping yields');
    else if (!isEntityType(m.entity)) {
      const hint = typeof m.entity === 'string' ? suggest(m.entity, ENTITY_TYPES) : undefined;
      this.add(`${at}.entity`, `unknown entity type ${JSON.stringify(m.entity)}${hint ? ` (did you mean '${hint}'?)` : ''}; expected one of: ${list(ENTITY_TYPES)}`);
    } else entity = m.entity;

    if (m.sourceId === undefined) {
      this.add(`${at}.sourceId`, "is required: an expression for the record's id in the source, e.g. { \"column\": \"Student ID\" } or { \"template\": \"{Student ID}-{Test Date}\" }");
    } else {
      const k = builderKind(m.sourceId);
      if (k === 'array' || k === 'object') this.add(`${at}.sourceId`, 'must be an expression: { column }, { const } or { template }');
      else this.builder(m.sourceId, SOURCE_ID_NODE, `${at}.sourceId`, `${entity ?? 'record'} sourceId`, false);
    }

    if (!isObj(m.fields)) {
      this.add(`${at}.fields`, 'is required: an object of unified field -> expression');
    } else if (entity) {
      const schema = entitySchema(entity);
      const props = properties(schema);
      const names = [...props.keys()].filter((k) => k !== 'id');
      for (const [field, b] of Object.entries(m.fields)) {
        const fat = pathKey(`${at}.fields`, field);
        if (field === 'id') {
          this.add(fat, "id is assigned by the hub: map the source's identifier with sourceId instead");
          continue;
        }
        const node = props.get(field);
        if (!node) {
          const hint = suggest(field, names);
          this.add(fat, `unknown field '${field}' for ${entity}${hint ? ` (did you mean '${hint}'?)` : ''}; its fields are: ${list(names)}`);
          continue;
        }
        const target = refTarget(node);
        if (target && !this.produced.has(target)) {
          this.add(
            fat,
            `${field} refers to ${target} records, but no mapping yields ${target} records: references resolve only against records this connector yields (add a parent mapping with entity '${target}', or leave ${field} out)`,
          );
        }
        this.builder(b, node, fat, `${entity}.${field}`, true);
      }
      for (const r of required(schema)) {
        if (r !== 'id' && !(r in m.fields)) this.add(`${at}.fields`, `required field '${r}' of ${entity} is not mapped`);
      }
    }

    if (m.when !== undefined) this.condition(m.when, `${at}.when`);

    if (m.parents !== undefined && allowParents) {
      if (!Array.isArray(m.parents)) this.add(`${at}.parents`, 'must be a list of parent mappings { entity, sourceId, fields }');
      else m.parents.forEach((p, j) => this.mapping(p, `${at}.parents[${j}]`, false));
    }
  }

  condition(c: unknown, at: string): void {
    if (!isObj(c)) {
      this.add(at, 'must be { column } (the cell is not blank), { column, in: [...] } or { column, notIn: [...] }');
      return;
    }
    this.unknownKeys(c, at, CONDITION_KEYS, 'a condition');
    this.columnRef(c.column, `${at}.column`, 'when');
    for (const k of ['in', 'notIn'] as const) {
      const v = c[k];
      if (v !== undefined && !(Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string'))) this.add(`${at}.${k}`, 'must be a non-empty list of strings');
    }
  }

  columnRef(ref: unknown, at: string, via: ColumnUse['via']): void {
    if (typeof ref === 'string' && ref.trim() !== '') this.useColumn({ at, ref: ref.trim(), via });
    else if (typeof ref === 'number' && Number.isInteger(ref) && ref >= 1) this.useColumn({ at, ref, via });
    else this.add(at, 'must be a column name as in the header row, or a 1-based column position');
  }

  /**
   * Checks a builder against the schema node of the field it fills. `label` names the field in messages
   * (`assessmentResult.scores[].value`); `typed` is false for sourceId (any scalar is turned into a string).
   */
  builder(b: unknown, node: SchemaNode, at: string, label: string, typed: boolean): void {
    const kind = builderKind(b);
    const types = jsonTypes(node);
    const accepts = (t: JsonType) => types.size === 0 || types.has(t);
    switch (kind) {
      case 'invalid':
        if (isObj(b)) this.add(at, `an expression has exactly one of ${list(EXPRESSION_KEYS)}; found ${list(EXPRESSION_KEYS.filter((k) => k in b))}`);
        else this.add(at, `must be an expression ({ column }, { const } or { template }), a list [ ... ] or an object { ... }; found ${JSON.stringify(b)}`);
        return;
      case 'array': {
        const arr = b as unknown[];
        if (!accepts('array')) {
          this.add(at, `${label} is ${describe(types)}, not a list: use an expression${types.has('object') ? ' object { ... }' : ''}`);
          return;
        }
        if (arr.length === 0) {
          this.add(at, 'an empty list: leave the field out instead');
          return;
        }
        const itemNode = items(node) ?? { raw: {}, key: '' };
        arr.forEach((item, i) => this.builder(item, itemNode, `${at}[${i}]`, `${label}[]`, typed));
        return;
      }
      case 'object': {
        const o = b as Obj;
        if (!accepts('object')) {
          const hint = types.has('array') ? ' (it is a list: wrap it in [ ])' : '';
          this.add(at, `${label} is ${describe(types)}${hint}; an object here must be an expression with one of ${list(EXPRESSION_KEYS)}`);
          return;
        }
        const props = properties(node);
        if (props.size === 0) return;
        if (Object.keys(o).length === 0) this.add(at, 'an empty object: leave the field out instead');
        for (const [k, v] of Object.entries(o)) {
          const p = props.get(k);
          if (!p) {
            const hint = suggest(k, props.keys());
            this.add(pathKey(at, k), `unknown field '${k}' in ${label}${hint ? ` (did you mean '${hint}'?)` : ''}; its fields are: ${list(props.keys())}`);
            continue;
          }
          this.builder(v, p, pathKey(at, k), `${label}.${k}`, true);
        }
        for (const r of required(node)) if (!(r in o)) this.add(at, `required field '${r}' of ${label} is not mapped`);
        return;
      }
      case 'const': {
        const e = b as Obj;
        this.unknownKeys(e, at, ['const'], 'a const expression');
        const v = e.const;
        if (!isScalar(v)) {
          this.add(`${at}.const`, 'must be a string, a number or a boolean (use a list or an object builder for structured values)');
          return;
        }
        if (!typed) return;
        this.fits(typeof v as JsonType, false, node, at, label);
        if (jsonTypes(node).has(typeof v as JsonType)) this.value(node, v, `${at}.const`, label);
        return;
      }
      case 'template': {
        const e = b as Obj;
        this.unknownKeys(e, at, ['template'], 'a template expression');
        if (typeof e.template !== 'string' || e.template === '') {
          this.add(`${at}.template`, 'must be a non-empty string with {Column Name} placeholders');
          return;
        }
        const t = parseTemplate(e.template);
        if ('error' in t) {
          this.add(`${at}.template`, t.error);
          return;
        }
        const cols = t.parts.filter((p): p is { column: string } => 'column' in p);
        if (cols.length === 0) this.add(`${at}.template`, 'has no {Column Name} placeholder: use { "const": ... } for a fixed value');
        for (const c of cols) this.useColumn({ at: `${at}.template`, ref: c.column, via: 'template' });
        if (typed) this.fits('string', false, node, at, label);
        return;
      }
      case 'column':
        this.column(b as Obj, node, at, label, typed);
        return;
    }
  }

  column(e: Obj, node: SchemaNode, at: string, label: string, typed: boolean): void {
    this.unknownKeys(e, at, COLUMN_KEYS, 'a column expression');
    this.columnRef(e.column, `${at}.column`, 'column');
    const convs = CONVERSIONS.filter((k) => k in e);
    if (convs.length > 1) this.add(at, `use one of ${list(CONVERSIONS)} on a column, not ${list(convs)}`);
    if ('default' in e && !('map' in e)) this.add(`${at}.default`, 'applies to values missing from a value map: add map, or remove default');
    if ('default' in e && !isScalar(e.default)) this.add(`${at}.default`, 'must be a string, a number or a boolean');
    if ('split' in e && (typeof e.split !== 'string' || e.split === '')) this.add(`${at}.split`, "must be the separator between list items, e.g. ';'");

    let out: JsonType = 'string';
    if ('map' in e) {
      const map = e.map;
      if (!isObj(map) || Object.keys(map).length === 0) {
        this.add(`${at}.map`, 'must be a non-empty object of cell value -> output value');
      } else {
        const bad = Object.entries(map).filter(([, v]) => !isScalar(v));
        for (const [k] of bad) this.add(pathKey(`${at}.map`, k), 'must be a string, a number or a boolean');
        const outs = new Set([...Object.values(map), ...('default' in e ? [e.default] : [])].filter(isScalar).map((v) => typeof v as JsonType));
        if (outs.size > 1) this.add(`${at}.map`, `mixes output types (${list(outs)}): a field has one type`);
        out = outs.size === 1 ? [...outs][0] : 'string';
      }
    } else if ('date' in e || 'time' in e) {
      const kind = 'date' in e ? 'date' : 'time';
      const fmt = e[kind];
      if (typeof fmt !== 'string' || fmt === '') this.add(`${at}.${kind}`, `must be a ${kind} format such as ${kind === 'date' ? "'MM/DD/YYYY'" : "'h:mm A'"}`);
      else {
        const f = compileFormat(fmt, kind);
        if (!f.ok) this.add(`${at}.${kind}`, f.message);
      }
    } else if ('number' in e) {
      if (e.number !== true) this.add(`${at}.number`, 'must be true (the cell is a decimal number such as 12 or -3.5)');
      out = 'number';
    } else if ('boolean' in e) {
      const bl = e.boolean;
      if (!isObj(bl) || !isStrings(bl.true) || !isStrings(bl.false) || Object.keys(bl).some((k) => k !== 'true' && k !== 'false')) {
        this.add(`${at}.boolean`, 'must be { "true": [values...], "false": [values...] }, e.g. { "true": ["Y", "Yes"], "false": ["N", "No"] }');
      } else {
        const both = (bl.true as string[]).filter((v) => (bl.false as string[]).includes(v));
        if (both.length) this.add(`${at}.boolean`, `${quoteList(both)} cannot be both true and false`);
      }
      out = 'boolean';
    }
    const isList = typeof e.split === 'string' && e.split !== '';
    if (!typed) {
      if (isList) this.add(`${at}.split`, `${label} is one string: it cannot be a list (remove split)`);
      return;
    }
    this.fits(out, isList, node, at, label);
    // Constants a value map can produce must fit the field (enumerations, patterns, lengths).
    if ('map' in e && isObj(e.map)) {
      const target = isList ? items(node) : node;
      if (target && jsonTypes(target).has(out)) {
        for (const [k, v] of Object.entries(e.map)) if (isScalar(v)) this.value(target, v, pathKey(`${at}.map`, k), label);
        if (isScalar(e.default)) this.value(target, e.default, `${at}.default`, label);
      }
    }
  }

  /** Does an expression's output (a scalar type, or a list of them with split) fit the field? */
  fits(out: JsonType, isList: boolean, node: SchemaNode, at: string, label: string): void {
    const types = jsonTypes(node);
    if (types.size === 0) return;
    if (isList) {
      if (!types.has('array')) {
        this.add(`${at}.split`, `split makes a list, but ${label} is ${describe(types)}: remove split`);
        return;
      }
      const it = items(node);
      const itemTypes = it ? jsonTypes(it) : new Set<JsonType>();
      if (itemTypes.size && !itemTypes.has(out)) {
        this.add(at, `split makes a list of ${out}s, but ${label} is a list of ${describe(itemTypes, true)}: use a list builder [ { ... } ]`);
      }
      return;
    }
    if (types.has(out)) return;
    if (types.has('array')) {
      this.add(at, `${label} is a list: wrap the expression in [ ], or split a cell with { "column": ..., "split": ";" }`);
    } else if (types.has('object')) {
      this.add(at, `${label} is an object: map its fields, e.g. { "${[...properties(node).keys()][0] ?? 'field'}": { "column": ... } }`);
    } else {
      const hint =
        types.has('number') ? ' (add "number": true to read the cell as a number)'
        : types.has('boolean') ? ' (add "boolean": { "true": [...], "false": [...] } to read the cell as a boolean)'
        : types.has('string') && out !== 'string' ? ' (remove number/boolean, or map to strings)'
        : '';
      this.add(at, `${label} is ${describe(types)}, but this expression gives a ${out}${hint}`);
    }
  }

  value(node: SchemaNode, v: Scalar, at: string, label: string): void {
    const why = valueProblem(node, v);
    if (why) this.add(at, `${JSON.stringify(v)} is not a valid ${label}: ${why}`);
  }
}

function isScalar(v: unknown): v is Scalar {
  return typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean';
}
function isStrings(v: unknown): v is string[] {
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string');
}
const TYPE_WORDS: Record<JsonType, [string, string]> = {
  string: ['a string', 'strings'],
  number: ['a number', 'numbers'],
  integer: ['an integer', 'integers'],
  boolean: ['a boolean', 'booleans'],
  object: ['an object', 'objects'],
  array: ['a list', 'lists'],
  null: ['null', 'nulls'],
};
/** `a number`, `a string or a list`; `integer` stands for itself (jsonTypes adds `number` to it). */
function describe(types: Set<JsonType>, plural = false): string {
  const names = [...types].filter((t) => !(t === 'number' && types.has('integer')));
  return names.map((t) => TYPE_WORDS[t][plural ? 1 : 0]).join(' or ');
}

/** Entity types yielded anywhere in the settings (mappings and their parents, every layout). */
function producedTypes(s: unknown): Set<EntityType> {
  const out = new Set<EntityType>();
  const visit = (ms: unknown) => {
    if (!Array.isArray(ms)) return;
    for (const m of ms) {
      if (!isObj(m)) continue;
      if (isEntityType(m.entity)) out.add(m.entity);
      visit(m.parents);
    }
  };
  if (isObj(s)) {
    visit(s.mappings);
    if (Array.isArray(s.files)) for (const f of s.files) if (isObj(f)) visit(f.mappings);
  }
  return out;
}

/** Problems of the columns a layout names, against one file's header. */
export function headerProblems(uses: ColumnUse[], header: string[], file: string | undefined): Problem[] {
  const out: Problem[] = [];
  const where = file ? ` in ${file}` : ' in the header';
  const positions = new Map<string, number[]>();
  header.forEach((h, i) => {
    const l = positions.get(h);
    if (l) l.push(i + 1);
    else positions.set(h, [i + 1]);
  });
  const available = header.filter((h) => h !== '');
  const undecodable = header.some((h) => h.includes('\uFFFD')) ? " (the header has characters that are not UTF-8: if the file comes from Excel on Windows, set encoding 'latin1')" : '';
  for (const u of uses) {
    if (typeof u.ref === 'number') {
      if (u.ref > header.length) out.push({ path: u.at, message: `column ${u.ref} is past the last column${where} (it has ${header.length})` });
      continue;
    }
    const at = positions.get(u.ref);
    const what = u.via === 'template' ? `template placeholder {${u.ref}}: column` : 'column';
    if (!at) {
      const hint = suggest(u.ref, available);
      out.push({
        path: u.at,
        message: `${what} '${u.ref}' not found${where}${hint ? ` (did you mean '${hint}'?${hint.toLowerCase() === u.ref.toLowerCase() ? ' names are case-sensitive' : ''})` : ''}; available: ${quoteList(available)}${undecodable}`,
      });
    } else if (at.length > 1) {
      out.push({ path: u.at, message: `${what} '${u.ref}' appears ${at.length} times${where} (columns ${at.join(', ')}): refer to one by position, e.g. { "column": ${at[at.length - 1]} }` });
    }
  }
  return out;
}

/**
 * Validates mapped-csv settings; `[]` when they are fine. With `headers`, also checks the columns each mapping names
 * against the files' header rows.
 */
export function validateMapping(settings: unknown, opts: ValidateOptions = {}): Problem[] {
  const walk = new Walk(producedTypes(settings));
  walk.top(settings);
  const problems = walk.problems;
  if (problems.length === 0) {
    // Backstop: the JSON Schema the hub checks at load time must agree.
    const v = ajv().getSchema(CONFIG_SCHEMA_ID);
    if (v && !v(settings)) {
      for (const d of ajvDetails(v.errors)) problems.push({ path: d.path === '(root)' ? '$' : `$.${d.path}`.replace(/\.(\d+)(?=\.|$)/g, '[$1]'), message: d.message });
    }
  }
  if (!opts.headers) return problems;

  // Columns are checked even when other settings have problems, so that one pass shows everything.
  const s = settings as { files?: unknown };
  const groupOf = (file: string): number =>
    Array.isArray(s.files) ? s.files.findIndex((f) => isObj(f) && typeof f.match === 'string' && matchesGlob(f.match, file)) : 0;
  const seen = new Set<string>();
  const push = (p: Problem) => {
    const key = `${p.path}\u0000${p.message}`;
    if (!seen.has(key)) problems.push(p);
    seen.add(key);
  };
  if (Array.isArray(opts.headers)) {
    for (const uses of walk.uses.values()) for (const p of headerProblems(uses, opts.headers, undefined)) push(p);
  } else {
    for (const [file, header] of Object.entries(opts.headers)) {
      const g = groupOf(file);
      if (g < 0) continue;
      for (const p of headerProblems(walk.uses.get(g) ?? [], header, file)) push(p);
    }
  }
  return problems;
}

/** Problems as lines for an error message or a terminal: `$.mappings[0].entity: unknown entity type ...`. */
export function formatProblems(problems: Problem[]): string {
  return problems.map((p) => `${p.path}: ${p.message}`).join('\n');
}
