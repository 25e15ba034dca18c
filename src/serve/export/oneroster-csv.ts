/**
 * OneRoster 1.2 CSV export of a tenant's unified records: a zip with manifest.csv and one file per entity
 * (OneRoster CSV binding 1.2), bulk or delta.
 *
 *  - Headers come from the oneroster-csv connector's own tables (connectors/oneroster-csv/columns.ts): exact names,
 *    exact order, one definition for reading and writing.
 *  - Bulk: every live record; status and dateLastModified are blank, as the binding requires.
 *  - Delta (`sinceSeq` or `since`): every record changed after that change-log sequence (or time), deleted ones as
 *    `tobedeleted` rows; status and dateLastModified are filled.
 *  - A file with no rows is declared `absent` in the manifest (the binding forbids header-only files); the eight 1.2
 *    files the hub has no data for (resources, score scales, user profiles) are always `absent`.
 *  - Streamed: each file reads its records in keyset pages of 1000 and the zip is written as it goes (yazl); only a
 *    page (plus the classes a page of line items refers to) is ever in memory.
 *  - A record the binding cannot carry (a user without the required username, a line item without a category...)
 *    is left out and counted in the summary with its sourcedId and why — never silently.
 */
import { Readable, type Writable } from 'node:stream';
import { ZipFile } from 'yazl';
import type { Db } from '../../store/db';
import { COLUMNS_1_2 } from '../../../connectors/oneroster-csv/columns';
import { demographicsWinner } from '../oneroster/model';

export type ExportMode = 'bulk' | 'delta';

export interface ExportOptions {
  tenantId: string;
  /** Delta: records changed after this change-log sequence number. */
  sinceSeq?: number;
  /** Delta: records changed after this time (ISO 8601). */
  since?: string;
  systemName?: string;
}

export interface ExportSummary {
  mode: ExportMode;
  /** The tenant's change sequence when the export started: pass it as sinceSeq for the next delta. */
  seq: number;
  files: Record<string, { mode: ExportMode | 'absent'; rows: number }>;
  skipped: number;
  /** The first 100 records left out, with the reason. */
  skippedRecords: Array<{ file: string; sourcedId: string; reason: string }>;
}

/** Every data file of the 1.2 binding, in the manifest's order. */
export const ALL_FILES_1_2 = ['academicSessions', 'categories', 'classes', 'classResources', 'courses', 'courseResources', 'demographics', 'enrollments',
  'lineItemLearningObjectiveIds', 'lineItems', 'lineItemScoreScales', 'orgs', 'resources', 'resultLearningObjectiveIds', 'results', 'resultScoreScales', 'roles',
  'scoreScales', 'userProfiles', 'userResources', 'users'] as const;

type Json = Record<string, unknown>;
type Row = Record<string, string | undefined>;
interface Rec {
  id: string;
  data: Json;
  updatedAt: string;
  deleted: boolean;
}
/** A record → the rows of one file (usually one; objectives: several), or a reason to leave it out. */
type Mapper = (r: Rec, ctx: PageContext) => Row[] | { skip: string };
interface PageContext {
  classes: Map<string, Json>;
}

interface FileDef {
  file: string;
  entity: string;
  map: Mapper;
  /** Loads what a page needs (the classes of line items). */
  needsClasses?: (r: Rec) => string | undefined;
}

const PAGE = 1000;
const list = (v: unknown) => (Array.isArray(v) && v.length ? (v as string[]).join(',') : undefined);
const bool = (v: unknown) => (v === true ? 'true' : v === false ? 'false' : undefined);
const str = (v: unknown) => (v === undefined || v === null ? undefined : String(v));
const date = (v: unknown) => (typeof v === 'string' ? v.slice(0, 10) : undefined);
const SPECIAL_IDS = new Set(['identifier', 'userMasterIdentifier']);
const one = (row: Row) => [row];

