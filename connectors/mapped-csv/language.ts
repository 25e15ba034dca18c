/** Small pieces of the mapping language shared by validation (validate.ts) and evaluation (compile.ts). */
import type { Builder } from './settings';

export const EXPRESSION_KEYS = ['column', 'const', 'template'] as const;
export const CONVERSIONS = ['map', 'date', 'time', 'number', 'boolean'] as const;

export type BuilderKind = 'column' | 'const' | 'template' | 'array' | 'object' | 'invalid';

/** What a builder is: an expression (by its keyword), a list, a nested object, or nothing valid. */
export function builderKind(b: unknown): BuilderKind {
  if (Array.isArray(b)) return 'array';
  if (!b || typeof b !== 'object') return 'invalid';
  const keys = EXPRESSION_KEYS.filter((k) => k in (b as object));
  if (keys.length === 1) return keys[0];
  if (keys.length > 1) return 'invalid';
  return 'object';
}

export type TemplatePart = { text: string } | { column: string };

/** `{A}-{B}` -> parts; `{{` / `}}` are literal braces. */
export function parseTemplate(t: string): { parts: TemplatePart[] } | { error: string } {
  const parts: TemplatePart[] = [];
  let text = '';
  let i = 0;
  while (i < t.length) {
    const c = t[i];
    if ((c === '{' || c === '}') && t[i + 1] === c) {
      text += c;
      i += 2;
      continue;
    }
    if (c === '}') return { error: `template "${t}": a '}' at position ${i + 1} closes nothing (write '}}' for a literal brace)` };
    if (c === '{') {
      const end = t.indexOf('}', i + 1);
      if (end === -1) return { error: `template "${t}": the '{' at position ${i + 1} is never closed` };
      const name = t.slice(i + 1, end).trim();
      if (name === '') return { error: `template "${t}": an empty placeholder {} at position ${i + 1}` };
      if (name.includes('{')) return { error: `template "${t}": a placeholder at position ${i + 1} contains '{'` };
      if (text) parts.push({ text });
      text = '';
      parts.push({ column: name });
      i = end + 1;
      continue;
    }
    text += c;
    i++;
  }
  if (text) parts.push({ text });
  return { parts };
}

/**
 * Whether a file name matches a `files[].match` entry: an exact name, or a glob where `*` is any run of characters
 * and `?` any one character. Case-insensitive (vendor exports arrive as `Benchmark.CSV` as often as `benchmark.csv`).
 */
export function matchesGlob(pattern: string, name: string): boolean {
  let re = '^';
  for (const ch of pattern) re += ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
  return new RegExp(`${re}$`, 'is').test(name);
}

/** A close candidate for a misspelt name (case, spacing, one or two typos), for "did you mean" hints. */
export function suggest(name: string, candidates: Iterable<string>): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');
  const n = norm(name);
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    if (c === name) continue;
    const d = norm(c) === n ? 0 : distance(n, norm(c));
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.min(2, Math.floor(n.length / 3)) ? best : undefined;
}

function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/** Whether a builder reads the row at all (an object or list made only of constants does not). */
export function readsRow(b: Builder): boolean {
  const k = builderKind(b);
  if (k === 'column' || k === 'template') return true;
  if (k === 'array') return (b as Builder[]).some(readsRow);
  if (k === 'object') return Object.values(b as Record<string, Builder>).some(readsRow);
  return false;
}
