/**
 * The SSRF guard and the signature scheme, without a database: address classes (v4, v6, IPv4 embedded in v6),
 * URL rules, the lookup used by the delivery agents, and Standard Webhooks signatures checked against an
 * independent implementation written here from the convention.
 */
import { createHmac } from 'node:crypto';
import { checkTarget, classifyAddress, guardedLookup, parseTarget } from '../src/webhooks/ssrf';
import { newWebhookSecret, sign, signatureHeader, secretKey, verifySignature } from '../src/webhooks/signing';
import { backoffMs } from '../src/webhooks/store';
import { isHubError } from '../src/core/errors';
import { validateConfig } from '../src/core/config';

describe('address classes', () => {
  it.each([
    ['127.0.0.1', 'loopback'], ['127.255.0.9', 'loopback'], ['0.0.0.0', 'unspecified'], ['10.1.2.3', 'private'], ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'], ['192.168.10.1', 'private'], ['169.254.169.254', 'link-local'], ['100.64.0.1', 'cgnat'], ['100.127.255.1', 'cgnat'],
    ['224.0.0.251', 'multicast'], ['239.1.1.1', 'multicast'], ['255.255.255.255', 'reserved'], ['240.0.0.1', 'reserved'], ['192.0.0.8', 'reserved'],
    ['198.18.0.1', 'reserved'], ['192.0.2.1', 'documentation'],
    ['::', 'unspecified'], ['::1', 'loopback'], ['fc00::1', 'private'], ['fd12:3456::1', 'private'], ['fe80::1', 'link-local'], ['fe80::1%eth0', 'link-local'],
    ['ff02::1', 'multicast'], ['fec0::1', 'private'],
    ['::ffff:127.0.0.1', 'loopback'], ['::ffff:7f00:1', 'loopback'], ['::ffff:169.254.169.254', 'link-local'], ['::ffff:a9fe:a9fe', 'link-local'],
    ['::127.0.0.1', 'loopback'], ['64:ff9b::10.0.0.1', 'private'], ['2002:7f00:1::', 'loopback'], ['2002:a9fe:a9fe::1', 'link-local'],
    ['[::1]', 'loopback'],
    ['93.184.216.34', 'public'], ['8.8.8.8', 'public'], ['172.32.0.1', 'public'], ['100.128.0.1', 'public'], ['2606:4700::1111', 'public'], ['::ffff:8.8.8.8', 'public'],
  ])('%s is %s', (addr, cls) => {
    expect(classifyAddress(addr)).toBe(cls);
  });
  it('is undefined for names and garbage', () => {
    for (const x of ['localhost', 'example.com', '1.2.3', '1::2::3', '', '::gggg']) expect(classifyAddress(x)).toBeUndefined();
  });
});

describe('webhook URLs', () => {
  const refusedFor = (url: string, allow = false) => {
    try {
      parseTarget(url, allow);
      return undefined;
    } catch (e) {
      if (!isHubError(e)) throw e;
      expect(e.code).toBe('webhook_target_refused');
      expect(e.details[0].path).toBe('url');
      return e.message;
    }
  };
  it('refuses every non-public literal, including the URL parser\'s numeric forms and IPv6-mapped IPv4', () => {
    for (const u of [
      'http://127.0.0.1/', 'http://2130706433/', 'http://0x7f.1/', 'http://0177.0.0.1/', 'http://[::1]:8080/', 'http://[::ffff:127.0.0.1]/',
      'http://169.254.169.254/latest/meta-data/', 'http://10.0.0.5/', 'http://192.168.1.1/', 'http://172.20.1.1/', 'http://100.64.1.1/',
      'http://0.0.0.0/', 'http://[::]/', 'http://[fc00::1]/', 'http://[fe80::1]/', 'http://224.0.0.1/', 'http://[ff02::1]/',
    ]) {
      expect(refusedFor(u)).toMatch(/address; webhook targets must be public/);
    }
  });
  it('refuses other schemes and credentials even when private targets are allowed', () => {
    expect(refusedFor('ftp://example.com/x', true)).toMatch(/scheme 'ftp'/);
    expect(refusedFor('file:///etc/passwd', true)).toMatch(/scheme 'file'/);
    expect(refusedFor('http://user:pw@example.com/', true)).toMatch(/credentials/);
    expect(refusedFor('not a url', true)).toMatch(/not a valid absolute URL/);
  });
  it('accepts public literals, and private ones when allowed', () => {
    expect(refusedFor('https://93.184.216.34/hook')).toBeUndefined();
    expect(refusedFor('http://127.0.0.1:9/', true)).toBeUndefined();
  });
  it('resolves names at creation: localhost resolves to loopback and is refused', async () => {
    await expect(checkTarget('http://localhost:8080/hook', false)).rejects.toMatchObject({ code: 'webhook_target_refused', message: expect.stringMatching(/'localhost' resolves to .*loopback/) });
    await expect(checkTarget('http://localhost:8080/hook', true)).resolves.toBeInstanceOf(URL);
    await expect(checkTarget('http://no-such-host.invalid/', false)).rejects.toMatchObject({ code: 'webhook_target_refused', message: expect.stringMatching(/cannot be resolved/) });
  });
  it('the agents\' lookup refuses a name that resolves to loopback, whatever the family asked for', async () => {
    const lookup = guardedLookup(false);
    for (const options of [{}, { all: true }, { family: 4 }]) {
      const err = await new Promise<unknown>((resolve) => lookup('localhost', options, (e) => resolve(e)));
      expect(err).toMatchObject({ code: 'webhook_target_refused' });
    }
    const ok = await new Promise<unknown[]>((resolve) => guardedLookup(true)('localhost', {}, (e, a, f) => resolve([e, a, f])));
    expect(ok[0]).toBeNull();
    expect(classifyAddress(String(ok[1]))).toBe('loopback');
  });
});

