/**
 * Streaming CSV reading for OneRoster files: csv-parse behind a small line guard.
 *
 * Why a guard: the OneRoster CSV binding forbids CR/LF inside fields, so one physical line is one record. csv-parse
 * cannot recover from broken quoting on its own: with `skip_records_with_error`, an unclosed quote (`a,"bc,d`) or a
 * bad closing quote (`a,"b"c,d`) leaves it in quoting mode and it silently swallows the following lines (or the
 * rest of the file) into one skipped record. The guard checks the quoting of every line that contains a quote
 * before csv-parse sees it, replaces a broken line by an empty line (so line numbers stay aligned) and remembers
 * why. Lines without a quote (nearly all of them) cost one `indexOf` per chunk, not per line.
 *
 * Line numbers are counted here, not taken from csv-parse `info`: csv-parse counts a lone CR inside a field as a
 * line break, and since every physical line yields exactly one record (an empty line yields `['']`), the record
 * count *is* the physical line number. That also saves the per-record `info` snapshot.
 */
import { Readable, Transform, type TransformCallback, pipeline } from 'node:stream';
import { parse } from 'csv-parse';

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** A physical line longer than this is not a CSV row (most likely CR-only line endings, or not a CSV at all). */
export const MAX_LINE_BYTES = 1024 * 1024;

export type QuoteProblem = 'unclosed' | 'stray' | 'after_closing';

/** Why a line was withheld from the parser. */
export interface LineProblem {
  /** 0-based column where the quoting breaks. */
  column: number;
  kind: QuoteProblem;
  /** The line as read (kept for the reject report; never logged). */
  text: string;
}

/** One physical line: its parsed fields, or the quoting problem that kept it from being parsed. */
export interface CsvLine {
  line: number;
  fields: string[];
  problem?: LineProblem;
}

/** Thrown (as a plain Error with this code) when a line exceeds MAX_LINE_BYTES; the caller turns it into a HubError. */
export class LineTooLongError extends Error {
  readonly code = 'line_too_long';
  constructor(readonly line: number) {
    super(`line ${line} is longer than ${MAX_LINE_BYTES} bytes`);
  }
}

/**
 * Checks RFC 4180 quoting of one line (bytes [start, end), without the line break). Returns null when the line is
 * well formed. Only called for lines that contain a quote, so a plain byte loop is fine.
 */
export function checkQuoting(buf: Uint8Array, start: number, end: number): { column: number; kind: QuoteProblem } | null {
  let i = start;
  let column = 0;
  for (;;) {
    if (i < end && buf[i] === QUOTE) {
      // Quoted field: runs to a quote that is not doubled.
      i++;
      for (;;) {
        if (i >= end) return { column, kind: 'unclosed' };
        if (buf[i] === QUOTE) {
          if (i + 1 < end && buf[i + 1] === QUOTE) {
            i += 2;
            continue;
          }
          i++;
          break;
        }
        i++;
      }
      if (i === end) return null;
      if (buf[i] !== COMMA) return { column, kind: 'after_closing' };
      i++;
      column++;
    } else {
      // Unquoted field: a quote anywhere in it is an error (RFC 4180: such fields must be quoted).
      while (i < end && buf[i] !== COMMA) {
        if (buf[i] === QUOTE) return { column, kind: 'stray' };
        i++;
      }
      if (i === end) return null;
      i++;
      column++;
    }
  }
}

/**
 * Buffer -> Buffer transform that only lets well-quoted lines through. It emits whole lines only (a partial line
 * waits for the next chunk), strips a leading UTF-8 BOM, and records each broken line in `problems` under its
 * 1-based line number, passing an empty line in its place.
 */
export class LineGuard extends Transform {
  private carry: Buffer | null = null;
  private lineNo = 0;
  private first = true;

