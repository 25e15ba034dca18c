/**
 * Structured logging (pino). Logs carry ids, counts and codes — never student data and never secrets: the redact
 * list below is a backstop, not a licence to log records.
 */
import pino from 'pino';

export type Logger = pino.Logger;

const REDACT = [
  '*.password', '*.secret', '*.token', '*.apiKey', '*.authorization', 'req.headers.authorization',
  'req.headers.cookie', '*.clientSecret', '*.raw', '*.data', '*.givenName', '*.familyName', '*.email', '*.birthDate',
];

export function createLogger(opts: { level?: string; name?: string; /** 1 = stdout (default), 2 = stderr */ fd?: 1 | 2 } = {}): Logger {
  const level = opts.level ?? process.env.LOG_LEVEL ?? (process.env.NODE_ENV === 'test' ? 'silent' : 'info');
  return pino({ name: opts.name ?? 'hub', level, redact: { paths: REDACT, censor: '[redacted]' } }, pino.destination({ fd: opts.fd ?? 1, sync: true }));
}

/** A logger that drops everything: for tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' });
