/**
 * Some registry mirrors serve only the platform packages of the machine they were filled from (e.g. no
 * @swc/core-darwin-arm64), and npm then leaves those optional packages out of package-lock.json — after which
 * `npm ci` refuses the lockfile ("Missing: … from lock file"). This adds the missing optional platform entries
 * (name, version, os, cpu, optional), which npm skips on other platforms and fetches normally on theirs.
 * Run it after `npm install <pkg>`: `npx tsx scripts/lock-platforms.ts`.
 */
import fs from 'node:fs';
import path from 'node:path';

type Entry = { version?: string; dev?: boolean; optional?: boolean; os?: string[]; cpu?: string[]; optionalDependencies?: Record<string, string> };
const file = path.join(__dirname, '../package-lock.json');
const lock = JSON.parse(fs.readFileSync(file, 'utf8')) as { packages: Record<string, Entry> };
const OS = ['darwin', 'win32', 'linux', 'android', 'freebsd', 'openharmony', 'sunos', 'netbsd', 'openbsd', 'aix'];
const CPU = ['arm64', 'x64', 'ia32', 'arm', 'ppc64', 's390x', 'riscv64', 'loong64', 'wasm32'];
let added = 0;
for (const [, entry] of Object.entries(lock.packages)) {
  for (const [dep, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${dep}`;
    if (lock.packages[key]) continue;
    const name = dep.split('/').pop()!;
    const os = OS.find((o) => name.includes(o));
    const cpu = CPU.find((c) => new RegExp(`-${c}(-|$)`).test(name));
    if (!os || !cpu) continue;
    lock.packages[key] = { version, ...(entry.dev ? { dev: true } : {}), cpu: [cpu], optional: true, os: [os] };
    added++;
  }
}
const sorted = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)));
fs.writeFileSync(file, `${JSON.stringify({ ...lock, packages: sorted }, null, 2)}\n`);
console.log(`added ${added} optional platform entries`);
