/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com/): a secret is `whsec_` + base64 of random bytes;
 * the HMAC key is the base64-decoded part after the prefix; the signature of a message is
 * `v1,` + base64(HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")); several signatures (a rotation in
 * progress) are space-separated in one `webhook-signature` header.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SECRET_PREFIX = 'whsec_';

export function newWebhookSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
}

/** The HMAC key of a `whsec_` secret; undefined when the secret is not of that form. */
export function secretKey(secret: string): Buffer | undefined {
  if (!secret.startsWith(SECRET_PREFIX)) return undefined;
  const b64 = secret.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return undefined;
  const key = Buffer.from(b64, 'base64');
  return key.length >= 16 ? key : undefined;
}

export function isWebhookSecret(secret: string): boolean {
  return secretKey(secret) !== undefined;
}

export function sign(key: Buffer, msgId: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${msgId}.${timestamp}.${body}`, 'utf8').digest('base64')}`;
}

/** The `webhook-signature` header: one signature per key, newest first. */
export function signatureHeader(keys: Buffer[], msgId: string, timestamp: number, body: string): string {
  return keys.map((k) => sign(k, msgId, timestamp, body)).join(' ');
}

/** Verifies a header against a secret (constant-time per candidate). Used by tests and in the README's example. */
export function verifySignature(secret: string, msgId: string, timestamp: number | string, body: string, header: string): boolean {
  const key = secretKey(secret);
  if (!key) return false;
  const expected = Buffer.from(sign(key, msgId, Number(timestamp), body).slice(3), 'base64');
  let ok = false;
  for (const part of header.split(' ')) {
    const [version, sig] = part.split(',', 2);
    if (version !== 'v1' || !sig) continue;
    const got = Buffer.from(sig, 'base64');
    if (got.length === expected.length && timingSafeEqual(got, expected)) ok = true;
  }
  return ok;
}
