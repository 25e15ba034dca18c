/**
 * End to end through the real runtime (SQLite): the streams' order and the source ids the mappers write into
 * reference fields must let the runtime resolve every reference — the connector tests cannot see that.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { validateConfig } from '../../src/core/config';
import type { Connector } from '../../src/ingest/contract';
import { registerConnector } from '../../src/ingest/registry';
import { runSync } from '../../src/ingest/runner';
import { migrate, openDb, type Db } from '../../src/store/db';
import { ensureTenants } from '../../src/store/tenants';
import { edfiXml } from './index';

registerConnector('edfi-xml', edfiXml as Connector<never>);

const FIXTURES = path.resolve(__dirname, '../../fixtures/edfi-xml');
const SAMPLES = path.resolve(__dirname, '../../../shared/conformance/edfi/samples');
const HAVE_SAMPLES = fs.existsSync(SAMPLES);
if (!HAVE_SAMPLES) {
  console.warn(`\n*** edfi-xml runtime: SKIPPING the Grand Bend sample run: ${SAMPLES} is absent. It is NOT passing, it did not run. ***\n`);
}

let dir: string;
let db: Db;
beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edfi-xml-runtime-'));
  db = await openDb({ url: path.join(dir, 'hub.sqlite') });
  await migrate(db);
});
afterEach(async () => {
  await db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function setup(baseDir: string, settings: Record<string, unknown>) {
  const config = validateConfig({ tenants: [{ id: 't1', name: 'Tenant', connectors: [{ id: 'edfi', type: 'edfi-xml', settings }] }] }, '(test)', baseDir);
  await ensureTenants(db, config.config);
  return { db, config };
}

const live = async (type: string) =>
  (await db.knex('records').where({ tenant_id: 't1', entity_type: type }).whereNull('deleted_at')) as Array<{ id: string; data: string }>;
const unifiedIdOf = async (type: string, sourceId: string) =>
  ((await db.knex('source_records').where({ tenant_id: 't1', connector_id: 'edfi', entity_type: type, source_id: sourceId }).first()) as { unified_id: string }).unified_id;

test('the synthetic district: every reference resolves; only the deliberate defects are rejected; a re-run skips every stream', async () => {
  const deps = await setup(FIXTURES, { path: 'district' });
  const run = await runSync(deps, { tenantId: 't1', connectorId: 'edfi' });
  expect(run.error).toBeUndefined();
  expect(run.status).toBe('succeeded');
  const rejects = await db.knex('run_rejects').where({ run_id: run.id }).orderBy('id');
  expect(rejects.map((r: { stream: string; code: string; location: string }) => [r.stream, r.code, r.location])).toEqual([
    ['sections', 'reference_unresolved', 'MasterSchedule.xml:22'],
    ['students', 'record_invalid', 'Student.xml:29'],
    ['programs', 'row_malformed', 'StudentProgram.xml:26'],
    ['assessmentResults', 'record_invalid', 'StudentAssessment.xml:40'],
    ['assessmentResults', 'reference_unresolved', 'StudentAssessment.xml:46'],
    ['assessmentResults', 'record_invalid', 'StudentAssessment.xml:52'],
    ['assessmentResults', 'row_malformed', 'StudentAssessment.xml:58'],
    ['disciplineParticipants', 'reference_unresolved', 'StudentDiscipline.xml:25'],
    ['gradebookEntries', 'reference_unresolved', 'StudentGradebook.xml:29'],
    ['attendance', 'record_invalid', 'StudentAttendance.xml:23'],
    ['interventions', 'reference_unresolved', 'StudentIntervention.xml:31'],
  ]);
  expect(run.counts).toMatchObject({ inserted: 31, rejected: 11 });

  // References were translated into unified ids.
  const [lineItem] = (await live('lineItem')).map((r) => JSON.parse(r.data)).filter((d) => d.title === 'Fractions homework');
  expect(lineItem.classId).toBe(await unifiedIdOf('class', '990001|2025-2026|2025-2026 Fall Semester|MATH-6|M6-01'));
  expect(lineItem.gradingPeriodId).toBe(await unifiedIdOf('academicSession', 'gradingPeriod|990001|2025-2026|uri://ed-fi.org/GradingPeriodDescriptor#First Six Weeks|2025-2026 Fall Semester Period 1'));
  const [demo] = (await live('demographics')).map((r) => JSON.parse(r.data)).filter((d) => d.birthDate === '2014-03-09');
  expect(demo.personId).toBe(await unifiedIdOf('person', 'S-1001'));
  const [school] = (await live('org')).map((r) => JSON.parse(r.data)).filter((d) => d.type === 'school');
  expect(school.parentId).toBe(await unifiedIdOf('org', '9900'));

  const again = await runSync(deps, { tenantId: 't1', connectorId: 'edfi' });
  expect(again.status).toBe('succeeded');
  expect(again.streams.every((s) => s.skipped?.startsWith('unchanged since last run'))).toBe(true);
  expect(again.counts).toMatchObject({ read: 0, inserted: 0, deleted: 0 });
});

(HAVE_SAMPLES ? test : test.skip)(`the Grand Bend samples (${SAMPLES}): what resolves and what the sample set cannot supply`, async () => {
  const deps = await setup(path.dirname(SAMPLES), { path: 'samples' });
  const run = await runSync(deps, { tenantId: 't1', connectorId: 'edfi' });
  expect(run.status).toBe('succeeded');
  const byStream = Object.fromEntries(run.streams.filter((s) => !s.skipped).map((s) => [s.stream, { inserted: s.counts.inserted, rejected: s.counts.rejected }]));
  const reasons = (await db.knex('run_rejects').where({ run_id: run.id })).map((r: { stream: string; field: string; code: string }) => `${r.stream} ${r.code} ${r.field}`);
  const tally = reasons.reduce<Record<string, number>>((m, r) => ((m[r] = (m[r] ?? 0) + 1), m), {});
  // The samples have no MasterSchedule interchange: no class exists for the gradebook entries' sections, so the
  // runtime rejects them as unresolved (and so their results). Everything else resolves.
  expect(tally).toEqual({ 'gradebookEntries reference_unresolved classId': 10, 'gradebookResults reference_unresolved lineItemId': 250 });
  expect(byStream).toEqual({
    educationOrganizations: { inserted: 9, rejected: 0 },
    courses: { inserted: 84, rejected: 0 },
    students: { inserted: 1920, rejected: 0 },
    assessments: { inserted: 41, rejected: 0 },
    assessmentResults: { inserted: 41, rejected: 0 },
    disciplineIncidents: { inserted: 21, rejected: 0 },
    disciplineParticipants: { inserted: 23, rejected: 0 },
    disciplineActions: { inserted: 25, rejected: 0 },
    gradebookEntries: { inserted: 0, rejected: 10 },
    gradebookResults: { inserted: 0, rejected: 250 },
  });
});
