/**
 * Credit by demonstrated competency: a course is awarded to a learner when every competency it requires is mastered,
 * whatever the seat time, and revoked when one no longer is (a later attempt pulled the level under the threshold,
 * evidence was withdrawn). Requirements come from `competencies.courses` in the configuration and from
 * `course_competencies` (the API). Each credit keeps its trail — per required competency the level, status and the
 * evidence that counted — and every award or revocation lands in the change log (entity `credit`, entity id = the
 * learner, the diff names the course).
 */
import type { Knex } from 'knex';
import type { TenantConfig } from '../core/config';
import { appendChanges, type ChangeInput } from '../store/changes';
import type { Catalog } from './catalog';
import type { Explain } from './mastery';

export interface Requirements {
  /** course id -> required competency ids */
  byCourse: Map<string, string[]>;
  /** competency id -> course ids requiring it */
  byCompetency: Map<string, string[]>;
  /** Configuration entries that could not be resolved (reported by GET /credits/requirements). */
  problems: { path: string; message: string }[];
}

export async function loadRequirements(trx: Knex | Knex.Transaction, tenant: TenantConfig, tenantIndex: number, catalog: Catalog): Promise<Requirements> {
  const byCourse = new Map<string, Set<string>>();
  const problems: Requirements['problems'] = [];
  const add = (course: string, comp: string) => (byCourse.get(course) ?? byCourse.set(course, new Set()).get(course)!).add(comp);
  for (const [i, c] of (tenant.competencies?.courses ?? []).entries()) {
    const at = `$.tenants[${tenantIndex}].competencies.courses[${i}]`;
    let courseId = c.course.id;
    if (!courseId) {
      const row = (await trx('source_records').where({ tenant_id: tenant.id, connector_id: c.course.connector, entity_type: 'course', source_id: c.course.sourceId }).whereNull('deleted_at').first('unified_id')) as { unified_id: string } | undefined;
      courseId = row?.unified_id;
    }
    if (!courseId) {
      problems.push({ path: `${at}.course`, message: `no course ${c.course.connector}:${c.course.sourceId} has been synced` });
      continue;
    }
    for (const [k, ref] of c.competencies.entries()) {
      const r = catalog.resolve(ref);
      if ('error' in r) problems.push({ path: `${at}.competencies[${k}]`, message: r.message });
      else add(courseId, r.id);
    }
  }
  const rows = (await trx('course_competencies').where({ tenant_id: tenant.id }).select('course_id', 'competency_id')) as { course_id: string; competency_id: string }[];
  for (const r of rows) add(r.course_id, r.competency_id);
  const out: Requirements = { byCourse: new Map(), byCompetency: new Map(), problems };
  for (const [course, comps] of byCourse) {
    const list = [...comps].sort();
    out.byCourse.set(course, list);
    for (const c of list) (out.byCompetency.get(c) ?? out.byCompetency.set(c, []).get(c)!).push(course);
  }
  return out;
}

interface CreditRow {
  tenant_id: string;
  learner_id: string;
  course_id: string;
  status: 'awarded' | 'revoked';
  awarded_at: string;
  revoked_at: string | null;
  trail: string;
  updated_at: string;
}

/**
 * Re-decides the credits of these (learner, course) pairs from the stored mastery (call after writeMastery, in the
 * same transaction). Returns how many were awarded and revoked.
 */
export async function decideCredits(
  trx: Knex.Transaction, tenantId: string, req: Requirements, pairs: ReadonlyMap<string, Set<string>>, catalog: Catalog,
  cause: { cause: string; runId?: string | null }, at: string,
): Promise<{ awarded: number; revoked: number }> {
  let awarded = 0;
  let revoked = 0;
  const log: ChangeInput[] = [];
  for (const [learner, courses] of pairs) {
    const allComps = [...new Set([...courses].flatMap((c) => req.byCourse.get(c) ?? []))];
    if (!allComps.length) continue;
    const mastery = new Map(((await trx('mastery').where({ tenant_id: tenantId, learner_id: learner }).whereIn('competency_id', allComps)
      .select('competency_id', 'level', 'status', 'explain')) as { competency_id: string; level: number | null; status: string; explain: string }[]).map((m) => [m.competency_id, m]));
    const existing = new Map(((await trx('credits').where({ tenant_id: tenantId, learner_id: learner }).whereIn('course_id', [...courses])) as CreditRow[]).map((c) => [c.course_id, c]));
    for (const course of courses) {
      const comps = req.byCourse.get(course) ?? [];
      if (!comps.length) continue;
      const met = comps.every((c) => mastery.get(c)?.status === 'mastered');
      const old = existing.get(course);
      const trail = comps.map((c) => {
        const m = mastery.get(c);
        const ex = m ? (JSON.parse(m.explain) as Explain) : undefined;
        return {
          competencyId: c, code: catalog.items.get(c)?.code ?? null, status: m?.status ?? 'not_started', level: m?.level ?? null,
          evidence: ex ? ex.evidence.filter((e) => (e.weight ?? 0) > 0).map((e) => e.evidenceId) : [],
        };
      });
      if (met && (!old || old.status === 'revoked')) {
        const row: CreditRow = { tenant_id: tenantId, learner_id: learner, course_id: course, status: 'awarded', awarded_at: at, revoked_at: null, trail: JSON.stringify(trail), updated_at: at };
        await trx('credits').insert(row).onConflict(['tenant_id', 'learner_id', 'course_id']).merge(['status', 'awarded_at', 'revoked_at', 'trail', 'updated_at']);
        log.push({ entityType: 'credit', entityId: learner, op: old ? 'update' : 'create', cause: cause.cause, runId: cause.runId, diff: { courseId: [old ? course : null, course], status: [old?.status ?? null, 'awarded'] } });
        awarded++;
      } else if (!met && old?.status === 'awarded') {
        await trx('credits').where({ tenant_id: tenantId, learner_id: learner, course_id: course }).update({ status: 'revoked', revoked_at: at, trail: JSON.stringify(trail), updated_at: at });
        log.push({ entityType: 'credit', entityId: learner, op: 'update', cause: cause.cause, runId: cause.runId, diff: { courseId: [course, course], status: ['awarded', 'revoked'] } });
        revoked++;
      }
    }
  }
  await appendChanges(trx, tenantId, log, at);
  return { awarded, revoked };
}
