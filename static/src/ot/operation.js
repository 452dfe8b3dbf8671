// Exact text operations: retain / insert / delete over the whole text, as in ot.js.
//
// A port of declaration/domain/operations.py; both sides must agree to the byte, so the
// algorithms, the normal form and the delta format follow the Python code step by step
// (tests/domain/test_js_parity.py checks it against random cases).
//
// Lengths and positions are Unicode code points, as Python's `str` counts them, never the
// UTF-16 units JavaScript strings are made of: an emoji counts as one. Every length below is
// therefore computed with the code-point helpers, never with `String.prototype.length`;
// positions.js converts to and from CodeMirror's UTF-16 offsets.

/** An operation does not fit its text, or a delta cannot be parsed. */
export class OperationError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "OperationError";
  }
}

/**
 * A public component: exactly one of the three keys.
 * @typedef {{retain: number} | {insert: string} | {delete: number}} Component
 */

/**
 * Internal form, as in ot.js and the Python module: a positive number retains, a negative
 * number deletes, a string inserts. It keeps the algorithms short; the public view is
 * `Operation#components`.
 * @typedef {number | string} Raw
 */

// --- code points -------------------------------------------------------------------------
//
// Texts run to 200,000 characters and are converted on every keystroke, so code points are
// not counted one unit at a time: a regular expression finds the surrogate pairs (the only
// place where units and code points differ), which V8 does far faster than a loop, and in
// no time at all for one-byte strings, which cannot contain surrogates. Offsets then follow
// from the pair positions by arithmetic. A lone surrogate counts as one code point, as in
// Python (and in `[...text]`).

const PAIR = /[\ud800-\udbff][\udc00-\udfff]/g;
/** Any surrogate code unit, paired or not (no `g`: `test` keeps no state). */
const SURROGATE = /[\ud800-\udfff]/;

/**
 * Whether `text` has no surrogate code units: its code points are its UTF-16 units.
 * @param {string} text
 */
export function isPlain(text) {
  return !SURROGATE.test(text);
}

/**
 * Return the length of `text` in code points (Python's `len`).
 * @param {string} text
 * @returns {number}
 */
export function codePointLength(text) {
  const pairs = text.match(PAIR);
  return text.length - (pairs === null ? 0 : pairs.length);
}

/**
 * Offsets of one text in code points and in UTF-16 units, converted both ways in
 * O(log pairs). Low-level: positions.js builds its conversions on it.
 */
export class CodePointIndex {
  /** @param {string} text */
  constructor(text) {
    /** @type {number[]} UTF-16 offset of each surrogate pair */
    const starts = [];
    PAIR.lastIndex = 0;
    for (let match = PAIR.exec(text); match !== null; match = PAIR.exec(text)) {
      starts.push(match.index);
    }
    this.text = text;
    /** Length in code points. */
    this.length = text.length - starts.length;
    /** @private */
    this._starts = starts;
    /** @private code-point offset of each pair (strictly increasing, like `_starts`) */
    this._codePoints = starts.map((start, i) => start - i);
    Object.freeze(this);
  }

  /**
   * The index of `text`, reusing one of the last two built: the editor, the replica and
   * the conversions keep asking about the same two texts (the local and the server's).
   * @param {string} text
   * @returns {CodePointIndex}
   */
  static of(text) {
    if (recent[0].text === text) return recent[0];
    if (recent[1].text !== text) recent[1] = new CodePointIndex(text);
    recent.reverse(); // most recent first
    return recent[0];
  }

  /**
   * The UTF-16 offset of a code-point offset (0 … length).
   * @param {number} codePoint
   * @returns {number}
   */
  toUtf16(codePoint) {
    if (!Number.isInteger(codePoint) || codePoint < 0 || codePoint > this.length) {
      throw new RangeError(`code point ${codePoint} is outside a text of ${this.length}`);
    }
    // Every pair that starts before the offset adds one unit.
    return codePoint + countBelow(this._codePoints, codePoint);
  }

  /**
   * The code-point offset of a UTF-16 offset (0 … text.length); an offset inside a
   * surrogate pair is rounded down to the start of the pair.
   * @param {number} unit
   * @returns {number}
   */
  toCodePoints(unit) {
    if (!Number.isInteger(unit) || unit < 0 || unit > this.text.length) {
      throw new RangeError(`offset ${unit} is outside a text of ${this.text.length} units`);
    }
    // Every pair that starts before the offset is one unit more than code points; a pair
    // the offset splits counts too, which rounds the offset down to the pair's start.
    return unit - countBelow(this._starts, unit);
  }

