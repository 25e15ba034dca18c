/**
 * Value helpers on plain objects: descriptors, source ids, dates, references.
 */
import { Descriptors, Fault, dayOfDateTime, date, endYear, identity, key, num, splitDescriptor, studentRef, time, identityProjection, isRefTarget } from './values';
import type { XmlObject } from './xml';

function fault(fn: () => unknown): Fault {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(Fault);
    return e as Fault;
  }
  throw new Error('expected a Fault');
}

describe('descriptors', () => {
  test('a URI keeps its code and splits into namespace and label', () => {
    expect(splitDescriptor('uri://ed-fi.org/AcademicSubjectDescriptor#English Language Arts')).toEqual({
      code: 'uri://ed-fi.org/AcademicSubjectDescriptor#English Language Arts',
      namespace: 'uri://ed-fi.org/AcademicSubjectDescriptor',
      label: 'English Language Arts',
    });
  });

  test('a malformed or bare value is kept as code and label (never a reject by itself)', () => {
    expect(splitDescriptor('Perpetrator')).toEqual({ code: 'Perpetrator', label: 'Perpetrator' });
    expect(splitDescriptor('uri://x#')).toEqual({ code: 'uri://x#', label: 'uri://x#' });
    expect(splitDescriptor('#Label')).toEqual({ code: '#Label', label: '#Label' });
  });

  test('descriptorMap replaces the code (exact match first, then ignoring case); text() gives the mapped code or the label', () => {
    const ds = new Descriptors({
      'uri://ed-fi.org/AttendanceEventCategoryDescriptor#Excused Absence': 'EXC',
      'URI://STATE.EXAMPLE/BehaviorDescriptor#A1': 'fight',
    });
    expect(ds.parse('uri://ed-fi.org/AttendanceEventCategoryDescriptor#Excused Absence')).toEqual({
      code: 'EXC', namespace: 'uri://ed-fi.org/AttendanceEventCategoryDescriptor', label: 'Excused Absence',
    });
    expect(ds.parse('uri://state.example/BehaviorDescriptor#a1').code).toBe('fight');
    expect(ds.text('uri://ed-fi.org/AttendanceEventCategoryDescriptor#Excused Absence')).toBe('EXC');
    expect(ds.text('uri://ed-fi.org/AttendanceEventCategoryDescriptor#Tardy')).toBe('Tardy');
    expect(ds.label('uri://ed-fi.org/AttendanceEventCategoryDescriptor#Excused Absence')).toBe('Excused Absence');
    expect(ds.mapped('uri://other#X')).toBeUndefined();
  });
});

describe('source ids', () => {
  test('parts joined with |, with % and | escaped so keys never collide', () => {
    expect(key('uri://ed-fi.org/Assessment', 'SAT Math')).toBe('uri://ed-fi.org/Assessment|SAT Math');
    expect(key('a|b', 'c')).toBe('a%7Cb|c');
    expect(key('a', 'b|c')).toBe('a|b%7Cc');
    expect(key('100%', 'x')).toBe('100%25|x');
    expect(key('a%7Cb', 'c')).not.toBe(key('a|b', 'c'));
  });

  test('keys over 255 characters keep a readable head and a hash of the whole', () => {
    const long = key('x'.repeat(300), 'a');
    expect(long).toHaveLength(241);
    expect(long).toMatch(/^x{200}~[0-9a-f]{40}$/);
    expect(key('x'.repeat(300), 'b')).not.toBe(long);
  });
});

