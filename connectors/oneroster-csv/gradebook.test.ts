/**
 * Contract tests for the gradebook streams (categories, lineItems, results) and the 1.2 learning-objective files on
 * the synthetic fixtures in fixtures/oneroster-csv/ (or12-gradebook, or12-gradebook-delta, or11-gradebook,
 * gradebook-bad-rows) and on variants written to a temp dir: exact records and rejects, the join of the objective
 * files, modes, cursors and resume.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HubError } from '../../src/core/errors';
import { silentLogger } from '../../src/core/logger';
import type { Cursor, Page, PlanContext, ReadContext, SourceRecord, SyncMode } from '../../src/ingest/contract';
import { oneRosterCsv, type OneRosterCsvSettings } from './index';
import { LIMITS } from './objectives';

const FIXTURES = path.resolve(__dirname, '../../fixtures/oneroster-csv');
let tmp: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'oneroster-csv-gradebook-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function base(signal = new AbortController().signal) {
  return { tenantId: 't1', connectorId: 'sis', baseDir: FIXTURES, log: silentLogger, signal };
}
const planCtx = (cursors: Record<string, Cursor | undefined> = {}): PlanContext => ({ ...base(), cursors });
const readCtx = (mode: SyncMode, cursor?: Cursor): ReadContext => ({ ...base(), mode, ...(cursor ? { cursor } : {}) });

async function pages(stream: string, settings: OneRosterCsvSettings, ctx: ReadContext): Promise<Page[]> {
  const out: Page[] = [];
  for await (const p of oneRosterCsv.read(stream, settings, ctx)) out.push(p);
  return out;
}
async function records(stream: string, settings: OneRosterCsvSettings, mode: SyncMode = 'full'): Promise<SourceRecord[]> {
  return (await pages(stream, settings, readCtx(mode))).flatMap((p) => p.records);
}
const slim = (r: SourceRecord) => ({ sourceId: r.sourceId, location: r.location, ...(r.deleted ? { deleted: true } : {}), data: r.data });
/** Rejects without raw (asserted separately). */
const rejectsOf = (ps: Page[]) => ps.flatMap((p) => p.rejects ?? []).map(({ raw, ...r }) => r);

async function caught(p: Promise<unknown>): Promise<HubError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(HubError);
    return e as HubError;
  }
  throw new Error('expected a HubError');
}

function writeExport(name: string, files: Record<string, string[]>): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [file, lines] of Object.entries(files)) fs.writeFileSync(path.join(dir, file), `${lines.join('\n')}\n`);
  return dir;
}
function copyFixture(name: string, as: string): string {
  const dir = path.join(tmp, as);
  fs.cpSync(path.join(FIXTURES, name), dir, { recursive: true });
  return dir;
}

const HEAD_12 = ['propertyName,value', 'manifest.version,1.0', 'oneroster.version,1.2'];
const LI_12 = 'sourcedId,status,dateLastModified,title,description,assignDate,dueDate,classSourcedId,categorySourcedId,academicSessionSourcedId,resultValueMin,resultValueMax,schoolSourcedId';
const LILO = 'sourcedId,status,dateLastModified,lineItemSourcedId,source,learningObjectiveId';
const CASE = (n: number) => `6b1f0a3e-0000-4000-8000-00000000000${n}`;

// ---------------------------------------------------------------------------------------------------------------

