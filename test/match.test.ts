import { compareNames, featuresOf, normalizeName, scorePair, withinOneEdit, jaroWinkler } from '../src/normalize/match';
import { mergeSources } from '../src/normalize/merge';
import { canonicalJson, diffRecords, sameValue } from '../src/normalize/canonical';
import { foldSql, foldText } from '../src/store/db';

const f = (d: Record<string, unknown>, birthDates: string[] = [], sex: string[] = []) => featuresOf(d, { birthDates, sex });

describe('name normalization and comparison', () => {
  it('folds accents, case, hyphens and apostrophes', () => {
    expect(normalizeName("  García-López ")).toBe('garcia lopez');
    expect(normalizeName("O'Brien")).toBe('o brien');
    expect(normalizeName('Nguyễn Đặng')).toBe('nguyen dang');
    expect(normalizeName('Yılmaz')).toBe('yilmaz');
  });
  it('recognises exact, nickname, typo, partial and mismatched names', () => {
    expect(compareNames(['garcia lopez'], ['garcialopez'])).toBe('exact');
    expect(compareNames(['jake'], ['jacob'])).toBe('nickname');
    expect(compareNames(['richie'], ['richard'])).toBe('nickname');
    expect(compareNames(['rauk'], ['raul'])).toBe('typo');
    expect(compareNames(['muurphy'], ['murphy'])).toBe('typo');
    expect(compareNames(['maria jose'], ['jose'])).toBe('partial');
    expect(compareNames(['emma'], ['olivia'])).toBe('none');
    expect(compareNames([], ['x'])).toBe('unknown');
  });
  it('edit distance one and Jaro-Winkler behave', () => {
    expect(withinOneEdit('avq', 'ava')).toBe(true);
    expect(withinOneEdit('limh', 'linh')).toBe(true);
    expect(withinOneEdit('ab', 'ba')).toBe(true);
    expect(withinOneEdit('anna', 'anne-marie')).toBe(false);
    expect(jaroWinkler('martha', 'marhta')).toBeCloseTo(0.961, 3);
  });
});

describe('scoring pairs', () => {
  const sis = { givenName: 'Jacob', familyName: 'Bennett', middleName: 'Lee', email: 'jacob.bennett@district.example', grades: ['09'] };
  it('links a nickname with the same birth date and e-mail far above the link threshold', () => {
    const r = scorePair(f({ givenName: 'Jake', familyName: 'Bennett', email: 'Jacob.Bennett@district.example', grades: ['9'] }, ['2011-03-04']), f(sis, ['2011-03-04']));
    expect(r.score).toBeGreaterThan(0.99);
    expect(r.evidence).toMatchObject({ given: 'nickname', family: 'exact', birthDate: 'equal', email: 'equal', grade: 'equal' });
  });
  it('keeps twins apart: same family name, birth date, grade and school, different given names', () => {
    const a = f({ givenName: 'Mia', familyName: 'Rossi', grades: ['7'] }, ['2013-05-01'], ['female']);
    const b = f({ givenName: 'Leo', familyName: 'Rossi', grades: ['7'] }, ['2013-05-01'], ['male']);
    expect(scorePair(a, b).score).toBeLessThan(0.01);
  });
  it('keeps namesakes apart: same full name, different birth dates', () => {
    const a = f({ givenName: 'Emma', familyName: 'Smith', middleName: 'Rose' }, ['2012-01-09']);
    const b = f({ givenName: 'Emma', familyName: 'Smith', middleName: 'Rose' }, ['2013-07-21']);
    expect(scorePair(a, b).score).toBeLessThan(0.2);
  });
  it('handles swapped given and family names', () => {
    const r = scorePair(f({ givenName: 'Nguyen', familyName: 'Linh' }, ['2012-02-02']), f({ givenName: 'Linh', familyName: 'Nguyễn' }, ['2012-02-02']));
    expect(r.evidence.names).toMatch(/swapped/);
    expect(r.score).toBeGreaterThan(0.6);
  });
  it('a same-name pair without birth dates is not a confident link', () => {
    expect(scorePair(f({ givenName: 'Ana', familyName: 'Lee' }), f({ givenName: 'Ana', familyName: 'Lee' })).score).toBeLessThan(0.95);
  });
});

