/**
 * The OneRoster 1.2 provider (src/serve/oneroster/):
 *
 *  - `oneroster_signing_keys`: the HS256 key the hub signs its OneRoster access tokens with. Generated once, by the
 *    first process that needs it (insert-if-absent, then everyone reads the row back), so every web process and every
 *    restart verifies the same tokens without a key in the configuration.
 *  - Expression indexes on the JSON reference fields the provider joins and filters on (`personId`, `classId`,
 *    `schoolId`, `lineItemId`, `courseId`): nested routes (`/classes/{id}/students`, `/users/{id}/classes`...),
 *    the roles of a page of users, filters such as `class.sourcedId='...'`. SQLite indexes the exact expression
 *    `json_extract(data, '$.field')` (the provider writes the path as a literal so the planner can match it);
 *    PostgreSQL indexes `(data::jsonb ->> 'field')`. `tenant_id, entity_type` lead, like every key of the store.
 */
import type { Knex } from 'knex';
import { knexDialect } from '../dialect';
import { jsonFieldSql } from '../json-sql';

/** Reference fields indexed for the provider, with the index name suffix. */
export const INDEXED_JSON_FIELDS = ['personId', 'classId', 'schoolId', 'lineItemId', 'courseId'] as const;


const indexName = (field: string) => `records_json_${field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('oneroster_signing_keys', (t) => {
    t.string('kid', 40).primary();
    t.text('secret').notNullable(); // base64url, 32 random bytes
    t.string('created_at', 32).notNullable();
  });
  for (const f of INDEXED_JSON_FIELDS) {
    const expr = jsonFieldSql(knexDialect(knex), f);
    await knex.raw(`create index ${indexName(f)} on records (tenant_id, entity_type, ${expr})`);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const f of INDEXED_JSON_FIELDS) await knex.raw(`drop index if exists ${indexName(f)}`);
  await knex.schema.dropTableIfExists('oneroster_signing_keys');
}
