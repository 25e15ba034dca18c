/**
 * manifest.csv: the export's table of contents (OneRoster CSV binding). Two columns `propertyName,value`; rows
 * `manifest.version` (1.0), `oneroster.version` (1.1 or 1.2; the 1.2.1 errata still writes 1.2, some producers write
 * 1.2.1), one `file.<name>` row per data file with `absent|bulk|delta`, optional `source.systemName|systemCode`.
 */
import { HubError, type ErrorDetail } from '../../src/core/errors';
import type { OneRosterVersion } from './columns';
import { readCsvLines } from './csv';
import { ioError, type Source } from './source';

export const MANIFEST = 'manifest.csv';

export type FileMode = 'bulk' | 'delta';
export type ManifestFileValue = FileMode | 'absent';

export interface ManifestFile {
  value: ManifestFileValue;
  /** Line of manifest.csv that declared it, for error messages. */
  line: number;
}

export interface Manifest {
  /** The version the files are read as (the setting when given, else the manifest's). */
  version: OneRosterVersion;
  /** `oneroster.version` as written, when present. */
  declaredVersion?: string;
  /** Keyed by file name without `.csv`, as in the manifest (`users`, `academicSessions`...). */
  files: Map<string, ManifestFile>;
  systemName?: string;
  systemCode?: string;
}

/** The manifest is a few dozen lines; anything this big is not one. */
const MAX_MANIFEST_LINES = 1000;

const VERSIONS: Record<string, OneRosterVersion> = { '1.1': '1.1', '1.2': '1.2', '1.2.1': '1.2' };
const FILE_VALUES = new Set<ManifestFileValue>(['absent', 'bulk', 'delta']);

function invalid(line: number | undefined, message: string): HubError {
  const path = line === undefined ? MANIFEST : `${MANIFEST}:${line}`;
  const detail: ErrorDetail = { path, message };
  return new HubError('source_invalid', `${path}: ${message}`, [detail]);
}

/**
 * Reads and checks manifest.csv, including that every file declared bulk or delta exists. `versionSetting`
 * (the connector's `version` setting) overrides `oneroster.version` unless it is 'auto'.
 */
export async function readManifest(source: Source, versionSetting: 'auto' | OneRosterVersion = 'auto'): Promise<Manifest> {
  const file = await source.get(MANIFEST);
  if (!file) {
    const hint = await source.nearMisses(MANIFEST);
    throw invalid(
      undefined,
      `the export has no manifest.csv; it is mandatory (OneRoster CSV binding)${hint.length ? ` (found ${hint.join(', ')}: file names are case-sensitive)` : ''}`,
    );
  }

  const rows: Array<{ line: number; fields: string[] }> = [];
  try {
    for await (const batch of readCsvLines(await file.open())) {
      for (const l of batch) {
        if (l.problem) throw invalid(l.line, 'broken quoting');
        if (l.fields.length === 1 && l.fields[0] === '') continue; // blank line
        rows.push(l);
        if (rows.length > MAX_MANIFEST_LINES) throw invalid(l.line, `more than ${MAX_MANIFEST_LINES} lines; this is not a manifest`);
      }
    }
  } catch (e) {
    if (e instanceof HubError) throw e;
    throw ioError(MANIFEST, e);
  }

  const header = rows.shift();
  if (!header || header.line !== 1 || header.fields.length !== 2 || header.fields[0] !== 'propertyName' || header.fields[1] !== 'value') {
    throw invalid(1, `the header must be "propertyName,value", found "${header && header.line === 1 ? header.fields.join(',') : ''}"`);
  }

  const props = new Map<string, { value: string; line: number }>();
  for (const { line, fields } of rows) {
    if (fields.length !== 2) throw invalid(line, `expected 2 fields (propertyName,value), found ${fields.length}`);
    const name = fields[0].trim();
    const value = fields[1].trim();
    if (!name) throw invalid(line, 'propertyName is blank');
    const seen = props.get(name);
    if (seen) throw invalid(line, `${name} is declared twice (first on line ${seen.line})`);
    props.set(name, { value, line });
  }

  const mv = props.get('manifest.version');
  if (!mv) throw invalid(undefined, 'manifest.version is missing; it must be 1.0');
  if (mv.value !== '1.0') throw invalid(mv.line, `manifest.version must be 1.0, found "${mv.value}"`);

  const ov = props.get('oneroster.version');
  let version: OneRosterVersion;
  if (versionSetting !== 'auto') {
    // The operator knows better than a producer that writes a wrong version; headers are still checked per file.
    version = versionSetting;
  } else if (!ov) {
    throw invalid(undefined, 'oneroster.version is missing; expected 1.1 or 1.2 (or set the connector\'s "version" setting)');
  } else {
    const v = VERSIONS[ov.value];
    if (!v) throw invalid(ov.line, `oneroster.version must be 1.1 or 1.2, found "${ov.value}"`);
    version = v;
  }

  const files = new Map<string, ManifestFile>();
  for (const [name, { value, line }] of props) {
    if (!name.startsWith('file.')) continue;
    const v = value.toLowerCase() as ManifestFileValue;
    if (!FILE_VALUES.has(v)) throw invalid(line, `${name} must be absent, bulk or delta, found "${value}"`);
    const fileName = `${name.slice('file.'.length)}.csv`;
    if (v !== 'absent' && !(await source.get(fileName))) {
      const hint = await source.nearMisses(fileName);
      throw invalid(
        line,
        `${name} is declared ${v} but ${fileName} is missing from the export${hint.length ? ` (found ${hint.join(', ')}: file names are case-sensitive)` : ''}`,
      );
    }
    files.set(name.slice('file.'.length), { value: v, line });
  }

  return {
    version,
    ...(ov ? { declaredVersion: ov.value } : {}),
    files,
    ...(props.get('source.systemName')?.value ? { systemName: props.get('source.systemName')!.value } : {}),
    ...(props.get('source.systemCode')?.value ? { systemCode: props.get('source.systemCode')!.value } : {}),
  };
}
