// The declaration workspace: the live editor, presence, comments, refusals, read-only states.

import { Annotation, Compartment, EditorState, Transaction } from "@codemirror/state";
import { EditorView, keymap, drawSelection } from "@codemirror/view";
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { markdown } from "@codemirror/lang-markdown";
import { changesToOperation, operationToChanges, toCodePoints, toUtf16 } from "../ot/positions.js";
import { SyncClient } from "./sync.js";
import { cleanInput } from "./input.js";
import { documentTheme, markdownLook } from "./theme.js";
import { paragraphNumbers } from "./paragraphs.js";
import { buildToolbar, formattingKeymap } from "./toolbar.js";
import { peersField, setPeers } from "./presence.js";
import { authorshipDecorations, authorshipField, setAuthorship } from "./authorship.js";
import { enhanceTabs, paintSwatches, peopleMenu, railDrawer } from "./rail.js";
import { showRefusal } from "./refusals.js";
import { CommentsPanel, commentExtensions, remoteRevision } from "./comments.js";
import { textOn } from "./palette.js";
import { SignoffPanel } from "./signoff.js";

const remote = Annotation.define();

function readJSON(id) {
  const element = document.getElementById(id);
  return element ? JSON.parse(element.textContent) : null;
}

function initials(name) {
  return name.split(/\s+/).filter(Boolean).slice(0, 2).map((part) => part[0].toUpperCase()).join("");
}

