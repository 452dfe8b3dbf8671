// Conversions between CodeMirror's world (UTF-16 offsets, change arrays) and the protocol's
// (code points, whole-text operations).
//
// CodeMirror counts UTF-16 units, so "😀" is two positions there and one on the wire. Every
// change the editor makes goes through `changesToOperation` before it reaches
// `ClientDocument#localEdit`, and every remote operation goes through `operationToChanges`
// before `view.dispatch`. Positions inside a surrogate pair cannot be expressed in code
// points; CodeMirror never edits there, so such changes are refused as bugs.

import { CodePointIndex, Operation, OperationError } from "./operation.js";

/**
 * @typedef {{from: number, to: number, insert: string}} Change
 * A replacement of `[from, to)` by `insert`, in UTF-16 offsets of the original document.
 */

/**
 * Return the code-point offset of the UTF-16 `offset` in `text`.
 *
 * An offset inside a surrogate pair is rounded down to the start of the pair, so a stray
 * cursor position still maps somewhere sensible (presence, selections). Throws RangeError
 * outside 0 … text.length.
 * @param {string} text
 * @param {number} utf16Offset
 * @returns {number}
 */
export function toCodePoints(text, utf16Offset) {
  return CodePointIndex.of(text).toCodePoints(utf16Offset);
}

/**
 * Return the UTF-16 offset of the code-point `offset` in `text`. Throws RangeError outside
 * 0 … the length of the text in code points.
 * @param {string} text
 * @param {number} codePointOffset
 * @returns {number}
 */
export function toUtf16(text, codePointOffset) {
  return CodePointIndex.of(text).toUtf16(codePointOffset);
}

/**
 * Turn CodeMirror changes of `oldText` into one operation spanning `oldText`.
 *
 * `changes` are what `ChangeSet.iterChanges((fromA, toA, fromB, toB, inserted) => …)`
 * yields: `{from: fromA, to: toA, insert: inserted.toString()}`, sorted, not overlapping,
 * in UTF-16 offsets of `oldText`. Anything else throws OperationError.
 * @param {string} oldText
 * @param {Iterable<Change>} changes
 * @returns {Operation}
 */
export function changesToOperation(oldText, changes) {
  const index = CodePointIndex.of(oldText);
  /** @type {import("./operation.js").Component[]} */
  const components = [];
  let unit = 0; // UTF-16 offset reached in oldText
  let codePoint = 0; // the same offset in code points
  for (const { from, to, insert } of changes) {
    if (!Number.isInteger(from) || !Number.isInteger(to) || from < unit || to < from) {
      throw new OperationError(
        `change ${from}–${to} is not sorted after ${unit} or is not a valid range`,
      );
    }
    if (to > oldText.length) {
      throw new OperationError(`change ${from}–${to} ends past the text (${oldText.length})`);
    }
    if (index.splitsPair(from) || index.splitsPair(to)) {
      throw new OperationError(`change ${from}–${to} splits a surrogate pair`);
    }
    if (typeof insert !== "string") {
      throw new OperationError("a change's insert must be a string");
    }
    const start = index.toCodePoints(from);
    const end = index.toCodePoints(to);
    components.push({ retain: start - codePoint }, { insert }, { delete: end - start });
    unit = to;
    codePoint = end;
  }
  components.push({ retain: index.length - codePoint });
  // The constructor normalises: drops empty parts, merges neighbours, orders insert first.
  return new Operation(components);
}

/**
 * Turn an operation over `text` into CodeMirror changes for `view.dispatch({changes})`.
 *
 * Offsets are UTF-16 offsets of `text` (the document before the operation), as CodeMirror
 * expects for an array of changes; they are sorted and do not overlap.
 * @param {string} text the text the operation applies to
 * @param {Operation} op
 * @returns {Change[]}
 */
export function operationToChanges(text, op) {
  const index = CodePointIndex.of(text);
  if (op.baseLength !== index.length) {
    throw new OperationError(
      `operation expects a text of ${op.baseLength} characters, got ${index.length} characters`,
    );
  }
  /** @type {Change[]} */
  const changes = [];
  /** @type {Change | null} */
  let current = null; // the change being built from adjacent inserts and deletes
  let codePoint = 0;
  for (const component of op.components) {
    if ("retain" in component) {
      current = null;
      codePoint += component.retain;
      continue;
    }
    if (current === null) {
      const unit = index.toUtf16(codePoint);
      current = { from: unit, to: unit, insert: "" };
      changes.push(current);
    }
    if ("insert" in component) {
      current.insert += component.insert;
    } else {
      codePoint += component.delete;
      current.to = index.toUtf16(codePoint);
    }
  }
  return changes;
}
