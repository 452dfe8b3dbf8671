// The Zeichnung tab: the addressee decision, every mayor's sign-off, the mayor's own
// answer, the moderation's phase steps and the approval (Freigabe), and the task bar that
// tells this person what to do now.
//
// The server owns the state: every answer of a workflow event is the whole status board
// (declaration/services/signoffs.py `board()`), and the room hears `status_changed`, after
// which the board is asked for again. The panel is drawn anew from the board each time;
// what people type lives in `fields` (so a refusal or a redraw loses nothing), which
// forms are open in `open`, and the focus is put back where it was.
//
// Server data reaches the page only as text nodes (`textContent`).

import { fill, formatDateTime } from "./threads.js";
import { passkeyInfo, passkeysSupported, signWithPasskey } from "./passkeys.js";

/** The states of a mayor, in the order the board counts them. */
export const STATES = ["valid", "stale", "declined", "open"];

// -- pure helpers (tests/js/signoff.test.mjs) -------------------------------------------

/**
 * Today in Berlin as "YYYY-MM-DD" (the server compares the deadline with its own today).
 * @param {Date} [now]
 */
export function berlinToday(now = new Date()) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-CA", {
      timeZone: "Europe/Berlin", year: "numeric", month: "2-digit", day: "2-digit",
    }).formatToParts(now).map((part) => [part.type, part.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day}`;
}

/**
 * Whole days from `today` to `deadline` (both "YYYY-MM-DD"); negative once it has passed.
 * @param {string} deadline
 * @param {string} today
 */
export function daysUntil(deadline, today) {
  const day = (iso) => {
    const [year, month, date] = iso.slice(0, 10).split("-").map(Number);
    return Date.UTC(year, month - 1, date) / 86400000;
  };
  return Math.round(day(deadline) - day(today));
}

/**
 * The time left until the deadline, in words: "noch 5 Tage", "noch 1 Tag", "Frist endet
 * heute", "Frist abgelaufen" (the deadline day itself still counts, as on the server).
 * @param {string | null} deadline
 * @param {string} today
 * @param {Record<string, string>} strings
 * @returns {{kind: "none" | "left" | "today" | "passed", days: number | null, text: string}}
 */
export function timeLeft(deadline, today, strings) {
  if (!deadline) return { kind: "none", days: null, text: strings.deadlineNone };
  const days = daysUntil(deadline, today);
  if (days < 0) return { kind: "passed", days, text: strings.deadlinePassed };
  if (days === 0) return { kind: "today", days, text: strings.deadlineToday };
  return { kind: "left", days, text: days === 1 ? strings.dayLeft : fill(strings.daysLeft, { count: days }) };
}

/**
 * How many mayors are in each state, and how many mayors there are.
 * @param {Array<{role: string, state?: string}>} participants
 */
export function countStates(participants) {
  const counts = { valid: 0, stale: 0, declined: 0, open: 0, total: 0 };
  for (const person of participants || []) {
    if (person.role !== "mayor") continue;
    counts.total += 1;
    counts[STATES.includes(person.state) ? person.state : "open"] += 1;
  }
  return counts;
}

/** "gezeichnet", "frühere Fassung gezeichnet", "nicht mitgezeichnet", "offen". */
export function stateLabel(state, strings) {
  return strings[`state_${STATES.includes(state) ? state : "open"}`];
}

/** How a sign-off was given: "Anmeldelink", "Passwort", "Passkey" (empty if unknown). */
export function methodLabel(method, strings) {
  return strings[`method_${method}`] || "";
}

/**
 * One line about a mayor's answer: "Änderung Nr. 12, 3. Dezember 2026, 14:20 Uhr, per
 * Anmeldelink" for a sign-off, the reason for a decline; empty without an answer.
 */
export function answerDetail(entry, strings, lang = "de") {
  const answer = entry && entry.answer;
  if (!answer) return "";
  if (answer.kind === "declined") return answer.reason ? fill(strings.declinedReason, { reason: answer.reason }) : "";
  const method = methodLabel(answer.method, strings);
  return fill(method ? strings.signedDetail : strings.signedDetailNoMethod, {
    revision: answer.revision, when: formatDateTime(answer.at, lang), method,
  });
}

/**
 * One line about a sending to the addressee: "Versandt am 4. Dezember 2026, 14:02 Uhr an
 * Landtag von Sachsen-Anhalt (landtag@…), Kopie an 3 Unterzeichnende".
 * @param {{at: string, recipient: string, copies: number}} sending
 * @param {string} addressee the recorded addressee's name
 */
export function sendingLine(sending, addressee, strings, lang = "de") {
  const to = addressee ? `${addressee} (${sending.recipient})` : sending.recipient;
  const copies = sending.copies === 0 ? strings.sentNoCopy
    : sending.copies === 1 ? strings.sentOneCopy : fill(strings.sentCopies, { count: sending.copies });
  return fill(strings.sentLine, { when: formatDateTime(sending.at, lang), to, copies });
}

/**
 * Shorten the unchanged stretches of a word-level difference to `context` characters
 * around the changes ("…" where text was left out), so a long declaration shows only
 * what changed. Segments are `{kind: "equal" | "insert" | "delete", text}`.
 */
export function condense(segments, context = 80) {
  const result = [];
  const last = segments.length - 1;
  segments.forEach((segment, index) => {
    if (segment.kind !== "equal") { result.push(segment); return; }
    const chars = [...segment.text];
    const first = index === 0;
    const end = index === last;
    if (first && end) return; // nothing changed at all
    const keepHead = first ? 0 : context;
    const keepTail = end ? 0 : context;
    if (chars.length <= keepHead + keepTail + 1) { result.push(segment); return; }
    // Cut at a space near the edge of the window rather than inside a word.
    let headEnd = keepHead;
    const space = chars.slice(0, keepHead + 1).lastIndexOf(" ");
    if (keepHead && space > keepHead / 2) headEnd = space;
    let tailStart = chars.length - keepTail;
    const next = chars.slice(tailStart - 1).indexOf(" ");
    if (keepTail && next >= 0 && next < keepTail / 2) tailStart += next;
    const head = chars.slice(0, headEnd).join("").trimEnd();
    const tail = chars.slice(tailStart).join("").trimStart();
    result.push({ kind: "equal", text: `${head}${keepHead ? " " : ""}…${keepTail ? " " : ""}${tail}` });
  });
  return result;
}

/**
 * What this person should do now: the task bar's sentence (a key of the strings), its
 * values, and its one action (null: no button).
 * @param {object} board the status board
 * @param {string} role "mayor", "moderator" or "observer"
 * @returns {{text: string, values?: object, action: string | null}}
 */
export function taskFor(board, role) {
  const phase = board.phase;
  if (phase === "published") return { text: "task_published", action: null };
  if (role === "observer") return { text: "task_observer", action: null };
  if (role === "moderator") {
    if (phase === "approved") return { text: "task_mod_approved", action: "publish" };
    if (phase === "drafting") return { text: "task_mod_drafting", action: "startReview" };
    if (!board.addressee) return { text: "task_mod_addressee", action: "addressee" };
    if (board.approvable) return { text: "task_mod_approvable", action: "approve" };
    const counts = countStates(board.participants);
    return { text: "task_mod_waiting", values: { signed: counts.valid, total: counts.total }, action: "show" };
  }
  if (phase === "approved") return { text: "task_done", action: null };
  if (phase === "drafting") return { text: "task_mayor_drafting", action: null };
  const state = board.you ? board.you.state : "open";
  if (state === "declined") return { text: "task_mayor_declined", action: "show" };
  if (!board.addressee) return { text: "task_mayor_addressee", action: "show" };
  if (state === "valid") return { text: "task_mayor_valid", action: "show" };
  if (state === "stale") return { text: "task_mayor_stale", action: "changes" };
  return { text: "task_mayor_sign", action: "sign" };
}

// -- the DOM ------------------------------------------------------------------------------

/** An element with `props` (className, text, attributes as attrs, listeners as on) and children. */
function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  const { className, text, attrs, on, ...rest } = props;
  if (className) element.className = className;
  if (text != null) element.textContent = text;
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value == null) continue;
    element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const [name, handler] of Object.entries(on || {})) element.addEventListener(name, handler);
  Object.assign(element, rest);
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    element.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return element;
}

/**
 * The accessible confirmation dialog: a modal <dialog> (the page behind it inert), Tab
 * kept inside, Escape and "Abbrechen" close it, the focus returns to where it came from.
 */
class ConfirmDialog {
  constructor(strings) {
    this.strings = strings;
    this.title = h("h2", { className: "modal__title", id: "signoff-dialog-title", attrs: { tabindex: "-1" } });
    this.body = h("div", { className: "modal__body", id: "signoff-dialog-body" });
    this.error = h("p", { className: "modal__error", attrs: { role: "alert" } });
    this.confirm = h("button", { type: "button", className: "button button--primary", on: { click: () => this.submit() } });
    this.cancel = h("button", { type: "button", className: "button", text: strings.cancel, on: { click: () => this.close() } });
    this.element = h("dialog", {
      className: "modal",
      attrs: { "aria-labelledby": "signoff-dialog-title", "aria-describedby": "signoff-dialog-body" },
    }, this.title, this.body, this.error, h("div", { className: "modal__actions" }, this.confirm, this.cancel));
    this.element.addEventListener("cancel", (event) => { event.preventDefault(); this.close(); });
    this.element.addEventListener("keydown", (event) => this.trap(event));
    document.body.append(this.element);
    this.options = null;
    this.busy = false;
  }

  get isOpen() { return this.element.open; }

  /**
   * @param {{title: string, confirmLabel: string, build: () => Node[], submit: () => Promise<string | null>, opener?: Element | null, kind: string}} options
   *   `build` draws the body (again on every board); `submit` resolves with a refusal's
   *   message, or null when done.
   */
  show(options) {
    this.options = options;
    this.opener = options.opener || (document.activeElement instanceof HTMLElement ? document.activeElement : null);
    this.title.textContent = options.title;
    this.confirm.textContent = options.confirmLabel;
    this.error.textContent = "";
    this.refresh();
    if (!this.element.open) this.element.showModal();
    this.title.focus();
  }

  refresh() {
    if (!this.options) return;
    this.body.replaceChildren(...this.options.build());
  }

  async submit() {
    if (this.busy || !this.options) return;
    this.busy = true;
    this.confirm.setAttribute("aria-disabled", "true");
    const refusal = await this.options.submit();
    this.busy = false;
    this.confirm.removeAttribute("aria-disabled");
    if (refusal) { this.error.textContent = refusal; return; }
    this.close({ done: true });
  }

  close({ done = false } = {}) {
    if (!this.element.open) return;
    const { after } = this.options || {};
    this.element.close();
    this.options = null;
    const target = (done && after && after()) || this.opener;
    if (target && target.isConnected) target.focus();
  }

  trap(event) {
    if (event.key !== "Tab") return;
    const focusable = [...this.element.querySelectorAll("button, a[href], input, textarea, [tabindex]")]
      .filter((element) => !element.disabled && element.getClientRects().length);
    if (!focusable.length) return;
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    if (event.shiftKey && (document.activeElement === first || !this.element.contains(document.activeElement))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  }
}

export class SignoffPanel {
  /**
   * @param {object} options
   * @param {HTMLElement} options.root where the tab's content goes
   * @param {HTMLElement | null} options.taskbar the task bar at the bottom
   * @param {object} options.sync the SyncClient (its `request`)
   * @param {Record<string, string>} options.strings
   * @param {string} options.lang
   * @param {string} options.role the viewer's role as the page knows it
   * @param {string} options.compareUrl the comparison page (…/vergleich)
   * @param {(options?: {openDrawer?: boolean}) => void} options.reveal show the tab
   * @param {(board: object) => void} [options.onBoard] told of every new board
   */
  constructor({ root, taskbar, sync, strings, lang, role, compareUrl, reveal, onBoard }) {
    this.root = root;
    this.taskbar = taskbar;
    this.sync = sync;
    this.s = strings;
    this.lang = lang;
    this.role = role;
    this.compareUrl = compareUrl;
    this.reveal = reveal;
    this.onBoard = onBoard || (() => {});
    this.board = null;
    this.failed = false;
    this.fields = new Map();
    this.open = new Set();
    this.errors = new Map();
    this.busy = new Set();
    this.diffs = new Map();
    this.asked = 0;
    this.applied = 0;
    this.refetchTimer = null;
    this.focusNext = null;
    this.dialog = new ConfirmDialog(strings);
    this.live = h("p", { className: "visually-hidden", attrs: { role: "status", "aria-live": "polite" } });
    this.content = h("div", { className: "signoff" });
    this.root.replaceChildren(this.live, this.content);
    this.content.append(h("p", { className: "muted", text: strings.signoffLoading }));
    this.setupTaskbar();
  }

  // -- the board ----------------------------------------------------------------------

  /** After every join (also after a phase change): ask for the board. */
  joined(answer) {
    if (answer && answer.role) this.role = answer.role;
    this.fetch();
  }

  /** `status_changed`: somebody acted. */
  changed() { this.fetch(); }

  /** The text moved on: in review a sign-off may have gone stale (or valid again). */
  advanced() {
    if (!this.board || this.board.phase !== "review") return;
    window.clearTimeout(this.refetchTimer);
    this.refetchTimer = window.setTimeout(() => this.fetch(), 600);
  }

  async fetch() {
    const ticket = ++this.asked;
    const answer = await this.sync.request("status", {});
    if (answer && answer.ok) this.apply(answer, ticket);
    else if (!this.board) { this.failed = true; this.render(); }
  }

  apply(answer, ticket) {
    if (ticket < this.applied) return; // an older answer overtaken by a newer one
    this.applied = ticket;
    const { ok: _ok, ...board } = answer;
    this.board = board;
    this.failed = false;
    this.render();
    this.dialog.refresh();
    this.onBoard(board);
  }

  /** A copy of the last board (for window.erklaerung.status). */
  snapshot() { return this.board ? JSON.parse(JSON.stringify(this.board)) : null; }

  /**
   * Send a workflow event; show a refusal next to the action (`slot`), keep what was typed.
   * Resolves with the refusal's message, or null when it was done.
   */
  async act(event, payload, slot, { done, announce } = {}) {
    if (this.busy.has(slot)) return null;
    this.busy.add(slot);
    this.errors.delete(slot);
    this.render();
    const ticket = ++this.asked;
    const answer = await this.sync.request(event, payload);
    this.busy.delete(slot);
    if (answer && answer.ok) {
      if (done) done();
      this.apply(answer, ticket);
      if (announce) this.live.textContent = announce;
      return null;
    }
    const message = (answer && answer.error && answer.error.message) || this.s.signoffOffline;
    this.errors.set(slot, message);
    this.render();
    // The refusal may come from a board that moved on (the text changed meanwhile, which
    // is not announced as a status change): show the current one.
    if (answer && answer.error && answer.error.code !== "offline") this.fetch();
    return message;
  }

  /**
   * Sign `contentHash`: with the person's passkey when they registered one (the server
   * then requires it, and keeps the assertion as proof), else on the login session.
   */
  async signContent(contentHash, slot, options) {
    const payload = { content_hash: contentHash };
    try {
      const info = passkeysSupported() ? await passkeyInfo() : null;
      if (info && info.credentials && info.credentials.length) {
        payload.assertion = await signWithPasskey(contentHash, info);
      }
    } catch (error) {
      const message = (error && error.message) || this.s.signoffOffline;
      this.errors.set(slot, message);
      this.render();
      return message;
    }
    return this.act("sign", payload, slot, options);
  }

  get frozen() { return !!this.board && (this.board.phase === "approved" || this.board.phase === "published"); }

  // -- drawing ------------------------------------------------------------------------

  render() {
    const active = document.activeElement;
    let focusKey = this.focusNext;
    let selection = null;
    if (!focusKey && active instanceof HTMLElement && this.content.contains(active)) {
      focusKey = active.dataset.key || null;
      if ("selectionStart" in active && typeof active.selectionStart === "number") {
        selection = [active.selectionStart, active.selectionEnd];
      }
    }
    this.focusNext = null;
    if (!this.board) {
      this.content.replaceChildren(h("p", { className: "muted", text: this.failed ? this.s.signoffFailed : this.s.signoffLoading }));
    } else {
      const b = this.board;
      const first = this.role === "moderator" ? this.moderation(b)
        : this.role === "mayor" ? this.mine(b) : this.approvedNote(b);
      // While drafting the addressee is the open question; from the vote on, who signed.
      const sections = b.phase === "drafting"
        ? [first, this.addressee(b), this.standings(b)]
        : [first, this.sending(b), this.standings(b), this.addressee(b)];
      this.content.replaceChildren(...sections.filter(Boolean));
    }
    if (focusKey) {
      const target = this.content.querySelector(`[data-key="${CSS.escape(focusKey)}"]`);
      if (target) {
        target.focus({ preventScroll: !this.focusScroll });
        if (selection && "setSelectionRange" in target) {
          try { target.setSelectionRange(selection[0], selection[1]); } catch { /* not a text field */ }
        }
      }
    }
    this.focusScroll = false;
    this.renderTask();
  }

  button(key, label, onClick, { primary = false, quiet = false, disabled = false, expanded = null, describedBy = null } = {}) {
    const busy = this.busy.has(key);
    return h("button", {
      type: "button",
      className: `button button--small${primary ? " button--primary" : ""}${quiet ? " button--quiet" : ""}`,
      text: label,
      disabled,
      attrs: {
        "data-key": key, "aria-disabled": busy ? "true" : null,
        "aria-expanded": expanded == null ? null : String(expanded),
        "aria-describedby": describedBy,
      },
      on: { click: (event) => { if (!this.busy.has(key)) onClick(event); } },
    });
  }

  field(key, label, { multiline = false, rows = 3, type = "text", autocomplete = "off", required = false, maxLength = 2000 } = {}) {
    const id = `signoff-field-${key}`;
    const input = multiline
      ? h("textarea", { id, rows, attrs: { "data-key": key, maxlength: maxLength } })
      : h("input", { id, type, attrs: { "data-key": key, autocomplete, maxlength: maxLength } });
    if (required) input.required = true;
    input.value = this.fields.get(key) || "";
    input.addEventListener("input", () => this.fields.set(key, input.value));
    return h("div", { className: "field signoff-field" }, h("label", { htmlFor: id, text: label }), input);
  }

  error(slot) {
    const message = this.errors.get(slot);
    return message ? h("p", { className: "signoff__error", text: message, attrs: { role: "alert" } }) : null;
  }

  toggle(formKey) {
    if (this.open.has(formKey)) this.open.delete(formKey);
    else this.open.add(formKey);
    this.render();
  }

  closeForm(formKey, fieldKeys, focusKey) {
    this.open.delete(formKey);
    for (const key of fieldKeys) this.fields.delete(key);
    this.errors.delete(formKey);
    if (focusKey) this.focusNext = focusKey;
  }

  section(key, title, ...children) {
    return h("section", { className: `signoff-section signoff-section--${key}`, attrs: { "aria-labelledby": `signoff-${key}-title` } },
      h("h3", { className: "signoff-section__title", id: `signoff-${key}-title`, text: title, attrs: { tabindex: "-1", "data-key": `${key}-title` } }),
      ...children);
  }

  addresseeName(board) {
    const a = board.addressee;
    return a ? [a.name, ...a.address.split("\n")].filter(Boolean).join(", ") : "";
  }

  approvedLine(board) {
    const approved = board.approved;
    if (!approved) return null;
    const hash = approved.content_hash === board.content_hash ? board.short_hash : shortHash(approved.content_hash);
    return h("div", { className: "signoff-approved" },
      h("p", { className: "signoff-approved__title", text: fill(this.s.approvedAs, { revision: approved.revision, hash }) }),
      approved.at ? h("p", { className: "muted", text: formatDateTime(approved.at, this.lang) }) : null);
  }

  approvedNote(board) {
    const line = this.approvedLine(board);
    return line ? this.section("approval", this.s.approvalTitle, line) : null;
  }

  // The mayor's own answer.
  mine(board) {
    const s = this.s;
    const you = board.you || { state: "open", answer: null };
    const parts = [];
    if (board.phase === "drafting") {
      parts.push(h("p", { text: s.waitReview }));
    } else if (this.frozen) {
      parts.push(this.approvedLine(board));
      parts.push(h("p", {}, `${s.yourAnswer} `, h("strong", { text: stateLabel(you.state, s) }),
        you.answer ? ` (${answerDetail(you, s, this.lang)})` : ""));
    } else {
      const addressed = !!board.addressee;
      if (you.state === "open") {
        parts.push(h("p", { text: s.youOpen }));
        if (!addressed) parts.push(h("p", { className: "signoff-notice", text: s.waitAddressee }));
      } else if (you.state === "valid") {
        parts.push(h("p", { className: "signoff-mine__state signoff-mine__state--valid", text: fill(s.youValid, { detail: answerDetail(you, s, this.lang) }) }));
      } else if (you.state === "declined") {
        parts.push(h("p", { className: "signoff-mine__state", text: s.youDeclined }));
        if (you.answer && you.answer.reason) parts.push(h("p", { className: "muted", text: fill(s.declinedReason, { reason: you.answer.reason }) }));
      } else if (you.state === "stale") {
        parts.push(this.stale(board, you));
      }
      const actions = [];
      if (addressed && (you.state === "open" || you.state === "declined")) {
        actions.push(this.button("sign", s.sign, (event) => this.openSign(event.currentTarget), { primary: true }));
      }
      if (you.state === "valid" || you.state === "stale") {
        actions.push(this.button("withdraw", s.withdraw, () => this.act("withdraw", {}, "withdraw", {
          done: () => { this.focusNext = "mine-title"; }, announce: s.withdrawn,
        })));
      }
      if (you.state === "declined") {
        actions.push(this.button("withdraw", s.withdrawDecline, () => this.act("withdraw", {}, "withdraw", {
          done: () => { this.focusNext = "mine-title"; }, announce: s.withdrawn,
        })));
      } else {
        actions.push(this.button("decline-toggle", s.decline, () => this.toggle("decline"), { quiet: true, expanded: this.open.has("decline") }));
      }
      parts.push(h("div", { className: "signoff-actions" }, actions));
      parts.push(this.error("sign"), this.error("withdraw"));
      if (this.open.has("decline") && you.state !== "declined") {
        parts.push(h("div", { className: "signoff-form" },
          this.field("decline-reason", s.declineReason, { multiline: true }),
          h("div", { className: "signoff-actions" },
            this.button("decline", s.declineSend, () => this.act("decline", { reason: this.fields.get("decline-reason") || "" }, "decline", {
              done: () => this.closeForm("decline", ["decline-reason"], "mine-title"), announce: s.declined,
            }), { primary: true }),
            this.button("decline-cancel", s.cancel, () => { this.open.delete("decline"); this.focusNext = "decline-toggle"; this.render(); })),
          this.error("decline")));
      }
    }
    return this.section("mine", s.yourTitle, ...parts);
  }

  // "Sie haben eine frühere Fassung gezeichnet": what changed, and signing again at once.
  stale(board, you) {
    const s = this.s;
    const from = you.answer.revision;
    const to = board.revision;
    const url = `${this.compareUrl}?von=${encodeURIComponent(from)}&bis=${encodeURIComponent(to)}`;
    const box = h("div", { className: "signoff-stale", attrs: { "data-key": "stale", tabindex: "-1" } },
      h("p", { className: "signoff-stale__title" }, h("strong", { text: s.youStale })),
      h("p", { text: fill(s.staleDetail, { signed: from, current: to, when: formatDateTime(you.answer.at, this.lang) }) }));
    if (from !== to) {
      box.append(this.difference(from, to));
    } else {
      box.append(h("p", { className: "muted", text: s.staleAddressee }));
    }
    box.append(
      h("p", {}, h("a", { href: url, text: s.showChanges, attrs: { "data-key": "changes-link" } })),
      h("p", { className: "signoff-stale__confirm", text: fill(s.confirmText, { addressee: this.addresseeName(board), hash: board.short_hash }) }),
      h("div", { className: "signoff-actions" },
        this.button("sign-again", s.signAgain, () => this.signContent(board.content_hash, "sign", {
          done: () => { this.focusNext = "mine-title"; }, announce: s.signed,
        }), { primary: true })),
    );
    return box;
  }

  difference(from, to) {
    const key = `${from}-${to}`;
    let entry = this.diffs.get(key);
    if (!entry) {
      entry = { state: "loading", segments: null };
      this.diffs.set(key, entry);
      const url = `${this.compareUrl}.json?von=${encodeURIComponent(from)}&bis=${encodeURIComponent(to)}`;
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then((response) => { if (!response.ok) throw new Error(String(response.status)); return response.json(); })
        .then((data) => {
          entry.state = "ready";
          entry.segments = condense(data.segments);
        })
        .catch((error) => { console.warn("difference unavailable", error); entry.state = "failed"; })
        .finally(() => { if (this.board) this.render(); });
    }
    if (entry.state === "loading") return h("p", { className: "muted", text: this.s.changesLoading });
    if (entry.state === "failed") return h("p", { className: "muted", text: this.s.changesFailed });
    return h("div", { className: "diff signoff-diff", attrs: { role: "group", "aria-label": this.s.changesLabel } },
      entry.segments.map((segment) => {
        if (segment.kind === "insert") return h("ins", {}, h("span", { className: "visually-hidden", text: `[${this.s.inserted} ` }), segment.text, h("span", { className: "visually-hidden", text: "]" }));
        if (segment.kind === "delete") return h("del", {}, h("span", { className: "visually-hidden", text: `[${this.s.deleted} ` }), segment.text, h("span", { className: "visually-hidden", text: "]" }));
        return document.createTextNode(segment.text);
      }));
  }

  openSign(opener) {
    const s = this.s;
    let shown = this.board.content_hash;
    let changed = false;
    this.dialog.show({
      title: s.confirmTitle,
      confirmLabel: s.confirmSign,
      opener,
      build: () => {
        const board = this.board;
        if (board.content_hash !== shown) { changed = true; shown = board.content_hash; }
        return [
          h("p", { className: "modal__statement", text: fill(s.confirmText, { addressee: this.addresseeName(board), hash: board.short_hash }) }),
          h("p", { className: "muted", text: fill(s.confirmRevision, { revision: board.revision }) }),
          changed ? h("p", { className: "signoff-notice", text: s.confirmChanged }) : null,
        ].filter(Boolean);
      },
      submit: () => this.signContent(shown, "sign", { announce: s.signed }),
      after: () => this.content.querySelector('[data-key="mine-title"]'),
    });
  }

  openApprove(opener) {
    const s = this.s;
    this.dialog.show({
      title: s.approveTitle,
      confirmLabel: s.approveConfirm,
      opener,
      build: () => {
        const board = this.board;
        const list = board.blockers.length
          ? h("ul", { className: "signoff-blockers" }, board.blockers.map((reason) => h("li", { text: reason })))
          : null;
        return [
          h("p", { className: "modal__statement", text: fill(s.approveText, { revision: board.revision, hash: board.short_hash, addressee: this.addresseeName(board) }) }),
          list,
        ].filter(Boolean);
      },
      submit: () => this.act("approve", {}, "approve", { announce: s.approvedDone }),
      after: () => this.content.querySelector('[data-key="approval-title"]'),
    });
  }

  // The moderation: phase steps and the approval.
  moderation(board) {
    const s = this.s;
    const parts = [];
    if (this.frozen) {
      parts.push(this.approvedLine(board));
      if (board.phase === "approved") {
        parts.push(h("div", { className: "signoff-actions" },
          this.button("publish", s.publish, () => this.act("set_phase", { phase: "published" }, "phase"))));
      }
    } else if (board.phase === "drafting") {
      parts.push(h("p", { text: s.moderationDrafting }));
      parts.push(h("div", { className: "signoff-actions" },
        this.button("start-review", s.startReview, () => this.act("set_phase", { phase: "review" }, "phase", { announce: s.reviewStarted }), { primary: true })));
    } else {
      const blocked = !board.approvable;
      parts.push(h("div", { className: "signoff-actions" },
        this.button("approve", s.approve, (event) => this.openApprove(event.currentTarget), {
          primary: true, disabled: blocked, describedBy: blocked ? "signoff-blockers" : null,
        }),
        this.button("back-to-draft", s.backToDraft, () => this.act("set_phase", { phase: "drafting" }, "phase"))));
      if (blocked) {
        parts.push(h("div", { className: "signoff-blocked", id: "signoff-blockers" },
          h("p", { className: "signoff-blocked__title", text: s.approveBlocked }),
          h("ul", { className: "signoff-blockers" }, board.blockers.map((reason) => h("li", { text: reason })))));
      }
    }
    parts.push(this.error("phase"), this.error("approve"));
    return this.section("approval", s.approvalTitle, ...parts);
  }

  // The sending of the signed version to the addressee: what went out, for everyone; the
  // moderation's button once approved (disabled, with the reason, when it cannot send).
  sending(board) {
    if (!this.frozen && !(board.sendings || []).length) return null;
    const s = this.s;
    const name = board.addressee ? board.addressee.name : "";
    const sendings = board.sendings || [];
    const parts = [sendings.length
      ? h("ul", { className: "signoff-sendings" }, sendings.map((sending) => h("li", {
        className: "signoff-sending", text: sendingLine(sending, name, s, this.lang),
      })))
      : h("p", { className: "muted", text: s.notSentYet })];
    if (this.role === "moderator" && this.frozen) {
      const blocked = board.send_blocker;
      parts.push(h("div", { className: "signoff-actions" },
        this.button("send", s.sendToAddressee, (event) => this.openSend(event.currentTarget), {
          primary: !sendings.length, disabled: !!blocked, describedBy: blocked ? "signoff-send-blocker" : null,
        })));
      if (blocked) parts.push(h("p", { className: "signoff-blocked", id: "signoff-send-blocker", text: blocked }));
      parts.push(this.error("send"));
    }
    return this.section("sending", s.sendingTitle, ...parts);
  }

  openSend(opener) {
    const s = this.s;
    this.dialog.show({
      title: s.sendTitle,
      confirmLabel: s.sendConfirm,
      opener,
      build: () => {
        const board = this.board;
        const a = board.addressee || { name: "", email: "" };
        const signed = countStates(board.participants).valid;
        const last = (board.sendings || []).slice(-1)[0];
        return [
          h("p", { className: "modal__statement", text: fill(s.sendText, { name: a.name, email: a.email, count: signed }) }),
          h("p", { className: "muted", text: s.sendCheck }),
          last ? h("p", { className: "signoff-notice", text: fill(s.sendAgain, { when: formatDateTime(last.at, this.lang) }) }) : null,
        ].filter(Boolean);
      },
      submit: () => this.act("send_to_addressee", {}, "send", { announce: s.sentDone }),
      after: () => this.content.querySelector('[data-key="sending-title"]'),
    });
  }

  // The addressee: the options, the preferences, the decision.
  addressee(board) {
    const s = this.s;
    const moderator = this.role === "moderator" && !this.frozen;
    const mayor = this.role === "mayor" && !this.frozen;
    const mine = board.you ? board.you.participant : null;
    const parts = [];
    if (board.addressee) {
      const a = board.addressee;
      parts.push(h("div", { className: "signoff-decided" },
        h("p", { className: "signoff-decided__title" }, h("span", { className: "badge badge--decided", text: s.addresseeDecided })),
        this.postal(a),
        a.rationale ? h("p", { text: fill(s.rationale, { text: a.rationale }) }) : null,
        a.decided_at ? h("p", { className: "muted", text: fill(s.decidedAt, { when: formatDateTime(a.decided_at, this.lang) }) }) : null));
    } else {
      parts.push(h("p", { className: "signoff-notice", text: s.addresseeNotYet }));
    }
    const options = board.addressee_options || [];
    if (!options.length) parts.push(h("p", { className: "muted", text: s.addresseeNone }));
    else {
      parts.push(h("h4", { className: "signoff-subtitle", text: s.optionsTitle }));
      parts.push(h("ul", { className: "signoff-options" }, options.map((option) => this.option(board, option, { moderator, mayor, mine }))));
    }
    if (moderator) {
      const open = this.open.has("add");
      parts.push(h("div", { className: "signoff-actions" },
        this.button("add-toggle", s.optionAdd, () => this.toggle("add"), { expanded: open })));
      if (open) parts.push(this.optionForm("add", null));
    }
    return this.section("addressee", s.addresseeTitle, ...parts);
  }

  postal(option) {
    return h("address", { className: "signoff-postal" },
      h("strong", { text: option.name }),
      option.address ? h("span", { className: "signoff-postal__address", text: option.address }) : null,
      option.email ? h("span", { className: "signoff-postal__email", text: option.email }) : null);
  }

  option(board, option, { moderator, mayor, mine }) {
    const s = this.s;
    const id = option.id;
    const recorded = board.addressee && board.addressee.id === id;
    const item = h("li", { className: `signoff-option${recorded ? " signoff-option--decided" : ""}`, attrs: { "data-option": id } });
    item.append(this.postal(option));
    if (recorded) item.append(h("p", {}, h("span", { className: "badge badge--decided", text: s.addresseeDecided })));
    const prefs = option.preferences || [];
    if (prefs.length) {
      item.append(h("p", { className: "signoff-subtitle", text: fill(s.preferencesCount, { count: prefs.length }) }));
      item.append(h("ul", { className: "signoff-preferences" }, prefs.map((p) => h("li", {},
        h("strong", { text: p.name }),
        p.municipality ? ` (${p.municipality})` : "",
        p.participant === mine ? h("span", { className: "badge", text: s.yourPreference }) : null,
        p.reason ? h("span", { className: "signoff-preferences__reason", text: p.reason }) : null))));
    }
    const actions = [];
    if (mayor) {
      actions.push(this.button(`prefer-toggle-${id}`, s.prefer, () => this.toggle(`prefer-${id}`), { expanded: this.open.has(`prefer-${id}`) }));
    }
    if (moderator) {
      if (!recorded) actions.push(this.button(`decide-toggle-${id}`, s.decide, () => this.toggle(`decide-${id}`), { expanded: this.open.has(`decide-${id}`) }));
      actions.push(this.button(`edit-toggle-${id}`, s.edit, () => {
        if (!this.open.has(`edit-${id}`)) {
          this.fields.set(`edit-${id}-name`, option.name);
          this.fields.set(`edit-${id}-address`, option.address);
          this.fields.set(`edit-${id}-email`, option.email);
        }
        this.toggle(`edit-${id}`);
      }, { expanded: this.open.has(`edit-${id}`) }));
      if (!recorded) {
        actions.push(this.button(`remove-${id}`, s.optionRemove, () => {
          if (window.confirm(fill(s.optionRemoveConfirm, { name: option.name }))) {
            this.act("remove_addressee_option", { option: id }, `option-${id}`, { done: () => { this.focusNext = "addressee-title"; } });
          }
        }, { quiet: true }));
      }
    }
    if (actions.length) item.append(h("div", { className: "signoff-actions" }, actions));
    if (mayor && this.open.has(`prefer-${id}`)) {
      const key = `prefer-${id}-reason`;
      item.append(h("div", { className: "signoff-form" },
        this.field(key, s.preferReason, { multiline: true }),
        h("div", { className: "signoff-actions" },
          this.button(`prefer-${id}`, s.preferSend, () => this.act("prefer", { option: id, reason: this.fields.get(key) || "" }, `prefer-${id}`, {
            done: () => this.closeForm(`prefer-${id}`, [key], `prefer-toggle-${id}`), announce: s.preferred,
          }), { primary: true }),
          this.button(`prefer-cancel-${id}`, s.cancel, () => { this.open.delete(`prefer-${id}`); this.focusNext = `prefer-toggle-${id}`; this.render(); })),
        this.error(`prefer-${id}`)));
    }
    if (moderator && this.open.has(`decide-${id}`)) {
      const key = `decide-${id}-rationale`;
      item.append(h("div", { className: "signoff-form" },
        this.field(key, s.decideRationale, { multiline: true }),
        h("div", { className: "signoff-actions" },
          this.button(`decide-${id}`, s.decideSend, () => this.act("decide_addressee", { option: id, rationale: this.fields.get(key) || "" }, `decide-${id}`, {
            done: () => this.closeForm(`decide-${id}`, [key], "addressee-title"), announce: s.addresseeDecided,
          }), { primary: true }),
          this.button(`decide-cancel-${id}`, s.cancel, () => { this.open.delete(`decide-${id}`); this.focusNext = `decide-toggle-${id}`; this.render(); })),
        this.error(`decide-${id}`)));
    }
    if (moderator && this.open.has(`edit-${id}`)) item.append(this.optionForm(`edit-${id}`, id));
    item.append(this.error(`option-${id}`) || "");
    return item;
  }

  optionForm(formKey, optionId) {
    const s = this.s;
    const keys = [`${formKey}-name`, `${formKey}-address`, `${formKey}-email`];
    const save = () => this.act("addressee_option", {
      ...(optionId == null ? {} : { option: optionId }),
      name: this.fields.get(keys[0]) || "",
      address: this.fields.get(keys[1]) || "",
      email: this.fields.get(keys[2]) || "",
    }, formKey, {
      done: () => this.closeForm(formKey, keys, optionId == null ? "add-toggle" : `edit-toggle-${optionId}`),
      announce: s.optionSaved,
    });
    return h("form", {
      className: "signoff-form",
      attrs: { "aria-label": optionId == null ? s.optionAdd : s.optionEdit, novalidate: true },
      on: { submit: (event) => { event.preventDefault(); save(); } },
    },
    this.field(keys[0], s.optionName, { required: true, maxLength: 300, autocomplete: "organization" }),
    this.field(keys[1], s.optionAddress, { multiline: true, rows: 3, maxLength: 1000 }),
    this.field(keys[2], s.optionEmail, { type: "email", maxLength: 320, autocomplete: "email" }),
    h("div", { className: "signoff-actions" },
      this.button(`${formKey}-save`, s.save, save, { primary: true }),
      this.button(`${formKey}-cancel`, s.cancel, () => {
        this.closeForm(formKey, keys, optionId == null ? "add-toggle" : `edit-toggle-${optionId}`);
        this.render();
      })),
    this.error(formKey));
  }

  // Every mayor's state, the counts and the time left.
  standings(board) {
    const s = this.s;
    const counts = countStates(board.participants);
    const left = timeLeft(board.deadline, berlinToday(), s);
    const deadline = board.deadline
      ? h("p", { className: `signoff-deadline signoff-deadline--${left.kind}` },
        `${fill(s.deadline, { date: formatDate(board.deadline, this.lang) })} · `, h("strong", { text: left.text }))
      : h("p", { className: "signoff-deadline muted", text: s.deadlineNone });
    const summary = h("p", { className: "signoff-summary", text: fill(s.countsSummary, { signed: counts.valid, total: counts.total }) });
    const chips = h("ul", { className: "signoff-counts", attrs: { "aria-label": s.countsLabel } },
      STATES.map((state) => h("li", { className: `signoff-count signoff-state--${state}` },
        h("strong", { text: String(counts[state]) }), ` ${stateLabel(state, s)}`)));
    const mayors = (board.participants || []).filter((p) => p.role === "mayor");
    const list = mayors.length
      ? h("ul", { className: "signoff-people" }, mayors.map((person) => h("li", { className: "signoff-person", attrs: { "data-participant": person.participant } },
        h("div", { className: "signoff-person__head" },
          h("span", { className: "signoff-person__name", text: person.name }),
          h("span", { className: `signoff-state signoff-state--${person.state}`, text: stateLabel(person.state, s) })),
        [person.office, person.municipality].filter(Boolean).length
          ? h("span", { className: "signoff-person__meta", text: [person.office, person.municipality].filter(Boolean).join(", ") })
          : null,
        answerDetail(person, s, this.lang) ? h("span", { className: "signoff-person__detail", text: answerDetail(person, s, this.lang) }) : null)))
      : h("p", { className: "muted", text: s.noMayors });
    return this.section("board", s.boardTitle, deadline, summary, chips, list);
  }

  // -- the task bar -------------------------------------------------------------------

  setupTaskbar() {
    if (!this.taskbar) return;
    this.fallback = [...this.taskbar.children];
    this.taskText = h("p", { className: "taskbar__text taskbar__live" });
    this.taskActions = h("div", { className: "taskbar__actions taskbar__live" });
    this.taskText.hidden = true;
    this.taskActions.hidden = true;
    this.taskbar.append(this.taskText, this.taskActions);
  }

  renderTask() {
    if (!this.taskbar || !this.board) return;
    const s = this.s;
    const task = taskFor(this.board, this.role);
    for (const element of this.fallback) element.hidden = true;
    this.taskText.hidden = false;
    this.taskText.replaceChildren(h("strong", { text: s.taskLabel }), ` ${fill(s[task.text], task.values || {})}`);
    const labels = {
      sign: s.sign, changes: s.showChanges, show: s.taskShow, addressee: s.taskAddressee,
      approve: s.approve, startReview: s.startReview, publish: s.publish,
    };
    const previous = this.taskActions.querySelector("button");
    const hadFocus = previous && document.activeElement === previous;
    if (!task.action) {
      this.taskActions.hidden = true;
      this.taskActions.replaceChildren();
      return;
    }
    const button = h("button", {
      type: "button", className: "button button--primary", text: labels[task.action],
      attrs: { "data-task": task.action },
      on: { click: (event) => this.runTask(task.action, event.currentTarget) },
    });
    this.taskActions.hidden = false;
    this.taskActions.replaceChildren(button);
    if (hadFocus) button.focus();
  }

  runTask(action, opener) {
    if (action === "startReview") { this.act("set_phase", { phase: "review" }, "phase", { announce: this.s.reviewStarted }); return; }
    if (action === "publish") { this.act("set_phase", { phase: "published" }, "phase"); return; }
    this.reveal();
    if (action === "sign") { this.openSign(opener); return; }
    if (action === "approve") { this.openApprove(opener); return; }
    const target = { changes: "stale", addressee: "addressee-title" }[action] || (this.role === "mayor" ? "mine-title" : "approval-title");
    const element = this.content.querySelector(`[data-key="${target}"]`);
    if (element) { element.focus(); element.scrollIntoView({ block: "nearest" }); }
  }
}

/** "3f2a 9c01 b7e4" from a full hash (as domain/content.py `short`). */
export function shortHash(hash) {
  return (hash || "").slice(0, 12).match(/.{1,4}/g)?.join(" ") || "";
}

/** "15. Dezember 2026" (or "December 15, 2026") for an ISO date. */
export function formatDate(iso, lang = "de") {
  if (!iso) return "";
  const [year, month, day] = iso.slice(0, 10).split("-").map(Number);
  const english = String(lang).toLowerCase().startsWith("en");
  return new Intl.DateTimeFormat(english ? "en-US" : "de-DE", {
    timeZone: "UTC", year: "numeric", month: "long", day: "numeric",
  }).format(new Date(Date.UTC(year, month - 1, day)));
}
