/**
 * SQLite only: `source_records` and `records` become ordinary rowid tables (their composite primary key becomes a
 * unique index). Migration 001 made them WITHOUT ROWID to save one B-tree per write, but their rows (raw payload,
 * mapped data, provenance: ~0.3–1.5 KB) are far above the ~1/20-of-a-page size SQLite advises for WITHOUT ROWID
 * tables: inserts in key order that is not append order split pages, which were left ~50% empty (measured on a
 * 20k-student SIS: source_records 169 MB of which 80 MB unused, records 163 MB / 78 MB unused; after: 100 MB / 10 MB
 * and 98 MB / 14 MB, the whole file 418 -> 288 MB, ingest CPU ~5-10% lower). change_log and caliper_entities keep
 * WITHOUT ROWID (small rows appended in key order).
 *
 * The rebuild copies the table under a new name with the same columns and re-creates its indexes from
 * sqlite_schema, so columns added by later migrations (002) come along. PostgreSQL: nothing to do.
 */
import type { Knex } from 'knex';
import { knexDialect } from '../dialect';

const TABLES = ['source_records', 'records'];

const isSqlite = (knex: Knex) => knexDialect(knex) === 'sqlite';

async function rebuild(knex: Knex, name: string, withoutRowid: boolean): Promise<void> {
  const rows = (await knex.raw(`select type, name, sql from sqlite_schema where tbl_name = ? and sql is not null`, [name])) as { type: string; name: string; sql: string }[];
  const table = rows.find((r) => r.type === 'table');
  if (!table) throw new Error(`no table ${name}`);
  const isWithout = /\)\s*without\s+rowid\s*$/i.test(table.sql);
  if (isWithout === withoutRowid) return;
  const body = table.sql.replace(/\s*without\s+rowid\s*$/i, '');
  const tmp = `${name}__rebuild`;
  const create = body.replace(/^create table\s+[`"]?[A-Za-z_]+[`"]?/i, `create table \`${tmp}\``) + (withoutRowid ? ' without rowid' : '');
  await knex.raw(create);
  await knex.raw(`insert into \`${tmp}\` select * from \`${name}\``);
  await knex.raw(`drop table \`${name}\``);
  await knex.raw(`alter table \`${tmp}\` rename to \`${name}\``);
  for (const idx of rows.filter((r) => r.type === 'index')) await knex.raw(idx.sql);
}

export async function up(knex: Knex): Promise<void> {
  if (!isSqlite(knex)) return;
  for (const t of TABLES) await rebuild(knex, t, false);
}

export async function down(knex: Knex): Promise<void> {
  if (!isSqlite(knex)) return;
  for (const t of TABLES) await rebuild(knex, t, true);
}
