/**
 * The one place that touches ltijs 5.9.9. Everything else in the hub talks to src/serve/lti/* and never imports it.
 *
 * ltijs facts this wrapper works with (see /work/shared/design/dependencies.md and the ltijs source):
 *  - The Provider is a process singleton (`module.exports = new Provider()`, `setup()` throws when called twice). It is
 *    set up once per process here; its database plugin (below) forwards to the *bound* hub database, so the process
 *    serves LTI from one database at a time (`bindLti`). Tests that open several databases rebind per app.
 *  - It is mounted as `app.use('/lti', provider.app)` (its own express 4 inside express 5; a wrapper function around
 *    `provider.app` breaks `req.query`).
 *  - Its database is our plugin over the hub's knex connection: tables `lti_*` from migration 009 (the "bootstrap
 *    once" step). `deploy()` is never called: with this plugin there is nothing to create at start-up, and deploy()
 *    would install a SIGINT handler that exits the process before the hub drains its runs.
 *  - It checks that a nonce is unused, not that it is the one we sent; its own nonces come from Math.random. The
 *    login request builder is wrapped so the nonce is crypto-random and stored with the state; the launch handler
 *    (launch.ts) claims the state once and compares the nonce.
 *  - `ltiaas: true`: after validating the id_token it hands the request to our launch handler instead of
 *    redirecting with an `ltik`; no ltijs session is kept (the hub session replaces it). `devMode: true` is only
 *    what lets a launch without ltijs's state cookie through (third-party cookies blocked in an LMS iframe): the
 *    state is bound server-side instead — unknown, expired or reused states and mismatched nonces are refused in
 *    launch.ts. When the cookie does arrive (SameSite=None; Secure) ltijs still checks its issuer.
 *  - DefinitelyTyped types describe v4: the interfaces below are the v5 surface we use.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Db } from '../../store/db';
import { ToolKeys } from './keys';
import { Registrations } from './registrations';

/** The id_token view ltijs builds (`res.locals.token`) and its services take. */
export interface LtijsIdToken {
  iss: string;
  user: string;
  clientId: string;
  deploymentId: string;
  platformId?: string;
  platformContext: {
    contextId?: string;
    context?: { id: string; label?: string; title?: string };
    resource?: { id: string; title?: string };
    messageType?: string;
    deepLinkingSettings?: { deep_link_return_url: string; accept_types: string[]; accept_multiple?: boolean | string; data?: string };
    endpoint?: { scope?: string[]; lineitems?: string; lineitem?: string };
    namesRoles?: { context_memberships_url: string; service_versions?: string[] };
    roles?: string[];
    custom?: Record<string, unknown>;
  };
}

export interface LtijsScore {
  userId: string;
  scoreGiven?: number;
  scoreMaximum?: number;
  activityProgress: string;
  gradingProgress: string;
  comment?: string;
  timestamp?: string;
}

export interface LtijsLineItem {
  id?: string;
  label: string;
  scoreMaximum: number;
  resourceId?: string;
  tag?: string;
  resourceLinkId?: string;
}

export interface LtijsMembers {
  id?: string;
  context?: { id: string; label?: string; title?: string };
  members: Array<Record<string, unknown>>;
  next?: string;
  differences?: string;
}

interface LtijsProvider {
  app: (req: unknown, res: unknown, next: unknown) => void;
  setup(key: string, db: { plugin: unknown }, options: Record<string, unknown>): LtijsProvider;
  onConnect(cb: (token: LtijsIdToken, req: never, res: never, next: () => void) => unknown): void;
  onDeepLinking(cb: (token: LtijsIdToken, req: never, res: never, next: () => void) => unknown): void;
  onInvalidToken(cb: (req: never, res: never) => unknown): void;
  onSessionTimeout(cb: (req: never, res: never) => unknown): void;
  onUnregisteredPlatform(cb: (req: never, res: never) => unknown): void;
  onInactivePlatform(cb: (req: never, res: never) => unknown): void;
  close(opts?: { silent?: boolean }): Promise<boolean>;
  Grade: {
    getLineItems(t: LtijsIdToken, opts?: { resourceId?: string; tag?: string; label?: string; limit?: number; url?: string }): Promise<{ lineItems: Array<LtijsLineItem & { id: string }>; next?: string }>;
    createLineItem(t: LtijsIdToken, li: LtijsLineItem): Promise<LtijsLineItem & { id: string }>;
    submitScore(t: LtijsIdToken, lineItemId: string, score: LtijsScore): Promise<LtijsScore>;
  };
  DeepLinking: {
    createDeepLinkingMessage(t: LtijsIdToken, items: unknown[], opts?: { message?: string; log?: string }): Promise<string>;
  };
  NamesAndRoles: {
    getMembers(t: LtijsIdToken, opts?: { limit?: number; role?: string; url?: string; pages?: number | false }): Promise<LtijsMembers>;
  };
}

