/**
 * lti-nrps: course memberships from the LMS through LTI Names and Role Provisioning Services 2.0, for the contexts
 * teachers launched the hub from (their launches carry the memberships URL). Persons (with the strong identifier
 * `lti` = `<issuer>|<user_id>`, so identity resolution links them to SIS persons and to launches) and enrollments
 * into one class per LMS context. Incremental runs follow the platform's `differences` link when it offers one.
 * See README.md in this folder.
 *
 * The connector touches no database: contexts and membership pages come through src/serve/lti/services.ts (tokens
 * signed with the tool key by the LTI module).
 */
import type { CheckResult, Connector, ConnectorContext, Page, PlanContext, ReadContext, StreamPlan } from '../../src/ingest/contract';
import { HubError, toHubError } from '../../src/core/errors';
import configSchema from '../../schemas/connectors/lti-nrps.config.schema.json';
import { nrpsContexts, nrpsPage, type NrpsContext } from '../../src/serve/lti/services';
import { defaultTerm, mapMembers, structure, type NrpsMember } from './mappers';

export interface LtiNrpsSettings {
  issuer: string;
  clientId: string;
  contexts?: string[];
  limit?: number;
  orgName?: string;
  term?: { startDate: string; endDate: string; schoolYear: string };
}

const STREAM = 'memberships';
/** Cursor keys: `diff:<registration>:<context>` -> the differences URL to read next time. */
const diffKey = (c: NrpsContext) => `diff:${c.registrationId}:${c.contextId}`;

function serviceError(e: unknown, what: string): HubError {
  if (e instanceof HubError) return e;
  const status = (e as { response?: { statusCode?: number } }).response?.statusCode;
  return new HubError('source_unavailable', `${what}: ${status ? `the platform answered HTTP ${status}` : ((e as Error).message ?? 'failed')}.`, [{ path: what, message: status ? `HTTP ${status}` : 'unreachable' }], { cause: e });
}

export const ltiNrps: Connector<LtiNrpsSettings> = {
  manifest: {
    id: 'lti-nrps',
    title: 'LTI Names and Role Provisioning Services 2.0',
    version: '1',
    kind: ['roster'],
    configSchema: configSchema as Record<string, unknown>,
    secretFields: [],
    streams: [{ name: STREAM, entities: ['org', 'academicSession', 'course', 'class', 'person', 'enrollment'], modes: ['full', 'incremental'] }],
  },

  async check(settings: LtiNrpsSettings, ctx: ConnectorContext): Promise<CheckResult> {
    try {
      const contexts = await nrpsContexts(ctx.tenantId, settings);
      return { ok: true, details: `${contexts.length} LMS context(s) with NRPS` };
    } catch (e) {
      return { ok: false, error: toHubError(e) };
    }
  },

  async plan(_settings: LtiNrpsSettings, ctx: PlanContext): Promise<StreamPlan[]> {
    const cursor = ctx.cursors[STREAM];
    const hasDiff = !!cursor && Object.keys(cursor).some((k) => k.startsWith('diff:'));
    return [{ stream: STREAM, mode: hasDiff ? 'incremental' : 'full' }];
  },

  async *read(_stream: string, settings: LtiNrpsSettings, ctx: ReadContext): AsyncIterable<Page> {
    const contexts = await nrpsContexts(ctx.tenantId, settings);
    const term = settings.term ?? defaultTerm();
    const cursor: Record<string, string | number | boolean | null> = { ...(ctx.mode === 'incremental' ? (ctx.cursor ?? {}) : {}) };
    let first = true;
    for (const c of contexts) {
      if (ctx.signal.aborted) return;
      const diff = ctx.mode === 'incremental' && typeof cursor[diffKey(c)] === 'string' ? (cursor[diffKey(c)] as string) : undefined;
      let url: string | undefined = diff;
      let pageNo = 0;
      let structureSent = false;
      for (;;) {
        let res;
        try {
          res = await nrpsPage(c, url, settings.limit ?? 100);
        } catch (e) {
          throw serviceError(e, `memberships of context ${c.contextId}`);
        }
        const title = res.context?.title ?? c.title ?? c.contextId;
        const mapped = mapMembers((res.members ?? []) as NrpsMember[], { issuer: c.issuer, contextId: c.contextId, at: `${c.contextId}#${pageNo}$.members` }, { deletes: !!diff });
        const records = structureSent ? [] : structure({ contextId: c.contextId, title, orgName: settings.orgName ?? 'LMS', term }, first);
        structureSent = true;
        first = false;
        const done = !res.next;
        if (done && res.differences) cursor[diffKey(c)] = res.differences;
        yield { records: [...records, ...mapped.records], rejects: mapped.rejects, cursor: done ? { ...cursor } : undefined };
        if (done) break;
        url = res.next;
        pageNo++;
      }
    }
  },
};
