/**
 * The worker-thread side of threaded reads (see threaded-read.ts): runs a built-in connector's `read` and posts its
 * pages to the main thread, a bounded number ahead, so parsing and mapping the next pages overlaps the main thread's
 * validating and writing of the current one.
 *
 * Messages in:  {op: 'read', id, type, stream, settings, ctx: {tenantId, connectorId, baseDir, mode, cursor}},
 *               {op: 'ack', id} (one page consumed: one more may be sent), {op: 'cancel', id}.
 * Messages out: {op: 'page', id, page}, {op: 'end', id}, {op: 'error', id, error: {code?, message, details?, stack?}},
 *               {op: 'log', level, obj, msg}.
 */
import { parentPort } from 'node:worker_threads';
import pino from 'pino';
import { getConnector } from './registry';
import { isHubError } from '../core/errors';
import type { Cursor, Page, SyncMode } from './contract';

export interface ReadRequest {
  op: 'read';
  id: number;
  type: string;
  stream: string;
  settings: Record<string, unknown>;
  ctx: { tenantId: string; connectorId: string; baseDir: string; mode: SyncMode; cursor?: Cursor };
  /** Pages posted ahead of the consumer. */
  ahead: number;
}
export type ToWorker = ReadRequest | { op: 'ack' | 'cancel'; id: number };
export type FromWorker =
  | { op: 'page'; id: number; page: Page }
  | { op: 'end'; id: number }
  | { op: 'error'; id: number; error: { code?: string; message: string; details?: unknown[]; stack?: string; name?: string } }
  | { op: 'log'; level: string; obj: Record<string, unknown>; msg: string };

const port = parentPort!;
const post = (m: FromWorker) => port.postMessage(m);

interface Job {
  credit: number;
  wake?: () => void;
  abort: AbortController;
}
const jobs = new Map<number, Job>();

/** Log lines of the connector, re-emitted by the main thread's logger (with its level and redaction). */
const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const log = pino({ level: 'debug', base: undefined, timestamp: false }, {
  write(line: string) {
    const { level, msg, ...obj } = JSON.parse(line) as { level: number; msg?: string } & Record<string, unknown>;
    post({ op: 'log', level: LEVELS[level] ?? 'info', obj, msg: msg ?? '' });
  },
});

async function run(req: ReadRequest): Promise<void> {
  const job: Job = { credit: req.ahead, abort: new AbortController() };
  jobs.set(req.id, job);
  try {
    const impl = getConnector(req.type);
    if (!impl) throw new Error(`no connector '${req.type}' in the worker's registry`);
    const ctx = { ...req.ctx, log, signal: job.abort.signal };
    // A cancelled read (the consumer stopped, or the run was cancelled) just ends: nobody waits for its pages.
    for await (const page of impl.read(req.stream, req.settings, ctx)) {
      if (job.abort.signal.aborted) return;
      while (job.credit <= 0 && !job.abort.signal.aborted) await new Promise<void>((r) => (job.wake = r));
      if (job.abort.signal.aborted) return;
      job.credit--;
      // The raw payload crosses as the JSON it is stored as: one string to clone instead of an object, and one
      // JSON.stringify less on the main thread.
      for (const r of page.records) {
        if (r.raw === undefined) continue;
        r.rawJson = JSON.stringify(r.raw);
        delete r.raw;
      }
      post({ op: 'page', id: req.id, page });
    }
    post({ op: 'end', id: req.id });
  } catch (e) {
    if (job.abort.signal.aborted) return;
    const err = e as Error;
    post({ op: 'error', id: req.id, error: isHubError(e) ? { code: e.code, message: e.message, details: e.details } : { message: err?.message ?? String(e), stack: err?.stack } });
  } finally {
    jobs.delete(req.id);
  }
}

port.on('message', (m: ToWorker) => {
  if (m.op === 'read') void run(m);
  else {
    const job = jobs.get(m.id);
    if (!job) return;
    if (m.op === 'ack') job.credit++;
    else job.abort.abort();
    job.wake?.();
    job.wake = undefined;
  }
});
