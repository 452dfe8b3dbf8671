// The editor looks like a document, not like code: proportional type, a readable measure,
// Markdown shown formatted in place (larger headings, visible bold and lists).

import { EditorView } from "@codemirror/view";
import { HighlightStyle, syntaxHighlighting } from "@codemirror/language";
import { tags } from "@lezer/highlight";

export const documentTheme = EditorView.theme({
  "&": { fontSize: "1.05rem", backgroundColor: "#fff", color: "#1b1f24" },
  ".cm-scroller": {
    fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Liberation Sans", Arial, sans-serif',
    lineHeight: "1.65",
  },
  ".cm-content": { maxWidth: "42rem", padding: "1rem 0 3rem", caretColor: "#1b1f24" },
  ".cm-line": { padding: "0 1rem 0 0.75rem" },
  "&.cm-focused": { outline: "3px solid #c2410c", outlineOffset: "2px" },
  ".cm-gutters": { backgroundColor: "#fff", border: "none", color: "#4d5560" },
  ".cm-paragraph-number": { minWidth: "2.5rem", textAlign: "right", fontSize: "0.85rem", paddingTop: "0.2rem" },
  "&.cm-focused .cm-selectionBackground, ::selection": { backgroundColor: "#cfe0f7" },
  ".cm-selectionBackground": { backgroundColor: "#dde8f6" },
});

export const markdownLook = syntaxHighlighting(HighlightStyle.define([
  { tag: tags.heading1, fontSize: "1.6em", fontWeight: "700", lineHeight: "1.3" },
  { tag: tags.heading2, fontSize: "1.3em", fontWeight: "700" },
  { tag: tags.heading3, fontSize: "1.15em", fontWeight: "700" },
  { tag: [tags.heading4, tags.heading5, tags.heading6], fontWeight: "700" },
  { tag: tags.strong, fontWeight: "700" },
  { tag: tags.emphasis, fontStyle: "italic" },
  { tag: tags.strikethrough, textDecoration: "line-through" },
  { tag: tags.link, color: "#1d4f91", textDecoration: "underline" },
  { tag: tags.list, color: "#1d4f91" },
  { tag: tags.quote, color: "#4d5560", fontStyle: "italic" },
  { tag: [tags.processingInstruction, tags.meta], color: "#4d5560" },
  { tag: tags.monospace, fontFamily: "ui-monospace, Menlo, Consolas, monospace" },
]));
