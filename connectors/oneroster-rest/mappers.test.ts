/** The pure mappers on plain objects: values, GUIDRefs, deletions, rejects, roles. */
import {
  bool,
  cleanRaw,
  date,
  dateTime,
  list,
  mapAcademicSession,
  mapAssessmentLineItem,
  mapAssessmentResult,
  mapCategory,
  mapClass,
  mapCourse,
  mapDemographics,
  mapEnrollment,
  mapLineItem,
  mapOrg,
  mapResult,
  mapUser,
  mapUserRoles,
  num,
  ref,
  refs,
  str,
  FieldFault,
  type ObjContext,
} from './mappers';

const C12: ObjContext = { location: 'GET /x?offset=0 $.x[0]', version: '1.2' };
const C11: ObjContext = { location: 'GET /x?offset=0 $.x[0]', version: '1.1' };
const g = (sourcedId: string, type = 'org') => ({ href: `https://sis.example/${type}s/${sourcedId}`, sourcedId, type });
const fault = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    if (e instanceof FieldFault) return { field: e.field, reason: e.reason, code: e.code };
    throw e;
  }
  throw new Error('expected a FieldFault');
};

describe('value helpers', () => {
  test('str: trimmed, blank -> undefined, numbers as text, other types refused', () => {
    expect(str({ a: '  x ' }, 'a')).toBe('x');
    expect(str({ a: '   ' }, 'a')).toBeUndefined();
    expect(str({ a: null }, 'a')).toBeUndefined();
    expect(str({ a: 2026 }, 'a')).toBe('2026');
    expect(fault(() => str({ a: { b: 1 } }, 'a'))).toEqual({ field: 'a', reason: 'a must be a string, found {"b":1}', code: 'row_malformed' });
  });

  test('bool: string booleans in any case, JSON booleans; anything else refused', () => {
    expect(bool({ a: 'true' }, 'a')).toBe(true);
    expect(bool({ a: 'FALSE' }, 'a')).toBe(false);
    expect(bool({ a: true }, 'a')).toBe(true);
    expect(bool({ a: '' }, 'a')).toBeUndefined();
    expect(bool({}, 'a')).toBeUndefined();
    expect(fault(() => bool({ a: 'yes' }, 'a')).reason).toBe('a must be "true" or "false", found "yes"');
    expect(fault(() => bool({ a: 1 }, 'a')).reason).toBe('a must be "true" or "false", found 1');
  });

  test('date: YYYY-MM-DD and a real day; a midnight date-time gives its date', () => {
    expect(date({ d: '2024-02-29' }, 'd')).toBe('2024-02-29');
    expect(date({ d: '2025-08-20T00:00:00Z' }, 'd')).toBe('2025-08-20');
    expect(date({ d: '2025-08-20T00:00:00.000+00:00' }, 'd')).toBe('2025-08-20');
    expect(fault(() => date({ d: '2025-02-29' }, 'd')).reason).toBe('d must be a date YYYY-MM-DD, found "2025-02-29"');
    expect(fault(() => date({ d: '2025-08-20T05:00:00Z' }, 'd')).reason).toContain('must be a date');
    expect(fault(() => date({ d: '20/08/2025' }, 'd')).code).toBe('row_malformed');
  });

  test('dateTime: normalized to UTC with milliseconds; no offset = UTC; a date = midnight UTC', () => {
    expect(dateTime({ t: '2025-09-01T08:00:00Z' }, 't')).toBe('2025-09-01T08:00:00.000Z');
    expect(dateTime({ t: '2025-09-01T10:00:00+02:00' }, 't')).toBe('2025-09-01T08:00:00.000Z');
    expect(dateTime({ t: '2025-09-01T08:00:00' }, 't')).toBe('2025-09-01T08:00:00.000Z');
    expect(dateTime({ t: '2025-09-01' }, 't')).toBe('2025-09-01T00:00:00.000Z');
    expect(fault(() => dateTime({ t: 'yesterday' }, 't')).reason).toBe('t must be an ISO 8601 date-time, found "yesterday"');
  });

  test('num: JSON numbers and numeric strings', () => {
    expect(num({ n: 95.5 }, 'n')).toBe(95.5);
    expect(num({ n: ' 88 ' }, 'n')).toBe(88);
    expect(num({ n: '-1e2' }, 'n')).toBe(-100);
    expect(num({ n: '' }, 'n')).toBeUndefined();
    expect(fault(() => num({ n: 'n/a' }, 'n')).reason).toBe('n must be a number, found "n/a"');
    expect(fault(() => num({ n: '12abc' }, 'n')).code).toBe('row_malformed');
  });

  test('list: arrays (items trimmed, blanks dropped, empty -> undefined) or comma strings', () => {
    expect(list({ l: [' 09', '10', ''] }, 'l')).toEqual(['09', '10']);
    expect(list({ l: [] }, 'l')).toBeUndefined();
    expect(list({ l: '09, 10' }, 'l')).toEqual(['09', '10']);
    expect(list({ l: [9] }, 'l')).toEqual(['9']);
    expect(fault(() => list({ l: [{}] }, 'l'))).toEqual({ field: 'l[0]', reason: 'l[0] must be a string, found {}', code: 'row_malformed' });
  });

  test('GUIDRefs give their sourcedId', () => {
    expect(ref({ org: g(' sch-1 ') }, 'org')).toBe('sch-1');
    expect(ref({}, 'org')).toBeUndefined();
    expect(refs({ terms: [g('t1', 'academicSession'), g('t2', 'academicSession')] }, 'terms')).toEqual(['t1', 't2']);
    expect(refs({ terms: [] }, 'terms')).toBeUndefined();
    expect(fault(() => ref({ org: 'sch-1' }, 'org')).reason).toBe('org must be a GUIDRef object {href, sourcedId, type}, found "sch-1"');
    expect(fault(() => ref({ org: { href: 'x' } }, 'org'))).toEqual({ field: 'org.sourcedId', reason: 'org.sourcedId must be a non-empty string, found undefined', code: 'record_invalid' });
    expect(fault(() => refs({ terms: [g('t1'), 7] }, 'terms')).field).toBe('terms[1]');
  });

  test('cleanRaw drops password and nothing else', () => {
    expect(cleanRaw({ sourcedId: 'u', password: 'p', givenName: 'A' })).toEqual({ sourcedId: 'u', givenName: 'A' });
    const o = { sourcedId: 'x' };
    expect(cleanRaw(o)).toBe(o);
  });
});

