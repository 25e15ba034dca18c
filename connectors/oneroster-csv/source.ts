/**
 * Access to a OneRoster CSV export: a folder of CSV files, or a zip with the files at its root (the binding's own
 * packaging). Files are always streamed; a zip entry is inflated as it is read (yauzl, lazyEntries), never loaded
 * whole.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import * as yauzl from 'yauzl';
import { HubError } from '../../src/core/errors';

/** One file of the export. */
export interface SourceFile {
  /** File name at the root of the export, e.g. `users.csv`. */
  name: string;
  /**
   * Cheap identity of the content, to tell "the same file as last run" without reading it:
   * zip entry `zip:<crc32>:<uncompressedSize>`, folder file `fs:<size>:<mtimeMs>`.
   */
  fingerprint: string;
  /** Opens a fresh byte stream over the file. The caller must consume or destroy it. */
  open(): Promise<Readable>;
}

export interface Source {
  kind: 'folder' | 'zip';
  /** The resolved path of the folder or zip. */
  path: string;
  /** The file, or undefined when the export has no file of that exact (case-sensitive) name. */
  get(name: string): Promise<SourceFile | undefined>;
  /** Names at the root that match `name` only when case is ignored (for helpful error messages). */
  nearMisses(name: string): Promise<string[]>;
  close(): Promise<void>;
}

/** Bigger chunks than Node's 64 KiB default: fewer per-chunk costs in the line guard and parser. */
const READ_CHUNK = 262144;

/** macOS Finder adds `__MACOSX/` resource-fork entries to zips it makes; they are not part of the export. */
const MACOS_METADATA = '__MACOSX/';

/**
 * Opens the export at `path` (already resolved). Throws HubError source_not_found when nothing is there, and
 * source_invalid when it is neither a folder nor a readable zip, or when a zip keeps its files in a folder.
 */
export async function openSource(path: string): Promise<Source> {
  let stat;
  try {
    stat = await fsp.stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new HubError('source_not_found', `The OneRoster export ${path} does not exist.`, [
        { path, message: 'no such file or folder' },
      ]);
    }
    throw new HubError('source_invalid', `The OneRoster export ${path} cannot be read (${code ?? 'error'}).`, [
      { path, message: `cannot be read (${code ?? 'error'})` },
    ], { cause: e });
  }
  if (stat.isDirectory()) return folderSource(path);
  if (stat.isFile()) return zipSource(path);
  throw new HubError('source_invalid', `The OneRoster export ${path} is neither a folder nor a zip file.`, [
    { path, message: 'neither a folder nor a zip file' },
  ]);
}

function folderSource(dir: string): Source {
  return {
    kind: 'folder',
    path: dir,
    async get(name) {
      const file = join(dir, name);
      let stat;
      try {
        stat = await fsp.stat(file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw ioError(name, e);
      }
      if (!stat.isFile()) return undefined;
      // A case-insensitive file system would find `Users.csv` for `users.csv`; the binding's names are exact.
      if (!(await fsp.readdir(dir)).includes(name)) return undefined;
      return {
        name,
        fingerprint: `fs:${stat.size}:${stat.mtimeMs}`,
        open: async () => createReadStream(file, { highWaterMark: READ_CHUNK }),
      };
    },
    async nearMisses(name) {
      const lower = name.toLowerCase();
      return (await fsp.readdir(dir)).filter((n) => n !== name && n.toLowerCase() === lower);
    },
    async close() {},
  };
}

async function zipSource(path: string): Promise<Source> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(path, { lazyEntries: true, autoClose: false, decodeStrings: true, validateEntrySizes: true });
  } catch (e) {
    throw new HubError('source_invalid', `${path} is not a readable zip archive.`, [
      { path, message: `not a readable zip archive: ${(e as Error).message}` },
    ], { cause: e });
  }
  const entries = new Map<string, yauzl.Entry>();
  try {
    for await (const entry of zip.eachEntry()) {
      const name = entry.fileName;
      if (name.startsWith(MACOS_METADATA)) continue;
      if (name.includes('/') || name.includes('\\')) {
        throw new HubError(
          'source_invalid',
          `The zip entry "${name}" is inside a folder: files must be at the root of the zip (OneRoster CSV binding).`,
          [{ path: name, message: 'files must be at the root of the zip' }],
        );
      }
      if (entry.isEncrypted()) {
        throw new HubError('source_invalid', `The zip entry "${name}" is encrypted; the hub reads unencrypted zips only.`, [
          { path: name, message: 'encrypted entries are not supported' },
        ]);
      }
      entries.set(name, entry);
    }
  } catch (e) {
    zip.close();
    if (e instanceof HubError) throw e;
    throw new HubError('source_invalid', `${path} is not a readable zip archive.`, [
      { path, message: `not a readable zip archive: ${(e as Error).message}` },
    ], { cause: e });
  }
  return {
    kind: 'zip',
    path,
    async get(name) {
      const entry = entries.get(name);
      if (!entry) return undefined;
      return {
        name,
        fingerprint: `zip:${entry.crc32}:${entry.uncompressedSize}`,
        open: async () => {
          try {
            return await zip.openReadStreamPromise(entry);
          } catch (e) {
            throw ioError(name, e);
          }
        },
      };
    },
    async nearMisses(name) {
      const lower = name.toLowerCase();
      return [...entries.keys()].filter((n) => n !== name && n.toLowerCase() === lower);
    },
    async close() {
      if (zip.isOpen) zip.close();
    },
  };
}

/** An I/O or decompression failure while reading one file: the export as a whole is unusable. */
export function ioError(name: string, e: unknown): HubError {
  if (e instanceof HubError) return e;
  const msg = (e as Error | undefined)?.message ?? String(e);
  return new HubError('source_invalid', `${name} cannot be read: ${msg}`, [{ path: name, message: `cannot be read: ${msg}` }], {
    cause: e,
  });
}
