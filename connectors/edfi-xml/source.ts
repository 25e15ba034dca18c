/**
 * The interchange files of a source: a folder of `.xml` files (all of them, or the ones the `files` setting names)
 * or a single file. Each file is identified by its root element (`InterchangeStudent`, …), read from its first bytes,
 * and fingerprinted by size + mtime so an unchanged file is known without reading it.
 */
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, openSync, readSync, promises as fsp } from 'node:fs';
import { basename, join } from 'node:path';
import type { Readable } from 'node:stream';
import { HubError } from '../../src/core/errors';
import { sniffRoot } from './xml';

export interface InterchangeFile {
  /** File name, as in locations (`Student.xml`). */
  name: string;
  /** Absolute path. */
  path: string;
  size: number;
  mtimeMs: number;
  /** Local name of the root element, e.g. `InterchangeStudent`. */
  interchange: string;
  /** Namespace URI of the root, e.g. `http://ed-fi.org/5.0.0`. */
  namespace?: string;
}

export interface Source {
  kind: 'folder' | 'file';
  path: string;
  /** Sorted by name: the order files are read in. */
  files: InterchangeFile[];
}

/**
 * 48 KiB: the decoded chunk must stay a regular V8 heap string. A string over 128 KiB goes to the large-object space,
 * and decoding 256 KiB chunks measured 10-50x slower than 64 KiB ones (~100 MB/s against GB/s); 48 Ki characters
 * stay under that limit even as a two-byte string (text beyond Latin-1).
 */
const DECODE_CHUNK = 48 * 1024;
/**
 * Bytes per read: 512 KiB, decoded 48 KiB at a time. One read per 48 KiB was one trip through the thread pool and
 * the event loop each: ~4% of an Ed-Fi sync was the main thread waiting for them.
 */
const READ_CHUNK = 512 * 1024;

export const EDFI_NAMESPACE_PREFIX = 'http://ed-fi.org/';

/**
 * The file as UTF-8 text chunks. The byte stream is cut at the last complete character of each chunk and decoded
 * with Buffer#toString (about twice as fast as the stream's own StringDecoder on interchange files); the few bytes of
 * a character cut in two are carried over to the next chunk.
 */
export async function* openText(file: InterchangeFile | string): AsyncGenerator<string> {
  const stream: Readable = createReadStream(typeof file === 'string' ? file : file.path, { highWaterMark: READ_CHUNK });
  let carry: Buffer | undefined;
  try {
    for await (const chunk of stream) {
      let buf = chunk as Buffer;
      if (carry) {
        buf = Buffer.concat([carry, buf]);
        carry = undefined;
      }
      const end = completeUtf8(buf);
      if (end < buf.length) carry = Buffer.from(buf.subarray(end));
      // Decoded in slices that stay regular heap strings (see DECODE_CHUNK), each cut at a character boundary.
      for (let from = 0; from < end; ) {
        let to = Math.min(end, from + DECODE_CHUNK);
        if (to < end) to = from + completeUtf8(buf.subarray(from, to));
        yield buf.toString('utf8', from, to);
        from = to;
      }
    }
    if (carry) yield carry.toString('utf8');
  } finally {
    stream.destroy();
  }
}

/** Bytes per read of headOf: the root element is in the first few hundred bytes. */
const HEAD_READ = 4 * 1024;

/**
 * The start of a file as text, read synchronously HEAD_READ bytes at a time, only as far as the consumer asks (sniffRoot
 * stops at the root element). Sniffing through a read stream (open, a 512 KiB read, close: each a trip through the
 * thread pool) took ~2 ms a file, ~8 ms for the first: ~20 ms of the run's clock for the six files of a district, in
 * the plan on the main thread and again in the read worker's first read.
 */
export function* headOf(path: string): Generator<string> {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(HEAD_READ + 3);
    let carry = 0;
    let position = 0;
    for (;;) {
      const n = readSync(fd, buf, carry, HEAD_READ, position);
      if (n === 0) {
        if (carry) yield buf.toString('utf8', 0, carry);
        return;
      }
      position += n;
      const len = carry + n;
      const end = completeUtf8(buf.subarray(0, len));
      yield buf.toString('utf8', 0, end);
      buf.copy(buf, 0, end, len);
      carry = len - end;
    }
  } finally {
    closeSync(fd);
  }
}

/** The length of `buf` without a UTF-8 sequence cut off at its end. */
export function completeUtf8(buf: Buffer): number {
  const n = buf.length;
  let i = n - 1;
  // Step back over at most 3 continuation bytes (10xxxxxx) to the lead byte of the last sequence.
  while (i >= 0 && n - i <= 3 && (buf[i] & 0xc0) === 0x80) i--;
  if (i < 0) return n;
  const lead = buf[i];
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return n - i < need ? i : n;
}

function invalid(path: string, message: string): HubError {
  return new HubError('source_invalid', `${path}: ${message}`, [{ path, message }]);
}

export function ioError(name: string, e: unknown): HubError {
  if (e instanceof HubError) return e;
  const msg = (e as Error | undefined)?.message ?? String(e);
  return new HubError('source_invalid', `${name} cannot be read: ${msg}`, [{ path: name, message: `cannot be read: ${msg}` }], { cause: e });
}

