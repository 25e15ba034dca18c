/**
 * OneRoster CSV export round trip, on SQLite and PostgreSQL: a generated district (SIS 1.2 + LMS 1.1 with its
 * gradebook) is synced into tenant `src`, exported as a bulk zip, and that zip is read back by the project's own
 * oneroster-csv connector into a fresh tenant `copy` (a real sync). Counts and records must match. Then one change
 * is made and the delta export contains exactly that change, which the connector applies as a delta.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import yauzl from 'yauzl';
import request from 'supertest';
import { describeEachDb } from './helpers/db';
import { validateConfig } from '../src/core/config';
import { ensureTenants } from '../src/store/tenants';
import { runSync } from '../src/ingest/runner';
import { generateDistrict } from '../src/generator/district';
import { exportOneRosterCsv, ALL_FILES_1_2 } from '../src/serve/export/oneroster-csv';
import { applyWrites } from '../src/serve/oneroster/gradebook-write';
import { buildApp } from '../src/serve/app';
import { COLUMNS_1_2 } from '../connectors/oneroster-csv/columns';
import type { Db } from '../src/store/db';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-orexport-'));
const district = path.join(dir, 'district');
const zipFile = path.join(dir, 'copy.zip');
const KEY = 'export-key-123456';

const config = () =>
  validateConfig({
    tenants: [
      { id: 'src', name: 'Source', connectors: [
        { id: 'sis', type: 'oneroster-csv', settings: { path: path.join(district, 'sis/bulk') } },
        { id: 'lms', type: 'oneroster-csv', settings: { path: path.join(district, 'lms/bulk') } },
      ] },
      { id: 'copy', name: 'Copy', connectors: [{ id: 'hub', type: 'oneroster-csv', settings: { path: zipFile } }] },
    ],
    apiKeys: [
      { name: 'exporter', sha256: createHash('sha256').update(KEY).digest('hex'), tenants: ['src'], scopes: ['exports.run'] },
      { name: 'reader', sha256: createHash('sha256').update('reader-key-98765').digest('hex'), tenants: ['src'], scopes: ['roster.read'] },
    ],
  });

/** The zip's entries as text. */
async function unzip(buf: Buffer): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const zip = await new Promise<yauzl.ZipFile>((res, rej) => yauzl.fromBuffer(buf, { lazyEntries: true }, (e, z) => (e ? rej(e) : res(z!))));
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (entry: yauzl.Entry) => {
      zip.openReadStream(entry, (e, s) => {
        if (e) return reject(e);
        const chunks: Buffer[] = [];
        s!.on('data', (c: Buffer) => chunks.push(c));
        s!.on('end', () => {
          out.set(entry.fileName, Buffer.concat(chunks).toString('utf8'));
          zip.readEntry();
        });
      });
    });
    zip.on('end', resolve);
    zip.on('error', reject);
    zip.readEntry();
  });
  return out;
}

async function exportZip(db: Db, opts: { sinceSeq?: number } = {}) {
  const chunks: Buffer[] = [];
  const { PassThrough } = await import('node:stream');
  const sink = new PassThrough();
  sink.on('data', (c: Buffer) => chunks.push(c));
  const summary = await exportOneRosterCsv(db, { tenantId: 'src', ...opts }, sink);
  const buf = Buffer.concat(chunks);
  return { summary, buf, files: await unzip(buf) };
}

const liveCounts = async (db: Db, tenant: string) =>
  Object.fromEntries(((await db.knex('records').where({ tenant_id: tenant }).whereNull('deleted_at').groupBy('entity_type').select('entity_type').count({ n: '*' })) as Array<{ entity_type: string; n: number | string }>)
    .map((r) => [r.entity_type, Number(r.n)]));

