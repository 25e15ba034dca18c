/**
 * The in-memory model of a synthetic district: schools, students, teachers, guardians and administrators, plus the
 * handful of deliberately awkward students (twins, namesakes, corrections, a withdrawal...). Per-person data lives
 * in typed arrays (a few dozen bytes per student), and everything else (ids, class placement, rows) is derived on
 * the fly when files are written, so 100 000 students need only a few megabytes.
 */
import { createRng, mix32, seedSalt, type Rng } from './prng';
import { FAMILY, FEMALE_COUNT, GIVEN, GIVEN_NICKNAMES, MALE_COUNT, SCHOOL_WORDS_A, SCHOOL_WORDS_B, foldName } from './names';

export const GRADES = ['KG', '01', '02', '03', '04', '05', '06', '07', '08', '09', '10', '11', '12'] as const;
export const GRADE_COUNT = GRADES.length;
export const GRADE_TITLES = ['Kindergarten', ...GRADES.slice(1).map((g) => `Grade ${Number(g)}`)];

export type Band = 'elementary' | 'middle' | 'high';
export const BAND_GRADES: Record<Band, readonly number[]> = {
  elementary: [0, 1, 2, 3, 4, 5],
  middle: [6, 7, 8],
  high: [9, 10, 11, 12],
};
export const bandOfGrade = (g: number): Band => (g <= 5 ? 'elementary' : g <= 8 ? 'middle' : 'high');

/** Scheduled sections per secondary student; elementary students have one homeroom. */
export const SLOTS = 6;
export const SECTION_SIZE = 25;
export const STUDENTS_PER_TEACHER = 20;

/** The fixed calendar: school year 2026-27. */
export const CALENDAR = {
  schoolYear: '2027',
  yearStart: '2026-08-17',
  yearEnd: '2027-06-04',
  fallStart: '2026-08-17',
  fallEnd: '2026-12-18',
  springStart: '2027-01-05',
  springEnd: '2027-06-04',
  deltaTimestamp: '2026-11-20T08:00:00.000Z',
  deltaDate: '2026-11-20',
  /** The last day of a withdrawn student or dropped enrollment. */
  lastDayBeforeDelta: '2026-11-19',
} as const;

export const STUDENT_EMAIL_DOMAIN = 'district.example';
export const GUARDIAN_EMAIL_DOMAIN = 'mail.example';

export const NONE16 = 0xffff;

// Student flags.
export const F_TWIN_A = 1 << 0;
export const F_TWIN_B = 1 << 1;
export const F_SAME_NAME = 1 << 2;
export const F_BAD_BIRTHDATE = 1 << 3;
export const F_NAME_FIX = 1 << 4;
export const F_GRADE_CHANGE = 1 << 5;
export const F_WITHDRAWN = 1 << 6;
export const F_SCHEDULE = 1 << 7;
export const F_NEW = 1 << 8;
/** With F_NAME_FIX: the family name (not the given name) was mistyped in the bulk export. */
export const F_FIX_FAMILY = 1 << 9;

export interface School {
  index: number;
  num: string;
  sourcedId: string;
  name: string;
  identifier: string;
  band: Band;
}

export interface Admin {
  sourcedId: string;
  localId: string;
  given: number;
  family: number;
  role: 'districtAdministrator' | 'systemAdministrator' | 'principal';
  /** School index, or -1 for the district. */
  school: number;
  email: string;
}

export interface ScheduleChange {
  student: number;
  slot: number;
  /** The section the student moves to, or -1 when the section is simply dropped. */
  newSection: number;
}

export interface GenerateOptions {
  seed: number;
  students: number;
  schools?: number;
}

const DAY_MS = 86_400_000;
export const dayOf = (y: number, m: number, d: number): number => Date.UTC(y, m - 1, d) / DAY_MS;
export const isoDay = (day: number): string => new Date(day * DAY_MS).toISOString().slice(0, 10);

export const pad = (n: number, width: number): string => String(n).padStart(width, '0');
const digits = (n: number): number => String(n).length;

/** Display family name: a list entry, or a hyphenated pair. */
export function familyName(f: number, f2: number): string {
  return f2 === NONE16 ? FAMILY[f] : `${FAMILY[f]}-${FAMILY[f2]}`;
}

