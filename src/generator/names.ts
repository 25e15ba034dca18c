/**
 * Synthetic name material. These are common given and family names written out by hand; combined at random they
 * describe nobody in particular. The lists deliberately include accents (José, Zoë, Nguyễn), hyphens
 * (García-López), apostrophes (O'Brien) and spaces (van der Berg), because real rosters do.
 */

const nfc = (names: string[]): readonly string[] => Object.freeze(names.map((n) => n.normalize('NFC')));

export const FEMALE_GIVEN = nfc([
  'Olivia', 'Emma', 'Charlotte', 'Amelia', 'Sophia', 'Isabella', 'Ava', 'Mia', 'Evelyn', 'Harper', 'Luna', 'Camila',
  'Elizabeth', 'Eleanor', 'Ella', 'Abigail', 'Sofía', 'Avery', 'Scarlett', 'Emily', 'Aria', 'Penelope', 'Chloé',
  'Layla', 'Nora', 'Hazel', 'Madison', 'Ellie', 'Lily', 'Grace', 'Violet', 'Aurora', 'Riley', 'Zoë', 'Victoria',
  'Hannah', 'Leah', 'Lucy', 'Ivy', 'Elena', 'Naomi', 'Maya', 'Natalie', 'Claire', 'Audrey', 'Aaliyah', 'Ruby',
  'Alice', 'Savannah', 'Valentina', 'Josephine', 'Sophie', 'Hailey', 'Natalia', 'Quinn', 'Caroline', 'Gabriella',
  'Anna', 'Cora', 'Lydia', 'Jade', 'Sarah', 'Eva', 'Madeline', 'Piper', 'Clara', 'Samantha', 'María', 'Iris',
  'Eliza', 'Julia', 'Rose', 'Margaret', 'Cecilia', 'Mary', 'Lucía', 'Ximena', 'Isabel', 'Genevieve', 'Esther',
  'Valeria', 'Katherine', 'Catalina', 'Alexandra', 'Jasmine', 'Andrea', 'June', 'Ada', 'Molly', 'Ruth', 'Zara',
  'Amira', 'Diana', 'Jennifer', 'Siobhán', 'Renée', 'Inés', 'Mariana', 'Guadalupe', 'Linh', 'Thảo', 'Ngọc', 'Mai',
  'Aisha', 'Fatima', 'Yasmin', 'Mei', 'Priya', 'Ananya', 'Chiara', 'Noémie', 'Anaïs', 'Björk', 'Dagný', 'Niamh',
]);

export const MALE_GIVEN = nfc([
  'Liam', 'Noah', 'Oliver', 'James', 'Elijah', 'William', 'Henry', 'Lucas', 'Benjamin', 'Theodore', 'Mateo', 'Levi',
  'Sebastian', 'Daniel', 'Jack', 'Michael', 'Alexander', 'Owen', 'Asher', 'Samuel', 'Ethan', 'Leo', 'Jackson',
  'Mason', 'Ezra', 'John', 'Hudson', 'Luca', 'Aiden', 'Joseph', 'David', 'Jacob', 'Logan', 'Luke', 'Julián',
  'Gabriel', 'Grayson', 'Wyatt', 'Matthew', 'Dylan', 'Isaac', 'Elias', 'Anthony', 'Thomas', 'Carter', 'Santiago',
  'Ezekiel', 'Charles', 'Josiah', 'Caleb', 'Cooper', 'Lincoln', 'Miles', 'Christopher', 'Nathan', 'Isaiah', 'Kai',
  'Joshua', 'Andrew', 'Ángel', 'Adrian', 'Cameron', 'Nolan', 'Roman', 'Eli', 'Wesley', 'Aaron', 'Ian', 'Christian',
  'Ryan', 'Leonardo', 'Axel', 'Jonathan', 'Everett', 'Robert', 'Silas', 'José', 'Micah', 'Jordan', 'Adam',
  'Nicholas', 'Xavier', 'Dominic', 'Richard', 'Joaquín', 'Ramón', 'André', 'Seán', 'Nicolás', 'Tomás', 'Matías',
  'Raúl', 'Jesús', 'Francisco', 'Alejandro', 'Guillermo', 'Edward', 'Minh', 'Huy', 'Khoa', 'Quang', 'Omar', 'Yusuf',
  'Arjun', 'Kenji', 'Hiroshi', 'François', 'Jürgen', 'Søren', 'Chidi', 'Kwame', 'Malik', 'Darius',
]);

