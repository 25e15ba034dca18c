/**
 * Date and time formats for `{ column, date: 'MM/DD/YYYY' }` and `{ column, time: 'h:mm A' }` expressions.
 *
 * A format is a sequence of tokens and literal characters. Tokens are case-sensitive:
 *
 *   YYYY  four-digit year          MMMM  month name (September)    MMM  month abbreviation (Sep)
 *   MM    two-digit month (09)     M     month, 1 or 2 digits      DD   two-digit day   D  day, 1 or 2 digits
 *   HH    two-digit hour 00-23     H     hour 0-23, 1 or 2 digits  hh   two-digit hour 01-12   h  hour 1-12
 *   mm    two-digit minutes        ss    two-digit seconds         A    AM or PM (any case)
 *
 * Any other letter is an error (so `mm/dd/yyyy` is refused rather than read as minutes); text in square brackets is
 * literal (`YYYY-MM-DD[T]HH:mm`); every other character (`/ . - : space ,`) is literal. A date format needs a year,
 * a month and a day; a time format needs an hour and minutes (12-hour hours need `A`). A format may carry both parts
 * (`M/D/YYYY h:mm A`): a date expression then ignores the time and a time expression ignores the date, so one
 * "Date Time" column can feed both an ISO date field and a time field.
 *
 * Month names are English. Two-digit years are not supported: guessing the century is how 1925 becomes 2025.
 */

type Unit = 'year' | 'month' | 'day' | 'hour' | 'minute' | 'second' | 'ampm';

interface TokenSpec {
  unit: Unit;
  pattern: string;
  /** 12-hour clock. */
  twelve?: boolean;
  names?: 'full' | 'short';
}

const TOKENS: Array<[string, TokenSpec]> = [
  // Longest first: the tokenizer takes the first that matches at a position.
  ['YYYY', { unit: 'year', pattern: '(\\d{4})' }],
  ['MMMM', { unit: 'month', pattern: '([A-Za-z]{3,9})', names: 'full' }],
  ['MMM', { unit: 'month', pattern: '([A-Za-z]{3})', names: 'short' }],
  ['MM', { unit: 'month', pattern: '(\\d{2})' }],
  ['M', { unit: 'month', pattern: '(\\d{1,2})' }],
  ['DD', { unit: 'day', pattern: '(\\d{2})' }],
  ['D', { unit: 'day', pattern: '(\\d{1,2})' }],
  ['HH', { unit: 'hour', pattern: '(\\d{2})' }],
  ['H', { unit: 'hour', pattern: '(\\d{1,2})' }],
  ['hh', { unit: 'hour', pattern: '(\\d{2})', twelve: true }],
  ['h', { unit: 'hour', pattern: '(\\d{1,2})', twelve: true }],
  ['mm', { unit: 'minute', pattern: '(\\d{2})' }],
  ['ss', { unit: 'second', pattern: '(\\d{2})' }],
  ['A', { unit: 'ampm', pattern: '([AaPp][Mm])' }],
];

export const TOKEN_LIST = 'YYYY, MMMM, MMM, MM, M, DD, D, HH, H, hh, h, mm, ss, A';

const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];

export interface CompiledFormat {
  source: string;
  regex: RegExp;
  /** Capture group (1-based) of each unit present. */
  groups: Partial<Record<Unit, { group: number; spec: TokenSpec }>>;
}

export type FormatResult = { ok: true; format: CompiledFormat } | { ok: false; message: string };

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