interface LtijsRequestModule {
  ltiAdvantageLogin(params: Record<string, string>, platform: unknown, state: string): Promise<Record<string, string>>;
}

// ltijs is CommonJS without usable types; these two requires are the only imports of it in the hub. Loaded on first
// use (it pulls in mongoose and express 4): commands that never serve LTI do not pay for it.
let loaded: { provider: LtijsProvider; requestModule: LtijsRequestModule } | undefined;
function ltijs(): { provider: LtijsProvider; requestModule: LtijsRequestModule } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loaded ??= { provider: (require('ltijs') as { Provider: LtijsProvider }).Provider, requestModule: require('ltijs/dist/Utils/Request') as LtijsRequestModule };
  return loaded;
}

/** What the plugin forwards to: the bound database's LTI tables. */
export interface LtiRuntime {
  db: Db;
  keys: ToolKeys;
  registrations: Registrations;
  env: NodeJS.ProcessEnv;
  /** Login states live this long (the user has to get through the platform's auth redirect). */
  stateTtlSeconds: number;
  /** Nonces are remembered this long (longer than the id_token age accepted). */
  nonceTtlSeconds: number;
}

let bound: LtiRuntime | undefined;

function rt(): LtiRuntime {
  if (!bound) throw new Error('LTI_NOT_BOUND');
  return bound;
}

const nowIso = () => new Date().toISOString();

type Query = Record<string, unknown> | undefined;

/**
 * The ltijs database plugin. ltijs calls it with mongo-like "collections"; each maps onto an `lti_*` table, and
 * what ltijs would keep that the hub does not need (its own sessions: `idtoken`, `contexttoken`, platform status)
 * is not stored. Platforms are the hub's registrations; their `kid` is the tool's current key.
 */
class KnexLtiPlugin {
  async setup(): Promise<boolean> {
    return true;
  }

  async Close(): Promise<boolean> {
    return true;
  }

  private async platforms(q: Query): Promise<Record<string, unknown>[] | false> {
    const r = rt();
    let regs: Awaited<ReturnType<Registrations['findPlatform']>>;
    if (q && typeof q.platformUrl === 'string') regs = await r.registrations.findPlatform(q.platformUrl, typeof q.clientId === 'string' ? q.clientId : undefined);
    else if (q && typeof q.kid === 'string') return false; // ltijs's getPlatformById: not used by the hub
    else regs = [];
    if (!regs.length) return false;
    const kid = (await r.keys.current()).kid;
    // One platform per (issuer, client_id): its deployments share the endpoints.
    const seen = new Set<string>();
    const out: Record<string, unknown>[] = [];
    for (const g of regs) {
      if (seen.has(g.clientId)) continue;
      seen.add(g.clientId);
      out.push({
        platformName: g.name, platformUrl: g.issuer, clientId: g.clientId, authEndpoint: g.authLoginUrl, accesstokenEndpoint: g.authTokenUrl,
        authorizationServer: g.authServer ?? undefined, kid, authConfig: { method: 'JWK_SET', key: g.jwksUrl },
      });
    }
    return out;
  }

