// The presence palette (static/src/editor/palette.js): initials legible on every colour.
// Run: node --test tests/js/

import assert from "node:assert/strict";
import { test } from "node:test";

import { PALETTE, textOn } from "../../static/src/editor/palette.js";

function luminance(colour) {
  const hex = colour.slice(1);
  const channel = (i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4);
}

function contrast(a, b) {
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (light + 0.05) / (dark + 0.05);
}

test("the initials on every presence colour have a contrast of at least 4.5:1", () => {
  for (const colour of PALETTE) {
    assert.ok(contrast(colour, textOn(colour)) >= 4.5, `${colour} with ${textOn(colour)}`);
  }
  assert.equal(textOn("#000000"), "#ffffff");
  assert.equal(textOn("#ffffff"), "#000000");
  assert.equal(textOn("not a colour"), "#ffffff");
});
