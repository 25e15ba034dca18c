import fs from 'node:fs';
import path from 'node:path';
import { ERROR_CODES, HubError, toHubError } from '../src/core/errors';

describe('error codes', () => {
  const doc = fs.readFileSync(path.join(__dirname, '../docs/errors.md'), 'utf8');
  it.each(Object.entries(ERROR_CODES))('%s is documented in docs/errors.md with its kind and status', (code, e) => {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${code}\` |`));
    expect(row).toBeDefined();
    expect(row).toContain(`| ${e.kind} | ${e.status} |`);
  });
  it('documents no code that does not exist', () => {
    const documented = [...doc.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });
  it('serialises to the envelope shape and hides foreign error messages', () => {
    const e = new HubError('source_invalid', 'users.csv: bad header', [{ path: 'users.csv:1', message: 'expected "sourcedId"' }]);
    expect(e.toJSON()).toEqual({ code: 'source_invalid', message: 'users.csv: bad header', details: [{ path: 'users.csv:1', message: 'expected "sourcedId"' }] });
    expect(e.kind).toBe('config');
    const wrapped = toHubError(new Error('secret password=hunter2'));
    expect(wrapped.code).toBe('internal_error');
    expect(wrapped.message).not.toContain('hunter2');
  });
});