  async Get(_enc: unknown, collection: string, query?: Query): Promise<Record<string, unknown>[] | false> {
    const r = rt();
    const k = r.db.knex;
    switch (collection) {
      case 'platform':
        return this.platforms(query);
      case 'publickey':
      case 'privatekey': {
        if (collection === 'publickey') await r.keys.current(); // the JWKS is never empty: the first key is made on demand
        const keys = await r.keys.published();
        const sel = query && typeof query.kid === 'string' ? keys.filter((x) => x.kid === query.kid) : keys;
        if (!sel.length) return false;
        return sel.map((x) => ({ kid: x.kid, key: collection === 'publickey' ? x.publicPem : x.privatePem }));
      }
      case 'nonce': {
        const row = await k('lti_nonces').where({ nonce: String(query?.nonce ?? '') }).first('nonce');
        return row ? [{ nonce: row.nonce as string }] : false;
      }
      case 'state': {
        const row = (await k('lti_states').where({ state: String(query?.state ?? '') }).whereNull('claimed_at').first('state', 'query')) as { state: string; query: string | null } | undefined;
        return row ? [{ state: row.state, query: row.query ? (JSON.parse(row.query) as Record<string, string>) : {} }] : false;
      }
      case 'accesstoken': {
        const row = (await k('lti_access_tokens').where({ issuer: String(query?.platformUrl), client_id: String(query?.clientId), scopes: String(query?.scopes) }).first('token', 'created_ms')) as { token: string; created_ms: number | string } | undefined;
        if (!row) return false;
        return [{ token: JSON.parse(row.token) as unknown, createdAt: Number(row.created_ms) }];
      }
      default:
        // idtoken, contexttoken, platformStatus: not kept (no ltik sessions; platform activity is the registration's).
        return false;
    }
  }

  async Insert(_enc: unknown, collection: string, item: Record<string, unknown>): Promise<boolean> {
    const k = rt().db.knex;
    if (collection === 'nonce') {
      // The primary key makes a concurrent replay fail here even if both passed the Get.
      await k('lti_nonces').insert({ nonce: String(item.nonce), received_at: nowIso() });
      return true;
    }
    if (collection === 'state') {
      await upsertState(String(item.state), { query: JSON.stringify(item.query ?? {}) });
      return true;
    }
    return true;
  }

  async Replace(_enc: unknown, collection: string, query: Query, item: Record<string, unknown>): Promise<boolean> {
    const k = rt().db.knex;
    if (collection === 'accesstoken') {
      const key = { issuer: String(query?.platformUrl), client_id: String(query?.clientId), scopes: String(query?.scopes) };
      await k.transaction(async (trx) => {
        await trx('lti_access_tokens').where(key).delete();
        await trx('lti_access_tokens').insert({ ...key, token: JSON.stringify(item.token), created_ms: Date.now() });
      });
      return true;
    }
    if (collection === 'platform' || collection === 'publickey' || collection === 'privatekey') {
      throw new Error('PLATFORMS_ARE_REGISTERED_THROUGH_THE_HUB');
    }
    return true; // idtoken / contexttoken / platformStatus: not kept
  }

  async Modify(_enc: unknown, collection: string): Promise<boolean> {
    if (collection === 'platform' || collection === 'publickey' || collection === 'privatekey') throw new Error('PLATFORMS_ARE_REGISTERED_THROUGH_THE_HUB');
    return true;
  }

  async Delete(collection: string, query: Query): Promise<boolean> {
    // ltijs deletes the state right after validating the token; launch.ts claims it next (single use), so the row
    // is kept until then. Nonces stay for replay detection.
    if (collection === 'accesstoken') {
      await rt().db.knex('lti_access_tokens').where({ issuer: String(query?.platformUrl), client_id: String(query?.clientId) }).delete();
    }
    return true;
  }
}

async function upsertState(state: string, fields: Record<string, unknown>): Promise<void> {
  const r = rt();
  const k = r.db.knex;
  const existing = await k('lti_states').where({ state }).first('state');
  if (existing) {
    await k('lti_states').where({ state }).update(fields);
    return;
  }
  const now = Date.now();
  await k('lti_states').insert({
    state, nonce: '', issuer: '', created_at: new Date(now).toISOString(), expires_at: new Date(now + r.stateTtlSeconds * 1000).toISOString(), ...fields,
  });
}

let setUp = false;
let loginPatched = false;

/** The ltijs cookie/ltik signing secret: derived from HUB_SECRET_KEY when set (same across processes), else random. */
function cookieSecret(env: NodeJS.ProcessEnv): string {
  if (env.HUB_SECRET_KEY) return createHmac('sha256', env.HUB_SECRET_KEY).update('ltijs-cookies').digest('base64url');
  return randomBytes(32).toString('base64url');
}

