/**
 * The state-reporting export over a synced synthetic district (SIS, LMS, interim, behaviour, Ed-Fi) plus attendance,
 * programs, mastery and plans, on both databases: counts against the store, every row against its JSON Schema,
 * checksums, what the default profile keeps in, pseudonyms, the disclosure log, the API, the schedule and the CLI.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import request from 'supertest';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { parse as parseCsv } from 'csv-parse/sync';
import * as yauzl from 'yauzl';
import { describeEachDb } from './helpers/db';
import { EXTRAS, demoConnectors, demoPrecedence, extrasFor, seedMastery, seedPlans, type StudentRef } from './helpers/export-support';
import { validateConfig, type LoadedConfig } from '../src/core/config';
import { ensureTenants } from '../src/store/tenants';
import { runSync } from '../src/ingest/runner';
import { generateDistrict } from '../src/generator/district';
import { buildApp, drainBackgroundRuns } from '../src/serve/app';
import { disclosurePersons } from '../src/serve/disclosures';
import { runStateExport, weekdaysBetween, type Manifest } from '../src/serve/export/state/extract';
import { FILES } from '../src/serve/export/state/fields';
import { startExportScheduler } from '../src/serve/export/state/runs';
import { buildCli } from '../src/cli/main';
import type { Db } from '../src/store/db';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-export-'));
const district = path.join(dir, 'district');
beforeAll(async () => {
  await generateDistrict({ seed: 5, students: 90, outDir: district });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const KEY = { admin: 'export-admin-key-123', runner: 'export-runner-key', reader: 'export-reader-key', other: 'export-other-tenant' };
const ENV = { EXP_ADMIN: KEY.admin, EXP_RUNNER: KEY.runner, EXP_READER: KEY.reader, EXP_OTHER: KEY.other, DOE_SECRET: 'doe-pseudonym-secret-0001', UNI_SECRET: 'university-secret-key-0002' };
const YEAR = '2027';

const config = (outputDir: string, extra: Record<string, unknown>[] = []) =>
  validateConfig({
    apiKeys: [
      { name: 'admin', key: { $env: 'EXP_ADMIN' }, tenants: ['*'], scopes: ['admin'] },
      { name: 'exporter', key: { $env: 'EXP_RUNNER' }, tenants: ['d1', 'd2'], scopes: ['exports.run'] },
      { name: 'reader', key: { $env: 'EXP_READER' }, tenants: ['d1'], scopes: ['roster.read', 'audit.read'] },
      { name: 'other', key: { $env: 'EXP_OTHER' }, tenants: ['d2'], scopes: ['exports.run'] },
    ],
    tenants: [
      {
        id: 'd1', name: 'District', identity: demoPrecedence(),
        connectors: [...demoConnectors(district).filter((c) => !['state-standards', 'district-competencies'].includes(String(c.id))), { id: 'extras', type: 'export-extras', settings: { source: 'extras' } }],
        exports: {
          outputDir,
          profiles: [
            { name: 'state-doe', recipient: 'State Department of Education' },
            { name: 'full', recipient: 'District research office', include: ['protected', 'sel', 'free_text'] },
            { name: 'doe-pseudo', recipient: 'State DOE (pseudonymized)', pseudonymize: { secret: { $env: 'DOE_SECRET' } }, include: ['protected'] },
            { name: 'uni-pseudo', recipient: 'University study', pseudonymize: { secret: { $env: 'UNI_SECRET' } }, formats: ['ndjson'] },
            { name: 'sched', recipient: 'Nightly drop', files: ['students'], schedule: '* * * * * *', schoolYear: YEAR },
            ...extra,
          ],
        },
      },
      { id: 'd2', name: 'Other', connectors: [], exports: { profiles: [{ name: 'state-doe', recipient: 'DOE' }] } },
    ],
  }, '(test)', dir, ENV);

const read = (p: string) => fs.readFileSync(p, 'utf8');
const sha256 = (p: string) => createHash('sha256').update(fs.readFileSync(p)).digest('hex');
const csvRows = (p: string) => parseCsv(read(p), { columns: true, skip_empty_lines: true }) as Record<string, string>[];
const ndRows = (p: string) => read(p).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
const header = (p: string) => read(p).split('\r\n')[0].split(',');

describeEachDb('state-reporting export', (t) => {
  let db: Db;
  let cfg: LoadedConfig;
  let app: ReturnType<typeof buildApp>;
  let students: string[];
  const out = (name: string) => path.join(dir, `${t.name}-${name}`);
  const exportAs = (profile: string, name = profile) => runStateExport({ db, config: cfg, env: ENV }, { tenantId: 'd1', profile, schoolYear: YEAR, out: out(name) });
  const manifests: Record<string, Manifest> = {};
  const live = async (type: string): Promise<(Record<string, unknown> & { id: string })[]> =>
    ((await db.knex('records').where({ tenant_id: 'd1', entity_type: type }).whereNull('deleted_at').select('id', 'data')) as { id: string; data: string }[])
      .map((r) => ({ ...(JSON.parse(r.data) as Record<string, unknown>), id: r.id }));

  beforeAll(async () => {
    db = await t.open();
    cfg = config(out('api'));
    await ensureTenants(db, cfg.config);
    for (const c of ['sis', 'lms', 'interim', 'behaviour', 'state-assessment']) {
      const r = await runSync({ db, config: cfg }, { tenantId: 'd1', connectorId: c });
      expect([c, r.status]).toEqual([c, 'succeeded']);
    }
    // The students of the year, from the store (students with a student enrollment in a class of a 2027 term).
    const sessions = new Set((await live('academicSession')).filter((s) => s.schoolYear === YEAR).map((s) => s.id));
    const classes = new Set((await live('class')).filter((c) => (c.termIds as string[]).some((x) => sessions.has(x))).map((c) => c.id));
    const enr = (await live('enrollment')).filter((e) => e.role === 'student' && classes.has(String(e.classId)));
    students = [...new Set(enr.map((e) => String(e.personId)))].sort();
    const persons = (await live('person')).filter((p) => students.includes(p.id)) as unknown as StudentRef[];
    const refs = persons.map((p) => ({ id: p.id, data: p as unknown as StudentRef['data'] }));
    EXTRAS.set('extras', extrasFor(refs, '2026-08-17'));
    expect((await runSync({ db, config: cfg }, { tenantId: 'd1', connectorId: 'extras' })).status).toBe('succeeded');
    await seedMastery(db, 'd1', students.slice(0, 20));
    await seedPlans(db, 'd1', students, '2026-10-01T00:00:00.000Z');
    app = buildApp({ db, config: cfg, env: ENV });
    for (const p of ['state-doe', 'full', 'doe-pseudo', 'uni-pseudo']) manifests[p] = await exportAs(p);
  }, 240_000);
  afterAll(async () => {
    await drainBackgroundRuns(app);
    await db.close();
  });

  it('counts match the store', async () => {
    const m = manifests['state-doe'];
    const rows = (id: string) => m.files.find((f) => f.id === id && f.format === 'csv')!.rows;
    expect(rows('students')).toBe(students.length);
    expect(students.length).toBeGreaterThan(50);
    const sessions = new Set((await live('academicSession')).filter((s) => s.schoolYear === YEAR).map((s) => s.id));
    const classes = new Set((await live('class')).filter((c) => (c.termIds as string[]).some((x) => sessions.has(x))).map((c) => c.id));
    expect(rows('enrollment')).toBe((await live('enrollment')).filter((e) => e.role === 'student' && classes.has(String(e.classId))).length);
    const inYear = (d: unknown) => String(d) >= m.schoolYearWindow.start && String(d) <= m.schoolYearWindow.end;
    const set = new Set(students);
    expect(rows('assessment_results')).toBe((await live('assessmentResult')).filter((r) => set.has(String(r.personId)) && inYear(r.administrationDate)).length);
    expect(rows('assessment_results')).toBeGreaterThan(0);
    expect(rows('discipline_actions')).toBe((await live('disciplineAction')).filter((r) => set.has(String(r.personId)) && inYear(r.actionDate)).length);
    const incidents = new Map((await live('behaviourIncident')).map((i) => [i.id, i]));
    expect(rows('behaviour')).toBe((await live('behaviourParticipant')).filter((p) => set.has(String(p.personId)) && inYear(incidents.get(String(p.incidentId))?.incidentDate)).length);
    expect(m.files.find((f) => f.id === 'competency_mastery')!.rows).toBe(20); // the SEL rows stay in
    expect(m.changeLogSeq).toBe(Number((await db.knex('tenant_sequences').where('tenant_id', 'd1').first()).last_seq));
    expect(m.hubVersion).toMatch(/^\d+\.\d+\.\d+/);
    // CSV and NDJSON say the same.
    for (const f of m.files.filter((x) => x.format === 'csv')) expect(ndRows(path.join(out('state-doe'), `${f.id}.ndjson`)).length).toBe(f.rows);
  });

  it('pages change nothing: the same files (bytes) and the same disclosed students with pages of 7 persons as with one page', async () => {
    const now = new Date('2027-02-01T12:00:00Z');
    const one = await runStateExport({ db, config: cfg, env: ENV, now, pageSize: 1000 }, { tenantId: 'd1', profile: 'full', schoolYear: YEAR, out: out('page-1000') });
    const small = await runStateExport({ db, config: cfg, env: ENV, now, pageSize: 7 }, { tenantId: 'd1', profile: 'full', schoolYear: YEAR, out: out('page-7') });
    expect(students.length).toBeGreaterThan(7 * 5);
    const digest = (m: Manifest) => m.files.map((f) => [f.path, f.rows, f.bytes, f.sha256]);
    expect(digest(small)).toEqual(digest(one));
    expect(one.files.filter((f) => f.format === 'csv' && f.rows > 0).length).toBeGreaterThanOrEqual(7);
    for (const f of one.files) expect(sha256(path.join(out('page-7'), f.path))).toBe(f.sha256);
    expect(small.disclosure).toEqual({ ...one.disclosure, id: small.disclosure.id });
    const persons = async (m: Manifest) => (await disclosurePersons(db, 'd1', m.disclosure.id)).sort();
    expect(await persons(small)).toEqual(students);
  });

  it('attendance, growth and PLP coverage are computed from the events, administrations and plans', () => {
    const d = out('state-doe');
    const att = csvRows(path.join(d, 'attendance.csv'));
    const withEvents = att.filter((r) => r.days_absent === '2');
    expect(withEvents.length).toBeGreaterThan(10);
    for (const r of withEvents) {
      expect([r.days_excused_absence, r.days_unexcused_absence, r.days_tardy]).toEqual(['1', '1', '1']);
      expect(Number(r.days_present)).toBe(Number(r.days_enrolled) - 2);
      expect(Number(r.attendance_rate)).toBeCloseTo(Number(r.days_present) / Number(r.days_enrolled), 3);
    }
    // 2026-08-17 (Mon) to 2026-12-03 (today in the fixture clock or later): at least 79 weekdays for a full-year student.
    expect(weekdaysBetween(Date.parse('2026-08-17') / 864e5, Date.parse('2026-08-23') / 864e5)).toBe(5);
    const res = csvRows(path.join(d, 'assessment_results.csv'));
    const grown = res.filter((r) => r.prior_scale_score !== '');
    expect(grown.length).toBeGreaterThan(0);
    for (const r of grown) {
      expect(Number(r.scale_score_change)).toBeCloseTo(Number(r.scale_score) - Number(r.prior_scale_score), 6);
      expect(r.prior_administration_date < r.administration_date).toBe(true);
      if (/^\d+$/.test(r.performance_level) && /^\d+$/.test(r.prior_performance_level)) expect(Number(r.level_change)).toBe(Number(r.performance_level) - Number(r.prior_performance_level));
    }
    const plp = csvRows(path.join(d, 'plp_coverage.csv'));
    expect(plp.length).toBeGreaterThan(0);
    for (const r of plp) expect(['07', '08', '09', '10', '11', '12']).toContain(r.grade_level);
    expect(plp.every((r) => r.has_current_plan === 'true')).toBe(true);
  });

  it('every CSV and NDJSON row validates against the JSON Schema written next to it, and the manifest checksums match', () => {
    for (const name of ['state-doe', 'full', 'doe-pseudo', 'uni-pseudo']) {
      const m = manifests[name];
      const d = out(name);
      const strict = addFormats(new Ajv({ allErrors: true, strict: false }));
      const coercing = addFormats(new Ajv({ allErrors: true, strict: false, coerceTypes: true }));
      for (const f of m.files) {
        expect(sha256(path.join(d, f.path))).toBe(f.sha256);
        expect(fs.statSync(path.join(d, f.path)).size).toBe(f.bytes);
        const schema = JSON.parse(read(path.join(d, f.schema))) as { 'x-columns': string[] };
        const validate = (f.format === 'csv' ? coercing : strict).compile(schema);
        const rows = f.format === 'csv' ? csvRows(path.join(d, f.path)).map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === '' ? null : v]))) : ndRows(path.join(d, f.path));
        expect(rows.length).toBe(f.rows);
        if (f.format === 'csv') expect(header(path.join(d, f.path))).toEqual(schema['x-columns']);
        for (const r of rows) if (!validate(r)) throw new Error(`${name}/${f.path}: ${JSON.stringify(validate.errors?.slice(0, 2))}`);
      }
      for (const s of m.schemas) expect(sha256(path.join(d, s.path))).toBe(s.sha256);
    }
  });

  it('a default profile lets out no protected flags, no SEL and no free text; a profile that includes them does', () => {
    const d = out('state-doe');
    const all = fs.readdirSync(d).filter((f) => /\.(csv|ndjson)$/.test(f)).map((f) => read(path.join(d, f))).join('\n');
    for (const col of ['iep', 'section_504', 'english_learner', 'economically_disadvantaged', 'plan_text', 'incident_description']) expect(all).not.toMatch(new RegExp(`(^|,|")${col}(,|"|\\r)`, 'm'));
    expect(all).not.toMatch(/Social-Emotional|wants to study nursing|Dentist/);
    expect(manifests['state-doe'].categories).not.toEqual(expect.arrayContaining(['protected']));
    expect(manifests['state-doe'].disclosure.categories).not.toContain('protected');

    const f = out('full');
    const students = csvRows(path.join(f, 'students.csv'));
    expect(students.filter((r) => r.iep === 'true').length).toBeGreaterThan(5);
    expect(students.filter((r) => r.english_learner === 'true').length).toBeGreaterThan(5);
    expect(csvRows(path.join(f, 'competency_mastery.csv')).filter((r) => r.subject === 'Social-Emotional Learning')).toHaveLength(20);
    expect(csvRows(path.join(f, 'plp_coverage.csv')).every((r) => /wants to study nursing/.test(r.plan_text))).toBe(true);
    expect(csvRows(path.join(f, 'behaviour.csv')).some((r) => r.incident_description)).toBe(true);
    expect(manifests.full.disclosure.categories).toEqual(expect.arrayContaining(['protected', 'free_text', 'sel']));
  });

  it('pseudonymized ids are stable per recipient, differ across recipients, never equal real ids, and stay consistent across files', async () => {
    const again = await exportAs('doe-pseudo', 'doe-pseudo-again');
    const idsOf = (name: string, file: string) => ndRows(path.join(out(name), `${file}.ndjson`)).map((r) => String(r.student_id));
    const doe = idsOf('doe-pseudo', 'students');
    expect(idsOf('doe-pseudo-again', 'students')).toEqual(doe);
    expect(again.changeLogSeq).toBe(manifests['doe-pseudo'].changeLogSeq);
    const uni = new Set(idsOf('uni-pseudo', 'students'));
    expect(doe.filter((x) => uni.has(x))).toEqual([]);
    expect(doe.every((x) => /^[0-9a-f]{64}$/.test(x))).toBe(true);
    // No real person id anywhere (rows, schemas, manifest), nor state or local ids.
    const realIds = ((await db.knex('records').where({ tenant_id: 'd1', entity_type: 'person' }).select('id', 'data')) as { id: string; data: string }[]);
    for (const name of ['doe-pseudo', 'uni-pseudo']) {
      const text = fs.readdirSync(out(name)).map((f) => read(path.join(out(name), f))).join('\n');
      for (const p of realIds) {
        expect(text.includes(p.id)).toBe(false);
        for (const i of (JSON.parse(p.data) as { identifiers: { value: string }[] }).identifiers) if (i.value.length >= 6) expect(text.includes(`,${i.value},`)).toBe(false);
      }
      const base = new Set(idsOf(name, 'students'));
      for (const file of ['enrollment', 'assessment_results', 'attendance', 'behaviour', 'discipline_actions', 'course_credits', 'plp_coverage', 'competency_mastery']) {
        const ids = idsOf(name, file);
        expect(ids.length).toBeGreaterThan(0);
        expect(ids.filter((x) => !base.has(x))).toEqual([]);
      }
    }
    expect(header(path.join(out('doe-pseudo'), 'students.csv'))).not.toContain('state_student_id');
    // The same student maps to the same pseudonym in every file: enrollment rows per pseudonym equal the real ones.
    const realCount = new Map<string, number>();
    for (const id of idsOf('state-doe', 'enrollment')) realCount.set(id, (realCount.get(id) ?? 0) + 1);
    const pseudoCount = new Map<string, number>();
    for (const id of idsOf('doe-pseudo', 'enrollment')) pseudoCount.set(id, (pseudoCount.get(id) ?? 0) + 1);
    expect([...pseudoCount.values()].sort()).toEqual([...realCount.values()].sort());
  });

  it('records one disclosure per export with the recipient, the categories that left and every student', async () => {
    for (const [name, recipient] of [['state-doe', 'State Department of Education'], ['full', 'District research office']] as const) {
      const m = manifests[name];
      const row = await db.knex('disclosures').where({ tenant_id: 'd1', id: m.disclosure.id }).first();
      expect(row).toMatchObject({ channel: 'export', recipient });
      expect(Number(row.person_count)).toBe(students.length);
      expect(JSON.parse(row.categories)).toEqual(m.disclosure.categories);
      const persons = await disclosurePersons(db, 'd1', m.disclosure.id);
      expect(persons.sort()).toEqual(students);
    }
    // The pseudonymized export still logs the real students (the log is the district's own record).
    const pd = await disclosurePersons(db, 'd1', manifests['doe-pseudo'].disclosure.id);
    expect(pd.sort()).toEqual(students);
    const list = await request(app).get(`/api/v1/tenants/d1/disclosures?personId=${students[0]}&recipient=State%20Department%20of%20Education`).set('Authorization', `Bearer ${KEY.reader}`);
    expect(list.body.data.some((x: { channel: string }) => x.channel === 'export')).toBe(true);
  });

  it('without the mastery table the file is skipped with a warning; a failed export discloses nothing', async () => {
    if (t.name !== 'sqlite') return;
    await db.knex.schema.renameTable('mastery', 'mastery_hidden');
    try {
      const m = await exportAs('state-doe', 'no-mastery');
      expect(m.skipped).toEqual([expect.objectContaining({ id: 'competency_mastery' })]);
      expect(m.warnings.join(' ')).toMatch(/mastery table does not exist/);
      expect(fs.existsSync(path.join(out('no-mastery'), 'competency_mastery.csv'))).toBe(false);
    } finally {
      await db.knex.schema.renameTable('mastery_hidden', 'mastery');
    }
    const before = Number((await db.knex('disclosures').count('* as n').first())!.n);
    const beforeP = Number((await db.knex('disclosure_person_sets').count('* as n').first())!.n);
    await expect(runStateExport({ db, config: cfg, env: {} }, { tenantId: 'd1', profile: 'doe-pseudo', schoolYear: YEAR, out: out('no-secret') })).rejects.toMatchObject({ code: 'secret_missing' });
    fs.mkdirSync(out('busy'));
    fs.writeFileSync(path.join(out('busy'), 'x'), 'x');
    await expect(exportAs('state-doe', 'busy')).rejects.toMatchObject({ code: 'bad_request', details: [expect.objectContaining({ path: 'out' })] });
    expect(Number((await db.knex('disclosures').count('* as n').first())!.n)).toBe(before);
    expect(Number((await db.knex('disclosure_person_sets').count('* as n').first())!.n)).toBe(beforeP);
  });

  it('API: 202 with an id, status with the manifest, the zip download; the zip holds the manifest and its files', async () => {
    const post = await request(app).post('/api/v1/tenants/d1/exports/state').set('Authorization', `Bearer ${KEY.runner}`).send({ profile: 'state-doe', schoolYear: 2027 });
    expect(post.status).toBe(202);
    const id = post.body.data.id as string;
    expect(post.headers.location).toBe(`/api/v1/tenants/d1/exports/state/${id}`);
    const early = await request(app).get(`/api/v1/tenants/d1/exports/state/${id}/download`).set('Authorization', `Bearer ${KEY.runner}`);
    expect([200, 409]).toContain(early.status);
    if (early.status === 409) expect(early.body.error.code).toBe('export_not_ready');
    await drainBackgroundRuns(app);
    const st = await request(app).get(`/api/v1/tenants/d1/exports/state/${id}`).set('Authorization', `Bearer ${KEY.runner}`);
    expect(st.status).toBe(200);
    expect(st.body.data).toMatchObject({ status: 'succeeded', profile: 'state-doe', schoolYear: YEAR, trigger: 'api', requestedBy: 'exporter' });
    expect(st.body.data.manifest.files.length).toBeGreaterThan(10);
    const dl = await request(app).get(`/api/v1/tenants/d1/exports/state/${id}/download`).set('Authorization', `Bearer ${KEY.runner}`)
      .buffer(true).parse((res, cb) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => cb(null, Buffer.concat(chunks)));
      });
    expect(dl.status).toBe(200);
    expect(dl.headers['content-type']).toBe('application/zip');
    const zipPath = path.join(dir, `${t.name}-dl.zip`);
    fs.writeFileSync(zipPath, dl.body as Buffer);
    const entries = new Map<string, Buffer>();
    const zip = await yauzl.openPromise(zipPath, { lazyEntries: true });
    for await (const entry of zip.eachEntry()) {
      const stream = await zip.openReadStreamPromise(entry);
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      entries.set(entry.fileName, Buffer.concat(chunks));
    }
    zip.close();
    const m = JSON.parse(entries.get('manifest.json')!.toString('utf8')) as Manifest;
    expect(m.exportId).toBe(id);
    for (const f of m.files) expect(createHash('sha256').update(entries.get(f.path)!).digest('hex')).toBe(f.sha256);
  }, 90_000);

  it('API: bad profile names and years answer 400 naming the field', async () => {
    const post = (body: unknown) => request(app).post('/api/v1/tenants/d1/exports/state').set('Authorization', `Bearer ${KEY.runner}`).send(body as object);
    for (const [body, field] of [
      [{ profile: 'nope', schoolYear: '2027' }, 'profile'], [{ schoolYear: '2027' }, 'profile'], [{ profile: 42, schoolYear: '2027' }, 'profile'],
      [{ profile: 'state-doe', schoolYear: '27' }, 'schoolYear'], [{ profile: 'state-doe' }, 'schoolYear'], [{ profile: 'state-doe', schoolYear: '3000' }, 'schoolYear'],
      [{ profile: 'state-doe', schoolYear: '2027', extra: 1 }, 'extra'],
    ] as const) {
      const r = await post(body);
      expect([JSON.stringify(body), r.status, r.body.error.code, r.body.error.details[0].path]).toEqual([JSON.stringify(body), 400, 'bad_request', field]);
    }
    const bad = await request(app).get('/api/v1/tenants/d1/exports/state/not-an-id').set('Authorization', `Bearer ${KEY.runner}`);
    expect(bad.status).toBe(400);
  });

  it('API: scope and tenant isolation', async () => {
    const noScope = await request(app).post('/api/v1/tenants/d1/exports/state').set('Authorization', `Bearer ${KEY.reader}`).send({ profile: 'state-doe', schoolYear: YEAR });
    expect(noScope.status).toBe(403);
    expect(noScope.body.error.details[0].message).toMatch(/exports\.run/);
    const otherTenant = await request(app).post('/api/v1/tenants/d1/exports/state').set('Authorization', `Bearer ${KEY.other}`).send({ profile: 'state-doe', schoolYear: YEAR });
    const missing = await request(app).post('/api/v1/tenants/nope/exports/state').set('Authorization', `Bearer ${KEY.other}`).send({ profile: 'state-doe', schoolYear: YEAR });
    expect([otherTenant.status, missing.status]).toEqual([403, 403]);
    expect(otherTenant.body).toEqual(missing.body);
    // An export of d1 is not visible through d2, even to a key that may act on both.
    const id = (await db.knex('export_runs').where({ tenant_id: 'd1' }).first('id')).id as string;
    const cross = await request(app).get(`/api/v1/tenants/d2/exports/state/${id}`).set('Authorization', `Bearer ${KEY.runner}`);
    expect(cross.status).toBe(404);
    expect(cross.body.error.code).toBe('export_not_found');
    const crossDl = await request(app).get(`/api/v1/tenants/d2/exports/state/${id}/download`).set('Authorization', `Bearer ${KEY.runner}`);
    expect(crossDl.status).toBe(404);
    const byOther = await request(app).get(`/api/v1/tenants/d1/exports/state/${id}`).set('Authorization', `Bearer ${KEY.other}`);
    expect(byOther.status).toBe(403);
  });

  it('a profile schedule runs the export into the output directory', async () => {
    const sched = startExportScheduler({ db, config: cfg, env: ENV });
    expect(sched.tasks).toEqual([{ tenantId: 'd1', profile: 'sched', schedule: '* * * * * *' }]);
    try {
      const deadline = Date.now() + 20_000;
      let row: { status: string; path: string } | undefined;
      while (Date.now() < deadline) {
        row = await db.knex('export_runs').where({ tenant_id: 'd1', trigger: 'schedule', status: 'succeeded' }).first();
        if (row) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(row).toBeDefined();
      expect(row!.path.startsWith(out('api'))).toBe(true);
      expect(fs.existsSync(row!.path)).toBe(true);
    } finally {
      await sched.stop();
    }
    await new Promise((r) => setTimeout(r, 1500)); // a tick that had already started finishes
  });

  it('hub export state writes a directory or a zip from the command line (SQLite file)', async () => {
    if (t.name !== 'sqlite') return;
    const file = (db.knex.client.config.connection as { filename: string }).filename;
    const cfgFile = path.join(dir, 'cli.config.json');
    fs.writeFileSync(cfgFile, JSON.stringify(cfg.config));
    const lines: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      lines.push(String(s));
      return true;
    });
    try {
      await buildCli().parseAsync(['node', 'hub', '--config', cfgFile, '--database', file, 'export', 'state', '--tenant', 'd1', '--year', YEAR, '--profile', 'state-doe', '--out', out('cli.zip')]);
    } finally {
      spy.mockRestore();
    }
    expect(lines.join('')).toMatch(/written to .*cli\.zip/);
    expect(fs.existsSync(out('cli.zip'))).toBe(true);
    await expect(buildCli().parseAsync(['node', 'hub', '--config', cfgFile, '--database', file, 'export', 'state', '--tenant', 'd1', '--year', '26', '--profile', 'state-doe', '--out', out('cli2')]))
      .rejects.toMatchObject({ code: 'bad_request', details: [expect.objectContaining({ path: '--year' })] });
    await expect(buildCli().parseAsync(['node', 'hub', '--config', cfgFile, '--database', file, 'export', 'state', '--tenant', 'd1', '--year', YEAR, '--profile', 'zzz', '--out', out('cli2')]))
      .rejects.toMatchObject({ code: 'bad_request', details: [expect.objectContaining({ path: '--profile' })] });
  });
});

describe('export profile configuration', () => {
  it('names the JSON path of a duplicate profile, a bad schedule and a bad category', () => {
    const base = { id: 'd1', name: 'D', connectors: [] };
    const bad = (exports: unknown) => {
      try {
        validateConfig({ tenants: [{ ...base, exports }] });
      } catch (e) {
        return (e as { details: { path: string }[] }).details.map((d) => d.path);
      }
      return [];
    };
    expect(bad({ profiles: [{ name: 'a', recipient: 'A' }, { name: 'a', recipient: 'B' }] })).toContain('$.tenants[0].exports.profiles[1].name');
    expect(bad({ profiles: [{ name: 'a', recipient: 'A', schedule: 'every day' }] })).toContain('$.tenants[0].exports.profiles[0].schedule');
    expect(bad({ profiles: [{ name: 'a', recipient: 'A', include: ['everything'] }] }).join(' ')).toMatch(/profiles\[0\]\.include/);
    expect(bad({ profiles: [{ name: 'a', recipient: 'A', pseudonymize: { secret: 'literal' } }] }).join(' ')).toMatch(/pseudonymize\.secret/);
  });
});

describe('state export data dictionary', () => {
  it('docs/state-export.md documents every file and field with its category', () => {
    const doc = fs.readFileSync(path.join(__dirname, '../docs/state-export.md'), 'utf8');
    for (const f of FILES) {
      expect(doc).toContain(`### \`${f.id}\``);
      for (const x of f.fields) expect(doc).toMatch(new RegExp(`\\| \`${x.name}\` \\| [^|]+ \\| ${x.category ? `\`${x.category}\`` : 'key \\(always\\)'} \\|`));
    }
  });
});
