/**
 * OneRoster REST paging: `limit`/`offset` query parameters, the `X-Total-Count` header and RFC 8288 `Link`
 * headers (`<url>; rel="next"`). Also the query strings this connector builds (strict RFC 3986 encoding, so the
 * OAuth 1.0a base string and the bytes on the wire agree) and the delta filter.
 */
import { percentEncode } from './oauth1';

export interface LinkValue {
  url: string;
  rels: string[];
}

/**
 * Parses a Link header. URLs are taken between `<` and `>` (they may contain commas and semicolons); `rel` may be
 * quoted or not and hold several space-separated relation types. Unparseable parts are ignored.
 */
export function parseLinkHeader(header: string | null | undefined): LinkValue[] {
  if (!header) return [];
  const out: LinkValue[] = [];
  let i = 0;
  const n = header.length;
  while (i < n) {
    const open = header.indexOf('<', i);
    if (open === -1) break;
    const close = header.indexOf('>', open + 1);
    if (close === -1) break;
    const url = header.slice(open + 1, close).trim();
    // Parameters run to the next comma that is outside quotes.
    let j = close + 1;
    let quoted = false;
    while (j < n) {
      const c = header[j];
      if (c === '"') quoted = !quoted;
      else if (c === ',' && !quoted) break;
      j++;
    }
    const rels: string[] = [];
    for (const param of header.slice(close + 1, j).split(';')) {
      const eq = param.indexOf('=');
      if (eq === -1) continue;
      if (param.slice(0, eq).trim().toLowerCase() !== 'rel') continue;
      let v = param.slice(eq + 1).trim();
      if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
      for (const r of v.split(/\s+/)) if (r) rels.push(r.toLowerCase());
    }
    out.push({ url, rels });
    i = j + 1;
  }
  return out;
}

export interface PageFacts {
  /** Offset this page was asked for. */
  offset: number;
  /** Items in the page. */
  count: number;
  /** The Link header, if any. */
  link: string | null;
  /** The X-Total-Count header, if any. */
  totalCount: string | null;
  /** The request URL, to resolve relative Link URLs. */
  requestUrl: URL;
}

/**
 * Where the next page starts, or null when this page is the last. In order: an empty page ends the stream; a Link
 * header, when present, decides (no rel="next" = last page; its `offset` parameter, when it is a number past this
 * page's, is the next offset); otherwise X-Total-Count (offset + count >= total = last page); otherwise keep going
 * until an empty page. Without a usable offset in the Link, the next page starts after the items received (a
 * server may cap `limit` below what was asked).
 *
 * The Link URL itself is never requested: the next URL is always built from the configured base URL, so a
 * server that advertises another host or plain http cannot receive the credentials.
 */
export function nextOffset(p: PageFacts): number | null {
  if (p.count === 0) return null;
  const after = p.offset + p.count;
  if (p.link !== null && p.link.trim() !== '') {
    const next = parseLinkHeader(p.link).find((l) => l.rels.includes('next'));
    if (!next) return null;
    let linked: number | undefined;
    try {
      const v = new URL(next.url, p.requestUrl).searchParams.get('offset');
      if (v !== null && /^\d+$/.test(v)) linked = Number(v);
    } catch {
      linked = undefined;
    }
    return linked !== undefined && linked > p.offset ? linked : after;
  }
  if (p.totalCount !== null && /^\s*\d+\s*$/.test(p.totalCount)) {
    return after >= Number(p.totalCount) ? null : after;
  }
  return after;
}

/** `filter=dateLastModified>'<since>'` as OneRoster writes it (the value single-quoted). */
export function deltaFilter(since: string): string {
  return `dateLastModified>'${since}'`;
}

/** A query string with every name and value RFC 3986-encoded (`>` `'` `:` included). */
export function queryString(params: Array<[string, string | number]>): string {
  return params.map(([k, v]) => `${percentEncode(k)}=${percentEncode(String(v))}`).join('&');
}

/** For logs: the path and the query parameter names, never their values (`/users?limit&offset&filter`). */
export function describeUrl(url: URL): string {
  const names = [...new Set([...url.searchParams.keys()])];
  return names.length ? `${url.pathname}?${names.join('&')}` : url.pathname;
}
