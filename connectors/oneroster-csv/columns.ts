/**
 * OneRoster CSV binding: the header row of each file the hub reads, in the normative order (headers are
 * case-sensitive, exact, fixed order; extension columns may only be appended to the right). `required` is the
 * binding's "Required" column: 'yes', 'delta' (blank in bulk, populated in delta) or 'no'.
 * Sources: OneRoster 1.2 CSV Binding tables; 1.1 differs only in users.csv (role + orgSourcedIds on the user row,
 * no roles.csv). Checked against ../shared/conformance/oneroster/or12_csv_columns.derived.json in tests.
 */
export type Requirement = 'yes' | 'delta' | 'no';
export interface Column { header: string; required: Requirement }
export type OneRosterVersion = '1.1' | '1.2';

const c = (header: string, required: Requirement = 'no'): Column => ({ header, required });
const BASE = [c('sourcedId', 'yes'), c('status', 'delta'), c('dateLastModified', 'delta')];

export const COLUMNS_1_2: Record<string, Column[]> = {
  'orgs.csv': [...BASE, c('name', 'yes'), c('type', 'yes'), c('identifier'), c('parentSourcedId')],
  'academicSessions.csv': [...BASE, c('title', 'yes'), c('type', 'yes'), c('startDate', 'yes'), c('endDate', 'yes'), c('parentSourcedId'), c('schoolYear', 'yes')],
  'courses.csv': [...BASE, c('schoolYearSourcedId'), c('title', 'yes'), c('courseCode'), c('grades'), c('orgSourcedId', 'yes'), c('subjects'), c('subjectCodes')],
  'classes.csv': [...BASE, c('title', 'yes'), c('grades'), c('courseSourcedId', 'yes'), c('classCode'), c('classType', 'yes'), c('location'), c('schoolSourcedId', 'yes'), c('termSourcedIds', 'yes'), c('subjects'), c('subjectCodes'), c('periods')],
  'users.csv': [...BASE, c('enabledUser', 'yes'), c('username', 'yes'), c('userIds'), c('givenName', 'yes'), c('familyName', 'yes'), c('middleName'), c('identifier'), c('email'), c('sms'), c('phone'), c('agentSourcedIds'), c('grades'), c('password'), c('userMasterIdentifier'), c('resourceSourcedIds'), c('preferredGivenName'), c('preferredMiddleName'), c('preferredFamilyName'), c('primaryOrgSourcedId'), c('pronouns')],
  'roles.csv': [...BASE, c('userSourcedId', 'yes'), c('roleType', 'yes'), c('role', 'yes'), c('beginDate'), c('endDate'), c('orgSourcedId', 'yes'), c('userProfileSourcedId')],
  'enrollments.csv': [...BASE, c('classSourcedId', 'yes'), c('schoolSourcedId', 'yes'), c('userSourcedId', 'yes'), c('role', 'yes'), c('primary'), c('beginDate'), c('endDate')],
  'demographics.csv': [...BASE, c('birthDate'), c('sex'), c('americanIndianOrAlaskaNative'), c('asian'), c('blackOrAfricanAmerican'), c('nativeHawaiianOrOtherPacificIslander'), c('white'), c('demographicRaceTwoOrMoreRaces'), c('hispanicOrLatinoEthnicity'), c('countryOfBirthCode'), c('stateOfBirthAbbreviation'), c('cityOfBirth'), c('publicSchoolResidenceStatus')],
};

const USERS_1_1: Column[] = [...BASE, c('enabledUser', 'yes'), c('orgSourcedIds', 'yes'), c('role', 'yes'), c('username', 'yes'),
  c('userIds'), c('givenName', 'yes'), c('familyName', 'yes'), c('middleName'), c('identifier'), c('email'), c('sms'), c('phone'),
  c('agentSourcedIds'), c('grades'), c('password')];

export const COLUMNS_1_1: Record<string, Column[]> = Object.fromEntries(
  Object.entries(COLUMNS_1_2)
    .filter(([file]) => file !== 'roles.csv')
    .map(([file, cols]) => [file, file === 'users.csv' ? USERS_1_1 : cols]),
);

export function columnsFor(version: OneRosterVersion): Record<string, Column[]> {
  return version === '1.1' ? COLUMNS_1_1 : COLUMNS_1_2;
}
