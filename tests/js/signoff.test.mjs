// The pure parts of the Zeichnung tab (static/src/editor/signoff.js): time left until the
// deadline, state labels, counts, what the task bar asks of whom. Run: node --test tests/js/

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  answerDetail,
  berlinToday,
  condense,
  countStates,
  daysUntil,
  formatDate,
  methodLabel,
  sendingLine,
  shortHash,
  stateLabel,
  taskFor,
  timeLeft,
} from "../../static/src/editor/signoff.js";

const strings = {
  deadlineNone: "keine Frist festgelegt",
  deadlinePassed: "Frist abgelaufen",
  deadlineToday: "Frist endet heute",
  dayLeft: "noch 1 Tag",
  daysLeft: "noch {count} Tage",
  state_valid: "gezeichnet",
  state_stale: "frühere Fassung gezeichnet",
  state_declined: "nicht mitgezeichnet",
  state_open: "offen",
  method_link: "Anmeldelink",
  method_password: "Passwort",
  method_passkey: "Passkey",
  signedDetail: "Änderung Nr. {revision}, {when}, per {method}",
  signedDetailNoMethod: "Änderung Nr. {revision}, {when}",
  declinedReason: "Begründung: {reason}",
};

const mayor = (state) => ({ role: "mayor", state });

describe("time left until the deadline", () => {
  test("counts whole days, the deadline day itself still counts", () => {
    assert.equal(daysUntil("2026-12-15", "2026-12-10"), 5);
    assert.equal(timeLeft("2026-12-15", "2026-12-10", strings).text, "noch 5 Tage");
    assert.equal(timeLeft("2026-12-15", "2026-12-14", strings).text, "noch 1 Tag");
    assert.equal(timeLeft("2026-12-15", "2026-12-15", strings).text, "Frist endet heute");
    assert.deepEqual(timeLeft("2026-12-15", "2026-12-16", strings), { kind: "passed", days: -1, text: "Frist abgelaufen" });
    assert.equal(timeLeft(null, "2026-12-16", strings).kind, "none");
  });

  test("across a change of daylight saving time and of the year", () => {
    assert.equal(daysUntil("2027-03-30", "2027-03-27"), 3);
    assert.equal(daysUntil("2027-01-02", "2026-12-31"), 2);
  });

  test("today is Berlin's today, also late in the UTC evening", () => {
    assert.equal(berlinToday(new Date("2026-12-04T23:30:00Z")), "2026-12-05");
    assert.equal(berlinToday(new Date("2026-07-04T21:59:00Z")), "2026-07-04");
    assert.equal(berlinToday(new Date("2026-07-04T22:00:00Z")), "2026-07-05");
  });

  test("the deadline is written as people write dates", () => {
    assert.equal(formatDate("2026-12-15", "de"), "15. Dezember 2026");
    assert.equal(formatDate("2026-12-15", "en"), "December 15, 2026");
  });
});

describe("states and counts", () => {
  test("each state has its words, an unknown one counts as open", () => {
    assert.equal(stateLabel("valid", strings), "gezeichnet");
    assert.equal(stateLabel("stale", strings), "frühere Fassung gezeichnet");
    assert.equal(stateLabel("declined", strings), "nicht mitgezeichnet");
    assert.equal(stateLabel("open", strings), "offen");
    assert.equal(stateLabel("strange", strings), "offen");
  });

  test("only mayors are counted", () => {
    const participants = [
      mayor("valid"), mayor("valid"), mayor("stale"), mayor("declined"), mayor("open"),
      { role: "moderator" }, { role: "observer" },
    ];
    assert.deepEqual(countStates(participants), { valid: 2, stale: 1, declined: 1, open: 1, total: 5 });
    assert.deepEqual(countStates([]), { valid: 0, stale: 0, declined: 0, open: 0, total: 0 });
  });

  test("how and when a mayor answered", () => {
    assert.equal(methodLabel("password", strings), "Passwort");
    assert.equal(methodLabel("session", strings), "");
    const signed = { answer: { kind: "signed", revision: 12, at: "2026-12-03T13:20:00+00:00", method: "link", reason: "" } };
    assert.equal(answerDetail(signed, strings, "de"), "Änderung Nr. 12, 3. Dezember 2026, 14:20 Uhr, per Anmeldelink");
    const declined = { answer: { kind: "declined", revision: 12, at: "2026-12-03T13:20:00+00:00", method: "session", reason: "Zu unkonkret." } };
    assert.equal(answerDetail(declined, strings, "de"), "Begründung: Zu unkonkret.");
    assert.equal(answerDetail({ answer: null }, strings, "de"), "");
  });

  test("the short hash is the server's: three groups of four", () => {
    assert.equal(shortHash("3f2a9c01b7e4" + "0".repeat(52)), "3f2a 9c01 b7e4");
  });
});

