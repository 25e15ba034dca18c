/**
 * Which database a knex instance (or transaction) talks to, for the few statements that differ between SQLite and
 * PostgreSQL (JSON functions, expression indexes, table options). Migrations and transaction-scoped code use it
 * where no `Db` is at hand; with one, read `db.dialect`.
 */
import type { Knex } from 'knex';
import type { Dialect } from './db';

export function knexDialect(knex: Knex | Knex.Transaction): Dialect {
  return /sqlite/.test(String(knex.client.config.client)) ? 'sqlite' : 'pg';
}
