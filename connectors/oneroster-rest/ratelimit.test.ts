/** The per-connector rate limit, on a fake clock. */
import { RateLimiter, limiterFor, resetLimiters, type Clock } from './ratelimit';

function fakeClock() {
  let now = 0;
  const clock: Clock & { advance(ms: number): void } = {
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
    advance: (ms) => {
      now += ms;
    },
  };
  return clock;
}

test('requests start 1000/rate ms apart: never more than `rate` in any one-second window', async () => {
  const clock = fakeClock();
  const limiter = new RateLimiter(4, clock);
  const starts: number[] = [];
  const signal = new AbortController().signal;
  for (let i = 0; i < 12; i++) {
    await limiter.take(signal);
    starts.push(clock.now());
  }
  expect(starts).toEqual([0, 250, 500, 750, 1000, 1250, 1500, 1750, 2000, 2250, 2500, 2750]);
  for (const t of starts) expect(starts.filter((s) => s >= t && s < t + 1000).length).toBeLessThanOrEqual(4);
});

test('a slow caller does not accumulate a burst', async () => {
  const clock = fakeClock();
  const limiter = new RateLimiter(2, clock);
  const signal = new AbortController().signal;
  await limiter.take(signal);
  clock.advance(5000);
  const t0 = clock.now();
  await limiter.take(signal);
  await limiter.take(signal);
  expect(clock.now() - t0).toBe(500);
});

test('one limiter per configured connector, renewed when the rate changes', () => {
  resetLimiters();
  const a = limiterFor('t1\u0000sis', 10);
  expect(limiterFor('t1\u0000sis', 10)).toBe(a);
  expect(limiterFor('t2\u0000sis', 10)).not.toBe(a);
  expect(limiterFor('t1\u0000sis', 5)).not.toBe(a);
  expect(() => new RateLimiter(0)).toThrow(RangeError);
});

test('waiting is abortable', async () => {
  const limiter = new RateLimiter(0.01);
  const ac = new AbortController();
  await limiter.take(ac.signal);
  const waiting = limiter.take(ac.signal);
  ac.abort(new Error('stop'));
  await expect(waiting).rejects.toThrow('stop');
});
