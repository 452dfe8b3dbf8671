// The load generator's clients in Node.js: one event loop for many socket.io clients.
//
// Why Node: with the Python clients (python-socketio on threads) the load generator needed
// a whole core at 50 clients (12,500 received revisions a second) and its own queueing
// became part of the measured latency. Here each client is the browser's own code path:
// socket.io-client and the ClientDocument of static/src/ot/client.js.
//
// Driven by bench/load/node.py over stdin/stdout, one JSON object per line:
//   in:  {"type": "start", "mode": "ours" | "relay" | "yjs", "baseUrl", "namespace", "room",
//         "clients": [{"index", "cookie"}], "seed"}
//   out: {"type": "ready", "pid"}
//   in:  {"type": "go", "due": [[when, index, n], ...], "deadline"}   (when: CLOCK_MONOTONIC s)
//   out: {"type": "edited", "sent"}
//   in:  {"type": "converge", "head"}        (ours: stored head revision; relay: edits relayed)
//   out: {"type": "report", ...}             (the fields of bench.realtime.WorkerReport)
//   in:  {"type": "close"}
// Times are CLOCK_MONOTONIC seconds (process.hrtime), the clock the Python side uses.

import { createHash, randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import { io } from "socket.io-client";
import WebSocket from "ws";
import * as syncProtocol from "y-protocols/sync";
import * as Y from "yjs";
import { ClientDocument, GapDetected, SyncError } from "../../static/src/ot/client.js";
import { OperationError } from "../../static/src/ot/operation.js";

const TOKEN = /\[c(\d+)-(\d+)\]/g;
const TOKEN_BASE = 1_000_000;
const MAX_LAG = 1.0;
const SYNC_TIMEOUT = 60;
const CONVERGE_TIMEOUT = 30;

export const now = () => Number(process.hrtime.bigint()) / 1e9;
export const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, Math.max(0, seconds * 1000)));

