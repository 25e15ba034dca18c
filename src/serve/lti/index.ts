/**
 * The hub's LTI 1.3 tool, behind one small interface: `mountLti(app, deps)` adds the `/lti/...` routes, and
 * `ltiAdminRoutes(router, deps)` the `/api/v1/.../lti/...` administration. See README.md in this folder.
 *
 *   /lti/login          OIDC login initiation (ltijs)          /lti/launch   launch = redirect_uri (ltijs + launch.ts)
 *   /lti/keys           the tool's JWKS (ltijs, our keys)      /lti/register Dynamic Registration (dynreg.ts)
 *   /lti/app/...        the pages (server-rendered), authorised by the hub session the launch opened (`s`)
 */
import { GOAL_STATUSES } from '../../derive/plp/model';
import express, { type Express, type Request, type Response, type Router } from 'express';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { HubError } from '../../core/errors';
import { findTenant } from '../../core/config';
import type { Principal } from '../auth';
import { principalOf, requireScope } from '../auth';
import { learnersOfGuardian, requireClass, requireLearner, type Relation } from '../access';
import { sessionKeys, type PersonSession } from '../sessions';
import { tenantRoute, type AppDeps, API_PREFIX } from '../route';
import { ToolKeys } from './keys';
import { Registrations, checkRegistrationInput } from './registrations';
import { bindLti, boundRuntime, ltiProvider } from './ltijs';
import { csrfOf, handleLaunch, openDeepLink, refuse, refusalOf, type LaunchDeps } from './launch';
import { classData, learnerData, learnersByIds } from './data';
import { CSS, classPage, deepLinkPickerPage, deepLinkReturnPage, href, learnerPage, messagePage } from './views';
import type { PlpPort } from './plp';
import { plpPort } from './plp-port';
import { pushGrades, startGradePassback as startGradePassbackImpl } from './ags';
import { createRegistrationLink, dynamicRegister } from './dynreg';

export { closeLti } from './ltijs';
export { pushGrades, startGradePassback } from './ags';
export type { PlpPort } from './plp';

/** Give mountLti and ltiAdminRoutes the same options: the first call makes the app's LTI context. */
export interface LtiOptions {
  /** The learners' plans as the pages read and write them; default: the PLP module (plp-port.ts). */
  plp?: PlpPort;
}

const TOOL_NAME = 'Learner Data Hub';

interface Ctx {
  deps: AppDeps;
  registrations: Registrations;
  keys: ToolKeys;
  plp: PlpPort;
  ready: () => Promise<void>;
  /** Binds the process's ltijs Provider to this app's database and launch handlers (set by mountLti). */
  bind?: () => void;
}

const ctxOf = new WeakMap<AppDeps, Ctx>();

/** The public base URL: `lti.publicUrl`, else what the request came to. */
export function publicUrl(deps: AppDeps, req: Request): string {
  const configured = deps.config.config.lti?.publicUrl;
  if (configured) return configured.replace(/\/+$/, '');
  return `${req.protocol}://${req.get('host')}`;
}

function ctx(deps: AppDeps, opts: LtiOptions = {}): Ctx {
  let c = ctxOf.get(deps);
  if (!c) {
    const registrations = new Registrations(deps.db);
    const keys = new ToolKeys(deps.db, deps.env, deps.config.config.lti?.keyOverlapHours ?? 48);
    let ready: Promise<void> | undefined;
    c = {
      deps, registrations, keys, plp: opts.plp ?? plpPort(deps.db),
      ready: () => (ready ??= registrations.syncConfig(deps.config.config).catch((e) => {
        ready = undefined;
        throw e;
      })),
    };
    ctxOf.set(deps, c);
  }
  return c;
}

interface PageAuth {
  token: string;
  session: PersonSession;
  principal: Principal;
  frameOrigins: string[];
}