  constructor(private readonly problems: Map<number, LineProblem>) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let buf = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = null;
    if (this.first) {
      if (buf.length < BOM.length && BOM.subarray(0, buf.length).equals(buf)) {
        // Not enough bytes yet to tell whether this is a BOM.
        this.carry = buf;
        cb();
        return;
      }
      this.first = false;
      if (buf.subarray(0, 3).equals(BOM)) buf = buf.subarray(3);
    }
    const consumed = this.scan(buf, false);
    if (consumed < buf.length) {
      if (buf.length - consumed > MAX_LINE_BYTES) {
        cb(new LineTooLongError(this.lineNo + 1));
        return;
      }
      this.carry = buf.subarray(consumed);
    }
    cb();
  }

  override _flush(cb: TransformCallback): void {
    if (this.carry && this.carry.length > 0) {
      let buf = this.carry;
      this.carry = null;
      if (this.first && buf.subarray(0, 3).equals(BOM)) buf = buf.subarray(3);
      this.scan(buf, true);
    }
    cb();
  }

  /** Pushes the complete lines of `buf` (all of it when `last`); returns how many bytes were consumed. */
  private scan(buf: Buffer, last: boolean): number {
    let pos = 0;
    let outStart = 0;
    let quote = buf.indexOf(QUOTE);
    for (;;) {
      let nl = buf.indexOf(LF, pos);
      if (nl === -1) {
        if (!last || pos >= buf.length) break;
        nl = buf.length; // the last line has no line break
      }
      this.lineNo++;
      if (quote !== -1 && quote < nl) {
        const end = nl > pos && buf[nl - 1] === CR ? nl - 1 : nl;
        const problem = checkQuoting(buf, pos, end);
        if (problem) {
          this.problems.set(this.lineNo, { ...problem, text: buf.toString('utf8', pos, end) });
          if (pos > outStart) this.push(buf.subarray(outStart, pos));
          this.push(Buffer.from('\n'));
          outStart = nl + 1;
        }
        quote = buf.indexOf(QUOTE, nl + 1);
      }
      pos = nl + 1;
      if (pos >= buf.length) break;
    }
    const consumed = Math.min(pos, buf.length);
    if (consumed > outStart) this.push(buf.subarray(outStart, consumed));
    return consumed;
  }
}

/**
 * Reads a CSV byte stream and yields batches of lines, in order, each with its physical line number. Batching
 * amortises the async-iteration cost (one await per parsed chunk, not per row). The input is destroyed when the
 * consumer stops early or fails.
 */
export async function* readCsvLines(input: Readable): AsyncGenerator<CsvLine[]> {
  const problems = new Map<number, LineProblem>();
  const parser = parse({
    bom: true,
    // Wrong field counts become rejects in the caller, not parse errors.
    relax_column_count: true,
    // The guard has already split lines on LF; accept CRLF and LF (mixed endings happen in hand-edited files).
    record_delimiter: ['\r\n', '\n'],
    // The guard enforces MAX_LINE_BYTES; csv-parse's own limit (128k chars) would throw mid-file.
    max_record_size: 0,
  });
  const guard = new LineGuard(problems);
  let failure: Error | undefined;
  pipeline(input, guard, parser, (err) => {
    if (err && (err as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') failure = err;
  });

  let ended = false;
  let wake: (() => void) | null = null;
  const notify = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  parser.on('readable', notify);
  parser.on('end', () => {
    ended = true;
    notify();
  });
  parser.on('error', (err) => {
    failure ??= err;
    notify();
  });
  parser.on('close', notify);

  let lineNo = 0;
  try {
    for (;;) {
      const batch: CsvLine[] = [];
      let rec: string[] | null;
      while ((rec = parser.read() as string[] | null) !== null) {
        lineNo++;
        const problem = rec.length === 1 && rec[0] === '' ? problems.get(lineNo) : undefined;
        if (problem) {
          problems.delete(lineNo);
          batch.push({ line: lineNo, fields: rec, problem });
        } else {
          batch.push({ line: lineNo, fields: rec });
        }
      }
      if (batch.length > 0) {
        yield batch;
        continue;
      }
      if (failure) throw failure;
      if (ended) return;
      if (parser.destroyed) {
        // Destroyed without 'end' and without an error we saw: wait one tick for the pipeline callback.
        await new Promise((r) => setImmediate(r));
        if (failure) throw failure;
        return;
      }
      await new Promise<void>((r) => (wake = r));
    }
  } finally {
    if (!parser.destroyed) parser.destroy();
    if (!input.destroyed) input.destroy();
  }
}

/**
 * The first field of a line that could not be parsed as a whole (OneRoster files start with sourcedId), so that a
 * reject can name the record it belongs to. Undefined when the first field itself is unreadable.
 */
export function firstField(text: string): string | undefined {
  let v: string;
  if (text.startsWith('"')) {
    let i = 1;
    let out = '';
    for (;;) {
      const q = text.indexOf('"', i);
      if (q === -1) return undefined;
      out += text.slice(i, q);
      if (text[q + 1] === '"') {
        out += '"';
        i = q + 2;
        continue;
      }
      if (q + 1 < text.length && text[q + 1] !== ',') return undefined;
      break;
    }
    v = out;
  } else {
    const c = text.indexOf(',');
    v = c === -1 ? text : text.slice(0, c);
    if (v.includes('"')) return undefined;
  }
  v = v.trim();
  return v === '' ? undefined : v;
}