/** Per-person name fields and email suffixes, in parallel typed arrays. */
class People {
  readonly given: Uint16Array;
  readonly middle: Uint16Array;
  readonly family: Uint16Array;
  readonly family2: Uint16Array;
  /** 0 female, 1 male, 2 unspecified. */
  readonly sex: Uint8Array;
  /** 0 = no suffix, else the number appended to the email local part. */
  readonly emailN: Uint32Array;
  constructor(readonly capacity: number) {
    this.given = new Uint16Array(capacity);
    this.middle = new Uint16Array(capacity).fill(NONE16);
    this.family = new Uint16Array(capacity);
    this.family2 = new Uint16Array(capacity).fill(NONE16);
    this.sex = new Uint8Array(capacity);
    this.emailN = new Uint32Array(capacity);
  }
}

const SIMPLE_FAMILY: number[] = FAMILY.map((_, i) => i).filter((i) => !/[- ]/.test(FAMILY[i]));

function drawSex(rng: Rng, unspecifiedRate: number): number {
  return rng.chance(unspecifiedRate) ? 2 : rng.int(2);
}

function drawGiven(rng: Rng, sex: number, avoid = -1): number {
  for (;;) {
    const g =
      sex === 0 ? rng.int(FEMALE_COUNT) : sex === 1 ? FEMALE_COUNT + rng.int(MALE_COUNT) : rng.int(GIVEN.length);
    if (g !== avoid) return g;
  }
}

function drawName(p: People, i: number, rng: Rng, opts: { unspecified: number; middle: number; compound: number }): void {
  const sex = drawSex(rng, opts.unspecified);
  p.sex[i] = sex;
  p.given[i] = drawGiven(rng, sex);
  if (rng.chance(opts.middle)) p.middle[i] = drawGiven(rng, sex === 2 ? rng.int(2) : sex, p.given[i]);
  if (rng.chance(opts.compound)) {
    p.family[i] = rng.pick(SIMPLE_FAMILY);
    let f2 = rng.pick(SIMPLE_FAMILY);
    if (f2 === p.family[i]) f2 = SIMPLE_FAMILY[(SIMPLE_FAMILY.indexOf(f2) + 1) % SIMPLE_FAMILY.length];
    p.family2[i] = f2;
  } else {
    p.family[i] = rng.int(FAMILY.length);
  }
}

export class District {
  readonly seed: number;
  /** Students in the bulk export (indices 0..n-1). */
  readonly n: number;
  /** Students added by the delta (indices n..total-1). */
  readonly newCount: number;
  readonly total: number;
  readonly schools: School[];
  readonly district: { sourcedId: string; name: string; identifier: string };
  /** Schools serving each grade. */
  readonly gradeSchools: number[][];

  // Students.
  readonly st: People;
  readonly grade: Uint8Array;
  readonly school: Uint16Array;
  /** Position among the bulk students of the same school and grade; drives section placement. */
  readonly local: Uint32Array;
  readonly birth: Int32Array;
  readonly flags: Uint16Array;
  /** Index into the given name's nickname list used as preferredGivenName, or -1. */
  readonly pref: Int8Array;
  /** Guardian index, or -1. */
  readonly guardianOf: Int32Array;

  // Per school x grade (index s * 13 + g), bulk students only.
  readonly sgCount: Uint32Array;
  readonly nsec: Uint32Array;
  readonly gradeOff: Uint32Array;
  // Per school.
  readonly secTotal: Uint32Array;
  readonly classCount: Uint32Array;
  readonly schoolStudents: Uint32Array;
  readonly tStart: Uint32Array;
  readonly tCount: Uint32Array;

  // Teachers.
  readonly teacherCount: number;
  readonly te: People;
  readonly teacherSchool: Uint16Array;

  // Guardians.
  readonly guardianCount: number;
  readonly gu: People;
  /** First (or only) child; a twin pair's guardian also has the next student. */
  readonly guardianChild: Int32Array;
  /** 1 = role 'guardian', 0 = role 'parent'. */
  readonly guardianRole: Uint8Array;

  readonly admins: Admin[];

