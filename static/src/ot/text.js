// What a person types or pastes, cleaned before it becomes an operation: a port of `clean`
// and `is_clean` in declaration/domain/text.py (tests/domain/test_js_parity.py compares
// them over the same cases).
//
// - every line break becomes "\n": CR LF, CR and Unicode's other mandatory breaks (vertical
//   tab, form feed, NEL, the line and paragraph separators U+2028 and U+2029);
// - control characters other than tab and newline (C0, DEL, C1), unpaired surrogates and
//   Unicode's noncharacters are removed.
//
// The server refuses an operation that inserts any of them, so the editor strips them from
// the user's input first (see editor/input.js): pasting a form feed or a NUL must not cost
// the user the whole edit.

// U+FDD0-U+FDEF and the last two code points of each of the 17 planes.
const NONCHARACTERS = "\\u{FDD0}-\\u{FDEF}" + Array.from({ length: 17 }, (_, plane) => {
  const last = (plane * 0x10000 + 0xffff).toString(16);
  const before = (plane * 0x10000 + 0xfffe).toString(16);
  return `\\u{${before}}\\u{${last}}`;
}).join("");

// Unicode's mandatory line breaks (UAX #14 classes BK, CR, LF, NL); CR LF is one break.
const LINE_BREAK = /\r\n|[\r\v\f\x85\u2028\u2029]/g;
// What `clean` removes once line breaks are "\n". With the `u` flag a surrogate range
// matches unpaired surrogates only, as Python's strings hold no pairs.
const REMOVED = new RegExp(
  `[\\0-\\x08\\x0e-\\x1f\\x7f-\\x84\\x86-\\x9f\\u{d800}-\\u{dfff}${NONCHARACTERS}]`, "gu",
);
// Any character `clean` changes (no `g`: `test` keeps no state).
const UNCLEAN = new RegExp(
  `[\\0-\\x08\\x0b-\\x1f\\x7f-\\x9f\\u2028\\u2029\\u{d800}-\\u{dfff}${NONCHARACTERS}]`, "u",
);

/**
 * Whether `text` holds only "\n" line ends and none of the removed characters.
 * @param {string} text
 * @returns {boolean}
 */
export function isClean(text) {
  return !UNCLEAN.test(text);
}

/**
 * Return `text` with "\n" line ends and without the removed characters; a clean text is
 * returned as it is.
 * @param {string} text
 * @returns {string}
 */
export function clean(text) {
  if (isClean(text)) return text;
  return text.replace(LINE_BREAK, "\n").replace(REMOVED, "");
}
