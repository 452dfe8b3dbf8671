// Comments: the highlighted passages in the editor and the threads in the rail.
//
// The server reports a thread's passage in code points of its text at some revision R.
// `CommentsPanel#place` carries those positions to the local text: through the revisions
// this client applied since R (the sync client keeps a log of them), then through its own
// unconfirmed edits; positions for a revision the client has not reached yet wait until it
// has. From then on the highlights live in `commentField`, which maps them through every
// transaction by the server's anchor rule (anchors.js), so they follow typing at once,
// local and remote alike; a passage that vanishes shows as "ohne Textstelle" at once.
//
// User text reaches the page only as text nodes (`textContent`); links are <a> elements
// made here for http(s) addresses, never markup taken from a comment.

import { Annotation, StateEffect, StateField } from "@codemirror/state";
import { Decoration, EditorView } from "@codemirror/view";
import { toCodePoints, toUtf16 } from "../ot/positions.js";
import { carryRange, mapPosition, mapRange, toServerRange, unconfirmedOperation } from "./anchors.js";
import {
  FILTERS,
  charCount,
  fill,
  formatDateTime,
  isDetached,
  linkParts,
  matchesFilter,
  onPassage,
  orderThreads,
  shorten,
  threadState,
} from "./threads.js";

/** The longest comment the server takes (domain/comments.py MAX_COMMENT_CHARS). */
export const MAX_COMMENT_CHARS = 5000;
/** The longest reason for hiding a comment (MAX_REASON_CHARS there). */
const MAX_REASON_CHARS = 1000;

/** On a remote transaction: the server revision it makes (for "seit Änderung Nr. N"). */
export const remoteRevision = Annotation.define();

const setAnchors = StateEffect.define(); // {anchors: [...], replace: boolean}
const setDraft = StateEffect.define(); // {from, to} | null
const setActive = StateEffect.define(); // id | null
const setFlash = StateEffect.define(); // id | null
const setShown = StateEffect.define(); // Set of ids whose passage is highlighted

/**
 * Per thread: `{from, to}` (UTF-16 offsets of the editor's text) or `{detached: true, at}`
 * (the revision that removed the passage, null if it was an unconfirmed local edit).
 * `lost` counts detachments made by mapping, so the panel knows when to look again.
 */
export const commentField = StateField.define({
  create: () => ({
    anchors: new Map(), draft: null, active: null, flash: null, shown: new Set(), lost: 0,
    decorations: Decoration.none,
  }),
  update(value, tr) {
    let { anchors, draft, active, flash, shown, lost } = value;
    let dirty = false;
    if (tr.docChanged) {
      const changes = [];
      tr.changes.iterChanges((fromA, toA, fromB, toB) => changes.push({ fromA, toA, fromB, toB }));
      const map = (pos, assoc) => mapPosition(changes, pos, assoc);
      const revision = tr.annotation(remoteRevision) ?? null;
      const next = new Map();
      for (const [id, anchor] of anchors) {
        if (anchor.detached) { next.set(id, anchor); continue; }
        const range = mapRange(map, anchor.from, anchor.to);
        if (range) next.set(id, { from: range[0], to: range[1] });
        else { next.set(id, { detached: true, at: revision }); lost += 1; }
      }
      anchors = next;
      if (draft) {
        const range = mapRange(map, draft.from, draft.to);
        draft = range ? { from: range[0], to: range[1] } : null;
      }
      dirty = true;
    }
    for (const effect of tr.effects) {
      if (effect.is(setAnchors)) {
        anchors = effect.value.replace ? new Map() : new Map(anchors);
        for (const anchor of effect.value.anchors) {
          if (anchor.remove) anchors.delete(anchor.id);
          else anchors.set(anchor.id, anchor.detached ? { detached: true, at: anchor.at } : { from: anchor.from, to: anchor.to });
        }
      } else if (effect.is(setDraft)) draft = effect.value;
      else if (effect.is(setActive)) active = effect.value;
      else if (effect.is(setFlash)) flash = effect.value;
      else if (effect.is(setShown)) shown = effect.value;
      else continue;
      dirty = true;
    }
    if (!dirty) return value;
    return { anchors, draft, active, flash, shown, lost, decorations: build(anchors, draft, active, flash, shown, tr.state.doc.length) };
  },
  provide: (field) => EditorView.decorations.from(field, (value) => value.decorations),
});

