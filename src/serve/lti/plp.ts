/**
 * The learner's plan (PLP) as the LTI pages need it. The PLP itself (goals, comments, supports, their history and
 * who may change what) belongs to the PLP module; the pages read and write it only through this port, so the LTI
 * code does not depend on how the PLP is stored. The default implementation is plp-port.ts (the PLP module);
 * `buildApp({ plp })` can replace it. A port that answers `available: false` makes the pages say the plan is not
 * installed and hide the forms.
 */
import type { PlanView } from './views';

export interface PlanAuthor {
  personId: string;
  /** How the author relates to the learner (access.ts): self, teacher, administrator. */
  relation: string;
  via: string;
}

export interface PlpPort {
  plan(tenantId: string, learnerId: string, forRelation: string): Promise<PlanView>;
  add(tenantId: string, learnerId: string, kind: 'goal' | 'comment' | 'support', text: string, by: PlanAuthor): Promise<void>;
  setGoalStatus(tenantId: string, learnerId: string, goalId: string, status: string, by: PlanAuthor): Promise<void>;
}
