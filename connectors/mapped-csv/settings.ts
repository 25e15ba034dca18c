/**
 * Settings of the mapped-csv connector (schemas/connectors/mapped-csv.config.schema.json) and their defaults.
 * The mapping language itself is described in README.md; validate.ts checks it, compile.ts runs it.
 */
import type { EntityType, SyncMode } from '../../src/ingest/contract';

/** A CSV column by header name, or by 1-based position (for files that repeat a header name). */
export type ColumnRef = string | number;

export type Scalar = string | number | boolean;

export interface ColumnExpr {
  column: ColumnRef;
  /** Splits the cell into a list on this separator (items trimmed, blank items dropped). */
  split?: string;
  /** Value map: cell value -> output. A key "" matches a blank cell. */
  map?: Record<string, Scalar>;
  /** Output for a non-blank value that is not a key of `map`. Without it, such a value rejects the row. */
  default?: Scalar;
  /** Date format of the cell (tokens in dates.ts); the output is an ISO date YYYY-MM-DD. */
  date?: string;
  /** Time format of the cell; the output is HH:MM (or HH:MM:SS when the format has seconds). */
  time?: string;
  /** The cell is a decimal number. */
  number?: true;
  /** Which cell values mean true and false (exact match after trimming; "" may be listed for a blank cell). */
  boolean?: { true: string[]; false: string[] };
}

export interface ConstExpr {
  const: Scalar;
}

export interface TemplateExpr {
  /** `{Column Name}` placeholders; `{{` and `}}` are literal braces. Yields nothing when a placeholder is blank. */
  template: string;
}

export type Expression = ColumnExpr | ConstExpr | TemplateExpr;

/** An expression, a list of builders (a JSON array), or an object of builders (a unified nested object). */
export type Builder = Expression | Builder[] | { [field: string]: Builder };

export interface Condition {
  column: ColumnRef;
  /** Only when the (trimmed) cell is one of these. Without `in`/`notIn`: only when the cell is not blank. */
  in?: string[];
  /** Only when the (trimmed) cell is not blank and none of these. */
  notIn?: string[];
}

export interface ParentMapping {
  entity: EntityType;
  sourceId: Expression;
  fields: Record<string, Builder>;
  when?: Condition;
}

export interface Mapping extends ParentMapping {
  /**
   * Records the same row also yields, deduplicated by sourceId within the run: the first row that yields a parent
   * wins, later rows with the same parent sourceId do not repeat it.
   */
  parents?: ParentMapping[];
}

export type Delimiter = ',' | ';' | '\t' | '|';
export type Encoding = 'utf8' | 'latin1';

export interface FileFormat {
  delimiter?: Delimiter;
  encoding?: Encoding;
  /** 1-based line of the header row; lines above it (report banners) are skipped. */
  headerRow?: number;
}

export interface FileSpec extends FileFormat {
  /** An exact file name or a glob (`*`, `?`), matched case-insensitively against the names in the folder. */
  match: string;
  mappings: Mapping[];
}

export interface MappedCsvSettings extends FileFormat {
  /** A CSV file, or a folder of them; relative to the configuration file's folder. */
  path: string;
  /** full: the files are the complete truth for the entity types they yield (then swept); incremental: upserts only. */
  mode: SyncMode;
  /** Most records (+ rejects) per page. */
  pageSize?: number;
  /** Per-file mappings (a folder with several layouts). Exclusive with `mappings`. */
  files?: FileSpec[];
  /** The mappings of every file: the one file at `path`, or every *.csv in the folder. Exclusive with `files`. */
  mappings?: Mapping[];
}

export const DEFAULT_PAGE_SIZE = 1000;
export const MAX_PAGE_SIZE = 50000;
export const DELIMITERS: Delimiter[] = [',', ';', '\t', '|'];
export const ENCODINGS: Encoding[] = ['utf8', 'latin1'];
/** Report banners above the header are a few lines; a header further down is a wrong setting. */
export const MAX_HEADER_ROW = 100;

/** One layout: a file pattern (or every file) with its format and mappings; `at` is its JSON path in the settings. */
export interface Group {
  index: number;
  at: string;
  match?: string;
  format: Required<FileFormat>;
  mappings: Mapping[];
}

/** The layouts of valid settings, with formats defaulted. */
export function groupsOf(s: MappedCsvSettings): Group[] {
  const base = { delimiter: s.delimiter ?? ',', encoding: s.encoding ?? 'utf8', headerRow: s.headerRow ?? 1 };
  if (s.files) {
    return s.files.map((f, i) => ({
      index: i,
      at: `$.files[${i}]`,
      match: f.match,
      format: { delimiter: f.delimiter ?? base.delimiter, encoding: f.encoding ?? base.encoding, headerRow: f.headerRow ?? base.headerRow },
      mappings: f.mappings,
    }));
  }
  return [{ index: 0, at: '$', format: base, mappings: s.mappings ?? [] }];
}

/** `$.a.b[0]['odd key']`: JSON path of a key under a path. */
export function pathKey(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`;
}
