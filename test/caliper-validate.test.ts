/**
 * The Caliper validator against the official conformance fixtures (read in place from ../shared/conformance/caliper,
 * never copied) and synthetic Caliper 1.1 events. Without the fixtures folder the conformance part is skipped LOUDLY
 * (a fresh clone has no ../shared); CI has it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { checkEnvelope, isCaliperDateTime, isDuration, isIri, isPlainObject, looksLikeEvent, validateEntity, validateEvent, validateItem, type Problem, type Rule } from '../src/caliper/validate';
import { ACTIONS_V1P2, CALIPER_CONTEXT, METRICS, ROLES, SYSTEM_IDENTIFIER_TYPES, V1P1_EXTENSIONS } from '../src/caliper/vocab';
import { EVENT_TYPES } from '../src/caliper/model';
import { sampleEvent, SAMPLE_KINDS } from '../src/caliper/sample';

const FIXTURES = path.resolve(__dirname, '../../shared/conformance/caliper/fixtures/v1p2');
const HAVE_FIXTURES = fs.existsSync(FIXTURES);
if (!HAVE_FIXTURES) {
  const bar = '!'.repeat(100);
  console.warn(`\n${bar}\n!! SKIPPING the Caliper conformance fixture tests: ${FIXTURES} does not exist.\n!! They need ../shared/conformance/caliper next to the project (present in CI).\n${bar}\n`);
}
const describeFixtures = HAVE_FIXTURES ? describe : describe.skip;

/** A fixture file: an envelope (checked item by item), an event or an entity. */
function problemsOf(json: unknown): Problem[] {
  if (isPlainObject(json) && 'dataVersion' in json) {
    const env = checkEnvelope(json);
    if (!env.ok) return env.problems;
    return env.data.flatMap((d, i) => validateItem(d, env.version, `$.data[${i}]`).problems);
  }
  if (isPlainObject(json) && looksLikeEvent(json)) return validateItem(json, 'v1p2').problems;
  return validateEntity(json, 'v1p2', { embedded: true });
}

const read = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;

/**
 * Which rule rejects each invalid fixture, at which path. Every file of fixtures/v1p2/invalid/ is listed here or
 * in CANNOT_REJECT (a test fails when a new file appears in neither).
 */
