// The browser's replica: a port of `ClientDocument` in declaration/domain/sync.py.
//
// States, as in ot.js: synchronised (nothing unconfirmed), awaiting confirmation (one batch
// in flight), awaiting with buffer (a batch in flight and local edits composed behind it).
// Local edits made while synchronised wait in the buffer until `takeBatch`.
//
// The invariant: text == pending(inflight(serverText)), where serverText is the text at
// `revision` and inflight is the batch in flight rebased to `revision`.
//
// All positions and lengths are code points (see positions.js for CodeMirror's offsets).

import {
  Operation,
  OperationError,
  codePointLength,
  compose,
  fromDelta,
  isPlain,
  transform,
} from "./operation.js";

/** A submission or message does not fit the document's history. */
export class SyncError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "SyncError";
  }
}

/** A message skips revisions: fetch the revisions since `since` (resync) and retry it. */
export class GapDetected extends SyncError {
  /**
   * @param {number} since the last revision applied here
   * @param {number} received the revision that arrived
   */
  constructor(since, received) {
    super(`expected revision ${since + 1}, received ${received}`);
    this.name = "GapDetected";
    this.since = since;
    this.received = received;
  }
}

/**
 * A batch as sent (and resent unchanged after a reconnect). Send it as
 * `{seq, base, op: operation.toDelta()}`.
 * @typedef {{readonly seq: number, readonly base: number, readonly operation: Operation}} Batch
 */

/**
 * What was dropped when the server refused a batch: `passages` are the texts the author
 * inserted that are now gone, to hand back; `discardedText` is the local text before the
 * reset.
 * @typedef {{
 *   readonly seq: number,
 *   readonly passages: string[],
 *   readonly discardedText: string,
 * }} Refusal
 */

/**
 * A server revision, either as `resync` sends it (`{rev, op, client_id, seq}` with a delta)
 * or in the domain's spelling (`{number, operation, clientId, seq}`).
 * @typedef {(
 *   {rev: number, op: string | Operation, client_id: string, seq: number}
 *   | {number: number, operation: string | Operation, clientId: string, seq: number}
 * )} RemoteRevision
 */

/**
 * The persisted form, see `ClientDocument#toJSON`.
 * @typedef {{
 *   format: 1,
 *   clientId: string,
 *   revision: number,
 *   serverText: string,
 *   nextSeq: number,
 *   sent: {seq: number, base: number, baseLength: number, operation: string} | null,
 *   inflight: string | null,
 *   pending: string | null,
 * }} ClientState
 */

/**
 * @param {number} seq
 * @param {number} base
 * @param {Operation} operation
 * @returns {Batch}
 */
const makeBatch = (seq, base, operation) => Object.freeze({ seq, base, operation });

export class ClientDocument {
  /**
   * `clientId` must be unique per replica: the server recognises resent batches by
   * `(clientId, seq)`. Keep it (with the state, see `toJSON`) for as long as a batch of it
   * may be unconfirmed.
   * @param {string} clientId
   * @param {string} text the server's text at `revision`
   * @param {number} revision
   * @param {{nextSeq?: number}} [options]
   */
  constructor(clientId, text, revision, { nextSeq = 1 } = {}) {
    if (!Number.isInteger(revision) || revision < 0) {
      throw new SyncError(`revision must not be negative, got ${revision}`);
    }
    /** @private */ this._clientId = clientId;
    /** @private */ this._revision = revision;
    /** @private */ this._serverText = text;
    /** @private */ this._text = text;
    /**
     * @private Neither text holds a surrogate: lengths and positions need no scan of the
     * text. Cleared for good by the first edit that inserts one (then every apply scans).
     */
    this._plain = isPlain(text);
    /** @private */ this._nextSeq = nextSeq;
    /** @private @type {Batch | null} the batch as sent */
    this._sent = null;
    /** @private @type {Operation | null} the batch in flight, rebased to `revision` */
    this._inflight = null;
    /** @private @type {Operation | null} local edits not sent yet */
    this._pending = null;
  }

