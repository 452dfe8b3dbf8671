// Laws and behaviour of the browser's OT port (static/src/ot). Run: node --test tests/js/
//
// Randomised checks use a seeded PRNG, so a failure names its seed and can be replayed.
// Parity with the Python domain is checked separately by tests/domain/test_js_parity.py.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { ClientDocument, GapDetected, SyncError } from "../../static/src/ot/client.js";
import {
  Operation,
  OperationError,
  codePointLength,
  compose,
  fromDelta,
  transform,
} from "../../static/src/ot/operation.js";
import {
  changesToOperation,
  operationToChanges,
  toCodePoints,
  toUtf16,
} from "../../static/src/ot/positions.js";

// --- random data -----------------------------------------------------------------------------

/** mulberry32: tiny, fast and good enough to drive property checks reproducibly. */
function prng(seed) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    /** An integer in [lo, hi]. */
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (items) => items[Math.floor(next() * items.length)],
  };
}

// Characters that trip up code counting UTF-16 units or splitting clusters: emoji outside the
// BMP, a skin-tone modifier, combining marks, a zero-width joiner, plus what the delta format
// escapes or keeps (percent, tab, newline, quotes, plus, hash, space).
const TRICKY = [
  "😀", "👍", "🏽", "\u0301", "\u0308", "\u200d", "𝔘", "中", "ß", "ä", "%", "\t", "\n", "+",
  '"', "'", "\\", "#", " ", "~", "\ufeff", "é",
];
const PLAIN = [..."abcxyz ."];

function randomText(rng, maxLength = 24) {
  let text = "";
  for (let i = rng.int(0, maxLength); i > 0; i -= 1) {
    text += rng.next() < 0.5 ? rng.pick(PLAIN) : rng.pick(TRICKY);
  }
  return text;
}

/** A random operation spanning `base` (port of the Python tests' strategy). */
function randomOperation(rng, base) {
  const length = codePointLength(base);
  const components = [];
  let position = 0;
  for (let i = rng.int(0, 6); i > 0; i -= 1) {
    const kind = rng.pick(["retain", "delete", "insert"]);
    if (kind === "insert" || position === length) {
      components.push({ insert: randomText(rng, 8) || "x" });
      continue;
    }
    const count = rng.int(1, length - position);
    components.push(kind === "retain" ? { retain: count } : { delete: count });
    position += count;
  }
  if (position < length) {
    const rest = length - position;
    components.push(rng.next() < 0.5 ? { retain: rest } : { delete: rest });
  }
  return new Operation(components);
}

/** Run `check(rng, seed)` for many seeds, naming the seed of a failure. */
function forSeeds(count, check) {
  for (let seed = 1; seed <= count; seed += 1) {
    try {
      check(prng(seed), seed);
    } catch (error) {
      error.message = `seed ${seed}: ${error.message}`;
      throw error;
    }
  }
}

// --- operation laws --------------------------------------------------------------------------

describe("operation laws", () => {
  test("applying a composition equals applying both", () => {
    forSeeds(500, (rng) => {
      const base = randomText(rng);
      const a = randomOperation(rng, base);
      const b = randomOperation(rng, a.apply(base));
      assert.equal(compose(a, b).apply(base), b.apply(a.apply(base)));
    });
  });

  test("transformed operations converge and keep every inserted text", () => {
    forSeeds(500, (rng) => {
      const base = randomText(rng);
      const a = randomOperation(rng, base);
      const b = randomOperation(rng, base);
      const [a2, b2] = transform(a, b);
      assert.equal(b2.apply(a.apply(base)), a2.apply(b.apply(base)));
      assert.ok(compose(a, b2).equals(compose(b, a2)));
      assert.equal(a2.insertedTexts.join(""), a.insertedTexts.join(""));
      assert.equal(b2.insertedTexts.join(""), b.insertedTexts.join(""));
    });
  });

  test("identity changes nothing under compose and transform", () => {
    forSeeds(300, (rng) => {
      const base = randomText(rng);
      const op = randomOperation(rng, base);
      const before = Operation.identity(op.baseLength);
      const after = Operation.identity(op.targetLength);
      assert.ok(compose(before, op).equals(op));
      assert.ok(compose(op, after).equals(op));
      const [op2, id2] = transform(op, before);
      assert.ok(op2.equals(op) && id2.equals(after));
      const [id3, op3] = transform(before, op);
      assert.ok(id3.equals(after) && op3.equals(op));
      assert.equal(before.apply(base), base);
    });
  });

  test("invert undoes the operation", () => {
    forSeeds(300, (rng) => {
      const base = randomText(rng);
      const op = randomOperation(rng, base);
      const inverse = op.invert(base);
      assert.equal(inverse.apply(op.apply(base)), base);
      assert.equal(compose(op, inverse).apply(base), base);
    });
  });

  test("deltas round-trip and contain no raw newline or tab inside a component", () => {
    forSeeds(500, (rng) => {
      const base = randomText(rng);
      const op = randomOperation(rng, base);
      const delta = op.toDelta();
      assert.ok(fromDelta(delta, codePointLength(base)).equals(op));
      assert.ok(!delta.includes("\n"));
      assert.equal(delta ? delta.split("\t").length : 0, op.components.length);
    });
  });

  test("mapped positions stay in the new text and keep their order", () => {
    forSeeds(300, (rng) => {
      const base = randomText(rng);
      const op = randomOperation(rng, base);
      for (const assoc of [-1, 1]) {
        let previous = 0;
        for (let index = 0; index <= op.baseLength; index += 1) {
          const mapped = op.transformPosition(index, assoc);
          assert.ok(mapped >= previous && mapped <= op.targetLength);
          previous = mapped;
        }
      }
      // A cursor before a kept character stays before it.
      const result = [...op.apply(base)];
      const chars = [...base];
      let position = 0;
      for (const component of op.components) {
        if ("retain" in component) {
          for (let i = position; i < position + component.retain; i += 1) {
            assert.equal(result[op.transformPosition(i, 1)], chars[i]);
          }
          position += component.retain;
        } else if ("delete" in component) {
          position += component.delete;
        }
      }
    });
  });
});