describe('1.2 bulk with gradebook (or12-gradebook)', () => {
  const s = { path: 'or12-gradebook' };

  test('plan: the gradebook streams are full after the roster; scoreScales.csv is declared but not read', async () => {
    const plan = await oneRosterCsv.plan(s, planCtx());
    expect(plan.slice(-3)).toEqual([
      { stream: 'categories', mode: 'full' },
      { stream: 'lineItems', mode: 'full' },
      { stream: 'results', mode: 'full' },
    ]);
    expect(plan.filter((p) => p.skip).map((p) => p.stream)).toEqual(['demographics']);
    expect(await oneRosterCsv.check(s, base())).toMatchObject({ ok: true, details: expect.stringContaining('scoreScales') });
  });

  test('categories: weight as a number (decimals too), a blank weight omitted, a quoted comma kept', async () => {
    expect((await records('categories', s)).map(slim)).toEqual([
      { sourceId: 'cat-hw', location: 'categories.csv:2', data: { title: 'Homework', weight: 20 } },
      { sourceId: 'cat-quiz', location: 'categories.csv:3', data: { title: 'Quizzes', weight: 12.5 } },
      { sourceId: 'cat-test', location: 'categories.csv:4', data: { title: 'Tests, unit and final' } },
    ]);
  });

  test('lineItems: references as source ids, dates as UTC date-times, alignment from lineItemLearningObjectiveIds.csv in file order', async () => {
    const recs = await records('lineItems', s);
    expect(recs.map(slim)).toEqual([
      {
        sourceId: 'li-1',
        location: 'lineItems.csv:2',
        data: {
          title: 'Linear equations worksheet',
          description: 'Problems 1-20, odd only',
          classId: 'cls-alg-1',
          schoolId: 'sch-9',
          categoryId: 'cat-hw',
          gradingPeriodId: 'gp-1',
          assignDate: '2025-09-01T00:00:00.000Z',
          dueDate: '2025-09-05T00:00:00.000Z',
          resultValueMin: 0,
          resultValueMax: 10,
          alignment: [
            { ref: CASE(1), source: 'case' },
            { ref: CASE(3), source: 'case' },
            { ref: 'ALG.1.2', source: 'ext:district-standards' },
          ],
        },
      },
      {
        sourceId: 'li-2',
        location: 'lineItems.csv:3',
        data: {
          title: 'Quiz 1',
          classId: 'cls-alg-1',
          schoolId: 'sch-9',
          categoryId: 'cat-quiz',
          gradingPeriodId: 'gp-1',
          // 14:00 at -04:00 is 18:00 UTC.
          assignDate: '2025-09-08T13:00:00.000Z',
          dueDate: '2025-09-08T18:00:00.000Z',
          resultValueMin: 0,
          resultValueMax: 100,
          alignment: [{ ref: CASE(2), source: 'case' }],
        },
      },
      {
        sourceId: 'li-3',
        location: 'lineItems.csv:4',
        data: {
          title: 'Unit 1 test',
          classId: 'cls-alg-2',
          schoolId: 'sch-9',
          categoryId: 'cat-test',
          gradingPeriodId: 'term-f',
          assignDate: '2025-09-15T00:00:00.000Z',
          dueDate: '2025-09-19T00:00:00.000Z',
        },
      },
    ]);
    expect(recs[0].raw).toMatchObject({ sourcedId: 'li-1', academicSessionSourcedId: 'gp-1', resultValueMax: '10' });
  });

  test('results: scoreStatus with spaces (any case), extra credit kept, flags as booleans, learningObjectiveResults attached', async () => {
    const recs = await records('results', s);
    expect(recs.map(slim)).toEqual([
      {
        sourceId: 'res-1',
        location: 'results.csv:2',
        data: {
          lineItemId: 'li-1',
          personId: 'stu-a',
          scoreStatus: 'fully graded',
          score: 9.5,
          scoreDate: '2025-09-06T00:00:00.000Z',
          comment: 'Neat work, well explained',
          late: false,
          missing: false,
          incomplete: false,
          inProgress: false,
          learningObjectiveResults: [
            { ref: CASE(1), source: 'case', score: 4, textScore: 'Proficient' },
            { ref: CASE(3), source: 'case', score: 3 },
          ],
        },
      },
      {
        sourceId: 'res-2',
        location: 'results.csv:3',
        data: { lineItemId: 'li-1', personId: 'stu-b', scoreStatus: 'not submitted', scoreDate: '2025-09-06T00:00:00.000Z', missing: true },
      },
      {
        sourceId: 'res-3',
        location: 'results.csv:4',
        data: {
          lineItemId: 'li-2',
          personId: 'stu-a',
          scoreStatus: 'fully graded',
          score: 105,
          textScore: 'A+',
          scoreDate: '2025-09-09T10:00:00.000Z',
          comment: 'Extra credit',
          learningObjectiveResults: [{ ref: CASE(2), source: 'case', textScore: 'Exceeds' }],
        },
      },
      {
        sourceId: 'res-4',
        location: 'results.csv:5',
        data: {
          lineItemId: 'li-2',
          personId: 'stu-b',
          scoreStatus: 'partially graded',
          score: 40,
          scoreDate: '2025-09-09T00:00:00.000Z',
          late: false,
          missing: false,
          incomplete: true,
          inProgress: true,
          learningObjectiveResults: [{ ref: 'ALG.1.2', source: 'ext:district-standards', score: 2.5 }],
        },
      },
      {
        sourceId: 'res-5',
        location: 'results.csv:6',
        data: { lineItemId: 'li-3', personId: 'stu-c', scoreStatus: 'exempt', scoreDate: '2025-09-20T00:00:00.000Z' },
      },
    ]);
    // classSourcedId has no unified field (the line item names the class): it stays in raw.
    expect(recs[0].raw).toMatchObject({ classSourcedId: 'cls-alg-1', scoreStatus: 'fully graded' });
    expect(recs[2].raw).toMatchObject({ scoreStatus: 'Fully Graded' });
  });

  test('the stream fingerprint covers the objective file: unchanged -> skip; only the objective file changed -> read again', async () => {
    const dir = copyFixture('or12-gradebook', 'fp');
    const ps = await pages('results', { path: dir }, readCtx('full'));
    const cursor = ps[ps.length - 1].cursor!;
    expect(cursor).toMatchObject({ fingerprint: expect.stringMatching(/^fs:\d+:[\d.]+\+fs:\d+:[\d.]+$/), line: 6, complete: true });
    const skip = async () => (await oneRosterCsv.plan({ path: dir }, planCtx({ results: cursor }))).find((p) => p.stream === 'results')?.skip;
    expect(await skip()).toBe('unchanged since last run (results.csv, resultLearningObjectiveIds.csv)');
    fs.appendFileSync(path.join(dir, 'resultLearningObjectiveIds.csv'), `rlo-9,,,res-5,case,${CASE(3)},,\n`);
    expect(await skip()).toBeUndefined();
    expect((await records('results', { path: dir })).find((r) => r.sourceId === 'res-5')?.data.learningObjectiveResults).toEqual([{ ref: CASE(3), source: 'case' }]);
  });

  test('a wrong header in an objective file fails the plan, naming it', async () => {
    const dir = copyFixture('or12-gradebook', 'lo-header');
    fs.writeFileSync(path.join(dir, 'lineItemLearningObjectiveIds.csv'), 'sourcedId,status,dateLastModified,lineItemSourcedId,learningObjectiveId,source\nx,,,li-1,a,case\n');
    const e = await caught(oneRosterCsv.plan({ path: dir }, planCtx()));
    expect(e.details).toEqual([{ path: 'lineItemLearningObjectiveIds.csv:1', message: 'expected column 5 to be "source", found "learningObjectiveId"' }]);
  });

  test('an objective file larger than the limit fails the read with source_invalid (memory stays bounded)', async () => {
    const restore = jest.replaceProperty(LIMITS, 'objectiveRows', 3);
    try {
      const e = await caught(pages('results', { path: 'or12-gradebook' }, readCtx('full')));
      expect(e.code).toBe('source_invalid');
      expect(e.details[0].path).toBe('resultLearningObjectiveIds.csv:5');
      expect(e.message).toContain('more than 3 rows: the connector holds this file in memory to join it with results.csv');
      // As many rows as the limit is fine.
      LIMITS.objectiveRows = 4;
      expect((await records('results', { path: 'or12-gradebook' })).length).toBe(5);
    } finally {
      restore.restore();
    }
  });
});

