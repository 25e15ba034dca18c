/**
 * Who sees which learner: person sessions (student, guardian, teacher, administrator) against a synced SIS, on both
 * databases. A learner the caller may not see answers like one that does not exist.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { SignJWT } from 'jose';
import { describeEachDb } from './helpers/db';
import { validateConfig } from '../src/core/config';
import { ensureTenants } from '../src/store/tenants';
import { runSync } from '../src/ingest/runner';
import { generateDistrict } from '../src/generator/district';
import { buildApp } from '../src/serve/app';
import { sessionKeys } from '../src/serve/sessions';
import type { Db } from '../src/store/db';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-access-'));
const district = path.join(dir, 'district');
beforeAll(async () => {
  await generateDistrict({ seed: 11, students: 60, outDir: district });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const KEY = 'access-test-admin-key';
const ENV = { ACCESS_TEST_KEY: KEY, ACCESS_PORTAL_KEY: 'access-portal-key' };
const config = () =>
  validateConfig({
    apiKeys: [
      { name: 'admin', key: { $env: 'ACCESS_TEST_KEY' }, tenants: ['*'], scopes: ['admin'] },
      { name: 'portal', key: { $env: 'ACCESS_PORTAL_KEY' }, tenants: ['d1'], scopes: ['sessions.issue'] },
    ],
    tenants: [
      { id: 'd1', name: 'District', connectors: [{ id: 'sis', type: 'oneroster-csv', settings: { path: path.join(district, 'sis/bulk') } }] },
      { id: 'd2', name: 'Other district', connectors: [] },
    ],
  }, '(test)', process.cwd(), ENV);

interface Enr { personId: string; classId: string; role: string }

describeEachDb('access by person role', (t) => {
  let db: Db;
  let app: ReturnType<typeof buildApp>;
  let enrollments: Enr[];
  let teacher: string;
  let taughtClass: string;
  let ownStudents: Set<string>;
  let otherStudent: string;
  let student: string;
  let guardian: string;
  const admin = (m: 'get' | 'post' | 'delete', p: string) => request(app)[m](`/api/v1/tenants/d1${p}`).set('Authorization', `Bearer ${KEY}`);
  const as = (token: string, p: string, tenant = 'd1') => request(app).get(`/api/v1/tenants/${tenant}${p}`).set('Authorization', `Bearer ${token}`);
  const session = async (personId: string, roles: string[]) => {
    const res = await request(app).post('/api/v1/tenants/d1/sessions').set('Authorization', 'Bearer access-portal-key').send({ personId, roles });
    expect(res.status).toBe(201);
    return res.body.data.token as string;
  };

  beforeAll(async () => {
    db = await t.open();
    const cfg = config();
    await ensureTenants(db, cfg.config);
    expect((await runSync({ db, config: cfg }, { tenantId: 'd1', connectorId: 'sis' })).status).toBe('succeeded');
    app = buildApp({ db, config: cfg, env: ENV });
    enrollments = ((await db.knex('records').where({ tenant_id: 'd1', entity_type: 'enrollment' }).whereNull('deleted_at').select('data')) as { data: string }[])
      .map((r) => JSON.parse(r.data) as Enr);
    const t0 = enrollments.find((e) => e.role === 'teacher')!;
    teacher = t0.personId;
    const taught = new Set(enrollments.filter((e) => e.role === 'teacher' && e.personId === teacher).map((e) => e.classId));
    taughtClass = t0.classId;
    ownStudents = new Set(enrollments.filter((e) => e.role === 'student' && taught.has(e.classId)).map((e) => e.personId));
    otherStudent = enrollments.find((e) => e.role === 'student' && !ownStudents.has(e.personId))!.personId;
    student = [...ownStudents][0];
    // A guardian: any person who is not a student of the district, linked to `otherStudent` only.
    guardian = enrollments.find((e) => e.role === 'teacher' && e.personId !== teacher)!.personId;
    const link = await admin('post', '/guardianships').send({ guardianId: guardian, learnerId: otherStudent, relationship: 'parent' });
    expect(link.status).toBe(201);
  });
  afterAll(async () => {
    await db.close();
  });

  it('a student sees themselves and nobody else; a peer answers like a missing id', async () => {
    const tok = await session(student, ['student']);
    expect((await as(tok, `/learners/${student}`)).status).toBe(200);
    const peer = await as(tok, `/learners/${otherStudent}`);
    const missing = await as(tok, '/learners/00000000-0000-7000-8000-000000000000');
    expect(peer.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(peer.body.error.message).toBe(missing.body.error.message);
    const list = await as(tok, '/learners?limit=500');
    expect(list.body.data.map((l: { id: string }) => l.id)).toEqual([student]);
  });

  it('a teacher sees the students of their classes only, and only when acting as a teacher', async () => {
    const tok = await session(teacher, ['teacher']);
    expect((await as(tok, `/learners/${student}`)).status).toBe(200);
    expect((await as(tok, `/learners/${otherStudent}`)).status).toBe(404);
    const list = await as(tok, '/learners?limit=1000');
    expect(new Set(list.body.data.map((l: { id: string }) => l.id))).toEqual(ownStudents);
    const me = await as(tok, '/me');
    expect(me.body.data.classes).toContain(taughtClass);
    // The same person signed in only as a guardian has no class access.
    const asGuardian = await session(teacher, ['guardian']);
    expect((await as(asGuardian, `/learners/${student}`)).status).toBe(404);
  });

  it('a guardian sees the linked learner only; unlinking removes access at once', async () => {
    const tok = await session(guardian, ['guardian']);
    expect((await as(tok, `/learners/${otherStudent}`)).status).toBe(200);
    expect((await as(tok, `/learners/${student}`)).status).toBe(404);
    expect((await as(tok, '/me')).body.data.learners).toEqual([otherStudent]);
    expect((await admin('get', `/learners/${otherStudent}/guardians`)).body.data).toEqual([expect.objectContaining({ guardianId: guardian, relationship: 'parent' })]);
    expect((await admin('delete', `/guardianships/${guardian}/${otherStudent}`)).status).toBe(204);
    expect((await as(tok, `/learners/${otherStudent}`)).status).toBe(404);
    await admin('post', '/guardianships').send({ guardianId: guardian, learnerId: otherStudent });
  });

  it('an administrator sees every learner of the tenant, never another tenant', async () => {
    const tok = await session(teacher, ['administrator']);
    expect((await as(tok, `/learners/${otherStudent}`)).status).toBe(200);
    expect((await as(tok, '/learners', 'd2')).status).toBe(403);
  });

  it('person sessions cannot use service routes; service keys cannot be impersonated', async () => {
    const tok = await session(teacher, ['administrator']);
    const runs = await as(tok, '/runs');
    expect(runs.status).toBe(403);
    expect((await as(tok, '/persons')).status).toBe(403);
    // Only sessions.issue mints sessions, for existing people, with known roles.
    expect((await request(app).post('/api/v1/tenants/d1/sessions').set('Authorization', `Bearer ${tok}`).send({ personId: student, roles: ['teacher'] })).status).toBe(403);
    const bad = await request(app).post('/api/v1/tenants/d1/sessions').set('Authorization', 'Bearer access-portal-key').send({ personId: student, roles: ['superuser'] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].path).toBe('roles');
    expect((await request(app).post('/api/v1/tenants/d1/sessions').set('Authorization', 'Bearer access-portal-key').send({ personId: 'nobody', roles: ['student'] })).status).toBe(404);
    expect((await request(app).post('/api/v1/tenants/d2/sessions').set('Authorization', 'Bearer access-portal-key').send({ personId: student, roles: ['student'] })).status).toBe(403);
  });

  it('refuses forged, tampered, expired and alg:none session tokens with the reason', async () => {
    const good = await session(student, ['student']);
    const [h, p, s] = good.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, roles: ['administrator'] })).toString('base64url')}.${s}`;
    const r1 = await as(tampered, `/learners/${otherStudent}`);
    expect(r1.status).toBe(401);
    expect(r1.body.error.message).toMatch(/signature/);
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`;
    expect((await as(`${none}x`, `/learners/${student}`)).status).toBe(401);
    const forged = await new SignJWT({ tid: 'd1', roles: ['administrator'] }).setProtectedHeader({ alg: 'HS256', kid: JSON.parse(Buffer.from(h, 'base64url').toString()).kid })
      .setIssuer('urn:learner-data-hub').setAudience('urn:learner-data-hub:session').setSubject(teacher).setJti('x').setIssuedAt().setExpirationTime('1h')
      .sign(new TextEncoder().encode('a-guessed-secret-of-32-bytes-long!!'));
    const r2 = await as(forged, `/learners/${otherStudent}`);
    expect(r2.status).toBe(401);
    const keys = sessionKeys(db, ENV);
    const { kid, key } = await keys.signingKey();
    const expired = await new SignJWT({ tid: 'd1', roles: ['student'] }).setProtectedHeader({ alg: 'HS256', kid })
      .setIssuer('urn:learner-data-hub').setAudience('urn:learner-data-hub:session').setSubject(student).setJti('y').setIssuedAt(Math.floor(Date.now() / 1000) - 7200).setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
      .sign(key);
    const r3 = await as(expired, `/learners/${student}`);
    expect(r3.status).toBe(401);
    expect(r3.body.error.message).toMatch(/exp/);
  });

  it('key rotation keeps tokens in flight valid and signs new ones with the new key', async () => {
    const before = await session(student, ['student']);
    const keys = sessionKeys(db, ENV);
    const oldKid = (await keys.signingKey()).kid;
    const newKid = await keys.rotate();
    expect(newKid).not.toBe(oldKid);
    expect((await as(before, `/learners/${student}`)).status).toBe(200);
    const after = await session(student, ['student']);
    expect(JSON.parse(Buffer.from(after.split('.')[0], 'base64url').toString()).kid).toBe(newKid);
    expect((await as(after, `/learners/${student}`)).status).toBe(200);
  });

  it('can look up enrollments by person and by class through the expression indexes', async () => {
    for (const field of ['personId', 'classId']) {
      const index = `records_json_${field.toLowerCase()}`;
      if (db.dialect === 'sqlite') {
        // INDEXED BY makes SQLite fail the statement when the index cannot serve the query as the app writes it.
        const rows = await db.knex.raw(`select data from records indexed by ${index} where tenant_id = ? and entity_type = 'enrollment' and json_extract(data, '$.${field}') = ?`, ['d1', 'x']);
        expect(rows).toEqual([]);
      } else {
        // With the other JSON index dropped (in a transaction rolled back at once), the planner must use this one.
        let plan: unknown;
        const trx = await db.knex.transaction();
        try {
          await trx.raw('set local enable_seqscan = off');
          for (const other of ['records_json_personid', 'records_json_classid'].filter((n) => n !== index)) await trx.raw(`drop index ${other}`);
          plan = (await trx.raw(`explain select data from records where tenant_id = 'd1' and entity_type = 'enrollment' and (data::jsonb ->> '${field}') = 'x'`)).rows;
        } finally {
          await trx.rollback();
        }
        expect(JSON.stringify(plan)).toMatch(new RegExp(`Index Cond: .*${field}`));
      }
    }
  });
});
