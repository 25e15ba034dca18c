/**
 * Query-string and body helpers. Each route declares the query parameters it understands: an unknown one is a 400
 * (a typo such as `?classid=` must not silently return everything), and so is a repeated one.
 */
import type { Request } from 'express';
import { badRequest } from './errors';

export function checkQuery(req: Request, allowed: readonly string[]): void {
  const q = req.query as Record<string, unknown>;
  for (const [name, v] of Object.entries(q)) {
    if (!allowed.includes(name)) {
      throw badRequest(name, allowed.length ? `is not a known query parameter here (known: ${allowed.join(', ')})` : 'this route takes no query parameters');
    }
    if (typeof v !== 'string') throw badRequest(name, 'must be given once');
  }
}

/** A query value (after checkQuery); empty strings count as absent. */
export function queryString(req: Request, name: string): string | undefined {
  const v = (req.query as Record<string, unknown>)[name];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') throw badRequest(name, 'must be given once');
  return v;
}

export function queryBoolean(req: Request, name: string): boolean | undefined {
  const v = queryString(req, name);
  if (v === undefined) return undefined;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw badRequest(name, "must be 'true' or 'false'");
}

export function queryEnum<T extends string>(req: Request, name: string, values: readonly T[]): T | undefined {
  const v = queryString(req, name);
  if (v === undefined) return undefined;
  if (!(values as readonly string[]).includes(v)) throw badRequest(name, `must be one of: ${values.join(', ')}`);
  return v as T;
}

function hasBody(req: Request): boolean {
  const len = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (len !== undefined && len !== '0');
}

/**
 * The JSON object body of a POST, `{}` when there is none. A body that is not JSON (wrong Content-Type) is refused
 * rather than ignored: ignoring `{"dryRun": true}` sent as text/plain would start a real run.
 */
export function jsonObjectBody(req: Request, allowed: readonly string[]): Record<string, unknown> {
  const body: unknown = req.body;
  if (body === undefined) {
    if (hasBody(req)) throw badRequest('body', 'must be sent as application/json');
    return {};
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('body', 'must be a JSON object');
  for (const k of Object.keys(body)) if (!allowed.includes(k)) throw badRequest(k, `is not a known field (known: ${allowed.join(', ') || 'none'})`);
  return body as Record<string, unknown>;
}
