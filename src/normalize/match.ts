/**
 * Scoring whether two person descriptions are the same learner. Pure functions, unit-tested on plain objects.
 *
 * The score adds evidence for and against (log-odds style points) and maps it to [0, 1]. Disagreement weighs heavily
 * on purpose: a wrong merge of two children is the worst outcome, so twins (same family name, birth date, school,
 * different given names) and namesakes (same name, different birth dates) must fall far below the link threshold,
 * while typos, nicknames, accents, hyphens and swapped name order must not.
 */

export interface PersonFeatures {
  given: string[]; // normalized given names (incl. preferred)
  family: string[]; // normalized family names (incl. preferred)
  middle: string[];
  emails: string[]; // lower-case
  birthDates: string[];
  grades: string[];
  sex: string[];
}

export interface MatchResult {
  score: number; // 0..1
  points: number;
  evidence: Record<string, string>;
}

const NICKNAMES: Record<string, string[]> = {
  william: ['will', 'bill', 'billy', 'liam', 'willy'], elizabeth: ['liz', 'beth', 'lizzie', 'eliza', 'betty', 'libby'],
  robert: ['rob', 'bob', 'bobby', 'robbie'], richard: ['rick', 'rich', 'richie', 'dick', 'ricky'], james: ['jim', 'jimmy', 'jamie'],
  john: ['johnny', 'jack'], jonathan: ['jon', 'jonny'], joseph: ['joe', 'joey'], michael: ['mike', 'mikey', 'mick'],
  christopher: ['chris', 'topher'], christina: ['chris', 'tina', 'christy'], katherine: ['kate', 'katie', 'kathy', 'kat'],
  catherine: ['cate', 'cathy', 'kate', 'katie'], margaret: ['maggie', 'meg', 'peggy', 'greta'], alexander: ['alex', 'xander', 'al'],
  alexandra: ['alex', 'lexi', 'sandra'], benjamin: ['ben', 'benny', 'benji'], daniel: ['dan', 'danny'], david: ['dave', 'davey'],
  matthew: ['matt', 'matty'], nicholas: ['nick', 'nicky', 'nico'], samuel: ['sam', 'sammy'], samantha: ['sam', 'sammy'],
  thomas: ['tom', 'tommy'], anthony: ['tony', 'ant'], andrew: ['andy', 'drew'], joshua: ['josh'], jacob: ['jake', 'jay'],
  madeline: ['maddie', 'maddy'], madison: ['maddie', 'maddy'], abigail: ['abby', 'abbie', 'gail'], isabella: ['bella', 'izzy', 'isa'],
  olivia: ['liv', 'livvy', 'ollie'], sophia: ['sophie'], victoria: ['vicky', 'tori'], rebecca: ['becky', 'becca'],
  jennifer: ['jen', 'jenny'], jessica: ['jess', 'jessie'], santiago: ['santi'], alejandro: ['alex', 'ale'], francisco: ['paco', 'pancho', 'frank'],
  jose: ['pepe'], guillermo: ['memo', 'guille'], eduardo: ['eddie', 'edu', 'lalo'], edward: ['ed', 'eddie', 'ted', 'ned'],
  theodore: ['theo', 'ted', 'teddy'], zachary: ['zach', 'zack'], nathaniel: ['nate', 'nat'], nathan: ['nate'], gabriel: ['gabe'],
  gabriella: ['gabby', 'ella'], charlotte: ['charlie', 'lottie'], charles: ['charlie', 'chuck', 'chaz'], henry: ['hank', 'harry'],
  harrison: ['harry'], evelyn: ['evie', 'eve'], eleanor: ['ellie', 'nora', 'nell'], penelope: ['penny'], natalie: ['nat'],
  emily: ['em', 'emmy'], emma: ['em'], amelia: ['amy', 'mia', 'millie'], benedict: ['ben'], timothy: ['tim', 'timmy'],
  patrick: ['pat', 'paddy'], patricia: ['pat', 'patty', 'trish'], stephen: ['steve'], steven: ['steve'], susan: ['sue', 'susie'],
  dorothy: ['dot', 'dottie'], frederick: ['fred', 'freddie'], lawrence: ['larry'], leonardo: ['leo'], lucas: ['luke'],
  mateo: ['teo'], sebastian: ['seb', 'bastian'], valentina: ['vale', 'tina'], ximena: ['xime'], yusuf: ['joe'],
};
const CANON = new Map<string, string[]>();
for (const [full, nicks] of Object.entries(NICKNAMES)) {
  for (const n of [full, ...nicks]) CANON.set(n, [...(CANON.get(n) ?? []), full]);
}

/** Lower-case, accents stripped (ß -> ss, ı -> i, đ -> d), punctuation and hyphens to spaces, spaces collapsed. */
export function normalizeName(s: string | undefined): string {
  if (!s) return '';
  return s
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/ß/g, 'ss').replace(/[ıİ]/g, 'i').replace(/[đĐ]/g, 'd').replace(/[øØ]/g, 'o').replace(/[łŁ]/g, 'l').replace(/æ/gi, 'ae')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