/** The convention, implemented independently: key = base64-decode(after "whsec_"), HMAC-SHA256 over id.ts.body. */
function independentVerify(secret: string, id: string, ts: string, body: string, header: string): boolean {
  const key = Buffer.from(secret.split('_')[1], 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64');
  return header.split(' ').some((p) => p === `v1,${expected}`);
}

describe('Standard Webhooks signatures', () => {
  it('a new secret is whsec_ + base64 of 32 bytes', () => {
    const s = newWebhookSecret();
    expect(s).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(secretKey(s)).toHaveLength(32);
    expect(secretKey('whsec_short')).toBeUndefined();
    expect(secretKey('nope')).toBeUndefined();
  });
  it('matches the convention, verifies, and fails on a tampered body, id, timestamp or secret', () => {
    const secret = newWebhookSecret();
    const body = '{"type":"learner.updated","timestamp":"2025-01-01T00:00:00.000Z","data":{"seq":1}}';
    const header = signatureHeader([secretKey(secret)!], 'msg_abc', 1700000000, body);
    expect(independentVerify(secret, 'msg_abc', '1700000000', body, header)).toBe(true);
    expect(verifySignature(secret, 'msg_abc', 1700000000, body, header)).toBe(true);
    expect(independentVerify(secret, 'msg_abc', '1700000000', body.replace('"seq":1', '"seq":2'), header)).toBe(false);
    expect(verifySignature(secret, 'msg_abc', 1700000000, `${body} `, header)).toBe(false);
    expect(verifySignature(secret, 'msg_abd', 1700000000, body, header)).toBe(false);
    expect(verifySignature(secret, 'msg_abc', 1700000001, body, header)).toBe(false);
    expect(verifySignature(newWebhookSecret(), 'msg_abc', 1700000000, body, header)).toBe(false);
  });
  it('matches the published test vector of the convention', () => {
    // From the Standard Webhooks specification's reference libraries.
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const body = '{"test": 2432232314}';
    expect(sign(secretKey(secret)!, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, body)).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });
  it('two keys give two space-separated signatures, either verifies', () => {
    const a = newWebhookSecret();
    const b = newWebhookSecret();
    const header = signatureHeader([secretKey(a)!, secretKey(b)!], 'msg_1', 1, '{}');
    expect(header.split(' ')).toHaveLength(2);
    expect(independentVerify(a, 'msg_1', '1', '{}', header)).toBe(true);
    expect(independentVerify(b, 'msg_1', '1', '{}', header)).toBe(true);
  });
});

describe('backoff', () => {
  it('is exponential with full jitter, capped', () => {
    const p = { maxAttempts: 8, baseDelayMs: 1000, maxDelayMs: 5000 };
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(p, n, () => 0.999999))).toEqual([999, 1999, 3999, 4999, 4999]);
    expect(backoffMs(p, 3, () => 0)).toBe(0);
    expect(backoffMs(p, 3, () => 0.5)).toBe(2000);
  });
});

describe('webhooks in hub.config.json', () => {
  const cfg = (webhooks: object) => ({ tenants: [{ id: 't1', name: 'One', webhooks }] });
  const sub = { id: 'crm', url: 'https://93.184.216.34/hook', events: ['learner.updated'], secret: { $env: 'CRM_WEBHOOK_SECRET' } };
  it('accepts a declared subscription with a secret reference', () => {
    expect(() => validateConfig(cfg({ subscriptions: [sub] }))).not.toThrow();
  });
  it('refuses a literal secret, an unknown event type, a duplicate id, a private literal and credentials, naming the path', () => {
    const problems = (w: object) => {
      try {
        validateConfig(cfg(w));
        return [];
      } catch (e) {
        return (e as { details: { path: string; message: string }[] }).details;
      }
    };
    expect(problems({ subscriptions: [{ ...sub, secret: 'whsec_abc' }] })[0].path).toBe('$.tenants[0].webhooks.subscriptions[0].secret');
    expect(problems({ subscriptions: [{ ...sub, events: ['learner.deleted'] }] })[0].path).toBe('$.tenants[0].webhooks.subscriptions[0].events[0]');
    expect(problems({ subscriptions: [sub, sub] })).toEqual([expect.objectContaining({ path: '$.tenants[0].webhooks.subscriptions[1].id' })]);
    expect(problems({ subscriptions: [{ ...sub, url: 'http://169.254.169.254/x' }] })).toEqual([{ path: '$.tenants[0].webhooks.subscriptions[0].url', message: expect.stringMatching(/link-local/) }]);
    expect(problems({ allowPrivateTargets: true, subscriptions: [{ ...sub, url: 'http://169.254.169.254/x' }] })).toEqual([]);
    expect(problems({ subscriptions: [{ ...sub, url: 'https://a:b@93.184.216.34/' }] })[0].message).toMatch(/credentials/);
    expect(problems({ operatorWebhook: 'http://10.0.0.1/ops' })[0].path).toBe('$.tenants[0].webhooks.operatorWebhook');
  });
});
