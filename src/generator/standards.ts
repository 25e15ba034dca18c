/**
 * The standards the synthetic district works with: a small state framework (mathematics and English language arts,
 * grades 3-11, three standards per grade and subject) and the district's own competency framework (two math and two
 * ELA competencies per grade, 3-12), aligned to the state standards. Every statement is written for this generator
 * (paraphrased, not copied from any real state's standards). Identifiers are version-5 UUIDs derived from the seed.
 *
 * The state standards' human coding scheme (`M.6.RP.1`, `ELA.6.RI.1`) is the code the interim benchmark vendor and
 * the state assessment report per-standard results under; the district competencies (`CV.M.6.1`) are what LMS
 * assignments are aligned to (lms/alignment.json).
 */
import type { District } from './model';
import { NameUuids } from './uuid';

export type Subject = 'math' | 'ela';
export const SUBJECTS: readonly Subject[] = ['math', 'ela'];
export const SUBJECT_TITLE: Record<Subject, string> = { math: 'Mathematics', ela: 'English Language Arts' };

/** Grades with state standards (and so with interim and state assessment results). */
export const STATE_GRADES: readonly number[] = [3, 4, 5, 6, 7, 8, 9, 10, 11];
/** Grades with district competencies. */
export const DISTRICT_GRADES: readonly number[] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

const MATH: Record<number, Array<[string, string]>> = {
  3: [
    ['OA.1', 'Solve multiplication and division problems within 100 using equal groups, arrays and measurement quantities.'],
    ['NF.1', 'Represent fractions as numbers on a number line and compare fractions with the same numerator or denominator.'],
    ['MD.1', 'Tell time to the nearest minute and solve problems about elapsed time.'],
  ],
  4: [
    ['NBT.1', 'Multiply whole numbers of up to four digits by a one-digit number, and two two-digit numbers, explaining the strategy used.'],
    ['NF.1', 'Recognize and generate equivalent fractions using visual models.'],
    ['G.1', 'Draw and identify points, lines, rays and angles, and classify angles as right, acute or obtuse.'],
  ],
  5: [
    ['NBT.1', 'Divide whole numbers with up to four-digit dividends and two-digit divisors.'],
    ['NF.1', 'Add and subtract fractions and mixed numbers with unlike denominators.'],
    ['MD.1', 'Find the volume of right rectangular prisms by packing unit cubes and by using formulas.'],
  ],
  6: [
    ['RP.1', 'Describe relationships between two quantities with ratio language and ratio notation.'],
    ['NS.1', 'Divide fractions by fractions and solve word problems involving division of fractions.'],
    ['EE.1', 'Write, read and evaluate expressions with variables and whole-number exponents.'],
  ],
  7: [
    ['RP.1', 'Compute unit rates and recognize proportional relationships in tables, graphs and equations.'],
    ['NS.1', 'Add, subtract, multiply and divide positive and negative rational numbers.'],
    ['EE.1', 'Solve multi-step real-world problems with rational numbers using equations and inequalities.'],
  ],
  8: [
    ['EE.1', 'Solve linear equations in one variable, including equations with variables on both sides.'],
    ['F.1', 'Understand that a function assigns exactly one output to each input, and compare functions represented in different ways.'],
    ['G.1', 'Use the Pythagorean theorem to find unknown side lengths and distances.'],
  ],
  9: [
    ['A.1', 'Create and solve linear equations and inequalities in one variable to model situations.'],
    ['F.1', 'Interpret key features of linear and quadratic functions from graphs, tables and equations.'],
    ['A.2', 'Solve quadratic equations by factoring, completing the square and the quadratic formula.'],
  ],
  10: [
    ['G.1', 'Prove and apply theorems about lines, angles and triangles.'],
    ['G.2', 'Use similarity and congruence transformations to solve problems.'],
    ['G.3', 'Use trigonometric ratios to solve problems with right triangles.'],
  ],
  11: [
    ['F.1', 'Build and interpret exponential and logarithmic models.'],
    ['A.1', 'Solve systems of equations, including systems with a nonlinear equation.'],
    ['S.1', 'Summarize and interpret data using measures of center and spread and the normal distribution.'],
  ],
};

const ELA_BANDS: Array<{ grades: number[]; stmts: [string, string, string] }> = [
  {
    grades: [3, 4, 5],
    stmts: [
      'Refer to details and examples in a story when explaining what it says and when drawing inferences.',
      'Determine the main idea of an informational text and explain how key details support it.',
      'Determine the meaning of unknown words using context clues, affixes and roots.',
    ],
  },
  {
    grades: [6, 7, 8],
    stmts: [
      'Cite textual evidence that supports an analysis of what a literary text says explicitly and what it implies.',
      'Determine a central idea of an informational text and analyze how it is developed over the course of the text.',
      'Determine the meaning of words and phrases, including figurative and connotative meanings, using context and reference materials.',
    ],
  },
  {
    grades: [9, 10, 11],
    stmts: [
      'Cite strong and thorough textual evidence to support analysis of a literary text, including where the text leaves matters uncertain.',
      'Determine two or more central ideas of an informational text and analyze how they interact and build on one another.',
      'Analyze nuances in word meanings and the cumulative impact of word choice on meaning and tone.',
    ],
  },
];
const ELA_DOMAINS = ['RL.1', 'RI.1', 'L.1'];