function build(anchors, draft, active, flash, shown, length) {
  const ranges = [];
  for (const [id, anchor] of anchors) {
    // Open threads are highlighted; another (resolved) only while it flashes.
    if (anchor.detached || (!shown.has(id) && id !== flash)) continue;
    const from = Math.min(anchor.from, length);
    const to = Math.min(anchor.to, length);
    if (to <= from) continue;
    let className = "comment-mark";
    if (id === active) className += " comment-mark--active";
    if (id === flash) className += " comment-mark--flash";
    ranges.push(Decoration.mark({ class: className, attributes: { "data-comment": String(id) } }).range(from, to));
  }
  if (draft && draft.to > draft.from) {
    ranges.push(Decoration.mark({ class: "comment-mark comment-mark--draft" }).range(draft.from, Math.min(draft.to, length)));
  }
  return Decoration.set(ranges, true);
}

/**
 * The editor's part: the field, a click on a highlight selecting its thread, and a look
 * after every change whether passages vanished.
 */
export function commentExtensions({ onHighlightClick, onUpdate }) {
  return [
    commentField,
    EditorView.updateListener.of((update) => {
      if (update.state.field(commentField).lost !== update.startState.field(commentField).lost) {
        queueMicrotask(onUpdate);
      }
    }),
    EditorView.domEventHandlers({
      click(event, view) {
        if (!(event.target instanceof Element) || !event.target.closest(".comment-mark[data-comment]")) return false;
        const pos = view.posAtCoords({ x: event.clientX, y: event.clientY });
        if (pos === null) return false;
        const { anchors, shown } = view.state.field(commentField);
        let best = null;
        for (const [id, anchor] of anchors) {
          if (anchor.detached || !shown.has(id)) continue;
          if (pos < anchor.from || pos > anchor.to) continue;
          if (!best || anchor.to - anchor.from < best.size) best = { id, size: anchor.to - anchor.from };
        }
        if (best) onHighlightClick(best.id);
        return false;
      },
    }),
  ];
}

// -- small DOM helpers (text only) --------------------------------------------------------

function el(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined && text !== null) element.textContent = text;
  return element;
}

function button(label, className, onClick, focusKey) {
  const element = el("button", `button ${className || ""}`.trim(), label);
  element.type = "button";
  if (focusKey) element.dataset.focus = focusKey;
  element.addEventListener("click", onClick);
  return element;
}

/** The body as text, with http(s) addresses as links. */
function bodyNodes(text) {
  return linkParts(text).map((part) => {
    if (!("href" in part)) return document.createTextNode(part.text);
    const link = el("a", null, part.text);
    link.href = part.href;
    link.rel = "noopener noreferrer";
    link.target = "_blank";
    return link;
  });
}

let uid = 0;
const nextId = (prefix) => `${prefix}-${++uid}`;

/**
 * A text box with a character counter, a send and a cancel button. Its text stays until
 * it was sent successfully: a refusal shows the server's message beside it.
 */
class Composer {
  constructor({ label, submit, onSubmit, onCancel, strings, lang, limit = MAX_COMMENT_CHARS }) {
    this.strings = strings;
    this.limit = limit;
    this.numbers = new Intl.NumberFormat(lang === "en" ? "en-US" : "de-DE");
    this.onSubmit = onSubmit;
    this.element = el("form", "composer");
    this.element.noValidate = true;
    const id = nextId("composer");
    const labelElement = el("label", "composer__label", label);
    labelElement.htmlFor = id;
    this.input = el("textarea");
    this.input.id = id;
    this.input.rows = 3;
    this.counter = el("p", "composer__counter");
    this.counter.id = `${id}-counter`;
    this.input.setAttribute("aria-describedby", this.counter.id);
    this.error = el("p", "composer__error");
    this.error.id = `${id}-error`;
    this.error.setAttribute("role", "alert");
    this.send = el("button", "button button--primary", submit);
    this.send.type = "submit";
    const actions = el("div", "composer__actions");
    actions.append(this.send);
    if (onCancel) actions.append(button(strings.cancel, "button--quiet", () => onCancel()));
    this.element.append(labelElement, this.input, this.counter, this.error, actions);
    this.input.addEventListener("input", () => this.count());
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); this.element.requestSubmit(); }
      if (event.key === "Escape" && onCancel) { event.preventDefault(); onCancel(); }
    });
    this.element.addEventListener("submit", (event) => { event.preventDefault(); this.submit(); });
    this.count();
  }

  count() {
    const n = charCount(this.input.value.trim());
    this.counter.textContent = fill(this.strings.counter, {
      count: this.numbers.format(n), limit: this.numbers.format(this.limit),
    });
    const over = n > this.limit;
    this.counter.classList.toggle("composer__counter--over", over);
    if (over) this.input.setAttribute("aria-invalid", "true");
    else this.input.removeAttribute("aria-invalid");
  }

  setError(message) {
    this.error.textContent = message || "";
  }

  set value(text) { this.input.value = text; this.count(); }
  get value() { return this.input.value; }

  async submit() {
    if (this.busy) return;
    this.busy = true;
    this.send.disabled = true;
    this.setError("");
    try {
      const answer = await this.onSubmit(this.input.value);
      if (answer && answer.ok) { this.value = ""; } else if (answer && answer.error) this.setError(answer.error.message);
    } finally {
      this.busy = false;
      this.send.disabled = false;
    }
  }

  focus() { this.input.focus(); }
}

