/**
 * Test support for the oneroster-rest tests (not a test itself): recorded responses from fixtures/oneroster-rest/
 * replayed with nock, contexts, and collecting pages.
 */
import fs from 'node:fs';
import path from 'node:path';
import nock from 'nock';
import { HubError } from '../../src/core/errors';
import { silentLogger } from '../../src/core/logger';
import type { Cursor, Page, PlanContext, ReadContext, SourceRecord, SyncMode } from '../../src/ingest/contract';
import { resetTokenCache } from './http';
import { oneRosterRest, type OneRosterRestSettings } from './index';
import { resetLimiters } from './ratelimit';

export const FIXTURES = path.resolve(__dirname, '../../fixtures/oneroster-rest');
export const HOST = 'https://sis.example';
export const ROSTER = '/ims/oneroster/rostering/v1p2';
export const GRADEBOOK = '/ims/oneroster/gradebook/v1p2';
export const HOST11 = 'https://sis11.example';
export const ROOT11 = '/ims/oneroster/v1p1';

/** 1.2 with a static bearer token and two records a page: matches the recordings. */
export const S12: OneRosterRestSettings = {
  baseUrl: `${HOST}${ROSTER}`,
  version: '1.2',
  auth: { type: 'bearer' },
  token: 'fictional-bearer-token',
  pageSize: 2,
  requestsPerSecond: 1000,
};

export interface Seen {
  method: string;
  /** Path and query as sent. */
  path: string;
  headers: Record<string, string>;
}

/** nock emits 'request' with the fetch Request. */
export function seenOf(req: Request): Seen {
  const u = new URL(req.url);
  return { method: req.method, path: `${u.pathname}${u.search}`, headers: Object.fromEntries(req.headers) };
}

/** Replays a recording (nock definition format); returns the requests it answered, in order. */
export function replay(file: string, seen: Seen[] = []): Seen[] {
  const defs = JSON.parse(fs.readFileSync(path.join(FIXTURES, file), 'utf8')) as nock.Definition[];
  for (const scope of nock.define(defs)) {
    scope.on('request', (req: Request) => seen.push(seenOf(req)));
  }
  return seen;
}

/** The response body a recording gives for one path (to build variants). */
export function recorded(file: string, pathWithQuery: string): { response: Record<string, unknown>; rawHeaders: Record<string, string> } {
  const defs = JSON.parse(fs.readFileSync(path.join(FIXTURES, file), 'utf8')) as Array<{ path: string; response: Record<string, unknown>; rawHeaders: Record<string, string> }>;
  const d = defs.find((x) => x.path === pathWithQuery);
  if (!d) throw new Error(`${file} has no ${pathWithQuery}`);
  return d;
}

export function setupNock(): void {
  beforeAll(() => {
    if (!nock.isActive()) nock.activate();
    nock.disableNetConnect();
  });
  beforeEach(() => {
    resetTokenCache();
    resetLimiters();
  });
  afterEach(() => {
    const pending = nock.pendingMocks();
    nock.cleanAll();
    expect(pending).toEqual([]);
  });
  afterAll(() => {
    // Leave the worker as we found it: nock patches http and fetch process-wide, and a later test file in the same
    // jest worker (supertest, real servers) must not meet this file's interceptors.
    nock.cleanAll();
    nock.enableNetConnect();
    nock.restore();
  });
}

export function base(signal = new AbortController().signal) {
  return { tenantId: 't1', connectorId: 'sis', baseDir: FIXTURES, log: silentLogger, signal };
}
export const planCtx = (cursors: Record<string, Cursor | undefined> = {}): PlanContext => ({ ...base(), cursors });
export const readCtx = (mode: SyncMode, cursor?: Cursor, signal?: AbortSignal): ReadContext => ({ ...base(signal), mode, ...(cursor ? { cursor } : {}) });

export async function pages(stream: string, settings: OneRosterRestSettings, ctx: ReadContext): Promise<Page[]> {
  const out: Page[] = [];
  for await (const p of oneRosterRest.read(stream, settings, ctx)) out.push(p);
  return out;
}

/** The record without raw, for compact expectations. */
export const slim = (r: SourceRecord) => ({ sourceId: r.sourceId, location: r.location, ...(r.deleted ? { deleted: true } : {}), data: r.data });

export async function caught(p: Promise<unknown>): Promise<HubError> {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof HubError)) throw e;
    return e;
  }
  throw new Error('expected a HubError');
}

export const JSON_HEADERS = { 'Content-Type': 'application/json' };
