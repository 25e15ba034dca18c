/**
 * The rostering route table is the official OpenAPI's: same paths, GET only, same scopes per path. Read from
 * ../shared/conformance (skipped loudly when absent: a fresh clone has no ../shared; CI has it).
 */
import fs from 'node:fs';
import path from 'node:path';
import { ROSTERING_ROUTES } from '../src/serve/oneroster/routes';

const OPENAPI = path.resolve(__dirname, '../../shared/conformance/oneroster/onerosterv1p2rostersservice_openapi3_v1p0.json');
const present = fs.existsSync(OPENAPI);
if (!present) console.warn(`SKIPPED: OneRoster route table vs the official OpenAPI — ${OPENAPI} is absent (it lives in ../shared; CI has it).`);

(present ? describe : describe.skip)('rostering routes = the official OneRoster 1.2 Rostering OpenAPI', () => {
  const spec = present ? (JSON.parse(fs.readFileSync(OPENAPI, 'utf8')) as { paths: Record<string, Record<string, { security?: Array<{ OAuth2CC: string[] }> }>> }) : { paths: {} };

  test('every path, and no other', () => {
    expect(ROSTERING_ROUTES.map((r) => r.path).sort()).toEqual(Object.keys(spec.paths).sort());
    for (const ops of Object.values(spec.paths)) expect(Object.keys(ops)).toEqual(['get']);
  });

  test('each route accepts exactly the scopes its security block names', () => {
    for (const r of ROSTERING_ROUTES) {
      const scopes = spec.paths[r.path].get.security!.flatMap((s) => s.OAuth2CC);
      expect({ path: r.path, scopes: [...r.scopes].sort() }).toEqual({ path: r.path, scopes: [...scopes].sort() });
    }
  });
});
