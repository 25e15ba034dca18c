/**
 * OneRoster answers errors with the 1.2 `imsx_StatusInfo` payload, not the hub's `/api/v1` envelope:
 *
 *   { "imsx_codeMajor": "failure", "imsx_severity": "error", "imsx_description": "...",
 *     "imsx_CodeMinor": { "imsx_codeMinorField": [{ "imsx_codeMinorFieldName": "TargetEndSystem",
 *                                                   "imsx_codeMinorFieldValue": "unknownobject" }] } }
 *
 * codeMinor values are the OpenAPI's enum (imsx_CodeMinorFieldDType): the spec has no `invalid_sort_field`, so an
 * unknown `sort` field answers `invalid_selection_field` (the description names `sort`).
 */
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { isHubError } from '../../core/errors';
import type { Logger } from '../../core/logger';

export type CodeMinor =
  | 'fullsuccess'
  | 'invalid_filter_field'
  | 'invalid_selection_field'
  | 'invaliddata'
  | 'unauthorisedrequest'
  | 'forbidden'
  | 'server_busy'
  | 'unknownobject'
  | 'internal_server_error';

export class OneRosterError extends Error {
  constructor(
    readonly status: number,
    readonly codeMinor: CodeMinor,
    message: string,
  ) {
    super(message);
    this.name = 'OneRosterError';
  }
}

export const invalidFilter = (msg: string) => new OneRosterError(400, 'invalid_filter_field', msg);
export const invalidSelection = (msg: string) => new OneRosterError(400, 'invalid_selection_field', msg);
export const invalidData = (msg: string, status = 400) => new OneRosterError(status, 'invaliddata', msg);
export const unknownObject = (what: string) => new OneRosterError(404, 'unknownobject', what);
export const unauthorised = (msg: string) => new OneRosterError(401, 'unauthorisedrequest', msg);
export const forbidden = (msg: string) => new OneRosterError(403, 'forbidden', msg);

export function statusInfo(codeMinor: CodeMinor, description: string, codeMajor: 'success' | 'failure' = 'failure') {
  return {
    imsx_codeMajor: codeMajor,
    imsx_severity: codeMajor === 'success' ? 'status' : 'error',
    imsx_description: description,
    imsx_CodeMinor: { imsx_codeMinorField: [{ imsx_codeMinorFieldName: 'TargetEndSystem', imsx_codeMinorFieldValue: codeMinor }] },
  };
}

export function sendOneRosterError(res: Response, e: OneRosterError): void {
  res.locals.errorCode = e.codeMinor;
  if (e.status === 401) res.set('WWW-Authenticate', 'Bearer realm="oneroster", error="invalid_token"');
  res.status(e.status).json(statusInfo(e.codeMinor, e.message));
}

/** body-parser / router errors (http-errors objects with a 4xx status) become `invaliddata`. */
function clientError(err: unknown): OneRosterError | undefined {
  const e = err as { status?: unknown; statusCode?: unknown; type?: unknown } | null;
  if (!e || typeof e !== 'object') return undefined;
  const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : undefined;
  if (status === undefined || status < 400 || status >= 500) return undefined;
  if (e.type === 'entity.parse.failed') return invalidData('The request body is not valid JSON.');
  if (e.type === 'entity.too.large') return new OneRosterError(413, 'invaliddata', 'The request body is larger than 1 MB.');
  return invalidData('The request cannot be read.');
}

export function oneRosterErrorHandler(log: Logger): ErrorRequestHandler {
  return (err, _req, res, next) => {
    if (res.headersSent) return next(err);
    if (err instanceof OneRosterError) return sendOneRosterError(res, err);
    const client = clientError(err);
    if (client) return sendOneRosterError(res, client);
    if (isHubError(err) && err.status < 500) {
      const minor: CodeMinor = err.status === 401 ? 'unauthorisedrequest' : err.status === 403 ? 'forbidden' : err.status === 404 ? 'unknownobject' : 'invaliddata';
      return sendOneRosterError(res, new OneRosterError(err.status, minor, err.message));
    }
    const transient = isHubError(err) && err.code === 'database_unavailable';
    log.error({ reqId: res.locals.reqId, route: res.locals.route ?? null, err: err instanceof Error ? err.stack : String(err) }, 'oneroster request failed');
    sendOneRosterError(res, transient ? new OneRosterError(503, 'server_busy', 'The service is temporarily unavailable.') : new OneRosterError(500, 'internal_server_error', 'Unexpected internal error.'));
  };
}

export const oneRosterNotFound: RequestHandler = (_req, _res, next) => next(unknownObject('No such OneRoster endpoint.'));
