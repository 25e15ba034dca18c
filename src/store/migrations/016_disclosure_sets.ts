/**
 * The disclosure log's persons, stored for the rate at which the API writes them (src/serve/disclosures.ts).
 *
 * Before: `disclosure_persons`, one row per (person, disclosure) keyed by person, plus an index by disclosure. A
 * OneRoster page of 100 users wrote 100 rows into two B-trees at random places: measured on a 100k-student district,
 * ~0.5 ms of the main thread per answer, half the CPU of a served page.
 *
 * Now:
 *  - `disclosure_person_sets`: the persons of a disclosure as JSON arrays of at most 1,000 ids, keyed
 *    (tenant, disclosure, part). An API answer writes one row, appended (disclosure ids grow with time); an export
 *    writes one part per page of students. This is the exact record: which persons, in which disclosure.
 *  - `disclosure_index`: one row per (tenant, person, UTC day, recipient) on which that recipient received data
 *    about that person (the day of the disclosure id's time). "Who received data about this child" reads it first,
 *    then the recipient's disclosures of those days, keeping those whose sets hold the person. A recipient paging
 *    through the same students all day writes each key once (the writer skips keys it has written).
 *
 * Existing rows move over: one set per disclosure (parts of 1,000 ids), and their index keys.
 */
import type { Knex } from 'knex';
import { dayOfDisclosureId } from '../disclosure-ids';
import { createKeyedTable } from './001_foundation';

const PART = 1000;

export async function up(knex: Knex): Promise<void> {
  await createKeyedTable(knex, 'disclosure_person_sets', (t) => {
    t.string('tenant_id', 63).notNullable();
    t.string('disclosure_id', 40).notNullable();
    t.integer('part').notNullable();
    t.text('person_ids').notNullable(); // JSON array of person ids
    t.primary(['tenant_id', 'disclosure_id', 'part']);
  });
  await createKeyedTable(knex, 'disclosure_index', (t) => {
    t.string('tenant_id', 63).notNullable();
    t.string('person_id', 255).notNullable();
    t.string('day', 10).notNullable(); // YYYY-MM-DD (UTC) of the disclosure id's time
    t.string('recipient', 200).notNullable();
    t.primary(['tenant_id', 'person_id', 'day', 'recipient']);
  });

  // Move what is there, a disclosure at a time in id order (bounded memory whatever the log's size).
  let after = '';
  for (;;) {
    const ds = (await knex('disclosures').where('id', '>', after).orderBy('id').limit(500).select('id', 'tenant_id', 'recipient')) as { id: string; tenant_id: string; recipient: string }[];
    if (!ds.length) break;
    after = ds[ds.length - 1].id;
    for (const d of ds) {
      const ids = ((await knex('disclosure_persons').where({ tenant_id: d.tenant_id, disclosure_id: d.id }).orderBy('person_id').pluck('person_id')) as string[]);
      if (!ids.length) continue;
      const sets = [];
      for (let i = 0; i < ids.length; i += PART) sets.push({ tenant_id: d.tenant_id, disclosure_id: d.id, part: i / PART, person_ids: JSON.stringify(ids.slice(i, i + PART)) });
      for (let i = 0; i < sets.length; i += 50) await knex('disclosure_person_sets').insert(sets.slice(i, i + 50));
      const day = dayOfDisclosureId(d.id);
      const index = ids.map((p) => ({ tenant_id: d.tenant_id, person_id: p, day, recipient: d.recipient }));
      for (let i = 0; i < index.length; i += 200) await knex('disclosure_index').insert(index.slice(i, i + 200)).onConflict(['tenant_id', 'person_id', 'day', 'recipient']).ignore();
    }
  }
  await knex.schema.dropTable('disclosure_persons');
}

export async function down(knex: Knex): Promise<void> {
  await createKeyedTable(knex, 'disclosure_persons', (t) => {
    t.string('tenant_id', 63).notNullable();
    t.string('person_id', 255).notNullable();
    t.string('disclosure_id', 40).notNullable();
    t.primary(['tenant_id', 'person_id', 'disclosure_id']);
    t.index(['disclosure_id']);
  });
  const sets = (await knex('disclosure_person_sets').select('tenant_id', 'disclosure_id', 'person_ids')) as { tenant_id: string; disclosure_id: string; person_ids: string }[];
  for (const s of sets) {
    const rows = (JSON.parse(s.person_ids) as string[]).map((p) => ({ tenant_id: s.tenant_id, person_id: p, disclosure_id: s.disclosure_id }));
    for (let i = 0; i < rows.length; i += 300) await knex('disclosure_persons').insert(rows.slice(i, i + 300)).onConflict(['tenant_id', 'person_id', 'disclosure_id']).ignore();
  }
  await knex.schema.dropTable('disclosure_index');
  await knex.schema.dropTable('disclosure_person_sets');
}

