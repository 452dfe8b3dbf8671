// A small formatting toolbar with keyboard shortcuts, and "Kommentieren". It follows the
// ARIA toolbar pattern: one tab stop, arrow keys move between the buttons that can be used
// (in read-only states only "Kommentieren" can).

import { EditorSelection } from "@codemirror/state";
import { undo, redo } from "@codemirror/commands";

function wrap(marker) {
  return (view) => {
    if (view.state.readOnly) return false;
    view.dispatch(view.state.changeByRange((range) => {
      const inner = view.state.sliceDoc(range.from, range.to);
      const insert = `${marker}${inner}${marker}`;
      return {
        changes: { from: range.from, to: range.to, insert },
        range: EditorSelection.range(range.from + marker.length, range.to + marker.length),
      };
    }));
    view.focus();
    return true;
  };
}

function togglePrefix(prefixFor, pattern) {
  return (view) => {
    if (view.state.readOnly) return false;
    const { state } = view;
    const lines = new Set();
    for (const range of state.selection.ranges) {
      for (let pos = range.from; pos <= range.to;) {
        const line = state.doc.lineAt(pos);
        lines.add(line.number);
        pos = line.to + 1;
      }
    }
    const numbers = [...lines].sort((a, b) => a - b);
    const allHave = numbers.every((n) => pattern.test(state.doc.line(n).text));
    const changes = numbers.map((n, index) => {
      const line = state.doc.line(n);
      const match = line.text.match(pattern);
      if (allHave) return { from: line.from, to: line.from + match[0].length, insert: "" };
      const existing = line.text.match(/^(#{1,6} |[-*] |\d+\. )/);
      return {
        from: line.from, to: line.from + (existing ? existing[0].length : 0),
        insert: prefixFor(index),
      };
    });
    view.dispatch({ changes });
    view.focus();
    return true;
  };
}

export const commands = {
  bold: wrap("**"),
  italic: wrap("_"),
  heading: togglePrefix(() => "## ", /^#{1,6} /),
  bulletList: togglePrefix(() => "- ", /^[-*] /),
  numberedList: togglePrefix((index) => `${index + 1}. `, /^\d+\. /),
  undo: (view) => undo(view),
  redo: (view) => redo(view),
};

export const formattingKeymap = [
  { key: "Mod-b", run: commands.bold },
  { key: "Mod-i", run: commands.italic },
  { key: "Mod-Alt-2", run: commands.heading },
  { key: "Mod-Shift-8", run: commands.bulletList },
  { key: "Mod-Shift-7", run: commands.numberedList },
];

const BUTTONS = [
  ["heading", "H", "Strg+Alt+2"],
  ["bold", "B", "Strg+B"],
  ["italic", "I", "Strg+I"],
  ["bulletList", "•", "Strg+Umschalt+8"],
  ["numberedList", null, "Strg+Umschalt+7"],
  ["undo", "↶", "Strg+Z"],
  ["redo", "↷", "Strg+Y"],
];

// A drawn icon: a visible "1." would have to be part of the button's accessible name.
function numberedListIcon() {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 20 20");
  svg.setAttribute("width", "20");
  svg.setAttribute("height", "20");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", "M3 3.5h1.5v4M2.8 7.5h3.2M2.8 11.5c0-1 3-1 3 .4 0 1-3 1.8-3 3.1h3.2M9 5h9M9 13h9");
  path.setAttribute("fill", "none");
  path.setAttribute("stroke", "currentColor");
  path.setAttribute("stroke-width", "1.6");
  svg.append(path);
  return svg;
}

/**
 * @param {HTMLElement} container
 * @param {import("@codemirror/view").EditorView} view
 * @param {Record<string, string>} strings
 * @param {{onComment?: () => void}} [options] what "Kommentieren" does
 */
export function buildToolbar(container, view, strings, { onComment } = {}) {
  container.setAttribute("role", "toolbar");
  container.setAttribute("aria-label", strings.toolbar);
  container.setAttribute("aria-controls", "editor");
  const buttons = BUTTONS.map(([name, symbol, shortcut], index) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = `toolbar__button toolbar__button--${name}`;
    const glyph = symbol === null ? numberedListIcon() : document.createElement("span");
    glyph.setAttribute("aria-hidden", "true");
    if (symbol !== null) glyph.textContent = symbol;
    button.append(glyph);
    button.setAttribute("aria-label", `${strings[name]} (${shortcut})`);
    button.title = `${strings[name]} (${shortcut})`;
    button.tabIndex = index === 0 ? 0 : -1;
    button.addEventListener("mousedown", (event) => event.preventDefault()); // keep the selection
    button.addEventListener("click", () => commands[name](view));
    container.append(button);
    return button;
  });
  // Observers comment too, and in the review everyone may: this button is not formatting.
  const comment = document.createElement("button");
  comment.type = "button";
  comment.className = "toolbar__button toolbar__button--comment";
  comment.textContent = strings.comment;
  comment.setAttribute("aria-keyshortcuts", "Control+Alt+M");
  comment.title = `${strings.comment} (${strings.commentShortcut})`;
  comment.tabIndex = -1;
  comment.hidden = !onComment;
  comment.addEventListener("mousedown", (event) => event.preventDefault());
  comment.addEventListener("click", () => onComment && onComment());
  container.append(comment);
  const all = [...buttons, comment];
  const usable = () => all.filter((button) => !button.disabled && !button.hidden);
  const fixTabStop = () => {
    const candidates = usable();
    const current = candidates.find((button) => button.tabIndex === 0) || candidates[0];
    for (const button of all) button.tabIndex = button === current ? 0 : -1;
  };
  container.addEventListener("keydown", (event) => {
    const candidates = usable();
    const index = candidates.indexOf(document.activeElement);
    if (index < 0) return;
    let next = null;
    if (event.key === "ArrowRight") next = (index + 1) % candidates.length;
    if (event.key === "ArrowLeft") next = (index - 1 + candidates.length) % candidates.length;
    if (event.key === "Home") next = 0;
    if (event.key === "End") next = candidates.length - 1;
    if (next === null) return;
    event.preventDefault();
    candidates[index].tabIndex = -1;
    candidates[next].tabIndex = 0;
    candidates[next].focus();
  });
  container.hidden = false;
  fixTabStop();
  return {
    setEnabled(enabled) {
      for (const button of buttons) button.disabled = !enabled;
      fixTabStop();
    },
    setCommenting(allowed) {
      comment.hidden = !allowed || !onComment;
      fixTabStop();
    },
  };
}
