/**
 * Platform registrations: one row per deployment (issuer + client_id + deployment_id) in `lti_registrations`, owned
 * by one tenant. Three ways in: the configuration (`tenants[].lti.platforms[]`, synced when the app starts serving
 * LTI; config rows are replaced from the file each time), the admin API, and LTI Dynamic Registration.
 */
import { randomBytes } from 'node:crypto';
import type { Db } from '../../store/db';
import type { HubConfig } from '../../types/unified.generated';
import { HubError, type ErrorDetail } from '../../core/errors';

export interface Registration {
  id: string;
  tenantId: string;
  name: string;
  issuer: string;
  clientId: string;
  deploymentId: string;
  authLoginUrl: string;
  authTokenUrl: string;
  authServer: string | null;
  jwksUrl: string;
  frameOrigins: string[];
  source: 'config' | 'api' | 'dynamic';
  active: boolean;
}

interface Row {
  id: string;
  tenant_id: string;
  name: string;
  issuer: string;
  client_id: string;
  deployment_id: string;
  auth_login_url: string;
  auth_token_url: string;
  auth_server: string | null;
  jwks_url: string;
  frame_origins: string | null;
  source: string;
  active: boolean | number;
}

export const newRegistrationId = (): string => `reg_${randomBytes(8).toString('hex')}`;

function origin(u: string): string | null {
  try {
    return new URL(u).origin;
  } catch {
    return null;
  }
}

export function fromRow(r: Row): Registration {
  const explicit = r.frame_origins ? (JSON.parse(r.frame_origins) as string[]) : [];
  const frameOrigins = explicit.length ? explicit : [...new Set([origin(r.issuer), origin(r.auth_login_url)].filter((o): o is string => !!o))];
  return {
    id: r.id, tenantId: r.tenant_id, name: r.name, issuer: r.issuer, clientId: r.client_id, deploymentId: r.deployment_id,
    authLoginUrl: r.auth_login_url, authTokenUrl: r.auth_token_url, authServer: r.auth_server, jwksUrl: r.jwks_url,
    frameOrigins, source: r.source as Registration['source'], active: r.active === true || r.active === 1,
  };
}

export interface RegistrationInput {
  name?: string;
  issuer: string;
  clientId: string;
  deploymentId: string;
  authLoginUrl: string;
  authTokenUrl: string;
  authServer?: string | null;
  jwksUrl: string;
  frameOrigins?: string[];
}

const URL_FIELDS = ['authLoginUrl', 'authTokenUrl', 'jwksUrl'] as const;

/** Checks an API body; every problem names its field. */
export function checkRegistrationInput(body: unknown): RegistrationInput {
  const details: ErrorDetail[] = [];
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new HubError('bad_request', 'The body must be a JSON object.', [{ path: '$', message: 'object expected' }]);
  const b = body as Record<string, unknown>;
  for (const f of ['issuer', 'clientId', 'deploymentId', ...URL_FIELDS]) {
    if (typeof b[f] !== 'string' || !(b[f] as string).trim()) details.push({ path: `$.${f}`, message: 'required, a non-empty string' });
  }
  for (const f of URL_FIELDS) if (typeof b[f] === 'string' && !/^https?:\/\/[^/]+/.test(b[f] as string)) details.push({ path: `$.${f}`, message: 'must be an http(s) URL' });
  if (b.name !== undefined && typeof b.name !== 'string') details.push({ path: '$.name', message: 'must be a string' });
  if (b.authServer !== undefined && b.authServer !== null && typeof b.authServer !== 'string') details.push({ path: '$.authServer', message: 'must be a string' });
  if (b.frameOrigins !== undefined && (!Array.isArray(b.frameOrigins) || b.frameOrigins.some((o) => typeof o !== 'string' || !/^https?:\/\/[^/]+$/.test(o)))) {
    details.push({ path: '$.frameOrigins', message: 'must be an array of origins (scheme://host[:port])' });
  }
  const known = new Set(['name', 'issuer', 'clientId', 'deploymentId', 'authLoginUrl', 'authTokenUrl', 'authServer', 'jwksUrl', 'frameOrigins']);
  for (const k of Object.keys(b)) if (!known.has(k)) details.push({ path: `$.${k}`, message: 'unknown field' });
  if (details.length) throw new HubError('bad_request', `Invalid registration: ${details[0].path}: ${details[0].message}`, details);
  return b as unknown as RegistrationInput;
}

function toRow(tenantId: string, i: RegistrationInput, source: Registration['source'], id: string, at: string): Row & { created_at: string; updated_at: string } {
  return {
    id, tenant_id: tenantId, name: i.name ?? new URL(i.issuer.includes('://') ? i.issuer : `https://${i.issuer}`).host, issuer: i.issuer, client_id: i.clientId, deployment_id: i.deploymentId,
    auth_login_url: i.authLoginUrl, auth_token_url: i.authTokenUrl, auth_server: i.authServer ?? null, jwks_url: i.jwksUrl,
    frame_origins: i.frameOrigins?.length ? JSON.stringify(i.frameOrigins) : null, source, active: true, created_at: at, updated_at: at,
  };
}

export class Registrations {
  constructor(private readonly db: Db) {}

