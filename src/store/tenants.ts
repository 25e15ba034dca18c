import type { Db } from './db';
import type { HubConfig } from '../types/unified.generated';
import { nowIso } from '../normalize/canonical';

/** Makes the tenants table match the configuration (tenants are never deleted: their data stays until purged). */
export async function ensureTenants(db: Db, config: HubConfig): Promise<void> {
  const at = nowIso();
  for (const t of config.tenants) {
    await db.knex('tenants').insert({ id: t.id, name: t.name, created_at: at, updated_at: at }).onConflict('id').merge(['name', 'updated_at']);
    await db.knex('tenant_sequences').insert({ tenant_id: t.id, last_seq: 0 }).onConflict('tenant_id').ignore();
  }
}
