/**
 * Keys of the disclosure log, shared by its writer (src/serve/disclosures.ts) and its migration (016):
 *  - disclosure ids: `dsc_` + base-36 milliseconds (9 characters, fixed width) + a per-process counter + this
 *    process's random token + six random characters (33 characters). Sorting by id is sorting by time (within a
 *    millisecond, by order of writing in a process), so the log pages on its id and a UTC day is a range of ids;
 *  - the UTC day of an id (`disclosure_index` is keyed by it);
 *  - sets of persons, keyed by their content (`disclosureSetId`), at most DISCLOSURE_SET_MAX ids each.
 */
import { hash, randomBytes } from 'node:crypto';

const DAY_MS = 86_400_000;
let lastMs = 0;
let counter = 0;
/** Tells apart the ids two processes make in the same millisecond with the same counter (drawn once: ~8 us a call). */
const PROCESS_TOKEN = randomBytes(5).toString('hex');

const stamp = (ms: number) => `dsc_${ms.toString(36).padStart(9, '0')}`;

/**
 * A new id. Six more random characters (not secret: Math.random) keep ids apart when the clock steps back and a
 * millisecond and counter recur.
 */
export function newDisclosureId(now = Date.now()): string {
  if (now === lastMs) counter++;
  else {
    lastMs = now;
    counter = 0;
  }
  const salt = Math.floor(Math.random() * 2_176_782_336).toString(36).padStart(6, '0');
  return `${stamp(now)}${counter.toString(36).padStart(4, '0')}${PROCESS_TOKEN}${salt}`;
}

/** The time of a disclosure id in milliseconds, or undefined for an id of another form. */
export function disclosureIdTime(id: string): number | undefined {
  if (!/^dsc_[0-9a-z]{9}/.test(id)) return undefined;
  return parseInt(id.slice(4, 13), 36);
}

/** The UTC day (YYYY-MM-DD) of a disclosure id: the key of `disclosure_index`. Another form of id: today. */
export function dayOfDisclosureId(id: string): string {
  return new Date(disclosureIdTime(id) ?? Date.now()).toISOString().slice(0, 10);
}

/** The ids of a UTC day: `from <= id < to`. */
export function disclosureIdRange(day: string): { from: string; to: string } {
  const start = Date.parse(`${day}T00:00:00.000Z`);
  return { from: stamp(start), to: stamp(start + DAY_MS) };
}

/** Person ids per set of persons (`disclosure_person_sets`). */
export const DISCLOSURE_SET_MAX = 1000;

/** The key of a set of persons: its JSON text's SHA-256, first 32 hex digits (the writer and migration 016 agree). */
export function disclosureSetId(personIdsJson: string): string {
  return hash('sha256', personIdsJson, 'hex').slice(0, 32);
}

/** The day before a UTC day. */
export function dayBefore(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00.000Z`) - DAY_MS).toISOString().slice(0, 10);
}
