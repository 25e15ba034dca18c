/**
 * A small LTI 1.3 platform for tests (jose + express on port 0): OIDC authorization endpoint (answers with the
 * auto-posting form a real LMS sends), JWKS, OAuth 2 token endpoint that verifies the tool's client assertion against
 * the tool's published JWKS, AGS line items and scores, NRPS memberships with paging and a `differences` link,
 * the deep-linking return endpoint (verifies the tool's signed response) and Dynamic Registration.
 *
 * Launch scenarios: the test registers users (`sub` -> claims) and launch hints; `login_hint` names the user and
 * `lti_message_hint` the launch (context, message type, extra claims, and deliberate faults).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';
import express from 'express';
import { SignJWT, createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify, type JWK, type JWTPayload, type CryptoKey } from 'jose';

export const ROLE = {
  instructor: 'http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor',
  learner: 'http://purl.imsglobal.org/vocab/lis/v2/membership#Learner',
  mentor: 'http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor',
  admin: 'http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator',
};

export interface FakeUser {
  sub: string;
  roles: string[];
  given_name?: string;
  family_name?: string;
  email?: string;
  personSourcedId?: string;
  /** role_scope_mentor */
  mentees?: string[];
}

export interface LaunchHint {
  messageType?: 'LtiResourceLinkRequest' | 'LtiDeepLinkingRequest';
  context?: { id: string; title?: string; courseSectionSourcedId?: string };
  deploymentId?: string;
  clientId?: string;
  custom?: Record<string, string>;
  ags?: boolean;
  nrps?: boolean;
  /** Faults. */
  signWith?: 'other-key' | 'unknown-kid' | 'no-kid';
  audience?: string;
  expiresIn?: number;
  iatOffset?: number;
  nonce?: string;
  drop?: string[];
  issuer?: string;
}

export interface Member {
  user_id: string;
  roles: string[];
  status?: 'Active' | 'Inactive' | 'Deleted';
  given_name?: string;
  family_name?: string;
  name?: string;
  email?: string;
  lis_person_sourcedid?: string;
}

export class FakeLms {
  url = '';
  issuer = '';
  clientId = 'hub-client';
  deploymentId = 'dep-1';
  toolJwksUrl = '';
  users = new Map<string, FakeUser>();
  hints = new Map<string, LaunchHint>();
  lineItems: { id: string; label: string; scoreMaximum: number; resourceId?: string; tag?: string }[] = [];
  scores: { lineItem: string; score: Record<string, unknown> }[] = [];
  failScores = 0;
  memberships = new Map<string, Member[]>();
  /** Members changed since the last full read, per context (served at the differences link). */
  differences = new Map<string, Member[]>();
  tokenRequests: { scope: string; ok: boolean; reason?: string }[] = [];
  deepLinkResponses: JWTPayload[] = [];
  registrations: Record<string, unknown>[] = [];
  registrationToken = 'reg-token-123';
  private server?: http.Server;
  private key!: CryptoKey;
  private otherKey!: CryptoKey;
  private jwk!: JWK;
  private kid = 'platform-key-1';
  private tokens = new Map<string, string>();

