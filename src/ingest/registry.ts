/** Connector implementations by type. Adding a connector = one line here (see connectors/README.md). */
import type { Connector } from './contract';
import { oneRosterCsv } from '../../connectors/oneroster-csv';
import { caseConnector } from '../../connectors/case';
import { oneRosterRest } from '../../connectors/oneroster-rest';
import { mappedCsv } from '../../connectors/mapped-csv';
import { edfiXml } from '../../connectors/edfi-xml';
import { ltiNrps } from '../../connectors/lti-nrps';

const REGISTRY: Record<string, Connector<never>> = {
  'oneroster-csv': oneRosterCsv as Connector<never>,
  case: caseConnector as Connector<never>,
  'oneroster-rest': oneRosterRest as Connector<never>,
  'mapped-csv': mappedCsv as Connector<never>,
  'edfi-xml': edfiXml as Connector<never>,
  'lti-nrps': ltiNrps as Connector<never>,
};

const BUILTIN: Readonly<Record<string, Connector<never>>> = { ...REGISTRY };

/** Whether `impl` is the built-in implementation of `type` (not a test double or plugin registered over it). */
export function isBuiltinConnector(type: string, impl: unknown): boolean {
  return Object.prototype.hasOwnProperty.call(BUILTIN, type) && BUILTIN[type] === impl;
}

/** Registers an implementation (tests, and plugins loaded at start-up). */
export function registerConnector(type: string, impl: Connector<never>): void {
  REGISTRY[type] = impl;
}

export function connectorTypes(): string[] {
  return Object.keys(REGISTRY);
}

export function getConnector(type: string): Connector<Record<string, unknown>> | undefined {
  return REGISTRY[type] as Connector<Record<string, unknown>> | undefined;
}