/** The comments panel of the rail, driven by the sync client's connection. */
export class CommentsPanel {
  /**
   * @param {object} options
   * @param {HTMLElement} options.root where the panel is built
   * @param {EditorView} options.view
   * @param {import("./sync.js").SyncClient} options.sync
   * @param {Record<string, string>} options.strings
   * @param {string} options.lang
   * @param {() => void} options.reveal show the comments tab (and open the drawer)
   */
  constructor({ root, view, sync, strings, lang, reveal }) {
    this.root = root;
    this.view = view;
    this.sync = sync;
    this.strings = strings;
    this.lang = lang;
    this.reveal = reveal;
    /** @type {Map<number, any>} the threads as the server last described them */
    this.threads = new Map();
    this.items = new Map(); // id → the thread's DOM parts
    this.filter = "open";
    this.role = null;
    this.commentsOpen = false;
    this.loaded = false;
    this.active = null;
    this.received = 0; // numbers each answer, so that an older one never overwrites a newer
    this.placedBy = new Map(); // id → number of the answer its passage came from
    this.waiting = []; // answers for a revision this client has not reached yet
    this.wanted = new Set(); // threads to ask for again (comments_changed, lost passages)
    this.wantTimer = null;
    this.retryTimer = null;
    this.lost = 0;
    this.confirmWaiters = [];
    this.reading = new Set();
    this.build();
  }

  // -- layout ---------------------------------------------------------------------------

  build() {
    const s = this.strings;
    this.closedNote = el("p", "comments__closed", s.commentsClosed);
    this.closedNote.hidden = true;
    this.status = el("p", "comments__status");
    this.status.setAttribute("role", "status");

    this.newBox = el("section", "comment-new");
    this.newBox.hidden = true;
    const newTitle = el("h3", "comment-new__title", s.newComment);
    newTitle.id = nextId("comment-new");
    this.newBox.setAttribute("aria-labelledby", newTitle.id);
    this.newQuote = el("p", "comment-new__quote");
    this.newComposer = new Composer({
      label: s.yourComment, submit: s.send, strings: s, lang: this.lang,
      onSubmit: (body) => this.sendPassageComment(body),
      onCancel: () => this.cancelNew(),
    });
    this.newBox.append(newTitle, this.newQuote, this.newComposer.element);

    this.generalToggle = button(s.generalComment, "comments__general-toggle", () => this.toggleGeneral());
    this.generalToggle.setAttribute("aria-expanded", "false");
    this.generalComposer = new Composer({
      label: s.yourComment, submit: s.send, strings: s, lang: this.lang,
      onSubmit: (body) => this.sendGeneralComment(body),
      onCancel: () => this.toggleGeneral(false),
    });
    this.generalComposer.element.hidden = true;
    this.generalComposer.element.id = nextId("general");
    this.generalToggle.setAttribute("aria-controls", this.generalComposer.element.id);

    this.filters = el("div", "comment-filters");
    this.filters.setAttribute("role", "group");
    this.filters.setAttribute("aria-label", s.filterLabel);
    this.filterButtons = new Map();
    for (const name of FILTERS) {
      const filterButton = button(fill(s[`filter_${name}`], { count: 0 }), "comment-filters__button", () => this.setFilter(name));
      filterButton.setAttribute("aria-pressed", String(name === this.filter));
      this.filterButtons.set(name, filterButton);
      this.filters.append(filterButton);
    }
    this.empty = el("p", "comments__empty muted");
    this.list = el("ol", "threads");
    this.list.setAttribute("aria-label", s.threadsLabel);
    this.root.replaceChildren(
      this.closedNote, this.newBox, this.generalToggle, this.generalComposer.element, this.status,
      this.filters, this.empty, this.list,
    );
    this.render();
  }

  setFilter(name) {
    this.filter = name;
    for (const [other, filterButton] of this.filterButtons) filterButton.setAttribute("aria-pressed", String(other === name));
    this.render();
  }

  toggleGeneral(open = this.generalComposer.element.hidden) {
    this.generalComposer.element.hidden = !open;
    this.generalToggle.setAttribute("aria-expanded", String(open));
    if (open) this.generalComposer.focus();
    else this.generalToggle.focus();
  }

