/**
 * The foundation schema. `tenant_id` leads every key (sharding by tenant later is a matter of placement, not of
 * rewriting keys). Timestamps are ISO 8601 UTC strings, identical on SQLite and PostgreSQL.
 */
import type { Knex } from 'knex';
import { knexDialect } from '../dialect';

/**
 * On SQLite, tables keyed by a composite text key are created WITHOUT ROWID: the rows live in the key's B-tree
 * instead of a rowid table plus a separate key index — one B-tree less to write per record on the ingest path.
 * That pays only for small rows: migration 010 turns the wide `source_records` and `records` back into rowid tables.
 */
export async function createKeyedTable(knex: Knex, name: string, build: (t: Knex.CreateTableBuilder) => void): Promise<void> {
  if (knexDialect(knex) !== 'sqlite') {
    await knex.schema.createTable(name, build);
    return;
  }
  const statements = knex.schema.createTable(name, build).toSQL();
  for (const [i, st] of statements.entries()) await knex.raw(i === 0 ? `${st.sql} without rowid` : st.sql, st.bindings as never);
}

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('tenants', (t) => {
    t.string('id', 63).primary();
    t.string('name', 200).notNullable();
    t.string('created_at', 32).notNullable();
    t.string('updated_at', 32).notNullable();
  });

  await knex.schema.createTable('tenant_sequences', (t) => {
    t.string('tenant_id', 63).primary().references('tenants.id');
    t.bigInteger('last_seq').notNullable().defaultTo(0);
  });

  // Landing zone: one row per record per source, with its raw payload. `unified_id` links it to the unified record.
  await createKeyedTable(knex, 'source_records', (t) => {
    t.string('tenant_id', 63).notNullable();
    t.string('connector_id', 63).notNullable();
    t.string('entity_type', 32).notNullable();
    t.string('source_id', 255).notNullable();
    t.string('unified_id', 64).notNullable();
    t.string('hash', 32).notNullable(); // content hash of the mapped record: unchanged rows are not rewritten
    t.text('raw');
    t.string('location', 300);
    t.string('first_seen_at', 32).notNullable();
    t.string('last_seen_at', 32).notNullable();
    t.string('last_run_id', 40).notNullable();
    t.string('deleted_at', 32);
    t.primary(['tenant_id', 'connector_id', 'entity_type', 'source_id']);
    t.index(['tenant_id', 'entity_type', 'unified_id']);
  });

  // The unified records (current version). History: change_log diffs.
  await createKeyedTable(knex, 'records', (t) => {
    t.string('tenant_id', 63).notNullable();
    t.string('entity_type', 32).notNullable();
    t.string('id', 64).notNullable();
    t.text('data').notNullable();
    t.bigInteger('created_seq').notNullable();
    t.bigInteger('updated_seq').notNullable();
    t.string('created_at', 32).notNullable();
    t.string('updated_at', 32).notNullable();
    t.string('deleted_at', 32);
    t.primary(['tenant_id', 'entity_type', 'id']);
  });

  await createKeyedTable(knex, 'change_log', (t) => {
    t.string('tenant_id', 63).notNullable();
    t.bigInteger('seq').notNullable();
    t.string('entity_type', 32).notNullable();
    t.string('entity_id', 64).notNullable();
    t.string('op', 16).notNullable();
    t.string('at', 32).notNullable();
    t.string('run_id', 40);
    t.string('cause', 32);
    t.text('diff');
    t.primary(['tenant_id', 'seq']);
    t.index(['tenant_id', 'entity_type', 'entity_id']);
  });

  await knex.schema.createTable('runs', (t) => {
    t.string('id', 40).primary();
    t.string('tenant_id', 63).notNullable();
    t.string('connector_id', 63).notNullable();
    t.string('connector_type', 63).notNullable();
    t.string('status', 20).notNullable(); // running | succeeded | failed | needs_review | approved | cancelled
    t.string('trigger', 20).notNullable(); // manual | schedule | api | startup
    t.boolean('dry_run').notNullable().defaultTo(false);
    t.string('started_at', 32).notNullable();
    t.string('finished_at', 32);
    t.integer('duration_ms');
    t.integer('read_count').notNullable().defaultTo(0);
    t.integer('inserted_count').notNullable().defaultTo(0);
    t.integer('updated_count').notNullable().defaultTo(0);
    t.integer('unchanged_count').notNullable().defaultTo(0);
    t.integer('deleted_count').notNullable().defaultTo(0);
    t.integer('rejected_count').notNullable().defaultTo(0);
    t.text('streams'); // JSON: per stream mode, skip reason and counts
    t.text('review'); // JSON: the sweep held back for review
    t.text('error'); // JSON: {code, message, details}
    t.string('reviewed_by', 200);
    t.string('reviewed_at', 32);
    t.index(['tenant_id', 'connector_id', 'started_at']);
  });

  await knex.schema.createTable('run_rejects', (t) => {
    t.increments('id');
    t.string('tenant_id', 63).notNullable();
    t.string('run_id', 40).notNullable();
    t.string('stream', 63).notNullable();
    t.string('location', 300).notNullable();
    t.string('field', 200);
    t.string('code', 40).notNullable();
    t.text('reason').notNullable();
    t.text('raw');
    t.index(['run_id']);
  });

  await knex.schema.createTable('connector_state', (t) => {
    t.string('tenant_id', 63).notNullable();
    t.string('connector_id', 63).notNullable();
    t.string('stream', 63).notNullable();
    t.text('cursor');
    t.string('updated_at', 32).notNullable();
    t.primary(['tenant_id', 'connector_id', 'stream']);
  });

  // At most one run per connector at a time, across processes. A lock whose heartbeat is stale is taken over.
  await knex.schema.createTable('connector_locks', (t) => {
    t.string('tenant_id', 63).notNullable();
    t.string('connector_id', 63).notNullable();
    t.string('run_id', 40).notNullable();
    t.string('owner', 200).notNullable();
    t.string('acquired_at', 32).notNullable();
    t.string('heartbeat_at', 32).notNullable();
    t.primary(['tenant_id', 'connector_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const t of ['connector_locks', 'connector_state', 'run_rejects', 'runs', 'change_log', 'records', 'source_records', 'tenant_sequences', 'tenants']) {
    await knex.schema.dropTableIfExists(t);
  }
}
