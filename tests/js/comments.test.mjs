// The pure parts of comments (static/src/editor/anchors.js and threads.js): anchors carried
// by the server's rule, the revision log, links that never become markup, order, filters,
// dates. Run: node --test tests/js/

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { ChangeSet } from "@codemirror/state";
import { Operation, compose } from "../../static/src/ot/operation.js";
import { operationToChanges } from "../../static/src/ot/positions.js";
import {
  RevisionLog,
  carryRange,
  changesOf,
  deltaBaseLength,
  mapPosition,
  mapRange,
  toServerRange,
  unconfirmedOperation,
} from "../../static/src/editor/anchors.js";
import {
  charCount,
  fill,
  formatDateTime,
  isDetached,
  linkParts,
  matchesFilter,
  orderThreads,
  shorten,
  threadState,
} from "../../static/src/editor/threads.js";

/** mulberry32, as in ot.test.mjs: a failure names its seed. */
function prng(seed) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)) };
}

function randomWord(rng) {
  return "abcxyz ."[rng.int(0, 7)].repeat(rng.int(1, 3));
}

/** A random operation over a text of `length` (plain characters only). */
function randomOperation(rng, length) {
  const components = [];
  let position = 0;
  while (position < length || rng.next() < 0.3) {
    const kind = rng.int(0, 2);
    if (kind === 0 || position === length) {
      components.push({ insert: randomWord(rng) });
      if (position === length) break;
      continue;
    }
    const count = rng.int(1, Math.min(4, length - position));
    components.push(kind === 1 ? { retain: count } : { delete: count });
    position += count;
  }
  if (position < length) components.push({ retain: length - position });
  return new Operation(components);
}

const byOperation = (op) => (pos, assoc) => op.transformPosition(pos, assoc);
const byChanges = (changes) => (pos, assoc) => mapPosition(changes, pos, assoc);

/** The changes CodeMirror reports for `op` over `text`. */
function codeMirrorChanges(text, op) {
  const set = ChangeSet.of(operationToChanges(text, op), text.length);
  const changes = [];
  set.iterChanges((fromA, toA, fromB, toB) => changes.push({ fromA, toA, fromB, toB }));
  return changes;
}

describe("anchors follow the text by the server's rule", () => {
  test("mapPosition over CodeMirror's changes agrees with Operation#transformPosition", () => {
    for (let seed = 1; seed <= 400; seed += 1) {
      const rng = prng(seed);
      const text = Array.from({ length: rng.int(0, 20) }, () => randomWord(rng)).join("").slice(0, 20);
      const op = randomOperation(rng, text.length);
      const cm = codeMirrorChanges(text, op);
      const own = changesOf(op);
      for (let pos = 0; pos <= text.length; pos += 1) {
        for (const assoc of [-1, 1]) {
          const expected = op.transformPosition(pos, assoc);
          assert.equal(mapPosition(cm, pos, assoc), expected, `seed ${seed}, pos ${pos}, assoc ${assoc}`);
          assert.equal(mapPosition(own, pos, assoc), expected, `seed ${seed}, pos ${pos}, assoc ${assoc}`);
        }
      }
    }
  });

  const text = "Erster Satz. Zweiter Satz. Dritter.";
  const start = text.indexOf("Zweiter");
  const end = start + "Zweiter Satz.".length;
  const carry = (op) => mapRange(byOperation(op), start, end);

  test("text typed exactly before or after the passage stays outside it", () => {
    assert.deepEqual(carry(Operation.edit(text.length, start, 0, "Neu: ")), [start + 5, end + 5]);
    assert.deepEqual(carry(Operation.edit(text.length, end, 0, " Mehr")), [start, end]);
  });

  test("text typed inside widens the passage, deleting inside shrinks it", () => {
    assert.deepEqual(carry(Operation.edit(text.length, start + 7, 0, " großer")), [start, end + 7]);
    assert.deepEqual(carry(Operation.edit(text.length, start, 8, "")), [start, end - 8]);
  });

  test("a replacement starting at the passage's start goes before it (unlike CodeMirror's mapPos)", () => {
    const op = Operation.edit(text.length, start, 7, "2.");
    assert.deepEqual(carry(op), [start + 2, end - 5]);
    const cm = ChangeSet.of(operationToChanges(text, op), text.length);
    assert.equal(cm.mapPos(start, 1), start, "CodeMirror keeps the start before the new text");
    assert.deepEqual(mapRange(byChanges(codeMirrorChanges(text, op)), start, end), [start + 2, end - 5]);
  });

  test("a passage deleted whole, or replaced whole, is detached", () => {
    assert.equal(carry(Operation.edit(text.length, start - 1, end - start + 1, "")), null);
    assert.equal(carry(Operation.edit(text.length, start, end - start, "Ganz anders.")), null);
  });

  test("carryRange names the revision that removed the passage", () => {
    const first = Operation.edit(text.length, 0, 0, "» ");
    const second = Operation.edit(first.targetLength, start + 2, end - start, "");
    assert.deepEqual(carryRange(start, end, [{ rev: 7, op: first }]), { range: [start + 2, end + 2] });
    assert.deepEqual(carryRange(start, end, [{ rev: 7, op: first }, { rev: 8, op: second }]), { detached: true, at: 8 });
    assert.deepEqual(carryRange(start, end, [{ rev: null, op: first }, { rev: null, op: second }]), { detached: true, at: null });
  });
});