  // -- the connection -------------------------------------------------------------------

  /** After every join answer (reconnects too): who we are, the phase, all threads. */
  joined(answer) {
    this.role = answer.role;
    this.setOpen(answer.may_comment);
    this.fetchAll();
  }

  /** Comments are written while the server says so (drafting and review); then read only. */
  setOpen(open) {
    this.commentsOpen = Boolean(open);
    this.closedNote.hidden = this.commentsOpen;
    if (!this.commentsOpen) {
      this.newBox.hidden = true;
      this.generalComposer.element.hidden = true;
      this.view.dispatch({ effects: setDraft.of(null) });
    }
    this.generalToggle.hidden = !this.commentsOpen;
    for (const id of this.threads.keys()) this.renderThread(id);
  }

  async fetchAll() {
    clearTimeout(this.retryTimer);
    const answer = await this.sync.request("comments", {});
    if (answer.ok) { this.receive(answer.revision, answer.comments, { replace: true }); return; }
    if (!this.loaded) { this.status.textContent = this.strings.commentsFailed; }
    // Offline: the next join asks again. Too fast or a hiccup: try again shortly.
    if (answer.error.code !== "offline" || this.sync.joined) {
      this.retryTimer = setTimeout(() => this.fetchAll(), 1500);
    }
  }

  /** `comments_changed`: ask for the threads named (a few at once). */
  changed(data) {
    for (const id of data.ids || []) this.wanted.add(id);
    this.askSoon();
  }

  askSoon(delay = 60) {
    if (this.wantTimer !== null || !this.wanted.size) return;
    this.wantTimer = setTimeout(async () => {
      this.wantTimer = null;
      const ids = [...this.wanted].slice(0, 500);
      for (const id of ids) this.wanted.delete(id);
      const answer = await this.sync.request("comments", { ids });
      if (answer.ok) this.receive(answer.revision, answer.comments, { replace: false });
      else if (answer.error.code === "offline") return; // the join after reconnecting asks for all
      else { for (const id of ids) this.wanted.add(id); this.askSoon(1000); }
      this.askSoon();
    }, delay);
  }

  /** A revision was confirmed or applied: place what waited for it. */
  advanced() {
    const revision = this.sync.revision;
    const ready = this.waiting.filter((entry) => entry.revision <= revision);
    this.waiting = this.waiting.filter((entry) => entry.revision > revision);
    for (const entry of ready) this.place(entry);
    if (!this.sync.hasUnconfirmed) {
      for (const resolve of this.confirmWaiters.splice(0)) resolve();
    }
    // Passages lost by local edits: once confirmed, the server can say at which revision.
    if (this.sync.hasUnconfirmed || !this.lostUnknown?.size) return;
    for (const id of this.lostUnknown) this.wanted.add(id);
    this.lostUnknown.clear();
    this.askSoon(300);
  }

  /** The text was reset after a refused edit: the passages are where the server has them. */
  reset() {
    this.fetchAll();
  }

  /** Take threads the server described at `revision`. */
  receive(revision, threads, { replace }) {
    this.loaded = true;
    this.status.textContent = "";
    const number = ++this.received;
    if (replace) {
      const ids = new Set(threads.map((thread) => thread.id));
      for (const id of [...this.threads.keys()]) {
        if (!ids.has(id)) { this.threads.delete(id); this.removeItem(id); }
      }
    }
    for (const thread of threads) this.threads.set(thread.id, thread);
    const entry = { number, revision, threads, replace };
    if (revision > this.sync.revision) this.waiting.push(entry);
    else this.place(entry);
    this.render();
  }

  /** Carry the passages of `entry` to the local text and hand them to the editor. */
  place(entry) {
    const sync = this.sync;
    const steps = sync.log.steps(entry.revision, sync.revision);
    if (steps === null) {
      // The log does not reach back that far: ask again, for the head we now know.
      for (const thread of entry.threads) this.wanted.add(thread.id);
      this.askSoon(200);
      return;
    }
    const doc = sync.doc;
    const unconfirmed = unconfirmedOperation(doc.inflight, doc.pending);
    if (unconfirmed) steps.push({ rev: null, op: unconfirmed });
    const text = this.view.state.doc.toString();
    const anchors = [];
    for (const thread of entry.threads) {
      if ((this.placedBy.get(thread.id) || 0) > entry.number) continue;
      this.placedBy.set(thread.id, entry.number);
      if (!onPassage(thread)) { anchors.push({ id: thread.id, remove: true }); continue; }
      if (thread.start === null || thread.end === null) {
        anchors.push({ id: thread.id, detached: true, at: thread.detached_revision });
        continue;
      }
      const carried = carryRange(thread.start, thread.end, steps);
      if ("range" in carried) {
        anchors.push({ id: thread.id, from: toUtf16(text, carried.range[0]), to: toUtf16(text, carried.range[1]) });
      } else {
        anchors.push({ id: thread.id, detached: true, at: carried.at });
      }
    }
    this.view.dispatch({ effects: [setAnchors.of({ anchors, replace: false }), setShown.of(this.shownIds())] });
    this.render();
  }