function send(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

// A small seeded generator (mulberry32): positions differ per client but repeat per seed.
function seeded(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random position that is not inside an earlier token (as bench.realtime._position). */
function position(text, random) {
  const pos = Math.floor(random() * (text.length + 1));
  const opening = text.lastIndexOf("[", pos - 1);
  if (opening >= 0 && opening > text.lastIndexOf("]", pos - 1)) return opening;
  return pos;
}

export const report = {
  pid: process.pid, sent: [], received: [], lags: [], skipped: 0, final: {}, refusals: 0,
  resyncs: {}, errors: [],
};

function tokensIn(passages, index, at) {
  for (const passage of passages) {
    for (const match of passage.matchAll(TOKEN)) {
      report.received.push([Number(match[1]) * TOKEN_BASE + Number(match[2]), index, at]);
    }
  }
}

function connect(config, cookie) {
  return io(config.baseUrl + config.namespace, {
    transports: ["websocket"],
    forceNew: true, // one connection per client, as one browser each
    extraHeaders: cookie ? { Cookie: cookie } : {},
    reconnectionDelay: 50,
    reconnectionDelayMax: 1000,
  });
}

function once(socket, event, data, timeout) {
  return new Promise((resolve, reject) => {
    socket.timeout(timeout * 1000).emit(event, data, (error, answer) => {
      if (error) reject(new Error(`${event}: no answer within ${timeout} s`));
      else resolve(answer);
    });
  });
}

// -- our server: the sync protocol of docs/protocol.md -------------------------------------

export class OursClient {
  constructor(config, index, cookie) {
    this.config = config;
    this.index = index;
    this.clientId = `load-${index}-${randomBytes(6).toString("hex")}`;
    this.doc = null;
    this.early = [];
    this.resyncing = false;
    this.joined = false;
    report.resyncs[index] = 0;
    this.socket = connect(config, cookie);
    this.socket.on("revision", (data) => this.onRevision(data));
    this.socket.on("connect", () => this.join());
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.socket.on("connect_error", (error) => { if (!this.doc) reject(error); });
    });
  }

  join() {
    this.socket.emit("join", { declaration: this.config.room }, (answer) => {
      if (!answer || !answer.ok) { report.errors.push(`client ${this.index}: join ${JSON.stringify(answer)}`); return; }
      this.joined = true;
      if (this.doc === null) {
        this.doc = new ClientDocument(this.clientId, answer.text, answer.revision);
        const early = this.early;
        this.early = [];
        for (const data of early) this.onRevision(data);
        this.resolveReady();
      } else {
        this.resync();
      }
    });
  }

  get synchronised() {
    return this.doc !== null && this.doc.isSynchronised && !this.resyncing;
  }

  edit(marker, random) {
    const text = this.doc.text;
    this.doc.edit(position(text, random), 0, marker);
    this.pump();
  }

  pump() {
    if (!this.joined || this.resyncing) return;
    const batch = this.doc.takeBatch();
    if (batch) this.sendBatch(batch);
  }

  sendBatch(batch) {
    const payload = {
      declaration: this.config.room, client_id: this.clientId, seq: batch.seq,
      base: batch.base, op: batch.operation.toDelta(),
    };
    this.socket.emit("edit", payload, (answer) => this.onAnswer(batch.seq, answer));
  }

  onAnswer(seq, answer) {
    if (answer && answer.ok) {
      try {
        this.doc.onAck(seq, answer.rev, { unchanged: answer.outcome === "unchanged" });
      } catch (error) {
        if (error instanceof GapDetected) { this.resync(); return; }
        throw error;
      }
      this.pump();
      return;
    }
    const code = answer && answer.error ? answer.error.code : "unknown";
    if (code === "unknown_base") { this.resync(); return; }
    if (code === "rate_limited" || code === "not_joined" || code === "storage_failed") {
      setTimeout(() => this.resend(), 200);
      return;
    }
    report.refusals += 1;
    report.errors.push(`client ${this.index}: ${code}`);
    this.doc.onRefused(seq);
    this.pump();
  }

  resend() {
    if (!this.joined || this.resyncing) return;
    const batch = this.doc.onReconnect();
    if (batch) this.sendBatch(batch);
  }

  onRevision(data) {
    if (this.doc === null) { this.early.push(data); return; }
    if (this.resyncing || data.rev <= this.doc.revision) return;
    if (data.rev > this.doc.revision + 1) { this.resync(); return; }
    this.apply(data, now());
    this.pump();
  }

  apply(data, at) {
    let local;
    try {
      local = this.doc.onRemote(data.rev, data.op, data.client_id || "", data.seq ?? -1);
    } catch (error) {
      if (error instanceof GapDetected || error instanceof OperationError || error instanceof SyncError) {
        this.resync();
        return false;
      }
      throw error;
    }
    if (local) tokensIn(local.insertedTexts, this.index, at);
    return true;
  }

  resync() {
    if (this.resyncing || !this.joined) return;
    this.resyncing = true;
    report.resyncs[this.index] += 1;
    this.socket.emit("resync", { declaration: this.config.room, since: this.doc.revision }, (answer) => {
      this.resyncing = false;
      if (!answer || !answer.ok) { report.errors.push(`client ${this.index}: resync refused`); return; }
      const at = now();
      for (const item of answer.revisions) {
        if (item.rev === this.doc.revision + 1 && !this.apply(item, at)) return;
      }
      if (this.doc.revision < answer.head) { this.resync(); return; }
      this.resend();
      this.pump();
    });
  }

  final() {
    const text = this.doc.text;
    const digest = createHash("sha256").update(text, "utf8").digest("hex");
    return [this.doc.revision, digest, [...text].length];
  }

  caughtUp(head) {
    return this.synchronised && this.doc.revision >= head;
  }

  close() { this.socket.disconnect(); }
}

