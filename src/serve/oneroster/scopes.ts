/**
 * OneRoster 1.2 OAuth 2.0 scopes, exactly as the specification names them. Which route needs which is in routes.ts
 * (rostering: taken from the official OpenAPI's `security` blocks; gradebook and resources: from the 1.2 text).
 */
export const SCOPE_PREFIX = 'https://purl.imsglobal.org/spec/or/v1p2/scope/';

export const OR_SCOPES = {
  rosterCore: `${SCOPE_PREFIX}roster-core.readonly`,
  roster: `${SCOPE_PREFIX}roster.readonly`,
  demographics: `${SCOPE_PREFIX}roster-demographics.readonly`,
  gradebookRead: `${SCOPE_PREFIX}gradebook.readonly`,
  gradebookWrite: `${SCOPE_PREFIX}gradebook.createput`,
  gradebookDelete: `${SCOPE_PREFIX}gradebook.delete`,
  resources: `${SCOPE_PREFIX}resource.readonly`,
} as const;

export type OneRosterScope = (typeof OR_SCOPES)[keyof typeof OR_SCOPES];
export const ALL_OR_SCOPES: readonly OneRosterScope[] = Object.values(OR_SCOPES);

export function isOneRosterScope(s: string): s is OneRosterScope {
  return (ALL_OR_SCOPES as readonly string[]).includes(s);
}