  // The awkward ones.
  readonly twins: Array<[number, number]> = [];
  readonly sameName: Array<[number, number]> = [];
  readonly badBirthdate: number;
  readonly withdrawn: number;
  readonly nameFixes: number[] = [];
  readonly gradeChanges: number[] = [];
  readonly scheduleChanges: ScheduleChange[] = [];

  private readonly stateSalt: number;
  private readonly studentNumWidth: number;
  private readonly teacherNumWidth: number;
  private readonly guardianNumWidth: number;

  constructor(opts: GenerateOptions) {
    const { seed, students } = opts;
    if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
    if (!Number.isInteger(students) || students < 50 || students > 5_000_000) {
      throw new RangeError(`students must be an integer between 50 and 5000000, got ${students}`);
    }
    const schoolCount = opts.schools ?? Math.max(3, Math.round(students / 600));
    const maxSchools = Math.min(60_000, Math.max(3, Math.floor(students / 13)));
    if (!Number.isInteger(schoolCount) || schoolCount < 3 || schoolCount > maxSchools) {
      throw new RangeError(`schools must be an integer between 3 and ${maxSchools} for ${students} students, got ${schoolCount}`);
    }
    this.seed = seed;
    this.n = students;
    this.newCount = Math.max(1, Math.round(students * 0.01));
    this.total = students + this.newCount;
    this.stateSalt = seedSalt(seed, 'state-id') % 9_000_000;
    this.studentNumWidth = Math.max(6, digits(this.total));

    // Orgs.
    const orgRng = createRng(seed, 'orgs');
    const districtWord = orgRng.pick(['Cedar Valley', 'Blue River', 'Pecan Hills', 'Red Oak', 'Lone Prairie', 'Stone Creek']);
    const districtNum = 100 + orgRng.int(800);
    this.district = {
      sourcedId: 'sis-district-1',
      name: `${districtWord} Independent School District`,
      identifier: `48${pad(districtNum, 3)}0`,
    };
    const nHigh = Math.max(1, Math.round((schoolCount * 4) / 13));
    const nMiddle = Math.max(1, Math.round((schoolCount * 3) / 13));
    const nElem = schoolCount - nHigh - nMiddle;
    const combos: string[] = [];
    for (const a of SCHOOL_WORDS_A) for (const b of SCHOOL_WORDS_B) combos.push(`${a} ${b}`);
    for (let i = combos.length - 1; i > 0; i--) {
      const j = orgRng.int(i + 1);
      [combos[i], combos[j]] = [combos[j], combos[i]];
    }
    const numWidth = Math.max(3, digits(schoolCount));
    this.schools = [];
    for (let s = 0; s < schoolCount; s++) {
      const band: Band = s < nElem ? 'elementary' : s < nElem + nMiddle ? 'middle' : 'high';
      const base = combos[s % combos.length];
      const round = Math.floor(s / combos.length);
      const kind = band === 'elementary' ? 'Elementary School' : band === 'middle' ? 'Middle School' : 'High School';
      const num = pad(s + 1, numWidth);
      this.schools.push({
        index: s,
        num,
        sourcedId: `sis-sch-${num}`,
        name: round === 0 ? `${base} ${kind}` : `${base} ${kind} No. ${round + 1}`,
        identifier: `${this.district.identifier}${pad(s + 1, Math.max(4, numWidth))}`,
        band,
      });
    }
    this.gradeSchools = GRADES.map((_, g) => this.schools.filter((sc) => sc.band === bandOfGrade(g)).map((sc) => sc.index));

    // Students.
    const cap = this.total;
    this.st = new People(cap);
    this.grade = new Uint8Array(cap);
    this.school = new Uint16Array(cap);
    this.local = new Uint32Array(cap);
    this.birth = new Int32Array(cap);
    this.flags = new Uint16Array(cap);
    this.pref = new Int8Array(cap).fill(-1);
    this.guardianOf = new Int32Array(cap).fill(-1);
    const S = schoolCount;
    this.sgCount = new Uint32Array(S * GRADE_COUNT);
    const rng = createRng(seed, 'students');
    for (let g = 0; g < GRADE_COUNT; g++) {
      const from = Math.floor((g * students) / GRADE_COUNT);
      const to = Math.floor(((g + 1) * students) / GRADE_COUNT);
      const cnt = to - from;
      const bs = this.gradeSchools[g];
      for (let r = 0; r < cnt; r++) {
        const i = from + r;
        const s = bs[Math.floor((r * bs.length) / cnt)];
        this.school[i] = s;
        this.grade[i] = g;
        this.local[i] = this.sgCount[s * GRADE_COUNT + g]++;
        this.drawStudent(i, rng);
      }
    }

    // Sections, classes and teachers per school.
    this.nsec = new Uint32Array(S * GRADE_COUNT);
    this.gradeOff = new Uint32Array(S * GRADE_COUNT);
    this.secTotal = new Uint32Array(S);
    this.classCount = new Uint32Array(S);
    this.schoolStudents = new Uint32Array(S);
    this.tStart = new Uint32Array(S);
    this.tCount = new Uint32Array(S);
    let teachers = 0;
    for (let s = 0; s < S; s++) {
      let off = 0;
      for (const g of BAND_GRADES[this.schools[s].band]) {
        const sg = s * GRADE_COUNT + g;
        this.nsec[sg] = Math.ceil(this.sgCount[sg] / SECTION_SIZE);
        this.gradeOff[sg] = off;
        off += this.nsec[sg];
        this.schoolStudents[s] += this.sgCount[sg];
      }
      this.secTotal[s] = off;
      this.classCount[s] = this.schools[s].band === 'elementary' ? off : off * SLOTS;
      this.tStart[s] = teachers;
      this.tCount[s] = Math.max(1, Math.round(this.schoolStudents[s] / STUDENTS_PER_TEACHER));
      teachers += this.tCount[s];
    }
    this.teacherCount = teachers;
    this.teacherNumWidth = Math.max(5, digits(teachers));
    this.te = new People(teachers);
    this.teacherSchool = new Uint16Array(teachers);
    const trng = createRng(seed, 'teachers');
    for (let s = 0; s < S; s++) {
      for (let t = this.tStart[s]; t < this.tStart[s] + this.tCount[s]; t++) {
        this.teacherSchool[t] = s;
        drawName(this.te, t, trng, { unspecified: 0, middle: 0.3, compound: 0.03 });
      }
    }

    // The awkward students.
    const sp = createRng(seed, 'specials');
    this.placeTwins(sp, Math.max(2, Math.round(students * 0.004)));
    this.placeSameNames(sp, Math.max(1, Math.round(students * 0.001)));
    this.badBirthdate = this.pickStudent(sp, (i) => this.grade[i] === 8);
    this.flags[this.badBirthdate] |= F_BAD_BIRTHDATE;
    this.birth[this.badBirthdate] = dayOf(2013, 2, 28);
    this.withdrawn = this.pickStudent(sp, (i) => this.grade[i] >= 6);
    this.flags[this.withdrawn] |= F_WITHDRAWN;
    const updates = Math.max(2, Math.round(students * 0.01));
    for (let k = 0; k < Math.ceil(updates / 2); k++) {
      const i = this.pickStudent(sp, () => true);
      this.flags[i] |= F_NAME_FIX | (sp.chance(0.5) ? F_FIX_FAMILY : 0);
      this.nameFixes.push(i);
    }
    for (let k = 0; k < Math.floor(updates / 2); k++) {
      const i = this.pickStudent(
        sp,
        (j) => this.grade[j] <= 4 && this.sgCount[this.school[j] * GRADE_COUNT + this.grade[j] + 1] > 0,
      );
      this.flags[i] |= F_GRADE_CHANGE;
      this.gradeChanges.push(i);
    }
    for (let k = 0; k < Math.max(2, Math.round(students * 0.005)); k++) {
      const i = this.pickStudent(sp, (j) => this.grade[j] >= 6);
      this.flags[i] |= F_SCHEDULE;
      const slot = sp.int(SLOTS);
      const nsec = this.nsec[this.school[i] * GRADE_COUNT + this.grade[i]];
      const sec = this.sectionOf(i, slot);
      const newSection = nsec > 1 && k % 3 !== 2 ? (sec + 1 + sp.int(nsec - 1)) % nsec : -1;
      this.scheduleChanges.push({ student: i, slot, newSection });
    }
    this.nameFixes.sort((a, b) => a - b);
    this.gradeChanges.sort((a, b) => a - b);
    this.scheduleChanges.sort((a, b) => a.student - b.student);

    // New students arriving in the delta, placed into existing sections.
    const nrng = createRng(seed, 'new-students');
    for (let i = students; i < this.total; i++) {
      let g = nrng.int(GRADE_COUNT);
      let s = -1;
      for (let tries = 0; s < 0; tries++) {
        const candidates = this.gradeSchools[g].filter((x) => this.sgCount[x * GRADE_COUNT + g] > 0);
        if (candidates.length > 0) s = nrng.pick(candidates);
        else g = (g + 1) % GRADE_COUNT;
        if (tries > GRADE_COUNT) throw new Error('no populated grade for a new student');
      }
      this.grade[i] = g;
      this.school[i] = s;
      this.local[i] = nrng.int(this.sgCount[s * GRADE_COUNT + g]);
      this.flags[i] |= F_NEW;
      this.drawStudent(i, nrng);
    }

    // Preferred names (a nickname the student goes by).
    const prng = createRng(seed, 'preferred');
    for (let i = 0; i < this.total; i++) {
      const nick = GIVEN_NICKNAMES[this.st.given[i]];
      if (nick !== undefined && prng.chance(0.25)) this.pref[i] = prng.int(nick.length);
    }

    // Guardians: every pair of twins shares one, and about one student in ten has one.
    const grng = createRng(seed, 'guardians');
    const children: number[] = [];
    for (let i = 0; i < students; i++) {
      if (this.flags[i] & F_TWIN_B) {
        this.guardianOf[i] = this.guardianOf[i - 1];
        continue;
      }
      if (this.flags[i] & F_TWIN_A || grng.chance(0.1)) {
        this.guardianOf[i] = children.length;
        children.push(i);
      }
    }
    this.guardianCount = children.length;
    this.guardianNumWidth = Math.max(6, digits(children.length));
    this.gu = new People(children.length);
    this.guardianChild = Int32Array.from(children);
    this.guardianRole = new Uint8Array(children.length);
    for (let k = 0; k < children.length; k++) {
      drawName(this.gu, k, grng, { unspecified: 0, middle: 0.2, compound: 0 });
      if (grng.chance(0.8)) {
        this.gu.family[k] = this.st.family[children[k]];
        this.gu.family2[k] = this.st.family2[children[k]];
      }
      this.guardianRole[k] = grng.chance(0.15) ? 1 : 0;
    }

    // Administrators: a superintendent, an IT administrator, a principal per school.
    const arng = createRng(seed, 'admins');
    this.admins = [];
    const adminNames = new People(S + 2);
    for (let a = 0; a < S + 2; a++) {
      drawName(adminNames, a, arng, { unspecified: 0, middle: 0, compound: 0 });
      const role = a === 0 ? 'districtAdministrator' : a === 1 ? 'systemAdministrator' : 'principal';
      this.admins.push({
        sourcedId: `sis-adm-${pad(a + 1, Math.max(3, digits(S + 2)))}`,
        localId: `A${pad(a + 1, Math.max(3, digits(S + 2)))}`,
        given: adminNames.given[a],
        family: adminNames.family[a],
        role,
        school: a < 2 ? -1 : a - 2,
        email: '',
      });
    }

    // Emails: first.last@district.example, numbered from 2 when taken. Bulk students first, then staff, then the
    // students the delta adds (so the delta never renames anybody in the bulk).
    const taken = new Map<string, number>();
    const claim = (base: string): number => {
      const count = (taken.get(base) ?? 0) + 1;
      taken.set(base, count);
      return count === 1 ? 0 : count;
    };
    const baseOf = (p: People, i: number): string =>
      `${foldName(GIVEN[p.given[i]])}.${foldName(familyName(p.family[i], p.family2[i]))}`;
    for (let i = 0; i < students; i++) this.st.emailN[i] = claim(baseOf(this.st, i));
    for (let t = 0; t < teachers; t++) this.te.emailN[t] = claim(baseOf(this.te, t));
    for (let a = 0; a < this.admins.length; a++) {
      const base = baseOf(adminNames, a);
      const n = claim(base);
      this.admins[a].email = `${base}${n === 0 ? '' : n}@${STUDENT_EMAIL_DOMAIN}`;
    }
    for (let i = students; i < this.total; i++) this.st.emailN[i] = claim(baseOf(this.st, i));
  }

