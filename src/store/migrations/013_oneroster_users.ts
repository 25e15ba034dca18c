/**
 * A read-side projection of OneRoster users (src/serve/oneroster/projection.ts), so `/users` (and `/students`,
 * `/teachers`) pages are answered without scanning or parsing the unified JSON:
 *
 *  - `oneroster_users`: one narrow row per person — status, dateLastModified, the scalar filter fields as plain
 *    columns (extracted with the very expression the JSON filter used), and the role sets the `role` filters and the
 *    students/teachers views test (live role records plus the person's primary role). Counting and filtering scan
 *    these ~200-byte rows instead of the records' JSON. On SQLite a WITHOUT ROWID table keyed by (tenant_id, id).
 *  - `oneroster_user_json`: the person's OneRoster user object, serialized once as UTF-8 bytes (hrefs with a
 *    placeholder for the request's origin). Kept apart from the narrow rows so scans never read it.
 *  - `oneroster_projections`: per tenant and projection, the change-log sequence it reflects and the code version
 *    that built it (a new version rebuilds it from the change log).
 *
 * Nothing at ingest writes these tables: the provider brings them up to date from `change_log` before it uses them.
 */
import type { Knex } from 'knex';
import { createKeyedTable } from './001_foundation';
import { knexDialect } from '../dialect';

/** The scalar filter fields of a user (src/serve/oneroster/projection.ts maps JSON fields to them). */
const FIELD_COLUMNS = ['username', 'enabled_user', 'given_name', 'family_name', 'middle_name', 'preferred_given_name', 'preferred_middle_name',
  'preferred_family_name', 'pronouns', 'primary_org_id', 'email', 'sms', 'phone'];
/** Role sets (encoding: projection.ts). */
const ROLE_SET_COLUMNS = ['roles', 'role_types', 'role_orgs', 'role_at_org'];

export async function up(knex: Knex): Promise<void> {
  const sqlite = knexDialect(knex) === 'sqlite';
  await createKeyedTable(knex, 'oneroster_users', (t) => {
    t.string('tenant_id', 63).notNullable();
    t.string('id', 64).notNullable();
    t.string('deleted_at', 32);
    t.string('updated_at', 32).notNullable();
    for (const c of ROLE_SET_COLUMNS) t.text(c).notNullable();
    // SQLite: declared BLOB = no type affinity, so a value keeps the type json_extract gave it (booleans 1/0) and
    // compares exactly as the JSON filter compared it.
    for (const c of FIELD_COLUMNS) {
      if (sqlite) t.specificType(c, 'blob');
      else t.text(c);
    }
    t.primary(['tenant_id', 'id']);
  });
  await knex.schema.createTable('oneroster_user_json', (t) => {
    t.string('tenant_id', 63).notNullable();
    t.string('id', 64).notNullable();
    t.binary('json'); // UTF-8 bytes: pages are assembled from them without re-encoding
    t.primary(['tenant_id', 'id']);
  });
  await knex.schema.createTable('oneroster_projections', (t) => {
    t.string('tenant_id', 63).notNullable();
    t.string('name', 32).notNullable();
    t.integer('version').notNullable();
    t.bigInteger('seq').notNullable();
    t.primary(['tenant_id', 'name']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const t of ['oneroster_projections', 'oneroster_user_json', 'oneroster_users']) await knex.schema.dropTableIfExists(t);
}
