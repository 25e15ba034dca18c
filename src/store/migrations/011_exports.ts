/**
 * State-reporting exports (src/serve/export/state/): one `export_runs` row per export, whoever started it (CLI, API,
 * schedule). The manifest (file names, rows, bytes, checksums, change-log seq) is kept as JSON; `path` is where the
 * zip or directory was written. Student data never goes in this table.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('export_runs', (t) => {
    t.string('id', 40).primary();
    t.string('tenant_id', 63).notNullable();
    t.string('kind', 16).notNullable(); // state
    t.string('profile', 63).notNullable();
    t.string('school_year', 4).notNullable();
    t.string('status', 16).notNullable(); // running | succeeded | failed
    t.string('trigger', 16).notNullable(); // cli | api | schedule
    t.string('requested_by', 200).notNullable();
    t.string('started_at', 32).notNullable();
    t.string('finished_at', 32);
    t.text('path');
    t.bigInteger('bytes');
    t.text('manifest'); // JSON
    t.text('error'); // JSON: {code, message}
    t.index(['tenant_id', 'started_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('export_runs');
}
