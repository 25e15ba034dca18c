/**
 * The SSRF guard for webhook targets. A subscription URL must be http(s), without credentials, and every address
 * its host resolves to must be a public unicast address — unless the tenant allows private targets
 * (`webhooks.allowPrivateTargets`). Checked when a subscription is created and at every delivery: `guardedLookup`
 * is the `lookup` of the delivery agents, so the address connected to is the address checked (no DNS-rebinding
 * window), and an IP literal (which skips lookup) is checked before the request.
 *
 * Refused: unspecified (0.0.0.0/8, ::), loopback (127/8, ::1), private (10/8, 172.16/12, 192.168/16, fc00::/7,
 * deprecated site-local fec0::/10), link-local (169.254/16 — cloud metadata 169.254.169.254 — and fe80::/10), CGNAT
 * (100.64/10), multicast (224/4, ff00::/8), reserved/broadcast (240/4), IETF protocol assignments (192.0.0/24),
 * benchmarking (198.18/15), documentation ranges, and IPv6 forms that embed an IPv4 address (IPv4-mapped
 * ::ffff:0:0/96, IPv4-compatible ::/96, NAT64 64:ff9b::/96, 6to4 2002::/16) by the embedded address.
 */
import dns from 'node:dns';
import net from 'node:net';
import { HubError } from '../core/errors';

export type AddressClass =
  | 'public' | 'unspecified' | 'loopback' | 'private' | 'link-local' | 'cgnat' | 'multicast' | 'reserved' | 'documentation';

function v4Bytes(a: string): number[] | undefined {
  const parts = a.split('.');
  if (parts.length !== 4) return undefined;
  const out = parts.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : NaN));
  return out.every((n) => n >= 0 && n <= 255) ? out : undefined;
}

function v6Bytes(addr: string): number[] | undefined {
  let a = addr.replace(/^\[|\]$/g, '');
  const zone = a.indexOf('%');
  if (zone >= 0) a = a.slice(0, zone);
  let tail: number[] = [];
  const lastColon = a.lastIndexOf(':');
  if (a.slice(lastColon + 1).includes('.')) {
    const v4 = v4Bytes(a.slice(lastColon + 1));
    if (!v4) return undefined;
    tail = v4;
    a = `${a.slice(0, lastColon + 1)}0:0`;
  }
  const halves = a.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  const fill = 8 - head.length - rest.length;
  if (halves.length === 1 ? head.length !== 8 : fill < 0) return undefined;
  const all = [...head, ...Array(halves.length === 2 ? fill : 0).fill('0'), ...rest];
  const bytes: number[] = [];
  for (const g of all) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    const n = parseInt(g, 16);
    bytes.push(n >> 8, n & 0xff);
  }
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes;
}

function classifyV4(b: number[]): AddressClass {
  const [a, c] = [b[0], b[1]];
  if (a === 0) return 'unspecified';
  if (a === 127) return 'loopback';
  if (a === 10 || (a === 172 && c >= 16 && c <= 31) || (a === 192 && c === 168)) return 'private';
  if (a === 169 && c === 254) return 'link-local';
  if (a === 100 && c >= 64 && c <= 127) return 'cgnat';
  if (a >= 224 && a <= 239) return 'multicast';
  if (a >= 240) return 'reserved';
  if (a === 192 && c === 0 && b[2] === 0) return 'reserved';
  if (a === 198 && (c === 18 || c === 19)) return 'reserved';
  if ((a === 192 && c === 0 && b[2] === 2) || (a === 198 && c === 51 && b[2] === 100) || (a === 203 && c === 0 && b[2] === 113)) return 'documentation';
  return 'public';
}

