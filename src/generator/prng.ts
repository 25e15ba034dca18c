/**
 * Small seeded PRNGs for the synthetic district generator. Everything the generator writes is a pure function of
 * the seed and the options: no Math.random(), no clock.
 *
 * - `createRng(seed, stream)`: an sfc32 generator whose state is derived (splitmix32) from the seed and a stream
 *   name, so each part of the generator draws from its own independent sequence.
 * - `mix32(x)`: a bijective 32-bit integer hash (xorshift-multiply), used to turn counters into opaque but
 *   collision-free ids.
 */

export interface Rng {
  /** Uniform unsigned 32-bit integer. */
  u32(): number;
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** A uniformly chosen element (the array must not be empty). */
  pick<T>(items: readonly T[]): T;
}

/** FNV-1a over the UTF-16 code units of a string, folded into a running 32-bit state. */
function hashString(s: string, h: number): number {
  let x = h >>> 0;
  for (let i = 0; i < s.length; i++) {
    x ^= s.charCodeAt(i);
    x = Math.imul(x, 0x01000193);
  }
  return x >>> 0;
}

function splitmix32(a: number): () => number {
  let state = a | 0;
  return () => {
    state = (state + 0x9e3779b9) | 0;
    let t = state ^ (state >>> 16);
    t = Math.imul(t, 0x21f0aaad);
    t ^= t >>> 15;
    t = Math.imul(t, 0x735a2d97);
    return (t ^ (t >>> 15)) >>> 0;
  };
}

/** Bijective mixing of a 32-bit integer (every step is invertible, so distinct inputs give distinct outputs). */
export function mix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Low and high 32-bit halves of a safe-integer seed (negative seeds allowed). */
export function seedWords(seed: number): [number, number] {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 0x100000000) >>> 0;
  return [lo, hi];
}

/**
 * An independent generator for (seed, stream) or, with `index`, for one item of a stream (so values that several
 * files must agree on, like a student's demographics, can be re-derived anywhere without storing them).
 */
export function createRng(seed: number, stream: string, index = -1): Rng {
  const [lo, hi] = seedWords(seed);
  let h = hashString(stream, mix32(lo) ^ mix32(hi ^ 0x5bd1e995));
  if (index >= 0) h = mix32(h ^ mix32(index + 0x632be5ab));
  const sm = splitmix32(h);
  let a = sm();
  let b = sm();
  let c = sm();
  let d = sm();
  const u32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) u32();
  const next = (): number => u32() / 0x100000000;
  return {
    u32,
    next,
    int: (n: number) => Math.floor(next() * n),
    chance: (p: number) => next() < p,
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)],
  };
}

/** A 32-bit salt derived from the seed, for id hashing. */
export function seedSalt(seed: number, purpose: string): number {
  return createRng(seed, `salt:${purpose}`).u32();
}
