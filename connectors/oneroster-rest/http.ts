/**
 * The HTTP side of the connector: global fetch (undici) with a timeout per attempt, the per-connector rate limit,
 * retries with exponential backoff and jitter on 429 / 5xx / network errors (honouring Retry-After), the three
 * ways to authenticate (OAuth 2.0 client credentials with a cached token, OAuth 1.0a HMAC-SHA256 signing, a static
 * bearer token) and the classification of failures into HubErrors:
 *
 *  - 401 / 403, and a token endpoint that refuses the client       -> source_unauthorized (config: "credentials rejected")
 *  - 429, 5xx (not 501/505), timeouts, network errors, retries spent -> source_unavailable (transient)
 *  - a redirect, a body that is not JSON, other 4xx, 501/505       -> source_invalid
 *
 * Nothing here logs a secret, a query value or a body: logs carry the path, the query parameter names, the
 * status, the attempt and the time taken.
 */
import { createHash } from 'node:crypto';
import { HubError } from '../../src/core/errors';
import type { Logger } from '../../src/core/logger';
import { authorizationHeader, signRequest } from './oauth1';
import { describeUrl } from './paging';
import { systemClock, type Clock, type RateLimiter } from './ratelimit';

export type AuthSettings =
  | { type: 'oauth2'; tokenUrl: string; clientId: string; clientSecret: string; scopes?: string[] }
  | { type: 'oauth1'; consumerKey: string; consumerSecret: string }
  | { type: 'bearer'; token: string };

export interface HttpOptions {
  auth: AuthSettings;
  timeoutMs: number;
  maxRetries: number;
  limiter: RateLimiter;
  log: Logger;
  clock?: Clock;
  /** 0 <= random() < 1, for the jitter. */
  random?: () => number;
  /** First backoff delay in ms (doubled on each retry, capped at MAX_BACKOFF_MS). */
  backoffBaseMs?: number;
}

export interface JsonResponse {
  url: URL;
  status: number;
  headers: Headers;
  body: unknown;
}

export const DEFAULT_BACKOFF_BASE_MS = 1000;
export const MAX_BACKOFF_MS = 30000;
/** A Retry-After longer than this ends the run (source_unavailable) instead of holding it: the next run retries. */
export const MAX_RETRY_AFTER_MS = 120000;
/** How much of an error body is read, to quote the server's imsx_description. */
const MAX_ERROR_BODY = 65536;

// ---------------------------------------------------------------------------------------------------------------
// OAuth 2.0 tokens, cached per token endpoint + client + scopes + secret for the life of the process.

interface CachedToken {
  token: string;
  /** When to stop using it: shortly before it expires. */
  renewAt: number;
}
const tokens = new Map<string, CachedToken>();

/** Tests: forget cached tokens. */
export function resetTokenCache(): void {
  tokens.clear();
}

function tokenKey(a: Extract<AuthSettings, { type: 'oauth2' }>): string {
  const secret = createHash('sha256').update(a.clientSecret).digest('hex');
  return [a.tokenUrl, a.clientId, (a.scopes ?? []).join(' '), secret].join('\u0000');
}

/** Without expires_in a token is reused for this long. */
const DEFAULT_TOKEN_LIFETIME_S = 300;

/** Renew 60 s before expiry, or at 90% of a shorter lifetime. */
export function renewAt(now: number, expiresInSeconds: number): number {
  const lifetime = expiresInSeconds * 1000;
  return now + lifetime - Math.min(60000, lifetime / 10);
}

// ---------------------------------------------------------------------------------------------------------------
// Retry-After and backoff

/** Retry-After as ms from now: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** Exponential backoff with jitter: base * 2^retry capped at MAX_BACKOFF_MS, then a random 50-100% of that. */
export function backoffMs(retry: number, baseMs: number, random: () => number): number {
  const cap = Math.min(MAX_BACKOFF_MS, baseMs * 2 ** retry);
  return Math.round(cap * (0.5 + random() * 0.5));
}

// ---------------------------------------------------------------------------------------------------------------
// Error bodies

