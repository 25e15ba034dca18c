/**
 * The HTTP client against nock: retries (backoff, Retry-After), timeouts, aborts, the failure classes (401/403,
 * redirects, not-JSON, 404), OAuth 2.0 tokens (request shape, caching, renewal, refresh on 401, refusal).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import nock from 'nock';
import { silentLogger } from '../../src/core/logger';
import { HubError } from '../../src/core/errors';
import { OneRosterHttp, backoffMs, parseRetryAfter, renewAt, resetTokenCache, statusSummary, type AuthSettings, type HttpOptions } from './http';
import { RateLimiter, type Clock } from './ratelimit';
import { JSON_HEADERS, caught, seenOf, setupNock, type Seen } from './test-support';

setupNock();

const HOST = 'https://sis.example';
const PATH = '/ims/oneroster/rostering/v1p2/orgs';
const URL_ = new URL(`${HOST}${PATH}?limit=1&offset=0`);
const BEARER: AuthSettings = { type: 'bearer', token: 'fictional-token' };
const OAUTH2: AuthSettings = { type: 'oauth2', tokenUrl: `${HOST}/oauth/token`, clientId: 'fictional-client', clientSecret: 'fictional-secret', scopes: ['https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly', 'https://purl.imsglobal.org/spec/or/v1p2/scope/roster-demographics.readonly'] };
const ORGS = { orgs: [{ sourcedId: 'o1' }] };

/** A clock whose sleeps record their duration and return at once. */
function recordingClock(start = Date.parse('2025-09-15T12:00:00Z')) {
  let now = start;
  const sleeps: number[] = [];
  const clock: Clock & { sleeps: number[]; advance(ms: number): void } = {
    now: () => now,
    sleep: async (ms, signal) => {
      signal.throwIfAborted();
      sleeps.push(ms);
      now += ms;
    },
    sleeps,
    advance: (ms) => {
      now += ms;
    },
  };
  return clock;
}

function client(o: Partial<HttpOptions> = {}) {
  const clock = (o.clock as ReturnType<typeof recordingClock>) ?? recordingClock();
  const c = new OneRosterHttp({ auth: BEARER, timeoutMs: 5000, maxRetries: 3, limiter: new RateLimiter(1000), log: silentLogger, clock, random: () => 0, ...o });
  return { c, clock };
}
const signal = () => new AbortController().signal;

