/**
 * Settings of the case connector, with defaults and secrets resolved.
 *
 * Secrets. The runtime resolves and redacts the settings named in `manifest.secretFields`, and today those are
 * top-level names only (src/core/config.ts). So the provider's bearer token and OAuth2 client secret are read from
 * the top-level `token` / `clientSecret` settings (the recommended form: the runtime checks at load time that they
 * are `{"$env"}` / `{"$enc"}` references and never literals). The nested form `source.auth.token` /
 * `source.auth.clientSecret` is accepted too, but only as a secret reference (the schema refuses a literal), which
 * this module resolves with the runtime's own resolveSecret. When the runtime learns dotted secretFields, list
 * `source.auth.token` and `source.auth.clientSecret` there and let the schema take a string: `secretValue` below
 * already accepts a resolved string.
 */
import { HubError } from '../../src/core/errors';
import { isSecretRef, resolveSecret, type SecretRef } from '../../src/core/secrets';
import type { CaseVersion } from './package';

export type CaseAuthSettings =
  | { type: 'bearer'; token?: SecretRef | string }
  | { type: 'oauth2'; tokenUrl: string; clientId: string; clientSecret?: SecretRef | string; scopes?: string[] };

export type CaseSourceSettings =
  | { file: string }
  | { folder: string }
  | { baseUrl: string; documents?: string[]; auth?: CaseAuthSettings };

export interface CaseSettings {
  source: CaseSourceSettings;
  /** The provider's bearer token (source.auth.type "bearer"): a secret reference in configuration. */
  token?: string;
  /** The OAuth2 client secret (source.auth.type "oauth2"): a secret reference in configuration. */
  clientSecret?: string;
  /** Most records per committed page; also the `limit` asked of GET /CFDocuments. Default 1000. */
  pageSize?: number;
}

export type ResolvedAuth =
  | { type: 'bearer'; token: string }
  | { type: 'oauth2'; tokenUrl: string; clientId: string; clientSecret: string; scopes: string[] };

export type Normalized =
  | { kind: 'file'; path: string; pageSize: number }
  | { kind: 'folder'; path: string; pageSize: number }
  | {
      kind: 'provider';
      /** Without a trailing slash. */
      baseUrl: string;
      documents?: string[];
      auth?: ResolvedAuth;
      /** From the provider path (/ims/case/v1p1 -> 1.1), used when a package does not say. */
      versionHint?: CaseVersion;
      pageSize: number;
    };

export const DEFAULT_PAGE_SIZE = 1000;
export const MAX_PAGE_SIZE = 50000;

const bad = (path: string, message: string): HubError =>
  new HubError('connector_config_invalid', `case settings: ${path} ${message}`, [{ path, message }]);

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A secret: a string the runtime resolved, or a nested reference resolved here. */
function secretValue(v: unknown, path: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') {
    if (v === '') throw bad(path, 'is empty');
    return v;
  }
  if (isSecretRef(v)) return resolveSecret(v, path);
  throw bad(path, 'must be a secret reference {"$env": "NAME"} or {"$enc": "v1:..."}');
}

function oneSecret(top: unknown, nested: unknown, topName: string, nestedName: string, what: string): string {
  if (top !== undefined && nested !== undefined) throw bad(topName, `and ${nestedName} are both set: give the ${what} once (top-level ${topName} is preferred)`);
  const v = top !== undefined ? secretValue(top, topName) : secretValue(nested, nestedName);
  if (v === undefined) throw bad(topName, `is required for ${what === 'bearer token' ? 'source.auth.type "bearer"' : 'source.auth.type "oauth2"'}: set ${topName} (or ${nestedName}) to {"$env": "NAME"}`);
  return v;
}