// --- operation details -----------------------------------------------------------------------

describe("operation", () => {
  test("equal edits have one normal form, insert before delete", () => {
    const messy = new Operation([
      { retain: 1 }, { retain: 0 }, { delete: 2 }, { insert: "x" }, { insert: "" }, { insert: "y" },
    ]);
    assert.deepEqual(messy.components, [{ retain: 1 }, { insert: "xy" }, { delete: 2 }]);
    assert.ok(messy.equals(new Operation([{ retain: 1 }, { insert: "xy" }, { delete: 2 }])));
  });

  test("edit spans the whole text and counts an emoji as one", () => {
    const op = Operation.edit(6, 2, 1, "XY");
    assert.deepEqual(op.components, [
      { retain: 2 }, { insert: "XY" }, { delete: 1 }, { retain: 3 },
    ]);
    assert.deepEqual([op.baseLength, op.targetLength], [6, 7]);
    assert.equal(op.apply("ab😀def"), "abXYdef");
    assert.equal(Operation.edit(3, 1, 1, "").apply("a😀b"), "ab");
    assert.equal(Operation.edit(0, 0, 0, "👍🏽").targetLength, 2);
  });

  test("edits outside the text and bad counts are refused", () => {
    const outside = [[3, 4, 0], [3, 2, 2], [3, -1, 0], [3, 0, -1], [-1, 0, 0], [3, 0.5, 0]];
    for (const [length, position, count] of outside) {
      assert.throws(() => Operation.edit(length, position, count, "x"), OperationError);
    }
    assert.throws(() => new Operation([{ retain: -1 }]), OperationError);
    assert.throws(() => new Operation([{ delete: -2 }]), OperationError);
    assert.throws(() => new Operation([{ keep: 2 }]), TypeError);
  });

  test("operations are immutable", () => {
    const op = Operation.edit(3, 1, 0, "x");
    assert.throws(() => {
      op._ops = [];
    }, TypeError);
    assert.throws(() => {
      op._ops.push(1);
    }, TypeError);
  });

  test("only retains are a no-op", () => {
    assert.ok(Operation.identity(5).isNoop);
    assert.ok(Operation.identity(0).isNoop);
    assert.ok(!Operation.edit(5, 1, 0, "x").isNoop);
    assert.ok(!Operation.edit(5, 1, 1, "").isNoop);
  });

  test("length mismatches are refused", () => {
    assert.throws(() => Operation.identity(3).apply("abcd"), /expects a text of 3 characters/);
    assert.throws(() => Operation.identity(2).apply("a😀b"), OperationError);
    assert.throws(() => compose(Operation.identity(2), Operation.identity(3)), OperationError);
    assert.throws(() => transform(Operation.identity(2), Operation.identity(3)), OperationError);
    assert.throws(() => Operation.identity(2).invert("abc"), OperationError);
  });

  test("concurrent inserts at one position put the first argument first", () => {
    const stored = Operation.edit(2, 1, 0, "A");
    const incoming = Operation.edit(2, 1, 0, "B");
    const [stored2, incoming2] = transform(stored, incoming);
    assert.equal(incoming2.apply(stored.apply("xy")), "xABy");
    assert.equal(stored2.apply(incoming.apply("xy")), "xABy");
  });

  test("concurrent deletes of the same text delete it once", () => {
    const a = Operation.edit(5, 1, 3, "");
    const b = Operation.edit(5, 2, 2, "");
    const [a2, b2] = transform(a, b);
    assert.equal(b2.apply(a.apply("abcde")), "ae");
    assert.equal(a2.apply(b.apply("abcde")), "ae");
  });

  test("cursor positions follow an edit", () => {
    const op = Operation.edit(10, 4, 2, "xyz");
    assert.equal(op.transformPosition(2), 2);
    assert.equal(op.transformPosition(4), 4);
    assert.equal(op.transformPosition(4, 1), 7);
    assert.equal(op.transformPosition(5), 4);
    assert.equal(op.transformPosition(6), 7);
    assert.equal(op.transformPosition(10), 11);
    assert.throws(() => op.transformPosition(11), OperationError);
  });

  test("invert restores deleted text", () => {
    assert.equal(Operation.edit(5, 1, 3, "Z").invert("a😀cde").apply("aZe"), "a😀cde");
  });
});

