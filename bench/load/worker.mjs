// The load generator's clients in Node.js: one event loop for many socket.io clients.
//
// Why Node: with the Python clients (python-socketio on threads) the load generator needed
// a whole core at 50 clients (12,500 received revisions a second) and its own queueing
// became part of the measured latency. Here each client is the browser's own code path:
// socket.io-client and the SyncClient of static/src/editor/sync.js.
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

import { createHash } from "node:crypto";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import { io } from "socket.io-client";
import WebSocket from "ws";
import * as syncProtocol from "y-protocols/sync";
import * as Y from "yjs";
import { SyncClient } from "../../static/src/editor/sync.js";
import { Operation, codePointLength } from "../../static/src/ot/operation.js";

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

// -- our server: the browser's own SyncClient (static/src/editor/sync.js) ----------------

export class OursClient {
  constructor(config, index, cookie) {
    this.index = index;
    report.resyncs[index] = 0;
    let joined;
    this.ready = new Promise((resolve, reject) => {
      joined = resolve;
      this.rejectReady = reject;
    });
    this.sync = new SyncClient({
      key: config.room,
      text: null, // the first join answer gives the text
      revision: 0,
      url: config.baseUrl + config.namespace,
      socketOptions: {
        transports: ["websocket"],
        forceNew: true, // one connection per client, as one browser each
        extraHeaders: { Cookie: cookie },
        reconnectionDelay: 50,
        reconnectionDelayMax: 1000,
      },
      storage: null,
      handlers: {
        state() {},
        remote: (op) => tokensIn(op.insertedTexts, index, now()),
        reset() {},
        refused: (code) => {
          report.refusals += 1;
          report.errors.push(`client ${index}: ${code}`);
        },
        joined: () => joined(),
        joinRefused: (error) => {
          report.errors.push(`client ${index}: join ${error.code}`);
          this.rejectReady(new Error(`join refused: ${error.code}`));
        },
        peer() {},
        peerLeft() {},
        accessRevoked: () => report.errors.push(`client ${index}: access_revoked`),
      },
    });
    this.sync.socket.on("connect_error", (error) => {
      if (!this.sync.doc) this.rejectReady(error);
    });
    // Count the requests for missed revisions (instrumentation, no change).
    const resync = this.sync.resync.bind(this.sync);
    this.sync.resync = () => {
      if (!this.sync.resyncing && this.sync.joined) report.resyncs[index] += 1;
      resync();
    };
  }

  get synchronised() {
    return this.sync.joined && !this.sync.resyncing && !this.sync.hasUnconfirmed;
  }

  /** Insert `marker` at `at` (code points; the sample has no surrogate pairs). */
  insert(at, marker) {
    const text = this.sync.text;
    this.sync.localEdit(Operation.edit(codePointLength(text), at, 0, marker));
  }

  edit(marker, random) {
    this.insert(position(this.sync.text, random), marker);
  }

  final() {
    const text = this.sync.text;
    const digest = createHash("sha256").update(text, "utf8").digest("hex");
    return [this.sync.revision, digest, [...text].length];
  }

  caughtUp(head) {
    return this.synchronised && this.sync.revision >= head;
  }

  close() { this.sync.socket.disconnect(); }
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