  /**
   * @private
   * @param {string} text one of the two texts
   */
  _length(text) {
    return this._plain ? text.length : codePointLength(text);
  }

  /**
   * @private Called before an operation's inserts reach a text.
   * @param {Operation} op
   */
  _noteInserts(op) {
    if (this._plain && op.insertsSurrogates) this._plain = false;
  }

  /** The replica's identity towards the server. */
  get clientId() {
    return this._clientId;
  }

  /** The last server revision applied here. */
  get revision() {
    return this._revision;
  }

  /** The server's text at `revision`. */
  get serverText() {
    return this._serverText;
  }

  /** The local text, including unconfirmed edits. */
  get text() {
    return this._text;
  }

  /** The sequence number the next batch will carry. */
  get nextSeq() {
    return this._nextSeq;
  }

  /** The batch sent and not yet confirmed, as it was sent. @returns {Batch | null} */
  get inFlight() {
    return this._sent;
  }

  /** The batch in flight rebased to `revision` (an operation over `serverText`), or null. */
  get inflight() {
    return this._inflight;
  }

  /** Local edits not sent yet (over the text the batch in flight makes), or null. */
  get pending() {
    return this._pending;
  }

  /** Whether local edits wait for the next batch. */
  get hasUnsent() {
    return this._pending !== null;
  }

  /** Whether every local edit is confirmed by the server. */
  get isSynchronised() {
    return this._sent === null && this._pending === null;
  }

  /**
   * Apply an operation the user made to the local text and buffer it.
   * @param {Operation} op an operation over `text`
   */
  localEdit(op) {
    this._noteInserts(op);
    this._text = op.apply(this._text, { plain: this._plain });
    this._pending = this._pending === null ? op : compose(this._pending, op);
  }

  /**
   * Replace `deleteCount` code points at `position` locally and return the operation.
   * @param {number} position
   * @param {number} deleteCount
   * @param {string} insert
   * @returns {Operation}
   */
  edit(position, deleteCount, insert) {
    const op = Operation.edit(this._length(this._text), position, deleteCount, insert);
    this.localEdit(op);
    return op;
  }

  /**
   * Return the next batch to send, or null while one is in flight or nothing is new.
   * @returns {Batch | null}
   */
  takeBatch() {
    if (this._sent !== null || this._pending === null) return null;
    const pending = this._pending;
    this._pending = null;
    if (pending.isNoop) return null;
    this._sent = makeBatch(this._nextSeq, this._revision, pending);
    this._inflight = pending;
    this._nextSeq += 1;
    return this._sent;
  }

  /**
   * @private
   * @param {number} revision
   * @param {Operation} stored
   */
  _confirm(revision, stored) {
    // With nothing typed since the batch went out, the local text already is the
    // server's text after it: share it instead of applying the batch to a second copy.
    this._serverText =
      this._pending === null ? this._text : stored.apply(this._serverText, { plain: this._plain });
    this._revision = revision;
    this._sent = null;
    this._inflight = null;
  }

  /**
   * Confirm the batch in flight; return false for an ack that confirms nothing.
   *
   * `revision` is the new revision (the ack's `rev`), or the head the server rebased onto
   * when `unchanged` (outcome "unchanged"). Acks of batches already confirmed (through a
   * resend or through the history) are ignored. Throws `GapDetected` if revisions before it
   * are missing: fetch them, feed them to `catchUp`, then call `onAck` again.
   * @param {number} seq
   * @param {number} revision
   * @param {{unchanged?: boolean}} [options]
   * @returns {boolean}
   */
  onAck(seq, revision, { unchanged = false } = {}) {
    if (this._sent === null || this._sent.seq !== seq) return false;
    const inflight = /** @type {Operation} */ (this._inflight);
    if (unchanged) {
      // Rebasing the batch onto the server's head left nothing to do; our own rebased copy
      // agrees once we have applied the same revisions.
      if (revision > this._revision) throw new GapDetected(this._revision, revision);
      if (!inflight.isNoop) {
        throw new SyncError(`the server found batch ${seq} empty, but it changes the text`);
      }
      this._sent = null;
      this._inflight = null;
      return true;
    }
    if (revision <= this._revision) {
      throw new SyncError(
        `batch ${seq} acknowledged as revision ${revision}, already at ${this._revision}`,
      );
    }
    if (revision > this._revision + 1) throw new GapDetected(this._revision, revision);
    this._confirm(revision, inflight);
    return true;
  }