/** Tokenizes and checks a format; `kind` says which parts it must have. Messages name the problem for an operator. */
export function compileFormat(source: string, kind: 'date' | 'time'): FormatResult {
  let re = '^';
  let group = 0;
  const groups: CompiledFormat['groups'] = {};
  let i = 0;
  while (i < source.length) {
    const ch = source[i];
    if (ch === '[') {
      const end = source.indexOf(']', i + 1);
      if (end === -1) return { ok: false, message: `unknown ${kind} format '${source}': '[' opens a literal that is never closed with ']'` };
      re += escapeRe(source.slice(i + 1, end));
      i = end + 1;
      continue;
    }
    const token = TOKENS.find(([t]) => source.startsWith(t, i));
    if (token) {
      const [name, spec] = token;
      if (groups[spec.unit]) {
        return { ok: false, message: `unknown ${kind} format '${source}': it has two ${spec.unit === 'ampm' ? 'AM/PM markers' : `${spec.unit} tokens`} (${name})` };
      }
      groups[spec.unit] = { group: ++group, spec };
      re += spec.pattern;
      i += name.length;
      continue;
    }
    if (/[A-Za-z]/.test(ch)) {
      let j = i;
      while (j < source.length && source[j] === ch) j++;
      if (source.slice(i, j) === 'YY') {
        return { ok: false, message: `unknown ${kind} format '${source}': two-digit years (YY) are not supported (the century would be a guess); the export needs four-digit years (YYYY)` };
      }
      return {
        ok: false,
        message: `unknown ${kind} format '${source}': '${source.slice(i, j)}' is not a token (tokens are case-sensitive: ${TOKEN_LIST}; put literal letters in [brackets]), e.g. 'MM/DD/YYYY'`,
      };
    }
    re += escapeRe(ch);
    i++;
  }
  re += '$';
  const has = (u: Unit) => groups[u] !== undefined;
  if (kind === 'date') {
    const missing = (['year', 'month', 'day'] as Unit[]).filter((u) => !has(u));
    if (missing.length) {
      return { ok: false, message: `unknown date format '${source}': it has no ${missing.join(', no ')} (a date format needs YYYY, a month MM/M/MMM/MMMM and a day DD/D)` };
    }
  } else if (!has('hour') || !has('minute')) {
    return { ok: false, message: `unknown time format '${source}': a time format needs an hour (HH, H, hh, h) and minutes (mm)` };
  }
  if (has('hour') !== has('minute') || (has('second') && !has('minute'))) {
    return { ok: false, message: `unknown ${kind} format '${source}': a time of day needs both an hour and minutes (mm), and seconds (ss) need minutes` };
  }
  if (has('hour')) {
    const twelve = groups.hour!.spec.twelve === true;
    if (twelve && !has('ampm')) return { ok: false, message: `unknown ${kind} format '${source}': 12-hour hours (hh, h) need an AM/PM marker (A); use HH or H for a 24-hour clock` };
    if (!twelve && has('ampm')) return { ok: false, message: `unknown ${kind} format '${source}': an AM/PM marker (A) needs 12-hour hours (hh, h), not HH or H` };
  }
  if (has('ampm') && !has('hour')) return { ok: false, message: `unknown ${kind} format '${source}': an AM/PM marker (A) needs an hour` };
  return { ok: true, format: { source, regex: new RegExp(re), groups } };
}

const pad2 = (n: number) => String(n).padStart(2, '0');

function daysIn(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function monthOf(text: string, names: 'full' | 'short' | undefined): number | undefined {
  if (!names) return Number(text);
  const t = text.toLowerCase();
  const i = names === 'short' ? MONTHS.findIndex((m) => m.slice(0, 3) === t) : MONTHS.indexOf(t);
  return i === -1 ? undefined : i + 1;
}

/** `2025-09-15` from a value in the format, or undefined when it does not match or is not a real calendar day. */
export function parseDate(value: string, f: CompiledFormat): string | undefined {
  const m = f.regex.exec(value);
  if (!m) return undefined;
  const g = f.groups;
  const year = Number(m[g.year!.group]);
  const month = monthOf(m[g.month!.group], g.month!.spec.names);
  const day = Number(m[g.day!.group]);
  if (month === undefined || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || year < 1) return undefined;
  if (g.hour && parseClock(m, f) === undefined) return undefined;
  return `${String(year).padStart(4, '0')}-${pad2(month)}-${pad2(day)}`;
}

/** `13:05` (or `13:05:30` when the format has seconds) from a value in the format, or undefined. */
export function parseTime(value: string, f: CompiledFormat): string | undefined {
  const m = f.regex.exec(value);
  if (!m) return undefined;
  if (f.groups.year && parseDate(value, { ...f, groups: { ...f.groups, hour: undefined } }) === undefined) return undefined;
  return parseClock(m, f);
}

function parseClock(m: RegExpExecArray, f: CompiledFormat): string | undefined {
  const g = f.groups;
  let hour = Number(m[g.hour!.group]);
  const minute = Number(m[g.minute!.group]);
  const second = g.second ? Number(m[g.second.group]) : undefined;
  if (g.hour!.spec.twelve) {
    if (hour < 1 || hour > 12) return undefined;
    const pm = m[g.ampm!.group].toLowerCase() === 'pm';
    hour = (hour % 12) + (pm ? 12 : 0);
  } else if (hour > 23) return undefined;
  if (minute > 59 || (second !== undefined && second > 59)) return undefined;
  return `${pad2(hour)}:${pad2(minute)}${second !== undefined ? `:${pad2(second)}` : ''}`;
}
