/**
 * The alignment graph of CASE crosswalks, for the competency rollups: which competencies an item is aligned to
 * (exactMatchOf, isRelatedTo — possibly across frameworks), which ones are equivalent, and which alignments loop
 * back so that evidence for a competency would count toward itself.
 *
 * Direction: an association says "origin <type> destination", so an edge runs origin -> destination ("evidence for
 * the origin counts toward the destination"). A reciprocal pair (A exactMatchOf B and B exactMatchOf A) is a cycle
 * of two: a rollup that follows edges would credit A with A's own evidence. Pure: no I/O, deterministic output.
 */

/** The fields crosswalkGraph reads: the unified competencyAssociation shape (or any object with these fields). */
export interface CrosswalkAssociation {
  associationType: string;
  originCaseId: string;
  destinationCaseId: string;
  /** The association's own CASE identifier, reported with the edges of a cycle. */
  caseId?: string;
  /** The framework that publishes the association. */
  frameworkId?: string;
}

export interface CrosswalkEdge {
  from: string;
  to: string;
  type: string;
  associationId?: string;
  frameworkId?: string;
}

export interface CrosswalkCycle {
  /** The competencies that reach each other through alignments (a strongly connected component), sorted. */
  members: string[];
  /** One concrete loop through the component, first id repeated at the end: [a, b, c, a]. */
  path: string[];
  /** The alignments between members: what an editor would have to remove to break the loop. */
  edges: CrosswalkEdge[];
}

export interface CrosswalkGraph {
  /** Every CASE identifier at an end of an alignment, sorted. */
  nodes: string[];
  /** Alignments in input order (other association types are ignored). */
  edges: CrosswalkEdge[];
  /** Outgoing alignments per origin. */
  out: ReadonlyMap<string, readonly CrosswalkEdge[]>;
  /** Groups of two or more competencies joined by exactMatchOf in either direction (sorted). */
  equivalenceClasses: string[][];
  /** Loops of alignment, deterministic order (by first member). Empty when the alignments form no loop. */
  cycles: CrosswalkCycle[];
}

/** The association types that align competencies. */
export const ALIGNMENT_TYPES = ['exactMatchOf', 'isRelatedTo'] as const;

export function crosswalkGraph(
  associations: Iterable<CrosswalkAssociation>,
  options: { types?: readonly string[] } = {},
): CrosswalkGraph {
  const types = new Set<string>(options.types ?? ALIGNMENT_TYPES);
  const edges: CrosswalkEdge[] = [];
  const out = new Map<string, CrosswalkEdge[]>();
  const nodeSet = new Set<string>();
  for (const a of associations) {
    if (!a || !types.has(a.associationType)) continue;
    if (typeof a.originCaseId !== 'string' || typeof a.destinationCaseId !== 'string') continue;
    const e: CrosswalkEdge = { from: a.originCaseId, to: a.destinationCaseId, type: a.associationType };
    if (a.caseId !== undefined) e.associationId = a.caseId;
    if (a.frameworkId !== undefined) e.frameworkId = a.frameworkId;
    edges.push(e);
    nodeSet.add(e.from);
    nodeSet.add(e.to);
    const l = out.get(e.from);
    if (l) l.push(e);
    else out.set(e.from, [e]);
  }
  const nodes = [...nodeSet].sort();
  return { nodes, edges, out, equivalenceClasses: equivalence(nodes, edges), cycles: cycles(nodes, out) };
}

/** Connected components of the exactMatchOf edges, ignoring direction (union-find). */
function equivalence(nodes: string[], edges: CrosswalkEdge[]): string[][] {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let r = x;
    while (parent.get(r) !== r) r = parent.get(r)!;
    while (parent.get(x) !== r) {
      const next = parent.get(x)!;
      parent.set(x, r);
      x = next;
    }
    return r;
  };
  for (const n of nodes) parent.set(n, n);
  for (const e of edges) {
    if (e.type !== 'exactMatchOf') continue;
    const a = find(e.from);
    const b = find(e.to);
    if (a !== b) parent.set(a < b ? b : a, a < b ? a : b);
  }
  const groups = new Map<string, string[]>();
  for (const n of nodes) {
    const r = find(n);
    const g = groups.get(r);
    if (g) g.push(n);
    else groups.set(r, [n]);
  }
  return [...groups.values()].filter((g) => g.length > 1).sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

/**
 * Strongly connected components (Tarjan, iterative so a long chain cannot overflow the stack); a component of two
 * or more, or one node aligned to itself, is a cycle.
 */
function cycles(nodes: string[], out: Map<string, CrosswalkEdge[]>): CrosswalkCycle[] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const found: CrosswalkCycle[] = [];
  let next = 0;

  for (const root of nodes) {
    if (index.has(root)) continue;
    const work: { node: string; edge: number }[] = [{ node: root, edge: 0 }];
    index.set(root, next);
    low.set(root, next++);
    stack.push(root);
    onStack.add(root);
    while (work.length) {
      const frame = work[work.length - 1];
      const succ = out.get(frame.node) ?? [];
      if (frame.edge < succ.length) {
        const w = succ[frame.edge++].to;
        if (!index.has(w)) {
          index.set(w, next);
          low.set(w, next++);
          stack.push(w);
          onStack.add(w);
          work.push({ node: w, edge: 0 });
        } else if (onStack.has(w)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(w)!));
        }
        continue;
      }
      work.pop();
      if (work.length) {
        const parent = work[work.length - 1].node;
        low.set(parent, Math.min(low.get(parent)!, low.get(frame.node)!));
      }
      if (low.get(frame.node) === index.get(frame.node)) {
        const members: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          members.push(w);
        } while (w !== frame.node);
        const set = new Set(members);
        const inner = members.flatMap((m) => (out.get(m) ?? []).filter((e) => set.has(e.to)));
        if (members.length > 1 || inner.length > 0) {
          members.sort();
          found.push({ members, path: loopThrough(members[0], set, out), edges: inner.sort(byEnds) });
        }
      }
    }
  }
  return found.sort((a, b) => (a.members[0] < b.members[0] ? -1 : 1));
}

function byEnds(a: CrosswalkEdge, b: CrosswalkEdge): number {
  return a.from < b.from ? -1 : a.from > b.from ? 1 : a.to < b.to ? -1 : a.to > b.to ? 1 : 0;
}

/** A shortest loop from `start` back to itself inside the component (breadth-first). */
function loopThrough(start: string, members: Set<string>, out: Map<string, CrosswalkEdge[]>): string[] {
  const prev = new Map<string, string>();
  const queue: string[] = [start];
  for (let i = 0; i < queue.length; i++) {
    const n = queue[i];
    const succ = [...(out.get(n) ?? [])].filter((e) => members.has(e.to)).sort(byEnds);
    for (const e of succ) {
      if (e.to === start) {
        const path = [start];
        for (let c = n; c !== start; c = prev.get(c)!) path.splice(1, 0, c);
        path.push(start);
        return path;
      }
      if (!prev.has(e.to)) {
        prev.set(e.to, n);
        queue.push(e.to);
      }
    }
  }
  return [start, start]; // unreachable for a real component
}
