/**
 * How pages cross from the read worker (read-worker.ts) to the main thread (threaded-read.ts): each record's data and
 * raw payload as JSON text. Both halves of the format live here.
 */
import type { Page, SourceRecord } from './contract';

/**
 * A record as it crosses: its data and raw payload as JSON text. Strings clone cheaply and JSON.parse on the main
 * thread is faster than structured clone rebuilding the same objects (measured: 10-13 ms vs 14-16 ms for a page of
 * 2,000 Ed-Fi assessment results); the raw payload is stored as that JSON anyway.
 */
export interface WireRecord {
  type: SourceRecord['type'];
  sourceId: string;
  dataJson: string;
  rawJson?: string;
  location?: string;
  deleted?: boolean;
}
export interface WirePage {
  records: WireRecord[];
  rejects?: Page['rejects'];
  cursor?: Page['cursor'];
}

/** In the worker: a page as it crosses. */
export function toWire(page: Page): WirePage {
  const records = page.records.map((r) => {
    const w: WireRecord = { type: r.type, sourceId: r.sourceId, dataJson: JSON.stringify(r.data) };
    const rawJson = r.rawJson ?? (r.raw === undefined ? undefined : JSON.stringify(r.raw));
    if (rawJson !== undefined) w.rawJson = rawJson;
    if (r.location !== undefined) w.location = r.location;
    if (r.deleted) w.deleted = true;
    return w;
  });
  return { records, ...(page.rejects ? { rejects: page.rejects } : {}), ...(page.cursor ? { cursor: page.cursor } : {}) };
}

/** On the main thread: the page as the connector yielded it, its raw payload left as JSON (what the store keeps). */
export function fromWire(page: WirePage): Page {
  const records = page.records.map((w) => {
    const r: SourceRecord = { type: w.type, sourceId: w.sourceId, data: JSON.parse(w.dataJson) as Record<string, unknown> };
    if (w.rawJson !== undefined) r.rawJson = w.rawJson;
    if (w.location !== undefined) r.location = w.location;
    if (w.deleted) r.deleted = true;
    return r;
  });
  return { records, ...(page.rejects ? { rejects: page.rejects } : {}), ...(page.cursor ? { cursor: page.cursor } : {}) };
}
