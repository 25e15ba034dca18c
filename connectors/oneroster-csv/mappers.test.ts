/** Pure mapper tests: plain row objects in, records or rejects out. */
import {
  derivedRoleId,
  isDate,
  isDateTime,
  mapAcademicSession,
  mapCategory,
  mapClass,
  mapCourse,
  mapDemographics,
  mapEnrollment,
  mapLineItem,
  mapLineItemObjective,
  mapOrg,
  mapResult,
  mapResultObjective,
  mapRole,
  mapUser,
  mapUserRoles11,
  parseUserIds,
  SCORE_STATUSES,
  splitList,
  type Row,
  type RowContext,
} from './mappers';

const bulk = (file: string, line = 2, version: '1.1' | '1.2' = '1.2'): RowContext => ({ file, line, mode: 'bulk', version });
const delta = (file: string, line = 2, version: '1.1' | '1.2' = '1.2'): RowContext => ({ file, line, mode: 'delta', version });

/** A users.csv (1.2) row with every column blank except the required ones, overridable. */
function user12(over: Partial<Row> = {}): Row {
  return {
    sourcedId: 'u1', status: '', dateLastModified: '', enabledUser: 'true', username: 'ana.k', userIds: '', givenName: 'Ana',
    familyName: 'Kowalska', middleName: '', identifier: '', email: '', sms: '', phone: '', agentSourcedIds: '', grades: '',
    userMasterIdentifier: '', resourceSourcedIds: '', preferredGivenName: '', preferredMiddleName: '',
    preferredFamilyName: '', primaryOrgSourcedId: '', pronouns: '', ...over,
  };
}

function user11(over: Partial<Row> = {}): Row {
  return {
    sourcedId: 'u1', status: '', dateLastModified: '', enabledUser: 'true', orgSourcedIds: 'sch-1', role: 'student',
    username: 'ana.k', userIds: '', givenName: 'Ana', familyName: 'Kowalska', middleName: '', identifier: '', email: '',
    sms: '', phone: '', agentSourcedIds: '', grades: '', ...over,
  };
}

function enrollment(over: Partial<Row> = {}): Row {
  return {
    sourcedId: 'e1', status: '', dateLastModified: '', classSourcedId: 'c1', schoolSourcedId: 's1', userSourcedId: 'u1',
    role: 'student', primary: '', beginDate: '', endDate: '', ...over,
  };
}

describe('cell helpers', () => {
  test('isDate accepts real calendar days only', () => {
    expect(isDate('2025-08-20')).toBe(true);
    expect(isDate('2024-02-29')).toBe(true);
    expect(isDate('2000-02-29')).toBe(true);
    expect(isDate('1900-02-29')).toBe(false);
    expect(isDate('2025-02-29')).toBe(false);
    expect(isDate('2025-04-31')).toBe(false);
    expect(isDate('2025-13-01')).toBe(false);
    expect(isDate('2025-00-10')).toBe(false);
    expect(isDate('2025-1-01')).toBe(false);
    expect(isDate('20250820')).toBe(false);
    expect(isDate('2025-08-20T00:00:00Z')).toBe(false);
    expect(isDate('08/20/2025')).toBe(false);
  });

  test('isDateTime accepts ISO 8601 date-times as the binding writes them', () => {
    for (const ok of ['2025-09-01T10:15:00Z', '2025-09-01T10:15:00.000Z', '2025-09-01T10:15:00+02:00', '2025-09-01T10:15Z', '2025-09-01T10:15:00']) {
      expect(isDateTime(ok)).toBe(true);
    }
    for (const bad of ['2025-09-01', '2025-09-01 10:15:00', '2025-02-30T10:00:00Z', '2025-09-01T25:00:00Z', 'yesterday']) {
      expect(isDateTime(bad)).toBe(false);
    }
  });

  test('splitList trims items and drops empty ones', () => {
    expect(splitList('09,10')).toEqual(['09', '10']);
    expect(splitList(' 09 , 10 ,')).toEqual(['09', '10']);
    expect(splitList(',')).toEqual([]);
  });

  test('parseUserIds reads {type:id} pairs; the first colon splits', () => {
    expect(parseUserIds('{LDAP:abc},{state:123}')).toEqual([{ system: 'LDAP', value: 'abc' }, { system: 'state', value: '123' }]);
    expect(parseUserIds('{LDAP:abc}, {LTI:urn:x:1}')).toEqual([{ system: 'LDAP', value: 'abc' }, { system: 'LTI', value: 'urn:x:1' }]);
    expect(parseUserIds('')).toEqual([]);
    for (const bad of ['LDAP:abc', '{LDAP:abc', '{LDAPabc}', '{:abc}', '{LDAP:}', '{LDAP:abc}x', '{LDAP:abc}{state:1}x']) {
      expect(parseUserIds(bad)).toBeNull();
    }
  });
});