// --- delta format ----------------------------------------------------------------------------

describe("delta format", () => {
  test("counts code points and escapes like diff-match-patch", () => {
    assert.equal(Operation.edit(3, 2, 1, "").toDelta(), "=2\t-1");
    assert.equal(fromDelta("=2\t-1", 3).apply("a😀b"), "a😀");
    assert.equal(
      Operation.edit(0, 0, 0, "a b%\t+ä😀\n#").toDelta(),
      "+a b%25%09+%C3%A4%F0%9F%98%80%0A#",
    );
    assert.equal(
      Operation.edit(0, 0, 0, "!~*'();/?:@&=+$,# _.-\"<>[]{}|\\^`").toDelta(),
      "+!~*'();/?:@&=+$,# _.-%22%3C%3E%5B%5D%7B%7D%7C%5C%5E%60",
    );
    assert.equal(Operation.edit(0, 0, 0, "\ufeff\u0301").toDelta(), "+%EF%BB%BF%CC%81");
  });

  test("an empty delta is the identity of the empty text", () => {
    assert.ok(fromDelta("", 0).equals(Operation.identity(0)));
    assert.equal(Operation.identity(0).toDelta(), "");
  });

  test("non-canonical but valid deltas are normalised", () => {
    const op = fromDelta("=0\t=1\t-1\t+%c3%a4\t+\t+é\t=1", 3);
    assert.deepEqual(op.components, [
      { retain: 1 }, { insert: "äé" }, { delete: 1 }, { retain: 1 },
    ]);
    // Python's unquote keeps non-ASCII characters as they are and decodes a BOM.
    assert.equal(fromDelta("+%EF%BB%BFx", 0).insertedTexts[0], "\ufeffx");
    assert.equal(fromDelta("+007", 0).insertedTexts[0], "007");
    assert.equal(fromDelta("=007", 7).baseLength, 7);
  });

  test("malformed deltas are refused", () => {
    const cases = [
      ["=3", 4], ["=5", 4], ["=2\t-3", 4], ["", 2], ["=-1\t=5", 4], ["-+2\t=2", 4],
      ["=abc", 3], ["=1e3", 1000], ["=٣", 3], ["= 3", 3], ["=", 0], ["=3\t\t+x", 3],
      ["=3\t", 3], ["*3", 3], [" =3", 3], ["+%ZZ", 0], ["+%4", 0], ["+100%", 0],
      ["+%C3", 0], ["+%ED%A0%80", 0], ["+\ud800", 0], ["=" + "9".repeat(40), 3],
      ["+%C3é%A9", 0], ["+%C0%AF", 0], ["😀", 0], ["=0x3", 3], ["=3 ", 3], ["=3\n", 3],
    ];
    for (const [delta, length] of cases) {
      assert.throws(() => fromDelta(delta, length), OperationError, JSON.stringify(delta));
    }
    assert.throws(() => fromDelta("=3", 4), /spans 3 characters, but the text has 4/);
    assert.throws(() => fromDelta("=1\t?x", 1), /unknown kind/);
    assert.throws(() => fromDelta(3, 1), OperationError);
  });

  test("unpaired surrogates are not serialised", () => {
    assert.throws(() => Operation.edit(0, 0, 0, "\udc00").toDelta(), OperationError);
    assert.throws(() => Operation.edit(0, 0, 0, "a\ud83d").toDelta(), OperationError);
  });

  test("garbage is refused or parsed exactly", () => {
    forSeeds(2000, (rng) => {
      let delta = "";
      const alphabet = [..."=+-0123456789%\tAaé", "😀"];
      for (let i = rng.int(0, 16); i > 0; i -= 1) delta += rng.pick(alphabet);
      const length = rng.int(0, 20);
      let op;
      try {
        op = fromDelta(delta, length);
      } catch (error) {
        assert.ok(error instanceof OperationError, String(error));
        return;
      }
      assert.equal(op.baseLength, length);
      assert.ok(fromDelta(op.toDelta(), length).equals(op));
    });
  });
});

// --- positions -------------------------------------------------------------------------------

/** Apply CodeMirror-style changes (offsets into the original text) by hand. */
function applyChanges(text, changes) {
  let result = text;
  for (const { from, to, insert } of [...changes].reverse()) {
    result = result.slice(0, from) + insert + result.slice(to);
  }
  return result;
}

