/**
 * Runs the same storage tests on every supported database: SQLite always, PostgreSQL when global-setup found one
 * (each test file gets its own schema, dropped afterwards).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { openDb, migrate, type Db } from '../../src/store/db';

export interface TestDb {
  name: 'sqlite' | 'postgres';
  open(): Promise<Db>;
}

export function supportedDbs(): TestDb[] {
  const out: TestDb[] = [
    {
      name: 'sqlite',
      async open() {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-test-'));
        const db = await openDb({ url: path.join(dir, 'hub.sqlite') });
        await migrate(db);
        const close = db.close;
        db.close = async () => {
          await close();
          fs.rmSync(dir, { recursive: true, force: true });
        };
        return db;
      },
    },
  ];
  const url = process.env.HUB_TEST_PG_URL;
  if (url) {
    out.push({
      name: 'postgres',
      async open() {
        const schema = `t_${randomBytes(6).toString('hex')}`;
        const db = await openDb({ url, schema });
        await migrate(db);
        const close = db.close;
        db.close = async () => {
          await close();
          const c = new Client({ connectionString: url });
          await c.connect();
          await c.query(`drop schema if exists "${schema}" cascade`);
          await c.end();
        };
        return db;
      },
    });
  }
  return out;
}

/** `describe.each` over the supported databases, with a visible skipped block when PostgreSQL is absent. */
export function describeEachDb(title: string, fn: (t: TestDb) => void): void {
  for (const t of supportedDbs()) describe(`${title} [${t.name}]`, () => fn(t));
  if (!process.env.HUB_TEST_PG_URL) {
    describe.skip(`${title} [postgres] — SKIPPED: ${process.env.HUB_TEST_PG_SKIP ?? 'no PostgreSQL'}`, () => {
      it('runs on PostgreSQL', () => undefined);
    });
  }
}