describe('status and dateLastModified', () => {
  test('bulk: blank or active status is a live record; dateLastModified is not used', () => {
    expect(mapUser(user12({ status: 'active', dateLastModified: 'whenever' }), bulk('users.csv')).record?.deleted).toBeUndefined();
  });

  test('bulk: tobedeleted is a reject naming status', () => {
    const r = mapUser(user12({ status: 'tobedeleted' }), bulk('users.csv', 9));
    expect(r.reject).toMatchObject({ location: 'users.csv:9', field: 'status', code: 'record_invalid', sourceId: 'u1' });
    expect(r.reject?.reason).toContain('not allowed in a bulk file');
  });

  test('bulk: another status value is a reject', () => {
    const r = mapUser(user12({ status: 'inactive' }), bulk('users.csv'));
    expect(r.reject).toMatchObject({ field: 'status', code: 'row_malformed' });
    expect(r.reject?.reason).toContain('"inactive"');
  });

  test('delta: status and an ISO date-time are mandatory', () => {
    const noStatus = mapUser(user12({ dateLastModified: '2025-09-01T10:00:00Z' }), delta('users.csv'));
    expect(noStatus.reject).toMatchObject({ field: 'status' });
    expect(noStatus.reject?.reason).toContain('required in a delta file');
    const badStatus = mapUser(user12({ status: 'deleted', dateLastModified: '2025-09-01T10:00:00Z' }), delta('users.csv'));
    expect(badStatus.reject?.reason).toContain('must be active or tobedeleted');
    const noDate = mapUser(user12({ status: 'active' }), delta('users.csv'));
    expect(noDate.reject).toMatchObject({ field: 'dateLastModified' });
    const badDate = mapUser(user12({ status: 'active', dateLastModified: '2025-09-01' }), delta('users.csv'));
    expect(badDate.reject?.reason).toContain('ISO 8601');
  });

  test('delta: tobedeleted is a deletion that needs only sourcedId', () => {
    const row = enrollment({ status: 'tobedeleted', dateLastModified: '2025-09-02T08:00:00Z', classSourcedId: '', role: '' });
    expect(mapEnrollment(row, delta('enrollments.csv', 4))).toEqual({
      record: { type: 'enrollment', sourceId: 'e1', data: {}, raw: row, location: 'enrollments.csv:4', deleted: true },
    });
  });

  test('a blank sourcedId is always a reject, even on a deletion', () => {
    const r = mapEnrollment(enrollment({ sourcedId: ' ', status: 'tobedeleted', dateLastModified: '2025-09-02T08:00:00Z' }), delta('enrollments.csv'));
    expect(r.reject).toMatchObject({ field: 'sourcedId', code: 'record_invalid' });
    expect(r.reject?.sourceId).toBeUndefined();
  });
});