const EXPECTED: [file: string, rule: Rule, path: string][] = [
  ['caliperEntity-MalformedDescriptionNotANumber', 'value-type', '$.description'],
  ['caliperEntity-MalformedExtensionsNotAnIRI', 'value-type', '$.extensions'],
  ['caliperEntity-MalformedModifiedDate', 'datetime', '$.dateModified'],
  ['caliperEntity-MalformedOtherIdentifiersContainsWrongEntityType', 'entity-type', '$.otherIdentifiers[0].type'],
  ['caliperEntity-NoId', 'required', '$.id'],
  ['caliperEntity-UnknownContext', 'context', '$.@context'],
  ['caliperEntityAggregateMeasure-MalformedEndedAtTimeNotValidDateTime', 'datetime', '$.endedAtTime'],
  ['caliperEntityAggregateMeasure-MalformedMetricUnknownValue', 'vocab', '$.metric'],
  ['caliperEntityAggregateMeasure-MalformedStartedAtTimeNotValidDateTime', 'datetime', '$.startedAtTime'],
  ['caliperEntityAggregateMeasureCollection-MalformedItemsNotAList', 'value-type', '$.items'],
  ['caliperEntityAnnotation-MalformedAnnotatorWrongEntityType', 'entity-type', '$.annotator.type'],
  ['caliperEntityAssessment-MalformedItemsNotAList', 'value-type', '$.items'],
  ['caliperEntityAssignableDigitalResource-MalformedDateToActivateInvalidDateTime', 'datetime', '$.dateToActivate'],
  ['caliperEntityAssignableDigitalResource-MalformedDateToStartOnInvalidDateTime', 'datetime', '$.dateToStartOn'],
  ['caliperEntityAssignableDigitalResource-MalformedMaxAttemptsNotAnInt', 'value-type', '$.maxAttempts'],
  ['caliperEntityAssignableDigitalResource-MalformedMaxSubmitsNotAnInt', 'value-type', '$.maxSubmits'],
  ['caliperEntityAttempt-MalformedAssigneeWrongEntityType', 'entity-type', '$.assignee.type'],
  ['caliperEntityAttempt-MalformedDurationNotADuration', 'duration', '$.duration'],
  ['caliperEntityAttempt-MalformedIsPartOfWrongEntityType', 'entity-type', '$.isPartOf.type'],
  ['caliperEntityAudioObject-MalformedMutedNotABoolean', 'value-type', '$.muted'],
  ['caliperEntityAudioObject-MalformedVolumeLevelNotAString', 'value-type', '$.volumeLevel'],
  ['caliperEntityAudioObject-MalformedVolumeMinNotAString', 'value-type', '$.volumeMin'],
  ['caliperEntityCollection-MalformedItemsContainsWrongElementType', 'iri', '$.items[0]'],
  ['caliperEntityComment-MalformedCommenterWrongEntityType', 'entity-type', '$.commenter.type'],
  ['caliperEntityCourseOffering-MalformedAcademicSessionNotAnInt', 'value-type', '$.academicSession'],
  ['caliperEntityCourseSection-MalformedCategoryNotAnInt', 'value-type', '$.category'],
  ['caliperEntityDateTimeQuestion-MalformedMaxLabelNotAnInt', 'value-type', '$.maxLabel'],
  ['caliperEntityDateTimeQuestion-MalformedMinLabelNotAnInt', 'value-type', '$.minLabel'],
  ['caliperEntityDigitalResource-MalformedCreatorsListElementWrongType', 'entity-type', '$.creators[0].type'],
  ['caliperEntityDigitalResource-MalformedDatePublishedNotValidDateTime', 'datetime', '$.datePublished'],
  ['caliperEntityDigitalResource-MalformedKeywordsListElementWrongType', 'value-type', '$.keywords[0]'],
  ['caliperEntityDigitalResource-MalformedLearningObjectivesListElementWrongType', 'entity-type', '$.learningObjectives[0].type'],
  ['caliperEntityDigitalResource-MalformedMediaTypeNotAnInt', 'value-type', '$.mediaType'],
  ['caliperEntityDigitalResource-MalformedVersionNotAnInt', 'value-type', '$.version'],
  ['caliperEntityDigitalResourceCollection-MalformedItemsNotAList', 'value-type', '$.items'],
  ['caliperEntityFillinBlankResponse-MalfromedValuesNotAList', 'value-type', '$.values'],
  ['caliperEntityForum-MalformedItemsNotAList', 'value-type', '$.items'],
  ['caliperEntityGroup-MalformedMembersContainsWrongEntityType', 'entity-type', '$.members[0].type'],
  ['caliperEntityHighlightAnnotation-MalformedSelectionWrongEntityType', 'entity-type', '$.selection.type'],
  ['caliperEntityLikertScale-MalformedItemLabelsNotAList', 'value-type', '$.itemLabels'],
  ['caliperEntityLikertScale-MalformedItemValuesNotAList', 'value-type', '$.itemValues'],
  ['caliperEntityLtiLink-MalformedMessageTypeUnknownValue', 'vocab', '$.messageType'],
  ['caliperEntityMediaLocation-MalformedCurrentTimeNotValidDuration', 'duration', '$.currentTime'],
  ['caliperEntityMembership-MalformedMemberWrongEntityType', 'entity-type', '$.member.type'],
  ['caliperEntityMembership-MalformedRolesContainsUnknownValue', 'vocab', '$.roles[1]'],
  ['caliperEntityMembership-MalformedStatusUnknownValue', 'vocab', '$.status'],
  ['caliperEntityMessage-MalformedAttachmentsNotAList', 'value-type', '$.attachments'],
  ['caliperEntityMessage-MalformedReplyToWrongEntityType', 'entity-type', '$.replyTo.type'],
  ['caliperEntityMultipleResponseResponse-MalformedValuesContainsWrongType', 'value-type', '$.values[3]'],
  ['caliperEntityMultiselectQuestions-MalformedItemLabelsContainWrongType', 'value-type', '$.itemLabels[4]'],
  ['caliperEntityMultiselectQuestions-MalformedItemValuesContainsWrongType', 'value-type', '$.itemValues[4]'],
  ['caliperEntityMultiselectQuestions-MalformedPointsNotAString', 'value-type', '$.points'],
  ['caliperEntityMultiselectResponse-MalformedSelectionsNotAList', 'value-type', '$.selections'],
  ['caliperEntityMultiselectScale-MalformedItemLabelsContainsWrongType', 'value-type', '$.itemLabels[5]'],
  ['caliperEntityMultiselectScale-MalformedItemValuesContainsWrongType', 'value-type', '$.itemValues[5]'],
  ['caliperEntityMultiselectScale-MalformedMaxSelectionsNotAString', 'value-type', '$.maxSelections'],
  ['caliperEntityMultiselectScale-MalformedScalePointsNotAString', 'value-type', '$.scalePoints'],
  ['caliperEntityNumericScale-MalformedMaxValueNotAString', 'value-type', '$.maxValue'],
  ['caliperEntityNumericScale-MalformedMinValueNotAString', 'value-type', '$.minValue'],
  ['caliperEntityOpenEndedResponse-MalformedValueNotAnInt', 'value-type', '$.value'],
  ['caliperEntityOrganization-MalformedMembersNotAList', 'value-type', '$.members'],
  ['caliperEntityQuery-MalformedCreatorWrongEntityTypes', 'entity-type', '$.creator.type'],
  ['caliperEntityQuestion-MalformedQuestionPosedNotAnInt', 'value-type', '$.questionPosed'],
  ['caliperEntityQuestionnaire-MalformedItemsNotAList', 'value-type', '$.items'],
  ['caliperEntityQuestionnaireItem-MalformedCategoriesNotAList', 'value-type', '$.categories'],
  ['caliperEntityQuestionnaireItem-MalformedWeightNotAString', 'value-type', '$.weight'],
  ['caliperEntityRating-MalformedRaterWrongEntityType', 'entity-type', '$.rater.type'],
  ['caliperEntityRating-MalformedSelectionsContainsWrongType', 'value-type', '$.selections[0]'],
  ['caliperEntityRatingScaleQuestion-MalformedScaleWrongEntityType', 'entity-type', '$.scale.type'],
  ['caliperEntityRatingScaleResponse-MalformedSelectionsContainsWrongType', 'value-type', '$.selections[0]'],
  ['caliperEntityResponse-MalformedDurationNotADuration', 'duration', '$.duration'],
  ['caliperEntityResponse-MalformedStartedAtTimeInvalidDateTime', 'datetime', '$.startedAtTime'],
  ['caliperEntityResult-MalformedAttemptWrongEntityType', 'entity-type', '$.attempt.type'],
  ['caliperEntityResult-MalformedMaxResultScoreNotAString', 'value-type', '$.maxResultScore'],
  ['caliperEntityResult-MalformedScoredByWrongEntityType', 'entity-type', '$.scoredBy.type'],
  ['caliperEntityScore-MalformedAttemptWrongEntityType', 'entity-type', '$.attempt.type'],
  ['caliperEntityScore-MalformedScoredByWrongEntityType', 'entity-type', '$.scoredBy.type'],
  ['caliperEntitySearchResponse-MalformedSearchProviderWrongEntityType', 'entity-type', '$.searchProvider.type'],
  ['caliperEntitySelectTextResponse-MalformedValuesContainsWrongType', 'value-type', '$.values[3]'],
  ['caliperEntitySession-MalformedClientWrongEntityType', 'entity-type', '$.client.type'],
  ['caliperEntitySession-MalformedEndedAtTimeNotValidDateTime', 'datetime', '$.endedAtTime'],
  ['caliperEntitySession-MalformedUserWrongEntityType', 'entity-type', '$.user.type'],
  ['caliperEntitySharedAnnotation-MalformedWithAgentsWrongEntityType', 'entity-type', '$.withAgents[1].type'],
  ['caliperEntitySoftwareApplication-MalformedIpAddressNotAnInt', 'value-type', '$.ipAddress'],
  ['caliperEntitySoftwareApplication-MalformedVersionNotAnInt', 'value-type', '$.version'],
  ['caliperEntitySurvey-MalformedItemsNotAList', 'value-type', '$.items'],
  ['caliperEntitySurveyInvitation-MalformedRaterWrongEntityType', 'entity-type', '$.rater.type'],
  ['caliperEntitySurveyInvitation-MalformedSurveyWrongEntityType', 'entity-type', '$.survey.type'],
  ['caliperEntitySystemIdentifier-MalformedIdentifierTypeUnknownValue', 'vocab', '$.identifierType'],
  ['caliperEntityTagAnnotation-MalformedTagsNotAList', 'value-type', '$.tags'],
  ['caliperEntityTextPositionSelector-MalformedEndNotAString', 'value-type', '$.end'],
  ['caliperEntityThread-MalformedItemsContainsWrongType', 'entity-type', '$.items[2].type'],
  ['caliperEntityTrueFalseResponse-MalformedValueNotAnInt', 'value-type', '$.value'],
  ['caliperEvent-MalformedActorWrongEntityType', 'entity-type', '$.actor.type'],
  ['caliperEvent-MalformedEdAppWrongEntityType', 'entity-type', '$.edApp.type'],
  ['caliperEvent-MalformedExtensionsNotAnIRI', 'value-type', '$.extensions'],
  ['caliperEvent-MalformedFederatedSessionWrongEntityType', 'entity-type', '$.federatedSession.type'],
  ['caliperEvent-MalformedGroupWrongEntityType', 'entity-type', '$.group.type'],
  ['caliperEvent-MalformedMembershipWrongEntityType', 'entity-type', '$.membership.type'],
  ['caliperEvent-MalformedSessionNotAString', 'iri', '$.session'],
  ['caliperEvent-MalformedTargetNotAString', 'iri', '$.target'],
  ['caliperEvent-NoActor', 'required', '$.actor'],
  ['caliperEvent-NoId', 'required', '$.id'],
  ['caliperEvent-NoType', 'required', '$.type'],
  ['caliperEvent-NullActor', 'null', '$.actor'],
  ['caliperEvent-NullId', 'null', '$.id'],
  ['caliperEvent-NullType', 'null', '$.type'],
  ['caliperEvent-UnknownEventType', 'event-type', '$.type'],
  ['caliperEventAnnotation-MalformedGeneratedWrongEntityType', 'entity-type', '$.generated.type'],
  ['caliperEventAnnotation-MalformedTargetWrongEntityType', 'entity-type', '$.target.type'],
  ['caliperEventAssessment-MalformedGeneratedWrongEntityType', 'entity-type', '$.generated.type'],
  ['caliperEventAssessment-WrongAction', 'action', '$.action'],
  ['caliperEventAssessmentItem-MalformedObjectWrongEntityType', 'entity-type', '$.object.type'],
  ['caliperEventAssessmentItem-WrongAction', 'action', '$.action'],
  ['caliperEventAssignable-MalformedObjectWrongEntityType', 'entity-type', '$.object.type'],
  ['caliperEventAssignable-WrongAction', 'action', '$.action'],
  ['caliperEventFeedback-MalformedTargetWrongEntityType', 'entity-type', '$.target.type'],
  ['caliperEventForum-MalformedObjectWrongEntityType', 'entity-type', '$.object.type'],
  ['caliperEventGeneral-MalformedActorWrongEntityType', 'entity-type', '$.actor.type'],
  ['caliperEventGrade-MalformedObjectWrongEntityType', 'entity-type', '$.object.type'],
  ['caliperEventMedia-MalformedObjectWrongEntityType', 'entity-type', '$.object.type'],
  ['caliperEventMedia-WrongAction', 'action', '$.action'],
  ['caliperEventMessage-WrongAction', 'action', '$.action'],
  ['caliperEventNavigation-MalformedReferrerEntityType', 'entity-type', '$.referrer.type'],
  ['caliperEventResourceManagement-MalformedGeneratedWrongEntityType', 'entity-type', '$.generated.type'],
  ['caliperEventResourceManagement-WrongAction', 'action', '$.action'],
  ['caliperEventSearch-WrongAction', 'action', '$.action'],
  ['caliperEventSessionLoggedIn-MalformedObjectWrongEntityType', 'entity-type', '$.object.type'],
  ['caliperEventSessionLoggedIn-MalformedTargetWrongEntityType', 'entity-type', '$.target.type'],
  ['caliperEventThread-MalformedObjectWrongEntityType', 'entity-type', '$.object.type'],
  ['caliperEventToolLaunch-MalformedGeneratedWrongEntityType', 'entity-type', '$.generated.type'],
  ['caliperEventToolLaunch-MalformedTargetWrongEntityType', 'entity-type', '$.target.type'],
  ['caliperEventToolLaunchLaunched-NoFederatedSession', 'required', '$.federatedSession'],
  ['caliperEventToolUse-MalformedObjectWrongEntityType', 'entity-type', '$.object.type'],
  ['caliperEventToolUse-WrongAction', 'action', '$.action'],
  ['caliperEventView-WrongAction', 'action', '$.action'],
];

