import { createHash } from 'node:crypto';

/** JSON with object keys sorted, so equal records hash equal whatever order a mapper built them in. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  let out = '{';
  let first = true;
  for (const k of keys) {
    const v = obj[k];
    if (v === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(k)}:${canonicalJson(v)}`;
    first = false;
  }
  return `${out}}`;
}

export function hashOf(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}

/**
 * The unified id of a record first seen from (tenant, connector, type, sourceId): deterministic, so a rebuilt store
 * gives the same ids, formatted as a UUID (v8, RFC 9562 custom) for consumers that expect one.
 */
export function unifiedIdFor(tenantId: string, connectorId: string, type: string, sourceId: string): string {
  const h = createHash('sha256').update(`${tenantId}\u0000${connectorId}\u0000${type}\u0000${sourceId}`).digest('hex');
  const v = `8${h.slice(13, 16)}`;
  const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16) + h.slice(17, 20);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${v}-${variant}-${h.slice(20, 32)}`;
}

/** Field-level diff of two flat-ish records: {field: [old, new]} for fields whose canonical JSON differs. */
export function diffRecords(before: Record<string, unknown>, after: Record<string, unknown>): Record<string, [unknown, unknown]> {
  const out: Record<string, [unknown, unknown]> = {};
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  for (const k of keys) {
    const a = before[k];
    const b = after[k];
    if (canonicalJson(a ?? null) !== canonicalJson(b ?? null)) out[k] = [a ?? null, b ?? null];
  }
  return out;
}

export function nowIso(): string {
  return new Date().toISOString();
}