/** Jaro-Winkler similarity in [0, 1]. */
export function jaroWinkler(a: string, b: string): number {
  if (a === b) return a ? 1 : 0;
  if (!a || !b) return 0;
  const range = Math.max(0, Math.floor(Math.max(a.length, b.length) / 2) - 1);
  const am = new Array<boolean>(a.length).fill(false);
  const bm = new Array<boolean>(b.length).fill(false);
  let matches = 0;
  for (let i = 0; i < a.length; i++) {
    for (let j = Math.max(0, i - range); j < Math.min(b.length, i + range + 1); j++) {
      if (bm[j] || a[i] !== b[j]) continue;
      am[i] = bm[j] = true;
      matches++;
      break;
    }
  }
  if (!matches) return 0;
  let t = 0;
  let k = 0;
  for (let i = 0; i < a.length; i++) {
    if (!am[i]) continue;
    while (!bm[k]) k++;
    if (a[i] !== b[k]) t++;
    k++;
  }
  const jaro = (matches / a.length + matches / b.length + (matches - t / 2) / matches) / 3;
  let prefix = 0;
  while (prefix < 4 && a[prefix] === b[prefix]) prefix++;
  return jaro + prefix * 0.1 * (1 - jaro);
}

/** True when a and b differ by at most one insertion, deletion, substitution or adjacent transposition. */
export function withinOneEdit(a: string, b: string): boolean {
  if (Math.abs(a.length - b.length) > 1) return false;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  if (i === a.length || i === b.length) return Math.abs(a.length - b.length) <= 1;
  if (a.length === b.length) {
    if (a.slice(i + 1) === b.slice(i + 1)) return true; // substitution
    return a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2); // transposition
  }
  return a.length > b.length ? a.slice(i + 1) === b.slice(i) : a.slice(i) === b.slice(i + 1);
}

function nicknameEqual(a: string, b: string): boolean {
  const ca = CANON.get(a);
  const cb = CANON.get(b);
  if (ca && cb) return ca.some((x) => cb.includes(x));
  return (ca?.includes(b) ?? false) || (cb?.includes(a) ?? false);
}

/** Best agreement between two sets of normalized names: 'exact' | 'nickname' | 'typo' | 'partial' | 'initial' | 'none' | 'unknown'. */
export function compareNames(as: string[], bs: string[]): 'exact' | 'nickname' | 'typo' | 'partial' | 'initial' | 'none' | 'unknown' {
  if (!as.length || !bs.length) return 'unknown';
  const rank = { exact: 6, nickname: 5, typo: 4, partial: 3, initial: 2, none: 1 } as const;
  let best: keyof typeof rank = 'none';
  const up = (v: keyof typeof rank) => {
    if (rank[v] > rank[best]) best = v;
  };
  for (const a of as) {
    for (const b of bs) {
      if (a === b || a.replace(/ /g, '') === b.replace(/ /g, '')) return 'exact';
      if (nicknameEqual(a, b)) up('nickname');
      else if (Math.min(a.length, b.length) >= 3 && (jaroWinkler(a, b) >= 0.9 || withinOneEdit(a, b))) up('typo');
      else {
        const pa = a.split(' ');
        const pb = b.split(' ');
        if (pa.length + pb.length > 2 && pa.some((x) => x.length > 1 && pb.includes(x))) up('partial');
        else if ((a.length === 1 || b.length === 1) && a[0] === b[0]) up('initial');
      }
    }
  }
  return best;
}

const NAME_POINTS = { exact: 4, nickname: 3.5, typo: 2.5, partial: 2, initial: 0.5, none: -6, unknown: 0 } as const;

function birthDatePoints(as: string[], bs: string[]): [number, string] {
  if (!as.length || !bs.length) return [0, 'unknown'];
  if (as.some((a) => bs.includes(a))) return [5, 'equal'];
  for (const a of as) {
    for (const b of bs) {
      const [ay, am, ad] = a.split('-');
      const [by, bm, bd] = b.split('-');
      if (ay === by && am === bd && ad === bm) return [1, 'day/month swapped'];
      let diff = 0;
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) diff++;
      if (a.length === b.length && diff === 1) return [0.5, 'one digit differs'];
    }
  }
  return [-9, 'different'];
}

