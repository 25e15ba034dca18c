/**
 * behaviour/: the district's behaviour tool (referrals and positive recognitions, PBIS style) and the mapped-csv
 * settings that read its export.
 *
 *   behaviour/incidents.csv  semicolon-delimited, one row per participant: incident, date (M/D/YYYY), time (h:mm A),
 *                            school, location, student (SIS local id, name, grade), role (Offender, Victim,
 *                            Witness, Recipient), behaviour code, positive Y/N, the action taken with the student
 *                            (detention, suspensions with days, conference, certificate) and who reported it. Fall
 *                            2026 up to the SIS delta date. A few rows are deliberately bad (expected.json).
 *   behaviour/mapping.json   the `settings` of a mapped-csv connector reading it (paths relative to this folder)
 *
 * The same incidents feed the state discipline file (edfi/StudentDiscipline.xml): those where a student was
 * suspended (ISS/OSS) are state-reportable, under the SIS's own incident numbers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { clamp, type Abilities } from './abilities';
import { createRng, type Rng } from './prng';
import { CsvFile, csvLine } from './csv';
import { GRADES, dayOf, pad, type District } from './model';

export type Role = 'Offender' | 'Victim' | 'Witness' | 'Recipient';

export interface Participant {
  student: number;
  role: Role;
  action?: { code: string; days?: number };
}

export interface Incident {
  /** The behaviour tool's id (INC-…). */
  id: string;
  /** The SIS's incident number when the incident is state-reportable (a suspension), else ''. */
  sisId: string;
  school: number;
  day: number;
  /** Minutes after midnight. */
  minutes: number;
  location: string;
  behaviour: string;
  positive: boolean;
  reporter: number;
  description: string;
  participants: Participant[];
}

export const BEHAVIOURS: Record<string, string> = {
  FIGHT: 'Fighting', DISRUPT: 'Classroom disruption', DEFIANCE: 'Defiance', THEFT: 'Theft', BUS: 'Bus misconduct',
  BULLY: 'Bullying', TARDY: 'Tardiness', PHONE: 'Phone misuse', VAPE: 'Vaping', SKIP: 'Skipping class',
  KIND: 'Kindness', HELP: 'Helping others', LEAD: 'Leadership', EFFORT: 'Outstanding effort',
};
export const ACTIONS: Record<string, string> = {
  DET: 'Detention', LUNCH: 'Lunch detention', ISS: 'In-school suspension', OSS: 'Out-of-school suspension',
  BUSS: 'Bus suspension', CONF: 'Parent conference', CERT: 'Recognition certificate',
};
export const ROLES: Record<Role, string> = { Offender: 'Perpetrator', Victim: 'Victim', Witness: 'Witness', Recipient: 'Recognized' };

const HEADER = [
  'Incident ID', 'Date', 'Time', 'School Code', 'School', 'Location', 'Student ID', 'Last Name', 'First Name', 'Grade', 'Role',
  'Behavior', 'Positive', 'Action', 'Action Days', 'Reported By', 'Description',
] as const;