describe('1.1 bulk with gradebook (or11-gradebook)', () => {
  const s = { path: 'or11-gradebook' };

  test('categories without weight, lineItems with gradingPeriodSourcedId and no school, results without the 1.2 columns', async () => {
    expect((await records('categories', s)).map(slim)).toEqual([{ sourceId: 'c-essay', location: 'categories.csv:2', data: { title: 'Essays' } }]);
    expect((await records('lineItems', s)).map(slim)).toEqual([
      {
        sourceId: 'l-1',
        location: 'lineItems.csv:2',
        data: {
          title: 'Personal narrative',
          description: 'Draft and final copy',
          classId: 'cls-eng7',
          categoryId: 'c-essay',
          gradingPeriodId: 'gp-a',
          assignDate: '2025-09-08T00:00:00.000Z',
          dueDate: '2025-09-19T00:00:00.000Z',
          resultValueMin: 0,
          resultValueMax: 50,
        },
      },
      {
        sourceId: 'l-2',
        location: 'lineItems.csv:3',
        data: { title: 'Book report', classId: 'cls-eng7', categoryId: 'c-essay', gradingPeriodId: 'gp-a', assignDate: '2025-10-01T00:00:00.000Z', dueDate: '2025-10-17T00:00:00.000Z' },
      },
    ]);
    expect((await records('results', s)).map(slim)).toEqual([
      { sourceId: 'r-1', location: 'results.csv:2', data: { lineItemId: 'l-1', personId: 'u-s1', scoreStatus: 'fully graded', score: 44, scoreDate: '2025-09-22T00:00:00.000Z', comment: 'Strong opening' } },
      { sourceId: 'r-2', location: 'results.csv:3', data: { lineItemId: 'l-1', personId: 'u-s2', scoreStatus: 'submitted', scoreDate: '2025-09-19T00:00:00.000Z' } },
      { sourceId: 'r-3', location: 'results.csv:4', data: { lineItemId: 'l-2', personId: 'u-s1', scoreStatus: 'exempt', scoreDate: '2025-10-17T00:00:00.000Z' } },
    ]);
  });

  test('a 1.1 export with 1.2 gradebook headers is refused; 1.1 manifests listing objective files are not read for them', async () => {
    const dir = writeExport('or11-with-12-lineitems', {
      'manifest.csv': ['propertyName,value', 'manifest.version,1.0', 'oneroster.version,1.1', 'file.lineItems,bulk', 'file.lineItemLearningObjectiveIds,bulk'],
      'lineItems.csv': [LI_12, 'li-1,,,Quiz,,2025-09-01,2025-09-01,c,k,gp,,,s'],
      'lineItemLearningObjectiveIds.csv': [LILO, 'x,,,li-1,case,o'],
    });
    const e = await caught(oneRosterCsv.plan({ path: dir }, planCtx()));
    expect(e.details).toEqual([{ path: 'lineItems.csv:1', message: 'expected column 10 to be "gradingPeriodSourcedId", found "academicSessionSourcedId"' }]);
  });
});

