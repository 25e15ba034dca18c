/**
 * The files behind a mapped-csv connector and how their lines are read.
 *
 * Lines come from the OneRoster connector's reader (../oneroster-csv/csv.ts: csv-parse behind a line guard that
 * contains broken quoting to its own line, with physical line numbers). That reader speaks UTF-8 and commas, so
 * two byte-level steps come first when the settings say otherwise:
 *  - latin1: each chunk is decoded as latin1 and re-encoded as UTF-8 (one byte is one character, so chunk boundaries
 *    never split a character);
 *  - another delimiter (`;`, tab, `|`): the delimiter byte and the comma byte are swapped everywhere, inside quotes
 *    too. Quoting does not depend on which byte separates fields, so the swapped file has exactly the structure of the
 *    original with commas as separators; every parsed value is swapped back. (In UTF-8 an ASCII byte never occurs
 *    inside a multi-byte character, so the swap cannot corrupt text.)
 */
import { createReadStream, promises as fsp } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { Transform, pipeline, type Readable, type TransformCallback } from 'node:stream';
import { createHash } from 'node:crypto';
import { HubError } from '../../src/core/errors';
import { LineTooLongError, MAX_LINE_BYTES, readCsvLines, type CsvLine, type QuoteProblem } from '../oneroster-csv/csv';
import { ioError } from '../oneroster-csv/source';
import { matchesGlob } from './language';
import { groupsOf, type FileFormat, type Group, type MappedCsvSettings } from './settings';

export interface CsvFile {
  /** File name (no folder), as used in locations: `benchmark.csv:17`. */
  name: string;
  /** Absolute path. */
  path: string;
  /** `fs:<size>:<mtimeMs>`: the same content as last run, without reading it. */
  fingerprint: string;
  /** The layout it is read with. */
  group: Group;
}

export interface Located {
  kind: 'file' | 'folder';
  /** The resolved path setting. */
  root: string;
  /** Files to read, sorted by name. */
  files: CsvFile[];
  /** Folder entries that match no layout (reported by check(), never read). */
  ignored: string[];
  /** Layouts no file matches. */
  unmatched: Group[];
}

/** With top-level `mappings` and a folder, these are the files read. */
const DATA_FILE = /\.(csv|tsv|txt)$/i;
const READ_CHUNK = 262144;

function notFound(root: string): HubError {
  return new HubError('source_not_found', `The mapped CSV source ${root} does not exist.`, [{ path: root, message: 'no such file or folder' }]);
}

function invalid(path: string, message: string): HubError {
  return new HubError('source_invalid', `${path}: ${message}`, [{ path, message }]);
}

/** Finds the files at `settings.path` and the layout each is read with. Throws source_not_found / source_invalid. */
export async function locate(settings: MappedCsvSettings, baseDir: string): Promise<Located> {
  const root = resolve(baseDir, settings.path);
  const groups = groupsOf(settings);
  const groupOf = (name: string): Group | undefined => (settings.files ? groups.find((g) => matchesGlob(g.match!, name)) : groups[0]);
  let stat;
  try {
    stat = await fsp.stat(root);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw notFound(root);
    throw new HubError('source_invalid', `The mapped CSV source ${root} cannot be read (${code ?? 'error'}).`, [{ path: root, message: `cannot be read (${code ?? 'error'})` }], { cause: e });
  }
  const files: CsvFile[] = [];
  const ignored: string[] = [];
  if (stat.isFile()) {
    const name = basename(root);
    const group = groupOf(name);
    if (!group) {
      throw invalid(name, `the file matches no files[].match (${groups.map((g) => `'${g.match}'`).join(', ')}): give the folder as path, or a match for this name`);
    }
    files.push({ name, path: root, fingerprint: `fs:${stat.size}:${stat.mtimeMs}`, group });
    return { kind: 'file', root, files, ignored, unmatched: groups.filter((g) => g !== group) };
  }
  if (!stat.isDirectory()) throw invalid(root, 'is neither a file nor a folder');
  let entries;
  try {
    entries = await fsp.readdir(root, { withFileTypes: true });
  } catch (e) {
    throw ioError(root, e);
  }
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (e.name.startsWith('.')) continue;
    const full = join(root, e.name);
    let st;
    try {
      st = await fsp.stat(full); // follows symlinks
    } catch {
      continue; // vanished or a dangling link
    }
    if (!st.isFile()) continue;
    const group = settings.files || DATA_FILE.test(e.name) ? groupOf(e.name) : undefined;
    if (!group) {
      ignored.push(e.name);
      continue;
    }
    files.push({ name: e.name, path: full, fingerprint: `fs:${st.size}:${st.mtimeMs}`, group });
  }
  const used = new Set(files.map((f) => f.group));
  return { kind: 'folder', root, files, ignored, unmatched: groups.filter((g) => !used.has(g)) };
}

