/**
 * Errors carry a stable snake_case code and a kind. Code that handles an error matches on `code`, never on the
 * message. Every code is listed in ERROR_CODES and documented in docs/errors.md (a test fails when one is not).
 *
 * Kinds:
 *  - config:    the operator must change configuration or input (bad file, bad mapping, wrong credentials). No retry.
 *  - input:     a request or a record is malformed; the caller must fix it. No retry.
 *  - auth:      authentication or authorization refused.
 *  - transient: the source or a service is temporarily unavailable; retrying later may succeed.
 *  - system:    a bug or an environment failure in the hub itself.
 */
export type ErrorKind = 'config' | 'input' | 'auth' | 'transient' | 'system';

export const ERROR_CODES = {
  config_invalid: { kind: 'config', status: 500, summary: 'The hub configuration file does not match its schema.' },
  config_not_found: { kind: 'config', status: 500, summary: 'The configuration file does not exist or cannot be read.' },
  secret_missing: { kind: 'config', status: 500, summary: 'A secret referenced by the configuration is not set in the environment.' },
  connector_unknown: { kind: 'config', status: 404, summary: 'No connector with that id is configured for the tenant, or no implementation is registered for its type.' },
  connector_config_invalid: { kind: 'config', status: 400, summary: "A connector's settings do not match its config schema." },
  connector_busy: { kind: 'transient', status: 409, summary: 'The connector is already running; a connector never runs twice at once.' },
  source_not_found: { kind: 'config', status: 400, summary: 'The source file, folder or archive does not exist.' },
  source_invalid: { kind: 'config', status: 400, summary: 'The source as a whole is unusable (missing manifest, wrong headers, zip with a folder inside, unsupported version).' },
  source_unauthorized: { kind: 'config', status: 502, summary: 'The source refused the connector\'s credentials (HTTP 401/403, or its token endpoint refused the client).' },
  source_unavailable: { kind: 'transient', status: 503, summary: 'The source could not be reached or answered with a temporary failure.' },
  record_invalid: { kind: 'input', status: 422, summary: 'A record does not match its unified schema (rejected, kept in the reject report).' },
  reference_unresolved: { kind: 'input', status: 422, summary: 'A record refers to another record that the source never supplied (rejected).' },
  row_malformed: { kind: 'input', status: 422, summary: 'A source row cannot be parsed (wrong column count, bad quoting, bad value).' },
  sweep_refused: { kind: 'config', status: 409, summary: 'A full refresh would delete more than the allowed share of records, or the source returned nothing; the run needs review.' },
  run_cancelled: { kind: 'transient', status: 409, summary: 'The run was cancelled (shutdown or operator); committed pages are kept and the next run resumes.' },
  run_not_found: { kind: 'input', status: 404, summary: 'No run with that id exists for the tenant.' },
  run_not_reviewable: { kind: 'input', status: 409, summary: 'The run is not waiting for review, or a newer run has superseded it.' },
  unsupported_media_type: { kind: 'input', status: 415, summary: 'The request body is not sent as application/json (or application/ld+json), or in an unsupported encoding or charset.' },
  payload_too_large: { kind: 'input', status: 413, summary: "The request body is larger than the endpoint accepts (the tenant's caliper.maxPayloadBytes, 1 MB by default)." },
  unsupported_version: { kind: 'input', status: 422, summary: 'The Caliper envelope names a dataVersion the hub does not support (it supports Caliper 1.1 and 1.2).' },
  event_invalid: { kind: 'input', status: 400, summary: 'Every event and entity in the Caliper envelope failed validation, so nothing was stored; details name each problem by JSON path.' },
  webhook_target_refused: { kind: 'input', status: 400, summary: 'A webhook URL is refused: not http(s), carries credentials, cannot be resolved, or resolves to a loopback, private, link-local, CGNAT, multicast or other non-public address (unless the tenant sets webhooks.allowPrivateTargets).' },
  webhook_config_managed: { kind: 'input', status: 409, summary: 'The webhook subscription is declared in hub.config.json: change it there (the API may only enable or disable it).' },
  lti_launch_refused: { kind: 'auth', status: 401, summary: 'An LTI launch was refused (bad signature, unknown kid, issuer, audience or deployment, expired or replayed token, unknown state, nonce mismatch, missing claims, or no matching person); the page and the log give the reason code.' },
  lti_registration_failed: { kind: 'config', status: 502, summary: "LTI Dynamic Registration failed: the platform's OpenID configuration or registration endpoint could not be used (details name the step)." },
  export_not_found: { kind: 'input', status: 404, summary: 'No state export with that id exists for the tenant, or its file is no longer on disk.' },
  export_not_ready: { kind: 'input', status: 409, summary: 'The state export is still running or has failed: there is nothing to download (GET the export for its status and error).' },
  crosswalk_cycle: { kind: 'config', status: 409, summary: 'Competency crosswalks (CASE associations) form a loop, so evidence would count toward itself; nothing is derived until the loop is broken.' },
  competency_unknown: { kind: 'input', status: 422, summary: 'Evidence or an alignment names a competency the tenant has no framework item for (recorded as an evidence problem).' },
  learner_unknown: { kind: 'input', status: 422, summary: 'Evidence names a learner the hub does not know (recorded as an evidence problem).' },
  score_out_of_scale: { kind: 'input', status: 422, summary: 'A score lies outside its own scale, or has no scale to be mapped from (recorded as an evidence problem).' },
  database_unavailable: { kind: 'transient', status: 503, summary: 'The database cannot be reached.' },
  unauthenticated: { kind: 'auth', status: 401, summary: 'No valid API key or bearer token was presented.' },
  forbidden: { kind: 'auth', status: 403, summary: 'The credential is valid but not allowed to do this (scope or tenant).' },
  not_found: { kind: 'input', status: 404, summary: 'The resource does not exist (or is not visible to this credential).' },
  version_conflict: { kind: 'input', status: 409, summary: 'The entry was changed since the version the edit was based on (If-Match); nothing was applied.' },
  precondition_required: { kind: 'input', status: 428, summary: 'The edit does not say which version it was based on (If-Match header or version field).' },
  bad_request: { kind: 'input', status: 400, summary: 'The request is malformed (query parameter, cursor, body).' },
  internal_error: { kind: 'system', status: 500, summary: 'An unexpected error inside the hub; the log has the details (never student data).' },
} as const satisfies Record<string, { kind: ErrorKind; status: number; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorDetail {
  /** Where: file:line, JSON path, claim name, query parameter... */
  path?: string;
  message: string;
  [k: string]: unknown;
}

export class HubError extends Error {
  readonly code: ErrorCode;
  readonly kind: ErrorKind;
  readonly status: number;
  readonly details: ErrorDetail[];

  constructor(code: ErrorCode, message: string, details: ErrorDetail[] = [], options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HubError';
    this.code = code;
    this.kind = ERROR_CODES[code].kind;
    this.status = ERROR_CODES[code].status;
    this.details = details;
  }

  toJSON(): { code: ErrorCode; message: string; details: ErrorDetail[] } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isHubError(e: unknown): e is HubError {
  return e instanceof HubError;
}

/** Wraps anything thrown into a HubError without leaking its message when it is not ours. */
export function toHubError(e: unknown): HubError {
  if (isHubError(e)) return e;
  const code = (e as { code?: string } | null)?.code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === '57P03' || code === 'ETIMEDOUT') {
    return new HubError('database_unavailable', `The database cannot be reached (${code}).`, [], { cause: e });
  }
  return new HubError('internal_error', 'Unexpected internal error.', [], { cause: e });
}
