/**
 * What a Personalized Learning Plan holds, who may write which part of it, and how an entry's fields are checked.
 *
 * Sections (each entry is one `plp_items` row; its section-specific fields are listed in SECTION_FIELDS):
 *
 *   goal               what the student will do, what they need from teachers, aligned competencies, target date,
 *                      status (not_started | in_progress | achieved | revised | dropped)
 *   support            a support or intervention entered in the hub: what, who provides it, start/end, frequency,
 *                      outcome (imported `intervention` records are shown beside them, read-only, not stored here)
 *   comment            a teacher's comment; `visibility: "family"` (default: the learner and guardians see it) or
 *                      `"staff"` (teachers of the learner, administrators and service keys only)
 *   strength, challenge, interest, learningPreference, accessibility
 *                      short statements with an optional note
 *   sel                a social-emotional rating or note for one of the five CASEL competencies, dated, so the
 *                      section is a history of ratings over time
 *
 * The plan never holds protected program flags (IEP, 504, English learner): there is no field for them, and the
 * imported records they live in (`programParticipation`) are never read by the plan.
 */
import { HubError } from '../../core/errors';

export const SECTIONS = ['goal', 'support', 'comment', 'strength', 'challenge', 'interest', 'learningPreference', 'accessibility', 'sel'] as const;
export type Section = (typeof SECTIONS)[number];

/** Sections edited through `/plp/items` (goals, supports and comments have their own routes). */
export const ITEM_SECTIONS = ['strength', 'challenge', 'interest', 'learningPreference', 'accessibility', 'sel'] as const satisfies readonly Section[];

export const GOAL_STATUSES = ['not_started', 'in_progress', 'achieved', 'revised', 'dropped'] as const;
export const SEL_COMPETENCIES = ['selfAwareness', 'selfManagement', 'socialAwareness', 'relationshipSkills', 'responsibleDecisionMaking'] as const;
export const SEL_LABELS: Record<(typeof SEL_COMPETENCIES)[number], string> = {
  selfAwareness: 'Self-awareness',
  selfManagement: 'Self-management',
  socialAwareness: 'Social awareness',
  relationshipSkills: 'Relationship skills',
  responsibleDecisionMaking: 'Responsible decision-making',
};
/** SEL ratings: 1 beginning, 2 developing, 3 secure, 4 exceeding. */
export const SEL_RATING_LABELS = ['', 'Beginning', 'Developing', 'Secure', 'Exceeding'] as const;
export const COMMENT_VISIBILITIES = ['family', 'staff'] as const;

/** Limits: text fields, aligned competencies per goal, live entries per section and learner. */
export const LIMITS = { shortText: 200, text: 2000, longText: 4000, competencies: 50, entriesPerSection: 200 } as const;

/** Who is acting, as the plan sees it. `service` is an API key with `plp.write` (or `admin`). */
export type Actor = { by: string; role: 'student' | 'guardian' | 'teacher' | 'administrator' | 'service' };

type FieldKind =
  | { t: 'text'; max: number; required?: boolean }
  | { t: 'date'; required?: boolean }
  | { t: 'enum'; values: readonly string[]; required?: boolean }
  | { t: 'rating' }
  | { t: 'ids'; max: number };

const text = (max: number, required = false): FieldKind => ({ t: 'text', max, required });
const statement = { text: text(LIMITS.text, true), note: text(LIMITS.text) };

export const SECTION_FIELDS: Record<Section, Record<string, FieldKind>> = {
  goal: {
    statement: text(LIMITS.text, true), // what the student will do
    teacherSupport: text(LIMITS.text), // what they need from teachers
    competencyIds: { t: 'ids', max: LIMITS.competencies },
    targetDate: { t: 'date' },
    status: { t: 'enum', values: GOAL_STATUSES },
  },
  support: {
    title: text(LIMITS.shortText, true),
    description: text(LIMITS.text),
    provider: text(LIMITS.shortText),
    startDate: { t: 'date' },
    endDate: { t: 'date' },
    frequency: text(LIMITS.shortText),
    status: text(LIMITS.shortText),
    outcome: text(LIMITS.text),
  },
  comment: {
    text: text(LIMITS.longText, true),
    visibility: { t: 'enum', values: COMMENT_VISIBILITIES },
  },
  strength: statement,
  challenge: statement,
  interest: statement,
  learningPreference: statement,
  accessibility: statement,
  sel: {
    competency: { t: 'enum', values: SEL_COMPETENCIES, required: true },
    rating: { t: 'rating' },
    note: text(LIMITS.text),
    observedOn: { t: 'date' },
  },
};

const bad = (path: string, message: string) => new HubError('bad_request', `${path}: ${message}`, [{ path, message }]);

/** A real calendar date, YYYY-MM-DD (2025-02-30 is refused). */
export function isCalendarDate(v: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.getUTCFullYear() === Number(m[1]) && d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]);
}

/**
 * Checks a create (`partial: false`) or a patch (`partial: true`) body for a section: unknown fields, types, sizes,
 * dates, enumerations. `null` in a patch clears an optional field. Returns the fields to store (patches: only the
 * fields given). Every problem is a 400 naming the field.
 */
