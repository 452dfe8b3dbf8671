// Paragraph numbers in the margin, as in motion texts: every block of text that follows an
// empty line (or starts the document) gets the next number, so people can say "Absatz 7".

import { gutter, GutterMarker } from "@codemirror/view";

class NumberMarker extends GutterMarker {
  constructor(number) { super(); this.number = number; }
  eq(other) { return other.number === this.number; }
  toDOM() { return document.createTextNode(String(this.number)); }
}

function paragraphStarts(doc) {
  const starts = new Map();
  let count = 0;
  let previousBlank = true;
  for (let n = 1; n <= doc.lines; n++) {
    const blank = doc.line(n).text.trim() === "";
    if (!blank && previousBlank) starts.set(n, ++count);
    previousBlank = blank;
  }
  return starts;
}

export function paragraphNumbers() {
  let cachedDoc = null;
  let cached = new Map();
  return gutter({
    class: "cm-paragraph-number",
    lineMarker(view, line) {
      if (cachedDoc !== view.state.doc) {
        cachedDoc = view.state.doc;
        cached = paragraphStarts(view.state.doc);
      }
      const number = cached.get(view.state.doc.lineAt(line.from).number);
      return number ? new NumberMarker(number) : null;
    },
    lineMarkerChange: (update) => update.docChanged,
    initialSpacer: () => new NumberMarker(99),
  });
}