describe('1.2 delta with gradebook (or12-gradebook-delta)', () => {
  const s = { path: 'or12-gradebook-delta' };

  test('plan: lineItems and results incremental; categories absent', async () => {
    expect((await oneRosterCsv.plan(s, planCtx())).slice(-3)).toEqual([
      { stream: 'categories', mode: 'incremental', skip: 'manifest.csv declares file.categories absent' },
      { stream: 'lineItems', mode: 'incremental' },
      { stream: 'results', mode: 'incremental' },
    ]);
  });

  test('lineItems: re-sent line items carry the objectives of this delta; a change for a line item not re-sent is a reject', async () => {
    const ps = await pages('lineItems', s, readCtx('incremental'));
    expect(ps.flatMap((p) => p.records).map((r) => [r.sourceId, r.data.title, r.data.alignment])).toEqual([
      ['li-4', 'Quiz 2', [{ ref: CASE(2), source: 'case' }]],
      ['li-3', 'Unit 1 test (rescheduled)', [{ ref: CASE(1), source: 'case' }]],
    ]);
    expect(rejectsOf(ps)).toEqual([
      {
        location: 'lineItemLearningObjectiveIds.csv:4',
        field: 'lineItemSourcedId',
        code: 'reference_unresolved',
        reason: 'line item "li-1" is not re-sent in this delta\'s lineItems.csv: a learning objective change is applied only with its line item (re-send the line item with all its learning objective rows)',
      },
    ]);
    expect(ps[ps.length - 1].rejects![0].raw).toMatchObject({ sourcedId: 'lilo-3', status: 'tobedeleted', lineItemSourcedId: 'li-1' });
    expect(ps[ps.length - 1].cursor).toMatchObject({ line: 3, complete: true });
  });

  test('results: an update, a tobedeleted result (only its sourcedId), a new result with its objective', async () => {
    expect((await records('results', s, 'incremental')).map(slim)).toEqual([
      {
        sourceId: 'res-2',
        location: 'results.csv:2',
        data: {
          lineItemId: 'li-1',
          personId: 'stu-b',
          scoreStatus: 'fully graded',
          score: 7,
          scoreDate: '2025-09-23T00:00:00.000Z',
          comment: 'Handed in late',
          late: true,
          missing: false,
          learningObjectiveResults: [{ ref: CASE(1), source: 'case', score: 2, textScore: 'Developing' }],
        },
      },
      { sourceId: 'res-5', location: 'results.csv:3', deleted: true, data: {} },
      {
        sourceId: 'res-7',
        location: 'results.csv:4',
        data: { lineItemId: 'li-4', personId: 'stu-a', scoreStatus: 'submitted', scoreDate: '2025-09-23T00:00:00.000Z', inProgress: true, learningObjectiveResults: [{ ref: CASE(2), source: 'case' }] },
      },
    ]);
  });

  test('a delta is never read in full mode', async () => {
    expect((await caught(pages('results', s, readCtx('full')))).message).toContain('cannot be read in full mode');
  });

  test('paging and resume: objectives of committed line items are not reported as orphans after a resume', async () => {
    const first = await pages('lineItems', { ...s, pageSize: 1 }, readCtx('incremental'));
    expect(first.map((p) => [p.records.map((r) => r.sourceId), (p.rejects ?? []).map((r) => r.location), p.cursor?.line, p.cursor?.complete])).toEqual([
      [['li-4'], [], 2, false],
      [['li-3'], [], 3, false],
      [[], ['lineItemLearningObjectiveIds.csv:4'], 3, true],
    ]);
    const resumed = await pages('lineItems', { ...s, pageSize: 1 }, readCtx('incremental', first[0].cursor));
    expect(resumed.map((p) => [p.records.map((r) => r.sourceId), (p.rejects ?? []).map((r) => r.location), p.cursor?.line, p.cursor?.complete])).toEqual([
      [['li-3'], [], 3, false],
      [[], ['lineItemLearningObjectiveIds.csv:4'], 3, true],
    ]);
    expect(resumed[0].records[0].data.alignment).toEqual([{ ref: CASE(1), source: 'case' }]);
  });

  test('a bulk objective file next to a delta parent file: objectives of parents not re-sent are left alone, not rejected', async () => {
    const dir = writeExport('delta-parent-bulk-lo', {
      'manifest.csv': [...HEAD_12, 'file.lineItems,delta', 'file.lineItemLearningObjectiveIds,bulk'],
      'lineItems.csv': [LI_12, 'li-3,active,2025-09-22T08:05:00Z,Unit 1 test,,2025-09-15,2025-09-26,cls-alg-2,cat-test,term-f,,,sch-9'],
      'lineItemLearningObjectiveIds.csv': [LILO, `lilo-1,,,li-1,case,${CASE(1)}`, `lilo-6,,,li-3,case,${CASE(1)}`, `lilo-7,,,li-3,case,${CASE(2)}`],
    });
    const ps = await pages('lineItems', { path: dir }, readCtx('incremental'));
    expect(ps.flatMap((p) => p.records).map((r) => [r.sourceId, r.data.alignment])).toEqual([['li-3', [{ ref: CASE(1), source: 'case' }, { ref: CASE(2), source: 'case' }]]]);
    expect(rejectsOf(ps)).toEqual([]);
  });
});

