/**
 * Competency mastery (src/derive/): evidence aligned to competencies, mastery per learner per competency, problems
 * met while deriving evidence, alignments and course requirements entered through the API, and credits awarded by
 * demonstrated competency.
 *
 *  - `evidence`: one row per (source record, competency it is directly aligned to [, objective]). Crosswalks are not
 *    expanded here (mastery.ts applies them), so a crosswalk change never rewrites evidence. `level` is the score on
 *    the competency framework's scale; `raw_score` / `raw_min` / `raw_max` what the source said. Staff-entered
 *    evidence has `source_kind = 'external'`, a description, a link and an author.
 *  - `evidence_problems`: what could not become evidence (unknown competency or learner, score outside its scale,
 *    no scale, crosswalk cycle), keyed by the source record so re-deriving it replaces its problems.
 *  - `mastery`: read by the PLP (another module) and the class heat map; primary key (tenant, learner, competency).
 *  - `alignments`, `course_competencies`: added through the API (configuration ones are compiled in memory).
 *  - `credits`: a course awarded (or revoked) with the mastery trail that decided it.
 */
import type { Knex } from 'knex';
import { knexDialect } from '../dialect';
import { createKeyedTable } from './001_foundation';
import { jsonFieldSql } from '../json-sql';

/**
 * Partial expression indexes: the results of a line item and the results of an assessment (a line item whose
 * alignment changed re-derives its results). Partial, so no other record pays for them on ingest; queries must spell
 * the entity type as a literal for the planner to use them (src/derive/evidence.ts does).
 */
export const RESULT_INDEXES = [
  { name: 'records_result_lineitem', type: 'result', field: 'lineItemId' },
  { name: 'records_aresult_assessment', type: 'assessmentResult', field: 'assessmentId' },
] as const;

export async function up(knex: Knex): Promise<void> {
  await createKeyedTable(knex, 'evidence', (t) => {
    t.string('tenant_id', 63).notNullable();
    t.string('id', 64).notNullable(); // hash of (source kind, source id, competency, objective)
    t.string('learner_id', 64).notNullable();
    t.string('competency_id', 64).notNullable();
    t.string('framework_id', 64).notNullable();
    t.double('level'); // on the framework scale; null when the source gave no score (exempt)
    t.double('raw_score');
    t.double('raw_min');
    t.double('raw_max');
    t.integer('attempt');
    t.string('observed_at', 32).notNullable();
    t.boolean('late').notNullable().defaultTo(false);
    t.boolean('exempt').notNullable().defaultTo(false);
    t.boolean('missing').notNullable().defaultTo(false);
    t.string('source_kind', 24).notNullable(); // result | objectiveResult | assessmentResult | assessmentObjective | caliper | external
    t.string('source_id', 255).notNullable(); // unified record id, learning event id, or external evidence id
    t.string('item_id', 255); // the line item / assessment / Caliper object the score is on (retakes share it)
    t.string('objective', 255);
    t.string('connector_id', 63);
    t.string('via', 40).notNullable(); // how it was aligned: source | config | api
    t.text('description');
    t.text('attachment_url');
    t.string('author', 200);
    t.string('created_at', 32).notNullable();
    t.primary(['tenant_id', 'id']);
    t.index(['tenant_id', 'learner_id', 'competency_id']);
    t.index(['tenant_id', 'source_kind', 'source_id']);
  });

  await knex.schema.createTable('evidence_problems', (t) => {
    t.increments('id');
    t.string('tenant_id', 63).notNullable();
    t.string('source_kind', 24).notNullable();
    t.string('source_id', 255).notNullable();
    t.string('connector_id', 63);
    t.string('code', 40).notNullable();
    t.string('field', 200);
    t.text('ref');
    t.text('reason').notNullable();
    t.string('at', 32).notNullable();
    t.index(['tenant_id', 'source_kind', 'source_id']);
    t.index(['tenant_id', 'code']);
  });

  await createKeyedTable(knex, 'mastery', (t) => {
    t.string('tenant_id', 63).notNullable();
    t.string('learner_id', 64).notNullable();
    t.string('competency_id', 64).notNullable();
    t.string('framework_id', 64).notNullable();
    t.string('subject', 200);
    t.double('level');
    t.double('scale_min').notNullable();
    t.double('scale_max').notNullable();
    t.double('threshold').notNullable();
    t.string('status', 16).notNullable(); // not_started | in_progress | mastered
    t.string('method', 40).notNullable();
    t.integer('evidence_count').notNullable();
    t.string('last_evidence_at', 32);
    t.text('explain').notNullable();
    t.string('updated_at', 32).notNullable();
    t.primary(['tenant_id', 'learner_id', 'competency_id']);
    t.index(['tenant_id', 'competency_id']);
  });

  await createKeyedTable(knex, 'alignments', (t) => {
    t.string('tenant_id', 63).notNullable();
    t.string('id', 40).notNullable();
    t.string('evidence_kind', 24).notNullable(); // lineItem | assessment | objective | caliper
    t.string('evidence_ref', 500).notNullable(); // unified id, `<assessment id>|<objective code>`, or an IRI
    t.string('competency_id', 64).notNullable();
    t.string('created_by', 200).notNullable();
    t.string('created_at', 32).notNullable();
    t.primary(['tenant_id', 'id']);
    t.unique(['tenant_id', 'evidence_kind', 'evidence_ref', 'competency_id']);
  });

  await createKeyedTable(knex, 'course_competencies', (t) => {
    t.string('tenant_id', 63).notNullable();
    t.string('course_id', 64).notNullable();
    t.string('competency_id', 64).notNullable();
    t.string('created_by', 200).notNullable();
    t.string('created_at', 32).notNullable();
    t.primary(['tenant_id', 'course_id', 'competency_id']);
  });

  await createKeyedTable(knex, 'credits', (t) => {
    t.string('tenant_id', 63).notNullable();
    t.string('learner_id', 64).notNullable();
    t.string('course_id', 64).notNullable();
    t.string('status', 16).notNullable(); // awarded | revoked
    t.string('awarded_at', 32).notNullable();
    t.string('revoked_at', 32);
    t.text('trail').notNullable(); // JSON: per required competency, its mastery level, status and evidence ids
    t.string('updated_at', 32).notNullable();
    t.primary(['tenant_id', 'learner_id', 'course_id']);
    t.index(['tenant_id', 'course_id']);
  });

  const dialect = knexDialect(knex);
  for (const ix of RESULT_INDEXES) {
    await knex.raw(`create index ${ix.name} on records (tenant_id, ${jsonFieldSql(dialect, ix.field)}) where entity_type = '${ix.type}'`);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const ix of RESULT_INDEXES) await knex.raw(`drop index if exists ${ix.name}`);
  for (const t of ['credits', 'course_competencies', 'alignments', 'mastery', 'evidence_problems', 'evidence']) await knex.schema.dropTableIfExists(t);
}
