/**
 * Synthetic Caliper 1.2 events and envelopes, the way an LMS sensor emits them (full actor/object/group/membership/
 * session objects, ~1–1.5 KB each): for the tests and `npm run bench:caliper`. Deterministic apart from the event
 * ids (random v4 UUIDs unless given).
 */
import { randomUUID } from 'node:crypto';
import { CALIPER_CONTEXT } from './vocab';

export const SAMPLE_KINDS = ['view', 'navigation', 'assessment', 'item', 'grade', 'session', 'media'] as const;
export type SampleKind = (typeof SAMPLE_KINDS)[number];

const BASE = 'https://lms.example.edu';

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export interface SampleOptions {
  /** Learner number (actor `${BASE}/users/${learner}`). */
  learner?: number;
  /** Course section number. */
  section?: number;
  id?: string;
  eventTime?: string;
}

/** One valid Caliper 1.2 event of the given kind; `n` varies the learner, section and time. */
export function sampleEvent(kind: SampleKind, n: number, opts: SampleOptions = {}): Record<string, unknown> {
  const learner = opts.learner ?? 1000 + (n % 5000);
  const section = opts.section ?? 1 + (n % 40);
  const t0 = Date.UTC(2024, 8, 2, 8) + n * 7000;
  const actor = { id: `${BASE}/users/${learner}`, type: 'Person' };
  const sectionIri = `${BASE}/terms/2024/courses/${section}/sections/1`;
  const assessment = `${sectionIri}/assess/${1 + (n % 12)}`;
  const common = {
    '@context': CALIPER_CONTEXT.v1p2,
    id: opts.id ?? `urn:uuid:${randomUUID()}`,
    eventTime: opts.eventTime ?? iso(t0),
    edApp: { id: BASE, type: 'SoftwareApplication', version: '2024.3' },
    group: { id: sectionIri, type: 'CourseSection', courseNumber: `MATH-${100 + section}-01`, academicSession: 'Fall 2024' },
    membership: {
      id: `${sectionIri}/rosters/1`, type: 'Membership', member: actor.id, organization: sectionIri,
      roles: ['Learner'], status: 'Active', dateCreated: '2024-08-20T06:00:00.000Z',
    },
    session: { id: `${BASE}/sessions/${(learner * 7919 + Math.floor(n / 20)).toString(16)}`, type: 'Session', startedAtTime: iso(t0 - 600_000) },
  };
  const attempt = {
    id: `${assessment}/users/${learner}/attempts/1`, type: 'Attempt', assignee: actor.id, assignable: assessment, count: 1,
    dateCreated: iso(t0 - 60_000), startedAtTime: iso(t0 - 60_000),
  };
  switch (kind) {
    case 'view':
      return {
        ...common, type: 'ViewEvent', profile: 'ReadingProfile', actor, action: 'Viewed',
        object: { id: `${sectionIri}/resources/${n % 30}/reader.epub`, type: 'Document', name: 'Chapter reading', mediaType: 'application/epub+zip', version: '3' },
      };
    case 'navigation':
      return {
        ...common, type: 'NavigationEvent', profile: 'ReadingProfile', actor, action: 'NavigatedTo',
        object: { id: `${sectionIri}/pages/${n % 50}`, type: 'WebPage', name: 'Unit overview', isPartOf: { id: sectionIri, type: 'CourseSection' } },
        referrer: { id: `${sectionIri}/pages/${(n + 1) % 50}`, type: 'WebPage' },
      };
    case 'assessment':
      return {
        ...common, type: 'AssessmentEvent', profile: 'AssessmentProfile', actor, action: n % 2 ? 'Submitted' : 'Started',
        object: { id: assessment, type: 'Assessment', name: 'Unit quiz', maxAttempts: 2, maxScore: 20, dateToSubmit: '2024-12-20T23:59:59.000Z' },
        generated: attempt,
      };
    case 'item':
      return {
        ...common, type: 'AssessmentItemEvent', profile: 'AssessmentProfile', actor, action: 'Completed',
        object: { id: `${assessment}/items/${n % 10}`, type: 'AssessmentItem', isPartOf: assessment, maxScore: 2, isTimeDependent: false },
        generated: {
          id: `${assessment}/items/${n % 10}/users/${learner}/responses/1`, type: 'MultipleChoiceResponse', attempt: attempt.id,
          value: 'C', startedAtTime: iso(t0 - 30_000), endedAtTime: iso(t0), duration: 'PT30S',
        },
      };
    case 'grade':
      return {
        ...common, type: 'GradeEvent', profile: 'GradingProfile', actor: { id: `${BASE}/autograder`, type: 'SoftwareApplication', version: '2' },
        action: 'Graded', object: { ...attempt, endedAtTime: iso(t0 - 5_000), duration: 'PT55S' },
        generated: {
          id: `${attempt.id}/scores/1`, type: 'Score', attempt: attempt.id, maxScore: 20, scoreGiven: n % 21,
          scoredBy: `${BASE}/autograder`, dateCreated: iso(t0),
        },
      };
    case 'session':
      return { ...common, type: 'SessionEvent', profile: 'SessionProfile', actor, action: 'LoggedIn', object: { id: BASE, type: 'SoftwareApplication' } };
    case 'media':
      return {
        ...common, type: 'MediaEvent', profile: 'MediaProfile', actor, action: 'Paused',
        object: { id: `${BASE}/videos/${n % 20}`, type: 'VideoObject', name: 'Worked example', mediaType: 'video/mp4', duration: 'PT8M20S' },
        target: { id: `${BASE}/videos/${n % 20}?t=${n % 500}`, type: 'MediaLocation', currentTime: `PT${n % 500}S` },
      };
  }
}

export interface SampleEnvelope {
  sensor: string;
  sendTime: string;
  dataVersion: string;
  data: Record<string, unknown>[];
}

export function sampleEnvelope(sensor: string, data: Record<string, unknown>[], sendTime = new Date().toISOString()): SampleEnvelope {
  return { sensor, sendTime, dataVersion: CALIPER_CONTEXT.v1p2, data };
}

/** `count` events cycling through the kinds, starting at event number `from`. */
export function sampleEvents(count: number, from = 0): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, i) => sampleEvent(SAMPLE_KINDS[(from + i) % SAMPLE_KINDS.length], from + i));
}