/** UTF-16 offsets of every code point boundary of `text`. */
function boundaries(text) {
  const offsets = [0];
  for (const char of text) offsets.push(offsets[offsets.length - 1] + char.length);
  return offsets;
}

/** Random sorted, non-overlapping changes at code point boundaries of `text`. */
function randomChanges(rng, text) {
  const offsets = boundaries(text);
  const picked = [];
  for (let i = rng.int(0, 6); i > 0; i -= 1) picked.push(rng.pick(offsets));
  picked.sort((x, y) => x - y);
  const changes = [];
  for (let i = 0; i + 1 < picked.length; i += 2) {
    const insert = rng.next() < 0.6 ? randomText(rng, 5) : "";
    changes.push({ from: picked[i], to: picked[i + 1], insert });
  }
  return changes;
}

describe("positions", () => {
  test("offsets convert between UTF-16 and code points", () => {
    const text = "a😀b👍🏽\u0301c";
    assert.equal(toCodePoints(text, 3), 2);
    assert.equal(toUtf16(text, 2), 3);
    assert.equal(toCodePoints(text, 2), 1); // inside the pair of 😀: rounded down
    assert.equal(toCodePoints(text, text.length), codePointLength(text));
    assert.throws(() => toCodePoints(text, text.length + 1), RangeError);
    assert.throws(() => toUtf16(text, codePointLength(text) + 1), RangeError);
    assert.throws(() => toUtf16(text, -1), RangeError);
    assert.equal(toCodePoints("\ud800x", 1), 1); // a lone surrogate is one code point
  });

  test("offsets round-trip, counting lone surrogates as one code point like Python", () => {
    forSeeds(300, (rng) => {
      let text = randomText(rng, 30);
      if (rng.next() < 0.5) text += rng.pick(["\ud800", "\udc00", "\ud83d"]) + randomText(rng, 3);
      assert.equal(codePointLength(text), [...text].length);
      const offsets = boundaries(text);
      offsets.forEach((offset, codePoint) => {
        assert.equal(toCodePoints(text, offset), codePoint);
        assert.equal(toUtf16(text, codePoint), offset);
      });
    });
  });

  test("changes become an operation with the same effect, and back", () => {
    forSeeds(500, (rng) => {
      const text = randomText(rng, 30);
      const changes = randomChanges(rng, text);
      const expected = applyChanges(text, changes);
      const op = changesToOperation(text, changes);
      assert.equal(op.baseLength, codePointLength(text));
      assert.equal(op.apply(text), expected);
      const back = operationToChanges(text, op);
      assert.equal(applyChanges(text, back), expected);
      assert.ok(changesToOperation(text, back).equals(op));
    });
  });

  test("an operation becomes sorted changes with the same effect", () => {
    forSeeds(500, (rng) => {
      const text = randomText(rng, 30);
      const op = randomOperation(rng, text);
      const changes = operationToChanges(text, op);
      let end = 0;
      for (const { from, to } of changes) {
        assert.ok(from >= end && to >= from);
        end = to;
      }
      assert.equal(applyChanges(text, changes), op.apply(text));
    });
  });

  test("a replacement is one change", () => {
    const text = "x😀yz";
    assert.deepEqual(operationToChanges(text, Operation.edit(4, 1, 2, "ä")), [
      { from: 1, to: 4, insert: "ä" },
    ]);
    assert.deepEqual(operationToChanges(text, Operation.identity(4)), []);
  });

  test("invalid changes are refused", () => {
    const text = "a😀b";
    const refused = [
      [{ from: 2, to: 2, insert: "x" }], // inside the pair of 😀
      [{ from: 1, to: 2, insert: "" }],
      [{ from: 3, to: 4, insert: "" }, { from: 0, to: 1, insert: "" }], // not sorted
      [{ from: 0, to: 9, insert: "" }],
      [{ from: 2, to: 1, insert: "" }],
    ];
    for (const changes of refused) {
      assert.throws(() => changesToOperation(text, changes), OperationError);
    }
    assert.throws(() => operationToChanges(text, Operation.identity(4)), OperationError);
  });
});

// --- client state machine --------------------------------------------------------------------

/** A tiny server speaking the wire format: deltas in, deltas out (as the Flask side does). */
class TinyServer {
  constructor(text) {
    this.texts = [text]; // text at each revision
    this.revisions = []; // {rev, op (delta), client_id, seq}
    this.ops = []; // parsed operations of the revisions
  }

  get head() {
    return this.revisions.length;
  }

  get text() {
    return this.texts[this.texts.length - 1];
  }

