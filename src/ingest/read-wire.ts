/**
 * How pages cross from the read worker (read-worker.ts) to the main thread (threaded-read.ts): as two strings, both
 * halves of the format here.
 *  - `records`: one JSON text of the records without their raw payloads, `[{t: type, s: sourceId, d: data, n: raw
 *    length or -1, l?: location, x?: deleted}, …]`: one JSON.stringify in the worker, one JSON.parse on the main
 *    thread, for the whole page.
 *  - `raws`: every record's raw payload (JSON text, as the store keeps it) one after another; `n` says where each
 *    ends. On the main thread each payload is a slice of this one string: V8 makes it a small view onto the page's
 *    string (which, being large, lives outside the young generation), so the megabytes of raw payloads a page holds
 *    are never copied by the main thread's scavenges.
 *
 * Measured on the 10k-student Ed-Fi sync (session 7) against the earlier form, an object per record holding its
 * data and raw payload as separate JSON strings: structured clone walked 2,000 objects per page (the worker's `send`,
 * ~110 ms of its ~1.5 s), each raw payload was escaped into nothing and copied again on arrival, and the main
 * thread's scavenges (~200 ms) kept copying those strings until they were promoted.
 */
import type { Page, SourceRecord } from './contract';

/** One record in `WirePage.records`. */
interface WireRecord {
  t: SourceRecord['type'];
  s: string;
  d: Record<string, unknown>;
  /** Length of its raw payload in `raws` (UTF-16 code units), or -1 when it has none. */
  n: number;
  l?: string;
  x?: 1;
}

export interface WirePage {
  /** JSON text of the records (WireRecord[]), raw payloads left out. */
  records: string;
  /** The records' raw payloads, concatenated in record order. */
  raws: string;
  rejects?: Page['rejects'];
  cursor?: Page['cursor'];
}

/** In the worker: a page as it crosses. */
export function toWire(page: Page): WirePage {
  const list: WireRecord[] = new Array(page.records.length);
  const raws: string[] = [];
  for (let i = 0; i < page.records.length; i++) {
    const r = page.records[i];
    const rawJson = r.rawJson ?? (r.raw === undefined ? undefined : JSON.stringify(r.raw));
    const w: WireRecord = { t: r.type, s: r.sourceId, d: r.data, n: rawJson === undefined ? -1 : rawJson.length };
    if (rawJson !== undefined) raws.push(rawJson);
    if (r.location !== undefined) w.l = r.location;
    if (r.deleted) w.x = 1;
    list[i] = w;
  }
  return { records: JSON.stringify(list), raws: raws.join(''), ...(page.rejects ? { rejects: page.rejects } : {}), ...(page.cursor ? { cursor: page.cursor } : {}) };
}

/** On the main thread: the page as the connector yielded it, its raw payloads left as JSON (what the store keeps). */
export function fromWire(page: WirePage): Page {
  const list = JSON.parse(page.records) as WireRecord[];
  const records: SourceRecord[] = new Array(list.length);
  let at = 0;
  for (let i = 0; i < list.length; i++) {
    const w = list[i];
    const r: SourceRecord = { type: w.t, sourceId: w.s, data: w.d };
    if (w.n >= 0) r.rawJson = page.raws.slice(at, (at += w.n));
    if (w.l !== undefined) r.location = w.l;
    if (w.x) r.deleted = true;
    records[i] = r;
  }
  if (at !== page.raws.length) throw new Error(`a page from the read worker is inconsistent: its raw payloads hold ${page.raws.length} characters, its records account for ${at}`);
  return { records, ...(page.rejects ? { rejects: page.rejects } : {}), ...(page.cursor ? { cursor: page.cursor } : {}) };
}
