/**
 * Caliper event ingest (src/caliper/). `learning_events` holds one row per accepted event, keyed by a per-tenant
 * sequence number in arrival order (what the listing API and a future change feed page on); the event's `urn:uuid`
 * is unique per tenant, so a replayed event is detected and never stored twice. The columns the hub filters and
 * derives evidence from are extracted; `data` keeps the whole event as received (re-serialised JSON).
 *
 * Unlike the composite-key tables of 001, `learning_events` is an ordinary rowid table on SQLite: its rows are
 * ~1–2 KB of JSON, and WITHOUT ROWID tables store rows inside the key B-tree, which SQLite advises against for rows
 * over ~1/20 of a page (measured: inserts ~1.5–2x slower here). The rows are appended in rowid order anyway.
 *
 * `caliper_entities` keeps the latest version of each entity a sensor describes (envelope items that are entities,
 * not events), keyed by the entity IRI.
 */
import type { Knex } from 'knex';
import { createKeyedTable } from './001_foundation';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('learning_events', (t) => {
    t.string('tenant_id', 63).notNullable();
    t.bigInteger('seq').notNullable();
    t.string('event_id', 45).notNullable(); // urn:uuid:<uuid>, lower case
    t.text('sensor').notNullable();
    t.text('data_version').notNullable();
    t.string('event_type', 64).notNullable();
    t.string('action', 64).notNullable();
    t.string('profile', 64);
    t.text('actor_id').notNullable();
    t.string('actor_type', 64);
    t.text('object_id').notNullable();
    t.string('object_type', 64);
    t.string('event_time', 32).notNullable();
    t.string('received_at', 32).notNullable();
    t.text('session_id');
    t.text('group_id');
    t.double('score_given');
    t.double('max_score');
    t.text('data').notNullable();
    t.primary(['tenant_id', 'seq']);
    t.unique(['tenant_id', 'event_id']);
    t.index(['tenant_id', 'actor_id', 'seq']);
  });

  await createKeyedTable(knex, 'caliper_entities', (t) => {
    t.string('tenant_id', 63).notNullable();
    t.text('entity_id').notNullable();
    t.string('entity_type', 64).notNullable();
    t.text('sensor').notNullable();
    t.text('data_version').notNullable();
    t.text('data').notNullable();
    t.string('first_seen_at', 32).notNullable();
    t.string('last_seen_at', 32).notNullable();
    t.primary(['tenant_id', 'entity_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('caliper_entities');
  await knex.schema.dropTableIfExists('learning_events');
}
