/**
 * Threaded reads: a built-in file connector (manifest `readInWorker`) parses and maps its source in a worker thread
 * while the main thread validates and writes the pages already read. On a load that is half parsing, half writing,
 * the two overlap instead of taking turns. One worker per process, shared by every run, started when a run that
 * reads in it begins, or earlier by `hub sync` / `hub start` as soon as the config is loaded (prepareReadsFor); it
 * loads only the connectors' modules it is asked for (~30 ms); holding it costs nothing while idle (unref'd).
 *
 * Pages cross as two strings, the records' JSON and their raw payloads (read-wire.ts); the worker runs at most
 * PAGES_AHEAD pages ahead per read and MAX_BYTES_AHEAD across reads (read-pacing.ts), so memory stays bounded whatever
 * the file size. Errors keep their HubError code, message and details; anything else becomes an internal error with
 * the worker's stack (logged, not shown). A run that is cancelled, or stops reading early, cancels the worker's read.
 *
 * When: `HUB_READ_THREADS` = `auto` (default: connectors whose manifest says `readInWorker: 'default'`, today Ed-Fi
 * XML), `on` (every connector that can), `off` (none). Measured on the 2-core VM (alternated runs, session 6): the
 * 10k-student Ed-Fi sync 1.5-1.7 s threaded vs 1.8-1.95 s in-process, peak RSS ~320 vs ~235 MB; at 50k students
 * 8.3 s vs 9.2-9.3 s, peak RSS ~510 vs ~317 MB (both isolates let their old generation grow to ~150-180 MB between
 * collections; a smaller page size trades that memory for speed). Ed-Fi pays because its worker has much to do
 * while the main thread is busy elsewhere: it parses the 22.6 MB assessment file while the main thread matches and
 * merges students. Earlier (session 5) the threaded Ed-Fi sync was within noise of in-process: the worker loaded
 * every connector, ran one page ahead (the main thread waited for it in the assessment stream), rebuilt pages on
 * arrival, and the bench ran it under tsx, whose loader the worker inherited. The OneRoster CSV SIS sync gains
 * nothing (7.7 s threaded vs 7.5 s, RSS 308 vs 227-241 MB: its writes are the bound and it pays to deserialize what
 * it no longer parses): CSV stays opt-in, keeping the foundation's memory bound (< 300 MB).
 * Tried without gain (session 6): reads taking turns in plan order inside the worker, page by page, and reading the
 * small streams in the main thread (the worker then parsed the large ones side by side and the students' join came
 * later). What did pay (session 8, −2.5% median on that sync): each read starts only once the reads before it have
 * their first page out (StartOrder, read-pacing.ts), so the tiny organizations stream is no longer held up by the
 * students' join and the assessment file, and the join no longer shares the thread while the main thread waits for it.
 */
import path from 'node:path';
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { HubError, ERROR_CODES, type ErrorCode, type ErrorDetail } from '../core/errors';
import type { Connector, Page, ReadContext, StreamPlan } from './contract';
import type { HubConfig } from '../types/unified.generated';
import type { FromWorker, ReadMessage, ToWorker } from './read-worker';
import { fromWire } from './read-wire';
import { getConnector, isBuiltinConnector } from './registry';

/**
 * The worker's young generation: parsing makes short-lived garbage only, and a small nursery keeps the worker's
 * share of the process's memory small (measured on a 10k-student SIS sync: peak RSS 324 MB with V8's default,
 * 275 MB with 8 MB; the main thread alone 226 MB).
 */
const LIMITS = { maxYoungGenerationSizeMb: 8 };

let worker: Worker | undefined;
let nextId = 1;
/** Open reads: `ready` (a message waits on the read's port) and `fail` (the worker is gone). */
const listeners = new Map<number, { ready: () => void; fail: (m: ReadMessage) => void; log: ReadContext['log'] }>();

