/**
 * The ingest hook of the derive stage (src/ingest/hooks.ts): after each committed page, the evidence of the changed
 * results, line items, assessment results and assessments is derived again and the mastery it touches recomputed
 * (`deriveChanged`). After the run, the changes the run made outside pages — records swept, references re-pointed
 * by identity resolution (read back from the change log by run id) — are derived the same way; a run that changed a
 * competency framework recomputes the whole tenant instead (crosswalks, codes and scales may all have moved).
 *
 * A crosswalk cycle or any other derive error does not fail the sync: it is logged and recorded as an evidence
 * problem (`crosswalk_cycle`), and mastery keeps its last values until the next derive succeeds.
 */
import type { Knex } from 'knex';
import type { IngestHook } from '../ingest/hooks';
import { isHubError } from '../core/errors';
import { silentLogger } from '../core/logger';
import { COMPETENCY_TYPES, EVIDENCE_TYPES, deriveChanged, recomputeTenant, type DeriveDeps } from './index';

async function lastSeq(knex: Knex, tenantId: string): Promise<number> {
  const r = (await knex('tenant_sequences').where({ tenant_id: tenantId }).first('last_seq')) as { last_seq: number | string } | undefined;
  return Number(r?.last_seq ?? 0);
}

async function recordFailure(deps: DeriveDeps, tenantId: string, runId: string, e: unknown): Promise<void> {
  const log = deps.log ?? silentLogger;
  const code = isHubError(e) ? e.code : 'internal_error';
  log.error({ tenant: tenantId, runId, code, err: isHubError(e) ? undefined : (e as Error).stack }, `mastery derive failed: ${isHubError(e) ? e.message : 'unexpected error'}`);
  if (code !== 'crosswalk_cycle') return;
  await deps.db.knex.transaction(async (trx) => {
    await trx('evidence_problems').where({ tenant_id: tenantId, source_kind: 'crosswalk' }).delete();
    await trx('evidence_problems').insert({
      tenant_id: tenantId, source_kind: 'crosswalk', source_id: runId, connector_id: null, code, field: isHubError(e) ? e.details[0]?.path ?? null : null,
      ref: null, reason: (e as Error).message, at: new Date().toISOString(),
    });
  });
}

export function deriveHook(deps: DeriveDeps): IngestHook {
  let competencyChanged = false;
  let seqAfterPages = 0;
  let failed = false;
  return {
    name: 'mastery',
    entityTypes: [...EVIDENCE_TYPES, ...COMPETENCY_TYPES],
    async afterPage(ctx, changed) {
      if (COMPETENCY_TYPES.some((t) => changed.has(t))) competencyChanged = true;
      if (!competencyChanged && !failed) {
        try {
          await deriveChanged(deps, ctx.tenantId, changed, { cause: 'derive', runId: ctx.runId });
        } catch (e) {
          failed = true;
          await recordFailure(deps, ctx.tenantId, ctx.runId, e);
        }
      }
      seqAfterPages = await lastSeq(deps.db.knex, ctx.tenantId);
    },
    async afterRun(ctx) {
      try {
        if (competencyChanged || failed) {
          await recomputeTenant(deps, ctx.tenantId, { cause: 'recompute', runId: ctx.runId });
          await deps.db.knex('evidence_problems').where({ tenant_id: ctx.tenantId, source_kind: 'crosswalk' }).delete();
          return;
        }
        if (!seqAfterPages) seqAfterPages = await lastSeq(deps.db.knex, ctx.tenantId);
        const rows = (await deps.db.knex('change_log').where({ tenant_id: ctx.tenantId, run_id: ctx.runId }).where('seq', '>', seqAfterPages)
          .whereIn('entity_type', [...EVIDENCE_TYPES]).select('entity_type', 'entity_id')) as { entity_type: string; entity_id: string }[];
        if (!rows.length) return;
        const changed = new Map<string, string[]>();
        for (const r of rows) (changed.get(r.entity_type) ?? changed.set(r.entity_type, []).get(r.entity_type)!).push(r.entity_id);
        for (const [t, ids] of changed) changed.set(t, [...new Set(ids)]);
        await deriveChanged(deps, ctx.tenantId, changed, { cause: 'derive', runId: ctx.runId });
      } catch (e) {
        await recordFailure(deps, ctx.tenantId, ctx.runId, e);
      }
    },
  };
}
