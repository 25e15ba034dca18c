/**
 * Caliper 1.1 / 1.2 vocabulary: versions and their JSON-LD contexts, actions, profiles and the controlled values of
 * a few properties. Written from the IMS Caliper Analytics 1.1 and 1.2 specifications (Appendix terms); the
 * conformance tests check these lists against the official fixtures (test/caliper-validate.test.ts).
 */

export type CaliperVersion = 'v1p1' | 'v1p2';

export const CALIPER_CONTEXT: Record<CaliperVersion, string> = {
  v1p1: 'http://purl.imsglobal.org/ctx/caliper/v1p1',
  v1p2: 'http://purl.imsglobal.org/ctx/caliper/v1p2',
};

/** `dataVersion` (envelope) → version. Anything else is answered 422. */
export function versionOf(dataVersion: string): CaliperVersion | undefined {
  if (dataVersion === CALIPER_CONTEXT.v1p2) return 'v1p2';
  if (dataVersion === CALIPER_CONTEXT.v1p1) return 'v1p1';
  return undefined;
}

/**
 * Caliper 1.1 profile extensions (published with 1.1, folded into 1.2): an event that uses one of these event types
 * under 1.1 names the extension context instead of (or after) the 1.1 context.
 */
export const V1P1_EXTENSIONS = {
  FeedbackProfile: `${CALIPER_CONTEXT.v1p1}/FeedbackProfile-extension`,
  ResourceManagementProfile: `${CALIPER_CONTEXT.v1p1}/ResourceManagementProfile-extension`,
  SearchProfile: `${CALIPER_CONTEXT.v1p1}/SearchProfile-extension`,
  SurveyProfile: `${CALIPER_CONTEXT.v1p1}/SurveyProfile-extension`,
  ToolLaunchProfile: `${CALIPER_CONTEXT.v1p1}/ToolLaunchProfile-extension`,
  ToolUseProfile: `${CALIPER_CONTEXT.v1p1}/ToolUseProfile-extension`,
} as const;
export type V1p1Extension = keyof typeof V1P1_EXTENSIONS;

const CONTEXTS: Record<CaliperVersion, ReadonlySet<string>> = {
  v1p1: new Set([CALIPER_CONTEXT.v1p1, ...Object.values(V1P1_EXTENSIONS)]),
  v1p2: new Set([CALIPER_CONTEXT.v1p2]),
};

/** The context IRIs an event of this version may name (string, or last element of an array). */
export function contextsOf(version: CaliperVersion): ReadonlySet<string> {
  return CONTEXTS[version];
}

/** 1.1 extension context IRI → extension name. */
export const EXTENSION_OF_CONTEXT: ReadonlyMap<string, V1p1Extension> = new Map(
  (Object.entries(V1P1_EXTENSIONS) as [V1p1Extension, string][]).map(([name, iri]) => [iri, name]),
);

/** What `GET /caliper/:tenant` advertises. */
export const SUPPORTED_VERSIONS: readonly string[] = [CALIPER_CONTEXT.v1p1, ...Object.values(V1P1_EXTENSIONS), CALIPER_CONTEXT.v1p2];

/** Every Caliper 1.2 action term. */
export const ACTIONS_V1P2: ReadonlySet<string> = new Set([
  'Abandoned', 'Accepted', 'Activated', 'Added', 'Archived', 'Attached', 'Bookmarked', 'ChangedResolution', 'ChangedSize',
  'ChangedSpeed', 'ChangedVolume', 'Classified', 'ClosedPopout', 'Commented', 'Completed', 'Copied', 'Created', 'Deactivated',
  'Declined', 'Deleted', 'Described', 'DisabledClosedCaptioning', 'Disliked', 'Downloaded', 'EnabledClosedCaptioning', 'Ended',
  'EnteredFullScreen', 'ExitedFullScreen', 'ForwardedTo', 'Graded', 'Hid', 'Highlighted', 'Identified', 'JumpedTo', 'Launched',
  'Liked', 'Linked', 'LoggedIn', 'LoggedOut', 'MarkedAsRead', 'MarkedAsUnread', 'Modified', 'Muted', 'NavigatedTo',
  'OpenedPopout', 'OptedIn', 'OptedOut', 'Paused', 'Posted', 'Printed', 'Published', 'Questioned', 'Ranked', 'Recommended',
  'Removed', 'Reset', 'Restarted', 'Restored', 'Resumed', 'Retrieved', 'Returned', 'Reviewed', 'Rewound', 'Saved', 'Searched',
  'Sent', 'Shared', 'Showed', 'Skipped', 'Started', 'Submitted', 'Subscribed', 'Tagged', 'TimedOut', 'Unmuted', 'Unpublished',
  'Unsubscribed', 'Uploaded', 'Used', 'Viewed',
]);