describe('the shared frame', () => {
  test('status tobedeleted -> a deletion with empty data (required fields not needed)', () => {
    expect(mapOrg({ sourcedId: 'o1', status: 'tobedeleted', dateLastModified: '2025-09-01T00:00:00Z' }, C12)).toEqual({
      record: { type: 'org', sourceId: 'o1', data: {}, raw: { sourcedId: 'o1', status: 'tobedeleted', dateLastModified: '2025-09-01T00:00:00Z' }, location: C12.location, deleted: true },
    });
    expect(mapUser({ sourcedId: 'u1', status: 'TOBEDELETED', password: 'p' }, C12).record).toMatchObject({ deleted: true, raw: { sourcedId: 'u1', status: 'TOBEDELETED' } });
  });

  test('status active, inactive (1.0 leftover) or absent = a live record; anything else is rejected', () => {
    for (const status of ['active', 'inactive', undefined]) {
      expect(mapCategory({ sourcedId: 'c', status, title: 'T' }, C12).record?.data).toEqual({ title: 'T' });
    }
    expect(mapCategory({ sourcedId: 'c', status: 'deleted', title: 'T' }, C12).reject).toEqual({
      location: C12.location, field: 'status', reason: 'status must be active or tobedeleted, found "deleted"', code: 'row_malformed',
      raw: { sourcedId: 'c', status: 'deleted', title: 'T' }, sourceId: 'c',
    });
  });

  test('no sourcedId, not an object, a bad dateLastModified', () => {
    expect(mapCategory({ title: 'T' }, C12).reject).toMatchObject({ field: 'sourcedId', reason: 'required field sourcedId is missing or blank', code: 'record_invalid' });
    expect(mapCategory({ title: 'T' }, C12).reject).not.toHaveProperty('sourceId');
    expect(mapCategory('x', C12).reject).toMatchObject({ field: '$', reason: 'expected an object, found "x"', code: 'row_malformed', raw: 'x' });
    expect(mapCategory({ sourcedId: 'c', title: 'T', dateLastModified: 'last tuesday' }, C12).reject).toMatchObject({
      field: 'dateLastModified', reason: 'dateLastModified must be an ISO 8601 date-time, found "last tuesday"', sourceId: 'c',
    });
  });
});

