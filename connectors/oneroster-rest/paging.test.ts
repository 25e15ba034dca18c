/** Link headers, the next-page decision, query strings, watermark and cursor positions. */
import { parseCursor, positionOf, watermark, pageUrl } from './index';
import { describeUrl, nextOffset, parseLinkHeader, queryString } from './paging';

const req = new URL('https://sis.example/ims/oneroster/rostering/v1p2/users?limit=100&offset=200');
const facts = (o: Partial<Parameters<typeof nextOffset>[0]>) => nextOffset({ offset: 200, count: 100, link: null, totalCount: null, requestUrl: req, ...o });

describe('parseLinkHeader (RFC 8288)', () => {
  test('several links, quoted and unquoted rel, several rel values, commas inside the URL', () => {
    expect(
      parseLinkHeader('<https://s/u?limit=2&offset=4&fields=a,b>; rel="next", <https://s/u?offset=8>;rel=last, <https://s/u?offset=0>; title="x, y"; rel="first prev"'),
    ).toEqual([
      { url: 'https://s/u?limit=2&offset=4&fields=a,b', rels: ['next'] },
      { url: 'https://s/u?offset=8', rels: ['last'] },
      { url: 'https://s/u?offset=0', rels: ['first', 'prev'] },
    ]);
    expect(parseLinkHeader('')).toEqual([]);
    expect(parseLinkHeader(null)).toEqual([]);
    expect(parseLinkHeader('garbage')).toEqual([]);
    expect(parseLinkHeader('<https://s/u?offset=4>; REL="Next"')).toEqual([{ url: 'https://s/u?offset=4', rels: ['next'] }]);
  });
});

describe('nextOffset', () => {
  test('an empty page ends the stream, whatever the headers say', () => {
    expect(facts({ count: 0, link: '<https://s/u?offset=300>; rel="next"', totalCount: '1000' })).toBeNull();
  });

  test('a Link header decides when present: rel=next and its offset, or the end', () => {
    expect(facts({ link: '<https://sis.example/x/users?limit=100&offset=300>; rel="next", <...>; rel="last"', totalCount: '250' })).toBe(300);
    expect(facts({ link: '<https://sis.example/x/users?offset=0>; rel="first", <https://sis.example/x/users?offset=100>; rel="prev"', totalCount: '9999' })).toBeNull();
    // A relative URL; an offset that does not move forward or is missing -> after the items received.
    expect(facts({ link: '</x/users?offset=350>; rel="next"' })).toBe(350);
    expect(facts({ link: '<https://sis.example/x/users?offset=200>; rel="next"' })).toBe(300);
    expect(facts({ link: '<https://sis.example/x/users?page=4>; rel="next"', count: 50 })).toBe(250);
  });

  test('without Link: X-Total-Count; without either: until an empty page', () => {
    expect(facts({ totalCount: '301' })).toBe(300);
    expect(facts({ totalCount: '300' })).toBeNull();
    expect(facts({ totalCount: '250', count: 50 })).toBeNull();
    expect(facts({ totalCount: 'many' })).toBe(300);
    expect(facts({ count: 37 })).toBe(237);
  });
});

describe('URLs', () => {
  test('strict RFC 3986 query encoding of the delta filter', () => {
    expect(queryString([['filter', "dateLastModified>'2025-09-10T00:00:00.000Z'"]])).toBe('filter=dateLastModified%3E%272025-09-10T00%3A00%3A00.000Z%27');
    const u = pageUrl(new URL('https://sis.example/ims/oneroster/v1p1'), '/users', 100, 200, '2025-09-10T00:00:00.000Z');
    expect(u.href).toBe('https://sis.example/ims/oneroster/v1p1/users?limit=100&offset=200&filter=dateLastModified%3E%272025-09-10T00%3A00%3A00.000Z%27');
    expect(u.searchParams.get('filter')).toBe("dateLastModified>'2025-09-10T00:00:00.000Z'");
    expect(pageUrl(new URL('https://sis.example'), '/orgs', 1, 0).href).toBe('https://sis.example/orgs?limit=1&offset=0');
  });

  test('logs show the path and the parameter names only', () => {
    expect(describeUrl(new URL("https://s/ims/users?limit=1&offset=2&filter=x%3E'y'"))).toBe('/ims/users?limit&offset&filter');
    expect(describeUrl(new URL('https://s/ims/users'))).toBe('/ims/users');
  });
});

describe('cursors', () => {
  test('positions: fresh, resume (full or delta), delta', () => {
    expect(positionOf(undefined)).toEqual({ kind: 'fresh' });
    expect(positionOf({ offset: 0, complete: true })).toEqual({ kind: 'fresh' });
    expect(positionOf({ offset: 0, startedAt: '2025-09-15T12:00:00.000Z', complete: false })).toEqual({ kind: 'fresh' });
    expect(positionOf({ offset: 200, startedAt: '2025-09-15T12:00:00.000Z', complete: false })).toEqual({
      kind: 'resume', state: { offset: 200, startedAt: '2025-09-15T12:00:00.000Z', complete: false },
    });
    expect(positionOf({ since: '2025-09-10T00:00:00Z', offset: 0, startedAt: '2025-09-15T12:00:00.000Z', complete: false })).toMatchObject({ kind: 'resume' });
    expect(positionOf({ since: '2025-09-10T00:00:00Z', offset: 0, complete: true })).toEqual({ kind: 'delta', since: '2025-09-10T00:00:00Z' });
  });

  test('a cursor that is not ours starts afresh', () => {
    expect(parseCursor({ fingerprint: 'zip:1', line: 4, complete: true })).toBeUndefined();
    expect(parseCursor({ offset: -1, complete: false })).toBeUndefined();
    expect(parseCursor({ offset: 2, complete: true, since: 'yesterday' })).toBeUndefined();
  });

  test('watermark: max dateLastModified seen, capped by the start of the pull; nothing seen keeps the old one', () => {
    expect(watermark(undefined, '2025-09-14T18:00:00.000Z', '2025-09-15T12:00:00.000Z')).toBe('2025-09-14T18:00:00.000Z');
    expect(watermark(undefined, '2025-09-15T12:00:01Z', '2025-09-15T12:00:00.000Z')).toBe('2025-09-15T12:00:00.000Z');
    expect(watermark('2025-09-10T00:00:00Z', undefined, '2025-09-15T12:00:00.000Z')).toBe('2025-09-10T00:00:00Z');
    expect(watermark(undefined, undefined, '2025-09-15T12:00:00.000Z')).toBeUndefined();
  });
});