describe('merged view with provenance', () => {
  it('takes each field from the strongest source, unions identifiers, and shows conflicts', () => {
    const m = mergeSources('p1', [
      { connectorId: 'lms', sourceId: 'l1', seenAt: '2026-11-02', data: { givenName: 'Jake', familyName: 'Bennett', email: 'jb@lms.example', identifiers: [{ system: 'lms', value: 'l1' }] } },
      { connectorId: 'sis', sourceId: 's1', seenAt: '2026-11-01', data: { givenName: 'Jacob', familyName: 'Bennett', email: 'jacob@sis.example', identifiers: [{ system: 'state', value: 'TX1' }] } },
    ], { default: ['sis', 'lms'], fields: { email: ['lms', 'sis'] } });
    expect(m.data).toEqual({ givenName: 'Jacob', familyName: 'Bennett', email: 'jb@lms.example', identifiers: [{ system: 'state', value: 'TX1' }, { system: 'lms', value: 'l1' }], id: 'p1' });
    expect(m.provenance.givenName).toEqual({ connector: 'sis', sourceId: 's1', seenAt: '2026-11-01', rule: 'precedence: sis > lms', conflicts: [{ connector: 'lms', sourceId: 'l1', value: 'Jake' }] });
    expect(m.provenance.email).toMatchObject({ connector: 'lms', rule: 'precedence: lms > sis' });
    expect(m.provenance.familyName).toEqual({ connector: 'sis', sourceId: 's1', seenAt: '2026-11-01', rule: 'precedence: sis > lms' });
    expect(m.provenance.identifiers).toHaveLength(2);
  });

  it('a single source (the bulk-load fast path): its fields by "only source", identifiers de-duplicated, keys sorted, id last', () => {
    const m = mergeSources('p2', [
      { connectorId: 'sis', sourceId: 's2', seenAt: '2026-11-03', data: { id: 'ignored', givenName: 'Ana', familyName: 'Ruiz', middleName: undefined, identifiers: [{ value: 'A2', system: 'SIS' }, { system: 'SIS', value: 'A2' }, { system: 'state', value: 'TX2' }] } },
    ]);
    expect(JSON.stringify(m.data)).toBe(JSON.stringify({ familyName: 'Ruiz', givenName: 'Ana', identifiers: [{ value: 'A2', system: 'SIS' }, { system: 'state', value: 'TX2' }], id: 'p2' }));
    expect(m.provenance).toEqual({
      familyName: { connector: 'sis', sourceId: 's2', seenAt: '2026-11-03', rule: 'only source' },
      givenName: { connector: 'sis', sourceId: 's2', seenAt: '2026-11-03', rule: 'only source' },
      identifiers: [{ connector: 'sis', sourceId: 's2', seenAt: '2026-11-03', rule: 'union' }],
    });
  });
});

describe('equal values across sources and versions', () => {
  it('an object field with its keys in another order is no conflict; a different primitive is one', () => {
    const m = mergeSources('p3', [
      { connectorId: 'sis', sourceId: 's3', seenAt: '2026-11-01', data: { address: { city: 'Austin', zip: '78701' }, grade: '05', birthDate: null } },
      { connectorId: 'edfi', sourceId: 'e3', seenAt: '2026-11-02', data: { address: { zip: '78701', city: 'Austin' }, grade: 5, birthDate: null } },
    ], { default: ['sis', 'edfi'] });
    expect((m.provenance.address as { conflicts?: unknown }).conflicts).toBeUndefined();
    expect((m.provenance.grade as { conflicts?: unknown }).conflicts).toEqual([{ connector: 'edfi', sourceId: 'e3', value: 5 }]);
    expect((m.provenance.birthDate as { conflicts?: unknown }).conflicts).toBeUndefined();
  });

  it('diffRecords: same values (objects in any key order, missing = null) are no change; a number is not its string', () => {
    const before = { a: 1, b: { x: 1, y: [1, 2] }, c: 'k', d: null, e: '5' };
    const after = { a: 1, b: { y: [1, 2], x: 1 }, c: 'k', e: 5, f: { z: 1 } };
    expect(diffRecords(before, after)).toEqual({ e: ['5', 5], f: [null, { z: 1 }] });
    expect(diffRecords({ l: [1, 2] }, { l: [2, 1] })).toEqual({ l: [[1, 2], [2, 1]] });
  });

  it('sameValue on objects and arrays says what comparing their canonical JSON says', () => {
    const values: unknown[] = [
      {}, [], { a: 1 }, { a: 1, b: undefined }, { b: undefined }, { a: '1' }, { a: 1, b: 2 }, { b: 2, a: 1 }, { a: [1, 2] }, { a: [2, 1] },
      [null], [undefined], [NaN], [Infinity], [1], ['1'], [{ x: 1, y: 2 }], [{ y: 2, x: 1 }], [[1], [2]], [[2], [1]], { a: { b: { c: null } } },
      { a: { b: { c: undefined } } }, { a: { b: {} } }, { constructor: null }, { toString: 'x' }, [true], [false], [0], [-0], { s: 'ü' }, { s: 'u\u0308' },
      [{ system: 'SIS', value: 'S1' }, { system: 'State', value: 'TX1' }], [{ value: 'S1', system: 'SIS' }, { value: 'TX1', system: 'State' }],
    ];
    let pairs = 0;
    for (const a of values) {
      for (const b of values) {
        expect([a, b, sameValue(a, b)]).toEqual([a, b, canonicalJson(a) === canonicalJson(b)]);
        pairs++;
      }
    }
    expect(pairs).toBe(values.length ** 2);
    // Primitives compare as they are (no JSON): a number is not its string, null is not undefined.
    expect(sameValue(5, '5')).toBe(false);
    expect(sameValue(null, undefined)).toBe(false);
    expect(sameValue('a', 'a')).toBe(true);
  });
});

describe('name folding in SQL', () => {
  it('PostgreSQL translate() maps every accented letter to its base letter, one for one', () => {
    const m = /translate\(lower\(x\), '([^']+)', '([^']+)'\)/.exec(foldSql('pg', 'x'))!;
    const [from, to] = [[...m[1]], [...m[2]]];
    expect(to).toHaveLength(from.length);
    from.forEach((c, i) => expect(c === 'ı' ? 'i' : c === 'ø' ? 'o' : foldText(c)).toBe(to[i]));
    expect(foldSql('sqlite', 'x')).toBe('hub_fold(x)');
    expect(foldText('García-LÓPEZ')).toBe('garcia-lopez');
  });
});
