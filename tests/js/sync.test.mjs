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
  client.onRevision({ rev: 1, op: Operation.edit(2, 0, 0, "x").toDelta(), client_id: "o", seq: 1 });
  client.onRevision({ rev: 2, op: Operation.edit(3, 3, 0, "!").toDelta(), client_id: "o", seq: 2 });
  assert.equal(client.text, "");

  client.join();

  assert.equal(client.text, "xab!");
  assert.equal(client.revision, 2);
  assert.deepEqual(applied, ["!"]);
  assert.deepEqual(sent, ["join"]); // no resync needed
  assert.equal(client.hasUnconfirmed, false);
});
