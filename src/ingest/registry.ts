/**
 * Connector implementations by type. Adding a connector = one line in BUILTIN (see connectors/README.md).
 *
 * Built-in connectors are loaded on first use, not when this module is: the read worker (read-worker.ts) then loads
 * only the connector it reads for (~8 ms for Ed-Fi XML instead of ~55 ms for all six, on the clock of every threaded
 * run), and a CLI command that touches one connector does not load the others.
 */
import type { Connector } from './contract';

type Loader = () => Connector<never>;

const BUILTIN: Readonly<Record<string, Loader>> = {
  'oneroster-csv': () => (require('../../connectors/oneroster-csv') as typeof import('../../connectors/oneroster-csv')).oneRosterCsv as Connector<never>,
  case: () => (require('../../connectors/case') as typeof import('../../connectors/case')).caseConnector as Connector<never>,
  'oneroster-rest': () => (require('../../connectors/oneroster-rest') as typeof import('../../connectors/oneroster-rest')).oneRosterRest as Connector<never>,
  'mapped-csv': () => (require('../../connectors/mapped-csv') as typeof import('../../connectors/mapped-csv')).mappedCsv as Connector<never>,
  'edfi-xml': () => (require('../../connectors/edfi-xml') as typeof import('../../connectors/edfi-xml')).edfiXml as Connector<never>,
  'lti-nrps': () => (require('../../connectors/lti-nrps') as typeof import('../../connectors/lti-nrps')).ltiNrps as Connector<never>,
};

const isBuiltinType = (type: string) => Object.prototype.hasOwnProperty.call(BUILTIN, type);

/** Implementations registered at run time (tests, plugins); they take precedence over a built-in of the same type. */
const REGISTERED: Record<string, Connector<never>> = {};

/** The built-in implementation of `type` (loaded now if it was not yet), or undefined when there is none. */
export function builtinConnector(type: string): Connector<Record<string, unknown>> | undefined {
  return isBuiltinType(type) ? (BUILTIN[type]() as Connector<Record<string, unknown>>) : undefined;
}

/** Whether `impl` is the built-in implementation of `type` (not a test double or plugin registered over it). */
export function isBuiltinConnector(type: string, impl: unknown): boolean {
  return isBuiltinType(type) && builtinConnector(type) === impl;
}

/** Registers an implementation (tests, and plugins loaded at start-up). */
export function registerConnector(type: string, impl: Connector<never>): void {
  REGISTERED[type] = impl;
}

export function connectorTypes(): string[] {
  return [...new Set([...Object.keys(BUILTIN), ...Object.keys(REGISTERED)])];
}

export function getConnector(type: string): Connector<Record<string, unknown>> | undefined {
  if (Object.prototype.hasOwnProperty.call(REGISTERED, type)) return REGISTERED[type] as Connector<Record<string, unknown>>;
  return builtinConnector(type);
}
