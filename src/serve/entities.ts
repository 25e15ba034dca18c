/**
 * Unified records, read-only: `GET /tenants/:tenant/<collection>` and `/<collection>/:id`. Each item is
 * `{ data: <the unified record>, meta: { createdSeq, updatedSeq, updatedAt, deletedAt } }`. Deleted records are left
 * out of lists unless `includeDeleted=true`, and are 404 by id unless the same flag is given. Demographics are not
 * served here (they need their own scope).
 */
import type { Router } from 'express';
import { HubError } from '../core/errors';
import type { EntityType } from '../ingest/contract';
import { decodeCursor, parseLimit, toPage } from './pagination';
import { queryBoolean, queryString } from './params';
import { tenantRoute, type AppDeps } from './route';
import { whereJsonField, type JsonFilterField } from './sql';
import { categoriesOf, isStudentData } from '../core/categories';
import type { Disclosure } from './disclosures';

interface Collection {
  type: EntityType;
  /** Query filters on fields of the record (reference fields: the value is a unified id). */
  filters: JsonFilterField[];
}

export const COLLECTIONS: Record<string, Collection> = {
  orgs: { type: 'org', filters: [] },
  academicSessions: { type: 'academicSession', filters: [] },
  courses: { type: 'course', filters: [] },
  classes: { type: 'class', filters: ['schoolId'] },
  persons: { type: 'person', filters: [] },
  enrollments: { type: 'enrollment', filters: ['classId', 'personId'] },
  roles: { type: 'role', filters: [] },
};

interface RecordRow {
  id: string;
  data: string;
  created_seq: number | string;
  updated_seq: number | string;
  updated_at: string;
  deleted_at: string | null;
}

const RECORD_COLS = ['id', 'data', 'created_seq', 'updated_seq', 'updated_at', 'deleted_at'];

export function recordItem(r: RecordRow) {
  return {
    data: JSON.parse(r.data) as Record<string, unknown>,
    meta: { createdSeq: Number(r.created_seq), updatedSeq: Number(r.updated_seq), updatedAt: r.updated_at, deletedAt: r.deleted_at ?? null },
  };
}

/**
 * The disclosure of records of a type (none when the type is not student data): the entity's category plus the
 * categories of the fields present, and the persons they are about (a person's own id, else its `personId`).
 */
export function recordsDisclosure(type: string, records: Record<string, unknown>[]): Disclosure | undefined {
  if (!isStudentData(type) || !records.length) return undefined;
  const categories = new Set<string>();
  const personIds = new Set<string>();
  for (const d of records) {
    for (const c of categoriesOf(type, Object.keys(d).filter((k) => d[k] !== undefined && d[k] !== null))) categories.add(c);
    const pid = type === 'person' ? d.id : d.personId;
    if (typeof pid === 'string') personIds.add(pid);
  }
  return { channel: 'api', categories: [...categories], personIds: [...personIds] };
}

const notFound = () => new HubError('not_found', 'No record with that id exists for the tenant.', [{ path: 'id', message: 'not found' }]);

export function entityRoutes(router: Router, deps: AppDeps): void {
  const { db } = deps;

  for (const [name, coll] of Object.entries(COLLECTIONS)) {
    const query = ['limit', 'cursor', 'includeDeleted', ...coll.filters];
    tenantRoute(router, deps, 'get', `/tenants/:tenant/${name}`, { scope: 'roster.read', query }, async ({ req, res, tenant }) => {
      const limit = parseLimit(queryString(req, 'limit'));
      const after = decodeCursor(queryString(req, 'cursor'), name, 'string');
      const includeDeleted = queryBoolean(req, 'includeDeleted') ?? false;
      const q = db.knex('records').select(RECORD_COLS).where({ tenant_id: tenant.id, entity_type: coll.type }).orderBy('id', 'asc').limit(limit + 1);
      if (!includeDeleted) q.whereNull('deleted_at');
      if (after !== undefined) q.where('id', '>', after);
      for (const f of coll.filters) {
        const v = queryString(req, f);
        if (v !== undefined) whereJsonField(db, q, f, v);
      }
      const page = toPage(await q, limit, name, (r: RecordRow) => r.id, recordItem);
      res.locals.disclosure = recordsDisclosure(coll.type, page.data.map((i) => i.data));
      res.json(page);
    });

    tenantRoute(router, deps, 'get', `/tenants/:tenant/${name}/:id`, { scope: 'roster.read', query: ['includeDeleted'] }, async ({ req, res, tenant }) => {
      const includeDeleted = queryBoolean(req, 'includeDeleted') ?? false;
      const row = (await db.knex('records').select(RECORD_COLS).where({ tenant_id: tenant.id, entity_type: coll.type, id: String(req.params.id) }).first()) as RecordRow | undefined;
      if (!row || (row.deleted_at && !includeDeleted)) throw notFound();
      const item = recordItem(row);
      res.locals.disclosure = recordsDisclosure(coll.type, [item.data]);
      res.json(item);
    });
  }

  // The landing rows that feed a person: which connector, which source id, when last seen, where (no raw payload).
  tenantRoute(router, deps, 'get', '/tenants/:tenant/persons/:id/sources', { scope: 'roster.read' }, async ({ req, res, tenant }) => {
    const id = String(req.params.id);
    const person = await db.knex('records').select('id').where({ tenant_id: tenant.id, entity_type: 'person', id }).whereNull('deleted_at').first();
    if (!person) throw notFound();
    const rows = (await db.knex('source_records')
      .select('connector_id', 'source_id', 'location', 'first_seen_at', 'last_seen_at', 'deleted_at')
      .where({ tenant_id: tenant.id, entity_type: 'person', unified_id: id })
      .orderBy(['connector_id', 'source_id'])) as { connector_id: string; source_id: string; location: string | null; first_seen_at: string; last_seen_at: string; deleted_at: string | null }[];
    res.locals.disclosure = { channel: 'api', categories: ['identity'], personIds: [id] } satisfies Disclosure;
    res.json({
      data: rows.map((r) => ({
        connectorId: r.connector_id, sourceId: r.source_id, location: r.location ?? null,
        firstSeenAt: r.first_seen_at, lastSeenAt: r.last_seen_at, deletedAt: r.deleted_at ?? null,
      })),
    });
  });
}
