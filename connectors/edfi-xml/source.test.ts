/**
 * Reading files as text: UTF-8 characters cut by chunk boundaries are carried over whole; fingerprints.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { completeUtf8, describeFile, fingerprintOf, openText, type InterchangeFile } from './source';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edfi-xml-source-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('completeUtf8 drops only an incomplete trailing sequence', () => {
  const b = (s: string) => Buffer.from(s, 'utf8');
  expect(completeUtf8(b('abc'))).toBe(3);
  expect(completeUtf8(b('aé'))).toBe(3);
  expect(completeUtf8(b('aé').subarray(0, 2))).toBe(1);
  expect(completeUtf8(b('a€').subarray(0, 3))).toBe(1);
  expect(completeUtf8(b('a😀').subarray(0, 4))).toBe(1);
  expect(completeUtf8(b('a😀'))).toBe(5);
  expect(completeUtf8(Buffer.alloc(0))).toBe(0);
});

test('openText decodes 2-, 3- and 4-byte characters that straddle every chunk boundary', async () => {
  // Characters of each width at every offset around the 48 KiB decoded strings and the 512 KiB reads.
  const parts: string[] = [];
  let size = 0;
  let i = 0;
  while (size < 2.5 * 512 * 1024) {
    const s = `${'x'.repeat(i % 7)}é€😀Zoë`;
    parts.push(s);
    size += Buffer.byteLength(s);
    i++;
  }
  const text = `\ufeff${parts.join('')}`;
  const file = path.join(tmp, 'utf8.xml');
  fs.writeFileSync(file, text);
  let out = '';
  for await (const chunk of openText(file)) out += chunk;
  expect(out).toBe(text);
});

test('fingerprints change with any file name, size or mtime, and with the order', () => {
  const f = (name: string, size = 1, mtimeMs = 2): InterchangeFile => ({ name, path: `/x/${name}`, size, mtimeMs, interchange: 'InterchangeStudent' });
  const base = fingerprintOf([f('a.xml'), f('b.xml')]);
  expect(base).toMatch(/^fs:2:[0-9a-f]{32}$/);
  expect(fingerprintOf([f('a.xml'), f('b.xml')])).toBe(base);
  for (const other of [[f('a.xml', 9), f('b.xml')], [f('a.xml'), f('b.xml', 1, 3)], [f('a.xml'), f('c.xml')], [f('b.xml'), f('a.xml')], [f('a.xml')]]) {
    expect(fingerprintOf(other)).not.toBe(base);
  }
});

test('describeFile sniffs a file again when its size or mtime changed, and hands out copies', async () => {
  const file = path.join(tmp, 'Student.xml');
  fs.writeFileSync(file, '<InterchangeStudent xmlns="http://ed-fi.org/5.0.0"></InterchangeStudent>');
  const at = new Date('2026-01-01T00:00:00Z');
  fs.utimesSync(file, at, at);
  const first = await describeFile(file, 'Student.xml');
  expect(first.interchange).toBe('InterchangeStudent');
  first.interchange = 'changed by a caller';
  expect((await describeFile(file, 'Student.xml')).interchange).toBe('InterchangeStudent');
  // Another root of the same length: only the mtime tells.
  fs.writeFileSync(file, '<InterchangeParent xmlns="http://ed-fi.org/5.0.0"></InterchangeParent>'.padEnd(72));
  expect(fs.statSync(file).size).toBe(first.size);
  fs.utimesSync(file, at, new Date('2026-01-02T00:00:00Z'));
  expect((await describeFile(file, 'Student.xml')).interchange).toBe('InterchangeParent');
});
