/**
 * npm run bench:webhooks -- [--events 20000] [--subs 1] [--concurrency 32] [--batch 200] [--database postgres://...]
 *
 * Webhook delivery throughput to a local receiver. The receiver (a bare node:http server that reads each body and
 * answers 204) runs in a child process. This process:
 *  - baseline: POSTs the same payloads (the deliveries' bodies) to the receiver with a keep-alive agent,
 *    `concurrency` requests in flight — raw HTTP, nothing else;
 *  - hub: `events` change_log rows (person updates) for a tenant with `subs` subscriptions, then the dispatcher
 *    (WebhookDispatcher.tick until idle) fans them out, claims, signs (Standard Webhooks), POSTs with its own
 *    keep-alive agent (`concurrency` in flight), and records every attempt, status and disclosure in the database
 *    (a fresh SQLite file in WAL mode, or --database).
 * Prints deliveries/s for both and the ratio hub / baseline; checks the receiver got every delivery exactly once.
 * Goal: >= 1,000 deliveries/s.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { fork } from 'node:child_process';
import { validateConfig } from '../src/core/config';
import { openDb, migrate } from '../src/store/db';
import { ensureTenants } from '../src/store/tenants';
import { createSubscription } from '../src/webhooks/store';
import { WebhookDispatcher } from '../src/webhooks/dispatcher';

const args = process.argv.slice(2);
const opt = (name: string, def?: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};

function receiverChild(): void {
  // The parent may die (a database it cannot reach, say): do not outlive it and hold its terminal.
  process.on('disconnect', () => process.exit(0));
  let count = 0;
  const ids = new Set<string>();
  const server = http.createServer((req, res) => {
    req.on('data', () => undefined);
    req.on('end', () => {
      count++;
      const id = req.headers['webhook-id'];
      if (typeof id === 'string') ids.add(id);
      res.statusCode = 204;
      res.end();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as { port: number }).port }));
  process.on('message', (m: { op: string }) => {
    if (m.op === 'count') process.send!({ count, distinct: ids.size });
    if (m.op === 'reset') {
      count = 0;
      ids.clear();
      process.send!({ ok: true });
    }
    if (m.op === 'exit') server.close(() => process.exit(0));
  });
}

async function main(): Promise<void> {
  const events = Number(opt('events', '20000'));
  const subs = Number(opt('subs', '1'));
  const concurrency = Number(opt('concurrency', '32'));
  const batch = Number(opt('batch', '200'));
  const child = fork(__filename, ['--child', 'receiver'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ask = <T>(op: string) => new Promise<T>((resolve) => {
    child.once('message', (m) => resolve(m as T));
    child.send({ op });
  });
  const { port } = await new Promise<{ port: number }>((r) => child.once('message', (m) => r(m as { port: number })));
  const url = `http://127.0.0.1:${port}/hook`;

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-bench-webhooks-'));
  const dbUrl = opt('database') ?? path.join(dir, 'hub.sqlite');
  const env = { HUB_SECRET_KEY: 'bench-master-key' };
  const config = validateConfig({ tenants: [{ id: 'bench', name: 'Bench', webhooks: { allowPrivateTargets: true } }] }, '(bench)', process.cwd(), env);
  const db = await openDb({ url: dbUrl, schema: dbUrl.startsWith('postgres') ? `bench_wh_${process.pid}` : undefined });
  await migrate(db);
  await ensureTenants(db, config.config);
  for (let i = 0; i < subs; i++) await createSubscription(db, env, 'bench', { url, eventTypes: ['learner.updated'], description: `bench ${i}`, enabled: true }, 'bench', Date.now());

  // The events: person updates in change_log (as a sync would write them), seq 1..events.
  const at = new Date().toISOString();
  const rows = Array.from({ length: events }, (_, i) => ({
    tenant_id: 'bench', seq: i + 1, entity_type: 'person', entity_id: `per_${String(i).padStart(8, '0')}`, op: 'update', at, run_id: 'run_bench', cause: 'sync',
    diff: JSON.stringify({ givenName: ['Old', 'New'], grades: [['09'], ['10']] }),
  }));
  await db.knex.transaction(async (trx) => {
    for (let i = 0; i < rows.length; i += 100) await trx('change_log').insert(rows.slice(i, i + 100));
    await trx('tenant_sequences').where({ tenant_id: 'bench' }).update({ last_seq: events });
  });

  // Same payloads for the baseline (what the dispatcher will send), built the same way.
  const payloads = rows.flatMap((r) => Array.from({ length: subs }, () => JSON.stringify({
    type: 'learner.updated', timestamp: r.at, data: { tenantId: 'bench', seq: r.seq, entityType: 'person', entityId: r.entity_id, op: 'update', cause: 'sync', runId: 'run_bench', changedFields: ['givenName', 'grades'] },
  })));

  // Baseline: raw POSTs, keep-alive, `concurrency` in flight.
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const post = (body: string) => new Promise<void>((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end(body);
  });
  const rawRun = async (list: string[]) => {
    let next = 0;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < list.length) await post(list[next++]);
    }));
  };
  await rawRun(payloads.slice(0, 500)); // warm-up
  await ask('reset');
  let t0 = process.hrtime.bigint();
  await rawRun(payloads);
  const baseSec = Number(process.hrtime.bigint() - t0) / 1e9;
  agent.destroy();
  const baseCount = await ask<{ count: number }>('count');
  await ask('reset');

  // Hub: fan-out + claim + sign + POST + record (attempts, statuses, disclosures).
  const d = new WebhookDispatcher({ db, config, env, concurrency, batchSize: batch });
  t0 = process.hrtime.bigint();
  for (;;) if (!(await d.tick())) break;
  const hubSec = Number(process.hrtime.bigint() - t0) / 1e9;
  await d.stop();
  const got = await ask<{ count: number; distinct: number }>('count');
  const [{ n: ok }] = (await db.knex('webhook_deliveries').where({ status: 'succeeded' }).count({ n: '*' })) as { n: number | string }[];
  const [{ n: disclosed }] = (await db.knex('disclosures').count({ n: '*' })) as { n: number | string }[];

  const expected = events * subs;
  const baseRate = expected / baseSec;
  const hubRate = expected / hubSec;
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  console.log(`webhooks bench: ${events} events x ${subs} subscription(s) = ${expected} deliveries, concurrency ${concurrency}, batch ${batch}, ${db.dialect}, load avg ${load}, ${os.cpus().length} cpus`);
  console.log(`  baseline raw POSTs (keep-alive): ${baseRate.toFixed(0).padStart(7)} /s  (${baseSec.toFixed(2)} s, receiver counted ${baseCount.count})`);
  console.log(`  hub dispatcher deliveries:       ${hubRate.toFixed(0).padStart(7)} /s  (${hubSec.toFixed(2)} s, receiver counted ${got.count}, distinct webhook-ids ${got.distinct}, succeeded rows ${Number(ok)}, disclosures ${Number(disclosed)})`);
  console.log(`  ratio hub / baseline: ${(hubRate / baseRate).toFixed(2)}   goal >= 1,000 deliveries/s: ${hubRate >= 1000 ? 'met' : 'NOT met'}`);
  if (got.count !== expected || got.distinct !== expected || Number(ok) !== expected) {
    console.error('  MISMATCH: every delivery must arrive exactly once');
    process.exitCode = 1;
  }
  child.send({ op: 'exit' });
  if (db.dialect === 'pg') await db.knex.raw(`drop schema if exists "bench_wh_${process.pid}" cascade`);
  await db.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

if (args[0] === '--child') receiverChild();
else void main();
