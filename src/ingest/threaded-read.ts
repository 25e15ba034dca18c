/**
 * Threaded reads: a built-in file connector (manifest `readInWorker`) parses and maps its source in a worker thread
 * while the main thread validates and writes the pages already read. On a load that is half parsing, half writing,
 * the two overlap instead of taking turns. One worker per process, shared by every run (a worker starts in ~50 ms,
 * and holding it costs nothing while idle: it is unref'd).
 *
 * Pages cross by structured clone; the worker stays at most `ahead` pages in front, so memory stays bounded. Errors
 * keep their HubError code, message and details; anything else becomes an internal error with the worker's stack
 * (logged, not shown). A run that is cancelled, or stops reading early, cancels the worker's read.
 *
 * Opt-in: `HUB_READ_THREADS=on`. Measured (2026-12-04, 10k-student district, quiet 2-core machine): the OneRoster CSV
 * SIS sync gains nothing (7.7 s threaded vs 7.5 s; RSS 308 vs 227-241 MB): the main thread's writes are the bound
 * and it pays to deserialize what it no longer parses. The Ed-Fi XML sync gains 4-7% (5.0-5.4 s vs 5.4-5.6 s; RSS
 * ~360 vs ~250 MB). At 50k students on a loaded machine the SIS sync was slower (64 vs 57 s, RSS ~400 vs 265 MB).
 * The default keeps the foundation's memory bound (< 300 MB whatever the file size). It would pay if the worker
 * also did the per-record work that needs no database (validation, hashing, JSON for the store).
 * Re-measured 2026-12-04 (session 5, alternated runs): Ed-Fi within noise (0-7% faster or slower). Deeper read-ahead
 * (6 pages, 3 streams), a 32 MB nursery and priorities in the worker did not change that: the process's CPU rose ~50%
 * and both threads slowed when they ran together; V8's parallel GC already keeps the second core ~35% busy.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { HubError, ERROR_CODES, type ErrorCode, type ErrorDetail } from '../core/errors';
import type { Connector, Page, ReadContext, SourceRecord, StreamPlan } from './contract';
import type { FromWorker, ToWorker, WirePage } from './read-worker';
import { isBuiltinConnector } from './registry';

/**
 * Pages the worker may post before the main thread starts on them, per read (they are also bounded in bytes across
 * reads: read-worker.ts MAX_BYTES_AHEAD). Deep enough that the worker, idle while the main thread writes a slow
 * stream (students, with identity matching), parses the next streams' pages meanwhile instead of one page each: on
 * the 10k-student Ed-Fi sync 1 page ahead left the main thread waiting ~80 ms in the 22.6 MB assessment stream;
 * 8 pages ahead, 4-6% faster overall, no higher peak RSS.
 */
const AHEAD = 8;
/**
 * The worker's young generation: parsing makes short-lived garbage only, and a small nursery keeps the worker's
 * share of the process's memory small (measured on a 10k-student SIS sync: peak RSS 324 MB with V8's default,
 * 275 MB with 8 MB; the main thread alone 226 MB).
 */
const LIMITS = { maxYoungGenerationSizeMb: 8 };

let worker: Worker | undefined;
let nextId = 1;
const listeners = new Map<number, { deliver: (m: FromWorker) => void; log: ReadContext['log'] }>();

function startWorker(): Worker {
  // From src/ (tsx, jest) the worker needs the TypeScript loader; from dist/ it is plain JavaScript.
  const file = path.join(__dirname, `read-worker${path.extname(__filename)}`);
  const w = __filename.endsWith('.ts') ? new Worker(`require('tsx/cjs'); require(${JSON.stringify(file)});`, { eval: true, resourceLimits: LIMITS }) : new Worker(file, { resourceLimits: LIMITS });
  w.unref();
  w.on('message', (m: FromWorker) => {
    if (m.op === 'log') {
      // Connector log lines carry no job id: the logger of any active read (they share tenant/connector bindings per run).
      const l = listeners.values().next().value?.log;
      (l?.[m.level as 'info'] as ((o: object, msg: string) => void) | undefined)?.call(l, { thread: 'read', ...m.obj }, m.msg);
      return;
    }
    listeners.get(m.id)?.deliver(m);
  });
  const fail = (e: Error) => {
    if (worker === w) worker = undefined;
    for (const [id, l] of listeners) l.deliver({ op: 'error', id, error: { message: `the read worker stopped: ${e.message}`, stack: e.stack } });
  };
  w.on('error', fail);
  w.on('exit', (code) => fail(new Error(`exit code ${code}`)));
  return w;
}

