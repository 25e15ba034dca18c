/**
 * The LTI pages' plan port (plp.ts) over the Personalized Learning Plan module (src/derive/plp/): the pages show the
 * plan the person may see (comments marked staff-only stay hidden from learners) and their forms write through the
 * same store, rules and change log as the API (`POST /api/v1/tenants/:t/learners/:id/plp/...`).
 */
import { HubError } from '../../core/errors';
import type { Db } from '../../store/db';
import { buildPlan } from '../../derive/plp/document';
import { createItem, loadItems, updateItem } from '../../derive/plp/store';
import { GOAL_STATUSES, type Actor } from '../../derive/plp/model';
import type { PlanAuthor, PlpPort } from './plp';

const ROLE: Record<string, Actor['role']> = { self: 'student', teacher: 'teacher', administrator: 'administrator', guardian: 'guardian' };

function actor(by: PlanAuthor): Actor {
  const role = ROLE[by.relation];
  if (!role) throw new HubError('forbidden', `Acting as ${by.relation}, you may not change this plan.`, [{ path: 'role', message: by.relation }]);
  return { by: `person:${by.personId}`, role };
}

const text = (v: unknown): string => (typeof v === 'string' ? v : '');

export function plpPort(db: Db): PlpPort {
  return {
    async plan(tenantId, learnerId, forRelation) {
      const doc = await buildPlan(db, tenantId, learnerId, { by: 'lti', role: ROLE[forRelation] ?? 'student' });
      return {
        available: true,
        goals: doc.goals.map((g) => ({ id: g.id, text: text(g.statement), status: text(g.status) || 'not_started' })),
        comments: doc.comments.map((c) => ({ text: text(c.text), by: c.author.name ?? undefined, at: c.createdAt })),
        supports: [...doc.supports.entered.map((s) => ({ text: [text(s.title), text(s.description)].filter(Boolean).join(': ') })), ...doc.supports.imported.map((s) => ({ text: [s.title, s.description].filter(Boolean).join(': ') }))],
      };
    },
    async add(tenantId, learnerId, kind, body, by) {
      const fields: Record<string, unknown> = kind === 'goal' ? { statement: body } : kind === 'comment' ? { text: body } : body.length > 200 ? { title: `${body.slice(0, 197)}...`, description: body } : { title: body };
      await createItem(db, tenantId, learnerId, kind, actor(by), fields);
    },
    async setGoalStatus(tenantId, learnerId, goalId, status, by) {
      if (!(GOAL_STATUSES as readonly string[]).includes(status)) throw new HubError('bad_request', `status: must be one of ${GOAL_STATUSES.join(', ')}.`, [{ path: 'status', message: GOAL_STATUSES.join(' | ') }]);
      const goal = (await loadItems(db, tenantId, learnerId, 'goal')).find((g) => g.id === goalId);
      if (!goal) throw new HubError('not_found', 'No goal with that id in this plan.', [{ path: 'goalId', message: 'not found' }]);
      await updateItem(db, tenantId, learnerId, ['goal'], goalId, actor(by), goal.version, { status });
    },
  };
}