  /** Handle an `edit` event; returns the acknowledgement. */
  submit(clientId, seq, base, delta) {
    const duplicate = this.revisions.find((r) => r.client_id === clientId && r.seq === seq);
    if (duplicate) return { ok: true, seq, rev: duplicate.rev, outcome: "duplicate" };
    assert.ok(base >= 0 && base <= this.head, `unknown base ${base}`);
    let op = fromDelta(delta, codePointLength(this.texts[base]));
    for (const concurrent of this.ops.slice(base)) [, op] = transform(concurrent, op);
    if (op.isNoop) return { ok: true, seq, rev: this.head, outcome: "unchanged" };
    this.ops.push(op);
    this.texts.push(op.apply(this.text));
    const revision = { rev: this.head + 1, op: op.toDelta(), client_id: clientId, seq };
    this.revisions.push(revision);
    return { ok: true, seq, rev: revision.rev, outcome: "accepted" };
  }

  resync(since) {
    return this.revisions.slice(since);
  }
}

describe("client", () => {
  test("only one batch is in flight and later edits are buffered", () => {
    const client = new ClientDocument("a", "ab", 0);
    client.edit(2, 0, "c");
    const first = client.takeBatch();
    assert.deepEqual([first.seq, first.base], [1, 0]);
    assert.ok(first.operation.equals(Operation.edit(2, 2, 0, "c")));
    client.edit(3, 0, "d");
    client.edit(4, 0, "e");
    assert.equal(client.takeBatch(), null);
    assert.ok(client.hasUnsent);
    assert.ok(client.onAck(1, 1));
    const second = client.takeBatch();
    assert.deepEqual([second.seq, second.base], [2, 1]);
    assert.ok(second.operation.equals(Operation.edit(3, 3, 0, "de")));
    assert.equal(client.text, "abcde");
    assert.equal(client.serverText, "abc");
    assert.ok(!client.isSynchronised);
    assert.equal(client.nextSeq, 3);
  });

  test("edits that cancel out send nothing", () => {
    const client = new ClientDocument("a", "ab", 0);
    client.edit(1, 0, "xyz");
    client.edit(1, 3, "");
    assert.equal(client.takeBatch(), null);
    assert.ok(client.isSynchronised);
  });

  test("a remote revision is transformed over unconfirmed edits", () => {
    const client = new ClientDocument("a", "Die Erklärung 😀", 0);
    client.edit(15, 0, " gilt");
    client.takeBatch();
    client.edit(20, 0, "!");
    const local = client.onRemote(1, Operation.edit(15, 0, 0, "Gemeinsam: ").toDelta(), "b", 1);
    assert.ok(local instanceof Operation);
    assert.equal(client.text, "Gemeinsam: Die Erklärung 😀 gilt!");
    assert.equal(client.serverText, "Gemeinsam: Die Erklärung 😀");
    assert.equal(client.revision, 1);
  });

  test("with nothing unconfirmed, a revision or an ack copies the text once, not twice", () => {
    const applied = [];
    const apply = Operation.prototype.apply;
    Operation.prototype.apply = function (text, options) {
      applied.push(text.length);
      return apply.call(this, text, options);
    };
    try {
      const client = new ClientDocument("a", "Die Erklärung", 0);
      client.onRemote(1, Operation.edit(13, 13, 0, " gilt").toDelta(), "b", 1);
      assert.deepEqual(applied, [13]); // the server's text only; the local text shares it
      client.edit(0, 0, "»");
      client.takeBatch();
      applied.length = 0;
      assert.ok(client.onAck(1, 2));
      assert.deepEqual(applied, []); // the local text already is the server's
      client.onRemote(3, Operation.edit(19, 19, 0, "!").toDelta(), "b", 2);
      assert.deepEqual(applied, [19]);
      assert.equal(client.text, "»Die Erklärung gilt!");
      assert.equal(client.serverText, client.text);
      // Something typed and not yet confirmed: both texts take the revision.
      client.edit(20, 0, "?");
      applied.length = 0;
      client.onRemote(4, Operation.edit(20, 0, 0, "1. ").toDelta(), "b", 3);
      assert.deepEqual(applied, [20, 21]);
      assert.equal(client.text, "1. »Die Erklärung gilt!?");
      assert.equal(client.serverText, "1. »Die Erklärung gilt!");
    } finally {
      Operation.prototype.apply = apply;
    }
  });

  test("gaps raise GapDetected; old revisions are ignored", () => {
    const client = new ClientDocument("a", "x", 3);
    assert.throws(
      () => client.onRemote(5, Operation.identity(1), "b", 1),
      (error) => error instanceof GapDetected && error.since === 3 && error.received === 5,
    );
    assert.equal(client.revision, 3);
    assert.equal(client.onRemote(4, "=1\t+y", "b", 1).toDelta(), "=1\t+y");
    assert.equal(client.onRemote(4, "=1\t+y", "b", 1), null);
    assert.equal(client.text, "xy");
    assert.throws(() => client.onRemote(5, Operation.identity(3), "b", 2), SyncError);
    assert.throws(() => client.onRemote(5, "=3", "b", 2), SyncError);
  });

  test("own revision in the history counts as acknowledgement", () => {
    const server = new TinyServer("ab");
    const client = new ClientDocument("a", "ab", 0);
    client.edit(0, 0, "X");
    const batch = client.takeBatch();
    server.submit("a", batch.seq, batch.base, batch.operation.toDelta()); // the ack is lost
    client.catchUp(server.resync(client.revision));
    assert.ok(client.isSynchronised);
    assert.equal(client.revision, 1);
    assert.equal(client.onAck(batch.seq, 1), false);
    assert.equal(client.text, server.text);
  });

  test("an ack after missing revisions raises GapDetected and works after catching up", () => {
    const server = new TinyServer("ab");
    const client = new ClientDocument("a", "ab", 0);
    client.edit(2, 0, "!");
    const batch = client.takeBatch();
    server.submit("b", 1, 0, Operation.edit(2, 0, 0, "B").toDelta());
    const ack = server.submit("a", batch.seq, batch.base, batch.operation.toDelta());
    assert.throws(() => client.onAck(batch.seq, ack.rev), GapDetected);
    client.catchUp(server.resync(client.revision));
    assert.ok(client.isSynchronised);
    assert.equal(client.text, "Bab!");
    assert.equal(server.text, "Bab!");
  });

  test("an unchanged batch is confirmed once the client has caught up", () => {
    const server = new TinyServer("one two");
    const client = new ClientDocument("a", "one two", 0);
    client.edit(3, 4, "");
    const batch = client.takeBatch();
    server.submit("b", 1, 0, Operation.edit(7, 3, 4, "").toDelta());
    const ack = server.submit("a", batch.seq, batch.base, batch.operation.toDelta());
    assert.equal(ack.outcome, "unchanged");
    assert.throws(() => client.onAck(batch.seq, ack.rev, { unchanged: true }), GapDetected);
    client.catchUp(server.resync(client.revision));
    assert.ok(client.onAck(batch.seq, ack.rev, { unchanged: true }));
    assert.ok(client.isSynchronised);
    assert.equal(client.text, "one");
  });

  test("reconnect resends the same batch", () => {
    const client = new ClientDocument("a", "ab", 0);
    client.edit(0, 0, "x");
    const batch = client.takeBatch();
    client.edit(0, 0, "y");
    assert.equal(client.onReconnect(), batch);
    assert.equal(client.inFlight, batch);
  });

  test("a refused batch hands back the inserted text", () => {
    const client = new ClientDocument("a", "Die Gemeinde.", 0);
    client.edit(12, 0, " fordert Hilfe");
    const batch = client.takeBatch();
    client.edit(0, 0, "Wir: ");
    client.onRemote(1, Operation.edit(13, 13, 0, " Ende."), "b", 1);
    const refusal = client.onRefused(batch.seq);
    assert.deepEqual(refusal.passages, ["Wir: ", " fordert Hilfe"]);
    assert.equal(refusal.discardedText, "Wir: Die Gemeinde fordert Hilfe. Ende.");
    assert.equal(client.text, "Die Gemeinde. Ende.");
    assert.equal(client.serverText, client.text);
    assert.ok(client.isSynchronised);
    assert.equal(client.onRefused(batch.seq), null);
    assert.equal(client.nextSeq, batch.seq + 1);
  });

  test("the state survives JSON, and the restored replica resends its batch", () => {
    const server = new TinyServer("Hallo 😀");
    const client = new ClientDocument("tab-1", "Hallo 😀", 0, { nextSeq: 4 });
    client.edit(7, 0, " Welt");
    const batch = client.takeBatch();
    server.submit("b", 1, 0, Operation.edit(7, 0, 0, ">").toDelta());
    client.onRemote(1, server.revisions[0].op, "b", 1);
    client.edit(0, 0, "¡");
    const restored = ClientDocument.fromJSON(JSON.parse(JSON.stringify(client)));
    for (const key of ["clientId", "revision", "serverText", "text", "nextSeq", "hasUnsent"]) {
      assert.deepEqual(restored[key], client[key], key);
    }
    const resent = restored.onReconnect();
    assert.deepEqual([resent.seq, resent.base], [batch.seq, batch.base]);
    assert.ok(resent.operation.equals(batch.operation));
    const delta = resent.operation.toDelta();
    const ack = server.submit(restored.clientId, resent.seq, resent.base, delta);
    restored.onAck(ack.seq, ack.rev);
    const next = restored.takeBatch();
    assert.equal(next.seq, 5);
    const ack2 = server.submit(restored.clientId, next.seq, next.base, next.operation.toDelta());
    restored.onAck(ack2.seq, ack2.rev);
    assert.ok(restored.isSynchronised);
    assert.equal(server.text, "¡>Hallo 😀 Welt");
    assert.equal(restored.text, server.text);
  });

  test("a malformed saved state is refused", () => {
    const good = new ClientDocument("a", "xy", 2);
    good.edit(0, 0, "z");
    good.takeBatch();
    const json = JSON.parse(JSON.stringify(good));
    for (const broken of [
      null,
      { ...json, format: 2 },
      { ...json, inflight: null },
      { ...json, inflight: "=5" },
      { ...json, pending: "=9" },
      { ...json, sent: { ...json.sent, seq: 7 } },
      { ...json, sent: { ...json.sent, base: 3 } },
      { ...json, sent: null },
    ]) {
      assert.throws(() => ClientDocument.fromJSON(broken), SyncError, JSON.stringify(broken));
    }
    assert.equal(ClientDocument.fromJSON(json).text, "zxy");
  });
});