/**
 * `HUB_READ_THREADS`: `on` (every connector that can), `off` (none), or unset / `auto` (the connectors whose manifest
 * says `readInWorker: 'default'`). Anything else is a configuration error, named.
 */
export function readThreadsSetting(): 'on' | 'off' | 'auto' {
  const v = process.env.HUB_READ_THREADS;
  if (v === undefined || v === '' || v === 'auto') return 'auto';
  if (v === 'on' || v === 'off') return v;
  throw new HubError('config_invalid', `HUB_READ_THREADS must be on, off or auto (got '${v}').`, [{ path: 'HUB_READ_THREADS', message: 'expected on, off or auto' }]);
}

/** Whether this connector's reads go to the worker thread. */
export function readsInWorker(type: string, impl: Connector<Record<string, unknown>>): boolean {
  const mode = impl.manifest.readInWorker;
  if (!mode || !isBuiltinConnector(type, impl)) return false;
  const setting = readThreadsSetting();
  return setting === 'on' || (setting === 'auto' && mode === 'default');
}

/**
 * Starts the read worker now when this connector's reads will go to it: the worker loads its modules while the run
 * takes its lock, loads its cursors and plans (its first page is then ~50 ms nearer).
 */
export function prepareReads(type: string, impl: Connector<Record<string, unknown>>): void {
  if (readsInWorker(type, impl)) worker ??= startWorker();
}

function rebuild(e: { code?: string; message: string; details?: unknown[]; stack?: string; name?: string }): Error {
  if (e.code && e.code in ERROR_CODES) return new HubError(e.code as ErrorCode, e.message, (e.details ?? []) as ErrorDetail[]);
  const err = new Error(e.message);
  if (e.name) err.name = e.name;
  if (e.stack) err.stack = e.stack;
  return err;
}

/** Reads open in the worker (opened and neither finished nor cancelled): for tests and diagnostics. */
export function openThreadedReads(): number {
  return listeners.size;
}

export interface ThreadedRead {
  pages: AsyncIterable<Page>;
  /** Stops a read whose pages will not be consumed (a prefetched stream of a run that failed). */
  cancel(): void;
}

/**
 * `impl.read(stream, settings, ctx)` in the read worker, started now: the worker reads up to AHEAD pages before they
 * are asked for (the runner opens the next stream while it writes the current one). Consume `pages` once, or cancel.
 */