  /**
   * Whether `unit` falls between the two halves of a surrogate pair.
   * @param {number} unit
   */
  splitsPair(unit) {
    const before = countBelow(this._starts, unit);
    return before > 0 && this._starts[before - 1] === unit - 1;
  }
}

/** @type {CodePointIndex[]} */
const recent = [new CodePointIndex(""), new CodePointIndex("")];

/**
 * How many values of the increasing array `values` are below `limit` (binary search).
 * @param {number[]} values
 * @param {number} limit
 */
function countBelow(values, limit) {
  let low = 0;
  let high = values.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (values[middle] < limit) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * Split a (short) inserted passage after `count` code points, which it must have.
 * @param {string} text
 * @param {number} count
 * @returns {[string, string]}
 */
function splitCodePoints(text, count) {
  const index = new CodePointIndex(text).toUtf16(count);
  return [text.slice(0, index), text.slice(index)];
}

// --- normalising builders (ports of _push_retain, _push_delete, _push_insert) ---------------

/** @param {Raw[]} ops @param {number} count */
function pushRetain(ops, count) {
  if (count === 0) return;
  const last = ops.length ? ops[ops.length - 1] : undefined;
  if (typeof last === "number" && last > 0) ops[ops.length - 1] = last + count;
  else ops.push(count);
}

/** @param {Raw[]} ops @param {number} count */
function pushDelete(ops, count) {
  if (count === 0) return;
  const last = ops.length ? ops[ops.length - 1] : undefined;
  if (typeof last === "number" && last < 0) ops[ops.length - 1] = last - count;
  else ops.push(-count);
}

/** @param {Raw[]} ops @param {string} text */
function pushInsert(ops, text) {
  if (!text) return;
  const last = ops.length ? ops[ops.length - 1] : undefined;
  if (typeof last === "string") {
    ops[ops.length - 1] = last + text;
  } else if (typeof last === "number" && last < 0) {
    // Insert-before-delete is the canonical order, so that the same edit has one form.
    const before = ops.length > 1 ? ops[ops.length - 2] : undefined;
    if (typeof before === "string") ops[ops.length - 2] = before + text;
    else ops.splice(ops.length - 1, 0, text);
  } else {
    ops.push(text);
  }
}

/**
 * @param {string} message
 * @returns {never}
 */
function mismatch(message) {
  throw new OperationError(message);
}

/**
 * Refuse anything that is not a non-negative integer (Python's type checker does this
 * statically; here a stray float or string would corrupt the arithmetic silently).
 * @param {unknown} value
 * @param {string} what
 * @returns {number}
 */
function checkCount(value, what) {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    mismatch(`${what} must be a non-negative integer, got ${String(value)}`);
  }
  return /** @type {number} */ (value);
}

// --- the operation -----------------------------------------------------------------------

/** An immutable, normalised edit of a whole text. */
export class Operation {
  /**
   * Build an operation from components, normalising them.
   * @param {Iterable<Component>} [components]
   */
  constructor(components = []) {
    /** @type {Raw[]} */
    const ops = [];
    for (const component of components) {
      if (component && typeof component === "object" && "retain" in component) {
        pushRetain(ops, checkCount(component.retain, "retain count"));
      } else if (component && typeof component === "object" && "delete" in component) {
        pushDelete(ops, checkCount(component.delete, "delete count"));
      } else if (
        component &&
        typeof component === "object" &&
        "insert" in component &&
        typeof component.insert === "string"
      ) {
        pushInsert(ops, component.insert);
      } else {
        throw new TypeError(`not an operation component: ${JSON.stringify(component)}`);
      }
    }
    /** @type {readonly Raw[]} */
    this._ops = [];
    /** @type {number} */
    this._baseLength = 0;
    /** @type {number} */
    this._targetLength = 0;
    init(this, ops);
  }

  /**
   * Wrap components that the push helpers already normalised.
   * @param {Raw[]} ops
   * @returns {Operation}
   */
  static _fromRaw(ops) {
    const operation = Object.create(Operation.prototype);
    init(operation, ops);
    return operation;
  }

  /**
   * Return the operation that keeps a text of `length` code points unchanged.
   * @param {number} length
   * @returns {Operation}
   */
  static identity(length) {
    checkCount(length, "text length");
    return Operation._fromRaw(length ? [length] : []);
  }

