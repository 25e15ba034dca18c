import path from 'node:path';
import fs from 'node:fs';

/** The project root (where package.json lives), whether running from src/ via tsx/jest or from dist/. */
function findRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'schemas'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the project root above ${start}`);
    dir = up;
  }
}

export const PROJECT_ROOT = findRoot(__dirname);
export const SCHEMAS_DIR = path.join(PROJECT_ROOT, 'schemas');
