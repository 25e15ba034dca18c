/**
 * Many rows in one statement. On PostgreSQL the rows travel as one JSON parameter expanded by
 * `json_to_recordset(...) as x(col type, ...)`: one statement per 5,000 rows, one bound value, a fixed SQL text —
 * instead of a multi-row VALUES list with a parameter per cell (knex numbers every `?`, the server parses a new
 * statement of thousands of parameters each time). On SQLite (in-process) the rows go as knex multi-row inserts
 * of 100 to 500 rows (about 1,000 bound values; knex writes them as a compound SELECT, capped at 500 terms).
 *
 * Column types are PostgreSQL's (`text`, `int`, `bigint`, `boolean`, `real`); a text value lands in a varchar column
 * through the usual assignment cast, so a value longer than the column is refused as with a plain insert.
 */
import type { Knex } from 'knex';
import type { Dialect } from './db';

export type ColumnTypes = Record<string, 'text' | 'int' | 'bigint' | 'boolean' | 'real'>;

const PG_CHUNK = 5000;
const IDENT = /^[a-z_][a-z0-9_]*$/;

/** A column or table name, quoted (names such as `at` stay names). */
function ident(name: string): string {
  if (!IDENT.test(name)) throw new Error(`not a plain SQL identifier: ${name}`);
  return `"${name}"`;
}

/** `json_to_recordset(?::json) as <alias>(col type, ...)`: the rows of one JSON parameter, typed (PostgreSQL). */
export function pgRecordset(types: ColumnTypes, alias = 'x'): string {
  const cols = Object.entries(types).map(([c, t]) => `${ident(c)} ${t}`).join(', ');
  return `json_to_recordset(?::json) as ${ident(alias)}(${cols})`;
}

/**
 * Inserts `rows` (each with the keys of `types`; a missing key is NULL) into `table`. With `conflictOn`, a row whose
 * key exists already is skipped (`on conflict (...) do nothing`), or, with `merge`, updates those columns of the
 * existing row from the new one (`do update set c = excluded.c`).
 */
export async function insertRows(
  k: Knex | Knex.Transaction, dialect: Dialect, table: string, types: ColumnTypes, rows: Record<string, unknown>[], conflictOn?: string[], merge?: string[],
): Promise<void> {
  if (!rows.length) return;
  if (dialect === 'pg') {
    const cols = Object.keys(types).map(ident).join(', ');
    const action = merge?.length ? `do update set ${merge.map((c) => `${ident(c)} = excluded.${ident(c)}`).join(', ')}` : 'do nothing';
    const conflict = conflictOn ? ` on conflict (${conflictOn.map(ident).join(', ')}) ${action}` : '';
    const sql = `insert into ${ident(table)} (${cols}) select ${cols} from ${pgRecordset(types)}${conflict}`;
    for (let i = 0; i < rows.length; i += PG_CHUNK) await k.raw(sql, [JSON.stringify(rows.slice(i, i + PG_CHUNK))]);
    return;
  }
  const chunk = Math.min(500, Math.max(100, Math.floor(1000 / Object.keys(types).length)));
  for (let i = 0; i < rows.length; i += chunk) {
    const q = k(table).insert(rows.slice(i, i + chunk));
    await (conflictOn ? (merge?.length ? q.onConflict(conflictOn).merge(merge) : q.onConflict(conflictOn).ignore()) : q);
  }
}
