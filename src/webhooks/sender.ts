/**
 * One HTTP POST of a webhook: keep-alive agents whose `lookup` is the SSRF guard (one pair of agents for tenants
 * that allow private targets, one for the rest, so a socket is never shared across the two policies), a deadline
 * for the whole exchange, no redirects followed (a 3xx is a failure), and at most a short snippet of the response
 * kept. The outcome is classified for the delivery log; nothing here logs.
 */
import http from 'node:http';
import https from 'node:https';
import { isHubError } from '../core/errors';
import { guardedLookup, parseTarget } from './ssrf';

export type ErrorClass =
  | 'timeout' | 'connection_refused' | 'connection_reset' | 'dns' | 'tls' | 'target_refused' | 'redirect' | 'http_status' | 'network' | 'secret_unavailable'
  // Not sent, never in the attempt log: the subscription is disabled, or the delivery's lease is too short to send it.
  | 'disabled' | 'lease_expiring';

export interface SendResult {
  ok: boolean;
  statusCode: number | null;
  durationMs: number;
  errorClass: ErrorClass | null;
  /** A short, safe message (never the secret, never more than a snippet of the response). */
  errorMessage: string | null;
  snippet: string | null;
}

const SNIPPET = 200;
/** The response body is read up to this many bytes (to reuse the connection), then dropped. */
const DRAIN_LIMIT = 64 * 1024;

interface Agents {
  http: http.Agent;
  https: https.Agent;
  lookup: NonNullable<http.AgentOptions['lookup']>;
}

export class WebhookSender {
  private readonly strict: Agents;
  private readonly open: Agents;

  constructor(opts: { maxSockets?: number } = {}) {
    const make = (allowPrivate: boolean): Agents => {
      const lookup = guardedLookup(allowPrivate) as unknown as http.AgentOptions['lookup'];
      const base = { keepAlive: true, maxSockets: opts.maxSockets ?? 64, lookup };
      return { http: new http.Agent(base), https: new https.Agent(base), lookup: lookup! };
    };
    this.strict = make(false);
    this.open = make(true);
  }

  destroy(): void {
    for (const a of [this.strict, this.open]) {
      a.http.destroy();
      a.https.destroy();
    }
  }

  /** POSTs `body` with `headers`; never throws. */
  send(rawUrl: string, body: string, headers: Record<string, string>, opts: { allowPrivate: boolean; timeoutMs: number }): Promise<SendResult> {
    const t0 = process.hrtime.bigint();
    const elapsed = () => Math.round(Number(process.hrtime.bigint() - t0) / 1e6);
    const fail = (errorClass: ErrorClass, errorMessage: string, statusCode: number | null = null, snippet: string | null = null): SendResult =>
      ({ ok: false, statusCode, durationMs: elapsed(), errorClass, errorMessage: errorMessage.slice(0, 300), snippet });
    let url: URL;
    try {
      url = parseTarget(rawUrl, opts.allowPrivate).url;
    } catch (e) {
      return Promise.resolve(fail('target_refused', isHubError(e) ? e.message : 'refused'));
    }
    const agents = opts.allowPrivate ? this.open : this.strict;
    const isHttps = url.protocol === 'https:';
    return new Promise<SendResult>((resolve) => {
      let settled = false;
      const done = (r: SendResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        resolve(r);
      };
      const req = (isHttps ? https : http).request(url, {
        method: 'POST',
        agent: isHttps ? agents.https : agents.http,
        headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'user-agent': 'learner-data-hub-webhooks/1' },
        lookup: agents.lookup,
      });
      const deadline = setTimeout(() => {
        req.destroy();
        done(fail('timeout', `no complete answer within ${opts.timeoutMs} ms`));
      }, opts.timeoutMs);
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < SNIPPET) chunks.push(c);
          size += c.length;
          if (size > DRAIN_LIMIT) res.destroy();
        });
        const finish = () => {
          const snippet = Buffer.concat(chunks).toString('utf8').slice(0, SNIPPET) || null;
          if (status >= 200 && status < 300) return done({ ok: true, statusCode: status, durationMs: elapsed(), errorClass: null, errorMessage: null, snippet });
          if (status >= 300 && status < 400) return done(fail('redirect', `answered ${status}; redirects are not followed`, status, snippet));
          return done(fail('http_status', `answered ${status}`, status, snippet));
        };
        res.on('end', finish);
        res.on('close', finish);
        res.on('error', finish);
      });
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (isHubError(e) && e.code === 'webhook_target_refused') return done(fail('target_refused', e.message));
        const code = e.code ?? '';
        if (code === 'ECONNREFUSED') return done(fail('connection_refused', 'connection refused'));
        if (code === 'ECONNRESET' || code === 'EPIPE') return done(fail('connection_reset', 'connection reset'));
        if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return done(fail('dns', `the host cannot be resolved (${code})`));
        if (code.startsWith('ERR_TLS') || code.startsWith('CERT_') || code.includes('SSL') || code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE') return done(fail('tls', `TLS failure (${code})`));
        return done(fail('network', code ? `network error (${code})` : 'network error'));
      });
      req.end(body);
    });
  }
}