function startWorker(): Worker {
  // From src/ (tsx, jest) the worker needs the TypeScript loader; from dist/ it is plain JavaScript.
  const file = path.join(__dirname, `read-worker${path.extname(__filename)}`);
  const w = __filename.endsWith('.ts') ? new Worker(`require('tsx/cjs'); require(${JSON.stringify(file)});`, { eval: true, resourceLimits: LIMITS }) : new Worker(file, { resourceLimits: LIMITS });
  w.on('message', (m: FromWorker) => {
    if (m.op === 'log') {
      // Connector log lines carry no job id: the logger of any active read (they share tenant/connector bindings per run).
      const l = listeners.values().next().value?.log;
      (l?.[m.level as 'info'] as ((o: object, msg: string) => void) | undefined)?.call(l, { thread: 'read', ...m.obj }, m.msg);
      return;
    }
    listeners.get(m.id)?.ready();
  });
  const fail = (e: Error) => {
    if (worker === w) worker = undefined;
    for (const [id, l] of listeners) l.fail({ op: 'error', id, error: { message: `the read worker stopped: ${e.message}`, stack: e.stack } });
  };
  w.on('error', fail);
  w.on('exit', (code) => fail(new Error(`exit code ${code}`)));
  // Idle, it must not hold the process open (a read refs it while it runs). Unref'd after the listeners: adding the
  // 'message' listener refs the worker's port again, and a run that failed before its first read (a plan error) left
  // `hub sync` hanging once its work was done.
  w.unref();
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
 * Starts the read worker now when this connector's reads will go to it, and has it load the connector's modules
 * (a repeated `load` costs the worker a cached require): the worker boots while the run takes its lock, loads its
 * cursors and plans (its first page is then ~50 ms nearer).
 */
export function prepareReads(type: string, impl: Connector<Record<string, unknown>>): void {
  if (!readsInWorker(type, impl)) return;
  worker ??= startWorker();
  worker.postMessage({ op: 'load', type } satisfies ToWorker);
}

/**
 * prepareReads for the enabled connectors of the config (or only those named `only.connector`, of `only.tenant` when
 * given) whose reads will go to the worker: `hub sync` and `hub start` call it as soon as the config is loaded, so the
 * worker boots while the store is opened and migrated (~0.2-0.4 s) instead of on the run's clock (measured: the first
 * Ed-Fi page came ~40 ms after the run started, spent booting the worker and loading the connector). A config with
 * no such connector starts nothing.
 */
export function prepareReadsFor(config: HubConfig, only: { tenant?: string; connector?: string } = {}): void {
  for (const t of config.tenants) {
    if (only.tenant !== undefined && t.id !== only.tenant) continue;
    for (const c of t.connectors ?? []) {
      if (c.enabled === false || (only.connector !== undefined && c.id !== only.connector)) continue;
      const impl = getConnector(c.type);
      if (impl) prepareReads(c.type, impl);
    }
  }
}

function rebuild(e: { code?: string; message: string; details?: unknown[]; stack?: string; name?: string }): Error {
  if (e.code && e.code in ERROR_CODES) return new HubError(e.code as ErrorCode, e.message, (e.details ?? []) as ErrorDetail[]);
  const err = new Error(e.message);
  if (e.name) err.name = e.name;
  if (e.stack) err.stack = e.stack;
  return err;
}

/**
 * Stops the read worker (if one runs): its open reads fail with "the read worker stopped", and the next read starts
 * a new one. For shutdown and for tests of a worker that dies mid-read.
 */
export async function terminateReadWorker(): Promise<void> {
  const w = worker;
  if (!w) return;
  await w.terminate();
}

/** Whether the read worker is running (started and not stopped): for tests and diagnostics. */
export function readWorkerRunning(): boolean {
  return worker !== undefined;
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
 * `impl.read(stream, settings, ctx)` in the read worker, started now: the worker reads up to PAGES_AHEAD pages before
 * they are asked for (the runner opens the next stream while it writes the current one). Consume `pages` once, or
 * cancel.
 */
export function openThreadedRead(type: string, stream: string, settings: Record<string, unknown>, ctx: ReadContext): ThreadedRead {
  const w = (worker ??= startWorker());
  const id = nextId++;
  // The read's messages wait on its own port, serialized, until taken (read-worker.ts); `waiting` counts them.
  const { port1: inbox, port2: outbox } = new MessageChannel();
  let waiting = 0;
  /** Messages made here (abort, a dead worker): they come before anything still waiting on the port. */
  const local: ReadMessage[] = [];
  let wake: (() => void) | undefined;
  const rouse = () => {
    wake?.();
    wake = undefined;
  };
  let closed = false;
  listeners.set(id, {
    log: ctx.log,
    ready: () => {
      waiting++;
      rouse();
    },
    fail: (m) => {
      local.push(m);
      rouse();
    },
  });
  const send = (m: ToWorker, transfer?: MessagePort[]) => {
    if (worker === w) w.postMessage(m, transfer);
  };
  const onAbort = () => {
    send({ op: 'cancel', id });
    // Stop at once, as an in-process read would (pages waiting ahead are dropped): the runner turns this into
    // run_cancelled.
    local.length = 0;
    local.push({ op: 'error', id, error: { message: 'This operation was aborted', name: 'AbortError' } });
    waiting = 0;
    rouse();
  };
  const close = (finished: boolean) => {
    if (closed) return;
    closed = true;
    listeners.delete(id);
    ctx.signal.removeEventListener('abort', onAbort);
    if (!finished) send({ op: 'cancel', id });
    inbox.close();
    if (!listeners.size) w.unref();
  };
  ctx.signal.addEventListener('abort', onAbort);
  w.ref(); // a read in progress keeps the process alive
  const readCtx = { tenantId: ctx.tenantId, connectorId: ctx.connectorId, baseDir: ctx.baseDir, mode: ctx.mode, cursor: ctx.cursor };
  send({ op: 'read', id, type, stream, settings, ctx: readCtx, port: outbox }, [outbox]);

  /** The next message of this read, taken off its port only now. */
  async function next(): Promise<ReadMessage> {
    for (;;) {
      if (local.length) return local.shift()!;
      if (waiting > 0) {
        const got = receiveMessageOnPort(inbox) as { message: ReadMessage } | undefined;
        // The notice is posted after the message, so the message is there; should it ever not be, wait a turn.
        if (got) {
          waiting--;
          return got.message;
        }
        await new Promise<void>((r) => setImmediate(r));
        continue;
      }
      await new Promise<void>((r) => (wake = r));
    }
  }

  async function* pages(): AsyncGenerator<Page> {
    let finished = false;
    try {
      for (;;) {
        const m = await next();
        if (m.op === 'page') {
          send({ op: 'ack', id }); // the worker may read the next one while this one is written
          yield fromWire(m.page);
        } else if (m.op === 'end') {
          finished = true;
          return;
        } else {
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

/**
 * How many of the following streams a threaded run opens while it writes one. A stream that yields little from a
 * large file (Ed-Fi reads StudentDiscipline.xml once per incident, participant and action stream) is parsed while the
 * main thread still writes, instead of while it waits. Each open stream holds at most PAGES_AHEAD pages, and all of
 * them together at most MAX_BYTES_AHEAD (read-pacing.ts). On the 10k-student Ed-Fi sync with 2 ahead, the last
 * discipline stream was opened only when the main thread reached the one before it, which then waited ~50 ms for its
 * page.
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