const NEGATIVE_BY_BAND: Record<string, Array<[string, number]>> = {
  elementary: [['DISRUPT', 35], ['DEFIANCE', 20], ['FIGHT', 15], ['BUS', 12], ['BULLY', 10], ['THEFT', 4], ['PHONE', 4]],
  middle: [['DISRUPT', 24], ['DEFIANCE', 14], ['FIGHT', 12], ['PHONE', 15], ['TARDY', 10], ['BULLY', 9], ['THEFT', 5], ['BUS', 6], ['VAPE', 5]],
  high: [['TARDY', 20], ['PHONE', 18], ['DISRUPT', 14], ['DEFIANCE', 9], ['FIGHT', 7], ['VAPE', 11], ['THEFT', 5], ['SKIP', 14], ['BULLY', 2]],
};
const RATES: Record<string, { negative: number; positive: number }> = {
  elementary: { negative: 0.12, positive: 0.35 },
  middle: { negative: 0.35, positive: 0.25 },
  high: { negative: 0.25, positive: 0.2 },
};
const LOCATIONS: Record<string, string[]> = {
  FIGHT: ['Playground', 'Hallway', 'Cafeteria', 'Gym'],
  BUS: ['Bus'],
  VAPE: ['Restroom', 'Parking lot'],
  SKIP: ['Hallway', 'Parking lot'],
  TARDY: ['Hallway', 'Classroom'],
  THEFT: ['Classroom', 'Gym', 'Cafeteria'],
  BULLY: ['Cafeteria', 'Hallway', 'Playground'],
  default: ['Classroom', 'Classroom', 'Classroom', 'Hallway', 'Library', 'Cafeteria'],
};
const DESCRIPTIONS: Record<string, string[]> = {
  FIGHT: ['Physical altercation; students separated by staff', 'Pushing and punching after an argument'],
  DISRUPT: ['Repeated talking after warnings', 'Threw paper across the room', 'Loud outbursts during instruction'],
  DEFIANCE: ['Refused to follow instructions', 'Left the classroom without permission'],
  THEFT: ["Took another student's calculator", 'Took items from a locker'],
  BUS: ['Standing while the bus was moving', 'Throwing objects on the bus'],
  BULLY: ['Name-calling during lunch; reported by a classmate', 'Repeated teasing of another student'],
  TARDY: ['Third tardy this grading period', 'Late to first period again'],
  PHONE: ['Phone out during instruction', 'Phone out during a test'],
  VAPE: ['Vape device found during a bag check', 'Student seen vaping before first period'],
  SKIP: ['Not in assigned class', 'Left campus during lunch'],
  KIND: ['Helped a new student find "Room 12"', 'Comforted a classmate who was upset'],
  HELP: ['Stayed after class to help clean the lab', 'Helped the librarian shelve books'],
  LEAD: ['Led the morning announcements', 'Organized the class food drive'],
  EFFORT: ['Completed every assignment this week', 'Rewrote an essay without being asked'],
};

/** School days of the fall up to the SIS delta (Labor Day off). */
function schoolDays(): number[] {
  const out: number[] = [];
  const laborDay = dayOf(2026, 9, 7);
  for (let day = dayOf(2026, 8, 17); day <= dayOf(2026, 11, 19); day++) {
    const w = (day + 4) % 7;
    if (w !== 0 && w !== 6 && day !== laborDay) out.push(day);
  }
  return out;
}

function weighted(rng: Rng, list: ReadonlyArray<[string, number]>): string {
  const total = list.reduce((a, [, w]) => a + w, 0);
  let x = rng.next() * total;
  for (const [v, w] of list) {
    x -= w;
    if (x < 0) return v;
  }
  return list[list.length - 1][0];
}

function offenderAction(rng: Rng, behaviour: string, band: string): { code: string; days?: number } | undefined {
  const elem = band === 'elementary';
  const r = rng.next();
  switch (behaviour) {
    case 'FIGHT':
      if (elem) return r < 0.6 ? { code: 'ISS', days: 1 } : { code: 'CONF' };
      return r < 0.7 ? { code: 'OSS', days: 1 + rng.int(3) } : { code: 'ISS', days: 1 + rng.int(2) };
    case 'THEFT':
      return r < 0.5 ? { code: 'ISS', days: 1 + rng.int(2) } : r < 0.8 ? { code: 'OSS', days: 1 + rng.int(2) } : { code: 'CONF' };
    case 'BULLY':
      return r < 0.6 ? { code: 'ISS', days: 1 } : { code: 'CONF' };
    case 'VAPE':
      return r < 0.6 ? { code: 'ISS', days: 2 + rng.int(2) } : { code: 'OSS', days: 1 + rng.int(2) };
    case 'BUS':
      return r < 0.5 ? { code: 'BUSS', days: 1 + rng.int(3) } : r < 0.8 ? { code: 'CONF' } : undefined;
    case 'SKIP':
      return r < 0.6 ? { code: 'DET', days: 1 } : { code: 'ISS', days: 1 };
    case 'TARDY':
      return r < 0.6 ? { code: 'DET', days: 1 } : r < 0.8 ? { code: 'LUNCH', days: 1 } : undefined;
    case 'PHONE':
      return r < 0.5 ? { code: 'DET', days: 1 } : r < 0.7 ? { code: 'CONF' } : undefined;
    default: // DISRUPT, DEFIANCE
      return r < 0.45 ? { code: elem ? 'LUNCH' : 'DET', days: 1 } : r < 0.65 ? { code: 'CONF' } : r < 0.75 ? { code: 'ISS', days: rng.chance(0.5) ? 0.5 : 1 } : undefined;
  }
}

