/**
 * The Caliper information model the validator checks against: entity types (with their parents and the types of
 * their properties) and event types (with their actions, profiles and the entity types allowed as actor, object,
 * generated, target and referrer). Written from the Caliper 1.1 and 1.2 specifications; where the two differ the
 * model accepts both (1.2 mostly adds types and properties), and the event table records which version and 1.1
 * profile extension introduced each event type.
 *
 * Only properties the model knows are type-checked. Unknown properties are left alone (JSON-LD drops terms its
 * context does not define; custom data belongs under `extensions`, which is any JSON object).
 */
import { LTI_MESSAGE_TYPES, METRICS, PROFILES, ROLES, STATUSES, SYSTEM_IDENTIFIER_TYPES, type CaliperVersion, type V1p1Extension } from './vocab';

export type Kind =
  | { k: 'string' }
  | { k: 'datetime' }
  | { k: 'duration' }
  | { k: 'boolean' }
  /** A non-negative integer (xsd:nonNegativeInteger). */
  | { k: 'int' }
  /** Any finite JSON number (xsd:float / xsd:decimal). */
  | { k: 'number' }
  /** Any JSON object: `extensions`, LTI `messageParameters`. */
  | { k: 'map' }
  /** An entity: its IRI (string) or an object whose `type` is one of `types` or a subtype of one. */
  | { k: 'ref'; types: readonly string[] }
  /** An object without an id of exactly this type (SystemIdentifier, TextPositionSelector). */
  | { k: 'embedded'; type: string }
  | { k: 'list'; of: Kind }
  | { k: 'vocab'; name: string; values: ReadonlySet<string> };

const S: Kind = { k: 'string' };
const DT: Kind = { k: 'datetime' };
const DUR: Kind = { k: 'duration' };
const BOOL: Kind = { k: 'boolean' };
const INT: Kind = { k: 'int' };
const NUM: Kind = { k: 'number' };
const MAP: Kind = { k: 'map' };
const ref = (...types: string[]): Kind => ({ k: 'ref', types });
const list = (of: Kind): Kind => ({ k: 'list', of });
const embedded = (type: string): Kind => ({ k: 'embedded', type });
const vocab = (name: string, values: ReadonlySet<string>): Kind => ({ k: 'vocab', name, values });

export interface TypeDef {
  parents: readonly string[];
  props: Readonly<Record<string, Kind>>;
  /** Embedded objects (SystemIdentifier, TextPositionSelector) have no `id` and cannot be referenced by IRI. */
  embedded?: boolean;
}

const TIMED = { startedAtTime: DT, endedAtTime: DT, duration: DUR };
const RESPONSE = { attempt: ref('Attempt'), ...TIMED };
const ASSIGNABLE = {
  dateToActivate: DT, dateToShow: DT, dateToStartOn: DT, dateToSubmit: DT, maxAttempts: INT, maxSubmits: INT, maxScore: NUM,
};
const LABELLED_ITEMS = { itemLabels: list(S), itemValues: list(S) };

