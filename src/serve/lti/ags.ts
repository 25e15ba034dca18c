/**
 * Grade passback (LTI Assignment and Grade Services 2.0): mastery -> the LMS gradebook.
 *
 * For every context a teacher launched from whose platform offered AGS (`lineitems` + the `lineitem` and `score`
 * scopes) and that maps to a class: one line item per competency (or per framework, `tenants[].lti.grades.mode`),
 * found by `resourceId` or created, and one score per learner of the class who has an LTI identity on that platform
 * (`userId` = their `sub`). Scores are sent when the mastery row changed since the last sent score (`updated_at`), or
 * after a failure once its back-off has passed (`lti_scores.next_attempt_at`: 30 s, 1 min, 2 min ... up to 1 h, at
 * most `maxAttempts`). Tokens come from the platform's token endpoint with a client assertion signed with the tool
 * key (ltijs Grade service + our database plugin's token cache).
 *
 * Score mapping: scoreGiven = level - scale_min, scoreMaximum = scale_max - scale_min (framework mode: the mean
 * normalised mastery x 100 out of 100); activityProgress Completed (mastered) / InProgress / Initialized;
 * gradingProgress FullyGraded when there is a level, NotReady otherwise (no scoreGiven then: the grade is cleared).
 */
import type { LoadedConfig } from '../../core/config';
import { findTenant } from '../../core/config';
import type { Logger } from '../../core/logger';
import type { Db } from '../../store/db';
import { studentsOfClasses } from '../access';
import { competencies, masteryOf, normalised, type MasteryRow } from './data';
import { ltiProvider, type LtijsIdToken } from './ltijs';
import type { Registrations, Registration } from './registrations';

const SCOPE_LINEITEM = 'https://purl.imsglobal.org/spec/lti-ags/scope/lineitem';
const SCOPE_SCORE = 'https://purl.imsglobal.org/spec/lti-ags/scope/score';
const SCOPE_LINEITEM_READ = 'https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly';

export interface PassbackStats {
  contexts: number;
  lineItemsCreated: number;
  sent: number;
  failed: number;
  unchanged: number;
  skippedContexts: number;
}

interface ContextRow {
  tenant_id: string;
  registration_id: string;
  context_id: string;
  class_id: string | null;
  lineitems_url: string | null;
  ags_scopes: string | null;
}

interface Desired {
  itemKey: string;
  label: string;
  learnerId: string;
  userId: string;
  scoreGiven?: number;
  scoreMaximum: number;
  activityProgress: string;
  gradingProgress: string;
  sourceUpdatedAt: string;
}

export function backoffSeconds(attempts: number): number {
  return Math.min(3600, 30 * 2 ** Math.max(0, attempts - 1));
}

export function scoreOf(m: MasteryRow): Pick<Desired, 'scoreGiven' | 'scoreMaximum' | 'activityProgress' | 'gradingProgress'> {
  const span = Number(m.scale_max) - Number(m.scale_min);
  const max = span > 0 ? span : 1;
  const hasLevel = m.level !== null && m.level !== undefined && span > 0;
  return {
    ...(hasLevel ? { scoreGiven: Math.round((Number(m.level) - Number(m.scale_min)) * 1000) / 1000 } : {}),
    scoreMaximum: max,
    activityProgress: m.status === 'mastered' ? 'Completed' : m.status === 'in_progress' ? 'InProgress' : 'Initialized',
    gradingProgress: hasLevel ? 'FullyGraded' : 'NotReady',
  };
}

function tokenFor(reg: Registration, c: ContextRow): LtijsIdToken {
  return {
    iss: reg.issuer, user: '', clientId: reg.clientId, deploymentId: reg.deploymentId,
    platformContext: { endpoint: { lineitems: c.lineitems_url!, scope: c.ags_scopes ? (JSON.parse(c.ags_scopes) as string[]) : [] } },
  };
}

/** Why a service call failed, without response bodies (they may echo student data). */
function reason(e: unknown): string {
  const r = (e as { response?: { statusCode?: number } }).response;
  if (r?.statusCode) return `HTTP ${r.statusCode}`;
  const code = (e as { code?: string }).code;
  return (code ?? (e as Error).message ?? 'error').slice(0, 200);
}

