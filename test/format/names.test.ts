// Names as bytes: any byte string survives the trip through a JavaScript string, is shown on one
// line, and can be typed back as a pattern.

import picomatch from 'picomatch';
import { describe, expect, it } from 'vitest';
import { bytesOfName, displayName, globFromDisplay, nameFromBytes, osPath } from '../../src/format/names.js';
import { seededRandom } from '../../src/seeded-random.js';

const latin1 = (s: string) => Buffer.from(s, 'latin1');

describe('names as bytes', () => {
  it('any bytes come back exactly, and valid UTF-8 reads as itself', () => {
    const random = seededRandom(14);
    const pieces = ['a', 'ü', '日', '😀', '\uFFFD', '\n'].map((s) => Buffer.from(s));
    for (let n = 0; n < 5000; n++) {
      const parts: Buffer[] = [];
      for (let k = random.int(12); k > 0; k--) parts.push(random.int(2) === 0 ? random.pick(pieces) : Buffer.from([random.int(256)]));
      const bytes = Buffer.concat(parts);
      const name = nameFromBytes(bytes);
      expect(bytesOfName(name).equals(bytes), bytes.toString('hex')).toBe(true);
      expect(name.isWellFormed()).toBe(bytes.toString('utf8') === name);
    }
    expect(nameFromBytes(Buffer.from('Grüße 😀'))).toBe('Grüße 😀');
    // overlong, surrogate and out-of-range encodings are not UTF-8: kept byte for byte
    for (const hex of ['c0af', 'eda080', 'f4908080', 'e282', 'ff']) expect(bytesOfName(nameFromBytes(Buffer.from(hex, 'hex'))).toString('hex')).toBe(hex);
  });

  it('hands node:fs the bytes only when the name is not UTF-8', () => {
    expect(osPath('/tmp/ü')).toBe('/tmp/ü');
    expect(osPath(nameFromBytes(latin1('/tmp/\xff')))).toEqual(latin1('/tmp/\xff'));
  });

  it('shows a name on one line, unambiguously, and reads the shown form back as a pattern', () => {
    const cases: [Buffer, string][] = [
      [latin1('bad\xff\xfename'), 'bad\\xff\\xfename'],
      [Buffer.from('two\nlines\ttab'), 'two\\x0alines\\x09tab'],
      [Buffer.from('back\\slash'), 'back\\\\slash'],
      [Buffer.from('plain ü.txt'), 'plain ü.txt'],
    ];
    for (const [bytes, shown] of cases) {
      const name = nameFromBytes(bytes);
      expect(displayName(name)).toBe(shown);
      expect(picomatch(globFromDisplay(shown))(name), shown).toBe(true);
      expect(picomatch(globFromDisplay(shown))(`${name}x`)).toBe(false);
    }
    // bytes typed one by one that together are UTF-8 are that character
    expect(globFromDisplay('caf\\xc3\\xa9')).toBe('café');
    // a byte that is glob syntax is taken literally
    expect(picomatch(globFromDisplay('a\\x2a'))('a*')).toBe(true);
    expect(picomatch(globFromDisplay('a\\x2a'))('ab')).toBe(false);
    expect(picomatch(globFromDisplay('dir/*'))(nameFromBytes(latin1('dir/\xff')))).toBe(true);
  });
});
