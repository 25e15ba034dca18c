/**
 * Error codes the Caliper endpoint needs that src/core/errors.ts does not have yet. They answer with the same
 * envelope `{error:{code,message,details}}`; once the codes are added to ERROR_CODES (and docs/errors.md) this map
 * can go and `caliperError` can return a HubError.
 */
import { ERROR_CODES, HubError, type ErrorDetail, type ErrorKind } from '../core/errors';

export const CALIPER_ERROR_CODES = {
  unsupported_media_type: { kind: 'input', status: 415, summary: 'The request body is not sent as application/json (or application/ld+json), or in an unsupported encoding or charset.' },
  payload_too_large: { kind: 'input', status: 413, summary: "The request body is larger than the endpoint accepts (the tenant's caliper.maxPayloadBytes, 1 MB by default)." },
  unsupported_version: { kind: 'input', status: 422, summary: 'The Caliper envelope names a dataVersion the hub does not support (it supports Caliper 1.1 and 1.2).' },
  event_invalid: { kind: 'input', status: 400, summary: 'Every event and entity in the Caliper envelope failed validation, so nothing was stored; details name each problem by JSON path.' },
} as const satisfies Record<string, { kind: ErrorKind; status: number; summary: string }>;

export type CaliperErrorCode = keyof typeof CALIPER_ERROR_CODES;

/** A Caliper-only error; the caliper router's error handler turns it into the standard envelope. */
export class CaliperError extends Error {
  readonly code: CaliperErrorCode;
  readonly kind: ErrorKind;
  readonly status: number;
  readonly details: ErrorDetail[];

  constructor(code: CaliperErrorCode, message: string, details: ErrorDetail[] = []) {
    super(message);
    this.name = 'CaliperError';
    this.code = code;
    this.kind = CALIPER_ERROR_CODES[code].kind;
    this.status = CALIPER_ERROR_CODES[code].status;
    this.details = details;
  }
}

/** A HubError when core knows the code (after errors.ts gains it), else a CaliperError: same envelope either way. */
export function caliperError(code: CaliperErrorCode, message: string, details: ErrorDetail[] = []): HubError | CaliperError {
  if (code in ERROR_CODES) return new HubError(code as never, message, details);
  return new CaliperError(code, message, details);
}