/**
 * Invalid fixtures that cannot be rejected on principle: they differ from their valid twin only in how a number is
 * written (`25` instead of `25.0`). JSON (RFC 8259) has one number type and the Caliper properties are xsd:float /
 * xsd:decimal, of which 25 is a value; a parser does not even see the difference. They are accepted, and this test
 * says so.
 */
const CANNOT_REJECT = [
  'caliperEntityAggregateMeasure-MalformedMaxMetricValueNotAnInt',
  'caliperEntityAggregateMeasure-MalformedMetricValueNotAnInt',
  'caliperEntityScore-MalformedMaxScoreNotAnInt',
];

describeFixtures('Caliper conformance fixtures (v1p2)', () => {
  const valid = HAVE_FIXTURES ? fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.json') && f !== 'caliperEndpointConfigPayload.json') : [];
  const invalidDir = path.join(FIXTURES, 'invalid');
  const invalid = HAVE_FIXTURES ? fs.readdirSync(invalidDir).filter((f) => f.endsWith('.json')) : [];

  it('finds the fixtures', () => {
    expect(valid.length).toBeGreaterThanOrEqual(140);
    expect(invalid.length).toBeGreaterThanOrEqual(139);
    expect(valid.filter((f) => f.startsWith('caliperEvent')).length).toBeGreaterThanOrEqual(50);
    expect(valid.filter((f) => f.startsWith('caliperEnvelope')).length).toBeGreaterThanOrEqual(10);
  });

  it.each(valid.map((f) => [f]))('accepts %s', (f) => {
    expect(problemsOf(read(path.join(FIXTURES, f)))).toEqual([]);
  });

  it('accepts every action of the vocabulary envelope, and every LIS role, metric and identifier type', () => {
    const items = (file: string) => (read(path.join(FIXTURES, file)) as { data: Record<string, unknown>[] }).data;
    const actions = items('caliperEnvelopeTermAction.json').map((e) => e.action as string);
    expect(actions.length).toBe(80);
    for (const a of actions) expect(ACTIONS_V1P2.has(a)).toBe(true);
    for (const m of items('caliperEnvelopeTermLISRole.json').flatMap((e) => e.roles as string[])) expect(ROLES.has(m)).toBe(true);
    for (const m of items('caliperEnvelopeTermMetric.json').map((e) => e.metric as string)) expect(METRICS.has(m)).toBe(true);
    const ids = items('caliperEnvelopeTermSystemIdentifierType.json').flatMap((e) => (e.otherIdentifiers as { identifierType: string }[]).map((o) => o.identifierType));
    for (const t of ids) expect(SYSTEM_IDENTIFIER_TYPES.has(t)).toBe(true);
  });

  it('rejects the file that is not JSON at the parser', () => {
    expect(() => JSON.parse(fs.readFileSync(path.join(invalidDir, 'caliperEntity-BadJson.json'), 'utf8'))).toThrow(SyntaxError);
  });

  it('lists every invalid fixture with the rule that must catch it', () => {
    const listed = new Set([...EXPECTED.map(([f]) => f), ...CANNOT_REJECT, 'caliperEntity-BadJson']);
    expect(invalid.map((f) => f.replace(/\.json$/, '')).filter((f) => !listed.has(f))).toEqual([]);
  });

  it.each(EXPECTED)('rejects %s (%s at %s)', (file, rule, at) => {
    const problems = problemsOf(read(path.join(invalidDir, `${file}.json`)));
    expect(problems).toContainEqual(expect.objectContaining({ rule, path: at }));
  });

  it.each(CANNOT_REJECT.map((f) => [f]))('accepts %s: 25 and 25.0 are the same JSON number', (file) => {
    const text = fs.readFileSync(path.join(invalidDir, `${file}.json`), 'utf8');
    expect(problemsOf(JSON.parse(text))).toEqual([]);
  });

  it('rejects each invalid event fixture also inside an envelope, naming the item', () => {
    const events = invalid.filter((f) => f.startsWith('caliperEvent'));
    for (const f of events) {
      const env = { sensor: 'https://example.edu/sensors/1', sendTime: '2024-09-02T08:00:00.000Z', dataVersion: CALIPER_CONTEXT.v1p2, data: [sampleEvent('view', 1), read(path.join(invalidDir, f))] };
      const problems = problemsOf(env);
      expect([f, problems.length > 0]).toEqual([f, true]);
      expect(problems.every((p) => p.path.startsWith('$.data[1]'))).toBe(true);
    }
  });
});

