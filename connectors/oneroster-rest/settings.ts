/**
 * Settings of the oneroster-rest connector: the runtime validates them against
 * schemas/connectors/oneroster-rest.config.schema.json; normalize() guards direct callers, applies the defaults and
 * settles the secret fields (see README.md, "Secrets").
 */
import { HubError } from '../../src/core/errors';
import { isSecretRef, resolveSecret } from '../../src/core/secrets';
import type { AuthSettings } from './http';

export type OneRosterVersion = '1.1' | '1.2';

/** A secret as written in the settings: a resolved string, or (nested in `auth`, see README) a reference. */
export type SecretValue = string | { $env: string } | { $enc: string };

export interface OneRosterRestSettings {
  /** The service root, e.g. https://sis.example/ims/oneroster/rostering/v1p2 or https://sis.example/ims/oneroster/v1p1. */
  baseUrl: string;
  version: OneRosterVersion;
  auth:
    | { type: 'oauth2'; tokenUrl: string; clientId: string; clientSecret?: SecretValue; scopes?: string[] }
    | { type: 'oauth1'; consumerKey: string; consumerSecret?: SecretValue }
    | { type: 'bearer'; token?: SecretValue };
  /** Top-level secrets: the form today's runtime resolves (secretFields are top-level names). */
  clientSecret?: string;
  consumerSecret?: string;
  token?: string;
  /** The 1.2 gradebook service root; default: baseUrl with /rostering/ replaced by /gradebook/ (1.1: baseUrl). */
  gradebookBaseUrl?: string;
  /** The streams to read; default all of the version's (optional ones the source does not offer are skipped). */
  streams?: string[];
  /** `limit` per request, 1..1000 (default 100). */
  pageSize?: number;
  /** At most this many requests per second for this connector (default 10). */
  requestsPerSecond?: number;
  /** Per-attempt timeout (default 30000 ms). */
  timeoutMs?: number;
  /** Retries after a 429, a 5xx, a timeout or a network error (default 5). */
  maxRetries?: number;
}

export interface Settings {
  baseUrl: URL;
  gradebookBaseUrl?: URL;
  version: OneRosterVersion;
  auth: AuthSettings;
  /** undefined = the default selection. */
  streams?: Set<string>;
  pageSize: number;
  requestsPerSecond: number;
  timeoutMs: number;
  maxRetries: number;
}

export const DEFAULTS = { pageSize: 100, requestsPerSecond: 10, timeoutMs: 30000, maxRetries: 5 } as const;
export const LIMITS = {
  pageSize: [1, 1000],
  requestsPerSecond: [0.01, 1000],
  timeoutMs: [1000, 600000],
  maxRetries: [0, 20],
} as const;

function bad(path: string, message: string): HubError {
  return new HubError('connector_config_invalid', `oneroster-rest settings: ${path} ${message}`, [{ path, message }]);
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** An absolute https URL (http only for this machine), without query or fragment, with no trailing slash. */
function serviceUrl(path: string, value: unknown): URL {
  if (typeof value !== 'string' || value === '') throw bad(path, 'must be a non-empty URL');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw bad(path, `must be an absolute URL, found "${value}"`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOCAL_HOSTS.has(url.hostname))) {
    throw bad(path, 'must use https (plain http is allowed only for localhost): credentials are sent with every request');
  }
  if (url.search || url.hash) throw bad(path, 'must not have a query string or fragment');
  if (url.username || url.password) throw bad(path, 'must not carry credentials: use settings.auth');
  url.pathname = url.pathname.replace(/\/+$/, '');
  return url;
}