/** Given names of both sexes: index < FEMALE_GIVEN.length is female, the rest male. */
export const GIVEN: readonly string[] = Object.freeze([...FEMALE_GIVEN, ...MALE_GIVEN]);
export const FEMALE_COUNT = FEMALE_GIVEN.length;
export const MALE_COUNT = MALE_GIVEN.length;

export const FAMILY = nfc([
  'Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'García', 'Miller', 'Davis', 'Rodríguez', 'Martínez',
  'Hernández', 'López', 'González', 'Wilson', 'Anderson', 'Thomas', 'Taylor', 'Moore', 'Jackson', 'Martin', 'Lee',
  'Pérez', 'Thompson', 'White', 'Harris', 'Sánchez', 'Clark', 'Ramírez', 'Lewis', 'Robinson', 'Walker', 'Young',
  'Allen', 'King', 'Wright', 'Scott', 'Torres', 'Nguyễn', 'Hill', 'Flores', 'Green', 'Adams', 'Nelson', 'Baker',
  'Hall', 'Rivera', 'Campbell', 'Mitchell', 'Carter', 'Roberts', 'Gómez', 'Phillips', 'Evans', 'Turner', 'Díaz',
  'Parker', 'Cruz', 'Edwards', 'Collins', 'Reyes', 'Stewart', 'Morris', 'Morales', 'Murphy', 'Cook', 'Rogers',
  'Gutiérrez', 'Ortiz', 'Morgan', 'Cooper', 'Peterson', 'Bailey', 'Reed', 'Kelly', 'Howard', 'Ramos', 'Kim', 'Cox',
  'Ward', 'Richardson', 'Watson', 'Brooks', 'Chávez', 'Wood', 'Bennett', 'Gray', 'Mendoza', 'Ruiz', 'Hughes',
  'Price', 'Álvarez', 'Castillo', 'Sanders', 'Patel', 'Myers', 'Long', 'Ross', 'Foster', 'Jiménez', 'Trần', 'Lê',
  'Phạm', 'Hoàng', 'Võ', 'Đặng', "O'Brien", "O'Connor", "O'Neill", "D'Angelo", 'McDonald', 'MacLeod',
  'García-López', 'Smith-Jones', 'Martínez-Ruiz', 'Pérez-Soto', 'van der Berg', 'De la Cruz', 'St. John', 'Müller',
  'Schröder', 'Kowalski', 'Nowak', 'Ivanov', 'Okafor', 'Adeyemi', 'Mensah', 'Haddad', 'Nakamura', 'Tanaka', 'Chen',
  'Wang', 'Li', 'Zhang', 'Liu', 'Singh', 'Kumar', 'Shah', 'Cohen', 'Rossi', 'Bianchi', 'Dubois', 'Lefèvre',
  'Fitzgerald', 'Sullivan', 'Brennan', 'Yılmaz', 'Øvergaard', 'Acosta', 'Aguilar', 'Salazar', 'Vargas', 'Castro',
  'Romero', 'Herrera', 'Medina', 'Guzmán', 'Peña', 'Ibáñez', 'Domínguez', 'Vásquez', 'Navarro', 'Delgado',
]);

