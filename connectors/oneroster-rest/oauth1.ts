/**
 * OAuth 1.0a request signing (RFC 5849), as OneRoster 1.1 specifies it: HMAC-SHA256 over the signature base
 * string, two-legged (consumer key and secret, no token), parameters in the `Authorization: OAuth ...` header.
 *
 * Written against the RFC text: §3.4.1 base string (method, base string URI, normalized parameters), §3.6
 * percent-encoding (RFC 3986 unreserved characters only, upper-case hex), §3.4.2 HMAC key
 * `enc(consumerSecret)&enc(tokenSecret)`, §3.5.1 header form. HMAC-SHA1 is kept for the RFC's own test vectors.
 */
import { createHmac, randomBytes } from 'node:crypto';

export type SignatureMethod = 'HMAC-SHA256' | 'HMAC-SHA1';

/** RFC 5849 §3.6: everything but ALPHA / DIGIT / "-" / "." / "_" / "~" is %XX-encoded (UTF-8, upper-case hex). */
export function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** §3.4.1.2: scheme and host lower-case, the port only when it is not the scheme's default, the path; no query. */
export function baseStringUri(url: URL): string {
  const scheme = url.protocol.toLowerCase(); // 'https:'
  const host = url.hostname.toLowerCase();
  const port = url.port && !((scheme === 'http:' && url.port === '80') || (scheme === 'https:' && url.port === '443')) ? `:${url.port}` : '';
  return `${scheme}//${host}${port}${url.pathname || '/'}`;
}

/**
 * §3.4.1.3: the query parameters (decoded as application/x-www-form-urlencoded, so `+` is a space) and the oauth_*
 * protocol parameters (without oauth_signature and realm), plus any form-encoded body parameters; each name and
 * value percent-encoded, sorted by name then value (byte order of the encoded strings), joined as `n=v&n=v`.
 */
export function normalizedParameters(url: URL, oauthParams: Record<string, string>, bodyParams: Array<[string, string]> = []): string {
  const pairs: Array<[string, string]> = [];
  for (const [k, v] of url.searchParams) pairs.push([percentEncode(k), percentEncode(v)]);
  for (const [k, v] of Object.entries(oauthParams)) {
    if (k === 'oauth_signature' || k === 'realm') continue;
    pairs.push([percentEncode(k), percentEncode(v)]);
  }
  for (const [k, v] of bodyParams) pairs.push([percentEncode(k), percentEncode(v)]);
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

/** §3.4.1.1: `METHOD&enc(base string URI)&enc(normalized parameters)`. */
export function signatureBaseString(method: string, url: URL, oauthParams: Record<string, string>, bodyParams: Array<[string, string]> = []): string {
  return [method.toUpperCase(), percentEncode(baseStringUri(url)), percentEncode(normalizedParameters(url, oauthParams, bodyParams))].join('&');
}

/** §3.4.2: base64 HMAC of the base string, keyed by `enc(consumerSecret)&enc(tokenSecret)`. */
export function hmacSignature(method: SignatureMethod, baseString: string, consumerSecret: string, tokenSecret = ''): string {
  const key = `${percentEncode(consumerSecret)}&${percentEncode(tokenSecret)}`;
  return createHmac(method === 'HMAC-SHA256' ? 'sha256' : 'sha1', key).update(baseString).digest('base64');
}

export interface OAuth1Request {
  method: string;
  url: URL;
  consumerKey: string;
  consumerSecret: string;
  token?: string;
  tokenSecret?: string;
  signatureMethod?: SignatureMethod;
  /** For tests; by default 16 random bytes in hex and the current Unix time. */
  nonce?: string;
  timestamp?: number;
  bodyParams?: Array<[string, string]>;
}

/** The protocol parameters with their signature. */
export function signRequest(req: OAuth1Request): Record<string, string> {
  const signatureMethod = req.signatureMethod ?? 'HMAC-SHA256';
  const params: Record<string, string> = {
    oauth_consumer_key: req.consumerKey,
    oauth_nonce: req.nonce ?? randomBytes(16).toString('hex'),
    oauth_signature_method: signatureMethod,
    oauth_timestamp: String(req.timestamp ?? Math.floor(Date.now() / 1000)),
    ...(req.token !== undefined ? { oauth_token: req.token } : {}),
    oauth_version: '1.0',
  };
  const base = signatureBaseString(req.method, req.url, params, req.bodyParams);
  return { ...params, oauth_signature: hmacSignature(signatureMethod, base, req.consumerSecret, req.tokenSecret) };
}

/** §3.5.1: `OAuth k="v", ...` with percent-encoded names and values. */
export function authorizationHeader(params: Record<string, string>): string {
  return `OAuth ${Object.entries(params).map(([k, v]) => `${percentEncode(k)}="${percentEncode(v)}"`).join(', ')}`;
}
