/**
 * Reading the store for the extract: one consistent snapshot, keyset pages.
 *
 *  - Snapshot: PostgreSQL reads inside a REPEATABLE READ, READ ONLY transaction; SQLite reads through a second
 *    connection to the same file inside one transaction (WAL: the snapshot is taken at its first read, syncs keep
 *    writing meanwhile, and the main connection is never held). The change-log seq read first is therefore exactly
 *    the state the whole extract shows.
 *  - Pages: persons by primary key (`id > last order by id limit n`); per page, the page's records of each type via
 *    the `records.data.personId` expression index, and the classes they name by id. Memory is bounded by the page,
 *    plus the small catalogs (sessions, courses, orgs, assessments).
 *  - Only the fields the extract reads leave the database (RECORD_FIELDS): the database builds a small JSON object
 *    of them, so the rest of a record (an assessment result's objective results, a person's names and contacts) is
 *    neither copied out nor parsed nor kept. A field a record does not have comes back as null.
 */
import type { Knex } from 'knex';
import { openDb, type Db, type Dialect } from '../../../store/db';
import { jsonFieldSql } from '../../../store/json-sql';

export type Snapshot = Knex.Transaction;

export async function withSnapshot<T>(db: Db, fn: (q: Snapshot) => Promise<T>): Promise<T> {
  if (db.dialect === 'pg') return db.knex.transaction(fn, { isolationLevel: 'repeatable read', readOnly: true });
  const filename = (db.knex.client.config.connection as { filename?: string } | undefined)?.filename;
  if (!filename || filename === ':memory:') return db.knex.transaction(fn);
  const reader = await openDb({ url: filename });
  try {
    return await reader.knex.transaction(fn);
  } finally {
    await reader.close();
  }
}

export interface RecordRow {
  id: string;
  data: Record<string, unknown>;
}

/** Per entity type, the fields of `records.data` the extract reads (extract.ts): nothing else is selected. */
export const RECORD_FIELDS: Record<string, readonly string[]> = {
  person: ['primaryRole', 'grades', 'identifiers'],
  enrollment: ['personId', 'role', 'classId', 'schoolId', 'beginDate', 'endDate'],
  demographics: [
    'personId', 'birthDate', 'sex', 'americanIndianOrAlaskaNative', 'asian', 'blackOrAfricanAmerican', 'nativeHawaiianOrOtherPacificIslander', 'white',
    'demographicRaceTwoOrMoreRaces', 'hispanicOrLatinoEthnicity',
  ],
  programParticipation: ['personId', 'programType', 'beginDate', 'endDate'],
  assessmentResult: ['personId', 'assessmentId', 'administrationDate', 'gradeWhenAssessed', 'schoolId', 'scores', 'performanceLevel'],
  behaviourParticipant: ['personId', 'incidentId', 'role', 'behaviours'],
  behaviourIncident: ['incidentDate', 'schoolId', 'positive', 'behaviours', 'description'],
  disciplineAction: ['personId', 'incidentId', 'schoolId', 'actionDate', 'actions', 'durationDays', 'actualDurationDays'],
  attendanceEvent: ['personId', 'classId', 'schoolId', 'date', 'category'],
  academicSession: ['schoolYear', 'startDate', 'endDate'],
  class: ['termIds', 'courseId', 'classCode', 'title', 'grades'],
  course: ['courseCode', 'title'],
  org: ['identifier'],
  assessment: ['title', 'category', 'subjects', 'performanceLevels'],
};

/**
 * `records.data` reduced to the type's fields, as JSON text: json_object over `data -> '$.f'` on SQLite (the JSON
 * value itself, so true stays true), jsonb_build_object on PostgreSQL (over `j`, the row's data cast once).
 */
function projection(q: Snapshot, dialect: Dialect, type: string): Knex.Raw {
  const fields = RECORD_FIELDS[type];
  if (!fields) throw new Error(`no field list for records of type ${type}`);
  for (const f of fields) if (!/^[A-Za-z][A-Za-z0-9]*$/.test(f)) throw new Error(`not a JSON field name: ${f}`);
  if (dialect === 'pg') return q.raw(`jsonb_build_object(${fields.map((f) => `'${f}', x.j -> '${f}'`).join(', ')})::text as data`);
  return q.raw(`json_object(${fields.map((f) => `'${f}', data -> '$.${f}'`).join(', ')}) as data`);
}

