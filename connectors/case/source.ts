/**
 * Where CFPackages come from: one JSON file, a folder of JSON files, or a CASE provider's REST API. Each source
 * lists its packages (document identifier + a change tag for the cursor) and loads one package at a time.
 *
 * Change tags: a file's tag is a hash of its bytes (any edit is seen); a provider's is the document's
 * lastChangeDateTime as GET /CFDocuments lists it (the only cheap signal a provider gives; see README, limits).
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { HubError } from '../../src/core/errors';
import { CaseHttpClient, type HttpOptions } from './http';
import { isObject, parseJson, readPackage, type PackageInfo } from './package';
import type { Normalized } from './settings';

export interface PackageRef {
  /** CFDocument identifier. */
  docId: string;
  /** Change tag saved in the cursor; undefined when the source gives none (the package is then always read). */
  version?: string;
  /** For locations and messages: the file name, or `CFPackages/<identifier>`. */
  name: string;
}

export interface CaseSource {
  /** `folder /data/case (2 packages)`, for check() details. */
  describe(): string;
  /** The packages to read, in reading order. Throws source_invalid / source_not_found / source_unavailable. */
  inventory(): Promise<PackageRef[]>;
  load(ref: PackageRef): Promise<PackageInfo>;
  /** The package is not needed again in this run: drop it from memory. */
  release(ref: PackageRef): void;
  /** check(): a cheap probe; a sentence for the details. */
  probe(): Promise<string>;
}

/** Parsed packages kept between the streams of one run, up to a budget of source bytes. */
const MEMO_BUDGET_BYTES = 64 * 1024 * 1024;
/** Largest package file read (parsed whole). */
const MAX_FILE_BYTES = 256 * 1024 * 1024;
/** Bounds on GET /CFDocuments paging: a provider that never stops paging fails instead of looping. */
const MAX_LIST_PAGES = 1000;