export const ENTITY_TYPES: Readonly<Record<string, TypeDef>> = {
  Entity: {
    parents: [],
    props: {
      id: S, name: S, description: S, dateCreated: DT, dateModified: DT, extensions: MAP,
      otherIdentifiers: list(embedded('SystemIdentifier')), isPartOf: ref('Entity'),
    },
  },
  // Agents
  Agent: { parents: ['Entity'], props: {} },
  Person: { parents: ['Agent'], props: {} },
  SoftwareApplication: { parents: ['Agent'], props: { host: S, ipAddress: S, userAgent: S, version: S } },
  Organization: { parents: ['Agent'], props: { subOrganizationOf: ref('Organization'), members: list(ref('Agent')) } },
  CourseOffering: { parents: ['Organization'], props: { courseNumber: S, academicSession: S } },
  CourseSection: { parents: ['CourseOffering'], props: { category: S } },
  Group: { parents: ['Organization'], props: {} },
  // Digital resources
  DigitalResource: {
    parents: ['Entity'],
    props: {
      storageName: S, mediaType: S, creators: list(ref('Agent')), keywords: list(S), learningObjectives: list(ref('LearningObjective')),
      alignedLearningObjective: list(ref('LearningObjective')), datePublished: DT, version: S,
    },
  },
  AssignableDigitalResource: { parents: ['DigitalResource'], props: ASSIGNABLE },
  Assessment: { parents: ['AssignableDigitalResource', 'Collection'], props: { items: list(ref('AssessmentItem')) } },
  AssessmentItem: { parents: ['AssignableDigitalResource'], props: { isTimeDependent: BOOL } },
  Chapter: { parents: ['DigitalResource'], props: {} },
  Document: { parents: ['DigitalResource'], props: {} },
  Frame: { parents: ['DigitalResource'], props: { index: INT } },
  Page: { parents: ['DigitalResource'], props: {} },
  Reading: { parents: ['DigitalResource'], props: {} },
  WebPage: { parents: ['DigitalResource'], props: {} },
  epubChapter: { parents: ['DigitalResource'], props: {} },
  epubPart: { parents: ['DigitalResource'], props: {} },
  epubSubChapter: { parents: ['DigitalResource'], props: {} },
  epubVolume: { parents: ['DigitalResource'], props: {} },
  Link: { parents: ['Entity'], props: {} },
  LtiLink: { parents: ['Link', 'DigitalResource'], props: { messageType: vocab('LTI message type', LTI_MESSAGE_TYPES) } },
  MediaLocation: { parents: ['DigitalResource'], props: { currentTime: DUR } },
  MediaObject: { parents: ['DigitalResource'], props: { duration: DUR } },
  AudioObject: { parents: ['MediaObject'], props: { muted: BOOL, volumeLevel: S, volumeMin: S, volumeMax: S } },
  ImageObject: { parents: ['MediaObject'], props: {} },
  VideoObject: { parents: ['MediaObject'], props: {} },
  Message: { parents: ['DigitalResource'], props: { replyTo: ref('Message'), body: S, attachments: list(ref('DigitalResource')) } },
  Question: { parents: ['DigitalResource'], props: { questionPosed: S } },
  DateTimeQuestion: { parents: ['Question'], props: { minDateTime: DT, minLabel: S, maxDateTime: DT, maxLabel: S } },
  MultiselectQuestion: { parents: ['Question'], props: { points: INT, ...LABELLED_ITEMS } },
  OpenEndedQuestion: { parents: ['Question'], props: {} },
  RatingScaleQuestion: { parents: ['Question'], props: { scale: ref('Scale') } },
  QuestionnaireItem: { parents: ['DigitalResource'], props: { question: ref('Question'), categories: list(S), weight: NUM } },
  SurveyInvitation: { parents: ['DigitalResource'], props: { rater: ref('Person'), survey: ref('Survey'), sentCount: INT, dateSent: DT } },
  // Collections
  Collection: { parents: ['Entity'], props: { items: list(ref('Entity')) } },
  AggregateMeasureCollection: { parents: ['Collection'], props: { items: list(ref('AggregateMeasure')) } },
  DigitalResourceCollection: { parents: ['DigitalResource', 'Collection'], props: { items: list(ref('DigitalResource')) } },
  Forum: { parents: ['DigitalResourceCollection'], props: { items: list(ref('Thread')) } },
  Thread: { parents: ['DigitalResourceCollection'], props: { items: list(ref('Message')) } },
  Questionnaire: { parents: ['Collection'], props: { items: list(ref('QuestionnaireItem')) } },
  Survey: { parents: ['Collection'], props: { items: list(ref('Questionnaire')) } },
  // Annotations
  Annotation: { parents: ['Entity'], props: { annotator: ref('Person'), annotated: ref('DigitalResource') } },
  BookmarkAnnotation: { parents: ['Annotation'], props: { bookmarkNotes: S } },
  HighlightAnnotation: { parents: ['Annotation'], props: { selection: embedded('TextPositionSelector'), selectionText: S } },
  SharedAnnotation: { parents: ['Annotation'], props: { withAgents: list(ref('Agent')) } },
  TagAnnotation: { parents: ['Annotation'], props: { tags: list(S) } },
  // Attempts, responses, outcomes
  Attempt: { parents: ['Entity'], props: { assignee: ref('Person'), assignable: ref('DigitalResource'), isPartOf: ref('Attempt'), count: INT, ...TIMED } },
  Response: { parents: ['Entity'], props: RESPONSE },
  DateTimeResponse: { parents: ['Response'], props: { dateTimeSelected: DT } },
  FillinBlankResponse: { parents: ['Response'], props: { values: list(S) } },
  MultipleChoiceResponse: { parents: ['Response'], props: { value: S } },
  MultipleResponseResponse: { parents: ['Response'], props: { values: list(S) } },
  MultiselectResponse: { parents: ['Response'], props: { selections: list(S) } },
  OpenEndedResponse: { parents: ['Response'], props: { value: S } },
  RatingScaleResponse: { parents: ['Response'], props: { selections: list(S) } },
  SelectTextResponse: { parents: ['Response'], props: { values: list(S) } },
  TrueFalseResponse: { parents: ['Response'], props: { value: S } },
  Score: { parents: ['Entity'], props: { attempt: ref('Attempt'), maxScore: NUM, scoreGiven: NUM, scoredBy: ref('Agent'), comment: S } },
  Result: {
    parents: ['Entity'],
    props: {
      attempt: ref('Attempt'), maxResultScore: NUM, resultScore: NUM, scoredBy: ref('Agent'), comment: S,
      normalScore: NUM, penaltyScore: NUM, extraCreditScore: NUM, totalScore: NUM, curvedTotalScore: NUM, curveFactor: NUM,
    },
  },
  AggregateMeasure: {
    parents: ['Entity'],
    props: { metric: vocab('metric', METRICS), metricValue: NUM, maxMetricValue: NUM, startedAtTime: DT, endedAtTime: DT },
  },
  // Feedback and surveys
  Comment: { parents: ['Entity'], props: { commenter: ref('Person'), commentedOn: ref('Entity'), value: S } },
  Rating: {
    parents: ['Entity'],
    props: { rater: ref('Person'), rated: ref('Entity'), question: ref('Question'), selections: list(S), ratingComment: ref('Comment') },
  },
  Scale: { parents: ['Entity'], props: {} },
  LikertScale: { parents: ['Scale'], props: { scalePoints: INT, ...LABELLED_ITEMS } },
  MultiselectScale: {
    parents: ['Scale'],
    props: { scalePoints: INT, ...LABELLED_ITEMS, orderedSelection: BOOL, isOrderedSelection: BOOL, minSelections: INT, maxSelections: INT },
  },
  NumericScale: { parents: ['Scale'], props: { minValue: NUM, minLabel: S, maxValue: NUM, maxLabel: S, step: NUM } },
  // Search
  Query: { parents: ['Entity'], props: { creator: ref('Person'), searchTarget: ref('Entity'), searchTerms: S } },
  SearchResponse: {
    parents: ['Entity'],
    props: {
      searchProvider: ref('SoftwareApplication'), searchTarget: ref('Entity'), query: ref('Query'), searchResultsItemCount: INT,
      searchResults: list(ref('Entity')),
    },
  },
  // Context
  LearningObjective: { parents: ['Entity'], props: {} },
  Membership: {
    parents: ['Entity'],
    props: { member: ref('Person'), organization: ref('Organization'), roles: list(vocab('role', ROLES)), status: vocab('status', STATUSES) },
  },
  Session: { parents: ['Entity'], props: { user: ref('Person'), client: ref('SoftwareApplication'), ...TIMED } },
  LtiSession: { parents: ['Session'], props: { messageParameters: MAP } },
  // Embedded objects (no id)
  SystemIdentifier: {
    parents: [],
    embedded: true,
    props: { identifier: S, identifierType: vocab('identifier type', SYSTEM_IDENTIFIER_TYPES), source: ref('Entity'), extensions: MAP },
  },
  TextPositionSelector: { parents: [], embedded: true, props: { start: INT, end: INT } },
};

