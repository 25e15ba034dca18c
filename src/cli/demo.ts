/**
 * The demo's secrets and the quick-start lines `hub start` prints for them (src/cli/main.ts). Demo only: a real
 * deployment sets its secrets in the environment or encrypts them in the configuration (`hub secret encrypt`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

export interface DemoSecret {
  /** The secret's value (also in env[name] afterwards). */
  value: string;
  /** True when env[name] was already set: nothing was read or written. */
  fromEnv: boolean;
  /** The file holding it (made on first use, mode 0600, reused afterwards). */
  file: string;
}

/**
 * The value of the secret environment variable `name`: kept when set, otherwise read from `file`, which is made
 * with a new random value (`<prefix><24 random bytes, base64url>`) the first time. Sets env[name].
 */
export function demoSecret(env: NodeJS.ProcessEnv, name: string, file: string, prefix: string): DemoSecret {
  const set = env[name];
  if (set) return { value: set, fromEnv: true, file };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  if (!fs.existsSync(file) || !fs.readFileSync(file, 'utf8').trim()) fs.writeFileSync(file, `${prefix}${randomBytes(18).toString('base64url')}\n`, { mode: 0o600 });
  const value = fs.readFileSync(file, 'utf8').trim();
  env[name] = value;
  return { value, fromEnv: false, file };
}

/** How a shell line refers to a demo secret: the file it is stored in (relative to cwd), or the variable it came from. */
export function shellRef(s: DemoSecret, name: string, cwd = process.cwd()): string {
  return s.fromEnv ? `$${name}` : `$(cat ${path.relative(cwd, s.file) || s.file})`;
}

/**
 * How a banner names a demo secret: a generated one with the file it is stored in and its value (the newcomer's
 * own, made on this machine); one from the environment by its variable only — never its value (an operator's real
 * secret must not land in a terminal log).
 */
export function secretLabel(s: DemoSecret, name: string, cwd = process.cwd()): string {
  return s.fromEnv ? `from ${name}` : `(stored in ${path.relative(cwd, s.file) || s.file}): ${s.value}`;
}

export interface AccessDemo {
  baseUrl: string;
  tenant: string;
  apiKey: DemoSecret;
  oneRosterSecret: DemoSecret;
  cwd?: string;
}

/** The quick start's lines for the operator API and the OneRoster provider, with each secret named as secretLabel says. */
export function accessDemoLines(d: AccessDemo): string[] {
  const cwd = d.cwd ?? process.cwd();
  const key = shellRef(d.apiKey, 'HUB_API_KEY', cwd);
  const api = `${d.baseUrl}/api/v1/tenants/${d.tenant}`;
  return [
    `Demo API key ${secretLabel(d.apiKey, 'HUB_API_KEY', cwd)}`,
    'Try:',
    `  curl ${d.baseUrl}/healthz`,
    `  curl -H "Authorization: Bearer ${key}" ${api}/runs`,
    `  curl -H "Authorization: Bearer ${key}" "${api}/persons?limit=5"`,
    '',
    `OneRoster 1.2: client id demo-vendor, secret ${secretLabel(d.oneRosterSecret, 'HUB_ONEROSTER_SECRET', cwd)}`,
    `  TOKEN=$(curl -s -u demo-vendor:${shellRef(d.oneRosterSecret, 'HUB_ONEROSTER_SECRET', cwd)} -d grant_type=client_credentials ${d.baseUrl}/ims/oneroster/token | sed 's/.*"access_token":"\\([^"]*\\)".*/\\1/')`,
    `  curl -H "Authorization: Bearer $TOKEN" "${d.baseUrl}/ims/oneroster/rostering/v1p2/students?limit=5"`,
    `  curl -H "Authorization: Bearer ${key}" -o demo-oneroster.zip ${api}/exports/oneroster`,
    `  curl -H "Authorization: Bearer ${key}" "${api}/competencies?subject=Mathematics"`,
  ];
}

export interface CaliperDemo {
  baseUrl: string;
  tenant: string;
  /** The sensor IRI configured for the tenant (the envelopes' `sensor`). */
  sensor: string;
  token: DemoSecret;
  tokenEnv: string;
  /** The generator's Caliper envelopes, one per line (fixtures/demo/district/caliper/events.ndjson). */
  eventsFile: string;
  apiKeyRef: string;
  cwd?: string;
}

/** Banner lines: the sensor, where its token is, a curl posting the first generated envelope, and how to read it back. */
export function caliperDemoLines(d: CaliperDemo): string[] {
  const cwd = d.cwd ?? process.cwd();
  const events = path.relative(cwd, d.eventsFile) || d.eventsFile;
  return [
    `Caliper 1.2: sensor ${d.sensor}, token ${secretLabel(d.token, d.tokenEnv, cwd)}`,
    `  head -n 1 ${events} | curl -sS -w '%{http_code}\\n' -X POST -H "Authorization: Bearer ${shellRef(d.token, d.tokenEnv, cwd)}" -H 'Content-Type: application/json' --data-binary @- ${d.baseUrl}/caliper/${d.tenant}`,
    `  curl -H "Authorization: Bearer ${d.apiKeyRef}" "${d.baseUrl}/api/v1/tenants/${d.tenant}/learning-events?limit=5"`,
  ];
}
