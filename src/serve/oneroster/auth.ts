/**
 * OAuth 2.0 client credentials for the OneRoster provider (1EdTech Security Framework: RFC 6749 §4.4).
 *
 *  - Clients are configured per tenant (`tenants[].oneroster.clients[]`): clientId (unique across tenants: the
 *    token's client decides the tenant, OneRoster paths carry none), the secret as a secret reference or its SHA-256,
 *    and the scopes the client may ask for.
 *  - `POST /ims/oneroster/token` (application/x-www-form-urlencoded): `grant_type=client_credentials`, optional
 *    `scope` (space-separated; must be a subset of the client's scopes; absent = all of them), client authentication
 *    by HTTP Basic (client_secret_basic) or `client_id` + `client_secret` form fields (client_secret_post), never both.
 *    Secrets are compared by SHA-256 in constant time, and an unknown client costs the same comparison.
 *  - Access tokens are JWTs signed HS256 with the hub's `oneroster` keys (src/serve/signing-keys.ts, kept in the
 *    database, rotatable), so every process and every restart accepts them. Short-lived (default 1 h).
 *    Verification pins the algorithm (`alg: none` and any other alg are refused), issuer, audience and expiry, then
 *    re-checks the client against the current configuration (a removed client or a narrowed scope list takes
 *    effect at once). Verified tokens are cached until they expire (signature checked once per token).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import express, { type RequestHandler, type Request } from 'express';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import type { SigningKeys } from '../signing-keys';
import type { HubConfig } from '../../types/unified.generated';
import { HubError } from '../../core/errors';
import { isSecretRef, resolveSecret } from '../../core/secrets';
import { nowIso } from '../../normalize/canonical';
import { forbidden, unauthorised } from './errors';
import { isOneRosterScope, type OneRosterScope } from './scopes';

export const TOKEN_PATH = '/ims/oneroster/token';
const ISSUER = 'learner-data-hub';
const AUDIENCE = 'oneroster';
const DEFAULT_LIFETIME_S = 3600;
const MAX_SECRET_LENGTH = 512;
const TOKEN_CACHE_MAX = 10_000;

export interface OneRosterClient {
  clientId: string;
  tenantId: string;
  hash: Buffer;
  scopes: ReadonlySet<OneRosterScope>;
  lifetimeSeconds: number;
}

/** What a verified access token grants. `name` identifies the client in logs and the disclosure log. */
export interface OneRosterPrincipal {
  name: string;
  kind: 'oneroster';
  clientId: string;
  tenantId: string;
  scopes: ReadonlySet<OneRosterScope>;
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Reads every tenant's OneRoster clients; secret references are resolved (and hashed) once, here. */
export function loadOneRosterClients(config: HubConfig, env: NodeJS.ProcessEnv): Map<string, OneRosterClient> {
  const out = new Map<string, OneRosterClient>();
  config.tenants.forEach((t, ti) => {
    (t.oneroster?.clients ?? []).forEach((c, ci) => {
      const at = `$.tenants[${ti}].oneroster.clients[${ci}]`;
      let hash: Buffer;
      if (typeof c.sha256 === 'string') hash = Buffer.from(c.sha256, 'hex');
      else if (isSecretRef(c.secret)) hash = sha256(resolveSecret(c.secret, `${at}.secret`, env));
      else throw new HubError('config_invalid', `${at}: give either secret or sha256.`, [{ path: at, message: 'secret or sha256 is required' }]);
      if (out.has(c.clientId)) {
        throw new HubError('config_invalid', `${at}.clientId: OneRoster client '${c.clientId}' is configured twice (client ids are unique across tenants).`, [{ path: `${at}.clientId`, message: 'duplicate clientId' }]);
      }
      out.set(c.clientId, { clientId: c.clientId, tenantId: t.id, hash, scopes: new Set(c.scopes as OneRosterScope[]), lifetimeSeconds: t.oneroster?.tokenLifetimeSeconds ?? DEFAULT_LIFETIME_S });
    });
  });
  return out;
}

// ------------------------------------------------------------------------------------------------------------
// Token endpoint (RFC 6749 §4.4, errors §5.2)

class OAuthError extends Error {
  constructor(
    readonly status: number,
    readonly error: 'invalid_request' | 'invalid_client' | 'unsupported_grant_type' | 'invalid_scope' | 'unauthorized_client',
    readonly description: string,
    readonly basic = false,
  ) {
    super(description);
  }
}

/** client_id:client_secret from a Basic header; both parts are form-urlencoded first (RFC 6749 §2.3.1). */
export function parseBasic(header: string): { id: string; secret: string } | undefined {
  const m = /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(header);
  if (!m) return undefined;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const i = text.indexOf(':');
  if (i < 0) return undefined;
  try {
    const dec = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    return { id: dec(text.slice(0, i)), secret: dec(text.slice(i + 1)) };
  } catch {
    return undefined;
  }
}

const DUMMY_HASH = sha256('no such client');

/** Authenticates the client in constant time per comparison; an unknown client id costs the same work. */
export function authenticateClient(clients: ReadonlyMap<string, OneRosterClient>, id: string, secret: string): OneRosterClient | undefined {
  if (secret.length > MAX_SECRET_LENGTH || id.length > 256) return undefined;
  const client = clients.get(id);
  const ok = timingSafeEqual(sha256(secret), client?.hash ?? DUMMY_HASH);
  return client && ok ? client : undefined;
}

function field(body: Record<string, unknown>, name: string): string | undefined {
  const v = body[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new OAuthError(400, 'invalid_request', `${name} must be given once`);
  return v;
}

export function tokenRouter(clients: ReadonlyMap<string, OneRosterClient>, keys: SigningKeys): express.Router {
  const router = express.Router();
  router.post(TOKEN_PATH, express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 20 }), async (req, res) => {
    res.locals.route = TOKEN_PATH;
    res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
    try {
      if (!req.is('application/x-www-form-urlencoded')) throw new OAuthError(400, 'invalid_request', 'the token request must be sent as application/x-www-form-urlencoded');
      const body = (req.body ?? {}) as Record<string, unknown>;
      const basic = req.headers.authorization;
      const postId = field(body, 'client_id');
      const postSecret = field(body, 'client_secret');
      let id: string;
      let secret: string;
      if (basic !== undefined) {
        if (postSecret !== undefined) throw new OAuthError(400, 'invalid_request', 'use one client authentication method: HTTP Basic or client_secret in the body, not both');
        const creds = parseBasic(basic);
        if (!creds) throw new OAuthError(401, 'invalid_client', "the Authorization header must be 'Basic base64(client_id:client_secret)'", true);
        if (postId !== undefined && postId !== creds.id) throw new OAuthError(400, 'invalid_request', 'client_id in the body differs from the one in the Authorization header');
        ({ id, secret } = creds);
      } else {
        if (postId === undefined || postSecret === undefined) throw new OAuthError(401, 'invalid_client', 'client authentication is required: HTTP Basic, or client_id and client_secret in the body', true);
        id = postId;
        secret = postSecret;
      }
      const client = authenticateClient(clients, id, secret);
      if (!client) throw new OAuthError(401, 'invalid_client', 'unknown client or wrong secret', basic !== undefined);
      res.locals.principal = { name: `oneroster:${client.clientId}` };
      const grant = field(body, 'grant_type');
      if (grant === undefined) throw new OAuthError(400, 'invalid_request', 'grant_type is required (client_credentials)');
      if (grant !== 'client_credentials') throw new OAuthError(400, 'unsupported_grant_type', `grant_type '${grant.slice(0, 40)}' is not supported: only client_credentials`);
      const asked = field(body, 'scope');
      let granted: OneRosterScope[];
      if (asked === undefined || asked.trim() === '') granted = [...client.scopes];
      else {
        granted = [];
        for (const s of asked.trim().split(/ +/)) {
          if (!isOneRosterScope(s)) throw new OAuthError(400, 'invalid_scope', `scope '${s.slice(0, 120)}' is not a OneRoster 1.2 scope`);
          if (!client.scopes.has(s)) throw new OAuthError(400, 'invalid_scope', `scope '${s}' is not allowed for this client`);
          if (!granted.includes(s)) granted.push(s);
        }
      }
      const { kid, key: secretKey } = await keys.signingKey();
      const scope = granted.join(' ');
      const token = await new SignJWT({ scope, tid: client.tenantId })
        .setProtectedHeader({ alg: 'HS256', kid, typ: 'at+jwt' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject(client.clientId)
        .setIssuedAt()
        .setJti(randomBytes(12).toString('base64url'))
        .setExpirationTime(Math.floor(Date.now() / 1000) + client.lifetimeSeconds)
        .sign(secretKey);
      res.json({ access_token: token, token_type: 'bearer', expires_in: client.lifetimeSeconds, scope });
    } catch (e) {
      if (!(e instanceof OAuthError)) throw e;
      res.locals.errorCode = e.error;
      if (e.status === 401) res.set('WWW-Authenticate', e.basic ? 'Basic realm="oneroster"' : 'Bearer realm="oneroster"');
      res.status(e.status).json({ error: e.error, error_description: e.description });
    }
  });
  return router;
}

// ------------------------------------------------------------------------------------------------------------
// Bearer tokens on the OneRoster routes

export interface TokenVerifier {
  verify(token: string): Promise<OneRosterPrincipal>;
}

export function tokenVerifier(clients: ReadonlyMap<string, OneRosterClient>, keys: SigningKeys): TokenVerifier {
  const cache = new Map<string, { p: OneRosterPrincipal; exp: number }>();
  return {
    async verify(token) {
      const hit = cache.get(token);
      if (hit) {
        if (hit.exp * 1000 > Date.now()) return hit.p;
        cache.delete(token);
      }
      if (token.length > 4096) throw unauthorised('The access token is not valid.');
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jwtVerify(token, async (header) => {
          const k = typeof header.kid === 'string' ? await keys.verificationKey(header.kid) : undefined;
          if (!k) throw new Error('unknown kid');
          return k;
        }, { algorithms: ['HS256'], issuer: ISSUER, audience: AUDIENCE, requiredClaims: ['exp', 'sub', 'scope', 'tid'] }));
      } catch (e) {
        if (e instanceof joseErrors.JWTExpired) throw unauthorised('The access token has expired: request a new one.');
        throw unauthorised('The access token is not valid.');
      }
      const client = typeof payload.sub === 'string' ? clients.get(payload.sub) : undefined;
      if (!client || payload.tid !== client.tenantId || typeof payload.scope !== 'string') throw unauthorised('The access token is not valid (unknown client).');
      const scopes = new Set<OneRosterScope>();
      for (const s of payload.scope.split(' ')) if (isOneRosterScope(s) && client.scopes.has(s)) scopes.add(s);
      const p: OneRosterPrincipal = { name: `oneroster:${client.clientId}`, kind: 'oneroster', clientId: client.clientId, tenantId: client.tenantId, scopes };
      if (cache.size >= TOKEN_CACHE_MAX) cache.clear();
      cache.set(token, { p, exp: payload.exp as number });
      return p;
    },
  };
}

