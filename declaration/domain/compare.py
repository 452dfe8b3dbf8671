"""Word-level comparison of two texts, for showing what changed between versions.

diff-match-patch diffs characters; a reader wants whole words. So the texts are cut into
tokens (a word, a run of whitespace, a run of other characters), every distinct token is
mapped to one character (the library's lines-to-chars trick, applied to words), the
encoded texts are diffed and cleaned up semantically, and the result is decoded again.
Every segment therefore starts and ends at a token boundary.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from diff_match_patch import diff_match_patch

SegmentKind = Literal["equal", "insert", "delete"]


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of text that both versions share, or that only the new or old one has."""

    kind: SegmentKind
    text: str


_KINDS: Final[dict[int, SegmentKind]] = {
    diff_match_patch.DIFF_EQUAL: "equal",
    diff_match_patch.DIFF_INSERT: "insert",
    diff_match_patch.DIFF_DELETE: "delete",
}
# Token codes start above the control characters and skip the surrogates, so that the
# encoded text is an ordinary string.
_FIRST_CODE: Final = 0x100
_SURROGATES: Final = range(0xD800, 0xE000)
_MAX_TOKENS: Final = 0x110000 - _FIRST_CODE - len(_SURROGATES)

_WORD, _SPACE, _OTHER = 0, 1, 2


def _class_of(char: str) -> int:
    if char.isspace():
        return _SPACE
    category = unicodedata.category(char)
    if category[0] in "LN" or char == "_":
        return _WORD
    return _OTHER


def tokenize(text: str) -> list[str]:
    """Cut ``text`` into words, whitespace runs and runs of other characters.

    Combining marks stay with the character before them, so a letter with an accent that
    has no precomposed form is never split from it.
    """
    tokens: list[str] = []
    start = 0
    current = -1
    for index, char in enumerate(text):
        if unicodedata.category(char)[0] == "M" and index > 0:
            continue
        kind = _class_of(char)
        if kind != current:
            if index > start:
                tokens.append(text[start:index])
            start = index
            current = kind
    if start < len(text):
        tokens.append(text[start:])
    return tokens


def _code(number: int) -> str:
    code = _FIRST_CODE + number
    if code >= _SURROGATES.start:
        code += len(_SURROGATES)
    return chr(code)


def _encode(tokens: Sequence[str], table: dict[str, str], order: list[str]) -> str:
    chars: list[str] = []
    for token in tokens:
        char = table.get(token)
        if char is None:
            char = _code(len(order))
            table[token] = char
            order.append(token)
        chars.append(char)
    return "".join(chars)


#: Texts with more tokens than this (both sides together) are first compared paragraph by
#: paragraph; each changed run of paragraphs is then compared word by word. A word-level
#: diff of two distant revisions of a 100,000-character text (36,000 tokens) ran into
#: diff-match-patch's time limit and came back as "everything deleted, everything
#: inserted" after a second of CPU, with the event loop standing still.
WORD_LIMIT: Final = 5_000
#: Seconds one comparison may spend in diff-match-patch before it settles for coarser runs.
TIME_LIMIT: Final = 0.3