/** District competencies per grade: statement, the state standard (index among the grade's three) it exactly matches, those it relates to. */
interface CompetencyDef {
  statement: string;
  exact?: number;
  related?: number[];
}

const DISTRICT_MATH: Record<number, [CompetencyDef, CompetencyDef]> = {
  3: [{ statement: 'I can solve multiplication and division problems within 100.', exact: 0 }, { statement: 'I can place and compare fractions on a number line.', exact: 1 }],
  4: [{ statement: 'I can multiply multi-digit numbers and explain my strategy.', exact: 0 }, { statement: 'I can find and explain equivalent fractions.', exact: 1 }],
  5: [{ statement: 'I can divide multi-digit whole numbers.', exact: 0 }, { statement: 'I can add and subtract fractions with unlike denominators.', exact: 1, related: [2] }],
  6: [{ statement: 'I can use ratios to describe relationships between quantities.', exact: 0 }, { statement: 'I can divide fractions and write expressions to solve problems.', related: [1, 2] }],
  7: [{ statement: 'I can compute with positive and negative rational numbers.', exact: 1 }, { statement: 'I can solve multi-step problems with equations, inequalities and unit rates.', related: [0, 2] }],
  8: [{ statement: 'I can solve linear equations in one variable.', exact: 0 }, { statement: 'I can use functions and the Pythagorean theorem to model relationships.', related: [1, 2] }],
  9: [{ statement: 'I can write and solve linear equations and inequalities.', exact: 0 }, { statement: 'I can interpret functions and solve quadratic equations.', related: [1, 2] }],
  10: [{ statement: 'I can prove statements about lines, angles and triangles.', exact: 0 }, { statement: 'I can use similarity and trigonometry to solve problems.', related: [1, 2] }],
  11: [{ statement: 'I can model situations with exponential functions.', exact: 0 }, { statement: 'I can solve systems of equations and interpret data sets.', related: [1, 2] }],
  12: [{ statement: 'I can analyze polynomial and rational functions.' }, { statement: 'I can use limits to describe how a function behaves.' }],
};

const DISTRICT_ELA_BANDS: Array<{ grades: number[]; comps: [CompetencyDef, CompetencyDef] }> = [
  { grades: [3, 4, 5], comps: [{ statement: 'I can use details from a story to explain what it says.', exact: 0 }, { statement: 'I can find the main idea of an informational text and use clues to understand new words.', related: [1, 2] }] },
  { grades: [6, 7, 8], comps: [{ statement: 'I can cite text evidence to support my analysis of a story.', exact: 0 }, { statement: 'I can trace how a central idea develops and how word choice shapes meaning.', related: [1, 2] }] },
  { grades: [9, 10, 11, 12], comps: [{ statement: 'I can cite strong evidence to support my analysis of literature.', exact: 0 }, { statement: 'I can analyze how central ideas and word choice build an argument.', related: [1, 2] }] },
];

export interface Node {
  identifier: string;
  uri: string;
  code: string;
  statement: string;
  type: string;
  grade?: number;
  subject?: Subject;
  /** Parent node identifier (the document for top-level nodes) and position among siblings. */
  parent: string;
  parentCode: string;
  sequence: number;
}

export interface Standard extends Node {
  grade: number;
  subject: Subject;
}

export interface Competency extends Standard {
  exact?: Standard;
  related: Standard[];
}

export interface FrameworkDoc {
  identifier: string;
  uri: string;
  title: string;
  creator: string;
  publisher: string;
  version: string;
  adoptionStatus: string;
  lastChangeDateTime: string;
  base: string;
  /** Every item, parents before children, in file order. */
  nodes: Node[];
}

const DISTRICT_INITIALS = (name: string): string =>
  name.replace(/ Independent School District$/, '').split(/\s+/).map((w) => w[0].toUpperCase()).join('');

const slug = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

export class Standards {
  readonly state: FrameworkDoc;
  readonly district: FrameworkDoc;
  /** State standards by `${subject}:${grade}`, three each, in order. */
  private readonly stateBy = new Map<string, Standard[]>();
  private readonly districtBy = new Map<string, Competency[]>();
  readonly stateStandards: Standard[] = [];
  readonly competencies: Competency[] = [];
  readonly uuids: NameUuids;
  /** The district's competency code prefix, e.g. CV for Cedar Valley ISD. */
  readonly prefix: string;