describe('retries', () => {
  test('503, 502, network error, then 200: exponential backoff (50% jitter floor with random()=0)', async () => {
    nock(HOST).get(PATH).query(true).reply(503, 'busy');
    nock(HOST).get(PATH).query(true).reply(502);
    nock(HOST).get(PATH).query(true).replyWithError({ code: 'ECONNRESET', message: 'socket hang up' });
    nock(HOST).get(PATH).query(true).reply(200, ORGS, JSON_HEADERS);
    const { c, clock } = client();
    const res = await c.getJson(URL_, signal());
    expect(res.body).toEqual(ORGS);
    expect(clock.sleeps).toEqual([500, 1000, 2000]);
    expect(c.requests).toBe(4);
  });

  test('jitter stays within 50-100% of the capped exponential delay', () => {
    expect(backoffMs(0, 1000, () => 0.999999)).toBe(1000);
    expect(backoffMs(3, 1000, () => 0.5)).toBe(6000);
    expect(backoffMs(10, 1000, () => 0)).toBe(15000);
    expect(backoffMs(10, 1000, () => 0.999999)).toBe(30000);
  });

  test('429 and 503 with Retry-After (seconds, HTTP date) wait exactly that long', async () => {
    const { c, clock } = client();
    const at = new Date(clock.now() + 7000).toUTCString();
    nock(HOST).get(PATH).query(true).reply(429, '', { 'Retry-After': '3' });
    nock(HOST).get(PATH).query(true).reply(503, '', { 'Retry-After': at });
    nock(HOST).get(PATH).query(true).reply(200, ORGS, JSON_HEADERS);
    await c.getJson(URL_, signal());
    // The date was 7 s ahead when the test began; 3 s had passed waiting for the 429.
    expect(clock.sleeps).toEqual([3000, 4000]);
  });

  test('Retry-After parsing', () => {
    const now = Date.parse('2025-09-15T12:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120000);
    expect(parseRetryAfter('Mon, 15 Sep 2025 12:00:30 GMT', now)).toBe(30000);
    expect(parseRetryAfter('Mon, 15 Sep 2025 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  test('retries spent -> source_unavailable (transient), naming host, path, attempts and the last failure', async () => {
    nock(HOST).get(PATH).query(true).times(4).reply(503, 'busy');
    const { c } = client();
    const e = await caught(c.getJson(URL_, signal()));
    expect(e.code).toBe('source_unavailable');
    expect(e.kind).toBe('transient');
    expect(e.message).toBe(`sis.example did not answer GET ${PATH} after 4 attempts (last: 503 Service Unavailable); the next run will try again.`);
  });

  test('a Retry-After beyond what a run waits ends it at once', async () => {
    nock(HOST).get(PATH).query(true).reply(429, '', { 'Retry-After': '3600' });
    const { c, clock } = client();
    const e = await caught(c.getJson(URL_, signal()));
    expect(e.code).toBe('source_unavailable');
    expect(e.message).toContain('it asked to retry after 3600 s, longer than the 120 s a run waits');
    expect(clock.sleeps).toEqual([]);
  });

  test('a timeout is retried, then reported (a local server that never answers)', async () => {
    const server = http.createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    nock.enableNetConnect('127.0.0.1');
    try {
      const { port } = server.address() as AddressInfo;
      const { c } = client({ timeoutMs: 50, maxRetries: 1 });
      const e = await caught(c.getJson(new URL(`http://127.0.0.1:${port}/orgs?limit=1&offset=0`), signal()));
      expect(e.code).toBe('source_unavailable');
      expect(e.message).toBe(`127.0.0.1:${port} did not answer GET /orgs after 2 attempts (last: no answer within 50 ms); the next run will try again.`);
    } finally {
      nock.disableNetConnect();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('an abort is not retried and is not a HubError', async () => {
    nock(HOST).get(PATH).query(true).reply(503);
    const ac = new AbortController();
    const clock = recordingClock();
    clock.sleep = async () => {
      ac.abort(new Error('run cancelled'));
      ac.signal.throwIfAborted();
    };
    const { c } = client({ clock });
    await expect(c.getJson(URL_, ac.signal)).rejects.toThrow('run cancelled');
  });
});

describe('failures that are not retried', () => {
  test('401 with a static token -> config error naming the host; one request only', async () => {
    nock(HOST).get(PATH).query(true).reply(401, { imsx_codeMajor: 'failure', imsx_severity: 'error', imsx_description: 'Token expired', imsx_CodeMinor: { imsx_codeMinorField: [{ imsx_codeMinorFieldName: 'TargetEndSystem', imsx_codeMinorFieldValue: 'unauthorisedrequest' }] } }, JSON_HEADERS);
    const { c } = client();
    const e = await caught(c.getJson(URL_, signal()));
    expect(e.code).toBe('source_unauthorized');
    expect(e.kind).toBe('config');
    expect(e.message).toBe(`credentials rejected by sis.example (401 (unauthorisedrequest: Token expired)) for GET ${PATH}: check settings.auth (the credentials or token are not accepted).`);
    expect(c.requests).toBe(1);
  });

  test('403 -> config error about the scope; 1.1 statusInfoSet bodies are read too', async () => {
    nock(HOST).get(PATH).query(true).reply(403, { statusInfoSet: [{ imsx_codeMajor: 'failure', imsx_description: 'scope missing', imsx_CodeMinor: { imsx_codeMinorField: [{ imsx_codeMinorFieldValue: 'forbidden' }] } }] }, JSON_HEADERS);
    const { c } = client();
    const e = await caught(c.getJson(URL_, signal()));
    expect(e.kind).toBe('config');
    expect(e.message).toContain('credentials rejected by sis.example (403 (forbidden: scope missing))');
    expect(e.message).toContain('grant the scope, or leave the stream out of settings.streams');
  });

  test('an HTML page -> source_invalid naming the path and the content-type', async () => {
    nock(HOST).get(PATH).query(true).reply(200, '<!doctype html><title>Sign in</title>', { 'Content-Type': 'text/html; charset=utf-8' });
    const { c } = client();
    const e = await caught(c.getJson(URL_, signal()));
    expect(e.code).toBe('source_invalid');
    expect(e.message).toBe(`sis.example answered GET ${PATH} with content-type "text/html; charset=utf-8", not JSON (a login page, a proxy or a wrong baseUrl?).`);
    expect(e.details[0]).toMatchObject({ path: `GET ${PATH}`, contentType: 'text/html; charset=utf-8' });
  });

  test('JSON content-type with a broken body -> source_invalid', async () => {
    nock(HOST).get(PATH).query(true).reply(200, '{"orgs": [', JSON_HEADERS);
    const e = await caught(client().c.getJson(URL_, signal()));
    expect(e.message).toBe(`sis.example answered GET ${PATH} with a body that is not valid JSON (content-type "application/json").`);
  });

  test('a redirect is not followed (the credentials stay home): source_invalid without the query', async () => {
    nock(HOST).get(PATH).query(true).reply(302, '', { Location: 'https://login.fictional.example/sso?return=abc' });
    const e = await caught(client().c.getJson(URL_, signal()));
    expect(e.message).toBe(`sis.example redirected GET ${PATH} to https://login.fictional.example/sso (302): set baseUrl to the service root itself (a redirect to a login page means the request was not authenticated).`);
  });

  test('404 and 400 -> source_invalid with the server description', async () => {
    nock(HOST).get(PATH).query(true).reply(404, { imsx_codeMajor: 'failure', imsx_severity: 'error', imsx_CodeMinor: { imsx_codeMinorField: [{ imsx_codeMinorFieldValue: 'unknownobject' }] } }, JSON_HEADERS);
    nock(HOST).get(PATH).query(true).reply(400, { imsx_codeMajor: 'failure', imsx_severity: 'error', imsx_description: 'dateLastModified cannot be filtered', imsx_CodeMinor: { imsx_codeMinorField: [{ imsx_codeMinorFieldValue: 'invalid_filter_field' }] } }, JSON_HEADERS);
    const { c } = client();
    expect((await caught(c.getJson(URL_, signal()))).message).toBe(`sis.example answered GET ${PATH} with 404 (unknownobject): the source has no such endpoint (check baseUrl, version and gradebookBaseUrl).`);
    expect((await caught(c.getJson(URL_, signal()))).message).toBe(`sis.example answered GET ${PATH} with 400 (invalid_filter_field: dateLastModified cannot be filtered): the source refused the request.`);
  });

  test('statusSummary ignores what it cannot read', () => {
    expect(statusSummary('<html>')).toBe('');
    expect(statusSummary('"x"')).toBe('');
    expect(statusSummary(JSON.stringify({ error: 'invalid_client', error_description: 'bad secret' }))).toBe(' (invalid_client: bad secret)');
    expect(statusSummary(JSON.stringify({ imsx_codeMajor: 'failure', imsx_description: 'x'.repeat(300) }))).toHaveLength(204);
  });
});

describe('OAuth 2.0 client credentials', () => {
  function tokenEndpoint(seen: Seen[], token = 'tok-1', expiresIn: number | null = 3600) {
    return nock(HOST)
      .post('/oauth/token')
      .reply(function () {
        return [200, { access_token: token, token_type: 'bearer', ...(expiresIn !== null ? { expires_in: expiresIn } : {}) }, JSON_HEADERS];
      })
      .on('request', (req: Request, _i: unknown, body: string) => seen.push({ ...seenOf(req), headers: { ...seenOf(req).headers, body } }));
  }

  test('the token request: POST, HTTP Basic, grant_type=client_credentials and the space-joined scopes', async () => {
    const seen: Seen[] = [];
    tokenEndpoint(seen);
    nock(HOST).get(PATH).query(true).matchHeader('authorization', 'Bearer tok-1').reply(200, ORGS, JSON_HEADERS);
    const { c } = client({ auth: OAUTH2 });
    await c.getJson(URL_, signal());
    expect(seen).toHaveLength(1);
    expect(seen[0].headers.authorization).toBe(`Basic ${Buffer.from('fictional-client:fictional-secret').toString('base64')}`);
    expect(seen[0].headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(seen[0].headers.body))).toEqual({
      grant_type: 'client_credentials',
      scope: 'https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly https://purl.imsglobal.org/spec/or/v1p2/scope/roster-demographics.readonly',
    });
  });

  test('cached across requests and clients until shortly before expires_in, then renewed', async () => {
    const seen: Seen[] = [];
    tokenEndpoint(seen, 'tok-1', 600);
    nock(HOST).get(PATH).query(true).times(3).matchHeader('authorization', 'Bearer tok-1').reply(200, ORGS, JSON_HEADERS);
    const clock = recordingClock();
    const a = client({ auth: OAUTH2, clock }).c;
    await a.getJson(URL_, signal());
    await a.getJson(URL_, signal());
    await client({ auth: OAUTH2, clock }).c.getJson(URL_, signal());
    expect(seen).toHaveLength(1);
    // 600 s token: renewed 60 s before it expires.
    expect(renewAt(0, 600)).toBe(540000);
    expect(renewAt(0, 30)).toBe(27000);
    clock.advance(540000);
    tokenEndpoint(seen, 'tok-2');
    nock(HOST).get(PATH).query(true).matchHeader('authorization', 'Bearer tok-2').reply(200, ORGS, JSON_HEADERS);
    await a.getJson(URL_, signal());
    expect(seen).toHaveLength(2);
  });

  test('a 401 renews the token once; a second 401 is a config error', async () => {
    const seen: Seen[] = [];
    tokenEndpoint(seen, 'tok-1');
    nock(HOST).get(PATH).query(true).matchHeader('authorization', 'Bearer tok-1').reply(401);
    tokenEndpoint(seen, 'tok-2');
    nock(HOST).get(PATH).query(true).matchHeader('authorization', 'Bearer tok-2').reply(200, ORGS, JSON_HEADERS);
    const { c } = client({ auth: OAUTH2 });
    await c.getJson(URL_, signal());
    expect(seen).toHaveLength(2);

    resetTokenCache();
    tokenEndpoint(seen, 'tok-3');
    tokenEndpoint(seen, 'tok-4');
    nock(HOST).get(PATH).query(true).times(2).reply(401);
    const e = await caught(c.getJson(URL_, signal()));
    expect(e.kind).toBe('config');
    expect(e.message).toContain('credentials rejected by sis.example (401)');
    expect(seen).toHaveLength(4);
  });

  test('the token endpoint refusing the client -> config error with the OAuth error; 5xx retried', async () => {
    nock(HOST).post('/oauth/token').reply(503);
    nock(HOST).post('/oauth/token').reply(401, { error: 'invalid_client', error_description: 'Client authentication failed' }, JSON_HEADERS);
    const { c, clock } = client({ auth: OAUTH2 });
    const e = await caught(c.getJson(URL_, signal()));
    expect(e).toBeInstanceOf(HubError);
    expect(e.kind).toBe('config');
    expect(e.message).toBe('OAuth 2.0 credentials rejected by sis.example (401 (invalid_client: Client authentication failed)): check settings.auth clientId, clientSecret and scopes.');
    expect(clock.sleeps).toEqual([500]);
  });

  test('a token response without access_token -> source_invalid; no expires_in -> a 300 s lifetime', async () => {
    nock(HOST).post('/oauth/token').reply(200, { token_type: 'bearer' }, JSON_HEADERS);
    expect((await caught(client({ auth: OAUTH2 }).c.token(signal()))).message).toContain('answered without an access_token');
    const seen: Seen[] = [];
    tokenEndpoint(seen, 'tok-x', null);
    const { c, clock } = client({ auth: OAUTH2 });
    expect(await c.token(signal())).toBe('tok-x');
    clock.advance(269000);
    expect(await c.token(signal())).toBe('tok-x');
    clock.advance(2000);
    tokenEndpoint(seen, 'tok-y');
    expect(await c.token(signal())).toBe('tok-y');
  });
});

describe('OAuth 1.0a', () => {
  test('every request carries a fresh HMAC-SHA256 Authorization header', async () => {
    const seen: Seen[] = [];
    nock(HOST).get(PATH).query(true).times(2).reply(200, ORGS, JSON_HEADERS).on('request', (req: Request) => seen.push(seenOf(req)));
    const { c } = client({ auth: { type: 'oauth1', consumerKey: 'fictional-key', consumerSecret: 'fictional-secret' } });
    await c.getJson(URL_, signal());
    await c.getJson(URL_, signal());
    const headers = seen.map((s) => s.headers.authorization);
    for (const h of headers) {
      expect(h).toMatch(/^OAuth oauth_consumer_key="fictional-key", oauth_nonce="[0-9a-f]{32}", oauth_signature_method="HMAC-SHA256", oauth_timestamp="\d+", oauth_version="1.0", oauth_signature="[A-Za-z0-9%]+"$/);
    }
    expect(headers[0]).not.toBe(headers[1]);
  });
});
