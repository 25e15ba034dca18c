/** The line guard and CSV reading: quoting recovery, line numbers, BOM, line endings, chunk boundaries. */
import { Readable } from 'node:stream';
import { checkQuoting, firstField, MAX_LINE_BYTES, readCsvLines, type CsvLine } from './csv';

/** Feeds `text` in chunks of `size` bytes (1 = every byte its own chunk: the worst case for boundaries). */
function chunked(text: string | Buffer, size = 1 << 16): Readable {
  const buf = Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Readable.from(parts, { objectMode: false });
}

async function lines(input: Readable): Promise<CsvLine[]> {
  const out: CsvLine[] = [];
  for await (const batch of readCsvLines(input)) out.push(...batch);
  return out;
}

const q = (s: string) => {
  const b = Buffer.from(s);
  return checkQuoting(b, 0, b.length);
};

describe('checkQuoting', () => {
  test('well-formed lines', () => {
    expect(q('a,b,c')).toBeNull();
    expect(q('a,"b,c",d')).toBeNull();
    expect(q('"a ""quoted"" word",b')).toBeNull();
    expect(q('a,""')).toBeNull();
    expect(q('"",""')).toBeNull();
    expect(q('a,"{LDAP:x},{state:1}"')).toBeNull();
  });

  test('broken lines name the 0-based column and the kind', () => {
    expect(q('a,"bc,d')).toEqual({ column: 1, kind: 'unclosed' });
    expect(q('a,b"c,d')).toEqual({ column: 1, kind: 'stray' });
    expect(q('a,"b"c,d')).toEqual({ column: 1, kind: 'after_closing' });
    expect(q('"a')).toEqual({ column: 0, kind: 'unclosed' });
    expect(q('a,b,"c""')).toEqual({ column: 2, kind: 'unclosed' });
  });
});

describe('firstField', () => {
  test('reads the first field of a raw line', () => {
    expect(firstField('stu-1,x,"y')).toBe('stu-1');
    expect(firstField('"stu,1",x,"y')).toBe('stu,1');
    expect(firstField('" a""b ",x')).toBe('a"b');
    expect(firstField(',x')).toBeUndefined();
    expect(firstField('"unclosed,x')).toBeUndefined();
    expect(firstField('a"b,x')).toBeUndefined();
  });
});

describe('readCsvLines', () => {
  test('a broken quote affects its own line only; the lines after it survive with their numbers', async () => {
    const text = 'h1,h2,h3\na,"bc,d\ne,f,g\nh,"i"j,k\nl,m,n\no,p"q,r\ns,t,u\n';
    for (const size of [1, 3, 7, 1 << 16]) {
      const got = await lines(chunked(text, size));
      expect(got.map((l) => [l.line, l.problem ? `!${l.problem.kind}@${l.problem.column}:${l.problem.text}` : l.fields.join('|')])).toEqual([
        [1, 'h1|h2|h3'],
        [2, '!unclosed@1:a,"bc,d'],
        [3, 'e|f|g'],
        [4, '!after_closing@1:h,"i"j,k'],
        [5, 'l|m|n'],
        [6, '!stray@1:o,p"q,r'],
        [7, 's|t|u'],
      ]);
    }
  });

  test('BOM stripped (even split across chunks), CRLF/LF mixed, quoted commas and accents, no trailing newline', async () => {
    const text = '\ufeffid,name\r\n1,"Núñez, Jr."\n2,Zoë\r\n\r\n3,"say ""hi"""';
    for (const size of [1, 2, 1 << 16]) {
      const got = await lines(chunked(text, size));
      expect(got.map((l) => [l.line, l.fields])).toEqual([
        [1, ['id', 'name']],
        [2, ['1', 'Núñez, Jr.']],
        [3, ['2', 'Zoë']],
        [4, ['']],
        [5, ['3', 'say "hi"']],
      ]);
    }
  });

  test('a broken last line without a line break is still reported', async () => {
    const got = await lines(chunked('h\na\n"b'));
    expect(got.map((l) => [l.line, l.problem?.kind ?? l.fields.join('|')])).toEqual([
      [1, 'h'],
      [2, 'a'],
      [3, 'unclosed'],
    ]);
  });

  test('a lone CR inside a field does not shift line numbers', async () => {
    const got = await lines(chunked('h1,h2\na,b\rc\nd,e\n'));
    expect(got.map((l) => [l.line, l.fields])).toEqual([
      [1, ['h1', 'h2']],
      [2, ['a', 'b\rc']],
      [3, ['d', 'e']],
    ]);
  });

  test('rows with the wrong field count are delivered as they are (the caller rejects them)', async () => {
    const got = await lines(chunked('a,b,c\n1,2\n1,2,3,4\n'));
    expect(got.map((l) => l.fields.length)).toEqual([3, 2, 4]);
  });

  test('a line longer than MAX_LINE_BYTES fails the read (CR-only line endings, or not a CSV)', async () => {
    const big = Buffer.alloc(MAX_LINE_BYTES + 10, 'a'.charCodeAt(0));
    await expect(lines(chunked(big))).rejects.toMatchObject({ code: 'line_too_long', line: 1 });
  });

  test('stopping early destroys the input', async () => {
    const input = chunked('h\n' + 'x\n'.repeat(100000), 1024);
    for await (const batch of readCsvLines(input)) {
      expect(batch.length).toBeGreaterThan(0);
      break;
    }
    expect(input.destroyed).toBe(true);
  });

  test('an input error surfaces', async () => {
    const input = new Readable({
      read() {
        this.destroy(new Error('disk on fire'));
      },
    });
    await expect(lines(input)).rejects.toThrow('disk on fire');
  });
});