describe('manifest modes of the objective files', () => {
  test('a bulk parent file with a delta objective file is refused (the bulk file replaces its records whole)', async () => {
    const dir = writeExport('bulk-parent-delta-lo', {
      'manifest.csv': [...HEAD_12, 'file.lineItems,bulk', 'file.lineItemLearningObjectiveIds,delta'],
      'lineItems.csv': [LI_12, 'li-1,,,Quiz,,2025-09-01,2025-09-01,c,k,gp,,,s'],
      'lineItemLearningObjectiveIds.csv': [LILO, 'x,active,2025-09-01T00:00:00Z,li-1,case,o'],
    });
    const e = await caught(oneRosterCsv.plan({ path: dir }, planCtx()));
    expect(e.code).toBe('source_invalid');
    expect(e.details).toEqual([{ path: 'manifest.csv:5', message: 'file.lineItemLearningObjectiveIds is delta but file.lineItems is bulk' }]);
    expect(e.message).toContain('which a bulk file replaces whole; declare both bulk');
    expect((await caught(pages('lineItems', { path: dir }, readCtx('full')))).details[0].path).toBe('manifest.csv:5');
  });

  test('an objective file without its parent file is not read, and the skip says so', async () => {
    const dir = writeExport('lo-without-parent', {
      'manifest.csv': [...HEAD_12, 'file.lineItems,absent', 'file.resultLearningObjectiveIds,delta'],
      'resultLearningObjectiveIds.csv': ['sourcedId,status,dateLastModified,resultSourcedId,source,learningObjectiveId,score,textScore', 'x,active,2025-09-01T00:00:00Z,r-1,case,o,,'],
    });
    expect((await oneRosterCsv.plan({ path: dir }, planCtx())).slice(-2)).toEqual([
      { stream: 'lineItems', mode: 'incremental', skip: 'manifest.csv declares file.lineItems absent' },
      { stream: 'results', mode: 'incremental', skip: 'manifest.csv does not list file.results (resultLearningObjectiveIds.csv is not applied without it)' },
    ]);
  });

  test('objective files declared absent: line items without alignment', async () => {
    const dir = writeExport('lo-absent', {
      'manifest.csv': [...HEAD_12, 'file.lineItems,bulk', 'file.lineItemLearningObjectiveIds,absent'],
      'lineItems.csv': [LI_12, 'li-1,,,Quiz,,2025-09-01,2025-09-01,c,k,gp,,,s'],
    });
    const [rec] = await records('lineItems', { path: dir });
    expect(rec.data.alignment).toBeUndefined();
  });
});