/** Middleware: 401 unless a valid bearer token is presented; sets `res.locals.principal` (a OneRosterPrincipal) and `res.locals.tenantId`. */
export function bearer(verifier: TokenVerifier): RequestHandler {
  return (req, res, next) => {
    const h = req.headers.authorization;
    if (h === undefined) return next(unauthorised('An access token is required: Authorization: Bearer <token> (POST /ims/oneroster/token for one).'));
    const m = /^Bearer +([A-Za-z0-9._~+/=-]+) *$/i.exec(h);
    if (!m) return next(unauthorised("The Authorization header must be 'Bearer <access token>'."));
    verifier.verify(m[1]).then((p) => {
      res.locals.principal = p;
      // The disclosure log records answers under this tenant (OneRoster paths have no :tenant).
      res.locals.tenantId = p.tenantId;
      next();
    }, next);
  };
}

export function orPrincipal(req: Request): OneRosterPrincipal {
  const p = (req.res?.locals.principal ?? undefined) as OneRosterPrincipal | undefined;
  if (!p || p.kind !== 'oneroster') throw unauthorised('An access token is required.');
  return p;
}

/** The route's scopes: any one of them grants it (the OpenAPI lists alternatives, e.g. roster-core OR roster). */
export function requireAnyScope(p: OneRosterPrincipal, scopes: readonly OneRosterScope[]): void {
  if (!scopes.some((s) => p.scopes.has(s))) throw forbidden(`This access token lacks the scope this endpoint needs (${scopes.join(' or ')}).`);
}
