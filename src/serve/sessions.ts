/**
 * Hub sessions: short-lived tokens that let a *person* (a teacher, a student, a guardian, a school administrator)
 * call the learner routes, as opposed to API keys, which are service credentials. An LTI launch issues one; so can a
 * district's own portal through `POST /api/v1/tenants/:t/sessions` (scope `sessions.issue`) after its own sign-in.
 *
 * A session token is a JWT (HS256, jose) signed with the hub's `session` keys (src/serve/signing-keys.ts: shared by
 * every process on the same database, rotatable). It names the tenant, the unified person id and the roles the
 * person acts in; what the person may see is decided per request from the data (src/serve/access.ts), never from
 * the token alone.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { HubError } from '../core/errors';
import type { Db } from '../store/db';
import { SigningKeys } from './signing-keys';

export const PERSON_ROLES = ['student', 'guardian', 'teacher', 'administrator'] as const;
export type PersonRole = (typeof PERSON_ROLES)[number];

export interface PersonSession {
  tenantId: string;
  personId: string;
  roles: ReadonlySet<PersonRole>;
  /** Who vouched for the person: `lti:<issuer>` or `api:<key name>`. Safe to log. */
  via: string;
  /** Token id, for audit. */
  jti: string;
  expiresAt: string;
}

const ISSUER = 'urn:learner-data-hub';
const AUDIENCE = 'urn:learner-data-hub:session';
export const MAX_TTL_SECONDS = 12 * 3600;
export const DEFAULT_TTL_SECONDS = 3600;

/** A token has the shape of a JWT (API keys never contain dots). */
export function looksLikeJwt(s: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(s);
}

export class SessionKeys extends SigningKeys {
  constructor(db: Db, env: NodeJS.ProcessEnv = process.env) {
    super(db, 'session', MAX_TTL_SECONDS, env);
  }

  async issue(s: { tenantId: string; personId: string; roles: readonly PersonRole[]; via: string; ttlSeconds?: number }): Promise<{ token: string; expiresAt: string; jti: string }> {
    const ttl = s.ttlSeconds ?? DEFAULT_TTL_SECONDS;
    if (!Number.isInteger(ttl) || ttl < 60 || ttl > MAX_TTL_SECONDS) throw new HubError('bad_request', `ttlSeconds: must be an integer between 60 and ${MAX_TTL_SECONDS}`, [{ path: 'ttlSeconds', message: `60..${MAX_TTL_SECONDS}` }]);
    const { kid, key } = await this.signingKey();
    const jti = randomUUID();
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ tid: s.tenantId, roles: [...s.roles], via: s.via })
      .setProtectedHeader({ alg: 'HS256', kid, typ: 'JWT' })
      .setIssuer(ISSUER).setAudience(AUDIENCE).setSubject(s.personId).setJti(jti)
      .setIssuedAt(now).setExpirationTime(now + ttl)
      .sign(key);
    return { token, expiresAt: new Date((now + ttl) * 1000).toISOString(), jti };
  }

  /** Verifies a session token; every refusal is `unauthenticated` with a reason that names the claim. */
  async verify(token: string): Promise<PersonSession> {
    const refuse = (why: string) => new HubError('unauthenticated', `The session token is not valid: ${why}.`);
    let payload: JWTPayload;
    try {
      const r = await jwtVerify(token, async (header) => {
        if (header.alg !== 'HS256') throw refuse(`alg '${String(header.alg)}' is not accepted`);
        if (typeof header.kid !== 'string') throw refuse('no kid');
        const k = await this.verificationKey(header.kid);
        if (!k) throw refuse('unknown or expired signing key (kid)');
        return k;
      }, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'], maxTokenAge: MAX_TTL_SECONDS, requiredClaims: ['sub', 'exp', 'iat', 'jti'] });
      payload = r.payload;
    } catch (e) {
      if (e instanceof HubError) throw e;
      if (e instanceof joseErrors.JWTExpired) throw refuse('expired (exp)');
      if (e instanceof joseErrors.JWTClaimValidationFailed) throw refuse(`claim '${e.claim}' ${e.reason === 'missing' ? 'is missing' : 'does not match'}`);
      if (e instanceof joseErrors.JWSSignatureVerificationFailed) throw refuse('bad signature');
      throw refuse('malformed');
    }
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is PersonRole => (PERSON_ROLES as readonly string[]).includes(r as string)) : [];
    if (typeof payload.tid !== 'string' || !payload.tid) throw refuse("claim 'tid' is missing");
    if (!roles.length) throw refuse("claim 'roles' names no known role");
    return {
      tenantId: payload.tid, personId: payload.sub!, roles: new Set(roles), via: typeof payload.via === 'string' ? payload.via : 'unknown',
      jti: payload.jti!, expiresAt: new Date(payload.exp! * 1000).toISOString(),
    };
  }
}

const sessionKeysByDb = new WeakMap<Db, SessionKeys>();

/** One SessionKeys per database handle (the CLI and the app share it). */
export function sessionKeys(db: Db, env: NodeJS.ProcessEnv = process.env): SessionKeys {
  let k = sessionKeysByDb.get(db);
  if (!k) {
    k = new SessionKeys(db, env);
    sessionKeysByDb.set(db, k);
  }
  return k;
}