describe('mapOrg / mapAcademicSession / mapCourse / mapClass', () => {
  test('org with parent; absent optional fields omitted', () => {
    const row = { sourcedId: 'sch-1', status: '', dateLastModified: '', name: ' Maple Grove ', type: 'school', identifier: '', parentSourcedId: 'd-1' };
    expect(mapOrg(row, bulk('orgs.csv'))).toEqual({
      record: { type: 'org', sourceId: 'sch-1', data: { name: 'Maple Grove', type: 'school', parentId: 'd-1' }, raw: row, location: 'orgs.csv:2' },
    });
  });

  test('org missing required name and type lists both', () => {
    const r = mapOrg({ sourcedId: 'x', status: '', dateLastModified: '', name: '', type: '', identifier: '', parentSourcedId: '' }, bulk('orgs.csv', 3));
    expect(r.reject).toMatchObject({ location: 'orgs.csv:3', field: 'name', code: 'record_invalid', reason: 'required columns name, type are blank' });
  });

  test('academic session dates are checked', () => {
    const row = { sourcedId: 't1', status: '', dateLastModified: '', title: 'Fall', type: 'term', startDate: '2025-08-20', endDate: '2025-12-32', parentSourcedId: 'sy', schoolYear: '2026' };
    expect(mapAcademicSession(row, bulk('academicSessions.csv')).reject).toMatchObject({ field: 'endDate', reason: 'endDate must be a date YYYY-MM-DD, found "2025-12-32"' });
    expect(mapAcademicSession({ ...row, endDate: '2025-12-19' }, bulk('academicSessions.csv')).record?.data).toEqual({
      title: 'Fall', type: 'term', startDate: '2025-08-20', endDate: '2025-12-19', parentId: 'sy', schoolYear: '2026',
    });
  });

  test('course lists and references', () => {
    const row = { sourcedId: 'c', status: '', dateLastModified: '', schoolYearSourcedId: 'sy', title: 'Math', courseCode: 'M', grades: '06,07', orgSourcedId: 'sch', subjects: 'Math', subjectCodes: '' };
    expect(mapCourse(row, bulk('courses.csv')).record?.data).toEqual({
      title: 'Math', orgId: 'sch', schoolYearId: 'sy', courseCode: 'M', grades: ['06', '07'], subjects: ['Math'],
    });
  });

  test('class: termSourcedIds -> termIds; a list of nothing is a missing value', () => {
    const row = {
      sourcedId: 'k', status: '', dateLastModified: '', title: 'Math A', grades: '', courseSourcedId: 'c', classCode: '', classType: 'scheduled',
      location: '', schoolSourcedId: 's', termSourcedIds: 't1, t2', subjects: '', subjectCodes: '', periods: '1',
    };
    expect(mapClass(row, bulk('classes.csv')).record?.data).toEqual({
      title: 'Math A', classType: 'scheduled', courseId: 'c', schoolId: 's', termIds: ['t1', 't2'], periods: ['1'],
    });
    expect(mapClass({ ...row, termSourcedIds: ' , ' }, bulk('classes.csv')).reject).toMatchObject({ field: 'termSourcedIds', code: 'record_invalid' });
  });
});

describe('mapUser', () => {
  test('1.2 user: every column mapped, identifiers collected in order', () => {
    const row = user12({
      enabledUser: 'TRUE', userIds: '{LDAP:ak},{state:ST-1}', middleName: 'Maria', identifier: 'S-1', email: 'a@example.org', sms: '+1555',
      phone: '555', grades: '06', userMasterIdentifier: 'M-1', preferredGivenName: 'Ania', preferredMiddleName: 'M', preferredFamilyName: 'K',
      primaryOrgSourcedId: 'sch-1', pronouns: 'she/her', agentSourcedIds: 'p1', resourceSourcedIds: 'r1',
    });
    expect(mapUser(row, bulk('users.csv', 17))).toEqual({
      record: {
        type: 'person', sourceId: 'u1', raw: row, location: 'users.csv:17',
        data: {
          givenName: 'Ana', familyName: 'Kowalska', middleName: 'Maria', preferredGivenName: 'Ania', preferredMiddleName: 'M',
          preferredFamilyName: 'K', pronouns: 'she/her', username: 'ana.k', email: 'a@example.org', sms: '+1555', phone: '555',
          enabledUser: true, grades: ['06'], primaryOrgId: 'sch-1', agentIds: ['p1'],
          identifiers: [
            { system: 'LDAP', value: 'ak' }, { system: 'state', value: 'ST-1' }, { system: 'identifier', value: 'S-1' },
            { system: 'userMasterIdentifier', value: 'M-1' },
          ],
        },
      },
    });
  });

  test('minimal user has an empty identifiers list and no blank fields', () => {
    expect(mapUser(user12({ enabledUser: 'false' }), bulk('users.csv')).record?.data).toEqual({
      givenName: 'Ana', familyName: 'Kowalska', username: 'ana.k', enabledUser: false, identifiers: [],
    });
  });

  test('bad boolean, bad userIds, missing required value', () => {
    expect(mapUser(user12({ enabledUser: 'yes' }), bulk('users.csv', 4)).reject).toMatchObject({
      location: 'users.csv:4', field: 'enabledUser', code: 'row_malformed', reason: 'enabledUser must be true or false, found "yes"', sourceId: 'u1',
    });
    expect(mapUser(user12({ userIds: 'LDAP:ak' }), bulk('users.csv')).reject).toMatchObject({ field: 'userIds' });
    expect(mapUser(user12({ givenName: '' }), bulk('users.csv')).reject).toMatchObject({
      field: 'givenName', code: 'record_invalid', reason: 'required column givenName is blank',
    });
    expect(mapUser(user12({ username: '' }), bulk('users.csv')).reject).toMatchObject({ field: 'username' });
  });

  test('1.1 user: role becomes primaryRole; role and orgSourcedIds are required', () => {
    expect(mapUser(user11({ role: 'teacher' }), bulk('users.csv', 2, '1.1')).record?.data).toMatchObject({ primaryRole: 'teacher' });
    expect(mapUser(user11({ orgSourcedIds: '' }), bulk('users.csv', 2, '1.1')).reject).toMatchObject({ field: 'orgSourcedIds' });
    // 1.2 has no role column: no primaryRole.
    expect(mapUser(user12(), bulk('users.csv')).record?.data.primaryRole).toBeUndefined();
  });
});

