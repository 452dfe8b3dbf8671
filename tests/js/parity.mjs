// Computes, for cases read as JSON from stdin, what the browser's OT port makes of them, and
// writes the results as JSON to stdout. tests/domain/test_js_parity.py generates the cases,
// computes the same results with the Python domain and compares.
//
// Input:  {"cases": [{"kind": "pair", "base", "a", "b"} | {"kind": "parse", "delta",
//          "base_length"} | {"kind": "clean", "text"} | {"kind": "classify", "start",
//          "stop"}, …]}
// Output: {"results": [...]} in the same order; see the Python test for each shape.

import {
  OperationError,
  codePointLength,
  compose,
  fromDelta,
  transform,
} from "../../static/src/ot/operation.js";
import { clean as cleanText, isClean } from "../../static/src/ot/text.js";

/** The same facts the Python test computes for two concurrent operations over `base`. */
function pair({ base, a: aDelta, b: bDelta }) {
  const length = codePointLength(base);
  const a = fromDelta(aDelta, length);
  const b = fromDelta(bDelta, length);
  const [a2, b2] = transform(a, b);
  const positions = [];
  for (let index = 0; index <= length; index += 1) {
    positions.push([a.transformPosition(index, -1), a.transformPosition(index, 1)]);
  }
  return {
    a: a.toDelta(),
    b: b.toDelta(),
    transform: [a2.toDelta(), b2.toDelta()],
    compose: compose(a, b2).toDelta(),
    compose_other: compose(b, a2).toDelta(),
    apply: [a.apply(base), b.apply(base), b2.apply(a.apply(base)), a2.apply(b.apply(base))],
    invert: a.invert(base).toDelta(),
    lengths: [a.baseLength, a.targetLength, b.baseLength, b.targetLength],
    inserted: a.insertedTexts,
    noop: [a.isNoop, b.isNoop, a2.isNoop, b2.isNoop],
    positions,
  };
}

/** Parse a delta that may be non-canonical or malformed. */
function parse({ delta, base_length: baseLength }) {
  try {
    const op = fromDelta(delta, baseLength);
    return { ok: true, delta: op.toDelta(), lengths: [op.baseLength, op.targetLength] };
  } catch (error) {
    // Only a refusal counts as agreeing with Python's OperationError.
    if (error instanceof OperationError) return { ok: false };
    return { ok: false, unexpected: String(error) };
  }
}

/** What the editor makes of typed or pasted text. */
function clean({ text }) {
  return { clean: cleanText(text), is_clean: isClean(text) };
}

/** Every code point in [start, stop) that `clean` changes, with what it becomes alone. */
function classify({ start, stop }) {
  const changed = [];
  for (let codePoint = start; codePoint < stop; codePoint += 1) {
    const text = String.fromCodePoint(codePoint);
    if (!isClean(text)) changed.push([codePoint, cleanText(text)]);
  }
  return { changed };
}

const KINDS = { pair, parse, clean, classify };

let input = "";
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) input += chunk;

const results = JSON.parse(input).cases.map((testCase) => {
  try {
    return KINDS[testCase.kind](testCase);
  } catch (error) {
    // Reported as a result, so one failing case does not hide the others.
    return { error: String(error) };
  }
});
process.stdout.write(JSON.stringify({ results }));
