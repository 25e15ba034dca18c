/**
 * The connector inside the real runtime (runSync, SQLite and PostgreSQL when present) on the gradebook fixtures:
 * a 1.2 bulk export (roster + gradebook + learning objectives), then a 1.2 delta into the same connector (a new line
 * item and result, an update, a `tobedeleted` result), and a 1.1 bulk export. References must resolve to unified
 * ids: results -> line items -> classes / categories / sessions / schools, results -> persons.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { validateConfig } from '../../src/core/config';
import { runSync } from '../../src/ingest/runner';
import type { Db } from '../../src/store/db';
import { ensureTenants } from '../../src/store/tenants';
import { describeEachDb } from '../../test/helpers/db';

const FIXTURES = path.resolve(__dirname, '../../fixtures/oneroster-csv');

const config = (dir: string) =>
  validateConfig(
    {
      tenants: [
        {
          id: 't1',
          name: 'Fictional district',
          connectors: [{ id: 'sis', type: 'oneroster-csv', settings: { path: path.resolve(FIXTURES, dir) } }],
        },
      ],
    },
    '(test)',
  );

describeEachDb('oneroster-csv gradebook in the runtime', (t) => {
  let db: Db;
  beforeEach(async () => {
    db = await t.open();
  });
  afterEach(async () => {
    await db.close();
  });

  /** The unified id of a source record of connector sis. */
  const unified = async (type: string, sourceId: string): Promise<string> => {
    const row = await db.knex('source_records').where({ tenant_id: 't1', connector_id: 'sis', entity_type: type, source_id: sourceId }).first();
    if (!row) throw new Error(`no ${type} ${sourceId}`);
    return row.unified_id as string;
  };
  /** The unified record (data and deleted_at) behind a source record. */
  const record = async (type: string, sourceId: string): Promise<{ data: Record<string, unknown>; deleted_at: string | null }> => {
    const row = await db.knex('records').where({ tenant_id: 't1', entity_type: type, id: await unified(type, sourceId) }).first();
    return { data: JSON.parse(row.data), deleted_at: row.deleted_at };
  };

  it('1.2: a bulk export, then a delta; every reference resolves to a unified id', async () => {
    const bulk = { db, config: config('or12-gradebook') };
    await ensureTenants(db, bulk.config.config);

    const first = await runSync(bulk, { tenantId: 't1', connectorId: 'sis' });
    expect([first.status, first.error]).toEqual(['succeeded', undefined]);
    expect(first.rejects).toEqual([]);
    const by = Object.fromEntries(first.streams.map((s) => [s.stream, s]));
    expect([by.categories.mode, by.categories.counts]).toEqual(['full', expect.objectContaining({ read: 3, inserted: 3, rejected: 0 })]);
    expect([by.lineItems.mode, by.lineItems.counts]).toEqual(['full', expect.objectContaining({ read: 3, inserted: 3, rejected: 0 })]);
    expect([by.results.mode, by.results.counts]).toEqual(['full', expect.objectContaining({ read: 5, inserted: 5, rejected: 0 })]);

    // result -> line item, person; line item -> class, school, category, session. Nothing holds a source id any more.
    const li1 = await record('lineItem', 'li-1');
    expect(li1.data).toEqual({
      id: await unified('lineItem', 'li-1'),
      title: 'Linear equations worksheet',
      description: 'Problems 1-20, odd only',
      classId: await unified('class', 'cls-alg-1'),
      schoolId: await unified('org', 'sch-9'),
      categoryId: await unified('lineItemCategory', 'cat-hw'),
      gradingPeriodId: await unified('academicSession', 'gp-1'),
      assignDate: '2025-09-01T00:00:00.000Z',
      dueDate: '2025-09-05T00:00:00.000Z',
      resultValueMin: 0,
      resultValueMax: 10,
      alignment: [
        { ref: '6b1f0a3e-0000-4000-8000-000000000001', source: 'case' },
        { ref: '6b1f0a3e-0000-4000-8000-000000000003', source: 'case' },
        { ref: 'ALG.1.2', source: 'ext:district-standards' },
      ],
    });
    const res1 = await record('result', 'res-1');
    expect(res1.data).toMatchObject({
      lineItemId: await unified('lineItem', 'li-1'),
      personId: await unified('person', 'stu-a'),
      scoreStatus: 'fully graded',
      score: 9.5,
      learningObjectiveResults: [
        { ref: '6b1f0a3e-0000-4000-8000-000000000001', source: 'case', score: 4, textScore: 'Proficient' },
        { ref: '6b1f0a3e-0000-4000-8000-000000000003', source: 'case', score: 3 },
      ],
    });
    expect((await record('lineItem', 'li-3')).data).toMatchObject({ classId: await unified('class', 'cls-alg-2'), gradingPeriodId: await unified('academicSession', 'term-f') });
    // Extra credit is stored as sent.
    expect((await record('result', 'res-3')).data).toMatchObject({ score: 105, scoreStatus: 'fully graded' });

    // The delta, into the same connector: the gradebook streams are incremental, everything else is absent.
    const delta = { db, config: config('or12-gradebook-delta') };
    const second = await runSync(delta, { tenantId: 't1', connectorId: 'sis' });
    expect([second.status, second.error]).toEqual(['succeeded', undefined]);
    const by2 = Object.fromEntries(second.streams.map((s) => [s.stream, s]));
    expect(by2.orgs.skipped).toBe('manifest.csv declares file.orgs absent');
    expect([by2.lineItems.mode, by2.lineItems.counts]).toEqual(['incremental', expect.objectContaining({ read: 3, inserted: 1, updated: 1, rejected: 1 })]);
    expect([by2.results.mode, by2.results.counts]).toEqual(['incremental', expect.objectContaining({ read: 3, inserted: 1, updated: 1, deleted: 1 })]);
    expect(second.rejects).toEqual([
      {
        stream: 'lineItems',
        location: 'lineItemLearningObjectiveIds.csv:4',
        field: 'lineItemSourcedId',
        code: 'reference_unresolved',
        reason: expect.stringContaining('line item "li-1" is not re-sent in this delta\'s lineItems.csv'),
      },
    ]);

    // A new result on a new line item resolves against records of both runs (li-4 from this one, stu-a from the first).
    const res7 = await record('result', 'res-7');
    expect(res7.data).toMatchObject({ lineItemId: await unified('lineItem', 'li-4'), personId: await unified('person', 'stu-a'), scoreStatus: 'submitted' });
    expect((await record('lineItem', 'li-4')).data).toMatchObject({ classId: await unified('class', 'cls-alg-1'), categoryId: await unified('lineItemCategory', 'cat-quiz') });
    expect((await record('lineItem', 'li-3')).data).toMatchObject({ title: 'Unit 1 test (rescheduled)', alignment: [{ ref: '6b1f0a3e-0000-4000-8000-000000000001', source: 'case' }] });
    expect((await record('result', 'res-2')).data).toMatchObject({ scoreStatus: 'fully graded', score: 7, late: true });

    // The tobedeleted result is deleted; li-1 (not in the delta) keeps its alignment.
    expect((await record('result', 'res-5')).deleted_at).not.toBeNull();
    const res5 = await db.knex('source_records').where({ tenant_id: 't1', connector_id: 'sis', entity_type: 'result', source_id: 'res-5' }).first();
    expect(res5.deleted_at).not.toBeNull();
    expect((await record('lineItem', 'li-1')).data.alignment).toHaveLength(3);
    expect((await record('result', 'res-1')).deleted_at).toBeNull();
  });

  it('a full refresh with a bad learning objective row keeps the stored result as it was (not swept, not stripped)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'or-gradebook-'));
    try {
      fs.cpSync(path.join(FIXTURES, 'or12-gradebook'), dir, { recursive: true });
      const deps = { db, config: config(dir) };
      await ensureTenants(db, deps.config.config);
      expect((await runSync(deps, { tenantId: 't1', connectorId: 'sis' })).status).toBe('succeeded');
      const before = await record('result', 'res-1');

      // rlo-2 (res-1's second objective) gets a score that is not a number; res-1 itself is unchanged.
      const file = path.join(dir, 'resultLearningObjectiveIds.csv');
      fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('rlo-2,,,res-1,case,6b1f0a3e-0000-4000-8000-000000000003,3,', 'rlo-2,,,res-1,case,6b1f0a3e-0000-4000-8000-000000000003,three,'));
      const run = await runSync(deps, { tenantId: 't1', connectorId: 'sis' });
      expect([run.status, run.counts.deleted]).toEqual(['succeeded', 0]);
      expect(run.rejects.map((r) => [r.stream, r.location, r.field, r.code])).toEqual([
        ['results', 'resultLearningObjectiveIds.csv:3', 'score', 'row_malformed'],
        ['results', 'results.csv:2', 'learningObjectiveResults', 'record_invalid'],
      ]);
      const after = await record('result', 'res-1');
      expect(after).toEqual(before);
      expect(after.data.learningObjectiveResults).toHaveLength(2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('1.1: a bulk export with gradebook (gradingPeriodSourcedId, no category weight, no objectives)', async () => {
    const deps = { db, config: config('or11-gradebook') };
    await ensureTenants(db, deps.config.config);
    const run = await runSync(deps, { tenantId: 't1', connectorId: 'sis' });
    expect([run.status, run.error, run.rejects]).toEqual(['succeeded', undefined, []]);
    expect(run.counts).toMatchObject({ inserted: 20, rejected: 0 }); // 1 org, 2 sessions, 1 course, 1 class, 3 people + 3 roles, 3 enrollments, 1 category, 2 line items, 3 results
    expect((await record('lineItem', 'l-1')).data).toMatchObject({
      classId: await unified('class', 'cls-eng7'),
      categoryId: await unified('lineItemCategory', 'c-essay'),
      gradingPeriodId: await unified('academicSession', 'gp-a'),
    });
    expect((await record('result', 'r-1')).data).toMatchObject({ lineItemId: await unified('lineItem', 'l-1'), personId: await unified('person', 'u-s1'), score: 44 });
  });
});
