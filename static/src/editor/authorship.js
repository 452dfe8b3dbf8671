// Authorship colours: who wrote which passage, fetched once and then mapped through every
// change. Toggled by a button in the history panel.

import { StateEffect, StateField } from "@codemirror/state";
import { Decoration, EditorView } from "@codemirror/view";
import { toUtf16 } from "../ot/positions.js";
import { colourClass } from "./palette.js";

export const setAuthorship = StateEffect.define();

export const authorshipField = StateField.define({
  create: () => Decoration.none,
  update(value, tr) {
    let decorations = value.map(tr.changes);
    for (const effect of tr.effects) if (effect.is(setAuthorship)) decorations = effect.value;
    return decorations;
  },
  provide: (field) => EditorView.decorations.from(field),
});

/** Turn code-point spans of ``text`` into mark decorations. */
export function authorshipDecorations(text, spans) {
  const ranges = [];
  for (const span of spans) {
    if (span.end <= span.start) continue;
    const from = toUtf16(text, span.start);
    const to = toUtf16(text, span.end);
    ranges.push(Decoration.mark({
      class: `authored ${colourClass("author", span.colour)}`,
      attributes: { title: span.name },
    }).range(from, to));
  }
  return Decoration.set(ranges, true);
}
