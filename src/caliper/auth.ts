/**
 * Sensor authentication for `POST /caliper/:tenant`. Each tenant lists its sensors under `caliper.sensors`: the
 * sensor IRI (what the sensor sends as the envelope's `sensor`) and either the SHA-256 of its bearer token
 * (`sha256`) or a secret reference (`token: {"$env": ...}` / `{"$enc": ...}`, resolved once when the app is built
 * and hashed at once). A request presents `Authorization: Bearer <token>`; its SHA-256 is compared with every
 * sensor hash of the tenant in the URL, in constant time and without an early exit. Tokens are never logged.
 *
 * A token only ever opens its own tenant: a sensor of tenant A posting to /caliper/B is 401, exactly like an
 * unknown token, so tenant ids cannot be probed. Two entries may share a sensor IRI (token rotation: old and new
 * token side by side), never a token.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { HubError } from '../core/errors';
import { isSecretRef, resolveSecret } from '../core/secrets';
import type { HubConfig } from '../types/unified.generated';
import { isIri } from './validate';

export interface Sensor {
  /** The sensor IRI, compared with the envelope's `sensor`. */
  id: string;
  /** `name` from the configuration, else the IRI: safe to log. */
  name: string;
  hash: Buffer;
}

export interface TenantSensors {
  sensors: Sensor[];
  maxPayloadBytes: number;
}

export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;
const MAX_TOKEN_LENGTH = 512;

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Reads every tenant's `caliper` block. Throws `secret_missing` / `config_invalid` like loadApiKeys. */
export function loadSensors(config: HubConfig, env: NodeJS.ProcessEnv): Map<string, TenantSensors> {
  const out = new Map<string, TenantSensors>();
  config.tenants.forEach((t, ti) => {
    const seen = new Map<string, string>();
    const sensors: Sensor[] = [];
    (t.caliper?.sensors ?? []).forEach((s, si) => {
      const at = `$.tenants[${ti}].caliper.sensors[${si}]`;
      // Envelopes must name the sensor by IRI; an id that is not one could never post.
      if (!isIri(s.id)) throw new HubError('config_invalid', `${at}.id: the sensor id must be the sensor's IRI (e.g. https://lms.example.edu/sensors/1).`, [{ path: `${at}.id`, message: 'must be an IRI' }]);
      let hash: Buffer;
      if (typeof s.sha256 === 'string') hash = Buffer.from(s.sha256, 'hex');
      else if (isSecretRef(s.token)) hash = sha256(resolveSecret(s.token, `${at}.token`, env));
      else throw new HubError('config_invalid', `${at}: give either sha256 or token.`, [{ path: at, message: 'sha256 or token is required' }]);
      const hex = hash.toString('hex');
      const other = seen.get(hex);
      if (other !== undefined) {
        throw new HubError('config_invalid', `${at}: sensors '${other}' and '${s.name ?? s.id}' of tenant '${t.id}' share a token.`, [{ path: at, message: 'same token as another sensor' }]);
      }
      seen.set(hex, s.name ?? s.id);
      sensors.push({ id: s.id, name: s.name ?? s.id, hash });
    });
    out.set(t.id, { sensors, maxPayloadBytes: t.caliper?.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES });
  });
  return out;
}

/** The bearer token of the request, or why there is none. Caliper uses `Authorization: Bearer` only. */
export function bearerToken(authorization: string | undefined): { token?: string; problem?: string } {
  if (authorization === undefined) return { problem: 'A sensor token is required: send Authorization: Bearer <token>.' };
  const m = /^Bearer +([^\s]+) *$/i.exec(authorization);
  if (!m) return { problem: "The Authorization header must be 'Bearer <token>'." };
  return { token: m[1] };
}

/** Compares with every sensor of the tenant (no early exit), each comparison in constant time. */
export function matchSensor(sensors: readonly Sensor[], token: string): Sensor | undefined {
  if (token.length > MAX_TOKEN_LENGTH) return undefined;
  const h = sha256(token);
  let found: Sensor | undefined;
  for (const s of sensors) {
    if (timingSafeEqual(h, s.hash) && !found) found = s;
  }
  return found;
}
