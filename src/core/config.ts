/**
 * Loads and validates the hub configuration (hub.config.json). Every error names the file, the JSON path and what
 * was expected. Secrets stay references until the moment they are used.
 */
import fs from 'node:fs';
import path from 'node:path';
import cron from 'node-cron';
import { HubError, type ErrorDetail } from './errors';
import { ajv, ajvDetails, schemaId } from './schemas';
import { isSecretRef, resolveSecret } from './secrets';
import type { HubConfig } from '../types/unified.generated';
import { getConnector, connectorTypes } from '../ingest/registry';
import { parseTarget } from '../webhooks/ssrf';
import { profileConfigProblems } from '../serve/export/state/profile';
import { competencyConfigProblems } from '../derive/rules';

export type TenantConfig = HubConfig['tenants'][number];
export type ConnectorConfig = NonNullable<TenantConfig['connectors']>[number];

export interface LoadedConfig {
  config: HubConfig;
  /** Absolute path of the file, or '(inline)'. */
  file: string;
  /** Relative paths in the file are resolved against this folder. */
  baseDir: string;
}

/** `$.tenants[0].connectors[1].schedule` from an ajv-style dotted path. */
function jsonPath(p: string): string {
  if (p === '(root)') return '$';
  return '$' + p.split('.').map((s) => (/^\d+$/.test(s) ? `[${s}]` : `.${s}`)).join('');
}

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch {
    throw new HubError('config_not_found', `Configuration file ${abs} cannot be read (does it exist?).`, [{ path: abs, message: 'not readable' }]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    const m = /position (\d+)/.exec((e as Error).message);
    let where = abs;
    if (m) {
      const pos = Number(m[1]);
      const before = text.slice(0, pos);
      where = `${abs}:${before.split('\n').length}:${pos - before.lastIndexOf('\n')}`;
    }
    throw new HubError('config_invalid', `${where}: not valid JSON (${(e as Error).message}).`, [{ path: where, message: 'invalid JSON' }]);
  }
  return validateConfig(json, abs, path.dirname(abs), env);
}

export function validateConfig(json: unknown, file = '(inline)', baseDir = process.cwd(), env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const v = ajv().getSchema(schemaId('hub-config.schema.json'))!;
  const fail = (details: ErrorDetail[]): never => {
    const first = details[0];
    throw new HubError('config_invalid', `${file}: ${first.path}: ${first.message}${details.length > 1 ? ` (and ${details.length - 1} more)` : ''}`, details);
  };
  if (!v(json)) {
    // oneOf noise: keep the most specific messages first.
    const details = ajvDetails(v.errors).map((d) => ({ path: jsonPath(d.path), message: d.message }));
    fail(details.filter((d) => !/must match exactly one schema/.test(d.message)).concat(details.filter((d) => /must match exactly one/.test(d.message))));
  }
  const config = json as HubConfig;
  const details: ErrorDetail[] = [];
  const tenantIds = new Set<string>();
  config.tenants.forEach((t, ti) => {
    if (tenantIds.has(t.id)) details.push({ path: `$.tenants[${ti}].id`, message: `duplicate tenant id '${t.id}'` });
    tenantIds.add(t.id);
    details.push(...competencyConfigProblems(t.competencies, `$.tenants[${ti}].competencies`));
    const ids = new Set<string>();
    (t.connectors ?? []).forEach((c, ci) => {
      const at = `$.tenants[${ti}].connectors[${ci}]`;
      if (ids.has(c.id)) details.push({ path: `${at}.id`, message: `duplicate connector id '${c.id}' in tenant '${t.id}'` });
      ids.add(c.id);
      if (c.schedule && !cron.validate(c.schedule)) details.push({ path: `${at}.schedule`, message: `'${c.schedule}' is not a valid cron expression (5 or 6 fields)` });
      const impl = getConnector(c.type);
      if (!impl) {
        details.push({ path: `${at}.type`, message: `unknown connector type '${c.type}'; expected one of: ${connectorTypes().join(', ')}` });
        return;
      }
      const problems = settingsProblems(impl.manifest, c.settings, `${at}.settings`, env, false);
      details.push(...problems);
      if (!problems.length && impl.validateSettings) {
        for (const p of impl.validateSettings(c.settings)) details.push({ path: `${at}.settings${p.path.replace(/^\$/, '')}`, message: p.message });
      }
    });
  });
  config.tenants.forEach((t, ti) => {
    const seen = new Set<string>();
    (t.webhooks?.subscriptions ?? []).forEach((w, wi) => {
      const at = `$.tenants[${ti}].webhooks.subscriptions[${wi}]`;
      if (seen.has(w.id)) details.push({ path: `${at}.id`, message: `duplicate webhook subscription id '${w.id}' in tenant '${t.id}'` });
      seen.add(w.id);
      // The static URL rules (scheme, credentials, IP literals); names are checked when resolved, at each delivery.
      try {
        parseTarget(w.url, t.webhooks?.allowPrivateTargets === true);
      } catch (e) {
        details.push({ path: `${at}.url`, message: (e as Error).message.replace(/^url: /, '') });
      }
    });
    if (t.webhooks?.operatorWebhook) {
      try {
        parseTarget(t.webhooks.operatorWebhook, t.webhooks.allowPrivateTargets === true);
      } catch (e) {
        details.push({ path: `$.tenants[${ti}].webhooks.operatorWebhook`, message: (e as Error).message.replace(/^url: /, '') });
      }
    }
  });
  const orClients = new Map<string, string>();
  config.tenants.forEach((t, ti) => {
    (t.oneroster?.clients ?? []).forEach((c, ci) => {
      const other = orClients.get(c.clientId);
      if (other) details.push({ path: `$.tenants[${ti}].oneroster.clients[${ci}].clientId`, message: `OneRoster client '${c.clientId}' is already configured at ${other} (client ids are unique across tenants: the token's client decides the tenant)` });
      else orClients.set(c.clientId, `$.tenants[${ti}].oneroster.clients[${ci}]`);
    });
  });
  config.tenants.forEach((t, ti) => details.push(...profileConfigProblems(t, ti, (s) => cron.validate(s))));
  for (const [i, k] of (config.apiKeys ?? []).entries()) {
    for (const tid of k.tenants) if (tid !== '*' && !tenantIds.has(tid)) details.push({ path: `$.apiKeys[${i}].tenants`, message: `unknown tenant '${tid}'` });
  }
  if (details.length) fail(details);
  return { config, file, baseDir };
}

