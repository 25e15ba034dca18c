/**
 * LTI services other parts of the hub use without touching ltijs: the NRPS membership pages (for the `lti-nrps`
 * connector). They run against the database the process's LTI tool is bound to (buildApp, or `initLtiServices` in
 * the CLI), with tokens from the platform's token endpoint (client assertion signed with the tool key).
 */
import { HubError } from '../../core/errors';
import { boundRuntime, ltiProvider, type LtijsMembers } from './ltijs';

export interface NrpsContext {
  registrationId: string;
  issuer: string;
  clientId: string;
  deploymentId: string;
  contextId: string;
  title: string | null;
  membershipsUrl: string;
}

function runtime() {
  const r = boundRuntime();
  if (!r) throw new HubError('source_unavailable', 'The LTI tool is not initialised in this process (it is set up by the server and by `hub sync`).');
  return r;
}

/** Contexts of the tenant whose launches offered NRPS, for the platform (issuer + client id) given. */
export async function nrpsContexts(tenantId: string, filter: { issuer: string; clientId: string; contextIds?: string[] }): Promise<NrpsContext[]> {
  const r = runtime();
  const regs = (await r.registrations.list(tenantId)).filter((g) => g.issuer === filter.issuer && g.clientId === filter.clientId && g.active);
  if (!regs.length) throw new HubError('connector_config_invalid', `No active LTI registration of ${filter.issuer} (client ${filter.clientId}) for tenant '${tenantId}'.`, [{ path: '$.issuer', message: 'not registered' }]);
  const byId = new Map(regs.map((g) => [g.id, g]));
  const q = r.db.knex('lti_contexts').where({ tenant_id: tenantId }).whereIn('registration_id', [...byId.keys()]).whereNotNull('memberships_url');
  if (filter.contextIds?.length) q.whereIn('context_id', filter.contextIds);
  const rows = (await q.orderBy('context_id').select('registration_id', 'context_id', 'title', 'memberships_url')) as { registration_id: string; context_id: string; title: string | null; memberships_url: string }[];
  return rows.map((c) => {
    const g = byId.get(c.registration_id)!;
    return { registrationId: g.id, issuer: g.issuer, clientId: g.clientId, deploymentId: g.deploymentId, contextId: c.context_id, title: c.title, membershipsUrl: c.memberships_url };
  });
}

/** One page of memberships: the first (`url` undefined), a `next` link or a `differences` link. */
export async function nrpsPage(c: NrpsContext, url: string | undefined, limit: number): Promise<LtijsMembers> {
  runtime();
  return ltiProvider().NamesAndRoles.getMembers(
    { iss: c.issuer, user: '', clientId: c.clientId, deploymentId: c.deploymentId, platformContext: { namesRoles: { context_memberships_url: c.membershipsUrl } } },
    url ? { url, pages: 1 } : { limit, pages: 1 },
  );
}