  /** The editor changed: passages may have vanished. */
  editorUpdated() {
    const field = this.view.state.field(commentField);
    if (field.lost === this.lost) return;
    this.lost = field.lost;
    this.lostUnknown ??= new Set();
    for (const [id, anchor] of field.anchors) {
      const thread = this.threads.get(id);
      if (anchor.detached && anchor.at === null && thread && thread.detached_revision == null) this.lostUnknown.add(id);
    }
    this.render();
  }

  /** Threads whose passage is highlighted: open, attached, not hidden. */
  shownIds() {
    const ids = new Set();
    for (const thread of this.threads.values()) {
      if (onPassage(thread) && thread.state === "open") ids.add(thread.id);
    }
    return ids;
  }

  // -- new comments ---------------------------------------------------------------------

  /** "Kommentieren": a new comment on the selected passage. */
  startNew() {
    if (!this.commentsOpen) return;
    this.reveal({ openDrawer: true });
    const { from, to } = this.view.state.selection.main;
    if (from === to) {
      this.status.textContent = this.strings.selectFirst;
      return;
    }
    this.status.textContent = "";
    this.view.dispatch({ effects: setDraft.of({ from, to }) });
    this.newQuote.replaceChildren(el("q", null, shorten(this.view.state.sliceDoc(from, to))));
    this.newComposer.setError("");
    this.newBox.hidden = false;
    this.newComposer.focus();
  }

  cancelNew() {
    this.newBox.hidden = true;
    this.view.dispatch({ effects: setDraft.of(null) });
    this.view.focus();
  }

  /** The draft's passage in the server's text at the confirmed revision, or null. */
  draftPassage() {
    const { draft } = this.view.state.field(commentField);
    if (!draft) return null;
    const text = this.view.state.doc.toString();
    const doc = this.sync.doc;
    const range = toServerRange(
      toCodePoints(text, draft.from), toCodePoints(text, draft.to),
      unconfirmedOperation(doc.inflight, doc.pending), doc.serverText,
    );
    return range && { revision: this.sync.revision, start: range[0], end: range[1] };
  }

  whenConfirmed(timeout = 10000) {
    if (!this.sync.hasUnconfirmed) return Promise.resolve();
    return new Promise((resolve) => {
      this.confirmWaiters.push(resolve);
      setTimeout(resolve, timeout);
    });
  }

  async sendPassageComment(body) {
    let passage = this.draftPassage();
    if (passage === null && this.view.state.field(commentField).draft && this.sync.hasUnconfirmed) {
      this.newComposer.setError(this.strings.passagePending);
      await this.whenConfirmed();
      passage = this.draftPassage();
    }
    if (passage === null) return { ok: false, error: { message: this.strings.passageGone } };
    const answer = await this.mutate("comment", { body, ...passage });
    if (answer.ok) {
      this.newBox.hidden = true;
      this.view.dispatch({ effects: setDraft.of(null) });
      this.select(answer.thread.id, { focus: true });
    }
    return answer;
  }

  async sendGeneralComment(body) {
    const answer = await this.mutate("comment", { body });
    if (answer.ok) {
      this.generalComposer.element.hidden = true;
      this.generalToggle.setAttribute("aria-expanded", "false");
      this.select(answer.thread.id, { focus: true });
    }
    return answer;
  }

  /** Send a change of a thread; take the thread of the answer. */
  async mutate(event, payload) {
    const answer = await this.sync.request(event, payload);
    if (answer.ok) {
      this.receive(answer.revision, [answer.thread], { replace: false });
      return answer;
    }
    const message = answer.error.code === "offline" ? this.strings.commentOffline : answer.error.message;
    if (answer.error.code === "comments_closed") this.setOpen(false);
    return { ok: false, error: { code: answer.error.code, message } };
  }

  // -- selecting ------------------------------------------------------------------------

