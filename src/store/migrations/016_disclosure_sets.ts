/**
 * The disclosure log's persons, stored for the rate at which the API writes them (src/serve/disclosures.ts).
 *
 * Before: `disclosure_persons`, one row per (person, disclosure) keyed by person, plus an index by disclosure. A
 * OneRoster page of 100 users wrote 100 rows into two B-trees at random places: measured on a 100k-student district,
 * about half the CPU of serving a page from the answer cache.
 *
 * Now:
 *  - `disclosure_person_sets`: sets of persons, JSON arrays of at most 1,000 sorted ids, stored once under the first
 *    32 hex digits of their SHA-256, keyed (tenant, set). `disclosures.set_ids` names a disclosure's sets in order
 *    (one for an API answer, one per page of students for an export). A client that reads the same page again (a
 *    sync tool, a dashboard polling) adds a `disclosures` row and nothing else. This is the exact record: which
 *    persons, in which disclosure.
 *  - `disclosure_index`: one row per (tenant, person, UTC day, recipient) on which that recipient received data
 *    about that person (the day of the disclosure id's time). "Who received data about this child" reads it first,
 *    then the recipient's disclosures of those days, keeping those whose sets hold the person. Each key is written
 *    once.
 *
 * Existing rows move over, a disclosure at a time.
 */
import type { Knex } from 'knex';
import { dayOfDisclosureId, DISCLOSURE_SET_MAX, disclosureSetId } from '../disclosure-keys';
import { createKeyedTable } from './001_foundation';
import { createDisclosurePersons } from './007_outbound';

export async function up(knex: Knex): Promise<void> {
  await createKeyedTable(knex, 'disclosure_person_sets', (t) => {
    t.string('tenant_id', 63).notNullable();
    t.string('set_id', 32).notNullable(); // hex SHA-256 of person_ids, first 32 digits
    t.text('person_ids').notNullable(); // JSON array of sorted person ids
    t.primary(['tenant_id', 'set_id']);
  });
  await createKeyedTable(knex, 'disclosure_index', (t) => {
    t.string('tenant_id', 63).notNullable();
    t.string('person_id', 255).notNullable();
    t.string('day', 10).notNullable(); // YYYY-MM-DD (UTC) of the disclosure id's time
    t.string('recipient', 200).notNullable();
    t.primary(['tenant_id', 'person_id', 'day', 'recipient']);
  });
  await knex.schema.alterTable('disclosures', (t) => {
    t.text('set_ids'); // JSON array of disclosure_person_sets.set_id; null: no persons
  });

  // Move what is there, a disclosure at a time in id order (bounded memory whatever the log's size).
  let after = '';
  for (;;) {
    const ds = (await knex('disclosures').where('id', '>', after).orderBy('id').limit(500).select('id', 'tenant_id', 'recipient')) as { id: string; tenant_id: string; recipient: string }[];
    if (!ds.length) break;
    after = ds[ds.length - 1].id;
    for (const d of ds) {
      const ids = (await knex('disclosure_persons').where({ tenant_id: d.tenant_id, disclosure_id: d.id }).orderBy('person_id').pluck('person_id')) as string[];
      const setIds: string[] = [];
      for (let i = 0; i < ids.length; i += DISCLOSURE_SET_MAX) {
        const json = JSON.stringify(ids.slice(i, i + DISCLOSURE_SET_MAX));
        const setId = disclosureSetId(json);
        setIds.push(setId);
        await knex('disclosure_person_sets').insert({ tenant_id: d.tenant_id, set_id: setId, person_ids: json }).onConflict(['tenant_id', 'set_id']).ignore();
      }
      await knex('disclosures').where({ id: d.id }).update({ set_ids: JSON.stringify(setIds) });
      const day = dayOfDisclosureId(d.id);
      const index = ids.map((p) => ({ tenant_id: d.tenant_id, person_id: p, day, recipient: d.recipient }));
      for (let i = 0; i < index.length; i += 200) await knex('disclosure_index').insert(index.slice(i, i + 200)).onConflict(['tenant_id', 'person_id', 'day', 'recipient']).ignore();
    }
  }
  await knex.schema.dropTable('disclosure_persons');
}

export async function down(knex: Knex): Promise<void> {
  await createDisclosurePersons(knex);
  let after = '';
  for (;;) {
    const ds = (await knex('disclosures').where('id', '>', after).orderBy('id').limit(500).select('id', 'tenant_id', 'set_ids')) as { id: string; tenant_id: string; set_ids: string | null }[];
    if (!ds.length) break;
    after = ds[ds.length - 1].id;
    for (const d of ds) {
      for (const setId of d.set_ids ? (JSON.parse(d.set_ids) as string[]) : []) {
        const s = (await knex('disclosure_person_sets').where({ tenant_id: d.tenant_id, set_id: setId }).first('person_ids')) as { person_ids: string } | undefined;
        const rows = (s ? (JSON.parse(s.person_ids) as string[]) : []).map((p) => ({ tenant_id: d.tenant_id, person_id: p, disclosure_id: d.id }));
        for (let i = 0; i < rows.length; i += 300) await knex('disclosure_persons').insert(rows.slice(i, i + 300)).onConflict(['tenant_id', 'person_id', 'disclosure_id']).ignore();
      }
    }
  }
  await knex.schema.alterTable('disclosures', (t) => {
    t.dropColumn('set_ids');
  });
  await knex.schema.dropTable('disclosure_index');
  await knex.schema.dropTable('disclosure_person_sets');
}
