/**
 * What the hub keeps in columns of `learning_events` besides the whole event: the fields it filters on and the ones
 * identity resolution (actor → person) and competency evidence (assessment and grading events) will read. Only
 * called on events the validator accepted.
 */
import { isA } from './model';

export interface EventRow {
  /** The `urn:uuid:` id in lower case (UUIDs are case-insensitive; replays must match whatever the case). */
  event_id: string;
  event_type: string;
  action: string;
  profile: string | null;
  actor_id: string;
  actor_type: string | null;
  object_id: string;
  object_type: string | null;
  event_time: string;
  session_id: string | null;
  group_id: string | null;
  score_given: number | null;
  max_score: number | null;
  /** The event as JSON. */
  data: string;
}

export interface EntityRow {
  entity_id: string;
  entity_type: string;
  data: string;
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const idOf = (v: unknown): string | null => (typeof v === 'string' ? v : isObj(v) && typeof v.id === 'string' ? v.id : null);
const typeOf = (v: unknown): string | null => (isObj(v) && typeof v.type === 'string' ? v.type : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Score (scoreGiven / maxScore) or Result (resultScore, else totalScore / maxResultScore) of generated, else object. */
export function scoreOf(e: Obj): { given: number | null; max: number | null } {
  for (const v of [e.generated, e.object]) {
    const type = typeOf(v);
    if (!type || !isObj(v)) continue;
    if (isA(type, ['Score'])) return { given: num(v.scoreGiven), max: num(v.maxScore) };
    if (isA(type, ['Result'])) return { given: num(v.resultScore) ?? num(v.totalScore), max: num(v.maxResultScore) };
  }
  return { given: null, max: null };
}

export function eventRow(e: Obj, version: 'v1p1' | 'v1p2'): EventRow {
  const score = scoreOf(e);
  return {
    event_id: (e.id as string).toLowerCase(),
    event_type: e.type as string,
    action: e.action as string,
    profile: version === 'v1p2' && typeof e.profile === 'string' ? e.profile : null,
    actor_id: idOf(e.actor)!,
    actor_type: typeOf(e.actor),
    object_id: idOf(e.object)!,
    object_type: typeOf(e.object),
    event_time: e.eventTime as string,
    session_id: idOf(e.session),
    group_id: idOf(e.group),
    score_given: score.given,
    max_score: score.max,
    data: JSON.stringify(e),
  };
}

export function entityRow(o: Obj): EntityRow {
  return { entity_id: o.id as string, entity_type: o.type as string, data: JSON.stringify(o) };
}