  async start(): Promise<this> {
    const kp = await generateKeyPair('RS256', { extractable: true });
    this.key = kp.privateKey;
    this.jwk = { ...(await exportJWK(kp.publicKey)), kid: this.kid, alg: 'RS256', use: 'sig' };
    this.otherKey = (await generateKeyPair('RS256')).privateKey;
    const app = express();
    app.use(express.urlencoded({ extended: false }));
    app.use(express.json({ type: ['application/json', 'application/*+json'] }));
    app.get('/jwks', (_req, res) => res.json({ keys: [this.jwk] }));
    // A course page that embeds the tool the way an LMS does: an iframe starting at the tool's login initiation URL.
    app.get('/course', (req, res) => {
      const q = req.query as Record<string, string>;
      const login = new URLSearchParams({ iss: this.issuer, login_hint: q.user, lti_message_hint: q.hint, target_link_uri: `${q.tool}/lti/launch`, client_id: this.clientId, lti_deployment_id: this.deploymentId });
      res.type('html').send(`<!doctype html><html lang="en"><head><title>Fake LMS course</title></head><body><h1>Fake LMS: Algebra</h1><iframe id="tool" title="Learner Data Hub" src="${q.tool}/lti/login?${login}" width="1100" height="800" allow="clipboard-write"></iframe></body></html>`);
    });
    app.get('/auth', async (req, res) => {
      const q = req.query as Record<string, string>;
      if (q.response_type !== 'id_token' || q.scope !== 'openid' || q.response_mode !== 'form_post' || q.prompt !== 'none') return res.status(400).send('bad auth request');
      const token = await this.idToken(q.login_hint, q.lti_message_hint, q.nonce, q.client_id);
      res.type('html').send(`<!doctype html><html><body><form id="f" method="post" action="${q.redirect_uri}"><input type="hidden" name="id_token" value="${token}"><input type="hidden" name="state" value="${q.state}"></form><script>document.getElementById('f').submit()</script></body></html>`);
    });
    app.post('/token', async (req, res) => {
      const b = req.body as Record<string, string>;
      const record = (ok: boolean, reason?: string) => this.tokenRequests.push({ scope: b.scope ?? '', ok, reason });
      if (b.grant_type !== 'client_credentials' || b.client_assertion_type !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
        record(false, 'grant');
        return res.status(400).json({ error: 'unsupported_grant_type' });
      }
      try {
        const jwks = createRemoteJWKSet(new URL(this.toolJwksUrl), { cacheMaxAge: 0, cooldownDuration: 0 });
        const { payload } = await jwtVerify(b.client_assertion, jwks, { issuer: this.clientId, subject: this.clientId, audience: `${this.url}/token` });
        if (!payload.jti) throw new Error('no jti');
      } catch (e) {
        record(false, (e as Error).message);
        return res.status(401).json({ error: 'invalid_client' });
      }
      record(true);
      const t = randomBytes(16).toString('hex');
      this.tokens.set(t, b.scope ?? '');
      res.json({ access_token: t, token_type: 'bearer', expires_in: 3600, scope: b.scope });
    });
    const bearer = (...scopes: string[]): express.RequestHandler => (req, res, next) => {
      const m = /^Bearer (.+)$/i.exec(req.get('authorization') ?? '');
      const granted = m ? this.tokens.get(m[1]) : undefined;
      if (granted === undefined || !granted.split(' ').some((s) => scopes.some((x) => s.endsWith(`/scope/${x}`)))) return res.status(401).json({ error: 'unauthorized' });
      next();
    };
    app.get('/lineitems', bearer('lineitem', 'lineitem.readonly'), (req, res) => {
      const rid = req.query.resource_id;
      res.type('application/vnd.ims.lis.v2.lineitemcontainer+json').send(JSON.stringify(this.lineItems.filter((l) => !rid || l.resourceId === rid)));
    });
    app.post('/lineitems', bearer('lineitem'), (req, res) => {
      const b = req.body as { label?: string; scoreMaximum?: number; resourceId?: string; tag?: string };
      if (!b.label || !(Number(b.scoreMaximum) > 0)) return res.status(400).json({ error: 'label and scoreMaximum > 0 required' });
      const li = { id: `${this.url}/lineitems/${this.lineItems.length + 1}`, label: b.label, scoreMaximum: Number(b.scoreMaximum), resourceId: b.resourceId, tag: b.tag };
      this.lineItems.push(li);
      res.status(201).type('application/vnd.ims.lis.v2.lineitem+json').send(JSON.stringify(li));
    });
    app.get('/lineitems/:n', bearer('lineitem', 'lineitem.readonly'), (req, res) => {
      const li = this.lineItems.find((l) => l.id === `${this.url}/lineitems/${req.params.n}`);
      if (!li) return res.status(404).end();
      res.json(li);
    });
    app.post('/lineitems/:n/scores', bearer('score'), (req, res) => {
      if (!String(req.get('content-type')).startsWith('application/vnd.ims.lis.v1.score+json')) return res.status(415).end();
      if (this.failScores > 0) {
        this.failScores--;
        return res.status(503).json({ error: 'try later' });
      }
      const s = req.body as Record<string, unknown>;
      for (const f of ['userId', 'timestamp', 'activityProgress', 'gradingProgress']) if (s[f] === undefined) return res.status(400).json({ error: `${f} required` });
      if (s.scoreGiven !== undefined && s.scoreMaximum === undefined) return res.status(400).json({ error: 'scoreMaximum required with scoreGiven' });
      this.scores.push({ lineItem: `${this.url}/lineitems/${req.params.n}`, score: s });
      res.status(200).json({});
    });
    app.get('/memberships/:ctx', bearer('contextmembership.readonly'), (req, res) => {
      const ctx = String(req.params.ctx);
      const diff = req.query.since !== undefined;
      const all = diff ? (this.differences.get(ctx) ?? []) : (this.memberships.get(ctx) ?? []);
      const limit = Math.max(1, Number(req.query.limit ?? 10));
      const offset = Number(req.query.offset ?? 0);
      const page = all.slice(offset, offset + limit);
      const links: string[] = [];
      const base = `${this.url}/memberships/${ctx}`;
      if (offset + limit < all.length) links.push(`<${base}?${diff ? 'since=1&' : ''}limit=${limit}&offset=${offset + limit}>; rel="next"`);
      else links.push(`<${base}?since=1>; rel="differences"`);
      res.set('Link', links.join(', ')).type('application/vnd.ims.lti-nrps.v2.membershipcontainer+json')
        .send(JSON.stringify({ id: `${base}`, context: { id: ctx, title: `Course ${ctx}` }, members: page }));
    });
    app.post('/dl-return', async (req, res) => {
      try {
        const jwks = createRemoteJWKSet(new URL(this.toolJwksUrl), { cacheMaxAge: 0, cooldownDuration: 0 });
        const { payload } = await jwtVerify(String((req.body as Record<string, string>).JWT), jwks, { issuer: this.clientId, audience: this.issuer });
        this.deepLinkResponses.push(payload);
        res.type('html').send('<p>Link added</p>');
      } catch (e) {
        res.status(400).send(`bad deep-linking response: ${(e as Error).message}`);
      }
    });
    app.get('/.well-known/openid-configuration', (_req, res) => {
      res.json({
        issuer: this.issuer, authorization_endpoint: `${this.url}/auth`, token_endpoint: `${this.url}/token`, jwks_uri: `${this.url}/jwks`,
        registration_endpoint: `${this.url}/register`, scopes_supported: ['openid'], response_types_supported: ['id_token'],
        id_token_signing_alg_values_supported: ['RS256'], claims_supported: ['sub', 'iss', 'name', 'email'],
        'https://purl.imsglobal.org/spec/lti-platform-configuration': { product_family_code: 'fake-lms', version: '1', messages_supported: [{ type: 'LtiResourceLinkRequest' }, { type: 'LtiDeepLinkingRequest' }] },
      });
    });
    app.post('/register', (req, res) => {
      if (req.get('authorization') !== `Bearer ${this.registrationToken}`) return res.status(401).json({ error: 'bad registration token' });
      const b = req.body as Record<string, unknown>;
      for (const f of ['initiate_login_uri', 'redirect_uris', 'jwks_uri', 'client_name']) if (!b[f]) return res.status(400).json({ error: `${f} required` });
      this.registrations.push(b);
      const clientId = `dyn-${this.registrations.length}`;
      res.status(201).json({ ...b, client_id: clientId, 'https://purl.imsglobal.org/spec/lti-tool-configuration': { ...(b['https://purl.imsglobal.org/spec/lti-tool-configuration'] as object), deployment_id: `dyn-dep-${this.registrations.length}` } });
    });
    this.server = http.createServer(app);
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    this.issuer = this.url;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => this.server?.close(() => r()));
  }

  /** The id_token a login for this user and hint gets. */
  async idToken(userSub: string, hintId: string, nonce: string, clientId?: string): Promise<string> {
    const u = this.users.get(userSub);
    const h = this.hints.get(hintId) ?? {};
    if (!u) throw new Error(`fake LMS: unknown user ${userSub}`);
    const C = 'https://purl.imsglobal.org/spec/lti/claim/';
    const now = Math.floor(Date.now() / 1000) + (h.iatOffset ?? 0);
    const claims: Record<string, unknown> = {
      nonce: h.nonce ?? nonce,
      [`${C}message_type`]: h.messageType ?? 'LtiResourceLinkRequest',
      [`${C}version`]: '1.3.0',
      [`${C}deployment_id`]: h.deploymentId ?? this.deploymentId,
      [`${C}target_link_uri`]: `${this.toolJwksUrl.replace(/\/lti\/keys$/, '')}/lti/launch`,
      [`${C}roles`]: u.roles,
      [`${C}resource_link`]: { id: `rl-${hintId}` },
      ...(u.given_name ? { given_name: u.given_name, family_name: u.family_name, name: `${u.given_name} ${u.family_name}` } : {}),
      ...(u.email ? { email: u.email } : {}),
      ...(u.personSourcedId || h.context?.courseSectionSourcedId ? { [`${C}lis`]: { ...(u.personSourcedId ? { person_sourcedid: u.personSourcedId } : {}), ...(h.context?.courseSectionSourcedId ? { course_section_sourcedid: h.context.courseSectionSourcedId } : {}) } } : {}),
      ...(h.context ? { [`${C}context`]: { id: h.context.id, title: h.context.title ?? h.context.id, type: ['http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering'] } } : {}),
      ...(h.custom ? { [`${C}custom`]: h.custom } : {}),
      ...(u.mentees ? { [`${C}role_scope_mentor`]: u.mentees } : {}),
      [`${C}tool_platform`]: { guid: 'fake-lms-1', name: 'Fake LMS' },
    };
    if (h.ags && h.context) {
      claims['https://purl.imsglobal.org/spec/lti-ags/claim/endpoint'] = {
        scope: ['https://purl.imsglobal.org/spec/lti-ags/scope/lineitem', 'https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly', 'https://purl.imsglobal.org/spec/lti-ags/scope/score'],
        lineitems: `${this.url}/lineitems`,
      };
    }
    if (h.nrps && h.context) claims['https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice'] = { context_memberships_url: `${this.url}/memberships/${h.context.id}`, service_versions: ['2.0'] };
    if (h.messageType === 'LtiDeepLinkingRequest') {
      claims['https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings'] = {
        deep_link_return_url: `${this.url}/dl-return`, accept_types: ['ltiResourceLink', 'link'], accept_presentation_document_targets: ['iframe', 'window'], accept_multiple: false, data: 'opaque-platform-data',
      };
      delete claims[`${C}resource_link`];
    }
    for (const d of h.drop ?? []) delete claims[d.startsWith('http') || ['nonce', 'sub'].includes(d) ? d : `${C}${d}`];
    const key = h.signWith === 'other-key' ? this.otherKey : this.key;
    const header: { alg: string; kid?: string; typ: string } = { alg: 'RS256', typ: 'JWT', kid: h.signWith === 'unknown-kid' ? 'no-such-kid' : this.kid };
    if (h.signWith === 'no-kid') delete header.kid;
    let jwt = new SignJWT(claims).setProtectedHeader(header).setIssuer(h.issuer ?? this.issuer).setAudience(h.audience ?? h.clientId ?? clientId ?? this.clientId)
      .setIssuedAt(now).setExpirationTime(now + (h.expiresIn ?? 300)).setJti(randomUUID());
    if (!(h.drop ?? []).includes('sub')) jwt = jwt.setSubject(u.sub);
    return jwt.sign(key);
  }
}

/** Pulls the hidden fields of the auto-posting form out of an HTML page. */
export function formFields(html: string): { action: string; fields: Record<string, string> } {
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1] ?? '';
  const fields: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) fields[m[1]] = m[2].replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');
  return { action: action.replace(/&amp;/g, '&'), fields };
}
