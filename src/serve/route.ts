/**
 * How API routes are declared: every route names its scope and its query parameters, and every `:tenant` route
 * checks the tenant before the handler runs. The route pattern (never the URL) is what the request log shows.
 */
import type { Request, Response, Router } from 'express';
import type { Db } from '../store/db';
import type { LoadedConfig, TenantConfig } from '../core/config';
import { findTenant } from '../core/config';
import type { Logger } from '../core/logger';
import { canSeeTenant, principalOf, requireScope, tenantForbidden, type Principal, type Scope } from './auth';
import { checkQuery } from './params';

export const API_PREFIX = '/api/v1';

/** Runs started by the API that are still going (so a shutdown or a test can wait for them). */
export class BackgroundRuns {
  private readonly pending = new Set<Promise<void>>();
  readonly controller = new AbortController();

  track(p: Promise<void>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  get size(): number {
    return this.pending.size;
  }

  /** Waits for every run; with abort, asks them to stop first (they end `failed`, committed pages kept). */
  async drain(opts: { abort?: boolean } = {}): Promise<void> {
    if (opts.abort) this.controller.abort();
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }
}

export interface AppDeps {
  db: Db;
  config: LoadedConfig;
  log: Logger;
  env: NodeJS.ProcessEnv;
  background: BackgroundRuns;
}

export interface TenantContext {
  req: Request;
  res: Response;
  principal: Principal;
  tenant: TenantConfig;
  deps: AppDeps;
}

export interface RouteOptions {
  /** The scope a service API key needs. */
  scope: Scope;
  /**
   * Person sessions (teachers, students, guardians) may call this route too; the handler must then check what the
   * person may see with src/serve/access.ts. Without it a person session gets 403.
   */
  persons?: boolean;
  /** Query parameters the route understands; any other is a 400. */
  query?: readonly string[];
}

/** Declares a `/tenants/:tenant/...` route (pattern relative to /api/v1). */
export function tenantRoute(
  router: Router,
  deps: AppDeps,
  method: 'get' | 'post' | 'put' | 'patch' | 'delete',
  pattern: string,
  opts: RouteOptions,
  handler: (ctx: TenantContext) => Promise<void>,
): void {
  router[method](pattern, async (req, res) => {
    res.locals.route = `${API_PREFIX}${pattern}`;
    const principal = principalOf(res);
    if (!principal.person || !opts.persons) requireScope(principal, opts.scope);
    const tenantId = String(req.params.tenant);
    const tenant = findTenant(deps.config.config, tenantId);
    if (!tenant || !canSeeTenant(principal, tenantId)) throw tenantForbidden();
    res.locals.tenantId = tenant.id;
    checkQuery(req, opts.query ?? []);
    await handler({ req, res, principal, tenant, deps });
  });
}