  constructor(d: District) {
    this.uuids = new NameUuids(d.seed, 'case');
    const u = this.uuids;

    // State framework.
    const stateBase = 'https://standards.state.example/ims/case/v1p1';
    const stateDocId = u.of('state:document');
    this.state = {
      identifier: stateDocId,
      uri: `${stateBase}/CFDocuments/${stateDocId}`,
      title: 'State Learning Standards for Mathematics and English Language Arts, Grades 3-11 (synthetic)',
      creator: 'State Education Agency (synthetic)',
      publisher: 'State Education Agency (synthetic)',
      version: '2025',
      adoptionStatus: 'Adopted',
      lastChangeDateTime: '2025-06-02T15:00:00+00:00',
      base: stateBase,
      nodes: [],
    };
    const stateNode = (key: string, n: Omit<Node, 'identifier' | 'uri'>): Node => {
      const identifier = u.of(`state:${key}`);
      const node: Node = { identifier, uri: `${stateBase}/CFItems/${identifier}`, ...n };
      this.state.nodes.push(node);
      return node;
    };
    SUBJECTS.forEach((subject, si) => {
      const sc = subject === 'math' ? 'M' : 'ELA';
      const top = stateNode(`subject:${subject}`, {
        code: sc, statement: SUBJECT_TITLE[subject], type: 'Subject', subject, parent: stateDocId, parentCode: this.state.title, sequence: si + 1,
      });
      STATE_GRADES.forEach((g, gi) => {
        const grade = stateNode(`grade:${subject}:${g}`, {
          code: `${sc}.${g}`, statement: `Grade ${g} ${SUBJECT_TITLE[subject]}`, type: 'Grade Level', grade: g, subject,
          parent: top.identifier, parentCode: top.code, sequence: gi + 1,
        });
        const defs: Array<[string, string]> =
          subject === 'math' ? MATH[g] : ELA_BANDS.find((b) => b.grades.includes(g))!.stmts.map((s, k) => [ELA_DOMAINS[k], s]);
        const list: Standard[] = defs.map(([dom, statement], k) => {
          const code = `${sc}.${g}.${dom}`;
          return stateNode(`standard:${code}`, {
            code, statement, type: 'Standard', grade: g, subject, parent: grade.identifier, parentCode: grade.code, sequence: k + 1,
          }) as Standard;
        });
        this.stateBy.set(`${subject}:${g}`, list);
        this.stateStandards.push(...list);
      });
    });

    // District framework.
    this.prefix = DISTRICT_INITIALS(d.district.name);
    const districtSlug = slug(d.district.name.replace('Independent School District', 'ISD'));
    const districtBase = `https://curriculum.${districtSlug}.example/ims/case/v1p1`;
    const districtDocId = u.of('district:document');
    this.district = {
      identifier: districtDocId,
      uri: `${districtBase}/CFDocuments/${districtDocId}`,
      title: `${d.district.name.replace('Independent School District', 'ISD')} Competencies: Mathematics and English Language Arts, Grades 3-12`,
      creator: `${d.district.name} Curriculum and Instruction (synthetic)`,
      publisher: `${d.district.name} (synthetic)`,
      version: '2026-27',
      adoptionStatus: 'Implemented',
      lastChangeDateTime: '2026-08-10T14:30:00+00:00',
      base: districtBase,
      nodes: [],
    };
    const districtNode = (key: string, n: Omit<Node, 'identifier' | 'uri'>): Node => {
      const identifier = u.of(`district:${key}`);
      const node: Node = { identifier, uri: `${districtBase}/CFItems/${identifier}`, ...n };
      this.district.nodes.push(node);
      return node;
    };
    SUBJECTS.forEach((subject, si) => {
      const sc = `${this.prefix}.${subject === 'math' ? 'M' : 'ELA'}`;
      const top = districtNode(`subject:${subject}`, {
        code: sc, statement: SUBJECT_TITLE[subject], type: 'Subject', subject, parent: districtDocId, parentCode: this.district.title, sequence: si + 1,
      });
      DISTRICT_GRADES.forEach((g, gi) => {
        const grade = districtNode(`grade:${subject}:${g}`, {
          code: `${sc}.${g}`, statement: `Grade ${g} ${SUBJECT_TITLE[subject]} competencies`, type: 'Grade Level', grade: g, subject,
          parent: top.identifier, parentCode: top.code, sequence: gi + 1,
        });
        const defs = subject === 'math' ? DISTRICT_MATH[g] : DISTRICT_ELA_BANDS.find((b) => b.grades.includes(g))!.comps;
        const state = this.stateBy.get(`${subject}:${g}`) ?? [];
        const list: Competency[] = defs.map((def, k) => {
          const code = `${sc}.${g}.${k + 1}`;
          const node = districtNode(`competency:${code}`, {
            code, statement: def.statement, type: 'Competency', grade: g, subject, parent: grade.identifier, parentCode: grade.code, sequence: k + 1,
          }) as Competency;
          node.exact = def.exact !== undefined ? state[def.exact] : undefined;
          node.related = (def.related ?? []).map((x) => state[x]).filter((x): x is Standard => x !== undefined);
          return node;
        });
        this.districtBy.set(`${subject}:${g}`, list);
        this.competencies.push(...list);
      });
    });
  }

  /** The three state standards of a grade and subject (empty outside grades 3-11). */
  stateFor(subject: Subject, grade: number): readonly Standard[] {
    return this.stateBy.get(`${subject}:${grade}`) ?? [];
  }

  /** The two district competencies of a grade and subject (empty outside grades 3-12). */
  competenciesFor(subject: Subject, grade: number): readonly Competency[] {
    return this.districtBy.get(`${subject}:${grade}`) ?? [];
  }
}