/** Actions that came with the 1.2 profiles (or the 1.1 profile extensions); 1.1 core does not know them. */
const ONLY_V1P2_CORE = new Set([
  'Accepted', 'Archived', 'Copied', 'Declined', 'Downloaded', 'Launched', 'OptedIn', 'OptedOut', 'Printed', 'Published',
  'Restored', 'Returned', 'Saved', 'Sent', 'Unpublished', 'Uploaded',
]);
export const ACTIONS_V1P1: ReadonlySet<string> = new Set([...ACTIONS_V1P2].filter((a) => !ONLY_V1P2_CORE.has(a)));

/** The 1.2 JSON-LD context spells these two without the "d"; both spellings are accepted and stored as sent. */
export const ACTION_ALIASES: Readonly<Record<string, string>> = {
  DisabledCloseCaptioning: 'DisabledClosedCaptioning',
  EnabledCloseCaptioning: 'EnabledClosedCaptioning',
};

export const PROFILES: ReadonlySet<string> = new Set([
  'GeneralProfile', 'AnnotationProfile', 'AssessmentProfile', 'AssignableProfile', 'FeedbackProfile', 'ForumProfile',
  'GradingProfile', 'MediaProfile', 'ReadingProfile', 'ResourceManagementProfile', 'SearchProfile', 'SessionProfile',
  'SurveyProfile', 'ToolLaunchProfile', 'ToolUseProfile',
]);

/** LIS v2 membership roles (context roles and their sub-roles), as Caliper terms. */
const SUB_ROLES: Record<string, string[]> = {
  Administrator: ['Administrator', 'Developer', 'ExternalDeveloper', 'ExternalSupport', 'ExternalSystemAdministrator', 'Support', 'SystemAdministrator'],
  ContentDeveloper: ['ContentDeveloper', 'ContentExpert', 'ExternalContentExpert', 'Librarian'],
  Instructor: [
    'ExternalInstructor', 'Grader', 'GuestInstructor', 'Instructor', 'Lecturer', 'PrimaryInstructor', 'SecondaryInstructor',
    'TeachingAssistant', 'TeachingAssistantGroup', 'TeachingAssistantOffering', 'TeachingAssistantSection', 'TeachingAssistantTemplate',
  ],
  Learner: ['ExternalLearner', 'GuestLearner', 'Instructor', 'Learner', 'NonCreditLearner'],
  Manager: ['AreaManager', 'CourseCoordinator', 'ExternalObserver', 'Manager', 'Observer'],
  Member: ['Member'],
  Mentor: [
    'Advisor', 'Auditor', 'ExternalAdvisor', 'ExternalAuditor', 'ExternalLearningFacilitator', 'ExternalMentor', 'ExternalReviewer',
    'ExternalTutor', 'LearningFacilitator', 'Mentor', 'Reviewer', 'Tutor',
  ],
  Officer: ['Chair', 'Communications', 'Secretary', 'Treasurer', 'Vice-Chair'],
};
export const ROLES: ReadonlySet<string> = new Set(Object.entries(SUB_ROLES).flatMap(([role, subs]) => [role, ...subs.map((s) => `${role}#${s}`)]));

export const STATUSES: ReadonlySet<string> = new Set(['Active', 'Inactive']);

export const METRICS: ReadonlySet<string> = new Set([
  'AssessmentsPassed', 'AssessmentsSubmitted', 'MinutesOnTask', 'SkillsMastered', 'StandardsMastered', 'UnitsCompleted', 'UnitsPassed', 'WordsRead',
]);

export const SYSTEM_IDENTIFIER_TYPES: ReadonlySet<string> = new Set([
  'AccountUserName', 'CaseItemUri', 'EmailAddress', 'LisSourcedId', 'LtiContextId', 'LtiDeploymentId', 'LtiPlatformId', 'LtiToolId',
  'LtiUserId', 'OneRosterSourcedId', 'Other', 'SisSourcedId', 'SystemId',
]);

export const LTI_MESSAGE_TYPES: ReadonlySet<string> = new Set(['LtiResourceLinkRequest', 'LtiDeepLinkingRequest']);
