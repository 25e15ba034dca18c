/**
 * The OneRoster 1.2 provider over real data on SQLite and PostgreSQL: tokens, scopes, tenant isolation, every
 * rostering route's response validated against the official OpenAPI (../shared/conformance; skipped loudly when
 * absent), paging headers, filter / sort / fields, nested routes, gradebook writes through the change log.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import request from 'supertest';
import express from 'express';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { SignJWT } from 'jose';
import { describeEachDb } from './helpers/db';
import { FAKE_SOURCES, org, person, enrollment } from './helpers/fake-connector';
import { validateConfig } from '../src/core/config';
import { ensureTenants } from '../src/store/tenants';
import { runSync } from '../src/ingest/runner';
import { buildApp, settleDisclosures } from '../src/serve/app';
import { disclosurePersons } from '../src/serve/disclosures';
import { OR_SCOPES } from '../src/serve/oneroster/scopes';
import { ROSTERING_ROUTES } from '../src/serve/oneroster/routes';
import type { SourceRecord } from '../src/ingest/contract';
import type { Db } from '../src/store/db';

const OPENAPI = path.resolve(__dirname, '../../shared/conformance/oneroster/onerosterv1p2rostersservice_openapi3_v1p0.json');
const haveSpec = fs.existsSync(OPENAPI);
if (!haveSpec) console.warn(`SKIPPED: OneRoster response validation against the official OpenAPI — ${OPENAPI} is absent (it lives in ../shared; CI has it).`);

/** Validators for the official schemas, by component name. */
function specValidators() {
  const doc = JSON.parse(fs.readFileSync(OPENAPI, 'utf8')) as { components: Record<string, unknown> };
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ $id: 'or12', components: doc.components });
  return (name: string) => ajv.getSchema(`or12#/components/schemas/${name}`)!;
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const SECRET = { all: 'all-secret-123', core: 'core-secret-456', other: 'other-secret-789' };
const ALL_SCOPES = Object.values(OR_SCOPES);

const config = () =>
  validateConfig(
    {
      tenants: [
        {
          id: 't1', name: 'One', connectors: [{ id: 'src', type: 'fake', settings: { source: 'or-main' } }],
          oneroster: {
            clients: [
              { clientId: 'vendor-all', secret: { $env: 'OR_TEST_SECRET' }, scopes: ALL_SCOPES },
              { clientId: 'vendor-core', sha256: sha(SECRET.core), scopes: [OR_SCOPES.rosterCore] },
            ],
          },
        },
        {
          id: 't2', name: 'Two', connectors: [{ id: 'src', type: 'fake', settings: { source: 'or-other' } }],
          oneroster: { clients: [{ clientId: 'vendor-t2', sha256: sha(SECRET.other), scopes: ALL_SCOPES }] },
        },
      ],
    },
    '(test)',
    process.cwd(),
    { OR_TEST_SECRET: SECRET.all },
  );

const rec = (type: SourceRecord['type'], sourceId: string, data: Record<string, unknown>): SourceRecord => ({ type, sourceId, data, location: `${type}:${sourceId}` });
const roleOf = (id: string, personId: string, orgId: string, role: string) => rec('role', id, { personId, orgId, roleType: 'primary', role });