describe('Caliper 1.2 semantic rules', () => {
  const ok = (e: unknown) => validateEvent(e, 'v1p2');
  const rules = (e: unknown) => ok(e).map((p) => `${p.rule} ${p.path}`);

  it('accepts the synthetic events the bench and the HTTP tests send', () => {
    for (const [i, k] of SAMPLE_KINDS.entries()) expect([k, ok(sampleEvent(k, i))]).toEqual([k, []]);
  });

  it('checks the id, the action per event type, the profile per event type and the actor per action', () => {
    const e = sampleEvent('session', 1);
    expect(rules({ ...e, id: 'urn:uuid:not-a-uuid' })).toEqual(['uuid $.id']);
    expect(rules({ ...e, id: 'https://example.edu/events/1' })).toEqual(['uuid $.id']);
    expect(rules({ ...e, action: 'Viewed' })).toEqual(['action $.action']);
    expect(rules({ ...e, action: 'Frobbed' })).toEqual(['action $.action']);
    expect(rules({ ...e, profile: 'GradingProfile' })).toEqual(['profile $.profile']);
    expect(rules({ ...e, profile: 'NoSuchProfile' })).toEqual(['profile $.profile']);
    expect(rules({ ...e, profile: 'GeneralProfile' })).toEqual([]);
    const { profile: _p, ...noProfile } = e;
    expect(rules(noProfile)).toEqual([]);
    // TimedOut: the application ends the session, and the object is the Session.
    expect(rules({ ...e, action: 'TimedOut' })).toEqual(['entity-type $.actor.type', 'entity-type $.object.type']);
    expect(rules({ ...e, action: 'TimedOut', actor: { id: 'https://lms.example.edu', type: 'SoftwareApplication' }, object: { id: 'https://lms.example.edu/sessions/1', type: 'Session' } })).toEqual([]);
  });

  it('checks what GradeEvent generates: a Score', () => {
    const g = sampleEvent('grade', 3);
    expect(rules(g)).toEqual([]);
    expect(rules({ ...g, generated: { id: 'https://lms.example.edu/results/1', type: 'Result', resultScore: 3 } })).toEqual(['entity-type $.generated.type']);
    expect(rules({ ...g, generated: { ...(g.generated as object), scoreGiven: '3' } })).toEqual(['value-type $.generated.scoreGiven']);
    expect(rules({ ...g, actor: { id: 'https://lms.example.edu/users/9', type: 'Person' } })).toEqual([]);
  });

  it('applies the per-profile object types: a Grading ViewEvent views a Result, a Survey one a Questionnaire', () => {
    const v = sampleEvent('view', 4);
    const result = { id: 'https://lms.example.edu/results/1', type: 'Result', resultScore: 8, maxResultScore: 10 };
    expect(rules({ ...v, profile: 'GradingProfile', object: result })).toEqual([]);
    expect(rules({ ...v, profile: 'SurveyProfile', object: { id: 'https://lms.example.edu/q/1', type: 'Questionnaire' } })).toEqual([]);
    expect(rules({ ...v, object: { id: 'https://lms.example.edu/users/2', type: 'Person' } })).toEqual(['entity-type $.object.type']);
    // Annotation, Assignable and Feedback targets are Frames; a ToolLaunch target is a Link.
    const frame = { id: 'https://lms.example.edu/etexts/1?index=20', type: 'Frame', index: 20 };
    expect(rules({ ...v, type: 'AnnotationEvent', profile: 'AnnotationProfile', action: 'Bookmarked', target: frame })).toEqual([]);
    expect(rules({ ...v, type: 'AnnotationEvent', profile: 'AnnotationProfile', action: 'Bookmarked', target: { id: 'https://lms.example.edu/x', type: 'Document' } })).toEqual(['entity-type $.target.type']);
  });

  it('requires the seven event properties and treats null as missing; optional nulls are ignored', () => {
    const e = sampleEvent('view', 2);
    for (const p of ['@context', 'id', 'type', 'actor', 'action', 'object', 'eventTime']) {
      const { [p]: _, ...rest } = e;
      expect(rules(rest)).toContain(`required $.${p}`);
      expect(rules({ ...e, [p]: null })).toContain(`null $.${p}`);
    }
    expect(rules({ ...e, edApp: null, target: null, group: null })).toEqual([]);
  });

  it('checks eventTime: UTC, milliseconds, a real date', () => {
    const e = sampleEvent('view', 2);
    for (const t of ['2024-09-02T08:00:00Z', '2024-09-02T08:00:00.000+02:00', '2024-09-02 08:00:00.000Z', '2024-02-30T08:00:00.000Z', '2024-09-02T24:00:00.000Z', '2024-09-02T08:00:00.0000Z', 1725264000000]) {
      expect([t, rules({ ...e, eventTime: t })]).toEqual([t, ['datetime $.eventTime']]);
    }
    expect(isCaliperDateTime('2024-02-29T23:59:59.999Z')).toBe(true);
    expect(isCaliperDateTime('2023-02-29T23:59:59.999Z')).toBe(false);
  });

  it('checks durations, IRIs and @context', () => {
    for (const d of ['PT1H30M', 'PT45.5S', 'P1D', 'P1Y2M3DT4H5M6S', 'PT3600S', 'P2W']) expect([d, isDuration(d)]).toEqual([d, true]);
    for (const d of ['P', 'PT', '1H', 'PT1H30', 'P1DT', 'PT-5S', '00:05:00']) expect([d, isDuration(d)]).toEqual([d, false]);
    for (const i of ['https://example.edu/x', 'urn:uuid:0d015a85-abf5-49ee-abb1-46dbd57fe64e', 'mailto:a@b.c']) expect(isIri(i)).toBe(true);
    for (const i of ['', 'example.edu/x', 'https://example.edu/a b', '_:b0', 'not an iri', `https://e.edu/${'x'.repeat(3000)}`]) expect([i.slice(0, 20), isIri(i)]).toEqual([i.slice(0, 20), false]);
    const e = sampleEvent('view', 2);
    expect(rules({ ...e, '@context': CALIPER_CONTEXT.v1p1 })).toEqual(['context $.@context']);
    expect(rules({ ...e, '@context': [{ query: 'http://schema.org/query' }, CALIPER_CONTEXT.v1p2] })).toEqual([]);
    expect(rules({ ...e, '@context': [CALIPER_CONTEXT.v1p2, { query: 'http://schema.org/query' }] })).toEqual(['context $.@context[1]']);
    expect(rules({ ...e, '@context': [CALIPER_CONTEXT.v1p2, 'http://schema.org/'] })).toEqual(['context $.@context[1]']);
    expect(rules({ ...e, '@context': [] })).toEqual(['context $.@context']);
    expect(rules({ ...e, '@context': 42 })).toEqual(['context $.@context']);
    // Nested entities may repeat the context, but not another version's.
    expect(rules({ ...e, object: { ...(e.object as object), '@context': CALIPER_CONTEXT.v1p2 } })).toEqual([]);
    expect(rules({ ...e, object: { ...(e.object as object), '@context': CALIPER_CONTEXT.v1p1 } })).toEqual(['context $.object.@context']);
  });

  it('bounds nesting and does not echo free-text values in messages', () => {
    let deep: Record<string, unknown> = { id: 'https://e.edu/a/0', type: 'Attempt' };
    for (let i = 1; i < 40; i++) deep = { id: `https://e.edu/a/${i}`, type: 'Attempt', isPartOf: deep };
    expect(rules({ ...sampleEvent('assessment', 2), generated: deep }).some((r) => r.startsWith('depth '))).toBe(true);
    const secret = 'Jane Q. Student <jane@example.edu>';
    const problems = ok({ ...sampleEvent('view', 2), action: secret, object: { id: secret, type: secret } });
    expect(problems.length).toBeGreaterThan(0);
    expect(JSON.stringify(problems)).not.toContain('jane');
  });

  it('checks the envelope: shape 400, unsupported dataVersion 422', () => {
    const env = { sensor: 'https://example.edu/sensors/1', sendTime: '2024-09-02T08:00:00.000Z', dataVersion: CALIPER_CONTEXT.v1p2, data: [sampleEvent('view', 1)] };
    expect(checkEnvelope(env).ok).toBe(true);
    const status = (v: unknown) => { const r = checkEnvelope(v); return r.ok ? 200 : r.status; };
    expect(status({ ...env, dataVersion: 'http://purl.imsglobal.org/ctx/caliper/v1p0' })).toBe(422);
    expect(status({ ...env, dataVersion: 'v1p2' })).toBe(422);
    expect(status({ ...env, dataVersion: 12 })).toBe(400);
    expect(status({ ...env, data: [] })).toBe(400);
    expect(status({ ...env, data: sampleEvent('view', 1) })).toBe(400);
    expect(status({ ...env, extra: 1 })).toBe(400);
    expect(status({ ...env, sendTime: '2024-09-02T08:00:00Z' })).toBe(400);
    const { sensor: _s, ...noSensor } = env;
    expect(status(noSensor)).toBe(400);
    expect(status([env])).toBe(400);
  });
});

