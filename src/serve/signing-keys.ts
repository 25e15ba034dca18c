/**
 * HS256 keys the hub makes for itself, one set per purpose (`session`: person sessions, `oneroster`: OneRoster access
 * tokens), kept in `signing_keys` so every process on the same database signs and verifies with the same keys and a
 * restart keeps tokens valid. A key is AES-GCM encrypted there when HUB_SECRET_KEY is set. Rotation retires the
 * current key and makes a new one: tokens the old key signed keep verifying for `maxTokenAgeSeconds` after the
 * retirement (the longest a token of that purpose lives), new tokens use the new key.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { encryptSecret, resolveSecret } from '../core/secrets';
import type { Db } from '../store/db';

interface KeyRow {
  kid: string;
  secret: string;
  created_at: string;
  retired_at: string | null;
}

export class SigningKeys {
  private cache = new Map<string, { key: Uint8Array; retiredAt: string | null }>();
  private current?: string;

  constructor(
    protected readonly db: Db,
    readonly purpose: string,
    private readonly maxTokenAgeSeconds: number,
    protected readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  private decode(row: KeyRow): Uint8Array {
    const raw = row.secret.startsWith('enc:') ? resolveSecret({ $enc: row.secret.slice(4) }, `signing_keys[${row.kid}]`, this.env) : row.secret;
    return Buffer.from(raw, 'base64url');
  }

  private async load(): Promise<void> {
    const rows = (await this.db.knex('signing_keys').where({ purpose: this.purpose }).orderBy('created_at', 'desc').select('kid', 'secret', 'created_at', 'retired_at')) as KeyRow[];
    this.cache = new Map(rows.map((r) => [r.kid, { key: this.decode(r), retiredAt: r.retired_at }]));
    this.current = rows.find((r) => !r.retired_at)?.kid;
  }

  private async create(): Promise<void> {
    const raw = randomBytes(32).toString('base64url');
    const secret = this.env.HUB_SECRET_KEY ? `enc:${encryptSecret(raw, this.env)}` : raw;
    await this.db.knex('signing_keys').insert({ kid: randomUUID(), purpose: this.purpose, secret, created_at: new Date().toISOString(), retired_at: null });
  }

  /** The key new tokens are signed with (made on first use). */
  async signingKey(): Promise<{ kid: string; key: Uint8Array }> {
    if (!this.current) await this.load();
    if (!this.current) {
      await this.create();
      await this.load();
    }
    const kid = this.current!;
    return { kid, key: this.cache.get(kid)!.key };
  }

  /** The key a token names by `kid`: undefined when unknown, or retired longer ago than a token can live. */
  async verificationKey(kid: string): Promise<Uint8Array | undefined> {
    if (!this.cache.has(kid)) await this.load();
    const k = this.cache.get(kid);
    if (!k) return undefined;
    if (k.retiredAt && Date.parse(k.retiredAt) + this.maxTokenAgeSeconds * 1000 < Date.now()) return undefined;
    return k.key;
  }

  /** Retires the current key and makes a new one; tokens already issued stay valid until they expire. */
  async rotate(): Promise<string> {
    await this.db.knex('signing_keys').where({ purpose: this.purpose }).whereNull('retired_at').update({ retired_at: new Date().toISOString() });
    await this.create();
    await this.load();
    return this.current!;
  }
}

const byDb = new WeakMap<Db, Map<string, SigningKeys>>();

/** The keys of a purpose for this database handle: one instance each, so the key cache is shared. */
export function signingKeys(db: Db, purpose: string, maxTokenAgeSeconds: number, env: NodeJS.ProcessEnv = process.env): SigningKeys {
  let m = byDb.get(db);
  if (!m) byDb.set(db, (m = new Map()));
  let k = m.get(purpose);
  if (!k) m.set(purpose, (k = new SigningKeys(db, purpose, maxTokenAgeSeconds, env)));
  return k;
}