function roster() {
  return {
    orgs: [[
      org('d1'), org('s1', 'School One', 'd1'), org('s2', 'School Two', 'd1'),
      rec('academicSession', 'y26', { title: 'SY 2025-26', type: 'schoolYear', startDate: '2025-08-01', endDate: '2026-07-31', schoolYear: '2026' }),
      rec('academicSession', 'term1', { title: 'Fall', type: 'term', startDate: '2025-09-01', endDate: '2026-01-31', schoolYear: '2026', parentId: 'y26' }),
      rec('academicSession', 'gp1', { title: 'Q1', type: 'gradingPeriod', startDate: '2025-09-01', endDate: '2025-10-31', schoolYear: '2026', parentId: 'term1' }),
      rec('course', 'crs1', { title: 'Algebra', orgId: 's1', courseCode: 'ALG1', grades: ['09'] }),
      rec('class', 'c1', { title: 'Algebra 1A', classType: 'scheduled', courseId: 'crs1', schoolId: 's1', termIds: ['term1'], grades: ['09'], periods: ['1'] }),
      rec('class', 'c2', { title: 'Algebra 1B', classType: 'scheduled', courseId: 'crs1', schoolId: 's1', termIds: ['term1'] }),
      rec('class', 'c3', { title: 'Homeroom', classType: 'homeroom', courseId: 'crs1', schoolId: 's2', termIds: ['term1'] }),
    ]],
    people: [[
      { ...person('p0', 'Ada', 'Johnson'), data: { ...person('p0', 'Ada', 'Johnson').data, email: 'ada@example.org', grades: ['09'], username: 'ada' } },
      person('p1', 'Ben', 'Smith'), person('p2', 'Cleo', "O'Brien"), person('t0', 'Tess', 'Anderson'),
    ], [roleOf('r0', 'p0', 's1', 'student'), roleOf('r1', 'p1', 's1', 'student'), roleOf('r2', 'p2', 's2', 'student'), roleOf('rt', 't0', 's1', 'teacher'),
      rec('demographics', 'p0', { personId: 'p0', birthDate: '2010-04-01', sex: 'female', asian: true, white: false })]],
    enrollments: [[
      enrollment('e0', 'p0', 'c1'), enrollment('e1', 'p1', 'c1'), rec('enrollment', 'et', { personId: 't0', classId: 'c1', schoolId: 's1', role: 'teacher', primary: true }),
      enrollment('e2', 'p2', 'c3', 's2'), enrollment('e3', 'p0', 'c2'),
      rec('lineItemCategory', 'cat1', { title: 'Homework', weight: 0.4 }),
      rec('lineItem', 'li1', { title: 'HW 1', classId: 'c1', categoryId: 'cat1', gradingPeriodId: 'gp1', assignDate: '2025-09-10T00:00:00.000Z', dueDate: '2025-09-17T00:00:00.000Z', resultValueMin: 0, resultValueMax: 100 }),
      rec('result', 'res0', { lineItemId: 'li1', personId: 'p0', scoreStatus: 'fully graded', score: 91, scoreDate: '2025-09-18T00:00:00.000Z', late: false }),
    ]],
  };
}

function source(name: string, streams: Record<string, SourceRecord[][]>) {
  FAKE_SOURCES.set(name, { streams: Object.fromEntries(Object.entries(streams).map(([s, pages]) => [s, { mode: 'full' as const, pages: pages.map((records) => ({ records })) }])) });
}

