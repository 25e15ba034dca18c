/**
 * The 1.2 learning-objective files (CASE alignment) joined to their parents.
 *
 * `lineItemLearningObjectiveIds.csv` and `resultLearningObjectiveIds.csv` hold one row per (parent, objective); the
 * unified model keeps the objectives *inside* the parent (`lineItem.alignment`, `result.learningObjectiveResults`).
 * The join: before a parent file is streamed, its objective file is read whole into an index keyed by the parent's
 * sourcedId (compact items, not rows); each parent row then takes its objectives out of the index (which shrinks as
 * the parent file goes by). Memory is bounded by the objective file — LIMITS.objectiveRows rows, past which the read
 * fails with source_invalid — never by the parent file: results.csv, the biggest file of an export, still streams.
 *
 * Why not the other way round (index the parents, stream the objectives): the parent file is the big one, and the
 * records must leave with their objectives already in them (the runtime replaces a record whole).
 */
import type { Reject, SourceRecord } from '../../src/ingest/contract';
import type { FileMode } from './manifest';
import type { MapResult, ObjectiveResult, Row, RowContext } from './mappers';

/**
 * The most rows an objective file may have. Measured: ~110 bytes a row in the index when objective ids repeat
 * (one objective, many students), ~170 when every id is distinct. An object, so tests can lower it.
 */
export const LIMITS = { objectiveRows: 2_000_000 };

/** The objective file of a parent stream, and how its rows join. */
export interface ObjectiveSpec {
  /** Manifest key and file (`lineItemLearningObjectiveIds`, `lineItemLearningObjectiveIds.csv`). */
  key: string;
  file: string;
  /** The column naming the parent (`lineItemSourcedId` / `resultSourcedId`). */
  parentColumn: string;
  /** The parent file and what its records are called in messages. */
  parentFile: string;
  parentLabel: string;
  /** The unified field of the parent the items go to. */
  field: 'alignment' | 'learningObjectiveResults';
  map(row: Row, ctx: RowContext): ObjectiveResult;
}

/** The first rejected row of a parent, and how many more. */
interface Fault {
  reject: Reject;
  more: number;
}

/** The flat list back to `{ref, source, score?, textScore?}` items (key order as the mappers make them). */
function unpack(flat: Array<string | number | undefined>): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < flat.length; i += 4) {
    const item: Record<string, unknown> = { ref: flat[i], source: flat[i + 1] };
    if (flat[i + 2] !== undefined) item.score = flat[i + 2];
    if (flat[i + 3] !== undefined) item.textScore = flat[i + 3];
    out.push(item);
  }
  return out;
}

/** Interned strings: objective ids and sources repeat across thousands of rows (one objective, many students). */
const MAX_INTERNED = 100_000;

export class ObjectiveIndex {
  /**
   * Items per parent sourcedId, in file order, flat: `[ref, source, score, textScore, ref, source, …]` (a third of
   * the memory of one object per item). A parent whose rows are all `tobedeleted` has an empty list.
   */
  private readonly items = new Map<string, Array<string | number | undefined>>();
  /** Parents with a rejected row (rare). */
  private readonly faults = new Map<string, Fault>();
  private readonly strings = new Map<string, string>();
  /** The rejected rows of the objective file, in file order (reported once, with the stream's first page). */
  readonly rejects: Reject[] = [];
  /** Data rows read, rejected ones included. */
  rows = 0;

  constructor(
    readonly spec: ObjectiveSpec,
    /** The objective file's own manifest mode. */
    readonly mode: FileMode,
  ) {}

  /** Adds one mapped row (or a row that could not be parsed at all: a reject without a parent). */
  add(r: ObjectiveResult): void {
    this.rows++;
    if (r.reject) {
      this.rejects.push(r.reject);
      if (r.parentId !== undefined) {
        const f = this.faults.get(r.parentId);
        if (f) f.more++;
        else this.faults.set(r.parentId, { reject: r.reject, more: 0 });
      }
      return;
    }
    const { parentId, deleted, item } = r.objective;
    let list = this.items.get(parentId);
    if (!list) this.items.set(parentId, (list = []));
    if (!deleted && item) {
      list.push(this.intern(item.ref as string), this.intern(item.source as string), item.score as number | undefined, item.textScore as string | undefined);
    }
  }