export async function pushGrades(
  deps: { db: Db; config: LoadedConfig; log: Logger; registrations: Registrations },
  filter: { tenantId?: string; registrationId?: string; contextId?: string } = {},
): Promise<PassbackStats> {
  const { db } = deps;
  const stats: PassbackStats = { contexts: 0, lineItemsCreated: 0, sent: 0, failed: 0, unchanged: 0, skippedContexts: 0 };
  const q = db.knex('lti_contexts').whereNotNull('lineitems_url').whereNotNull('class_id');
  if (filter.tenantId) q.where({ tenant_id: filter.tenantId });
  if (filter.registrationId) q.where({ registration_id: filter.registrationId });
  if (filter.contextId) q.where({ context_id: filter.contextId });
  const contexts = (await q.select('tenant_id', 'registration_id', 'context_id', 'class_id', 'lineitems_url', 'ags_scopes')) as ContextRow[];
  for (const c of contexts) {
    const tenant = findTenant(deps.config.config, c.tenant_id);
    const reg = await deps.registrations.byId(c.registration_id);
    const scopes = c.ags_scopes ? (JSON.parse(c.ags_scopes) as string[]) : [];
    if (!tenant || !reg || !reg.active || tenant.lti?.grades?.enabled === false || !scopes.includes(SCOPE_SCORE) || !scopes.includes(SCOPE_LINEITEM)) {
      stats.skippedContexts++;
      continue;
    }
    stats.contexts++;
    const mode = tenant.lti?.grades?.mode ?? 'competency';
    const maxAttempts = tenant.lti?.grades?.maxAttempts ?? 8;
    const learnerIds = await studentsOfClasses(db, c.tenant_id, [c.class_id!]);
    if (!learnerIds.length) continue;
    const subs = new Map<string, string>();
    for (let i = 0; i < learnerIds.length; i += 500) {
      for (const r of (await db.knex('lti_identities').where({ tenant_id: c.tenant_id, issuer: reg.issuer }).whereIn('person_id', learnerIds.slice(i, i + 500)).select('person_id', 'sub')) as { person_id: string; sub: string }[]) subs.set(r.person_id, r.sub);
    }
    const rows = await masteryOf(db, c.tenant_id, [...subs.keys()]);
    const comps = await competencies(db, c.tenant_id, [...new Set(rows.map((r) => r.competency_id))]);
    const desired: Desired[] = [];
    if (mode === 'competency') {
      for (const m of rows) {
        const comp = comps.get(m.competency_id)!;
        desired.push({ itemKey: m.competency_id, label: `${comp.code}: ${comp.statement}`.slice(0, 250), learnerId: m.learner_id, userId: subs.get(m.learner_id)!, ...scoreOf(m), sourceUpdatedAt: m.updated_at });
      }
    } else {
      const byKey = new Map<string, MasteryRow[]>();
      for (const m of rows) {
        const k = `${m.framework_id ?? 'none'}\u0000${m.learner_id}`;
        (byKey.get(k) ?? byKey.set(k, []).get(k)!).push(m);
      }
      const titles = new Map<string, string>();
      const fids = [...new Set(rows.map((r) => r.framework_id).filter((x): x is string => !!x))];
      if (fids.length) for (const r of (await db.knex('records').where({ tenant_id: c.tenant_id, entity_type: 'competencyFramework' }).whereIn('id', fids).select('id', 'data')) as { id: string; data: string }[]) titles.set(r.id, (JSON.parse(r.data) as { title: string }).title);
      for (const [k, ms] of byKey) {
        const [fid, learnerId] = k.split('\u0000');
        const vals = ms.map(normalised).filter((v): v is number => v !== null);
        const latest = ms.map((m) => m.updated_at).sort().at(-1)!;
        desired.push({
          itemKey: `framework:${fid}`, label: `Mastery: ${titles.get(fid) ?? fid}`.slice(0, 250), learnerId, userId: subs.get(learnerId)!,
          ...(vals.length ? { scoreGiven: Math.round((vals.reduce((a, b) => a + b, 0) / vals.length) * 1000) / 10 } : {}),
          scoreMaximum: 100, activityProgress: ms.every((m) => m.status === 'mastered') ? 'Completed' : ms.some((m) => m.status !== 'not_started') ? 'InProgress' : 'Initialized',
          gradingProgress: vals.length ? 'FullyGraded' : 'NotReady', sourceUpdatedAt: latest,
        });
      }
    }
    const key = { tenant_id: c.tenant_id, registration_id: c.registration_id, context_id: c.context_id };
    const sentRows = new Map(((await db.knex('lti_scores').where(key).select('item_key', 'learner_id', 'source_updated_at', 'status', 'attempts', 'next_attempt_at')) as { item_key: string; learner_id: string; source_updated_at: string; status: string; attempts: number; next_attempt_at: string | null }[])
      .map((r) => [`${r.item_key}\u0000${r.learner_id}`, r]));
    const items = new Map(((await db.knex('lti_line_items').where(key).select('item_key', 'line_item_url')) as { item_key: string; line_item_url: string }[]).map((r) => [r.item_key, r.line_item_url]));
    const token = tokenFor(reg, c);
    const now = new Date().toISOString();
    const provider = ltiProvider();
    for (const d of desired) {
      const prev = sentRows.get(`${d.itemKey}\u0000${d.learnerId}`);
      const attempts = prev && prev.source_updated_at === d.sourceUpdatedAt ? Number(prev.attempts) : 0;
      if (prev && prev.source_updated_at === d.sourceUpdatedAt) {
        if (prev.status === 'sent' || attempts >= maxAttempts || (prev.next_attempt_at && prev.next_attempt_at > now)) {
          stats.unchanged++;
          continue;
        }
      }
      const rowFields = {
        user_id: d.userId, score_given: d.scoreGiven ?? null, score_maximum: d.scoreMaximum, activity_progress: d.activityProgress,
        grading_progress: d.gradingProgress, source_updated_at: d.sourceUpdatedAt,
      };
      try {
        let url = items.get(d.itemKey);
        if (!url) {
          // Look for one made earlier (another hub database, a lost row) only when the platform granted read access.
          if (scopes.includes(SCOPE_LINEITEM_READ)) {
            const found = await provider.Grade.getLineItems(token, { resourceId: d.itemKey });
            url = found.lineItems.find((li) => li.resourceId === d.itemKey)?.id;
          }
          if (!url) {
            url = (await provider.Grade.createLineItem(token, { label: d.label, scoreMaximum: d.scoreMaximum, resourceId: d.itemKey, tag: 'learner-data-hub-mastery' })).id;
            stats.lineItemsCreated++;
          }
          await db.knex('lti_line_items').insert({ ...key, item_key: d.itemKey, line_item_url: url, label: d.label, created_at: now });
          items.set(d.itemKey, url);
        }
        await provider.Grade.submitScore(token, url, {
          userId: d.userId, activityProgress: d.activityProgress, gradingProgress: d.gradingProgress, scoreMaximum: d.scoreMaximum,
          ...(d.scoreGiven !== undefined ? { scoreGiven: d.scoreGiven } : {}),
        });
        await upsertScore(db, { ...key, item_key: d.itemKey, learner_id: d.learnerId }, { ...rowFields, status: 'sent', attempts: attempts + 1, next_attempt_at: null, last_error: null, sent_at: new Date().toISOString() });
        stats.sent++;
      } catch (e) {
        const n = attempts + 1;
        await upsertScore(db, { ...key, item_key: d.itemKey, learner_id: d.learnerId }, {
          ...rowFields, status: 'failed', attempts: n, next_attempt_at: new Date(Date.now() + backoffSeconds(n) * 1000).toISOString(), last_error: reason(e),
        });
        deps.log.warn({ registration: c.registration_id, attempts: n, error: reason(e) }, 'lti grade passback failed');
        stats.failed++;
      }
    }
  }
  return stats;
}

async function upsertScore(db: Db, key: Record<string, string>, fields: Record<string, unknown>): Promise<void> {
  const n = await db.knex('lti_scores').where(key).update(fields);
  if (!Number(n)) await db.knex('lti_scores').insert({ ...key, ...fields });
}

/** Retries due (failed scores whose back-off has passed) and new mastery, every `intervalMs`. Returns a stop function. */
export function startGradePassback(deps: Parameters<typeof pushGrades>[0], intervalMs = 5 * 60_000): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    pushGrades(deps).catch((e) => deps.log.warn({ error: reason(e) }, 'lti grade passback run failed')).finally(() => (running = false));
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
