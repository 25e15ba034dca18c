/**
 * Secrets in configuration are never literal: `{ "$env": "NAME" }` reads an environment variable at use time, and
 * `{ "$enc": "v1:..." }` is AES-256-GCM ciphertext made by `hub secret encrypt` with the key in HUB_SECRET_KEY.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { HubError } from './errors';

export type SecretRef = { $env: string } | { $enc: string };

export function isSecretRef(v: unknown): v is SecretRef {
  return !!v && typeof v === 'object' && !Array.isArray(v) && (typeof (v as { $env?: unknown }).$env === 'string' || typeof (v as { $enc?: unknown }).$enc === 'string');
}

function masterKey(env: NodeJS.ProcessEnv): Buffer {
  const k = env.HUB_SECRET_KEY;
  if (!k) throw new HubError('secret_missing', 'HUB_SECRET_KEY is not set: it is needed to decrypt "$enc" secrets in the configuration.');
  return createHash('sha256').update(k).digest();
}

export function encryptSecret(plain: string, env: NodeJS.ProcessEnv = process.env): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', masterKey(env), iv);
  const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
  return `v1:${Buffer.concat([iv, c.getAuthTag(), body]).toString('base64url')}`;
}

export function resolveSecret(ref: SecretRef, where: string, env: NodeJS.ProcessEnv = process.env): string {
  if ('$env' in ref) {
    const v = env[ref.$env];
    if (v === undefined || v === '') throw new HubError('secret_missing', `${where}: environment variable ${ref.$env} is not set.`, [{ path: where, message: `set ${ref.$env}` }]);
    return v;
  }
  const buf = Buffer.from(ref.$enc.slice(3), 'base64url');
  try {
    const d = createDecipheriv('aes-256-gcm', masterKey(env), buf.subarray(0, 12));
    d.setAuthTag(buf.subarray(12, 28));
    return Buffer.concat([d.update(buf.subarray(28)), d.final()]).toString('utf8');
  } catch (e) {
    if (e instanceof HubError) throw e;
    throw new HubError('secret_missing', `${where}: the encrypted secret cannot be decrypted with HUB_SECRET_KEY (wrong key or damaged value).`, [{ path: where, message: 'decryption failed' }]);
  }
}
