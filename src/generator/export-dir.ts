/**
 * One OneRoster CSV export directory: the data files (headers from connectors/oneroster-csv/columns.ts) and the
 * manifest.csv that declares each of the version's files bulk, delta or absent. A file that ends up without data
 * rows is never created and is declared absent.
 */
import fs from 'node:fs';
import path from 'node:path';
import { columnsFor, type OneRosterVersion } from '../../connectors/oneroster-csv/columns';
import { CsvFile, TextSink, csvLine } from './csv';

/** Every data file of the CSV binding, in binding order (1.2 has 21, 1.1 the 13 without the 1.2 additions). */
export const ONEROSTER_FILES: Record<OneRosterVersion, readonly string[]> = {
  '1.2': [
    'academicSessions', 'categories', 'classes', 'classResources', 'courseResources', 'courses', 'demographics',
    'enrollments', 'lineItemLearningObjectiveIds', 'lineItems', 'lineItemScoreScales', 'orgs', 'resources',
    'resultLearningObjectiveIds', 'results', 'resultScoreScales', 'roles', 'scoreScales', 'userProfiles',
    'userResources', 'users',
  ],
  '1.1': [
    'academicSessions', 'categories', 'classes', 'classResources', 'courseResources', 'courses', 'demographics',
    'enrollments', 'lineItems', 'orgs', 'resources', 'results', 'users',
  ],
};

/**
 * OneRoster 1.1 CSV gradebook headers, written independently from the 1.1 CSV binding (no copy of the 1.1 tables is
 * saved in ../shared). columns.ts stays the source of truth: these are used only for a file it has no entry for, and
 * test/generator.test.ts checks that the two agree wherever both exist.
 */
export const GRADEBOOK_1_1_HEADERS: Readonly<Record<string, readonly string[]>> = {
  'categories.csv': ['sourcedId', 'status', 'dateLastModified', 'title'],
  'lineItems.csv': ['sourcedId', 'status', 'dateLastModified', 'title', 'description', 'assignDate', 'dueDate', 'classSourcedId',
    'categorySourcedId', 'gradingPeriodSourcedId', 'resultValueMin', 'resultValueMax'],
  'results.csv': ['sourcedId', 'status', 'dateLastModified', 'lineItemSourcedId', 'studentSourcedId', 'scoreStatus', 'score', 'scoreDate', 'comment'],
};

/** The header of a OneRoster CSV file: columns.ts, else the 1.1 gradebook fallback above. */
export function headerFor(version: OneRosterVersion, name: string): readonly string[] | undefined {
  const cols = columnsFor(version)[name];
  if (cols !== undefined) return cols.map((c) => c.header);
  return version === '1.1' ? GRADEBOOK_1_1_HEADERS[name] : undefined;
}

export type ExportMode = 'bulk' | 'delta';

export interface FileCount {
  rows: number;
  bytes: number;
}

export interface ExportResult {
  dir: string;
  /** Data files written (by file name, e.g. users.csv), manifest.csv included. */
  files: Record<string, FileCount>;
  /** Files declared absent, e.g. ['categories.csv', ...]. */
  absent: string[];
}

export class ExportDir {
  private readonly open = new Map<string, CsvFile>();

  constructor(
    readonly dir: string,
    readonly version: OneRosterVersion,
    readonly mode: ExportMode,
    readonly systemName: string,
    readonly systemCode: string,
  ) {
    fs.mkdirSync(dir, { recursive: true });
    // Remove what an earlier run may have left, so the directory holds exactly what the manifest declares.
    for (const name of [...ONEROSTER_FILES['1.2'].map((f) => `${f}.csv`), 'manifest.csv']) {
      fs.rmSync(path.join(dir, name), { force: true });
    }
  }

  /** The file for `name` (e.g. 'users.csv'), created on first use with its header from columns.ts (see headerFor). */
  file(name: string): CsvFile {
    let f = this.open.get(name);
    if (f === undefined) {
      const header = headerFor(this.version, name);
      if (header === undefined) throw new Error(`${name} is not a OneRoster ${this.version} CSV file`);
      f = new CsvFile(name, path.join(this.dir, name), header);
      this.open.set(name, f);
    }
    return f;
  }

  async close(): Promise<ExportResult> {
    const files: Record<string, FileCount> = {};
    for (const f of this.open.values()) {
      await f.close();
      if (f.rows > 0) files[f.name] = { rows: f.rows, bytes: f.bytes };
    }
    const absent: string[] = [];
    const manifest = new TextSink(path.join(this.dir, 'manifest.csv'));
    let rows = 0;
    const put = (k: string, v: string): void => {
      manifest.write(csvLine([k, v]));
      rows++;
    };
    manifest.write(csvLine(['propertyName', 'value']));
    put('manifest.version', '1.0');
    put('oneroster.version', this.version);
    for (const base of ONEROSTER_FILES[this.version]) {
      const name = `${base}.csv`;
      const present = files[name] !== undefined;
      if (!present) absent.push(name);
      put(`file.${base}`, present ? this.mode : 'absent');
    }
    put('source.systemName', this.systemName);
    put('source.systemCode', this.systemCode);
    await manifest.close();
    const ordered: Record<string, FileCount> = { 'manifest.csv': { rows, bytes: manifest.bytes } };
    for (const name of Object.keys(files).sort()) ordered[name] = files[name];
    return { dir: this.dir, files: ordered, absent };
  }
}