  /** Replaces the config-sourced registrations with the file's. Fails when a deployment belongs to two tenants. */
  async syncConfig(config: HubConfig): Promise<void> {
    const at = new Date().toISOString();
    const rows: Row[] = [];
    const seen = new Map<string, string>();
    for (const [ti, t] of config.tenants.entries()) {
      for (const [pi, p] of (t.lti?.platforms ?? []).entries()) {
        for (const dep of p.deploymentIds) {
          const key = `${p.issuer}\u0000${p.clientId}\u0000${dep}`;
          const other = seen.get(key);
          if (other) {
            throw new HubError('config_invalid', `$.tenants[${ti}].lti.platforms[${pi}]: deployment '${dep}' of ${p.issuer} (client ${p.clientId}) is also registered for tenant '${other}'.`, [{ path: `$.tenants[${ti}].lti.platforms[${pi}].deploymentIds`, message: 'a deployment belongs to one tenant' }]);
          }
          seen.set(key, t.id);
          rows.push(toRow(t.id, { ...p, deploymentId: dep, name: p.name }, 'config', `cfg_${t.id}_${pi}_${p.deploymentIds.indexOf(dep)}`, at));
        }
      }
    }
    await this.db.knex.transaction(async (trx) => {
      await trx('lti_registrations').where({ source: 'config' }).delete();
      for (const r of rows) {
        const clash = (await trx('lti_registrations').where({ issuer: r.issuer, client_id: r.client_id, deployment_id: r.deployment_id }).first('id', 'tenant_id')) as { id: string; tenant_id: string } | undefined;
        if (clash) {
          throw new HubError('config_invalid', `LTI deployment '${r.deployment_id}' of ${r.issuer} is already registered (by the API or dynamic registration) for tenant '${clash.tenant_id}'; remove it there first.`, [{ path: `registration ${clash.id}`, message: 'duplicate deployment' }]);
        }
        await trx('lti_registrations').insert(r);
      }
    });
  }

  async add(tenantId: string, input: RegistrationInput, source: 'api' | 'dynamic'): Promise<Registration> {
    const at = new Date().toISOString();
    const row = toRow(tenantId, input, source, newRegistrationId(), at);
    const clash = await this.db.knex('lti_registrations').where({ issuer: row.issuer, client_id: row.client_id, deployment_id: row.deployment_id }).first('id');
    if (clash) throw new HubError('bad_request', `Deployment '${row.deployment_id}' of ${row.issuer} (client ${row.client_id}) is already registered.`, [{ path: '$.deploymentId', message: 'already registered' }]);
    await this.db.knex('lti_registrations').insert(row);
    return fromRow(row);
  }

  async list(tenantId: string): Promise<Registration[]> {
    return ((await this.db.knex('lti_registrations').where({ tenant_id: tenantId }).orderBy('created_at').select()) as Row[]).map(fromRow);
  }

  async get(tenantId: string, id: string): Promise<Registration | undefined> {
    const r = (await this.db.knex('lti_registrations').where({ tenant_id: tenantId, id }).first()) as Row | undefined;
    return r ? fromRow(r) : undefined;
  }

  async byId(id: string): Promise<Registration | undefined> {
    const r = (await this.db.knex('lti_registrations').where({ id }).first()) as Row | undefined;
    return r ? fromRow(r) : undefined;
  }

  /** Removes an API or dynamic registration (config ones are changed in the file). */
  async remove(tenantId: string, id: string): Promise<boolean> {
    const r = await this.get(tenantId, id);
    if (!r) return false;
    if (r.source === 'config') throw new HubError('bad_request', 'This registration comes from the configuration file; change it there.', [{ path: 'id', message: 'config registration' }]);
    await this.db.knex('lti_registrations').where({ id }).delete();
    return true;
  }

  async setActive(tenantId: string, id: string, active: boolean): Promise<Registration | undefined> {
    await this.db.knex('lti_registrations').where({ tenant_id: tenantId, id }).update({ active, updated_at: new Date().toISOString() });
    return this.get(tenantId, id);
  }

  /** The deployment a launch names, whatever the tenant. */
  async findDeployment(issuer: string, clientId: string, deploymentId: string): Promise<Registration | undefined> {
    const r = (await this.db.knex('lti_registrations').where({ issuer, client_id: clientId, deployment_id: deploymentId }).first()) as Row | undefined;
    if (r) return fromRow(r);
    // A dynamic registration whose platform assigned no deployment id: its client_id was made for this tenant alone,
    // so any deployment of that client belongs to it.
    const any = (await this.db.knex('lti_registrations').where({ issuer, client_id: clientId, deployment_id: '*', source: 'dynamic' }).first()) as Row | undefined;
    return any ? fromRow(any) : undefined;
  }

  /** Any deployment of (issuer, client_id) — what ltijs calls a platform. */
  async findPlatform(issuer: string, clientId?: string): Promise<Registration[]> {
    const q = this.db.knex('lti_registrations').where({ issuer, active: true });
    if (clientId !== undefined) q.where({ client_id: clientId });
    return ((await q.orderBy('created_at').select()) as Row[]).map(fromRow);
  }
}