// -- the bare relay (bench/baselines/relay.py): no document, tokens counted --------------

class RelayClient {
  constructor(config, index) {
    this.config = config;
    this.index = index;
    this.got = new Set();
    this.own = [];
    this.sentCount = 0;
    this.acked = 0;
    // The relay keeps no text: positions (in a text that grows like the others') only
    // make the payload look like ours.
    this.textLength = config.textLength;
    this.socket = connect(config, null);
    this.socket.on("revision", (data) => {
      const at = now();
      for (const match of String(data.op || "").matchAll(TOKEN)) {
        const ident = Number(match[1]) * TOKEN_BASE + Number(match[2]);
        report.received.push([ident, index, at]);
        this.got.add(ident);
      }
    });
    this.ready = new Promise((resolve, reject) => {
      this.socket.on("connect", () => {
        once(this.socket, "join", { room: config.room }, 30).then((answer) => {
          if (answer && answer.ok) resolve();
          else reject(new Error(`join refused: ${JSON.stringify(answer)}`));
        }, reject);
      });
      this.socket.on("connect_error", reject);
    });
  }

  get synchronised() { return this.acked >= this.sentCount; }

  edit(marker, random, n) {
    const pos = Math.floor(random() * (this.textLength + 1));
    const payload = {
      room: this.config.room, client_id: `relay-${this.index}`, seq: n,
      op: `=${pos}\t+${marker}\t=${this.textLength - pos}`,
    };
    this.sentCount += 1;
    this.own.push(this.index * TOKEN_BASE + n);
    this.socket.emit("edit", payload, (answer) => {
      if (answer && answer.ok) this.acked += 1;
      else report.errors.push(`client ${this.index}: edit answered ${JSON.stringify(answer)}`);
    });
    this.textLength += marker.length;
  }

  caughtUp(total) { return this.got.size >= total - this.sentCount; }

  final() {
    // "Text" of a relay client: the set of tokens it has seen (its own included), written
    // as Python's repr of the sorted list so that the coordinator compares like with like.
    const seen = [...new Set([...this.got, ...this.own])].sort((a, b) => a - b);
    const digest = createHash("sha256").update(`[${seen.join(", ")}]`).digest("hex");
    return [seen.length, digest, seen.length];
  }

  close() { this.socket.disconnect(); }
}

// -- pycrdt-websocket (bench/baselines/yjs.py): a Yjs document per client ----------------

const MESSAGE_SYNC = 0;

class YjsClient {
  constructor(config, index) {
    this.index = index;
    this.doc = new Y.Doc();
    this.text = this.doc.getText("text");
    this.got = new Set();
    this.sentCount = 0;
    this.socket = new WebSocket(`${config.baseUrl.replace(/^http/, "ws")}/${config.room}`, {
      perMessageDeflate: false,
    });
    this.socket.binaryType = "nodebuffer";
    // Only our own changes go out, as the browser's y-websocket provider does.
    this.doc.on("update", (update, origin) => {
      if (origin === this) return;
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, MESSAGE_SYNC);
      syncProtocol.writeUpdate(encoder, update);
      this.socket.send(encoding.toUint8Array(encoder));
    });
    this.ready = new Promise((resolve, reject) => {
      this.socket.on("open", () => {
        const encoder = encoding.createEncoder();
        encoding.writeVarUint(encoder, MESSAGE_SYNC);
        syncProtocol.writeSyncStep1(encoder, this.doc);
        this.socket.send(encoding.toUint8Array(encoder));
      });
      this.socket.on("error", reject);
      this.socket.on("message", (data) => {
        const at = now();
        const message = new Uint8Array(data);
        const decoder = decoding.createDecoder(message);
        if (decoding.readVarUint(decoder) !== MESSAGE_SYNC) return; // awareness: unused
        const encoder = encoding.createEncoder();
        encoding.writeVarUint(encoder, MESSAGE_SYNC);
        const kind = syncProtocol.readSyncMessage(decoder, encoder, this.doc, this);
        if (encoding.length(encoder) > 1) this.socket.send(encoding.toUint8Array(encoder));
        if (kind === syncProtocol.messageYjsSyncStep2) resolve();
        if (kind !== syncProtocol.messageYjsSyncStep1) {
          // Inserted text travels as UTF-8 strings in the update.
          for (const match of data.toString("latin1").matchAll(TOKEN)) {
            const ident = Number(match[1]) * TOKEN_BASE + Number(match[2]);
            if (Math.floor(ident / TOKEN_BASE) === index) continue; // our own, echoed
            report.received.push([ident, index, at]);
            this.got.add(ident);
          }
        }
      });
    });
  }

  get synchronised() { return this.socket.bufferedAmount === 0; }

  edit(marker, random) {
    const text = this.text.toString();
    this.sentCount += 1;
    this.text.insert(position(text, random), marker);
  }

  caughtUp(total) { return this.got.size >= total - this.sentCount; }

  final() {
    const text = this.text.toString();
    const tokens = new Set([...text.matchAll(TOKEN)].map((match) => match[0])).size;
    const digest = createHash("sha256").update(text, "utf8").digest("hex");
    return [tokens, digest, [...text].length];
  }

  close() { this.socket.close(); }
}