/** Required properties of embedded objects (entities require `id` and `type`). */
export const EMBEDDED_REQUIRED: Readonly<Record<string, readonly string[]>> = {
  SystemIdentifier: ['identifier', 'identifierType'],
  TextPositionSelector: ['start', 'end'],
};

const ancestorsCache = new Map<string, ReadonlySet<string>>();
/** The type and every type it derives from. */
export function ancestors(type: string): ReadonlySet<string> {
  let out = ancestorsCache.get(type);
  if (!out) {
    const acc = new Set<string>();
    const walk = (t: string) => {
      if (acc.has(t)) return;
      acc.add(t);
      for (const p of ENTITY_TYPES[t]?.parents ?? []) walk(p);
    };
    walk(type);
    out = acc;
    ancestorsCache.set(type, out);
  }
  return out;
}

export function isA(type: string, expected: readonly string[]): boolean {
  const a = ancestors(type);
  return expected.some((e) => a.has(e));
}

const propsCache = new Map<string, Readonly<Record<string, Kind>>>();
/** Properties of a type with its ancestors' (a subtype's definition wins: Attempt.isPartOf is an Attempt). */
export function propsOf(type: string): Readonly<Record<string, Kind>> {
  let out = propsCache.get(type);
  if (!out) {
    const merged: Record<string, Kind> = {};
    const visit = (t: string) => {
      const def = ENTITY_TYPES[t];
      if (!def) return;
      for (let i = def.parents.length - 1; i >= 0; i--) visit(def.parents[i]);
      Object.assign(merged, def.props);
    };
    visit(type);
    out = merged;
    propsCache.set(type, out);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Events

/** Entity types allowed for a role of the event; absent = any entity. */
export interface Slots {
  actor?: readonly string[];
  object?: readonly string[];
  generated?: readonly string[];
  target?: readonly string[];
  referrer?: readonly string[];
  /** Properties required beyond the seven every event has. */
  required?: readonly string[];
}

export interface EventDef extends Slots {
  /** 'v1p1' = in Caliper 1.1 core (and 1.2); 'v1p2' = new in 1.2 (in 1.1 only through `extension`). */
  since: CaliperVersion;
  /** The 1.1 profile extension whose context introduces this type under 1.1. */
  extension?: V1p1Extension;
  /** Deprecated 1.1 types that 1.2 removed. */
  until?: CaliperVersion;
  /** The permitted actions; 'any' = every action of the version (the generic Event). */
  actions: readonly string[] | 'any';
  /** Actions Caliper 1.1 still lists as deprecated for the type (SHOULD NOT be used): accepted under 1.1 only. */
  deprecatedV1p1?: readonly string[];
  /** 1.2 profiles that use this event type (GeneralProfile may carry any event type). */
  profiles: readonly string[];
  /** Narrower slots for some actions (SessionEvent TimedOut: the actor is the application). */
  byAction?: Readonly<Record<string, Slots>>;
}

const PERSON = ['Person'];
const AGENT = ['Agent'];
const DR = ['DigitalResource'];
const FRAME = ['Frame'];

export const EVENT_TYPES: Readonly<Record<string, EventDef>> = {
  Event: { since: 'v1p1', actions: 'any', profiles: ['GeneralProfile'], actor: AGENT },
  AnnotationEvent: {
    since: 'v1p1', actions: ['Bookmarked', 'Highlighted', 'Shared', 'Tagged'], profiles: ['AnnotationProfile'],
    deprecatedV1p1: ['Attached', 'Classified', 'Commented', 'Described', 'Disliked', 'Identified', 'Liked', 'Linked', 'Questioned', 'Ranked', 'Recommended', 'Subscribed'],
    actor: PERSON, object: DR, generated: ['Annotation'], target: FRAME,
    byAction: {
      Bookmarked: { generated: ['BookmarkAnnotation'] },
      Highlighted: { generated: ['HighlightAnnotation'] },
      Shared: { generated: ['SharedAnnotation'] },
      Tagged: { generated: ['TagAnnotation'] },
    },
  },
  AssessmentEvent: {
    since: 'v1p1', actions: ['Started', 'Paused', 'Resumed', 'Restarted', 'Reset', 'Submitted'], profiles: ['AssessmentProfile'],
    actor: PERSON, object: ['Assessment'], generated: ['Attempt'],
  },
  AssessmentItemEvent: {
    since: 'v1p1', actions: ['Started', 'Skipped', 'Completed'], profiles: ['AssessmentProfile'], deprecatedV1p1: ['Reviewed', 'Viewed'],
    // The specification says Response; the official fixture of Started generates the Attempt.
    actor: PERSON, object: ['AssessmentItem'], generated: ['Attempt', 'Response'], referrer: ['AssessmentItem'],
  },
  AssignableEvent: {
    since: 'v1p1', actions: ['Activated', 'Deactivated', 'Started', 'Completed', 'Submitted', 'Reviewed'], profiles: ['AssignableProfile'],
    deprecatedV1p1: ['Abandoned', 'Hid', 'Showed'],
    actor: PERSON, object: ['AssignableDigitalResource'], generated: ['Attempt'], target: FRAME,
  },
  FeedbackEvent: {
    since: 'v1p2', extension: 'FeedbackProfile', actions: ['Commented', 'Ranked'], profiles: ['FeedbackProfile'],
    actor: PERSON, generated: ['Comment', 'Rating'], target: FRAME,
    byAction: { Commented: { generated: ['Comment'] }, Ranked: { generated: ['Rating'] } },
  },
  ForumEvent: { since: 'v1p1', actions: ['Subscribed', 'Unsubscribed'], profiles: ['ForumProfile'], actor: PERSON, object: ['Forum'] },
  GradeEvent: { since: 'v1p1', actions: ['Graded'], profiles: ['GradingProfile'], actor: AGENT, object: ['Attempt'], generated: ['Score'] },
  MediaEvent: {
    since: 'v1p1',
    actions: [
      'Started', 'Ended', 'Paused', 'Resumed', 'Restarted', 'ForwardedTo', 'JumpedTo', 'ChangedResolution', 'ChangedSize', 'ChangedSpeed',
      'ChangedVolume', 'EnabledClosedCaptioning', 'DisabledClosedCaptioning', 'EnteredFullScreen', 'ExitedFullScreen', 'Muted', 'Unmuted',
      'OpenedPopout', 'ClosedPopout',
    ],
    profiles: ['MediaProfile'], deprecatedV1p1: ['Rewound'], actor: PERSON, object: ['MediaObject'], target: ['MediaLocation'],
  },
  MessageEvent: { since: 'v1p1', actions: ['Posted', 'MarkedAsRead', 'MarkedAsUnread'], profiles: ['ForumProfile'], actor: PERSON, object: ['Message'] },
  NavigationEvent: {
    since: 'v1p1', actions: ['NavigatedTo'],
    profiles: ['ReadingProfile', 'AssessmentProfile', 'AssignableProfile', 'ForumProfile', 'MediaProfile', 'SurveyProfile'],
    // The Survey profile navigates to Questionnaires too (a Collection, not a DigitalResource).
    actor: PERSON, object: [...DR, 'SoftwareApplication', 'Questionnaire'], referrer: [...DR, 'SoftwareApplication'], target: DR,
  },
  QuestionnaireEvent: {
    since: 'v1p2', extension: 'SurveyProfile', actions: ['Started', 'Submitted'], profiles: ['SurveyProfile'], actor: PERSON, object: ['Questionnaire'],
  },
  QuestionnaireItemEvent: {
    since: 'v1p2', extension: 'SurveyProfile', actions: ['Started', 'Skipped', 'Completed'], profiles: ['SurveyProfile'],
    actor: PERSON, object: ['QuestionnaireItem'], generated: ['Response'],
  },
  ResourceManagementEvent: {
    since: 'v1p2', extension: 'ResourceManagementProfile',
    actions: [
      'Archived', 'Copied', 'Created', 'Deleted', 'Described', 'Downloaded', 'Modified', 'Printed', 'Published', 'Restored', 'Retrieved',
      'Saved', 'Unpublished', 'Uploaded',
    ],
    profiles: ['ResourceManagementProfile'], actor: PERSON, object: DR, generated: DR,
  },
  SearchEvent: {
    since: 'v1p2', extension: 'SearchProfile', actions: ['Searched'], profiles: ['SearchProfile'], actor: PERSON, generated: ['SearchResponse'],
  },
  SessionEvent: {
    since: 'v1p1', actions: ['LoggedIn', 'LoggedOut', 'TimedOut'], profiles: ['SessionProfile'], target: DR, referrer: [...DR, 'SoftwareApplication'],
    byAction: {
      LoggedIn: { actor: PERSON, object: ['SoftwareApplication'] },
      LoggedOut: { actor: PERSON, object: ['SoftwareApplication'] },
      // The application ends the session, not the user.
      TimedOut: { actor: ['SoftwareApplication'], object: ['Session'] },
    },
  },
  SurveyEvent: { since: 'v1p2', extension: 'SurveyProfile', actions: ['OptedIn', 'OptedOut'], profiles: ['SurveyProfile'], actor: PERSON, object: ['Survey'] },
  SurveyInvitationEvent: {
    since: 'v1p2', extension: 'SurveyProfile', actions: ['Accepted', 'Declined', 'Sent'], profiles: ['SurveyProfile'],
    actor: PERSON, object: ['SurveyInvitation'],
  },
  ThreadEvent: { since: 'v1p1', actions: ['MarkedAsRead', 'MarkedAsUnread'], profiles: ['ForumProfile'], actor: PERSON, object: ['Thread'] },
  ToolLaunchEvent: {
    since: 'v1p2', extension: 'ToolLaunchProfile', actions: ['Launched', 'Returned'], profiles: ['ToolLaunchProfile'],
    actor: PERSON, object: ['SoftwareApplication'], target: ['Link'], generated: DR,
    // A launch carries the platform's LTI session.
    byAction: { Launched: { required: ['federatedSession'] } },
  },
  ToolUseEvent: {
    since: 'v1p1', actions: ['Used'], profiles: ['ToolUseProfile'], actor: PERSON, object: ['SoftwareApplication'], target: ['SoftwareApplication'],
    generated: ['AggregateMeasureCollection'],
  },
  ViewEvent: {
    since: 'v1p1', actions: ['Viewed'], profiles: ['ReadingProfile', 'AssessmentProfile', 'AssignableProfile', 'ForumProfile', 'GradingProfile', 'MediaProfile', 'SurveyProfile'],
    // The Grading profile views a Result, the Survey profile a Questionnaire; the rest view DigitalResources.
    actor: PERSON, object: [...DR, 'Result', 'Questionnaire'],
  },
  // Deprecated in 1.1, removed in 1.2.
  ReadingEvent: { since: 'v1p1', until: 'v1p1', actions: ['NavigatedTo', 'Searched', 'Viewed'], profiles: [], actor: PERSON, object: DR },
  OutcomeEvent: { since: 'v1p1', until: 'v1p1', actions: ['Graded'], profiles: [], actor: AGENT, object: ['Attempt'], generated: ['Result'] },
};

export const EVENT_TYPE_NAMES: readonly string[] = Object.keys(EVENT_TYPES);

/** Profiles → their event types (for the "this profile does not use this event type" check). */
export const PROFILE_EVENTS: ReadonlyMap<string, ReadonlySet<string>> = new Map(
  [...PROFILES].map((p) => [p, new Set(Object.entries(EVENT_TYPES).filter(([, d]) => d.profiles.includes(p)).map(([t]) => t))]),
);
