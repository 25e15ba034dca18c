/**
 * What happens after ltijs has verified an id_token (signature by `kid` from the platform's JWKS, issuer + audience =
 * a registered platform, alg RS256, iat age, nonce unused, required LTI claims): the hub's own checks, then identity,
 * then a hub session and a redirect to the page.
 *
 * Hub checks, each refused with a page and a logged reason code (never token contents or student data):
 *  - the `state` is one this hub issued at login, unexpired and not used before (claimed once);
 *  - the `nonce` is exactly the one sent with that login (ltijs only checks it was not seen before);
 *  - the issuer is the one the login named;
 *  - the `deployment_id` is registered (to a tenant) for this issuer + client_id, and the registration is active.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import { decodeJwt } from 'jose';
import type { LoadedConfig } from '../../core/config';
import { findTenant } from '../../core/config';
import type { Logger } from '../../core/logger';
import type { Db } from '../../store/db';
import { learnersOfGuardian } from '../access';
import { linkGuardian } from '../people';
import { sessionKeys, type PersonRole } from '../sessions';
import { CLAIM, mapRoles, rememberIdentity, resolveContext, resolvePerson } from './identity';
import { claimState, type LtijsIdToken } from './ltijs';
import type { Registrations } from './registrations';
import { href, messagePage } from './views';

/** Why a launch was refused: the code is logged, the text shown. */
export const REFUSALS: Record<string, { status: number; text: string }> = {
  bad_signature: { status: 401, text: "The launch message's signature does not verify with the platform's published keys." },
  unknown_kid: { status: 401, text: 'The launch message was signed with a key (kid) the platform does not publish.' },
  no_kid: { status: 401, text: 'The launch message names no signing key (kid).' },
  unknown_platform: { status: 401, text: 'No platform with this issuer and client id (audience) is registered with the hub.' },
  platform_inactive: { status: 403, text: 'This platform registration is switched off in the hub.' },
  deployment_unknown: { status: 401, text: 'This deployment of the tool is not registered with the hub for any district.' },
  expired: { status: 401, text: 'The launch message has expired; start the tool again from your course.' },
  too_old: { status: 401, text: 'The launch message is too old; start the tool again from your course.' },
  not_yet_valid: { status: 401, text: 'The launch message is not valid yet (check the clocks).' },
  replayed: { status: 401, text: 'This launch message was already used; start the tool again from your course.' },
  state_unknown: { status: 401, text: 'This launch does not belong to a sign-in the hub started, or that sign-in expired or was already used.' },
  nonce_mismatch: { status: 401, text: 'The launch message does not answer the sign-in request the hub sent (nonce).' },
  issuer_mismatch: { status: 401, text: 'The launch message comes from a different platform than the sign-in it answers.' },
  missing_claim: { status: 400, text: 'The launch message lacks a claim LTI 1.3 requires.' },
  wrong_version: { status: 400, text: 'The launch message is not LTI 1.3.0.' },
  bad_message_type: { status: 400, text: 'The launch message type is not one the hub handles.' },
  bad_alg: { status: 401, text: 'The launch message is not signed with RS256.' },
  malformed: { status: 400, text: 'The launch message is not a well-formed signed token.' },
  no_id_token: { status: 400, text: 'No launch message (id_token) was posted.' },
  jwks_unavailable: { status: 502, text: "The platform's public keys could not be fetched." },
  person_unmatched: { status: 403, text: 'Your LMS account is not linked to a person in the hub yet. Ask your district to sync rosters.' },
  invalid: { status: 401, text: 'The launch was refused.' },
};

/** ltijs's error messages -> refusal codes. */
export function refusalOf(message: string): { code: string; claim?: string } {
  const m = message.trim();
  if (m === 'invalid signature') return { code: 'bad_signature' };
  if (m === 'KEY_NOT_FOUND') return { code: 'unknown_kid' };
  if (m === 'KID_NOT_FOUND') return { code: 'no_kid' };
  if (m === 'UNREGISTERED_PLATFORM' || m === 'PLATFORM_NOT_FOUND') return { code: 'unknown_platform' };
  if (m === 'PLATFORM_NOT_ACTIVATED') return { code: 'platform_inactive' };
  if (m === 'jwt expired') return { code: 'expired' };
  if (m === 'jwt not active') return { code: 'not_yet_valid' };
  if (m === 'TOKEN_TOO_OLD') return { code: 'too_old' };
  if (m === 'NONCE_ALREADY_RECEIVED') return { code: 'replayed' };
  if (m === 'ISS_CLAIM_DOES_NOT_MATCH') return { code: 'issuer_mismatch' };
  if (m === 'ALG_NOT_RS256' || m === 'invalid algorithm') return { code: 'bad_alg' };
  if (m === 'WRONG_LTI_VERSION_CLAIM') return { code: 'wrong_version' };
  if (m === 'NO_MESSAGE_TYPE_CLAIM') return { code: 'bad_message_type', claim: 'message_type' };
  const claim = /^NO_([A-Z_]+)_CLAIM$/.exec(m);
  if (claim) return { code: 'missing_claim', claim: claim[1].toLowerCase() };
  if (m === 'INVALID_JWT_RECEIVED' || m.startsWith('jwt malformed') || m === 'invalid token') return { code: 'malformed' };
  if (m === 'NO_LTIK_OR_IDTOKEN_FOUND') return { code: 'no_id_token' };
  if (m === 'KEYSET_NOT_FOUND' || /^Response code|ECONNREFUSED|ENOTFOUND|Timeout/.test(m)) return { code: 'jwks_unavailable' };
  return { code: 'invalid' };
}