export const isStateReportable = (inc: Incident): boolean =>
  !inc.positive && inc.participants.some((p) => p.action?.code === 'ISS' || p.action?.code === 'OSS');

/** The incidents of the fall, in date and time order. */
export function buildIncidents(d: District, abilities: Abilities): Incident[] {
  const rng = createRng(d.seed, 'behaviour');
  const days = schoolDays();
  // Bulk students per school (the delta's new students arrive after the incidents).
  const bySchool: number[][] = d.schools.map(() => []);
  for (let i = 0; i < d.n; i++) bySchool[d.school[i]].push(i);
  const risk = (i: number): number => clamp(0.1 * Math.exp(-1.2 * abilities.general[i]), 0.01, 1);
  const pick = (list: number[], weight: (i: number) => number, avoid: Set<number>): number => {
    for (let tries = 0; tries < 40; tries++) {
      const i = list[rng.int(list.length)];
      if (!avoid.has(i) && rng.chance(weight(i))) return i;
    }
    for (let tries = 0; tries < 40; tries++) {
      const i = list[rng.int(list.length)];
      if (!avoid.has(i)) return i;
    }
    return -1;
  };
  const incidents: Incident[] = [];
  for (const sc of d.schools) {
    const list = bySchool[sc.index];
    if (list.length < 3) continue;
    const band = sc.band;
    const rates = RATES[band];
    const teachers = d.tCount[sc.index];
    const make = (positive: boolean): void => {
      const behaviour = positive ? rng.pick(['KIND', 'HELP', 'LEAD', 'EFFORT', 'KIND']) : weighted(rng, NEGATIVE_BY_BAND[band]);
      const day = days[rng.int(days.length)];
      const minutes = behaviour === 'BUS' ? (rng.chance(0.5) ? 435 + rng.int(25) : 935 + rng.int(35)) : 460 + 5 * rng.int(90);
      const locs = LOCATIONS[behaviour] ?? LOCATIONS.default;
      let location = rng.pick(locs);
      if (location === 'Playground' && band !== 'elementary') location = 'Courtyard';
      if (location === 'Parking lot' && band === 'elementary') location = 'Restroom';
      const participants: Participant[] = [];
      const taken = new Set<number>();
      const add = (role: Role, weight: (i: number) => number): void => {
        const i = pick(list, weight, taken);
        if (i < 0) return;
        taken.add(i);
        participants.push({ student: i, role });
      };
      if (positive) {
        add('Recipient', (i) => clamp(0.3 * Math.exp(0.5 * abilities.general[i]), 0.05, 1));
        if (rng.chance(0.2)) add('Recipient', (i) => clamp(0.3 * Math.exp(0.5 * abilities.general[i]), 0.05, 1));
        for (const p of participants) if (rng.chance(0.25)) p.action = { code: 'CERT' };
      } else {
        add('Offender', risk);
        if (behaviour === 'FIGHT') add('Offender', risk);
        if (behaviour === 'BULLY' || (behaviour === 'THEFT' && rng.chance(0.6))) add('Victim', () => 0.5);
        if (rng.chance(behaviour === 'FIGHT' ? 0.35 : 0.1)) add('Witness', () => 0.5);
        for (const p of participants) if (p.role === 'Offender') p.action = offenderAction(rng, behaviour, band);
      }
      if (!participants.length) return;
      incidents.push({
        id: '',
        sisId: '',
        school: sc.index,
        day,
        minutes,
        location,
        behaviour,
        positive,
        reporter: d.tStart[sc.index] + rng.int(teachers),
        description: rng.pick(DESCRIPTIONS[behaviour]),
        participants,
      });
    };
    const negatives = Math.round(list.length * rates.negative);
    const positives = Math.round(list.length * rates.positive);
    for (let k = 0; k < negatives; k++) make(false);
    for (let k = 0; k < positives; k++) make(true);
  }
  incidents.sort((a, b) => a.day - b.day || a.minutes - b.minutes || a.school - b.school);
  const perSchool = new Uint32Array(d.schools.length);
  incidents.forEach((inc, k) => {
    inc.id = `INC-${pad(100001 + k, 6)}`;
    if (isStateReportable(inc)) inc.sisId = `2027-${d.schools[inc.school].num}-${pad(++perSchool[inc.school], 4)}`;
  });
  return incidents;
}

