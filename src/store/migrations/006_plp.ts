/**
 * Personalized Learning Plans (src/derive/plp/). A plan is not one blob: every entry of every section is a row.
 *
 *  - `plp_plans`: one row per learner with a plan; `version` goes up by one on every edit of any entry (the plan's
 *    ETag, and the key of its revision history).
 *  - `plp_items`: the entries (goals, supports, comments, strengths, challenges, interests, learning preferences,
 *    accessibility needs, social-emotional ratings). Section-specific fields are in `fields` (JSON text, validated by
 *    src/derive/plp/model.ts); who wrote it, in which role and when are columns. `version` is the entry's own
 *    optimistic-concurrency version. A deleted entry keeps its row (`deleted_at`) so history stays readable.
 *  - `plp_item_competencies`: the competencyItem ids a goal is aligned to ("which goals work on this competency").
 *  - `plp_revisions`: one row per edit: plan version, entry, entry version, op, who, role, when, the field diff and
 *    the entry's full snapshot after the edit (before it, for a delete), so every old version is readable.
 *
 * Protected program flags (IEP, 504, English learner) have no column here and are never written to these tables.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('plp_plans', (t) => {
    t.string('tenant_id', 63).notNullable();
    t.string('learner_id', 64).notNullable();
    t.integer('version').notNullable();
    t.string('created_at', 32).notNullable();
    t.string('updated_at', 32).notNullable();
    t.string('updated_by', 200).notNullable();
    t.primary(['tenant_id', 'learner_id']);
  });
  await knex.schema.createTable('plp_items', (t) => {
    t.string('tenant_id', 63).notNullable();
    t.string('id', 40).notNullable();
    t.string('learner_id', 64).notNullable();
    t.string('section', 32).notNullable();
    t.text('fields').notNullable();
    t.string('visibility', 16).notNullable(); // 'all' | 'staff'
    t.integer('version').notNullable();
    t.string('created_by', 200).notNullable(); // person:<unified id> | key:<api key name>
    t.string('created_role', 32).notNullable();
    t.string('created_at', 32).notNullable();
    t.string('updated_by', 200).notNullable();
    t.string('updated_role', 32).notNullable();
    t.string('updated_at', 32).notNullable();
    t.string('deleted_at', 32);
    t.primary(['tenant_id', 'id']);
    t.index(['tenant_id', 'learner_id', 'section']);
  });
  await knex.schema.createTable('plp_item_competencies', (t) => {
    t.string('tenant_id', 63).notNullable();
    t.string('item_id', 40).notNullable();
    t.string('competency_id', 64).notNullable();
    t.primary(['tenant_id', 'item_id', 'competency_id']);
    t.index(['tenant_id', 'competency_id']);
  });
  await knex.schema.createTable('plp_revisions', (t) => {
    t.string('tenant_id', 63).notNullable();
    t.string('learner_id', 64).notNullable();
    t.integer('plan_version').notNullable();
    t.string('item_id', 40).notNullable();
    t.string('section', 32).notNullable();
    t.integer('item_version').notNullable();
    t.string('op', 16).notNullable(); // create | update | delete
    t.string('by', 200).notNullable();
    t.string('by_role', 32).notNullable();
    t.string('at', 32).notNullable();
    t.text('diff').notNullable(); // { field: [old, new] }
    t.text('snapshot').notNullable(); // the entry's fields after the edit (before it, for a delete)
    t.string('visibility', 16).notNullable();
    t.primary(['tenant_id', 'learner_id', 'plan_version']);
    t.index(['tenant_id', 'item_id', 'item_version']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const t of ['plp_revisions', 'plp_item_competencies', 'plp_items', 'plp_plans']) await knex.schema.dropTableIfExists(t);
}
