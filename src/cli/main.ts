#!/usr/bin/env node
/**
 * `hub` — the command line. Every command exits 0 on success, 1 on a failed run or an error (printed as
 * `error <code>: <message>` with its details, never a stack unless HUB_DEBUG=1), 2 on bad usage.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { Command, Option } from 'commander';
import { openHub, resolveConfigPath, resolveDatabaseUrl, DEMO_CONFIG, type Hub } from '../hub';
import { findConnector, findTenant, loadConfigFile, resolveSettings, type LoadedConfig } from '../core/config';
import { getConnector } from '../ingest/registry';
import { prepareReadsFor, terminateReadWorker } from '../ingest/threaded-read';
import { previewMapping, formatPreview } from '../../connectors/mapped-csv';
import { decideCandidate, matchStats, mergePersons, unmergeSource } from '../normalize/resolve';
import type { IdentitySettings } from '../normalize/persons';
import { createLogger } from '../core/logger';
import { isHubError, HubError } from '../core/errors';
import { DEFAULT_TTL_SECONDS, PERSON_ROLES, sessionKeys, type PersonRole } from '../serve/sessions';
import { encryptSecret } from '../core/secrets';
import { runSync, approveRun, runRowToSummary, getRunSummary, type RunSummary } from '../ingest/runner';
import { startScheduler } from '../ingest/scheduler';
import { buildApp, drainBackgroundRuns } from '../serve/app';
import { initLtiServices, ltiBanner, startLtiGradePassback } from '../serve/lti';
import { generateDistrict } from '../generator/district';
import { redactUrl } from '../store/db';
import { PROJECT_ROOT } from '../core/paths';
import { accessDemoLines, caliperDemoLines, demoSecret, shellRef, type DemoSecret } from './demo';
import { WebhookDispatcher } from '../webhooks/dispatcher';
import { newWebhookSecret } from '../webhooks/signing';
import { listDisclosures } from '../serve/disclosures';
import { exportOneRosterCsv } from '../serve/export/oneroster-csv';
import { parseExportSince } from '../serve/export/routes';
import { startExport, startExportScheduler } from '../serve/export/state/runs';
import { findProfile, parseSchoolYear } from '../serve/export/state/profile';
import { recomputeTenant } from '../derive/index';
import { formatFigures, masteryFigures } from '../derive/figures';

const interactive = !!process.stderr.isTTY && !process.env.CI;
const out = (s = '') => process.stdout.write(`${s}\n`);
const fmt = (n: number) => n.toLocaleString('en-US');

function cliLogger() {
  // Commands print their own results on stdout; the log goes to stderr and stays quiet unless something is wrong.
  return createLogger({ level: process.env.LOG_LEVEL ?? 'warn', fd: 2 });
}

function pickTenant(hub: Hub, tenant?: string): string {
  if (tenant) return tenant;
  const ts = hub.config.config.tenants;
  if (ts.length === 1) return ts[0].id;
  throw new HubError('bad_request', `This configuration has ${ts.length} tenants: say which with --tenant (${ts.map((t) => t.id).join(', ')}).`);
}

function progress(label: string) {
  let last = 0;
  return ({ stream, counts }: { stream: string; counts: RunSummary['counts'] }) => {
    if (!interactive || Date.now() - last < 200) return;
    last = Date.now();
    process.stderr.write(`\r\x1b[K${label} ${stream}: ${fmt(counts.read)} read, ${fmt(counts.inserted)} new, ${fmt(counts.updated)} updated, ${fmt(counts.rejected)} rejected`);
  };
}

function printRun(r: RunSummary) {
  if (interactive) process.stderr.write('\r\x1b[K');
  const c = r.counts;
  out(`run ${r.id} ${r.dryRun ? '(dry run) ' : ''}${r.status} in ${(r.durationMs / 1000).toFixed(1)}s`);
  out(`  read ${fmt(c.read)}  inserted ${fmt(c.inserted)}  updated ${fmt(c.updated)}  unchanged ${fmt(c.unchanged)}  deleted ${fmt(c.deleted)}  rejected ${fmt(c.rejected)}`);
  for (const s of r.streams) {
    const took = s.durationMs === undefined ? '' : ` in ${(s.durationMs / 1000).toFixed(1)}s`;
    out(`  ${s.stream.padEnd(18)} ${s.mode.padEnd(11)} ${s.skipped ? `skipped: ${s.skipped}` : `read ${fmt(s.counts.read)}, new ${fmt(s.counts.inserted)}, updated ${fmt(s.counts.updated)}, rejected ${fmt(s.counts.rejected)}${took}`}`);
  }
  if (r.review) {
    out(`  needs review: ${r.review.reason}`);
    if (!r.dryRun) out(`  approve with: hub sync ${r.connectorId} --tenant ${r.tenantId} --approve`);
  }
  if (r.matching) out(`  identity: ${fmt(r.matching.considered)} source persons matched after the run: linked ${fmt(r.matching.linked)}, review ${fmt(r.matching.review)}, new ${fmt(r.matching.created)}, conflicts ${fmt(r.matching.conflicts)}`);
  if (r.error) out(`  error ${r.error.code}: ${r.error.message}`);
  if (r.rejects.length) {
    out(`  rejects (first ${Math.min(r.rejects.length, 20)} of ${fmt(c.rejected)}; all are in the run's reject report):`);
    for (const x of r.rejects.slice(0, 20)) out(`    ${x.location}${x.field ? ` [${x.field}]` : ''} ${x.code}: ${x.reason}`);
  }
}

async function withHub<T>(cmd: Command, fn: (hub: Hub) => Promise<T>, onConfig?: (config: LoadedConfig) => void): Promise<T> {
  const g = cmd.optsWithGlobals() as { config?: string; database?: string };
  const hub = await openHub({ configFile: g.config, databaseUrl: g.database, log: cliLogger(), onConfig });
  try {
    return await fn(hub);
  } finally {
    await hub.close();
  }
}

async function serve(hub: Hub, opts: { port?: number; host?: string; banner?: string[] }) {
  const log = createLogger();
  const deps = { db: hub.db, config: hub.config, log };
  const app = buildApp(deps);
  const port = opts.port ?? Number(process.env.PORT ?? hub.config.config.server?.port ?? 3000);
  const host = opts.host ?? process.env.HOST ?? hub.config.config.server?.host ?? '127.0.0.1';
  const scheduler = startScheduler(deps);
  const exportScheduler = startExportScheduler(deps);
  // Webhook deliveries: safe to run in every process of a scaled-out deployment (leases in the database).
  const dispatcher = new WebhookDispatcher({ db: hub.db, config: hub.config, log });
  dispatcher.start();
  const stopGrades = startLtiGradePassback(deps);
  const server = app.listen(port, host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  out(`Learner Data Hub listening on http://${host}:${port}  (database ${hub.db.description}, ${scheduler.tasks.length} scheduled connector(s))`);
  for (const line of ltiBanner((hub.config.config.lti?.publicUrl ?? `http://${host}:${port}`).replace(/\/+$/, ''))) out(line);
  for (const line of opts.banner ?? []) out(line);
  await new Promise<void>((resolve) => {
    const stop = async () => {
      out('shutting down…');
      stopGrades();
      await scheduler.stop();
      await exportScheduler.stop();
      await dispatcher.stop();
      await drainBackgroundRuns(app, { abort: true });
      await terminateReadWorker(); // the runs are drained: no read is left for it
      server.close(() => resolve());
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/** The demo's Caliper lines: the tenant's first sensor and a curl posting the first generated envelope to it. */
function caliperBanner(tenant: Hub['config']['config']['tenants'][number], port: number, token: DemoSecret | undefined, apiKey: DemoSecret | undefined): string[] {
  const sensor = tenant.caliper?.sensors?.[0];
  const eventsFile = path.join(path.dirname(DEMO_CONFIG), 'district/caliper/events.ndjson');
  if (!sensor || !token || !apiKey || !fs.existsSync(eventsFile)) return [];
  return caliperDemoLines({ baseUrl: `http://127.0.0.1:${port}`, tenant: tenant.id, sensor: sensor.id, token, tokenEnv: 'HUB_CALIPER_TOKEN', eventsFile, apiKeyRef: shellRef(apiKey, 'HUB_API_KEY') });
}

