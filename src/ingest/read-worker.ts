/**
 * The worker-thread side of threaded reads (see threaded-read.ts): runs a built-in connector's `read` and posts its
 * pages to the main thread, a bounded number ahead (read-pacing.ts), so parsing and mapping the next pages overlaps
 * the main thread's validating and writing of the current one.
 *
 * Messages in:  {op: 'read', id, type, stream, settings, ctx: {tenantId, connectorId, baseDir, mode, cursor}, port}
 *               (the read's own MessagePort), {op: 'ack', id} (one page taken), {op: 'cancel', id}, {op: 'load', type}
 *               (load a connector's modules before its first read).
 * On the read's port: {op: 'page', id, page}, {op: 'end', id}, {op: 'error', id, error: {code?, message, details?,
 *               stack?}}, each followed by {op: 'ready', id} on the worker's port: the main thread takes a message
 *               off the read's port (receiveMessageOnPort) only when it wants the next page, so pages waiting ahead
 *               stay serialized, outside its heap, instead of being rebuilt on arrival and promoted by its GC.
 * Also out:     {op: 'log', level, obj, msg}.
 */
import { parentPort, type MessagePort } from 'node:worker_threads';
import pino from 'pino';
import { builtinConnector } from './registry';
import { AheadBudget, StartOrder, pageBytes } from './read-pacing';
import { isHubError } from '../core/errors';
import type { Cursor, SyncMode } from './contract';
import { toWire, type WirePage } from './read-wire';

export interface ReadRequest {
  op: 'read';
  id: number;
  type: string;
  stream: string;
  settings: Record<string, unknown>;
  ctx: { tenantId: string; connectorId: string; baseDir: string; mode: SyncMode; cursor?: Cursor };
  /** Where this read's pages, end and error go (transferred). */
  port: MessagePort;
}
export type ToWorker = ReadRequest | { op: 'ack' | 'cancel'; id: number } | { op: 'load'; type: string };
/** What a read's port carries. */
export type ReadMessage =
  | { op: 'page'; id: number; page: WirePage }
  | { op: 'end'; id: number }
  | { op: 'error'; id: number; error: { code?: string; message: string; details?: unknown[]; stack?: string; name?: string } };
/** What the worker's own port carries. */
export type FromWorker = { op: 'ready'; id: number } | { op: 'log'; level: string; obj: Record<string, unknown>; msg: string };

const port = parentPort!;
const post = (m: FromWorker) => port.postMessage(m);
/** A read's message on its port, then the notice that it is there (posted after it: it is in the port's queue). */
const send = (req: ReadRequest, m: ReadMessage) => {
  req.port.postMessage(m);
  post({ op: 'ready', id: req.id });
};

interface Job {
  /** Sizes of the pages posted and not yet taken, oldest first. */
  inFlight: number[];
  wake?: () => void;
  abort: AbortController;
  /** Its read has ended; the job stays until its pages are taken (they count against the budget until then). */
  done?: boolean;
}
const jobs = new Map<number, Job>();
const budget = new AheadBudget();
const order = new StartOrder();

/** Log lines of the connector, re-emitted by the main thread's logger (with its level and redaction). */
const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const log = pino({ level: 'debug', base: undefined, timestamp: false }, {
  write(line: string) {
    const { level, msg, ...obj } = JSON.parse(line) as { level: number; msg?: string } & Record<string, unknown>;
    post({ op: 'log', level: LEVELS[level] ?? 'info', obj, msg: msg ?? '' });
  },
});

async function run(req: ReadRequest): Promise<void> {
  const job: Job = { inFlight: [], abort: new AbortController() };
  jobs.set(req.id, job);
  const turn = order.turn();
  try {
    await turn.ready;
    if (job.abort.signal.aborted) return;
    const impl = builtinConnector(req.type);
    if (!impl) throw new Error(`no connector '${req.type}' in the worker's registry`);
    const ctx = { ...req.ctx, log, signal: job.abort.signal };
    // A cancelled read (the consumer stopped, or the run was cancelled) just ends: nobody waits for its pages.
    for await (const page of impl.read(req.stream, req.settings, ctx)) {
      if (job.abort.signal.aborted) return;
      const wire = toWire(page);
      const size = pageBytes(wire);
      while (!budget.allows(job.inFlight, size) && !job.abort.signal.aborted) await new Promise<void>((r) => (job.wake = r));
      if (job.abort.signal.aborted) return;
      job.inFlight.push(size);
      budget.take(size);
      send(req, { op: 'page', id: req.id, page: wire });
      turn.started();
    }
    send(req, { op: 'end', id: req.id });
  } catch (e) {
    if (job.abort.signal.aborted) return;
    const err = e as Error;
    send(req, { op: 'error', id: req.id, error: isHubError(e) ? { code: e.code, message: e.message, details: e.details } : { message: err?.message ?? String(e), stack: err?.stack } });
  } finally {
    turn.started();
    job.done = true;
    if (job.abort.signal.aborted || !job.inFlight.length) forget(req.id, job);
    // The port is left open: the main thread closes its end once it has taken what it wants.
  }
}

/** A job ends: its pages still in flight will not be taken (cancelled) or were all taken. */
function forget(id: number, job: Job): void {
  jobs.delete(id);
  release(job.inFlight.splice(0).reduce((a, b) => a + b, 0));
}

/** Pages left the queue: every read waiting for room may try again. */
function release(bytes: number): void {
  if (!bytes) return;
  budget.release(bytes);
  for (const j of jobs.values()) {
    j.wake?.();
    j.wake = undefined;
  }
}

port.on('message', (m: ToWorker) => {
  if (m.op === 'read') void run(m);
  else if (m.op === 'load') {
    // Ahead of its first read (prepareReads): a connector that fails to load fails that read, with its error.
    try {
      builtinConnector(m.type);
    } catch {
      /* reported by the read */
    }
  } else {
    const job = jobs.get(m.id);
    if (!job) return;
    if (m.op === 'ack') {
      release(job.inFlight.shift() ?? 0);
      if (job.done && !job.inFlight.length) forget(m.id, job);
    } else {
      job.abort.abort();
      if (job.done) forget(m.id, job);
    }
    job.wake?.();
    job.wake = undefined;
  }
});