// --- replicas converge -----------------------------------------------------------------------

const MARKER = /«c\d+-\d+»/gu;
const ORIGINAL =
  "Gemeinsame Erklärung 😀 der Bürgermeiste\u0301r:innen 👍🏽\nWir fordern 𝔘mweltschutz. 中";

/**
 * Clients edit through the CodeMirror path (UTF-16 changes in, changes out) while a server
 * and ordered per-connection queues (Socket.IO delivers in order) carry the messages. Faults:
 * lost and repeated messages, reconnects, reloads from the saved state. Edits insert or
 * delete unique markers, so at the end every marker inserted and not deleted must be there
 * exactly once, and the original text must be intact around them.
 */
class Simulation {
  constructor(rng, count, faults) {
    this.rng = rng;
    this.faults = faults;
    this.server = new TinyServer(ORIGINAL);
    this.clients = Array.from({ length: count }, (_, i) => ({
      doc: new ClientDocument(`c${i}`, ORIGINAL, 0),
      view: ORIGINAL, // what the editor shows, changed only through change arrays
      up: [], // batches on their way to the server
      down: [], // acks and revisions on their way to the client
      markers: 0,
    }));
    this.inserted = new Set();
    this.deleted = new Set();
    this.stats = { gaps: 0, reloads: 0, duplicate: 0, unchanged: 0, accepted: 0 };
  }

