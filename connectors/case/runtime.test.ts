/**
 * The case connector through the real runtime (src/ingest/runner.ts) on SQLite (and PostgreSQL when available):
 * records validate against the unified schemas and frameworkId resolves; an unchanged package is skipped; a
 * re-published package updates what changed and sweeps what it dropped; a larger loss stops at needs_review (the
 * runtime's 10% guardrail) until an operator approves; a rejected item is kept, not swept.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { validateConfig } from '../../src/core/config';
import type { Connector } from '../../src/ingest/contract';
import { registerConnector } from '../../src/ingest/registry';
import { approveRun, runSync } from '../../src/ingest/runner';
import type { Db } from '../../src/store/db';
import { ensureTenants } from '../../src/store/tenants';
import { describeEachDb } from '../../test/helpers/db';
import { caseConnector } from './index';
import { FIXTURES } from './test-helpers';

registerConnector('case', caseConnector as Connector<never>);

const STATE_DOC = 'c6124d01-e27a-5ddb-b089-5de9a430d1a9';
const readJson = (f: string) => JSON.parse(fs.readFileSync(f, 'utf8'));
const writeJson = (f: string, v: unknown) => fs.writeFileSync(f, `${JSON.stringify(v, null, 2)}\n`);

describeEachDb('case connector in the runtime', (t) => {
  let db: Db;
  let dir: string;
  let deps: { db: Db; config: ReturnType<typeof validateConfig> };
  const sync = () => runSync(deps, { tenantId: 't1', connectorId: 'standards' });
  const live = async (type: string) =>
    (await db.knex('records').where({ tenant_id: 't1', entity_type: type }).whereNull('deleted_at')).map((r: { id: string; data: string }) => ({ id: r.id, ...JSON.parse(r.data) }));

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'case-runtime-'));
    fs.cpSync(path.join(FIXTURES, 'frameworks'), path.join(dir, 'frameworks'), { recursive: true });
    db = await t.open();
    deps = {
      db,
      config: validateConfig(
        { tenants: [{ id: 't1', name: 'District', connectors: [{ id: 'standards', type: 'case', settings: { source: { folder: 'frameworks' } } }] }] },
        path.join(dir, 'hub.config.json'),
        dir,
      ),
    };
    await ensureTenants(db, deps.config.config);
  });
  afterEach(async () => {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('loads frameworks, items and associations; frameworkId becomes the framework unified id', async () => {
    const run = await sync();
    expect(run.status).toBe('succeeded');
    expect(run.counts).toMatchObject({ read: 2 + 19 + 28, inserted: 49, rejected: 0, deleted: 0 });
    const frameworks = await live('competencyFramework');
    const state = frameworks.find((f) => f.caseId === STATE_DOC)!;
    const item = (await live('competencyItem')).find((i) => i.humanCodingScheme === '3.NF.2')!;
    expect(item).toMatchObject({ frameworkId: state.id, abbreviatedStatement: 'Fractions on a number line', educationLevels: ['03'] });
    const cross = (await live('competencyAssociation')).filter((a) => a.associationType === 'exactMatchOf');
    expect(cross).toHaveLength(4);
  });

  it('an unchanged folder: every stream skipped, nothing read', async () => {
    await sync();
    const again = await sync();
    expect(again.status).toBe('succeeded');
    expect(again.streams.map((s) => s.skipped)).toEqual(Array(3).fill('unchanged since the last run (2 packages)'));
    expect(again.counts.read).toBe(0);
  });

  it('a re-published package: the changed item is updated, the withdrawn one swept (within the 10% guardrail)', async () => {
    await sync();
    const file = path.join(dir, 'frameworks/state-math-grade3.json');
    const pkg = readJson(file);
    pkg.CFDocument.lastChangeDateTime = '2026-01-15T10:00:00+00:00';
    pkg.CFItems[1].fullStatement = 'Explain a product of two whole numbers as the total number of objects in equal groups.';
    pkg.CFItems[1].lastChangeDateTime = '2026-01-15T10:00:00+00:00';
    pkg.CFItems.splice(11, 1); // 3.MD.3: 1 of 19 items
    pkg.CFAssociations.splice(11, 1); // its isChildOf: 1 of 28 associations
    writeJson(file, pkg);
    const run = await sync();
    expect(run.status).toBe('succeeded');
    expect(run.streams.map((s) => s.mode)).toEqual(['full', 'full', 'full']);
    expect(run.counts).toMatchObject({ updated: 2, deleted: 2, inserted: 0 }); // framework + 3.OA.1; item + association
    const items = await live('competencyItem');
    expect(items).toHaveLength(18);
    expect(items.find((i) => i.humanCodingScheme === '3.OA.1')).toMatchObject({ lastChangeDateTime: '2026-01-15T10:00:00+00:00' });
    const change = await db.knex('change_log').where({ tenant_id: 't1', run_id: run.id, op: 'update' }).orderBy('seq');
    expect(change.map((c: { diff: string }) => Object.keys(JSON.parse(c.diff)).sort())).toEqual([['lastChangeDateTime'], ['fullStatement', 'lastChangeDateTime']]);
  });

  it('a framework removed from the folder: more than 10% would vanish, so the run stops at needs_review until approved', async () => {
    await sync();
    fs.rmSync(path.join(dir, 'frameworks/district-math-grade3.json'));
    const run = await sync();
    expect(run.status).toBe('needs_review');
    expect(run.review?.reason).toMatch(/1 of 2 competencyFramework records \(50\.0%\) would be deleted/);
    expect(await live('competencyItem')).toHaveLength(19); // nothing deleted yet
    const approved = await approveRun(deps, 't1', run.id, 'curriculum@district');
    expect(approved.status).toBe('succeeded');
    expect(await live('competencyFramework')).toHaveLength(1);
    expect(await live('competencyItem')).toHaveLength(12);
    expect(await live('competencyAssociation')).toHaveLength(12);
  });

  it('an item that turns bad in a newer package is rejected with its JSON path, and kept (not swept)', async () => {
    await sync();
    const file = path.join(dir, 'frameworks/state-math-grade3.json');
    const pkg = readJson(file);
    delete pkg.CFItems[2].fullStatement;
    writeJson(file, pkg);
    const run = await sync();
    expect(run.status).toBe('succeeded');
    expect(run.counts).toMatchObject({ rejected: 1, deleted: 0 });
    expect(run.rejects).toEqual([
      { stream: 'items', location: 'state-math-grade3.json $.CFItems[2]', field: 'fullStatement', code: 'record_invalid', reason: 'fullStatement is required (checked with the CASE 1.1 rules)' },
    ]);
    expect(await live('competencyItem')).toHaveLength(19);
  });
});
