/**
 * Gradebook writes (OneRoster 1.2 Gradebook service): PUT (upsert keyed by the path sourcedId: 201 created,
 * 200 updated) and DELETE of categories, lineItems and results; POST of line items for a class or a school and of
 * results for a line item (the hub allocates the sourcedIds and answers `{sourcedIdPairs: [...]}`).
 *
 * Writes land in the unified store like any source's: the client is a source named `oneroster-api:<clientId>`
 * (its landing rows in source_records keep the request item as raw payload), the record carries field provenance
 * naming that source, and every create / update / restore / delete is a change_log entry (cause `oneroster-api`)
 * with its field diff — so history, `asOf` reads and the change feed see API writes as they see syncs. One request
 * is one transaction: a POST whose third item is invalid stores nothing, and the 422 names the item and the field.
 *
 * References in bodies are GUIDRefs `{sourcedId}` naming records this hub serves (unified ids); each must exist
 * (not deleted) in the client's tenant.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../../store/db';
import { ajvDetails, entityValidator } from '../../core/schemas';
import { diffRecords, hashOf, newUnifiedId, nowIso } from '../../normalize/canonical';
import { mergeSources } from '../../normalize/merge';
import { ingestTx, type ChangeRow, type RecordRow as StoreRecordRow, type SourceRow } from '../../normalize/ports';
import type { EntityType } from '../../ingest/contract';
import { OneRosterError, invalidData } from './errors';
import type { Json } from './model';

export const API_CONNECTOR_PREFIX = 'oneroster-api:';
export const API_CAUSE = 'oneroster-api';
/** sourcedIds a client may choose (OneRoster GUID characters; the store keys ids by up to 64 characters). */
export const SOURCED_ID_RE = /^[0-9A-Za-z.\-_@]{1,64}$/;

const SCORE_STATUSES = ['exempt', 'fully graded', 'not submitted', 'partially graded', 'submitted'];
const DATETIME_RE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

export const unprocessable = (msg: string) => new OneRosterError(422, 'invaliddata', msg);

/** Reads one body object for a type; every problem names its JSON path. */
class Reader {
  constructor(
    readonly obj: Json,
    readonly at: string,
  ) {}

  fail(field: string, why: string): never {
    throw unprocessable(`${this.at}.${field}: ${why}`);
  }

  only(allowed: string[]): void {
    for (const k of Object.keys(this.obj)) {
      if (!allowed.includes(k)) this.fail(k, `is not a field this hub accepts here (accepted: ${allowed.join(', ')})`);
    }
    const meta = this.obj.metadata;
    if (meta !== undefined && (typeof meta !== 'object' || meta === null || Array.isArray(meta) || Object.keys(meta).length)) {
      this.fail('metadata', 'extension metadata is not stored by this hub: send an empty object or leave it out');
    }
    const status = this.obj.status;
    if (status !== undefined && status !== 'active') this.fail('status', "must be 'active' (delete with DELETE)");
  }

  str(field: string, required = false): string | undefined {
    const v = this.obj[field];
    if (v === undefined || v === null) {
      if (required) this.fail(field, 'is required');
      return undefined;
    }
    if (typeof v !== 'string') this.fail(field, 'must be a string');
    if (required && (v as string).trim() === '') this.fail(field, 'must not be empty');
    return v as string;
  }

