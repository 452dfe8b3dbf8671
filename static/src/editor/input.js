// Keeps control characters out of what the user types, pastes or drops (see ot/text.js):
// the server refuses an operation that inserts one, so the editor cleans the input before
// it becomes an operation, and the user's edit goes through without them.

import { ChangeSet, EditorState, Transaction } from "@codemirror/state";
import { clean, isClean } from "../ot/text.js";

/**
 * A transaction filter that cleans the text inserted by transactions not marked with
 * `skip` (remote revisions, which the server has checked already). A transaction whose
 * inserts are clean passes unchanged; any other is replaced by the same changes with
 * cleaned inserts, its selection mapped through them.
 * @param {import("@codemirror/state").AnnotationType<boolean>} skip
 */
export function cleanInput(skip) {
  return EditorState.transactionFilter.of((tr) => {
    if (!tr.docChanged || tr.annotation(skip)) return tr;
    let dirty = false;
    tr.changes.iterChanges((_fromA, _toA, _fromB, _toB, inserted) => {
      if (!dirty && !isClean(inserted.toString())) dirty = true;
    });
    if (!dirty) return tr;
    const changes = [];
    tr.changes.iterChanges((fromA, toA, _fromB, _toB, inserted) => {
      changes.push({ from: fromA, to: toA, insert: clean(inserted.toString()) });
    });
    const cleaned = ChangeSet.of(changes, tr.startState.doc.length);
    const userEvent = tr.annotation(Transaction.userEvent);
    return {
      changes: cleaned,
      selection: tr.startState.selection.map(cleaned, 1),
      effects: tr.effects,
      scrollIntoView: tr.scrollIntoView,
      annotations: tr.annotation(Transaction.addToHistory) === false
        ? [Transaction.addToHistory.of(false)] : [],
      ...(userEvent === undefined ? {} : { userEvent }),
    };
  });
}
