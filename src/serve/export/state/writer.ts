/**
 * Streaming file writers for the extract: rows go out a page at a time through fs write streams, waiting for
 * 'drain' when the stream's buffer is full (backpressure), while a SHA-256 and the byte and row counts are kept on
 * the fly — nothing holds a whole file in memory.
 */
import fs from 'node:fs';
import { once } from 'node:events';
import { createHash, type Hash } from 'node:crypto';
import type { FieldDef } from './fields';

export type Row = Record<string, string | number | boolean | null | undefined>;

/** RFC 4180: quote when the value holds a comma, quote, CR or LF; double the quotes. */
export function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? v : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export class StreamingFile {
  readonly hash: Hash = createHash('sha256');
  bytes = 0;
  rows = 0;
  private readonly out: fs.WriteStream;
  private failed: Error | undefined;

  constructor(readonly path: string) {
    this.out = fs.createWriteStream(path, { flags: 'wx', highWaterMark: 256 * 1024 });
    this.out.on('error', (e) => {
      this.failed = e;
    });
  }

  async write(text: string): Promise<void> {
    if (this.failed) throw this.failed;
    if (!text) return;
    const buf = Buffer.from(text, 'utf8');
    this.hash.update(buf);
    this.bytes += buf.length;
    // events.once rejects when 'error' is emitted while waiting, and leaves no listener behind.
    if (!this.out.write(buf)) await once(this.out, 'drain');
  }

  async close(): Promise<{ bytes: number; sha256: string; rows: number }> {
    if (this.failed) throw this.failed;
    this.out.end();
    await once(this.out, 'close');
    if (this.failed) throw this.failed;
    return { bytes: this.bytes, sha256: this.hash.digest('hex'), rows: this.rows };
  }

  destroy(): void {
    this.out.destroy();
  }
}

/**
 * Text is handed to the file in pieces of about this many characters (whole lines): a page's file text as one
 * Buffer of up to a few MB made glibc raise its mmap threshold, after which these buffers came from the heap
 * arenas and fragmented them — RSS grew through the run (100k students: +100 MB at a flat JS heap).
 */
const PIECE = 64 * 1024;

/** One extract file in one format. `writeRows` takes a page of rows and writes them in pieces of whole lines. */
export interface RowWriter {
  readonly file: StreamingFile;
  writeRows(rows: readonly Row[]): Promise<void>;
}

export function csvWriter(path: string, fields: readonly FieldDef[]): RowWriter & { start(): Promise<void> } {
  const file = new StreamingFile(path);
  const names = fields.map((x) => x.name);
  return {
    file,
    start: () => file.write(`${names.map(csvCell).join(',')}\r\n`),
    async writeRows(rows) {
      if (!rows.length) return;
      let s = '';
      for (const r of rows) {
        let line = '';
        for (let i = 0; i < names.length; i++) line += (i ? ',' : '') + csvCell(r[names[i]]);
        s += `${line}\r\n`;
        if (s.length >= PIECE) {
          await file.write(s);
          s = '';
        }
      }
      file.rows += rows.length;
      await file.write(s);
    },
  };
}

export function ndjsonWriter(path: string, fields: readonly FieldDef[]): RowWriter & { start(): Promise<void> } {
  const file = new StreamingFile(path);
  const names = fields.map((x) => x.name);
  return {
    file,
    start: async () => undefined,
    async writeRows(rows) {
      if (!rows.length) return;
      let s = '';
      for (const r of rows) {
        const o: Record<string, unknown> = {};
        for (const n of names) o[n] = r[n] ?? null;
        s += `${JSON.stringify(o)}\n`;
        if (s.length >= PIECE) {
          await file.write(s);
          s = '';
        }
      }
      file.rows += rows.length;
      await file.write(s);
    },
  };
}

/** Writes a small whole file (schemas, manifest) and returns its size and checksum. */
export function writeSmallFile(path: string, text: string): { bytes: number; sha256: string } {
  const buf = Buffer.from(text, 'utf8');
  fs.writeFileSync(path, buf, { flag: 'wx' });
  return { bytes: buf.length, sha256: createHash('sha256').update(buf).digest('hex') };
}
