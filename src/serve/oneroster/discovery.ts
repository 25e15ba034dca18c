/**
 * Service discovery: each service serves an OpenAPI 3.0 document of what this hub implements, generated from the
 * route table (paths, parameters, the OAuth 2.0 client-credentials scheme with its token URL, and each operation's
 * scopes) — the official 1EdTech files are not redistributed. Served without authentication at
 * `<base>/discovery` and at the spec's file name `<base>/discovery/onerosterv1p2<service>service_openapi3_v1p0.json`.
 */
import { READ_ROUTES, serviceBase, type ReadRoute } from './routes';
import { WRITE_ROUTES } from './write-routes';
import { ALL_OR_SCOPES } from './scopes';
import { TOKEN_PATH } from './auth';

export const DISCOVERY_FILES: Record<ReadRoute['service'], string> = {
  rostering: 'onerosterv1p2rostersservice_openapi3_v1p0.json',
  gradebook: 'onerosterv1p2gradebookservice_openapi3_v1p0.json',
  resources: 'onerosterv1p2resourcesservice_openapi3_v1p0.json',
};

const LIST_PARAMS = [
  { name: 'limit', in: 'query', required: false, schema: { type: 'integer', format: 'int32', default: 100, minimum: 1, maximum: 1000 } },
  { name: 'offset', in: 'query', required: false, schema: { type: 'integer', format: 'int32', default: 0, minimum: 0 } },
  { name: 'sort', in: 'query', required: false, schema: { type: 'string' } },
  { name: 'orderBy', in: 'query', required: false, schema: { type: 'string', enum: ['asc', 'desc'] } },
  { name: 'filter', in: 'query', required: false, schema: { type: 'string' } },
  { name: 'fields', in: 'query', required: false, style: 'form', explode: false, schema: { type: 'array', items: { type: 'string' } } },
];

const opId = (method: string, path: string) =>
  method + path.split('/').filter(Boolean).map((s) => (s.startsWith('{') ? `By${s.slice(1, -1)[0].toUpperCase()}${s.slice(2, -1)}` : s[0].toUpperCase() + s.slice(1))).join('');

export function discoveryDocument(service: ReadRoute['service'], origin: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const error = { description: 'imsx_StatusInfo', content: { 'application/json': { schema: { $ref: '#/components/schemas/imsx_StatusInfoDType' } } } };
  const add = (method: string, path: string, scopes: readonly string[], kind: string, extra: Record<string, unknown> = {}) => {
    const pathParams = [...path.matchAll(/\{([A-Za-z]+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    (paths[path] ??= {})[method] = {
      operationId: opId(method, path),
      parameters: [...pathParams, ...(kind === 'list' ? LIST_PARAMS : kind === 'single' ? [LIST_PARAMS[5]] : [])],
      security: [{ OAuth2CC: [...scopes] }],
      responses: {
        ...(kind === 'list' ? { 200: { description: 'A collection', headers: { 'X-Total-Count': { schema: { type: 'integer' } }, Link: { schema: { type: 'string' } } } } } : {}),
        ...(kind === 'single' ? { 200: { description: 'One object' } } : {}),
        ...extra,
        400: error, 401: error, 403: error, 404: error, 422: error, 429: error, 500: error, default: error,
      },
    };
  };
  for (const r of READ_ROUTES.filter((x) => x.service === service)) add('get', r.path, r.scopes, r.kind);
  for (const w of WRITE_ROUTES.filter(() => service === 'gradebook')) {
    add(w.method, w.path, [w.scope], 'write', w.method === 'put' ? { 200: { description: 'Updated' }, 201: { description: 'Created' } } : w.method === 'post' ? { 201: { description: 'sourcedIdPairs' } } : { 204: { description: 'Deleted' } });
  }
  return {
    openapi: '3.0.0',
    info: { title: `OneRoster 1.2 ${service} service (Learner Data Hub)`, version: '1.2' },
    servers: [{ url: `${origin}${serviceBase(service)}` }],
    paths,
    components: {
      securitySchemes: {
        OAuth2CC: {
          type: 'oauth2',
          flows: { clientCredentials: { tokenUrl: `${origin}${TOKEN_PATH}`, scopes: Object.fromEntries(ALL_OR_SCOPES.map((s) => [s, s.split('/').pop()])) } },
        },
      },
      schemas: {
        imsx_StatusInfoDType: {
          type: 'object',
          required: ['imsx_codeMajor', 'imsx_severity'],
          properties: { imsx_codeMajor: { type: 'string' }, imsx_severity: { type: 'string' }, imsx_description: { type: 'string' }, imsx_CodeMinor: { type: 'object' } },
        },
      },
    },
  };
}