  private drawStudent(i: number, rng: Rng): void {
    drawName(this.st, i, rng, { unspecified: 0.01, middle: 0.6, compound: 0.04 });
    const g = this.grade[i];
    const start = dayOf(2020 - g, 9, 1);
    const end = dayOf(2021 - g, 9, 1);
    this.birth[i] = start + rng.int(end - start);
  }

  /** A random bulk student with no special role yet that satisfies `ok`. */
  private pickStudent(rng: Rng, ok: (i: number) => boolean): number {
    for (let tries = 0; tries < 1000; tries++) {
      const i = rng.int(this.n);
      if (this.flags[i] === 0 && ok(i)) return i;
    }
    const start = rng.int(this.n);
    for (let k = 0; k < this.n; k++) {
      const i = (start + k) % this.n;
      if (this.flags[i] === 0 && ok(i)) return i;
    }
    throw new Error('the district is too small for all the special cases');
  }

  private placeTwins(rng: Rng, pairs: number): void {
    // Alternate secondary and elementary grades so that twins show up in the LMS too.
    const order = [9, 3, 7, 1, 11, 4, 6, 0, 10, 2, 8, 5, 12];
    for (let t = 0; t < pairs; t++) {
      const g = order[t % order.length];
      const from = Math.floor((g * this.n) / GRADE_COUNT);
      const to = Math.floor(((g + 1) * this.n) / GRADE_COUNT);
      let placed = -1;
      for (let tries = 0; tries < 200 && placed < 0; tries++) {
        const i = from + rng.int(to - from - 1);
        if (this.flags[i] === 0 && this.flags[i + 1] === 0 && this.school[i] === this.school[i + 1]) placed = i;
      }
      if (placed < 0) continue;
      const a = placed;
      const b = a + 1;
      const p = this.st;
      p.family[b] = p.family[a];
      p.family2[b] = p.family2[a];
      this.birth[b] = this.birth[a];
      p.sex[b] = rng.int(2);
      p.given[b] = drawGiven(rng, p.sex[b], p.given[a]);
      p.middle[b] = rng.chance(0.6) ? drawGiven(rng, p.sex[b], p.given[b]) : NONE16;
      this.flags[a] |= F_TWIN_A;
      this.flags[b] |= F_TWIN_B;
      this.twins.push([a, b]);
    }
    this.twins.sort((x, y) => x[0] - y[0]);
  }