export function scorePair(a: PersonFeatures, b: PersonFeatures): MatchResult {
  const evidence: Record<string, string> = {};
  let points = 0;
  const direct = [compareNames(a.given, b.given), compareNames(a.family, b.family)] as const;
  const swapped = [compareNames(a.given, b.family), compareNames(a.family, b.given)] as const;
  const sum = (p: readonly [keyof typeof NAME_POINTS, keyof typeof NAME_POINTS]) => NAME_POINTS[p[0]] + NAME_POINTS[p[1]];
  if (sum(swapped) - 1 > sum(direct)) {
    points += sum(swapped) - 1;
    evidence.names = `swapped order (given~family ${swapped[0]}, family~given ${swapped[1]})`;
  } else {
    points += sum(direct);
    evidence.given = direct[0];
    evidence.family = direct[1];
  }
  const [bp, bt] = birthDatePoints(a.birthDates, b.birthDates);
  points += bp;
  evidence.birthDate = bt;
  if (a.emails.length && b.emails.length) {
    const same = a.emails.some((e) => b.emails.includes(e));
    points += same ? 4 : -1;
    evidence.email = same ? 'equal' : 'different';
  }
  const mid = compareNames(a.middle, b.middle);
  if (mid !== 'unknown') {
    points += mid === 'exact' || mid === 'initial' || mid === 'nickname' ? 1 : mid === 'typo' ? 0.5 : -2;
    evidence.middle = mid;
  }
  if (a.grades.length && b.grades.length) {
    const same = a.grades.some((g) => b.grades.includes(g));
    points += same ? 1 : -2;
    evidence.grade = same ? 'equal' : 'different';
  }
  if (a.sex.length && b.sex.length) {
    const same = a.sex.some((s) => b.sex.includes(s));
    points += same ? 0.5 : -3;
    evidence.sex = same ? 'equal' : 'different';
  }
  const score = 1 / (1 + Math.exp(-(points - 9) / 1.5));
  return { score: Math.round(score * 10000) / 10000, points, evidence };
}

/**
 * Blocking keys a candidate is indexed under: family name (whole and parts), birth date, e-mail, and the first
 * letters of the given name with the birth year (catches family-name typos). Each is selective; the given name
 * alone is not (thousands of Emmas), so it is never an index key.
 */
/** First letters of the given names and of the full names they are nicknames of (Bob -> b, r). */
function givenInitials(given: string[]): Set<string> {
  const out = new Set<string>();
  for (const g of given) {
    if (!g) continue;
    out.add(g[0]);
    for (const full of CANON.get(g.split(' ')[0]) ?? []) out.add(full[0]);
  }
  return out;
}

/**
 * Blocking: a pair is scored only when it shares a key. Family name with a given-name initial (nicknames count),
 * birth date, e-mail, and given-name prefix with birth year (a changed or mistyped family name). A family name alone
 * is not a key: common ones would put thousands of candidates in one block at district scale (scoring grew with the
 * square of the district), and a namesake with another initial would not be linked anyway.
 */
export function blockingKeys(f: PersonFeatures): string[] {
  const keys = new Set<string>();
  const initials = givenInitials(f.given);
  for (const fam of f.family) {
    const parts = [fam.replace(/ /g, ''), ...fam.split(' ').filter((p) => p.length > 2)];
    for (const part of parts) {
      if (initials.size) for (const i of initials) keys.add(`fg:${part}:${i}`);
      else keys.add(`fg:${part}:`);
    }
  }
  for (const b of f.birthDates) keys.add(`b:${b}`);
  for (const e of f.emails) keys.add(`e:${e}`);
  for (const g of f.given) for (const b of f.birthDates) keys.add(`gy:${g.slice(0, 3)}:${b.slice(0, 4)}`);
  return [...keys];
}

/** Keys a source person looks candidates up by: its own, plus its given name as a family name (swapped order). */
export function lookupKeys(f: PersonFeatures): string[] {
  const keys = new Set(blockingKeys(f));
  const familyInitials = givenInitials(f.family);
  for (const g of f.given) for (const i of familyInitials) keys.add(`fg:${g.replace(/ /g, '')}:${i}`);
  return [...keys];
}

export function featuresOf(data: Record<string, unknown>, extra: { birthDates?: string[]; sex?: string[] } = {}): PersonFeatures {
  const str = (k: string) => (typeof data[k] === 'string' ? (data[k] as string) : undefined);
  const names = (...ks: string[]) => [...new Set(ks.map((k) => normalizeName(str(k))).filter(Boolean))];
  return {
    given: names('givenName', 'preferredGivenName'),
    family: names('familyName', 'preferredFamilyName'),
    middle: names('middleName', 'preferredMiddleName'),
    emails: str('email') ? [str('email')!.trim().toLowerCase()] : [],
    birthDates: extra.birthDates ?? [],
    grades: Array.isArray(data.grades) ? (data.grades as string[]).map((g) => g.replace(/^0+(?=\d)/, '')) : [],
    sex: extra.sex ?? [],
  };
}

export function mergeFeatures(fs: PersonFeatures[]): PersonFeatures {
  const u = (k: keyof PersonFeatures) => [...new Set(fs.flatMap((f) => f[k]))];
  return { given: u('given'), family: u('family'), middle: u('middle'), emails: u('emails'), birthDates: u('birthDates'), grades: u('grades'), sex: u('sex') };
}