beforeAll(async () => {
  await generateDistrict({ seed: 7, students: 80, outDir: district });
}, 60000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describeEachDb('OneRoster CSV export', (t) => {
  let db: Db;
  const cfg = config();
  beforeAll(async () => {
    db = await t.open();
    await ensureTenants(db, cfg.config);
    for (const c of ['sis', 'lms']) expect((await runSync({ db, config: cfg }, { tenantId: 'src', connectorId: c })).status).toBe('succeeded');
  }, 60000);
  afterAll(async () => {
    await db?.close();
  });

  test('bulk: manifest, exact headers, blank status columns; re-imported by the oneroster-csv connector with the same counts', async () => {
    const { summary, buf, files } = await exportZip(db);
    expect(summary.mode).toBe('bulk');
    const manifest = files.get('manifest.csv')!.trim().split('\r\n');
    expect(manifest.slice(0, 3)).toEqual(['propertyName,value', 'manifest.version,1.0', 'oneroster.version,1.2']);
    for (const f of ALL_FILES_1_2) {
      const line = manifest.find((l) => l.startsWith(`file.${f},`))!;
      expect(line).toBe(`file.${f},${files.has(`${f}.csv`) ? 'bulk' : 'absent'}`);
    }
    for (const [name, text] of files) {
      if (name === 'manifest.csv') continue;
      const lines = text.split('\r\n').filter(Boolean);
      expect(lines[0]).toBe(COLUMNS_1_2[name].map((c) => c.header).join(','));
      expect(lines.length).toBeGreaterThan(1); // no header-only files
      expect(lines[1]).toMatch(/^[^,]+,,,/); // status and dateLastModified blank in bulk
    }
    expect(files.has('users.csv') && files.has('results.csv') && files.has('lineItems.csv') && files.has('demographics.csv')).toBe(true);

    fs.writeFileSync(zipFile, buf);
    const run = await runSync({ db, config: cfg }, { tenantId: 'copy', connectorId: 'hub' });
    expect(run.rejects.slice(0, 5)).toEqual([]);
    expect(run.counts.rejected).toBe(0);
    expect(run.status).toBe('succeeded');
    const src = await liveCounts(db, 'src');
    const copy = await liveCounts(db, 'copy');
    // Several sources may describe one person's demographics: OneRoster carries one record per user.
    src.demographics = new Set(((await db.knex('records').where({ tenant_id: 'src', entity_type: 'demographics' }).whereNull('deleted_at').select('data')) as Array<{ data: string }>)
      .map((r) => (JSON.parse(r.data) as { personId: string }).personId)).size;
    const skippedBy = (file: string) => summary.skippedRecords.filter((s) => s.file === file).length;
    expect(summary.skipped).toBe(summary.skippedRecords.length);
    for (const [type, file] of [['org', 'orgs.csv'], ['academicSession', 'academicSessions.csv'], ['course', 'courses.csv'], ['class', 'classes.csv'], ['person', 'users.csv'],
      ['role', 'roles.csv'], ['demographics', 'demographics.csv'], ['enrollment', 'enrollments.csv'], ['lineItemCategory', 'categories.csv'], ['lineItem', 'lineItems.csv'], ['result', 'results.csv']] as const) {
      expect({ type, n: copy[type] ?? 0 }).toEqual({ type, n: (src[type] ?? 0) - skippedBy(file) });
    }
    // A few records, field by field: the copy's source ids are the hub's unified ids.
    const pick = async (type: string) => {
      const row = (await db.knex('records').where({ tenant_id: 'src', entity_type: type }).whereNull('deleted_at').orderBy('id').first('id', 'data')) as { id: string; data: string };
      const sr = (await db.knex('source_records').where({ tenant_id: 'copy', entity_type: type, source_id: row.id }).first('unified_id')) as { unified_id: string };
      const copyRow = (await db.knex('records').where({ tenant_id: 'copy', entity_type: type, id: sr.unified_id }).first('data')) as { data: string };
      return { a: JSON.parse(row.data) as Record<string, unknown>, b: JSON.parse(copyRow.data) as Record<string, unknown> };
    };
    const p = await pick('person');
    for (const f of ['givenName', 'familyName', 'email', 'grades', 'enabledUser', 'username']) expect(p.b[f]).toEqual(p.a[f]);
    const r = await pick('result');
    for (const f of ['scoreStatus', 'score']) expect(r.b[f]).toEqual(r.a[f]);
    const c = await pick('class');
    expect(c.b.title).toEqual(c.a.title);
  }, 60000);

  test('delta: exactly the change since the sequence, tobedeleted for deletes; the connector applies it', async () => {
    const seq = Number(((await db.knex('tenant_sequences').where({ tenant_id: 'src' }).first('last_seq')) as { last_seq: number | string }).last_seq);
    const cat = (await db.knex('records').where({ tenant_id: 'src', entity_type: 'lineItemCategory' }).whereNull('deleted_at').orderBy('id').first('id', 'data')) as { id: string; data: string };
    const res = (await db.knex('records').where({ tenant_id: 'src', entity_type: 'result' }).whereNull('deleted_at').orderBy('id').first('id')) as { id: string };
    await applyWrites(db, 'src', 'test', [
      { type: 'lineItemCategory', id: cat.id, data: { ...JSON.parse(cat.data), id: undefined, title: 'Renamed category' }, refs: [], raw: {}, location: 'test' },
      { type: 'result', id: res.id, data: null, refs: [], raw: undefined, location: 'test' },
    ]);
    const { summary, buf, files } = await exportZip(db, { sinceSeq: seq });
    expect(summary.mode).toBe('delta');
    expect([...files.keys()].sort()).toEqual(['categories.csv', 'manifest.csv', 'results.csv']);
    const manifest = files.get('manifest.csv')!;
    expect(manifest).toContain('file.categories,delta');
    expect(manifest).toContain('file.results,delta');
    expect(manifest).toContain('file.users,absent');
    const catLines = files.get('categories.csv')!.trim().split('\r\n');
    expect(catLines).toHaveLength(2);
    expect(catLines[1]).toMatch(new RegExp(`^${cat.id},active,\\d{4}-\\d{2}-\\d{2}T[^,]+Z,Renamed category,`));
    const resLines = files.get('results.csv')!.trim().split('\r\n');
    expect(resLines).toHaveLength(2);
    expect(resLines[1]).toMatch(new RegExp(`^${res.id},tobedeleted,\\d{4}-`));
    // Nothing changed since: only the manifest ("no changes").
    expect([...(await exportZip(db, { sinceSeq: summary.seq })).files.keys()]).toEqual(['manifest.csv']);

    fs.writeFileSync(zipFile, buf);
    const run = await runSync({ db, config: cfg }, { tenantId: 'copy', connectorId: 'hub' });
    expect(run.status).toBe('succeeded');
    expect(run.counts).toMatchObject({ updated: 1, deleted: 1, rejected: 0 });
    const copyCat = (await db.knex('source_records').where({ tenant_id: 'copy', entity_type: 'lineItemCategory', source_id: cat.id }).first('unified_id')) as { unified_id: string };
    expect(JSON.parse(((await db.knex('records').where({ tenant_id: 'copy', entity_type: 'lineItemCategory', id: copyCat.unified_id }).first('data')) as { data: string }).data).title).toBe('Renamed category');
  }, 60000);

  test('API: GET /api/v1/tenants/:t/exports/oneroster streams the zip (exports.run), bad parameters are 400', async () => {
    const app = buildApp({ db, config: cfg });
    const res = await request(app).get('/api/v1/tenants/src/exports/oneroster').set('Authorization', `Bearer ${KEY}`).buffer(true).parse((r, cb) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => cb(null, Buffer.concat(chunks)));
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/zip');
    expect(Number(res.headers['x-oneroster-export-seq'])).toBeGreaterThan(0);
    const files = await unzip(res.body as Buffer);
    expect(files.get('manifest.csv')).toContain('file.users,bulk');
    const delta = await request(app).post(`/api/v1/tenants/src/exports/oneroster?sinceSeq=${res.headers['x-oneroster-export-seq']}`).set('Authorization', `Bearer ${KEY}`).buffer(true).parse((r, cb) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => cb(null, Buffer.concat(chunks)));
    });
    expect([...(await unzip(delta.body as Buffer)).keys()]).toEqual(['manifest.csv']);
    expect((await request(app).get('/api/v1/tenants/src/exports/oneroster?sinceSeq=-1').set('Authorization', `Bearer ${KEY}`)).status).toBe(400);
    expect((await request(app).get('/api/v1/tenants/src/exports/oneroster?sinceSeq=1&since=2024-01-01').set('Authorization', `Bearer ${KEY}`)).status).toBe(400);
    expect((await request(app).get('/api/v1/tenants/src/exports/oneroster').set('Authorization', 'Bearer reader-key-98765')).status).toBe(403);
    expect((await request(app).get('/api/v1/tenants/copy/exports/oneroster').set('Authorization', `Bearer ${KEY}`)).status).toBe(403);
  }, 60000);
});
