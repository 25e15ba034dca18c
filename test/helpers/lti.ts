/**
 * LTI test plumbing: a hub listening on port 0 with a synced synthetic district and a fake LMS registered for it,
 * real launches over HTTP (login -> the LMS's auth endpoint -> form post to /lti/launch), and the `mastery` table the
 * mastery engine's migration 005 creates (created here so the pages and grade passback can be tested before merge).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Db } from '../../src/store/db';
import { FakeLms, formFields } from './fake-lms';

export async function listen(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

export interface LaunchResult {
  status: number;
  location: string | null;
  body: string;
  /** The form the LMS auto-posted (id_token, state), for replay tests. */
  posted: Record<string, string>;
}

/** A full launch: login initiation, the platform's auth endpoint, the form post to the hub. Redirects not followed. */
export async function launch(hub: string, lms: FakeLms, sub: string, hint: string, opts: { clientId?: string; deploymentId?: string; tamper?: (f: Record<string, string>) => void } = {}): Promise<LaunchResult> {
  const q = new URLSearchParams({ iss: lms.issuer, login_hint: sub, target_link_uri: `${hub}/lti/launch`, lti_message_hint: hint, client_id: opts.clientId ?? lms.clientId, lti_deployment_id: opts.deploymentId ?? lms.hints.get(hint)?.deploymentId ?? lms.deploymentId });
  const login = await fetch(`${hub}/lti/login?${q}`, { redirect: 'manual' });
  if (login.status !== 302) return { status: login.status, location: null, body: await login.text(), posted: {} };
  const auth = await fetch(login.headers.get('location')!);
  const { action, fields } = formFields(await auth.text());
  opts.tamper?.(fields);
  return post(action, fields);
}

export async function post(action: string, fields: Record<string, string>): Promise<LaunchResult> {
  const res = await fetch(action, { method: 'POST', redirect: 'manual', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
  return { status: res.status, location: res.headers.get('location'), body: await res.text(), posted: fields };
}

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