  /**
   * Return the operation that replaces `deleteCount` code points at `position`.
   * @param {number} baseLength
   * @param {number} position
   * @param {number} deleteCount
   * @param {string} insert
   * @returns {Operation}
   */
  static edit(baseLength, position, deleteCount, insert) {
    checkCount(baseLength, "edit length");
    checkCount(position, "edit position");
    checkCount(deleteCount, "edit delete count");
    if (typeof insert !== "string") mismatch("the inserted text must be a string");
    if (position + deleteCount > baseLength) {
      mismatch(
        `edit at ${position} deleting ${deleteCount} goes past the end of a text ` +
          `of ${baseLength} characters`,
      );
    }
    /** @type {Raw[]} */
    const ops = [];
    pushRetain(ops, position);
    pushInsert(ops, insert);
    pushDelete(ops, deleteCount);
    pushRetain(ops, baseLength - position - deleteCount);
    return Operation._fromRaw(ops);
  }

  /** Parse a delta; see `fromDelta`. @param {string} delta @param {number} baseLength */
  static fromDelta(delta, baseLength) {
    return fromDelta(delta, baseLength);
  }

  /** See `compose`. @param {Operation} a @param {Operation} b */
  static compose(a, b) {
    return compose(a, b);
  }

  /** See `transform`. @param {Operation} a @param {Operation} b */
  static transform(a, b) {
    return transform(a, b);
  }

  /** Length of the text this operation applies to. */
  get baseLength() {
    return this._baseLength;
  }

  /** Length of the text this operation produces. */
  get targetLength() {
    return this._targetLength;
  }

  /** Whether applying the operation leaves every text unchanged. */
  get isNoop() {
    return this._ops.every((op) => typeof op === "number" && op > 0);
  }

  /**
   * The normalised components in order.
   * @returns {Component[]}
   */
  get components() {
    return this._ops.map((op) => {
      if (typeof op === "string") return { insert: op };
      return op > 0 ? { retain: op } : { delete: -op };
    });
  }

  /**
   * The inserted passages in order.
   * @returns {string[]}
   */
  get insertedTexts() {
    return /** @type {string[]} */ (this._ops.filter((op) => typeof op === "string"));
  }

  /**
   * Whether both operations are the same edit (normal forms are unique).
   * @param {Operation} other
   * @returns {boolean}
   */
  equals(other) {
    if (!(other instanceof Operation) || other._ops.length !== this._ops.length) return false;
    return this._ops.every((op, i) => op === other._ops[i]);
  }

  toString() {
    const parts = this._ops.map((op) => {
      if (typeof op === "string") return `+${JSON.stringify(op)}`;
      return op > 0 ? `=${op}` : `-${-op}`;
    });
    return `Operation(${parts.join(" ")})`;
  }

  /**
   * Index `text`, refusing one of the wrong length.
   * @param {string} text
   * @returns {CodePointIndex}
   */
  _indexBase(text) {
    if (typeof text !== "string") mismatch("an operation applies to a string");
    const index = CodePointIndex.of(text);
    if (index.length !== this._baseLength) {
      mismatch(
        `operation expects a text of ${this._baseLength} characters, ` +
          `got ${index.length} characters`,
      );
    }
    return index;
  }

  /**
   * Return `text` with the operation applied.
   * @param {string} text
   * @param {{plain?: boolean}} [options] plain: `text` is known to be `isPlain`
   * @returns {string}
   */
  apply(text, { plain = false } = {}) {
    // `plain`: the caller knows the text has no surrogates, so code points are UTF-16
    // units and the text need not be scanned (ClientDocument applies every revision to
    // two long texts).
    const index = plain ? null : this._indexBase(text);
    if (plain && text.length !== this._baseLength) {
      mismatch(
        `operation expects a text of ${this._baseLength} characters, got ${text.length} characters`,
      );
    }
    const unit = (codePoint) => (index === null ? codePoint : index.toUtf16(codePoint));
    /** @type {string[]} */
    const parts = [];
    let position = 0; // code points
    for (const op of this._ops) {
      if (typeof op === "string") {
        parts.push(op);
      } else if (op > 0) {
        parts.push(text.slice(unit(position), unit(position + op)));
        position += op;
      } else {
        position -= op;
      }
    }
    return parts.join("");
  }

