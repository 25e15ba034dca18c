/**
 * The REST provider against a local CASE server on 127.0.0.1 (node:http; no live service): GET /CFDocuments paging,
 * GET /CFPackages/{id}, documents chosen by identifier, Retry-After and bounded retries, HTML answers, 401 / 403,
 * bearer and OAuth2 client credentials, cursors that skip unchanged packages without downloading them, check().
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Connector } from '../../src/ingest/contract';
import { createCaseConnector, cursorPackages, type CaseSettings } from './index';
import { FIXTURES, base, caught, cursorsAfter, run, slim } from './test-helpers';

const STATE_DOC = 'c6124d01-e27a-5ddb-b089-5de9a430d1a9';
const DISTRICT_DOC = '6260d894-e5d8-531b-a7a9-00ef58af4b20';
const ROOT = '/ims/case/v1p1';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => void;

/** A small CASE provider: a document list, packages, optional paging cap, auth, and one-shot overrides per path. */
class FakeProvider {
  server!: http.Server;
  base = '';
  requests: string[] = [];
  docs: { identifier: string; title: string; lastChangeDateTime?: string }[] = [];
  packages = new Map<string, unknown>();
  /** The most documents a page holds, whatever limit is asked. */
  cap = 100;
  totalHeader = true;
  ignoreOffset = false;
  ignoreLimit = false;
  /** Expected Authorization header, when set. */
  authorization?: string;
  /** One-shot handlers by path prefix (after ROOT), consumed in order. */
  overrides: { path: string; handler: Handler }[] = [];
  tokenRequests: { authorization?: string; body: string }[] = [];
  tokenHandler?: Handler;

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
  reset(): void {
    this.requests = [];
    this.overrides = [];
    this.tokenRequests = [];
    this.tokenHandler = undefined;
    this.cap = 100;
    this.totalHeader = true;
    this.ignoreOffset = false;
    this.ignoreLimit = false;
    this.authorization = undefined;
    this.docs = [];
    this.packages.clear();
  }
  serve(file: string, lastChangeDateTime?: string): void {
    const pkg = JSON.parse(fs.readFileSync(path.join(FIXTURES, file), 'utf8'));
    const d = pkg.CFDocument;
    this.docs.push({ identifier: d.identifier, title: d.title, lastChangeDateTime: lastChangeDateTime ?? d.lastChangeDateTime });
    this.packages.set(d.identifier, pkg);
  }
  once(p: string, handler: Handler): void {
    this.overrides.push({ path: p, handler });
  }
  get packageRequests(): string[] {
    return this.requests.filter((r) => r.includes('/CFPackages/'));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url!, this.base);
    if (url.pathname === '/oauth/token') {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        this.tokenRequests.push({ authorization: req.headers.authorization, body });
        if (this.tokenHandler) return this.tokenHandler(req, res, url);
        json(res, 200, { access_token: `access-${this.tokenRequests.length}`, token_type: 'Bearer', expires_in: 3600 });
      });
      return;
    }
    this.requests.push(`${req.method} ${url.pathname.slice(ROOT.length)}${url.search}`);
    const rel = url.pathname.slice(ROOT.length);
    const i = this.overrides.findIndex((o) => rel.startsWith(o.path));
    if (i >= 0) return this.overrides.splice(i, 1)[0].handler(req, res, url);
    if (this.authorization !== undefined && req.headers.authorization !== this.authorization) return json(res, 401, { imsx_codeMajor: 'failure', imsx_description: 'Unauthorized' });
    if (!url.pathname.startsWith(ROOT)) return json(res, 404, {});
    if (rel === '/CFDocuments') {
      const limit = this.ignoreLimit ? this.cap : Math.min(Number(url.searchParams.get('limit') ?? 100), this.cap);
      const offset = this.ignoreOffset ? 0 : Number(url.searchParams.get('offset') ?? 0);
      const page = this.docs.slice(offset, offset + limit).map((d) => ({ ...d, uri: `${this.base}${ROOT}/CFDocuments/${d.identifier}`, creator: 'x' }));
      return json(res, 200, { CFDocuments: page }, this.totalHeader ? { 'x-total-count': String(this.docs.length) } : {});
    }
    const m = /^\/(CFDocuments|CFPackages)\/([^/]+)$/.exec(rel);
    if (m) {
      const pkg = this.packages.get(decodeURIComponent(m[2])) as { CFDocument: unknown } | undefined;
      if (!pkg) return json(res, 404, { imsx_codeMajor: 'failure', imsx_description: 'not found' });
      return json(res, 200, m[1] === 'CFPackages' ? pkg : pkg.CFDocument);
    }
    json(res, 404, {});
  }
}

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