export function openThreadedRead(type: string, stream: string, settings: Record<string, unknown>, ctx: ReadContext): ThreadedRead {
  const w = (worker ??= startWorker());
  const id = nextId++;
  const queue: FromWorker[] = [];
  let wake: (() => void) | undefined;
  let closed = false;
  listeners.set(id, {
    log: ctx.log,
    deliver: (m) => {
      queue.push(m);
      wake?.();
      wake = undefined;
    },
  });
  const send = (m: ToWorker) => {
    if (worker === w) w.postMessage(m);
  };
  const onAbort = () => {
    send({ op: 'cancel', id });
    // Stop at once, as an in-process read would (pages posted ahead are dropped): the runner turns this into
    // run_cancelled.
    queue.length = 0;
    listeners.get(id)?.deliver({ op: 'error', id, error: { message: 'This operation was aborted', name: 'AbortError' } });
  };
  const close = (finished: boolean) => {
    if (closed) return;
    closed = true;
    listeners.delete(id);
    ctx.signal.removeEventListener('abort', onAbort);
    if (!finished) send({ op: 'cancel', id });
    if (!listeners.size) w.unref();
  };
  ctx.signal.addEventListener('abort', onAbort);
  w.ref(); // a read in progress keeps the process alive
  send({ op: 'read', id, type, stream, settings, ctx: { tenantId: ctx.tenantId, connectorId: ctx.connectorId, baseDir: ctx.baseDir, mode: ctx.mode, cursor: ctx.cursor }, ahead: AHEAD });

  async function* pages(): AsyncGenerator<Page> {
    let finished = false;
    try {
      for (;;) {
        while (!queue.length) await new Promise<void>((r) => (wake = r));
        const m = queue.shift()!;
        if (m.op === 'page') {
          send({ op: 'ack', id }); // the worker may read the next one while this one is written
          yield fromWire(m.page);
        } else if (m.op === 'end') {
          finished = true;
          return;
        } else if (m.op === 'error') {
          finished = true;
          throw rebuild(m.error);
        }
      }
    } finally {
      close(finished);
    }
  }
  return { pages: pages(), cancel: () => close(false) };
}

/** A page as the connector yielded it, its raw payload left as JSON (what the store keeps). */
function fromWire(page: WirePage): Page {
  const records = page.records.map((w) => {
    const r: SourceRecord = { type: w.type, sourceId: w.sourceId, data: JSON.parse(w.dataJson) as Record<string, unknown> };
    if (w.rawJson !== undefined) r.rawJson = w.rawJson;
    if (w.location !== undefined) r.location = w.location;
    if (w.deleted) r.deleted = true;
    return r;
  });
  return { records, ...(page.rejects ? { rejects: page.rejects } : {}), ...(page.cursor ? { cursor: page.cursor } : {}) };
}

/**
 * How many of the following streams a threaded run opens while it writes one. A stream that yields little from a
 * large file (Ed-Fi reads StudentDiscipline.xml once per incident, participant and action stream) is parsed while the
 * main thread still writes, instead of while it waits. Each open stream holds at most AHEAD pages, and all of them
 * together at most read-budget.ts MAX_BYTES_AHEAD. On the 10k-student Ed-Fi sync with 2 ahead, the last discipline
 * stream was opened only when the main thread reached the one before it, which then waited ~50 ms for its page.
 */
const STREAMS_AHEAD = 3;

/** The pages of each stream of a run's plan, by index; `close` when the run ends, however it ends. */
export interface StreamReader {
  pages(index: number): AsyncIterable<Page>;
  close(): void;
}

/**
 * The runner's reads: `impl.read` in-process, or, when readsInWorker, in the worker with the next STREAMS_AHEAD
 * streams opened early. `close` cancels streams opened ahead that the run never consumed (a run that failed): an
 * async generator that was never started does not run its `finally` on `return()`.
 */
export function streamReader(type: string, impl: Connector<Record<string, unknown>>, settings: Record<string, unknown>, plan: StreamPlan[], ctxOf: (p: StreamPlan) => ReadContext): StreamReader {
  if (!readsInWorker(type, impl)) return { pages: (i) => impl.read(plan[i].stream, settings, ctxOf(plan[i])), close: () => undefined };
  worker ??= startWorker(); // loading the worker's modules overlaps the first stream's start
  const opened = new Map<number, ThreadedRead>();
  const open = (i: number) => {
    let r = opened.get(i);
    if (!r) opened.set(i, (r = openThreadedRead(type, plan[i].stream, settings, ctxOf(plan[i]))));
    return r;
  };
  return {
    pages(index) {
      const current = open(index);
      opened.delete(index); // consumed from here: its generator closes itself
      for (let i = index + 1, n = 0; i < plan.length && n < STREAMS_AHEAD; i++) {
        if (plan[i].skip) continue;
        open(i);
        n++;
      }
      return current.pages;
    },
    close() {
      for (const r of opened.values()) r.cancel();
      opened.clear();
    },
  };
}