  /** Whether an inserted passage holds a surrogate (a text stops being `plain`). */
  get insertsSurrogates() {
    return this._ops.some((op) => typeof op === "string" && SURROGATE.test(op));
  }

  /**
   * Return the operation that undoes this one on the text it produced from `baseText`.
   * @param {string} baseText
   * @returns {Operation}
   */
  invert(baseText) {
    const index = this._indexBase(baseText);
    /** @type {Raw[]} */
    const ops = [];
    let position = 0;
    for (const op of this._ops) {
      if (typeof op === "string") {
        pushDelete(ops, codePointLength(op));
      } else if (op > 0) {
        pushRetain(ops, op);
        position += op;
      } else {
        const deleted = baseText.slice(index.toUtf16(position), index.toUtf16(position - op));
        pushInsert(ops, deleted);
        position -= op;
      }
    }
    return Operation._fromRaw(ops);
  }

  /**
   * Map a cursor position (code points) in the base text to the text this operation
   * produces.
   *
   * With `assoc = -1` a cursor stays before text inserted exactly at it, with `assoc = 1` it
   * moves after it (as CodeMirror's `mapPos`). A cursor inside a deleted or replaced range
   * moves to where the range was, before or after its replacement by `assoc`.
   * @param {number} index
   * @param {-1 | 1} [assoc]
   * @returns {number}
   */
  transformPosition(index, assoc = -1) {
    if (!Number.isInteger(index) || index < 0 || index > this._baseLength) {
      mismatch(`position ${index} is outside a text of ${this._baseLength} characters`);
    }
    let old = 0;
    let now = 0;
    let inserted = 0; // length of text inserted at `old` and not yet counted
    for (const op of this._ops) {
      if (typeof op === "string") {
        inserted += codePointLength(op);
      } else if (op > 0) {
        if (index < old + op) {
          const before = index > old || assoc > 0;
          return now + (before ? inserted : 0) + index - old;
        }
        now += inserted + op;
        old += op;
        inserted = 0;
      } else {
        if (index < old - op) return now + (assoc > 0 ? inserted : 0);
        now += inserted;
        old -= op;
        inserted = 0;
      }
    }
    return now + (assoc > 0 ? inserted : 0);
  }

  /**
   * Serialise to diff-match-patch's delta format, counting code points; byte-identical to
   * Python's `Operation.to_delta`.
   * @returns {string}
   */
  toDelta() {
    return this._ops
      .map((op) => {
        if (typeof op === "string") return `+${encodeInsert(op)}`;
        return op > 0 ? `=${op}` : `-${-op}`;
      })
      .join("\t");
  }
}

/**
 * Set the fields and freeze: operations are values, shared freely between the document,
 * the batch in flight and the undo history.
 * @param {Operation} operation
 * @param {Raw[]} ops
 */
function init(operation, ops) {
  let base = 0;
  let target = 0;
  for (const op of ops) {
    if (typeof op === "string") {
      target += codePointLength(op);
    } else if (op > 0) {
      base += op;
      target += op;
    } else {
      base -= op;
    }
  }
  operation._ops = Object.freeze(ops);
  operation._baseLength = base;
  operation._targetLength = target;
  Object.freeze(operation);
}

// --- the delta format ----------------------------------------------------------------------

// Python quotes with `urllib.parse.quote(utf8, safe="!~*'();/?:@&=+$,# ")`; `quote` always
// keeps ASCII letters, digits and "_.-~" as well. Everything else becomes %XX of its UTF-8
// bytes with uppercase hex. (That is diff-match-patch's set: encodeURI plus a literal space.)
const SAFE_ASCII = new Set(
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~" + "!~*'();/?:@&=+$,# ",
);

// With the `u` flag a class of surrogates matches only unpaired ones: a well-formed pair is
// read as one code point outside the range. Python strings hold no pairs, so "any surrogate"
// there is the same as "an unpaired surrogate" here.
const LONE_SURROGATE = /[\ud800-\udfff]/u;
const BAD_ESCAPE = /%(?![0-9A-Fa-f]{2})/;
const COUNT = /^[0-9]{1,15}$/;
const ASCII_RUN = /[\x00-\x7f]+/g;

