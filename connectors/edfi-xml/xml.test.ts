/**
 * The streaming element reader: object shapes, line numbers, chunk boundaries, skipping, errors.
 */
import { ElementReader, MAX_ELEMENT_NODES, MAX_ELEMENT_TEXT, XmlSyntaxError, ElementTooLargeError, sniffRoot, type XmlElement } from './xml';

function readAll(xml: string | string[], want: (name: string, hasId: boolean) => boolean = () => true): { reader: ElementReader; elements: XmlElement[] } {
  const reader = new ElementReader(want);
  const elements: XmlElement[] = [];
  for (const chunk of Array.isArray(xml) ? xml : [xml]) {
    reader.write(chunk);
    elements.push(...reader.take());
  }
  reader.end();
  elements.push(...reader.take());
  return { reader, elements };
}

const DOC = `<?xml version="1.0" encoding="UTF-8"?>
<InterchangeStudent xmlns="http://ed-fi.org/5.0.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
	<Student id="S1">
		<StudentUniqueId> 604821 </StudentUniqueId>
		<Name>
			<FirstName>Zoë &amp; Co</FirstName>
			<LastSurname><![CDATA[<Dyer>]]></LastSurname>
		</Name>
		<Empty/>
		<Visa>uri://ed-fi.org/VisaDescriptor#A</Visa>
		<Visa>uri://ed-fi.org/VisaDescriptor#B</Visa>
		<Ref ref="X">  </Ref>
		<Mixed kind="k">text</Mixed>
	</Student>
	<!-- a comment between elements -->
	<Person><PersonId>P1</PersonId></Person>
</InterchangeStudent>
`;

describe('ElementReader', () => {
  test('builds objects like fast-xml-parser (text trimmed, repeated children as arrays, attributes with @)', () => {
    const { reader, elements } = readAll(DOC);
    expect(reader.error).toBeUndefined();
    expect(reader.root).toEqual({ name: 'InterchangeStudent', namespace: 'http://ed-fi.org/5.0.0', line: 2 });
    expect(elements.map((e) => [e.name, e.line, e.index, e.id])).toEqual([
      ['Student', 3, 1, 'S1'],
      ['Person', 16, 2, undefined],
    ]);
    expect(elements[0].value).toEqual({
      '@id': 'S1',
      StudentUniqueId: '604821',
      Name: { FirstName: 'Zoë & Co', LastSurname: '<Dyer>' },
      Empty: '',
      Visa: ['uri://ed-fi.org/VisaDescriptor#A', 'uri://ed-fi.org/VisaDescriptor#B'],
      Ref: { '@ref': 'X' },
      Mixed: { '@kind': 'k', '#text': 'text' },
    });
    expect(elements[1].value).toEqual({ PersonId: 'P1' });
  });

  test('the same result whatever the chunk boundaries (one character at a time)', () => {
    const whole = readAll(DOC).elements;
    const split = readAll([...DOC]).elements;
    expect(split).toEqual(whole);
  });

  test('elements not wanted are counted but not built; ids are reported either way', () => {
    const { elements } = readAll(DOC, (name) => name === 'Person');
    expect(elements.map((e) => [e.name, e.index, e.id, e.value === undefined])).toEqual([
      ['Student', 1, 'S1', true],
      ['Person', 2, undefined, false],
    ]);
  });

  test('namespace prefixes are dropped from element names; the root namespace is that of its prefix', () => {
    const { reader, elements } = readAll('<e:InterchangeStudent xmlns:e="http://ed-fi.org/5.0.0"><e:Student><e:StudentUniqueId>1</e:StudentUniqueId></e:Student></e:InterchangeStudent>');
    expect(reader.root).toMatchObject({ name: 'InterchangeStudent', namespace: 'http://ed-fi.org/5.0.0' });
    expect(elements[0]).toMatchObject({ name: 'Student', value: { StudentUniqueId: '1' } });
  });

  test('a BOM and blank lines before the XML declaration are tolerated', () => {
    const { reader, elements } = readAll(['\ufeff\n\n', DOC]);
    expect(reader.error).toBeUndefined();
    expect(elements).toHaveLength(2);
  });

  test('a truncated document: the complete elements are kept, then an error with the line', () => {
    const cut = DOC.slice(0, DOC.indexOf('<Person>') + 12);
    const { reader, elements } = readAll(cut);
    expect(elements.map((e) => e.name)).toEqual(['Student']);
    expect(reader.error).toBeInstanceOf(XmlSyntaxError);
    expect(reader.error!.message).toMatch(/^XML is truncated or malformed at line 16, column \d+: /);
  });

  test('a mismatched closing tag is an error at its line; nothing after it is reported', () => {
    const bad = DOC.replace('</Name>', '</Nom>');
    const { reader, elements } = readAll(bad);
    expect(elements).toEqual([]);
    expect(reader.error).toBeInstanceOf(XmlSyntaxError);
    expect((reader.error as XmlSyntaxError).line).toBe(8);
  });

  test('an empty input and one without a root element are errors', () => {
    expect(readAll('').reader.error?.message).toContain('the file is empty');
    expect(readAll('<?xml version="1.0"?>\n<!-- nothing -->\n').reader.error).toBeInstanceOf(XmlSyntaxError);
  });

  test('an element with more nested elements than MAX_ELEMENT_NODES is refused', () => {
    const reader = new ElementReader(() => true);
    reader.write('<InterchangeStudent><Student>');
    const kid = '<a>1</a>'.repeat(10000);
    for (let i = 0; i <= MAX_ELEMENT_NODES / 10000; i++) reader.write(kid);
    expect(reader.error).toBeInstanceOf(ElementTooLargeError);
    expect(reader.error!.message).toContain('<Student> element starting at line 1');
  });
});

test('an element with more text than MAX_ELEMENT_TEXT is refused', () => {
  const reader = new ElementReader(() => true);
  reader.write('<InterchangeStudent>\n<Student><Note>');
  const text = 'x'.repeat(1 << 20);
  for (let i = 0; i <= MAX_ELEMENT_TEXT / text.length; i++) reader.write(text);
  expect(reader.error).toBeInstanceOf(ElementTooLargeError);
  expect(reader.error!.message).toBe(`the <Student> element starting at line 2 has more than ${MAX_ELEMENT_TEXT} characters of text`);
});

describe('sniffRoot', () => {
  test('reads only as far as the root', () => {
    const chunks = [DOC.slice(0, 80), DOC.slice(80, 200), 'garbage that is never read <<<'];
    expect(sniffRoot(chunks)).toEqual({ root: { name: 'InterchangeStudent', namespace: 'http://ed-fi.org/5.0.0', line: 2 } });
  });

  test('an error before the root, and no root within the limit', () => {
    expect(sniffRoot(['<?xml version="1.0"?>\n<a><b></a>']).root).toMatchObject({ name: 'a' });
    expect(sniffRoot(['<<<']).error).toBeInstanceOf(XmlSyntaxError);
    expect(sniffRoot([`<!--${'x'.repeat(200)}`], 100)).toEqual({});
  });
});
