/**
 * Deterministic UUIDs for the synthetic district.
 *
 * - `NameUuids`: RFC 4122 version-5 (SHA-1, name-based) UUIDs in a namespace that is itself derived from the seed,
 *   so the same seed and name always give the same identifier and another seed gives other identifiers (CASE
 *   CFDocument / CFItem / CFAssociation identifiers).
 * - `randomUuid(rng)`: a version-4-format UUID drawn from a seeded generator (Caliper event ids), for volumes where
 *   hashing every name would be wasted work.
 */
import { createHash } from 'node:crypto';
import type { Rng } from './prng';

/** The RFC 4122 URL namespace (6ba7b811-9dad-11d1-80b4-00c04fd430c8). */
const URL_NAMESPACE = Buffer.from('6ba7b8119dad11d180b400c04fd430c8', 'hex');

function format(b: Buffer | Uint8Array): string {
  const h = Buffer.from(b).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** A version-5 UUID of `name` in the namespace `ns` (16 bytes). */
export function uuidV5(ns: Buffer, name: string): string {
  const hash = createHash('sha1').update(ns).update(name, 'utf8').digest();
  const b = hash.subarray(0, 16);
  b[6] = (b[6] & 0x0f) | 0x50;
  b[8] = (b[8] & 0x3f) | 0x80;
  return format(b);
}

/** Version-5 UUIDs in a namespace derived from the seed and a purpose. */
export class NameUuids {
  private readonly ns: Buffer;

  constructor(seed: number, purpose: string) {
    this.ns = Buffer.from(uuidV5(URL_NAMESPACE, `https://learner-data-hub.example/synthetic/${seed}/${purpose}`).replace(/-/g, ''), 'hex');
  }

  of(name: string): string {
    return uuidV5(this.ns, name);
  }
}

/** A UUID in version-4 format (random bits from `rng`, version nibble 4, RFC 4122 variant). */
export function randomUuid(rng: Rng): string {
  const b = new Uint8Array(16);
  for (let k = 0; k < 4; k++) {
    const x = rng.u32();
    b[4 * k] = x >>> 24;
    b[4 * k + 1] = (x >>> 16) & 0xff;
    b[4 * k + 2] = (x >>> 8) & 0xff;
    b[4 * k + 3] = x & 0xff;
  }
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  return format(b);
}