  num(field: string): number | undefined {
    const v = this.obj[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(field, 'must be a number');
    return v as number;
  }

  /** 1.2 booleans are the strings "true"/"false"; JSON booleans are accepted too. */
  bool(field: string): boolean | undefined {
    const v = this.obj[field];
    if (v === undefined || v === null) return undefined;
    if (v === true || v === 'true') return true;
    if (v === false || v === 'false') return false;
    return this.fail(field, "must be 'true' or 'false'");
  }

  dateTime(field: string, required = false): string | undefined {
    const v = this.str(field, required);
    if (v === undefined) return undefined;
    const ms = DATETIME_RE.test(v) ? Date.parse(v.length === 10 ? `${v}T00:00:00Z` : /(Z|[+-]\d{2}:?\d{2})$/.test(v) ? v : `${v}Z`) : NaN;
    if (Number.isNaN(ms)) this.fail(field, `must be an ISO 8601 date or date-time, found '${v.slice(0, 40)}'`);
    return new Date(ms).toISOString();
  }

  /** A GUIDRef `{sourcedId, href?, type?}`: returns the sourcedId. */
  ref(field: string, type: string, required = false): string | undefined {
    const v = this.obj[field];
    if (v === undefined || v === null) {
      if (required) this.fail(field, `is required (a GUIDRef {"sourcedId": ..., "type": "${type}"})`);
      return undefined;
    }
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(field, 'must be a GUIDRef object {sourcedId, type}');
    const o = v as Json;
    if (typeof o.sourcedId !== 'string' || !o.sourcedId) this.fail(`${field}.sourcedId`, 'is required');
    if (o.type !== undefined && o.type !== type) this.fail(`${field}.type`, `must be '${type}'`);
    return o.sourcedId as string;
  }

  /** `learningObjectiveSet: [{source, learningObjectiveIds: [...]}]` or, for results, `learningObjectiveResults`. */
  objectives(results: boolean): Json[] | undefined {
    const v = this.obj.learningObjectiveSet;
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) this.fail('learningObjectiveSet', 'must be an array');
    const out: Json[] = [];
    (v as unknown[]).forEach((set, i) => {
      const at = `learningObjectiveSet[${i}]`;
      if (!set || typeof set !== 'object') this.fail(at, 'must be an object');
      const s = set as Json;
      if (typeof s.source !== 'string' || !s.source) this.fail(`${at}.source`, 'is required');
      if (results) {
        if (!Array.isArray(s.learningObjectiveResults)) this.fail(`${at}.learningObjectiveResults`, 'must be an array');
        (s.learningObjectiveResults as Json[]).forEach((r, j) => {
          if (!r || typeof r.learningObjectiveId !== 'string') this.fail(`${at}.learningObjectiveResults[${j}].learningObjectiveId`, 'is required');
          const item: Json = { ref: r.learningObjectiveId, source: s.source };
          if (typeof r.score === 'number') item.score = r.score;
          if (typeof r.textScore === 'string') item.textScore = r.textScore;
          out.push(item);
        });
      } else {
        if (!Array.isArray(s.learningObjectiveIds)) this.fail(`${at}.learningObjectiveIds`, 'must be an array of strings');
        for (const id of s.learningObjectiveIds as unknown[]) {
          if (typeof id !== 'string' || !id) this.fail(`${at}.learningObjectiveIds`, 'must be an array of strings');
          out.push({ ref: id, source: s.source });
        }
      }
    });
    return out.length ? out : undefined;
  }
}

const put = (o: Json, k: string, v: unknown) => {
  if (v !== undefined) o[k] = v;
};

export interface Pending {
  type: EntityType;
  id: string;
  /** The unified record without `id`, or null for a delete. */
  data: Json | null;
  /** Live records the data refers to (type, id, path) — checked inside the transaction. */
  refs: Array<{ type: EntityType; id: string; path: string; also?: (data: Json) => string | undefined }>;
  raw: unknown;
  location: string;
}

export function readCategory(obj: unknown, at: string, fixed: { sourcedId?: string }): Omit<Pending, 'id' | 'type' | 'location'> & { supplied?: string } {
  const r = bodyObject(obj, at);
  r.only(['sourcedId', 'status', 'dateLastModified', 'metadata', 'title', 'weight']);
  const supplied = checkSupplied(r, fixed.sourcedId);
  const data: Json = { title: r.str('title', true) };
  put(data, 'weight', r.num('weight'));
  return { data, refs: [], raw: obj, supplied };
}

export function readLineItem(obj: unknown, at: string, fixed: { sourcedId?: string; classId?: string; schoolId?: string }): Omit<Pending, 'id' | 'type' | 'location'> & { supplied?: string } {
  const r = bodyObject(obj, at);
  r.only(['sourcedId', 'status', 'dateLastModified', 'metadata', 'title', 'description', 'assignDate', 'dueDate', 'class', 'school', 'category', 'gradingPeriod', 'academicSession', 'scoreScale', 'resultValueMin', 'resultValueMax', 'learningObjectiveSet']);
  const supplied = checkSupplied(r, fixed.sourcedId);
  if (r.obj.scoreScale !== undefined && r.obj.scoreScale !== null) r.fail('scoreScale', 'score scales are not stored by this hub: leave scoreScale out');
  const classId = r.ref('class', 'class', fixed.classId === undefined);
  if (fixed.classId !== undefined && classId !== undefined && classId !== fixed.classId) r.fail('class.sourcedId', `must be the class of the path (${fixed.classId})`);
  const schoolId = r.ref('school', 'org');
  if (fixed.schoolId !== undefined && schoolId !== undefined && schoolId !== fixed.schoolId) r.fail('school.sourcedId', `must be the school of the path (${fixed.schoolId})`);
  const session = r.ref('academicSession', 'academicSession') ?? r.ref('gradingPeriod', 'academicSession');
  const data: Json = { title: r.str('title', true) };
  put(data, 'description', r.str('description'));
  data.classId = fixed.classId ?? classId;
  put(data, 'schoolId', fixed.schoolId ?? schoolId);
  put(data, 'categoryId', r.ref('category', 'category'));
  put(data, 'gradingPeriodId', session);
  put(data, 'assignDate', r.dateTime('assignDate'));
  put(data, 'dueDate', r.dateTime('dueDate'));
  const min = r.num('resultValueMin');
  const max = r.num('resultValueMax');
  if (min !== undefined && max !== undefined && min > max) r.fail('resultValueMax', `is less than resultValueMin (${max} < ${min})`);
  put(data, 'resultValueMin', min);
  put(data, 'resultValueMax', max);
  put(data, 'alignment', r.objectives(false));
  const refs: Pending['refs'] = [{ type: 'class', id: data.classId as string, path: `${at}.class.sourcedId` }];
  if (data.schoolId) refs.push({ type: 'org', id: data.schoolId as string, path: `${at}.school.sourcedId` });
  if (data.categoryId) refs.push({ type: 'lineItemCategory', id: data.categoryId as string, path: `${at}.category.sourcedId` });
  if (data.gradingPeriodId) refs.push({ type: 'academicSession', id: data.gradingPeriodId as string, path: `${at}.academicSession.sourcedId` });
  return { data, refs, raw: obj, supplied };
}

