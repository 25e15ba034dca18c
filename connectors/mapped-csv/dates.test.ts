/** Date and time formats: tokens, calendar checks, 12/24-hour clocks, and the messages for unknown formats. */
import { compileFormat, parseDate, parseTime, type CompiledFormat } from './dates';

const fmt = (f: string, kind: 'date' | 'time' = 'date'): CompiledFormat => {
  const r = compileFormat(f, kind);
  if (!r.ok) throw new Error(r.message);
  return r.format;
};
const date = (f: string, v: string) => parseDate(v, fmt(f));
const time = (f: string, v: string) => parseTime(v, fmt(f, 'time'));

describe('dates', () => {
  test.each([
    ['MM/DD/YYYY', '09/15/2025', '2025-09-15'],
    ['M/D/YYYY', '9/5/2025', '2025-09-05'],
    ['M/D/YYYY', '12/31/2025', '2025-12-31'],
    ['DD.MM.YYYY', '15.09.2025', '2025-09-15'],
    ['D.M.YYYY', '5.9.2025', '2025-09-05'],
    ['YYYY-MM-DD', '2025-09-15', '2025-09-15'],
    ['YYYYMMDD', '20250915', '2025-09-15'],
    ['DD/MM/YYYY', '29/02/2024', '2024-02-29'],
    ['D-MMM-YYYY', '15-Sep-2025', '2025-09-15'],
    ['D-MMM-YYYY', '15-SEP-2025', '2025-09-15'],
    ['MMMM D, YYYY', 'September 15, 2025', '2025-09-15'],
    ['M/D/YYYY h:mm A', '9/15/2025 1:40 PM', '2025-09-15'],
    ['YYYY-MM-DD[T]HH:mm:ss', '2025-09-15T13:40:00', '2025-09-15'],
  ])('%s reads %s as %s', (f, v, out) => {
    expect(date(f, v)).toBe(out);
  });

  test.each([
    ['MM/DD/YYYY', '9/15/2025'], // MM is two digits
    ['MM/DD/YYYY', '2025-09-15'],
    ['MM/DD/YYYY', '13/01/2025'],
    ['MM/DD/YYYY', '02/30/2025'],
    ['DD.MM.YYYY', '29.02.2025'], // not a leap year
    ['DD.MM.YYYY', '00.01.2025'],
    ['MM/DD/YYYY', '09/15/25'],
    ['MM/DD/YYYY', ' 09/15/2025x'],
    ['D-MMM-YYYY', '15-Sept-2025'],
    ['M/D/YYYY h:mm A', '9/15/2025 13:40 PM'],
  ])('%s refuses %s', (f, v) => {
    expect(date(f, v)).toBeUndefined();
  });

  test('1900 and 2000 leap rules', () => {
    expect(date('YYYY-MM-DD', '2000-02-29')).toBe('2000-02-29');
    expect(date('YYYY-MM-DD', '1900-02-29')).toBeUndefined();
  });
});

describe('times', () => {
  test.each([
    ['h:mm A', '1:40 PM', '13:40'],
    ['h:mm A', '12:05 PM', '12:05'],
    ['h:mm A', '12:05 am', '00:05'],
    ['hh:mm A', '09:45 AM', '09:45'],
    ['HH:mm', '23:59', '23:59'],
    ['H:mm', '7:05', '07:05'],
    ['HH:mm:ss', '07:05:09', '07:05:09'],
    ['M/D/YYYY h:mm A', '9/15/2025 1:40 PM', '13:40'],
  ])('%s reads %s as %s', (f, v, out) => {
    expect(time(f, v)).toBe(out);
  });

  test.each([
    ['h:mm A', '13:40 PM'],
    ['h:mm A', '0:40 AM'],
    ['HH:mm', '24:00'],
    ['HH:mm', '12:60'],
    ['HH:mm', '7:05'],
    ['M/D/YYYY h:mm A', '2/30/2025 1:40 PM'],
  ])('%s refuses %s', (f, v) => {
    expect(time(f, v)).toBeUndefined();
  });
});

describe('unknown formats', () => {
  test.each([
    ['mm/dd/yyyy', 'date', "unknown date format 'mm/dd/yyyy': 'dd' is not a token (tokens are case-sensitive: YYYY, MMMM, MMM, MM, M, DD, D, HH, H, hh, h, mm, ss, A; put literal letters in [brackets]), e.g. 'MM/DD/YYYY'"],
    ['MM/YYYY', 'date', "unknown date format 'MM/YYYY': it has no day (a date format needs YYYY, a month MM/M/MMM/MMMM and a day DD/D)"],
    ['MM/DD/YY', 'date', "unknown date format 'MM/DD/YY': two-digit years (YY) are not supported (the century would be a guess); the export needs four-digit years (YYYY)"],
    ['DD.MM', 'date', "unknown date format 'DD.MM': it has no year (a date format needs YYYY, a month MM/M/MMM/MMMM and a day DD/D)"],
    ['MM/DD/YYYY/MM', 'date', "unknown date format 'MM/DD/YYYY/MM': it has two month tokens (MM)"],
    ['YYYY-MM-DD[T', 'date', "unknown date format 'YYYY-MM-DD[T': '[' opens a literal that is never closed with ']'"],
    ['h:mm', 'time', "unknown time format 'h:mm': 12-hour hours (hh, h) need an AM/PM marker (A); use HH or H for a 24-hour clock"],
    ['HH:mm A', 'time', "unknown time format 'HH:mm A': an AM/PM marker (A) needs 12-hour hours (hh, h), not HH or H"],
    ['MM/DD/YYYY', 'time', "unknown time format 'MM/DD/YYYY': a time format needs an hour (HH, H, hh, h) and minutes (mm)"],
    ['YYYY-MM-DD HH', 'date', "unknown date format 'YYYY-MM-DD HH': a time of day needs both an hour and minutes (mm), and seconds (ss) need minutes"],
  ] as const)('%s (%s)', (f, kind, message) => {
    expect(compileFormat(f, kind)).toEqual({ ok: false, message });
  });
});