  private placeSameNames(rng: Rng, pairs: number): void {
    for (let k = 0; k < pairs; k++) {
      const a = this.pickStudent(rng, (i) => this.grade[i] >= 6);
      this.flags[a] |= F_SAME_NAME;
      const b = this.pickStudent(rng, (i) => this.grade[i] >= 6 && this.grade[i] !== this.grade[a]);
      this.flags[b] |= F_SAME_NAME;
      const p = this.st;
      p.given[b] = p.given[a];
      p.middle[b] = p.middle[a];
      p.family[b] = p.family[a];
      p.family2[b] = p.family2[a];
      p.sex[b] = p.sex[a];
      this.sameName.push(a < b ? [a, b] : [b, a]);
    }
    this.sameName.sort((x, y) => x[0] - y[0]);
  }

  // ---- Derived values -------------------------------------------------------------------------------------------

  isSecondary(i: number): boolean {
    return this.grade[i] >= 6;
  }

  studentNum(i: number): string {
    return pad(i + 1, this.studentNumWidth);
  }
  studentId(i: number): string {
    return `sis-stu-${this.studentNum(i)}`;
  }
  studentLocalId(i: number): string {
    return `S${this.studentNum(i)}`;
  }
  /** A unique state student id, e.g. TX1234567. */
  stateId(i: number): string {
    // 4 194 301 is coprime with 9 000 000, so i -> (i * 4194301 + salt) mod 9e6 is a permutation.
    return `TX${1_000_000 + ((i * 4_194_301 + this.stateSalt) % 9_000_000)}`;
  }
  teacherId(t: number): string {
    return `sis-tch-${pad(t + 1, this.teacherNumWidth)}`;
  }
  teacherLocalId(t: number): string {
    return `T${pad(t + 1, this.teacherNumWidth)}`;
  }
  guardianId(k: number): string {
    return `sis-gdn-${pad(k + 1, this.guardianNumWidth)}`;
  }
  guardianLocalId(k: number): string {
    return `G${pad(k + 1, this.guardianNumWidth)}`;
  }

