/**
 * A small JSON client for a CASE provider (global fetch): bearer or OAuth2 client-credentials auth, bounded
 * retries on 429 / 5xx / network failures honouring Retry-After, and errors an operator can act on:
 *  - 401 / 403                      -> source_unauthorized (fix the credentials; retrying will not help)
 *  - 429 / 5xx / network, exhausted -> source_unavailable (transient: the next scheduled run retries)
 *  - a body that is not JSON (a login page, a proxy error) or another 4xx -> source_invalid
 * Never logs URLs with credentials, tokens or bodies.
 */
import { HubError } from '../../src/core/errors';
import type { ResolvedAuth } from './settings';

export interface HttpOptions {
  /** Retries after the first attempt, for 408 / 429 / 500 / 502 / 503 / 504 and network failures. */
  maxRetries: number;
  /** Backoff when the provider sends no Retry-After: base * 2^attempt. */
  baseDelayMs: number;
  /** A Retry-After longer than this fails the run (source_unavailable) instead of holding the connector's lock. */
  maxRetryWaitMs: number;
  /** Per request, headers and body. */
  timeoutMs: number;
  /** Largest response body read (a CFPackage is parsed whole). */
  maxBodyBytes: number;
  /** Injected by tests to observe waits without waiting. */
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
}

export const DEFAULT_HTTP: HttpOptions = {
  maxRetries: 3,
  baseDelayMs: 500,
  maxRetryWaitMs: 30_000,
  timeoutMs: 120_000,
  maxBodyBytes: 256 * 1024 * 1024,
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const t = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(t);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
    }),
};

const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);

export interface JsonResponse {
  json: unknown;
  headers: Headers;
  /** Body size in bytes. */
  bytes: number;
}

