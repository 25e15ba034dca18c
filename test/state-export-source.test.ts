/**
 * The state export's reads (src/serve/export/state/source.ts), on both databases: the records of a page of persons
 * through the personId expression index — on SQLite even when the statistics a sync's sampled ANALYZE leaves would
 * make the planner scan every record of the type for each page — and only the fields the extract reads, with their
 * JSON types (true stays true, absent is null).
 */
import { describeEachDb } from './helpers/db';
import { byIds, byPerson, personPage, RECORD_FIELDS } from '../src/serve/export/state/source';
import type { Db } from '../src/store/db';

describeEachDb('state export source', (t) => {
  let db: Db;
  const persons = Array.from({ length: 300 }, (_, i) => `per_${String(i).padStart(4, '0')}`);

  beforeAll(async () => {
    db = await t.open();
    const at = '2026-01-01T00:00:00.000Z';
    const row = (type: string, id: string, data: Record<string, unknown>, deleted = false) => ({
      tenant_id: 't1', entity_type: type, id, data: JSON.stringify(data), created_seq: 1, updated_seq: 1, created_at: at, updated_at: at, deleted_at: deleted ? at : null,
    });
    const rows = [
      ...persons.map((p, i) => row('person', p, { givenName: `G${i}`, familyName: 'F', email: `${p}@x.example`, primaryRole: 'student', grades: ['09'], identifiers: [{ system: 'sis', value: `S${i}` }] })),
      ...persons.flatMap((p, i) => [0, 1, 2].map((k) => row('enrollment', `enr_${i}_${k}`, { personId: p, role: 'student', classId: `cls_${k}`, schoolId: 'sch', beginDate: '2026-08-17', primary: true }, k === 2 && i % 10 === 0))),
      ...persons.map((p, i) => row('demographics', `dem_${i}`, { personId: p, birthDate: '2011-01-01', sex: 'female', white: i % 2 === 0, asian: false, cityOfBirth: 'Austin' })),
      row('behaviourIncident', 'inc_1', { incidentDate: '2026-10-01', positive: false, description: 'x', schoolId: 'sch', behaviours: [{ code: 'B1' }], location: 'hall' }),
    ];
    for (let i = 0; i < rows.length; i += 100) await db.knex('records').insert(rows.slice(i, i + 100));
    if (db.dialect === 'sqlite') {
      // What `pragma analysis_limit = 1000; analyze` (src/ingest/runner.ts) left on the 20k-student bench district:
      // ~334 records per (tenant, type), 4 per personId value.
      await db.knex.raw('analyze');
      await db.knex('sqlite_stat1').where({ tbl: 'records' }).delete();
      for (const [idx, stat] of [['sqlite_autoindex_records_1', '649551 1001 334 1'], ['records_json_personid', '649551 1001 334 4'], ['records_json_classid', '649551 1001 334 334'], ['records_json_course_id', '649551 1001 334 334']]) {
        await db.knex('sqlite_stat1').insert({ tbl: 'records', idx, stat });
      }
      await db.knex.raw('analyze sqlite_schema');
    }
  });
  afterAll(async () => {
    await db.close();
  });

  it('reads a page of persons\' records through the personId index, live records only, only the listed fields with their JSON types', async () => {
    const sql: string[] = [];
    const listen = (q: { sql: string }) => void sql.push(q.sql);
    db.knex.on('query', listen);
    const page = persons.slice(100, 300);
    const got = await db.knex.transaction(async (q) => byPerson(q, db.dialect, 't1', 'enrollment', page));
    db.knex.off('query', listen);
    expect(got).toHaveLength(200 * 3 - 20);
    expect(new Set(got.map((r) => r.data.personId))).toEqual(new Set(page));
    expect(got.map((r) => r.id)).toEqual([...got.map((r) => r.id)].sort());
    expect(Object.keys(got[0].data).sort()).toEqual([...RECORD_FIELDS.enrollment].sort());
    expect(got[0].data).toMatchObject({ role: 'student', schoolId: 'sch', beginDate: '2026-08-17', endDate: null });
    expect(got[0].data).not.toHaveProperty('primary');
    if (db.dialect === 'sqlite') {
      const [stmt] = sql.filter((s) => /from/i.test(s) && /personId/.test(s));
      const bindings = ['t1', 'enrollment', ...page];
      const plan = (await db.knex.raw(`explain query plan ${stmt}`, bindings)) as { detail: string }[];
      expect(plan.map((p) => p.detail).join(' | ')).toMatch(/USING INDEX records_json_personid \(tenant_id=\? AND entity_type=\? AND <expr>=\?\)/);
    }
  });

  it('keeps booleans, arrays and objects as they are; persons and records by id carry their fields only', async () => {
    const dem = await db.knex.transaction(async (q) => byPerson(q, db.dialect, 't1', 'demographics', persons.slice(0, 2)));
    expect(dem.map((d) => [d.data.white, d.data.asian, d.data.hispanicOrLatinoEthnicity])).toEqual([[true, false, null], [false, false, null]]);
    expect(dem[0].data).not.toHaveProperty('cityOfBirth');
    const page = await db.knex.transaction(async (q) => personPage(q, db.dialect, 't1', persons[9], 3));
    expect(page.map((p) => p.id)).toEqual(persons.slice(10, 13));
    expect(page[0].data).toEqual({ primaryRole: 'student', grades: ['09'], identifiers: [{ system: 'sis', value: 'S10' }] });
    const inc = await db.knex.transaction(async (q) => byIds(q, db.dialect, 't1', 'behaviourIncident', ['inc_1', 'inc_1', 'nope']));
    expect([...inc.keys()]).toEqual(['inc_1']);
    expect(inc.get('inc_1')!.data).toEqual({ incidentDate: '2026-10-01', schoolId: 'sch', positive: false, behaviours: [{ code: 'B1' }], description: 'x' });
  });
});
