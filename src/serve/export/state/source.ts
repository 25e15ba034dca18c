/**
 * Reading the store for the extract: one consistent snapshot, keyset pages.
 *
 *  - Snapshot: PostgreSQL reads inside a REPEATABLE READ, READ ONLY transaction; SQLite reads through a second
 *    connection to the same file inside one transaction (WAL: the snapshot is taken at its first read, syncs keep
 *    writing meanwhile, and the main connection is never held). The change-log seq read first is therefore exactly
 *    the state the whole extract shows.
 *  - Pages: persons by primary key (`id > last order by id limit n`); per page, the page's records of each type via
 *    the `records.data.personId` expression index. Memory is bounded by the page, plus the catalogs (sessions,
 *    classes, courses, orgs, assessments) which do not grow with the number of students' rows.
 */
import type { Knex } from 'knex';
import { openDb, type Db, type Dialect } from '../../../store/db';
import { jsonFieldSql } from '../../../store/json-sql';

export type Snapshot = Knex.Transaction;

export async function withSnapshot<T>(db: Db, fn: (q: Snapshot) => Promise<T>): Promise<T> {
  if (db.dialect === 'pg') return db.knex.transaction(fn, { isolationLevel: 'repeatable read', readOnly: true });
  const filename = (db.knex.client.config.connection as { filename?: string } | undefined)?.filename;
  if (!filename || filename === ':memory:') return db.knex.transaction(fn);
  const reader = await openDb({ url: filename });
  try {
    return await reader.knex.transaction(fn);
  } finally {
    await reader.close();
  }
}

export interface RecordRow {
  id: string;
  data: Record<string, unknown>;
}

function parse(rows: { id: string; data: string }[]): RecordRow[] {
  return rows.map((r) => ({ id: r.id, data: JSON.parse(r.data) as Record<string, unknown> }));
}

/** Every live record of a (catalog) type, read in keyset pages. */
export async function allOfType(q: Snapshot, tenantId: string, type: string, pageSize = 5000): Promise<RecordRow[]> {
  const out: RecordRow[] = [];
  let after = '';
  for (;;) {
    const rows = (await q('records').where({ tenant_id: tenantId, entity_type: type }).whereNull('deleted_at').where('id', '>', after)
      .orderBy('id', 'asc').limit(pageSize).select('id', 'data')) as { id: string; data: string }[];
    out.push(...parse(rows));
    if (rows.length < pageSize) return out;
    after = rows[rows.length - 1].id;
  }
}

/** One keyset page of live, unmerged persons after `after`. */
export async function personPage(q: Snapshot, tenantId: string, after: string, limit: number): Promise<RecordRow[]> {
  const rows = (await q('records').where({ tenant_id: tenantId, entity_type: 'person' }).whereNull('deleted_at').whereNull('merged_into')
    .where('id', '>', after).orderBy('id', 'asc').limit(limit).select('id', 'data')) as { id: string; data: string }[];
  return parse(rows);
}

/**
 * Live records of a type whose `data.personId` is one of `ids`, through the expression index of migration 004. On
 * SQLite the index is named (INDEXED BY): with the statistics the sync's sampled ANALYZE leaves (a few hundred rows
 * per type), the planner takes a list of 50 or more ids for a scan of every record of the type — each page of the
 * extract then read the whole type (20k students: 214 ms per query instead of a few).
 */
export async function byPerson(q: Snapshot, dialect: Dialect, tenantId: string, type: string, ids: readonly string[]): Promise<RecordRow[]> {
  if (!ids.length) return [];
  const from = dialect === 'sqlite' ? q.raw('?? indexed by ??', ['records', 'records_json_personid']) : 'records';
  const rows = (await q.from(from as unknown as string).where({ tenant_id: tenantId, entity_type: type }).whereNull('deleted_at')
    .whereIn(q.raw(jsonFieldSql(dialect, 'personId')) as unknown as string, ids as string[])
    .orderBy('id', 'asc').select('id', 'data')) as { id: string; data: string }[];
  return parse(rows);
}

/** Live records of a type by id. */
export async function byIds(q: Snapshot, tenantId: string, type: string, ids: readonly string[]): Promise<Map<string, RecordRow>> {
  const out = new Map<string, RecordRow>();
  const uniq = [...new Set(ids)];
  for (let i = 0; i < uniq.length; i += 1000) {
    const rows = (await q('records').where({ tenant_id: tenantId, entity_type: type }).whereNull('deleted_at').whereIn('id', uniq.slice(i, i + 1000))
      .select('id', 'data')) as { id: string; data: string }[];
    for (const r of parse(rows)) out.set(r.id, r);
  }
  return out;
}

export async function hasTable(q: Snapshot, name: string): Promise<boolean> {
  return q.schema.hasTable(name);
}