describe('Caliper 1.1', () => {
  const V11 = CALIPER_CONTEXT.v1p1;
  const person = { id: 'https://lms.example.edu/users/554433', type: 'Person' };
  const section = { id: 'https://lms.example.edu/terms/2017/courses/7/sections/1', type: 'CourseSection', courseNumber: 'CPS 435-01', academicSession: 'Fall 2017' };
  const attempt = {
    id: 'https://lms.example.edu/terms/2017/courses/7/sections/1/assess/1/users/554433/attempts/1', type: 'Attempt',
    assignee: person.id, assignable: 'https://lms.example.edu/terms/2017/courses/7/sections/1/assess/1', count: 1,
    startedAtTime: '2017-11-15T10:05:00.000Z', endedAtTime: '2017-11-15T10:55:12.000Z', duration: 'PT50M12S',
  };
  const v11: Record<string, Record<string, unknown>> = {
    view: {
      '@context': V11, id: 'urn:uuid:ff9ec22a-fc59-4ae1-ae8d-2c9463ee2f8f', type: 'ViewEvent', actor: person, action: 'Viewed',
      object: { id: 'https://lms.example.edu/etexts/201.epub', type: 'Document', name: 'IMS Caliper Implementation Guide', version: '1.1' },
      eventTime: '2017-11-15T10:15:00.000Z', edApp: 'https://lms.example.edu', group: section,
      membership: { id: `${section.id}/rosters/1`, type: 'Membership', member: person.id, organization: section.id, roles: ['Learner'], status: 'Active' },
      session: { id: 'https://lms.example.edu/sessions/1f6442a482de72ea6ad134943812bff564a76259', type: 'Session', startedAtTime: '2017-11-15T10:00:00.000Z' },
    },
    assessment: {
      '@context': V11, id: 'urn:uuid:27734504-068d-4596-861c-2315be33a2a2', type: 'AssessmentEvent', actor: person, action: 'Submitted',
      object: { id: attempt.assignable, type: 'Assessment', name: 'Quiz One', maxScore: 15.0, maxAttempts: 2 }, generated: attempt,
      eventTime: '2017-11-15T10:55:12.000Z', edApp: 'https://lms.example.edu', group: section,
    },
    grade: {
      '@context': V11, id: 'urn:uuid:a50ca17f-5971-47bb-8fca-4e6e6879001d', type: 'GradeEvent',
      actor: { id: 'https://lms.example.edu/autograder', type: 'SoftwareApplication', version: 'v2' }, action: 'Graded', object: attempt,
      generated: { id: `${attempt.id}/scores/1`, type: 'Score', attempt: attempt.id, maxScore: 15.0, scoreGiven: 10.0, scoredBy: 'https://lms.example.edu/autograder' },
      eventTime: '2017-11-15T10:57:06.000Z', group: section.id,
    },
    timedOut: {
      '@context': V11, id: 'urn:uuid:4e61cf6c-ffbe-45bc-893f-afe7ad4079dc', type: 'SessionEvent',
      actor: { id: 'https://lms.example.edu', type: 'SoftwareApplication' }, action: 'TimedOut',
      object: { id: 'https://lms.example.edu/sessions/7d6b88adf746f0692e2e873308b78c60fb13a864', type: 'Session', user: person.id, duration: 'PT3600S' },
      eventTime: '2017-11-15T11:15:00.000Z',
    },
    toolLaunch: {
      '@context': V1P1_EXTENSIONS.ToolLaunchProfile, id: 'urn:uuid:a2e8b214-4d4a-4456-bb4c-099945749117', type: 'ToolLaunchEvent',
      actor: person, action: 'Launched', object: { id: 'https://tool.example.com/lti', type: 'SoftwareApplication' },
      target: { id: 'https://tool.example.com/link/123', type: 'LtiLink', messageType: 'LtiResourceLinkRequest' },
      federatedSession: { id: 'https://lms.example.edu/lti/sessions/b533eb02', type: 'LtiSession', user: person.id, messageParameters: { iss: 'https://lms.example.edu' } },
      eventTime: '2017-11-15T10:15:00.000Z',
    },
    outcome: {
      '@context': V11, id: 'urn:uuid:0a3c9f1d-5f0e-4b7f-9c11-5d0e8c2b1a22', type: 'OutcomeEvent', actor: 'https://lms.example.edu/autograder',
      action: 'Graded', object: attempt.id, generated: { id: `${attempt.id}/results/1`, type: 'Result', resultScore: 9, maxResultScore: 15, totalScore: 9 },
      eventTime: '2017-11-15T10:57:06.000Z',
    },
  };
  const envelope = (data: unknown[]) => ({ sensor: 'https://lms.example.edu/sensors/1', sendTime: '2017-11-15T11:05:01.000Z', dataVersion: V11, data });

  it.each(Object.keys(v11).map((k) => [k]))('accepts a 1.1 %s event in a 1.1 envelope', (k) => {
    expect(problemsOf(envelope([v11[k]]))).toEqual([]);
  });

  it('rejects 1.2-only constructs under 1.1', () => {
    const rulesOf = (e: unknown) => problemsOf(envelope([e])).map((p) => `${p.rule} ${p.path}`);
    // A 1.2 event type without its 1.1 profile extension context.
    expect(rulesOf({ ...v11.toolLaunch, '@context': V11 })).toEqual(['event-type $.data[0].type']);
    // The 1.2 context inside a 1.1 envelope.
    expect(rulesOf({ ...v11.view, '@context': CALIPER_CONTEXT.v1p2 })).toEqual(['context $.data[0].@context']);
    // 1.2-only actions on the generic Event; 1.1 rules otherwise apply the same way.
    expect(rulesOf({ ...v11.view, type: 'Event', action: 'Printed' })).toEqual(['action $.data[0].action']);
    expect(rulesOf({ ...v11.view, type: 'Event', action: 'Bookmarked' })).toEqual([]);
    expect(rulesOf({ ...v11.view, action: 'Deleted' })).toEqual(['action $.data[0].action']);
    expect(rulesOf({ ...v11.grade, generated: v11.outcome.generated })).toEqual(['entity-type $.data[0].generated.type']);
    expect(rulesOf({ ...v11.timedOut, actor: person })).toEqual(['entity-type $.data[0].actor.type']);
    // Actions 1.1 lists as deprecated for a type are still 1.1 (SHOULD NOT), not 1.2.
    expect(rulesOf({ ...v11.assessment, type: 'AssignableEvent', object: { ...(v11.assessment.object as object), type: 'AssignableDigitalResource' }, action: 'Hid' })).toEqual([]);
    expect(validateEvent({ ...sampleEvent('assessment', 1), type: 'AssignableEvent', profile: 'AssignableProfile', object: { id: 'https://e.edu/a', type: 'AssignableDigitalResource' }, action: 'Hid' }, 'v1p2').map((p) => p.rule)).toEqual(['action']);
    // Deprecated 1.1 types do not exist in 1.2.
    expect(validateEvent({ ...v11.outcome, '@context': CALIPER_CONTEXT.v1p2 }, 'v1p2').map((p) => p.rule)).toEqual(['event-type']);
  });

  it('knows an event definition for every 1.2 profile event type', () => {
    expect(Object.keys(EVENT_TYPES).length).toBeGreaterThanOrEqual(24);
  });
});
