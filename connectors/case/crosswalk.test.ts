/**
 * crosswalkGraph on a synthetic district framework aligned to a state framework (fixtures/case/frameworks): the
 * district's exactMatchOf / isRelatedTo crosswalks, a reciprocal pair and a three-way loop that would let a
 * competency count toward itself.
 */
import type { SourceRecord } from '../../src/ingest/contract';
import { crosswalkGraph, type CrosswalkAssociation } from './crosswalk';
import { run } from './test-helpers';

let associations: SourceRecord[];
let code: (caseId: string) => string;

beforeAll(async () => {
  const r = await run({ source: { folder: 'frameworks' } });
  associations = r.associations.records;
  const codes = new Map(r.items.records.map((i) => [i.sourceId, i.data.humanCodingScheme as string]));
  code = (id) => codes.get(id) ?? id;
});

const data = () => associations.map((a) => a.data as unknown as CrosswalkAssociation);

describe('crosswalkGraph on the district -> state fixtures', () => {
  test('edges: the alignments only (not isChildOf or precedes), in input order, with their association ids', () => {
    const g = crosswalkGraph(data());
    expect(g.edges.map((e) => `${code(e.from)} ${e.type} ${code(e.to)}`)).toEqual([
      'RB.3.M.1 exactMatchOf 3.OA.1',
      'RB.3.M.2 exactMatchOf 3.NF.1',
      'RB.3.M.3 isRelatedTo 3.MD.1',
      'RB.3.M.3 isRelatedTo 3.MD.2',
      '3.OA.1 exactMatchOf RB.3.M.1',
      'RB.3.M.4 isRelatedTo RB.3.M.5',
      'RB.3.M.5 exactMatchOf 3.NF.2',
      '3.NF.2 isRelatedTo RB.3.M.4',
    ]);
    expect(g.edges.every((e) => typeof e.associationId === 'string' && e.frameworkId === '6260d894-e5d8-531b-a7a9-00ef58af4b20')).toBe(true);
    expect(g.nodes).toHaveLength(10); // RB.3.M.1-5 and five state standards
    expect(g.out.get(associations.find((a) => a.data.associationType === 'isRelatedTo')!.data.originCaseId as string)!.map((e) => code(e.to))).toEqual(['3.MD.1', '3.MD.2']);
  });

  test('equivalence classes: exactMatchOf in either direction', () => {
    const g = crosswalkGraph(data());
    expect(g.equivalenceClasses.map((c) => c.map(code).sort())).toEqual(
      expect.arrayContaining([['3.OA.1', 'RB.3.M.1'], ['3.NF.1', 'RB.3.M.2'], ['3.NF.2', 'RB.3.M.5']]),
    );
    expect(g.equivalenceClasses).toHaveLength(3);
  });

  test('cycles: the reciprocal exactMatchOf pair and the RB.3.M.4 -> RB.3.M.5 -> 3.NF.2 -> RB.3.M.4 loop', () => {
    const g = crosswalkGraph(data());
    const cycles = g.cycles.map((c) => ({ members: c.members.map(code).sort(), length: c.path.length - 1, edges: c.edges.length }));
    expect(cycles).toEqual(
      expect.arrayContaining([
        { members: ['3.OA.1', 'RB.3.M.1'], length: 2, edges: 2 },
        { members: ['3.NF.2', 'RB.3.M.4', 'RB.3.M.5'], length: 3, edges: 3 },
      ]),
    );
    expect(cycles).toHaveLength(2);
    const three = g.cycles.find((c) => c.members.length === 3)!;
    // The path is a real loop: each step is an edge, and it ends where it started.
    expect(three.path[0]).toBe(three.path[three.path.length - 1]);
    for (let i = 0; i + 1 < three.path.length; i++) expect(g.edges.some((e) => e.from === three.path[i] && e.to === three.path[i + 1])).toBe(true);
  });

  test('without the district-entered back links there is no loop', () => {
    const g = crosswalkGraph(data().filter((a) => !['3.OA.1', '3.NF.2'].includes(code(a.originCaseId))));
    expect(g.cycles).toEqual([]);
  });

  test('types can be narrowed: exactMatchOf alone still sees the reciprocal pair, not the mixed loop', () => {
    const g = crosswalkGraph(data(), { types: ['exactMatchOf'] });
    expect(g.cycles.map((c) => c.members.map(code).sort())).toEqual([['3.OA.1', 'RB.3.M.1']]);
  });
});

describe('crosswalkGraph, small cases', () => {
  const a = (from: string, to: string, type = 'exactMatchOf', caseId?: string): CrosswalkAssociation => ({ associationType: type, originCaseId: from, destinationCaseId: to, ...(caseId ? { caseId } : {}) });

  test('empty input', () => {
    expect(crosswalkGraph([])).toMatchObject({ nodes: [], edges: [], equivalenceClasses: [], cycles: [] });
  });

  test('a competency aligned to itself is a cycle of one', () => {
    expect(crosswalkGraph([a('x', 'x', 'isRelatedTo', 'as1')]).cycles).toEqual([
      { members: ['x'], path: ['x', 'x'], edges: [{ from: 'x', to: 'x', type: 'isRelatedTo', associationId: 'as1' }] },
    ]);
  });

  test('a chain is not a cycle; closing it is; output is deterministic whatever the input order', () => {
    expect(crosswalkGraph([a('a', 'b'), a('b', 'c'), a('c', 'd')]).cycles).toEqual([]);
    const edges = [a('c', 'a'), a('a', 'b'), a('b', 'c'), a('d', 'a')];
    const g1 = crosswalkGraph(edges);
    const g2 = crosswalkGraph([...edges].reverse());
    expect(g1.cycles).toEqual([{ members: ['a', 'b', 'c'], path: ['a', 'b', 'c', 'a'], edges: expect.any(Array) }]);
    expect(g2.cycles).toEqual(g1.cycles);
    expect(g1.nodes).toEqual(['a', 'b', 'c', 'd']);
  });

  test('two separate loops are reported separately, sorted', () => {
    const g = crosswalkGraph([a('q', 'p'), a('p', 'q'), a('b', 'a', 'isRelatedTo'), a('a', 'b', 'isRelatedTo')]);
    expect(g.cycles.map((c) => c.members)).toEqual([['a', 'b'], ['p', 'q']]);
  });

  test('a long chain closing on itself does not overflow the stack', () => {
    const n = 50000;
    const edges = Array.from({ length: n }, (_, i) => a(`n${i}`, `n${(i + 1) % n}`));
    const g = crosswalkGraph(edges);
    expect(g.cycles).toHaveLength(1);
    expect(g.cycles[0].members).toHaveLength(n);
    expect(g.cycles[0].path).toHaveLength(n + 1);
  });

  test('other association types and malformed entries are ignored', () => {
    const g = crosswalkGraph([a('a', 'b', 'isChildOf'), a('b', 'a', 'precedes'), { associationType: 'exactMatchOf' } as CrosswalkAssociation]);
    expect(g.edges).toEqual([]);
  });
});
