/**
 * Parent-first ordering for self-referencing files (orgs.parentSourcedId, academicSessions.parentSourcedId).
 *
 * The runtime resolves a reference only against records it already has, so a parent must be yielded before its
 * children. Order produced:
 *  1. records without a parent, then their descendants (breadth first, file order among siblings);
 *  2. records whose parent is not in this file (it may already be stored from an earlier run; if not, the runtime
 *     rejects them as reference_unresolved), then their descendants;
 *  3. records caught in a parent cycle, in file order (the runtime rejects what it cannot resolve);
 *  4. deletions last, so that children re-parented in the same delta are moved before their old parent goes.
 */
import type { SourceRecord } from '../../src/ingest/contract';

export function parentsFirst(records: SourceRecord[]): SourceRecord[] {
  const live: SourceRecord[] = [];
  const deletions: SourceRecord[] = [];
  for (const r of records) (r.deleted ? deletions : live).push(r);

  const inFile = new Set<string>();
  for (const r of live) inFile.add(r.sourceId);

  const children = new Map<string, SourceRecord[]>();
  const roots: SourceRecord[] = [];
  const orphans: SourceRecord[] = [];
  for (const r of live) {
    const parent = r.data.parentId as string | undefined;
    if (parent === undefined) roots.push(r);
    else if (!inFile.has(parent)) orphans.push(r);
    else {
      const list = children.get(parent);
      if (list) list.push(r);
      else children.set(parent, [r]);
    }
  }

  const out: SourceRecord[] = [];
  const placed = new Set<SourceRecord>();
  const walk = (start: SourceRecord[]): void => {
    const queue = [...start];
    for (let i = 0; i < queue.length; i++) {
      const r = queue[i];
      if (placed.has(r)) continue;
      placed.add(r);
      out.push(r);
      const kids = children.get(r.sourceId);
      if (kids) for (const k of kids) queue.push(k);
    }
  };
  walk(roots);
  walk(orphans);
  for (const r of live) if (!placed.has(r)) out.push(r); // cycles
  for (const r of deletions) out.push(r);
  return out;
}
