/**
 * The command line as a user runs it: a child process per command (through tsx, no build needed).
 * Also the README's quick start: `hub start` generates and syncs the demo district and serves it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { accessDemoLines, caliperDemoLines, demoSecret, shellRef } from '../src/cli/demo';

const ROOT = path.join(__dirname, '..');
const CLI = [require.resolve('tsx/cli'), path.join(ROOT, 'src/cli/main.ts')];
const env = { ...process.env, CI: 'true', LOG_LEVEL: 'warn', HUB_CONFIG: '' };

function hub(args: string[], extraEnv: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [...CLI, ...args], { encoding: 'utf8', env: { ...env, ...extraEnv }, cwd: ROOT, timeout: 60000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('hub CLI', () => {
  let dir: string;
  let cfg: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-cli-'));
    cfg = path.join(dir, 'hub.config.json');
    fs.writeFileSync(cfg, JSON.stringify({
      database: { url: './hub.sqlite' },
      tenants: [{ id: 'acme', name: 'Acme USD', connectors: [
        { id: 'sis', type: 'oneroster-csv', settings: { path: path.join(ROOT, 'fixtures/oneroster-csv/or12-bulk') } },
        { id: 'broken', type: 'oneroster-csv', settings: { path: path.join(ROOT, 'fixtures/oneroster-csv/bad-header') } },
      ] }],
    }));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('config validate names the file, the JSON path and the expectation', () => {
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ tenants: [{ id: 'x', name: 'X', connectors: [{ id: 'a', type: 'oneroster-csv', schedule: 'often', settings: { path: '.' } }] }] }));
    const r = hub(['config', 'validate', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error config_invalid: ${bad}: $.tenants[0].connectors[0].schedule: 'often' is not a valid cron expression`);
    const ok = hub(['config', 'validate', cfg]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('valid (1 tenant(s), 2 connector(s)');
  });

  it('sync exits with the error when a connector that reads in the worker fails before its first read (its plan)', () => {
    // The read worker is started as soon as the config is loaded; a run that fails before opening a read must not
    // leave it holding the process open (it did: the worker's message listener re-referenced it).
    const src = path.join(dir, 'not-edfi');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'Roster.xml'), '<?xml version="1.0"?>\n<Roster xmlns="http://example.org/x"><a/></Roster>\n');
    const edfiCfg = path.join(dir, 'edfi.config.json');
    fs.writeFileSync(edfiCfg, JSON.stringify({
      database: { url: './edfi.sqlite' },
      tenants: [{ id: 'acme', name: 'Acme USD', connectors: [{ id: 'state', type: 'edfi-xml', settings: { path: src } }] }],
    }));
    const r = spawnSync(process.execPath, [...CLI, '--config', edfiCfg, 'sync', 'state'], { encoding: 'utf8', env: { ...env, HUB_READ_THREADS: 'auto' }, cwd: ROOT, timeout: 20000 });
    expect(r.status).toBe(1); // a process left hanging is killed at the timeout, with another status
    expect(r.stdout).toContain('error source_invalid: Roster.xml:2: the root element is <Roster>, not an Ed-Fi interchange');
  });

  it('sync --dry-run writes nothing, sync writes, a re-run is all unchanged, runs lists them', () => {
    const dry = hub(['--config', cfg, 'sync', 'sis', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/\(dry run\) succeeded/);
    const first = hub(['--config', cfg, 'sync', 'sis']);
    expect(first.stdout).toMatch(/succeeded/);
    const inserted = Number(/inserted (\d+)/.exec(first.stdout)![1]);
    expect(inserted).toBeGreaterThan(10);
    expect(/inserted (\d+)/.exec(dry.stdout)![1]).toBe(String(inserted));
    const again = hub(['--config', cfg, 'sync', 'sis']);
    expect(again.stdout).toMatch(/inserted 0 {2}updated 0/);
    const runs = hub(['--config', cfg, 'runs']);
    expect(runs.stdout.trim().split('\n')).toHaveLength(3);
    expect(runs.stdout).toContain('succeeded*');
  });

  it('a broken source fails the run with a clear error and exit code 1', () => {
    const r = hub(['--config', cfg, 'sync', 'broken']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('error source_invalid: users.csv:1: expected column 5 to be "username", found "userName"');
  });

  it('an unknown connector or missing secret is an error, not a crash', () => {
    const r = hub(['--config', cfg, 'sync', 'nope']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error connector_unknown: No connector 'nope' is configured for tenant 'acme'.");
  });

  it('quick start: `hub start` generates, syncs and serves the demo district', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const child = spawn(process.execPath, [...CLI, '--database', path.join(dir, 'demo.sqlite'), 'start', '--port', String(port)], { env: { ...env, HUB_API_KEY: 'test-demo-key', HUB_CALIPER_TOKEN: 'test-caliper-token' }, cwd: ROOT });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    try {
      for (let i = 0; i < 600 && !out.includes('listening on'); i++) await new Promise((r) => setTimeout(r, 100));
      expect(out).toContain('listening on');
      expect(out).toMatch(/run run_\w+ succeeded/);
      expect(out).toMatch(/rejects \(first \d+ of \d+/);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(await health.json()).toEqual({ status: 'ok', database: 'ok' });
      const persons = await fetch(`http://127.0.0.1:${port}/api/v1/tenants/demo/persons?limit=3`, { headers: { authorization: 'Bearer test-demo-key' } });
      expect(persons.status).toBe(200);
      expect(((await persons.json()) as { data: unknown[] }).data).toHaveLength(3);
      expect((await fetch(`http://127.0.0.1:${port}/api/v1/tenants/demo/persons`)).status).toBe(401);

      // The demo Caliper sensor: the banner's curl posts the generator's first envelope with the sensor's token.
      expect(out).toContain('Caliper 1.2: sensor https://practice-lab.example/sensors/district, token from HUB_CALIPER_TOKEN');
      const curl = out.split('\n').find((l) => l.includes('/caliper/demo'))!;
      expect(curl).toContain(`head -n 1 fixtures/demo/district/caliper/events.ndjson | curl`);
      expect(curl).toContain('-H "Authorization: Bearer $HUB_CALIPER_TOKEN"');
      expect(curl).toContain(`--data-binary @- http://127.0.0.1:${port}/caliper/demo`);
      const envelope = fs.readFileSync(path.join(ROOT, 'fixtures/demo/district/caliper/events.ndjson'), 'utf8').split('\n')[0];
      const post = (token: string) => fetch(`http://127.0.0.1:${port}/caliper/demo`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: envelope });
      expect((await post('not-the-token')).status).toBe(401);
      const posted = await post('test-caliper-token');
      expect(posted.status).toBe(200);
      expect(await posted.text()).toBe('');
      const ids = (JSON.parse(envelope) as { data: Array<{ id: string }> }).data.map((e) => e.id);
      const events = await fetch(`http://127.0.0.1:${port}/api/v1/tenants/demo/learning-events?limit=100`, { headers: { authorization: 'Bearer test-demo-key' } });
      expect(events.status).toBe(200);
      const stored = ((await events.json()) as { data: Array<{ data: { id: string }; meta: { sensor: string } }> }).data;
      expect(stored.map((e) => e.data.id)).toEqual(ids);
      expect(stored.every((e) => e.meta.sensor === 'https://practice-lab.example/sensors/district')).toBe(true);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }, 90000);

  describe('demo secrets (hub start)', () => {
    it('made once in their file (mode 0600), reused afterwards, set into the environment; an environment value wins and nothing is written', () => {
      const file = path.join(dir, 'secrets/demo-caliper-token');
      const env1: NodeJS.ProcessEnv = {};
      const a = demoSecret(env1, 'HUB_CALIPER_TOKEN', file, 'demo_cal_');
      expect(a).toEqual({ value: expect.stringMatching(/^demo_cal_[A-Za-z0-9_-]{24}$/), fromEnv: false, file });
      expect(env1.HUB_CALIPER_TOKEN).toBe(a.value);
      expect(fs.readFileSync(file, 'utf8')).toBe(`${a.value}\n`);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      const b = demoSecret({}, 'HUB_CALIPER_TOKEN', file, 'demo_cal_');
      expect(b.value).toBe(a.value);
      // An empty file (truncated by hand) gets a new value rather than an empty token.
      fs.writeFileSync(file, '\n');
      const c = demoSecret({}, 'HUB_CALIPER_TOKEN', file, 'demo_cal_');
      expect(c.value).toMatch(/^demo_cal_/);
      const other = path.join(dir, 'secrets/never-written');
      const d = demoSecret({ HUB_CALIPER_TOKEN: 'from-env' }, 'HUB_CALIPER_TOKEN', other, 'demo_cal_');
      expect(d).toEqual({ value: 'from-env', fromEnv: true, file: other });
      expect(fs.existsSync(other)).toBe(false);
      expect(shellRef(c, 'HUB_CALIPER_TOKEN', dir)).toBe('$(cat secrets/demo-caliper-token)');
      expect(shellRef(d, 'HUB_CALIPER_TOKEN', dir)).toBe('$HUB_CALIPER_TOKEN');
    });

    it('the API and OneRoster banner shows generated demo secrets with their file, and names secrets from the environment without their value', () => {
      const generated = accessDemoLines({
        baseUrl: 'http://127.0.0.1:3999', tenant: 'demo', cwd: dir,
        apiKey: { value: 'demo_k', fromEnv: false, file: path.join(dir, '.hub/demo-api-key') },
        oneRosterSecret: { value: 'demo_or_s', fromEnv: false, file: path.join(dir, '.hub/demo-oneroster-secret') },
      });
      expect(generated[0]).toBe('Demo API key (stored in .hub/demo-api-key): demo_k');
      expect(generated).toContain('  curl -H "Authorization: Bearer $(cat .hub/demo-api-key)" http://127.0.0.1:3999/api/v1/tenants/demo/runs');
      expect(generated.find((l) => l.startsWith('OneRoster'))).toBe('OneRoster 1.2: client id demo-vendor, secret (stored in .hub/demo-oneroster-secret): demo_or_s');
      expect(generated.find((l) => l.includes('TOKEN=$('))).toContain('-u demo-vendor:$(cat .hub/demo-oneroster-secret) ');
      const fromEnv = accessDemoLines({
        baseUrl: 'http://h', tenant: 't', cwd: dir,
        apiKey: { value: 'operators-real-key', fromEnv: true, file: '/x' },
        oneRosterSecret: { value: 'real-oneroster-secret', fromEnv: true, file: '/y' },
      });
      const text = fromEnv.join('\n');
      expect(text).not.toContain('operators-real-key');
      expect(text).not.toContain('real-oneroster-secret');
      expect(fromEnv[0]).toBe('Demo API key from HUB_API_KEY');
      expect(text).toContain('Bearer $HUB_API_KEY');
      expect(text).toContain('-u demo-vendor:$HUB_ONEROSTER_SECRET ');
    });

    it('the Caliper banner names the sensor, shows a generated token (never one from the environment) and posts the first envelope', () => {
      const token = { value: 'demo_cal_x', fromEnv: false, file: path.join(dir, '.hub/demo-caliper-token') };
      const lines = caliperDemoLines({
        baseUrl: 'http://127.0.0.1:3999', tenant: 'demo', sensor: 'https://practice-lab.example/sensors/district', token, tokenEnv: 'HUB_CALIPER_TOKEN',
        eventsFile: path.join(dir, 'district/caliper/events.ndjson'), apiKeyRef: '$(cat .hub/demo-api-key)', cwd: dir,
      });
      expect(lines).toEqual([
        'Caliper 1.2: sensor https://practice-lab.example/sensors/district, token (stored in .hub/demo-caliper-token): demo_cal_x',
        `  head -n 1 district/caliper/events.ndjson | curl -sS -w '%{http_code}\\n' -X POST -H "Authorization: Bearer $(cat .hub/demo-caliper-token)" -H 'Content-Type: application/json' --data-binary @- http://127.0.0.1:3999/caliper/demo`,
        '  curl -H "Authorization: Bearer $(cat .hub/demo-api-key)" "http://127.0.0.1:3999/api/v1/tenants/demo/learning-events?limit=5"',
      ]);
      const fromEnv = caliperDemoLines({
        baseUrl: 'http://h', tenant: 't', sensor: 'https://s.example/1', token: { value: 'secret-from-env', fromEnv: true, file: '/x' }, tokenEnv: 'HUB_CALIPER_TOKEN',
        eventsFile: '/e.ndjson', apiKeyRef: '$HUB_API_KEY', cwd: '/',
      });
      expect(fromEnv.join('\n')).not.toContain('secret-from-env');
      expect(fromEnv[0]).toBe('Caliper 1.2: sensor https://s.example/1, token from HUB_CALIPER_TOKEN');
    });
  });
});