/** @param {number} byte */
const hex = (byte) => `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;

/**
 * Percent-encode an inserted passage as Python's `to_delta` does.
 * @param {string} text
 * @returns {string}
 */
function encodeInsert(text) {
  if (LONE_SURROGATE.test(text)) mismatch("inserted text contains an unpaired surrogate");
  let out = "";
  for (const char of text) {
    if (SAFE_ASCII.has(char)) {
      out += char;
      continue;
    }
    const code = /** @type {number} */ (char.codePointAt(0));
    if (code < 0x80) {
      out += hex(code);
    } else if (code < 0x800) {
      out += hex(0xc0 | (code >> 6)) + hex(0x80 | (code & 0x3f));
    } else if (code < 0x10000) {
      out +=
        hex(0xe0 | (code >> 12)) + hex(0x80 | ((code >> 6) & 0x3f)) + hex(0x80 | (code & 0x3f));
    } else {
      out +=
        hex(0xf0 | (code >> 18)) +
        hex(0x80 | ((code >> 12) & 0x3f)) +
        hex(0x80 | ((code >> 6) & 0x3f)) +
        hex(0x80 | (code & 0x3f));
    }
  }
  return out;
}

// Strict like Python's errors="strict": invalid UTF-8 (truncated sequences, overlongs,
// encoded surrogates) throws. ignoreBOM keeps a leading U+FEFF, which Python keeps too.
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Decode an inserted passage as Python's `_decode_insert` does.
 *
 * `urllib.parse.unquote` decodes each maximal run of ASCII characters on its own (escapes
 * to bytes, then UTF-8) and passes non-ASCII characters through unchanged; so "%C3é%A9" is
 * refused although "%C3%A9" is "é". Mirrored exactly, since the server decides with it.
 * @param {string} body
 * @param {number} index component index, for messages
 * @returns {string}
 */
function decodeInsert(body, index) {
  if (LONE_SURROGATE.test(body)) {
    mismatch(`component ${index}: inserted text contains an unpaired surrogate`);
  }
  if (BAD_ESCAPE.test(body)) {
    mismatch(`component ${index}: '%' must start an escape of two hex digits`);
  }
  if (!body.includes("%")) return body;
  return body.replace(ASCII_RUN, (run) => {
    const bytes = [];
    for (let i = 0; i < run.length; i += 1) {
      if (run[i] === "%") {
        bytes.push(parseInt(run.slice(i + 1, i + 3), 16));
        i += 2;
      } else {
        bytes.push(run.charCodeAt(i));
      }
    }
    try {
      return UTF8.decode(new Uint8Array(bytes));
    } catch {
      return mismatch(`component ${index}: inserted text is not valid percent-encoded UTF-8`);
    }
  });
}

/**
 * Parse a delta into an operation over a text of `baseLength` code points.
 *
 * Strict like the server: unknown or empty components, counts that are not plain decimal
 * numbers of at most 15 digits, bad escapes, invalid UTF-8, and a span that differs from
 * the base length all throw `OperationError`. Non-canonical but valid deltas ("=0", "+",
 * split components, a delete before an insert) are accepted and normalised.
 * @param {string} delta
 * @param {number} baseLength
 * @returns {Operation}
 */
export function fromDelta(delta, baseLength) {
  if (typeof delta !== "string") mismatch(`a delta must be a string, got ${typeof delta}`);
  checkCount(baseLength, "text length");
  /** @type {Raw[]} */
  const ops = [];
  let spanned = 0;
  const tokens = delta ? delta.split("\t") : [];
  tokens.forEach((token, index) => {
    const kind = token.slice(0, 1);
    const body = token.slice(1);
    if (kind === "+") {
      pushInsert(ops, decodeInsert(body, index));
    } else if (kind === "=" || kind === "-") {
      if (!COUNT.test(body)) {
        mismatch(
          `component ${index} (${JSON.stringify(token.slice(0, 20))}): expected a ` +
            "non-negative decimal count of at most 15 digits",
        );
      }
      const count = Number(body);
      spanned += count;
      if (spanned > baseLength) {
        mismatch(
          `delta spans more than the ${baseLength} characters of the text ` +
            `(at component ${index})`,
        );
      }
      if (kind === "=") pushRetain(ops, count);
      else pushDelete(ops, count);
    } else if (!token) {
      mismatch(`component ${index} is empty`);
    } else {
      mismatch(
        `component ${index} has unknown kind ${JSON.stringify(String.fromCodePoint(
          /** @type {number} */ (token.codePointAt(0)),
        ))} (expected '=', '+' or '-')`,
      );
    }
  });
  if (spanned !== baseLength) {
    mismatch(`delta spans ${spanned} characters, but the text has ${baseLength}`);
  }
  return Operation._fromRaw(ops);
}

// --- compose and transform -------------------------------------------------------------------

/**
 * What is left of a retain (>0) or delete (<0) after `used` code points.
 * @param {number} op
 * @param {number} used
 */
const remaining = (op, used) => (op > 0 ? op - used : op + used);

/**
 * Walk the components of an operation one by one (`undefined` when exhausted).
 * @param {Operation} operation
 */
function cursor(operation) {
  const ops = operation._ops;
  let i = 0;
  return () => /** @type {Raw | undefined} */ (i < ops.length ? ops[i++] : undefined);
}

/**
 * Return one operation with the effect of `a` followed by `b`.
 * @param {Operation} a
 * @param {Operation} b
 * @returns {Operation}
 */
export function compose(a, b) {
  if (a.targetLength !== b.baseLength) {
    mismatch(
      `cannot compose: the first operation produces ${a.targetLength} characters, ` +
        `the second expects ${b.baseLength}`,
    );
  }
  /** @type {Raw[]} */
  const result = [];
  const first = cursor(a);
  const second = cursor(b);
  let op1 = first();
  let op2 = second();
  while (op1 !== undefined || op2 !== undefined) {
    if (typeof op1 === "number" && op1 < 0) {
      pushDelete(result, -op1);
      op1 = first();
      continue;
    }
    if (typeof op2 === "string") {
      pushInsert(result, op2);
      op2 = second();
      continue;
    }
    if (op1 === undefined || op2 === undefined) {
      return mismatch("cannot compose: operations of different lengths"); // excluded above
    }
    let used;
    if (typeof op1 === "string") {
      const length = codePointLength(op1);
      if (op2 > 0) {
        used = Math.min(length, op2);
        const [head, rest] = splitCodePoints(op1, used);
        pushInsert(result, head);
        op1 = rest || first();
      } else {
        used = Math.min(length, -op2); // inserted, then deleted again: nothing remains
        op1 = splitCodePoints(op1, used)[1] || first();
      }
    } else {
      used = Math.min(op1, Math.abs(op2));
      if (op2 > 0) pushRetain(result, used);
      else pushDelete(result, used);
      op1 = remaining(op1, used) || first();
    }
    op2 = remaining(op2, used) || second();
  }
  return Operation._fromRaw(result);
}

/**
 * Return `[a', b']` such that `b` then `a'` equals `a` then `b'`.
 *
 * Both operations apply to the same text. When both insert at the same position, `a`'s
 * insert comes first. Pass the server's revision as `a` and the local operation as `b`, as
 * the server does, so every replica orders concurrent inserts by server history.
 * @param {Operation} a
 * @param {Operation} b
 * @returns {[Operation, Operation]}
 */
export function transform(a, b) {
  if (a.baseLength !== b.baseLength) {
    mismatch(
      "cannot transform operations over different texts " +
        `(${a.baseLength} and ${b.baseLength} characters)`,
    );
  }
  /** @type {Raw[]} */
  const aPrime = [];
  /** @type {Raw[]} */
  const bPrime = [];
  const first = cursor(a);
  const second = cursor(b);
  let op1 = first();
  let op2 = second();
  while (op1 !== undefined || op2 !== undefined) {
    if (typeof op1 === "string") {
      pushInsert(aPrime, op1);
      pushRetain(bPrime, codePointLength(op1));
      op1 = first();
      continue;
    }
    if (typeof op2 === "string") {
      pushRetain(aPrime, codePointLength(op2));
      pushInsert(bPrime, op2);
      op2 = second();
      continue;
    }
    if (op1 === undefined || op2 === undefined) {
      return mismatch("cannot transform: operations of different lengths"); // excluded above
    }
    const used = Math.min(Math.abs(op1), Math.abs(op2));
    if (op1 > 0 && op2 > 0) {
      pushRetain(aPrime, used);
      pushRetain(bPrime, used);
    } else if (op1 < 0 && op2 > 0) {
      pushDelete(aPrime, used);
    } else if (op1 > 0 && op2 < 0) {
      pushDelete(bPrime, used);
    }
    // Both deleted the same range: neither needs to delete it again.
    op1 = remaining(op1, used) || first();
    op2 = remaining(op2, used) || second();
  }
  return [Operation._fromRaw(aPrime), Operation._fromRaw(bPrime)];
}