def compare(
    old: str, new: str, *, word_limit: int = WORD_LIMIT, time_limit: float = TIME_LIMIT
) -> list[Segment]:
    """Return the word-level differences that turn ``old`` into ``new``.

    Joining the equal and delete segments gives ``old``; joining equal and insert gives
    ``new``. Long texts are compared paragraph by paragraph first (see ``WORD_LIMIT``),
    then each run of changed paragraphs word by word; once ``time_limit`` is spent, the
    remaining runs are shown as deleted and inserted whole.
    """
    deadline = time.monotonic() + time_limit
    old_tokens, new_tokens = tokenize(old), tokenize(new)
    if len(old_tokens) + len(new_tokens) <= word_limit:
        return _segments(_word_diffs(old_tokens, new_tokens, deadline))
    diffs: list[tuple[int, str]] = []
    deleted: list[str] = []
    inserted: list[str] = []

    def flush() -> None:
        old_run, new_run = "".join(deleted), "".join(inserted)
        deleted.clear()
        inserted.clear()
        if old_run and new_run and time.monotonic() < deadline:
            diffs.extend(_word_diffs(tokenize(old_run), tokenize(new_run), deadline))
        else:
            diffs.append((diff_match_patch.DIFF_DELETE, old_run))
            diffs.append((diff_match_patch.DIFF_INSERT, new_run))

    paragraphs = _diff_encoded(
        _paragraphs(old_tokens), _paragraphs(new_tokens), deadline, cleanup=False
    )
    for kind, text in paragraphs:
        if kind == diff_match_patch.DIFF_EQUAL:
            flush()
            diffs.append((kind, text))
        else:
            (deleted if kind == diff_match_patch.DIFF_DELETE else inserted).append(text)
    flush()
    return _segments(diffs)


def _paragraphs(tokens: Sequence[str]) -> list[str]:
    """Join tokens into lines, each ending after a whitespace token with a line break.

    Cutting only between tokens keeps every segment on word boundaries.
    """
    lines: list[str] = []
    current: list[str] = []
    for token in tokens:
        current.append(token)
        if "\n" in token and token.isspace():
            lines.append("".join(current))
            current = []
    if current:
        lines.append("".join(current))
    return lines


def _word_diffs(
    old_tokens: Sequence[str], new_tokens: Sequence[str], deadline: float
) -> list[tuple[int, str]]:
    if len(set(old_tokens) | set(new_tokens)) > _MAX_TOKENS:  # pragma: no cover - huge texts
        dmp = diff_match_patch()
        dmp.Diff_Timeout = max(0.01, deadline - time.monotonic())
        diffs: list[tuple[int, str]] = dmp.diff_main("".join(old_tokens), "".join(new_tokens))
        dmp.diff_cleanupSemantic(diffs)
        return diffs
    return _diff_encoded(old_tokens, new_tokens, deadline)


def _diff_encoded(
    old_units: Sequence[str], new_units: Sequence[str], deadline: float, *, cleanup: bool = True
) -> list[tuple[int, str]]:
    """Diff two sequences of units (tokens or lines), one character per distinct unit.

    ``cleanup``: merge small equalities into the edits around them, for readers. Not for
    paragraphs: the runs between equal paragraphs are compared word by word afterwards.
    """
    dmp = diff_match_patch()
    dmp.Diff_Timeout = max(0.01, deadline - time.monotonic())
    table: dict[str, str] = {}
    order: list[str] = []
    encoded_old = _encode(old_units, table, order)
    encoded_new = _encode(new_units, table, order)
    first = ord(_code(0))
    encoded: list[tuple[int, str]] = dmp.diff_main(encoded_old, encoded_new, False)
    # Cleaning up on units (not characters) keeps every segment on unit boundaries.
    if cleanup:
        dmp.diff_cleanupSemantic(encoded)
    return [
        (kind, "".join(order[_index(char, first)] for char in chars)) for kind, chars in encoded
    ]


def _index(char: str, first: int) -> int:
    code = ord(char)
    if code >= 0xE000:
        code -= len(_SURROGATES)
    return code - first


def _segments(diffs: Iterable[tuple[int, str]]) -> list[Segment]:
    segments: list[Segment] = []
    for kind, text in diffs:
        if not text:
            continue
        name = _KINDS[kind]
        if segments and segments[-1].kind == name:
            segments[-1] = Segment(name, segments[-1].text + text)
        else:
            segments.append(Segment(name, text))
    return segments


def summary(segments: Iterable[Segment]) -> tuple[int, int]:
    """Return the number of code points inserted and deleted."""
    inserted = deleted = 0
    for segment in segments:
        if segment.kind == "insert":
            inserted += len(segment.text)
        elif segment.kind == "delete":
            deleted += len(segment.text)
    return inserted, deleted