class Memo {
  private readonly map = new Map<string, { pkg: PackageInfo; bytes: number }>();
  private used = 0;
  get(id: string): PackageInfo | undefined {
    return this.map.get(id)?.pkg;
  }
  set(id: string, pkg: PackageInfo, bytes: number): void {
    this.delete(id);
    if (this.used + bytes > MEMO_BUDGET_BYTES) return; // read again by the next stream instead
    this.map.set(id, { pkg, bytes });
    this.used += bytes;
  }
  delete(id: string): void {
    const e = this.map.get(id);
    if (!e) return;
    this.used -= e.bytes;
    this.map.delete(id);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Files

interface ReadFile {
  ref: PackageRef;
  pkg: PackageInfo;
  bytes: number;
}

async function readPackageFile(path: string, name: string): Promise<ReadFile> {
  let buf: Buffer;
  try {
    const st = await fsp.stat(path);
    if (!st.isFile()) throw new HubError('source_invalid', `${path} is not a file.`, [{ path, message: 'not a file' }]);
    if (st.size > MAX_FILE_BYTES) throw new HubError('source_invalid', `${name} is ${st.size} bytes, more than the ${MAX_FILE_BYTES} this connector reads.`, [{ path: name, message: 'too large' }]);
    buf = await fsp.readFile(path);
  } catch (e) {
    if (e instanceof HubError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new HubError('source_not_found', `The CASE package file ${path} does not exist.`, [{ path, message: 'no such file' }]);
    throw new HubError('source_invalid', `${path} cannot be read (${code ?? (e as Error).message}).`, [{ path, message: 'cannot be read' }], { cause: e });
  }
  const pkg = readPackage(parseJson(buf.toString('utf8'), name), name);
  const version = `sha256:${createHash('sha256').update(buf).digest('hex').slice(0, 16)}`;
  return { ref: { docId: String(pkg.document.identifier).trim(), version, name }, pkg, bytes: buf.length };
}

function fileSource(path: string): CaseSource {
  const memo = new Memo();
  let listed: Promise<PackageRef[]> | undefined;
  const name = basename(path);
  const inventory = (): Promise<PackageRef[]> => {
    listed ??= readPackageFile(path, name).then((f) => {
      memo.set(f.ref.docId, f.pkg, f.bytes);
      return [f.ref];
    });
    return listed;
  };
  const load = async (ref: PackageRef): Promise<PackageInfo> => {
    const m = memo.get(ref.docId);
    if (m) return m;
    const f = await readPackageFile(path, name);
    if (f.ref.docId !== ref.docId || f.ref.version !== ref.version) throw changedWhileRead(name);
    return f.pkg;
  };
  return {
    describe: () => `file ${path}`,
    inventory,
    load,
    release: (ref) => memo.delete(ref.docId),
    async probe() {
      const [ref] = await inventory();
      return `file ${name}: ${summary(await load(ref))}`;
    },
  };
}

function changedWhileRead(name: string): HubError {
  return new HubError('source_invalid', `${name} changed while it was being read; run again once it is stable.`, [{ path: name, message: 'changed during the run' }]);
}

const summary = (p: PackageInfo) =>
  `CASE ${p.caseVersion} package "${String(p.document.title).trim()}" (${p.items.length} items, ${p.associations.length} associations; version: ${p.versionEvidence})`;

function folderSource(dir: string): CaseSource {
  const memo = new Memo();
  let listed: Promise<PackageRef[]> | undefined;
  const files = new Map<string, string>(); // docId -> file path

  async function list(): Promise<PackageRef[]> {
    let entries;
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new HubError('source_not_found', `The CASE package folder ${dir} does not exist.`, [{ path: dir, message: 'no such folder' }]);
      if (code === 'ENOTDIR') throw new HubError('source_invalid', `${dir} is not a folder (use source.file for one package).`, [{ path: dir, message: 'not a folder' }]);
      throw new HubError('source_invalid', `The folder ${dir} cannot be read (${code ?? 'error'}).`, [{ path: dir, message: 'cannot be read' }], { cause: e });
    }
    const names = entries.filter((e) => e.isFile() && /\.json$/i.test(e.name) && !e.name.startsWith('.')).map((e) => e.name).sort();
    if (!names.length) throw new HubError('source_invalid', `The folder ${dir} has no .json CFPackage files.`, [{ path: dir, message: 'no .json files' }]);
    const refs: PackageRef[] = [];
    const byDoc = new Map<string, string>();
    for (const n of names) {
      const f = await readPackageFile(join(dir, n), n);
      const other = byDoc.get(f.ref.docId);
      if (other) {
        throw new HubError('source_invalid', `${n} and ${other} hold the same CFDocument ${f.ref.docId}: keep one package per framework in the folder.`, [
          { path: n, message: `same CFDocument as ${other}` },
        ]);
      }
      byDoc.set(f.ref.docId, n);
      files.set(f.ref.docId, join(dir, n));
      memo.set(f.ref.docId, f.pkg, f.bytes);
      refs.push(f.ref);
    }
    return refs;
  }

  const inventory = (): Promise<PackageRef[]> => (listed ??= list());
  return {
    describe: () => `folder ${dir}`,
    inventory,
    async load(ref) {
      const m = memo.get(ref.docId);
      if (m) return m;
      const path = files.get(ref.docId) ?? join(dir, ref.name);
      const f = await readPackageFile(path, ref.name);
      if (f.ref.docId !== ref.docId || f.ref.version !== ref.version) throw changedWhileRead(ref.name);
      return f.pkg;
    },
    release: (ref) => memo.delete(ref.docId),
    async probe() {
      const refs = await inventory();
      return `folder ${dir}: ${refs.length} package(s): ${refs.map((r) => r.name).join(', ')}`;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Provider

function providerSource(s: Extract<Normalized, { kind: 'provider' }>, http: HttpOptions, signal: AbortSignal): CaseSource {
  const client = new CaseHttpClient(s.baseUrl, s.auth, http, signal);
  const memo = new Memo();
  let listed: Promise<PackageRef[]> | undefined;
  const notRoot = `GET /CFDocuments answered 404: ${s.baseUrl} is not a CASE provider root (it should end in /ims/case/v1p0 or /ims/case/v1p1)`;
  const refOf = (id: string, version: unknown): PackageRef => ({
    docId: id,
    ...(typeof version === 'string' && version !== '' ? { version } : {}),
    name: `CFPackages/${id}`,
  });

  async function listAll(): Promise<Map<string, PackageRef>> {
    const out = new Map<string, PackageRef>();
    const limit = s.pageSize;
    let offset = 0;
    for (let page = 0; ; page++) {
      if (page >= MAX_LIST_PAGES) {
        throw new HubError('source_invalid', `GET /CFDocuments kept paging after ${MAX_LIST_PAGES} pages; list the frameworks to load in source.documents.`, [
          { path: 'GET /CFDocuments', message: 'too many pages' },
        ]);
      }
      const r = await client.getJson('/CFDocuments', { limit, offset }, notRoot);
      const docs = documentsOf(r.json, `GET /CFDocuments?limit=${limit}&offset=${offset}`);
      let fresh = 0;
      for (const d of docs) {
        if (out.has(d.identifier)) continue;
        out.set(d.identifier, refOf(d.identifier, d.lastChangeDateTime));
        fresh++;
      }
      // The end: an empty page, the advertised total, or a provider that ignores offset (the same page again).
      if (docs.length === 0) break;
      if (fresh === 0) {
        // The same full page twice: offset is ignored and the rest of the list cannot be reached. Loading part of
        // it would make a full refresh delete the frameworks left out. With source.documents the list is only a
        // shortcut (the others are asked one by one), so it may be incomplete.
        if (docs.length === limit && !s.documents) {
          throw new HubError(
            'source_invalid',
            `GET /CFDocuments answered the same ${limit} documents for offset ${offset} as before: the provider ignores offset, so the list cannot be read whole; list the frameworks to load in source.documents.`,
            [{ path: 'GET /CFDocuments', message: 'offset ignored' }],
          );
        }
        break;
      }
      offset += docs.length;
      const total = Number(r.headers.get('x-total-count') ?? 'NaN');
      if (Number.isFinite(total) && offset >= total) break;
    }
    return out;
  }

  async function list(): Promise<PackageRef[]> {
    const all = await listAll();
    if (!s.documents) {
      if (!all.size) throw new HubError('source_invalid', `The CASE provider ${s.baseUrl} lists no CFDocuments: nothing to load.`, [{ path: 'GET /CFDocuments', message: 'empty list' }]);
      return [...all.values()];
    }
    const refs: PackageRef[] = [];
    for (const id of s.documents) {
      const listedRef = all.get(id);
      if (listedRef) {
        refs.push(listedRef);
        continue;
      }
      // Not every provider lists every document it serves (private or unlisted frameworks).
      const r = await client.getJson(`/CFDocuments/${encodeURIComponent(id)}`, undefined, `the CASE provider has no CFDocument ${id} (source.documents)`);
      const d = r.json;
      if (!isObject(d) || d.identifier !== id) {
        throw new HubError('source_invalid', `GET /CFDocuments/${id} did not answer that CFDocument (expected an object with identifier ${id}).`, [
          { path: `GET /CFDocuments/${id} $.identifier`, message: 'not the requested document' },
        ]);
      }
      refs.push(refOf(id, d.lastChangeDateTime));
    }
    return refs;
  }

  return {
    describe: () => `CASE provider ${s.baseUrl}`,
    inventory: () => (listed ??= list()),
    async load(ref) {
      const m = memo.get(ref.docId);
      if (m) return m;
      const path = `/CFPackages/${encodeURIComponent(ref.docId)}`;
      const r = await client.getJson(path, undefined, `the CASE provider lists CFDocument ${ref.docId} but GET ${path} answered 404`);
      const pkg = readPackage(r.json, ref.name, s.versionHint);
      const id = String(pkg.document.identifier).trim();
      if (id !== ref.docId) {
        throw new HubError('source_invalid', `GET ${path} answered the package of another CFDocument (${id}).`, [{ path: `${ref.name} $.CFDocument.identifier`, message: `expected ${ref.docId}` }]);
      }
      memo.set(ref.docId, pkg, r.bytes);
      return pkg;
    },
    release: (ref) => memo.delete(ref.docId),
    async probe() {
      const r = await client.getJson('/CFDocuments', { limit: 1, offset: 0 }, notRoot);
      const docs = documentsOf(r.json, 'GET /CFDocuments?limit=1&offset=0');
      const total = r.headers.get('x-total-count');
      return `CASE provider ${s.baseUrl} answers GET /CFDocuments (${total !== null ? `${total} documents` : docs.length ? 'documents listed' : 'no documents listed'})`;
    },
  };
}

/** The CFDocuments of a GET /CFDocuments answer, each with an identifier. */
function documentsOf(json: unknown, what: string): { identifier: string; lastChangeDateTime?: unknown }[] {
  if (!isObject(json) || !Array.isArray(json.CFDocuments)) {
    throw new HubError('source_invalid', `${what} did not answer a CASE document list ($.CFDocuments is missing or not an array).`, [
      { path: `${what} $.CFDocuments`, message: 'missing or not an array' },
    ]);
  }
  return json.CFDocuments.map((d, i) => {
    if (!isObject(d) || typeof d.identifier !== 'string' || d.identifier.trim() === '') {
      throw new HubError('source_invalid', `${what}: $.CFDocuments[${i}] has no identifier.`, [{ path: `${what} $.CFDocuments[${i}].identifier`, message: 'missing' }]);
    }
    return { identifier: d.identifier.trim(), lastChangeDateTime: d.lastChangeDateTime };
  });
}

export function openSource(s: Normalized, baseDir: string, http: HttpOptions, signal: AbortSignal): CaseSource {
  if (s.kind === 'file') return fileSource(resolve(baseDir, s.path));
  if (s.kind === 'folder') return folderSource(resolve(baseDir, s.path));
  return providerSource(s, http, signal);
}