/** The class of an IP address (v4 or v6 text); undefined when it is not an IP address. */
export function classifyAddress(address: string): AddressClass | undefined {
  const plain = address.replace(/^\[|\]$/g, '');
  const kind = net.isIP(plain.split('%')[0]);
  if (kind === 4) return classifyV4(v4Bytes(plain)!);
  if (kind !== 6) return undefined;
  const b = v6Bytes(plain);
  if (!b) return undefined;
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  if (zero(0, 16)) return 'unspecified';
  if (zero(0, 15) && b[15] === 1) return 'loopback';
  // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d): the embedded address decides.
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return classifyV4(b.slice(12));
  if (zero(0, 12)) return classifyV4(b.slice(12));
  // NAT64 64:ff9b::/96 and 6to4 2002::/16 reach an IPv4 address too.
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12)) return classifyV4(b.slice(12));
  if (b[0] === 0x20 && b[1] === 0x02) return classifyV4(b.slice(2, 6));
  if ((b[0] & 0xfe) === 0xfc) return 'private';
  if (b[0] === 0xfe && (b[1] & 0xc0) === 0x80) return 'link-local';
  if (b[0] === 0xfe && (b[1] & 0xc0) === 0xc0) return 'private';
  if (b[0] === 0xff) return 'multicast';
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0x0d && b[3] === 0xb8) return 'documentation';
  if (b[0] === 0x01 && zero(1, 8)) return 'reserved'; // 100::/64 discard-only
  return 'public';
}

export function refused(url: string, why: string): HubError {
  return new HubError('webhook_target_refused', `url: ${why}`, [{ path: 'url', message: why }]);
}

/** Checks one resolved address; throws webhook_target_refused naming its class. */
export function checkAddress(address: string, allowPrivate: boolean, host: string): void {
  const cls = classifyAddress(address);
  if (cls === undefined) throw refused(host, `'${host}' resolved to something that is not an IP address`);
  if (cls !== 'public' && !allowPrivate) {
    throw refused(host, `'${host}' ${host === address ? 'is' : `resolves to ${address}, which is`} a ${cls} address; webhook targets must be public (a tenant may set webhooks.allowPrivateTargets)`);
  }
}

export interface ParsedTarget {
  url: URL;
  /** Hostname without IPv6 brackets. */
  host: string;
  /** The host is an IP literal (lookup is skipped for it: checked here instead). */
  literal: boolean;
}

/** The static checks: http(s), no credentials, a host, and an IP literal of an allowed class. */
export function parseTarget(raw: string, allowPrivate: boolean): ParsedTarget {
  if (typeof raw !== 'string' || raw.length > 2000) throw refused(String(raw), 'must be a URL of at most 2000 characters');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refused(raw, 'is not a valid absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw refused(raw, `scheme '${url.protocol.replace(/:$/, '')}' is not allowed (only http and https)`);
  if (url.username || url.password) throw refused(raw, 'must not carry credentials (user:password@); the signature authenticates the hub');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!host) throw refused(raw, 'has no host');
  const literal = net.isIP(host) !== 0;
  if (literal) checkAddress(host, allowPrivate, host);
  return { url, host, literal };
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http(s) agents that refuses any non-public address (all of them are checked, whichever one the
 * socket then picks). With `allowPrivate` it is plain dns.lookup.
 */
export function guardedLookup(allowPrivate: boolean) {
  return (hostname: string, options: dns.LookupOptions, callback: LookupCallback): void => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as dns.LookupAddress[];
      if (!list.length) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
      if (!allowPrivate) {
        for (const a of list) {
          try {
            checkAddress(a.address, false, hostname);
          } catch (e) {
            return callback(e as NodeJS.ErrnoException, '', 0);
          }
        }
      }
      if (options.all) return callback(null, list);
      return callback(null, list[0].address, list[0].family);
    });
  };
}

/** The check at creation: static checks, then every address the name resolves to now. */
export async function checkTarget(raw: string, allowPrivate: boolean): Promise<URL> {
  const t = parseTarget(raw, allowPrivate);
  if (t.literal || allowPrivate) return t.url;
  let list: dns.LookupAddress[];
  try {
    list = await dns.promises.lookup(t.host, { all: true });
  } catch {
    throw refused(raw, `'${t.host}' cannot be resolved`);
  }
  if (!list.length) throw refused(raw, `'${t.host}' cannot be resolved`);
  for (const a of list) checkAddress(a.address, false, t.host);
  return t.url;
}
