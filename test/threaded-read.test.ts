/**
 * Threaded reads (src/ingest/threaded-read.ts): a file connector's pages read in the worker thread are the pages it
 * yields in-process; errors keep their code; a cancelled or abandoned read stops the worker's read and the worker
 * serves the next one.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openThreadedRead, openThreadedReads, prepareReadsFor, readWorkerRunning, readsInWorker, terminateReadWorker } from '../src/ingest/threaded-read';
import { getConnector, registerConnector } from '../src/ingest/registry';
import { AheadBudget, MAX_BYTES_AHEAD, PAGES_AHEAD, StartOrder, pageBytes } from '../src/ingest/read-pacing';
import { fromWire, toWire, type WirePage } from '../src/ingest/read-wire';
import { silentLogger } from '../src/core/logger';
import { HubError } from '../src/core/errors';
import type { Connector, Page, ReadContext, SyncMode } from '../src/ingest/contract';
import { validateConfig } from '../src/core/config';
import type { HubConfig } from '../src/types/unified.generated';
import { runSync } from '../src/ingest/runner';
import { ensureTenants } from '../src/store/tenants';
import type { Db } from '../src/store/db';
import { describeEachDb, supportedDbs } from './helpers/db';

const FIX = path.resolve(__dirname, '../fixtures');
const readThreaded = (type: string, stream: string, settings: Record<string, unknown>, ctx: ReadContext) => openThreadedRead(type, stream, settings, ctx).pages;
const ctx = (mode: SyncMode = 'full', signal = new AbortController().signal): ReadContext => ({ tenantId: 't', connectorId: 'c', baseDir: FIX, log: silentLogger, signal, mode });

async function collect(it: AsyncIterable<Page>): Promise<Page[]> {
  const out: Page[] = [];
  for await (const p of it) out.push(p);
  return out;
}

async function caught(p: Promise<unknown>): Promise<HubError> {
  try {
    await p;
  } catch (e) {
    return e as HubError;
  }
  throw new Error('expected a rejection');
}

/** Threaded reads are forced on for every connector that can (HUB_READ_THREADS=on) in this file, restored after. */
const before = process.env.HUB_READ_THREADS;
beforeAll(() => {
  process.env.HUB_READ_THREADS = 'on';
});
afterAll(() => {
  if (before === undefined) delete process.env.HUB_READ_THREADS;
  else process.env.HUB_READ_THREADS = before;
});