describe('bad rows (gradebook-bad-rows)', () => {
  const s = { path: 'gradebook-bad-rows' };

  test('categories: a weight that is not a number, a blank title', async () => {
    const ps = await pages('categories', s, readCtx('full'));
    expect(ps.flatMap((p) => p.records).map((r) => r.sourceId)).toEqual(['cat-1']);
    expect(rejectsOf(ps)).toEqual([
      { location: 'categories.csv:3', field: 'weight', code: 'row_malformed', reason: 'weight must be a number, found "heavy"', sourceId: 'cat-2' },
      { location: 'categories.csv:4', field: 'title', code: 'record_invalid', reason: 'required column title is blank', sourceId: 'cat-3' },
    ]);
  });

  test('lineItems: bad date, min above max, max not a number, no class, a bad objective row (the line item waits), an orphan objective', async () => {
    const ps = await pages('lineItems', s, readCtx('full'));
    expect(ps).toHaveLength(1);
    expect(ps[0].records.map((r) => [r.sourceId, r.data.alignment])).toEqual([['li-ok', [{ ref: 'obj-1', source: 'case' }]]]);
    expect(rejectsOf(ps)).toEqual([
      // The objective file's own rejects come first (no sourceId: an objective row's id names no hub record).
      { location: 'lineItemLearningObjectiveIds.csv:3', field: 'learningObjectiveId', code: 'record_invalid', reason: 'required column learningObjectiveId is blank' },
      { location: 'lineItems.csv:3', field: 'assignDate', code: 'row_malformed', reason: 'assignDate must be a date YYYY-MM-DD or an ISO 8601 date-time, found "09/08/2025"', sourceId: 'li-date' },
      { location: 'lineItems.csv:4', field: 'resultValueMax', code: 'record_invalid', reason: 'resultValueMax 10 is less than resultValueMin 100', sourceId: 'li-range' },
      { location: 'lineItems.csv:5', field: 'resultValueMax', code: 'row_malformed', reason: 'resultValueMax must be a number, found "ten"', sourceId: 'li-max' },
      { location: 'lineItems.csv:6', field: 'classSourcedId', code: 'record_invalid', reason: 'required column classSourcedId is blank', sourceId: 'li-noclass' },
      {
        location: 'lineItems.csv:7',
        field: 'alignment',
        code: 'record_invalid',
        reason: 'its learning objective row lineItemLearningObjectiveIds.csv:3 is rejected (required column learningObjectiveId is blank): the line item is not stored without it; a stored version is kept, also by a full refresh',
        sourceId: 'li-lo',
      },
      { location: 'lineItemLearningObjectiveIds.csv:4', field: 'lineItemSourcedId', code: 'reference_unresolved', reason: 'lineItemSourcedId "li-gone" is not in lineItems.csv: this learning objective has no line item to go to' },
    ]);
    expect(ps[0].rejects![5].raw).toMatchObject({ sourcedId: 'li-lo', title: 'Essay' });
    expect(ps[0].rejects![6].raw).toMatchObject({ sourcedId: 'lo-3', lineItemSourcedId: 'li-gone' });
    expect(ps[0].cursor).toMatchObject({ line: 7, complete: true });
  });

  test('results: score not a number (8/10, 8,5), unknown scoreStatus, missing lineItemSourcedId, bad flag, short row, bad objective rows, an orphan', async () => {
    const ps = await pages('results', s, readCtx('full'));
    expect(ps.flatMap((p) => p.records).map((r) => [r.sourceId, r.data.learningObjectiveResults])).toEqual([
      ['r-ok', [{ ref: 'obj-1', source: 'case', score: 3, textScore: 'Proficient' }, { ref: 'obj-2', source: 'case', score: 4 }]],
    ]);
    expect(rejectsOf(ps)).toEqual([
      { location: 'resultLearningObjectiveIds.csv:3', field: 'score', code: 'row_malformed', reason: 'score must be a number, found "high"' },
      // Unparsable: its parent cannot be read, so r-ok is stored without it.
      { location: 'resultLearningObjectiveIds.csv:6', field: 'learningObjectiveId', code: 'row_malformed', reason: expect.stringContaining('broken quoting in column 6 (learningObjectiveId)') },
      { location: 'results.csv:3', field: 'score', code: 'row_malformed', reason: 'score must be a number, found "8/10"', sourceId: 'r-score' },
      {
        location: 'results.csv:4',
        field: 'scoreStatus',
        code: 'record_invalid',
        reason: 'scoreStatus must be one of exempt, fully graded, not submitted, partially graded, submitted (with spaces), found "fully_graded"',
        sourceId: 'r-status',
      },
      { location: 'results.csv:5', field: 'lineItemSourcedId', code: 'record_invalid', reason: 'required column lineItemSourcedId is blank', sourceId: 'r-noli' },
      { location: 'results.csv:6', field: 'late', code: 'row_malformed', reason: 'late must be true or false, found "yes"', sourceId: 'r-late' },
      { location: 'results.csv:7', field: 'score', code: 'row_malformed', reason: 'score must be a number, found "8,5"', sourceId: 'r-decimal' },
      {
        location: 'results.csv:8',
        field: 'learningObjectiveResults',
        code: 'record_invalid',
        reason: 'its learning objective row resultLearningObjectiveIds.csv:3 is rejected (score must be a number, found "high"): the result is not stored without it; a stored version is kept, also by a full refresh',
        sourceId: 'r-lo',
      },
      { location: 'results.csv:9', code: 'row_malformed', reason: 'expected 15 fields as in the header, found 5', sourceId: 'r-short' },
      { location: 'resultLearningObjectiveIds.csv:5', field: 'resultSourcedId', code: 'reference_unresolved', reason: 'resultSourcedId "r-gone" is not in results.csv: this learning objective has no result to go to' },
    ]);
    // The unparsable objective row keeps its text; it carries no sourceId (its first field is the objective row's id).
    expect(ps[0].rejects![1]).toMatchObject({ raw: 'rlo-5,,,r-ok,case,"obj-x"y,1,' });
    expect(ps[0].rejects![1].sourceId).toBeUndefined();
  });

  test('a parent with several bad objective rows names the first and counts the rest', async () => {
    const dir = writeExport('two-bad-lo', {
      'manifest.csv': [...HEAD_12, 'file.lineItems,bulk', 'file.lineItemLearningObjectiveIds,bulk'],
      'lineItems.csv': [LI_12, 'li-1,,,Quiz,,2025-09-01,2025-09-01,c,k,gp,,,s'],
      'lineItemLearningObjectiveIds.csv': [LILO, 'a,,,li-1,,o1', 'b,,,li-1,case,o2', 'c,inactive,,li-1,case,o3'],
    });
    const ps = await pages('lineItems', { path: dir }, readCtx('full'));
    expect(rejectsOf(ps).map((r) => [r.location, r.reason])).toEqual([
      ['lineItemLearningObjectiveIds.csv:2', 'required column source is blank'],
      ['lineItemLearningObjectiveIds.csv:4', 'status must be blank or active in a bulk file, found "inactive"'],
      ['lineItems.csv:2', expect.stringContaining('its learning objective row lineItemLearningObjectiveIds.csv:2 is rejected (required column source is blank) (and 1 more of its rows): the line item')],
    ]);
  });
});