/** ` (unknownobject: No such user)` from a 1.2 imsx_StatusInfo, a 1.1 statusInfoSet or an OAuth error body. */
export function statusSummary(text: string): string {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return '';
  }
  if (!body || typeof body !== 'object') return '';
  const b = body as Record<string, unknown>;
  let info: Record<string, unknown> | undefined;
  if (typeof b.imsx_codeMajor === 'string') info = b;
  else if (Array.isArray(b.statusInfoSet) && b.statusInfoSet[0] && typeof b.statusInfoSet[0] === 'object') info = b.statusInfoSet[0] as Record<string, unknown>;
  else if (b.imsx_StatusInfo && typeof b.imsx_StatusInfo === 'object') info = b.imsx_StatusInfo as Record<string, unknown>;
  const parts: string[] = [];
  if (info) {
    const minor = (info.imsx_CodeMinor ?? info.imsx_codeMinor) as { imsx_codeMinorField?: Array<{ imsx_codeMinorFieldValue?: unknown }> } | undefined;
    const values = (minor?.imsx_codeMinorField ?? []).map((f) => f?.imsx_codeMinorFieldValue).filter((v): v is string => typeof v === 'string');
    if (values.length) parts.push(values.join(', '));
    if (typeof info.imsx_description === 'string' && info.imsx_description.trim()) parts.push(info.imsx_description.trim());
  } else if (typeof b.error === 'string') {
    parts.push(b.error);
    if (typeof b.error_description === 'string') parts.push(b.error_description);
  }
  const s = parts.join(': ').replace(/\s+/g, ' ');
  return s ? ` (${s.length > 200 ? `${s.slice(0, 200)}…` : s})` : '';
}

async function readLimited(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).toString('utf8', 0, Math.min(size, max));
}

function discard(res: Response): void {
  res.body?.cancel().catch(() => undefined);
}

const RETRYABLE_STATUS = (s: number) => s === 408 || s === 429 || (s >= 500 && s !== 501 && s !== 505);

function isJsonContentType(ct: string): boolean {
  const type = ct.split(';')[0].trim().toLowerCase();
  return type === 'application/json' || type.endsWith('+json') || type === 'text/json';
}

// ---------------------------------------------------------------------------------------------------------------

type Attempt =
  | { kind: 'ok'; res: Response; text: string }
  | { kind: 'retry'; why: string; retryAfterMs?: number }
  | { kind: 'status'; res: Response; text: string };

export class OneRosterHttp {
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly backoffBaseMs: number;
  /** The token cache key (hashes the secret once per client, not once per request). */
  private readonly tokenKey: string | undefined;
  /** Requests sent (every attempt, token requests included): for tests and the bench. */
  requests = 0;

  constructor(private readonly opts: HttpOptions) {
    this.tokenKey = opts.auth.type === 'oauth2' ? tokenKey(opts.auth) : undefined;
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
    this.backoffBaseMs = opts.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS;
  }

  /** GET a JSON document. Throws HubError (see the file comment) or the signal's reason when aborted. */
  async getJson(url: URL, signal: AbortSignal): Promise<JsonResponse> {
    const auth = this.opts.auth;
    let refreshed = false;
    let retries = 0;
    for (;;) {
      const authorization = await this.authorization(url, signal);
      const r = await this.attempt('GET', url, { accept: 'application/json', authorization }, undefined, signal);
      if (r.kind === 'ok') return { url, status: r.res.status, headers: r.res.headers, body: this.parseJson(url, r.res, r.text) };
      if (r.kind === 'status') {
        const status = r.res.status;
        if (status === 401 && auth.type === 'oauth2' && !refreshed) {
          // The token may have been revoked or expired early: fetch a new one, once.
          refreshed = true;
          tokens.delete(this.tokenKey!);
          this.opts.log.debug({ req: `GET ${describeUrl(url)}` }, 'oneroster-rest: 401, renewing the OAuth 2.0 token');
          continue;
        }
        throw this.statusError('GET', url, r.res, r.text);
      }
      if (retries >= this.opts.maxRetries) throw this.unavailable('GET', url, retries + 1, r.why);
      const delay = this.retryDelay(retries, r.retryAfterMs, 'GET', url, retries + 1, r.why);
      retries++;
      this.opts.log.warn({ req: `GET ${describeUrl(url)}`, why: r.why, retry: retries, delayMs: delay }, 'oneroster-rest: retrying');
      await this.clock.sleep(delay, signal);
    }
  }