describeEachDb('OneRoster 1.2 provider', (t) => {
  let db: Db;
  let app: express.Express;
  const ids = new Map<string, string>();
  const id = (sourceId: string, tenant = 't1') => ids.get(`${tenant}/${sourceId}`)!;
  const tokens: Record<string, string> = {};
  const validate = haveSpec ? specValidators() : undefined;
  const R = '/ims/oneroster/rostering/v1p2';
  const G = '/ims/oneroster/gradebook/v1p2';

  async function token(clientId: string, secret: string, scope?: string) {
    const form: Record<string, string> = { grant_type: 'client_credentials' };
    if (scope) form.scope = scope;
    const res = await request(app).post('/ims/oneroster/token').auth(clientId, secret).type('form').send(form);
    expect(res.status).toBe(200);
    return res.body.access_token as string;
  }
  const get = (p: string, who = 'all') => request(app).get(p).set('Authorization', `Bearer ${tokens[who]}`);

  beforeAll(async () => {
    db = await t.open();
    const cfg = config();
    await ensureTenants(db, cfg.config);
    source('or-main', roster());
    source('or-other', { orgs: [[org('x1'), org('xs', 'Other School', 'x1')]], people: [[person('q0', 'Quinn', 'Johnson')], [roleOf('rq', 'q0', 'xs', 'student')]] });
    await runSync({ db, config: cfg }, { tenantId: 't1', connectorId: 'src' });
    await runSync({ db, config: cfg }, { tenantId: 't2', connectorId: 'src' });
    // Demographics share their person's source id; the person's unified id is the one the tests mean.
    for (const r of (await db.knex('source_records').whereNot('entity_type', 'demographics').select('tenant_id', 'source_id', 'unified_id')) as Record<string, string>[]) ids.set(`${r.tenant_id}/${r.source_id}`, r.unified_id);
    app = buildApp({ db, config: cfg, env: { OR_TEST_SECRET: SECRET.all } });
    tokens.all = await token('vendor-all', SECRET.all);
    tokens.core = await token('vendor-core', SECRET.core);
    tokens.t2 = await token('vendor-t2', SECRET.other);
    tokens.readOnly = await token('vendor-all', SECRET.all, `${OR_SCOPES.roster} ${OR_SCOPES.gradebookRead}`);
  });
  afterAll(async () => {
    await db?.close();
  });

  describe('token endpoint', () => {
    test('client_secret_basic and client_secret_post; the answer is a bearer token with expires_in and scope', async () => {
      const basic = await request(app).post('/ims/oneroster/token').auth('vendor-core', SECRET.core).type('form').send({ grant_type: 'client_credentials' });
      expect(basic.status).toBe(200);
      expect(basic.headers['cache-control']).toBe('no-store');
      expect(basic.body).toEqual({ access_token: expect.any(String), token_type: 'bearer', expires_in: 3600, scope: OR_SCOPES.rosterCore });
      const post = await request(app).post('/ims/oneroster/token').type('form').send({ grant_type: 'client_credentials', client_id: 'vendor-all', client_secret: SECRET.all, scope: OR_SCOPES.gradebookRead });
      expect(post.status).toBe(200);
      expect(post.body.scope).toBe(OR_SCOPES.gradebookRead);
    });

    test.each([
      ['wrong secret', { auth: ['vendor-all', 'nope'] }, 401, 'invalid_client'],
      ['unknown client', { auth: ['ghost', 'x'] }, 401, 'invalid_client'],
      ['no credentials', {}, 401, 'invalid_client'],
      ['both methods', { auth: ['vendor-all', SECRET.all], form: { client_secret: SECRET.all } }, 400, 'invalid_request'],
      ['password grant', { auth: ['vendor-all', SECRET.all], form: { grant_type: 'password' } }, 400, 'unsupported_grant_type'],
      ['scope not allowed', { auth: ['vendor-core', SECRET.core], form: { scope: OR_SCOPES.roster } }, 400, 'invalid_scope'],
      ['not a OneRoster scope', { auth: ['vendor-all', SECRET.all], form: { scope: 'admin' } }, 400, 'invalid_scope'],
    ])('%s -> %s %s', async (_name, c: { auth?: string[]; form?: Record<string, string> }, status, error) => {
      let r = request(app).post('/ims/oneroster/token').type('form');
      if (c.auth) r = r.auth(c.auth[0], c.auth[1]);
      const res = await r.send({ grant_type: 'client_credentials', ...c.form });
      expect(res.status).toBe(status);
      expect(res.body.error).toBe(error);
      expect(JSON.stringify(res.body)).not.toContain(SECRET.all);
    });
  });

  describe('access tokens', () => {
    const bad = async (auth: string | undefined) => {
      const r = request(app).get(`${R}/users`);
      const res = await (auth === undefined ? r : r.set('Authorization', auth));
      expect(res.status).toBe(401);
      expect(res.body.imsx_codeMajor).toBe('failure');
      expect(res.body.imsx_CodeMinor.imsx_codeMinorField[0].imsx_codeMinorFieldValue).toBe('unauthorisedrequest');
      return res;
    };
    test('missing, malformed, forged, alg none and expired tokens are 401 with an imsx payload', async () => {
      await bad(undefined);
      await bad('Basic abc');
      await bad('Bearer not-a-jwt');
      const forged = await new SignJWT({ scope: OR_SCOPES.roster, tid: 't1' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('learner-data-hub').setAudience('oneroster')
        .setSubject('vendor-all').setExpirationTime('1h').sign(new TextEncoder().encode('x'.repeat(32)));
      await bad(`Bearer ${forged}`);
      const [h, p] = tokens.all.split('.');
      const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`;
      await bad(`Bearer ${none}`);
      await bad(`Bearer ${h}.${p}.${'A'.repeat(43)}`);
      const key = (await db.knex('signing_keys').where({ purpose: 'oneroster' }).whereNull('retired_at').first()) as { kid: string; secret: string };
      const expired = await new SignJWT({ scope: OR_SCOPES.roster, tid: 't1' }).setProtectedHeader({ alg: 'HS256', kid: key.kid }).setIssuer('learner-data-hub').setAudience('oneroster')
        .setSubject('vendor-all').setIssuedAt(Math.floor(Date.now() / 1000) - 7200).setExpirationTime(Math.floor(Date.now() / 1000) - 3600).sign(Buffer.from(key.secret, 'base64url'));
      expect((await bad(`Bearer ${expired}`)).body.imsx_description).toContain('expired');
      // A correctly signed token naming another tenant than its client's is refused too.
      const wrongTenant = await new SignJWT({ scope: OR_SCOPES.roster, tid: 't2' }).setProtectedHeader({ alg: 'HS256', kid: key.kid }).setIssuer('learner-data-hub').setAudience('oneroster')
        .setSubject('vendor-all').setExpirationTime('1h').sign(Buffer.from(key.secret, 'base64url'));
      await bad(`Bearer ${wrongTenant}`);
    });

    test('scopes per route as the spec names them: 403 forbidden with an imsx payload', async () => {
      expect((await get(`${R}/users`, 'core')).status).toBe(200);
      for (const p of [`${R}/classes/${id('c1')}/students`, `${R}/demographics`, `${G}/lineItems`, '/ims/oneroster/resources/v1p2/resources']) {
        const res = await get(p, 'core');
        expect(res.status).toBe(403);
        expect(res.body.imsx_CodeMinor.imsx_codeMinorField[0].imsx_codeMinorFieldValue).toBe('forbidden');
      }
      expect((await get(`${R}/demographics`, 'readOnly')).status).toBe(403);
      const put = await request(app).put(`${G}/categories/cat-x`).set('Authorization', `Bearer ${tokens.readOnly}`).send({ category: { title: 'x' } });
      expect(put.status).toBe(403);
    });

    test("another tenant's client sees none of this tenant's data", async () => {
      const res = await get(`${R}/users`, 't2');
      expect(res.body.users.map((u: { givenName: string }) => u.givenName)).toEqual(['Quinn']);
      expect((await get(`${R}/users/${id('p0')}`, 't2')).status).toBe(404);
      expect((await get(`${R}/classes/${id('c1')}/students`, 't2')).status).toBe(404);
    });
  });

  (haveSpec ? test : test.skip)('every rostering route answers with the official OpenAPI schema', async () => {
    const params: Record<string, string> = {
      sourcedId: '', classSourcedId: id('c1'), courseSourcedId: id('crs1'), schoolSourcedId: id('s1'), studentSourcedId: id('p0'),
      teacherSourcedId: id('t0'), termSourcedId: id('term1'), userSourcedId: id('p0'),
    };
    const singles: Record<string, string> = {
      academicSessions: id('term1'), classes: id('c1'), courses: id('crs1'), demographics: id('p0'), enrollments: id('e0'), gradingPeriods: id('gp1'),
      orgs: id('d1'), schools: id('s1'), students: id('p0'), teachers: id('t0'), terms: id('term1'), users: id('t0'),
    };
    const spec = JSON.parse(fs.readFileSync(OPENAPI, 'utf8')) as { paths: Record<string, { get: { responses: { 200: { content: { 'application/json': { schema: { $ref: string } } } } } } }> };
    for (const route of ROSTERING_ROUTES) {
      const top = route.path.split('/')[1];
      const url = R + route.path.replace(/\{([A-Za-z]+)\}/g, (_m, name: string) => (name === 'sourcedId' ? singles[top] : params[name]));
      const res = await get(url);
      expect({ url, status: res.status }).toEqual({ url, status: 200 });
      const schema = spec.paths[route.path].get.responses[200].content['application/json'].schema.$ref.split('/').pop()!;
      const v = validate!(schema);
      if (!v(res.body)) throw new Error(`${route.path}: ${JSON.stringify(v.errors?.slice(0, 3))}\n${JSON.stringify(res.body).slice(0, 600)}`);
      const key = Object.keys(res.body)[0];
      if (route.kind === 'list') expect(res.body[key].length).toBeGreaterThan(0);
    }
  });

  test('shapes: GUIDRefs with absolute hrefs, booleans as strings, roles, collection keys by data type', async () => {
    const u = (await get(`${R}/students/${id('p0')}`)).body.user;
    expect(u).toMatchObject({
      sourcedId: id('p0'), status: 'active', enabledUser: 'true', givenName: 'Ada', familyName: 'Johnson', email: 'ada@example.org', username: 'ada', grades: ['09'],
      roles: [{ roleType: 'primary', role: 'student', org: { sourcedId: id('s1'), type: 'org', href: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/ims\/oneroster\/rostering\/v1p2\/orgs\//) } }],
      userIds: [{ type: 'sis', identifier: 'p0' }],
    });
    expect(u.dateLastModified).toMatch(/Z$/);
    expect(Object.keys((await get(`${R}/schools`)).body)).toEqual(['orgs']);
    expect(Object.keys((await get(`${R}/terms`)).body)).toEqual(['academicSessions']);
    expect((await get(`${R}/enrollments/${id('et')}`)).body.enrollment.primary).toBe('true');
    expect((await get(`${R}/demographics/${id('p0')}`)).body.demographics).toMatchObject({ sourcedId: id('p0'), asian: 'true', white: 'false', sex: 'female' });
    expect((await get(`${R}/orgs/${id('d1')}`)).body.org.children.map((c: { sourcedId: string }) => c.sourcedId).sort()).toEqual([id('s1'), id('s2')].sort());
  });

  test('404 unknownobject for unknown sourcedIds and views that do not hold the record', async () => {
    for (const p of [`${R}/users/nope`, `${R}/students/${id('t0')}`, `${R}/schools/${id('d1')}`, `${R}/classes/nope/students`, `${R}/terms/${id('gp1')}/classes`, `${G}/scoreScales/x`]) {
      const res = await get(p);
      expect({ p, status: res.status }).toEqual({ p, status: 404 });
      expect(res.body.imsx_CodeMinor.imsx_codeMinorField[0].imsx_codeMinorFieldValue).toBe('unknownobject');
    }
  });

  test('paging: limit/offset, X-Total-Count, Link first/prev/next/last', async () => {
    const all = (await get(`${R}/users`)).body.users.map((u: { sourcedId: string }) => u.sourcedId);
    expect(all).toHaveLength(4);
    const p1 = await get(`${R}/users?limit=3`);
    expect(p1.headers['x-total-count']).toBe('4');
    expect(p1.body.users.map((u: { sourcedId: string }) => u.sourcedId)).toEqual(all.slice(0, 3));
    expect(p1.headers.link).toContain('offset=3>; rel="next"');
    expect(p1.headers.link).toContain('offset=0>; rel="first"');
    expect(p1.headers.link).toContain('offset=3>; rel="last"');
    expect(p1.headers.link).not.toContain('rel="prev"');
    const p2 = await get(`${R}/users?limit=3&offset=3`);
    expect(p2.body.users.map((u: { sourcedId: string }) => u.sourcedId)).toEqual(all.slice(3));
    expect(p2.headers.link).toContain('rel="prev"');
    expect(p2.headers.link).not.toContain('rel="next"');
    for (const q of ['limit=0', 'limit=abc', 'offset=-1', 'limit=1&limit=2', 'orderBy=up', 'bogus=1']) {
      const res = await get(`${R}/users?${q}`);
      expect({ q, status: res.status }).toEqual({ q, status: 400 });
      expect(res.body.imsx_CodeMinor.imsx_codeMinorField[0].imsx_codeMinorFieldValue).toBe('invaliddata');
    }
  });

  test('filter over real data: predicates, AND/OR, dotted fields, lists, delta by dateLastModified', async () => {
    const names = async (p: string) => {
      const res = await get(p);
      expect({ p, status: res.status, body: res.status === 200 ? null : res.body }).toEqual({ p, status: 200, body: null });
      return res.body.users.map((u: { familyName: string }) => u.familyName).sort();
    };
    const f = (s: string) => `${R}/users?filter=${encodeURIComponent(s)}`;
    expect(await names(f("familyName='Smith'"))).toEqual(['Smith']);
    expect(await names(f("role='student' AND familyName~'son'"))).toEqual(['Johnson']);
    expect(await names(f("role='teacher' OR familyName='Smith'"))).toEqual(['Anderson', 'Smith']);
    expect(await names(f("familyName='O''Brien'"))).toEqual(["O'Brien"]);
    expect(await names(f("familyName!='Smith' AND roles.org.sourcedId='" + id('s1') + "'"))).toEqual(['Anderson', 'Johnson']);
    expect(await names(f("grades='09'"))).toEqual(['Johnson']);
    expect(await names(f("familyName~'SON'"))).toEqual(['Anderson', 'Johnson']);
    expect(await names(f("givenName>='C'"))).toEqual(["O'Brien", 'Anderson'].sort());
    expect(await names(f("dateLastModified>'2000-01-01T00:00:00Z'"))).toHaveLength(4);
    expect(await names(f("dateLastModified>'2999-01-01'"))).toEqual([]);
    expect(await names(f("identifier='nobody' OR userIds.identifier='p1'"))).toEqual(['Smith']);
    expect(await names(f("familyName='x'' OR 1=1--'"))).toEqual([]);
    const classes = await get(`${R}/classes?filter=${encodeURIComponent(`terms.sourcedId='${id('term1')}' AND school.sourcedId='${id('s2')}'`)}`);
    expect(classes.body.classes.map((c: { title: string }) => c.title)).toEqual(['Homeroom']);
    const results = await get(`${G}/results?filter=${encodeURIComponent("score>'90' AND late='false'")}`);
    expect(results.body.results).toHaveLength(1);
    for (const bad of ["shoeSize='9'", "familyName='x' OR 1=1--", "familyName='unclosed"]) {
      const res = await get(f(bad));
      expect(res.status).toBe(400);
      expect(res.body.imsx_CodeMinor.imsx_codeMinorField[0].imsx_codeMinorFieldValue).toBe('invalid_filter_field');
      expect(res.body.imsx_description).toMatch(/^filter: at character \d+/);
    }
  });

  test('sort + orderBy, fields projection, invalid_selection_field', async () => {
    const asc = (await get(`${R}/users?sort=familyName`)).body.users.map((u: { familyName: string }) => u.familyName);
    expect(asc).toEqual(['Anderson', 'Johnson', "O'Brien", 'Smith']);
    const desc = (await get(`${R}/users?sort=familyName&orderBy=desc&fields=familyName,sourcedId`)).body.users;
    expect(desc.map((u: { familyName: string }) => u.familyName)).toEqual(['Smith', "O'Brien", 'Johnson', 'Anderson']);
    expect(Object.keys(desc[0])).toEqual(['familyName', 'sourcedId']);
    expect(Object.keys((await get(`${R}/users/${id('p0')}?fields=givenName`)).body.user)).toEqual(['givenName']);
    for (const q of ['sort=shoeSize', 'sort=grades', 'fields=givenName,shoeSize']) {
      const res = await get(`${R}/users?${q}`);
      expect(res.status).toBe(400);
      expect(res.body.imsx_CodeMinor.imsx_codeMinorField[0].imsx_codeMinorFieldValue).toBe('invalid_selection_field');
    }
  });

  test('nested routes', async () => {
    const users = async (p: string) => ((await get(p)).body.users as Array<{ givenName: string }>).map((u) => u.givenName).sort();
    const titles = async (p: string) => ((await get(p)).body.classes as Array<{ title: string }>).map((c) => c.title).sort();
    expect(await users(`${R}/classes/${id('c1')}/students`)).toEqual(['Ada', 'Ben']);
    expect(await users(`${R}/classes/${id('c1')}/teachers`)).toEqual(['Tess']);
    expect(await users(`${R}/schools/${id('s1')}/students`)).toEqual(['Ada', 'Ben']);
    expect(await users(`${R}/schools/${id('s1')}/teachers`)).toEqual(['Tess']);
    expect(await titles(`${R}/users/${id('p0')}/classes`)).toEqual(['Algebra 1A', 'Algebra 1B']);
    expect(await titles(`${R}/teachers/${id('t0')}/classes`)).toEqual(['Algebra 1A']);
    expect(await titles(`${R}/terms/${id('term1')}/classes`)).toEqual(['Algebra 1A', 'Algebra 1B', 'Homeroom']);
    expect(await titles(`${R}/schools/${id('s2')}/classes`)).toEqual(['Homeroom']);
    expect((await get(`${R}/terms/${id('term1')}/gradingPeriods`)).body.academicSessions.map((s: { title: string }) => s.title)).toEqual(['Q1']);
    expect((await get(`${R}/schools/${id('s2')}/classes/${id('c1')}/students`)).status).toBe(404);
    expect((await get(`${R}/schools/${id('s1')}/classes/${id('c1')}/enrollments`)).body.enrollments).toHaveLength(3);
    expect((await get(`${G}/classes/${id('c1')}/lineItems`)).body.lineItems.map((l: { title: string }) => l.title)).toEqual(['HW 1']);
    expect((await get(`${G}/classes/${id('c1')}/categories`)).body.categories.map((l: { title: string }) => l.title)).toEqual(['Homework']);
    expect((await get(`${G}/classes/${id('c1')}/students/${id('p0')}/results`)).body.results).toHaveLength(1);
    expect((await get(`${G}/classes/${id('c2')}/results`)).body.results).toHaveLength(0);
    const empty = await get(`/ims/oneroster/resources/v1p2/classes/${id('c1')}/resources`);
    expect(empty.body).toEqual({ resources: [] });
    expect(empty.headers['x-total-count']).toBe('0');
  });

  test('gradebook writes: PUT 201 then 200, POST sourcedIdPairs, DELETE; provenance, landing rows and change log', async () => {
    const auth = { Authorization: `Bearer ${tokens.all}` };
    const body = { lineItem: { sourcedId: 'li-new-1', title: 'Quiz 1', class: { sourcedId: id('c1'), type: 'class' }, category: { sourcedId: id('cat1') }, assignDate: '2025-10-01', dueDate: '2025-10-08T12:00:00Z', resultValueMin: 0, resultValueMax: 100 } };
    const created = await request(app).put(`${G}/lineItems/li-new-1`).set(auth).send(body);
    expect(created.status).toBe(201);
    expect(created.body.lineItem).toMatchObject({ sourcedId: 'li-new-1', title: 'Quiz 1', dueDate: '2025-10-08T12:00:00.000Z', school: { sourcedId: id('s1') } });
    // Answers are cached per tenant sequence: the class's line items show the new one at once.
    expect((await get(`${G}/classes/${id('c1')}/lineItems`)).body.lineItems.map((l: { sourcedId: string }) => l.sourcedId)).toContain('li-new-1');
    const again = await request(app).put(`${G}/lineItems/li-new-1`).set(auth).send({ lineItem: { ...body.lineItem, title: 'Quiz 1 (long title '.padEnd(300, 'x') + ')' } });
    expect(again.status).toBe(200);
    expect((await get(`${G}/lineItems/li-new-1`)).body.lineItem.title).toMatch(/^Quiz 1 \(long title x+\)$/);
    // Extra credit is stored as sent.
    const res = await request(app).put(`${G}/results/res-new-1`).set(auth).send({ result: { lineItem: { sourcedId: 'li-new-1' }, student: { sourcedId: id('p1') }, scoreStatus: 'fully graded', score: 300, late: 'true' } });
    expect(res.status).toBe(201);
    expect(res.body.result).toMatchObject({ score: 300, late: 'true', class: { sourcedId: id('c1') } });
    const posted = await request(app).post(`${G}/lineItems/li-new-1/results`).set(auth).send({ results: [
      { sourcedId: 'mine-1', student: { sourcedId: id('p0') }, scoreStatus: 'exempt' },
      { sourcedId: 'mine-2', student: { sourcedId: id('p2') }, scoreStatus: 'submitted', score: 5 },
    ] });
    expect(posted.status).toBe(201);
    expect(posted.body.sourcedIdPairs.map((p: { suppliedSourcedId: string }) => p.suppliedSourcedId)).toEqual(['mine-1', 'mine-2']);
    const allocated = posted.body.sourcedIdPairs[1].allocatedSourcedId as string;
    expect((await get(`${G}/results/${allocated}`)).body.result).toMatchObject({ score: 5, student: { sourcedId: id('p2') } });

    // One bad item: nothing stored, the error names the item and the field.
    const before = await db.knex('change_log').where({ tenant_id: 't1' }).count({ n: '*' }).first();
    const bad = await request(app).post(`${G}/lineItems/li-new-1/results`).set(auth).send({ results: [
      { student: { sourcedId: id('p0') }, scoreStatus: 'submitted' }, { student: { sourcedId: 'ghost' }, scoreStatus: 'submitted' },
    ] });
    expect(bad.status).toBe(422);
    expect(bad.body.imsx_description).toContain('results[1].student.sourcedId');
    expect(await db.knex('change_log').where({ tenant_id: 't1' }).count({ n: '*' }).first()).toEqual(before);
    for (const [p, b, msg] of [
      [`${G}/results/r-x`, { result: { lineItem: { sourcedId: 'li-new-1' }, student: { sourcedId: id('p0') }, scoreStatus: 'graded' } }, 'scoreStatus'],
      [`${G}/lineItems/li-x`, { lineItem: { title: 'x', class: { sourcedId: id('c1') }, shoeSize: 9 } }, 'shoeSize'],
      [`${G}/lineItems/li-x`, { lineItem: { sourcedId: 'other', title: 'x', class: { sourcedId: id('c1') } } }, 'sourcedId'],
      [`${G}/lineItems/li-x`, { lineItem: { title: 'x', class: { sourcedId: id('c1', 't2') ?? 'nope' } } }, 'class.sourcedId'],
    ] as const) {
      const r = await request(app).put(p).set(auth).send(b);
      expect({ p, status: r.status }).toEqual({ p, status: 422 });
      expect(r.body.imsx_description).toContain(msg);
    }
    expect((await request(app).put(`${G}/lineItems/bad id!`).set(auth).send(body)).status).toBe(400);

    // Provenance, landing rows and the change log.
    const rec = (await db.knex('records').where({ tenant_id: 't1', entity_type: 'lineItem', id: 'li-new-1' }).first()) as { provenance: string };
    expect(JSON.parse(rec.provenance).title).toMatchObject({ connector: 'oneroster-api:vendor-all', sourceId: 'li-new-1' });
    expect(await db.knex('source_records').where({ tenant_id: 't1', connector_id: 'oneroster-api:vendor-all', entity_type: 'lineItem', source_id: 'li-new-1' }).first('unified_id')).toEqual({ unified_id: 'li-new-1' });
    const changes = (await db.knex('change_log').where({ tenant_id: 't1', entity_id: 'li-new-1' }).orderBy('seq').select('op', 'cause', 'diff')) as Array<{ op: string; cause: string; diff: string | null }>;
    expect(changes.map((c) => `${c.op}/${c.cause}`)).toEqual(['create/oneroster-api', 'update/oneroster-api']);
    expect(Object.keys(JSON.parse(changes[1].diff!))).toEqual(['title']);

    const del = await request(app).delete(`${G}/results/res-new-1`).set(auth);
    expect(del.status).toBe(204);
    expect((await get(`${G}/results/res-new-1`)).body.result.status).toBe('tobedeleted');
    expect((await request(app).delete(`${G}/results/res-new-1`).set(auth)).status).toBe(404);
    expect((await request(app).delete(`${G}/results/res-new-1`).set('Authorization', `Bearer ${tokens.readOnly}`)).status).toBe(403);
  });

  test('discovery documents list every route with its scopes (no auth needed)', async () => {
    const res = await request(app).get(`${R}/discovery/onerosterv1p2rostersservice_openapi3_v1p0.json`);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.paths)).toHaveLength(41);
    expect(res.body.components.securitySchemes.OAuth2CC.flows.clientCredentials.tokenUrl).toMatch(/\/ims\/oneroster\/token$/);
    const gb = await request(app).get(`${G}/discovery`);
    expect(gb.body.paths['/lineItems/{sourcedId}'].put.security[0].OAuth2CC).toEqual([OR_SCOPES.gradebookWrite]);
  });

  test('disclosure: handlers that return student data name the client, the categories and the persons', async () => {
    const seen: unknown[] = [];
    const probe = buildApp({ db, config: config(), env: { OR_TEST_SECRET: SECRET.all } });
    // The recording middleware is another feature's; here an outer app reads res.locals when the response ends.
    const appWithProbe = express();
    appWithProbe.use((_req, res, next) => {
      res.on('finish', () => seen.push({ principal: (res.locals.principal as { name?: string })?.name, disclosure: res.locals.disclosure }));
      next();
    });
    appWithProbe.use(probe);
    await request(appWithProbe).get(`${R}/classes/${id('c1')}/students`).set('Authorization', `Bearer ${tokens.all}`);
    await request(appWithProbe).get(`${R}/users/${id('p0')}/classes`).set('Authorization', `Bearer ${tokens.all}`);
    await request(appWithProbe).get(`${R}/orgs`).set('Authorization', `Bearer ${tokens.all}`);
    expect(seen[0]).toEqual({ principal: 'oneroster:vendor-all', disclosure: { channel: 'oneroster', categories: ['identity', 'contact'], personIds: expect.arrayContaining([id('p0'), id('p1')]) } });
    expect(seen[1]).toEqual({ principal: 'oneroster:vendor-all', disclosure: { channel: 'oneroster', categories: ['enrollment'], personIds: [id('p0')] } });
    expect(seen[2]).toEqual({ principal: 'oneroster:vendor-all', disclosure: undefined });
    await settleDisclosures(probe);
  });

  test('disclosure log: a OneRoster answer with student data is recorded under the client\'s tenant', async () => {
    await settleDisclosures(app);
    const before = Number(((await db.knex('disclosures').where({ tenant_id: 't1', channel: 'oneroster' }).count({ n: '*' }).first()) as { n: number | string }).n);
    const res = await get(`${R}/users?limit=2&filter=${encodeURIComponent("role='student'")}`);
    expect(res.status).toBe(200);
    await settleDisclosures(app);
    const rows = (await db.knex('disclosures').where({ tenant_id: 't1', channel: 'oneroster' }).orderBy('id', 'desc').select('id', 'recipient', 'route', 'categories', 'person_count')) as Array<{ id: string; recipient: string; route: string; categories: string; person_count: number | string }>;
    expect(rows).toHaveLength(before + 1);
    expect(rows[0]).toMatchObject({ recipient: 'oneroster:vendor-all', route: '/ims/oneroster/rostering/v1p2/users', categories: JSON.stringify(['contact', 'identity']) });
    const persons = await disclosurePersons(db, 't1', rows[0].id);
    expect(persons.sort()).toEqual(res.body.users.map((u: { sourcedId: string }) => u.sourcedId).sort());
    expect(Number(rows[0].person_count)).toBe(2);
  });
});
