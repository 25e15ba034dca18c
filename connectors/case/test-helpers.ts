/** Shared by the case connector's tests: contexts, reading every stream, the conformance folder. */
import fs from 'node:fs';
import path from 'node:path';
import { HubError } from '../../src/core/errors';
import { silentLogger } from '../../src/core/logger';
import type { Connector, Cursor, Page, PlanContext, ReadContext, Reject, SourceRecord, StreamPlan, SyncMode } from '../../src/ingest/contract';
import { caseConnector, type CaseSettings } from './index';

export const FIXTURES = path.resolve(__dirname, '../../fixtures/case');
/** Read-only conformance material next to the project (absent in a fresh clone: tests skip loudly). */
export const CONFORMANCE = path.resolve(__dirname, '../../../shared/conformance/case');
export const HAVE_CONFORMANCE = fs.existsSync(CONFORMANCE);

export function base(signal = new AbortController().signal, baseDir = FIXTURES) {
  return { tenantId: 't1', connectorId: 'standards', baseDir, log: silentLogger, signal };
}
export const planCtx = (cursors: Record<string, Cursor | undefined> = {}, signal?: AbortSignal): PlanContext => ({ ...base(signal), cursors });
export const readCtx = (mode: SyncMode, cursor?: Cursor, signal?: AbortSignal): ReadContext => ({ ...base(signal), mode, ...(cursor ? { cursor } : {}) });

export async function pages(stream: string, settings: CaseSettings, ctx: ReadContext, connector: Connector<CaseSettings> = caseConnector): Promise<Page[]> {
  const out: Page[] = [];
  for await (const p of connector.read(stream, settings, ctx)) out.push(p);
  return out;
}

export interface StreamResult {
  plan: StreamPlan;
  pages: Page[];
  records: SourceRecord[];
  rejects: Reject[];
  /** The cursor of the last page (what the runtime saves). */
  cursor?: Cursor;
}

/** plan() then read() of every planned, non-skipped stream, as the runtime does (one signal for the whole run). */
export async function run(
  settings: CaseSettings,
  cursors: Record<string, Cursor | undefined> = {},
  connector: Connector<CaseSettings> = caseConnector,
): Promise<Record<'frameworks' | 'items' | 'associations', StreamResult>> {
  const signal = new AbortController().signal;
  const plan = await connector.plan(settings, planCtx(cursors, signal));
  const out: Record<string, StreamResult> = {};
  for (const p of plan) {
    const ps = p.skip ? [] : await pages(p.stream, settings, readCtx(p.mode, cursors[p.stream], signal), connector);
    out[p.stream] = {
      plan: p,
      pages: ps,
      records: ps.flatMap((x) => x.records),
      rejects: ps.flatMap((x) => x.rejects ?? []),
      ...(ps.length ? { cursor: ps[ps.length - 1].cursor } : {}),
    };
  }
  return out as Record<'frameworks' | 'items' | 'associations', StreamResult>;
}

/** The cursors a run leaves behind (skipped streams keep their saved cursor). */
export function cursorsAfter(result: Awaited<ReturnType<typeof run>>, before: Record<string, Cursor | undefined> = {}): Record<string, Cursor | undefined> {
  return Object.fromEntries(Object.entries(result).map(([s, r]) => [s, r.cursor ?? before[s]]));
}

export async function caught(p: Promise<unknown>): Promise<HubError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(HubError);
    return e as HubError;
  }
  throw new Error('expected a HubError');
}

/** A record without raw, for compact expectations. */
export const slim = (r: SourceRecord) => ({ sourceId: r.sourceId, location: r.location, data: r.data });
