/**
 * caliper/: a learning app's Caliper 1.2 event stream, one envelope per line (NDJSON), in time order.
 *
 * The app ("Practice Lab", launched from the LMS, so it knows students by their LMS sourcedIds) delivers the homework
 * and quizzes of the math classes at the pilot schools (the first middle and the first high school). For each
 * student and assignment the LMS gradebook holds, one envelope carries the student's session: SessionEvent LoggedIn,
 * ToolUseEvent Used, AssessmentEvent Started, and — when the work was turned in — AssessmentEvent Submitted and the
 * app's GradeEvent Graded whose Score is the one in lms/bulk/results.csv. Students the gradebook marks missing
 * sometimes started and never submitted.
 *
 *   caliper/events.ndjson   the envelopes
 *   caliper/README.md       how to configure the sensor and POST them to the hub
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRng } from './prng';
import { TextSink } from './csv';
import { randomUuid } from './uuid';
import type { District } from './model';
import type { QuizAttempt } from './gradebook';

export const CALIPER_V1P2 = 'http://purl.imsglobal.org/ctx/caliper/v1p2';
export const APP = 'https://practice-lab.example';
export const SENSOR = `${APP}/sensors/district`;
export const LMS = 'https://lms.district.example';

export interface CaliperResult {
  file: string;
  readme: string;
  sensor: string;
  envelopes: number;
  events: number;
  byType: Record<string, number>;
  actors: number;
  firstEventTime: string;
  lastEventTime: string;
}

const DAY_MS = 86_400_000;
const iso = (ms: number): string => new Date(ms).toISOString();
const duration = (ms: number): string => {
  const s = Math.round(ms / 1000);
  return `PT${Math.floor(s / 60)}M${s % 60}S`;
};

export async function writeCaliper(d: District, attempts: readonly QuizAttempt[], dir: string): Promise<CaliperResult> {
  fs.mkdirSync(dir, { recursive: true });
  const rng = createRng(d.seed, 'caliper');
  const ids = createRng(d.seed, 'caliper-ids');
  const edApp = { id: APP, type: 'SoftwareApplication', name: 'Practice Lab', version: '3.2.0' };
  const autograder = { id: `${APP}/autograder`, type: 'SoftwareApplication', name: 'Practice Lab autograder', version: '3.2.0' };

  // Plan each session first (time and outcome), then write them in time order.
  interface Planned { login: number; start: number; attempt: QuizAttempt; submitted: boolean; minutes: number }
  const sessions: Planned[] = [];
  for (const a of attempts) {
    const submitted = a.status === 'fully graded';
    if (!submitted && !rng.chance(0.35)) continue; // most missing quizzes were never opened
    // Started on a school day between assignment and due date (late ones after it), 13:00-21:59 UTC (school hours to evening).
    const lastDay = a.late ? a.due + 1 + rng.int(3) : a.due;
    let day = a.assign + rng.int(Math.max(1, lastDay - a.assign + 1));
    const w = (day + 4) % 7;
    if (w === 6) day += 2;
    else if (w === 0) day += 1;
    const start = day * DAY_MS + (13 * 60 + rng.int(9 * 60)) * 60_000 + rng.int(60_000);
    sessions.push({ login: start - (60 + rng.int(240)) * 1000, start, attempt: a, submitted, minutes: 6 + rng.int(20) });
  }
  sessions.sort((x, y) => x.login - y.login || (x.attempt.lineItem < y.attempt.lineItem ? -1 : x.attempt.lineItem > y.attempt.lineItem ? 1 : 0) || (x.attempt.lmsStudent < y.attempt.lmsStudent ? -1 : 1));

  const sink = new TextSink(path.join(dir, 'events.ndjson'));
  const byType: Record<string, number> = {};
  const actors = new Set<string>();
  let events = 0;
  let first = '';
  let last = '';
  for (const sess of sessions) {
    const a = sess.attempt;
    const actorId = `${LMS}/users/${a.lmsStudent}`;
    actors.add(actorId);
    const actor = { id: actorId, type: 'Person' };
    const groupId = `${LMS}/classes/${a.lmsClass}`;
    const group = { id: groupId, type: 'CourseSection', name: a.courseTitle, courseNumber: a.classCode, academicSession: 'S1 2026-27' };
    const membership = {
      id: `${groupId}/members/${a.lmsStudent}`, type: 'Membership', member: actorId, organization: groupId, roles: ['Learner'], status: 'Active',
    };
    const loginAt = sess.login;
    const sessionId = `${APP}/sessions/${randomUuid(ids).replace(/-/g, '')}`;
    const session = { id: sessionId, type: 'Session', user: actorId, dateCreated: iso(loginAt), startedAtTime: iso(loginAt) };
    const assessmentId = `${APP}/assessments/${a.lineItem}`;
    const assessment = {
      id: assessmentId, type: 'Assessment', name: `${a.courseTitle}: ${a.title}`,
      dateToStartOn: iso(a.assign * DAY_MS + 12 * 3_600_000), dateToSubmit: iso(a.due * DAY_MS + 23 * 3_600_000 + 59 * 60_000 + 59_000),
      maxAttempts: 1, maxSubmits: 1, maxScore: a.max,
    };
    const attemptId = `${assessmentId}/users/${a.lmsStudent}/attempts/1`;
    const started = sess.start;
    const ended = started + sess.minutes * 60_000 + rng.int(60_000);
    const base = (type: string, profile: string, action: string): Record<string, unknown> => ({
      '@context': CALIPER_V1P2,
      id: `urn:uuid:${randomUuid(ids)}`,
      type,
      profile,
      actor,
      action,
    });
    const data: Array<Record<string, unknown>> = [];
    const at = (e: Record<string, unknown>, ms: number, rest: Record<string, unknown>): void => {
      data.push({ ...e, ...rest, eventTime: iso(ms) });
    };
    at(base('SessionEvent', 'SessionProfile', 'LoggedIn'), loginAt, { object: edApp, edApp: APP, session });
    const usedAt = loginAt + 2000 + rng.int(5000);
    at(base('ToolUseEvent', 'ToolUseProfile', 'Used'), usedAt, { object: { id: APP, type: 'SoftwareApplication' }, edApp: APP, group, membership, session: sessionId });
    at(base('AssessmentEvent', 'AssessmentProfile', 'Started'), started, {
      object: assessment,
      generated: { id: attemptId, type: 'Attempt', assignee: actorId, assignable: assessmentId, count: 1, dateCreated: iso(started), startedAtTime: iso(started) },
      edApp: APP, group, membership, session: sessionId,
    });
    if (sess.submitted) {
      const attempt = {
        id: attemptId, type: 'Attempt', assignee: actorId, assignable: assessmentId, count: 1, dateCreated: iso(started),
        startedAtTime: iso(started), endedAtTime: iso(ended), duration: duration(ended - started),
      };
      at(base('AssessmentEvent', 'AssessmentProfile', 'Submitted'), ended, { object: assessmentId, generated: attempt, edApp: APP, group, membership, session: sessionId });
      const gradedAt = ended + 1000 + rng.int(3000);
      const graded = base('GradeEvent', 'GradingProfile', 'Graded');
      graded.actor = autograder;
      at(graded, gradedAt, {
        object: { ...attempt, assignee: actor, assignable: { id: assessmentId, type: 'Assessment' } },
        generated: {
          id: `${attemptId}/scores/1`, type: 'Score', attempt: attemptId, maxScore: a.max, scoreGiven: a.score, scoredBy: autograder.id,
          ...(a.late ? { comment: 'Submitted after the due date' } : {}), dateCreated: iso(gradedAt),
        },
        edApp: APP, group,
      });
    }
    for (const e of data) byType[`${e.type as string} ${e.action as string}`] = (byType[`${e.type as string} ${e.action as string}`] ?? 0) + 1;
    events += data.length;
    const lastTime = data[data.length - 1].eventTime as string;
    if (!first) first = data[0].eventTime as string;
    last = lastTime;
    const envelope = { sensor: SENSOR, sendTime: iso(Date.parse(lastTime) + 1000 + rng.int(4000)), dataVersion: CALIPER_V1P2, data };
    const p = sink.write(`${JSON.stringify(envelope)}\n`);
    if (p) await p;
  }
  await sink.close();
  if (sessions.length === 0) fs.writeFileSync(path.join(dir, 'events.ndjson'), '');

  fs.writeFileSync(path.join(dir, 'README.md'), caliperReadme(sessions.length));
  return {
    file: 'caliper/events.ndjson',
    readme: 'caliper/README.md',
    sensor: SENSOR,
    envelopes: sessions.length,
    events,
    byType: Object.fromEntries(Object.entries(byType).sort()),
    actors: actors.size,
    firstEventTime: first,
    lastEventTime: last,
  };
}

function caliperReadme(envelopes: number): string {
  return `# caliper/ — a learning app's Caliper 1.2 events

\`events.ndjson\` holds ${envelopes} Caliper 1.2 envelopes, one per line, in time order, from the learning app
"Practice Lab" (sensor \`${SENSOR}\`). Each envelope is one student's session on a homework or quiz of a pilot
school's math class:
\`SessionEvent LoggedIn\`, \`ToolUseEvent Used\`, \`AssessmentEvent Started\`, and for quizzes turned in
\`AssessmentEvent Submitted\` and the autograder's \`GradeEvent Graded\` (a \`Score\` with \`scoreGiven\` / \`maxScore\`).
Nothing here is real data.

- Actors are \`${LMS}/users/<LMS sourcedId>\`: the student's sourcedId in \`lms/bulk/users.csv\` (the app is
  launched from the LMS). Groups are \`${LMS}/classes/<LMS class sourcedId>\`.
- Assessments are \`${APP}/assessments/<lineItem sourcedId>\`: the assignment's line item in \`lms/bulk/lineItems.csv\`;
  the graded score equals the student's result in \`lms/bulk/results.csv\`.
- Event ids are \`urn:uuid:\` UUIDs (version-4 format, derived from the seed); times are UTC with milliseconds.

## Sending them to the hub

The hub's Caliper endpoint is \`POST /caliper/<tenant>\`. Declare the sensor in the tenant's configuration, with its
token held in an environment variable (or as a SHA-256, see \`src/caliper/README.md\`):

\`\`\`json
"caliper": { "sensors": [ { "id": "${SENSOR}", "name": "practice-lab", "token": { "$env": "CALIPER_PRACTICE_LAB_TOKEN" } } ] }
\`\`\`

In the hub's demo (\`npm start\`) this sensor is already configured, with its token in \`HUB_CALIPER_TOKEN\` (made once into
\`.hub/demo-caliper-token\`), and the start banner prints a ready-to-run \`curl\` posting the first envelope.

Then post one envelope:

\`\`\`sh
export CALIPER_PRACTICE_LAB_TOKEN=…   # the same value the hub was started with
head -n 1 events.ndjson > envelope.json
curl -X POST -H "Authorization: Bearer $CALIPER_PRACTICE_LAB_TOKEN" -H 'Content-Type: application/json' \\
  --data @envelope.json http://127.0.0.1:3000/caliper/demo
\`\`\`

or all of them, one request per envelope (a 200 with an empty body means every event was stored; posting the same
envelope again stores nothing new):

\`\`\`sh
while IFS= read -r line; do
  printf '%s' "$line" | curl -sS -X POST -H "Authorization: Bearer $CALIPER_PRACTICE_LAB_TOKEN" \\
    -H 'Content-Type: application/json' --data-binary @- http://127.0.0.1:3000/caliper/demo
done < events.ndjson
\`\`\`

Use \`--data-binary\` (not \`--data\`) when reading from a pipe or a multi-line file: \`--data\` strips newlines.
`;
}
