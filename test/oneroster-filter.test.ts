/**
 * The OneRoster filter grammar: parsing, errors with positions, and compilation to parameterized SQL (values are
 * always bindings, never SQL text). The SQL is executed against real data in oneroster-api.test.ts.
 */
import { compileFilter, filterSql, parseFilter, FilterSyntaxError } from '../src/serve/oneroster/filter';
import { OneRosterError } from '../src/serve/oneroster/errors';
import { TYPES } from '../src/serve/oneroster/model';

const users = TYPES.user.fields;

function syntaxError(text: string): FilterSyntaxError {
  try {
    parseFilter(text);
  } catch (e) {
    if (e instanceof FilterSyntaxError) return e;
    throw e;
  }
  throw new Error(`no error for ${text}`);
}

function orError(text: string, fields = users): OneRosterError {
  try {
    filterSql('sqlite', text, fields);
  } catch (e) {
    if (e instanceof OneRosterError) return e;
    throw e;
  }
  throw new Error(`no error for ${text}`);
}

describe('parseFilter', () => {
  test('one predicate, every operator', () => {
    for (const op of ['=', '!=', '>', '>=', '<', '<=', '~']) {
      expect(parseFilter(`familyName${op}'x'`)).toEqual({ or: [[{ field: 'familyName', op, value: 'x', at: 1 }]] });
    }
  });

  test('AND binds tighter than OR; dotted fields; spaces around operators tolerated', () => {
    const ast = parseFilter("role='student' AND school.sourcedId = 'abc' OR familyName~'son'");
    expect(ast.or).toHaveLength(2);
    expect(ast.or[0].map((p) => p.field)).toEqual(['role', 'school.sourcedId']);
    expect(ast.or[0][1].value).toBe('abc');
    expect(ast.or[1]).toEqual([{ field: 'familyName', op: '~', value: 'son', at: 48 }]);
  });

  test("values keep spaces, operators and AND inside quotes; '' is a quote", () => {
    expect(parseFilter("title='Math AND Science >= 1'").or[0][0].value).toBe('Math AND Science >= 1');
    expect(parseFilter("familyName='O''Brien'").or[0][0].value).toBe("O'Brien");
    expect(parseFilter("familyName=''").or[0][0].value).toBe('');
  });

  test.each([
    ["familyName='Smith", 12, 'unbalanced quote'],
    ["familyName=Smith", 12, 'single-quoted value'],
    ["familyName=='x'", 12, 'single-quoted value'],
    ["familyName^'x'", 11, 'expected an operator'],
    ["familyName", 11, 'found the end'],
    ["familyName='x' and givenName='y'", 16, "upper case: 'AND'"],
    ["familyName='x'AND givenName='y'", 15, "' AND ' or ' OR '"],
    ["familyName='x' AND ", 20, 'expected a predicate'],
    ["(familyName='x')", 1, 'parentheses'],
    ["'x'=familyName", 1, 'expected a field name'],
    ['', 1, 'empty'],
    ["familyName='x' OR 1=1", 19, 'expected a field name'],
  ])('%j fails at character %i (%s)', (text, at, msg) => {
    const e = syntaxError(text);
    expect(e.at).toBe(at);
    expect(e.message).toContain(msg);
  });

  test('length and predicate-count limits', () => {
    expect(syntaxError(`familyName='${'x'.repeat(2100)}'`).message).toContain('longer than 2000');
    expect(syntaxError(Array.from({ length: 21 }, (_, i) => `familyName='${i}'`).join(' OR ')).message).toContain('more than 20 predicates');
  });
});

describe('compileFilter', () => {
  test('values are bindings, never SQL text', () => {
    const s = filterSql('sqlite', "familyName='x'' OR 1=1--'", users);
    expect(s.bindings).toEqual(["x' OR 1=1--"]);
    expect(s.sql).not.toContain('1=1');
    const pg = filterSql('pg', "givenName~'50%_off\\'", users);
    expect(pg.sql).toContain('ilike ?');
    expect(pg.bindings).toEqual(['%50\\%\\_off\\\\%']);
  });

  test('injection attempts outside quotes are syntax errors, not SQL', () => {
    const e = orError("familyName='x' OR 1=1--");
    expect(e.status).toBe(400);
    expect(e.codeMinor).toBe('invalid_filter_field');
    expect(orError("familyName='x'; drop table records").message).toContain("' AND ' or ' OR '");
  });

  test('unknown field: invalid_filter_field naming it', () => {
    const e = orError("shoeSize='9'");
    expect(e.codeMinor).toBe('invalid_filter_field');
    expect(e.message).toContain("'shoeSize'");
    expect(orError("constructor='x'").message).toContain("'constructor'");
  });

  test('typed fields check their values', () => {
    expect(orError("enabledUser='yes'").message).toContain("'true' or 'false'");
    expect(orError("enabledUser>'true'").message).toContain('use = or !=');
    expect(orError("dateLastModified>'yesterday'").message).toContain('ISO 8601');
    expect(orError("score~'9'", TYPES.result.fields).message).toContain('number');
    expect(orError("score>'nine'", TYPES.result.fields).message).toContain('number');
    expect(orError("grades>'09'").message).toContain('is a list');
    expect(orError("role>'student'").message).toContain('accepts only');
  });

  test('date-times are normalized so text comparison is chronological', () => {
    expect(filterSql('sqlite', "dateLastModified>'2024-01-31T10:00:00+02:00'", users).bindings).toEqual(['2024-01-31T08:00:00.000Z']);
    expect(filterSql('sqlite', "dateLastModified>='2024-01-31'", users).bindings).toEqual(['2024-01-31T00:00:00.000Z']);
  });

  test('AND / OR structure', () => {
    const s = compileFilter('sqlite', parseFilter("givenName='a' AND familyName='b' OR email='c'"), users);
    expect(s.sql).toMatch(/^\(\(.*\) and \(.*\)\) or \(\(.*\)\)$/);
    expect(s.bindings).toEqual(['a', 'b', 'c']);
  });
});