  /** The Authorization header value for a request (fetches an OAuth 2.0 token when none is cached). */
  async authorization(url: URL, signal: AbortSignal): Promise<string> {
    const auth = this.opts.auth;
    if (auth.type === 'bearer') return `Bearer ${auth.token}`;
    if (auth.type === 'oauth1') {
      return authorizationHeader(signRequest({ method: 'GET', url, consumerKey: auth.consumerKey, consumerSecret: auth.consumerSecret }));
    }
    return `Bearer ${await this.token(signal)}`;
  }

  /** The OAuth 2.0 access token, from the cache or the token endpoint (client credentials, HTTP Basic). */
  async token(signal: AbortSignal): Promise<string> {
    const auth = this.opts.auth;
    if (auth.type !== 'oauth2') throw new HubError('internal_error', 'token() needs OAuth 2.0 settings');
    const key = this.tokenKey!;
    const cached = tokens.get(key);
    if (cached && this.clock.now() < cached.renewAt) return cached.token;
    tokens.delete(key);

    const url = new URL(auth.tokenUrl);
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (auth.scopes && auth.scopes.length) form.set('scope', auth.scopes.join(' '));
    const headers = {
      accept: 'application/json',
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${auth.clientId}:${auth.clientSecret}`, 'utf8').toString('base64')}`,
    };
    let retries = 0;
    for (;;) {
      const r = await this.attempt('POST', url, headers, form.toString(), signal);
      if (r.kind === 'ok') {
        const body = this.parseJson(url, r.res, r.text, 'POST') as Record<string, unknown> | null;
        const token = body && typeof body === 'object' ? body.access_token : undefined;
        if (typeof token !== 'string' || token === '') {
          throw new HubError('source_invalid', `The token endpoint ${url.host}${url.pathname} answered without an access_token.`, [
            { path: 'settings.auth.tokenUrl', message: 'no access_token in the token response' },
          ]);
        }
        const raw = body!.expires_in;
        const expiresIn = typeof raw === 'number' && raw > 0 ? raw : typeof raw === 'string' && /^\d+$/.test(raw) && Number(raw) > 0 ? Number(raw) : DEFAULT_TOKEN_LIFETIME_S;
        tokens.set(key, { token, renewAt: renewAt(this.clock.now(), expiresIn) });
        this.opts.log.debug({ host: url.host, expiresIn }, 'oneroster-rest: OAuth 2.0 token obtained');
        return token;
      }
      if (r.kind === 'status') {
        const status = r.res.status;
        const summary = statusSummary(r.text);
        if (status === 400 || status === 401 || status === 403) {
          throw new HubError(
            'source_unauthorized',
            `OAuth 2.0 credentials rejected by ${url.host} (${status}${summary}): check settings.auth clientId, clientSecret and scopes.`,
            [{ path: 'settings.auth', message: `token request refused with ${status}${summary}` }],
          );
        }
        throw this.statusError('POST', url, r.res, r.text);
      }
      if (retries >= this.opts.maxRetries) throw this.unavailable('POST', url, retries + 1, r.why);
      const delay = this.retryDelay(retries, r.retryAfterMs, 'POST', url, retries + 1, r.why);
      retries++;
      this.opts.log.warn({ req: `POST ${url.pathname}`, why: r.why, retry: retries, delayMs: delay }, 'oneroster-rest: retrying the token request');
      await this.clock.sleep(delay, signal);
    }
  }

  // -------------------------------------------------------------------------------------------------------------