  /** Make `id` the current thread: shown, highlighted, read; optionally scroll the text. */
  select(id, { scroll = false, focus = false, fromText = false } = {}) {
    const thread = this.threads.get(id);
    if (!thread) return;
    if (!matchesFilter(thread, this.filter, this.localOf(id))) this.setFilter("all");
    this.active = id;
    this.view.dispatch({ effects: setActive.of(id) });
    for (const [other, item] of this.items) {
      item.li.classList.toggle("thread--active", other === id);
      if (other === id) item.li.setAttribute("aria-current", "true");
      else item.li.removeAttribute("aria-current");
    }
    const item = this.items.get(id);
    if (item && fromText) {
      this.reveal({ openDrawer: false });
      scrollIntoRail(item.li);
    }
    if (item && focus) { item.li.focus({ preventScroll: true }); scrollIntoRail(item.li); }
    this.markRead(id);
    if (scroll) this.showPassage(id);
  }

  showPassage(id) {
    const anchor = this.view.state.field(commentField).anchors.get(id);
    if (!anchor || anchor.detached) return;
    this.view.dispatch({
      effects: [EditorView.scrollIntoView(anchor.from, { y: "center" }), setFlash.of(id)],
    });
    clearTimeout(this.flashTimer);
    this.flashTimer = setTimeout(() => this.view.dispatch({ effects: setFlash.of(null) }), 1600);
  }

  async markRead(id) {
    const thread = this.threads.get(id);
    if (!thread || !thread.unread || this.reading.has(id)) return;
    this.reading.add(id);
    const answer = await this.sync.request("comment_read", { comment: id });
    this.reading.delete(id);
    if (answer.ok && this.threads.get(id) === thread) {
      this.threads.set(id, { ...thread, unread: 0 });
      this.renderThread(id);
    }
  }

  localOf(id) {
    return this.view.state.field(commentField).anchors.get(id);
  }

  /** What the page tells scripts: the threads in panel order, positions in code points. */
  snapshot() {
    const { anchors } = this.view.state.field(commentField);
    const text = this.view.state.doc.toString();
    return this.ordered().map((thread) => {
      const anchor = anchors.get(thread.id);
      const attached = anchor && !anchor.detached && onPassage(thread);
      return Object.freeze({
        id: thread.id,
        state: threadState(thread, anchor),
        start: attached ? toCodePoints(text, Math.min(anchor.from, text.length)) : null,
        end: attached ? toCodePoints(text, Math.min(anchor.to, text.length)) : null,
        quote: thread.quote,
      });
    });
  }

  // -- rendering ------------------------------------------------------------------------

  ordered() {
    const { anchors } = this.view.state.field(commentField);
    return orderThreads([...this.threads.values()], (id) => {
      const anchor = anchors.get(id);
      return anchor && !anchor.detached ? anchor.from : null;
    }).map((thread) => thread);
  }

  render() {
    const ordered = this.ordered();
    const focused = document.activeElement;
    let previous = null;
    let visible = 0;
    for (const thread of ordered) {
      const item = this.items.get(thread.id) || this.createItem(thread.id);
      this.renderThread(thread.id);
      const show = matchesFilter(thread, this.filter, this.localOf(thread.id));
      item.li.hidden = !show;
      if (show) visible += 1;
      // Move only what is out of place: moving an element takes the focus from it.
      const expected = previous ? previous.nextSibling : this.list.firstChild;
      if (expected !== item.li) this.list.insertBefore(item.li, expected);
      previous = item.li;
    }
    if (focused instanceof HTMLElement && focused !== document.activeElement && this.list.contains(focused)) {
      focused.focus({ preventScroll: true });
    }
    this.empty.textContent = !this.loaded ? "" : !ordered.length ? this.strings.commentsEmpty : !visible ? this.strings.commentsNoneHere : "";
    this.empty.hidden = !this.empty.textContent;
    for (const [name, filterButton] of this.filterButtons) {
      const count = ordered.filter((thread) => matchesFilter(thread, name, this.localOf(thread.id))).length;
      filterButton.textContent = fill(this.strings[`filter_${name}`], { count });
    }
    const shown = this.shownIds();
    const current = this.view.state.field(commentField).shown;
    if (shown.size !== current.size || [...shown].some((id) => !current.has(id))) {
      this.view.dispatch({ effects: setShown.of(shown) });
    }
  }

  createItem(id) {
    const li = el("li", "thread");
    li.dataset.thread = String(id);
    li.tabIndex = -1;
    const main = el("div", "thread__main");
    const mainForms = el("div", "thread__forms");
    const replies = el("ol", "thread__replies");
    replies.setAttribute("aria-label", this.strings.repliesLabel);
    const replyBox = el("div", "thread__reply");
    const error = el("p", "thread__error");
    error.setAttribute("role", "alert");
    li.append(main, mainForms, replies, replyBox, error);
    li.addEventListener("click", (event) => {
      if (event.target instanceof Element && event.target.closest("button, a, textarea, input, form, label")) return;
      this.select(id, { scroll: true });
    });
    li.addEventListener("focusin", () => { if (this.active !== id) this.select(id); else this.markRead(id); });
    const item = { li, main, mainForms, replies, replyBox, error, replyItems: new Map(), forms: new Map(), composers: new Map() };
    this.items.set(id, item);
    return item;
  }

