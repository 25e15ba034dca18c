/**
 * Cursor pagination (keyset, never OFFSET). Every list is ordered by a unique key; a page holds up to `limit` items
 * (1..1000, default 100) and `page.nextCursor` resumes after its last item, or is null on the last page.
 *
 * The cursor is opaque to clients: base64url of `{"c": <collection>, "k": <last key>}`. It is not signed (it grants
 * nothing: every query is still filtered by tenant and key), but it is validated: anything malformed, or a cursor of
 * another collection, is a 400 naming `cursor`.
 */
import { badRequest } from './errors';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
const MAX_CURSOR_LENGTH = 1024;
const MAX_KEY_LENGTH = 255;

export type CursorKey = string | number;

export interface PageInfo {
  nextCursor: string | null;
  limit: number;
}

export interface Paged<T> {
  data: T[];
  page: PageInfo;
}

export function parseLimit(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_LIMIT;
  if (!/^[0-9]{1,4}$/.test(raw)) throw badRequest('limit', `must be an integer from 1 to ${MAX_LIMIT}`);
  const n = Number(raw);
  if (n < 1 || n > MAX_LIMIT) throw badRequest('limit', `must be an integer from 1 to ${MAX_LIMIT}`);
  return n;
}

export function encodeCursor(collection: string, key: CursorKey): string {
  return Buffer.from(JSON.stringify({ c: collection, k: key }), 'utf8').toString('base64url');
}

/** The key to resume after, or undefined for the first page. */
export function decodeCursor(raw: string | undefined, collection: string, keyType: 'string'): string | undefined;
export function decodeCursor(raw: string | undefined, collection: string, keyType: 'number'): number | undefined;
export function decodeCursor(raw: string | undefined, collection: string, keyType: 'string' | 'number'): CursorKey | undefined {
  if (raw === undefined) return undefined;
  const bad = () => badRequest('cursor', 'is not a valid cursor for this list (use page.nextCursor as returned)');
  if (raw.length === 0 || raw.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(raw)) throw bad();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw bad();
  const { c, k } = parsed as { c?: unknown; k?: unknown };
  if (c !== collection) throw bad();
  if (keyType === 'string') {
    if (typeof k !== 'string' || k.length === 0 || k.length > MAX_KEY_LENGTH) throw bad();
    return k;
  }
  if (typeof k !== 'number' || !Number.isSafeInteger(k) || k < 0) throw bad();
  return k;
}

/**
 * Builds a page from rows fetched with `limit + 1`: the extra row only tells that a next page exists.
 */
export function toPage<R, T>(rows: R[], limit: number, collection: string, keyOf: (row: R) => CursorKey, map: (row: R) => T): Paged<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  const last = kept[kept.length - 1];
  return {
    data: kept.map(map),
    page: { nextCursor: more && last !== undefined ? encodeCursor(collection, keyOf(last)) : null, limit },
  };
}