describe('mapUserRoles11', () => {
  test('one role per org, first is primary, ids user::org', () => {
    const row = user11({ sourcedId: 'u-1', orgSourcedIds: 'sch-a, sch-b,sch-a', role: 'teacher' });
    const r = mapUserRoles11(row, bulk('users.csv', 5, '1.1'));
    expect(r.records).toEqual([
      { type: 'role', sourceId: 'u-1::sch-a', data: { personId: 'u-1', orgId: 'sch-a', roleType: 'primary', role: 'teacher' }, raw: row, location: 'users.csv:5' },
      { type: 'role', sourceId: 'u-1::sch-b', data: { personId: 'u-1', orgId: 'sch-b', roleType: 'secondary', role: 'teacher' }, raw: row, location: 'users.csv:5' },
    ]);
    expect(derivedRoleId('u-1', 'sch-b')).toBe('u-1::sch-b');
  });

  test('a deleted user deletes the roles it lists', () => {
    const row = user11({ sourcedId: 'u-1', status: 'tobedeleted', dateLastModified: '2025-09-01T00:00:00Z', orgSourcedIds: 'sch-a,sch-b', role: '' });
    expect(mapUserRoles11(row, delta('users.csv', 3, '1.1')).records?.map((r) => [r.sourceId, r.deleted, r.data])).toEqual([
      ['u-1::sch-a', true, {}],
      ['u-1::sch-b', true, {}],
    ]);
    expect(mapUserRoles11({ ...row, orgSourcedIds: '' }, delta('users.csv', 3, '1.1')).records).toEqual([]);
  });

  test('no role or no org: a reject without a sourceId (the role ids are not the row id)', () => {
    const r = mapUserRoles11(user11({ role: '' }), bulk('users.csv', 2, '1.1'));
    expect(r.reject).toMatchObject({ field: 'role', code: 'record_invalid' });
    expect(r.reject?.sourceId).toBeUndefined();
    expect(mapUserRoles11(user11({ orgSourcedIds: ' ' }), bulk('users.csv', 2, '1.1')).reject).toMatchObject({ field: 'orgSourcedIds' });
  });
});

