/**
 * Reading files as text: UTF-8 characters cut by chunk boundaries are carried over whole; fingerprints.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { completeUtf8, describeFile, fingerprintOf, headOf, openText, type InterchangeFile } from './source';

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

test('headOf decodes characters that straddle its 4 KiB reads, reads only as far as asked, and closes the file', () => {
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < 100 * 1024; i++) {
    const s = `${'x'.repeat(i % 5)}é€😀`;
    parts.push(s);
    size += Buffer.byteLength(s);
  }
  const text = parts.join('');
  const file = path.join(tmp, 'head.xml');
  fs.writeFileSync(file, text);
  expect([...headOf(file)].join('')).toBe(text);
  // The first piece alone: 4 KiB of bytes at most, whole characters only.
  const it = headOf(file);
  const first = it.next().value as string;
  expect(Buffer.byteLength(first)).toBeLessThanOrEqual(4 * 1024);
  expect(Buffer.byteLength(first)).toBeGreaterThan(4 * 1024 - 4);
  expect(text.startsWith(first)).toBe(true);
  it.return(undefined);
  // Stopping early closes the file (as sniffRoot's loop does when it breaks out).
  const openFds = () => fs.readdirSync('/proc/self/fd').length;
  if (fs.existsSync('/proc/self/fd')) {
    const before = openFds();
    for (let i = 0; i < 50; i++) {
      const h = headOf(file);
      h.next();
      h.return(undefined);
    }
    expect(openFds()).toBe(before);
  }
  expect(() => [...headOf(path.join(tmp, 'missing.xml'))]).toThrow(/ENOENT/);
});

test('describeFile names a file that is not an interchange, or cannot be read', async () => {
  const file = path.join(tmp, 'Other.xml');
  fs.writeFileSync(file, `<?xml version="1.0"?>\n<Roster xmlns="http://example.org/x">${'<a/>'.repeat(10000)}</Roster>`);
  await expect(describeFile(file, 'Other.xml')).rejects.toThrow(/Other\.xml:2: the root element is <Roster>, not an Ed-Fi interchange/);
  await expect(describeFile(path.join(tmp, 'nope.xml'), 'nope.xml')).rejects.toThrow(/nope\.xml cannot be read/);
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