/** The fingerprint of a set of files: the file's own for one file, a digest of names and fingerprints for several. */
export function filesFingerprint(files: CsvFile[]): string {
  if (files.length === 1) return files[0].fingerprint;
  const h = createHash('sha256');
  for (const f of files) h.update(`${f.name}\u0000${f.fingerprint}\u0000`);
  return `files:${files.length}:${h.digest('hex').slice(0, 32)}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Lines

const COMMA = 0x2c;

/** latin1 -> UTF-8 and delimiter <-> comma, byte by byte; refuses UTF-16 (a BOM FF FE / FE FF). */
class Recode extends Transform {
  private first = true;

  constructor(
    private readonly file: string,
    private readonly latin1: boolean,
    private readonly swap: number,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.first && chunk.length > 0) {
      this.first = false;
      if (chunk.length >= 2 && ((chunk[0] === 0xff && chunk[1] === 0xfe) || (chunk[0] === 0xfe && chunk[1] === 0xff))) {
        cb(invalid(this.file, "the file is UTF-16 (Excel's \"Unicode text\"): save it as CSV UTF-8, or as CSV and set encoding 'latin1'"));
        return;
      }
    }
    let buf = this.latin1 ? Buffer.from(chunk.toString('latin1'), 'utf8') : chunk;
    if (this.swap) {
      if (buf === chunk) buf = Buffer.from(chunk);
      const d = this.swap;
      for (let i = 0; i < buf.length; i++) {
        const b = buf[i];
        if (b === d) buf[i] = COMMA;
        else if (b === COMMA) buf[i] = d;
      }
    }
    cb(null, buf);
  }
}

/** Swaps the delimiter and commas back in a parsed value (identity for comma files). */
export function unswapper(delimiter: string): (s: string) => string {
  if (delimiter === ',') return (s) => s;
  const re = new RegExp(`[,${delimiter === '|' ? '\\|' : delimiter}]`, 'g');
  return (s) => (s.includes(',') || s.includes(delimiter) ? s.replace(re, (c) => (c === ',' ? delimiter : ',')) : s);
}

/**
 * The physical lines of a file, in batches, values already back in their own delimiter and encoding. Throws
 * source_invalid when the file cannot be read, is UTF-16, or has a line longer than 1 MiB.
 */
export async function* readLines(file: CsvFile, format: Required<FileFormat>): AsyncGenerator<CsvLine[]> {
  const un = unswapper(format.delimiter);
  const swap = format.delimiter === ',' ? 0 : format.delimiter.charCodeAt(0);
  let input: Readable;
  try {
    const raw = createReadStream(file.path, { highWaterMark: READ_CHUNK });
    // Surface open errors (a file deleted since it was listed) here rather than inside the pipeline.
    await new Promise<void>((ok, fail) => raw.once('open', () => ok()).once('error', fail));
    // Always through Recode (a pass-through for UTF-8 commas), which also refuses UTF-16. pipeline() destroys the file
    // stream when the reader stops early (readCsvLines destroys its input).
    const recode = new Recode(file.name, format.encoding === 'latin1', swap);
    pipeline(raw, recode, () => undefined);
    input = recode;
  } catch (e) {
    throw ioError(file.name, e);
  }
  try {
    for await (const batch of readCsvLines(input)) {
      if (swap) {
        for (const l of batch) {
          for (let i = 0; i < l.fields.length; i++) l.fields[i] = un(l.fields[i]);
          if (l.problem) l.problem.text = un(l.problem.text);
        }
      }
      yield batch;
    }
  } catch (e) {
    if (e instanceof HubError) throw e;
    if (e instanceof LineTooLongError) {
      throw invalid(`${file.name}:${e.line}`, `line is longer than ${MAX_LINE_BYTES} bytes (line breaks must be LF or CRLF)`);
    }
    throw ioError(file.name, e);
  }
}

export const QUOTING: Record<QuoteProblem, (delimiter: string) => string> = {
  unclosed: () => 'a quoted field is not closed on this line (values may not contain line breaks)',
  stray: () => 'a quote appears inside an unquoted field (such fields must be quoted, with inner quotes doubled)',
  after_closing: (d) => `a closing quote is followed by something other than the delimiter ${d === '\t' ? '(tab)' : `'${d}'`}`,
};

/** Reads the header row (line `headerRow`), trimmed names. Throws source_invalid when there is none. */
export async function readHeader(file: CsvFile, format: Required<FileFormat>): Promise<string[]> {
  let lines = 0;
  for await (const batch of readLines(file, format)) {
    for (const l of batch) {
      lines = l.line;
      if (l.line < format.headerRow) continue;
      if (l.problem) throw invalid(`${file.name}:${l.line}`, `the header row has broken quoting: ${QUOTING[l.problem.kind](format.delimiter)}`);
      const names = l.fields.map((f) => f.trim());
      if (names.every((n) => n === '')) {
        throw invalid(`${file.name}:${l.line}`, `line ${l.line}, the header row${format.headerRow === 1 ? '' : ` (headerRow ${format.headerRow})`}, is blank`);
      }
      return names;
    }
  }
  if (lines === 0) throw invalid(file.name, 'the file is empty: a header row is required');
  throw invalid(file.name, `the file has ${lines} line${lines === 1 ? '' : 's'}, but the header row is line ${format.headerRow} (headerRow)`);
}

/**
 * The first `n` fields of a line whose quoting breaks at field `n` (those before it are intact), so a reject can
 * still name the record when its id comes from the first columns.
 */
export function leadingFields(text: string, n: number, delimiter: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (out.length < n && i <= text.length) {
    if (text[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q === -1) return out;
        v += text.slice(i, q);
        if (text[q + 1] === '"') {
          v += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      out.push(v);
      if (text[i] !== delimiter) return out;
      i++;
    } else {
      const d = text.indexOf(delimiter, i);
      const end = d === -1 ? text.length : d;
      out.push(text.slice(i, end));
      if (d === -1) break;
      i = d + 1;
    }
  }
  return out;
}

/**
 * Best-effort cells of a line with broken quoting, only to name the record in its reject (so that a full refresh
 * keeps the stored record): the intact cells before the break, and — when splitting the line on every delimiter,
 * quotes ignored, gives exactly the header's number of cells — the cells after it from that split (outer quotes
 * removed). Never used to build a record.
 */
export function salvageFields(text: string, brokenAt: number, delimiter: string, columns: number): string[] {
  const lead = leadingFields(text, brokenAt, delimiter);
  const naive = text.split(delimiter);
  if (naive.length !== columns) return lead;
  return naive.map((f, i) => {
    if (i < lead.length) return lead[i];
    const t = f.trim();
    return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1).replace(/""/g, '"') : t;
  });
}
