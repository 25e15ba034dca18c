import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { entityValidator, refFields, UNIFIED_SCHEMA_FILES } from '../src/core/schemas';
import { ENTITY_TYPES } from '../src/ingest/contract';

describe('unified schemas', () => {
  it('generated TypeScript types are up to date (run `npm run gen:types`)', () => {
    // A child process: the generator's formatter uses dynamic import(), which jest's VM cannot run.
    const r = spawnSync(process.execPath, [require.resolve('tsx/cli'), path.join(__dirname, '../scripts/gen-types.ts'), '--check'], { encoding: 'utf8' });
    expect(r.stdout.trim()).toBe('types are up to date');
    expect(r.status).toBe(0);
  });
  it('every entity type has a schema file', () => {
    for (const t of ENTITY_TYPES) expect(fs.existsSync(path.join(__dirname, `../schemas/unified/${UNIFIED_SCHEMA_FILES[t]}.schema.json`))).toBe(true);
  });
  it('rejects unknown keys, bad dates and bad enums with JSON paths', () => {
    const v = entityValidator('enrollment');
    expect(v({ id: 'e', classId: 'c', schoolId: 's', personId: 'p', role: 'student', beginDate: '2026-09-01' })).toBe(true);
    expect(v({ id: 'e', classId: 'c', schoolId: 's', personId: 'p', role: 'ext:mentor' })).toBe(true);
    expect(v({ id: 'e', classId: 'c', schoolId: 's', personId: 'p', role: 'pupil', beginDate: '2026-02-30', extra: 1 })).toBe(false);
    const kw = v.errors!.map((e) => `${e.instancePath}:${e.keyword}`);
    expect(kw).toEqual(expect.arrayContaining([':additionalProperties', '/beginDate:format', '/role:anyOf']));
  });
  it('reads reference fields from x-ref annotations', () => {
    expect(refFields('class').map((r) => [r.field, r.target, r.many])).toEqual([
      ['courseId', 'course', false], ['schoolId', 'org', false], ['termIds', 'academicSession', true],
    ]);
  });
});
