/**
 * Personalized Learning Plans over HTTP on a synced synthetic district, on both databases: who may read and write
 * what, optimistic concurrency, revision history, the change log, bad input, the print view, the progress summary,
 * and that protected program flags never reach a plan.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { describeEachDb } from './helpers/db';
import { daysAgo, insertMastery, insertRecord } from './helpers/plp-support';
import { validateConfig } from '../src/core/config';
import { ensureTenants } from '../src/store/tenants';
import { runSync } from '../src/ingest/runner';
import { generateDistrict } from '../src/generator/district';
import { buildApp } from '../src/serve/app';
import { LIMITS } from '../src/derive/plp/model';
import type { Db } from '../src/store/db';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-plp-'));
const district = path.join(dir, 'district');
beforeAll(async () => {
  await generateDistrict({ seed: 5, students: 50, outDir: district });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const ENV = { PLP_ADMIN: 'plp-admin-key', PLP_PORTAL: 'plp-portal-key', PLP_WRITER: 'plp-writer-key', PLP_READER: 'plp-reader-key', PLP_PROTECTED: 'plp-protected-key' };
const config = () =>
  validateConfig({
    apiKeys: [
      { name: 'admin', key: { $env: 'PLP_ADMIN' }, tenants: ['*'], scopes: ['admin'] },
      { name: 'portal', key: { $env: 'PLP_PORTAL' }, tenants: ['d1'], scopes: ['sessions.issue'] },
      { name: 'plp-writer', key: { $env: 'PLP_WRITER' }, tenants: ['d1'], scopes: ['roster.read', 'plp.write'] },
      { name: 'reader', key: { $env: 'PLP_READER' }, tenants: ['d1'], scopes: ['roster.read'] },
      { name: 'protected-reader', key: { $env: 'PLP_PROTECTED' }, tenants: ['d1'], scopes: ['roster.read', 'protected.read'] },
    ],
    tenants: [
      { id: 'd1', name: 'District', connectors: [{ id: 'sis', type: 'oneroster-csv', settings: { path: path.join(district, 'sis/bulk') } }] },
      { id: 'd2', name: 'Other', connectors: [] },
    ],
  }, '(test)', process.cwd(), ENV);

interface Enr { personId: string; classId: string; role: string }

const PROTECTED_MARKERS = ['Special Education Services X7', 'Section 504 Accommodations X7', 'English Language Development X7', 'specialEducation', 'section504', 'englishLearner'];

describeEachDb('personalized learning plans', (t) => {
  let db: Db;
  let app: ReturnType<typeof buildApp>;
  let student: string; // in the teacher's class, linked to the guardian
  let peer: string; // another student of the same teacher
  let outsider: string; // a student the teacher does not teach
  let teacher: string;
  let otherTeacher: string;
  let guardian: string;
  let comp1: string;
  let comp2: string;
  const programIds: string[] = [];
  const tok: Record<string, string> = {};
  const url = (p: string, learner = student) => `/api/v1/tenants/d1/learners/${learner}/plp${p}`;
  const as = (who: string, m: 'get' | 'post' | 'patch' | 'delete', p: string) => {
    const bearer = who.startsWith('key:') ? ENV[who.slice(4) as keyof typeof ENV] : tok[who];
    return request(app)[m](p).set('Authorization', `Bearer ${bearer}`);
  };
  const session = async (personId: string, roles: string[]) => {
    const res = await request(app).post('/api/v1/tenants/d1/sessions').set('Authorization', `Bearer ${ENV.PLP_PORTAL}`).send({ personId, roles });
    expect(res.status).toBe(201);
    return res.body.data.token as string;
  };
  const planVersion = async (learner = student) => Number(((await db.knex('plp_plans').where({ tenant_id: 'd1', learner_id: learner }).first('version')) as { version?: number } | undefined)?.version ?? 0);

  beforeAll(async () => {
    db = await t.open();
    const cfg = config();
    await ensureTenants(db, cfg.config);
    expect((await runSync({ db, config: cfg }, { tenantId: 'd1', connectorId: 'sis' })).status).toBe('succeeded');
    app = buildApp({ db, config: cfg, env: ENV });
    const enrollments = ((await db.knex('records').where({ tenant_id: 'd1', entity_type: 'enrollment' }).whereNull('deleted_at').select('data')) as { data: string }[]).map((r) => JSON.parse(r.data) as Enr);
    const teachers = [...new Set(enrollments.filter((e) => e.role === 'teacher').map((e) => e.personId))];
    teacher = teachers[0];
    const taught = new Set(enrollments.filter((e) => e.role === 'teacher' && e.personId === teacher).map((e) => e.classId));
    const own = [...new Set(enrollments.filter((e) => e.role === 'student' && taught.has(e.classId)).map((e) => e.personId))];
    [student, peer] = own;
    outsider = enrollments.find((e) => e.role === 'student' && !own.includes(e.personId))!.personId;
    otherTeacher = teachers.find((x) => x !== teacher && !enrollments.some((e) => e.personId === x && e.role === 'teacher' && enrollments.some((s) => s.classId === e.classId && s.personId === student)))!;
    guardian = teachers[teachers.length - 1];
    await db.knex('guardianships').insert({ tenant_id: 'd1', guardian_id: guardian, learner_id: student, relationship: 'parent', source: 'test', created_at: new Date().toISOString() });
    comp1 = await insertRecord(db, 'd1', 'competencyItem', { caseId: 'c-1', frameworkId: 'fw-1', fullStatement: 'Add and subtract within 1000', humanCodingScheme: 'MATH.3.NBT.2' });
    comp2 = await insertRecord(db, 'd1', 'competencyItem', { caseId: 'c-2', frameworkId: 'fw-1', fullStatement: 'Write opinion pieces', humanCodingScheme: 'ELA.3.W.1' });
    for (const [program, programType] of [['Special Education Services X7', 'specialEducation'], ['Section 504 Accommodations X7', 'section504'], ['English Language Development X7', 'englishLearner']]) {
      programIds.push(await insertRecord(db, 'd1', 'programParticipation', { personId: student, program, programType, beginDate: '2020-08-15' }));
    }
    tok.student = await session(student, ['student']);
    tok.peer = await session(peer, ['student']);
    tok.teacher = await session(teacher, ['teacher']);
    tok.otherTeacher = await session(otherTeacher, ['teacher']);
    tok.guardian = await session(guardian, ['guardian']);
    tok.admin = await session(teachers[1], ['administrator']);
  });
  afterAll(async () => {
    await db.close();
  });

  it('an empty plan is readable by everyone who sees the learner, and by nobody else', async () => {
    for (const who of ['student', 'teacher', 'guardian', 'admin', 'key:PLP_READER']) {
      const r = await as(who, 'get', url(''));
      expect(r.status).toBe(200);
      expect(r.body.data.goals).toEqual([]);
      expect(r.body.data.notice).toMatch(/not an Individualized Education Program/);
    }
    const byPeer = await as('peer', 'get', url(''));
    const missing = await as('peer', 'get', url('', '00000000-0000-7000-8000-000000000000'));
    expect(byPeer.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(byPeer.body.error.message).toBe(missing.body.error.message);
    expect((await as('otherTeacher', 'get', url(''))).status).toBe(404);
    expect((await request(app).get(url('').replace('/d1/', '/d2/')).set('Authorization', `Bearer ${ENV.PLP_READER}`)).status).toBe(403);
  });

  it('a student sets a goal aligned to competencies; it is versioned, in the history and in the change log', async () => {
    const seqBefore = Number(((await db.knex('tenant_sequences').where({ tenant_id: 'd1' }).first('last_seq')) as { last_seq: number }).last_seq);
    const r = await as('student', 'post', url('/goals')).send({ statement: 'Read two chapter books this term', teacherSupport: 'Help choosing books', competencyIds: [comp2], targetDate: '2030-06-01' });
    expect(r.status).toBe(201);
    expect(r.headers.etag).toBe('"1"');
    expect(r.headers.location).toBe(`/api/v1/tenants/d1/learners/${student}/plp/goals/${r.body.data.id}`);
    expect(r.body.data).toMatchObject({ statement: 'Read two chapter books this term', status: 'not_started', competencyIds: [comp2], version: 1, author: { id: student, kind: 'person', role: 'student' } });
    const change = await db.knex('change_log').where({ tenant_id: 'd1', entity_type: 'plp', entity_id: student }).orderBy('seq', 'desc').first();
    expect(change).toMatchObject({ op: 'update', cause: 'api:student' });
    expect(Number(change.seq)).toBe(seqBefore + 1);
    expect(JSON.parse(change.diff)).toEqual({ [`goal.${r.body.data.id}`]: [null, 1] });
    const plan = await as('teacher', 'get', url(''));
    expect(plan.body.data.goals[0].competencies).toEqual([{ id: comp2, code: 'ELA.3.W.1', statement: 'Write opinion pieces' }]);
    expect(plan.body.data.goals[0].author.name).toBeTruthy();
    const rows = await db.knex('plp_item_competencies').where({ tenant_id: 'd1', item_id: r.body.data.id });
    expect(rows.map((x: { competency_id: string }) => x.competency_id)).toEqual([comp2]);
  });

  it('refuses bad goals with the field named, and applies nothing', async () => {
    const v0 = await planVersion();
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ statement: 'x', competencyIds: [comp1, 'no-such-competency'] }, 'competencyIds[1]', /no-such-competency/],
      [{ statement: 'x', targetDate: '2030-02-30' }, 'targetDate', /YYYY-MM-DD/],
      [{ statement: 'x', targetDate: 'next week' }, 'targetDate', /calendar date/],
      [{ statement: 'x'.repeat(LIMITS.text + 1) }, 'statement', /at most 2000/],
      [{ statement: 'x', status: 'done' }, 'status', /not_started/],
      [{ statement: '   ' }, 'statement', /empty/],
      [{ teacherSupport: 'x' }, 'statement', /required/],
      [{ statement: 'x', colour: 'red', mood: 'happy' }, 'colour', /colour, mood/],
      [{ statement: 'x', competencyIds: 'abc' }, 'competencyIds', /array/],
    ];
    for (const [body, pathName, msg] of cases) {
      const r = await as('student', 'post', url('/goals')).send(body);
      expect(r.status).toBe(400);
      expect(r.body.error.details[0].path).toBe(pathName);
      expect(r.body.error.message).toMatch(msg);
    }
    const notJson = await as('student', 'post', url('/goals')).set('Content-Type', 'text/plain').send('{"statement":"x"}');
    expect(notJson.status).toBe(400);
    expect(await planVersion()).toBe(v0);
  });

  it('optimistic concurrency: a stale edit is a 409 and changes nothing; an edit without a version is a 428', async () => {
    const g = await as('teacher', 'post', url('/goals')).send({ statement: 'Multiply within 100', competencyIds: [comp1] });
    const id = g.body.data.id as string;
    const ok = await as('teacher', 'patch', url(`/goals/${id}`)).set('If-Match', '"1"').send({ status: 'in_progress' });
    expect(ok.status).toBe(200);
    expect(ok.headers.etag).toBe('"2"');
    expect(ok.body.data).toMatchObject({ status: 'in_progress', version: 2, updatedBy: { role: 'teacher' } });
    const v = await planVersion();
    const stale = await as('student', 'patch', url(`/goals/${id}`)).set('If-Match', '"1"').send({ status: 'achieved' });
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe('version_conflict');
    expect(stale.body.error.details[0]).toMatchObject({ path: 'If-Match', currentVersion: 2 });
    const none = await as('student', 'patch', url(`/goals/${id}`)).send({ status: 'achieved' });
    expect(none.status).toBe(428);
    expect(none.body.error.code).toBe('precondition_required');
    const staleDelete = await as('teacher', 'delete', url(`/goals/${id}`)).set('If-Match', '"1"');
    expect(staleDelete.status).toBe(409);
    expect(await planVersion()).toBe(v);
    const current = await as('student', 'get', url(`/goals/${id}`));
    expect(current.body.data.status).toBe('in_progress');
    // Two edits of the same version at once: exactly one wins.
    const [a, b] = await Promise.all([
      as('teacher', 'patch', url(`/goals/${id}`)).set('If-Match', '"2"').send({ status: 'achieved' }),
      as('student', 'patch', url(`/goals/${id}`)).send({ version: 2, teacherSupport: 'More practice sheets' }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    // The student updates the goal (a body version works like If-Match) and the history keeps every version.
    const now = await as('student', 'get', url(`/goals/${id}`));
    const upd = await as('student', 'patch', url(`/goals/${id}`)).send({ version: now.body.data.version, status: 'revised', targetDate: null });
    expect(upd.status).toBe(200);
    const hist = await as('student', 'get', url(`/history?item=${id}`));
    expect(hist.body.data.map((h: { itemVersion: number }) => h.itemVersion)).toEqual([4, 3, 2, 1]);
    expect(hist.body.data[3]).toMatchObject({ op: 'create', by: { id: teacher, role: 'teacher' }, fields: { statement: 'Multiply within 100', status: 'not_started' } });
    expect(hist.body.data[2].diff).toEqual({ status: ['not_started', 'in_progress'] });
    expect(hist.body.data[0].by).toMatchObject({ id: student, role: 'student' });
  });

  it('who may write what: 403 for a role that sees the learner, 404 for one that does not, nothing applied', async () => {
    const teacherGoal = (await as('teacher', 'get', url('/goals'))).body.data.find((g: { author: { role: string } }) => g.author.role === 'teacher');
    const v = await planVersion();
    // Not allowed to see the learner at all.
    expect((await as('peer', 'post', url('/goals')).send({ statement: 'x' })).status).toBe(404);
    expect((await as('otherTeacher', 'post', url('/comments')).send({ text: 'x' })).status).toBe(404);
    expect((await as('peer', 'patch', url(`/goals/${teacherGoal.id}`)).set('If-Match', `"${teacherGoal.version}"`).send({ status: 'dropped' })).status).toBe(404);
    // Sees the learner but may not do this.
    const cases: [string, 'post' | 'patch' | 'delete', string, Record<string, unknown>][] = [
      ['guardian', 'patch', `/goals/${teacherGoal.id}`, { status: 'dropped' }],
      ['guardian', 'post', '/comments', { text: 'x' }],
      ['student', 'post', '/supports', { title: 'x' }],
      ['student', 'post', '/comments', { text: 'x' }],
      ['guardian', 'post', '/items', { section: 'sel', competency: 'selfAwareness', rating: 2 }],
      ['student', 'delete', `/goals/${teacherGoal.id}`, {}],
    ];
    for (const [who, m, p, body] of cases) {
      const r = await as(who, m, url(p)).set('If-Match', `"${teacherGoal.version}"`).send(body);
      expect([who, p, r.status]).toEqual([who, p, 403]);
      expect(r.body.error.code).toBe('forbidden');
    }
    // A key needs plp.write to write, roster.read to read.
    expect((await as('key:PLP_READER', 'post', url('/goals')).send({ statement: 'x' })).status).toBe(403);
    expect(await planVersion()).toBe(v);
    const byKey = await as('key:PLP_WRITER', 'post', url('/goals')).send({ statement: 'Attend the robotics club', targetDate: '2030-01-15' });
    expect(byKey.status).toBe(201);
    expect(byKey.body.data.author).toEqual({ id: 'key:plp-writer', kind: 'apiKey', role: 'service', name: 'plp-writer' });
    // A guardian proposes a goal and may change their own.
    const proposed = await as('guardian', 'post', url('/goals')).send({ statement: 'Practice reading 20 minutes at home' });
    expect(proposed.status).toBe(201);
    expect(proposed.body.data.author.role).toBe('guardian');
    expect((await as('guardian', 'patch', url(`/goals/${proposed.body.data.id}`)).set('If-Match', '"1"').send({ statement: 'Read 20 minutes every evening' })).status).toBe(200);
  });

  it('supports: hub-entered ones beside imported interventions, read-only with provenance', async () => {
    const bad = await as('teacher', 'post', url('/supports')).send({ title: 'Reading group', startDate: '2025-03-01', endDate: '2025-02-01' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].path).toBe('endDate');
    const s = await as('teacher', 'post', url('/supports')).send({ title: 'Small-group reading', provider: 'Reading specialist', startDate: '2025-01-10', frequency: '3x weekly', outcome: 'Fluency up 15 wpm' });
    expect(s.status).toBe(201);
    await insertRecord(db, 'd1', 'intervention', { personId: student, title: 'Math tutoring (SIS)', category: 'Academic', provider: 'After-school program', startDate: '2024-09-01', frequency: 'weekly' }, { connector: 'sis', sourceId: 'int-77' });
    const plan = await as('guardian', 'get', url(''));
    expect(plan.body.data.supports.entered).toEqual([expect.objectContaining({ title: 'Small-group reading', provider: 'Reading specialist' })]);
    expect(plan.body.data.supports.imported).toEqual([expect.objectContaining({ title: 'Math tutoring (SIS)', readOnly: true, provenance: [expect.objectContaining({ connector: 'sis', sourceId: 'int-77' })] })]);
  });

  it('comments: family-visible by default, staff-only ones never reach the learner or guardians', async () => {
    const fam = await as('teacher', 'post', url('/comments')).send({ text: 'Great progress in reading this month.' });
    const staff = await as('teacher', 'post', url('/comments')).send({ text: 'STAFF-ONLY: discuss seating at team meeting', visibility: 'staff' });
    expect(fam.status).toBe(201);
    expect(staff.status).toBe(201);
    for (const who of ['student', 'guardian']) {
      for (const p of ['', '?format=json', '/print', '/history', '/comments']) {
        const r = await as(who, 'get', url(p));
        expect(r.status).toBe(200);
        expect(r.text).not.toContain('STAFF-ONLY');
        expect(r.text).not.toContain(staff.body.data.id);
      }
      expect((await as(who, 'get', url(`/comments/${staff.body.data.id}`))).status).toBe(404);
    }
    const t = await as('teacher', 'get', url(''));
    expect(t.body.data.comments.map((c: { text: string }) => c.text)).toEqual(['STAFF-ONLY: discuss seating at team meeting', 'Great progress in reading this month.']);
    // A guardian may not rewrite a teacher's comment; an administrator may.
    expect((await as('guardian', 'patch', url(`/comments/${fam.body.data.id}`)).set('If-Match', '"1"').send({ text: 'x' })).status).toBe(403);
    expect((await as('admin', 'patch', url(`/comments/${fam.body.data.id}`)).set('If-Match', '"1"').send({ visibility: 'staff' })).status).toBe(200);
    // Once staff-only, its whole history disappears from the family's view.
    const h = await as('student', 'get', url('/history'));
    expect(h.body.data.some((x: { itemId: string }) => x.itemId === fam.body.data.id)).toBe(false);
  });

  it('strengths, interests, accessibility and social-emotional ratings over time', async () => {
    expect((await as('student', 'post', url('/items')).send({ section: 'interest', text: 'Robots and drawing' })).status).toBe(201);
    expect((await as('guardian', 'post', url('/items')).send({ section: 'strength', text: 'Kind to younger children', note: 'Seen at home' })).status).toBe(201);
    expect((await as('teacher', 'post', url('/items')).send({ section: 'learningPreference', text: 'Learns best with hands-on materials' })).status).toBe(201);
    expect((await as('teacher', 'post', url('/items')).send({ section: 'accessibility', text: 'Large-print handouts' })).status).toBe(201);
    expect((await as('teacher', 'post', url('/items')).send({ section: 'sel', competency: 'selfManagement', rating: 2, observedOn: '2025-01-10' })).status).toBe(201);
    expect((await as('teacher', 'post', url('/items')).send({ section: 'sel', competency: 'selfManagement', rating: 3, observedOn: '2025-03-10', note: 'Uses calm-down strategies' })).status).toBe(201);
    expect((await as('student', 'post', url('/items')).send({ section: 'sel', competency: 'relationshipSkills', rating: 4 })).status).toBe(201);
    const badSel = await as('teacher', 'post', url('/items')).send({ section: 'sel', competency: 'grit', rating: 9 });
    expect(badSel.status).toBe(400);
    expect(badSel.body.error.details[0].path).toBe('competency');
    const badRating = await as('teacher', 'post', url('/items')).send({ section: 'sel', competency: 'selfAwareness', rating: 9 });
    expect(badRating.body.error.details[0].path).toBe('rating');
    expect((await as('teacher', 'post', url('/items')).send({ section: 'goal', statement: 'x' })).body.error.details[0].path).toBe('section');
    const plan = (await as('student', 'get', url(''))).body.data;
    expect(plan.interests[0]).toMatchObject({ text: 'Robots and drawing', author: { role: 'student' } });
    expect(plan.strengths[0]).toMatchObject({ text: 'Kind to younger children', note: 'Seen at home', author: { role: 'guardian' } });
    expect(plan.accessibility[0].text).toBe('Large-print handouts');
    const sm = plan.socialEmotional.competencies.find((c: { competency: string }) => c.competency === 'selfManagement');
    expect(sm.latest).toMatchObject({ rating: 3, observedOn: '2025-03-10' });
    expect(plan.socialEmotional.entries.filter((e: { competency: string }) => e.competency === 'selfManagement').map((e: { rating: number }) => e.rating)).toEqual([2, 3]);
    const items = await as('teacher', 'get', url('/items?section=sel'));
    expect(items.body.data).toHaveLength(3);
  });

  it('deletes with If-Match; the old versions stay readable in the history', async () => {
    const g = await as('student', 'post', url('/goals')).send({ statement: 'Temporary goal' });
    const id = g.body.data.id as string;
    const del = await as('student', 'delete', url(`/goals/${id}`)).set('If-Match', 'W/"1"');
    expect(del.status).toBe(204);
    expect((await as('student', 'get', url(`/goals/${id}`))).status).toBe(404);
    expect((await as('student', 'delete', url(`/goals/${id}`)).set('If-Match', '"2"')).status).toBe(404);
    const h = await as('teacher', 'get', url(`/history?item=${id}`));
    expect(h.body.data.map((x: { op: string }) => x.op)).toEqual(['delete', 'create']);
    expect(h.body.data[0].fields.statement).toBe('Temporary goal');
    // Pagination of the whole history.
    const page1 = await as('teacher', 'get', url('/history?limit=3'));
    expect(page1.body.data).toHaveLength(3);
    const page2 = await as('teacher', 'get', url(`/history?limit=3&cursor=${page1.body.page.nextCursor}`));
    expect(page2.body.data[0].planVersion).toBe(page1.body.data[2].planVersion - 1);
    expect((await as('teacher', 'get', url('/history?cursor=garbage'))).status).toBe(400);
  });

  it('the print view escapes everything, carries a strict policy and says it is not an IEP', async () => {
    const evil = '<script>alert("x")</script><img src=x onerror=alert(1)>';
    expect((await as('student', 'post', url('/goals')).send({ statement: evil, teacherSupport: '"quoted" & <b>bold</b>' })).status).toBe(201);
    const r = await as('guardian', 'get', url('/print'));
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/html; charset=utf-8/);
    expect(r.text).not.toMatch(/<script/i);
    expect(r.text).not.toMatch(/<img/i);
    expect(r.text).toContain('&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;');
    expect(r.text).toContain('&#60;b&#62;bold&#60;/b&#62;');
    expect(r.text).toMatch(/<html lang="en">/);
    expect(r.text).toMatch(/<caption>Goals<\/caption>/);
    expect(r.text).toMatch(/is not an Individualized Education Program \(IEP\), a Section 504 plan/);
    expect(r.text).not.toMatch(/<link|<[^>]*\s(src|href)=/i);
    const csp = r.headers['content-security-policy'] as string;
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).not.toMatch(/script-src|unsafe-inline/);
    const style = /<style>([\s\S]*?)<\/style>/.exec(r.text)![1];
    expect(csp).toContain(`'sha256-${createHash('sha256').update(style, 'utf8').digest('base64')}'`);
    expect(r.text.match(/<style>/g)).toHaveLength(1);
    expect(r.text).not.toMatch(/ style="/);
    // The JSON API keeps the strict default policy.
    expect((await as('guardian', 'get', url(''))).headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
    const exp = await as('guardian', 'get', url('?format=json'));
    expect(exp.headers['content-disposition']).toMatch(/^attachment; filename="plp-/);
    expect(JSON.parse(exp.text)).toMatchObject({ format: 'learner-data-hub/plp', formatVersion: 1, plan: { learner: { id: student } } });
    expect((await as('guardian', 'get', url('?format=pdf'))).status).toBe(400);
  });

  it('progress summary: mastery by subject, growth, behaviour trend and attendance', async () => {
    const now = new Date();
    const lastMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 15)).toISOString();
    await insertMastery(db, 'd1', peer, [
      { subject: 'Mathematics', level: 3.5, status: 'mastered', updatedAt: lastMonth },
      { subject: 'Mathematics', level: 3.1, status: 'mastered' },
      { subject: 'Mathematics', level: 2, status: 'in_progress' },
      { subject: 'English Language Arts', level: 2.5, status: 'in_progress' },
      { subject: 'English Language Arts', level: 0, status: 'not_started' },
      { subject: null, level: 4, status: 'mastered', updatedAt: '2001-01-01T00:00:00.000Z' },
    ]);
    const a1 = await insertRecord(db, 'd1', 'assessment', { title: 'Interim Math Benchmark' });
    for (const [date, score] of [['2024-09-15', '410'], ['2025-01-15', '432'], ['2024-05-01', '395']]) {
      await insertRecord(db, 'd1', 'assessmentResult', { assessmentId: a1, personId: peer, administrationDate: date, scores: [{ method: 'Scale score', value: score }] });
    }
    for (const [d, positive] of [[daysAgo(10), false], [daysAgo(40), false], [daysAgo(50), true], [daysAgo(120), false], [daysAgo(130), false], [daysAgo(140), false]] as const) {
      const inc = await insertRecord(db, 'd1', 'behaviourIncident', { incidentDate: d, positive });
      await insertRecord(db, 'd1', 'behaviourParticipant', { incidentId: inc, personId: peer, role: 'Perpetrator' });
    }
    await insertRecord(db, 'd1', 'disciplineAction', { personId: peer, actionDate: daysAgo(10), actions: [{ code: 'Detention' }] });
    // Attendance with presence recorded: 10 days, 2 absences, 1 tardy.
    for (let i = 1; i <= 10; i++) {
      const category = i <= 2 ? 'Excused Absence' : i === 3 ? 'Tardy' : 'In Attendance';
      await insertRecord(db, 'd1', 'attendanceEvent', { personId: peer, date: daysAgo(i), category });
    }
    const p = (await as('peer', 'get', url('', peer))).body.data.progress;
    expect(p.mastery.available).toBe(true);
    expect(p.mastery.bySubject).toEqual([
      { subject: 'English Language Arts', mastered: 0, inProgress: 1, notStarted: 1, total: 2, averageLevel: 2.5, averageShare: 0.5 },
      { subject: 'Mathematics', mastered: 2, inProgress: 1, notStarted: 0, total: 3, averageLevel: 2.87, averageShare: 0.622 },
      { subject: null, mastered: 1, inProgress: 0, notStarted: 0, total: 1, averageLevel: 4, averageShare: 1 },
    ]);
    expect(p.mastery.totals).toEqual({ mastered: 3, inProgress: 2, notStarted: 1, total: 6 });
    const months = p.growth.masteredByMonth;
    expect(months).toHaveLength(12);
    expect(months[11]).toMatchObject({ mastered: 1, cumulative: 3 });
    expect(months[10]).toMatchObject({ mastered: 1, cumulative: 2 });
    expect(months[0].cumulative).toBe(1);
    expect(p.growth.assessments).toEqual([{ assessmentId: a1, title: 'Interim Math Benchmark', change: 37, results: [
      { date: '2024-05-01', value: 395, method: 'Scale score', level: null }, { date: '2024-09-15', value: 410, method: 'Scale score', level: null }, { date: '2025-01-15', value: 432, method: 'Scale score', level: null },
    ] }]);
    expect(p.behaviour.last90Days).toEqual({ referrals: 2, recognitions: 1, actions: 1 });
    expect(p.behaviour.previous90Days).toEqual({ referrals: 3, recognitions: 0, actions: 0 });
    expect(p.behaviour.trend).toBe('fewer');
    expect(p.behaviour.byMonth).toHaveLength(12);
    expect(p.behaviour.byMonth.reduce((n: number, m: { referrals: number }) => n + m.referrals, 0)).toBe(5);
    expect(p.attendance).toMatchObject({ method: 'recorded-days', absentDays: 2, tardyDays: 1 });
    if (p.attendance.days === 10) expect(p.attendance.rate).toBe(0.8);
    expect(p.attendance.days).toBeLessThanOrEqual(10);
    const html = (await as('peer', 'get', url('/print', peer))).text;
    expect(html).toMatch(/<svg xmlns="http:\/\/www.w3.org\/2000\/svg" role="img"/);
    expect(html).toContain('<title id="chart-title">Competency mastery by subject</title>');
    expect(html).toContain('2/3 mastered');
    expect(html).toContain('<caption>Competency mastery by subject</caption>');
  });

  it('protected flags (IEP, 504, English learner) never reach a plan; the learner record shows them only to allowed roles', async () => {
    const check = (text: string, where: string) => {
      for (const m of [...PROTECTED_MARKERS, ...programIds]) expect([where, text.includes(m)]).toEqual([where, false]);
    };
    for (const who of ['student', 'guardian', 'teacher', 'admin', 'key:PLP_PROTECTED', 'key:PLP_ADMIN']) {
      for (const p of ['', '?format=json', '/print', '/history?limit=1000', '/goals', '/supports', '/comments', '/items']) {
        const r = await as(who, 'get', url(p));
        expect([who, p, r.status]).toEqual([who, p, 200]);
        check(r.text, `${who} ${p}`);
      }
    }
    // Nor in the stored plan or the change log.
    for (const table of ['plp_items', 'plp_revisions']) check(JSON.stringify(await db.knex(table).where({ tenant_id: 'd1' })), table);
    check(JSON.stringify(await db.knex('change_log').where({ tenant_id: 'd1', entity_type: 'plp' })), 'change_log');
    // The learner record: only a key with protected.read and, by default, administrators.
    for (const who of ['student', 'guardian', 'teacher', 'key:PLP_READER']) {
      const r = await as(who, 'get', `/api/v1/tenants/d1/learners/${student}`);
      expect(r.status).toBe(200);
      expect(r.body.data.protected).toBeUndefined();
      check(r.text, `learner record as ${who}`);
    }
    for (const who of ['admin', 'key:PLP_PROTECTED']) {
      const r = await as(who, 'get', `/api/v1/tenants/d1/learners/${student}`);
      expect(r.body.data.protected.flags).toEqual({ iep: true, section504: true, englishLearner: true });
      expect(r.body.data.protected.programs).toHaveLength(3);
    }
  });
});
