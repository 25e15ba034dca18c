/**
 * case/: the two frameworks as CASE 1.1 CFPackages (CFDocument, CFItems, CFAssociations), as a state standards
 * server or OpenSALT would export them (`GET /ims/case/v1p1/CFPackages/{id}` saved to disk):
 *
 *   case/state-standards.json        the state framework: an isChildOf tree document > subject > grade > standard
 *   case/district-competencies.json  the district framework: document > subject > grade > competency, plus the
 *                                    crosswalk to the state standards (exactMatchOf, isRelatedTo), published by
 *                                    the district as CASE packages usually carry cross-framework alignments
 *
 * Both follow the official CASE 1.1 CFPackage JSON Schema (tested against it).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FrameworkDoc, Node, Standard, Standards } from './standards';
import { SUBJECT_TITLE } from './standards';

export interface CaseResult {
  files: Record<string, { bytes: number; rows: number }>;
  state: { file: string; identifier: string; title: string; items: number; associations: Record<string, number> };
  district: { file: string; identifier: string; title: string; items: number; associations: Record<string, number> };
  crosswalk: { exactMatchOf: number; isRelatedTo: number; unaligned: string[] };
}

interface Link { title: string; identifier: string; uri: string; targetType: 'CASE' }

const link = (n: { code?: string; title?: string; identifier: string; uri: string }): Link => ({
  title: n.code ?? n.title ?? n.identifier,
  identifier: n.identifier,
  uri: n.uri,
  targetType: 'CASE',
});

const EDUCATION_LEVEL = (g: number): string => String(g).padStart(2, '0');

function documentJson(doc: FrameworkDoc, subjects: string[], licenseId: string, frameworkType?: string): Record<string, unknown> {
  return {
    identifier: doc.identifier,
    uri: doc.uri,
    ...(frameworkType ? { frameworkType } : {}),
    caseVersion: '1.1',
    creator: doc.creator,
    title: doc.title,
    lastChangeDateTime: doc.lastChangeDateTime,
    publisher: doc.publisher,
    description: 'Synthetic framework written by the Learner Data Hub district generator; it describes no real jurisdiction.',
    subject: subjects,
    language: 'en',
    version: doc.version,
    adoptionStatus: doc.adoptionStatus,
    licenseURI: { title: 'Creative Commons Attribution 4.0', identifier: licenseId, uri: 'https://creativecommons.org/licenses/by/4.0/' },
  };
}

function itemJson(doc: FrameworkDoc, n: Node): Record<string, unknown> {
  const levels = n.grade !== undefined ? [EDUCATION_LEVEL(n.grade)] : undefined;
  return {
    identifier: n.identifier,
    fullStatement: n.statement,
    CFItemType: n.type,
    uri: n.uri,
    humanCodingScheme: n.code,
    ...(n.type === 'Standard' || n.type === 'Competency' ? { listEnumeration: String(n.sequence) } : {}),
    ...(n.subject ? { subject: [SUBJECT_TITLE[n.subject]] } : {}),
    language: 'en',
    ...(levels ? { educationLevel: levels } : {}),
    lastChangeDateTime: doc.lastChangeDateTime,
  };
}

function association(
  doc: FrameworkDoc,
  uuid: (key: string) => string,
  key: string,
  type: string,
  origin: Link,
  destination: Link,
  sequenceNumber?: number,
): Record<string, unknown> {
  const identifier = uuid(key);
  return {
    identifier,
    associationType: type,
    ...(sequenceNumber !== undefined ? { sequenceNumber } : {}),
    uri: `${doc.base}/CFAssociations/${identifier}`,
    originNodeURI: origin,
    destinationNodeURI: destination,
    lastChangeDateTime: doc.lastChangeDateTime,
  };
}

function tree(doc: FrameworkDoc, uuid: (key: string) => string, prefix: string): Array<Record<string, unknown>> {
  const byId = new Map(doc.nodes.map((n) => [n.identifier, n]));
  return doc.nodes.map((n) => {
    const parent = byId.get(n.parent);
    const destination = parent ? link(parent) : link({ title: doc.title, identifier: doc.identifier, uri: doc.uri });
    return association(doc, uuid, `${prefix}:isChildOf:${n.identifier}`, 'isChildOf', link(n), destination, n.sequence);
  });
}

function count(list: Array<Record<string, unknown>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of list) out[a.associationType as string] = (out[a.associationType as string] ?? 0) + 1;
  return out;
}

export function writeCase(s: Standards, dir: string): CaseResult {
  fs.mkdirSync(dir, { recursive: true });
  const uuid = (key: string): string => s.uuids.of(key);

  const stateAssociations = tree(s.state, uuid, 'state');
  const statePkg = {
    CFDocument: documentJson(s.state, ['Mathematics', 'English Language Arts'], uuid('license:cc-by-4.0'), 'Standards'),
    CFItems: s.state.nodes.map((n) => itemJson(s.state, n)),
    CFAssociations: stateAssociations,
  };

  const districtAssociations = tree(s.district, uuid, 'district');
  let exact = 0;
  let related = 0;
  const unaligned: string[] = [];
  for (const c of s.competencies) {
    const targets: Array<[string, Standard]> = [
      ...(c.exact ? [['exactMatchOf', c.exact] as [string, Standard]] : []),
      ...c.related.map((r) => ['isRelatedTo', r] as [string, Standard]),
    ];
    if (!targets.length) unaligned.push(c.code);
    for (const [type, std] of targets) {
      districtAssociations.push(association(s.district, uuid, `district:${type}:${c.identifier}:${std.identifier}`, type, link(c), link(std)));
      if (type === 'exactMatchOf') exact++;
      else related++;
    }
  }
  const districtPkg = {
    CFDocument: documentJson(s.district, ['Mathematics', 'English Language Arts'], uuid('license:cc-by-4.0')),
    CFItems: s.district.nodes.map((n) => itemJson(s.district, n)),
    CFAssociations: districtAssociations,
  };

  const files: CaseResult['files'] = {};
  const write = (name: string, pkg: { CFItems: unknown[]; CFAssociations: unknown[] }): void => {
    const text = `${JSON.stringify(pkg, null, 2)}\n`;
    fs.writeFileSync(path.join(dir, name), text);
    files[name] = { bytes: Buffer.byteLength(text), rows: pkg.CFItems.length + pkg.CFAssociations.length };
  };
  write('state-standards.json', statePkg);
  write('district-competencies.json', districtPkg);

  return {
    files,
    state: { file: 'case/state-standards.json', identifier: s.state.identifier, title: s.state.title, items: statePkg.CFItems.length, associations: count(stateAssociations) },
    district: { file: 'case/district-competencies.json', identifier: s.district.identifier, title: s.district.title, items: districtPkg.CFItems.length, associations: count(districtAssociations) },
    crosswalk: { exactMatchOf: exact, isRelatedTo: related, unaligned },
  };
}