export function readResult(obj: unknown, at: string, fixed: { sourcedId?: string; lineItemId?: string }): Omit<Pending, 'id' | 'type' | 'location'> & { supplied?: string } {
  const r = bodyObject(obj, at);
  r.only(['sourcedId', 'status', 'dateLastModified', 'metadata', 'lineItem', 'student', 'class', 'scoreScale', 'scoreStatus', 'score', 'textScore', 'scoreDate', 'comment', 'learningObjectiveSet', 'inProgress', 'incomplete', 'late', 'missing']);
  const supplied = checkSupplied(r, fixed.sourcedId);
  if (r.obj.scoreScale !== undefined && r.obj.scoreScale !== null) r.fail('scoreScale', 'score scales are not stored by this hub: leave scoreScale out');
  const lineItemId = r.ref('lineItem', 'lineItem', fixed.lineItemId === undefined);
  if (fixed.lineItemId !== undefined && lineItemId !== undefined && lineItemId !== fixed.lineItemId) r.fail('lineItem.sourcedId', `must be the line item of the path (${fixed.lineItemId})`);
  const personId = r.ref('student', 'user', true)!;
  const classId = r.ref('class', 'class');
  const scoreStatus = r.str('scoreStatus', true)!;
  if (!SCORE_STATUSES.includes(scoreStatus)) r.fail('scoreStatus', `must be one of ${SCORE_STATUSES.join(', ')} (with spaces)`);
  const data: Json = { lineItemId: fixed.lineItemId ?? lineItemId, personId, scoreStatus };
  // A score above resultValueMax (extra credit) is stored as sent.
  put(data, 'score', r.num('score'));
  put(data, 'textScore', r.str('textScore'));
  put(data, 'scoreDate', r.dateTime('scoreDate'));
  put(data, 'comment', r.str('comment'));
  put(data, 'late', r.bool('late'));
  put(data, 'missing', r.bool('missing'));
  put(data, 'incomplete', r.bool('incomplete'));
  put(data, 'inProgress', r.bool('inProgress'));
  put(data, 'learningObjectiveResults', r.objectives(true));
  const refs: Pending['refs'] = [
    { type: 'lineItem', id: data.lineItemId as string, path: `${at}.lineItem.sourcedId`, also: (li) => (classId !== undefined && li.classId !== classId ? `${at}.class.sourcedId: the line item belongs to class ${String(li.classId)}, not ${classId}` : undefined) },
    { type: 'person', id: personId, path: `${at}.student.sourcedId` },
  ];
  return { data, refs, raw: obj, supplied };
}

function bodyObject(obj: unknown, at: string): Reader {
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw unprocessable(`${at}: must be a JSON object`);
  return new Reader(obj as Json, at);
}

/** The body's sourcedId: must equal the path's (PUT); for POST it is the client's id, paired with the allocated one. */
function checkSupplied(r: Reader, pathId: string | undefined): string | undefined {
  const s = r.str('sourcedId');
  if (pathId !== undefined && s !== undefined && s !== pathId) r.fail('sourcedId', `must equal the sourcedId of the path (${pathId})`);
  return s;
}

// ---------------------------------------------------------------------------------------------------------------

export interface WriteOutcome {
  id: string;
  op: 'create' | 'update' | 'restore' | 'delete' | 'unchanged';
}

/**
 * Applies pending writes in one transaction: references checked, each record validated against its unified schema,
 * records + landing rows + change-log entries written through the ingest ports (same seq allocation as syncs).
 */