/** Seconds or an HTTP date, in milliseconds from now; undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

export class CaseHttpClient {
  private token?: { value: string; expiresAt: number };

  constructor(
    private readonly baseUrl: string,
    private readonly auth: ResolvedAuth | undefined,
    private readonly opts: HttpOptions,
    private readonly signal: AbortSignal,
  ) {}

  /** GET `${baseUrl}${path}` (path starts with /) and parse the JSON body. */
  async getJson(path: string, query?: Record<string, string | number>, notFound?: string): Promise<JsonResponse> {
    const qs = query ? `?${new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)])).toString()}` : '';
    const url = `${this.baseUrl}${path}${qs}`;
    const what = `GET ${path}${qs}`;
    let refreshed = false;
    for (;;) {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (this.auth) headers.authorization = `Bearer ${await this.bearer()}`;
      const res = await this.send(url, { method: 'GET', headers }, what);
      if (res.status === 401 && this.auth?.type === 'oauth2' && !refreshed) {
        // The cached access token may have been revoked or expired early: get a new one, once.
        await discard(res);
        this.token = undefined;
        refreshed = true;
        continue;
      }
      if (res.status === 401 || res.status === 403) {
        await discard(res);
        throw new HubError(
          'source_unauthorized',
          `The CASE provider refused ${what} with HTTP ${res.status} (${res.status === 401 ? 'not authenticated' : 'not allowed'}): ${
            this.auth ? 'check the credentials (token / clientSecret) and their scopes' : 'the provider needs credentials: set source.auth'
          }.`,
          [{ path: 'source.auth', message: `HTTP ${res.status} on ${what}` }],
        );
      }
      if (!res.ok) {
        await discard(res);
        const message = res.status === 404 && notFound ? notFound : `the CASE provider answered ${what} with HTTP ${res.status}`;
        throw new HubError('source_invalid', `${message}.`, [{ path: what, message: `HTTP ${res.status}` }]);
      }
      return this.readJson(res, what);
    }
  }

  /** fetch with the retry policy; returns the first non-retryable response. */
  private async send(url: string, init: RequestInit, what: string): Promise<Response> {
    const { maxRetries } = this.opts;
    for (let attempt = 0; ; attempt++) {
      this.signal.throwIfAborted();
      let res: Response;
      try {
        res = await fetch(url, { ...init, redirect: 'follow', signal: AbortSignal.any([this.signal, AbortSignal.timeout(this.opts.timeoutMs)]) });
      } catch (e) {
        this.signal.throwIfAborted();
        const why = (e as Error).name === 'TimeoutError' ? `no answer within ${seconds(this.opts.timeoutMs)}` : describeNetworkError(e);
        if (attempt < maxRetries) {
          await this.opts.sleep(this.backoff(attempt), this.signal);
          continue;
        }
        throw new HubError('source_unavailable', `The CASE provider cannot be reached for ${what} (${why}; tried ${attempt + 1} times).`, [
          { path: what, message: why },
        ], { cause: e });
      }
      if (!RETRYABLE.has(res.status)) return res;
      await discard(res);
      const asked = retryAfterMs(res.headers.get('retry-after'));
      if (asked !== undefined && asked > this.opts.maxRetryWaitMs) {
        throw new HubError(
          'source_unavailable',
          `The CASE provider answered ${what} with HTTP ${res.status} and asks to retry after ${seconds(asked)}, longer than this connector waits (${seconds(this.opts.maxRetryWaitMs)}); the next run will retry.`,
          [{ path: what, message: `HTTP ${res.status}, Retry-After ${res.headers.get('retry-after')}` }],
        );
      }
      if (attempt >= maxRetries) {
        throw new HubError('source_unavailable', `The CASE provider answered ${what} with HTTP ${res.status} ${attempt + 1} times; the next run will retry.`, [
          { path: what, message: `HTTP ${res.status}` },
        ]);
      }
      await this.opts.sleep(asked ?? this.backoff(attempt), this.signal);
    }
  }

  private backoff(attempt: number): number {
    return Math.min(this.opts.baseDelayMs * 2 ** attempt, this.opts.maxRetryWaitMs);
  }

  private async readJson(res: Response, what: string, hint = "is source.baseUrl the provider's CASE root (…/ims/case/v1p0 or v1p1)?"): Promise<JsonResponse> {
    const type = res.headers.get('content-type') ?? '(no content type)';
    const declared = Number(res.headers.get('content-length') ?? 'NaN');
    if (declared > this.opts.maxBodyBytes) {
      await discard(res);
      throw new HubError('source_invalid', `The CASE provider's answer to ${what} is ${declared} bytes, more than the ${this.opts.maxBodyBytes} this connector reads.`, [
        { path: what, message: 'body too large' },
      ]);
    }
    let body: string;
    try {
      body = await res.text();
    } catch (e) {
      this.signal.throwIfAborted();
      throw new HubError('source_unavailable', `The CASE provider's answer to ${what} broke off (${describeNetworkError(e)}).`, [{ path: what, message: 'body broke off' }], { cause: e });
    }
    const bytes = Buffer.byteLength(body);
    if (bytes > this.opts.maxBodyBytes) {
      throw new HubError('source_invalid', `The CASE provider's answer to ${what} is more than ${this.opts.maxBodyBytes} bytes.`, [{ path: what, message: 'body too large' }]);
    }
    try {
      return { json: JSON.parse(body), headers: res.headers, bytes };
    } catch {
      // Typically an HTML login or error page from a proxy: say what came back, briefly.
      const start = body.replace(/\s+/g, ' ').trim().slice(0, 40);
      throw new HubError(
        'source_invalid',
        `The CASE provider answered ${what} with ${type} that is not JSON (it begins "${start}"): ${hint}`,
        [{ path: what, message: `not JSON (${type})` }],
      );
    }
  }

  /** The bearer token, fetching (or refreshing) an OAuth2 access token when needed. */
  private async bearer(): Promise<string> {
    const auth = this.auth!;
    if (auth.type === 'bearer') return auth.token;
    if (this.token && Date.now() < this.token.expiresAt) return this.token.value;
    const body = new URLSearchParams({ grant_type: 'client_credentials' });
    if (auth.scopes.length) body.set('scope', auth.scopes.join(' '));
    const what = 'POST (token endpoint)';
    const res = await this.send(auth.tokenUrl, {
      method: 'POST',
      headers: {
        accept: 'application/json',
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(auth.clientId)}:${encodeURIComponent(auth.clientSecret)}`).toString('base64')}`,
      },
      body: body.toString(),
    }, what);
    if (!res.ok) {
      let code = '';
      try {
        const j = (await res.json()) as { error?: unknown };
        if (typeof j.error === 'string') code = `: ${j.error.slice(0, 60)}`;
      } catch {
        // not JSON: the status says enough
      }
      const refused = res.status === 400 || res.status === 401 || res.status === 403;
      throw new HubError(
        refused ? 'source_unauthorized' : 'source_invalid',
        refused
          ? `The OAuth2 token endpoint refused the client credentials (HTTP ${res.status}${code}): check source.auth.clientId, clientSecret and scopes.`
          : `The OAuth2 token endpoint answered HTTP ${res.status}${code}: check source.auth.tokenUrl.`,
        [{ path: 'source.auth.tokenUrl', message: `HTTP ${res.status}${code}` }],
      );
    }
    const { json } = await this.readJson(res, what, 'check source.auth.tokenUrl.');
    const t = json as { access_token?: unknown; expires_in?: unknown };
    if (typeof t?.access_token !== 'string' || t.access_token === '') {
      throw new HubError('source_invalid', 'The OAuth2 token endpoint answered without an access_token: check source.auth.tokenUrl.', [
        { path: 'source.auth.tokenUrl', message: 'no access_token' },
      ]);
    }
    const life = typeof t.expires_in === 'number' && t.expires_in > 0 ? t.expires_in * 1000 : 3600_000;
    // Renew a minute early (or halfway through a short-lived token).
    this.token = { value: t.access_token, expiresAt: Date.now() + Math.max(life - 60_000, life / 2) };
    return this.token.value;
  }
}

async function discard(res: Response): Promise<void> {
  try {
    await res.body?.cancel();
  } catch {
    // already consumed or closed
  }
}

function describeNetworkError(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (e as Error).message ?? String(e);
}