export function checkFields(section: Section, body: Record<string, unknown>, partial: boolean, ignore: readonly string[] = []): Record<string, unknown> {
  const spec = SECTION_FIELDS[section];
  const unknown = Object.keys(body).filter((k) => !(k in spec) && !ignore.includes(k));
  if (unknown.length) {
    throw new HubError('bad_request', `${unknown.join(', ')}: not a known field of a ${section} (known: ${Object.keys(spec).join(', ')})`,
      unknown.map((k) => ({ path: k, message: `is not a known field of a ${section}` })));
  }
  const out: Record<string, unknown> = {};
  for (const [name, kind] of Object.entries(spec)) {
    if (!(name in body)) {
      if (!partial && 'required' in kind && kind.required) throw bad(name, 'is required');
      continue;
    }
    const v = body[name];
    if (v === null) {
      if ('required' in kind && kind.required) throw bad(name, 'is required and cannot be cleared');
      out[name] = null;
      continue;
    }
    switch (kind.t) {
      case 'text': {
        if (typeof v !== 'string') throw bad(name, 'must be a string');
        const s = v.trim();
        if (kind.required && !s) throw bad(name, 'must not be empty');
        if (s.length > kind.max) throw bad(name, `is ${s.length} characters long; at most ${kind.max} are allowed`);
        out[name] = s;
        break;
      }
      case 'date':
        if (typeof v !== 'string' || !isCalendarDate(v)) throw bad(name, 'must be a calendar date, YYYY-MM-DD');
        out[name] = v;
        break;
      case 'enum':
        if (typeof v !== 'string' || !kind.values.includes(v)) throw bad(name, `must be one of: ${kind.values.join(', ')}`);
        out[name] = v;
        break;
      case 'rating':
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 4) throw bad(name, 'must be an integer from 1 (beginning) to 4 (exceeding)');
        out[name] = v;
        break;
      case 'ids': {
        if (!Array.isArray(v)) throw bad(name, 'must be an array of ids');
        if (v.length > kind.max) throw bad(name, `lists ${v.length} ids; at most ${kind.max} are allowed`);
        v.forEach((x, i) => {
          if (typeof x !== 'string' || !x || x.length > 64) throw bad(`${name}[${i}]`, 'must be an id (a non-empty string of at most 64 characters)');
        });
        out[name] = [...new Set(v as string[])];
        break;
      }
    }
  }
  return out;
}

/** Cross-field rules on the merged fields of an entry (after a patch is applied). */
export function checkEntry(section: Section, f: Record<string, unknown>): void {
  if (section === 'support' && typeof f.startDate === 'string' && typeof f.endDate === 'string' && f.endDate < f.startDate) {
    throw bad('endDate', `${f.endDate} is before startDate ${f.startDate}`);
  }
  if (section === 'sel' && f.rating == null && !f.note) throw bad('rating', 'a social-emotional entry needs a rating, a note, or both');
}

/** Defaults filled in on create. */
export function withDefaults(section: Section, f: Record<string, unknown>, today: string): Record<string, unknown> {
  if (section === 'goal') return { status: 'not_started', competencyIds: [], ...f };
  if (section === 'comment') return { visibility: 'family', ...f };
  if (section === 'sel') return { observedOn: today, ...f };
  return f;
}

export const STAFF_ROLES: readonly Actor['role'][] = ['teacher', 'administrator', 'service'];
export const isStaff = (a: Actor): boolean => STAFF_ROLES.includes(a.role);

/**
 * Who may add an entry to a section of a learner's plan (the caller already sees the learner):
 *   goal               the student, a linked guardian (a proposal), teachers, administrators, service keys
 *   support, comment   teachers, administrators, service keys
 *   sel                the student (a self-rating), teachers, administrators, service keys
 *   other sections     the student, a linked guardian, teachers, administrators, service keys
 */
export function mayCreate(section: Section, a: Actor): boolean {
  if (isStaff(a)) return true;
  if (section === 'support' || section === 'comment') return false;
  if (section === 'sel') return a.role === 'student';
  return a.role === 'student' || a.role === 'guardian';
}

/**
 * Who may change or delete an entry: staff may change any entry except another person's comment (its author or an
 * administrator / service key may); a student may update any goal of their own plan (not delete one they did not
 * write) and change their own other entries; a guardian only the entries they wrote.
 */
export function mayModify(section: Section, a: Actor, item: { createdBy: string }, op: 'update' | 'delete'): boolean {
  const own = item.createdBy === a.by;
  if (section === 'comment') return own || a.role === 'administrator' || a.role === 'service';
  if (isStaff(a)) return true;
  if (!mayCreate(section, a)) return false;
  if (a.role === 'student' && section === 'goal' && op === 'update') return true;
  return own;
}

/** Entries visible to the actor: staff-only comments are left out for students and guardians. */
export function visibleTo(a: Actor, visibility: string): boolean {
  return visibility !== 'staff' || isStaff(a);
}