  localEdit(index) {
    const client = this.clients[index];
    const text = client.view;
    const present = [...text.matchAll(MARKER)];
    let change;
    if (present.length && this.rng.next() < 0.4) {
      const victim = this.rng.pick(present);
      change = { from: victim.index, to: victim.index + victim[0].length, insert: "" };
      this.deleted.add(victim[0]);
    } else {
      const offsets = boundaries(text).filter(
        (offset) => !present.some((m) => m.index < offset && offset < m.index + m[0].length),
      );
      client.markers += 1;
      const marker = `«c${index}-${client.markers}»`;
      const at = this.rng.pick(offsets);
      change = { from: at, to: at, insert: marker };
      this.inserted.add(marker);
    }
    client.doc.localEdit(changesToOperation(client.view, [change]));
    client.view = applyChanges(client.view, [change]);
    assert.equal(client.view, client.doc.text);
  }

  send(index) {
    const client = this.clients[index];
    const batch = client.doc.takeBatch();
    if (batch) client.up.push({ seq: batch.seq, base: batch.base, op: batch.operation.toDelta() });
  }

  deliverToServer(index) {
    const client = this.clients[index];
    // With faults a message may arrive twice (a resend racing the original).
    const edit = this.faults && this.rng.next() < 0.1 ? client.up[0] : client.up.shift();
    const ack = this.server.submit(client.doc.clientId, edit.seq, edit.base, edit.op);
    this.stats[ack.outcome] += 1;
    if (ack.outcome === "accepted") {
      const revision = this.server.revisions[ack.rev - 1];
      this.clients.forEach((other, i) => {
        if (i !== index) other.down.push({ kind: "revision", ...revision });
      });
    }
    client.down.push({ kind: "ack", ...ack });
  }

  /** Apply an operation the replica returned to the editor's view, as the editor will. */
  show(client, op) {
    if (op) client.view = applyChanges(client.view, operationToChanges(client.view, op));
    assert.equal(client.view, client.doc.text);
  }

  catchUp(client) {
    this.show(client, client.doc.catchUp(this.server.resync(client.doc.revision)));
  }

  handle(client, message) {
    if (message.kind === "revision") {
      const { rev, op, client_id: clientId, seq } = message;
      this.show(client, client.doc.onRemote(rev, op, clientId, seq));
    } else {
      client.doc.onAck(message.seq, message.rev, { unchanged: message.outcome === "unchanged" });
    }
  }

  deliverToClient(index) {
    const client = this.clients[index];
    const message = client.down.shift();
    try {
      this.handle(client, message);
    } catch (error) {
      if (!(error instanceof GapDetected)) throw error;
      this.stats.gaps += 1;
      this.catchUp(client); // resync, then take the message again
      this.handle(client, message);
    }
  }

  reconnect(index, reload) {
    const client = this.clients[index];
    client.up = [];
    client.down = [];
    if (reload) {
      this.stats.reloads += 1;
      // A page reload: the replica comes back from localStorage, the editor from its text.
      client.doc = ClientDocument.fromJSON(JSON.parse(JSON.stringify(client.doc)));
      client.view = client.doc.text;
    }
    this.catchUp(client);
    const batch = client.doc.onReconnect();
    if (batch) client.up.push({ seq: batch.seq, base: batch.base, op: batch.operation.toDelta() });
  }

