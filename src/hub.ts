/**
 * Composition root: configuration + database + logger. Nothing here runs at import time; the CLI and the tests
 * call openHub() and close what they open.
 */
import path from 'node:path';
import fs from 'node:fs';
import { loadConfigFile, type LoadedConfig } from './core/config';
import { createLogger, type Logger } from './core/logger';
import { openDb, migrate, type Db } from './store/db';
import { ensureTenants } from './store/tenants';
import { PROJECT_ROOT } from './core/paths';

export const DEMO_CONFIG = path.join(PROJECT_ROOT, 'fixtures/demo/hub.config.json');

/** --config, else HUB_CONFIG, else ./hub.config.json, else the demo configuration. */
export function resolveConfigPath(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return path.resolve(explicit);
  if (env.HUB_CONFIG) return path.resolve(env.HUB_CONFIG);
  const local = path.resolve('hub.config.json');
  return fs.existsSync(local) ? local : DEMO_CONFIG;
}

/** DATABASE_URL, else the config's database.url (relative to the config file), else .hub/hub.sqlite. */
export function resolveDatabaseUrl(config: LoadedConfig, explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  const url = explicit ?? env.DATABASE_URL ?? config.config.database?.url;
  if (!url) return path.resolve('.hub/hub.sqlite');
  if (/^postgres(ql)?:\/\//.test(url) || url === ':memory:') return url;
  return path.resolve(config.baseDir, url);
}

export interface Hub {
  config: LoadedConfig;
  db: Db;
  log: Logger;
  close(): Promise<void>;
}

export async function openHub(opts: { configFile?: string; databaseUrl?: string; log?: Logger; migrate?: boolean; onConfig?: (config: LoadedConfig) => void } = {}): Promise<Hub> {
  const config = loadConfigFile(resolveConfigPath(opts.configFile));
  // Before the store is opened: what the caller can start meanwhile (the read worker, for commands that sync).
  opts.onConfig?.(config);
  const log = opts.log ?? createLogger();
  const db = await openDb({ url: resolveDatabaseUrl(config, opts.databaseUrl) });
  try {
    if (opts.migrate !== false) await migrate(db);
    await ensureTenants(db, config.config);
  } catch (e) {
    await db.close();
    throw e;
  }
  return { config, db, log, close: () => db.close() };
}
