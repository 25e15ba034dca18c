/**
 * Buffered, back-pressured writers for the generator. Rows are appended to a small in-memory chunk that is handed
 * to a file stream every ~64 KB; when the stream's buffer is full the writer returns a promise that resolves on
 * 'drain', so memory stays bounded however large the file is. Whole files are never built as strings.
 *
 * CSV follows RFC 4180: CRLF line ends, a field is quoted when it holds a comma, a double quote, CR or LF, and
 * double quotes inside a quoted field are doubled.
 */
import fs from 'node:fs';
import { once } from 'node:events';

const CHUNK = 64 * 1024;
const NEEDS_QUOTES = /[",\r\n]/;
const NEEDS_QUOTES_BY_SEP: Record<string, RegExp> = { ',': NEEDS_QUOTES, ';': /[";\r\n]/, '\t': /["\t\r\n]/, '|': /["|\r\n]/ };

export function csvField(value: string, sep = ','): string {
  return (NEEDS_QUOTES_BY_SEP[sep] ?? NEEDS_QUOTES).test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** One CSV line (CRLF-terminated). `sep` is the delimiter: ',' (the default), ';', tab or '|'. */
export function csvLine(fields: readonly string[], sep = ','): string {
  let line = '';
  for (let i = 0; i < fields.length; i++) {
    if (i > 0) line += sep;
    line += csvField(fields[i], sep);
  }
  return line + '\r\n';
}

/** A text file written through a buffered stream. `write` returns a promise only when the caller must wait. */
export class TextSink {
  private stream: fs.WriteStream | undefined;
  private chunk = '';
  private closed = false;
  bytes = 0;

  constructor(readonly path: string) {}

  get opened(): boolean {
    return this.stream !== undefined;
  }

  write(text: string): Promise<void> | undefined {
    if (this.closed) throw new Error(`write after close: ${this.path}`);
    if (this.stream === undefined) this.stream = fs.createWriteStream(this.path, { highWaterMark: 1024 * 1024 });
    this.chunk += text;
    if (this.chunk.length < CHUNK) return undefined;
    return this.flush();
  }

  private flush(): Promise<void> | undefined {
    const stream = this.stream;
    if (stream === undefined || this.chunk.length === 0) return undefined;
    const ok = stream.write(this.chunk);
    this.chunk = '';
    if (ok) return undefined;
    return once(stream, 'drain').then(() => undefined);
  }

  /** Flushes and closes; a sink that was never written to creates no file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const stream = this.stream;
    if (stream === undefined) return;
    const pending = this.flush();
    if (pending) await pending;
    await new Promise<void>((resolve, reject) => {
      stream.once('error', reject);
      stream.end(() => resolve());
    });
    this.bytes = stream.bytesWritten;
  }
}

/**
 * One CSV file with a fixed header. The header is written with the first data row, so a file that never gets a
 * row is never created (OneRoster forbids header-only files; the manifest declares them absent instead).
 */
export class CsvFile {
  private readonly sink: TextSink;
  /** Data rows written (the header is not counted). The next row lands on physical line `rows + 2` (+ preamble lines). */
  rows = 0;
  private checked = false;
  private readonly preambleLines: number;

  /**
   * `opts.sep` is the delimiter (default ','); `opts.preamble` is text written above the header (a vendor report's
   * banner line, CRLF-terminated), written with the header.
   */
  constructor(
    readonly name: string,
    path: string,
    readonly header: readonly string[],
    private readonly opts: { sep?: string; preamble?: string } = {},
  ) {
    this.sink = new TextSink(path);
    this.preambleLines = (opts.preamble ?? '').split('\n').length - 1;
  }

  get path(): string {
    return this.sink.path;
  }

  get bytes(): number {
    return this.sink.bytes;
  }

  /** The physical line number (header = 1) the next row will occupy. */
  get nextLine(): number {
    return this.rows + 2 + this.preambleLines;
  }

  /** Writes a record keyed by header name; missing columns are blank. Unknown keys are a programming error. */
  put(record: Readonly<Record<string, string | undefined>>): Promise<void> | undefined {
    if (!this.checked) {
      for (const key of Object.keys(record)) {
        if (!this.header.includes(key)) throw new Error(`${this.name}: no column named ${key}`);
      }
      this.checked = true;
    }
    const fields = new Array<string>(this.header.length);
    for (let i = 0; i < this.header.length; i++) fields[i] = record[this.header[i]] ?? '';
    return this.raw(fields);
  }

  /** Writes fields as given, even when their count does not match the header (for deliberately malformed rows). */
  raw(fields: readonly string[]): Promise<void> | undefined {
    const sep = this.opts.sep ?? ',';
    const head = this.rows === 0 ? (this.opts.preamble ?? '') + csvLine(this.header, sep) : '';
    this.rows++;
    return this.sink.write(head + csvLine(fields, sep));
  }

  /** Writes a line as given (a deliberately broken row, e.g. with unbalanced quotes); `text` has no line end. */
  rawLine(text: string): Promise<void> | undefined {
    const sep = this.opts.sep ?? ',';
    const head = this.rows === 0 ? (this.opts.preamble ?? '') + csvLine(this.header, sep) : '';
    this.rows++;
    return this.sink.write(`${head}${text}\r\n`);
  }

  close(): Promise<void> {
    return this.sink.close();
  }
}