const FILES: FileDef[] = [
  { file: 'orgs', entity: 'org', map: (r) => one({ name: str(r.data.name), type: str(r.data.type), identifier: str(r.data.identifier), parentSourcedId: str(r.data.parentId) }) },
  {
    file: 'academicSessions', entity: 'academicSession',
    map: (r) => one({ title: str(r.data.title), type: str(r.data.type), startDate: str(r.data.startDate), endDate: str(r.data.endDate), parentSourcedId: str(r.data.parentId), schoolYear: str(r.data.schoolYear) }),
  },
  {
    file: 'courses', entity: 'course',
    map: (r) => one({ schoolYearSourcedId: str(r.data.schoolYearId), title: str(r.data.title), courseCode: str(r.data.courseCode), grades: list(r.data.grades), orgSourcedId: str(r.data.orgId), subjects: list(r.data.subjects), subjectCodes: list(r.data.subjectCodes) }),
  },
  {
    file: 'classes', entity: 'class',
    map: (r) => one({
      title: str(r.data.title), grades: list(r.data.grades), courseSourcedId: str(r.data.courseId), classCode: str(r.data.classCode), classType: str(r.data.classType),
      location: str(r.data.location), schoolSourcedId: str(r.data.schoolId), termSourcedIds: list(r.data.termIds), subjects: list(r.data.subjects), subjectCodes: list(r.data.subjectCodes), periods: list(r.data.periods),
    }),
  },
  {
    file: 'users', entity: 'person',
    map: (r) => {
      const d = r.data;
      if (!r.deleted && typeof d.username !== 'string') return { skip: 'no username (required by users.csv)' };
      const ids = (Array.isArray(d.identifiers) ? d.identifiers : []) as Array<{ system: string; value: string }>;
      const userIds = ids.filter((i) => !SPECIAL_IDS.has(i.system)).map((i) => `{${i.system}:${i.value}}`);
      return one({
        enabledUser: bool(d.enabledUser) ?? 'true', username: str(d.username), userIds: userIds.length ? userIds.join(',') : undefined, givenName: str(d.givenName), familyName: str(d.familyName),
        middleName: str(d.middleName), identifier: ids.find((i) => i.system === 'identifier')?.value, email: str(d.email), sms: str(d.sms), phone: str(d.phone), grades: list(d.grades),
        userMasterIdentifier: ids.find((i) => i.system === 'userMasterIdentifier')?.value, preferredGivenName: str(d.preferredGivenName), preferredMiddleName: str(d.preferredMiddleName),
        preferredFamilyName: str(d.preferredFamilyName), primaryOrgSourcedId: str(d.primaryOrgId), pronouns: str(d.pronouns),
      });
    },
  },
  {
    file: 'roles', entity: 'role',
    map: (r) => one({ userSourcedId: str(r.data.personId), roleType: str(r.data.roleType), role: str(r.data.role), beginDate: str(r.data.beginDate), endDate: str(r.data.endDate), orgSourcedId: str(r.data.orgId) }),
  },
  {
    // demographics.csv is keyed by the user's sourcedId (one demographics record per user).
    file: 'demographics', entity: 'demographics',
    map: (r) => {
      const d = r.data;
      return [{
        sourcedId: str(d.personId), birthDate: str(d.birthDate), sex: str(d.sex),
        ...Object.fromEntries(['americanIndianOrAlaskaNative', 'asian', 'blackOrAfricanAmerican', 'nativeHawaiianOrOtherPacificIslander', 'white', 'demographicRaceTwoOrMoreRaces', 'hispanicOrLatinoEthnicity'].map((f) => [f, bool(d[f])])),
        countryOfBirthCode: str(d.countryOfBirthCode), stateOfBirthAbbreviation: str(d.stateOfBirthAbbreviation), cityOfBirth: str(d.cityOfBirth), publicSchoolResidenceStatus: str(d.publicSchoolResidenceStatus),
      }];
    },
  },
  {
    file: 'enrollments', entity: 'enrollment',
    map: (r) => one({ classSourcedId: str(r.data.classId), schoolSourcedId: str(r.data.schoolId), userSourcedId: str(r.data.personId), role: str(r.data.role), primary: bool(r.data.primary), beginDate: str(r.data.beginDate), endDate: str(r.data.endDate) }),
  },
  { file: 'categories', entity: 'lineItemCategory', map: (r) => one({ title: str(r.data.title), weight: str(r.data.weight) }) },
  {
    file: 'lineItems', entity: 'lineItem', needsClasses: (r) => str(r.data.classId),
    map: (r, ctx) => {
      const d = r.data;
      const klass = ctx.classes.get(d.classId as string);
      // The school is the class's when the line item names none (certain); the session the class's first term.
      const school = str(d.schoolId) ?? str(klass?.schoolId);
      const session = str(d.gradingPeriodId) ?? (Array.isArray(klass?.termIds) ? str((klass!.termIds as string[])[0]) : undefined);
      if (!r.deleted) {
        const missing = [!d.assignDate && 'assignDate', !d.dueDate && 'dueDate', !d.categoryId && 'categorySourcedId', !session && 'academicSessionSourcedId', !school && 'schoolSourcedId'].filter(Boolean);
        if (missing.length) return { skip: `no ${missing.join(', ')} (required by lineItems.csv)` };
      }
      return one({
        title: str(d.title), description: str(d.description), assignDate: date(d.assignDate), dueDate: date(d.dueDate), classSourcedId: str(d.classId), categorySourcedId: str(d.categoryId),
        academicSessionSourcedId: session, resultValueMin: str(d.resultValueMin), resultValueMax: str(d.resultValueMax), schoolSourcedId: school,
      });
    },
  },
  {
    file: 'lineItemLearningObjectiveIds', entity: 'lineItem',
    map: (r) => ((r.data.alignment as Json[] | undefined) ?? []).map((a, i) => ({ sourcedId: `${r.id}.lo${i + 1}`, lineItemSourcedId: r.id, source: str(a.source) ?? 'unknown', learningObjectiveId: str(a.ref) })),
  },
  {
    file: 'results', entity: 'result',
    map: (r) => {
      const d = r.data;
      if (!r.deleted && !d.scoreDate) return { skip: 'no scoreDate (required by results.csv)' };
      return one({
        lineItemSourcedId: str(d.lineItemId), studentSourcedId: str(d.personId), scoreStatus: str(d.scoreStatus), score: str(d.score), scoreDate: date(d.scoreDate), comment: str(d.comment),
        textScore: str(d.textScore), inProgress: bool(d.inProgress), incomplete: bool(d.incomplete), late: bool(d.late), missing: bool(d.missing),
      });
    },
  },
  {
    file: 'resultLearningObjectiveIds', entity: 'result',
    map: (r) => ((r.data.learningObjectiveResults as Json[] | undefined) ?? []).map((o, i) => ({
      sourcedId: `${r.id}.lo${i + 1}`, resultSourcedId: r.id, source: str(o.source) ?? 'unknown', learningObjectiveId: str(o.ref), score: str(o.score), textScore: str(o.textScore),
    })),
  },
];

