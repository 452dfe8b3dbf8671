// The reconnect storm's clients in Node.js (see bench/storm.py, --loadgen node).
//
// Reads one JSON object from stdin: {"baseUrl", "key", "cookies": [...], "fractions": [...],
// "at": CLOCK_MONOTONIC s, "timeout": s}. At `at` every client connects and joins at once;
// once joined, each inserts a marker at `fraction` of its text. Prints one JSON object:
// {"called", "joined": [s | null], "inSync": s | null, "finals": [[revision, sha256]],
//  "errors": [...], "resyncs"} with times on CLOCK_MONOTONIC.
// Python's threads needed a core for the handshakes of 50 clients; this loop needs little.

import { OursClient, now, report, sleep } from "./worker.mjs";

async function readConfig() {
  let raw = "";
  for await (const chunk of process.stdin) raw += chunk;
  return JSON.parse(raw);
}

async function main() {
  const config = await readConfig();
  const count = config.cookies.length;
  await sleep(config.at - now());
  const called = now();
  const joined = new Array(count).fill(null);
  const clients = config.cookies.map((cookie, index) => {
    const client = new OursClient({ baseUrl: config.baseUrl, namespace: "/draft", room: config.key }, index, cookie);
    client.ready.then(
      () => {
        joined[index] = now();
        client.insert(Math.floor(config.fractions[index] * client.sync.text.length), ` [s${index}] `);
      },
      (error) => report.errors.push(`client ${index}: ${error && error.message ? error.message : error}`),
    );
    return client;
  });
  const deadline = called + config.timeout;
  let inSync = null;
  while (now() < deadline) {
    // One revision per client: in sync when every client holds all of them, confirmed.
    if (clients.every((c) => c.caughtUp(count))) {
      inSync = now();
      break;
    }
    await sleep(0.001);
  }
  const finals = clients.map((c) => (c.sync.doc === null ? null : c.final().slice(0, 2)));
  const resyncs = Object.values(report.resyncs).reduce((a, b) => a + b, 0);
  process.stdout.write(`${JSON.stringify({ called, joined, inSync, finals, errors: report.errors, resyncs })}\n`);
  for (const client of clients) client.close();
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stdout.write(`${JSON.stringify({ fatal: String(error && error.stack ? error.stack : error) })}\n`);
    process.exit(1);
  },
);