describe('typed values', () => {
  const n: XmlObject = { D: '2021-05-01', Dz: '2021-05-01-05:00', Bad: '2021-02-30', DT: '2021-05-01T16:00:00', DTz: '2021-05-01T16:00:00.5Z', T: '09:05', T2: '14:20:00.000', N: '25.50000', NaN: 'twelve', Y: '2021-2022' };
  test('dates, date-times, times, numbers, school years', () => {
    expect(date(n, 'D', 'E')).toBe('2021-05-01');
    expect(date(n, 'Dz', 'E')).toBe('2021-05-01');
    expect(date(n, 'Missing', 'E')).toBeUndefined();
    expect(fault(() => date(n, 'Bad', 'E'))).toMatchObject({ field: 'E/Bad', code: 'row_malformed', reason: 'Bad must be a date YYYY-MM-DD, found "2021-02-30"' });
    expect(dayOfDateTime(n, 'DT', 'E')).toBe('2021-05-01');
    expect(dayOfDateTime(n, 'DTz', 'E')).toBe('2021-05-01');
    expect(dayOfDateTime(n, 'D', 'E')).toBe('2021-05-01');
    expect(time(n, 'T', 'E')).toBe('09:05:00');
    expect(time(n, 'T2', 'E')).toBe('14:20:00');
    expect(num(n, 'N', 'E')).toBe(25.5);
    expect(fault(() => num(n, 'NaN', 'E')).reason).toBe('NaN must be a number, found "twelve"');
    expect(endYear('2021-2022', 'f')).toBe('2022');
    expect(endYear('2022', 'f')).toBe('2022');
    expect(fault(() => endYear('21/22', 'S/SchoolYear')).field).toBe('S/SchoolYear');
  });
});

describe('references', () => {
  const scope = { ids: new Map<string, XmlObject>([['STU_1', { StudentUniqueId: '42' }]]) };

  test('an identity, a lookup with the key, or ref= to an earlier element of the file', () => {
    expect(studentRef({ StudentReference: { StudentIdentity: { StudentUniqueId: '7' } } }, 'X', scope)).toBe('7');
    expect(studentRef({ StudentReference: { StudentLookup: { StudentUniqueId: '8' } } }, 'X', scope)).toBe('8');
    expect(studentRef({ StudentReference: { '@ref': 'STU_1' } }, 'X', scope)).toBe('42');
  });

  test('unknown shapes, unresolved refs and lookups without the key are faults naming the XML path', () => {
    expect(fault(() => studentRef({ StudentReference: '' }, 'StudentAssessment', scope))).toMatchObject({
      field: 'StudentAssessment/StudentReference', code: 'record_invalid', reason: expect.stringContaining('is empty'),
    });
    expect(fault(() => studentRef({ StudentReference: { Other: 'x' } }, 'A', scope)).reason).toContain('unknown shape: expected <StudentIdentity>, <StudentLookup> or a ref="…" attribute');
    expect(fault(() => studentRef({ StudentReference: { '@ref': 'NOPE' } }, 'A', scope))).toMatchObject({ code: 'reference_unresolved', reason: 'StudentReference ref="NOPE" names no element with that id earlier in this file' });
    expect(fault(() => studentRef({ StudentReference: { StudentLookup: { Name: { FirstName: 'A' } } } }, 'A', scope)).reason).toBe('StudentReference does not give the StudentUniqueId');
    expect(fault(() => studentRef({}, 'A', scope))).toMatchObject({ field: 'A/StudentReference', reason: 'required StudentReference is missing' });
    expect(identity({}, 'SchoolReference', 'SchoolIdentity', 'A', scope)).toBeUndefined();
  });

  test('the id index keeps identity fields of reference targets, and the identity of top-level reference declarations', () => {
    expect(isRefTarget('DisciplineIncident')).toBe(true);
    expect(isRefTarget('AssessmentReference')).toBe(true);
    expect(isRefTarget('StudentAssessment')).toBe(false);
    expect(identityProjection('DisciplineIncident', { '@id': 'D', IncidentIdentifier: '10', IncidentDate: '2021-01-01', SchoolReference: { SchoolIdentity: { SchoolId: '1' } } })).toEqual({
      IncidentIdentifier: '10', SchoolReference: { SchoolIdentity: { SchoolId: '1' } },
    });
    expect(identityProjection('AssessmentReference', { '@id': 'A', AssessmentIdentity: { AssessmentIdentifier: 'X', Namespace: 'N' } })).toEqual({ AssessmentIdentifier: 'X', Namespace: 'N' });
  });
});
