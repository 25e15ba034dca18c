/** The mastery methods on plain evidence (no database): the README's worked example, and the late/missing/exempt rules. */
import { computeMastery, type EvidenceLike } from '../src/derive/mastery';
import { mergeRules } from '../src/derive/rules';
import type { ItemInfo } from '../src/derive/catalog';

const item = (rules: Parameters<typeof mergeRules>[0]): ItemInfo => ({
  id: 'c1', caseId: 'c1', statement: 'x', frameworkId: 'f', subject: null, rules: mergeRules(rules),
});
let n = 0;
const ev = (level: number | null, day: string, extra: Partial<EvidenceLike> = {}): EvidenceLike => ({
  id: `e${++n}`, competency_id: 'c1', level, raw_score: null, raw_max: null, attempt: null, observed_at: day, late: false, exempt: false, missing: false,
  source_kind: 'result', source_id: `r${n}`, item_id: `li${n}`, ...extra,
});
const cat = { items: new Map<string, ItemInfo>() };
// The README example: quiz 2.0 (Sep 10), retake 3.0 (Sep 20), unit test 3.5 (Oct 5), late homework 4.0 (Oct 9), an exempt one.
const example = () => [ev(2, '2026-09-10', { item_id: 'quiz' }), ev(3, '2026-09-20', { item_id: 'quiz' }), ev(3.5, '2026-10-05'), ev(4, '2026-10-09', { late: true }), ev(null, '2026-10-12', { exempt: true })];

describe('mastery methods (README worked example)', () => {
  const run = (method: object, more: object = {}) => computeMastery(item([{ method, ...more } as never]), example(), cat);
  it('computes each method on the same evidence', () => {
    expect(run({ type: 'highest' }).level).toBe(4);
    expect(run({ type: 'mostRecent' }).level).toBe(4);
    expect(run({ type: 'meanOfLast', n: 3 }).level).toBe(3.5);
    // 2 -> 0.65*3 + 0.35*2 = 2.65 -> 0.65*3.5 + 0.35*2.65 = 3.2025 -> 0.65*4 + 0.35*3.2025 = 3.7209
    const d = run({ type: 'decayingAverage', weight: 0.65 });
    expect(d.level).toBe(3.7209);
    expect(d.status).toBe('mastered');
    expect(d.explain.evidence.map((e) => e.weight)).toEqual([0.0429, 0.0796, 0.2275, 0.65, undefined]);
    expect(d.explain.evidence[1].attempt).toBe(2); // the quiz retake
    expect(d.explain.evidence[4].excluded).toBe('exempt');
    const twice = run({ type: 'masteredTimes', n: 3 });
    expect(twice.level).toBe(3.5); // mean of 4, 3.5, 3
    expect(twice.status).toBe('mastered'); // 3, 3.5 and 4 reach the threshold 3
    expect(run({ type: 'masteredTimes', n: 4 }).status).toBe('in_progress');
  });
  it('applies the late and missing rules', () => {
    expect(run({ type: 'mostRecent' }, { late: 'exclude' }).level).toBe(3.5);
    expect(run({ type: 'mostRecent' }, { late: { penalty: 0.25 } }).level).toBe(3);
    const missing = [ev(3, '2026-09-01'), ev(0, '2026-09-05', { missing: true })];
    expect(computeMastery(item([{ method: { type: 'mostRecent' } }]), missing, cat).level).toBe(3);
    expect(computeMastery(item([{ method: { type: 'mostRecent' }, missing: 'zero' }]), missing, cat).level).toBe(0);
    const none = computeMastery(item([]), [ev(null, '2026-09-01', { exempt: true })], cat);
    expect(none).toEqual(expect.objectContaining({ level: null, status: 'not_started', counted: 0 }));
  });
});