export class LaunchRefused extends Error {
  constructor(readonly code: string, readonly claim?: string, readonly registrationId?: string) {
    super(code);
  }
}

/** CSRF token of a session: an HMAC of the session token itself (forms carry both; a forger has neither). */
export function csrfOf(sessionToken: string): string {
  return createHmac('sha256', sessionToken).update('lti-form').digest('base64url');
}

export interface LaunchDeps {
  db: Db;
  config: LoadedConfig;
  log: Logger;
  env: NodeJS.ProcessEnv;
  registrations: Registrations;
  /** Called after a teacher launch in a context with AGS (grade passback for that context, in the background). */
  onContext?: (tenantId: string, registrationId: string, contextId: string) => void;
}

export function refuse(deps: Pick<LaunchDeps, 'log'>, res: Response, code: string, extra: { claim?: string; registrationId?: string } = {}): void {
  const r = REFUSALS[code] ?? REFUSALS.invalid;
  const ref = (res.locals.reqId as string | undefined) ?? createHash('sha256').update(String(Date.now())).digest('hex').slice(0, 12);
  deps.log.warn({ reqId: res.locals.reqId, reason: code, ...(extra.claim ? { claim: extra.claim } : {}), ...(extra.registrationId ? { registration: extra.registrationId } : {}) }, 'lti launch refused');
  res.locals.errorCode = 'lti_launch_refused';
  res.status(r.status);
  res.set({ 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': "default-src 'none'; style-src 'self'; frame-ancestors *", 'Cache-Control': 'no-store' });
  res.send(messagePage({ base: '', title: 'Launch refused', heading: 'The hub could not open this launch', message: `${r.text}${extra.claim ? ` (claim: ${extra.claim})` : ''}`, ref: `${code} ${ref}`, error: true }));
}

/** The page a launch lands on, by message type, custom parameter and role. */
async function landing(deps: LaunchDeps, tenantId: string, personId: string, roles: PersonRole[], classId: string | undefined, view: string | undefined, messageType: string): Promise<string> {
  if (messageType === 'LtiDeepLinkingRequest') return '/deep-link';
  const staff = roles.includes('teacher') || roles.includes('administrator');
  if (view === 'my-plan') {
    if (roles.includes('student')) return `/learner/${encodeURIComponent(personId)}`;
    if (roles.includes('guardian')) return '/my-learners';
  }
  if (staff && classId) return `/class/${encodeURIComponent(classId)}`;
  if (roles.includes('student')) return `/learner/${encodeURIComponent(personId)}`;
  if (roles.includes('guardian')) return '/my-learners';
  if (staff) return '/no-class';
  void deps;
  void tenantId;
  return '/no-role';
}

/** The launch handler ltijs calls with a verified token (`res.locals.token`). */
export async function handleLaunch(deps: LaunchDeps, token: LtijsIdToken, req: Request, res: Response): Promise<void> {
  res.locals.route = '/lti/launch';
  const idToken = typeof req.body?.id_token === 'string' ? (req.body.id_token as string) : '';
  const state = typeof req.body?.state === 'string' ? (req.body.state as string) : '';
  // Verified by ltijs a moment ago; decoded again for the claims its token view leaves out (nonce, mentor scope).
  const claims = decodeJwt(idToken) as Record<string, unknown>;
  const login = state ? await claimState(state) : undefined;
  if (!login) return refuse(deps, res, 'state_unknown');
  if (typeof claims.nonce !== 'string' || claims.nonce !== login.nonce) return refuse(deps, res, 'nonce_mismatch');
  if (claims.iss !== login.issuer) return refuse(deps, res, 'issuer_mismatch');
  const reg = await deps.registrations.findDeployment(token.iss, token.clientId, token.deploymentId);
  if (!reg) return refuse(deps, res, 'deployment_unknown');
  if (!reg.active) return refuse(deps, res, 'platform_inactive', { registrationId: reg.id });
  const tenant = findTenant(deps.config.config, reg.tenantId);
  if (!tenant) return refuse(deps, res, 'deployment_unknown', { registrationId: reg.id });

  const messageType = String(claims[CLAIM.messageType] ?? '');
  let roles = mapRoles(claims[CLAIM.roles]);
  const lis = (claims[CLAIM.lis] ?? {}) as { person_sourcedid?: string; course_section_sourcedid?: string };
  const match = await resolvePerson(deps.db, tenant, reg.issuer, { sub: String(claims.sub), email: typeof claims.email === 'string' ? claims.email : undefined, personSourcedId: lis.person_sourcedid });
  if (!match) return refuse(deps, res, 'person_unmatched', { registrationId: reg.id });
  await rememberIdentity(deps.db, tenant.id, reg.issuer, String(claims.sub), match.personId, match.matchedBy, true);

  let classId: string | undefined;
  const context = claims[CLAIM.context] as { id?: string; title?: string; label?: string } | undefined;
  if (context?.id) {
    const ags = claims[CLAIM.ags] as { lineitems?: string; scope?: string[] } | undefined;
    const nrps = claims[CLAIM.nrps] as { context_memberships_url?: string } | undefined;
    classId = await resolveContext(deps.db, tenant, reg, {
      id: context.id, title: context.title, label: context.label, courseSectionSourcedId: lis.course_section_sourcedid,
      lineitemsUrl: ags?.lineitems, agsScopes: ags?.scope, membershipsUrl: nrps?.context_memberships_url,
    });
    if (ags?.lineitems && roles.includes('teacher')) deps.onContext?.(tenant.id, reg.id, context.id);
  }
  // A mentor launch names the learners it mentors (their subs on this platform): those become guardianships.
  if (roles.includes('guardian')) {
    const mentees = claims[CLAIM.roleScopeMentor];
    if (Array.isArray(mentees)) {
      for (const sub of mentees.filter((x): x is string => typeof x === 'string').slice(0, 200)) {
        const row = (await deps.db.knex('lti_identities').where({ tenant_id: tenant.id, issuer: reg.issuer, sub }).first('person_id')) as { person_id: string } | undefined;
        if (row && row.person_id !== match.personId) await linkGuardian(deps.db, tenant.id, match.personId, row.person_id, 'mentor', `lti:${reg.id}`);
      }
    }
    if (!(await learnersOfGuardian(deps.db, tenant.id, match.personId)).length && roles.length === 1) roles = ['guardian'];
  }
  if (!roles.length) {
    // A valid launch with no role the hub has a view for (empty, unknown or e.g. ContentDeveloper roles).
    res.status(200).set({ 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': `default-src 'none'; style-src 'self'; frame-ancestors ${reg.frameOrigins.join(' ') || "'none'"}` });
    res.send(messagePage({ base: '', title: 'Learner Data Hub', heading: 'Nothing to show for your role', message: 'The hub has views for teachers, students, mentors and administrators; your role in this course is none of these.' }));
    return;
  }
  const ttl = tenant.lti?.sessionTtlSeconds ?? 3600;
  const session = await sessionKeys(deps.db, deps.env).issue({ tenantId: tenant.id, personId: match.personId, roles, via: `lti:${reg.issuer}`, ttlSeconds: ttl });
  const custom = (claims[CLAIM.custom] ?? {}) as Record<string, unknown>;
  let target = await landing(deps, tenant.id, match.personId, roles, classId, typeof custom.hub_view === 'string' ? custom.hub_view : undefined, messageType);
  if (messageType === 'LtiDeepLinkingRequest') {
    const dl = claims[CLAIM.dlSettings] as Record<string, unknown> | undefined;
    if (!dl || typeof dl.deep_link_return_url !== 'string' || !Array.isArray(dl.accept_types)) return refuse(deps, res, 'missing_claim', { claim: 'deep_linking_settings', registrationId: reg.id });
    if (!roles.includes('teacher') && !roles.includes('administrator')) target = '/no-role';
    else target = `/deep-link?d=${encodeURIComponent(sealDeepLink(session.token, { registrationId: reg.id, settings: dl, contextId: context?.id }))}`;
  }
  deps.log.info({ reqId: res.locals.reqId, registration: reg.id, tenant: tenant.id, roles, messageType, matchedBy: match.matchedBy, hasClass: !!classId }, 'lti launch');
  res.redirect(303, href('', target, session.token));
}

/**
 * Deep-linking settings travel with the page (the `d` parameter), signed with an HMAC keyed by the session token,
 * so any hub process can answer the teacher's choice and nobody without the session can forge them.
 */
export function sealDeepLink(sessionToken: string, v: { registrationId: string; settings: Record<string, unknown>; contextId?: string }): string {
  const body = Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${body}.${createHmac('sha256', sessionToken).update(`dl:${body}`).digest('base64url')}`;
}

export function openDeepLink(sessionToken: string, sealed: string): { registrationId: string; settings: Record<string, unknown>; contextId?: string } | undefined {
  const [body, mac] = sealed.split('.');
  if (!body || !mac) return undefined;
  const want = createHmac('sha256', sessionToken).update(`dl:${body}`).digest();
  const got = Buffer.from(mac, 'base64url');
  if (got.length !== want.length || !timingSafeEqual(got, want)) return undefined;
  return JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as { registrationId: string; settings: Record<string, unknown>; contextId?: string };
}
