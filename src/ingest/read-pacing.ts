/**
 * The read worker's pacing (read-worker.ts): how far it may run ahead of the main thread (AheadBudget), and in what
 * order its reads start (StartOrder). Ahead: at most PAGES_AHEAD pages per read, and at most MAX_BYTES_AHEAD bytes
 * across reads (the raw payloads are most of a page). Page counts alone would let a 50,000-record page size, or an
 * interchange of very large elements, hold hundreds of MB in the queue. One page per read may always be in flight,
 * so every read progresses.
 */
import type { WirePage } from './read-wire';

/**
 * Deep enough that the worker, idle while the main thread writes a slow stream (students, with identity matching),
 * parses the next streams' pages meanwhile instead of one page each: on the 10k-student Ed-Fi sync 1 page ahead left
 * the main thread waiting ~80 ms in the 22.6 MB assessment stream; 8 pages ahead, 4-6% faster overall, no higher
 * peak RSS.
 */
export const PAGES_AHEAD = 8;
export const MAX_BYTES_AHEAD = 48 * 1024 * 1024;

/** A page's approximate size as it crosses: the length of its two strings (records and raw payloads). */
export function pageBytes(page: WirePage): number {
  return page.records.length + page.raws.length;
}

/** The pages and bytes in flight: posted by the worker, not yet taken by the main thread. */
export class AheadBudget {
  private bytes = 0;

  constructor(
    private readonly maxBytes = MAX_BYTES_AHEAD,
    private readonly maxPages = PAGES_AHEAD,
  ) {}

  /** Whether a read with `inFlight` pages out (their sizes) may post one more of `size` bytes. */
  allows(inFlight: readonly number[], size: number): boolean {
    return inFlight.length < this.maxPages && (inFlight.length === 0 || this.bytes + size <= this.maxBytes);
  }

  take(size: number): void {
    this.bytes += size;
  }

  release(size: number): void {
    this.bytes -= size;
  }

  get inFlightBytes(): number {
    return this.bytes;
  }
}

/**
 * Reads start their work in the order they were asked for, each once every earlier one has posted its first page (or
 * ended): the main thread consumes a run's streams in plan order, so the stream it waits for comes first. Before, the
 * run's first four streams started together and took turns on the worker's one thread; on the 10k-student Ed-Fi sync
 * the 20 KB organizations file came ~80 ms after its read began, and the students' first page (after the 4.5 MB
 * enrollment join) ~150 ms, the main thread idle meanwhile. After its first page a read runs alongside the others
 * (bounded by AheadBudget). One page per read is always allowed, so every read reaches its first page: none waits
 * forever.
 */
export class StartOrder {
  private last: Promise<void> = Promise.resolve();

  /**
   * A new read's turn: `ready` resolves once every earlier read has called its `started`; call `started` (idempotent)
   * once this read's first page is posted, or it ends, fails or is cancelled, whichever comes first.
   */
  turn(): { ready: Promise<void>; started: () => void } {
    const ready = this.last;
    let started!: () => void;
    const mine = new Promise<void>((r) => (started = r));
    // Later reads wait for this one and for everything before it (a read cancelled while it waits is "started" at
    // once, but must not let the next one overtake the reads before it).
    this.last = Promise.all([ready, mine]).then(() => undefined);
    return { ready, started };
  }
}
