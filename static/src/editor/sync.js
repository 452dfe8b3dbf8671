// The browser half of the sync protocol (docs/protocol.md): one batch in flight, later
// keystrokes composed behind it, remote revisions transformed against both, gaps closed by
// asking for the missed revisions, resends after a reconnect with the original sequence
// number. Unconfirmed edits are kept in the tab's sessionStorage so that a reload (even
// offline) keeps them; they are deleted once the server has confirmed everything.

import { io } from "socket.io-client";
import { OperationError } from "../ot/operation.js";
import { ClientDocument, GapDetected } from "../ot/client.js";
import { RevisionLog } from "./anchors.js";

// Error codes after which a batch is dropped and handed back to its author.
const REFUSING = new Set([
  "phase_forbids_edit", "review_moderator_only", "text_frozen", "observer_cannot_edit",
  "not_a_member", "not_found", "text_too_long", "edit_too_large", "message_too_large",
  "invalid_operation", "not_authenticated", "seq_reused", "invalid_text",
]);

function randomId() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export class SyncClient {
  /**
   * @param {object} options
   * @param {string} options.key the declaration key
   * @param {string | null} options.text the text the page was rendered with, or null to
   *   start from the text of the first join answer (the load generator of bench/load)
   * @param {number} options.revision its revision
   * @param {object} options.handlers callbacks: remote(op), reset(text), state(name),
   *   refused(code, message, passages), joined(answer), peer(peer), peerLeft(peerId), phase(),
   *   and optionally commentsChanged(data), statusChanged(data) (the sign-off board changed)
 *   and revision(number) (the confirmed revision moved)
   * @param {string} [options.url] the namespace's address
   * @param {object} [options.socketOptions] added to socket.io-client's options
   * @param {Storage | null} [options.storage] where unconfirmed edits are kept (null: nowhere)
   */
  constructor({
    key, text, revision, handlers, url = "/draft", socketOptions = {},
    storage = globalThis.sessionStorage ?? null,
  }) {
    this.key = key;
    this.handlers = handlers;
    // Per tab (sessionStorage): survives reloads, and two tabs never share a replica.
    this.storage = storage;
    this.storageKey = `erklaerung:${key}:unbestaetigt`;
    this.connected = false;
    this.joined = false;
    this.resyncing = false;
    this.restored = false;
    this.doc = this.restore() || (text === null ? null : new ClientDocument(randomId(), text, revision));
    // Revisions broadcast before the first join answer, while there is no replica yet.
    this.early = [];
    // This connection's peer id in the declaration (from the join answer's `you`).
    this.me = null;
    // Revisions broadcast during a resync, applied after its answer.
    this.held = [];
    // The latest revisions' operations: comments read at an older revision are carried
    // through them to ours (editor/comments.js).
    this.log = new RevisionLog(500);
    this.reportedRevision = this.revision;
    this.socket = io(url, {
      transports: ["websocket", "polling"],
      reconnectionDelay: 250,
      reconnectionDelayMax: 3000,
      ...socketOptions,
    });
    this.socket.on("connect", () => this.onConnect());
    this.socket.on("disconnect", () => this.onDisconnect());
    this.socket.on("connect_error", () => this.onDisconnect());
    this.socket.on("revisions", (data) => this.onRevisions(data));
    // Arrivals and movements come together; the list may name this connection too.
    this.socket.on("peers", (data) => {
      for (const peer of data.peers || []) if (peer.peer !== this.me) handlers.peer(peer);
    });
    this.socket.on("presence_left", (data) => handlers.peerLeft(data.peer));
    this.socket.on("phase", () => this.join());
    this.socket.on("comments_changed", (data) => handlers.commentsChanged?.(data));
    this.socket.on("status_changed", (data) => handlers.statusChanged?.(data));
    this.socket.on("access_revoked", () => {
      // Removed or logged out elsewhere: stop for good instead of reconnecting.
      this.socket.disconnect();
      handlers.accessRevoked();
    });
  }

  get text() { return this.doc ? this.doc.text : ""; }
  get revision() { return this.doc ? this.doc.revision : -1; }
  get hasUnconfirmed() { return this.doc !== null && !this.doc.isSynchronised; }

  // -- persistence ----------------------------------------------------------------------

  restore() {
    if (!this.storage) return null;
    try {
      const raw = this.storage.getItem(this.storageKey);
      if (!raw) return null;
      const doc = ClientDocument.fromJSON(JSON.parse(raw));
      this.restored = !doc.isSynchronised;
      return doc;
    } catch (error) {
      console.warn("stored edits could not be read", error);
      return null;
    }
  }

  persist() {
    if (!this.storage || !this.doc) return;
    try {
      if (this.doc.isSynchronised) this.storage.removeItem(this.storageKey);
      else this.storage.setItem(this.storageKey, JSON.stringify(this.doc.toJSON()));
    } catch (error) {
      console.warn("edits could not be kept locally", error);
    }
  }

  // -- local edits ----------------------------------------------------------------------

  /** Take an exact operation the user made (code points, on the current local text). */
  localEdit(op) {
    this.doc.localEdit(op);
    this.persist();
    this.pump();
    this.reportState();
  }

  pump() {
    if (!this.joined || this.resyncing) return;
    const batch = this.doc.takeBatch();
    if (batch) this.send(batch);
    this.persist();
  }

  send(batch) {
    const payload = {
      declaration: this.key, client_id: this.doc.clientId, seq: batch.seq, base: batch.base,
      op: batch.operation.toDelta(),
    };
    this.socket.emit("edit", payload, (answer) => this.onEditAnswer(batch.seq, answer));
  }

  onEditAnswer(seq, answer) {
    if (answer && answer.ok) {
      const before = this.doc.revision;
      const batch = this.doc.inflight;
      try {
        this.doc.onAck(seq, answer.rev, { unchanged: answer.outcome === "unchanged" });
      } catch (error) {
        if (error instanceof GapDetected) { this.resync(); return; }
        throw error;
      }
      if (this.doc.revision === before + 1 && batch) this.log.add(this.doc.revision, batch);
      this.persist();
      this.pump();
      this.reportState();
      return;
    }
    const code = answer && answer.error ? answer.error.code : "unknown";
    const message = answer && answer.error ? answer.error.message : "";
    if (REFUSING.has(code)) {
      const refusal = this.doc.onRefused(seq);
      if (refusal) {
        // The server holds newer numbers of this replica than it knows of (a tab's stored
        // state that fell behind): go on as a new replica, now that nothing is unconfirmed.
        if (code === "seq_reused") {
          this.doc = new ClientDocument(randomId(), this.doc.serverText, this.doc.revision);
        }
        this.handlers.reset(this.doc.text);
        this.handlers.refused(code, message, refusal.passages);
      }
      this.persist();
      this.pump();
    } else if (code === "unknown_base") {
      this.resync();
    } else {
      // rate_limited, not_joined: the batch stays in flight and goes again shortly.
      setTimeout(() => this.resendInFlight(), 500);
    }
    this.reportState();
  }

  resendInFlight() {
    if (!this.joined || this.resyncing) return;
    const batch = this.doc.onReconnect();
    if (batch) this.send(batch);
  }

  // -- remote revisions -----------------------------------------------------------------

  /** New revisions broadcast by the server: consecutive, oldest first. */
  onRevisions(data) {
    const revisions = data.revisions || [];
    if (this.doc === null) { this.early.push(...revisions); return; }
    let applied = false;
    for (const [index, item] of revisions.entries()) {
      // Held until the resync's answer: it only reaches the head the server read then.
      if (this.resyncing) { this.held.push(...revisions.slice(index)); break; }
      if (item.rev <= this.doc.revision) continue;
      if (item.rev > this.doc.revision + 1) { this.resync(); break; }
      this.applyRemote(item);
      applied = true;
    }
    if (!applied) return;
    this.persist();
    this.pump();
    this.reportState();
  }

  applyRemote(data) {
    let local;
    const before = this.doc.revision;
    try {
      local = this.doc.onRemote(data.rev, data.op, data.client_id || "", data.seq == null ? -1 : data.seq);
    } catch (error) {
      if (error instanceof GapDetected || error instanceof OperationError) { this.resync(); return; }
      throw error;
    }
    if (this.doc.revision === before + 1) this.log.add(data.rev, data.op);
    if (local) this.handlers.remote(local, data.author, data.rev);
  }

  resync() {
    if (this.resyncing || !this.joined) return;
    this.resyncing = true;
    this.reportState();
    this.socket.emit("resync", { declaration: this.key, since: this.doc.revision }, (answer) => {
      this.resyncing = false;
      if (!answer || !answer.ok) { this.reportState(); return; }
      for (const item of answer.revisions) {
        if (item.rev === this.doc.revision + 1) this.applyRemote(item);
      }
      if (this.doc.revision < answer.head) { this.resync(); return; }
      this.persist();
      this.resendInFlight();
      const held = this.held;
      this.held = [];
      this.onRevisions({ revisions: held }); // known ones are skipped, a gap resyncs again
      this.pump();
      this.reportState();
    });
  }

  // -- connection -----------------------------------------------------------------------

  onConnect() {
    this.connected = true;
    this.join();
  }

  join() {
    this.socket.emit("join", { declaration: this.key }, (answer) => {
      if (!answer || !answer.ok) {
        this.joined = false;
        this.handlers.joinRefused(answer && answer.error ? answer.error : { code: "unknown", message: "" });
        this.reportState();
        return;
      }
      this.joined = true;
      this.me = answer.you ? answer.you.peer : null;
      if (this.doc === null) {
        this.doc = new ClientDocument(randomId(), answer.text, answer.revision);
        const early = this.early;
        this.early = [];
        this.onRevisions({ revisions: early }); // older ones are skipped
      }
      this.handlers.joined(answer);
      // Our replica may be behind (edits made while we were away) or hold unconfirmed
      // edits from before a reload or a lost connection: fetch, then resend.
      if (answer.revision > this.doc.revision) this.resync();
      else { this.resendInFlight(); this.pump(); }
      this.reportState();
    });
  }

  onDisconnect() {
    this.connected = false;
    this.joined = false;
    this.resyncing = false;
    this.reportState();
  }

  reportState() {
    if (this.revision !== this.reportedRevision) {
      this.reportedRevision = this.revision;
      this.handlers.revision?.(this.revision);
    }
    let state = "connected";
    if (!this.connected) state = "offline";
    else if (!this.joined || this.resyncing || this.hasUnconfirmed) state = "syncing";
    this.handlers.state(state);
  }

  /**
   * Send `event` with `payload` (the declaration added) and resolve with the answer. While
   * not joined, or without an answer in time, resolve with a refusal of code "offline".
   * @param {string} event
   * @param {object} payload
   * @param {number} [timeout] milliseconds
   * @returns {Promise<any>}
   */
  request(event, payload, timeout = 15000) {
    const offline = { ok: false, error: { code: "offline", message: "" } };
    if (!this.joined) return Promise.resolve(offline);
    return new Promise((resolve) => {
      this.socket.timeout(timeout).emit(event, { declaration: this.key, ...payload }, (error, answer) => {
        resolve(error || !answer ? offline : answer);
      });
    });
  }

  presence(cursor, selection) {
    if (!this.joined) return;
    this.socket.emit("presence", {
      declaration: this.key, revision: this.doc.revision, cursor,
      selection: selection || null,
    });
  }
}