function httpUrl(v: unknown, path: string): string {
  if (typeof v !== 'string') throw bad(path, 'must be a string');
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw bad(path, `must be an absolute http(s) URL, found "${v}"`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw bad(path, `must be an http(s) URL, found "${v}"`);
  if (u.search || u.hash) throw bad(path, 'must not have a query string or fragment');
  return v.replace(/\/+$/, '');
}

/** The runtime validates settings against the config schema; this guards direct callers and gives the defaults. */
export function normalize(settings: CaseSettings): Normalized {
  if (!isObj(settings)) throw bad('(settings)', 'must be an object');
  const pageSize = settings.pageSize ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) throw bad('pageSize', `must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  const src = settings.source as Record<string, unknown> | undefined;
  if (!isObj(src)) throw bad('source', 'must be an object with file, folder or baseUrl');
  const keys = ['file', 'folder', 'baseUrl'].filter((k) => src[k] !== undefined);
  if (keys.length !== 1) throw bad('source', `must have exactly one of file, folder or baseUrl${keys.length ? ` (found ${keys.join(', ')})` : ''}`);
  const providerSecrets = (['token', 'clientSecret'] as const).filter((k) => settings[k] !== undefined);

  if (keys[0] !== 'baseUrl') {
    if (providerSecrets.length) throw bad(providerSecrets[0], 'is only used with a CASE provider (source.baseUrl)');
    const p = src[keys[0]];
    if (typeof p !== 'string' || p === '') throw bad(`source.${keys[0]}`, 'must be a non-empty string');
    return { kind: keys[0] as 'file' | 'folder', path: p, pageSize };
  }

  const baseUrl = httpUrl(src.baseUrl, 'source.baseUrl');
  let documents: string[] | undefined;
  if (src.documents !== undefined) {
    if (!Array.isArray(src.documents) || src.documents.length === 0 || !src.documents.every((d) => typeof d === 'string' && d.trim() !== '')) {
      throw bad('source.documents', 'must be a non-empty list of CFDocument identifiers');
    }
    documents = [...new Set(src.documents.map((d: string) => d.trim()))];
  }
  let auth: ResolvedAuth | undefined;
  const a = src.auth;
  if (a !== undefined) {
    if (!isObj(a)) throw bad('source.auth', 'must be an object');
    if (a.type === 'bearer') {
      if (settings.clientSecret !== undefined) throw bad('clientSecret', 'is for source.auth.type "oauth2"; a bearer token goes in token');
      auth = { type: 'bearer', token: oneSecret(settings.token, a.token, 'token', 'source.auth.token', 'bearer token') };
    } else if (a.type === 'oauth2') {
      if (settings.token !== undefined) throw bad('token', 'is for source.auth.type "bearer"; OAuth2 uses clientSecret');
      const tokenUrl = httpUrl(a.tokenUrl, 'source.auth.tokenUrl');
      if (typeof a.clientId !== 'string' || a.clientId === '') throw bad('source.auth.clientId', 'must be a non-empty string');
      const scopes = a.scopes === undefined ? [] : a.scopes;
      if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === 'string' && s !== '')) throw bad('source.auth.scopes', 'must be a list of scope strings');
      const clientSecret = oneSecret(settings.clientSecret, a.clientSecret, 'clientSecret', 'source.auth.clientSecret', 'client secret');
      auth = { type: 'oauth2', tokenUrl, clientId: a.clientId, clientSecret, scopes: scopes as string[] };
    } else {
      throw bad('source.auth.type', 'must be "bearer" or "oauth2"');
    }
  } else if (providerSecrets.length) {
    throw bad(providerSecrets[0], 'is set but source.auth is not: say how to use it ({"type": "bearer"} or {"type": "oauth2", ...})');
  }
  // The provider root names its version: .../ims/case/v1p1 (or any root ending in /v1p0 or /v1p1).
  const root = /\/v1p([01])$/.exec(new URL(baseUrl).pathname.replace(/\/+$/, ''));
  const versionHint: CaseVersion | undefined = root ? (root[1] === '1' ? '1.1' : '1.0') : undefined;
  return { kind: 'provider', baseUrl, ...(documents ? { documents } : {}), ...(auth ? { auth } : {}), ...(versionHint ? { versionHint } : {}), pageSize };
}