  step() {
    const roll = this.rng.next();
    const index = this.rng.int(0, this.clients.length - 1);
    const client = this.clients[index];
    if (roll < 0.3) this.localEdit(index);
    else if (roll < 0.45) this.send(index);
    else if (roll < 0.65) {
      if (client.up.length) this.deliverToServer(index);
    } else if (roll < 0.9) {
      if (client.down.length) this.deliverToClient(index);
    } else if (this.faults && roll < 0.95) {
      const queue = this.rng.pick([client.up, client.down]);
      if (queue.length) queue.splice(this.rng.int(0, queue.length - 1), 1);
    } else if (this.faults) {
      this.reconnect(index, this.rng.next() < 0.5);
    }
  }

  /** Deliver everything reliably until every replica is confirmed and up to date. */
  settle() {
    this.faults = false;
    for (let round = 0; round < 100; round += 1) {
      this.clients.forEach((client, index) => {
        this.send(index);
        while (client.up.length) this.deliverToServer(index);
      });
      this.clients.forEach((client, index) => {
        while (client.down.length) this.deliverToClient(index);
        if (client.doc.inFlight) this.reconnect(index, false); // its answer was lost
      });
      if (this.clients.every((c) => c.doc.isSynchronised && !c.up.length && !c.down.length)) {
        break;
      }
    }
    for (const client of this.clients) this.catchUp(client);
  }

  check() {
    const text = this.server.text;
    for (const client of this.clients) {
      assert.ok(client.doc.isSynchronised);
      assert.equal(client.doc.revision, this.server.head);
      assert.equal(client.doc.text, text);
      assert.equal(client.doc.serverText, text);
      assert.equal(client.view, text);
    }
    const found = text.match(MARKER) ?? [];
    assert.equal(new Set(found).size, found.length, "a marker is duplicated");
    const expected = [...this.inserted].filter((m) => !this.deleted.has(m)).sort();
    assert.deepEqual([...found].sort(), expected, "a marker was lost or revived");
    assert.equal(text.replace(MARKER, ""), ORIGINAL, "untouched text was damaged");
  }
}

describe("replicas converge", () => {
  for (const faults of [false, true]) {
    test(`two or three clients and a server, ${faults ? "with" : "without"} faults`, () => {
      const total = { gaps: 0, reloads: 0, duplicate: 0, unchanged: 0, accepted: 0 };
      forSeeds(150, (rng) => {
        const sim = new Simulation(rng, rng.int(2, 3), faults);
        for (let steps = rng.int(10, 300); steps > 0; steps -= 1) sim.step();
        sim.settle();
        sim.check();
        for (const key of Object.keys(total)) total[key] += sim.stats[key];
      });
      // Guard the simulation itself: the interesting paths were taken.
      assert.ok(total.accepted > 1000 && total.unchanged > 0, JSON.stringify(total));
      if (faults) assert.ok(total.gaps && total.reloads && total.duplicate, JSON.stringify(total));
    });
  }

  test("the checks notice a lost marker", () => {
    const sim = new Simulation(prng(3), 2, false);
    for (let steps = 0; steps < 60; steps += 1) sim.step();
    sim.settle();
    sim.check();
    sim.inserted.add("«c0-999»");
    assert.throws(() => sim.check(), /lost or revived/);
  });
});

describe("ClientDocument on texts with and without surrogates", () => {
  test("a remote emoji makes later positions count code points again", () => {
    const doc = new ClientDocument("me", "ab", 0);
    doc.onRemote(1, Operation.edit(2, 1, 0, "😀").toDelta(), "other", 1);
    doc.onRemote(2, Operation.edit(3, 3, 0, "!").toDelta(), "other", 2);
    assert.equal(doc.text, "a😀b!");
    assert.equal(doc.serverText, "a😀b!");
  });

  test("a local emoji does so too, for the local and the confirmed text", () => {
    const doc = new ClientDocument("me", "ab", 0);
    doc.edit(0, 0, "👍🏽");
    const batch = doc.takeBatch();
    doc.onRemote(1, Operation.edit(2, 2, 0, "?").toDelta(), "other", 1);
    doc.onAck(batch.seq, 2);
    doc.edit(5, 0, "!");
    assert.equal(doc.text, "👍🏽ab?!");
    assert.equal(doc.serverText, "👍🏽ab?");
  });

  test("a restored replica with an emoji among its unconfirmed edits counts code points", () => {
    const doc = new ClientDocument("me", "ab", 0);
    doc.edit(2, 0, "😀");
    const restored = ClientDocument.fromJSON(JSON.parse(JSON.stringify(doc.toJSON())));
    restored.edit(3, 0, "!");
    assert.equal(restored.text, "ab😀!");
  });
});
