/**
 * The reference-field expression indexes on `records` (personId, classId from 004; schoolId, lineItemId, courseId
 * from 008) become partial: `where <expr> is not null`. Most records carry only some of these fields (a person none,
 * a class two, an enrollment three), yet every insert wrote an entry for each of the five indexes, NULL or not.
 * Measured on a 10k-student SIS load: the five indexes doubled the cost of the `records` inserts.
 *
 * Every query that uses them compares the expression with `=` or `IN`, which implies `is not null`, so both
 * planners still pick them (SQLite: verified with EXPLAIN QUERY PLAN in test/migrations.test.ts).
 * The index names do not change.
 */
import type { Knex } from 'knex';
import { knexDialect } from '../dialect';
import { jsonFieldSql } from '../json-sql';

export const PARTIAL_JSON_INDEXES: readonly { name: string; field: string }[] = [
  { name: 'records_json_personid', field: 'personId' },
  { name: 'records_json_classid', field: 'classId' },
  { name: 'records_json_school_id', field: 'schoolId' },
  { name: 'records_json_line_item_id', field: 'lineItemId' },
  { name: 'records_json_course_id', field: 'courseId' },
];

async function recreate(knex: Knex, partial: boolean): Promise<void> {
  const dialect = knexDialect(knex);
  for (const { name, field } of PARTIAL_JSON_INDEXES) {
    const expr = jsonFieldSql(dialect, field);
    await knex.raw(`drop index if exists ${name}`);
    await knex.raw(`create index ${name} on records (tenant_id, entity_type, ${expr})${partial ? ` where ${expr} is not null` : ''}`);
  }
}

export async function up(knex: Knex): Promise<void> {
  await recreate(knex, true);
}

export async function down(knex: Knex): Promise<void> {
  await recreate(knex, false);
}