  removeItem(id) {
    const item = this.items.get(id);
    if (item) item.li.remove();
    this.items.delete(id);
  }

  renderThread(id) {
    const thread = this.threads.get(id);
    const item = this.items.get(id);
    if (!thread || !item) return;
    const local = this.localOf(id);
    const state = threadState(thread, local);
    item.li.className = `thread thread--${state}${this.active === id ? " thread--active" : ""}`;
    item.li.setAttribute("aria-label", fill(this.strings.commentBy, { name: thread.author.name || "–" }));
    keepFocus(item.main, () => item.main.replaceChildren(...this.threadNodes(thread, local, item)));
    // replies, oldest first; existing ones stay where they are
    const seen = new Set();
    for (const reply of thread.replies || []) {
      seen.add(reply.id);
      let entry = item.replyItems.get(reply.id);
      if (!entry) {
        entry = { li: el("li", "reply"), view: el("div", "reply__view"), forms: el("div", "reply__forms") };
        entry.li.append(entry.view, entry.forms);
        item.replyItems.set(reply.id, entry);
        item.replies.append(entry.li);
      }
      entry.li.setAttribute("aria-label", fill(this.strings.replyBy, { name: reply.author.name || "–" }));
      keepFocus(entry.view, () => entry.view.replaceChildren(...this.commentNodes(reply, item, entry.forms, false)));
    }
    for (const [replyId, entry] of item.replyItems) {
      if (!seen.has(replyId)) { entry.li.remove(); item.replyItems.delete(replyId); }
    }
    item.replies.hidden = !item.replyItems.size;
    if (!this.commentsOpen) {
      item.replyBox.hidden = true;
      for (const [name, form] of item.forms) if (name.startsWith("edit:")) form.element.hidden = true;
    }
  }

  threadNodes(thread, local, item) {
    const s = this.strings;
    const nodes = [];
    const meta = el("div", "thread__badges");
    if (thread.unread) meta.append(el("span", "badge badge--unread", fill(s.unread, { count: thread.unread })));
    if (thread.resolved) {
      meta.append(el("span", "thread__resolved", fill(s.resolvedBy, {
        name: thread.resolved.by, when: formatDateTime(thread.resolved.at, this.lang),
      })));
    }
    if (meta.childNodes.length) nodes.push(meta);
    if (!onPassage(thread)) {
      nodes.push(el("p", "thread__whole", s.onWhole));
    } else if (isDetached(thread, local)) {
      const box = el("div", "thread__detached");
      const head = el("p", "thread__detached-head");
      head.append(el("strong", null, s.detached));
      const at = thread.detached_revision ?? (local && local.detached ? local.at : null);
      if (at !== null && at !== undefined) head.append(" ", el("span", null, fill(s.detachedSince, { number: at })));
      box.append(head, el("s", "thread__gone", shorten(thread.quote)));
      nodes.push(box);
    } else {
      const quote = button("", "thread__quote", () => this.select(thread.id, { scroll: true }), "quote");
      quote.append(el("span", "visually-hidden", `${s.toPassage} `), el("q", null, shorten(thread.quote)));
      nodes.push(quote);
    }
    nodes.push(...this.commentNodes(thread, item, item.mainForms, true));
    return nodes;
  }