// ---- the export --------------------------------------------------------------------------------------------------

export const mdy = (day: number): string => {
  const t = new Date(day * 86_400_000);
  return `${t.getUTCMonth() + 1}/${t.getUTCDate()}/${t.getUTCFullYear()}`;
};
export const hmA = (minutes: number): string => {
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return `${((h + 11) % 12) + 1}:${pad(m, 2)} ${h < 12 ? 'AM' : 'PM'}`;
};
const vendorGrade = (g: number): string => (g === 0 ? 'K' : String(g));

export function reporterName(d: District, t: number): string {
  return `${d.te.sex[t] === 0 ? 'Ms.' : 'Mr.'} ${d.familyName(d.te, t)}`;
}

export interface BehaviourMalformed {
  file: string;
  line: number;
  kind: string;
  reason: string;
  /**
   * Per unified entity type, what becomes of the record the row would yield: accepted, or the reject code (the
   * runtime's reference_unresolved included). 'yielded earlier': the line cannot be parsed, but an earlier row
   * already gave that parent (the school, the student), so the connector reports nothing for it.
   */
  outcome: Record<string, 'accepted' | 'row_malformed' | 'record_invalid' | 'reference_unresolved' | 'yielded earlier'>;
  sisSourcedId: string;
}

export interface BehaviourResult {
  file: string;
  mapping: string;
  delimiter: string;
  rows: number;
  bytes: number;
  incidents: number;
  positiveIncidents: number;
  participants: number;
  actions: number;
  stateReportable: number;
  malformed: BehaviourMalformed[];
  /** What the mapped-csv connector and the runtime accept from the file. */
  accepted: { org: number; person: number; behaviourIncident: number; behaviourParticipant: number; disciplineAction: number };
}

const gradeMap = (): Record<string, string> => Object.fromEntries(GRADES.map((g, k) => [k === 0 ? 'K' : String(k), g]));

export function behaviourSettings(filePath = './incidents.csv'): Record<string, unknown> {
  return {
    path: filePath,
    mode: 'full',
    delimiter: ';',
    mappings: [
      {
        entity: 'behaviourParticipant',
        sourceId: { template: '{Incident ID}/{Student ID}' },
        fields: {
          incidentId: { column: 'Incident ID' },
          personId: { column: 'Student ID' },
          role: { column: 'Role', map: ROLES },
          behaviours: [
            { code: { column: 'Behavior' }, label: { column: 'Behavior', map: BEHAVIOURS, default: 'Other' }, namespace: { const: 'vendor:behaviour-tool' } },
          ],
        },
        parents: [
          {
            entity: 'org',
            sourceId: { column: 'School Code' },
            fields: { name: { column: 'School' }, type: { const: 'school' }, identifier: { column: 'School Code' } },
          },
          {
            entity: 'person',
            sourceId: { column: 'Student ID' },
            fields: {
              givenName: { column: 'First Name' },
              familyName: { column: 'Last Name' },
              enabledUser: { const: true },
              grades: [{ column: 'Grade', map: gradeMap() }],
              primaryRole: { const: 'student' },
              identifiers: [{ system: { const: 'sis' }, value: { column: 'Student ID' } }],
            },
          },
          {
            entity: 'behaviourIncident',
            sourceId: { column: 'Incident ID' },
            fields: {
              schoolId: { column: 'School Code' },
              incidentDate: { column: 'Date', date: 'M/D/YYYY' },
              incidentTime: { column: 'Time', time: 'h:mm A' },
              location: { column: 'Location' },
              description: { column: 'Description' },
              positive: { column: 'Positive', boolean: { true: ['Y'], false: ['N'] } },
              behaviours: [
                { code: { column: 'Behavior' }, label: { column: 'Behavior', map: BEHAVIOURS, default: 'Other' }, namespace: { const: 'vendor:behaviour-tool' } },
              ],
              reporterName: { column: 'Reported By' },
            },
          },
        ],
      },
      {
        entity: 'disciplineAction',
        when: { column: 'Action' },
        sourceId: { template: '{Incident ID}/{Student ID}/{Action}' },
        fields: {
          personId: { column: 'Student ID' },
          incidentId: { column: 'Incident ID' },
          schoolId: { column: 'School Code' },
          actionDate: { column: 'Date', date: 'M/D/YYYY' },
          actions: [{ code: { column: 'Action' }, label: { column: 'Action', map: ACTIONS } }],
          durationDays: { column: 'Action Days', number: true },
        },
      },
    ],
  };
}