const fake = new FakeProvider();
let sleeps: number[];
let connector: Connector<CaseSettings>;
const settings = (extra: Partial<CaseSettings> = {}, source: Record<string, unknown> = {}): CaseSettings =>
  ({ ...extra, source: { baseUrl: `${fake.base}${ROOT}`, ...source } }) as CaseSettings;

beforeAll(() => fake.start());
afterAll(() => fake.stop());
beforeEach(() => {
  fake.reset();
  sleeps = [];
  connector = createCaseConnector({ http: { sleep: async (ms) => void sleeps.push(ms) } });
});

// ---------------------------------------------------------------------------------------------------------------

describe('reading a provider', () => {
  beforeEach(() => {
    fake.serve('frameworks/state-math-grade3.json');
    fake.serve('frameworks/district-math-grade3.json');
  });

  test('the same records as the files, located at CFPackages/<id>; each package downloaded once per run', async () => {
    const r = await run(settings(), {}, connector);
    const files = await run({ source: { folder: 'frameworks' } });
    const norm = (recs: typeof r.items.records) =>
      recs.map((x) => ({ ...slim(x), location: x.location!.replace(/^CFPackages\/[^ ]+/, 'P').replace(/^[^ ]+\.json/, 'P') })).sort((a, b) => (a.sourceId < b.sourceId ? -1 : 1));
    for (const s of ['frameworks', 'items', 'associations'] as const) expect(norm(r[s].records)).toEqual(norm(files[s].records));
    expect(r.items.records[0].location).toBe(`CFPackages/${STATE_DOC} $.CFItems[0]`);
    expect(fake.requests).toEqual([
      'GET /CFDocuments?limit=1000&offset=0',
      `GET /CFPackages/${STATE_DOC}`,
      `GET /CFPackages/${DISTRICT_DOC}`,
    ]);
    expect(r.items.cursor).toEqual({ complete: true, mode: 'full', [`package:${STATE_DOC}`]: '2025-05-12T14:00:00+00:00', [`package:${DISTRICT_DOC}`]: '2025-08-20T09:30:00+00:00' });
  });

  test('documents: only the chosen frameworks, in the given order', async () => {
    const r = await run(settings({}, { documents: [DISTRICT_DOC] }), {}, connector);
    expect(r.frameworks.records.map((f) => f.sourceId)).toEqual([DISTRICT_DOC]);
    expect(fake.packageRequests).toEqual([`GET /CFPackages/${DISTRICT_DOC}`]);
  });

  test('documents: one the list does not show is looked up with GET /CFDocuments/{id}; an unknown one is source_invalid', async () => {
    const hidden = fake.docs.pop()!; // the district framework is served but not listed
    const r = await run(settings({}, { documents: [STATE_DOC, hidden.identifier] }), {}, connector);
    expect(r.frameworks.records.map((f) => f.sourceId)).toEqual([STATE_DOC, DISTRICT_DOC]);
    expect(fake.requests).toContain(`GET /CFDocuments/${DISTRICT_DOC}`);
    const e = await caught(run(settings({}, { documents: ['00000000-0000-4000-8000-00000000dead'] }), {}, connector));
    expect(e).toMatchObject({ code: 'source_invalid', message: 'the CASE provider has no CFDocument 00000000-0000-4000-8000-00000000dead (source.documents).' });
  });

  test('the provider path says 1.1 when a package does not', async () => {
    const pkg = fake.packages.get(STATE_DOC) as { CFDocument: Record<string, unknown> };
    delete pkg.CFDocument.caseVersion;
    delete pkg.CFDocument.frameworkType;
    pkg.CFDocument.uri = 'urn:x';
    for (const a of (fake.packages.get(STATE_DOC) as { CFAssociations: { originNodeURI: Record<string, unknown>; destinationNodeURI: Record<string, unknown> }[] }).CFAssociations) {
      delete a.originNodeURI.targetType;
      delete a.destinationNodeURI.targetType;
    }
    const r = await run(settings({}, { documents: [STATE_DOC] }), {}, connector);
    expect(r.frameworks.records[0].data.caseVersion).toBe('1.1');
  });

  test('a package for another document than asked is source_invalid', async () => {
    fake.packages.set(DISTRICT_DOC, fake.packages.get(STATE_DOC));
    const e = await caught(run(settings(), {}, connector));
    expect(e).toMatchObject({ code: 'source_invalid', message: `GET /CFPackages/${DISTRICT_DOC} answered the package of another CFDocument (${STATE_DOC}).` });
  });

  test('a package that is not a CFPackage is source_invalid naming it and the JSON path', async () => {
    fake.packages.set(DISTRICT_DOC, { CFDocuments: [] });
    const e = await caught(run(settings(), {}, connector));
    expect(e.message).toMatch(new RegExp(`^CFPackages/${DISTRICT_DOC} \\$\\.CFDocument: is not a CFPackage`));
  });
});