/** Reads a dotted path (`auth.clientSecret`) in settings. */
function getPath(obj: Record<string, unknown>, path: string): unknown {
  let cur: unknown = obj;
  for (const k of path.split('.')) {
    if (!cur || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/** A copy of settings with the value at a dotted path replaced (objects along the path are copied, not mutated). */
function setPath(obj: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const [head, ...rest] = path.split('.');
  if (!rest.length) return { ...obj, [head]: value };
  const child = obj[head];
  if (!child || typeof child !== 'object' || Array.isArray(child)) return obj;
  return { ...obj, [head]: setPath(child as Record<string, unknown>, rest.join('.'), value) };
}

/**
 * Validates connector settings against the connector's schema. Secret fields (`manifest.secretFields`, dotted paths
 * for nested ones such as `auth.clientSecret`) must be secret references, never literal values.
 */
export function settingsProblems(
  manifest: { configSchema: Record<string, unknown>; secretFields: string[]; id: string },
  settings: Record<string, unknown>,
  at: string,
  env: NodeJS.ProcessEnv,
  requireSecrets: boolean,
): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  let probe: Record<string, unknown> = { ...settings };
  for (const f of manifest.secretFields) {
    const v = getPath(settings, f);
    if (isSecretRef(v)) {
      probe = setPath(probe, f, 'secret');
      if (requireSecrets) {
        try {
          resolveSecret(v, `${at}.${f}`, env);
        } catch (e) {
          out.push({ path: `${at}.${f}`, message: (e as Error).message });
        }
      }
    } else if (v !== undefined) {
      out.push({ path: `${at}.${f}`, message: 'is a secret: give {"$env": "NAME"} or {"$enc": "..."}, never the value itself' });
    }
  }
  const id = `/schemas/connectors/${manifest.id}.config.schema.json`;
  const validate = ajv().getSchema(id) ?? ajv().compile(manifest.configSchema);
  if (!validate(probe)) out.push(...ajvDetails(validate.errors).map((d) => ({ path: d.path === '(root)' ? at : `${at}.${d.path}`, message: d.message })));
  return out;
}

/** Settings with secrets resolved, for a run. Throws connector_config_invalid / secret_missing. */
export function resolveSettings(
  manifest: { configSchema: Record<string, unknown>; secretFields: string[]; id: string },
  settings: Record<string, unknown>,
  at: string,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, unknown> {
  const problems = settingsProblems(manifest, settings, at, env, true);
  if (problems.length) throw new HubError('connector_config_invalid', `${at}: ${problems[0].path}: ${problems[0].message}`, problems);
  let out: Record<string, unknown> = { ...settings };
  for (const f of manifest.secretFields) {
    const v = getPath(settings, f);
    if (isSecretRef(v)) out = setPath(out, f, resolveSecret(v, `${at}.${f}`, env));
  }
  return out;
}

export function findTenant(cfg: HubConfig, tenantId: string): TenantConfig | undefined {
  return cfg.tenants.find((t) => t.id === tenantId);
}

export function findConnector(cfg: HubConfig, tenantId: string, connectorId: string): { tenant: TenantConfig; connector: ConnectorConfig; index: [number, number] } {
  const ti = cfg.tenants.findIndex((t) => t.id === tenantId);
  const tenant = cfg.tenants[ti];
  const ci = tenant?.connectors?.findIndex((c) => c.id === connectorId) ?? -1;
  if (!tenant || ci < 0) throw new HubError('connector_unknown', `No connector '${connectorId}' is configured for tenant '${tenantId}'.`);
  return { tenant, connector: tenant.connectors![ci], index: [ti, ci] };
}
