import assert from "node:assert/strict";
import fc from "fast-check";
import { MAX_NAME_DISPLAY_CHARS, sanitise, sanitiseName } from "../../lib/terminal/sanitise.ts";

/** Code points that must never reach the terminal. */
const FORBIDDEN: readonly (readonly [number, number])[] = [
  [0x00, 0x1f], // C0, including ESC, BEL, BS, CR, LF, TAB
  [0x7f, 0x9f], // DEL and C1
  [0x061c, 0x061c],
  [0x200b, 0x200f],
  [0x202a, 0x202e],
  [0x2066, 0x2069],
  [0xd800, 0xdfff], // lone surrogates
  [0xfeff, 0xfeff],
];

function forbiddenIn(text: string): string[] {
  const found: string[] = [];
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
    }
    if (FORBIDDEN.some(([low, high]) => unit >= low && unit <= high)) {
      found.push(unit.toString(16));
    }
  }
  return found;
}

/** Pieces attackers use, mixed with arbitrary text by the properties below. */
const ATTACK_PIECES = [
  "\x1b",
  "\x1b[",
  "\x1b]",
  "\x1b\\",
  "\x1b[2J",
  "\x1b[31;1m",
  "\x1b]52;c;aGVsbG8=\x07",
  "\x1b]8;;https://evil.example\x1b\\",
  "\x1bP+q\x1b\\",
  "\x9b",
  "\x9d",
  "\x9c",
  "\r",
  "\n",
  "\b",
  "\u202e",
  "\u2066",
  "\u200b",
  "\ufeff",
  "\ud800",
  "\udc00",
];

/** Any code point (lone surrogates too), biased towards controls and format characters. */
const anyChar = fc.oneof(
  fc.integer({ min: 0, max: 0xff }),
  fc.integer({ min: 0x2000, max: 0x206f }),
  fc.integer({ min: 0, max: 0x10ffff }),
).map((cp) => String.fromCodePoint(cp));

const hostileText = fc.array(
  fc.oneof(fc.constantFrom(...ATTACK_PIECES), anyChar),
  { maxLength: 40 },
).map((parts) => parts.join(""));