  /** One comment (the thread's first or a reply): who, when, text, and what one may do. */
  commentNodes(comment, item, forms, isRoot) {
    const s = this.strings;
    const nodes = [];
    const head = el("p", "comment__meta");
    head.append(el("strong", "comment__author", comment.author.name || "–"));
    if (comment.author.municipality) head.append(el("span", "comment__municipality", `, ${comment.author.municipality}`));
    head.append(el("br"));
    const time = el("time", "comment__time", formatDateTime(comment.created, this.lang));
    time.dateTime = comment.created || "";
    head.append(time);
    if (comment.edited && !comment.deleted) head.append(el("span", "comment__edited", ` · ${s.edited}`));
    nodes.push(head);
    if (comment.hidden) nodes.push(el("p", "comment__hidden", fill(s.hiddenBy, { reason: comment.hidden.reason || "" })));
    if (comment.deleted) nodes.push(el("p", "comment__deleted", s.deleted));
    else if (comment.body !== null && comment.body !== undefined) {
      const body = el("p", "comment__body");
      body.append(...bodyNodes(comment.body));
      nodes.push(body);
    }
    const actions = el("div", "comment__actions");
    const key = (name) => `${name}:${comment.id}`;
    if (this.commentsOpen && isRoot) {
      actions.append(button(s.reply, "button--small", () => this.openReply(comment.id, item), key("reply")));
      if (comment.resolved) actions.append(button(s.reopen, "button--small", () => this.act(item, "reopen", { comment: comment.id }), key("reopen")));
      else actions.append(button(s.resolve, "button--small", () => this.act(item, "resolve", { comment: comment.id }), key("resolve")));
    }
    if (this.commentsOpen && comment.mine && !comment.deleted) {
      actions.append(button(s.edit, "button--small", () => this.openForm(item, forms, "edit", comment), key("edit")));
      actions.append(button(s.delete, "button--small button--danger", () => {
        if (window.confirm(s.deleteConfirm)) this.act(item, "comment_delete", { comment: comment.id });
      }, key("delete")));
    }
    if (this.role === "moderator" && !comment.deleted) {
      if (comment.hidden) actions.append(button(s.unhide, "button--small", () => this.act(item, "unhide", { comment: comment.id }), key("unhide")));
      else actions.append(button(s.hide, "button--small", () => this.openForm(item, forms, "hide", comment), key("hide")));
    }
    if (actions.childNodes.length) nodes.push(actions);
    return nodes;
  }

  async act(item, event, payload) {
    item.error.textContent = "";
    const answer = await this.mutate(event, payload);
    if (!answer.ok) item.error.textContent = answer.error.message;
  }

  openReply(threadId, item) {
    let composer = item.composers.get("reply");
    if (!composer) {
      composer = new Composer({
        label: this.strings.yourReply, submit: this.strings.sendReply, strings: this.strings, lang: this.lang,
        onSubmit: async (body) => {
          const answer = await this.mutate("reply", { comment: threadId, body });
          if (answer.ok) { item.replyBox.hidden = true; item.li.focus({ preventScroll: true }); }
          return answer;
        },
        onCancel: () => { item.replyBox.hidden = true; item.li.focus({ preventScroll: true }); },
      });
      item.composers.set("reply", composer);
      item.replyBox.append(composer.element);
    }
    item.replyBox.hidden = false;
    composer.setError("");
    composer.focus();
  }

  /** The edit or hide form under one comment. */
  openForm(item, container, kind, comment) {
    const name = `${kind}:${comment.id}`;
    let composer = item.forms.get(name);
    const close = () => { composer.element.hidden = true; item.li.focus({ preventScroll: true }); };
    if (!composer) {
      const edit = kind === "edit";
      composer = new Composer({
        label: edit ? this.strings.editLabel : this.strings.hideReason,
        submit: edit ? this.strings.save : this.strings.hide,
        strings: this.strings, lang: this.lang, limit: edit ? MAX_COMMENT_CHARS : MAX_REASON_CHARS,
        onSubmit: async (text) => {
          const answer = edit
            ? await this.mutate("comment_edit", { comment: comment.id, body: text })
            : await this.mutate("hide", { comment: comment.id, reason: text });
          if (answer.ok) close();
          return answer;
        },
        onCancel: close,
      });
      item.forms.set(name, composer);
      container.append(composer.element);
    }
    for (const [other, form] of item.forms) if (other !== name) form.element.hidden = true;
    if (kind === "edit") composer.value = comment.body || "";
    composer.setError("");
    composer.element.hidden = false;
    composer.focus();
  }
}

/** Rebuild `container`'s content and give the focus back to the matching new element. */
function keepFocus(container, rebuild) {
  const active = document.activeElement;
  const key = active instanceof HTMLElement && container.contains(active) ? active.dataset.focus : null;
  rebuild();
  if (key) {
    const again = container.querySelector(`[data-focus="${CSS.escape(key)}"]`);
    if (again instanceof HTMLElement) again.focus({ preventScroll: true });
  }
}

/** Scroll the rail (not the page) so that `element` is in view. */
function scrollIntoRail(element) {
  const rail = element.closest(".ws-rail");
  if (!rail || rail.scrollHeight <= rail.clientHeight) return;
  const box = element.getBoundingClientRect();
  const frame = rail.getBoundingClientRect();
  if (box.top < frame.top) rail.scrollTop -= frame.top - box.top + 8;
  else if (box.bottom > frame.bottom) rail.scrollTop += Math.min(box.bottom - frame.bottom + 8, box.top - frame.top - 8);
}
