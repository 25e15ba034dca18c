/**
 * Competency mastery end to end, on both databases: a generated district synced through the real connectors (SIS,
 * LMS gradebook, two CASE frameworks with crosswalks, interim benchmark, Ed-Fi state assessment) derives evidence
 * and mastery after each sync; bad input becomes recorded problems; the API shows each person only what they may
 * see; a circular crosswalk stops derivation with the loop named and nothing half-applied.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { describeEachDb } from './helpers/db';
import { validateConfig, type LoadedConfig } from '../src/core/config';
import { ensureTenants } from '../src/store/tenants';
import { runSync } from '../src/ingest/runner';
import { generateDistrict } from '../src/generator/district';
import { District } from '../src/generator/model';
import { Abilities } from '../src/generator/abilities';
import { buildApp } from '../src/serve/app';
import { deriveCaliperEvents, recomputeTenant } from '../src/derive/index';
import type { Db } from '../src/store/db';

jest.setTimeout(180_000);

const SEED = 11;
const STUDENTS = 120;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-mastery-'));
const district = path.join(dir, 'district');
let badLineItem = '';
let outOfScaleResult = '';
let changedResultLine = -1;

beforeAll(async () => {
  await generateDistrict({ seed: SEED, students: STUDENTS, outDir: district });
  // One result far outside its line item's 0..max scale (a typo in the gradebook): a recorded problem, not evidence.
  const alignment = JSON.parse(fs.readFileSync(path.join(district, 'lms/alignment.json'), 'utf8')) as { lineItems: Record<string, string[]> };
  const aligned = Object.keys(alignment.lineItems);
  badLineItem = aligned[aligned.length - 1];
  const file = path.join(district, 'lms/bulk/results.csv');
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const header = lines[0].split(',');
  const col = (n: string) => header.indexOf(n);
  for (let i = 1; i < lines.length; i++) {
    const cells = lines[i].split(',');
    if (cells[col('lineItemSourcedId')] === aligned[0] && cells[col('scoreStatus')] === 'fully graded' && !outOfScaleResult) {
      cells[col('score')] = '999';
      outOfScaleResult = cells[col('sourcedId')];
      lines[i] = cells.join(',');
    } else if (changedResultLine < 0 && cells[col('scoreStatus')] === 'fully graded' && aligned.includes(cells[col('lineItemSourcedId')]) && cells[col('lineItemSourcedId')] !== aligned[0]) {
      changedResultLine = i;
    }
  }
  fs.writeFileSync(file, lines.join('\n'));
  for (const f of PRISTINE) fs.copyFileSync(path.join(district, f), path.join(dir, f.replace(/\//g, '_')));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Files the tests change (a score, a crosswalk loop): restored before each database's run. */
