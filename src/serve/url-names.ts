// Names in URLs, byte for byte. A name dbk keeps may hold bytes that are not UTF-8, as lone
// surrogates U+DC80–U+DCFF (format/names.ts); encodeURIComponent throws on those, and the URL
// parsers turn %E9 into U+FFFD. So names go into URLs as the percent-encoding of their bytes, and
// come out through nameOfUrlPart() (http.ts). No imports: the console's page uses this file too.

const isHighSurrogate = (c: number) => c >= 0xd800 && c <= 0xdbff;

/** The percent-encoding of a name's bytes (its text as UTF-8, each escaped byte as itself); '/' stays when `keepSlashes`. */
export function percentEncodeName(name: string, keepSlashes = false): string {
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0xdc80 && c <= 0xdcff && !(i > 0 && isHighSurrogate(name.charCodeAt(i - 1)))) {
      out += `%${(c - 0xdc00).toString(16).toUpperCase()}`;
      continue;
    }
    const cp = name.codePointAt(i)!;
    if (cp > 0xffff) i++;
    const ch = cp >= 0xd800 && cp <= 0xdfff ? '\uFFFD' : String.fromCodePoint(cp);
    out += keepSlashes && ch === '/' ? '/' : encodeURIComponent(ch);
  }
  return out;
}
