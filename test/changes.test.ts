/** appendChanges shares the tenant sequence with the ingest path: gap-free, monotonic, atomic with its transaction. */
import { describeEachDb } from './helpers/db';
import { appendChanges } from '../src/store/changes';
import type { Db } from '../src/store/db';

describeEachDb('appendChanges', (t) => {
  let db: Db;
  beforeAll(async () => {
    db = await t.open();
    const at = new Date().toISOString();
    await db.knex('tenants').insert({ id: 'c1', name: 'C1', created_at: at, updated_at: at });
    await db.knex('tenant_sequences').insert({ tenant_id: 'c1', last_seq: 41 });
  });
  afterAll(async () => db.close());

  it('allocates consecutive sequence numbers after the last one and records the diff', async () => {
    const seqs = await db.knex.transaction((trx) => appendChanges(trx, 'c1', [
      { entityType: 'mastery', entityId: 'm1', op: 'create', cause: 'recompute', diff: { level: [null, 3] } },
      { entityType: 'plp', entityId: 'p1', op: 'update', cause: 'api:teacher' },
    ]));
    expect(seqs).toEqual([42, 43]);
    const rows = await db.knex('change_log').where({ tenant_id: 'c1' }).orderBy('seq');
    expect(rows.map((r: { seq: number | string }) => Number(r.seq))).toEqual([42, 43]);
    expect(JSON.parse(rows[0].diff)).toEqual({ level: [null, 3] });
  });

  it('rolls back with its transaction: no entry and no sequence number consumed', async () => {
    await expect(db.knex.transaction(async (trx) => {
      await appendChanges(trx, 'c1', [{ entityType: 'plp', entityId: 'p2', op: 'update', cause: 'api' }]);
      throw new Error('boom');
    })).rejects.toThrow('boom');
    const seqs = await db.knex.transaction((trx) => appendChanges(trx, 'c1', [{ entityType: 'plp', entityId: 'p3', op: 'update', cause: 'api' }]));
    expect(seqs).toEqual([44]);
  });

  it('refuses an unknown tenant', async () => {
    await expect(db.knex.transaction((trx) => appendChanges(trx, 'nope', [{ entityType: 'plp', entityId: 'x', op: 'create', cause: 'api' }]))).rejects.toThrow(/no sequence row/);
  });
});
