/**
 * Real browser: Chromium (playwright-core, the Debian /usr/bin/chromium) opens a course page of the fake LMS that
 * embeds the hub in a cross-site iframe (LMS on 127.0.0.1, hub on localhost); the launch runs login -> LMS auth ->
 * form post -> class page inside the frame, with no cookie needed. A screenshot goes to test-artifacts/.
 * Run alone: npx jest test/lti-browser.test.ts
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { FakeLms, ROLE } from './helpers/fake-lms';
import { listen, tmpDir } from './helpers/lti';
import { supportedDbs } from './helpers/db';
import { validateConfig } from '../src/core/config';
import { ensureTenants } from '../src/store/tenants';
import { runSync } from '../src/ingest/runner';
import { generateDistrict } from '../src/generator/district';
import { buildApp, drainBackgroundRuns } from '../src/serve/app';
import { closeLti } from '../src/serve/lti';
import type { Db } from '../src/store/db';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ARTIFACTS = path.join(__dirname, '..', 'test-artifacts');

if (!fs.existsSync(CHROMIUM)) {
  const bar = '!'.repeat(100);
  console.warn(`\n${bar}\n!! SKIPPING the LTI real-browser test: ${CHROMIUM} is not installed (apt-get install -y chromium).\n${bar}\n`);
  describe.skip('LTI in a real browser — SKIPPED: no /usr/bin/chromium', () => {
    it('launches the teacher view in an LMS iframe', () => undefined);
  });
} else {
  describe('LTI in a real browser (Chromium)', () => {
    const dir = tmpDir('hub-lti-browser-');
    let db: Db;
    let lms: FakeLms;
    let hub: { url: string; close: () => Promise<void> };
    let app: ReturnType<typeof buildApp>;
    let classTitle = '';

    beforeAll(async () => {
      await generateDistrict({ seed: 5, students: 60, outDir: path.join(dir, 'district') });
      db = await supportedDbs()[0].open();
      lms = await new FakeLms().start();
      const cfg = validateConfig({
        tenants: [{
          id: 'd1', name: 'District', connectors: [{ id: 'sis', type: 'oneroster-csv', settings: { path: path.join(dir, 'district/sis/bulk') } }],
          lti: { platforms: [{ issuer: lms.issuer, clientId: lms.clientId, deploymentIds: [lms.deploymentId], authLoginUrl: `${lms.url}/auth`, authTokenUrl: `${lms.url}/token`, jwksUrl: `${lms.url}/jwks` }] },
        }],
      });
      await ensureTenants(db, cfg.config);
      await runSync({ db, config: cfg }, { tenantId: 'd1', connectorId: 'sis' });
      app = buildApp({ db, config: cfg });
      const h = await listen(app);
      hub = { url: h.url.replace('127.0.0.1', 'localhost'), close: h.close };
      lms.toolJwksUrl = `${hub.url}/lti/keys`;
      const enr = ((await db.knex('records').where({ tenant_id: 'd1', entity_type: 'enrollment' }).whereNull('deleted_at').select('data')) as { data: string }[]).map((r) => JSON.parse(r.data) as { personId: string; classId: string; role: string });
      const te = enr.find((e) => e.role === 'teacher' && enr.filter((x) => x.classId === e.classId && x.role === 'student').length >= 3)!;
      const src = (id: string, type: string) => db.knex('source_records').where({ tenant_id: 'd1', connector_id: 'sis', entity_type: type, unified_id: id }).first('source_id') as Promise<{ source_id: string }>;
      classTitle = (JSON.parse(((await db.knex('records').where({ tenant_id: 'd1', entity_type: 'class', id: te.classId }).first('data')) as { data: string }).data) as { title: string }).title;
      const now = new Date().toISOString();
      const learners = enr.filter((e) => e.classId === te.classId && e.role === 'student');
      await db.knex('mastery').insert(learners.flatMap((l, i) => ['c-alg-1', 'c-alg-2', 'c-alg-3'].map((c, j) => ({
        tenant_id: 'd1', learner_id: l.personId, competency_id: c, framework_id: 'fw-1', method: 'mostRecent', explain: '{}', level: 1 + ((i + j) % 4), scale_min: 1, scale_max: 4, threshold: 3, status: (i + j) % 4 === 3 ? 'mastered' : 'in_progress', evidence_count: 2, updated_at: now,
      }))));
      lms.users.set('t-1', { sub: 't-1', roles: [ROLE.instructor], personSourcedId: (await src(te.personId, 'person')).source_id });
      lms.hints.set('course', { context: { id: 'ctx-1', title: 'Algebra', courseSectionSourcedId: (await src(te.classId, 'class')).source_id } });
    });
    afterAll(async () => {
      if (app) await drainBackgroundRuns(app);
      await hub?.close();
      await lms?.stop();
      await db?.close();
      await closeLti();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('launches the teacher view inside the LMS iframe and renders the class', async () => {
      // A fresh profile (--user-data-dir) per run: playwright passes the directory given here.
      const profile = tmpDir('hub-chromium-');
      const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: ARGS, headless: true, viewport: { width: 1200, height: 900 } });
      try {
        const page = await context.newPage();
        await page.goto(`${lms.url}/course?user=t-1&hint=course&tool=${encodeURIComponent(hub.url)}`);
        const frame = await (async () => {
          for (let i = 0; i < 100; i++) {
            const f = page.frames().find((x) => x.url().includes('/lti/app/class/'));
            if (f) return f;
            await page.waitForTimeout(100);
          }
          throw new Error(`the tool frame never reached the class page; frames: ${page.frames().map((x) => x.url()).join(', ')}`);
        })();
        await frame.waitForSelector('h1');
        expect(await frame.textContent('h1')).toBe(classTitle);
        expect(await frame.locator('table caption').textContent()).toContain('Mastery of each learner per competency');
        expect(await frame.locator('tbody tr').count()).toBeGreaterThanOrEqual(3);
        // Keyboard: the skip link is the first stop.
        await frame.locator('body').press('Tab');
        expect(await frame.evaluate('document.activeElement && document.activeElement.textContent')).toBe('Skip to content');
        fs.mkdirSync(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: path.join(ARTIFACTS, 'lti-teacher-view.png'), fullPage: true });
      } finally {
        await context.close();
        fs.rmSync(profile, { recursive: true, force: true });
      }
    }, 60_000);
  });
}