  private intern(v: string): string {
    const shared = this.strings.get(v);
    if (shared !== undefined) return shared;
    if (this.strings.size < MAX_INTERNED) this.strings.set(v, v);
    return v;
  }

  /**
   * Attaches its objectives to a mapped parent row, taking them out of the index (a parent row read twice finds
   * nothing the second time). A deleted parent just consumes them; a parent with a rejected objective row is
   * rejected too (with its own sourceId, so a full refresh keeps the stored record rather than storing it without
   * the objective). A rejected parent row consumes its objectives, so they are not reported as orphans.
   */
  attach(result: MapResult): MapResult {
    const id = result.record ? result.record.sourceId : result.reject.sourceId;
    if (id === undefined) return result;
    const items = this.items.get(id);
    const fault = this.faults.get(id);
    if (items) this.items.delete(id);
    if (fault) this.faults.delete(id);
    const rec = result.record;
    if (!rec || rec.deleted) return result;
    if (fault) return { reject: this.cascade(rec, fault) };
    if (items && items.length > 0) rec.data[this.spec.field] = unpack(items);
    return result;
  }

  /** Forgets the objectives of a parent committed by an earlier read (a resumed incremental read skips it). */
  skip(parentId: string): void {
    this.items.delete(parentId);
    this.faults.delete(parentId);
  }

  private cascade(rec: SourceRecord, fault: Fault): Reject {
    const { parentLabel } = this.spec;
    const more = fault.more ? ` (and ${fault.more} more of its rows)` : '';
    return {
      location: rec.location ?? this.spec.parentFile,
      field: this.spec.field,
      reason: `its learning objective row ${fault.reject.location} is rejected (${fault.reject.reason})${more}: the ${parentLabel} is not stored without it; a stored version is kept, also by a full refresh`,
      code: 'record_invalid',
      raw: rec.raw,
      sourceId: rec.sourceId,
    };
  }

  /**
   * Whether rows whose parent never came must be reported: their parent file is bulk (then the export must be
   * referentially complete) or the objective file is a delta (its rows are changes, applied only with their
   * parent). A bulk objective file next to a delta parent file lists every objective, most of them for parents
   * that did not change, which is fine.
   */
  reportsOrphans(parentMode: FileMode): boolean {
    return parentMode === 'bulk' || this.mode === 'delta';
  }

  /** Whether some readable rows are left whose parent was not in the parent file. */
  hasOrphans(): boolean {
    return this.items.size > 0;
  }

  /**
   * For the second pass over the objective file (the index keeps no rows, and no line numbers): the reject for a
   * row whose parent never came, or undefined for any other row. Rows are mapped again, so a row rejected on the
   * first pass (already reported) is skipped.
   */
  orphan(row: Row, ctx: RowContext, parentMode: FileMode): Reject | undefined {
    const r = this.spec.map(row, ctx);
    if (r.reject || !this.items.has(r.objective.parentId)) return undefined;
    const { file, parentColumn, parentFile, parentLabel } = this.spec;
    const parentId = r.objective.parentId;
    return {
      location: `${file}:${ctx.line}`,
      field: parentColumn,
      reason:
        parentMode === 'bulk'
          ? `${parentColumn} "${parentId}" is not in ${parentFile}: this learning objective has no ${parentLabel} to go to`
          : `${parentLabel} "${parentId}" is not re-sent in this delta's ${parentFile}: a learning objective change is applied only with its ${parentLabel} (re-send the ${parentLabel} with all its learning objective rows)`,
      code: 'reference_unresolved',
      raw: row,
    };
  }
}