/** Legal given name -> nicknames people actually go by. Keys are members of GIVEN. */
export const NICKNAMES: Readonly<Record<string, readonly string[]>> = Object.freeze({
  William: ['Bill', 'Will', 'Billy'],
  Elizabeth: ['Liz', 'Beth', 'Lizzie'],
  Robert: ['Bob', 'Rob', 'Bobby'],
  Katherine: ['Kate', 'Katie', 'Kathy'],
  Michael: ['Mike', 'Mikey'],
  Alexander: ['Alex', 'Xander'],
  Benjamin: ['Ben', 'Benji'],
  Christopher: ['Chris', 'Topher'],
  Daniel: ['Dan', 'Danny'],
  Jonathan: ['Jon', 'Johnny'],
  Joseph: ['Joe', 'Joey'],
  Margaret: ['Maggie', 'Peggy', 'Meg'],
  Matthew: ['Matt'],
  Nicholas: ['Nick', 'Nicky'],
  Samantha: ['Sam', 'Sammy'],
  Samuel: ['Sam', 'Sammy'],
  Jennifer: ['Jen', 'Jenny'],
  Abigail: ['Abby', 'Gail'],
  Isabella: ['Bella', 'Izzy'],
  Olivia: ['Liv', 'Livvy'],
  Victoria: ['Tori', 'Vicky'],
  Anthony: ['Tony'],
  James: ['Jim', 'Jimmy', 'Jamie'],
  Richard: ['Rick', 'Richie'],
  Thomas: ['Tom', 'Tommy'],
  Andrew: ['Drew', 'Andy'],
  Alexandra: ['Alex', 'Lexi'],
  Josephine: ['Josie', 'Jo'],
  Theodore: ['Theo', 'Teddy'],
  Charles: ['Charlie', 'Chuck'],
  Edward: ['Ed', 'Eddie', 'Ted'],
  Jacob: ['Jake'],
  Joshua: ['Josh'],
  Madeline: ['Maddie'],
  Natalie: ['Nat'],
  Gabriella: ['Gabby', 'Gabi'],
  Eleanor: ['Ellie', 'Nell'],
  Valentina: ['Vale'],
  Santiago: ['Santi'],
  'José': ['Pepe'],
  Francisco: ['Paco', 'Pancho'],
  Alejandro: ['Alex', 'Ale'],
  Guillermo: ['Memo'],
  'Nicolás': ['Nico'],
  Sebastian: ['Seb', 'Bash'],
});

/** For each GIVEN index, its nicknames (or undefined). */
export const GIVEN_NICKNAMES: ReadonlyArray<readonly string[] | undefined> = GIVEN.map((g) => NICKNAMES[g]);

export const TX_CITIES: readonly string[] = nfc([
  'Austin', 'Houston', 'Dallas', 'San Antonio', 'El Paso', 'Fort Worth', 'Arlington', 'Corpus Christi', 'Plano',
  'Laredo', 'Lubbock', 'Irving', 'Garland', 'McAllen', 'Brownsville', 'Round Rock', 'San Marcos', 'Waco',
]);

/** Country of birth (ISO 3166-1 alpha-2) with a plausible city, for students born outside the US. */
export const FOREIGN_BIRTHPLACES: ReadonlyArray<readonly [string, string]> = [
  ['MX', 'Monterrey'], ['MX', 'Ciudad de México'], ['MX', 'Guadalajara'], ['VN', 'Hồ Chí Minh'], ['SV', 'San Salvador'],
  ['GT', 'Quetzaltenango'], ['HN', 'Tegucigalpa'], ['IN', 'Hyderabad'], ['CN', 'Chengdu'], ['NG', 'Lagos'],
  ['CO', 'Medellín'], ['VE', 'Maracaibo'], ['PH', 'Quezon City'], ['KR', 'Busan'],
].map(([c, city]) => [c, city.normalize('NFC')] as const);

export const OTHER_STATES: readonly string[] = ['CA', 'FL', 'NY', 'LA', 'OK', 'NM', 'IL', 'GA', 'AZ', 'CO'];