  givenName(p: People, i: number): string {
    return GIVEN[p.given[i]];
  }
  familyName(p: People, i: number): string {
    return familyName(p.family[i], p.family2[i]);
  }
  middleName(p: People, i: number): string {
    return p.middle[i] === NONE16 ? '' : GIVEN[p.middle[i]];
  }
  emailLocal(p: People, i: number): string {
    const n = p.emailN[i];
    return `${foldName(GIVEN[p.given[i]])}.${foldName(familyName(p.family[i], p.family2[i]))}${n === 0 ? '' : n}`;
  }
  preferredGiven(i: number): string {
    const k = this.pref[i];
    return k < 0 ? '' : (GIVEN_NICKNAMES[this.st.given[i]] as readonly string[])[k];
  }

  sg(i: number): number {
    return this.school[i] * GRADE_COUNT + this.grade[i];
  }

  /** Section (0-based) of student i in slot j, in their current grade. Shifts cohorts between slots. */
  sectionOf(i: number, slot: number, grade = this.grade[i]): number {
    const nsec = this.nsec[this.school[i] * GRADE_COUNT + grade];
    const k = this.local[i];
    return ((k % nsec) + Math.floor(k / nsec) * slot) % nsec;
  }

  slotsOf(grade: number): number {
    return grade <= 5 ? 1 : SLOTS;
  }