const PRISTINE = ['lms/bulk/results.csv', 'case/district-competencies.json'];
const restore = () => {
  for (const f of PRISTINE) fs.copyFileSync(path.join(dir, f.replace(/\//g, '_')), path.join(district, f));
};

const KEY = 'mastery-test-admin-key';
const ENV = { M_ADMIN: KEY, M_PORTAL: 'mastery-portal-key', M_READER: 'mastery-reader-key', M_STAFF: 'mastery-staff-key', M_SENSOR: 'mastery-sensor-token' };
const SENSOR = 'https://practice-lab.example/sensors/district';

function config(extra: Record<string, unknown> = {}): LoadedConfig {
  const mapping = JSON.parse(fs.readFileSync(path.join(district, 'assessment/mapping.json'), 'utf8')) as Record<string, unknown>;
  return validateConfig({
    apiKeys: [
      { name: 'admin', key: { $env: 'M_ADMIN' }, tenants: ['*'], scopes: ['admin'] },
      { name: 'portal', key: { $env: 'M_PORTAL' }, tenants: ['d1'], scopes: ['sessions.issue'] },
      { name: 'reader', key: { $env: 'M_READER' }, tenants: ['d1'], scopes: ['roster.read'] },
      { name: 'staff', key: { $env: 'M_STAFF' }, tenants: ['d1'], scopes: ['evidence.write', 'roster.read'] },
    ],
    tenants: [
      {
        id: 'd1', name: 'District',
        connectors: [
          { id: 'sis', type: 'oneroster-csv', settings: { path: path.join(district, 'sis/bulk') } },
          { id: 'lms', type: 'oneroster-csv', settings: { path: path.join(district, 'lms/bulk') } },
          { id: 'state-standards', type: 'case', settings: { source: { file: path.join(district, 'case/state-standards.json') } } },
          { id: 'district-competencies', type: 'case', settings: { source: { file: path.join(district, 'case/district-competencies.json') } } },
          { id: 'interim', type: 'mapped-csv', settings: { ...mapping, path: path.join(district, 'assessment', String(mapping.path)) } },
          { id: 'state-assessment', type: 'edfi-xml', settings: { path: path.join(district, 'edfi') } },
        ],
        caliper: { sensors: [{ id: SENSOR, name: 'practice-lab', token: { $env: 'M_SENSOR' } }] },
        competencies: {
          defaults: { scale: { min: 0, max: 4 }, threshold: 3, method: { type: 'decayingAverage', weight: 0.65 } },
          alignments: [
            { file: path.join(district, 'lms/alignment.json'), connector: 'lms' },
            { lineItem: { connector: 'lms', sourceId: 'BAD-PLACEHOLDER' }, competencies: ['NOPE.9.9'] },
          ],
          caliperActors: [{ prefix: 'https://lms.district.example/users/', connector: 'lms' }],
          ...extra,
        },
      },
      { id: 'd2', name: 'Other district', connectors: [] },
    ],
  }, '(test)', process.cwd(), ENV);
}

describe('mastery configuration', () => {
  const bad = (competencies: unknown) => () => validateConfig({ tenants: [{ id: 't', name: 'T', competencies }] }, '(test)', process.cwd(), {});
  it('names the JSON path of an invalid method or threshold', () => {
    expect(bad({ defaults: { method: { type: 'meanOfLast' } } })).toThrow(/\$\.tenants\[0\]\.competencies\.defaults\.method\.n: method 'meanOfLast' needs n/);
    expect(bad({ frameworks: [{ framework: 'x', scale: { min: 1, max: 4 }, threshold: 5 }] })).toThrow(/\$\.tenants\[0\]\.competencies\.frameworks\[0\]\.threshold/);
    expect(bad({ defaults: { method: { type: 'fastest' } } })).toThrow(/config_invalid|competencies\.defaults\.method\.type/);
    expect(bad({ frameworks: [{ framework: 'x', scale: { min: 4, max: 1 } }] })).toThrow(/frameworks\[0\]\.scale: max \(1\) must be greater than min \(4\)/);
    expect(bad({ defaults: { method: { type: 'highest', weight: 0.5 } } })).toThrow(/method\.weight: only decayingAverage takes a weight/);
  });
});

interface Enr { personId: string; classId: string; role: string }

describeEachDb('competency mastery', (t) => {
  let db: Db;
  let cfg: LoadedConfig;
  let app: ReturnType<typeof buildApp>;
  const admin = (m: 'get' | 'post' | 'delete', p: string, tenant = 'd1') => request(app)[m](`/api/v1/tenants/${tenant}${p}`).set('Authorization', `Bearer ${KEY}`);
  const as = (token: string, m: 'get' | 'post', p: string, tenant = 'd1') => request(app)[m](`/api/v1/tenants/${tenant}${p}`).set('Authorization', `Bearer ${token}`);
  const session = async (personId: string, roles: string[]) => {
    const res = await request(app).post('/api/v1/tenants/d1/sessions').set('Authorization', 'Bearer mastery-portal-key').send({ personId, roles });
    expect(res.status).toBe(201);
    return res.body.data.token as string;
  };
  const sync = async (id: string) => {
    const r = await runSync({ db, config: cfg }, { tenantId: 'd1', connectorId: id });
    expect(r.status).toBe('succeeded');
    return r;
  };

  beforeAll(async () => {
    restore();
    db = await t.open();
    cfg = config();
    // The bad alignment names a real line item of the LMS export.
    (cfg.config.tenants[0].competencies!.alignments![1] as { lineItem: { sourceId: string } }).lineItem.sourceId = badLineItem;
    await ensureTenants(db, cfg.config);
    for (const c of ['sis', 'lms', 'state-standards', 'district-competencies', 'interim', 'state-assessment']) await sync(c);
    app = buildApp({ db, config: cfg, env: ENV });
  });
  afterAll(async () => {
    await db.close();
  });

  it('derives evidence from gradebook, benchmark and state test, and mastery that tracks ability', async () => {
    const kinds = Object.fromEntries(((await db.knex('evidence').where({ tenant_id: 'd1' }).select('source_kind').count({ n: '*' }).groupBy('source_kind')) as { source_kind: string; n: number | string }[]).map((r) => [r.source_kind, Number(r.n)]));
    expect(kinds.result).toBeGreaterThan(100);
    expect(kinds.assessmentResult).toBeGreaterThan(100);
    const statuses = ((await db.knex('mastery').where({ tenant_id: 'd1' }).select('status').count({ n: '*' }).groupBy('status')) as { status: string; n: number | string }[]).map((r) => r.status);
    expect(statuses).toEqual(expect.arrayContaining(['in_progress', 'mastered']));
    expect(Number(((await db.knex('change_log').where({ tenant_id: 'd1', entity_type: 'mastery' }).count({ n: '*' })) as { n: number | string }[])[0].n)).toBeGreaterThan(0);
    // Every level lies on the scale, and explains itself.
    const m = (await db.knex('mastery').where({ tenant_id: 'd1', status: 'mastered' }).first()) as { level: number; explain: string; evidence_count: number };
    expect(Number(m.level)).toBeGreaterThanOrEqual(3);
    const ex = JSON.parse(m.explain) as { method: string; evidence: { weight?: number; level: number }[]; counted: number };
    expect(ex.method).toBe('decayingAverage(0.65)');
    expect(ex.counted).toBe(Number(m.evidence_count));
    expect(ex.evidence.reduce((a, e) => a + (e.weight ?? 0), 0)).toBeCloseTo(1, 2);
    // Sensible: a learner's mean math mastery correlates with the generator's latent math ability.
    const d = new District({ seed: SEED, students: STUDENTS });
    const ab = new Abilities(d);
    const idx = new Map<string, number>();
    for (let i = 0; i < d.total; i++) idx.set(d.studentId(i), i);
    const rows = (await db.knex('mastery as m').join('source_records as s', function join() {
      this.on('s.tenant_id', 'm.tenant_id').andOn('s.unified_id', 'm.learner_id');
    }).where({ 'm.tenant_id': 'd1', 's.connector_id': 'sis', 's.entity_type': 'person', 'm.subject': 'Mathematics' }).whereNotNull('m.level')
      .select('s.source_id', 'm.level')) as { source_id: string; level: number }[];
    const per = new Map<string, number[]>();
    for (const r of rows) (per.get(r.source_id) ?? per.set(r.source_id, []).get(r.source_id)!).push(Number(r.level));
    const xs: number[] = [];
    const ys: number[] = [];
    for (const [sid, ls] of per) if (idx.has(sid)) {
      xs.push(ab.math[idx.get(sid)!]);
      ys.push(ls.reduce((a, b) => a + b, 0) / ls.length);
    }
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    const mx = mean(xs);
    const my = mean(ys);
    const cov = xs.reduce((a, x, i) => a + (x - mx) * (ys[i] - my), 0);
    const r = cov / Math.sqrt(xs.reduce((a, x) => a + (x - mx) ** 2, 0) * ys.reduce((a, y) => a + (y - my) ** 2, 0));
    expect(xs.length).toBeGreaterThan(30);
    expect(r).toBeGreaterThan(0.5);
  });

  it('records an unknown competency and a score outside its scale as problems, never as evidence', async () => {
    const problems = await admin('get', '/evidence/problems?limit=1000');
    expect(problems.status).toBe(200);
    const codes = new Set(problems.body.data.map((p: { code: string }) => p.code));
    expect(codes).toEqual(new Set(['competency_unknown', 'score_out_of_scale']));
    const unknown = problems.body.data.find((p: { code: string }) => p.code === 'competency_unknown');
    expect(unknown.reason).toMatch(/NOPE\.9\.9/);
    expect(unknown.field).toBe('$.tenants[0].competencies.alignments[1]');
    const scale = problems.body.data.find((p: { code: string }) => p.code === 'score_out_of_scale');
    expect(scale.reason).toMatch(/999 is outside its scale 0\.\./);
    const resultId = (await db.knex('source_records').where({ tenant_id: 'd1', connector_id: 'lms', entity_type: 'result', source_id: outOfScaleResult }).first('unified_id')).unified_id;
    expect(scale.source).toEqual({ kind: 'result', id: resultId, connector: 'lms' });
    expect(await db.knex('evidence').where({ tenant_id: 'd1', source_id: resultId }).first()).toBeUndefined();
    expect((await admin('get', '/evidence/problems?code=nonsense')).status).toBe(400);
  });

  it('updates mastery incrementally when one result changes in the next sync', async () => {
    const file = path.join(district, 'lms/bulk/results.csv');
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    const header = lines[0].split(',');
    const cells = lines[changedResultLine].split(',');
    const sid = cells[header.indexOf('sourcedId')];
    const li = (await db.knex('source_records').where({ tenant_id: 'd1', connector_id: 'lms', entity_type: 'lineItem', source_id: cells[header.indexOf('lineItemSourcedId')] }).first('unified_id')).unified_id as string;
    const max = Number(JSON.parse((await db.knex('records').where({ tenant_id: 'd1', entity_type: 'lineItem', id: li }).first('data')).data).resultValueMax);
    const newScore = Number(cells[header.indexOf('score')]) === 0 ? max : 0;
    cells[header.indexOf('score')] = String(newScore);
    lines[changedResultLine] = cells.join(',');
    fs.writeFileSync(file, lines.join('\n'));
    const resultId = (await db.knex('source_records').where({ tenant_id: 'd1', connector_id: 'lms', entity_type: 'result', source_id: sid }).first('unified_id')).unified_id as string;
    const ev = (await db.knex('evidence').where({ tenant_id: 'd1', source_kind: 'result', source_id: resultId }).first()) as { learner_id: string; competency_id: string; raw_score: number };
    expect(Number(ev.raw_score)).not.toBe(newScore);
    const run = await sync('lms');
    expect(run.counts.updated).toBeGreaterThanOrEqual(1);
    const after = (await db.knex('evidence').where({ tenant_id: 'd1', source_kind: 'result', source_id: resultId }).first()) as { raw_score: number; level: number };
    expect(Number(after.raw_score)).toBe(newScore);
    expect(Number(after.level)).toBeCloseTo((newScore / max) * 4, 5);
    const m = (await db.knex('mastery').where({ tenant_id: 'd1', learner_id: ev.learner_id, competency_id: ev.competency_id }).first()) as { explain: string };
    expect(JSON.parse(m.explain).evidence.some((e: { sourceId: string; level: number }) => e.sourceId === resultId && Math.abs(e.level - (newScore / max) * 4) < 1e-3)).toBe(true);
    const logged = await db.knex('change_log').where({ tenant_id: 'd1', entity_type: 'mastery', entity_id: ev.learner_id, run_id: run.id }).first();
    expect(logged).toBeDefined();
    expect(JSON.parse(logged.diff).competencyId[1]).toBe(ev.competency_id);
  });

  describe('API and access', () => {
    let enrollments: Enr[];
    let teacher: string;
    let taughtClass: string;
    let own: string;
    let other: string;
    let competency: string;
    beforeAll(async () => {
      enrollments = ((await db.knex('records').where({ tenant_id: 'd1', entity_type: 'enrollment' }).whereNull('deleted_at').select('data')) as { data: string }[]).map((r) => JSON.parse(r.data) as Enr);
      const withMastery = new Set(((await db.knex('mastery').where({ tenant_id: 'd1' }).distinct('learner_id')) as { learner_id: string }[]).map((r) => r.learner_id));
      const cls = enrollments.find((e) => e.role === 'student' && withMastery.has(e.personId) && enrollments.some((x) => x.classId === e.classId && x.role === 'teacher'))!;
      taughtClass = cls.classId;
      teacher = enrollments.find((e) => e.role === 'teacher' && e.classId === taughtClass)!.personId;
      const taught = new Set(enrollments.filter((e) => e.role === 'teacher' && e.personId === teacher).map((e) => e.classId));
      const mine = new Set(enrollments.filter((e) => e.role === 'student' && taught.has(e.classId)).map((e) => e.personId));
      own = cls.personId;
      other = enrollments.find((e) => e.role === 'student' && !mine.has(e.personId) && withMastery.has(e.personId))!.personId;
      competency = (await db.knex('mastery').where({ tenant_id: 'd1', learner_id: own }).first('competency_id')).competency_id;
    });

    it('lists competencies by framework and subject', async () => {
      const all = await admin('get', '/competencies');
      expect(all.status).toBe(200);
      expect(all.body.frameworks).toHaveLength(2);
      const math = await admin('get', '/competencies?subject=mathematics');
      expect(math.body.data.length).toBeGreaterThan(10);
      expect(math.body.data.every((i: { subject: string }) => i.subject === 'Mathematics')).toBe(true);
      expect(math.body.data[0].rules).toEqual(expect.objectContaining({ scale: [0, 4], threshold: 3, method: 'decayingAverage(0.65)' }));
      expect((await admin('get', '/competencies?framework=nope')).status).toBe(400);
    });

    it('a student sees only their own mastery and evidence', async () => {
      const tok = await session(own, ['student']);
      const mine = await as(tok, 'get', `/learners/${own}/mastery?explain=true`);
      expect(mine.status).toBe(200);
      expect(mine.body.data.length).toBeGreaterThan(0);
      expect(mine.body.data[0].explain.evidence.length).toBeGreaterThan(0);
      expect((await as(tok, 'get', `/learners/${own}/evidence`)).body.data.length).toBeGreaterThan(0);
      const peer = await as(tok, 'get', `/learners/${other}/mastery`);
      const missing = await as(tok, 'get', '/learners/00000000-0000-7000-8000-000000000000/mastery');
      expect(peer.status).toBe(404);
      expect(missing.status).toBe(404);
      expect(peer.body).toEqual(missing.body);
      expect((await as(tok, 'get', `/learners/${other}/evidence`)).status).toBe(404);
      expect((await as(tok, 'get', `/classes/${taughtClass}/mastery`)).status).toBe(404);
    });

    it('a teacher sees their classes (heat map, groups), not others; a guardian only linked learners; another tenant nothing', async () => {
      const tok = await session(teacher, ['teacher']);
      const heat = await as(tok, 'get', `/classes/${taughtClass}/mastery`);
      expect(heat.status).toBe(200);
      const classLearners = new Set(enrollments.filter((e) => e.classId === taughtClass && e.role === 'student').map((e) => e.personId));
      expect(new Set(heat.body.data.learners.map((l: { id: string }) => l.id))).toEqual(classLearners);
      expect(heat.body.data.competencies.length).toBeGreaterThan(0);
      const cell = heat.body.data.learners.find((l: { id: string }) => l.id === own).mastery;
      expect(Object.keys(cell).length).toBeGreaterThan(0);
      const groups = await as(tok, 'get', `/classes/${taughtClass}/groups?competency=${competency}`);
      expect(groups.status).toBe(200);
      expect(groups.body.data.groups.map((g: { key: string }) => g.key)).toEqual(['not_started', 'beginning', 'approaching', 'mastered']);
      expect(groups.body.data.groups.reduce((a: number, g: { learners: unknown[] }) => a + g.learners.length, 0)).toBe(classLearners.size);
      const banded = await as(tok, 'get', `/classes/${taughtClass}/groups?competency=${competency}&bands=1,2,3`);
      expect(banded.body.data.groups.map((g: { key: string }) => g.key)).toEqual(['not_started', 'band_1', 'band_2', 'band_3', 'band_4']);
      expect((await as(tok, 'get', `/classes/${taughtClass}/groups?competency=${competency}&bands=3,2`)).status).toBe(400);
      expect((await as(tok, 'get', `/learners/${own}/mastery`)).status).toBe(200);
      expect((await as(tok, 'get', `/learners/${other}/mastery`)).status).toBe(404);
      const otherClass = enrollments.find((e) => e.role === 'student' && e.personId === other)!.classId;
      expect((await as(tok, 'get', `/classes/${otherClass}/mastery`)).status).toBe(404);
      expect((await as(tok, 'get', `/classes/${taughtClass}/mastery`, 'd2')).status).toBe(403);

      const guardian = enrollments.find((e) => e.role === 'teacher' && e.personId !== teacher)!.personId;
      expect((await admin('post', '/guardianships').send({ guardianId: guardian, learnerId: other, relationship: 'parent' })).status).toBe(201);
      const g = await session(guardian, ['guardian']);
      expect((await as(g, 'get', `/learners/${other}/mastery`)).status).toBe(200);
      expect((await as(g, 'get', `/learners/${own}/mastery`)).status).toBe(404);
      expect((await as(g, 'get', `/learners/${other}/credits`)).status).toBe(200);
    });

    it('staff evidence: a teacher of the learner or an evidence.write key; a student 403, a teacher of others 404', async () => {
      const body = { competency, kind: 'internship', description: 'Built a budget spreadsheet for a local food bank', attachmentUrl: 'https://portfolio.example/p/1', level: 4, observedAt: '2026-12-01' };
      const student = await session(own, ['student']);
      const s = await as(student, 'post', `/learners/${own}/evidence`).send(body);
      expect(s.status).toBe(403);
      const tok = await session(teacher, ['teacher']);
      const notMine = await as(tok, 'post', `/learners/${other}/evidence`).send(body);
      expect(notMine.status).toBe(404);
      expect((await request(app).post(`/api/v1/tenants/d1/learners/${own}/evidence`).set('Authorization', 'Bearer mastery-reader-key').send(body)).status).toBe(403);
      const bad = await as(tok, 'post', `/learners/${own}/evidence`).send({ ...body, level: 7 });
      expect(bad.status).toBe(422);
      expect(bad.body.error.code).toBe('score_out_of_scale');
      const unknown = await as(tok, 'post', `/learners/${own}/evidence`).send({ ...body, competency: 'NOPE.1' });
      expect(unknown.status).toBe(422);
      expect(unknown.body.error.code).toBe('competency_unknown');
      expect((await as(tok, 'post', `/learners/${own}/evidence`).send({ ...body, attachmentUrl: 'javascript:alert(1)' })).status).toBe(400);
      const ok = await as(tok, 'post', `/learners/${own}/evidence`).send(body);
      expect(ok.status).toBe(201);
      expect(ok.body.data.evidence).toEqual(expect.objectContaining({ level: 4, description: body.description, author: `person:${teacher}`, attachmentUrl: body.attachmentUrl }));
      const m = ok.body.data.mastery.find((x: { competencyId: string }) => x.competencyId === competency);
      expect(m.evidenceCount).toBeGreaterThan(0);
      const staff = await request(app).post(`/api/v1/tenants/d1/learners/${other}/evidence`).set('Authorization', 'Bearer mastery-staff-key').send({ ...body, kind: 'communityService', score: 18, scoreMax: 20, level: undefined });
      expect(staff.status).toBe(201);
      expect(staff.body.data.evidence.level).toBeCloseTo(3.6, 5);
      expect(staff.body.data.evidence.author).toBe('api:staff');
    });

    it('awards a course when its competencies are mastered and records it in the change log', async () => {
      const course = (await db.knex('records').where({ tenant_id: 'd1', entity_type: 'class', id: taughtClass }).first('data')).data;
      const courseId = JSON.parse(course).courseId as string;
      const req = await request(app).post(`/api/v1/tenants/d1/courses/${courseId}/competencies`).set('Authorization', 'Bearer mastery-staff-key').send({ competencies: [competency] });
      expect(req.status).toBe(201);
      const tok = await session(teacher, ['teacher']);
      // Enough top evidence to master it, whatever came before (decaying average).
      for (let i = 0; i < 4; i++) {
        expect((await as(tok, 'post', `/learners/${own}/evidence`).send({ competency, kind: 'independentStudy', description: `Project ${i}`, level: 4, observedAt: `2027-0${i + 2}-01` })).status).toBe(201);
      }
      const credits = await as(tok, 'get', `/learners/${own}/credits`);
      expect(credits.body.data).toEqual([expect.objectContaining({ courseId, status: 'awarded' })]);
      expect(credits.body.data[0].trail[0]).toEqual(expect.objectContaining({ competencyId: competency, status: 'mastered' }));
      expect(credits.body.data[0].trail[0].evidence.length).toBeGreaterThan(0);
      const log = await db.knex('change_log').where({ tenant_id: 'd1', entity_type: 'credit', entity_id: own }).orderBy('seq', 'desc').first();
      expect(JSON.parse(log.diff)).toEqual(expect.objectContaining({ courseId: [null, courseId], status: [null, 'awarded'] }));
    });

    it('alignments through the API re-derive evidence; Caliper scores count for aligned objects; unknown learners are problems', async () => {
      const li = (await db.knex('records').where({ tenant_id: 'd1', entity_type: 'lineItem' }).first('id')).id as string;
      const before = Number(((await db.knex('evidence').where({ tenant_id: 'd1', item_id: li, competency_id: competency }).count({ n: '*' })) as { n: number }[])[0].n);
      const made = await request(app).post('/api/v1/tenants/d1/alignments').set('Authorization', 'Bearer mastery-staff-key').send({ evidenceKind: 'lineItem', evidenceRef: li, competency });
      expect(made.status).toBe(201);
      const after = Number(((await db.knex('evidence').where({ tenant_id: 'd1', item_id: li, competency_id: competency }).count({ n: '*' })) as { n: number }[])[0].n);
      expect(after).toBeGreaterThan(before);
      expect((await admin('get', `/alignments?kind=lineItem&ref=${li}`)).body.data).toHaveLength(1);
      expect((await request(app).post('/api/v1/tenants/d1/alignments').set('Authorization', 'Bearer mastery-staff-key').send({ evidenceKind: 'lineItem', evidenceRef: 'nope', competency })).status).toBe(404);
      expect((await request(app).post('/api/v1/tenants/d1/alignments').set('Authorization', 'Bearer mastery-reader-key').send({ evidenceKind: 'lineItem', evidenceRef: li, competency })).status).toBe(403);
      expect((await admin('delete', `/alignments/${made.body.data.id}`)).status).toBe(204);
      expect(Number(((await db.knex('evidence').where({ tenant_id: 'd1', item_id: li, competency_id: competency }).count({ n: '*' })) as { n: number }[])[0].n)).toBe(before);

      // A real envelope from the generated learning app, through POST /caliper/d1.
      const envelopes = fs.readFileSync(path.join(district, 'caliper/events.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { data: { type: string; object: { assignable?: { id: string } } }[] });
      const env = envelopes.find((e) => e.data.some((x) => x.type === 'GradeEvent'))!;
      const graded = env.data.find((x) => x.type === 'GradeEvent')!;
      const iri = graded.object.assignable!.id;
      expect((await request(app).post('/api/v1/tenants/d1/alignments').set('Authorization', 'Bearer mastery-staff-key').send({ evidenceKind: 'caliper', evidenceRef: iri, competency })).status).toBe(201);
      const posted = await request(app).post('/caliper/d1').set('Authorization', `Bearer ${ENV.M_SENSOR}`).send(env);
      expect(posted.status).toBe(200);
      let cal: unknown;
      for (let i = 0; i < 50 && !cal; i++) {
        cal = await db.knex('evidence').where({ tenant_id: 'd1', source_kind: 'caliper' }).first();
        if (!cal) await new Promise((r) => setTimeout(r, 50));
      }
      expect(cal).toEqual(expect.objectContaining({ competency_id: competency, item_id: iri }));

      // A scored event whose learner the hub cannot map.
      await db.knex('learning_events').insert({
        tenant_id: 'd1', seq: 1_000_000, event_id: 'urn:uuid:00000000-0000-4000-8000-00000000abcd', sensor: SENSOR, data_version: 'v1p2', event_type: 'GradeEvent', action: 'Graded',
        actor_id: 'https://elsewhere.example/users/x', object_id: iri, event_time: '2026-11-01T10:00:00.000Z', received_at: '2026-11-01T10:00:01.000Z',
        score_given: 5, max_score: 10, data: JSON.stringify({ object: { id: iri, assignee: 'https://elsewhere.example/users/x' } }),
      });
      await deriveCaliperEvents({ db, config: cfg }, 'd1', ['urn:uuid:00000000-0000-4000-8000-00000000abcd'], { cause: 'test' });
      const p = (await admin('get', '/evidence/problems?code=learner_unknown')).body.data;
      expect(p).toEqual([expect.objectContaining({ code: 'learner_unknown', source: expect.objectContaining({ kind: 'caliper', id: 'urn:uuid:00000000-0000-4000-8000-00000000abcd' }) })]);
    });

    it('a method change recomputes everything (API), and the result is the same as incremental derivation', async () => {
      const before = (await db.knex('mastery').where({ tenant_id: 'd1' }).orderBy(['learner_id', 'competency_id']).select('learner_id', 'competency_id', 'level', 'status')) as unknown[];
      const same = await admin('post', '/mastery/recompute').send({});
      expect(same.status).toBe(200);
      expect(same.body.data.mastery.created + same.body.data.mastery.updated + same.body.data.mastery.deleted).toBe(0);
      const cfg2 = config({ defaults: { scale: { min: 0, max: 4 }, threshold: 3, method: { type: 'highest' } } });
      (cfg2.config.tenants[0].competencies!.alignments![1] as { lineItem: { sourceId: string } }).lineItem.sourceId = badLineItem;
      const r = await recomputeTenant({ db, config: cfg2 }, 'd1', { evidence: false });
      expect(r.mastery.updated).toBeGreaterThan(0);
      const row = (await db.knex('mastery').where({ tenant_id: 'd1' }).whereRaw('evidence_count > 1').first()) as { method: string; level: number; explain: string };
      expect(row.method).toBe('highest');
      const ex = JSON.parse(row!.explain) as { evidence: { level: number | null; excluded?: string }[] };
      expect(Number(row.level)).toBe(Math.max(...ex.evidence.filter((e) => !e.excluded && e.level !== null).map((e) => e.level as number)));
      await recomputeTenant({ db, config: cfg }, 'd1', { evidence: false });
      expect(await db.knex('mastery').where({ tenant_id: 'd1' }).orderBy(['learner_id', 'competency_id']).select('learner_id', 'competency_id', 'level', 'status')).toEqual(before);
    });

    it('a circular crosswalk stops derivation with the loop named, and nothing is half-applied', async () => {
      const file = path.join(district, 'case/district-competencies.json');
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { CFAssociations: Record<string, unknown>[] };
      const exact = pkg.CFAssociations.find((a) => a.associationType === 'exactMatchOf')!;
      pkg.CFAssociations.push({ ...exact, identifier: '0d8c3c40-1111-4111-8111-111111111111', uri: 'https://example.test/CFAssociations/0d8c3c40-1111-4111-8111-111111111111', originNodeURI: exact.destinationNodeURI, destinationNodeURI: exact.originNodeURI });
      fs.writeFileSync(file, JSON.stringify(pkg));
      const masteryBefore = await db.knex('mastery').where({ tenant_id: 'd1' }).orderBy(['learner_id', 'competency_id']).select('learner_id', 'competency_id', 'level', 'updated_at');
      const seqBefore = Number(((await db.knex('change_log').where({ tenant_id: 'd1', entity_type: 'mastery' }).max({ m: 'seq' }).first()) as { m: unknown }).m);
      await sync('district-competencies');
      expect(await db.knex('mastery').where({ tenant_id: 'd1' }).orderBy(['learner_id', 'competency_id']).select('learner_id', 'competency_id', 'level', 'updated_at')).toEqual(masteryBefore);
      expect(Number(((await db.knex('change_log').where({ tenant_id: 'd1', entity_type: 'mastery' }).max({ m: 'seq' }).first()) as { m: unknown }).m)).toBe(seqBefore);
      const codes = [(exact.originNodeURI as { title: string }).title, (exact.destinationNodeURI as { title: string }).title];
      const problems = (await admin('get', '/evidence/problems?code=crosswalk_cycle')).body.data;
      expect(problems).toHaveLength(1);
      for (const c of codes) expect(problems[0].reason).toContain(c);
      const r = await admin('post', '/mastery/recompute').send({});
      expect(r.status).toBe(409);
      expect(r.body.error.code).toBe('crosswalk_cycle');
      expect(r.body.error.details[0].path).toMatch(new RegExp(`${codes[0].replace(/\./g, '\\.')} -> ${codes[1].replace(/\./g, '\\.')} -> ${codes[0].replace(/\./g, '\\.')}|${codes[1].replace(/\./g, '\\.')} -> ${codes[0].replace(/\./g, '\\.')} -> ${codes[1].replace(/\./g, '\\.')}`));
      expect((await admin('get', '/competencies')).body.crosswalkCycles).toHaveLength(1);
    });
  });
});
