/**
 * One error envelope for every HTTP answer that is not a success:
 *
 *   { "error": { "code": "snake_case", "message": "...", "details": [{ "path": "...", "message": "..." }] } }
 *
 * with the status of the HubError code (src/core/errors.ts). Unknown errors become `internal_error` with a generic
 * message; their stack goes to the log with the request id, never to the client, and request bodies are never logged.
 */
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { HubError, isHubError, toHubError, type ErrorCode, type ErrorDetail } from '../core/errors';
import type { Logger } from '../core/logger';

export interface ErrorEnvelope {
  error: { code: ErrorCode; message: string; details: ErrorDetail[] };
}

export function envelope(e: HubError): ErrorEnvelope {
  return { error: { code: e.code, message: e.message, details: e.details } };
}

/** A 400 naming the query parameter, header or body field at fault. */
export function badRequest(path: string, message: string): HubError {
  return new HubError('bad_request', `${path}: ${message}`, [{ path, message }]);
}

export function sendError(res: Response, e: HubError): void {
  res.locals.errorCode = e.code;
  if (e.code === 'unauthenticated') res.set('WWW-Authenticate', 'Bearer realm="learner-data-hub"');
  res.status(e.status).json(envelope(e));
}

/** Errors thrown by body-parser / the router (http-errors objects): a client mistake, never a 500. */
function clientError(err: unknown): HubError | undefined {
  const e = err as { type?: unknown; status?: unknown; statusCode?: unknown } | null;
  if (!e || typeof e !== 'object') return undefined;
  const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : undefined;
  if (status === undefined || status < 400 || status >= 500) return undefined;
  switch (e.type) {
    case 'entity.parse.failed':
      return badRequest('body', 'is not valid JSON');
    case 'entity.too.large':
      return badRequest('body', 'is larger than 1 MB');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return badRequest('body', 'has an unsupported encoding or charset (send UTF-8 JSON)');
    default:
      return new HubError('bad_request', 'The request cannot be read.', []);
  }
}

/** knex raises plain Errors when its pool cannot hand out a connection (database gone, pool destroyed). */
function databaseError(err: unknown): HubError | undefined {
  const e = err as { name?: unknown; message?: unknown } | null;
  if (!e || typeof e !== 'object') return undefined;
  if (e.name === 'KnexTimeoutError' || (typeof e.message === 'string' && e.message.startsWith('Unable to acquire a connection'))) {
    return new HubError('database_unavailable', 'The database cannot be reached.', [], { cause: err });
  }
  return undefined;
}

export function toHttpError(err: unknown): HubError {
  if (isHubError(err)) return err;
  return clientError(err) ?? databaseError(err) ?? toHubError(err);
}

export const notFoundHandler: RequestHandler = (_req, _res, next) => {
  next(new HubError('not_found', 'No such route.'));
};

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, _req, res, next) => {
    if (res.headersSent) return next(err);
    const e = toHttpError(err);
    if (e.status >= 500) {
      const cause = isHubError(err) ? (err.cause ?? err) : err;
      log.error(
        { reqId: res.locals.reqId, route: res.locals.route ?? null, code: e.code, err: cause instanceof Error ? cause.stack : String(cause) },
        'request failed',
      );
    }
    sendError(res, e);
  };
}