export async function applyWrites(db: Db, tenantId: string, clientId: string, pending: Pending[]): Promise<WriteOutcome[]> {
  const connectorId = `${API_CONNECTOR_PREFIX}${clientId}`;
  const runId = `api:${randomUUID()}`;
  const at = nowIso();
  return db.knex.transaction(async (trx) => {
    const tx = await ingestTx(db.dialect, trx);
    const outcomes: WriteOutcome[] = [];
    const sourceRows: SourceRow[] = [];
    const recordRows: StoreRecordRow[] = [];
    const deletions: Array<{ type: string; id: string }> = [];
    const changes: Array<Omit<ChangeRow, 'seq'>> = [];
    for (const p of pending) {
      for (const ref of p.refs) {
        const row = (await trx('records').where({ tenant_id: tenantId, entity_type: ref.type, id: ref.id }).whereNull('deleted_at').first('data')) as { data: string } | undefined;
        if (!row) throw unprocessable(`${ref.path}: no ${ref.type === 'person' ? 'user' : ref.type === 'lineItemCategory' ? 'category' : ref.type === 'org' ? 'org' : ref.type} with sourcedId '${ref.id.slice(0, 64)}'`);
        const problem = ref.also?.(JSON.parse(row.data) as Json);
        if (problem) throw unprocessable(problem);
      }
      const existing = (await trx('records').where({ tenant_id: tenantId, entity_type: p.type, id: p.id }).first('data', 'deleted_at')) as { data: string; deleted_at: string | null } | undefined;
      const sourceRow = (json: string, deletedAt: string | null): SourceRow => ({
        tenant_id: tenantId, connector_id: connectorId, entity_type: p.type, source_id: p.id, unified_id: p.id, hash: hashOf(json),
        raw: p.raw === undefined ? null : JSON.stringify(p.raw), location: p.location, first_seen_at: at, last_seen_at: at, last_run_id: runId,
        deleted_at: deletedAt, data: null, refs: null, match_state: null, match_rule: null, match_score: null,
      });
      if (p.data === null) {
        if (!existing || existing.deleted_at) throw new OneRosterError(404, 'unknownobject', `No record with sourcedId '${p.id.slice(0, 64)}'.`);
        deletions.push({ type: p.type, id: p.id });
        changes.push({ tenant_id: tenantId, entity_type: p.type, entity_id: p.id, op: 'delete', at, run_id: null, cause: API_CAUSE, diff: null });
        sourceRows.push(sourceRow(existing.data, at));
        outcomes.push({ id: p.id, op: 'delete' });
        continue;
      }
      const data = { ...p.data, id: p.id };
      const validate = entityValidator(p.type);
      if (!validate(data)) {
        const d = ajvDetails(validate.errors)[0];
        throw unprocessable(`${p.location}: ${d?.path ?? ''} ${d?.message ?? 'is invalid'}`.trim());
      }
      const json = JSON.stringify(data);
      if (existing && !existing.deleted_at && existing.data === json) {
        outcomes.push({ id: p.id, op: 'unchanged' });
        sourceRows.push(sourceRow(json, null));
        continue;
      }
      const op = !existing ? 'create' : existing.deleted_at ? 'restore' : 'update';
      const merged = mergeSources(p.id, [{ connectorId, sourceId: p.id, seenAt: at, data }]);
      recordRows.push({
        tenant_id: tenantId, entity_type: p.type, id: p.id, data: json, created_seq: 0, updated_seq: 0, created_at: at, updated_at: at,
        deleted_at: null, provenance: JSON.stringify(merged.provenance),
      });
      const diff = existing ? JSON.stringify(diffRecords(JSON.parse(existing.data) as Json, data)) : null;
      changes.push({ tenant_id: tenantId, entity_type: p.type, entity_id: p.id, op, at, run_id: null, cause: API_CAUSE, diff });
      sourceRows.push(sourceRow(json, null));
      outcomes.push({ id: p.id, op });
    }
    if (changes.length) {
      const first = await tx.allocateSeq(tenantId, changes.length);
      const seqOf = new Map<string, number>();
      const rows = changes.map((c, i) => {
        seqOf.set(`${c.entity_type}\u0000${c.entity_id}`, first + i);
        return { ...c, seq: first + i };
      });
      for (const r of recordRows) r.created_seq = r.updated_seq = seqOf.get(`${r.entity_type}\u0000${r.id}`)!;
      await tx.upsertRecords(recordRows);
      for (const d of deletions) await tx.markDeleted(tenantId, d.type, d.id, seqOf.get(`${d.type}\u0000${d.id}`)!, at);
      await tx.insertChanges(rows);
    }
    await tx.upsertSources(sourceRows);
    return outcomes;
  });
}

/** A sourcedId from a path or a body. */
export function checkSourcedId(id: string, where: string): string {
  if (!SOURCED_ID_RE.test(id)) throw invalidData(`${where}: sourcedId '${id.slice(0, 64)}' must be 1 to 64 characters of 0-9 A-Z a-z . - _ @`);
  return id;
}

export const allocateId = (): string => newUnifiedId();
