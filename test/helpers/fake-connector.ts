/**
 * An in-memory connector for runtime tests: each named source lists, per stream, the pages it yields. It honours
 * the contract (cursor per page, resume in incremental mode) and can fail after N pages to simulate a crash.
 */
import type { Connector, Page, SourceRecord, StreamPlan } from '../../src/ingest/contract';
import { registerConnector } from '../../src/ingest/registry';

export interface FakeSource {
  streams: Record<string, { mode: 'full' | 'incremental'; pages: Page[]; /** wait before each page (a slow source) */ delayMs?: number }>;
  /** Throw after this many pages have been yielded in total (then forget it: the re-run succeeds). */
  failAfterPages?: number;
}

export const FAKE_SOURCES = new Map<string, FakeSource>();

export const fakeConnector: Connector<{ source: string }> = {
  manifest: {
    id: 'fake',
    title: 'Fake source (tests)',
    version: '1',
    kind: ['roster'],
    configSchema: { type: 'object', additionalProperties: false, required: ['source'], properties: { source: { type: 'string' }, token: { type: 'string' } } },
    secretFields: ['token'],
    streams: [
      { name: 'orgs', entities: ['org'], modes: ['full', 'incremental'] },
      { name: 'people', entities: ['person'], modes: ['full', 'incremental'] },
      { name: 'enrollments', entities: ['enrollment'], modes: ['full', 'incremental'] },
    ],
  },
  async check() {
    return { ok: true };
  },
  async plan(settings) {
    const src = FAKE_SOURCES.get(settings.source);
    if (!src) throw new Error(`no fake source ${settings.source}`);
    return Object.entries(src.streams).map(([stream, s]): StreamPlan => ({ stream, mode: s.mode }));
  },
  async *read(stream, settings, ctx) {
    const src = FAKE_SOURCES.get(settings.source)!;
    const pages = src.streams[stream].pages;
    const start = ctx.mode === 'incremental' && typeof ctx.cursor?.page === 'number' ? ctx.cursor.page : 0;
    for (let i = start; i < pages.length; i++) {
      const delay = src.streams[stream].delayMs;
      if (delay) await new Promise((r) => setTimeout(r, delay));
      if (src.failAfterPages !== undefined) {
        if (src.failAfterPages === 0) {
          src.failAfterPages = undefined;
          throw new Error('simulated crash');
        }
        src.failAfterPages--;
      }
      yield { ...pages[i], cursor: { page: i + 1 } };
    }
  },
};

registerConnector('fake', fakeConnector as Connector<never>);

export const org = (id: string, name = `Org ${id}`, parent?: string): SourceRecord => ({
  type: 'org', sourceId: id, data: { name, type: parent ? 'school' : 'district', ...(parent ? { parentId: parent } : {}) }, raw: { id, name }, location: `orgs:${id}`,
});

export const person = (id: string, givenName = `Given${id}`, familyName = 'Family'): SourceRecord => ({
  type: 'person', sourceId: id, data: { givenName, familyName, enabledUser: true, identifiers: [{ system: 'sis', value: id }] }, raw: { id }, location: `people:${id}`,
});

export const enrollment = (id: string, personId: string, classId = 'c1', schoolId = 's1'): SourceRecord => ({
  type: 'enrollment', sourceId: id, data: { personId, classId, schoolId, role: 'student' }, location: `enrollments:${id}`,
});