function setPageHeaders(res: Response, frameOrigins: string[], extra: { scriptNonce?: string; formTargets?: string[] } = {}): void {
  const fa = frameOrigins.length ? frameOrigins.join(' ') : "'none'";
  const forms = ["'self'", ...(extra.formTargets ?? [])].join(' ');
  res.set({
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Security-Policy': `default-src 'none'; style-src 'self'; img-src 'self' data:; form-action ${forms}; base-uri 'none'; frame-ancestors ${fa}${extra.scriptNonce ? `; script-src 'nonce-${extra.scriptNonce}'` : ''}`,
    'Cache-Control': 'no-store',
    'Referrer-Policy': 'no-referrer',
  });
}

/** The page's session (`s` in the query or the form), verified; the frame origins of the platform that opened it. */
async function pageAuth(c: Ctx, req: Request): Promise<PageAuth> {
  const s = typeof req.query.s === 'string' ? req.query.s : typeof (req.body as Record<string, unknown> | undefined)?.s === 'string' ? String((req.body as Record<string, unknown>).s) : undefined;
  if (!s) throw new HubError('unauthenticated', 'This page opens from your LMS; start the tool again from your course.');
  const session = await sessionKeys(c.deps.db, c.deps.env).verify(s);
  const principal: Principal = { name: `person:${session.personId}`, tenants: new Set([session.tenantId]), scopes: new Set(), person: session };
  const issuer = session.via.startsWith('lti:') ? session.via.slice(4) : undefined;
  const regs = issuer ? (await c.registrations.list(session.tenantId)).filter((r) => r.issuer === issuer) : [];
  return { token: s, session, principal, frameOrigins: [...new Set(regs.flatMap((r) => r.frameOrigins))] };
}

/** Form posts: same-origin (when the browser says), with the session's CSRF token. */
function checkForm(req: Request, auth: PageAuth): void {
  const origin = req.get('origin');
  if (origin && origin !== 'null' && origin !== `${req.protocol}://${req.get('host')}`) throw new HubError('forbidden', 'Cross-site form post refused.', [{ path: 'origin', message: 'not this hub' }]);
  const csrf = (req.body as Record<string, unknown> | undefined)?.csrf;
  const want = csrfOf(auth.token);
  if (typeof csrf !== 'string' || csrf.length !== want.length || !timingSafeEqual(Buffer.from(csrf), Buffer.from(want))) {
    throw new HubError('forbidden', 'The form has expired or was not sent by this page; reload it and try again.', [{ path: 'csrf', message: 'missing or wrong' }]);
  }
}

function pageError(c: Ctx, res: Response, e: unknown, frameOrigins: string[] = []): void {
  const he = e instanceof HubError ? e : undefined;
  if (!he) c.deps.log.error({ err: { message: (e as Error)?.message } }, 'lti page failed');
  res.locals.errorCode = he?.code ?? 'internal_error';
  res.status(he?.status ?? 500);
  setPageHeaders(res, frameOrigins.length ? frameOrigins : ['*']);
  const msg = he ? he.message : 'Something went wrong in the hub; the error is logged.';
  res.send(messagePage({ base: '', title: 'Learner Data Hub', heading: he?.status === 404 ? 'Not found' : he?.status === 401 ? 'Please start again from your course' : 'This cannot be shown', message: msg, ref: res.locals.reqId as string, error: true }));
}

