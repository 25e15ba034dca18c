/**
 * A token bucket that holds one token and refills it every 1000/rate ms: requests start at least 1000/rate ms
 * apart, so any one-second window holds at most `rate` request starts, including at the very start (a fuller
 * bucket would allow a burst of `rate` on top of the steady rate). Requests are sequential in this connector, so
 * the steady throughput is the same as with a larger bucket.
 *
 * One limiter per configured connector (tenant + connector id), shared by plan(), read() of every stream and
 * check(), kept for the life of the process.
 */

export interface Clock {
  now(): number;
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

/** setTimeout that rejects with the signal's reason when it aborts. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export const systemClock: Clock = { now: () => Date.now(), sleep: abortableSleep };

export class RateLimiter {
  /** Earliest time the next request may start. */
  private next = -Infinity;
  readonly intervalMs: number;

  constructor(
    readonly requestsPerSecond: number,
    private readonly clock: Clock = systemClock,
  ) {
    if (!(requestsPerSecond > 0)) throw new RangeError('requestsPerSecond must be > 0');
    this.intervalMs = 1000 / requestsPerSecond;
  }

  /** Waits for the token. Reservations are taken synchronously, so concurrent callers queue in call order. */
  async take(signal: AbortSignal): Promise<void> {
    const now = this.clock.now();
    const at = Math.max(now, this.next);
    this.next = at + this.intervalMs;
    if (at > now) await this.clock.sleep(at - now, signal);
  }
}

const limiters = new Map<string, RateLimiter>();

/** The limiter of one configured connector; a new one when its rate setting changed. */
export function limiterFor(key: string, requestsPerSecond: number, clock: Clock = systemClock): RateLimiter {
  const found = limiters.get(key);
  if (found && found.requestsPerSecond === requestsPerSecond) return found;
  const created = new RateLimiter(requestsPerSecond, clock);
  limiters.set(key, created);
  return created;
}

/** Tests: forget every limiter (each test starts with a full bucket). */
export function resetLimiters(): void {
  limiters.clear();
}