describe("the difference since a sign-off", () => {
  test("long unchanged stretches are shortened around the changes", () => {
    const long = "a".repeat(300);
    const shown = condense([
      { kind: "equal", text: long },
      { kind: "insert", text: "neu" },
      { kind: "equal", text: long },
      { kind: "delete", text: "alt" },
      { kind: "equal", text: long },
    ], 10);
    assert.deepEqual(shown.map((s) => s.kind), ["equal", "insert", "equal", "delete", "equal"]);
    assert.equal(shown[0].text, `… ${"a".repeat(10)}`);
    assert.equal(shown[2].text, `${"a".repeat(10)} … ${"a".repeat(10)}`);
    assert.equal(shown[4].text, `${"a".repeat(10)} …`);
  });

  test("the cut falls between words", () => {
    const words = "eins zwei drei vier fünf sechs sieben acht neun zehn elf zwölf";
    const shown = condense([
      { kind: "equal", text: words },
      { kind: "insert", text: "X" },
      { kind: "equal", text: words },
    ], 12);
    assert.equal(shown[0].text, "… elf zwölf");
    assert.equal(shown[2].text, "eins zwei …");
  });

  test("short stretches stay whole, and no change shows nothing", () => {
    assert.deepEqual(condense([{ kind: "equal", text: "ab" }, { kind: "insert", text: "c" }], 10),
      [{ kind: "equal", text: "ab" }, { kind: "insert", text: "c" }]);
    assert.deepEqual(condense([{ kind: "equal", text: "alles gleich" }]), []);
  });
});

describe("the task bar", () => {
  const board = (fields) => ({
    phase: "review", addressee: { id: 1 }, approvable: false, you: null,
    participants: [mayor("valid"), mayor("open")], ...fields,
  });

  test("a mayor is asked to sign, to look at the changes, or told to wait", () => {
    assert.deepEqual(taskFor(board({ you: mayor("open") }), "mayor"), { text: "task_mayor_sign", action: "sign" });
    assert.equal(taskFor(board({ you: mayor("stale") }), "mayor").action, "changes");
    assert.equal(taskFor(board({ you: mayor("valid") }), "mayor").text, "task_mayor_valid");
    assert.equal(taskFor(board({ you: mayor("declined") }), "mayor").text, "task_mayor_declined");
    assert.equal(taskFor(board({ you: mayor("open"), addressee: null }), "mayor").text, "task_mayor_addressee");
    assert.equal(taskFor(board({ phase: "drafting" }), "mayor").action, null);
    assert.equal(taskFor(board({ phase: "approved" }), "mayor").text, "task_done");
  });

  test("the moderation is led from the draft to the approval", () => {
    assert.equal(taskFor(board({ phase: "drafting" }), "moderator").action, "startReview");
    assert.equal(taskFor(board({ addressee: null }), "moderator").action, "addressee");
    assert.deepEqual(taskFor(board({}), "moderator"), { text: "task_mod_waiting", values: { signed: 1, total: 2 }, action: "show" });
    assert.equal(taskFor(board({ approvable: true }), "moderator").action, "approve");
    assert.equal(taskFor(board({ phase: "approved" }), "moderator").action, "publish");
    assert.equal(taskFor(board({ phase: "published" }), "moderator").action, null);
  });

  test("observers read along", () => {
    assert.deepEqual(taskFor(board({}), "observer"), { text: "task_observer", action: null });
  });
});

describe("the sendings to the addressee", () => {
  const words = {
    sentLine: "Versandt am {when} an {to}, {copies}",
    sentCopies: "Kopie an {count} Unterzeichnende",
    sentOneCopy: "Kopie an eine unterzeichnende Person",
    sentNoCopy: "ohne Kopie",
  };
  const sending = (copies) => ({ at: "2026-12-04T13:02:00+00:00", recipient: "landtag@lt.example", copies });

  test("names the time in Berlin, the addressee with its address and the copies", () => {
    assert.equal(
      sendingLine(sending(3), "Landtag von Sachsen-Anhalt", words),
      "Versandt am 4. Dezember 2026, 14:02 Uhr an Landtag von Sachsen-Anhalt (landtag@lt.example), Kopie an 3 Unterzeichnende",
    );
  });

  test("one copy and none are said in words", () => {
    assert.match(sendingLine(sending(1), "Landtag", words), /, Kopie an eine unterzeichnende Person$/);
    assert.match(sendingLine(sending(0), "", words), /an landtag@lt\.example, ohne Kopie$/);
  });
});