function viewsRouter(c: Ctx): Router {
  const r = express.Router();
  const { db } = c.deps;
  r.use(express.urlencoded({ extended: false, limit: '64kb' }));
  const page = (pattern: string, method: 'get' | 'post', fn: (req: Request, res: Response, auth: PageAuth) => Promise<void>) => {
    r[method](pattern, async (req, res) => {
      res.locals.route = `/lti/app${pattern}`;
      let auth: PageAuth | undefined;
      try {
        auth = await pageAuth(c, req);
        if (method === 'post') checkForm(req, auth);
        await fn(req, res, auth);
      } catch (e) {
        pageError(c, res, e, auth?.frameOrigins);
      }
    });
  };

  r.get('/static/hub.css', (_req, res) => {
    res.locals.route = '/lti/app/static/hub.css';
    res.set({ 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': 'public, max-age=3600', 'Cross-Origin-Resource-Policy': 'same-origin' });
    res.send(CSS);
  });

  page('/class/:classId', 'get', async (req, res, auth) => {
    const t0 = process.hrtime.bigint();
    const tenantId = auth.session.tenantId;
    await requireClass(db, tenantId, auth.principal, String(req.params.classId));
    const d = await classData(db, tenantId, String(req.params.classId));
    setPageHeaders(res, auth.frameOrigins);
    res.set('Server-Timing', `view;dur=${Number(process.hrtime.bigint() - t0) / 1e6}`);
    res.send(classPage(d, { base: '', s: auth.token, title: d.title }));
  });

  const learnerView = async (req: Request, res: Response, auth: PageAuth, learnerId: string, flash?: string) => {
    const tenantId = auth.session.tenantId;
    const relation: Relation = await requireLearner(db, tenantId, auth.principal, learnerId);
    const staff = relation === 'teacher' || relation === 'administrator';
    const d = (await learnerData(db, tenantId, learnerId, staff))!;
    const plan = await c.plp.plan(tenantId, learnerId, relation);
    let others: { id: string; name: string }[] | undefined;
    if (relation === 'guardian') others = (await learnersByIds(db, tenantId, await learnersOfGuardian(db, tenantId, auth.session.personId))).map((l) => ({ id: l.id, name: l.name }));
    const back = typeof req.query.back === 'string' && /^[A-Za-z0-9_-]+$/.test(req.query.back) ? href('', `/class/${req.query.back}`, auth.token) : undefined;
    setPageHeaders(res, auth.frameOrigins);
    res.send(learnerPage(d, {
      base: '', s: auth.token, title: d.learner.name, relation, learnerId, csrf: csrfOf(auth.token), plan, others, flash, back,
      recordUrl: `${API_PREFIX}/tenants/${encodeURIComponent(tenantId)}/learners/${encodeURIComponent(learnerId)}`,
    }));
  };

  page('/learner/:id', 'get', (req, res, auth) => learnerView(req, res, auth, String(req.params.id)));

  page('/my-learners', 'get', async (req, res, auth) => {
    const ids = await learnersOfGuardian(db, auth.session.tenantId, auth.session.personId);
    if (!ids.length) {
      setPageHeaders(res, auth.frameOrigins);
      res.send(messagePage({ base: '', title: 'Your learners', heading: 'No linked learners', message: 'No learner is linked to you in the hub yet. Your district links mentors and guardians to learners.' }));
      return;
    }
    const [first] = await learnersByIds(db, auth.session.tenantId, ids);
    await learnerView(req, res, auth, first.id);
  });

  for (const [path, heading, message] of [
    ['/no-class', 'This course is not linked to a class', 'The hub does not know which class this LMS course is. Your district can link it (or sync the course roster).'],
    ['/no-role', 'Nothing to show for your role', 'The hub has views for teachers, students, mentors and administrators.'],
  ] as const) {
    page(path, 'get', async (_req, res, auth) => {
      setPageHeaders(res, auth.frameOrigins);
      res.send(messagePage({ base: '', title: heading, heading, message }));
    });
  }

  page('/learner/:id/plan', 'post', async (req, res, auth) => {
    const learnerId = String(req.params.id);
    const relation = await requireLearner(db, auth.session.tenantId, auth.principal, learnerId, ['self', 'teacher', 'administrator']);
    const body = req.body as Record<string, unknown>;
    const kind = body.kind;
    const text = typeof body.text === 'string' ? body.text.trim() : '';
    if (kind !== 'goal' && kind !== 'comment' && kind !== 'support') throw new HubError('bad_request', 'kind: must be goal, comment or support.', [{ path: 'kind', message: 'goal | comment | support' }]);
    if (kind !== 'goal' && relation === 'self') throw new HubError('forbidden', 'Learners add goals; comments and supports come from staff.', [{ path: 'kind', message: 'staff only' }]);
    if (!text || text.length > 2000) throw new HubError('bad_request', 'text: required, at most 2000 characters.', [{ path: 'text', message: '1..2000 characters' }]);
    const plan = await c.plp.plan(auth.session.tenantId, learnerId, relation);
    if (!plan.available) throw new HubError('not_found', 'The learner plan is not installed in this hub.', [{ path: 'plan', message: 'not installed' }]);
    await c.plp.add(auth.session.tenantId, learnerId, kind, text, { personId: auth.session.personId, relation, via: auth.session.via });
    res.locals.route = '/lti/app/learner/:id/plan';
    res.redirect(303, href('', `/learner/${encodeURIComponent(learnerId)}`, auth.token));
  });

  page('/learner/:id/goals/:goalId', 'post', async (req, res, auth) => {
    const learnerId = String(req.params.id);
    const relation = await requireLearner(db, auth.session.tenantId, auth.principal, learnerId, ['self', 'teacher', 'administrator']);
    const status = (req.body as Record<string, unknown>).status;
    if (typeof status !== 'string' || !(GOAL_STATUSES as readonly string[]).includes(status)) throw new HubError('bad_request', `status: must be one of ${GOAL_STATUSES.join(', ')}.`, [{ path: 'status', message: GOAL_STATUSES.join(' | ') }]);
    await c.plp.setGoalStatus(auth.session.tenantId, learnerId, String(req.params.goalId), status, { personId: auth.session.personId, relation, via: auth.session.via });
    res.redirect(303, href('', `/learner/${encodeURIComponent(learnerId)}`, auth.token));
  });

  const DL_ITEMS = [
    { value: 'competency-report', label: 'Competency report', help: 'Teachers see the class mastery heat map; students see their own mastery.' },
    { value: 'my-plan', label: 'My plan', help: 'Students see their plan and goals; mentors see their learners.' },
  ];

  page('/deep-link', 'get', async (req, res, auth) => {
    const dl = typeof req.query.d === 'string' ? openDeepLink(auth.token, req.query.d) : undefined;
    if (!dl) throw new HubError('bad_request', 'This page opens from the LMS "add content" flow.', [{ path: 'd', message: 'missing or not signed for this session' }]);
    setPageHeaders(res, auth.frameOrigins);
    res.send(deepLinkPickerPage({ base: '', s: auth.token, title: 'Add a link', csrf: csrfOf(auth.token), items: DL_ITEMS }).replace('</form>', `<input type="hidden" name="d" value="${String(req.query.d).replace(/"/g, '&quot;')}"></form>`));
  });

  page('/deep-link', 'post', async (req, res, auth) => {
    const body = req.body as Record<string, unknown>;
    const dl = typeof body.d === 'string' ? openDeepLink(auth.token, body.d) : undefined;
    if (!dl) throw new HubError('bad_request', 'The deep-linking request is missing or was not signed for this session.', [{ path: 'd', message: 'invalid' }]);
    if (!auth.session.roles.has('teacher') && !auth.session.roles.has('administrator')) throw new HubError('forbidden', 'Only teachers add links to a course.', [{ path: 'role', message: 'teacher' }]);
    const item = DL_ITEMS.find((x) => x.value === body.item);
    if (!item) throw new HubError('bad_request', 'item: choose one of the offered pages.', [{ path: 'item', message: DL_ITEMS.map((x) => x.value).join(' | ') }]);
    const reg = await c.registrations.byId(dl.registrationId);
    if (!reg || reg.tenantId !== auth.session.tenantId) throw new HubError('forbidden', 'The platform registration behind this request is gone.', [{ path: 'registration', message: 'unknown' }]);
    const base = publicUrl(c.deps, req);
    const contentItem = { type: 'ltiResourceLink', title: `${item.label} (${TOOL_NAME})`, text: item.help, url: `${base}/lti/launch`, custom: { hub_view: item.value } };
    const jwt = await ltiProvider().DeepLinking.createDeepLinkingMessage({
      iss: reg.issuer, user: auth.session.personId, clientId: reg.clientId, deploymentId: reg.deploymentId === '*' ? String(dl.settings.deployment_id ?? '') : reg.deploymentId,
      platformContext: { deepLinkingSettings: dl.settings as never },
    }, [contentItem], { message: `Added: ${item.label}` });
    const returnUrl = String(dl.settings.deep_link_return_url);
    const nonce = randomBytes(16).toString('base64url');
    setPageHeaders(res, auth.frameOrigins, { scriptNonce: nonce, formTargets: [new URL(returnUrl).origin] });
    res.send(deepLinkReturnPage({ base: '', title: 'Returning', returnUrl, jwt, scriptNonce: nonce }));
  });
  return r;
}

/**
 * Mounts the LTI tool on the app (before the API and the 404 handler). The process's ltijs Provider is bound to this
 * app's database.
 */
export function mountLti(app: Express, deps: AppDeps, opts: LtiOptions = {}): void {
  const c = ctx(deps, opts);
  const launchDeps: LaunchDeps = {
    db: deps.db, config: deps.config, log: deps.log, env: deps.env, registrations: c.registrations,
    onContext: (tenantId, registrationId, contextId) => {
      const p = pushGrades({ db: deps.db, config: deps.config, log: deps.log, registrations: c.registrations }, { tenantId, registrationId, contextId })
        .then(() => undefined, (e) => deps.log.warn({ error: (e as Error).message }, 'lti grade passback after launch failed'));
      deps.background.track(p);
    },
  };
  const bind = () => bindLti(
    { db: deps.db, keys: c.keys, registrations: c.registrations, env: deps.env, stateTtlSeconds: 600, nonceTtlSeconds: 3600 },
    {
      onConnect: async (token, req, res) => {
        try {
          await handleLaunch(launchDeps, token, req, res);
        } catch (e) {
          deps.log.error({ err: { message: (e as Error).message } }, 'lti launch failed');
          if (!res.headersSent) refuse(launchDeps, res, 'invalid');
        }
      },
      onInvalid: async (reason, _req, res) => {
        res.locals.route = '/lti/launch';
        const r = refusalOf(reason);
        refuse(launchDeps, res, r.code, { claim: r.claim });
      },
    },
    { tokenMaxAgeSeconds: deps.config.config.lti?.tokenMaxAgeSeconds ?? 60 },
  );
  const provider = bind();
  c.bind = () => {
    if (boundRuntime()?.db !== deps.db) bind();
  };

  // Registrations from the configuration are in place (and this app's database bound) before ltijs looks.
  app.use('/lti', async (req, res, next) => {
    try {
      c.bind!();
      await c.ready();
      res.locals.route ??= `/lti${req.path === '/' ? '' : req.path.split('/').slice(0, 2).join('/')}`;
      next();
    } catch (e) {
      next(e);
    }
  });
  app.use('/lti/app', viewsRouter(c));
  app.get('/lti/register', async (req, res) => {
    res.locals.route = '/lti/register';
    try {
      const t = typeof req.query.t === 'string' ? req.query.t : '';
      const cfg = typeof req.query.openid_configuration === 'string' ? req.query.openid_configuration : '';
      if (!t) throw new HubError('forbidden', 'Use the registration link your district gave you (it carries a one-time code).', [{ path: 't', message: 'missing' }]);
      if (!cfg) throw new HubError('bad_request', 'openid_configuration is missing: open this link from your LMS\'s "add tool by URL" (dynamic registration) screen.', [{ path: 'openid_configuration', message: 'missing' }]);
      const reg = await dynamicRegister({ db: deps.db, registrations: c.registrations }, {
        linkToken: t, openidConfiguration: cfg, registrationToken: typeof req.query.registration_token === 'string' ? req.query.registration_token : undefined,
        publicUrl: publicUrl(deps, req), toolName: TOOL_NAME,
      });
      deps.log.info({ registration: reg.id, tenant: reg.tenantId }, 'lti dynamic registration');
      const nonce = randomBytes(16).toString('base64url');
      setPageHeaders(res, ['*'], { scriptNonce: nonce });
      res.send(messagePage({ base: '', title: 'Registered', heading: 'The Learner Data Hub is registered', message: `Registered for ${findTenant(deps.config.config, reg.tenantId)?.name ?? reg.tenantId}. You can close this window.` })
        .replace('</main>', `</main><script nonce="${nonce}">(window.opener || window.parent).postMessage({subject:'org.imsglobal.lti.close'}, '*')</script>`));
    } catch (e) {
      pageError(c, res, e, ['*']);
    }
  });
  // ltijs: /lti/login, /lti/launch, /lti/keys (mounted as is: a wrapper function around it breaks req.query).
  app.use('/lti', provider.app as unknown as express.RequestHandler);
}

/** `/api/v1` administration of the LTI tool (scope `lti.manage`, or `admin`). */
export function ltiAdminRoutes(router: Router, deps: AppDeps, ltiOpts: LtiOptions = {}): void {
  const c = ctx(deps, ltiOpts);
  const { db } = deps;
  const opts = { scope: 'lti.manage' as const };
  tenantRoute(router, deps, 'get', '/tenants/:tenant/lti/registrations', opts, async ({ res, tenant }) => {
    await c.ready();
    res.json({ data: await c.registrations.list(tenant.id) });
  });
  tenantRoute(router, deps, 'post', '/tenants/:tenant/lti/registrations', opts, async ({ req, res, tenant }) => {
    await c.ready();
    const input = checkRegistrationInput(req.body);
    res.status(201).json({ data: await c.registrations.add(tenant.id, input, 'api') });
  });
  tenantRoute(router, deps, 'patch', '/tenants/:tenant/lti/registrations/:id', opts, async ({ req, res, tenant }) => {
    const active = (req.body as Record<string, unknown> | undefined)?.active;
    if (typeof active !== 'boolean') throw new HubError('bad_request', 'active: required, a boolean.', [{ path: '$.active', message: 'boolean' }]);
    const reg = await c.registrations.setActive(tenant.id, String(req.params.id), active);
    if (!reg) throw new HubError('not_found', 'No registration with that id for the tenant.', [{ path: 'id', message: 'not found' }]);
    res.json({ data: reg });
  });
  tenantRoute(router, deps, 'delete', '/tenants/:tenant/lti/registrations/:id', opts, async ({ req, res, tenant }) => {
    if (!(await c.registrations.remove(tenant.id, String(req.params.id)))) throw new HubError('not_found', 'No registration with that id for the tenant.', [{ path: 'id', message: 'not found' }]);
    res.status(204).end();
  });
  tenantRoute(router, deps, 'post', '/tenants/:tenant/lti/registration-links', opts, async ({ req, res, tenant, principal }) => {
    res.status(201).json({ data: await createRegistrationLink(db, tenant.id, principal.name, publicUrl(deps, req)) });
  });
  tenantRoute(router, deps, 'get', '/tenants/:tenant/lti/urls', opts, async ({ req, res }) => {
    const b = publicUrl(deps, req);
    res.json({ data: { loginInitiationUrl: `${b}/lti/login`, redirectUrl: `${b}/lti/launch`, targetLinkUrl: `${b}/lti/launch`, jwksUrl: `${b}/lti/keys`, dynamicRegistration: 'POST /api/v1/tenants/{tenant}/lti/registration-links makes a one-time URL' } });
  });
  tenantRoute(router, deps, 'get', '/tenants/:tenant/lti/contexts', opts, async ({ res, tenant }) => {
    const rows = (await db.knex('lti_contexts').where({ tenant_id: tenant.id }).orderBy('updated_at', 'desc').select('registration_id', 'context_id', 'class_id', 'mapped_by', 'title', 'lineitems_url', 'memberships_url', 'updated_at')) as Record<string, unknown>[];
    res.json({ data: rows.map((r) => ({ registrationId: r.registration_id, contextId: r.context_id, classId: r.class_id, mappedBy: r.mapped_by, title: r.title, ags: !!r.lineitems_url, nrps: !!r.memberships_url, updatedAt: r.updated_at })) });
  });
  tenantRoute(router, deps, 'put', '/tenants/:tenant/lti/contexts/:registrationId/:contextId', opts, async ({ req, res, tenant }) => {
    const classId = (req.body as Record<string, unknown> | undefined)?.classId;
    if (typeof classId !== 'string' || !classId) throw new HubError('bad_request', 'classId: required, a class id.', [{ path: '$.classId', message: 'string' }]);
    const cls = await db.knex('records').where({ tenant_id: tenant.id, entity_type: 'class', id: classId }).whereNull('deleted_at').first('id');
    if (!cls) throw new HubError('not_found', 'No class with that id exists for the tenant.', [{ path: '$.classId', message: 'not found' }]);
    const key = { tenant_id: tenant.id, registration_id: String(req.params.registrationId), context_id: String(req.params.contextId) };
    const reg = await c.registrations.get(tenant.id, key.registration_id);
    if (!reg) throw new HubError('not_found', 'No registration with that id for the tenant.', [{ path: 'registrationId', message: 'not found' }]);
    const n = await db.knex('lti_contexts').where(key).update({ class_id: classId, mapped_by: 'admin', updated_at: new Date().toISOString() });
    if (!Number(n)) await db.knex('lti_contexts').insert({ ...key, class_id: classId, mapped_by: 'admin', updated_at: new Date().toISOString() });
    res.json({ data: { registrationId: key.registration_id, contextId: key.context_id, classId, mappedBy: 'admin' } });
  });
  tenantRoute(router, deps, 'post', '/tenants/:tenant/lti/grades/sync', opts, async ({ res, tenant }) => {
    await c.ready();
    c.bind?.();
    res.json({ data: await pushGrades({ db, config: deps.config, log: deps.log, registrations: c.registrations }, { tenantId: tenant.id }) });
  });
  router.post('/lti/keys/rotate', async (_req, res) => {
    res.locals.route = `${API_PREFIX}/lti/keys/rotate`;
    const p = principalOf(res);
    requireScope(p, 'admin');
    if (p.tenants !== '*') throw new HubError('forbidden', 'The tool key is shared by every tenant: rotating it needs an admin key for all tenants.', [{ path: 'tenants', message: '["*"] required' }]);
    const kid = await c.keys.rotate();
    res.status(201).json({ data: { kid, published: (await c.keys.jwks()).keys.map((k) => k.kid) } });
  });
}

/**
 * Binds the LTI services (NRPS pages, grade passback) to a database outside an HTTP server (the CLI's `hub sync`):
 * no launch can arrive, so the launch handlers only refuse.
 */
export function initLtiServices(deps: Pick<AppDeps, 'db' | 'config' | 'env' | 'log'>): void {
  const registrations = new Registrations(deps.db);
  const keys = new ToolKeys(deps.db, deps.env, deps.config.config.lti?.keyOverlapHours ?? 48);
  const noHttp = async () => {
    throw new Error('no LTI launches in this process');
  };
  bindLti({ db: deps.db, keys, registrations, env: deps.env, stateTtlSeconds: 600, nonceTtlSeconds: 3600 }, { onConnect: noHttp, onInvalid: noHttp }, { tokenMaxAgeSeconds: 60 });
  void registrations.syncConfig(deps.config.config).catch((e) => deps.log.warn({ error: (e as Error).message }, 'lti registrations from the configuration could not be synced'));
}

/** What `hub start` prints: the URLs a district pastes into its LMS. */
export function ltiBanner(base: string): string[] {
  return [
    '',
    'LTI 1.3 tool (register it in your LMS; see src/serve/lti/README.md):',
    `  OIDC login initiation URL: ${base}/lti/login`,
    `  Redirect / target link URL: ${base}/lti/launch`,
    `  Public keyset (JWKS) URL:   ${base}/lti/keys`,
    `  Dynamic registration:       POST ${base}/api/v1/tenants/{tenant}/lti/registration-links gives a one-time ${base}/lti/register?t=... URL`,
  ];
}

/** Grade passback every few minutes (new mastery, retries whose back-off has passed). Returns a stop function. */
export function startLtiGradePassback(deps: Pick<AppDeps, 'db' | 'config' | 'log'>, intervalMs?: number): () => void {
  return startGradePassbackImpl({ db: deps.db, config: deps.config, log: deps.log, registrations: new Registrations(deps.db) }, intervalMs);
}