  /**
   * Take a server revision; return the operation to apply to the local view (over the
   * previous `text`; see `operationToChanges`).
   *
   * `op` may be an Operation or the delta string of an item of the `revisions` event; a delta is parsed
   * against the server text at `revision - 1`. Returns null for a revision already applied
   * and for our own batch, which counts as its acknowledgement. Throws `GapDetected` if
   * revisions before it are missing (resync from `e.since`).
   * @param {number} revision
   * @param {Operation | string} op
   * @param {string} clientId
   * @param {number} seq
   * @returns {Operation | null}
   */
  onRemote(revision, op, clientId, seq) {
    if (revision <= this._revision) return null;
    if (revision > this._revision + 1) throw new GapDetected(this._revision, revision);
    const serverLength = this._length(this._serverText);
    if (typeof op === "string") {
      try {
        op = fromDelta(op, serverLength);
      } catch (error) {
        if (!(error instanceof OperationError)) throw error;
        throw new SyncError(`revision ${revision} does not fit the text: ${error.message}`);
      }
    }
    if (op.baseLength !== serverLength) {
      throw new SyncError(
        `revision ${revision} expects a text of ${op.baseLength} characters, ` +
          `the text at revision ${this._revision} has ${serverLength}`,
      );
    }
    if (this._sent !== null && clientId === this._clientId && seq === this._sent.seq) {
      if (!op.equals(/** @type {Operation} */ (this._inflight))) {
        throw new SyncError(`revision ${revision} differs from our batch ${seq}`);
      }
      this._confirm(revision, op);
      return null;
    }
    this._noteInserts(op);
    this._serverText = op.apply(this._serverText, { plain: this._plain });
    this._revision = revision;
    if (this._inflight === null && this._pending === null) {
      // Nothing unconfirmed: the local text is the server's. Sharing it halves the work
      // per revision, which is a copy of the whole text (with 50 editors, 250 a second).
      this._text = this._serverText;
      return op;
    }
    if (this._inflight !== null) [op, this._inflight] = transform(op, this._inflight);
    if (this._pending !== null) [op, this._pending] = transform(op, this._pending);
    this._text = op.apply(this._text, { plain: this._plain });
    return op;
  }

  /**
   * Apply fetched revisions in order (the `revisions` of a `resync` answer); return their
   * combined effect on the local text, an operation over the previous `text`.
   * @param {Iterable<RemoteRevision>} revisions
   * @returns {Operation}
   */
  catchUp(revisions) {
    let combined = Operation.identity(codePointLength(this._text));
    for (const revision of revisions) {
      const local =
        "rev" in revision
          ? this.onRemote(revision.rev, revision.op, revision.client_id, revision.seq)
          : this.onRemote(revision.number, revision.operation, revision.clientId, revision.seq);
      if (local !== null) combined = compose(combined, local);
    }
    return combined;
  }

  /**
   * Return the batch in flight to send again, unchanged, after a reconnect (after `join`
   * and `resync`). The server recognises it by its sequence number, so resending is safe.
   * @returns {Batch | null}
   */
  onReconnect() {
    return this._sent;
  }

