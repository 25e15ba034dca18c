/**
 * Readiness groups for a class and a competency, from the latest mastery (read at request time, so they follow every
 * derive): by status — `not_started`, `beginning` (in progress, under the framework's `approaching` level),
 * `approaching` (in progress, at or above it), `mastered` — or by level bands given as ascending cut points
 * (`bands=1,2,3` on a 0-4 scale: [0,1), [1,2), [2,3), [3,4], plus not started).
 */
import type { ItemInfo } from './catalog';

export interface LearnerLevel {
  learnerId: string;
  level: number | null;
  status: string;
}

export interface Group {
  key: string;
  label: string;
  range?: [number, number];
  learners: { learnerId: string; level: number | null }[];
}

export function readinessGroups(item: ItemInfo, learners: readonly string[], mastery: ReadonlyMap<string, LearnerLevel>, bands?: readonly number[]): Group[] {
  const r = item.rules;
  let groups: Group[];
  let place: (m: LearnerLevel | undefined) => string;
  if (bands && bands.length) {
    const cuts = [r.scaleMin, ...bands, r.scaleMax];
    groups = [{ key: 'not_started', label: 'Not started', learners: [] }];
    for (let i = 0; i + 1 < cuts.length; i++) groups.push({ key: `band_${i + 1}`, label: `${cuts[i]} to ${i + 2 === cuts.length ? `${cuts[i + 1]}` : `under ${cuts[i + 1]}`}`, range: [cuts[i], cuts[i + 1]], learners: [] });
    place = (m) => {
      if (!m || m.level === null || m.status === 'not_started') return 'not_started';
      let k = 1;
      while (k < cuts.length - 1 && m.level >= cuts[k]) k++;
      return `band_${k}`;
    };
  } else {
    groups = [
      { key: 'not_started', label: 'Not started', learners: [] },
      { key: 'beginning', label: `Beginning (under ${r.approaching})`, range: [r.scaleMin, r.approaching], learners: [] },
      { key: 'approaching', label: `Approaching (${r.approaching} to under ${r.threshold})`, range: [r.approaching, r.threshold], learners: [] },
      { key: 'mastered', label: `Mastered (${r.threshold} or more)`, range: [r.threshold, r.scaleMax], learners: [] },
    ];
    place = (m) => {
      if (!m || m.level === null || m.status === 'not_started') return 'not_started';
      if (m.status === 'mastered') return 'mastered';
      return m.level >= r.approaching ? 'approaching' : 'beginning';
    };
  }
  const byKey = new Map(groups.map((g) => [g.key, g]));
  for (const l of [...learners].sort()) {
    const m = mastery.get(l);
    byKey.get(place(m))!.learners.push({ learnerId: l, level: m?.level ?? null });
  }
  for (const g of groups) g.learners.sort((a, b) => (a.level ?? -Infinity) - (b.level ?? -Infinity) || (a.learnerId < b.learnerId ? -1 : 1));
  return groups;
}
