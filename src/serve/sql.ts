/**
 * Dialect-specific SQL the API needs, in one place. Unified records keep their JSON in `records.data` (text).
 */
import type { Knex } from 'knex';
import type { Db } from '../store/db';

/** Fields of a unified record the API filters on (a whitelist: the name ends up in SQL, though as a binding). */
export type JsonFilterField = 'classId' | 'personId' | 'schoolId';

/**
 * `where <data.field> = value` on `records.data`: `json_extract(data, '$.field')` on SQLite,
 * `(data::jsonb ->> 'field')` on PostgreSQL. Not indexed yet: an expression index would come with a migration.
 */
export function whereJsonField(db: Db, q: Knex.QueryBuilder, field: JsonFilterField, value: string): Knex.QueryBuilder {
  if (db.dialect === 'pg') return q.whereRaw('(data::jsonb ->> ?) = ?', [field, value]);
  return q.whereRaw('json_extract(data, ?) = ?', [`$.${field}`, value]);
}
