/**
 * The LTI 1.3 tool (src/serve/lti/). Every table is prefixed `lti_`; ltijs keeps no tables of its own here: its
 * database plugin (src/serve/lti/store.ts) reads and writes these, over the hub's knex connection. Creating them in
 * a migration is the "bootstrap once" step (ltijs's own deploy() would create collections at start-up, racing
 * between processes on an empty PostgreSQL).
 *
 *  - `lti_registrations`: one row per platform deployment (issuer + client_id + deployment_id), owned by a tenant.
 *    Many Canvas instances share one issuer, and one client_id may be deployed in several districts: the deployment
 *    decides the tenant. Source: 'config', 'api' or 'dynamic'.
 *  - `lti_keys`: the tool's RSA key pairs (private key AES-GCM encrypted when HUB_SECRET_KEY is set). One is current;
 *    a rotated key stays published in the JWKS until `retired_at` + the overlap, so launches and deep-linking
 *    responses signed just before a rotation still verify.
 *  - `lti_states`: OIDC login states with the nonce sent to the platform (the launch must carry exactly that nonce,
 *    which ltijs does not check), single use (`claimed_at`).
 *  - `lti_nonces`: nonces already received (replay store), pruned after the token age window.
 *  - `lti_access_tokens`: service tokens from the platforms (client_credentials), cached per scope set.
 *  - `lti_identities`: LTI user (issuer + sub) -> unified person, with how it was matched.
 *  - `lti_contexts`: LMS course contexts seen at launch -> class, with the AGS / NRPS endpoints the platform gave.
 *  - `lti_reg_tokens`: single-use dynamic registration links, bound to a tenant.
 *  - `lti_line_items` and `lti_scores`: grade passback state (one line item per competency or framework per
 *    context; the last score sent per learner, with retries).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('lti_registrations', (t) => {
    t.string('id', 40).primary();
    t.string('tenant_id', 63).notNullable();
    t.string('name', 200).notNullable();
    t.string('issuer', 500).notNullable();
    t.string('client_id', 255).notNullable();
    t.string('deployment_id', 255).notNullable();
    t.text('auth_login_url').notNullable();
    t.text('auth_token_url').notNullable();
    t.text('auth_server');
    t.text('jwks_url').notNullable();
    t.text('frame_origins'); // JSON array of origins allowed to frame the hub's LTI pages
    t.text('nrps_url'); // not per context: some platforms announce a default (dynamic registration)
    t.string('source', 16).notNullable(); // config | api | dynamic
    t.boolean('active').notNullable().defaultTo(true);
    t.string('created_at', 32).notNullable();
    t.string('updated_at', 32).notNullable();
    t.unique(['issuer', 'client_id', 'deployment_id']);
    t.index(['tenant_id']);
  });
  await knex.schema.createTable('lti_keys', (t) => {
    t.string('kid', 40).primary();
    t.text('public_pem').notNullable();
    t.text('private_pem').notNullable();
    t.string('created_at', 32).notNullable();
    t.string('retired_at', 32);
  });
  await knex.schema.createTable('lti_states', (t) => {
    t.string('state', 100).primary();
    t.string('nonce', 100).notNullable();
    t.string('issuer', 500).notNullable();
    t.string('client_id', 255);
    t.string('deployment_id', 255);
    t.text('query'); // JSON: the target_link_uri query ltijs keeps
    t.string('created_at', 32).notNullable();
    t.string('expires_at', 32).notNullable();
    t.string('claimed_at', 32);
    t.index(['expires_at']);
  });
  await knex.schema.createTable('lti_nonces', (t) => {
    t.string('nonce', 255).primary();
    t.string('received_at', 32).notNullable();
    t.index(['received_at']);
  });
  await knex.schema.createTable('lti_access_tokens', (t) => {
    t.string('issuer', 500).notNullable();
    t.string('client_id', 255).notNullable();
    t.string('scopes', 600).notNullable();
    t.text('token').notNullable(); // JSON as returned by the platform (encrypted when HUB_SECRET_KEY is set)
    t.bigInteger('created_ms').notNullable();
    t.primary(['issuer', 'client_id', 'scopes']);
  });
  await knex.schema.createTable('lti_identities', (t) => {
    t.string('tenant_id', 63).notNullable();
    t.string('issuer', 500).notNullable();
    t.string('sub', 255).notNullable();
    t.string('person_id', 64).notNullable();
    t.string('matched_by', 40).notNullable(); // lti | sourcedid | email | nrps
    t.string('created_at', 32).notNullable();
    t.string('last_launch_at', 32);
    t.primary(['tenant_id', 'issuer', 'sub']);
    t.index(['tenant_id', 'person_id']);
  });
  await knex.schema.createTable('lti_contexts', (t) => {
    t.string('tenant_id', 63).notNullable();
    t.string('registration_id', 40).notNullable();
    t.string('context_id', 255).notNullable();
    t.string('class_id', 64);
    t.string('mapped_by', 40); // admin | sourcedid | nrps
    t.string('title', 300);
    t.text('lineitems_url');
    t.text('ags_scopes'); // JSON array
    t.text('memberships_url');
    t.string('updated_at', 32).notNullable();
    t.primary(['tenant_id', 'registration_id', 'context_id']);
    t.index(['tenant_id', 'class_id']);
  });
  // Dynamic registration links an administrator hands to the LMS: single use, expiring, stored as a SHA-256.
  await knex.schema.createTable('lti_reg_tokens', (t) => {
    t.string('token_hash', 64).primary();
    t.string('tenant_id', 63).notNullable();
    t.string('created_by', 200).notNullable();
    t.string('created_at', 32).notNullable();
    t.string('expires_at', 32).notNullable();
    t.string('used_at', 32);
    t.string('registration_id', 40);
  });
  await knex.schema.createTable('lti_line_items', (t) => {
    t.string('tenant_id', 63).notNullable();
    t.string('registration_id', 40).notNullable();
    t.string('context_id', 255).notNullable();
    t.string('item_key', 300).notNullable(); // competency id, or 'framework:<id>'
    t.text('line_item_url').notNullable();
    t.string('label', 300).notNullable();
    t.string('created_at', 32).notNullable();
    t.primary(['tenant_id', 'registration_id', 'context_id', 'item_key']);
  });
  await knex.schema.createTable('lti_scores', (t) => {
    t.string('tenant_id', 63).notNullable();
    t.string('registration_id', 40).notNullable();
    t.string('context_id', 255).notNullable();
    t.string('item_key', 300).notNullable();
    t.string('learner_id', 64).notNullable();
    t.string('user_id', 255).notNullable(); // the LTI sub
    t.float('score_given');
    t.float('score_maximum').notNullable();
    t.string('activity_progress', 20).notNullable();
    t.string('grading_progress', 20).notNullable();
    t.string('source_updated_at', 32).notNullable(); // mastery.updated_at this score reflects
    t.string('status', 12).notNullable(); // pending | sent | failed
    t.integer('attempts').notNullable().defaultTo(0);
    t.string('next_attempt_at', 32);
    t.string('last_error', 300);
    t.string('sent_at', 32);
    t.primary(['tenant_id', 'registration_id', 'context_id', 'item_key', 'learner_id']);
    t.index(['status', 'next_attempt_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const t of ['lti_scores', 'lti_line_items', 'lti_reg_tokens', 'lti_contexts', 'lti_identities', 'lti_access_tokens', 'lti_nonces', 'lti_states', 'lti_keys', 'lti_registrations']) {
    await knex.schema.dropTableIfExists(t);
  }
}
