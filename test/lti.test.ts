/**
 * The LTI 1.3 tool end to end against a fake LMS over real HTTP, on both databases: registration, launches (and one
 * refusal test per invalid case), teacher / learner / mentor pages, deep linking, grade passback with retries,
 * dynamic registration and key rotation.
 */
import path from 'node:path';
import fs from 'node:fs';
import { Writable } from 'node:stream';
import pino from 'pino';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { describeEachDb } from './helpers/db';
import { FakeLms, ROLE, formFields } from './helpers/fake-lms';
import { launch, listen, post, tmpDir } from './helpers/lti';
import { validateConfig } from '../src/core/config';
import { ensureTenants } from '../src/store/tenants';
import { runSync } from '../src/ingest/runner';
import { generateDistrict } from '../src/generator/district';
import { buildApp, drainBackgroundRuns } from '../src/serve/app';
import { closeLti } from '../src/serve/lti';
import type { Db } from '../src/store/db';

const dir = tmpDir('hub-lti-');
const district = path.join(dir, 'district');
beforeAll(async () => {
  await generateDistrict({ seed: 7, students: 60, outDir: district });
});
afterAll(async () => {
  await closeLti();
  fs.rmSync(dir, { recursive: true, force: true });
});

const KEY = 'lti-test-admin-key';
const ENV = { LTI_TEST_KEY: KEY, LTI_MANAGER_KEY: 'lti-manager-key', LTI_READER_KEY: 'lti-reader-key' };

