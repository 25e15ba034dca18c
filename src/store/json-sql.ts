/**
 * The one way to write "field `f` of a unified record's JSON" in SQL: `json_extract(data, '$.f')` on SQLite,
 * `(data::jsonb ->> 'f')` on PostgreSQL. The expression indexes of the migrations are created with it and the
 * queries use it, so the planners can match them (SQLite compares the expression text).
 */
export function jsonFieldSql(dialect: 'sqlite' | 'pg', field: string, alias?: string): string {
  if (!/^[A-Za-z][A-Za-z0-9]*$/.test(field)) throw new Error(`not a JSON field name: ${field}`);
  if (alias !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(alias)) throw new Error(`not a table alias: ${alias}`);
  const data = alias ? `${alias}.data` : 'data';
  return dialect === 'pg' ? `(${data}::jsonb ->> '${field}')` : `json_extract(${data}, '$.${field}')`;
}
