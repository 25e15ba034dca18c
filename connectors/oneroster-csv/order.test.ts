import type { SourceRecord } from '../../src/ingest/contract';
import { parentsFirst } from './order';

const org = (sourceId: string, parentId?: string, deleted = false): SourceRecord => ({
  type: 'org',
  sourceId,
  data: parentId ? { name: sourceId, type: 'school', parentId } : deleted ? {} : { name: sourceId, type: 'district' },
  ...(deleted ? { deleted: true } : {}),
});
const ids = (rs: SourceRecord[]) => rs.map((r) => r.sourceId);

describe('parentsFirst', () => {
  test('parents before children, siblings in file order', () => {
    expect(ids(parentsFirst([org('c1', 'p'), org('g1', 'c1'), org('p'), org('c2', 'p')]))).toEqual(['p', 'c1', 'c2', 'g1']);
  });

  test('records whose parent is not in the file come after the rooted ones, with their descendants after them', () => {
    expect(ids(parentsFirst([org('kid', 'orphan'), org('orphan', 'elsewhere'), org('root')]))).toEqual(['root', 'orphan', 'kid']);
  });

  test('cycles come last, in file order; nothing is lost', () => {
    expect(ids(parentsFirst([org('a', 'b'), org('root'), org('b', 'a'), org('self', 'self')]))).toEqual(['root', 'a', 'b', 'self']);
  });

  test('deletions go last', () => {
    expect(ids(parentsFirst([org('gone', undefined, true), org('c', 'p'), org('p')]))).toEqual(['p', 'c', 'gone']);
  });
});