Deno.test("sanitise() output never contains a forbidden character", () => {
  fc.assert(
    fc.property(hostileText, (text) => {
      assert.deepEqual(forbiddenIn(sanitise(text)), []);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("sanitise() is idempotent", () => {
  fc.assert(fc.property(hostileText, (text) => {
    assert.equal(sanitise(sanitise(text)), sanitise(text));
  }));
});

Deno.test("sanitise() leaves printable ASCII unchanged", () => {
  fc.assert(
    fc.property(
      fc.string({
        unit: fc.integer({ min: 0x20, max: 0x7e }).map(String.fromCharCode),
      }),
      (text) => {
        assert.equal(sanitise(text), text);
      },
    ),
  );
});

Deno.test("sanitise() keeps accents, CJK and emoji", () => {
  const text = "café e\u0301 日本語 한국어 😀 👍🏽 مرحبا";
  assert.equal(sanitise(text), text);
});

Deno.test("sanitise() removes a clear-screen sequence whole", () => {
  assert.equal(sanitise("a\x1b[2J\x1b[Hb"), "ab");
});

Deno.test("sanitise() removes colour sequences whole", () => {
  assert.equal(sanitise("\x1b[31;1mred\x1b[0m"), "red");
});

Deno.test("sanitise() removes an OSC 52 clipboard write ended by BEL", () => {
  assert.equal(sanitise("x\x1b]52;c;cm0gLXJmIH4=\x07y"), "xy");
});

Deno.test("sanitise() removes an OSC 52 clipboard write ended by ST", () => {
  assert.equal(sanitise("x\x1b]52;c;cm0gLXJmIH4=\x1b\\y"), "xy");
});

Deno.test("sanitise() removes an OSC 8 hyperlink but keeps its text", () => {
  const link = "\x1b]8;;https://evil.example/\x1b\\click me\x1b]8;;\x1b\\";
  assert.equal(sanitise(link), "click me");
});

Deno.test("sanitise() removes a window title change", () => {
  assert.equal(sanitise("\x1b]0;pwned\x07hi"), "hi");
});

Deno.test("sanitise() removes DCS, APC and PM strings", () => {
  assert.equal(
    sanitise("a\x1bP+q544e\x1b\\b\x1b_apc\x1b\\c\x1b^pm\x07d"),
    "abcd",
  );
});

Deno.test("sanitise() removes two-character escapes such as a full reset", () => {
  assert.equal(sanitise("a\x1bcb\x1b(0c\x1b7d"), "abcd");
});

Deno.test("sanitise() removes sequences introduced by C1 controls", () => {
  assert.equal(sanitise("a\u009b2Jb\u009d52;c;eA==\u009cc"), "abc");
});

Deno.test("sanitise() shows an unterminated OSC as harmless text", () => {
  assert.equal(sanitise("\x1b]52;c;eA=="), "^[]52;c;eA==");
});

Deno.test("sanitise() shows an OSC cut short by another escape", () => {
  assert.equal(sanitise("\x1b]0;t\x1b[2Jx"), "^[]0;tx");
});

Deno.test("sanitise() shows an incomplete CSI as harmless text", () => {
  assert.equal(sanitise("\x1b[12"), "^[[12");
  assert.equal(sanitise("\x1b[1\x07m"), "^[[1^Gm");
});

Deno.test("sanitise() shows a lone ESC in caret notation", () => {
  assert.equal(sanitise("a\x1b"), "a^[");
  assert.equal(sanitise("a\x1b\x1b"), "a^[^[");
  assert.equal(sanitise("a\x1b\u00e9"), "a^[\u00e9");
});

Deno.test("sanitise() shows a carriage return so it cannot overwrite the line", () => {
  assert.equal(
    sanitise("harmless\r<admin> send your password"),
    "harmless^M<admin> send your password",
  );
});

Deno.test("sanitise() shows BEL, backspace, NUL and DEL in caret notation", () => {
  assert.equal(sanitise("a\x07b\bc\0d\x7f"), "a^Gb^Hc^@d^?");
});

Deno.test("sanitise() shows C1 controls as <U+XXXX>", () => {
  assert.equal(sanitise("a\u0085b\u0080"), "a<U+0085>b<U+0080>");
});

Deno.test("sanitise() turns line breaks into ⏎ so a message cannot fake a new line", () => {
  assert.equal(sanitise("one\ntwo\r\nthree\u2028four"), "one⏎two⏎three⏎four");
});

Deno.test("sanitise() turns a tab into a space", () => {
  assert.equal(sanitise("a\tb"), "a b");
});

Deno.test("sanitise() removes bidi overrides and isolates (Trojan Source)", () => {
  const text = "access\u202e\u2066// check\u2069\u2066if admin\u2069\u202c";
  assert.equal(sanitise(text), "access// checkif admin");
  assert.equal(sanitise("a\u200e\u200f\u061cb"), "ab");
});

Deno.test("sanitise() removes zero-width characters and the BOM", () => {
  assert.equal(sanitise("\ufeffa\u200bd\u200cm\u200di\u2060n"), "admin");
});

Deno.test("sanitise() removes tag characters used to smuggle hidden text", () => {
  assert.equal(sanitise("hi\u{e0068}\u{e0069}"), "hi");
});

Deno.test("sanitise() replaces lone surrogates", () => {
  assert.equal(sanitise("a\ud800b\udc00"), "a\ufffdb\ufffd");
});

Deno.test("sanitiseName() removes invisible characters from a look-alike name", () => {
  assert.equal(sanitiseName("ad\u200bmin\u202e"), "admin");
});

Deno.test("sanitiseName() turns white space into _ so a name stays one word", () => {
  assert.equal(sanitiseName("bob> hi <alice"), "bob>_hi_<alice");
  assert.equal(sanitiseName("a\nb\u00a0c"), "a_b_c");
});

Deno.test("sanitiseName() cuts long names with …", () => {
  const shown = sanitiseName("x".repeat(100));
  assert.equal(Array.from(shown).length, MAX_NAME_DISPLAY_CHARS);
  assert.ok(shown.endsWith("…"));
});

Deno.test("sanitiseName() shows an empty or invisible name as ?", () => {
  assert.equal(sanitiseName(""), "?");
  assert.equal(sanitiseName("\u200b\u202e"), "?");
});

Deno.test("sanitiseName() output is one short word without forbidden characters", () => {
  fc.assert(fc.property(hostileText, (name) => {
    const shown = sanitiseName(name);
    assert.deepEqual(forbiddenIn(shown), []);
    assert.doesNotMatch(shown, /\s/u);
    const length = Array.from(shown).length;
    assert.ok(length >= 1 && length <= MAX_NAME_DISPLAY_CHARS);
  }));
});

Deno.test("sanitise() keeps the ZWJ inside an emoji sequence", () => {
  const family = "\u{1f468}\u200d\u{1f469}\u200d\u{1f467}";
  assert.equal(sanitise(`we ${family} ok`), `we ${family} ok`);
  const coder = "\u{1f469}\u{1f3fd}\u200d\u{1f4bb}";
  assert.equal(sanitise(coder), coder, "after a skin tone");
  const flag = "\u{1f3f3}\ufe0f\u200d\u{1f308}";
  assert.equal(sanitise(flag), flag, "after a variation selector");
});

Deno.test("sanitise() keeps ZWNJ and ZWJ between letters of scripts that need them", () => {
  const persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"; // می‌خواهم
  assert.equal(sanitise(persian), persian);
  const devanagari = "\u0915\u094d\u200d\u0937"; // क्‍ष
  assert.equal(sanitise(devanagari), devanagari);
});

Deno.test("sanitise() still removes joiners anywhere else", () => {
  assert.equal(sanitise("ad\u200cmin"), "admin", "between Latin letters");
  assert.equal(sanitise("\u200d\u{1f468}"), "\u{1f468}", "leading");
  assert.equal(sanitise("\u{1f468}\u200d"), "\u{1f468}", "trailing");
  assert.equal(sanitise("a\u200d\u{1f468}"), "a\u{1f468}", "letter then emoji");
  assert.equal(sanitise("\u0645\u200c\u202e\u062e"), "\u0645\u062e", "the override still goes");
});

Deno.test("sanitiseName() drops joiners even inside a Persian name", () => {
  assert.equal(sanitiseName("\u0645\u06cc\u200c\u062e"), "\u0645\u06cc\u062e");
});
