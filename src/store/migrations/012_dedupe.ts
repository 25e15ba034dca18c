/**
 * Removes what migrations 005 and 008 duplicated (they were written in parallel with 004):
 *  - `records_json_person_id`, `records_json_class_id` (008) index the same expressions as 004's
 *    `records_json_personid`, `records_json_classid`: every record insert maintained both.
 *  - `records_result_lineitem` (005, partial, results only) is covered by 008's `records_json_line_item_id`
 *    (tenant_id, entity_type, lineItemId).
 *  - `oneroster_signing_keys` (008): OneRoster access tokens are signed with the `oneroster` keys of `signing_keys`
 *    (src/serve/signing-keys.ts), like person sessions; tokens signed by the old table's key (an hour long) lapse.
 */
import type { Knex } from 'knex';
import { knexDialect } from '../dialect';
import { jsonFieldSql } from '../json-sql';

const DROPPED = ['records_json_person_id', 'records_json_class_id', 'records_result_lineitem'];

export async function up(knex: Knex): Promise<void> {
  for (const name of DROPPED) await knex.raw(`drop index if exists ${name}`);
  await knex.schema.dropTableIfExists('oneroster_signing_keys');
}

export async function down(knex: Knex): Promise<void> {
  const dialect = knexDialect(knex);
  await knex.raw(`create index records_json_person_id on records (tenant_id, entity_type, ${jsonFieldSql(dialect, 'personId')})`);
  await knex.raw(`create index records_json_class_id on records (tenant_id, entity_type, ${jsonFieldSql(dialect, 'classId')})`);
  await knex.raw(`create index records_result_lineitem on records (tenant_id, ${jsonFieldSql(dialect, 'lineItemId')}) where entity_type = 'result'`);
  await knex.schema.createTable('oneroster_signing_keys', (t) => {
    t.string('kid', 40).primary();
    t.text('secret').notNullable();
    t.string('created_at', 32).notNullable();
  });
}
