/**
 * Latent abilities of the synthetic students, so that every system tells a consistent story about a child: the
 * student who does well on the interim benchmark tends to do well on the state test and in the LMS gradebook, and
 * the one who struggles turns in more missing work and shows up more often in behaviour referrals.
 *
 * Three standard-normal traits per student (bulk and delta students alike): a general one and a math and a reading
 * one correlated with it (r = 0.8). Drawn from their own seeded stream, so adding them changed nothing else.
 */
import { createRng, type Rng } from './prng';
import type { District } from './model';

/** A standard normal draw (Box-Muller; one value per call, the second is discarded for simplicity). */
export function normal(rng: Rng): number {
  let u = rng.next();
  if (u < 1e-12) u = 1e-12;
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

/** The standard normal cumulative distribution (Abramowitz-Stegun 26.2.17, |error| < 7.5e-8). */
export function normalCdf(z: number): number {
  const t = 1 / (1 + 0.2316419 * Math.abs(z));
  const d = 0.3989422804014327 * Math.exp((-z * z) / 2);
  const p = d * t * (0.31938153 + t * (-0.356563782 + t * (1.781477937 + t * (-1.821255978 + t * 1.330274429))));
  return z >= 0 ? 1 - p : p;
}

export const clamp = (x: number, lo: number, hi: number): number => (x < lo ? lo : x > hi ? hi : x);

export class Abilities {
  readonly general: Float32Array;
  readonly math: Float32Array;
  readonly reading: Float32Array;

  constructor(d: District) {
    const n = d.total;
    this.general = new Float32Array(n);
    this.math = new Float32Array(n);
    this.reading = new Float32Array(n);
    const rng = createRng(d.seed, 'abilities');
    for (let i = 0; i < n; i++) {
      const g = normal(rng);
      this.general[i] = g;
      this.math[i] = 0.8 * g + 0.6 * normal(rng);
      this.reading[i] = 0.8 * g + 0.6 * normal(rng);
    }
  }

  of(subject: 'math' | 'reading', i: number): number {
    return subject === 'math' ? this.math[i] : this.reading[i];
  }
}
