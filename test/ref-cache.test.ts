/** The run-level cache of resolved references (src/normalize/page-writer.ts rememberRefs). */
import { rememberRefs } from '../src/normalize/page-writer';
import type { EntityType } from '../src/ingest/contract';

const page = (entries: [EntityType, [string, string][]][]) => new Map(entries.map(([t, kv]) => [t, new Map(kv)]));
const size = (c: Map<string, Map<string, string>>) => [...c.values()].reduce((n, m) => n + m.size, 0);

describe('rememberRefs', () => {
  it('keeps only types other records refer to, and forgets deleted sources', () => {
    const cache = new Map<string, Map<string, string>>();
    rememberRefs(cache, page([['class', [['c1', 'U1']]], ['enrollment', [['e1', 'U2']]], ['person', [['p1', 'U3'], ['p2', 'U4']]]]), [{ type: 'person', sourceIds: ['p2'] }]);
    expect([...cache.keys()].sort()).toEqual(['class', 'person']);
    expect(cache.get('person')).toEqual(new Map([['p1', 'U3']]));
  });

  it('stays bounded whatever the district size, evicting the least recently remembered first', () => {
    const cache = new Map<string, Map<string, string>>();
    for (let p = 0; p < 60; p++) {
      rememberRefs(cache, page([['person', Array.from({ length: 2000 }, (_, i): [string, string] => [`p${p}-${i}`, `U${p}-${i}`])]]));
      // The school is re-resolved by every page: recently used, so it is never evicted.
      rememberRefs(cache, page([['org', [['school-1', 'S1']]]]));
      expect(size(cache)).toBeLessThanOrEqual(50_000);
    }
    expect(cache.get('org')!.get('school-1')).toBe('S1');
    expect(cache.get('person')!.has('p59-1999')).toBe(true); // the newest page is there
    expect(cache.get('person')!.has('p0-0')).toBe(false); // the oldest is gone
  });
});
