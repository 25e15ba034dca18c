/**
 * Probes PostgreSQL once for the whole test run. The storage tests run on SQLite always and on PostgreSQL when it
 * answers; when it does not, they are skipped with a loud message — unless REQUIRE_POSTGRES=1 (CI), where that fails.
 */
const { Client } = require('pg');

module.exports = async function () {
  const url = process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    process.env.HUB_TEST_PG_URL = url;
  } catch (e) {
    const msg = `PostgreSQL is not reachable at ${url.replace(/:[^:@/]*@/, ':***@')} (${e.message}).`;
    if (process.env.REQUIRE_POSTGRES === '1') throw new Error(`${msg} REQUIRE_POSTGRES=1, so the PostgreSQL tests cannot be skipped.`);
    process.env.HUB_TEST_PG_SKIP = msg;
    const bar = '!'.repeat(100);
    console.warn(`\n${bar}\n!! SKIPPING every PostgreSQL storage test: ${msg}\n!! Set TEST_DATABASE_URL to run them. They run in CI.\n${bar}\n`);
  } finally {
    await client.end().catch(() => undefined);
  }
};