describe('mapRole / mapDemographics / mapEnrollment', () => {
  test('role (1.2)', () => {
    const row = { sourcedId: 'r', status: '', dateLastModified: '', userSourcedId: 'u', roleType: 'secondary', role: 'teacher', beginDate: '2025-08-20', endDate: '', orgSourcedId: 'o', userProfileSourcedId: 'p' };
    expect(mapRole(row, bulk('roles.csv')).record?.data).toEqual({ personId: 'u', orgId: 'o', roleType: 'secondary', role: 'teacher', beginDate: '2025-08-20' });
  });

  test('demographics: personId is the sourcedId, race flags are booleans', () => {
    const row = {
      sourcedId: 'u', status: '', dateLastModified: '', birthDate: '2014-03-09', sex: 'female', americanIndianOrAlaskaNative: 'false', asian: 'FALSE',
      blackOrAfricanAmerican: '', nativeHawaiianOrOtherPacificIslander: '', white: 'True', demographicRaceTwoOrMoreRaces: '', hispanicOrLatinoEthnicity: 'false',
      countryOfBirthCode: 'US', stateOfBirthAbbreviation: 'WA', cityOfBirth: 'Spokane', publicSchoolResidenceStatus: '01652',
    };
    expect(mapDemographics(row, bulk('demographics.csv')).record).toMatchObject({
      type: 'demographics', sourceId: 'u',
      data: {
        personId: 'u', birthDate: '2014-03-09', sex: 'female', americanIndianOrAlaskaNative: false, asian: false, white: true,
        hispanicOrLatinoEthnicity: false, countryOfBirthCode: 'US', stateOfBirthAbbreviation: 'WA', cityOfBirth: 'Spokane', publicSchoolResidenceStatus: '01652',
      },
    });
    expect(Object.keys(mapDemographics(row, bulk('demographics.csv')).record!.data)).not.toContain('blackOrAfricanAmerican');
    expect(mapDemographics({ ...row, asian: 'Y' }, bulk('demographics.csv')).reject).toMatchObject({ field: 'asian' });
    expect(mapDemographics({ ...row, birthDate: '03/09/2014' }, bulk('demographics.csv')).reject).toMatchObject({ field: 'birthDate' });
  });

  test('enrollment: primary boolean, dates', () => {
    expect(mapEnrollment(enrollment({ primary: 'True', beginDate: '2025-08-20' }), bulk('enrollments.csv')).record?.data).toEqual({
      classId: 'c1', schoolId: 's1', personId: 'u1', role: 'student', primary: true, beginDate: '2025-08-20',
    });
    expect(mapEnrollment(enrollment({ primary: 'maybe' }), bulk('enrollments.csv')).reject).toMatchObject({ field: 'primary' });
    expect(mapEnrollment(enrollment({ endDate: '2026-6-10' }), bulk('enrollments.csv')).reject).toMatchObject({ field: 'endDate' });
    expect(mapEnrollment(enrollment({ userSourcedId: '' }), bulk('enrollments.csv')).reject).toMatchObject({ field: 'userSourcedId' });
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Gradebook

function lineItem12(over: Partial<Row> = {}): Row {
  return {
    sourcedId: 'li', status: '', dateLastModified: '', title: 'Quiz', description: '', assignDate: '2025-09-01', dueDate: '2025-09-05',
    classSourcedId: 'c1', categorySourcedId: 'k1', academicSessionSourcedId: 'gp1', resultValueMin: '', resultValueMax: '', schoolSourcedId: 's1', ...over,
  };
}

function result12(over: Partial<Row> = {}): Row {
  return {
    sourcedId: 'r', status: '', dateLastModified: '', lineItemSourcedId: 'li', studentSourcedId: 'u1', scoreStatus: 'fully graded', score: '',
    scoreDate: '2025-09-06', comment: '', textScore: '', classSourcedId: '', inProgress: '', incomplete: '', late: '', missing: '', ...over,
  };
}

describe('mapCategory / mapLineItem / mapResult', () => {
  test('category: weight is any number (the binding says Integer; decimals are kept)', () => {
    expect(mapCategory({ sourcedId: 'k', status: '', dateLastModified: '', title: 'Homework', weight: '0.25' }, bulk('categories.csv')).record)
      .toMatchObject({ type: 'lineItemCategory', sourceId: 'k', data: { title: 'Homework', weight: 0.25 } });
    // 1.1 rows have no weight column at all.
    expect(mapCategory({ sourcedId: 'k', status: '', dateLastModified: '', title: 'Homework' }, bulk('categories.csv', 2, '1.1')).record?.data).toEqual({ title: 'Homework' });
  });

  test('line item 1.2: academicSessionSourcedId -> gradingPeriodId, schoolSourcedId -> schoolId; 1.2 requires both', () => {
    expect(mapLineItem(lineItem12(), bulk('lineItems.csv')).record).toMatchObject({
      type: 'lineItem',
      data: { title: 'Quiz', classId: 'c1', schoolId: 's1', categoryId: 'k1', gradingPeriodId: 'gp1', assignDate: '2025-09-01T00:00:00.000Z', dueDate: '2025-09-05T00:00:00.000Z' },
    });
    expect(mapLineItem(lineItem12({ academicSessionSourcedId: '', schoolSourcedId: '' }), bulk('lineItems.csv')).reject)
      .toMatchObject({ field: 'academicSessionSourcedId', reason: 'required columns academicSessionSourcedId, schoolSourcedId are blank', code: 'record_invalid' });
  });

  test('line item 1.1: gradingPeriodSourcedId; min and max optional', () => {
    const row: Row = {
      sourcedId: 'li', status: '', dateLastModified: '', title: 'Quiz', description: 'd', assignDate: '2025-09-01', dueDate: '2025-09-05',
      classSourcedId: 'c1', categorySourcedId: 'k1', gradingPeriodSourcedId: 'gp1', resultValueMin: '', resultValueMax: '',
    };
    expect(mapLineItem(row, bulk('lineItems.csv', 2, '1.1')).record?.data).toEqual({
      title: 'Quiz', description: 'd', classId: 'c1', categoryId: 'k1', gradingPeriodId: 'gp1', assignDate: '2025-09-01T00:00:00.000Z', dueDate: '2025-09-05T00:00:00.000Z',
    });
  });

  test('dates and date-times: normalized to UTC; no offset is UTC; anything else is a reject naming the column', () => {
    const at = (assignDate: string) => mapLineItem(lineItem12({ assignDate }), bulk('lineItems.csv'));
    expect(at('2025-09-01T08:30:00+02:00').record?.data.assignDate).toBe('2025-09-01T06:30:00.000Z');
    expect(at('2025-09-01T08:30:00+0200').record?.data.assignDate).toBe('2025-09-01T06:30:00.000Z');
    expect(at('2025-09-01T08:30:00').record?.data.assignDate).toBe('2025-09-01T08:30:00.000Z');
    expect(at('2022-09-26T01:30:00.0000000+00:00').record?.data.assignDate).toBe('2022-09-26T01:30:00.000Z');
    for (const bad of ['2025-02-30', '09/01/2025', '2025-09-01 08:30', 'soon']) {
      expect(at(bad).reject).toMatchObject({ field: 'assignDate', code: 'row_malformed', reason: `assignDate must be a date YYYY-MM-DD or an ISO 8601 date-time, found "${bad}"` });
    }
  });

  test('resultValueMin/Max: numbers, min not above max (equal is fine)', () => {
    expect(mapLineItem(lineItem12({ resultValueMin: '-5', resultValueMax: '1e2' }), bulk('lineItems.csv')).record?.data).toMatchObject({ resultValueMin: -5, resultValueMax: 100 });
    expect(mapLineItem(lineItem12({ resultValueMin: '10', resultValueMax: '10' }), bulk('lineItems.csv')).record).toBeDefined();
    expect(mapLineItem(lineItem12({ resultValueMin: '10', resultValueMax: '9.5' }), bulk('lineItems.csv')).reject).toMatchObject({ field: 'resultValueMax', code: 'record_invalid' });
    expect(mapLineItem(lineItem12({ resultValueMin: '1 000' }), bulk('lineItems.csv')).reject).toMatchObject({ field: 'resultValueMin', reason: 'resultValueMin must be a number, found "1 000"' });
  });

  test('result: every scoreStatus value, with spaces, in any case', () => {
    for (const v of SCORE_STATUSES) {
      expect(mapResult(result12({ scoreStatus: v }), bulk('results.csv')).record?.data.scoreStatus).toBe(v);
      expect(mapResult(result12({ scoreStatus: v.toUpperCase() }), bulk('results.csv')).record?.data.scoreStatus).toBe(v);
    }
    for (const bad of ['fullyGraded', 'fully_graded', 'graded', 'fully  graded']) {
      expect(mapResult(result12({ scoreStatus: bad }), bulk('results.csv')).reject).toMatchObject({ field: 'scoreStatus', code: 'record_invalid', sourceId: 'r' });
    }
    expect(mapResult(result12({ scoreStatus: '' }), bulk('results.csv')).reject).toMatchObject({ field: 'scoreStatus', reason: 'required column scoreStatus is blank' });
  });

  test('result: scores are decimal numbers; flags are booleans; classSourcedId is not mapped', () => {
    const score = (v: string) => mapResult(result12({ score: v }), bulk('results.csv'));
    expect([score('87').record?.data.score, score('-1.5').record?.data.score, score('.5').record?.data.score, score('3e1').record?.data.score, score(' 7 ').record?.data.score]).toEqual([87, -1.5, 0.5, 30, 7]);
    for (const bad of ['8,5', '8/10', 'NaN', 'Infinity', '0x10', 'A', '85%', '1e999']) expect(score(bad).reject).toMatchObject({ field: 'score', reason: `score must be a number, found "${bad}"` });
    const full = mapResult(result12({ score: '9', textScore: 'A', comment: 'Good', classSourcedId: 'c1', inProgress: 'FALSE', incomplete: 'true', late: 'false', missing: 'True' }), bulk('results.csv'));
    expect(full.record?.data).toEqual({
      lineItemId: 'li', personId: 'u1', scoreStatus: 'fully graded', score: 9, textScore: 'A', scoreDate: '2025-09-06T00:00:00.000Z', comment: 'Good',
      late: false, missing: true, incomplete: true, inProgress: false,
    });
    expect(mapResult(result12({ missing: 'y' }), bulk('results.csv')).reject).toMatchObject({ field: 'missing' });
  });

  test('result 1.1: score and scoreDate columns; score may be blank (not enforced, see columns.ts)', () => {
    const row: Row = { sourcedId: 'r', status: '', dateLastModified: '', lineItemSourcedId: 'li', studentSourcedId: 'u1', scoreStatus: 'exempt', score: '', scoreDate: '2025-09-06', comment: '' };
    expect(mapResult(row, bulk('results.csv', 2, '1.1')).record?.data).toEqual({ lineItemId: 'li', personId: 'u1', scoreStatus: 'exempt', scoreDate: '2025-09-06T00:00:00.000Z' });
    expect(mapResult({ ...row, scoreDate: '' }, bulk('results.csv', 2, '1.1')).reject).toMatchObject({ field: 'scoreDate', code: 'record_invalid' });
  });

  test('delta: a tobedeleted result needs only its sourcedId', () => {
    const row = { ...result12({ status: 'tobedeleted', dateLastModified: '2025-09-23T09:05:00Z' }), lineItemSourcedId: '', studentSourcedId: '', scoreStatus: '', scoreDate: '' };
    expect(mapResult(row, delta('results.csv')).record).toMatchObject({ type: 'result', sourceId: 'r', deleted: true, data: {} });
  });
});

describe('mapLineItemObjective / mapResultObjective', () => {
  const lilo = (over: Partial<Row> = {}): Row => ({ sourcedId: 'o', status: '', dateLastModified: '', lineItemSourcedId: 'li', source: 'case', learningObjectiveId: 'cf-1', ...over });
  const rlo = (over: Partial<Row> = {}): Row => ({ sourcedId: 'o', status: '', dateLastModified: '', resultSourcedId: 'r', source: 'case', learningObjectiveId: 'cf-1', score: '', textScore: '', ...over });

  test('an item for its parent: {ref, source} / {ref, source, score?, textScore?}', () => {
    expect(mapLineItemObjective(lilo(), bulk('lineItemLearningObjectiveIds.csv'))).toEqual({ objective: { parentId: 'li', deleted: false, item: { ref: 'cf-1', source: 'case' } } });
    expect(mapResultObjective(rlo({ score: '3.5', textScore: 'Proficient' }), bulk('resultLearningObjectiveIds.csv'))).toEqual({
      objective: { parentId: 'r', deleted: false, item: { ref: 'cf-1', source: 'case', score: 3.5, textScore: 'Proficient' } },
    });
  });

  test('a reject carries the parent (to hold it back) but no sourceId (the row id names no hub record)', () => {
    const r = mapResultObjective(rlo({ score: 'x' }), bulk('resultLearningObjectiveIds.csv', 7));
    expect(r).toEqual({
      parentId: 'r',
      reject: { location: 'resultLearningObjectiveIds.csv:7', field: 'score', reason: 'score must be a number, found "x"', code: 'row_malformed', raw: rlo({ score: 'x' }) },
    });
    const noParent = mapLineItemObjective(lilo({ lineItemSourcedId: '', source: '' }), bulk('lineItemLearningObjectiveIds.csv'));
    expect(noParent).toEqual({ reject: expect.objectContaining({ field: 'lineItemSourcedId', reason: 'required columns lineItemSourcedId, source are blank' }) });
  });

  test('delta: tobedeleted needs its parent column (objectives are stored on the parent)', () => {
    const del = { status: 'tobedeleted', dateLastModified: '2025-09-22T08:10:00Z', source: '', learningObjectiveId: '' };
    expect(mapLineItemObjective(lilo(del), delta('lineItemLearningObjectiveIds.csv'))).toEqual({ objective: { parentId: 'li', deleted: true } });
    expect(mapLineItemObjective(lilo({ ...del, lineItemSourcedId: '' }), delta('lineItemLearningObjectiveIds.csv')).reject).toMatchObject({
      field: 'lineItemSourcedId',
      code: 'record_invalid',
      reason: expect.stringContaining('a tobedeleted row must still name its lineItemSourcedId'),
    });
  });
});