export function buildCli(): Command {
  const program = new Command('hub')
    .description('Learner Data Hub: pull district systems into one learner record, serve it back out.')
    .addOption(new Option('-c, --config <file>', 'configuration file (default: $HUB_CONFIG, ./hub.config.json, or the demo)'))
    .addOption(new Option('--database <url>', 'SQLite file or postgres:// URL (default: $DATABASE_URL, the config, .hub/hub.sqlite)'))
    .showHelpAfterError();

  program.command('migrate').description('create or upgrade the database schema').action(async (_o, cmd: Command) => {
    await withHub(cmd, async (hub) => out(`database ${hub.db.description} is up to date; tenants: ${hub.config.config.tenants.map((t) => t.id).join(', ')}`));
  });

  program
    .command('sync <connector>')
    .description('run one connector now (or approve its run waiting for review)')
    .option('-t, --tenant <id>', 'tenant (needed when the config has several)')
    .option('--dry-run', 'compute what would change, write nothing')
    .option('--approve', 'approve the sweep held back by the latest run that needs review')
    .action(async (connector: string, o: { tenant?: string; dryRun?: boolean; approve?: boolean }, cmd: Command) => {
      await withHub(cmd, async (hub) => {
        const tenantId = pickTenant(hub, o.tenant);
        const deps = { db: hub.db, config: hub.config, log: hub.log };
        const type = hub.config.config.tenants.find((t) => t.id === tenantId)?.connectors?.find((c) => c.id === connector)?.type;
        if (type === 'lti-nrps') initLtiServices({ ...deps, env: process.env });
        let r: RunSummary;
        if (o.approve) {
          const pending = await hub.db.knex('runs').where({ tenant_id: tenantId, connector_id: connector, status: 'needs_review', dry_run: false }).orderBy('started_at', 'desc').first();
          if (!pending) throw new HubError('run_not_found', `No run of '${connector}' in tenant '${tenantId}' is waiting for review.`);
          r = await approveRun(deps, tenantId, pending.id, process.env.USER ? `cli:${process.env.USER}` : 'cli');
        } else {
          r = await runSync(deps, { tenantId, connectorId: connector, dryRun: o.dryRun, trigger: 'manual', onPage: progress(`${tenantId}/${connector}`) });
        }
        printRun(r);
        if (r.status === 'failed') process.exitCode = 1;
      }, (config) => prepareReadsFor(config.config, { tenant: o.tenant, connector }));
    });

  program
    .command('runs')
    .description('list recent runs with their counts')
    .option('-t, --tenant <id>')
    .option('--connector <id>')
    .option('-n, --limit <n>', 'how many', '20')
    .option('--id <runId>', 'show one run with its first rejects')
    .action(async (o: { tenant?: string; connector?: string; limit: string; id?: string }, cmd: Command) => {
      await withHub(cmd, async (hub) => {
        const tenantId = pickTenant(hub, o.tenant);
        if (o.id) {
          printRun(await getRunSummary(hub.db, tenantId, o.id));
          return;
        }
        const q = hub.db.knex('runs').where({ tenant_id: tenantId }).orderBy('started_at', 'desc').limit(Number(o.limit) || 20);
        if (o.connector) q.where({ connector_id: o.connector });
        const rows = await q;
        if (!rows.length) out('no runs yet');
        for (const row of rows) {
          const r = runRowToSummary(row);
          out(`${r.id}  ${row.started_at}  ${r.connectorId.padEnd(12)} ${(r.status + (r.dryRun ? '*' : '')).padEnd(13)} read ${fmt(r.counts.read)} new ${fmt(r.counts.inserted)} upd ${fmt(r.counts.updated)} del ${fmt(r.counts.deleted)} rej ${fmt(r.counts.rejected)}  ${(r.durationMs / 1000).toFixed(1)}s`);
        }
      });
    });

  program
    .command('connector')
    .description('connector tools')
    .command('preview <connector>')
    .description('mapped-csv: show the first mapped records and rejects of a connector, without writing anything')
    .option('-t, --tenant <id>')
    .option('-n, --limit <n>', 'rows to read', '10')
    .action(async (connectorId: string, o: { tenant?: string; limit: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals() as { config?: string };
      const loaded = loadConfigFile(resolveConfigPath(g.config));
      const tenantId = o.tenant ?? (loaded.config.tenants.length === 1 ? loaded.config.tenants[0].id : undefined);
      if (!tenantId) throw new HubError('bad_request', 'Say which tenant with --tenant.');
      const { connector, index } = findConnector(loaded.config, tenantId, connectorId);
      if (connector.type !== 'mapped-csv') throw new HubError('bad_request', `Preview is for mapped-csv connectors; '${connectorId}' is ${connector.type} (use hub sync --dry-run).`);
      const impl = getConnector(connector.type)!;
      const settings = resolveSettings(impl.manifest, connector.settings, `$.tenants[${index[0]}].connectors[${index[1]}].settings`);
      const r = await previewMapping(settings, loaded.baseDir, { limit: Number(o.limit) || 10 });
      out(formatPreview(r));
      if (r.problems.length) process.exitCode = 1;
    });

  const identity = program.command('identity').description('identity resolution: review queue, merge, unmerge, figures');
  const who = () => (process.env.USER ? `cli:${process.env.USER}` : 'cli');
  const tenantIdentity = (hub: Hub, tenantId: string) => findTenant(hub.config.config, tenantId)?.identity as IdentitySettings | undefined;
  identity
    .command('candidates')
    .description('list match candidates waiting for review (or --status accepted|rejected|superseded)')
    .option('-t, --tenant <id>')
    .option('--status <status>', 'open, accepted, rejected, superseded', 'open')
    .option('-n, --limit <n>', 'how many', '50')
    .action(async (o: { tenant?: string; status: string; limit: string }, cmd: Command) => {
      await withHub(cmd, async (hub) => {
        const tenantId = pickTenant(hub, o.tenant);
        const rows = (await hub.db.knex('match_candidates').where({ tenant_id: tenantId, status: o.status }).orderBy('created_at').limit(Number(o.limit) || 50)) as Record<string, string>[];
        if (!rows.length) out(`no ${o.status} candidates`);
        const name = async (id: string) => {
          const r = await hub.db.knex('records').where({ tenant_id: tenantId, entity_type: 'person', id }).first('data');
          const d = r ? (JSON.parse(r.data) as Record<string, string>) : {};
          return `${d.givenName ?? '?'} ${d.familyName ?? '?'} (${id})`;
        };
        for (const r of rows) {
          out(`${r.id}  score ${Number(r.score).toFixed(3)}  ${r.connector_id}/${r.source_id}: ${await name(r.person_id)}  ~  ${await name(r.candidate_id)}`);
          out(`    evidence ${r.evidence}`);
        }
      });
    });
  for (const verb of ['accept', 'reject'] as const) {
    identity
      .command(`${verb} <candidateId>`)
      .description(verb === 'accept' ? 'link the source person to the candidate' : 'keep them apart (never proposed again)')
      .option('-t, --tenant <id>')
      .option('--reason <text>')
      .action(async (candidateId: string, o: { tenant?: string; reason?: string }, cmd: Command) => {
        await withHub(cmd, async (hub) => {
          const tenantId = pickTenant(hub, o.tenant);
          const r = await decideCandidate(hub.db, tenantId, candidateId, verb === 'accept', who(), o.reason ?? null, tenantIdentity(hub, tenantId));
          out(`${candidateId}: ${r.status}${r.decision ? ` (decision ${r.decision})` : ''}`);
        });
      });
  }
  identity
    .command('merge <intoPersonId> <otherPersonId>')
    .description('merge two persons an operator knows are the same learner')
    .option('-t, --tenant <id>')
    .option('--reason <text>')
    .action(async (into: string, other: string, o: { tenant?: string; reason?: string }, cmd: Command) => {
      await withHub(cmd, async (hub) => {
        const tenantId = pickTenant(hub, o.tenant);
        const d = await mergePersons(hub.db, tenantId, into, other, who(), o.reason ?? null, tenantIdentity(hub, tenantId));
        out(`merged ${other} into ${into} (decision ${d})`);
      });
    });
  identity
    .command('unmerge <personId> <connectorId> <sourceId>')
    .description("split one system's record back out of a merged person")
    .option('-t, --tenant <id>')
    .option('--reason <text>')
    .action(async (personId: string, connectorId: string, sourceId: string, o: { tenant?: string; reason?: string }, cmd: Command) => {
      await withHub(cmd, async (hub) => {
        const tenantId = pickTenant(hub, o.tenant);
        const r = await unmergeSource(hub.db, tenantId, personId, connectorId, sourceId, who(), o.reason ?? null, tenantIdentity(hub, tenantId));
        out(`${connectorId}/${sourceId} is now person ${r.personId} (decision ${r.decision})`);
      });
    });
  identity
    .command('stats')
    .description('per connector: source persons linked automatically, in review, new, pinned by an operator')
    .option('-t, --tenant <id>')
    .action(async (o: { tenant?: string }, cmd: Command) => {
      await withHub(cmd, async (hub) => {
        const stats = await matchStats(hub.db, pickTenant(hub, o.tenant));
        for (const [c, v] of Object.entries(stats)) {
          const pct = (n = 0) => `${((n / v.total) * 100).toFixed(1)}%`;
          out(`${c.padEnd(14)} ${fmt(v.total)} persons: linked ${pct(v.linked)}, review ${pct(v.review)}, new ${pct(v.new)}, manual ${pct(v.manual)}, provisional ${pct(v.provisional)}`);
        }
      });
    });

  program
    .command('disclosures')
    .description('the disclosure log: who received which categories of student data, newest first')
    .option('-t, --tenant <id>')
    .option('--person <id>', 'only disclosures about this person')
    .option('--recipient <name>', 'only disclosures to this API key / client / webhook:<id>')
    .option('-n, --limit <n>', 'how many', '50')
    .action(async (o: { tenant?: string; person?: string; recipient?: string; limit: string }, cmd: Command) => {
      await withHub(cmd, async (hub) => {
        const tenantId = pickTenant(hub, o.tenant);
        const rows = await listDisclosures(hub.db, tenantId, { personId: o.person, recipient: o.recipient, limit: Math.min(Number(o.limit) || 50, 1000) });
        if (!rows.length) out(o.person ? `no disclosures about ${o.person}` : 'no disclosures');
        for (const r of rows) {
          const cats = (JSON.parse(r.categories) as string[]).join(',');
          out(`${r.at}  ${r.recipient.padEnd(20)} ${r.channel.padEnd(8)} ${cats.padEnd(30)} ${fmt(Number(r.person_count))} person(s)  ${r.route ?? ''}${r.request_id ? `  [${r.request_id}]` : ''}`);
        }
      });
    });

  const exportCmd = program.command('export').description('push data out as files: OneRoster CSV, state-reporting extracts');
  exportCmd
    .command('state')
    .description('the state-reporting extract of a school year under an export profile (docs/state-export.md)')
    .option('-t, --tenant <id>')
    .requiredOption('--year <yyyy>', 'school year, the year it ends (2026 for 2025-26)')
    .requiredOption('--profile <name>', 'export profile (tenants[].exports.profiles[].name)')
    .requiredOption('--out <dir|file.zip>', 'an empty or new directory, or a .zip file')
    .action(async (o: { tenant?: string; year: string; profile: string; out: string }, cmd: Command) => {
      await withHub(cmd, async (hub) => {
        const tenantId = pickTenant(hub, o.tenant);
        const tenant = findTenant(hub.config.config, tenantId);
        if (!tenant) throw new HubError('bad_request', `--tenant: no tenant '${tenantId}' is configured.`, [{ path: '--tenant', message: 'unknown tenant' }]);
        findProfile(tenant, o.profile, '--profile');
        const schoolYear = parseSchoolYear(o.year, '--year');
        const { done } = await startExport({ db: hub.db, config: hub.config, log: hub.log }, {
          tenantId, profile: o.profile, schoolYear, trigger: 'cli', requestedBy: `cli:${process.env.USER ?? 'unknown'}`, out: path.resolve(o.out),
        });
        const r = await done;
        if (r.status !== 'succeeded') {
          const err = JSON.parse(r.error ?? '{}') as { code?: string; message?: string };
          out(`export ${r.id} failed: ${err.code ?? 'internal_error'}: ${err.message ?? ''}`);
          process.exitCode = 1;
          return;
        }
        const m = JSON.parse(r.manifest!) as import('../serve/export/state/extract').Manifest;
        out(`export ${r.id} (${m.profile} -> ${m.recipient}, ${m.tenant} ${m.schoolYear}) written to ${path.resolve(o.out)}`);
        out(`  consistent with change-log seq ${m.changeLogSeq}${m.pseudonymized ? ', student ids pseudonymized' : ''}; categories: ${m.categories.join(', ')}`);
        for (const f of m.files) out(`  ${f.path.padEnd(28)} ${fmt(f.rows).padStart(10)} rows ${fmt(f.bytes).padStart(14)} bytes  sha256 ${f.sha256.slice(0, 16)}…`);
        for (const s of m.skipped) out(`  skipped ${s.id}: ${s.reason}`);
        for (const w of m.warnings) if (!m.skipped.some((s) => s.reason === w)) out(`  note: ${w}`);
        out(`  disclosure ${m.disclosure.id}: ${fmt(m.disclosure.personCount)} student(s) to ${m.recipient}`);
      });
    });

  program
    .command('webhooks')
    .description('webhook tools')
    .command('secret')
    .description('print a new signing secret (whsec_<base64>) for a subscription declared in the configuration')
    .action(() => {
      out(newWebhookSecret());
    });

  program
    .command('config')
    .description('configuration tools')
    .command('validate [file]')
    .description('validate a configuration file against schemas/hub-config.schema.json and each connector schema')
    .action(async (file: string | undefined, _o, cmd: Command) => {
      const f = file ?? resolveConfigPath((cmd.optsWithGlobals() as { config?: string }).config);
      const loaded = loadConfigFile(f);
      const n = loaded.config.tenants.reduce((a, t) => a + (t.connectors?.length ?? 0), 0);
      out(`${f}: valid (${loaded.config.tenants.length} tenant(s), ${n} connector(s); database ${redactUrl(resolveDatabaseUrl(loaded))})`);
    });

  program
    .command('serve')
    .description('serve the API and run connector schedules')
    .option('-p, --port <n>', 'port (default $PORT or 3000)')
    .action(async (o: { port?: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals() as { config?: string; database?: string };
      const hub = await openHub({ configFile: g.config, databaseUrl: g.database });
      try {
        await serve(hub, { port: o.port ? Number(o.port) : undefined });
      } finally {
        await hub.close();
      }
    });

  program
    .command('start')
    .description('the quick start: migrate, generate and sync the demo district if needed, then serve')
    .option('-p, --port <n>', 'port (default $PORT or 3000)')
    .action(async (o: { port?: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals() as { config?: string; database?: string };
      const configFile = resolveConfigPath(g.config);
      const banner: string[] = [];
      let caliperToken: DemoSecret | undefined;
      let apiKey: DemoSecret | undefined;
      let oneRosterSecret: DemoSecret | undefined;
      if (configFile === DEMO_CONFIG) {
        const districtDir = path.join(path.dirname(DEMO_CONFIG), 'district');
        if (!fs.existsSync(path.join(districtDir, 'sis/bulk/manifest.csv'))) {
          out('generating the synthetic demo district (fixtures/demo/district)…');
          await generateDistrict({ seed: 42, students: 1200, outDir: districtDir });
        }
        apiKey = demoSecret(process.env, 'HUB_API_KEY', path.join(PROJECT_ROOT, '.hub/demo-api-key'), 'demo_');
        // The demo OneRoster client's secret and the demo Caliper sensor's token, made once like the demo API key.
        oneRosterSecret = demoSecret(process.env, 'HUB_ONEROSTER_SECRET', path.join(PROJECT_ROOT, '.hub/demo-oneroster-secret'), 'demo_or_');
        caliperToken = demoSecret(process.env, 'HUB_CALIPER_TOKEN', path.join(PROJECT_ROOT, '.hub/demo-caliper-token'), 'demo_cal_');
      }
      const hub = await openHub({ configFile, databaseUrl: g.database, log: cliLogger(), onConfig: (config) => prepareReadsFor(config.config) });
      try {
        const deps = { db: hub.db, config: hub.config, log: hub.log };
        for (const t of hub.config.config.tenants) {
          for (const c of t.connectors ?? []) {
            if (c.enabled === false) continue;
            const r = await runSync(deps, { tenantId: t.id, connectorId: c.id, trigger: 'startup', onPage: progress(`${t.id}/${c.id}`) }).catch((e) => {
              out(`sync ${t.id}/${c.id} could not start: ${(e as Error).message}`);
              return undefined;
            });
            if (r) printRun(r);
          }
        }
        for (const t of hub.config.config.tenants) {
          if (!t.competencies) continue;
          out(`mastery ${t.id} (derived after each sync; \`hub mastery\` shows these figures):`);
          for (const line of formatFigures(await masteryFigures(hub.db, hub.config, t.id))) out(`  ${line}`);
        }
        const port = o.port ? Number(o.port) : Number(process.env.PORT ?? hub.config.config.server?.port ?? 3000);
        const tenant = hub.config.config.tenants[0].id;
        if (configFile === DEMO_CONFIG) {
          banner.push(
            '',
            ...accessDemoLines({ baseUrl: `http://127.0.0.1:${port}`, tenant, apiKey: apiKey!, oneRosterSecret: oneRosterSecret! }),
            '',
            ...caliperBanner(hub.config.config.tenants[0], port, caliperToken, apiKey),
            'Stop with Ctrl-C.',
          );
        }
        await serve(hub, { port, banner });
      } finally {
        await hub.close();
      }
    });

  exportCmd
    .command('oneroster')
    .description('write a OneRoster 1.2 CSV zip of the tenant: bulk, or delta with --since-seq / --since')
    .option('-t, --tenant <id>')
    .requiredOption('-o, --out <file.zip>', 'the zip to write')
    .option('--since-seq <n>', 'delta: records changed after this change-log sequence (the seq a previous export printed)')
    .option('--since <date>', 'delta: records changed after this ISO 8601 date or date-time')
    .action(async (o: { tenant?: string; out: string; sinceSeq?: string; since?: string }, cmd: Command) => {
      await withHub(cmd, async (hub) => {
        const tenantId = pickTenant(hub, o.tenant);
        if (!findTenant(hub.config.config, tenantId)) throw new HubError('bad_request', `No tenant '${tenantId}' in the configuration.`);
        const since = parseExportSince(o.sinceSeq, o.since);
        const file = path.resolve(o.out);
        const partial = `${file}.partial`;
        const summary = await exportOneRosterCsv(hub.db, { tenantId, ...since }, fs.createWriteStream(partial)).catch((e) => {
          fs.rmSync(partial, { force: true });
          throw e;
        });
        fs.renameSync(partial, file);
        out(`${file}: OneRoster 1.2 CSV ${summary.mode} export of ${tenantId}`);
        for (const [f, v] of Object.entries(summary.files)) if (v.mode !== 'absent') out(`  ${(f + '.csv').padEnd(36)} ${fmt(v.rows)} rows`);
        if (summary.skipped) {
          out(`  left out: ${fmt(summary.skipped)} record(s) the binding cannot carry (first ${summary.skippedRecords.length}):`);
          for (const s of summary.skippedRecords.slice(0, 20)) out(`    ${s.file} ${s.sourcedId}: ${s.reason}`);
        }
        out(`  next delta: hub export oneroster --tenant ${tenantId} --since-seq ${summary.seq} --out <file.zip>`);
      });
    });

  program
    .command('generate')
    .description('synthetic data')
    .command('district')
    .description('write a synthetic district (SIS bulk + delta, LMS with gradebook, CASE frameworks, interim and behaviour CSV, Ed-Fi XML, Caliper events, ground truth), deterministic from the seed')
    .option('--students <n>', 'number of students', '1000')
    .option('--seed <n>', 'random seed', '42')
    .option('--schools <n>', 'number of schools (default: one per ~600 students)')
    .requiredOption('-o, --out <dir>', 'output folder')
    .action(async (o: { students: string; seed: string; schools?: string; out: string }) => {
      const students = Number(o.students);
      if (!Number.isInteger(students) || students < 50) throw new HubError('bad_request', `--students must be an integer >= 50, got '${o.students}'`);
      const summary = await generateDistrict({
        seed: Number(o.seed), students, outDir: path.resolve(o.out), schools: o.schools ? Number(o.schools) : undefined,
        log: interactive ? (m: string) => process.stderr.write(`\r\x1b[K${m}`) : undefined,
      });
      if (interactive) process.stderr.write('\r\x1b[K');
      out(JSON.stringify(summary, null, 2));
    });

  const mastery = program.command('mastery').description('competency mastery: figures, recompute');
  mastery
    .command('stats', { isDefault: true })
    .description('evidence, problems, mastery by framework and subject, credits')
    .option('-t, --tenant <id>', 'tenant (default: the only one)')
    .action(async (o: { tenant?: string }, cmd: Command) => {
      await withHub(cmd, async (hub) => {
        for (const line of formatFigures(await masteryFigures(hub.db, hub.config, pickTenant(hub, o.tenant)))) out(line);
      });
    });
  mastery
    .command('recompute')
    .description('derive all evidence again and recompute every mastery value and credit (after changing methods, scales or alignments)')
    .option('-t, --tenant <id>', 'tenant (default: the only one)')
    .option('--mastery-only', 'keep the stored evidence; recompute mastery and credits only (a method or threshold change)')
    .action(async (o: { tenant?: string; masteryOnly?: boolean }, cmd: Command) => {
      await withHub(cmd, async (hub) => {
        const tenantId = pickTenant(hub, o.tenant);
        const r = await recomputeTenant({ db: hub.db, config: hub.config, log: hub.log }, tenantId, { cause: who().slice(0, 32), evidence: !o.masteryOnly });
        out(`recomputed ${tenantId} in ${(r.durationMs / 1000).toFixed(1)}s: evidence ${fmt(r.evidence)}, problems ${fmt(r.problems)}, learners ${fmt(r.learners)}`);
        out(`  mastery created ${fmt(r.mastery.created)}, updated ${fmt(r.mastery.updated)}, deleted ${fmt(r.mastery.deleted)}, unchanged ${fmt(r.mastery.unchanged)}; credits awarded ${fmt(r.credits.awarded)}, revoked ${fmt(r.credits.revoked)}`);
        for (const line of formatFigures(await masteryFigures(hub.db, hub.config, tenantId))) out(line);
      });
    });

  program
    .command('apikey')
    .description('API keys')
    .command('create <name>')
    .description('make a new random API key; put its sha256 in the config, give the key to the client')
    .action((name: string) => {
      const key = `ldh_${randomBytes(24).toString('base64url')}`;
      out(`key:    ${key}`);
      out(`config: ${JSON.stringify({ name, sha256: createHash('sha256').update(key).digest('hex'), tenants: ['*'], scopes: ['admin'] })}`);
    });

  const session = program.command('session').description('person sessions (teachers, students, guardians) for the learner routes');
  session
    .command('create <personId>')
    .description('print a session token for a person acting in the given roles (for a portal bridge, or to try role-aware access)')
    .option('-t, --tenant <id>')
    .option('-r, --role <role...>', `roles: ${PERSON_ROLES.join(', ')}`, ['student'])
    .option('--ttl <seconds>', 'lifetime in seconds', String(DEFAULT_TTL_SECONDS))
    .action(async (personId: string, o: { tenant?: string; role: string[]; ttl: string }, cmd: Command) => {
      await withHub(cmd, async (hub) => {
        const tenantId = pickTenant(hub, o.tenant);
        const bad = o.role.filter((r) => !(PERSON_ROLES as readonly string[]).includes(r));
        if (bad.length) throw new HubError('bad_request', `--role: unknown role ${bad.join(', ')} (known: ${PERSON_ROLES.join(', ')})`);
        const p = await hub.db.knex('records').where({ tenant_id: tenantId, entity_type: 'person', id: personId }).whereNull('deleted_at').first('id');
        if (!p) throw new HubError('not_found', `no person ${personId} in tenant ${tenantId}`);
        const s = await sessionKeys(hub.db).issue({ tenantId, personId, roles: o.role as PersonRole[], via: 'cli', ttlSeconds: Number(o.ttl) });
        out(s.token);
      });
    });
  session
    .command('rotate-key')
    .description('retire the session signing key and make a new one (tokens already issued stay valid until they expire)')
    .action(async (_o: unknown, cmd: Command) => {
      await withHub(cmd, async (hub) => {
        out(`new signing key ${await sessionKeys(hub.db).rotate()}`);
      });
    });

  program
    .command('secret')
    .description('secrets in configuration')
    .command('encrypt')
    .description('encrypt a secret read from stdin with HUB_SECRET_KEY; paste the output as {"$enc": "..."}')
    .action(async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      const plain = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
      if (!plain) throw new HubError('bad_request', 'nothing on stdin to encrypt');
      out(JSON.stringify({ $enc: encryptSecret(plain) }));
    });

  return program;
}

export async function main(argv = process.argv): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (e) {
    if (isHubError(e)) {
      process.stderr.write(`error ${e.code}: ${e.message}\n`);
      for (const d of e.details.slice(0, 20)) process.stderr.write(`  at ${d.path ?? '?'}: ${d.message}\n`);
    } else {
      process.stderr.write(`error internal_error: ${(e as Error).message}\n`);
    }
    if (process.env.HUB_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    process.exitCode = 1;
  }
}

if (require.main === module) void main();