describe('collections', () => {
  test('org', () => {
    expect(mapOrg({ sourcedId: 's', name: 'School', type: 'school', identifier: 'N1', parent: g('d') }, C12).record?.data).toEqual({ name: 'School', type: 'school', identifier: 'N1', parentId: 'd' });
    expect(mapOrg({ sourcedId: 's', type: 'school' }, C12).reject?.reason).toBe('required field name is missing or blank');
  });

  test('academicSession: schoolYear as a number is text', () => {
    expect(mapAcademicSession({ sourcedId: 'a', title: 'SY', type: 'schoolYear', startDate: '2025-08-01', endDate: '2026-07-31', schoolYear: 2026 }, C12).record?.data).toEqual({
      title: 'SY', type: 'schoolYear', startDate: '2025-08-01', endDate: '2026-07-31', schoolYear: '2026',
    });
    expect(mapAcademicSession({ sourcedId: 'a', title: 'SY', type: 'term', endDate: '2026-07-31', schoolYear: '2026' }, C12).reject?.field).toBe('startDate');
  });

  test('course and class', () => {
    expect(mapCourse({ sourcedId: 'c', title: 'Bio', org: g('s'), schoolYear: g('sy', 'academicSession'), subjectCodes: [] }, C12).record?.data).toEqual({ title: 'Bio', orgId: 's', schoolYearId: 'sy' });
    expect(mapCourse({ sourcedId: 'c', title: 'Bio' }, C12).reject).toMatchObject({ field: 'org', reason: 'required reference org is missing', code: 'record_invalid' });
    expect(mapClass({ sourcedId: 'k', title: 'K', classType: 'homeroom', course: g('c', 'course'), school: g('s'), terms: [g('t', 'academicSession')] }, C12).record?.data).toEqual({
      title: 'K', classType: 'homeroom', courseId: 'c', schoolId: 's', termIds: ['t'],
    });
    expect(mapClass({ sourcedId: 'k', title: 'K', course: g('c'), school: g('s'), terms: [g('t')] }, C12).reject?.field).toBe('classType');
  });

  test('user: REST names, identifiers, 1.1 primaryRole, 1.2 primaryOrg', () => {
    const u = {
      sourcedId: 'u', enabledUser: 'true', givenName: 'A', familyName: 'B', preferredFirstName: 'Al', preferredMiddleName: 'M', preferredLastName: 'Be',
      userIds: [{ type: 'LDAP', identifier: 'ab' }], identifier: 'S1', userMasterIdentifier: 'M1', role: 'student', primaryOrg: g('s'), password: 'x',
    };
    expect(mapUser(u, C12).record?.data).toEqual({
      givenName: 'A', familyName: 'B', preferredGivenName: 'Al', preferredMiddleName: 'M', preferredFamilyName: 'Be', enabledUser: true, primaryOrgId: 's',
      identifiers: [{ system: 'LDAP', value: 'ab' }, { system: 'identifier', value: 'S1' }, { system: 'userMasterIdentifier', value: 'M1' }],
    });
    expect(mapUser(u, C11).record?.data).toMatchObject({ primaryRole: 'student' });
    expect(mapUser(u, C11).record?.data).not.toHaveProperty('primaryOrgId');
    expect(mapUser(u, C12).record?.raw).not.toHaveProperty('password');
    expect(mapUser({ ...u, userIds: [{ type: 'LDAP' }] }, C12).reject).toMatchObject({ field: 'userIds[0]', reason: 'userIds[0] needs a non-blank type and identifier, found {"type":"LDAP"}' });
    expect(mapUser({ ...u, enabledUser: undefined }, C12).reject?.reason).toBe('required field enabledUser is missing or blank');
    expect(mapUser({ ...u, enabledUser: 'maybe' }, C12).reject?.raw).not.toHaveProperty('password');
  });

  test('demographics: personId is the sourcedId; string booleans', () => {
    expect(mapDemographics({ sourcedId: 'u', white: 'TRUE', hispanicOrLatinoEthnicity: false, sex: 'other' }, C12).record?.data).toEqual({ personId: 'u', sex: 'other', white: true, hispanicOrLatinoEthnicity: false });
  });

  test('enrollment', () => {
    expect(mapEnrollment({ sourcedId: 'e', user: g('u', 'user'), class: g('k', 'class'), school: g('s'), role: 'teacher', primary: 'true', beginDate: '2025-08-20' }, C12).record?.data).toEqual({
      classId: 'k', schoolId: 's', personId: 'u', role: 'teacher', primary: true, beginDate: '2025-08-20',
    });
    expect(mapEnrollment({ sourcedId: 'e', user: g('u'), class: g('k'), school: g('s') }, C12).reject?.field).toBe('role');
  });

  test('category, lineItem (learningObjectiveSet -> alignment), assessmentLineItem without class', () => {
    expect(mapCategory({ sourcedId: 'c', title: 'HW', weight: '0.25' }, C12).record?.data).toEqual({ title: 'HW', weight: 0.25 });
    expect(
      mapLineItem({ sourcedId: 'l', title: 'Quiz', class: g('k'), learningObjectiveSet: [{ source: 'case', learningObjectiveIds: ['a', 'b'] }, { learningObjectiveIds: ['c'] }] }, C12).record?.data,
    ).toEqual({ title: 'Quiz', classId: 'k', alignment: [{ ref: 'a', source: 'case' }, { ref: 'b', source: 'case' }, { ref: 'c' }] });
    expect(mapLineItem({ sourcedId: 'l', title: 'Quiz', class: g('k'), learningObjectiveSet: {} }, C12).reject?.reason).toBe('learningObjectiveSet must be a list, found {}');
    expect(mapAssessmentLineItem({ sourcedId: 'a', title: 'Benchmark' }, C12).reject).toMatchObject({ field: 'class', code: 'record_invalid' });
    expect(mapAssessmentLineItem({ sourcedId: 'a', title: 'Benchmark', class: g('k'), parentAssessmentLineItem: g('p') }, C12).record?.data).toEqual({ title: 'Benchmark', classId: 'k' });
  });

  test('result and assessmentResult (learningObjectiveSet -> learningObjectiveResults)', () => {
    const r = {
      sourcedId: 'r', lineItem: g('l'), student: g('u', 'user'), scoreStatus: 'partially graded', score: '7.5', scoreDate: '2025-09-09', missing: 'true',
      learningObjectiveSet: [{ source: 'case', learningObjectiveResults: [{ learningObjectiveId: 'a', score: 2 }, { learningObjectiveId: 'b', textScore: 'ok' }] }],
    };
    expect(mapResult(r, C12).record?.data).toEqual({
      lineItemId: 'l', personId: 'u', scoreStatus: 'partially graded', score: 7.5, scoreDate: '2025-09-09T00:00:00.000Z', missing: true,
      learningObjectiveResults: [{ ref: 'a', source: 'case', score: 2 }, { ref: 'b', source: 'case', textScore: 'ok' }],
    });
    expect(mapResult({ ...r, learningObjectiveSet: [{ learningObjectiveResults: [{ learningObjectiveId: 'a', score: 'x' }] }] }, C12).reject).toMatchObject({
      field: 'learningObjectiveSet[0].learningObjectiveResults[0].score',
    });
    expect(mapResult({ ...r, student: undefined }, C12).reject?.reason).toBe('required reference student is missing');
    const { lineItem: _l, ...rest } = r;
    expect(mapAssessmentResult({ ...rest, assessmentLineItem: g('al') }, C12).record?.data).toMatchObject({ lineItemId: 'al', personId: 'u' });
  });
});