describe('GET /CFDocuments paging', () => {
  beforeEach(() => {
    for (let i = 0; i < 5; i++) {
      const id = `00000000-0000-4000-8000-00000000000${i}`;
      fake.docs.push({ identifier: id, title: `F${i}`, lastChangeDateTime: '2025-01-01T00:00:00Z' });
      fake.packages.set(id, { CFDocument: { identifier: id, title: `F${i}`, uri: `urn:${i}`, creator: 'c', lastChangeDateTime: '2025-01-01T00:00:00Z' }, CFItems: [], CFAssociations: [] });
    }
  });

  test('limit / offset until X-Total-Count, even when the provider caps the page below the limit asked', async () => {
    fake.cap = 2;
    const r = await run(settings(), {}, connector);
    expect(r.frameworks.records).toHaveLength(5);
    expect(fake.requests.filter((x) => x.startsWith('GET /CFDocuments'))).toEqual([
      'GET /CFDocuments?limit=1000&offset=0',
      'GET /CFDocuments?limit=1000&offset=2',
      'GET /CFDocuments?limit=1000&offset=4',
    ]);
  });

  test('without a total: until an empty page (the limit is pageSize)', async () => {
    fake.totalHeader = false;
    await run(settings({ pageSize: 2 }), {}, connector);
    expect(fake.requests.filter((x) => x.startsWith('GET /CFDocuments'))).toEqual([
      'GET /CFDocuments?limit=2&offset=0',
      'GET /CFDocuments?limit=2&offset=2',
      'GET /CFDocuments?limit=2&offset=4',
      'GET /CFDocuments?limit=2&offset=5',
    ]);
  });

  test('a provider that ignores limit and offset (answers the whole list each time): stops when a page brings nothing new', async () => {
    fake.ignoreOffset = true;
    fake.ignoreLimit = true;
    fake.totalHeader = false;
    const r = await run(settings({ pageSize: 2 }), {}, connector);
    expect(r.frameworks.records).toHaveLength(5);
    expect(fake.requests.filter((x) => x.startsWith('GET /CFDocuments'))).toEqual(['GET /CFDocuments?limit=2&offset=0', 'GET /CFDocuments?limit=2&offset=5']);
  });

  test('a provider that ignores offset but not limit: source_invalid rather than a partial list (unless documents are named)', async () => {
    fake.ignoreOffset = true;
    fake.totalHeader = false;
    fake.cap = 2;
    const e = await caught(run(settings({ pageSize: 2 }), {}, connector));
    expect(e).toMatchObject({ code: 'source_invalid', message: expect.stringMatching(/ignores offset, so the list cannot be read whole; list the frameworks to load in source\.documents/) });
    const named = await run(settings({ pageSize: 2 }, { documents: ['00000000-0000-4000-8000-000000000004', '00000000-0000-4000-8000-000000000000'] }), {}, connector);
    expect(named.frameworks.records.map((f) => f.data.title)).toEqual(['F4', 'F0']);
    expect(fake.requests).toContain('GET /CFDocuments/00000000-0000-4000-8000-000000000004');
  });

  test('an empty list is source_invalid: nothing to load', async () => {
    fake.docs = [];
    expect(await caught(run(settings(), {}, connector))).toMatchObject({ code: 'source_invalid', message: expect.stringMatching(/lists no CFDocuments/) });
  });

  test('a list without CFDocuments is source_invalid', async () => {
    fake.once('/CFDocuments', (_q, res) => json(res, 200, { documents: [] }));
    expect(await caught(run(settings(), {}, connector))).toMatchObject({ code: 'source_invalid', message: expect.stringMatching(/did not answer a CASE document list/) });
  });
});

