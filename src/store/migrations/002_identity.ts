/**
 * Identity resolution: one unified person per learner across systems.
 *  - source_records gains, for persons, the source's own mapped fields (`data`: the merged view is computed from
 *    them by field precedence) and how the source person was matched (`match_state`, `match_rule`, `match_score`);
 *    for records that refer to persons, the *source* ids of those references (`refs`), so a merge or an unmerge can
 *    re-resolve them exactly.
 *  - records gains per-field provenance for merged entities and `merged_into` for a person absorbed by a merge.
 *  - match_candidates is the review queue; identity_decisions records every decision (who, when, why), reversibly.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('source_records', (t) => {
    t.text('data');
    t.text('refs');
    t.string('match_state', 16); // provisional | new | linked | review | manual | conflict
    t.text('match_rule');
    t.float('match_score');
  });
  await knex.schema.alterTable('runs', (t) => {
    t.text('matching'); // JSON: identity resolution figures of the run (considered, linked, review, new, conflicts)
  });
  await knex.schema.alterTable('records', (t) => {
    t.text('provenance');
    t.string('merged_into', 64);
  });
  // Every identifier every source gives a person, pointing at the unified person it stands for: exact matching on
  // strong identifiers at ingest, conflicts (two persons claiming one state id), search by any identifier.
  await knex.schema.createTable('person_identifiers', (t) => {
    t.string('tenant_id', 63).notNullable();
    t.string('system', 100).notNullable(); // lower-cased
    t.string('value', 255).notNullable();
    t.string('connector_id', 63).notNullable();
    t.string('source_id', 255).notNullable();
    t.string('person_id', 64).notNullable();
    t.primary(['tenant_id', 'system', 'value', 'connector_id', 'source_id']);
    t.index(['tenant_id', 'person_id']);
    t.index(['tenant_id', 'connector_id', 'source_id']);
  });
  await knex.schema.createTable('match_candidates', (t) => {
    t.string('id', 40).primary();
    t.string('tenant_id', 63).notNullable();
    t.string('connector_id', 63).notNullable();
    t.string('source_id', 255).notNullable();
    t.string('person_id', 64).notNullable(); // the unified person the source person stands as now
    t.string('candidate_id', 64).notNullable(); // the unified person it may be
    t.float('score').notNullable();
    t.text('evidence').notNullable(); // JSON: rule, features, conflicts
    t.string('status', 16).notNullable(); // open | accepted | rejected | superseded
    t.string('created_at', 32).notNullable();
    t.string('decided_by', 200);
    t.string('decided_at', 32);
    t.text('reason');
    t.index(['tenant_id', 'status']);
    t.index(['tenant_id', 'connector_id', 'source_id']);
  });
  await knex.schema.createTable('identity_decisions', (t) => {
    t.string('id', 40).primary();
    t.string('tenant_id', 63).notNullable();
    t.string('kind', 16).notNullable(); // auto_link | merge | unmerge | accept | reject
    t.string('person_id', 64).notNullable(); // the surviving / affected person
    t.string('other_id', 64); // the absorbed / split-off person
    t.text('payload').notNullable(); // JSON: the source records moved, to reverse it exactly
    t.string('run_id', 40);
    t.string('decided_by', 200).notNullable();
    t.string('decided_at', 32).notNullable();
    t.text('reason');
    t.string('reverted_by', 40);
    t.index(['tenant_id', 'person_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('identity_decisions');
  await knex.schema.dropTableIfExists('match_candidates');
  await knex.schema.dropTableIfExists('person_identifiers');
  await knex.schema.alterTable('records', (t) => {
    t.dropColumn('provenance');
    t.dropColumn('merged_into');
  });
  await knex.schema.alterTable('runs', (t) => t.dropColumn('matching'));
  await knex.schema.alterTable('source_records', (t) => {
    for (const c of ['data', 'refs', 'match_state', 'match_rule', 'match_score']) t.dropColumn(c);
  });
}
