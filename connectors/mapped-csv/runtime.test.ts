/**
 * The worked examples end to end through the real runtime (src/ingest/runner.ts): every record the connector yields
 * validates against its unified schema and its references resolve within the connector, rejects land in the run's
 * report, an unchanged file is skipped, and a full refresh sweeps what the file no longer contains while keeping the
 * records of rows that are present but rejected.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeEachDb } from '../../test/helpers/db';
import { validateConfig } from '../../src/core/config';
import { registerConnector } from '../../src/ingest/registry';
import { runSync } from '../../src/ingest/runner';
import { ensureTenants } from '../../src/store/tenants';
import type { Db } from '../../src/store/db';
import type { Connector } from '../../src/ingest/contract';
import { mappedCsv, type MappedCsvSettings } from './index';

const FIXTURES = path.resolve(__dirname, '../../fixtures/mapped-csv');
const settingsOf = (name: string): MappedCsvSettings => JSON.parse(fs.readFileSync(path.join(FIXTURES, name, 'config.json'), 'utf8')).tenants[0].connectors[0].settings;

beforeAll(() => registerConnector('mapped-csv', mappedCsv as unknown as Connector<never>));

describeEachDb('mapped-csv through the runtime', (t) => {
  let db: Db;
  let tmp: string;
  beforeEach(async () => {
    db = await t.open();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mapped-csv-run-'));
    fs.cpSync(FIXTURES, tmp, { recursive: true });
  });
  afterEach(async () => {
    await db.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const deps = (maxDeleteShare = 0.1) => {
    const config = validateConfig(
      {
        tenants: [
          {
            id: 't1',
            name: 'District',
            connectors: [
              { id: 'benchmark', type: 'mapped-csv', settings: { ...settingsOf('interim-assessment'), path: path.join(tmp, 'interim-assessment', 'benchmark_export.csv') }, sweep: { maxDeleteShare } },
              { id: 'behaviour', type: 'mapped-csv', settings: { ...settingsOf('behaviour'), path: path.join(tmp, 'behaviour', 'export') } },
            ],
          },
        ],
      },
      'inline',
      tmp,
    );
    return { db, config };
  };
  const live = async (type: string) =>
    Number((await db.knex('source_records').where({ tenant_id: 't1', connector_id: 'benchmark', entity_type: type }).whereNull('deleted_at').count({ n: '*' }))[0].n);

  it('interim assessment: every yielded record is stored, references resolved; connector rejects reported; an unchanged file is skipped', async () => {
    const d = deps();
    await ensureTenants(db, d.config.config);
    const run = await runSync(d, { tenantId: 't1', connectorId: 'benchmark' });
    expect(run.status).toBe('succeeded');
    expect(run.counts).toMatchObject({ read: 22 + 9, inserted: 22, rejected: 9 });
    expect(run.streams.map((s) => [s.stream, s.counts.inserted, s.counts.rejected])).toEqual([
      ['assessment', 3, 0],
      ['person', 8, 3],
      ['assessmentResult', 11, 6],
    ]);
    const codes = (await db.knex('run_rejects').where({ run_id: run.id }).select('code')).map((r: { code: string }) => r.code);
    // Only the connector's own rejects: the runtime found nothing invalid and nothing unresolved.
    expect(codes).toHaveLength(9);
    expect(codes).not.toContain('reference_unresolved');
    // The result's personId and assessmentId are now unified ids of the records this connector yielded.
    const person = await db.knex('source_records').where({ tenant_id: 't1', connector_id: 'benchmark', entity_type: 'person', source_id: '9000000101' }).first();
    const result = await db.knex('source_records').where({ tenant_id: 't1', connector_id: 'benchmark', entity_type: 'assessmentResult', source_id: '9000000101|Fall Interim 2025|Math|09/15/2025' }).first();
    const stored = await db.knex('records').where({ tenant_id: 't1', id: result.unified_id }).first();
    expect(JSON.parse(stored.data).personId).toBe(person.unified_id);

    const again = await runSync(d, { tenantId: 't1', connectorId: 'benchmark' });
    expect(again.streams.map((s) => s.skipped)).toEqual(Array(3).fill('unchanged since last run (benchmark_export.csv)'));
    expect(again.counts.read).toBe(0);
  });

  it('full mode: a row that disappears is swept; a row present but rejected keeps its stored records', async () => {
    const file = path.join(tmp, 'interim-assessment', 'benchmark_export.csv');
    const text = fs.readFileSync(file, 'utf8');
    // First export: line 12 well quoted, so Ian O'Brien and his result are stored.
    fs.writeFileSync(file, text.replace('"O"Brien"', '"O\'Brien"'));
    const d = deps(0.5);
    await ensureTenants(db, d.config.config);
    expect((await runSync(d, { tenantId: 't1', connectorId: 'benchmark' })).counts.inserted).toBe(24);
    expect([await live('person'), await live('assessmentResult')]).toEqual([9, 12]);
    // Next export: line 12 broken again, and Jo Lindqvist (line 18) gone.
    fs.writeFileSync(file, text.split('\r\n').filter((l) => !l.startsWith('100210,')).join('\r\n'));
    const run = await runSync(d, { tenantId: 't1', connectorId: 'benchmark' });
    expect(run.status).toBe('succeeded');
    expect(run.counts.deleted).toBe(2);
    expect([await live('person'), await live('assessmentResult')]).toEqual([8, 11]);
    const kept = await db.knex('source_records').where({ tenant_id: 't1', connector_id: 'benchmark', source_id: '9000000108' }).whereNull('deleted_at');
    expect(kept).toHaveLength(1);
    const gone = await db.knex('source_records').where({ tenant_id: 't1', connector_id: 'benchmark', source_id: '9000000110' }).first();
    expect(gone.deleted_at).not.toBeNull();
  });

  it('behaviour: participants of an incident that was rejected are rejected by the runtime as unresolved references', async () => {
    const d = deps();
    await ensureTenants(db, d.config.config);
    const run = await runSync(d, { tenantId: 't1', connectorId: 'behaviour' });
    expect(run.status).toBe('succeeded');
    expect(run.streams.map((s) => [s.stream, s.mode, s.counts.inserted, s.counts.rejected])).toEqual([
      ['org', 'incremental', 2, 0],
      ['behaviourIncident', 'incremental', 9, 4],
      ['person', 'incremental', 11, 1],
      ['behaviourParticipant', 'incremental', 10, 6],
      ['disciplineAction', 'incremental', 5, 5],
    ]);
    const unresolved = await db.knex('run_rejects').where({ run_id: run.id, code: 'reference_unresolved' }).orderBy('id');
    expect(unresolved.map((r: { location: string; field: string; reason: string }) => [r.location, r.field, r.reason])).toEqual([
      ['incidents_2025-09.csv:9', 'incidentId', "incidentId refers to behaviourIncident 'INC-1005', which this source has not supplied (or has deleted)"],
      ['incidents_2025-09.csv:11', 'incidentId', "incidentId refers to behaviourIncident 'INC-1007', which this source has not supplied (or has deleted)"],
    ]);
  });
});