  slotTag(grade: number, slot: number): string {
    return grade <= 5 ? 'hr' : String(slot + 1);
  }

  courseId(s: number, g: number, slot: number): string {
    return `sis-crs-${this.schools[s].num}-${GRADES[g]}-${this.slotTag(g, slot)}`;
  }

  classId(s: number, g: number, slot: number, sec: number): string {
    return `sis-cls-${this.schools[s].num}-${GRADES[g]}-${this.slotTag(g, slot)}-${pad(sec + 1, 2)}`;
  }

  /** Position of a class in its school's class list (slot-major for secondary schools). */
  classOrdinal(s: number, g: number, slot: number, sec: number): number {
    const sg = s * GRADE_COUNT + g;
    return this.schools[s].band === 'elementary' ? this.gradeOff[sg] + sec : slot * this.secTotal[s] + this.gradeOff[sg] + sec;
  }

  teacherOfClass(s: number, ordinal: number): number {
    return this.tStart[s] + Math.floor((ordinal * this.tCount[s]) / this.classCount[s]);
  }

  /** Visits every class of every school in file order. */
  *classes(): Generator<{ s: number; g: number; slot: number; sec: number; ordinal: number }> {
    for (const school of this.schools) {
      const s = school.index;
      const grades = BAND_GRADES[school.band];
      const slots = school.band === 'elementary' ? 1 : SLOTS;
      for (let slot = 0; slot < slots; slot++) {
        for (const g of grades) {
          const nsec = this.nsec[s * GRADE_COUNT + g];
          for (let sec = 0; sec < nsec; sec++) yield { s, g, slot, sec, ordinal: this.classOrdinal(s, g, slot, sec) };
        }
      }
    }
  }

  /** Opaque LMS id: prefix + 8 hex digits of a bijective hash of (domain, counter). */
  lmsId(prefix: string, domain: number, counter: number, salt: number): string {
    if (counter >= 1 << 27) throw new RangeError('too many LMS records for the id space');
    return `${prefix}${mix32(((domain << 27) | counter) ^ salt).toString(16).padStart(8, '0')}`;
  }
}

export type { People };