describe('roles from users', () => {
  test('1.2: one role per roles[] entry, id <user>::<org>::<role>, bad entries rejected alone', () => {
    const r = mapUserRoles(
      {
        sourcedId: 'u', enabledUser: 'true', givenName: 'A', familyName: 'B',
        roles: [
          { roleType: 'primary', role: 'teacher', org: g('s'), beginDate: '2025-08-01' },
          { roleType: 'secondary', role: 'aide', org: g('s') },
          { roleType: 'secondary', role: 'teacher', org: g('s2'), endDate: 'soon' },
          'nope',
        ],
      },
      C12,
    );
    expect(r.records.map((x) => [x.sourceId, x.location, x.data])).toEqual([
      ['u::s::teacher', `${C12.location}.roles[0]`, { personId: 'u', orgId: 's', roleType: 'primary', role: 'teacher', beginDate: '2025-08-01' }],
      ['u::s::aide', `${C12.location}.roles[1]`, { personId: 'u', orgId: 's', roleType: 'secondary', role: 'aide' }],
    ]);
    expect(r.rejects.map(({ raw: _raw, ...x }) => x)).toEqual([
      { location: `${C12.location}.roles[2]`, field: 'roles[2].endDate', reason: 'endDate must be a date YYYY-MM-DD, found "soon"', code: 'row_malformed', sourceId: 'u::s2::teacher' },
      { location: `${C12.location}.roles[3]`, field: 'roles[3]', reason: 'roles[3] must be an object {roleType, role, org}, found "nope"', code: 'row_malformed' },
    ]);
  });

  test('1.2: a user without roles is a reject without sourceId; a deleted user deletes the roles it lists', () => {
    expect(mapUserRoles({ sourcedId: 'u', roles: [] }, C12).rejects[0]).toMatchObject({ field: 'roles', code: 'record_invalid' });
    expect(mapUserRoles({ sourcedId: 'u', roles: [] }, C12).rejects[0]).not.toHaveProperty('sourceId');
    expect(mapUserRoles({ sourcedId: 'u', status: 'tobedeleted', roles: [{ roleType: 'primary', role: 'student', org: g('s') }] }, C12).records).toEqual([
      { type: 'role', sourceId: 'u::s::student', data: {}, raw: { roleType: 'primary', role: 'student', org: g('s') }, location: `${C12.location}.roles[0]`, deleted: true },
    ]);
    expect(mapUserRoles({ sourcedId: 'u', status: 'tobedeleted' }, C12)).toEqual({ records: [], rejects: [] });
  });

  test('1.1: role at each org, ids as oneroster-csv derives them, first org primary, orgs deduplicated', () => {
    const r = mapUserRoles({ sourcedId: 't', role: 'teacher', orgs: [g('s1'), g('s2'), g('s1')] }, C11);
    expect(r.records.map((x) => [x.sourceId, x.data])).toEqual([
      ['t::s1', { personId: 't', orgId: 's1', roleType: 'primary', role: 'teacher' }],
      ['t::s2', { personId: 't', orgId: 's2', roleType: 'secondary', role: 'teacher' }],
    ]);
    expect(mapUserRoles({ sourcedId: 't', orgs: [g('s1')] }, C11).rejects[0]).toMatchObject({ field: 'role', code: 'record_invalid' });
    expect(mapUserRoles({ sourcedId: 't', role: 'teacher', orgs: [g('s1')], status: 'tobedeleted' }, C11).records.map((x) => [x.sourceId, x.deleted])).toEqual([['t::s1', true]]);
  });
});
