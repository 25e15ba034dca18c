/**
 * The OneRoster users projection (src/serve/oneroster/projection.ts) answers exactly as the records do, on SQLite
 * and PostgreSQL: every users view, filter field, operator, sort and paging combination is asked of an app that
 * answers from the projection and of one that answers from the records, and the answers (bodies, X-Total-Count,
 * Link) must be the same bytes — after the first build, after a sync that renames, re-roles, moves role records,
 * adds and deletes, after a merge and an unmerge, when the build runs in the background in many steps, and when the
 * projection was built by another code version.
 */
import request from 'supertest';
import BetterSqlite3 from 'better-sqlite3';
import express from 'express';
import { describeEachDb } from './helpers/db';
import { FAKE_SOURCES, org } from './helpers/fake-connector';
import { validateConfig } from '../src/core/config';
import { ensureTenants } from '../src/store/tenants';
import { runSync } from '../src/ingest/runner';
import { mergePersons, unmergeSource } from '../src/normalize/resolve';
import { buildApp, drainBackgroundRuns } from '../src/serve/app';
import { OR_SCOPES } from '../src/serve/oneroster/scopes';
import { setHas, setText } from '../src/serve/oneroster/fields';
import { PROJECTION_VERSION } from '../src/serve/oneroster/projection';
import type { SourceRecord } from '../src/ingest/contract';
import type { Db } from '../src/store/db';

const SECRET = 'proj-secret-123';
const R = '/ims/oneroster/rostering/v1p2';

const config = () =>
  validateConfig(
    {
      tenants: [{
        id: 't1', name: 'One', connectors: [{ id: 'src', type: 'fake', settings: { source: 'proj-main' }, sweep: { maxDeleteShare: 1 } }],
        oneroster: { clients: [{ clientId: 'vendor', secret: { $env: 'OR_PROJ_SECRET' }, scopes: Object.values(OR_SCOPES) }] },
      }],
    },
    '(test)',
    process.cwd(),
    { OR_PROJ_SECRET: SECRET },
  );

const rec = (type: SourceRecord['type'], sourceId: string, data: Record<string, unknown>): SourceRecord => ({ type, sourceId, data, location: `${type}:${sourceId}` });
const person = (id: string, data: Record<string, unknown>) => rec('person', id, { enabledUser: true, identifiers: [{ system: 'sis', value: id }], ...data });
const role = (id: string, personId: string, orgId: string, r: string, roleType = 'primary') => rec('role', id, { personId, orgId, roleType, role: r });

interface Roster {
  persons: SourceRecord[];
  roles: SourceRecord[];
}

function first(): Roster {
  return {
    persons: [
      person('p1', { givenName: 'Ada', familyName: 'Johnson', email: 'ada@example.org', username: 'ada', grades: ['09'], pronouns: 'she/her' }),
      person('p2', { givenName: 'Ben', familyName: 'Smithson', middleName: 'Q', preferredGivenName: 'Benny' }),
      person('p3', { givenName: 'Cleo', familyName: "O'Brien", enabledUser: false, phone: '555-0100', sms: '555-0101' }),
      person('p4', { givenName: 'Dan', familyName: 'Anderson', primaryRole: 'teacher', primaryOrgId: 's1' }),
      person('p5', { givenName: 'Eve', familyName: 'Jackson', preferredFamilyName: 'Jax', preferredMiddleName: 'M' }),
      person('p6', { givenName: 'Finn', familyName: 'Garcia' }),
      // The text of this record holds the six characters the projection uses as its origin mark: mapped per request.
      person('p7', { givenName: 'Gus', familyName: 'Backslash', middleName: 'a\\u0000b' }),
      person('p8', { givenName: 'Hana', familyName: 'Nilsson', primaryRole: 'student', primaryOrgId: 's2' }),
      person('p9', { givenName: 'Ivo', familyName: 'Petersen', username: 'ivo' }),
    ],
    roles: [
      role('r1', 'p1', 's1', 'student'), role('r2', 'p2', 's1', 'student'), role('r3', 'p3', 's2', 'student'),
      role('r5', 'p5', 's1', 'teacher'), role('r5b', 'p5', 's2', 'aide', 'secondary'), role('r6', 'p6', 'd1', 'districtAdministrator'),
      role('r7', 'p7', 's2', 'student'), role('r9', 'p9', 's1', 'guardian'),
    ],
  };
}

