/**
 * API keys for /api/v1. The configuration holds either the key's SHA-256 (`sha256`) or a secret reference (`key`,
 * resolved from the environment once, when the app is built, and hashed at once). A request presents the key as
 * `Authorization: Bearer <key>` or `X-API-Key: <key>`; its SHA-256 is compared with every configured hash in constant
 * time. Keys are never logged; the key's `name` is (it is what `approve` records as the reviewer).
 *
 * Scopes: `roster.read` (entities), `runs.read` (connectors, runs, reject reports), `sync.run` (start and approve
 * runs), `identity.manage` (merges, review queue, guardian links), `demographics.read`, `protected.read` (IEP, 504,
 * English-learner and other protected program flags), `sessions.issue` (mint person sessions for a portal's users),
 * `changes.read` (the change feed; diff values also need roster.read, and demographics.read for demographic and
 * protected fields), `webhooks.manage` (webhook subscriptions and their delivery log), `audit.read` (the disclosure
 * log), `lti.manage` (LTI platform registrations, keys, context mappings, grade passback), `plp.write` (add, change and delete Personalized Learning Plan entries for any learner of the tenant),
 * `evidence.write` (staff-entered competency evidence, alignments, course requirements, mastery recomputes), `exports.run` (OneRoster CSV and state-reporting exports: start, status, download), `admin` (everything, including raw rows in reject reports). Person sessions (sessions.ts) carry no scopes.
 * A key also lists the tenants it may act on, or
 * ["*"]. A tenant the key may not see and a tenant that does not exist get the same 403, so keys cannot probe ids.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import { HubError } from '../core/errors';
import type { HubConfig } from '../types/unified.generated';
import { isSecretRef, resolveSecret } from '../core/secrets';
import { looksLikeJwt, type SessionKeys, type PersonSession } from './sessions';

/** The API key scopes: the enum of `apiKeys[].scopes` in schemas/hub-config.schema.json (the one list to extend). */
export type Scope = NonNullable<HubConfig['apiKeys']>[number]['scopes'][number];

export interface Principal {
  /** The key's configured name (safe to log, recorded as reviewer). */
  name: string;
  tenants: '*' | ReadonlySet<string>;
  scopes: ReadonlySet<Scope>;
  /**
   * Set when the caller is a person with a hub session (src/serve/sessions.ts), not a service key. A person has no
   * scopes: only routes declared with `persons: true` accept them, and what they see is decided by src/serve/access.ts.
   */
  person?: PersonSession;
}

interface ConfiguredKey extends Principal {
  hash: Buffer;
}

/** Longer presented keys are refused before hashing. */
const MAX_KEY_LENGTH = 512;

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/**
 * Reads `apiKeys` from the configuration. Throws `secret_missing` when a `key` reference cannot be resolved and
 * `config_invalid` when two entries share a key (their scopes would be ambiguous).
 */
export function loadApiKeys(config: HubConfig, env: NodeJS.ProcessEnv): ConfiguredKey[] {
  const out: ConfiguredKey[] = [];
  const seen = new Map<string, string>();
  for (const [i, k] of (config.apiKeys ?? []).entries()) {
    let hash: Buffer;
    if (typeof k.sha256 === 'string') {
      hash = Buffer.from(k.sha256, 'hex');
    } else if (isSecretRef(k.key)) {
      hash = sha256(resolveSecret(k.key, `$.apiKeys[${i}].key`, env));
    } else {
      throw new HubError('config_invalid', `$.apiKeys[${i}]: give either sha256 or key.`, [{ path: `$.apiKeys[${i}]`, message: 'sha256 or key is required' }]);
    }
    const hex = hash.toString('hex');
    const other = seen.get(hex);
    if (other !== undefined) {
      throw new HubError('config_invalid', `$.apiKeys[${i}]: API keys '${other}' and '${k.name}' are the same key.`, [{ path: `$.apiKeys[${i}]`, message: `same key as '${other}'` }]);
    }
    seen.set(hex, k.name);
    out.push({
      name: k.name,
      hash,
      tenants: k.tenants.includes('*') ? '*' : new Set(k.tenants),
      scopes: new Set(k.scopes as Scope[]),
    });
  }
  return out;
}

