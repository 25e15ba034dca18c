/**
 * Who may see which learner (src/serve/access.ts) and the keys that sign hub sessions (src/serve/sessions.ts).
 *
 *  - `guardianships`: a guardian (a unified person) linked to a learner, from configuration, the API or a source
 *    system (OneRoster `agentSourcedIds`). A guardian sees only the learners linked here.
 *  - `signing_keys`: secrets the hub generates for itself (session tokens). A key is retired, not deleted, so tokens
 *    signed just before a rotation still verify until they expire. The secret is AES-GCM ciphertext when
 *    HUB_SECRET_KEY is set (see src/core/secrets.ts).
 *  - Expression indexes on `records.data.personId` and `.classId`: "enrollments of this person", "learners of this
 *    class" and every per-learner lookup (results, assessments, behaviour, mastery) go through them. The expressions
 *    must be written exactly as src/store/json-sql.ts writes them, or the planner will not use the index.
 */
import type { Knex } from 'knex';
import { knexDialect } from '../dialect';
import { jsonFieldSql } from '../json-sql';

export const JSON_INDEXED_FIELDS = ['personId', 'classId'] as const;


export async function up(knex: Knex): Promise<void> {
  const dialect = knexDialect(knex);
  await knex.schema.createTable('guardianships', (t) => {
    t.string('tenant_id', 63).notNullable();
    t.string('guardian_id', 64).notNullable();
    t.string('learner_id', 64).notNullable();
    t.string('relationship', 32).notNullable(); // parent, guardian, relative, mentor
    t.string('source', 120).notNullable(); // 'api:<key name>', 'config', or a connector id
    t.string('created_at', 32).notNullable();
    t.primary(['tenant_id', 'guardian_id', 'learner_id']);
    t.index(['tenant_id', 'learner_id']);
  });
  await knex.schema.createTable('signing_keys', (t) => {
    t.string('kid', 40).primary();
    t.string('purpose', 32).notNullable();
    t.text('secret').notNullable();
    t.string('created_at', 32).notNullable();
    t.string('retired_at', 32);
    t.index(['purpose', 'created_at']);
  });
  for (const f of JSON_INDEXED_FIELDS) {
    await knex.raw(`create index records_json_${f.toLowerCase()} on records (tenant_id, entity_type, ${jsonFieldSql(dialect, f)})`);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const f of JSON_INDEXED_FIELDS) await knex.raw(`drop index if exists records_json_${f.toLowerCase()}`);
  await knex.schema.dropTable('signing_keys');
  await knex.schema.dropTable('guardianships');
}
