/**
 * OneRoster agents (agentSourcedIds) → person.agentIds → guardian links, on both databases: students list guardians
 * that come later in users.csv and guardians list them back (a cycle the page cannot resolve), links follow the
 * source on every run, API-made links are kept, and a guardian then sees their children's plans.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { parse } from 'csv-parse/sync';
import { describeEachDb } from './helpers/db';
import { validateConfig } from '../src/core/config';
import { ensureTenants } from '../src/store/tenants';
import { runSync } from '../src/ingest/runner';
import { generateDistrict } from '../src/generator/district';
import { buildApp } from '../src/serve/app';
import { resolveAgents } from '../src/normalize/agents';
import type { Db } from '../src/store/db';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-agents-'));
const district = path.join(dir, 'district');
const edited = path.join(dir, 'edited');
type Row = Record<string, string>;
let users: Row[];
let roles: Row[];

/** Writes users.csv back, without the generator's two deliberately malformed rows (re-quoting would repair them). */
function writeCsv(file: string, all: Row[]): void {
  const rows = all.filter((r) => !r.sourcedId.startsWith('sis-stu-x'));
  const header = Object.keys(rows[0]);
  const q = (v: string) => `"${v.replace(/"/g, '""')}"`;
  fs.writeFileSync(file, [header.map(q).join(','), ...rows.map((r) => header.map((h) => q(r[h] ?? '')).join(','))].join('\r\n') + '\r\n');
}