  private async attempt(method: string, url: URL, headers: Record<string, string>, body: string | undefined, signal: AbortSignal): Promise<Attempt> {
    await this.opts.limiter.take(signal);
    const timeout = AbortSignal.timeout(this.opts.timeoutMs);
    const combined = AbortSignal.any([signal, timeout]);
    const started = Date.now();
    const req = `${method} ${describeUrl(url)}`;
    this.requests++;
    const failed = (e: unknown): Attempt => {
      if (signal.aborted) throw signal.reason;
      if (timeout.aborted) return { kind: 'retry', why: `no answer within ${this.opts.timeoutMs} ms` };
      const cause = (e as { cause?: { code?: unknown; message?: unknown } }).cause;
      const code = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : (e as Error).message;
      return { kind: 'retry', why: `network error (${code})` };
    };
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body, signal: combined, redirect: 'manual' });
    } catch (e) {
      return failed(e);
    }
    const status = res.status;
    try {
      if (status >= 200 && status < 300) {
        const text = await res.text();
        this.opts.log.debug({ req, status, ms: Date.now() - started }, 'oneroster-rest request');
        return { kind: 'ok', res, text };
      }
      this.opts.log.debug({ req, status, ms: Date.now() - started }, 'oneroster-rest request');
      if (RETRYABLE_STATUS(status)) {
        discard(res);
        return { kind: 'retry', why: `${status}${res.statusText ? ` ${res.statusText}` : ''}`, retryAfterMs: parseRetryAfter(res.headers.get('retry-after'), this.clock.now()) };
      }
      const text = status >= 300 && status < 400 ? (discard(res), '') : await readLimited(res, MAX_ERROR_BODY);
      return { kind: 'status', res, text };
    } catch (e) {
      return failed(e);
    }
  }

  private retryDelay(retry: number, retryAfterMs: number | undefined, method: string, url: URL, attempts: number, why: string): number {
    if (retryAfterMs === undefined) return backoffMs(retry, this.backoffBaseMs, this.random);
    if (retryAfterMs > MAX_RETRY_AFTER_MS) {
      throw this.unavailable(method, url, attempts, `${why}; it asked to retry after ${Math.round(retryAfterMs / 1000)} s, longer than the ${MAX_RETRY_AFTER_MS / 1000} s a run waits`);
    }
    return retryAfterMs;
  }

  private unavailable(method: string, url: URL, attempts: number, why: string): HubError {
    return new HubError(
      'source_unavailable',
      `${url.host} did not answer ${method} ${url.pathname} after ${attempts} attempt${attempts === 1 ? '' : 's'} (last: ${why}); the next run will try again.`,
      [{ path: `${method} ${url.pathname}`, message: why }],
    );
  }

  private statusError(method: string, url: URL, res: Response, text: string): HubError {
    const status = res.status;
    const summary = statusSummary(text);
    const where = `${method} ${url.pathname}`;
    if (status === 401 || status === 403) {
      const hint =
        status === 401
          ? 'check settings.auth (the credentials or token are not accepted)'
          : 'the credentials are valid but not allowed to read this endpoint: grant the scope, or leave the stream out of settings.streams';
      return new HubError('source_unauthorized', `credentials rejected by ${url.host} (${status}${summary}) for ${where}: ${hint}.`, [
        { path: 'settings.auth', message: `${status} for ${where}${summary}`, status },
      ]);
    }
    if (status >= 300 && status < 400) {
      let to = 'nowhere';
      try {
        const loc = new URL(res.headers.get('location') ?? '', url);
        to = `${loc.origin}${loc.pathname}`;
      } catch {
        to = 'an unreadable location';
      }
      return new HubError(
        'source_invalid',
        `${url.host} redirected ${where} to ${to} (${status}): set baseUrl to the service root itself (a redirect to a login page means the request was not authenticated).`,
        [{ path: where, message: `redirect ${status} to ${to}`, status }],
      );
    }
    const what = status === 404 ? 'the source has no such endpoint (check baseUrl, version and gradebookBaseUrl)' : `the source refused the request`;
    return new HubError('source_invalid', `${url.host} answered ${where} with ${status}${summary}: ${what}.`, [{ path: where, message: `${status}${summary}`, status }]);
  }

  private parseJson(url: URL, res: Response, text: string, method = 'GET'): unknown {
    const ct = res.headers.get('content-type') ?? '';
    const where = `${method} ${url.pathname}`;
    if (ct !== '' && !isJsonContentType(ct)) {
      throw new HubError(
        'source_invalid',
        `${url.host} answered ${where} with content-type "${ct}", not JSON (a login page, a proxy or a wrong baseUrl?).`,
        [{ path: where, message: `content-type ${ct}`, contentType: ct }],
      );
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new HubError('source_invalid', `${url.host} answered ${where} with a body that is not valid JSON (content-type "${ct || 'none'}").`, [
        { path: where, message: `invalid JSON (content-type ${ct || 'none'})`, contentType: ct },
      ]);
    }
  }
}