/** The key presented by a request: `Authorization: Bearer <key>` wins over `X-API-Key`. */
export function presentedKey(authorization: string | undefined, xApiKey: string | string[] | undefined): { key?: string; problem?: string } {
  if (authorization !== undefined) {
    const m = /^Bearer +([^\s]+) *$/i.exec(authorization);
    if (!m) return { problem: "The Authorization header must be 'Bearer <key>'." };
    return { key: m[1] };
  }
  if (xApiKey !== undefined) {
    if (Array.isArray(xApiKey) || !/^[^\s]+$/.test(xApiKey)) return { problem: 'The X-API-Key header must hold exactly one key.' };
    return { key: xApiKey };
  }
  return {};
}

/** Compares against every configured key (no early exit), in constant time per comparison. */
export function matchKey(keys: readonly ConfiguredKey[], presented: string): ConfiguredKey | undefined {
  if (presented.length > MAX_KEY_LENGTH) return undefined;
  const h = sha256(presented);
  let found: ConfiguredKey | undefined;
  for (const k of keys) {
    if (timingSafeEqual(h, k.hash) && !found) found = k;
  }
  return found;
}

/**
 * Middleware: 401 `unauthenticated` unless a configured key, or (when `sessions` is given) a valid hub session token,
 * is presented; sets `res.locals.principal`.
 */
export function authenticate(keys: readonly ConfiguredKey[], sessions?: SessionKeys): RequestHandler {
  return async (req, res, next) => {
    const { key, problem } = presentedKey(req.headers.authorization, req.headers['x-api-key']);
    if (problem) return next(new HubError('unauthenticated', problem));
    if (key === undefined) return next(new HubError('unauthenticated', 'An API key is required: send Authorization: Bearer <key> or X-API-Key: <key>.'));
    if (sessions && looksLikeJwt(key)) {
      try {
        const person = await sessions.verify(key);
        const principal: Principal = { name: `person:${person.personId}`, tenants: new Set([person.tenantId]), scopes: new Set(), person };
        res.locals.principal = principal;
        return next();
      } catch (e) {
        return next(e);
      }
    }
    const found = matchKey(keys, key);
    if (!found) return next(new HubError('unauthenticated', 'The API key is not valid.'));
    const principal: Principal = { name: found.name, tenants: found.tenants, scopes: found.scopes };
    res.locals.principal = principal;
    next();
  };
}

export function principalOf(res: Response): Principal {
  const p = res.locals.principal as Principal | undefined;
  if (!p) throw new HubError('unauthenticated', 'An API key is required.');
  return p;
}

export function hasScope(p: Principal, scope: Scope): boolean {
  if (p.person) return false;
  return p.scopes.has('admin') || p.scopes.has(scope);
}

export function requireScope(p: Principal, scope: Scope): void {
  if (p.person) throw new HubError('forbidden', 'This route needs a service API key; a personal session cannot use it.', [{ path: 'authorization', message: 'service credential required' }]);
  if (!hasScope(p, scope)) throw new HubError('forbidden', `This API key does not have the '${scope}' scope.`, [{ path: 'scope', message: `requires ${scope}` }]);
}

/** The key may act on the tenant. Existence is checked by the caller, with the same answer. */
export function canSeeTenant(p: Principal, tenantId: string): boolean {
  return p.tenants === '*' || p.tenants.has(tenantId);
}

/** The same answer for a tenant the key may not see and for one that does not exist (the id is not echoed). */
export function tenantForbidden(): HubError {
  return new HubError('forbidden', 'This API key may not act on this tenant.', [{ path: 'tenant', message: 'not allowed for this key' }]);
}