describe('retries and failures', () => {
  beforeEach(() => fake.serve('frameworks/state-math-grade3.json'));

  test('429 with Retry-After (seconds): waits that long, then succeeds', async () => {
    fake.once('/CFPackages/', (_q, res) => json(res, 429, {}, { 'retry-after': '2' }));
    const r = await run(settings(), {}, connector);
    expect(r.items.records).toHaveLength(12);
    expect(sleeps).toEqual([2000]);
    expect(fake.packageRequests).toHaveLength(2);
  });

  test('Retry-After as an HTTP date', async () => {
    fake.once('/CFDocuments', (_q, res) => json(res, 503, {}, { 'retry-after': new Date(Date.now() + 5000).toUTCString() }));
    await run(settings(), {}, connector);
    expect(sleeps).toHaveLength(1);
    expect(sleeps[0]).toBeGreaterThan(3000);
    expect(sleeps[0]).toBeLessThanOrEqual(5000);
  });

  test('5xx without Retry-After: exponential backoff, bounded; then source_unavailable', async () => {
    for (let i = 0; i < 4; i++) fake.once('/CFDocuments', (_q, res) => json(res, 503, {}));
    const e = await caught(run(settings(), {}, connector));
    expect(e).toMatchObject({ code: 'source_unavailable', kind: 'transient' });
    expect(e.message).toMatch(/HTTP 503 4 times/);
    expect(sleeps).toEqual([500, 1000, 2000]);
  });

  test('a Retry-After longer than the connector waits fails at once (source_unavailable), without waiting', async () => {
    fake.once('/CFDocuments', (_q, res) => json(res, 429, {}, { 'retry-after': '3600' }));
    const e = await caught(run(settings(), {}, connector));
    expect(e).toMatchObject({ code: 'source_unavailable' });
    expect(e.message).toMatch(/asks to retry after 3600 s, longer than this connector waits \(30 s\)/);
    expect(sleeps).toEqual([]);
  });

  test('a dropped connection is retried', async () => {
    fake.once('/CFPackages/', (req) => req.socket.destroy());
    const r = await run(settings(), {}, connector);
    expect(r.items.records).toHaveLength(12);
    expect(sleeps).toEqual([500]);
  });

  test('an HTML page instead of JSON is source_invalid, saying what came back', async () => {
    fake.once('/CFDocuments', (_q, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Please sign in</body></html>');
    });
    const e = await caught(run(settings(), {}, connector));
    expect(e).toMatchObject({ code: 'source_invalid' });
    expect(e.message).toBe(
      'The CASE provider answered GET /CFDocuments?limit=1000&offset=0 with text/html; charset=utf-8 that is not JSON (it begins "<!DOCTYPE html> <html><head><title>Sign "): is source.baseUrl the provider\'s CASE root (…/ims/case/v1p0 or v1p1)?',
    );
  });

  test('a 404 on /CFDocuments says the base URL is not a CASE root', async () => {
    const e = await caught(run({ source: { baseUrl: `${fake.base}/wrong` } }, {}, connector));
    expect(e).toMatchObject({ code: 'source_invalid', message: expect.stringContaining(`${fake.base}/wrong is not a CASE provider root`) });
  });

  test('401 and 403 are configuration errors (no retry)', async () => {
    fake.authorization = 'Bearer right';
    const e = await caught(run(settings({ token: 'wrong' }, { auth: { type: 'bearer' } }), {}, connector));
    expect(e).toMatchObject({ code: 'source_unauthorized', kind: 'config' });
    expect(e.message).toMatch(/refused GET \/CFDocuments\?limit=1000&offset=0 with HTTP 401 \(not authenticated\): check the credentials/);
    expect(e.message).not.toContain('wrong');
    fake.once('/CFPackages/', (_q, res) => json(res, 403, {}));
    fake.authorization = undefined;
    const f = await caught(run(settings(), {}, connector));
    expect(f).toMatchObject({ code: 'source_unauthorized', message: expect.stringMatching(/HTTP 403 \(not allowed\): the provider needs credentials: set source\.auth/) });
    expect(sleeps).toEqual([]);
  });

  test('the bearer token is sent', async () => {
    fake.authorization = 'Bearer right';
    const r = await run(settings({ token: 'right' }, { auth: { type: 'bearer' } }), {}, connector);
    expect(r.items.records).toHaveLength(12);
  });
});

