import assert from "node:assert/strict";
import { displayWidth, graphemes, graphemeWidth } from "../../lib/terminal/_display_width.ts";

Deno.test("displayWidth() counts ASCII as one column each", () => {
  assert.equal(displayWidth("hello, world"), 12);
  assert.equal(displayWidth(""), 0);
});

Deno.test("displayWidth() counts CJK, Hangul and emoji as two columns", () => {
  assert.equal(displayWidth("日本😀a"), 7);
  assert.equal(displayWidth("한국어"), 6);
  assert.equal(displayWidth("ｶﾀｶﾅ"), 4, "halfwidth katakana stays narrow");
});

Deno.test("displayWidth() counts combining marks as no columns", () => {
  assert.equal(displayWidth("e\u0301x"), 2);
  assert.equal(graphemeWidth("e\u0301"), 1);
  assert.equal(graphemeWidth("\u0301"), 0);
});

// Devanagari and Tamil: the base letters and spacing vowel signs take a
// column each, the virama (U+094D, U+0BCD) none, as glibc's wcswidth() says.
Deno.test("displayWidth() counts Devanagari spacing vowel signs and conjunct letters", () => {
  // ह ि न ् द ी: five visible letters and signs, one virama.
  assert.equal(displayWidth("हिन्दी"), 5);
  assert.deepEqual(graphemes("हिन्दी").map(graphemeWidth), [2, 3]);
  assert.equal(displayWidth("नमस्ते"), 4);
});

Deno.test("displayWidth() counts Tamil vowel signs and leaves the virama out", () => {
  // த ம ி ழ ்
  assert.equal(displayWidth("தமிழ்"), 4);
  assert.deepEqual(graphemes("தமிழ்").map(graphemeWidth), [1, 2, 1]);
});

Deno.test("displayWidth() counts an emoji ZWJ sequence as the sum of its parts, as most terminals draw it", () => {
  const family = "\u{1f468}\u200d\u{1f469}\u200d\u{1f467}";
  assert.deepEqual(
    graphemes(family),
    [family],
    "still one grapheme: the cursor steps over it whole",
  );
  assert.equal(displayWidth(family), 6);
  assert.equal(graphemeWidth("\u{1f355}\u200d\u{1f355}"), 4, "xterm, VTE, Konsole, tmux draw 4");
  assert.equal(displayWidth("\u{1f469}\u{1f3fd}\u200d\u{1f4bb}"), 6, "with a skin tone");
  assert.equal(displayWidth("\u{1f3f3}\ufe0f\u200d\u{1f308}x"), 5, "flag sequence, then x");
});

Deno.test("displayWidth() counts a skin-tone modifier as its own two columns", () => {
  assert.equal(graphemeWidth("\u{1f44d}\u{1f3fb}"), 4);
  assert.equal(graphemeWidth("\u{1f44d}"), 2);
});

Deno.test("displayWidth() never counts a ZWJ cluster narrower than its code points drawn one by one", () => {
  for (
    const g of [
      "\u{1f355}\u200d\u{1f355}",
      "\u{1f468}\u200d\u{1f469}\u200d\u{1f467}",
      "\u2764\ufe0f\u200d\u{1f525}",
    ]
  ) {
    const byCodePoint = Array.from(g).reduce((sum, cp) => sum + graphemeWidth(cp), 0);
    assert.ok(graphemeWidth(g) >= byCodePoint, g);
    assert.equal(displayWidth(`a${g}b`), graphemeWidth(g) + 2, g);
  }
});

Deno.test("displayWidth() is the sum of the graphemes' widths on mixed text", () => {
  const text = "hi 日本 e\u0301 हिन्दी தமிழ் \u{1f468}\u200d\u{1f469}\u200d\u{1f467}!";
  const sum = graphemes(text).reduce((total, g) => total + graphemeWidth(g), 0);
  assert.equal(displayWidth(text), sum);
  assert.equal(sum, 3 + 5 + 2 + 6 + 5 + 6 + 1);
});