type Outcome = BehaviourMalformed['outcome'];
const ALL_OK = (): Outcome => ({ org: 'accepted', person: 'accepted', behaviourIncident: 'accepted', behaviourParticipant: 'accepted', disciplineAction: 'accepted' });

/** The deliberately bad rows: each is an incident of its own with one participant, at fixed fractions of the file. */
const DEFECTS: Array<{ at: number; kind: string }> = [
  { at: 0.08, kind: 'day-first-date' },
  { at: 0.22, kind: 'unknown-role' },
  { at: 0.36, kind: 'positive-not-boolean' },
  { at: 0.5, kind: 'days-not-a-number' },
  { at: 0.64, kind: 'blank-student-id' },
  { at: 0.78, kind: 'broken-quoting' },
  { at: 0.92, kind: 'unquoted-delimiter' },
];

export async function writeBehaviour(d: District, incidents: readonly Incident[], dir: string): Promise<BehaviourResult> {
  fs.mkdirSync(dir, { recursive: true });
  const file = 'behaviour/incidents.csv';
  const csv = new CsvFile('incidents.csv', path.join(dir, 'incidents.csv'), HEADER, { sep: ';' });
  const rng = createRng(d.seed, 'behaviour-defects');
  const malformed: BehaviourMalformed[] = [];
  const persons = new Set<string>();
  const orgs = new Set<string>();
  let participants = 0;
  let actions = 0;
  let acceptedIncidents = 0;
  let acceptedParticipants = 0;
  let acceptedActions = 0;
  let badCounter = 0;

  const cells = (inc: Incident, p: Participant): string[] => {
    const sc = d.schools[inc.school];
    const i = p.student;
    return [
      inc.id, mdy(inc.day), hmA(inc.minutes), sc.identifier, sc.name, inc.location, d.studentLocalId(i), d.familyName(d.st, i),
      d.preferredGiven(i) || d.givenName(d.st, i), vendorGrade(d.grade[i]), p.role, inc.behaviour, inc.positive ? 'Y' : 'N',
      p.action?.code ?? '', p.action?.days !== undefined ? String(p.action.days) : '', reporterName(d, inc.reporter), inc.description,
    ];
  };

  const writeDefect = async (kind: string, near: Incident): Promise<void> => {
    // A standalone incident at the same school and day as `near`, with one student of that school.
    const list = near.participants;
    const student = list[0].student;
    const inc: Incident = {
      ...near,
      id: `INC-9${pad(++badCounter, 5)}`,
      sisId: '',
      minutes: 480 + 5 * rng.int(80),
      behaviour: kind === 'positive-not-boolean' ? 'PHONE' : kind === 'unknown-role' ? 'BUS' : 'DISRUPT',
      positive: false,
      description: 'Repeated talking after warnings',
      participants: [{ student, role: 'Offender', action: { code: 'DET', days: 1 } }],
    };
    const p = inc.participants[0];
    const row = cells(inc, p);
    const line = csv.nextLine;
    const outcome = ALL_OK();
    let reason = '';
    let text: string | undefined;
    switch (kind) {
      case 'day-first-date': {
        const t = new Date(inc.day * 86_400_000);
        const dd = t.getUTCDate() > 12 ? t.getUTCDate() : 13 + rng.int(15);
        row[1] = `${dd}/${t.getUTCMonth() + 1}/${t.getUTCFullYear()}`;
        reason = `Date "${row[1]}" is day-first, not M/D/YYYY`;
        outcome.behaviourIncident = 'row_malformed';
        outcome.disciplineAction = 'row_malformed';
        outcome.behaviourParticipant = 'reference_unresolved';
        break;
      }
      case 'unknown-role':
        row[10] = 'Bystander';
        reason = 'Role "Bystander" is not one of Offender, Victim, Witness, Recipient';
        outcome.behaviourParticipant = 'row_malformed';
        break;
      case 'positive-not-boolean':
        row[12] = 'Maybe';
        reason = 'Positive is "Maybe", neither Y nor N';
        outcome.behaviourIncident = 'row_malformed';
        outcome.behaviourParticipant = 'reference_unresolved';
        outcome.disciplineAction = 'reference_unresolved';
        break;
      case 'days-not-a-number':
        row[13] = 'OSS';
        row[14] = 'two';
        reason = 'Action Days is "two", not a number';
        outcome.disciplineAction = 'row_malformed';
        break;
      case 'blank-student-id':
        row[6] = '';
        row[7] = 'Unknown';
        row[8] = 'Student';
        row[9] = '';
        row[16] = 'Student left before being identified';
        reason = 'Student ID is blank';
        outcome.person = 'record_invalid';
        outcome.behaviourParticipant = 'record_invalid';
        outcome.disciplineAction = 'record_invalid';
        break;
      case 'broken-quoting':
        row[16] = 'He said "stop" twice';
        text = csvLine(row.slice(0, 16), ';').slice(0, -2) + `;"${row[16]}"`;
        reason = 'Description has unescaped double quotes inside a quoted value (broken quoting)';
        for (const k of Object.keys(outcome)) outcome[k] = 'row_malformed';
        break;
      case 'unquoted-delimiter':
        row[16] = 'Late; third time this week';
        text = csvLine(row.slice(0, 16), ';').slice(0, -2) + `;${row[16]}`;
        reason = `Description holds an unquoted ';': the row has ${HEADER.length + 1} cells, the header ${HEADER.length}`;
        for (const k of Object.keys(outcome)) outcome[k] = 'row_malformed';
        break;
    }
    if (text !== undefined) {
      if (orgs.has(row[3])) outcome.org = 'yielded earlier';
      if (persons.has(row[6])) outcome.person = 'yielded earlier';
    }
    malformed.push({ file, line, kind, reason, outcome, sisSourcedId: d.studentId(student) });
    if (outcome.person === 'accepted') persons.add(row[6]);
    if (outcome.org === 'accepted') orgs.add(row[3]);
    if (outcome.behaviourIncident === 'accepted') acceptedIncidents++;
    if (outcome.behaviourParticipant === 'accepted') acceptedParticipants++;
    if (outcome.disciplineAction === 'accepted') acceptedActions++;
    const w = text !== undefined ? csv.rawLine(text) : csv.raw(row);
    if (w) await w;
  };

  const defectAt = DEFECTS.map((x) => Math.floor(incidents.length * x.at));
  let nextDefect = 0;
  let positives = 0;
  let stateReportable = 0;
  for (let k = 0; k < incidents.length; k++) {
    while (nextDefect < DEFECTS.length && k === defectAt[nextDefect]) await writeDefect(DEFECTS[nextDefect++].kind, incidents[k]);
    const inc = incidents[k];
    if (inc.positive) positives++;
    if (inc.sisId) stateReportable++;
    acceptedIncidents++;
    orgs.add(d.schools[inc.school].identifier);
    for (const p of inc.participants) {
      participants++;
      acceptedParticipants++;
      if (p.action) {
        actions++;
        acceptedActions++;
      }
      persons.add(d.studentLocalId(p.student));
      const w = csv.raw(cells(inc, p));
      if (w) await w;
    }
  }
  await csv.close();
  fs.writeFileSync(path.join(dir, 'mapping.json'), `${JSON.stringify(behaviourSettings(), null, 2)}\n`);
  return {
    file,
    mapping: 'behaviour/mapping.json',
    delimiter: ';',
    rows: csv.rows,
    bytes: csv.bytes,
    incidents: incidents.length,
    positiveIncidents: positives,
    participants,
    actions,
    stateReportable,
    malformed,
    accepted: {
      org: orgs.size,
      person: persons.size,
      behaviourIncident: acceptedIncidents,
      behaviourParticipant: acceptedParticipants,
      disciplineAction: acceptedActions,
    },
  };
}
