/**
 * OneRoster CSV binding: the header row of each file the hub reads, in the normative order (headers are
 * case-sensitive, exact, fixed order; extension columns may only be appended to the right). `required` is the
 * binding's "Required" column: 'yes', 'delta' (blank in bulk, populated in delta) or 'no'.
 * Sources: OneRoster 1.2 CSV Binding tables (checked against ../shared/conformance/oneroster/or12_csv_columns.derived.json
 * in tests). 1.1 differs in users.csv (role + orgSourcedIds on the user row, no roles.csv) and in the gradebook files
 * (see COLUMNS_1_1 below: those 1.1 tables are written from the 1.1 binding as remembered, not from a saved copy).
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
  'categories.csv': [...BASE, c('title', 'yes'), c('weight')],
  'lineItems.csv': [...BASE, c('title', 'yes'), c('description'), c('assignDate', 'yes'), c('dueDate', 'yes'), c('classSourcedId', 'yes'), c('categorySourcedId', 'yes'), c('academicSessionSourcedId', 'yes'), c('resultValueMin'), c('resultValueMax'), c('schoolSourcedId', 'yes')],
  'results.csv': [...BASE, c('lineItemSourcedId', 'yes'), c('studentSourcedId', 'yes'), c('scoreStatus', 'yes'), c('score'), c('scoreDate', 'yes'), c('comment'), c('textScore'), c('classSourcedId'), c('inProgress'), c('incomplete'), c('late'), c('missing')],
  'lineItemLearningObjectiveIds.csv': [...BASE, c('lineItemSourcedId', 'yes'), c('source', 'yes'), c('learningObjectiveId', 'yes')],
  'resultLearningObjectiveIds.csv': [...BASE, c('resultSourcedId', 'yes'), c('source', 'yes'), c('learningObjectiveId', 'yes'), c('score'), c('textScore')],
  'demographics.csv': [...BASE, c('birthDate'), c('sex'), c('americanIndianOrAlaskaNative'), c('asian'), c('blackOrAfricanAmerican'), c('nativeHawaiianOrOtherPacificIslander'), c('white'), c('demographicRaceTwoOrMoreRaces'), c('hispanicOrLatinoEthnicity'), c('countryOfBirthCode'), c('stateOfBirthAbbreviation'), c('cityOfBirth'), c('publicSchoolResidenceStatus')],
};

const USERS_1_1: Column[] = [...BASE, c('enabledUser', 'yes'), c('orgSourcedIds', 'yes'), c('role', 'yes'), c('username', 'yes'),
  c('userIds'), c('givenName', 'yes'), c('familyName', 'yes'), c('middleName'), c('identifier'), c('email'), c('sms'), c('phone'),
  c('agentSourcedIds'), c('grades'), c('password')];

/**
 * 1.1 gradebook, from the OneRoster 1.1 CSV binding as remembered, cross-checked against two third-party 1.1
 * importers — no copy of the 1.1 tables is saved in ../shared, so these are the least certain headers here (see
 * README.md, "1.1 gradebook"):
 *  - categories.csv has no `weight` (added in 1.2);
 *  - lineItems.csv names the session `gradingPeriodSourcedId` (1.2: `academicSessionSourcedId`) and has no
 *    `schoolSourcedId`;
 *  - results.csv stops after `comment` (1.2 appended textScore, classSourcedId, inProgress, incomplete, late, missing).
 * The 1.1 binding marks resultValueMin/resultValueMax and score "Required"; they are recorded as 'no' on purpose:
 * a blank there loses nothing the unified schema needs (score is optional, e.g. for `exempt` results), and
 * rejecting such rows on a remembered flag would drop real grades.
 */
const GRADEBOOK_1_1: Record<string, Column[]> = {
  'categories.csv': [...BASE, c('title', 'yes')],
  'lineItems.csv': [...BASE, c('title', 'yes'), c('description'), c('assignDate', 'yes'), c('dueDate', 'yes'), c('classSourcedId', 'yes'), c('categorySourcedId', 'yes'), c('gradingPeriodSourcedId', 'yes'), c('resultValueMin'), c('resultValueMax')],
  'results.csv': [...BASE, c('lineItemSourcedId', 'yes'), c('studentSourcedId', 'yes'), c('scoreStatus', 'yes'), c('score'), c('scoreDate', 'yes'), c('comment')],
};

/** Files new in 1.2 (of those the hub reads): 1.1 has no roles.csv and no learning-objective files. */
const NEW_IN_1_2 = new Set(['roles.csv', 'lineItemLearningObjectiveIds.csv', 'resultLearningObjectiveIds.csv']);

export const COLUMNS_1_1: Record<string, Column[]> = Object.fromEntries(
  Object.entries(COLUMNS_1_2)
    .filter(([file]) => !NEW_IN_1_2.has(file))
    .map(([file, cols]) => [file, file === 'users.csv' ? USERS_1_1 : (GRADEBOOK_1_1[file] ?? cols)]),
);

export function columnsFor(version: OneRosterVersion): Record<string, Column[]> {
  return version === '1.1' ? COLUMNS_1_1 : COLUMNS_1_2;
}