/** The records table, with (PostgreSQL) its data cast to jsonb once per row as `x.j`, or (SQLite) a named index. */
function recordsFrom(q: Snapshot, dialect: Dialect, sqliteIndex?: string): string {
  if (dialect === 'pg') return q.raw('records cross join lateral (select records.data::jsonb as j) as x') as unknown as string;
  return (sqliteIndex ? q.raw('?? indexed by ??', ['records', sqliteIndex]) : 'records') as unknown as string;
}

function parse(rows: { id: string; data: string }[]): RecordRow[] {
  return rows.map((r) => ({ id: r.id, data: JSON.parse(r.data) as Record<string, unknown> }));
}

/** Every live record of a (catalog) type, read in keyset pages. */
export async function allOfType(q: Snapshot, dialect: Dialect, tenantId: string, type: string, pageSize = 5000): Promise<RecordRow[]> {
  const out: RecordRow[] = [];
  let after = '';
  for (;;) {
    const rows = (await q.from(recordsFrom(q, dialect)).where({ tenant_id: tenantId, entity_type: type }).whereNull('deleted_at').where('id', '>', after)
      .orderBy('id', 'asc').limit(pageSize).select('id', projection(q, dialect, type))) as { id: string; data: string }[];
    out.push(...parse(rows));
    if (rows.length < pageSize) return out;
    after = rows[rows.length - 1].id;
  }
}

/** One keyset page of live, unmerged persons after `after`. */
export async function personPage(q: Snapshot, dialect: Dialect, tenantId: string, after: string, limit: number): Promise<RecordRow[]> {
  const rows = (await q.from(recordsFrom(q, dialect)).where({ tenant_id: tenantId, entity_type: 'person' }).whereNull('deleted_at').whereNull('merged_into')
    .where('id', '>', after).orderBy('id', 'asc').limit(limit).select('id', projection(q, dialect, 'person'))) as { id: string; data: string }[];
  return parse(rows);
}

/**
 * Live records of a type whose `data.personId` is one of `ids`, through the expression index of migration 004. On
 * SQLite the index is named (INDEXED BY): with the statistics the sync's sampled ANALYZE leaves (a few hundred rows
 * per type), the planner takes a list of 50 or more ids for a scan of every record of the type — each page of the
 * extract then read the whole type (20k students: 214 ms per query instead of a few).
 */
export async function byPerson(q: Snapshot, dialect: Dialect, tenantId: string, type: string, ids: readonly string[]): Promise<RecordRow[]> {
  if (!ids.length) return [];
  const rows = (await q.from(recordsFrom(q, dialect, 'records_json_personid')).where({ tenant_id: tenantId, entity_type: type }).whereNull('deleted_at')
    .whereIn(q.raw(jsonFieldSql(dialect, 'personId')) as unknown as string, ids as string[])
    .orderBy('id', 'asc').select('id', projection(q, dialect, type))) as { id: string; data: string }[];
  return parse(rows);
}

/** Live records of a type by id. */
export async function byIds(q: Snapshot, dialect: Dialect, tenantId: string, type: string, ids: readonly string[]): Promise<Map<string, RecordRow>> {
  const out = new Map<string, RecordRow>();
  const uniq = [...new Set(ids)];
  for (let i = 0; i < uniq.length; i += 1000) {
    const rows = (await q.from(recordsFrom(q, dialect)).where({ tenant_id: tenantId, entity_type: type }).whereNull('deleted_at').whereIn('id', uniq.slice(i, i + 1000))
      .select('id', projection(q, dialect, type))) as { id: string; data: string }[];
    for (const r of parse(rows)) out.set(r.id, r);
  }
  return out;
}

export async function hasTable(q: Snapshot, name: string): Promise<boolean> {
  return q.schema.hasTable(name);
}
