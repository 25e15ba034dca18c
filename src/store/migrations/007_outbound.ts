/**
 * Pushing data back out (src/webhooks/, src/serve/changes.ts, src/serve/disclosures.ts).
 *
 *  - webhook_subscriptions: per tenant, made through the API (secret encrypted at rest with HUB_SECRET_KEY) or
 *    declared in hub.config.json (`source = 'config'`, secret stays a reference in the file). Each keeps its own
 *    cursors: `change_cursor` (change_log seq) and `outbox_cursor` (webhook_outbox id at creation: older sync events
 *    are not sent to it).
 *  - webhook_outbox: events that are not entity changes (sync.completed, sync.needs_review), written in the same
 *    transaction as the run's final status. `fanned_out` flips once deliveries exist for every subscription.
 *  - webhook_deliveries: one row per event and subscription (unique), its id is the `webhook-id` header, so a
 *    retry or a redelivery carries the same id. Claimed with a lease (`lease_owner`, `lease_until`).
 *  - webhook_attempts: the delivery log (status code, latency, error class, a short response snippet).
 *  - webhook_leases: named leases between dispatcher processes (the fan-out of a tenant).
 *  - operator_notifications: what an operator must look at (a subscription disabled automatically).
 *  - disclosures + disclosure_persons: who received which categories of student data, when, about whom.
 */
import type { Knex } from 'knex';
import { createKeyedTable } from './001_foundation';

export async function up(knex: Knex): Promise<void> {
  await createKeyedTable(knex, 'webhook_subscriptions', (t) => {
    t.string('tenant_id', 63).notNullable();
    t.string('id', 64).notNullable();
    t.string('source', 8).notNullable(); // api | config
    t.text('url').notNullable();
    t.text('description');
    t.text('event_types').notNullable(); // JSON array
    t.boolean('enabled').notNullable();
    t.text('secret_enc'); // v1:... (encryptSecret); null for config subscriptions
    t.text('prev_secret_enc');
    t.string('prev_secret_until', 32);
    t.bigInteger('change_cursor').notNullable();
    t.bigInteger('outbox_cursor').notNullable();
    t.integer('consecutive_dead').notNullable().defaultTo(0);
    t.string('failing_since', 32);
    t.text('disabled_reason');
    t.string('disabled_at', 32);
    t.string('config_hash', 64);
    t.string('created_by', 200);
    t.string('created_at', 32).notNullable();
    t.string('updated_at', 32).notNullable();
    t.primary(['tenant_id', 'id']);
  });

  await knex.schema.createTable('webhook_outbox', (t) => {
    t.bigIncrements('id');
    t.string('tenant_id', 63).notNullable();
    t.string('event_type', 64).notNullable();
    t.text('data').notNullable(); // JSON: ids and counts, never student field values
    t.string('at', 32).notNullable();
    t.boolean('fanned_out').notNullable().defaultTo(false);
    t.index(['tenant_id', 'fanned_out', 'id']);
  });

  await knex.schema.createTable('webhook_deliveries', (t) => {
    t.string('id', 64).primary(); // msg_...: the webhook-id header
    t.string('tenant_id', 63).notNullable();
    t.string('subscription_id', 64).notNullable();
    t.string('event_key', 40).notNullable(); // c:<seq> | o:<outbox id>
    t.string('event_type', 64).notNullable();
    t.bigInteger('seq'); // change_log seq, when the event is an entity change
    t.text('body').notNullable(); // the JSON payload, identical on every attempt
    t.text('person_ids'); // JSON: persons the event names (for the disclosure log)
    t.text('categories'); // JSON
    t.string('status', 16).notNullable(); // pending | retrying | succeeded | dead
    t.integer('attempts').notNullable().defaultTo(0);
    t.string('next_attempt_at', 32).notNullable();
    t.string('lease_owner', 200);
    t.string('lease_until', 32);
    t.string('lease_token', 40);
    t.integer('last_status_code');
    t.string('last_error', 40);
    t.string('created_at', 32).notNullable();
    t.string('finished_at', 32);
    t.unique(['tenant_id', 'subscription_id', 'event_key']);
    t.index(['status', 'next_attempt_at']);
    t.index(['lease_token']);
    t.index(['tenant_id', 'subscription_id', 'created_at']);
  });

  await knex.schema.createTable('webhook_attempts', (t) => {
    t.bigIncrements('id');
    t.string('tenant_id', 63).notNullable();
    t.string('delivery_id', 64).notNullable();
    t.string('subscription_id', 64).notNullable();
    t.integer('attempt').notNullable();
    t.string('at', 32).notNullable();
    t.integer('duration_ms').notNullable();
    t.integer('status_code');
    t.string('outcome', 16).notNullable(); // succeeded | failed
    t.string('error_class', 40);
    t.string('error_message', 300);
    t.string('response_snippet', 200);
    t.index(['delivery_id']);
  });

  await knex.schema.createTable('webhook_leases', (t) => {
    t.string('name', 200).primary();
    t.string('owner', 200).notNullable();
    t.string('lease_until', 32).notNullable();
  });

  await knex.schema.createTable('operator_notifications', (t) => {
    t.bigIncrements('id');
    t.string('tenant_id', 63).notNullable();
    t.string('at', 32).notNullable();
    t.string('kind', 64).notNullable();
    t.string('subject', 200);
    t.text('message').notNullable();
    t.text('details'); // JSON
    t.index(['tenant_id', 'id']);
  });

  // Ids are made by the writer (time-ordered text), so a batch of disclosures is one multi-row insert.
  await knex.schema.createTable('disclosures', (t) => {
    t.string('id', 40).primary();
    t.string('tenant_id', 63).notNullable();
    t.string('at', 32).notNullable();
    t.string('recipient', 200).notNullable();
    t.string('channel', 16).notNullable(); // api | oneroster | export | webhook | lti | feed
    t.string('route', 300);
    t.string('request_id', 64);
    t.text('categories').notNullable(); // JSON array
    t.integer('person_count').notNullable();
    t.index(['tenant_id', 'id']);
    t.index(['tenant_id', 'recipient', 'id']);
  });

  await createDisclosurePersons(knex);
}

/**
 * Who received data about this child: one row per (person, disclosure), keyed for that question. Replaced by
 * migration 016 (sets and a daily index), whose `down` brings it back.
 */
export async function createDisclosurePersons(knex: Knex): Promise<void> {
  await createKeyedTable(knex, 'disclosure_persons', (t) => {
    t.string('tenant_id', 63).notNullable();
    t.string('person_id', 255).notNullable();
    t.string('disclosure_id', 40).notNullable();
    t.primary(['tenant_id', 'person_id', 'disclosure_id']);
    t.index(['disclosure_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const t of ['disclosure_persons', 'disclosures', 'operator_notifications', 'webhook_leases', 'webhook_attempts', 'webhook_deliveries', 'webhook_outbox', 'webhook_subscriptions']) {
    await knex.schema.dropTableIfExists(t);
  }
}