/** Why a root is not an Ed-Fi interchange, or undefined when it is one. */
export function notInterchange(root: { name: string; namespace?: string }): string | undefined {
  if (!root.name.startsWith('Interchange')) return `the root element is <${root.name}>, not an Ed-Fi interchange (<Interchange…>)`;
  if (root.namespace !== undefined && !root.namespace.startsWith(EDFI_NAMESPACE_PREFIX)) {
    return `the root element <${root.name}> is in namespace ${root.namespace}, not an Ed-Fi one (${EDFI_NAMESPACE_PREFIX}…)`;
  }
  return undefined;
}

/**
 * What describeFile found, by path, size and modification time: every stream of a run opens the source, and
 * sniffing each file again (open, read, parse the first chunk) was ~10 ms a stream. Bounded; a changed file (size or
 * mtime) is sniffed again, and readers still check the root of what they read.
 */
const described = new Map<string, InterchangeFile>();
const DESCRIBED_MAX = 512;

/** Reads a file's root element. Throws source_invalid when it is malformed or not an Ed-Fi interchange. */
export async function describeFile(path: string, name: string): Promise<InterchangeFile> {
  let stat;
  try {
    stat = await fsp.stat(path);
  } catch (e) {
    throw ioError(name, e);
  }
  const key = `${path}\u0000${name}\u0000${stat.size}\u0000${stat.mtimeMs}`;
  const known = described.get(key);
  if (known) return { ...known };
  let sniffed;
  try {
    sniffed = sniffRoot(headOf(path));
  } catch (e) {
    throw ioError(name, e);
  }
  if (sniffed.error) {
    const { line, column } = sniffed.error;
    throw invalid(`${name}:${line}:${column}`, `${sniffed.error.message} (before the root element)`);
  }
  if (!sniffed.root) throw invalid(name, 'no root element found in the first MiB: not an Ed-Fi interchange');
  const why = notInterchange(sniffed.root);
  if (why) throw invalid(`${name}:${sniffed.root.line}`, why);
  const file: InterchangeFile = {
    name,
    path,
    size: stat.size,
    mtimeMs: stat.mtimeMs,
    interchange: sniffed.root.name,
    ...(sniffed.root.namespace ? { namespace: sniffed.root.namespace } : {}),
  };
  if (described.size >= DESCRIBED_MAX) described.clear();
  described.set(key, file);
  return { ...file };
}

/**
 * The files to read, by name and path, in reading order (sorted by name), without opening them. Throws
 * source_not_found when nothing is at `path` (or a file the `files` setting lists is missing), source_invalid when a
 * folder has no .xml file.
 */
export async function listFiles(path: string, only?: string[]): Promise<Array<{ name: string; path: string; single: boolean }>> {
  let stat;
  try {
    stat = await fsp.stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new HubError('source_not_found', `The Ed-Fi interchange path ${path} does not exist.`, [{ path, message: 'no such file or folder' }]);
    }
    throw ioError(path, e);
  }
  if (stat.isFile()) {
    if (only && only.length) {
      throw new HubError('connector_config_invalid', 'edfi-xml settings: files may only be given when path is a folder', [
        { path: 'files', message: 'may only be given when path is a folder' },
      ]);
    }
    return [{ name: basename(path), path, single: true }];
  }
  if (!stat.isDirectory()) throw invalid(path, 'neither a folder nor a file');
  let names: string[];
  try {
    names = (await fsp.readdir(path, { withFileTypes: true })).filter((d) => d.isFile()).map((d) => d.name);
  } catch (e) {
    throw ioError(path, e);
  }
  let chosen: string[];
  if (only && only.length) {
    const present = new Set(names);
    const missing = only.filter((n) => !present.has(n));
    if (missing.length) {
      throw new HubError(
        'source_not_found',
        `The files setting lists ${missing.map((m) => `"${m}"`).join(', ')}, not found in ${path} (names are exact, without wildcards).`,
        missing.map((m) => ({ path: m, message: 'listed in files but not in the folder' })),
      );
    }
    chosen = [...new Set(only)];
  } else {
    chosen = names.filter((n) => n.toLowerCase().endsWith('.xml'));
    if (!chosen.length) throw invalid(path, 'the folder has no .xml file');
  }
  chosen.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return chosen.map((name) => ({ name, path: join(path, name), single: false }));
}

/**
 * Lists and identifies the files (see listFiles). Throws source_invalid when a file is malformed before its root
 * element or is not an Ed-Fi interchange.
 */
export async function openSource(path: string, only?: string[]): Promise<Source> {
  const listed = await listFiles(path, only);
  const files: InterchangeFile[] = [];
  for (const f of listed) files.push(await describeFile(f.path, f.name));
  return { kind: listed.length === 1 && listed[0].single ? 'file' : 'folder', path, files };
}

/**
 * Cheap identity of a set of files (names, sizes, mtimes), to tell "the same input as last run" without reading it.
 * Order matters: it is the reading order, and element positions in a cursor count across the files in that order.
 */
export function fingerprintOf(files: InterchangeFile[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(`${f.name}\u0000${f.size}\u0000${f.mtimeMs}\u0000`);
  return `fs:${files.length}:${h.digest('hex').slice(0, 32)}`;
}