describe("a selection goes back to the server's text through unconfirmed edits", () => {
  const server = "Erster Satz. Zweiter Satz.";
  const inflight = Operation.edit(server.length, 0, 0, "Ganz neu. ");
  const afterInflight = inflight.apply(server);
  const pending = Operation.edit(afterInflight.length, afterInflight.length, 0, " Ende.");
  const local = pending.apply(afterInflight);
  const unconfirmed = unconfirmedOperation(inflight, pending);

  test("confirmed text maps back to where the server has it", () => {
    const from = local.indexOf("Zweiter");
    const range = toServerRange(from, from + "Zweiter Satz.".length, unconfirmed, server);
    assert.deepEqual(range, [server.indexOf("Zweiter"), server.length]);
  });

  test("a selection reaching into unconfirmed text keeps only the confirmed part", () => {
    const range = toServerRange(local.indexOf("neu."), local.indexOf("Satz."), unconfirmed, server);
    assert.deepEqual(range, [0, server.indexOf("Satz.")]);
  });

  test("a selection entirely in unconfirmed text has no place in the server's text", () => {
    assert.equal(toServerRange(0, "Ganz neu.".length, unconfirmed, server), null);
    assert.equal(toServerRange(local.length - 5, local.length, unconfirmed, server), null);
  });

  test("without unconfirmed edits nothing moves", () => {
    assert.deepEqual(toServerRange(2, 5, unconfirmedOperation(null, null), server), [2, 5]);
    assert.equal(unconfirmedOperation(inflight, null), inflight);
    assert.ok(unconfirmed.equals(compose(inflight, pending)));
  });
});

describe("the revision log", () => {
  const a = Operation.edit(3, 0, 0, "x");
  const b = Operation.edit(4, 4, 0, "y");

  test("returns the steps between two revisions, parsing broadcast deltas", () => {
    const log = new RevisionLog(10);
    log.add(5, a.toDelta());
    log.add(6, b);
    assert.deepEqual(log.steps(6, 6), []);
    const steps = log.steps(4, 6);
    assert.deepEqual(steps.map((step) => step.rev), [5, 6]);
    assert.ok(steps[0].op.equals(a));
    assert.ok(steps[1].op.equals(b));
    assert.deepEqual(log.steps(5, 6).map((step) => step.rev), [6]);
  });

  test("says so when it does not reach back far enough", () => {
    const log = new RevisionLog(2);
    for (let rev = 1; rev <= 5; rev += 1) log.add(rev, Operation.identity(1));
    assert.equal(log.entries.length, 2);
    assert.equal(log.steps(2, 5), null);
    assert.equal(log.steps(3, 5).length, 2);
    assert.equal(log.steps(3, 6), null);
  });

  test("starts afresh after a gap", () => {
    const log = new RevisionLog();
    log.add(1, a);
    log.add(3, b);
    assert.equal(log.steps(0, 3), null);
    assert.equal(log.steps(2, 3).length, 1);
  });

  test("deltaBaseLength counts retains and deletes", () => {
    assert.equal(deltaBaseLength(""), 0);
    assert.equal(deltaBaseLength("=3\t+ab%09c\t-2\t=1"), 6);
  });
});

describe("links in a comment's text", () => {
  const hrefs = (text) => linkParts(text).filter((part) => "href" in part).map((part) => part.href);

  test("the parts put together are exactly the text", () => {
    for (const text of ["", "kein Link", "<b>fett</b> & <script>alert(1)</script>", "a https://x.org/b. c", "http://a.de, http://b.de"]) {
      assert.equal(linkParts(text).map((part) => part.text).join(""), text);
    }
  });

  test("only http and https addresses become links", () => {
    assert.deepEqual(hrefs("Siehe https://example.org/a?b=1&c=2 und http://beispiel.de."), [
      "https://example.org/a?b=1&c=2", "http://beispiel.de/",
    ]);
    assert.deepEqual(hrefs("javascript:alert(1) ftp://x.org data:text/html,<b>x</b> mailto:a@b.de"), []);
    assert.deepEqual(hrefs("https://"), []);
  });

  test("markup in the text stays text, also right after an address", () => {
    const parts = linkParts('https://example.org/"><img src=x onerror=alert(1)>');
    assert.deepEqual(parts[0], { text: "https://example.org/", href: "https://example.org/" });
    assert.equal(parts[1].text, '"><img src=x onerror=alert(1)>');
    assert.ok(!("href" in parts[1]));
  });

  test("punctuation ending a sentence is not part of the address; brackets that close are", () => {
    assert.deepEqual(hrefs("(siehe https://de.wikipedia.org/wiki/Gemeinde_(Deutschland))."), [
      "https://de.wikipedia.org/wiki/Gemeinde_(Deutschland)",
    ]);
    assert.deepEqual(hrefs("Quelle: https://example.org/bericht!"), ["https://example.org/bericht"]);
  });
});