// -- the run ------------------------------------------------------------------------------

async function waitFor(ready, timeout) {
  const deadline = now() + timeout;
  while (!ready()) {
    if (now() > deadline) return false;
    await sleep(0.02);
  }
  return true;
}

async function run(lines) {
  const config = await lines.next();
  const clients = new Map();
  for (const { index, cookie } of config.clients) {
    const Client = { ours: OursClient, relay: RelayClient, yjs: YjsClient }[config.mode];
    clients.set(index, new Client(config, index, cookie));
  }
  await Promise.all([...clients.values()].map((client) => client.ready));
  send({ type: "ready", pid: process.pid });

  const go = await lines.next();
  const randoms = new Map([...clients.keys()].map((index) => [index, seeded(config.seed * 7919 + index)]));
  for (const [when, index, n] of go.due) {
    const current = now();
    if (current > go.deadline) { report.skipped += 1; continue; }
    if (when > current) await sleep(when - current);
    const lag = now() - when;
    if (lag > MAX_LAG) { report.skipped += 1; continue; }
    report.lags.push(lag);
    report.sent.push([index * TOKEN_BASE + n, now()]);
    clients.get(index).edit(`[c${index}-${n}]`, randoms.get(index), n);
  }
  if (!(await waitFor(() => [...clients.values()].every((c) => c.synchronised), SYNC_TIMEOUT))) {
    report.errors.push("not every edit was acknowledged in time");
  }
  send({ type: "edited", sent: report.sent.length });

  const converge = await lines.next();
  await waitFor(() => [...clients.values()].every((c) => c.caughtUp(converge.head)), CONVERGE_TIMEOUT);
  for (const [index, client] of clients) report.final[index] = client.final();
  send({ type: "report", ...report });
  await lines.next(); // close
  for (const client of clients.values()) client.close();
}

function lineReader() {
  const reader = createInterface({ input: process.stdin });
  const queue = [];
  const waiting = [];
  reader.on("line", (line) => {
    const message = JSON.parse(line);
    if (waiting.length) waiting.shift()(message);
    else queue.push(message);
  });
  reader.on("close", () => { while (waiting.length) waiting.shift()({ type: "close" }); });
  return {
    next: () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((resolve) => waiting.push(resolve))),
  };
}

// Run only as a script: bench/load/storm.mjs imports the clients from here.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run(lineReader()).then(
    () => process.exit(0),
    (error) => {
      send({ type: "error", message: String(error && error.stack ? error.stack : error) });
      process.exit(1);
    },
  );
}
