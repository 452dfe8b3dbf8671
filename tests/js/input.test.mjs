// The editor strips control characters from what the user types or pastes (the server
// refuses an operation that inserts one) and leaves remote changes alone.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Annotation, EditorSelection, EditorState, Transaction } from "@codemirror/state";
import { cleanInput } from "../../static/src/editor/input.js";
import { clean, isClean } from "../../static/src/ot/text.js";

const remote = Annotation.define();

function editor(doc) {
  return EditorState.create({ doc, extensions: [cleanInput(remote)] });
}

test("a paste with a NUL, a form feed and CR LF goes in without them", () => {
  const state = editor("Präambel");
  const tr = state.update({
    changes: { from: 0, insert: "Ar\u0000tikel\f1\r\n" },
    selection: EditorSelection.cursor(13),
    userEvent: "input.paste",
  });
  assert.equal(tr.state.doc.toString(), "Artikel\n1\nPräambel");
  assert.equal(tr.state.selection.main.head, 10); // after the cleaned paste
  assert.ok(tr.isUserEvent("input.paste"));
});

test("a selection replaced by nothing but controls is deleted", () => {
  const state = editor("eins zwei");
  const tr = state.update({ changes: { from: 4, to: 9, insert: "\u0007\u009b" } });
  assert.equal(tr.state.doc.toString(), "eins");
});

test("several changes are cleaned each, positions in the original document", () => {
  const state = editor("abc");
  const tr = state.update({
    changes: [{ from: 0, insert: "\u0001x" }, { from: 2, to: 3, insert: "\u2028y\ufffe" }],
  });
  assert.equal(tr.state.doc.toString(), "xab\ny");
});

test("clean input passes unchanged, and remote changes are not touched", () => {
  const state = editor("abc");
  const typed = state.update({ changes: { from: 3, insert: "\td😀" }, userEvent: "input.type" });
  assert.equal(typed.state.doc.toString(), "abc\td😀");
  const fromServer = state.update({
    changes: { from: 0, insert: "\u0000" },
    annotations: [remote.of(true), Transaction.addToHistory.of(false)],
  });
  assert.equal(fromServer.state.doc.toString(), "\u0000abc");
});

test("clean keeps tab and newline and removes the other controls", () => {
  assert.equal(clean("a\tb\nc"), "a\tb\nc");
  assert.equal(clean("a\r\nb\rc\vd\u0085e"), "a\nb\nc\nd\ne");
  assert.equal(clean("\u0000\u001f\u007f\u0080\u009f\udfff\ud800\u{10fffe}x"), "x");
  assert.equal(clean("\ud83d\ude00\ufeff\u00a0"), "\ud83d\ude00\ufeff\u00a0");
  assert.ok(isClean("Gemeinde\n\tä😀") && !isClean("\r") && !isClean("\u2029"));
});
