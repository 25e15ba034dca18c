import type { Knex } from 'knex';
import * as m001 from './001_foundation';
import * as m002 from './002_identity';
import * as m003 from './003_caliper';
import * as m004 from './004_access';
import * as m005 from './005_mastery';
import * as m006 from './006_plp';
import * as m007 from './007_outbound';
import * as m008 from './008_oneroster_provider';
import * as m009 from './009_lti';
import * as m010 from './010_sqlite_rowid';
import * as m011 from './011_exports';
import * as m012 from './012_dedupe';
import * as m013 from './013_oneroster_users';
import * as m015 from './015_partial_json_indexes';
import * as m016 from './016_disclosure_sets';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/** Migrations are listed here (not discovered on disk) so they work the same from src/ (tsx, jest) and dist/. */
const MIGRATIONS: Record<string, Migration> = {
  '001_foundation': m001,
  '002_identity': m002,
  '003_caliper': m003,
  '004_access': m004,
  '005_mastery': m005,
  '006_plp': m006,
  '007_outbound': m007,
  '008_oneroster_provider': m008,
  '009_lti': m009,
  '010_sqlite_rowid': m010,
  '011_exports': m011,
  '012_dedupe': m012,
  '013_oneroster_users': m013,
  '015_partial_json_indexes': m015,
  '016_disclosure_sets': m016,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(MIGRATIONS).sort(),
  getMigrationName: (name) => name,
  getMigration: async (name) => MIGRATIONS[name],
};
