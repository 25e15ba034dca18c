/**
 * Export profiles (`tenants[].exports.profiles[]` in hub.config.json): which files, which field categories leave,
 * for which recipient, and whether student ids are pseudonymized for that recipient.
 */
import { badRequest } from '../../errors';
import { createHmac } from 'node:crypto';
import path from 'node:path';
import type { LoadedConfig, TenantConfig } from '../../../core/config';
import { HubError, type ErrorDetail } from '../../../core/errors';
import { resolveSecret } from '../../../core/secrets';
import { DEFAULT_CATEGORIES, FILE_IDS, type ExportCategory } from './fields';

export type ProfileConfig = NonNullable<NonNullable<TenantConfig['exports']>['profiles']>[number];

export interface ResolvedProfile {
  name: string;
  recipient: string;
  files: string[];
  categories: Set<ExportCategory>;
  formats: ('csv' | 'ndjson')[];
  /** HMAC-SHA256 keyed with the recipient's secret; undefined = real unified ids. */
  pseudonym?: (id: string) => string;
}

const MIN_SECRET_LENGTH = 16;

export function profilesOf(tenant: TenantConfig): ProfileConfig[] {
  return tenant.exports?.profiles ?? [];
}

/** The profile by name, or a bad_request naming `field` (the CLI's --profile, the API's body field). */
export function findProfile(tenant: TenantConfig, name: unknown, field = 'profile'): ProfileConfig {
  const known = profilesOf(tenant).map((p) => p.name);
  if (typeof name !== 'string' || !name) throw badRequest(field, `is required: the name of an export profile of tenant '${tenant.id}' (known: ${known.join(', ') || 'none configured'})`);
  const p = profilesOf(tenant).find((x) => x.name === name);
  if (!p) throw badRequest(field, `'${name.slice(0, 64)}' is not an export profile of tenant '${tenant.id}' (known: ${known.join(', ') || 'none configured'})`);
  return p;
}

/** A school year as the year it ends: '2026' for 2025-26. Numbers are accepted from JSON bodies. */
export function parseSchoolYear(v: unknown, field = 'schoolYear'): string {
  const s = typeof v === 'number' && Number.isInteger(v) ? String(v) : v;
  if (typeof s !== 'string' || !/^[0-9]{4}$/.test(s)) throw badRequest(field, 'must be a school year as four digits, the year it ends (2026 for 2025-26)');
  const n = Number(s);
  if (n < 1990 || n > 2100) throw badRequest(field, 'must be between 1990 and 2100');
  return s;
}

/** The school year in progress on a date: July to June, named by the year it ends. */
export function currentSchoolYear(now = new Date()): string {
  return String(now.getUTCMonth() >= 6 ? now.getUTCFullYear() + 1 : now.getUTCFullYear());
}

/** Categories that leave under a profile: the defaults, plus `include`, minus `exclude`. */
export function profileCategories(p: Pick<ProfileConfig, 'include' | 'exclude'>): Set<ExportCategory> {
  const out = new Set<ExportCategory>(DEFAULT_CATEGORIES);
  for (const c of p.include ?? []) out.add(c);
  for (const c of p.exclude ?? []) out.delete(c);
  return out;
}

export function pseudonymizer(secret: string): (id: string) => string {
  const key = Buffer.from(secret, 'utf8');
  return (id) => createHmac('sha256', key).update(id, 'utf8').digest('hex');
}

export function resolveProfile(tenant: TenantConfig, p: ProfileConfig, where: string, env: NodeJS.ProcessEnv): ResolvedProfile {
  let pseudonym: ResolvedProfile['pseudonym'];
  if (p.pseudonymize) {
    const secret = resolveSecret(p.pseudonymize.secret, `${where}.pseudonymize.secret`, env);
    if (secret.length < MIN_SECRET_LENGTH) {
      throw new HubError('config_invalid', `${where}.pseudonymize.secret: the pseudonymization key must be at least ${MIN_SECRET_LENGTH} characters.`, [{ path: `${where}.pseudonymize.secret`, message: 'too short' }]);
    }
    pseudonym = pseudonymizer(secret);
  }
  return {
    name: p.name,
    recipient: p.recipient,
    files: p.files?.length ? [...p.files] : [...FILE_IDS],
    categories: profileCategories(p),
    formats: p.formats?.length ? [...p.formats] : ['csv', 'ndjson'],
    pseudonym,
  };
}

export function profilePath(config: LoadedConfig, tenantId: string, name: string): string {
  const ti = config.config.tenants.findIndex((t) => t.id === tenantId);
  const pi = profilesOf(config.config.tenants[ti]).findIndex((p) => p.name === name);
  return `$.tenants[${ti}].exports.profiles[${pi}]`;
}

/** Where API and scheduled exports go: `exports.outputDir` relative to the config file, else .hub/exports. */
export function exportsDir(config: LoadedConfig, tenant: TenantConfig): string {
  return path.resolve(config.baseDir, tenant.exports?.outputDir ?? '.hub/exports');
}

/** Checks run when the configuration is loaded: duplicate names, cron expressions, opt-ins named in exclude. */
export function profileConfigProblems(tenant: TenantConfig, ti: number, validCron: (s: string) => boolean): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  const seen = new Set<string>();
  profilesOf(tenant).forEach((p, pi) => {
    const at = `$.tenants[${ti}].exports.profiles[${pi}]`;
    if (seen.has(p.name)) out.push({ path: `${at}.name`, message: `duplicate export profile name '${p.name}' in tenant '${tenant.id}'` });
    seen.add(p.name);
    if (p.schedule && !validCron(p.schedule)) out.push({ path: `${at}.schedule`, message: `'${p.schedule}' is not a valid cron expression (5 or 6 fields)` });
    for (const c of p.include ?? []) if ((p.exclude ?? []).includes(c)) out.push({ path: `${at}.exclude`, message: `'${c}' is both included and excluded` });
  });
  return out;
}