describeEachDb('LTI 1.3 tool', (t) => {
  let db: Db;
  let lms: FakeLms;
  let hub: { url: string; close: () => Promise<void> };
  let app: ReturnType<typeof buildApp>;
  const logLines: Record<string, unknown>[] = [];
  let logText = '';
  let teacher: { personId: string; sourceId: string };
  let classIdU: string;
  let classSource: string;
  let students: { personId: string; sourceId: string }[];
  let outsider: { personId: string; sourceId: string };
  let cfgRef: ReturnType<typeof validateConfig>;

  const api = (method: 'get' | 'post' | 'put' | 'patch' | 'delete', p: string, body?: unknown, key = KEY) =>
    fetch(`${hub.url}/api/v1${p}`, { method: method.toUpperCase(), headers: { Authorization: `Bearer ${key}`, ...(body ? { 'Content-Type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  const follow = async (location: string) => {
    const res = await fetch(new URL(location, hub.url), { redirect: 'manual' });
    return { status: res.status, body: await res.text(), headers: res.headers };
  };

  beforeAll(async () => {
    db = await t.open();
    lms = await new FakeLms().start();
    const cfg = validateConfig(JSON.parse(JSON.stringify({
      apiKeys: [
        { name: 'admin', key: { $env: 'LTI_TEST_KEY' }, tenants: ['*'], scopes: ['admin'] },
        { name: 'lti-manager', key: { $env: 'LTI_MANAGER_KEY' }, tenants: ['d1'], scopes: ['lti.manage'] },
        { name: 'reader', key: { $env: 'LTI_READER_KEY' }, tenants: ['d1'], scopes: ['roster.read'] },
      ],
      tenants: [
        {
          id: 'd1', name: 'District One', connectors: [
            { id: 'sis', type: 'oneroster-csv', settings: { path: path.join(district, 'sis/bulk') } },
            { id: 'lms-roster', type: 'lti-nrps', settings: { issuer: 'ISSUER', clientId: 'hub-client', limit: 2 } },
          ],
          lti: { platforms: [{ name: 'Fake LMS', issuer: lms.issuer, clientId: lms.clientId, deploymentIds: ['dep-1'], authLoginUrl: `${lms.url}/auth`, authTokenUrl: `${lms.url}/token`, jwksUrl: `${lms.url}/jwks` }] },
        },
        // Same issuer and client, another deployment: another district.
        { id: 'd2', name: 'District Two', connectors: [], lti: { platforms: [{ issuer: lms.issuer, clientId: lms.clientId, deploymentIds: ['dep-2'], authLoginUrl: `${lms.url}/auth`, authTokenUrl: `${lms.url}/token`, jwksUrl: `${lms.url}/jwks` }] } },
      ],
    }).replace(/"ISSUER"/g, JSON.stringify(lms.issuer))), '(test)', process.cwd(), ENV);
    cfgRef = cfg;
    await ensureTenants(db, cfg.config);
    expect((await runSync({ db, config: cfg }, { tenantId: 'd1', connectorId: 'sis' })).status).toBe('succeeded');
    const sink = new Writable({
      write(chunk, _enc, cb) {
        logText += String(chunk);
        for (const line of String(chunk).split('\n').filter(Boolean)) logLines.push(JSON.parse(line) as Record<string, unknown>);
        cb();
      },
    });
    app = buildApp({ db, config: cfg, env: ENV, log: pino({ level: 'info' }, sink) });
    hub = await listen(app);
    lms.toolJwksUrl = `${hub.url}/lti/keys`;

    // People: a teacher of a class, its students, and a student of another class.
    const src = (await db.knex('source_records').where({ tenant_id: 'd1', connector_id: 'sis', entity_type: 'person' }).select('source_id', 'unified_id')) as { source_id: string; unified_id: string }[];
    const sourceOf = new Map(src.map((r) => [r.unified_id, r.source_id]));
    const enr = ((await db.knex('records').where({ tenant_id: 'd1', entity_type: 'enrollment' }).whereNull('deleted_at').select('data')) as { data: string }[]).map((r) => JSON.parse(r.data) as { personId: string; classId: string; role: string });
    const te = enr.find((e) => e.role === 'teacher' && enr.filter((x) => x.classId === e.classId && x.role === 'student').length >= 3)!;
    classIdU = te.classId;
    classSource = ((await db.knex('source_records').where({ tenant_id: 'd1', connector_id: 'sis', entity_type: 'class', unified_id: classIdU }).first('source_id')) as { source_id: string }).source_id;
    teacher = { personId: te.personId, sourceId: sourceOf.get(te.personId)! };
    const taught = new Set(enr.filter((e) => e.role === 'teacher' && e.personId === te.personId).map((e) => e.classId));
    const mine = new Set(enr.filter((e) => e.role === 'student' && taught.has(e.classId)).map((e) => e.personId));
    students = enr.filter((e) => e.role === 'student' && e.classId === classIdU).map((e) => ({ personId: e.personId, sourceId: sourceOf.get(e.personId)! }));
    const o = enr.find((e) => e.role === 'student' && !mine.has(e.personId))!;
    outsider = { personId: o.personId, sourceId: sourceOf.get(o.personId)! };

    lms.users.set('t-1', { sub: 't-1', roles: [ROLE.instructor], given_name: 'Tess', family_name: 'Teacher', personSourcedId: teacher.sourceId });
    students.forEach((s, i) => lms.users.set(`s-${i}`, { sub: `s-${i}`, roles: [ROLE.learner], personSourcedId: s.sourceId }));
    lms.users.set('s-out', { sub: 's-out', roles: [ROLE.learner], personSourcedId: outsider.sourceId });
    lms.users.set('nobody', { sub: 'nobody', roles: [ROLE.learner], personSourcedId: 'no-such-person' });
    lms.hints.set('course', { context: { id: 'ctx-1', title: 'Algebra', courseSectionSourcedId: classSource }, ags: true, nrps: true });
  });
  afterAll(async () => {
    if (app) await drainBackgroundRuns(app);
    await hub?.close();
    await lms?.stop();
    await db?.close();
  });

  it('publishes the tool JWKS (RS256, with kid)', async () => {
    const res = await fetch(`${hub.url}/lti/keys`);
    expect(res.status).toBe(200);
    const jwks = (await res.json()) as { keys: { kid: string; alg: string; kty: string; n: string }[] };
    expect(jwks.keys.length).toBe(1);
    expect(jwks.keys[0]).toMatchObject({ alg: 'RS256', kty: 'RSA', use: 'sig' });
  });

  it('a teacher launch opens the class page: learners, mastery table with headers, framed only by the platform', async () => {
    const r = await launch(hub.url, lms, 't-1', 'course');
    expect(r.status).toBe(303);
    expect(r.location).toMatch(new RegExp(`^/lti/app/class/${encodeURIComponent(classIdU)}\\?s=`));
    const page = await follow(r.location!);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain(`frame-ancestors ${lms.url}`);
    expect(page.headers.get('content-security-policy')).not.toContain("frame-ancestors 'none'");
    expect(page.body).toContain('<h2 id="support">Who needs support</h2>');
    expect(page.body).toContain('Readiness groups');
    const names = (await db.knex('records').where({ tenant_id: 'd1', entity_type: 'person' }).whereIn('id', students.map((s) => s.personId)).select('data')) as { data: string }[];
    for (const n of names) expect(page.body).toContain((JSON.parse(n.data) as { familyName: string }).familyName.replace(/'/g, '&#39;'));
    const launched = logLines.find((l) => l.msg === 'lti launch');
    expect(launched).toMatchObject({ tenant: 'd1', roles: ['teacher'], matchedBy: 'sourcedid', hasClass: true });
    // The API default stays: no framing.
    const h = await fetch(`${hub.url}/healthz`);
    expect(h.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  });

  const seedMastery = async () => {
    const items = ((await db.knex('records').where({ tenant_id: 'd1', entity_type: 'competencyItem' }).limit(3).select('id')) as { id: string }[]).map((r) => r.id);
    const comps = items.length ? items : ['comp-a', 'comp-b'];
    const now = new Date().toISOString();
    await db.knex('mastery').where({ tenant_id: 'd1' }).delete();
    const rows = students.flatMap((s, i) => comps.map((c) => ({
      tenant_id: 'd1', learner_id: s.personId, competency_id: c, framework_id: 'fw-1', subject: 'math', level: i === 0 ? 1 : 3.5, scale_min: 1, scale_max: 4, threshold: 3,
      status: i === 0 ? 'in_progress' : 'mastered', method: 'decaying_average', evidence_count: 3, last_evidence_at: now, explain: '{}', updated_at: now,
    })));
    await db.knex('mastery').insert(rows);
  };

  it('the teacher page shows mastery as text per competency, groups and who needs support', async () => {
    await seedMastery();
    const r = await launch(hub.url, lms, 't-1', 'course');
    const page = await follow(r.location!);
    expect(page.body).toContain('<th scope="col">Learner</th>');
    expect(page.body).toContain('Mastered 3.5/4');
    expect(page.body).toContain('In progress 1/4');
    expect(page.body).toMatch(/Needs support \(1\)/);
    expect(page.body).toMatch(/low mastery \(0% of scale on average\)/);
  });

  it('a student launch shows their own plan and mastery chart, never other students', async () => {
    const r = await launch(hub.url, lms, 's-1', 'course');
    expect(r.status).toBe(303);
    expect(r.location).toContain(`/lti/app/learner/${encodeURIComponent(students[1].personId)}`);
    const page = await follow(r.location!);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<h1>My plan</h1>');
    expect(page.body).toContain('<svg role="img"');
    const token = new URL(r.location!, hub.url).searchParams.get('s')!;
    // Another learner's page: not found, like one that does not exist.
    const other = await follow(`/lti/app/learner/${encodeURIComponent(students[0].personId)}?s=${encodeURIComponent(token)}`);
    expect(other.status).toBe(404);
    const cls = await follow(`/lti/app/class/${encodeURIComponent(classIdU)}?s=${encodeURIComponent(token)}`);
    expect(cls.status).toBe(404);
  });

  it('the plan forms write through the PLP module: a student adds a goal and updates its status; the API sees both', async () => {
    const r = await launch(hub.url, lms, 's-2', 'course');
    const token = new URL(r.location!, hub.url).searchParams.get('s')!;
    const page = await follow(r.location!);
    const m = /name="csrf" value="([^"]+)"/.exec(page.body);
    if (!m) throw new Error(page.body.slice(0, 3000));
    const csrf = m[1];
    const learner = students[2].personId;
    const post = (path: string, fields: Record<string, string>) => fetch(new URL(`/lti/app/learner/${encodeURIComponent(learner)}/${path}`, hub.url), {
      method: 'POST', redirect: 'manual', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: new URL(hub.url).origin },
      body: new URLSearchParams({ s: token, csrf, ...fields }).toString(),
    });
    expect((await post('plan', { kind: 'goal', text: 'Read <b>two</b> chapters a week' })).status).toBe(303);
    expect((await post('plan', { kind: 'comment', text: 'a learner cannot comment' })).status).toBe(403);
    const goals = (await db.knex('plp_items').where({ tenant_id: 'd1', learner_id: learner, section: 'goal' }).whereNull('deleted_at').select('id', 'fields', 'created_by')) as { id: string; fields: string; created_by: string }[];
    expect(goals.map((g) => JSON.parse(g.fields).statement)).toEqual(['Read <b>two</b> chapters a week']);
    expect(goals[0].created_by).toBe(`person:${learner}`);
    expect((await post(`goals/${goals[0].id}`, { status: 'achieved' })).status).toBe(303);
    expect((await post(`goals/${goals[0].id}`, { status: 'done!' })).status).toBe(400);
    const after = await follow(`/lti/app/learner/${encodeURIComponent(learner)}?s=${encodeURIComponent(token)}`);
    expect(after.body).toContain('Read &lt;b&gt;two&lt;/b&gt; chapters a week');
    expect(after.body).toContain('<option selected>achieved</option>');
    const changes = await db.knex('change_log').where({ tenant_id: 'd1', entity_type: 'plp' }).count({ n: '*' });
    expect(Number(changes[0].n)).toBeGreaterThanOrEqual(2);
  });

  it('a mentor launch links the mentored learners (role_scope_mentor) and shows only them', async () => {
    lms.users.set('m-1', { sub: 'm-1', roles: [ROLE.mentor], personSourcedId: outsider.sourceId === students[2].sourceId ? teacher.sourceId : teacher.sourceId, mentees: ['s-2'] });
    // The mentee must have launched once (its sub is known to the hub).
    await launch(hub.url, lms, 's-2', 'course');
    const r = await launch(hub.url, lms, 'm-1', 'course');
    expect(r.status).toBe(303);
    expect(r.location).toContain('/lti/app/my-learners');
    const page = await follow(r.location!);
    expect(page.status).toBe(200);
    const g = await db.knex('guardianships').where({ tenant_id: 'd1', guardian_id: teacher.personId, learner_id: students[2].personId }).first();
    expect(g).toMatchObject({ relationship: 'mentor' });
    const token = new URL(r.location!, hub.url).searchParams.get('s')!;
    expect((await follow(`/lti/app/learner/${encodeURIComponent(students[3].personId)}?s=${encodeURIComponent(token)}`)).status).toBe(404);
    await db.knex('guardianships').where({ tenant_id: 'd1', guardian_id: teacher.personId }).delete();
  });

  describe('refused launches (one per case), with a page and a logged reason, never token contents', () => {
    const refused = async (r: Awaited<ReturnType<typeof launch>>, code: string, status = 401) => {
      expect(r.status).toBe(status);
      expect(r.body).toContain(code);
      const line = [...logLines].reverse().find((l) => l.msg === 'lti launch refused');
      expect(line?.reason).toBe(code);
      expect(logText).not.toContain(r.posted.id_token ?? 'no-token');
      expect(logText).not.toMatch(/eyJ[A-Za-z0-9_-]{20,}\.eyJ/);
    };
    it('unknown deployment', async () => {
      lms.hints.set('bad-dep', { context: { id: 'ctx-1' }, deploymentId: 'dep-unknown' });
      await refused(await launch(hub.url, lms, 't-1', 'bad-dep'), 'deployment_unknown');
    });
    it('bad signature', async () => {
      lms.hints.set('bad-sig', { context: { id: 'ctx-1' }, signWith: 'other-key' });
      await refused(await launch(hub.url, lms, 't-1', 'bad-sig'), 'bad_signature');
    });
    it('unknown kid', async () => {
      lms.hints.set('bad-kid', { context: { id: 'ctx-1' }, signWith: 'unknown-kid' });
      await refused(await launch(hub.url, lms, 't-1', 'bad-kid'), 'unknown_kid');
    });
    it('no kid', async () => {
      lms.hints.set('no-kid', { context: { id: 'ctx-1' }, signWith: 'no-kid' });
      await refused(await launch(hub.url, lms, 't-1', 'no-kid'), 'no_kid');
    });
    it('wrong audience', async () => {
      lms.hints.set('bad-aud', { context: { id: 'ctx-1' }, audience: 'someone-else' });
      await refused(await launch(hub.url, lms, 't-1', 'bad-aud'), 'unknown_platform');
    });
    it('expired token', async () => {
      lms.hints.set('expired', { context: { id: 'ctx-1' }, iatOffset: -30, expiresIn: 10 });
      await refused(await launch(hub.url, lms, 't-1', 'expired'), 'expired');
    });
    it('token too old (iat)', async () => {
      lms.hints.set('old', { context: { id: 'ctx-1' }, iatOffset: -3600, expiresIn: 7200 });
      await refused(await launch(hub.url, lms, 't-1', 'old'), 'too_old');
    });
    it('replayed token', async () => {
      const first = await launch(hub.url, lms, 't-1', 'course');
      expect(first.status).toBe(303);
      await refused(await post(`${hub.url}/lti/launch`, first.posted), 'replayed');
    });
    it('a nonce that is not the one sent', async () => {
      lms.hints.set('bad-nonce', { context: { id: 'ctx-1' }, nonce: 'a-fresh-nonce-the-hub-never-sent' });
      await refused(await launch(hub.url, lms, 't-1', 'bad-nonce'), 'nonce_mismatch');
    });
    it('a state the hub never issued', async () => {
      await refused(await launch(hub.url, lms, 't-1', 'course', { tamper: (f) => (f.state = 'forged-state') }), 'state_unknown');
    });
    it.each([
      ['roles', 'missing_claim'],
      ['deployment_id', 'missing_claim'],
      ['resource_link', 'missing_claim'],
      ['sub', 'missing_claim'],
      ['version', 'missing_claim'],
      ['message_type', 'bad_message_type'],
    ])('missing claim %s', async (claim, code) => {
      lms.hints.set(`drop-${claim}`, { context: { id: 'ctx-1' }, drop: [claim] });
      await refused(await launch(hub.url, lms, 't-1', `drop-${claim}`), code, code === 'missing_claim' || code === 'bad_message_type' ? 400 : 401);
    });
    it('a user the hub cannot match to a person', async () => {
      await refused(await launch(hub.url, lms, 'nobody', 'course'), 'person_unmatched', 403);
    });
    it('an issuer that is not registered', async () => {
      const q = new URLSearchParams({ iss: 'https://unknown.example', login_hint: 't-1', target_link_uri: `${hub.url}/lti/launch`, client_id: 'x' });
      const res = await fetch(`${hub.url}/lti/login?${q}`, { redirect: 'manual' });
      expect(res.status).toBe(401);
      expect(await res.text()).toContain('unknown_platform');
    });
  });

  it('a deployment of the same issuer + client in another district opens that district', async () => {
    lms.hints.set('d2', { context: { id: 'ctx-9' }, deploymentId: 'dep-2' });
    // Nobody in d2 has this user: the launch reaches d2's identity resolution and is refused there, not in d1.
    const r = await launch(hub.url, lms, 't-1', 'd2');
    expect(r.status).toBe(403);
    expect(r.body).toContain('person_unmatched');
    const reg = (await db.knex('lti_registrations').where({ deployment_id: 'dep-2' }).first('tenant_id')) as { tenant_id: string };
    expect(reg.tenant_id).toBe('d2');
  });

  it('deep linking: the teacher picks a page and the platform receives a response signed with the tool key', async () => {
    lms.hints.set('dl', { context: { id: 'ctx-1', courseSectionSourcedId: classSource }, messageType: 'LtiDeepLinkingRequest' });
    const r = await launch(hub.url, lms, 't-1', 'dl');
    expect(r.status).toBe(303);
    expect(r.location).toContain('/lti/app/deep-link?');
    const picker = await follow(r.location!);
    expect(picker.status).toBe(200);
    const { fields } = formFields(picker.body);
    const chosen = await fetch(`${hub.url}/lti/app/deep-link`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: hub.url }, body: new URLSearchParams({ ...fields, item: 'my-plan' }).toString() });
    expect(chosen.status).toBe(200);
    const html = await chosen.text();
    expect(chosen.headers.get('content-security-policy')).toContain(`form-action 'self' ${lms.url}`);
    const back = formFields(html);
    expect(back.action).toBe(`${lms.url}/dl-return`);
    const jwks = (await (await fetch(`${hub.url}/lti/keys`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((k) => k.kid)).toContain(decodeProtectedHeader(back.fields.JWT).kid);
    const ret = await post(back.action, back.fields);
    expect(ret.status).toBe(200);
    const p = lms.deepLinkResponses.at(-1)!;
    expect(p['https://purl.imsglobal.org/spec/lti/claim/message_type']).toBe('LtiDeepLinkingResponse');
    expect(p['https://purl.imsglobal.org/spec/lti/claim/deployment_id']).toBe('dep-1');
    expect(p['https://purl.imsglobal.org/spec/lti-dl/claim/data']).toBe('opaque-platform-data');
    expect(p['https://purl.imsglobal.org/spec/lti-dl/claim/content_items']).toEqual([expect.objectContaining({ type: 'ltiResourceLink', custom: { hub_view: 'my-plan' } })]);
    // A forged choice (no CSRF token) is refused.
    const forged = await fetch(`${hub.url}/lti/app/deep-link`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ s: fields.s, d: fields.d, item: 'my-plan' }).toString() });
    expect(forged.status).toBe(403);
  });

  it('a deep link placed as "my plan" opens the student plan', async () => {
    lms.hints.set('plan-link', { context: { id: 'ctx-1' }, custom: { hub_view: 'my-plan' } });
    const r = await launch(hub.url, lms, 's-1', 'plan-link');
    expect(r.location).toContain(`/lti/app/learner/${encodeURIComponent(students[1].personId)}`);
  });

  it('grade passback: one line item per competency, scores for launched learners, re-sent when mastery changes, retried after failures', async () => {
    await seedMastery();
    await db.knex('lti_scores').delete();
    await db.knex('lti_line_items').delete();
    lms.lineItems = [];
    lms.scores = [];
    for (const sub of ['s-0', 's-1', 's-2']) expect((await launch(hub.url, lms, sub, 'course')).status).toBe(303);
    await launch(hub.url, lms, 't-1', 'course');
    await drainBackgroundRuns(app);
    const launchedSubs = (await db.knex('lti_identities').where({ tenant_id: 'd1', issuer: lms.issuer }).select('sub', 'person_id')) as { sub: string; person_id: string }[];
    const learnerSubs = launchedSubs.filter((x) => students.some((s) => s.personId === x.person_id));
    expect(learnerSubs.length).toBeGreaterThan(0);
    const comps = [...new Set(((await db.knex('mastery').where({ tenant_id: 'd1' }).select('competency_id')) as { competency_id: string }[]).map((r) => r.competency_id))];
    expect(lms.lineItems.map((l) => l.resourceId).sort()).toEqual(comps.sort());
    const sent = lms.scores.filter((s) => learnerSubs.some((x) => x.sub === s.score.userId));
    expect(sent.length).toBe(learnerSubs.length * comps.length);
    expect(sent[0].score).toMatchObject({ scoreMaximum: 3, gradingProgress: 'FullyGraded' });
    expect(lms.tokenRequests.every((x) => x.ok)).toBe(true);

    const sync = async () => (await (await api('post', '/tenants/d1/lti/grades/sync')).json()) as { data: { sent: number; failed: number; unchanged: number } };
    expect((await sync()).data).toMatchObject({ sent: 0, failed: 0 });
    // Mastery changes for one learner: only their scores go again.
    const one = learnerSubs[0];
    await db.knex('mastery').where({ tenant_id: 'd1', learner_id: one.person_id }).update({ level: 4, status: 'mastered', updated_at: new Date(Date.now() + 1000).toISOString() });
    lms.failScores = 1;
    const s1 = (await sync()).data;
    expect(s1.failed).toBe(1);
    expect(s1.sent).toBe(comps.length - 1);
    const failed = (await db.knex('lti_scores').where({ status: 'failed' }).first()) as { attempts: number; next_attempt_at: string; last_error: string };
    expect(failed).toMatchObject({ attempts: 1, last_error: 'HTTP 503' });
    // Not retried before its back-off; retried after.
    expect((await sync()).data.sent).toBe(0);
    await db.knex('lti_scores').where({ status: 'failed' }).update({ next_attempt_at: new Date(Date.now() - 1000).toISOString() });
    expect((await sync()).data.sent).toBe(1);
    const last = lms.scores.filter((s) => s.score.userId === one.sub).at(-1)!;
    expect(last.score).toMatchObject({ scoreGiven: 3, scoreMaximum: 3, activityProgress: 'Completed' });
  });

  it('dynamic registration: a one-time link, the platform configuration fetched, the registration posted, launches work', async () => {
    const link = await api('post', '/tenants/d1/lti/registration-links');
    expect(link.status).toBe(201);
    const { url } = ((await link.json()) as { data: { url: string } }).data;
    const q = new URLSearchParams({ openid_configuration: `${lms.url}/.well-known/openid-configuration`, registration_token: lms.registrationToken });
    const res = await fetch(`${url}&${q}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('org.imsglobal.lti.close');
    const body = lms.registrations.at(-1)!;
    expect(body).toMatchObject({ initiate_login_uri: `${hub.url}/lti/login`, redirect_uris: [`${hub.url}/lti/launch`], jwks_uri: `${hub.url}/lti/keys`, token_endpoint_auth_method: 'private_key_jwt' });
    const regs = ((await (await api('get', '/tenants/d1/lti/registrations')).json()) as { data: { clientId: string; deploymentId: string; source: string }[] }).data;
    const dyn = regs.find((r) => r.source === 'dynamic')!;
    expect(dyn).toMatchObject({ clientId: 'dyn-1', deploymentId: 'dyn-dep-1' });
    // The link is single use.
    expect((await fetch(`${url}&${q}`)).status).toBe(403);
    lms.hints.set('dyn', { context: { id: 'ctx-1', courseSectionSourcedId: classSource }, clientId: 'dyn-1', deploymentId: 'dyn-dep-1' });
    const r = await launch(hub.url, lms, 't-1', 'dyn', { clientId: 'dyn-1', deploymentId: 'dyn-dep-1' });
    expect(r.status).toBe(303);
  });

  it('key rotation: the new key signs, the old one stays published for the overlap, launches in flight still work', async () => {
    const before = ((await (await fetch(`${hub.url}/lti/keys`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    // A login started before the rotation completes after it.
    const q = new URLSearchParams({ iss: lms.issuer, login_hint: 't-1', target_link_uri: `${hub.url}/lti/launch`, lti_message_hint: 'course', client_id: lms.clientId });
    const login = await fetch(`${hub.url}/lti/login?${q}`, { redirect: 'manual' });
    const rot = await api('post', '/lti/keys/rotate');
    expect(rot.status).toBe(201);
    const { kid } = ((await rot.json()) as { data: { kid: string } }).data;
    const after = ((await (await fetch(`${hub.url}/lti/keys`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    expect(after).toEqual(expect.arrayContaining([...before, kid]));
    const auth = await fetch(login.headers.get('location')!);
    const { action, fields } = formFields(await auth.text());
    expect((await post(action, fields)).status).toBe(303);
    // Services now sign client assertions with the new key, and the platform accepts them.
    await db.knex('lti_access_tokens').delete();
    const n = lms.tokenRequests.length;
    await db.knex('mastery').where({ tenant_id: 'd1' }).update({ updated_at: new Date(Date.now() + 5000).toISOString() });
    await api('post', '/tenants/d1/lti/grades/sync');
    expect(lms.tokenRequests.slice(n).every((x) => x.ok)).toBe(true);
    expect(lms.tokenRequests.length).toBeGreaterThan(n);
    // Rotation needs an all-tenant admin key.
    expect((await api('post', '/lti/keys/rotate', undefined, 'lti-manager-key')).status).toBe(403);
  });

  it('admin API: registrations by scope lti.manage, validated, tenant-isolated', async () => {
    expect((await api('get', '/tenants/d1/lti/registrations', undefined, 'lti-reader-key')).status).toBe(403);
    expect((await api('get', '/tenants/d2/lti/registrations', undefined, 'lti-manager-key')).status).toBe(403);
    const bad = await api('post', '/tenants/d1/lti/registrations', { issuer: 'https://lms.example', clientId: 'c', deploymentId: 'd', authLoginUrl: 'not a url', authTokenUrl: 'https://lms.example/token', jwksUrl: 'https://lms.example/jwks' }, 'lti-manager-key');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { details: { path: string }[] } }).error.details[0].path).toBe('$.authLoginUrl');
    const good = await api('post', '/tenants/d1/lti/registrations', { name: 'Schoology', issuer: 'https://schoology.example', clientId: 'c', deploymentId: 'd', authLoginUrl: 'https://schoology.example/auth', authTokenUrl: 'https://schoology.example/token', jwksUrl: 'https://schoology.example/jwks' }, 'lti-manager-key');
    expect(good.status).toBe(201);
    const id = ((await good.json()) as { data: { id: string } }).data.id;
    const dup = await api('post', '/tenants/d1/lti/registrations', { issuer: 'https://schoology.example', clientId: 'c', deploymentId: 'd', authLoginUrl: 'https://schoology.example/auth', authTokenUrl: 'https://schoology.example/token', jwksUrl: 'https://schoology.example/jwks' }, 'lti-manager-key');
    expect(dup.status).toBe(400);
    expect((await api('patch', `/tenants/d1/lti/registrations/${id}`, { active: false }, 'lti-manager-key')).status).toBe(200);
    expect((await api('delete', `/tenants/d1/lti/registrations/${id}`, undefined, 'lti-manager-key')).status).toBe(204);
    const cfgReg = ((await (await api('get', '/tenants/d1/lti/registrations')).json()) as { data: { id: string; source: string }[] }).data.find((r) => r.source === 'config')!;
    expect((await api('delete', `/tenants/d1/lti/registrations/${cfgReg.id}`)).status).toBe(400);
    const urls = ((await (await api('get', '/tenants/d1/lti/urls')).json()) as { data: Record<string, string> }).data;
    expect(urls).toMatchObject({ loginInitiationUrl: `${hub.url}/lti/login`, jwksUrl: `${hub.url}/lti/keys` });
  });

  it('an inactive registration refuses launches', async () => {
    const cfgReg = ((await (await api('get', '/tenants/d1/lti/registrations')).json()) as { data: { id: string; source: string; deploymentId: string }[] }).data.find((r) => r.deploymentId === 'dep-1')!;
    await api('patch', `/tenants/d1/lti/registrations/${cfgReg.id}`, { active: false });
    const r = await launch(hub.url, lms, 't-1', 'course');
    expect([401, 403]).toContain(r.status);
    await api('patch', `/tenants/d1/lti/registrations/${cfgReg.id}`, { active: true });
    expect((await launch(hub.url, lms, 't-1', 'course')).status).toBe(303);
  });

  it('NRPS connector: memberships paged into persons + enrollments of the context class, then incremental via differences', async () => {
    lms.hints.set('nrps', { context: { id: 'ctx-nrps', title: 'Biology (LMS)' }, nrps: true });
    expect((await launch(hub.url, lms, 't-1', 'nrps')).status).toBe(303);
    lms.memberships.set('ctx-nrps', [
      { user_id: 't-1', roles: [ROLE.instructor], given_name: 'Tess', family_name: 'Teacher', status: 'Active' },
      { user_id: 'n-1', roles: [ROLE.learner], given_name: 'Nora', family_name: 'Nrps', email: 'nora@example.org', status: 'Active' },
      { user_id: 'n-2', roles: [ROLE.learner], name: 'Omar Other', status: 'Active' },
      { user_id: 'n-3', roles: [ROLE.learner], status: 'Active' },
      { user_id: 'n-4', roles: [ROLE.mentor], given_name: 'Mia', family_name: 'Mentor', status: 'Active' },
    ]);
    const r1 = await runSync({ db, config: cfgRef }, { tenantId: 'd1', connectorId: 'lms-roster' });
    expect(r1.status).toBe('succeeded');
    expect(r1.counts.rejected).toBe(1);
    expect(r1.rejects[0]).toMatchObject({ field: 'name' });
    const cls = (await db.knex('source_records').where({ tenant_id: 'd1', connector_id: 'lms-roster', entity_type: 'class', source_id: 'ctx-nrps' }).first('unified_id')) as { unified_id: string };
    const enr = ((await db.knex('records').where({ tenant_id: 'd1', entity_type: 'enrollment' }).whereNull('deleted_at').select('data')) as { data: string }[]).map((x) => JSON.parse(x.data) as { classId: string; role: string; personId: string }).filter((e) => e.classId === cls.unified_id);
    expect(enr.map((e) => e.role).sort()).toEqual(['student', 'student', 'teacher']);
    const state = (await db.knex('connector_state').where({ tenant_id: 'd1', connector_id: 'lms-roster' }).first('cursor')) as { cursor: string };
    expect(Object.values(JSON.parse(state.cursor) as Record<string, string>).some((v) => String(v).includes('since=1'))).toBe(true);
    // A learner known only from the roster launches: matched by the `lti` identifier the connector stored.
    lms.users.set('n-1', { sub: 'n-1', roles: [ROLE.learner] });
    const l = await launch(hub.url, lms, 'n-1', 'nrps');
    expect(l.status).toBe(303);
    // Incremental: the differences link says n-2 left.
    lms.differences.set('ctx-nrps', [{ user_id: 'n-2', roles: [ROLE.learner], status: 'Deleted' }]);
    const r2 = await runSync({ db, config: cfgRef }, { tenantId: 'd1', connectorId: 'lms-roster' });
    expect(r2.status).toBe('succeeded');
    const left = ((await db.knex('records').where({ tenant_id: 'd1', entity_type: 'enrollment' }).whereNull('deleted_at').select('data')) as { data: string }[]).map((x) => JSON.parse(x.data) as { classId: string }).filter((e) => e.classId === cls.unified_id);
    expect(left.length).toBe(2);
    // The teacher's next launch from that course lands on the NRPS class.
    const t1 = await launch(hub.url, lms, 't-1', 'nrps');
    expect(t1.location).toContain(`/lti/app/class/${encodeURIComponent(cls.unified_id)}`);
  });

  it('pages refuse a missing or forged session', async () => {
    expect((await follow(`/lti/app/class/${encodeURIComponent(classIdU)}`)).status).toBe(401);
    const forged = `${Buffer.from('{"alg":"HS256","kid":"x"}').toString('base64url')}.${Buffer.from('{"sub":"x"}').toString('base64url')}.sig`;
    expect((await follow(`/lti/app/class/${encodeURIComponent(classIdU)}?s=${forged}`)).status).toBe(401);
    void decodeJwt;
  });
});