describe('OAuth2 client credentials', () => {
  beforeEach(() => fake.serve('frameworks/state-math-grade3.json'));
  const oauth = (scopes?: string[]) => settings({ clientSecret: 's3cret' }, { auth: { type: 'oauth2', tokenUrl: `${fake.base}/oauth/token`, clientId: 'hub', ...(scopes ? { scopes } : {}) } });

  test('one token for the run (Basic client authentication, scopes); a 401 gets a new token once', async () => {
    fake.authorization = 'Bearer access-1';
    const r = await run(oauth(['https://purl.imsglobal.org/spec/case/v1p0/scope/case.readonly']), {}, connector);
    expect(r.items.records).toHaveLength(12);
    expect(fake.tokenRequests).toEqual([
      {
        authorization: `Basic ${Buffer.from('hub:s3cret').toString('base64')}`,
        body: 'grant_type=client_credentials&scope=https%3A%2F%2Fpurl.imsglobal.org%2Fspec%2Fcase%2Fv1p0%2Fscope%2Fcase.readonly',
      },
    ]);
    // The provider revokes the token mid-run: one new token, then on.
    fake.reset();
    fake.serve('frameworks/state-math-grade3.json');
    fake.authorization = 'Bearer access-2';
    const again = await run(oauth(), {}, connector);
    expect(again.items.records).toHaveLength(12);
    expect(fake.tokenRequests).toHaveLength(2);
  });

  test('the token endpoint refusing the client is a configuration error', async () => {
    fake.tokenHandler = (_q, res) => json(res, 401, { error: 'invalid_client' });
    const e = await caught(run(oauth(), {}, connector));
    expect(e).toMatchObject({ code: 'source_unauthorized', message: expect.stringMatching(/refused the client credentials \(HTTP 401: invalid_client\)/) });
    expect(e.message).not.toContain('s3cret');
  });

  test('a token answer without access_token is source_invalid', async () => {
    fake.tokenHandler = (_q, res) => json(res, 200, { token_type: 'Bearer' });
    expect(await caught(run(oauth(), {}, connector))).toMatchObject({ code: 'source_invalid', message: expect.stringMatching(/without an access_token/) });
  });
});

describe('cursors: unchanged packages are not downloaded', () => {
  beforeEach(() => {
    fake.serve('frameworks/state-math-grade3.json');
    fake.serve('frameworks/district-math-grade3.json');
  });

  test('same lastChangeDateTime: every stream skipped, only GET /CFDocuments is asked', async () => {
    const first = await run(settings(), {}, connector);
    fake.requests = [];
    const again = await run(settings(), cursorsAfter(first), connector);
    expect(Object.values(again).map((s) => s.plan.skip)).toEqual(Array(3).fill('unchanged since the last run (2 packages)'));
    expect(fake.requests).toEqual(['GET /CFDocuments?limit=1000&offset=0']);
  });

  test('a newer lastChangeDateTime: full, both packages read (so the runtime can sweep what the new version dropped)', async () => {
    const first = await run(settings(), {}, connector);
    fake.docs[0].lastChangeDateTime = '2026-02-01T00:00:00+00:00';
    fake.requests = [];
    const again = await run(settings(), cursorsAfter(first), connector);
    expect(Object.values(again).map((s) => s.plan.mode)).toEqual(['full', 'full', 'full']);
    expect(fake.packageRequests).toHaveLength(2);
    expect(cursorPackages(again.items.cursor).get(STATE_DOC)).toBe('2026-02-01T00:00:00+00:00');
  });

  test('a newly published framework: incremental, only it is downloaded', async () => {
    const d = fake.docs.pop()!;
    const first = await run(settings(), {}, connector);
    fake.docs.push(d);
    fake.requests = [];
    const again = await run(settings(), cursorsAfter(first), connector);
    expect(Object.values(again).map((s) => s.plan.mode)).toEqual(['incremental', 'incremental', 'incremental']);
    expect(fake.packageRequests).toEqual([`GET /CFPackages/${DISTRICT_DOC}`]);
  });

  test('a list without lastChangeDateTime: always read in full', async () => {
    for (const d of fake.docs) delete d.lastChangeDateTime;
    const first = await run(settings(), {}, connector);
    expect(first.items.cursor).toMatchObject({ [`package:${STATE_DOC}`]: null });
    const again = await run(settings(), cursorsAfter(first), connector);
    expect(again.items.plan.mode).toBe('full');
  });
});

describe('check()', () => {
  test('ok when GET /CFDocuments answers', async () => {
    fake.serve('frameworks/state-math-grade3.json');
    expect(await connector.check(settings(), base())).toEqual({ ok: true, details: `CASE provider ${fake.base}${ROOT} answers GET /CFDocuments (1 documents)` });
    expect(fake.requests).toEqual(['GET /CFDocuments?limit=1&offset=0']);
  });

  test('not ok (never throws): wrong root, credentials refused, nobody listening', async () => {
    expect(await connector.check({ source: { baseUrl: `${fake.base}/nope` } }, base())).toMatchObject({ ok: false, error: { code: 'source_invalid' } });
    fake.authorization = 'Bearer x';
    expect(await connector.check(settings(), base())).toMatchObject({ ok: false, error: { code: 'source_unauthorized' } });
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const r = await connector.check({ source: { baseUrl: `http://127.0.0.1:${port}${ROOT}` } }, base());
    expect(r).toMatchObject({ ok: false, error: { code: 'source_unavailable', message: expect.stringMatching(/cannot be reached .*ECONNREFUSED; tried 4 times/) } });
  });
});