function start() {
  const workspace = document.getElementById("workspace");
  const host = document.getElementById("editor");
  if (!workspace || !host) return;
  const strings = readJSON("editor-strings");
  const key = workspace.dataset.key;
  const stateElement = document.getElementById("connection-state");
  const banner = document.getElementById("readonly-banner");
  const presenceList = document.getElementById("presence");
  const editable = new Compartment();
  const peers = new Map();
  let view = null;
  let toolbar = null;
  let comments = null;
  let signoff = null;
  let mayEdit = workspace.dataset.mayEdit === "true";
  let me = null;

  const setState = (name) => {
    stateElement.textContent = strings[name];
    stateElement.className = `connection connection--${name}`;
    workspace.dataset.connection = name;
  };

  const replaceAll = (text) => {
    const current = view.state.doc.toString();
    if (current === text) return;
    let start = 0;
    while (start < current.length && start < text.length && current[start] === text[start]) start++;
    let end = 0;
    while (end < current.length - start && end < text.length - start &&
      current[current.length - 1 - end] === text[text.length - 1 - end]) end++;
    view.dispatch({
      changes: { from: start, to: current.length - end, insert: text.slice(start, text.length - end) },
      annotations: [remote.of(true), Transaction.addToHistory.of(false)],
    });
  };

  const setEditable = (allowed, reason) => {
    mayEdit = allowed;
    view.dispatch({ effects: editable.reconfigure([EditorView.editable.of(allowed), EditorState.readOnly.of(!allowed)]) });
    toolbar.setEnabled(allowed);
    banner.hidden = allowed;
    if (!allowed && reason) banner.textContent = reason;
  };

  const renderPeers = () => {
    const text = view.state.doc.toString();
    const list = [...peers.values()].filter((p) => !me || p.peer !== me.peer);
    presenceList.replaceChildren(...list.map((peer) => {
      const item = document.createElement("li");
      item.className = "presence__face";
      item.style.backgroundColor = peer.colour;
      item.style.color = textOn(peer.colour);
      item.title = `${peer.name}${peer.municipality ? `, ${peer.municipality}` : ""}`;
      const visible = document.createElement("span");
      visible.setAttribute("aria-hidden", "true");
      visible.textContent = initials(peer.name);
      const label = document.createElement("span");
      label.className = "visually-hidden";
      label.textContent = item.title;
      item.append(visible, label);
      return item;
    }));
    view.dispatch({
      effects: setPeers.of(list.map((peer) => ({
        ...peer,
        head: peer.cursor == null ? null : toUtf16(text, Math.min(peer.cursor, [...text].length)),
        anchor: peer.selection ? toUtf16(text, Math.min(peer.selection[0], [...text].length)) : null,
      }))),
    });
  };

  const sync = new SyncClient({
    key,
    text: readJSON("initial-text"),
    revision: Number(workspace.dataset.revision),
    handlers: {
      state: setState,
      remote(op, _author, revision) {
        const changes = operationToChanges(view.state.doc.toString(), op);
        view.dispatch({
          changes,
          annotations: [remote.of(true), Transaction.addToHistory.of(false), remoteRevision.of(revision ?? null)],
        });
        if (view.state.doc.toString() !== sync.text) {
          console.warn("editor and sync state differ; taking the sync state");
          replaceAll(sync.text);
        }
      },
      reset: (text) => { replaceAll(text); comments?.reset(); },
      refused(code, message, passages) {
        showRefusal(document.getElementById("refusals"), strings, message, passages);
      },
      joined(answer) {
        me = answer.you;
        peers.clear();
        for (const peer of answer.present) peers.set(peer.peer, peer);
        const reasons = { observer: strings.readonly_observer };
        const reason = reasons[answer.role] ||
          (answer.declaration.phase === "review" ? strings.readonly_review : strings.readonly_frozen);
        workspace.dataset.phase = answer.declaration.phase;
        setEditable(answer.may_edit, reason);
        renderPeers();
        toolbar.setCommenting(answer.may_comment);
        comments.joined(answer);
        signoff?.joined(answer);
      },
      commentsChanged: (data) => comments?.changed(data),
      statusChanged: () => signoff?.changed(),
      revision: () => { comments?.advanced(); signoff?.advanced(); },
      joinRefused(error) {
        setEditable(false, error.message);
      },
      accessRevoked() {
        setEditable(false, strings.accessRevoked);
        setState("offline");
        stateElement.textContent = strings.accessRevoked;
      },
      peer(peer) {
        peers.set(peer.peer, { ...peers.get(peer.peer), ...peer, seen: Date.now() });
        renderPeers();
      },
      peerLeft(peerId) {
        peers.delete(peerId);
        renderPeers();
      },
    },
  });

  let presenceTimer = null;
  const sendPresence = () => {
    presenceTimer = null;
    const text = view.state.doc.toString();
    const { anchor, head } = view.state.selection.main;
    sync.presence(toCodePoints(text, head), anchor === head ? null : [toCodePoints(text, anchor), toCodePoints(text, head)]);
  };

  host.replaceChildren();
  view = new EditorView({
    parent: host,
    state: EditorState.create({
      doc: sync.text,
      extensions: [
        history(),
        cleanInput(remote),
        drawSelection(),
        keymap.of([...formattingKeymap, ...defaultKeymap, ...historyKeymap]),
        markdown(),
        markdownLook,
        documentTheme,
        EditorView.lineWrapping,
        paragraphNumbers(),
        peersField,
        authorshipField,
        commentExtensions({
          onHighlightClick: (id) => comments?.select(id, { fromText: true }),
          onUpdate: () => comments?.editorUpdated(),
        }),
        editable.of([EditorView.editable.of(mayEdit), EditorState.readOnly.of(!mayEdit)]),
        EditorView.cspNonce.of(document.querySelector('meta[name="csp-nonce"]')?.content || ""),
        EditorView.contentAttributes.of({ "aria-label": strings.editorLabel, "aria-multiline": "true" }),
        EditorView.updateListener.of((update) => {
          for (const tr of update.transactions) {
            if (!tr.docChanged || tr.annotation(remote)) continue;
            const changes = [];
            tr.changes.iterChanges((fromA, toA, _fromB, _toB, inserted) => {
              changes.push({ from: fromA, to: toA, insert: inserted.toString() });
            });
            sync.localEdit(changesToOperation(tr.startState.doc.toString(), changes));
          }
          if ((update.selectionSet || update.docChanged) && presenceTimer === null) {
            presenceTimer = window.setTimeout(sendPresence, 120);
          }
        }),
      ],
    }),
  });
  const tabs = enhanceTabs(document.querySelector(".ws-rail"));
  const drawer = railDrawer({
    workspace,
    rail: document.getElementById("rail"),
    toggle: document.getElementById("rail-toggle"),
    close: document.getElementById("rail-close"),
  });
  peopleMenu(document.getElementById("people-menu"), presenceList);
  comments = new CommentsPanel({
    root: document.getElementById("comments"),
    view,
    sync,
    strings,
    lang: document.documentElement.lang || "de",
    reveal: ({ openDrawer = true } = {}) => {
      tabs.select("panel-comments");
      if (openDrawer) drawer.open();
    },
  });
  signoff = new SignoffPanel({
    root: document.getElementById("signoff"),
    taskbar: document.querySelector(".taskbar"),
    sync,
    strings,
    lang: document.documentElement.lang || "de",
    role: workspace.dataset.role,
    compareUrl: workspace.dataset.compareUrl,
    reveal: ({ openDrawer = true } = {}) => {
      tabs.select("panel-signoff");
      if (openDrawer) drawer.open();
    },
    onBoard(board) {
      // The header follows the phase without a reload.
      workspace.dataset.phase = board.phase;
      for (const step of document.querySelectorAll(".stepper__step[data-phase]")) {
        const current = step.dataset.phase === board.phase;
        step.classList.toggle("stepper__step--current", current);
        if (current) step.setAttribute("aria-current", "step");
        else step.removeAttribute("aria-current");
      }
    },
  });
  toolbar = buildToolbar(document.getElementById("toolbar"), view, strings, { onComment: () => comments.startNew() });
  toolbar.setEnabled(mayEdit);
  toolbar.setCommenting(workspace.dataset.mayComment === "true");
  // Ctrl+Alt+M comments the selection, also where the text cannot be edited (and so the
  // editor's own keymap never sees the key). AltGr (Ctrl+Alt on Windows) types "µ" instead.
  document.addEventListener("keydown", (event) => {
    if (!event.ctrlKey || !event.altKey || event.shiftKey || event.metaKey || event.code !== "KeyM") return;
    if (event.getModifierState && event.getModifierState("AltGraph")) return;
    event.preventDefault();
    comments.startNew();
  });
  setState("connecting");
  if (sync.restored) {
    showRefusal(document.getElementById("refusals"), strings, strings.restoredLocal, [], { info: true });
  }
  window.setInterval(() => { if (peers.size) renderPeers(); }, 5000); // let idle cursors fade

  const toggle = document.getElementById("authorship-toggle");
  if (toggle) {
    toggle.hidden = false;
    toggle.addEventListener("click", async () => {
      const on = toggle.getAttribute("aria-pressed") !== "true";
      toggle.setAttribute("aria-pressed", String(on));
      toggle.textContent = on ? strings.authorshipOff : strings.authorshipOn;
      if (!on) { view.dispatch({ effects: setAuthorship.of(authorshipDecorations("", [])) }); return; }
      try {
        const response = await fetch(workspace.dataset.authorshipUrl, { credentials: "same-origin" });
        if (!response.ok) throw new Error(String(response.status));
        const data = await response.json();
        // The spans describe the server's text at data.revision; shown only if that is ours.
        const text = sync.doc.serverText;
        if (data.revision !== sync.revision) throw new Error("stale");
        view.dispatch({ effects: setAuthorship.of(authorshipDecorations(text, data.spans)) });
      } catch (error) {
        toggle.setAttribute("aria-pressed", "false");
        toggle.textContent = strings.authorshipOn;
        showRefusal(document.getElementById("refusals"), strings, strings.authorshipFailed, [], { info: true });
      }
    });
  }

  for (const form of document.querySelectorAll('form[action$="/abmelden"]')) {
    form.addEventListener("submit", (event) => {
      if (sync.hasUnconfirmed && !window.confirm(strings.unsentOnLogout)) event.preventDefault();
    });
  }
  paintSwatches(document);

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js")
      .then(() => navigator.serviceWorker.ready)
      .then((registration) => {
        const assets = [...document.querySelectorAll('link[rel="stylesheet"], script[src]')]
          .map((element) => element.href || element.src);
        registration.active.postMessage({ cache: [window.location.pathname, ...assets] });
      })
      .catch((error) => console.warn("offline support unavailable", error));
  }

  // For people who script the page (and the browser tests): read-only access to the state.
  window.erklaerung = Object.freeze({
    get text() { return view.state.doc.toString(); },
    get revision() { return sync.revision; },
    get synchronised() { return !sync.hasUnconfirmed && sync.joined && !sync.resyncing; },
    get connection() { return workspace.dataset.connection; },
    get comments() { return comments.snapshot(); },
    get status() { return signoff.snapshot(); },
  });
}

start();