describe('threaded reads', () => {
  const csv = getConnector('oneroster-csv')!;

  it('are on by default for Ed-Fi XML, opt-in for the CSV connectors, and off for all with HUB_READ_THREADS=off', () => {
    const edfi = getConnector('edfi-xml')!;
    for (const unset of [undefined, '', 'auto']) {
      if (unset === undefined) delete process.env.HUB_READ_THREADS;
      else process.env.HUB_READ_THREADS = unset;
      expect(readsInWorker('oneroster-csv', csv)).toBe(false);
      expect(readsInWorker('edfi-xml', edfi)).toBe(true);
    }
    process.env.HUB_READ_THREADS = 'off';
    expect(readsInWorker('oneroster-csv', csv)).toBe(false);
    expect(readsInWorker('edfi-xml', edfi)).toBe(false);
    process.env.HUB_READ_THREADS = 'on';
    expect(readsInWorker('oneroster-csv', csv)).toBe(true);
    expect(readsInWorker('edfi-xml', edfi)).toBe(true);
  });

  it('a HUB_READ_THREADS that is not on, off or auto is a configuration error naming it', () => {
    process.env.HUB_READ_THREADS = 'yes';
    try {
      let err: unknown;
      try {
        readsInWorker('edfi-xml', getConnector('edfi-xml')!);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(HubError);
      expect((err as HubError).code).toBe('config_invalid');
      expect((err as HubError).message).toContain('HUB_READ_THREADS');
      expect((err as HubError).details[0].path).toBe('HUB_READ_THREADS');
    } finally {
      process.env.HUB_READ_THREADS = 'on';
    }
  });

  it('the file connectors read in the worker; a connector registered over a built-in does not', () => {
    expect(readsInWorker('oneroster-csv', csv)).toBe(true);
    expect(readsInWorker('edfi-xml', getConnector('edfi-xml')!)).toBe(true);
    expect(readsInWorker('mapped-csv', getConnector('mapped-csv')!)).toBe(true);
    expect(readsInWorker('oneroster-rest', getConnector('oneroster-rest')!)).toBe(false); // network: stays in-process
    const double = { ...csv, manifest: { ...csv.manifest } } as Connector<Record<string, unknown>>;
    expect(readsInWorker('oneroster-csv', double)).toBe(false);
    registerConnector('threaded-test-double', double as Connector<never>);
    expect(readsInWorker('threaded-test-double', double)).toBe(false);
  });

  it.each([
    ['oneroster-csv', { path: 'oneroster-csv/or12-bulk', pageSize: 3 }],
    ['oneroster-csv', { path: 'oneroster-csv/bad-rows', pageSize: 2 }],
    ['edfi-xml', { path: 'edfi-xml/district', pageSize: 5 }],
  ])('%s %j: the same pages, rejects and cursors as in-process', async (type, settings) => {
    const impl = getConnector(type)!;
    const plan = await impl.plan(settings, { ...ctx(), cursors: {} });
    expect(plan.filter((p) => !p.skip).length).toBeGreaterThan(0);
    let pages = 0;
    for (const p of plan.filter((s) => !s.skip)) {
      const inProcess = await collect(impl.read(p.stream, settings, ctx(p.mode)));
      const threaded = await collect(readThreaded(type, p.stream, settings, ctx(p.mode)));
      // The raw payload arrives serialized (rawJson), as the store keeps it (Ed-Fi serializes it itself already).
      for (const page of threaded) for (const r of page.records) expect(r.raw).toBeUndefined();
      const rawAsJson = (pp: Page[]) => pp.map((page) => ({ ...page, records: page.records.map(({ raw, ...r }) => (raw === undefined ? r : { ...r, rawJson: JSON.stringify(raw) })) }));
      expect(threaded.flatMap((x) => x.records).every((r) => r.rawJson !== undefined)).toBe(true);
      expect(rawAsJson(threaded)).toEqual(rawAsJson(inProcess));
      pages += threaded.length;
    }
    expect(pages).toBeGreaterThan(2);
  });

  it('a worker that dies mid-read fails the read with a clear error, and the next read gets a new worker', async () => {
    const settings = { path: 'oneroster-csv/or12-bulk', pageSize: 1 };
    const it = readThreaded('oneroster-csv', 'users', settings, ctx())[Symbol.asyncIterator]();
    expect((await it.next()).done).toBe(false);
    await terminateReadWorker();
    let err: unknown;
    try {
      for (let n = await it.next(); !n.done; n = await it.next());
    } catch (e) {
      err = e;
    }
    expect(String(err)).toMatch(/the read worker stopped/);
    expect(openThreadedReads()).toBe(0);
    expect((await collect(readThreaded('oneroster-csv', 'users', settings, ctx()))).length).toBeGreaterThan(3);
  });

  it('prepareReadsFor starts the worker (and has it load the connector) only for a config with a connector that reads in it', async () => {
    await terminateReadWorker();
    for (let i = 0; i < 100 && readWorkerRunning(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(readWorkerRunning()).toBe(false);
    process.env.HUB_READ_THREADS = 'auto';
    try {
      const connector = (id: string, type: string, enabled?: boolean) => ({ id, type, settings: {}, ...(enabled === undefined ? {} : { enabled }) });
      const config = {
        tenants: [
          { id: 'a', name: 'A', connectors: [connector('sis', 'oneroster-csv'), connector('vendor', 'mapped-csv'), connector('other', 'no-such-type')] },
          { id: 'b', name: 'B', connectors: [connector('off', 'edfi-xml', false), connector('state', 'edfi-xml')] },
        ],
      } as unknown as HubConfig;
      prepareReadsFor(config, { tenant: 'a' });
      expect(readWorkerRunning()).toBe(false); // the CSV connectors read in the worker only with HUB_READ_THREADS=on
      prepareReadsFor(config, { connector: 'off' });
      expect(readWorkerRunning()).toBe(false); // a disabled connector is not prepared for
      prepareReadsFor(config, { tenant: 'b', connector: 'state' });
      expect(readWorkerRunning()).toBe(true);
    } finally {
      process.env.HUB_READ_THREADS = 'on';
    }
    const pages = await collect(readThreaded('edfi-xml', 'educationOrganizations', { path: 'edfi-xml/district' }, ctx()));
    expect(pages.flatMap((p) => p.records).length).toBeGreaterThan(0);
  });

  it('a failing read keeps its HubError code, message and details', async () => {
    const edfi = getConnector('edfi-xml')!;
    const settings = { path: 'edfi-xml/broken/truncated-StudentAssessment.xml' };
    const inProcess = await caught(collect(edfi.read('assessmentResults', settings, ctx())));
    const threaded = await caught(collect(readThreaded('edfi-xml', 'assessmentResults', settings, ctx())));
    expect(threaded).toBeInstanceOf(HubError);
    expect(threaded.code).toBe('source_invalid');
    expect({ code: threaded.code, message: threaded.message, details: threaded.details }).toEqual({ code: inProcess.code, message: inProcess.message, details: inProcess.details });
  });

  it('an abandoned read and an aborted read stop, and the worker serves the next read', async () => {
    const settings = { path: 'oneroster-csv/or12-bulk', pageSize: 1 };
    for await (const p of readThreaded('oneroster-csv', 'users', settings, ctx())) {
      expect(p.records.length).toBe(1);
      break; // the consumer stops early: the worker's read is cancelled
    }
    const ac = new AbortController();
    let n = 0;
    const aborted = await caught(
      (async () => {
        for await (const _ of readThreaded('oneroster-csv', 'users', settings, ctx('full', ac.signal))) if (++n === 1) ac.abort();
      })(),
    );
    expect(String(aborted)).toMatch(/abort/i); // as the in-process read does: the runner reports run_cancelled
    expect(n).toBe(1); // pages the worker posted ahead are dropped: none arrives after the abort
    const all = await collect(readThreaded('oneroster-csv', 'users', settings, ctx()));
    expect(all.length).toBeGreaterThan(3);
  });

  it('serves a later read in full while an earlier one, with its first page out, is not taken from', async () => {
    // Reads start in the order they were opened (StartOrder), each once the earlier ones have a first page *posted*:
    // a consumer that takes a later stream first (two runs at once, in `hub start`) must not wait on the earlier one,
    // even when that one has more pages than it may post ahead (so it cannot end before it is taken from).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-start-order-'));
    try {
      const students = Array.from({ length: PAGES_AHEAD * 2 }, (_, i) => `<Student><StudentUniqueId>S-${i}</StudentUniqueId><Name><FirstName>A${i}</FirstName><LastSurname>B</LastSurname></Name></Student>`);
      fs.writeFileSync(path.join(dir, 'Student.xml'), `<InterchangeStudent xmlns="http://ed-fi.org/5.0.0">\n${students.join('\n')}\n</InterchangeStudent>\n`);
      const first = openThreadedRead('edfi-xml', 'students', { path: dir, pageSize: 1 }, ctx());
      const later = await collect(readThreaded('edfi-xml', 'assessmentResults', { path: 'edfi-xml/district', pageSize: 2 }, ctx()));
      expect(later.length).toBeGreaterThan(1);
      expect(later.flatMap((p) => p.records).every((r) => r.type === 'assessmentResult')).toBe(true);
      const pages = await collect(first.pages);
      expect(pages.length).toBe(PAGES_AHEAD * 2);
      expect(pages[0].records.map((r) => r.type)).toEqual(['person', 'demographics']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the wire format of threaded reads', () => {
  it('gives back the page the connector yielded: data, raw payloads (set as objects or as JSON text), locations, deletes', () => {
    const sent: Page = {
      records: [
        { type: 'person', sourceId: 'p1', data: { givenName: 'Zoë', n: 1, nested: { a: [1, null] } }, raw: { name: 'Zoë 😀 "quoted"' }, location: 'users.csv:2' },
        { type: 'person', sourceId: 'p2', data: {}, deleted: true },
        { type: 'demographics', sourceId: 'p1', data: { personId: 'p1' }, rawJson: '{"x":"\\u0000 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢"}' },
        { type: 'person', sourceId: 'p3', data: { a: 1 }, rawJson: '' },
      ],
      rejects: [{ location: 'users.csv:9', reason: 'bad', code: 'row_malformed' }],
      cursor: { element: 4 },
    };
    const got = fromWire(toWire(sent));
    expect(got.rejects).toEqual(sent.rejects);
    expect(got.cursor).toEqual(sent.cursor);
    expect(got.records).toEqual([
      { type: 'person', sourceId: 'p1', data: sent.records[0].data, rawJson: JSON.stringify(sent.records[0].raw), location: 'users.csv:2' },
      { type: 'person', sourceId: 'p2', data: {}, deleted: true },
      { type: 'demographics', sourceId: 'p1', data: { personId: 'p1' }, rawJson: sent.records[2].rawJson },
      { type: 'person', sourceId: 'p3', data: { a: 1 }, rawJson: '' },
    ]);
  });

  it('refuses a page whose raw payloads do not add up to what its records say', () => {
    const wire = toWire({ records: [{ type: 'person', sourceId: 'p1', data: {}, rawJson: '{"a":1}' }] });
    expect(() => fromWire({ ...wire, raws: `${wire.raws}!` })).toThrow(/inconsistent.*8 characters.*account for 7/);
  });
});

describe('how far the read worker runs ahead, and in what order its reads start', () => {
  const page = (records: number, rawChars: number): WirePage =>
    toWire({ records: Array.from({ length: records }, (_, i) => ({ type: 'person' as const, sourceId: `p${i}`, data: { a: 1 }, ...(rawChars ? { rawJson: 'x'.repeat(rawChars) } : {}) })) });

  it('sizes a page by its two strings: the records\' JSON text and the raw payloads', () => {
    const p = page(2, 1000);
    expect(p.raws.length).toBe(2000);
    expect(pageBytes(p)).toBe(p.records.length + 2000);
    expect(pageBytes(page(3, 0))).toBe(page(3, 0).records.length);
  });

  it('allows at most PAGES_AHEAD pages per read and MAX_BYTES_AHEAD across reads, but always one page per read', () => {
    const b = new AheadBudget(1000, 2);
    const a: number[] = [];
    const c: number[] = [];
    expect(b.allows(a, 600)).toBe(true);
    a.push(600);
    b.take(600);
    expect(b.allows(a, 600)).toBe(false); // 1,200 bytes would be over the budget
    expect(b.allows(a, 400)).toBe(true);
    expect(b.allows(c, 5000)).toBe(true); // another read with nothing in flight may always post one
    c.push(5000);
    b.take(5000);
    expect(b.allows(c, 1)).toBe(false);
    a.push(400);
    b.take(400);
    expect(b.allows(a, 0)).toBe(false); // the most pages out
    b.release(a.shift()!);
    b.release(c.shift()!);
    expect(b.inFlightBytes).toBe(400);
    expect(b.allows(a, 600)).toBe(true);
    expect(MAX_BYTES_AHEAD).toBeGreaterThanOrEqual(16 * 1024 * 1024);
    expect(PAGES_AHEAD).toBeGreaterThanOrEqual(1);
  });

  it('starts reads in the order they were asked for, each once every earlier one has its first page out', async () => {
    const order = new StartOrder();
    const went: string[] = [];
    const a = order.turn();
    const b = order.turn();
    const c = order.turn();
    const d = order.turn();
    for (const [name, t] of Object.entries({ a, b, c, d })) void t.ready.then(() => went.push(name));
    const settle = () => new Promise<void>((r) => setImmediate(r));
    await settle();
    expect(went).toEqual(['a']); // the first read goes at once
    c.started(); // c cancelled (or failed) while it waited: it lets nobody overtake a or b
    await settle();
    expect(went).toEqual(['a']);
    a.started();
    a.started(); // idempotent
    await settle();
    expect(went).toEqual(['a', 'b']);
    b.started();
    await settle();
    expect(went).toEqual(['a', 'b', 'c', 'd']); // c had already started: d goes with it
    const e = order.turn();
    let eWent = false;
    void e.ready.then(() => (eWent = true));
    await settle();
    expect(eWent).toBe(false); // d has no first page yet
    d.started();
    await settle();
    expect(eWent).toBe(true);
  });
});

describeEachDb('a threaded sync in the runtime', (t) => {
  let db: Db;
  beforeAll(async () => {
    db = await t.open();
  });
  afterAll(async () => db.close());

  it('lands the raw payload as read and keeps the raw row of rows rejected after the worker (reference_unresolved)', async () => {
    const config = validateConfig({ tenants: [{ id: 't1', name: 'T', connectors: [{ id: 'sis', type: 'oneroster-csv', settings: { path: path.join(FIX, 'oneroster-csv/bad-rows') } }] }] }, '(test)');
    await ensureTenants(db, config.config);
    expect(readsInWorker('oneroster-csv', getConnector('oneroster-csv')!)).toBe(true);
    const run = await runSync({ db, config }, { tenantId: 't1', connectorId: 'sis' });
    expect(run.status).toBe('succeeded');
    const landed = await db.knex('source_records').where({ tenant_id: 't1', entity_type: 'person', source_id: 'ok-1' }).first('raw');
    expect(JSON.parse(landed.raw)).toMatchObject({ sourcedId: 'ok-1', username: 'ana.silva', givenName: 'Ana', familyName: 'Silva' });
    // Enrollments name class c-1, which this export does not have: rejected by the page writer, not the connector.
    const rejects = (await db.knex('run_rejects').where({ run_id: run.id, code: 'reference_unresolved' }).select('location', 'raw')) as { location: string; raw: string }[];
    expect(rejects.length).toBeGreaterThan(0);
    for (const r of rejects) expect(JSON.parse(r.raw)).toMatchObject({ classSourcedId: 'c-1' });
  });
});

describe('a threaded sync that fails mid-run', () => {
  it('cancels the stream it had opened ahead, and the worker serves the next run', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-threaded-'));
    for (const f of fs.readdirSync(path.join(FIX, 'edfi-xml/district'))) fs.copyFileSync(path.join(FIX, 'edfi-xml/district', f), path.join(dir, f));
    fs.copyFileSync(path.join(FIX, 'edfi-xml/broken/truncated-StudentAssessment.xml'), path.join(dir, 'StudentAssessment.xml'));
    const db = await supportedDbs()[0].open();
    try {
      const config = validateConfig({ tenants: [{ id: 't1', name: 'T', connectors: [{ id: 'state', type: 'edfi-xml', settings: { path: dir } }] }] }, '(test)');
      await ensureTenants(db, config.config);
      const failed = await runSync({ db, config }, { tenantId: 't1', connectorId: 'state' });
      expect(failed.status).toBe('failed');
      expect(failed.error?.code).toBe('source_invalid');
      expect(openThreadedReads()).toBe(0); // the next stream, opened ahead, was cancelled
      fs.copyFileSync(path.join(FIX, 'edfi-xml/district/StudentAssessment.xml'), path.join(dir, 'StudentAssessment.xml'));
      const ok = await runSync({ db, config }, { tenantId: 't1', connectorId: 'state' });
      expect([ok.status, ok.error]).not.toContain('failed'); // succeeded, or needs_review by the sweep guardrail
      expect(ok.error).toBeUndefined();
      expect(ok.counts.read).toBeGreaterThan(0); // the streams after the failed one (earlier ones resume from their cursors)
      expect(openThreadedReads()).toBe(0);
    } finally {
      await db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
