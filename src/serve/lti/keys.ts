/**
 * The tool's RSA signing keys (RS256): what the platform verifies our client assertions and deep-linking responses
 * with, published at /lti/keys. One key is current; `rotate()` retires it and makes a new one. A retired key stays in
 * the JWKS for `overlapHours` so a message signed just before a rotation (a deep-linking response in flight, a
 * cached client assertion) still verifies, and platforms that cache our JWKS have time to refetch it.
 *
 * Private keys are stored AES-GCM encrypted (src/core/secrets.ts) when HUB_SECRET_KEY is set.
 */
import { createPublicKey, generateKeyPair, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import type { Db } from '../../store/db';
import { encryptSecret, resolveSecret } from '../../core/secrets';

const generate = promisify(generateKeyPair);

export interface ToolKey {
  kid: string;
  publicPem: string;
  privatePem: string;
  createdAt: string;
  retiredAt: string | null;
}

interface Row {
  kid: string;
  public_pem: string;
  private_pem: string;
  created_at: string;
  retired_at: string | null;
}

export interface Jwk {
  kty: string;
  kid: string;
  alg: 'RS256';
  use: 'sig';
  n: string;
  e: string;
}

export class ToolKeys {
  private cache?: { at: number; keys: ToolKey[] };
  private creating?: Promise<void>;

  constructor(private readonly db: Db, private readonly env: NodeJS.ProcessEnv, private readonly overlapHours: number) {}

  private decode(r: Row): ToolKey {
    const priv = r.private_pem.startsWith('enc:') ? resolveSecret({ $enc: r.private_pem.slice(4) }, `lti_keys[${r.kid}]`, this.env) : r.private_pem;
    return { kid: r.kid, publicPem: r.public_pem, privatePem: priv, createdAt: r.created_at, retiredAt: r.retired_at };
  }

  /** Keys still published: the current one and those retired less than the overlap ago (cached for 5 s). */
  async published(): Promise<ToolKey[]> {
    if (this.cache && Date.now() - this.cache.at < 5000) return this.cache.keys;
    const cutoff = new Date(Date.now() - this.overlapHours * 3600_000).toISOString();
    const rows = (await this.db.knex('lti_keys').where((q) => q.whereNull('retired_at').orWhere('retired_at', '>', cutoff)).orderBy('created_at', 'desc').select()) as Row[];
    const keys = rows.map((r) => this.decode(r));
    this.cache = { at: Date.now(), keys };
    return keys;
  }

  /** The key new messages are signed with (made on first use). */
  async current(): Promise<ToolKey> {
    let cur = (await this.published()).find((k) => !k.retiredAt);
    if (!cur) {
      this.creating ??= this.create().finally(() => (this.creating = undefined));
      await this.creating;
      this.cache = undefined;
      cur = (await this.published()).find((k) => !k.retiredAt);
    }
    return cur!;
  }

  async byKid(kid: string): Promise<ToolKey | undefined> {
    return (await this.published()).find((k) => k.kid === kid);
  }

  private async create(): Promise<void> {
    const { publicKey, privateKey } = await generate('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    const priv = this.env.HUB_SECRET_KEY ? `enc:${encryptSecret(privateKey, this.env)}` : privateKey;
    await this.db.knex.transaction(async (trx) => {
      // Another process may have made one meanwhile: keep a single current key.
      const existing = await trx('lti_keys').whereNull('retired_at').first('kid');
      if (existing) return;
      await trx('lti_keys').insert({ kid: randomUUID(), public_pem: publicKey, private_pem: priv, created_at: new Date().toISOString(), retired_at: null });
    });
  }

  /** Retires the current key and makes a new one; returns the new kid. */
  async rotate(): Promise<string> {
    await this.db.knex('lti_keys').whereNull('retired_at').update({ retired_at: new Date().toISOString() });
    this.cache = undefined;
    return (await this.current()).kid;
  }

  /** The JWKS document. */
  async jwks(): Promise<{ keys: Jwk[] }> {
    return { keys: (await this.published()).map((k) => toJwk(k)) };
  }
}

export function toJwk(k: Pick<ToolKey, 'kid' | 'publicPem'>): Jwk {
  const j = createPublicKey(k.publicPem).export({ format: 'jwk' }) as { kty: string; n: string; e: string };
  return { kty: j.kty, n: j.n, e: j.e, kid: k.kid, alg: 'RS256', use: 'sig' };
}
