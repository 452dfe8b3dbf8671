"""Hypothesis strategies for malformed input: wrong types, edge numbers, odd and huge texts.

Shared by the fuzzing of socket events and of forms. Every value here is something a
client can send: JSON values for events (a socket payload is parsed JSON), strings and
bytes for forms.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import strategies as st

#: Numbers at the edges of what the payloads and the database columns hold.
EDGE_NUMBERS = (0, 1, -1, 2**31 - 1, 2**31, 2**53, 2**53 + 1, 2**63, -(2**63), 10**30)

#: Lengths around the bounds: a field, a comment (5,000), its message bound (10,000), a
#: delta (1,000,000) and beyond.
SIZES = (0, 1, 65, 1_001, 2_001, 5_001, 10_001, 100_001, 1_000_001)

#: Strings that mean something to some layer: control characters, surrogates, bidi
#: controls, noncharacters, delta syntax, numbers beyond any column, paths, markup.
ODD_STRINGS = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x07\x1b[31m",
    "\r\n\u2028\u2029\x85",
    "\ud800",
    "\udfff\ud800",
    "\u202e\u2066",
    "\ufdd0\uffff\U0010ffff",
    "e\u0301",
    "=1\t+x",
    "=-1",
    "+%ZZ",
    "+%",
    "-99999999999999999999",
    "\t\t",
    "=0\t=0\t=0",
    "9" * 20,
    "١٢",
    "²",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "javascript:alert(1)",
    "%00",
    "NaN",
    "null",
    "true",
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from(EDGE_NUMBERS)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(ODD_STRINGS)
)

#: Any JSON value, nested a few levels deep.
json_junk = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.sampled_from(ODD_STRINGS), inner, max_size=4)
    ),
    max_leaves=12,
)


class Long(str):
    """A long string that shows itself short in hypothesis's reports."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"{self[:1]!r} * {len(self)}" if self else "''"


#: A long string made cheaply (hypothesis need not shrink a megabyte character by character).
huge_strings = st.builds(
    lambda n, c: Long(c * n), st.sampled_from(SIZES), st.sampled_from(["x", "9", "ä", "\t", "😀"])
)

#: Whole numbers nobody can mean: negative, beyond the text, beyond the columns.
impossible_numbers = st.sampled_from(EDGE_NUMBERS) | st.integers(min_value=-(2**64), max_value=-1)


def _component(kind: str, number: int, text: str) -> str:
    return {"=": f"={number}", "-": f"-{number}", "+": f"+{text}", "?": text}[kind]


#: Deltas (`docs/protocol.md`, "Operations"): well-formed pieces with impossible counts,
#: malformed pieces, wrong separators, bad percent escapes, control characters.
deltas = st.lists(
    st.builds(
        _component,
        st.sampled_from("=-+?"),
        st.integers(min_value=-5, max_value=200) | st.sampled_from(EDGE_NUMBERS),
        st.text(max_size=8) | st.sampled_from(ODD_STRINGS),
    ),
    max_size=6,
).flatmap(lambda parts: st.sampled_from(["\t", "", " ", "\n", "\t\t"]).map(lambda s: s.join(parts)))

#: Text for form fields: every character an encoder can send (no lone surrogates).
form_text = (
    st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=60)
    | st.sampled_from([s for s in ODD_STRINGS if not any("\ud800" <= c <= "\udfff" for c in s)])
    | huge_strings
)


class Collect(logging.Handler):
    """Keeps every log record at ERROR or above (an exception the server logged)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def take(self) -> list[str]:
        """Return the records so far as text (with their tracebacks), and forget them."""
        taken = [
            f"{r.name}: {r.getMessage()}\n{logging.Formatter().formatException(r.exc_info)}"
            if r.exc_info
            else f"{r.name}: {r.getMessage()}"
            for r in self.records
        ]
        self.records.clear()
        return taken


@contextmanager
def server_errors() -> Iterator[Collect]:
    """Collect what the application logs at ERROR or above while the block runs."""
    handler = Collect()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def shape(value: Any) -> str:
    """A short description of ``value`` for failure messages (payloads may be megabytes)."""
    text = repr(value)
    return text if len(text) <= 300 else f"{text[:300]}… ({len(text)} characters)"