  /**
   * Drop the refused batch and everything typed after it; reset to the server text.
   *
   * Later edits build on the refused ones, so they cannot be kept on their own. Returns
   * null if `seq` is not the batch in flight (a stale or repeated refusal).
   * @param {number} seq
   * @returns {Refusal | null}
   */
  onRefused(seq) {
    if (this._sent === null || this._sent.seq !== seq) return null;
    let unconfirmed = /** @type {Operation} */ (this._inflight);
    if (this._pending !== null) unconfirmed = compose(unconfirmed, this._pending);
    const refusal = Object.freeze({
      seq,
      passages: unconfirmed.insertedTexts,
      discardedText: this._text,
    });
    this._text = this._serverText;
    this._sent = null;
    this._inflight = null;
    this._pending = null;
    return refusal;
  }

  /**
   * The full state as plain JSON, e.g. for localStorage, so that unsent and unconfirmed
   * edits survive a reload. The local text is not stored: it is recomputed from the server
   * text, the batch in flight and the buffer, which also checks that they fit together.
   * @returns {ClientState}
   */
  toJSON() {
    const sent = this._sent;
    return {
      format: 1,
      clientId: this._clientId,
      revision: this._revision,
      serverText: this._serverText,
      nextSeq: this._nextSeq,
      // As sent: the resend must be byte-identical, on the base it was made on. Parsing
      // its delta needs the length of that older text, hence `baseLength`.
      sent:
        sent === null
          ? null
          : {
              seq: sent.seq,
              base: sent.base,
              baseLength: sent.operation.baseLength,
              operation: sent.operation.toDelta(),
            },
      // The same batch rebased onto `revision` (over `serverText`).
      inflight: this._inflight === null ? null : this._inflight.toDelta(),
      // The buffer, over inflight's result (or `serverText` when nothing is in flight).
      pending: this._pending === null ? null : this._pending.toDelta(),
    };
  }

  /**
   * Restore a replica saved by `toJSON`. Then, after connecting: `join`, `resync` from
   * `revision` into `catchUp`, and resend `onReconnect()` (same seq), then `takeBatch()`.
   * Throws SyncError for a state that is malformed or does not fit together.
   * @param {ClientState} state
   * @returns {ClientDocument}
   */
  static fromJSON(state) {
    const fail = (/** @type {string} */ why) => {
      throw new SyncError(`cannot restore the client state: ${why}`);
    };
    if (!state || typeof state !== "object" || state.format !== 1) fail("unknown format");
    const { clientId, revision, serverText, nextSeq, sent, inflight, pending } = state;
    if (typeof clientId !== "string" || !clientId) fail("no client id");
    if (typeof serverText !== "string") fail("no server text");
    if (!Number.isInteger(revision) || revision < 0) fail("bad revision");
    if (!Number.isInteger(nextSeq) || nextSeq < 1) fail("bad next seq");
    if (sent !== null && (typeof sent !== "object" || typeof inflight !== "string")) {
      fail("malformed batch in flight");
    }
    if (sent === null && inflight !== null) fail("rebased batch without the batch as sent");
    const doc = new ClientDocument(clientId, serverText, revision, { nextSeq });
    try {
      let text = serverText;
      if (sent !== null) {
        const { seq, base, baseLength, operation } = sent;
        if (!Number.isInteger(seq) || seq < 1 || seq >= nextSeq) fail("bad batch seq");
        if (!Number.isInteger(base) || base < 0 || base > revision) fail("bad batch base");
        doc._sent = makeBatch(seq, base, fromDelta(operation, baseLength));
        doc._inflight = fromDelta(/** @type {string} */ (inflight), codePointLength(text));
        text = doc._inflight.apply(text);
      }
      if (pending !== null) {
        doc._pending = fromDelta(pending, codePointLength(text));
        text = doc._pending.apply(text);
      }
      doc._text = text;
      doc._plain = doc._plain && isPlain(text);
    } catch (error) {
      if (error instanceof OperationError) fail(error.message);
      throw error;
    }
    return doc;
  }
}