/** Renames, re-roles, moves a role record to another person, adds and deletes persons and roles. */
function second(): Roster {
  const r = first();
  return {
    persons: [
      ...r.persons.filter((p) => p.sourceId !== 'p9').map((p) => (p.sourceId === 'p2' ? person('p2', { givenName: 'Ben', familyName: 'Smith-Jackson' }) : p)),
      person('p10', { givenName: 'Jo', familyName: 'Robson', email: 'jo@example.org' }),
    ],
    roles: [
      role('r1', 'p1', 's1', 'student'), role('r2', 'p2', 's1', 'teacher'), role('r3', 'p6', 's2', 'student'),
      role('r5', 'p5', 's1', 'teacher'), role('r6', 'p6', 'd1', 'districtAdministrator'), role('r7', 'p7', 's2', 'student'), role('r10', 'p10', 's2', 'student'),
    ],
  };
}

function setSource(r: Roster) {
  const orgs = [org('d1'), org('s1', 'School One', 'd1'), org('s2', 'School Two', 'd1')];
  FAKE_SOURCES.set('proj-main', { streams: { orgs: { mode: 'full', pages: [{ records: orgs }] }, people: { mode: 'full', pages: [{ records: r.persons }, { records: r.roles }] } } });
}

const f = (s: string) => `filter=${encodeURIComponent(s)}`;
/** supertest serves each request on its own port: hrefs and links differ in the port only. */
const origin = (s: string | undefined) => s?.replace(/http:\/\/127\.0\.0\.1:\d+\//g, 'ORIGIN/');

/** Queries over every projected field and view, and some the projection cannot answer (they must still agree). */
function queries(ids: (s: string) => string): string[] {
  const q = [
    'users', 'users?limit=3', 'users?limit=3&offset=3', 'users?limit=2&offset=7', 'users?orderBy=desc&limit=4', 'users?fields=sourcedId,roles,familyName',
    'students', 'teachers', 'students?limit=1&offset=1', `schools/${ids('s1')}/students`, `schools/${ids('s2')}/students`, `schools/${ids('s1')}/teachers`,
    `users?${f("role='student'")}`, `users?${f("role!='student'")}`, `users?${f("roles.role='teacher'")}`, `users?${f("roles.roleType='secondary'")}`,
    `users?${f(`roles.org.sourcedId='${ids('s2')}'`)}`, `users?${f(`roles.org.sourcedId!='${ids('s1')}'`)}`,
    `users?${f("role='student' AND familyName~'son'")}`, `users?${f("familyName~'SON' OR givenName='Eve'")}`, `users?${f("familyName~'son' AND role='teacher' OR username='ada'")}`,
    `users?${f("givenName>='C' AND givenName<'G'")}`, `users?${f("middleName='Q'")}`, `users?${f("middleName!='Q'")}`, `users?${f("preferredFirstName='Benny'")}`,
    `users?${f("preferredLastName~'ja'")}`, `users?${f("preferredMiddleName='M'")}`, `users?${f("pronouns='she/her'")}`, `users?${f("email~'@example'")}`,
    `users?${f("phone='555-0100' OR sms='555-0101'")}`, `users?${f("enabledUser='false'")}`, `users?${f("enabledUser!='true'")}`, `users?${f("enabledUser='true'")}`,
    `users?${f(`primaryOrg.sourcedId='${ids('s1')}'`)}`, `users?${f("status='active'")}`, `users?${f("status='tobedeleted'")}`, `users?${f("status!='active'")}`,
    `users?${f("dateLastModified>'2000-01-01'")}`, `users?${f("dateLastModified<'2000-01-01T00:00:00Z'")}`, `users?${f("familyName~'%'")}`, `users?${f("familyName~'_'")}`,
    `users?${f("familyName='O''Brien'")}`, `users?${f("middleName~'\\'")}`,
    // Not projected (identifiers, lists): answered from the records either way.
    `users?${f("grades='09'")}`, `users?${f("userIds.identifier='p1' OR role='student'")}`, `users?${f("identifier='x'")}`,
    `students?${f("familyName~'son'")}&limit=2`, `teachers?${f("givenName='Dan'")}`, `students?${f("role='student'")}&sort=givenName`,
  ];
  for (const s of ['sourcedId', 'status', 'dateLastModified', 'username', 'enabledUser', 'givenName', 'familyName', 'middleName', 'preferredFirstName', 'preferredMiddleName', 'preferredLastName', 'pronouns', 'primaryOrg.sourcedId', 'email', 'sms', 'phone']) {
    q.push(`users?sort=${s}`, `users?sort=${s}&orderBy=desc&limit=4&offset=1`);
  }
  return q;
}

describeEachDb('OneRoster users projection', (t) => {
  let db: Db;
  const cfg = config();
  const apps: express.Express[] = [];
  const unified = new Map<string, string>();
  const ids = (s: string) => unified.get(s)!;
  const tokens = new Map<express.Express, string>();

  async function app(oneroster: Parameters<typeof buildApp>[0]['oneroster']) {
    const a = buildApp({ db, config: cfg, env: { OR_PROJ_SECRET: SECRET }, oneroster });
    apps.push(a);
    const res = await request(a).post('/ims/oneroster/token').auth('vendor', SECRET).type('form').send({ grant_type: 'client_credentials' });
    tokens.set(a, res.body.access_token as string);
    return a;
  }
  const get = (a: express.Express, p: string) => request(a).get(`${R}/${p}`).set('Authorization', `Bearer ${tokens.get(a)}`);

  async function sync(r: Roster) {
    setSource(r);
    const run = await runSync({ db, config: cfg }, { tenantId: 't1', connectorId: 'src' });
    expect(run.status).toBe('succeeded');
    for (const row of (await db.knex('source_records').where({ tenant_id: 't1' }).select('source_id', 'unified_id')) as Array<{ source_id: string; unified_id: string }>) unified.set(row.source_id, row.unified_id);
  }
  const tenantSeq = async () => Number(((await db.knex('tenant_sequences').where({ tenant_id: 't1' }).first('last_seq')) as { last_seq: number | string }).last_seq);
  const projectionSeq = async () => Number(((await db.knex('oneroster_projections').where({ tenant_id: 't1', name: 'users' }).first('seq')) as { seq: number | string } | undefined)?.seq ?? -1);

  /** Every query: the same status, body and paging headers from both apps. */
  async function expectSame(projected: express.Express, records: express.Express) {
    for (const q of queries(ids)) {
      const [a, b] = await Promise.all([get(projected, q), get(records, q)]);
      expect({ q, status: a.status }).toEqual({ q, status: b.status });
      expect({ q, body: origin(a.text) }).toEqual({ q, body: origin(b.text) });
      expect({ q, total: a.headers['x-total-count'], link: origin(a.headers.link) }).toEqual({ q, total: b.headers['x-total-count'], link: origin(b.headers.link) });
    }
  }

  beforeAll(async () => {
    db = await t.open();
    await ensureTenants(db, cfg.config);
    await sync(first());
  });
  afterAll(async () => {
    for (const a of apps) await drainBackgroundRuns(a);
    await db?.close();
  });

  test('the set encoding matches whole members only, whatever the values hold', () => {
    const text = setText(['a\u001fb', 'c\\', '', 'c\\']);
    const has = (v: string) => text.includes(setHas('sqlite', 'x', v).bindings[0] as string);
    expect(['a\u001fb', 'c\\', ''].every(has)).toBe(true);
    expect(['a', 'b', 'c', 'c\\\\', '\u001f', 'b\u001fc'].some(has)).toBe(false);
    expect(setText([]).includes(setHas('sqlite', 'x', '').bindings[0] as string)).toBe(false);
  });

  test('answers are the same bytes as over the records; the projection is built and used', async () => {
    const projected = await app({ answerCache: false });
    const records = await app({ answerCache: false, projection: false });
    await expectSame(projected, records);
    expect(await projectionSeq()).toBe(await tenantSeq());
    expect(Number(((await db.knex('oneroster_users').where({ tenant_id: 't1' }).count({ n: '*' }).first()) as { n: number | string }).n)).toBe(9);
    // The projected app reads the projection: a (test-only) edit of a row shows in its answers and not in the others'.
    await db.knex('oneroster_users').where({ tenant_id: 't1', id: ids('p6') }).update({ family_name: 'Tampered' });
    expect((await get(projected, `users?${f("familyName='Tampered'")}`)).body.users.map((u: { sourcedId: string }) => u.sourcedId)).toEqual([ids('p6')]);
    expect((await get(records, `users?${f("familyName='Tampered'")}`)).body.users).toEqual([]);
    await db.knex('oneroster_users').where({ tenant_id: 't1', id: ids('p6') }).update({ family_name: 'Garcia' });
    // A row without a serialized object is mapped from its record.
    expect(await db.knex('oneroster_user_json').where({ tenant_id: 't1', id: ids('p7') }).first('json')).toEqual({ json: null });
  });

  test('a sync (renames, new roles, a role record moved to another person, additions, deletions) is caught up before the next answer', async () => {
    const projected = await app({ answerCache: false });
    const records = await app({ answerCache: false, projection: false });
    await get(projected, 'users');
    await sync(second());
    await expectSame(projected, records);
    expect(await projectionSeq()).toBe(await tenantSeq());
    const p9 = (await get(projected, `users/${ids('p9')}`)).body.user;
    expect(p9.status).toBe('tobedeleted');
    // p3 lost its role record to p6: p3 is no longer a student, p6 is.
    const students = (await get(projected, 'students')).body.users.map((u: { sourcedId: string }) => u.sourcedId);
    expect(students).toContain(ids('p6'));
    expect(students).not.toContain(ids('p3'));
  });

  test('merge and unmerge: role records re-pointed to the survivor and back', async () => {
    const projected = await app({ answerCache: false });
    const records = await app({ answerCache: false, projection: false });
    await mergePersons(db, 't1', ids('p1'), ids('p3'), 'test', 'same child');
    expect((await get(projected, `users/${ids('p3')}`)).body.user.status).toBe('tobedeleted');
    await expectSame(projected, records);
    await unmergeSource(db, 't1', ids('p1'), 'src', 'p3', 'test', 'not the same child');
    await expectSame(projected, records);
    expect(await projectionSeq()).toBe(await tenantSeq());
  });

  test('changes to other types move no projection row and take no write lock; the next person change is caught up from there', async () => {
    const projected = await app({ answerCache: false });
    const records = await app({ answerCache: false, projection: false });
    await get(projected, 'users');
    const stored = await projectionSeq();
    const put = await request(projected).put('/ims/oneroster/gradebook/v1p2/categories/cat-quiet').set('Authorization', `Bearer ${tokens.get(projected)}`).send({ category: { title: 'Quiz', weight: 0.2 } });
    expect(put.status).toBe(201);
    expect(await tenantSeq()).toBeGreaterThan(stored);
    await expectSame(projected, records);
    expect(await projectionSeq()).toBe(stored);
    const renamed = first();
    renamed.persons = renamed.persons.map((p) => (p.sourceId === 'p6' ? person('p6', { givenName: 'Finn', familyName: 'Garcia-Quiet' }) : p));
    await sync(renamed);
    await expectSame(projected, records);
    expect(await projectionSeq()).toBe(await tenantSeq());
  });

  if (t.name === 'sqlite') {
    test('SQLite: while another process holds the write lock, answers come from the records at once, and the projection catches up after', async () => {
      const projected = await app({ answerCache: false });
      const records = await app({ answerCache: false, projection: false });
      await get(projected, 'users');
      await sync(second());
      const file = (db.knex.client.config as { connection: { filename: string } }).connection.filename;
      const other = new BetterSqlite3(file);
      other.pragma('journal_mode = WAL');
      other.prepare('begin immediate').run();
      // Timed to the end of the response (the disclosure log is written after it, and waits for the lock itself).
      let finished = 0;
      const timed = express();
      timed.use((_req, res, next) => {
        const started = Date.now();
        res.on('finish', () => (finished = Date.now() - started));
        next();
      });
      timed.use(projected);
      let during: string;
      try {
        during = (await request(timed).get(`${R}/users`).set('Authorization', `Bearer ${tokens.get(projected)}`)).text;
        expect(finished).toBeGreaterThan(0);
        expect(finished).toBeLessThan(2000);
        expect(await projectionSeq()).toBeLessThan(await tenantSeq());
      } finally {
        other.prepare('rollback').run();
        other.close();
      }
      expect(origin(during)).toBe(origin((await get(records, 'users')).text));
      await expectSame(projected, records);
      expect(await projectionSeq()).toBe(await tenantSeq());
    });
  }

  test('a build too long for the request runs in the background (answers from the records meanwhile), in many small steps', async () => {
    await db.knex('oneroster_projections').where({ tenant_id: 't1' }).delete();
    await db.knex('oneroster_users').where({ tenant_id: 't1' }).delete();
    await db.knex('oneroster_user_json').where({ tenant_id: 't1' }).delete();
    const background = await app({ answerCache: false, projection: { inlineSteps: 0, stepChanges: 3 } });
    const records = await app({ answerCache: false, projection: false });
    const before = await get(background, 'users');
    expect(origin(before.text)).toBe(origin((await get(records, 'users')).text));
    await drainBackgroundRuns(background);
    expect(await projectionSeq()).toBe(await tenantSeq());
    await expectSame(background, records);
  });

  test('a projection built by another code version is rebuilt from the change log', async () => {
    await db.knex('oneroster_projections').where({ tenant_id: 't1' }).update({ version: PROJECTION_VERSION + 1000 });
    await db.knex('oneroster_users').where({ tenant_id: 't1', id: ids('p6') }).update({ family_name: 'Stale' });
    const projected = await app({ answerCache: false });
    const records = await app({ answerCache: false, projection: false });
    await expectSame(projected, records);
    expect(await db.knex('oneroster_projections').where({ tenant_id: 't1' }).first('version', 'seq')).toEqual({ version: PROJECTION_VERSION, seq: expect.anything() });
    expect(await projectionSeq()).toBe(await tenantSeq());
  });
});