/** RFC 4180 cell; CR/LF are not allowed inside fields (binding), so they become spaces. */
function cell(v: string | undefined): string {
  if (v === undefined) return '';
  const s = v.replace(/[\r\n]+/g, ' ');
  return /[",]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

async function* records(db: Db, tenantId: string, entity: string, delta: { sinceSeq?: number; since?: string } | undefined): AsyncGenerator<Rec[]> {
  let after = '';
  for (;;) {
    const q = db.knex('records').where({ tenant_id: tenantId, entity_type: entity }).where('id', '>', after).orderBy('id').limit(PAGE).select('id', 'data', 'updated_at', 'deleted_at');
    // One demographics row per user: the record the OneRoster API serves for that person.
    if (entity === 'demographics') q.whereRaw(demographicsWinner(db.dialect, 'records'));
    if (!delta) q.whereNull('deleted_at');
    else if (delta.sinceSeq !== undefined) q.where('updated_seq', '>', delta.sinceSeq);
    else q.where('updated_at', '>', delta.since!);
    const rows = (await q) as Array<{ id: string; data: string; updated_at: string; deleted_at: string | null }>;
    if (!rows.length) return;
    yield rows.map((r) => ({ id: r.id, data: JSON.parse(r.data) as Json, updatedAt: r.updated_at, deleted: r.deleted_at !== null }));
    if (rows.length < PAGE) return;
    after = rows[rows.length - 1].id;
  }
}

async function loadClasses(db: Db, tenantId: string, ids: string[]): Promise<Map<string, Json>> {
  const out = new Map<string, Json>();
  const uniq = [...new Set(ids)];
  for (let i = 0; i < uniq.length; i += 500) {
    for (const r of (await db.knex('records').where({ tenant_id: tenantId, entity_type: 'class' }).whereIn('id', uniq.slice(i, i + 500)).select('id', 'data')) as Array<{ id: string; data: string }>) {
      out.set(r.id, JSON.parse(r.data) as Json);
    }
  }
  return out;
}

/** The CSV lines of one file, page by page: header first; `first` receives the first data line before anything. */
async function* fileLines(db: Db, opts: ExportOptions, def: FileDef, mode: ExportMode, summary: ExportSummary): AsyncGenerator<string> {
  const columns = COLUMNS_1_2[`${def.file}.csv`].map((c) => c.header);
  const delta = mode === 'delta' ? { sinceSeq: opts.sinceSeq, since: opts.since } : undefined;
  for await (const page of records(db, opts.tenantId, def.entity, delta)) {
    const ctx: PageContext = { classes: def.needsClasses ? await loadClasses(db, opts.tenantId, page.map(def.needsClasses).filter((x): x is string => !!x)) : new Map() };
    let out = '';
    for (const r of page) {
      // A deleted record in a delta needs only its sourcedId (and, for objectives, its parent: the whole set is re-sent).
      const mapped = r.deleted && def.file !== 'lineItemLearningObjectiveIds' && def.file !== 'resultLearningObjectiveIds' ? [{ sourcedId: def.file === 'demographics' ? str(r.data.personId) : r.id } as Row] : def.map(r, ctx);
      if (!Array.isArray(mapped)) {
        summary.skipped++;
        if (summary.skippedRecords.length < 100) summary.skippedRecords.push({ file: `${def.file}.csv`, sourcedId: r.id, reason: mapped.skip });
        continue;
      }
      if (r.deleted && (def.file === 'lineItemLearningObjectiveIds' || def.file === 'resultLearningObjectiveIds')) continue;
      for (const row of mapped) {
        const full: Row = { sourcedId: r.id, ...row };
        if (mode === 'delta') {
          full.status = r.deleted ? 'tobedeleted' : 'active';
          full.dateLastModified = r.updatedAt;
        } else {
          full.status = undefined;
          full.dateLastModified = undefined;
        }
        out += `${columns.map((c) => cell(full[c])).join(',')}\r\n`;
        summary.files[def.file].rows++;
      }
    }
    if (out) yield out;
  }
}

/**
 * Writes the zip to `out` and resolves with the summary once the zip is complete. Files are probed in order: a
 * file's lines are pulled until its first data line exists before the entry is added (no header-only files).
 */
export async function exportOneRosterCsv(db: Db, opts: ExportOptions, out: Writable): Promise<ExportSummary> {
  const mode: ExportMode = opts.sinceSeq !== undefined || opts.since !== undefined ? 'delta' : 'bulk';
  const seqRow = (await db.knex('tenant_sequences').where({ tenant_id: opts.tenantId }).first('last_seq')) as { last_seq: number | string } | undefined;
  const summary: ExportSummary = { mode, seq: Number(seqRow?.last_seq ?? 0), files: {}, skipped: 0, skippedRecords: [] };
  const zip = new ZipFile();
  const done = new Promise<void>((resolve, reject) => {
    out.once('finish', resolve);
    out.once('close', resolve);
    out.once('error', reject);
    zip.outputStream.once('error', reject);
  });
  zip.outputStream.pipe(out);
  const header = (file: string) => `${COLUMNS_1_2[`${file}.csv`].map((c) => c.header).join(',')}\r\n`;
  const mtime = new Date();
  for (const def of FILES) {
    summary.files[def.file] = { mode: 'absent', rows: 0 };
    const lines = fileLines(db, opts, def, mode, summary);
    const first = await lines.next();
    if (first.done) continue;
    summary.files[def.file].mode = mode;
    // Sequential: yazl reads one entry's stream at a time, so this file's remaining pages are read when it gets there.
    await new Promise<void>((resolve, reject) => {
      const stream = Readable.from((async function* () {
        yield header(def.file);
        yield first.value;
        for await (const chunk of lines) yield chunk;
      })());
      stream.once('end', resolve);
      stream.once('error', reject);
      zip.addReadStream(stream, `${def.file}.csv`, { mtime, compress: true });
    });
  }
  const manifest = [
    'propertyName,value', 'manifest.version,1.0', 'oneroster.version,1.2',
    ...ALL_FILES_1_2.map((f) => `file.${f},${summary.files[f]?.mode ?? 'absent'}`),
    `source.systemName,${cell(opts.systemName ?? 'Learner Data Hub')}`, `source.systemCode,${cell(opts.tenantId)}`,
  ].join('\r\n');
  zip.addBuffer(Buffer.from(`${manifest}\r\n`, 'utf8'), 'manifest.csv', { mtime });
  zip.end();
  await done;
  return summary;
}