beforeAll(async () => {
  await generateDistrict({ seed: 23, students: 60, outDir: district });
  const bulk = path.join(district, 'sis/bulk');
  users = parse(fs.readFileSync(path.join(bulk, 'users.csv')), { columns: true, relax_column_count: true }) as Row[];
  roles = parse(fs.readFileSync(path.join(bulk, 'roles.csv')), { columns: true }) as Row[];
  fs.cpSync(bulk, edited, { recursive: true });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const ENV = { AGENTS_ADMIN: 'agents-admin-key', AGENTS_PORTAL: 'agents-portal-key' };
const config = (p: string) =>
  validateConfig({
    apiKeys: [
      { name: 'admin', key: { $env: 'AGENTS_ADMIN' }, tenants: ['*'], scopes: ['admin'] },
      { name: 'portal', key: { $env: 'AGENTS_PORTAL' }, tenants: ['d1'], scopes: ['sessions.issue'] },
    ],
    tenants: [{ id: 'd1', name: 'District', connectors: [{ id: 'sis', type: 'oneroster-csv', settings: { path: p } }] }],
  }, '(test)', process.cwd(), ENV);

describeEachDb('guardian links from OneRoster agents', (t) => {
  let db: Db;
  let unified: Map<string, string>;
  const links = async (source?: string) =>
    ((await db.knex('guardianships').where({ tenant_id: 'd1', ...(source ? { source } : {}) }).select('guardian_id', 'learner_id', 'relationship', 'source')) as Record<string, string>[])
      .map((r) => `${r.guardian_id}>${r.learner_id}:${r.relationship}:${r.source}`).sort();
  const person = async (id: string) => JSON.parse(((await db.knex('records').where({ tenant_id: 'd1', entity_type: 'person', id }).first('data')) as { data: string }).data) as { agentIds?: string[] };

  /** Pairs the export lists, from either direction, as unified ids with the guardian's role. */
  const expected = (rows: Row[]) => {
    const role = new Map(roles.filter((r) => ['parent', 'guardian', 'relative'].includes(r.role)).map((r) => [r.userSourcedId, r.role]));
    const out = new Set<string>();
    for (const u of rows) {
      for (const a of (u.agentSourcedIds ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
        const pair = role.has(a) ? [a, u.sourcedId] : role.has(u.sourcedId) ? [u.sourcedId, a] : undefined;
        if (!pair) continue;
        const [g, l] = pair;
        if (unified.has(g) && unified.has(l)) out.add(`${unified.get(g)}>${unified.get(l)}:${role.get(g)}:sis`);
      }
    }
    return [...out].sort();
  };

  beforeAll(async () => {
    db = await t.open();
    await ensureTenants(db, config(path.join(district, 'sis/bulk')).config);
  });
  afterAll(async () => {
    await db.close();
  });

  it('maps agentSourcedIds both ways, completes the lists at the end of the run and links guardians', async () => {
    const r = await runSync({ db, config: config(path.join(district, 'sis/bulk')) }, { tenantId: 'd1', connectorId: 'sis' });
    expect(r.status).toBe('succeeded');
    unified = new Map(((await db.knex('source_records').where({ tenant_id: 'd1', connector_id: 'sis', entity_type: 'person' }).select('source_id', 'unified_id')) as { source_id: string; unified_id: string }[])
      .map((x) => [x.source_id, x.unified_id]));
    const want = expected(users);
    expect(want.length).toBeGreaterThanOrEqual(8);
    expect(await links()).toEqual(want);
    // A student listed before their guardian in users.csv still has the guardian in agentIds, and the other way round.
    const student = users.find((u) => u.sourcedId.startsWith('sis-stu-') && u.agentSourcedIds)!;
    const guardianRow = users.find((u) => u.sourcedId === student.agentSourcedIds)!;
    expect(users.indexOf(guardianRow)).toBeGreaterThan(users.indexOf(student));
    expect((await person(unified.get(student.sourcedId)!)).agentIds).toEqual([unified.get(guardianRow.sourcedId)]);
    expect((await person(unified.get(guardianRow.sourcedId)!)).agentIds).toContain(unified.get(student.sourcedId));
    expect(r.rejects.filter((x) => x.field === 'agentIds')).toEqual([]);
  });

  it('is idempotent: a second run of the same export changes no person and no link', async () => {
    const before = await links();
    const seq = Number(((await db.knex('tenant_sequences').where({ tenant_id: 'd1' }).first('last_seq')) as { last_seq: number }).last_seq);
    // The same export rewritten byte-differently (every cell quoted), so users.csv is read again, not skipped.
    writeCsv(path.join(edited, 'users.csv'), users);
    const r = await runSync({ db, config: config(edited) }, { tenantId: 'd1', connectorId: 'sis' });
    expect(r.status).toBe('succeeded');
    expect(r.streams.find((x) => x.stream === 'users')).toMatchObject({ mode: 'full', counts: expect.objectContaining({ read: users.length - 2 }) });
    expect(r.streams.find((x) => x.stream === 'users')!.skipped).toBeUndefined();
    expect(r.counts.updated).toBe(0);
    expect(await links()).toEqual(before);
    expect(await resolveAgents(db, { tenantId: 'd1', connectorId: 'sis', runId: r.id })).toEqual({ completed: 0, unresolved: 0, linksAdded: 0, linksRemoved: 0 });
    const n = (await db.knex('change_log').where({ tenant_id: 'd1', entity_type: 'person' }).where('seq', '>', seq).count({ n: '*' }).first()) as { n: number | string };
    expect(Number(n.n)).toBe(0);
  });

  it('follows the source: a link it no longer lists goes, API-made links stay, a guardian sees their child\'s plan', async () => {
    const app = buildApp({ db, config: config(edited), env: ENV });
    const admin = (m: 'post' | 'get', p: string) => request(app)[m](`/api/v1/tenants/d1${p}`).set('Authorization', `Bearer ${ENV.AGENTS_ADMIN}`);
    // The guardian whose link will be dropped, and an API link for another guardian that the SIS never lists.
    const student = users.find((u) => u.sourcedId.startsWith('sis-stu-') && u.agentSourcedIds)!;
    const guardianSid = student.agentSourcedIds;
    const other = users.find((u) => u.sourcedId.startsWith('sis-stu-') && u.agentSourcedIds && u.agentSourcedIds !== guardianSid && u.sourcedId !== student.sourcedId)!;
    const apiLink = await admin('post', '/guardianships').send({ guardianId: unified.get(other.agentSourcedIds), learnerId: unified.get(student.sourcedId), relationship: 'relative' });
    expect(apiLink.status).toBe(201);
    const rows = users.map((u) => {
      if (u.sourcedId === student.sourcedId) return { ...u, agentSourcedIds: '' };
      if (u.sourcedId === guardianSid) return { ...u, agentSourcedIds: u.agentSourcedIds.split(',').filter((s) => s !== student.sourcedId).join(',') };
      return u;
    });
    writeCsv(path.join(edited, 'users.csv'), rows);
    const r = await runSync({ db, config: config(edited) }, { tenantId: 'd1', connectorId: 'sis' });
    expect(r.status).toBe('succeeded');
    const g = unified.get(guardianSid)!;
    const s = unified.get(student.sourcedId)!;
    expect(await links('sis')).toEqual(expected(rows));
    expect((await links()).some((l) => l.startsWith(`${g}>${s}:`))).toBe(false);
    expect(await links()).toContain(`${unified.get(other.agentSourcedIds)}>${s}:relative:api:admin`);
    expect((await person(s)).agentIds).toBeUndefined();

    // A guardian session (links from the SIS) sees the plan of their child and nobody else's.
    const child = users.find((u) => u.sourcedId.startsWith('sis-stu-') && u.agentSourcedIds && ![guardianSid, other.agentSourcedIds].includes(u.agentSourcedIds))!;
    const tok = (await request(app).post('/api/v1/tenants/d1/sessions').set('Authorization', `Bearer ${ENV.AGENTS_PORTAL}`)
      .send({ personId: unified.get(child.agentSourcedIds), roles: ['guardian'] })).body.data.token as string;
    const mine = await request(app).get(`/api/v1/tenants/d1/learners/${unified.get(child.sourcedId)}/plp`).set('Authorization', `Bearer ${tok}`);
    expect(mine.status).toBe(200);
    expect((await request(app).get(`/api/v1/tenants/d1/learners/${s}/plp`).set('Authorization', `Bearer ${tok}`)).status).toBe(404);
  });

  it('an agent the source never supplied is reported, and the person is kept with the agents that exist', async () => {
    const student = users.find((u) => u.sourcedId.startsWith('sis-stu-') && u.agentSourcedIds)!;
    const rows = users.map((u) => (u.sourcedId === student.sourcedId ? { ...u, agentSourcedIds: `${u.agentSourcedIds},sis-gua-nobody` } : u));
    writeCsv(path.join(edited, 'users.csv'), rows);
    const r = await runSync({ db, config: config(edited) }, { tenantId: 'd1', connectorId: 'sis' });
    expect(r.status).toBe('succeeded');
    const rejects = (await db.knex('run_rejects').where({ run_id: r.id, field: 'agentIds' })) as { code: string; reason: string; location: string }[];
    expect(rejects).toEqual([expect.objectContaining({ code: 'reference_unresolved', location: `person ${student.sourcedId}` })]);
    expect(rejects[0].reason).toMatch(/sis-gua-nobody/);
    expect((await person(unified.get(student.sourcedId)!)).agentIds).toEqual([unified.get(student.agentSourcedIds)]);
    expect(await links('sis')).toEqual(expected(rows));
  });
});