export const SCHOOL_WORDS_A: readonly string[] = [
  'Oak', 'Cedar', 'Maple', 'Willow', 'Pine', 'Elm', 'Aspen', 'Birch', 'Juniper', 'Magnolia', 'Cypress', 'Sycamore',
  'Hickory', 'Laurel', 'Mesquite', 'Pecan', 'Redbud', 'Live Oak', 'Bluebonnet', 'Sage',
];
export const SCHOOL_WORDS_B: readonly string[] = [
  'Ridge', 'Creek', 'Valley', 'Park', 'Hollow', 'Springs', 'Meadow', 'Hills', 'Grove', 'Crossing',
];

const SPECIAL_FOLD: Record<string, string> = {
  'đ': 'd', 'Đ': 'd', 'ø': 'o', 'Ø': 'o', 'ł': 'l', 'Ł': 'l', 'ß': 'ss', 'æ': 'ae', 'Æ': 'ae', 'œ': 'oe', 'ı': 'i',
};

/** ASCII-fold a name for email local parts and usernames: "Nguyễn" -> "nguyen", "O'Brien" -> "obrien". */
export function foldName(name: string): string {
  let out = '';
  for (const ch of name.normalize('NFD')) {
    const mapped = SPECIAL_FOLD[ch];
    if (mapped !== undefined) out += mapped;
    else out += ch;
  }
  return out
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '');
}

/** Remove accents but keep everything else ("José" -> "Jose"), the way an ASCII-only system stores names. */
export function stripAccents(name: string): string {
  let out = '';
  for (const ch of name.normalize('NFD')) {
    const mapped = ch === 'ß' ? undefined : SPECIAL_FOLD[ch];
    if (mapped === undefined) out += ch;
    else out += ch === ch.toUpperCase() ? mapped.charAt(0).toUpperCase() + mapped.slice(1) : mapped;
  }
  return out.replace(/\p{M}+/gu, '').normalize('NFC');
}

const KEYBOARD_NEIGHBOURS: Record<string, string> = {
  a: 'sq', b: 'vn', c: 'xv', d: 'sf', e: 'wr', f: 'dg', g: 'fh', h: 'gj', i: 'uo', j: 'hk', k: 'jl', l: 'k', m: 'n',
  n: 'bm', o: 'ip', p: 'o', q: 'w', r: 'et', s: 'ad', t: 'ry', u: 'yi', v: 'cb', w: 'qe', x: 'zc', y: 'tu', z: 'x',
};

/**
 * A plausible data-entry typo of `name`, always different from it: swapped neighbours, a dropped or doubled
 * letter, a neighbouring key, or (for accented names) the accents lost. `r` is a uniform draw in [0, 1).
 */
export function typo(name: string, r: () => number): string {
  const stripped = stripAccents(name);
  if (stripped !== name && r() < 0.4) return stripped;
  const chars = Array.from(name);
  const letters: number[] = [];
  // Only lower-case letters are touched, so capitals after a space, hyphen or apostrophe stay put.
  for (let i = 1; i < chars.length; i++) if (/\p{Ll}/u.test(chars[i])) letters.push(i);
  for (let attempt = 0; attempt < 8 && letters.length > 0; attempt++) {
    const op = Math.floor(r() * 4);
    const at = letters[Math.floor(r() * letters.length)];
    const c = chars.slice();
    if (op === 0 && at + 1 < c.length && /\p{Ll}/u.test(c[at + 1])) {
      [c[at], c[at + 1]] = [c[at + 1], c[at]];
    } else if (op === 1 && letters.length > 3) {
      c.splice(at, 1);
    } else if (op === 2) {
      c.splice(at, 0, c[at]);
    } else {
      const near = KEYBOARD_NEIGHBOURS[c[at]];
      if (!near) continue;
      c[at] = near[Math.floor(r() * near.length)];
    }
    const out = c.join('');
    if (out !== name && out.length > 0) return out;
  }
  return name + name.charAt(name.length - 1).toLowerCase();
}
