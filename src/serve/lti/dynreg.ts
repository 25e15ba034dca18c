/**
 * LTI Dynamic Registration 1.0: the LMS administrator pastes a hub registration link (made by a district admin with
 * `POST /api/v1/tenants/:t/lti/registration-links`, single use, 7 days); the LMS opens it with `openid_configuration`
 * and `registration_token`; the hub fetches the platform's OpenID configuration (its issuer must be on the same host
 * as the configuration URL), posts its client registration to the platform's `registration_endpoint` with the
 * registration token, stores the answer (client_id, deployment_id) for the link's tenant, and tells the LMS it is
 * done (`postMessage({subject: 'org.imsglobal.lti.close'})`).
 */
import { createHash, randomBytes } from 'node:crypto';
import { HubError } from '../../core/errors';
import type { Db } from '../../store/db';
import type { Registrations, Registration } from './registrations';

export const DYNREG_SCOPES = [
  'https://purl.imsglobal.org/spec/lti-ags/scope/lineitem',
  'https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly',
  'https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly',
  'https://purl.imsglobal.org/spec/lti-ags/scope/score',
  'https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly',
];

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

export async function createRegistrationLink(db: Db, tenantId: string, by: string, publicUrl: string, days = 7): Promise<{ url: string; expiresAt: string }> {
  const token = randomBytes(24).toString('base64url');
  const expiresAt = new Date(Date.now() + days * 86400_000).toISOString();
  await db.knex('lti_reg_tokens').insert({ token_hash: sha(token), tenant_id: tenantId, created_by: by.slice(0, 200), created_at: new Date().toISOString(), expires_at: expiresAt });
  return { url: `${publicUrl}/lti/register?t=${token}`, expiresAt };
}

function fail(message: string, path: string): HubError {
  return new HubError('lti_registration_failed', message, [{ path, message }]);
}

async function getJson(url: string, init: RequestInit, what: string): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  } catch (e) {
    throw fail(`${what}: the platform could not be reached (${(e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name}).`, what);
  }
  if (!res.ok) throw fail(`${what}: the platform answered HTTP ${res.status}.`, what);
  try {
    return (await res.json()) as Record<string, unknown>;
  } catch {
    throw fail(`${what}: the platform's answer is not JSON.`, what);
  }
}

export async function dynamicRegister(
  deps: { db: Db; registrations: Registrations },
  input: { linkToken: string; openidConfiguration: string; registrationToken?: string; publicUrl: string; toolName: string },
): Promise<Registration> {
  const { db } = deps;
  const link = (await db.knex('lti_reg_tokens').where({ token_hash: sha(input.linkToken) }).first()) as { tenant_id: string; expires_at: string; used_at: string | null } | undefined;
  if (!link || link.used_at || link.expires_at < new Date().toISOString()) throw new HubError('forbidden', 'This registration link is unknown, expired or already used; ask the district for a new one.', [{ path: 't', message: 'invalid registration link' }]);
  let cfgUrl: URL;
  try {
    cfgUrl = new URL(input.openidConfiguration);
  } catch {
    throw fail('openid_configuration is not a URL.', 'openid_configuration');
  }
  if (!/^https?:$/.test(cfgUrl.protocol)) throw fail('openid_configuration must be an http(s) URL.', 'openid_configuration');
  const cfg = await getJson(cfgUrl.toString(), {}, 'openid_configuration');
  for (const f of ['issuer', 'authorization_endpoint', 'token_endpoint', 'jwks_uri', 'registration_endpoint']) {
    if (typeof cfg[f] !== 'string' || !cfg[f]) throw fail(`The platform's OpenID configuration lacks '${f}'.`, `openid_configuration.${f}`);
  }
  let issuerHost: string;
  try {
    issuerHost = new URL(String(cfg.issuer)).host;
  } catch {
    throw fail("The platform's issuer is not a URL.", 'openid_configuration.issuer');
  }
  if (issuerHost !== cfgUrl.host) throw fail(`The platform's issuer (${issuerHost}) is not on the host of its OpenID configuration (${cfgUrl.host}).`, 'openid_configuration.issuer');
  const platformCfg = (cfg['https://purl.imsglobal.org/spec/lti-platform-configuration'] ?? {}) as { product_family_code?: string };
  const base = input.publicUrl;
  const body = {
    application_type: 'web',
    response_types: ['id_token'],
    grant_types: ['implicit', 'client_credentials'],
    initiate_login_uri: `${base}/lti/login`,
    redirect_uris: [`${base}/lti/launch`],
    client_name: input.toolName,
    jwks_uri: `${base}/lti/keys`,
    token_endpoint_auth_method: 'private_key_jwt',
    scope: DYNREG_SCOPES.join(' '),
    'https://purl.imsglobal.org/spec/lti-tool-configuration': {
      domain: new URL(base).host,
      target_link_uri: `${base}/lti/launch`,
      description: 'Mastery, readiness groups and learner plans from the district learner record.',
      claims: ['iss', 'sub', 'name', 'given_name', 'family_name', 'email'],
      messages: [
        { type: 'LtiResourceLinkRequest', target_link_uri: `${base}/lti/launch`, label: input.toolName },
        { type: 'LtiDeepLinkingRequest', target_link_uri: `${base}/lti/launch`, label: `${input.toolName}: add a link` },
      ],
    },
  };
  const answer = await getJson(String(cfg.registration_endpoint), {
    method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...(input.registrationToken ? { Authorization: `Bearer ${input.registrationToken}` } : {}) }, body: JSON.stringify(body),
  }, 'registration_endpoint');
  if (typeof answer.client_id !== 'string' || !answer.client_id) throw fail("The platform's registration answer has no client_id.", 'registration.client_id');
  const toolCfg = (answer['https://purl.imsglobal.org/spec/lti-tool-configuration'] ?? {}) as { deployment_id?: unknown };
  const deploymentId = typeof toolCfg.deployment_id === 'string' && toolCfg.deployment_id ? toolCfg.deployment_id : '*';
  const claimed = await db.knex('lti_reg_tokens').where({ token_hash: sha(input.linkToken) }).whereNull('used_at').update({ used_at: new Date().toISOString() });
  if (!Number(claimed)) throw new HubError('forbidden', 'This registration link was used meanwhile.', [{ path: 't', message: 'already used' }]);
  const reg = await deps.registrations.add(link.tenant_id, {
    name: platformCfg.product_family_code ?? cfgUrl.host, issuer: String(cfg.issuer), clientId: answer.client_id, deploymentId,
    authLoginUrl: String(cfg.authorization_endpoint), authTokenUrl: String(cfg.token_endpoint), jwksUrl: String(cfg.jwks_uri),
    authServer: typeof cfg.authorization_server === 'string' ? cfg.authorization_server : null,
  }, 'dynamic');
  await db.knex('lti_reg_tokens').where({ token_hash: sha(input.linkToken) }).update({ registration_id: reg.id });
  return reg;
}
