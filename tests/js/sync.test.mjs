// SyncClient without a page text: the replica comes from the first join answer, and
// revisions broadcast before that answer are applied after it (bench/load uses this).

import assert from "node:assert/strict";
import { test } from "node:test";
import { SyncClient } from "../../static/src/editor/sync.js";
import { Operation } from "../../static/src/ot/operation.js";

function offlineClient(remote) {
  const noop = () => {};
  const client = new SyncClient({
    key: "k",
    text: null,
    revision: 0,
    url: "http://127.0.0.1:9/draft",
    socketOptions: { autoConnect: false },
    storage: null,
    handlers: {
      state: noop, remote, reset: noop, refused: noop, joined: noop, joinRefused: noop,
      peer: noop, peerLeft: noop, accessRevoked: noop,
    },
  });
  return client;
}

test("revisions that arrive before the join answer are applied after it", () => {
  const applied = [];
  const client = offlineClient((op) => applied.push(op.insertedTexts.join("")));
  const sent = [];
  client.socket.emit = (event, data, answer) => {
    sent.push(event);
    if (event === "join") answer({ ok: true, text: "xab", revision: 1 });
  };
  // revision 1 is already in the answer; revision 2 was committed after the server read it
  client.onRevisions({ revisions: [{ rev: 1, op: Operation.edit(2, 0, 0, "x").toDelta(), client_id: "o", seq: 1 }] });
  client.onRevisions({ revisions: [{ rev: 2, op: Operation.edit(3, 3, 0, "!").toDelta(), client_id: "o", seq: 2 }] });
  assert.equal(client.text, "");

  client.join();

  assert.equal(client.text, "xab!");
  assert.equal(client.revision, 2);
  assert.deepEqual(applied, ["!"]);
  assert.deepEqual(sent, ["join"]); // no resync needed
  assert.equal(client.hasUnconfirmed, false);
});

test("one message with several revisions applies them in order and resyncs once on a gap", () => {
  const applied = [];
  const client = offlineClient((op) => applied.push(op.insertedTexts.join("")));
  const sent = [];
  client.socket.emit = (event, data, answer) => {
    sent.push([event, data]);
    if (event === "join") answer({ ok: true, text: "ab", revision: 1 });
  };
  client.join();
  const revision = (rev, op) => ({ rev, op: op.toDelta(), client_id: "o", seq: rev });

  client.onRevisions({ revisions: [
    revision(1, Operation.edit(2, 0, 0, "x")), // already in the answer: skipped
    revision(2, Operation.edit(2, 2, 0, "!")),
    revision(3, Operation.edit(3, 0, 0, ">")),
  ] });
  assert.equal(client.text, ">ab!");
  assert.equal(client.revision, 3);
  assert.deepEqual(applied, ["!", ">"]);

  client.onRevisions({ revisions: [
    revision(5, Operation.edit(4, 0, 0, "?")), // revision 4 never arrived
    revision(6, Operation.edit(5, 0, 0, "?")),
  ] });
  assert.equal(client.revision, 3);
  assert.deepEqual(sent.map(([event]) => event), ["join", "resync"]);
  assert.deepEqual(sent[1][1], { declaration: "k", since: 3 });
});

test("a revision broadcast during a resync is applied after its answer", () => {
  const client = offlineClient(() => {});
  let resyncAnswer = null;
  client.socket.emit = (event, data, answer) => {
    if (event === "join") answer({ ok: true, text: "ab", revision: 1 });
    if (event === "resync") resyncAnswer = answer;
  };
  client.join();
  const revision = (rev, op) => ({ rev, op: op.toDelta(), client_id: "o", seq: rev });

  client.onRevisions({ revisions: [revision(3, Operation.edit(3, 0, 0, "3"))] }); // 2 missing
  client.onRevisions({ revisions: [revision(4, Operation.edit(4, 0, 0, "4"))] }); // during resync
  resyncAnswer({
    ok: true, head: 3,
    revisions: [revision(2, Operation.edit(2, 2, 0, "2")), revision(3, Operation.edit(3, 0, 0, "3"))],
  });

  assert.equal(client.text, "43ab2");
  assert.equal(client.revision, 4);
});

test("announced peers reach the page, except this connection itself", () => {
  const seen = [];
  const client = offlineClient(() => {});
  client.handlers.peer = (peer) => seen.push(peer.peer);
  client.socket.emit = (event, data, answer) => {
    if (event === "join") answer({ ok: true, text: "ab", revision: 0, you: { peer: "ich" }, present: [] });
  };
  client.join();
  const [announced] = client.socket.listeners("peers");
  announced({ declaration: "k", peers: [{ peer: "andrea", cursor: 1 }, { peer: "ich", cursor: 2 }, { peer: "thomas" }] });
  assert.deepEqual(seen, ["andrea", "thomas"]);
});

test("a batch refused as sent under a used number is handed back, and later ones go as a new replica", () => {
  const refused = [];
  const client = offlineClient(() => {});
  client.handlers.refused = (code, _message, passages) => refused.push([code, passages]);
  const edits = [];
  client.socket.emit = (event, data, answer) => {
    if (event === "join") answer({ ok: true, text: "ab", revision: 0 });
    if (event === "edit") edits.push([data, answer]);
  };
  client.join();
  const before = client.doc.clientId;

  client.localEdit(Operation.edit(2, 2, 0, "!"));
  const [[sent, answer]] = edits;
  answer({ ok: false, error: { code: "seq_reused", message: "…" }, seq: sent.seq });

  assert.deepEqual(refused, [["seq_reused", ["!"]]]);
  assert.equal(client.text, "ab");
  assert.equal(client.hasUnconfirmed, false);
  client.localEdit(Operation.edit(2, 0, 0, "?"));
  assert.equal(edits.length, 2);
  assert.notEqual(edits[1][0].client_id, before);
  assert.equal(edits[1][0].seq, 1);
  assert.equal(edits[1][0].base, 0);
});

test("a batch refused for control characters is handed back under the same replica", () => {
  const refused = [];
  const client = offlineClient(() => {});
  client.handlers.refused = (code, _message, passages) => refused.push([code, passages]);
  const edits = [];
  client.socket.emit = (event, data, answer) => {
    if (event === "join") answer({ ok: true, text: "ab", revision: 0 });
    if (event === "edit") edits.push([data, answer]);
  };
  client.join();

  client.localEdit(Operation.edit(2, 2, 0, "\u0000"));
  edits[0][1]({ ok: false, error: { code: "invalid_text", message: "…" }, seq: 1 });
  client.localEdit(Operation.edit(2, 2, 0, "!"));

  assert.deepEqual(refused, [["invalid_text", ["\u0000"]]]);
  assert.equal(edits[1][0].client_id, edits[0][0].client_id);
  assert.equal(edits[1][0].seq, 2);
});