export interface ProviderHandlers {
  onConnect(token: LtijsIdToken, req: import('express').Request, res: import('express').Response): Promise<void>;
  onInvalid(reason: string, req: import('express').Request, res: import('express').Response): Promise<void>;
}

let handlers: ProviderHandlers | undefined;

/**
 * Binds the process's ltijs Provider to a database and returns it (set up on first call). `handlers` are the hub's
 * launch and refusal handlers (launch.ts).
 */
export function bindLti(runtime: LtiRuntime, h: ProviderHandlers, opts: { tokenMaxAgeSeconds: number }): LtijsProvider {
  bound = runtime;
  handlers = h;
  const { provider, requestModule } = ltijs();
  if (!loginPatched) {
    loginPatched = true;
    const original = requestModule.ltiAdvantageLogin.bind(requestModule);
    requestModule.ltiAdvantageLogin = async (params, platform, state) => {
      const query = await original(params, platform, state);
      // A crypto-random nonce, remembered with the state so the launch must carry exactly this one.
      query.nonce = randomBytes(24).toString('base64url');
      await upsertState(decodeURIComponent(state), {
        nonce: query.nonce, issuer: String(params.iss), client_id: params.client_id ? String(params.client_id) : null,
        deployment_id: params.lti_deployment_id ? String(params.lti_deployment_id) : null,
      });
      // Expired states and nonces past the token age window are pruned as logins arrive.
      const r = rt();
      await r.db.knex('lti_states').where('expires_at', '<', new Date(Date.now() - 3600_000).toISOString()).delete();
      await r.db.knex('lti_nonces').where('received_at', '<', new Date(Date.now() - r.nonceTtlSeconds * 1000).toISOString()).delete();
      return query;
    };
  }
  if (!setUp) {
    setUp = true;
    provider.setup(cookieSecret(runtime.env), { plugin: new KnexLtiPlugin() }, {
      appRoute: '/launch', loginRoute: '/login', keysetRoute: '/keys', dynRegRoute: '/ltijs-dynreg-disabled',
      ltiaas: true, devMode: true, tokenMaxAge: opts.tokenMaxAgeSeconds, cors: false,
      cookies: { secure: true, sameSite: 'None' },
    });
    provider.onConnect((token, req, res) => handlers!.onConnect(token, req, res));
    provider.onDeepLinking((token, req, res) => handlers!.onConnect(token, req, res));
    provider.onInvalidToken((req, res) => {
      const err = (res as unknown as { locals: { err?: { details?: { message?: string } } } }).locals.err;
      return handlers!.onInvalid(err?.details?.message ?? 'INVALID_TOKEN', req, res);
    });
    provider.onSessionTimeout((req, res) => handlers!.onInvalid('SESSION_NOT_FOUND', req, res));
    provider.onUnregisteredPlatform((req, res) => handlers!.onInvalid('UNREGISTERED_PLATFORM', req, res));
    provider.onInactivePlatform((req, res) => handlers!.onInvalid('PLATFORM_NOT_ACTIVATED', req, res));
  }
  return provider;
}

/** The provider, for services (AGS, NRPS, deep linking); throws when no database is bound. */
export function ltiProvider(): LtijsProvider {
  rt();
  return ltijs().provider;
}

export function boundRuntime(): LtiRuntime | undefined {
  return bound;
}

/** Claims a login state once: its nonce and issuer, or undefined when unknown, expired or already used. */
export async function claimState(state: string): Promise<{ nonce: string; issuer: string; clientId: string | null; deploymentId: string | null } | undefined> {
  const k = rt().db.knex;
  const now = nowIso();
  const row = (await k('lti_states').where({ state }).first()) as { nonce: string; issuer: string; client_id: string | null; deployment_id: string | null; expires_at: string; claimed_at: string | null } | undefined;
  if (!row || row.claimed_at || row.expires_at < now || !row.nonce) return undefined;
  const n = await k('lti_states').where({ state }).whereNull('claimed_at').update({ claimed_at: now });
  if (Number(n) !== 1) return undefined; // claimed concurrently
  return { nonce: row.nonce, issuer: row.issuer, clientId: row.client_id, deploymentId: row.deployment_id };
}

/** For tests: closes ltijs (no server, no database of its own) and unbinds. */
export async function closeLti(): Promise<void> {
  if (setUp) await ltijs().provider.close({ silent: true });
  bound = undefined;
}
