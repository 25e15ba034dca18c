/**
 * Dialect-specific SQL the API needs, in one place. Unified records keep their JSON in `records.data` (text).
 */
import type { Knex } from 'knex';
import type { Db } from '../store/db';
import { jsonFieldSql } from '../store/json-sql';

/** Fields of a unified record the API filters on (a whitelist: the name ends up in the SQL text). */
export type JsonFilterField = 'classId' | 'personId' | 'schoolId';

/** The SQL expression for `records.data.<field>`, exactly as the expression indexes of migration 004 spell it. */
export function jsonField(db: Db, field: JsonFilterField): string {
  return jsonFieldSql(db.dialect, field);
}

/**
 * `where <data.field> = value` on `records.data`: `json_extract(data, '$.field')` on SQLite,
 * `(data::jsonb ->> 'field')` on PostgreSQL. personId and classId are indexed (with tenant_id, entity_type first).
 */
export function whereJsonField(db: Db, q: Knex.QueryBuilder, field: JsonFilterField, value: string): Knex.QueryBuilder {
  return q.whereRaw(`${jsonField(db, field)} = ?`, [value]);
}

/** `where <data.field> in (values | subquery)`. */
export function whereJsonFieldIn(db: Db, q: Knex.QueryBuilder, field: JsonFilterField, values: readonly string[] | Knex.QueryBuilder): Knex.QueryBuilder {
  if (Array.isArray(values) && !values.length) return q.whereRaw('1 = 0');
  return q.whereIn(db.knex.raw(jsonField(db, field)) as unknown as string, values as string[]);
}
