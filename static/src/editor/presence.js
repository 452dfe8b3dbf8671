// Co-editors' cursors and selections, drawn in their colour with a name tag. Positions are
// mapped through every change, fade after a while without movement, and vanish on leave.

import { StateEffect, StateField } from "@codemirror/state";
import { Decoration, EditorView, WidgetType } from "@codemirror/view";
import { colourClass } from "./palette.js";

export const setPeers = StateEffect.define();

const IDLE_MS = 15000;

class CaretWidget extends WidgetType {
  constructor(peer, idle) { super(); this.peer = peer; this.idle = idle; }
  eq(other) {
    return other.peer.peer === this.peer.peer && other.peer.name === this.peer.name &&
      other.peer.colour === this.peer.colour && other.idle === this.idle;
  }
  toDOM() {
    const caret = document.createElement("span");
    caret.className = `remote-caret${this.idle ? " remote-caret--idle" : ""}`;
    caret.style.borderColor = this.peer.colour;
    caret.setAttribute("aria-hidden", "true");
    const label = document.createElement("span");
    label.className = "remote-caret__name";
    label.style.backgroundColor = this.peer.colour;
    label.textContent = this.peer.name;
    caret.append(label);
    return caret;
  }
  ignoreEvent() { return true; }
}

function build(peers, doc) {
  const now = Date.now();
  const ranges = [];
  for (const peer of peers) {
    if (peer.head == null) continue;
    const idle = now - peer.seen > IDLE_MS;
    const head = Math.min(peer.head, doc.length);
    const anchor = Math.min(peer.anchor ?? head, doc.length);
    if (anchor !== head) {
      const from = Math.min(anchor, head);
      const to = Math.max(anchor, head);
      ranges.push(Decoration.mark({
        class: `remote-selection ${colourClass("selection", peer.colour)}`,
      }).range(from, to));
    }
    ranges.push(Decoration.widget({ widget: new CaretWidget(peer, idle), side: 1 }).range(head));
  }
  return Decoration.set(ranges, true);
}

export const peersField = StateField.define({
  create: () => ({ peers: [], decorations: Decoration.none }),
  update(value, tr) {
    let peers = value.peers;
    if (tr.docChanged) {
      peers = peers.map((peer) => ({
        ...peer,
        head: peer.head == null ? null : tr.changes.mapPos(Math.min(peer.head, tr.startState.doc.length), 1),
        anchor: peer.anchor == null ? null : tr.changes.mapPos(Math.min(peer.anchor, tr.startState.doc.length), 1),
      }));
    }
    for (const effect of tr.effects) if (effect.is(setPeers)) peers = effect.value;
    if (peers === value.peers && !tr.docChanged) return value;
    return { peers, decorations: build(peers, tr.state.doc) };
  },
  provide: (field) => EditorView.decorations.from(field, (value) => value.decorations),
});
