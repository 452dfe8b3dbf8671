// The public page's file check (static/src/publication/filecheck.js): hashing in the browser.
// Run: node --test tests/js/

import assert from "node:assert/strict";
import { createHash, webcrypto } from "node:crypto";
import { test } from "node:test";

import { identify } from "../../static/src/publication/filecheck.js";

const official = (bytes, message) => ({
  sha256: createHash("sha256").update(bytes).digest("hex"),
  size: bytes.length,
  message,
});

test("a file with an official SHA-256 is named by its entry", async () => {
  const pdf = Buffer.from("%PDF-1.7 amtlich");
  const entries = [official(Buffer.from("anders"), "Markdown"), official(pdf, "PDF (signiert)")];

  const found = await identify(new Blob([pdf]), entries, webcrypto.subtle);

  assert.equal(found.message, "PDF (signiert)");
});

test("one changed byte makes the file unofficial", async () => {
  const pdf = Buffer.from("%PDF-1.7 amtlich");
  const changed = Buffer.from(pdf);
  changed[3] ^= 1;

  assert.equal(await identify(new Blob([changed]), [official(pdf, "PDF")], webcrypto.subtle), null);
});

test("a file of a size no official file has is not read at all", async () => {
  const file = { size: 3, arrayBuffer: () => assert.fail("read although no size matches") };

  assert.equal(await identify(file, [official(Buffer.from("abcd"), "x")], webcrypto.subtle), null);
});
