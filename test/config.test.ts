import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import './helpers/fake-connector';
import { loadConfigFile, validateConfig, resolveSettings } from '../src/core/config';
import { encryptSecret, resolveSecret } from '../src/core/secrets';
import { fakeConnector } from './helpers/fake-connector';

const base = () => ({ tenants: [{ id: 'd1', name: 'District', connectors: [{ id: 'sis', type: 'fake', settings: { source: 'x' } }] }] });
const errorOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return e as { code: string; message: string; details: { path: string; message: string }[] };
  }
  throw new Error('expected an error');
};

describe('configuration', () => {
  it('accepts a valid file', () => {
    expect(validateConfig(base()).config.tenants[0].id).toBe('d1');
  });

  it('names the file, the JSON path and what was expected for unknown keys', () => {
    const cfg = base() as Record<string, unknown>;
    (cfg.tenants as Record<string, unknown>[])[0].colour = 'blue';
    const e = errorOf(() => validateConfig(cfg, '/etc/hub.json'));
    expect(e.code).toBe('config_invalid');
    expect(e.message).toContain('/etc/hub.json');
    expect(e.details[0]).toEqual({ path: '$.tenants[0].colour', message: 'is not allowed here (unknown key)' });
  });

  it('checks cron expressions, connector types, duplicate ids and connector settings', () => {
    const cfg = base();
    const c = cfg.tenants[0].connectors as Record<string, unknown>[];
    c.push({ id: 'sis', type: 'fake', settings: { source: 'y' }, schedule: 'every day' });
    c.push({ id: 'lms', type: 'nope', settings: {} });
    c.push({ id: 'bad', type: 'fake', settings: { sauce: 1 } });
    const e = errorOf(() => validateConfig(cfg));
    const paths = e.details.map((d) => `${d.path}: ${d.message}`);
    expect(paths).toEqual(expect.arrayContaining([
      "$.tenants[0].connectors[1].id: duplicate connector id 'sis' in tenant 'd1'",
      "$.tenants[0].connectors[1].schedule: 'every day' is not a valid cron expression (5 or 6 fields)",
      expect.stringMatching(/^\$\.tenants\[0\]\.connectors\[2\]\.type: unknown connector type 'nope'; expected one of: .*fake/),
      '$.tenants[0].connectors[3].settings.sauce: is not allowed here (unknown key)',
      '$.tenants[0].connectors[3].settings.source: must have required property \'source\'',
    ]));
  });

  it('refuses a secret written as a literal value', () => {
    const cfg = base();
    (cfg.tenants[0].connectors[0].settings as Record<string, unknown>).token = 'hunter2';
    const e = errorOf(() => validateConfig(cfg));
    expect(e.details[0].path).toBe('$.tenants[0].connectors[0].settings.token');
    expect(e.message).not.toContain('hunter2');
  });

  it('reports invalid JSON with file, line and column', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
    const f = path.join(dir, 'hub.config.json');
    fs.writeFileSync(f, '{\n  "tenants": [\n    { "id": "a", }\n  ]\n}\n');
    const e = errorOf(() => loadConfigFile(f));
    expect(e.code).toBe('config_invalid');
    expect(e.message).toMatch(new RegExp(`${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:\\d+`));
    expect(errorOf(() => loadConfigFile(path.join(dir, 'missing.json'))).code).toBe('config_not_found');
  });

  it('resolves $env and $enc secrets at run time only, and names the missing variable', () => {
    const env = { HUB_SECRET_KEY: 'k'.repeat(32), TOKEN: 'from-env' };
    const enc = encryptSecret('s3cret', env);
    expect(enc).toMatch(/^v1:/);
    expect(enc).not.toContain('s3cret');
    expect(resolveSecret({ $enc: enc }, 'x', env)).toBe('s3cret');
    expect(errorOf(() => resolveSecret({ $enc: enc }, '$.a', { HUB_SECRET_KEY: 'other' })).code).toBe('secret_missing');
    expect(resolveSettings(fakeConnector.manifest, { source: 'x', token: { $env: 'TOKEN' } }, '$.s', env)).toEqual({ source: 'x', token: 'from-env' });
    const e = errorOf(() => resolveSettings(fakeConnector.manifest, { source: 'x', token: { $env: 'NOPE' } }, '$.s', env));
    expect(e.code).toBe('connector_config_invalid');
    expect(e.message).toContain('NOPE');
  });

  it('secret fields may be nested (dotted paths): resolved at run time, refused as literals', () => {
    const manifest = { id: 'nested-test', secretFields: ['auth.clientSecret'], configSchema: { type: 'object', additionalProperties: false, properties: { auth: { type: 'object', additionalProperties: false, properties: { clientId: { type: 'string' }, clientSecret: { type: 'string' } } } } } };
    const env = { CS: 'shh' };
    expect(resolveSettings(manifest, { auth: { clientId: 'a', clientSecret: { $env: 'CS' } } }, '$.s', env)).toEqual({ auth: { clientId: 'a', clientSecret: 'shh' } });
    const e = errorOf(() => resolveSettings(manifest, { auth: { clientId: 'a', clientSecret: 'shh' } }, '$.s', env));
    expect(e.details[0]).toEqual({ path: '$.s.auth.clientSecret', message: 'is a secret: give {"$env": "NAME"} or {"$enc": "..."}, never the value itself' });
  });

  it("runs a connector's own semantic checks at load time (mapped-csv: a field the unified schema lacks)", () => {
    const cfg = JSON.parse(fs.readFileSync(path.join(__dirname, '../fixtures/mapped-csv/interim-assessment/config.json'), 'utf8'));
    expect(() => validateConfig(cfg)).not.toThrow();
    const mapping = cfg.tenants[0].connectors[0].settings.mappings.find((m: { entity: string }) => m.entity === 'assessmentResult');
    mapping.fields.shoeSize = { const: '9' };
    const e = errorOf(() => validateConfig(cfg));
    expect(e.code).toBe('config_invalid');
    expect(e.details.some((d) => d.path.startsWith('$.tenants[0].connectors[0].settings.mappings[') && d.path.endsWith('.fields.shoeSize'))).toBe(true);
  });

  it('the demo configuration is valid', () => {
    expect(() => loadConfigFile(path.join(__dirname, '../fixtures/demo/hub.config.json'))).not.toThrow();
  });
});
