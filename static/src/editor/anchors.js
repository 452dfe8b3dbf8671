// Where comments sit in the text, by exactly the server's rule (declaration/domain/anchors.py):
// a range [start, end) follows every change with its start mapped with assoc = +1 (text
// inserted exactly at the start goes before the passage) and its end with assoc = -1 (text
// inserted exactly at the end stays after it); when nothing of it is left it is detached.
//
// No DOM and no CodeMirror here, so that node can test it (tests/js/comments.test.mjs). The
// editor maps its highlights through CodeMirror's change sets with `mapPosition`, which
// gives the same answers as `Operation#transformPosition` (CodeMirror's own `mapPos` does
// not where a replacement starts exactly at the passage's start).

import { compose, fromDelta } from "../ot/operation.js";

/**
 * A change as CodeMirror's `ChangeSet#iterChanges` reports it (adjacent changes joined):
 * `[fromA, toA)` of the old text became `[fromB, toB)` of the new one.
 * @typedef {{fromA: number, toA: number, fromB: number, toB: number}} Change
 */

/**
 * Map `pos` through sorted, joined `changes` as `Operation#transformPosition` does.
 *
 * A position before a change keeps its place; one at the start of a change or inside the
 * text it removes goes before (assoc -1) or after (assoc +1) the text put there; one at the
 * end of a removal goes after the text that replaced it.
 * @param {Change[]} changes
 * @param {number} pos
 * @param {-1 | 1} assoc
 * @returns {number}
 */
export function mapPosition(changes, pos, assoc) {
  let shift = 0;
  for (const change of changes) {
    if (pos < change.fromA) break;
    if (pos === change.fromA || pos < change.toA) return assoc > 0 ? change.toB : change.fromB;
    shift = change.toB - change.toA;
  }
  return pos + shift;
}

/**
 * Map `[start, end)` with a position mapping by the anchor rule; null when it collapses.
 * @param {(pos: number, assoc: -1 | 1) => number} map
 * @param {number} start
 * @param {number} end
 * @returns {[number, number] | null}
 */
export function mapRange(map, start, end) {
  const from = map(start, 1);
  const to = map(end, -1);
  return to > from ? [from, to] : null;
}

/**
 * The changes of an operation in its own units (code points), for `mapPosition`.
 * @param {import("../ot/operation.js").Operation} op
 * @returns {Change[]}
 */
export function changesOf(op) {
  /** @type {Change[]} */
  const changes = [];
  let a = 0;
  let b = 0;
  /** @type {Change | null} */
  let current = null;
  for (const component of op.components) {
    if ("retain" in component) {
      current = null;
      a += component.retain;
      b += component.retain;
      continue;
    }
    if (current === null) {
      current = { fromA: a, toA: a, fromB: b, toB: b };
      changes.push(current);
    }
    if ("insert" in component) {
      b += [...component.insert].length;
      current.toB = b;
    } else {
      a += component.delete;
      current.toA = a;
    }
  }
  return changes;
}

/**
 * One step of a range's way through the history: the operation and the revision it makes
 * (null for local edits the server has not confirmed yet).
 * @typedef {{rev: number | null, op: import("../ot/operation.js").Operation}} Step
 */

/**
 * Carry `[start, end)` (code points) through `steps`, oldest first.
 * @param {number} start
 * @param {number} end
 * @param {Step[]} steps
 * @returns {{range: [number, number]} | {detached: true, at: number | null}}
 */
export function carryRange(start, end, steps) {
  /** @type {[number, number]} */
  let range = [start, end];
  for (const { rev, op } of steps) {
    const next = mapRange((pos, assoc) => op.transformPosition(pos, assoc), range[0], range[1]);
    if (next === null) return { detached: true, at: rev };
    range = next;
  }
  return { range };
}

/**
 * The unconfirmed local edits as one operation over the server's text, or null.
 * @param {import("../ot/operation.js").Operation | null} inflight
 * @param {import("../ot/operation.js").Operation | null} pending
 */
export function unconfirmedOperation(inflight, pending) {
  if (inflight && pending) return compose(inflight, pending);
  return inflight || pending || null;
}

/**
 * Map a local range (code points of the local text) back to the server's text, which the
 * unconfirmed edits `unconfirmed` turn into the local one. Text typed but not confirmed is
 * not part of any revision: a range entirely inside it has no place there (null).
 * @param {number} start
 * @param {number} end
 * @param {import("../ot/operation.js").Operation | null} unconfirmed
 * @param {string} serverText
 * @returns {[number, number] | null}
 */
export function toServerRange(start, end, unconfirmed, serverText) {
  if (end <= start) return null;
  if (!unconfirmed) return [start, end];
  const back = unconfirmed.invert(serverText);
  return mapRange((pos, assoc) => back.transformPosition(pos, assoc), start, end);
}

/**
 * The length of the text a stored delta applies to: its retains and deletes.
 * @param {string} delta
 */
export function deltaBaseLength(delta) {
  let length = 0;
  if (!delta) return 0;
  for (const part of delta.split("\t")) {
    if (part[0] === "=" || part[0] === "-") length += Number(part.slice(1));
  }
  return length;
}

/**
 * The operations of the latest revisions, so that positions the server reported for an
 * older revision can be carried to the client's. Revisions come one by one in order; a
 * gap (a new replica, a restored state) starts the log afresh.
 */
export class RevisionLog {
  /** @param {number} [capacity] */
  constructor(capacity = 500) {
    this.capacity = capacity;
    /** @type {{rev: number, op: import("../ot/operation.js").Operation | string}[]} */
    this.entries = [];
  }

  /**
   * Note revision `rev`, made by `op` (an Operation or the delta as broadcast).
   * @param {number} rev
   * @param {import("../ot/operation.js").Operation | string} op
   */
  add(rev, op) {
    const last = this.entries[this.entries.length - 1];
    if (last && rev !== last.rev + 1) this.entries = [];
    this.entries.push({ rev, op });
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
  }

  /**
   * The steps from revision `after` to revision `upto`, oldest first; null if the log does
   * not hold all of them.
   * @param {number} after
   * @param {number} upto
   * @returns {Step[] | null}
   */
  steps(after, upto) {
    if (upto <= after) return upto === after ? [] : null;
    const first = this.entries[0];
    const last = this.entries[this.entries.length - 1];
    if (!first || first.rev > after + 1 || last.rev < upto) return null;
    const steps = [];
    for (const entry of this.entries) {
      if (entry.rev <= after || entry.rev > upto) continue;
      if (typeof entry.op === "string") entry.op = fromDelta(entry.op, deltaBaseLength(entry.op));
      steps.push({ rev: entry.rev, op: entry.op });
    }
    return steps;
  }
}