describe("threads: state, filters, order", () => {
  const thread = (fields) => ({
    id: 1, quote: "Satz", start: 0, end: 4, state: "open", resolved: null, mine: false,
    replies: [], detached_revision: null, ...fields,
  });

  test("a passage lost locally counts as detached at once; hidden wins", () => {
    assert.equal(threadState(thread({})), "open");
    assert.equal(threadState(thread({}), { detached: true, at: null }), "detached");
    assert.equal(threadState(thread({ resolved: { at: "", by: "" }, state: "resolved" })), "resolved");
    assert.equal(threadState(thread({ state: "detached", start: null, end: null })), "detached");
    assert.equal(threadState(thread({ state: "hidden" }), { detached: true }), "hidden");
    assert.equal(isDetached(thread({ quote: null, start: null })), false, "a general comment has no passage to lose");
  });

  test("filters: open, resolved, mine (started or answered), without a passage", () => {
    const open = thread({ id: 1 });
    const done = thread({ id: 2, resolved: { at: "", by: "" }, state: "resolved" });
    const answered = thread({ id: 3, replies: [{ mine: true }] });
    const lost = thread({ id: 4, state: "detached", start: null, end: null });
    const all = [open, done, answered, lost];
    const ids = (filter) => all.filter((t) => matchesFilter(t, filter)).map((t) => t.id);
    assert.deepEqual(ids("open"), [1, 3, 4]);
    assert.deepEqual(ids("resolved"), [2]);
    assert.deepEqual(ids("mine"), [3]);
    assert.deepEqual(ids("detached"), [4]);
    assert.deepEqual(ids("all"), [1, 2, 3, 4]);
    assert.ok(matchesFilter(open, "detached", { detached: true }));
  });

  test("order: the whole declaration first, then by place in the text, lost ones last", () => {
    const threads = [
      thread({ id: 1 }), thread({ id: 2 }), thread({ id: 3, quote: null }), thread({ id: 4 }),
      thread({ id: 5 }),
    ];
    const positions = { 1: 30, 2: 10, 4: null, 5: 10 };
    const order = orderThreads(threads, (id) => positions[id]).map((t) => t.id);
    assert.deepEqual(order, [3, 2, 5, 1, 4]);
  });
});

describe("what the panel writes", () => {
  test("dates in German and English, Berlin time, summer and winter", () => {
    assert.equal(formatDateTime("2026-12-03T13:20:00+00:00", "de"), "3. Dezember 2026, 14:20 Uhr");
    assert.equal(formatDateTime("2026-07-01T08:05:00Z", "de"), "1. Juli 2026, 10:05 Uhr");
    assert.equal(formatDateTime("2026-12-03T13:20:00", "de"), "3. Dezember 2026, 14:20 Uhr", "no offset: UTC");
    assert.equal(formatDateTime("2026-12-03T13:20:00+00:00", "en"), "December 3, 2026, 2:20 PM");
    assert.equal(formatDateTime(null), "");
  });

  test("quotes are shortened at a word; characters are counted as the server does", () => {
    assert.equal(shorten("kurz"), "kurz");
    const long = "Wort ".repeat(60);
    const short = shorten(long, 40);
    assert.ok(short.endsWith("…") && [...short].length <= 40, short);
    assert.equal(charCount("😀ä"), 2);
    assert.equal(fill("seit Änderung Nr. {number}", { number: 12 }), "seit Änderung Nr. 12");
  });
});

describe("the sync client keeps what the comments need", () => {
  test("every revision, remote or its own, goes into the log; the page hears of each", async () => {
    const { SyncClient } = await import("../../static/src/editor/sync.js");
    const noop = () => {};
    const revisions = [];
    const client = new SyncClient({
      key: "k", text: "ab", revision: 1, url: "http://127.0.0.1:9/draft",
      socketOptions: { autoConnect: false }, storage: null,
      handlers: {
        state: noop, remote: noop, reset: noop, refused: noop, joined: noop, joinRefused: noop,
        peer: noop, peerLeft: noop, accessRevoked: noop, revision: (rev) => revisions.push(rev),
      },
    });
    const sent = [];
    client.socket.emit = (event, data, answer) => {
      sent.push([event, data, answer]);
      if (event === "join") answer({ ok: true, text: "ab", revision: 1 });
    };
    client.join();
    client.onRevisions({ revisions: [{ rev: 2, op: Operation.edit(2, 0, 0, "x").toDelta(), client_id: "o", seq: 1 }] });
    client.localEdit(Operation.edit(3, 3, 0, "!"));
    const [, batch, answer] = sent.find(([event]) => event === "edit");
    assert.equal(batch.base, 2);
    answer({ ok: true, rev: 3 });
    assert.deepEqual(revisions, [2, 3]);
    const steps = client.log.steps(1, 3);
    assert.equal(steps.length, 2);
    assert.equal(steps[1].op.apply(steps[0].op.apply("ab")), "xab!");
    // a passage read at revision 1 is carried to the client's text
    assert.deepEqual(carryRange(0, 2, steps), { range: [1, 3] });
  });
});