function number(path: string, value: unknown, dflt: number, [min, max]: readonly [number, number], integer: boolean): number {
  if (value === undefined) return dflt;
  if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
    throw bad(path, `must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
  }
  return value;
}

function text(path: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') throw bad(path, 'must be a non-empty string');
  return value;
}

/**
 * A secret from `auth.<name>` or from the top-level `<name>` (exactly one of them). A nested reference is resolved
 * here, because today's runtime resolves top-level secret fields only (see README.md, "Secrets").
 */
function secret(raw: OneRosterRestSettings, name: 'clientSecret' | 'consumerSecret' | 'token', env: NodeJS.ProcessEnv): string {
  const nested = (raw.auth as Record<string, unknown>)[name];
  const top = (raw as unknown as Record<string, unknown>)[name];
  if (nested !== undefined && top !== undefined) throw bad(name, `is given twice (auth.${name} and ${name}): keep one`);
  if (nested === undefined && top === undefined) throw bad(`auth.${name}`, `is required (or give it as the top-level ${name})`);
  if (top !== undefined) {
    if (isSecretRef(top)) throw bad(name, 'is an unresolved secret reference: the runtime resolves it before the connector runs');
    return text(name, top);
  }
  if (isSecretRef(nested)) return resolveSecret(nested, `settings.auth.${name}`, env);
  return text(`auth.${name}`, nested);
}

function auth(raw: OneRosterRestSettings, env: NodeJS.ProcessEnv): AuthSettings {
  const a = raw.auth as Record<string, unknown> | undefined;
  if (!a || typeof a !== 'object') throw bad('auth', 'must be an object with type oauth2, oauth1 or bearer');
  const misplaced = (allowed: string) =>
    (['clientSecret', 'consumerSecret', 'token'] as const).forEach((k) => {
      if (k !== allowed && (raw as unknown as Record<string, unknown>)[k] !== undefined) throw bad(k, `does not apply to auth.type ${String(a.type)}`);
    });
  switch (a.type) {
    case 'oauth2': {
      misplaced('clientSecret');
      const tokenUrl = serviceUrlAllowingQuery('auth.tokenUrl', a.tokenUrl);
      let scopes: string[] | undefined;
      if (a.scopes !== undefined) {
        if (!Array.isArray(a.scopes) || a.scopes.some((s) => typeof s !== 'string' || s.trim() === '' || /\s/.test(s))) {
          throw bad('auth.scopes', 'must be a list of scope URIs (no spaces inside one)');
        }
        scopes = a.scopes as string[];
      }
      return { type: 'oauth2', tokenUrl: tokenUrl.href, clientId: text('auth.clientId', a.clientId), clientSecret: secret(raw, 'clientSecret', env), ...(scopes ? { scopes } : {}) };
    }
    case 'oauth1':
      misplaced('consumerSecret');
      return { type: 'oauth1', consumerKey: text('auth.consumerKey', a.consumerKey), consumerSecret: secret(raw, 'consumerSecret', env) };
    case 'bearer':
      misplaced('token');
      return { type: 'bearer', token: secret(raw, 'token', env) };
    default:
      throw bad('auth.type', 'must be oauth2, oauth1 or bearer');
  }
}

/** Token endpoints may carry a query (some vendors put a tenant there). */
function serviceUrlAllowingQuery(path: string, value: unknown): URL {
  if (typeof value !== 'string' || value === '') throw bad(path, 'must be a non-empty URL');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw bad(path, `must be an absolute URL, found "${value}"`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOCAL_HOSTS.has(url.hostname))) {
    throw bad(path, 'must use https (plain http is allowed only for localhost)');
  }
  return url;
}

/**
 * The runtime validates settings against the schema; this guards direct callers, applies defaults and settles
 * secrets. `knownStreams` are the stream names of the version.
 */
export function normalize(raw: OneRosterRestSettings, streamsOf: (v: OneRosterVersion) => string[], env: NodeJS.ProcessEnv = process.env): Settings {
  if (!raw || typeof raw !== 'object') throw bad('settings', 'must be an object');
  const baseUrl = serviceUrl('baseUrl', raw.baseUrl);
  if (raw.version !== '1.1' && raw.version !== '1.2') throw bad('version', 'must be "1.1" or "1.2"');
  const version = raw.version;
  const gradebookBaseUrl = raw.gradebookBaseUrl !== undefined ? serviceUrl('gradebookBaseUrl', raw.gradebookBaseUrl) : undefined;
  let streams: Set<string> | undefined;
  if (raw.streams !== undefined) {
    if (!Array.isArray(raw.streams) || raw.streams.length === 0) throw bad('streams', 'must be a non-empty list of stream names');
    const known = streamsOf(version);
    for (const s of raw.streams) {
      if (!known.includes(s)) throw bad('streams', `"${String(s)}" is not a stream of OneRoster ${version}; expected some of: ${known.join(', ')}`);
    }
    streams = new Set(raw.streams);
  }
  return {
    baseUrl,
    ...(gradebookBaseUrl ? { gradebookBaseUrl } : {}),
    version,
    auth: auth(raw, env),
    ...(streams ? { streams } : {}),
    pageSize: number('pageSize', raw.pageSize, DEFAULTS.pageSize, LIMITS.pageSize, true),
    requestsPerSecond: number('requestsPerSecond', raw.requestsPerSecond, DEFAULTS.requestsPerSecond, LIMITS.requestsPerSecond, false),
    timeoutMs: number('timeoutMs', raw.timeoutMs, DEFAULTS.timeoutMs, LIMITS.timeoutMs, true),
    maxRetries: number('maxRetries', raw.maxRetries, DEFAULTS.maxRetries, LIMITS.maxRetries, true),
  };
}

/**
 * The gradebook service root: gradebookBaseUrl, else (1.1) baseUrl, else (1.2) baseUrl with its trailing
 * `/rostering/v1p2` replaced by `/gradebook/v1p2`; undefined when it cannot be derived.
 */
export function gradebookRoot(s: Settings): URL | undefined {
  if (s.gradebookBaseUrl) return s.gradebookBaseUrl;
  if (s.version === '1.1') return s.baseUrl;
  const m = /^(.*)\/rostering\/v1p2$/.exec(s.baseUrl.pathname);
  if (!m) return undefined;
  const u = new URL(s.baseUrl.href);
  u.pathname = `${m[1]}/gradebook/v1p2`;
  return u;
}
