/**
 * Mastery rules: the scale a framework reports on, the threshold, the method that turns evidence into a level, and
 * how late and missing work count. Configured per tenant under `competencies` (defaults, then per framework, then
 * per framework + subject, each overriding field by field). Pure: no I/O.
 */
import type { ErrorDetail } from '../core/errors';
import type { TenantConfig } from '../core/config';

export type MethodType = 'highest' | 'mostRecent' | 'meanOfLast' | 'decayingAverage' | 'masteredTimes';
export const METHOD_TYPES: readonly MethodType[] = ['highest', 'mostRecent', 'meanOfLast', 'decayingAverage', 'masteredTimes'];

export interface Method {
  type: MethodType;
  /** meanOfLast: how many of the most recent scores; masteredTimes: how many scores at or above the threshold. */
  n?: number;
  /** decayingAverage: weight of the newest score. */
  weight?: number;
}

export type LateRule = 'count' | 'exclude' | { penalty: number };

export interface Rules {
  scaleMin: number;
  scaleMax: number;
  threshold: number;
  approaching: number;
  method: Method;
  late: LateRule;
  missing: 'exclude' | 'zero';
}

export type CompetencyConfig = NonNullable<TenantConfig['competencies']>;
type RulesInput = NonNullable<CompetencyConfig['defaults']>;

export const DEFAULT_SCALE = { min: 0, max: 4 };
export const DEFAULT_METHOD: Method = { type: 'decayingAverage', weight: 0.65 };

/** A short label for the `method` column: `decayingAverage(0.65)`, `meanOfLast(3)`, `highest`. */
export function methodLabel(m: Method): string {
  if (m.type === 'decayingAverage') return `decayingAverage(${m.weight ?? DEFAULT_METHOD.weight})`;
  if (m.type === 'meanOfLast' || m.type === 'masteredTimes') return `${m.type}(${m.n})`;
  return m.type;
}

/** Merges rule layers (later wins, field by field) into complete rules. */
export function mergeRules(layers: readonly (RulesInput | undefined)[]): Rules {
  let scale: { min: number; max: number } = DEFAULT_SCALE;
  let threshold: number | undefined;
  let approaching: number | undefined;
  let method: Method = DEFAULT_METHOD;
  let late: LateRule = 'count';
  let missing: 'exclude' | 'zero' = 'exclude';
  for (const l of layers) {
    if (!l) continue;
    if (l.scale) {
      scale = l.scale;
      // A new scale without its own threshold takes the default share of it, not the old scale's number.
      if (l.threshold === undefined) threshold = undefined;
      if (l.approaching === undefined) approaching = undefined;
    }
    if (l.threshold !== undefined) threshold = l.threshold;
    if (l.approaching !== undefined) approaching = l.approaching;
    if (l.method) method = l.method as Method;
    if (l.late !== undefined) late = l.late as LateRule;
    if (l.missing !== undefined) missing = l.missing;
  }
  const span = scale.max - scale.min;
  return {
    scaleMin: scale.min,
    scaleMax: scale.max,
    threshold: threshold ?? scale.min + 0.75 * span,
    approaching: approaching ?? scale.min + 0.5 * span,
    method,
    late,
    missing,
  };
}

function layerProblems(l: RulesInput | undefined, at: string): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  if (!l) return out;
  if (l.scale && !(l.scale.max > l.scale.min)) out.push({ path: `${at}.scale`, message: `max (${l.scale.max}) must be greater than min (${l.scale.min})` });
  const m = l.method;
  if (m) {
    if ((m.type === 'meanOfLast' || m.type === 'masteredTimes') && m.n === undefined) out.push({ path: `${at}.method.n`, message: `method '${m.type}' needs n (how many scores)` });
    if (m.type !== 'meanOfLast' && m.type !== 'masteredTimes' && m.n !== undefined) out.push({ path: `${at}.method.n`, message: `method '${m.type}' takes no n` });
    if (m.type !== 'decayingAverage' && m.weight !== undefined) out.push({ path: `${at}.method.weight`, message: `only decayingAverage takes a weight` });
  }
  return out;
}

/**
 * Problems with a tenant's `competencies` section that the JSON schema cannot express, by JSON path (reported as
 * config_invalid by validateConfig). Thresholds are checked against the scale in effect at each layer.
 */
export function competencyConfigProblems(c: CompetencyConfig | undefined, at: string): ErrorDetail[] {
  if (!c) return [];
  const out: ErrorDetail[] = [...layerProblems(c.defaults, `${at}.defaults`)];
  const check = (rules: Rules, p: string, layer: RulesInput | undefined) => {
    if (!layer) return;
    if (layer.threshold !== undefined && (rules.threshold <= rules.scaleMin || rules.threshold > rules.scaleMax)) {
      out.push({ path: `${p}.threshold`, message: `must lie above the scale's minimum and at most its maximum (${rules.scaleMin}..${rules.scaleMax})` });
    }
    if (layer.approaching !== undefined && (rules.approaching < rules.scaleMin || rules.approaching > rules.threshold)) {
      out.push({ path: `${p}.approaching`, message: `must lie between the scale's minimum (${rules.scaleMin}) and the threshold (${rules.threshold})` });
    }
  };
  if (!out.length) check(mergeRules([c.defaults]), `${at}.defaults`, c.defaults);
  (c.frameworks ?? []).forEach((f, i) => {
    const p = `${at}.frameworks[${i}]`;
    const own = layerProblems(f, p);
    out.push(...own);
    if (!own.length && !out.length) {
      const base = f.subject ? (c.frameworks ?? []).filter((g) => g.framework === f.framework && !g.subject) : [];
      check(mergeRules([c.defaults, ...base, f]), p, f);
    }
  });
  const keys = new Set<string>();
  (c.frameworks ?? []).forEach((f, i) => {
    const k = `${f.framework}\u0000${f.subject ?? ''}`;
    if (keys.has(k)) out.push({ path: `${at}.frameworks[${i}]`, message: `framework '${f.framework}'${f.subject ? ` subject '${f.subject}'` : ''} is configured twice` });
    keys.add(k);
  });
  return out;
}
