"""Exact text operations: retain / insert / delete over the whole text, as in ot.js.

An operation walks its base text from start to end: every code point of the base is either
retained or deleted, and text may be inserted anywhere. The sum of retains and deletes is
therefore the length of the base text, which lets `apply`, `compose` and `transform` check
that an operation fits the text it is applied to instead of silently mangling it.

Lengths and positions are Unicode code points (Python ``str`` indices), never UTF-16 units:
an emoji counts as one. The wire format is diff-match-patch's delta (``=12\\t+Text\\t-3``),
produced and parsed here because the library's own ``diff_toDelta`` counts UTF-16 units.

Operations are normalised, so equal edits compare equal: no empty components, adjacent
components of the same kind merged, and an insert placed before a delete at the same spot.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final, Literal, NoReturn

from diff_match_patch import diff_match_patch


class OperationError(ValueError):
    """An operation does not fit its text, or a delta cannot be parsed."""


@dataclass(frozen=True, slots=True)
class Retain:
    """Keep the next ``count`` code points of the base text."""

    count: int


@dataclass(frozen=True, slots=True)
class Insert:
    """Insert ``text`` at the current position."""

    text: str


@dataclass(frozen=True, slots=True)
class Delete:
    """Remove the next ``count`` code points of the base text."""

    count: int


Component = Retain | Insert | Delete

# Internal form, as in ot.js: a positive int retains, a negative int deletes, a str inserts.
# It keeps the algorithms below short and fast; the public view is `Operation.components`.
_Raw = int | str

# diff-match-patch keeps these characters unescaped in inserted text (its JavaScript version
# uses encodeURI and then turns %20 back into a space); letters, digits and "_.-~" are
# always kept by `urllib.parse.quote`.
_DELTA_SAFE: Final = "!~*'();/?:@&=+$,# "
_COUNT = re.compile(r"[0-9]{1,15}")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_SURROGATE = re.compile("[\ud800-\udfff]")

_dmp: Final = diff_match_patch()


def _push_retain(ops: list[_Raw], count: int) -> None:
    if count == 0:
        return
    last = ops[-1] if ops else None
    if isinstance(last, int) and last > 0:
        ops[-1] = last + count
    else:
        ops.append(count)


def _push_delete(ops: list[_Raw], count: int) -> None:
    if count == 0:
        return
    last = ops[-1] if ops else None
    if isinstance(last, int) and last < 0:
        ops[-1] = last - count
    else:
        ops.append(-count)


def _push_insert(ops: list[_Raw], text: str) -> None:
    if not text:
        return
    last = ops[-1] if ops else None
    if isinstance(last, str):
        ops[-1] = last + text
    elif isinstance(last, int) and last < 0:
        # Insert-before-delete is the canonical order, so that the same edit has one form.
        before = ops[-2] if len(ops) > 1 else None
        if isinstance(before, str):
            ops[-2] = before + text
        else:
            ops.insert(len(ops) - 1, text)
    else:
        ops.append(text)


def _mismatch(message: str) -> NoReturn:
    raise OperationError(message)


class Operation:
    """An immutable, normalised edit of a whole text."""

    __slots__ = ("_base_length", "_ops", "_target_length")

    _ops: tuple[_Raw, ...]
    _base_length: int
    _target_length: int

    def __init__(self, components: Iterable[Component] = ()) -> None:
        """Build an operation from components, normalising them."""
        ops: list[_Raw] = []
        for component in components:
            match component:
                case Retain(count=count):
                    if count < 0:
                        _mismatch(f"retain count must not be negative, got {count}")
                    _push_retain(ops, count)
                case Delete(count=count):
                    if count < 0:
                        _mismatch(f"delete count must not be negative, got {count}")
                    _push_delete(ops, count)
                case Insert(text=text):
                    _push_insert(ops, text)
                case _:
                    raise TypeError(f"not an operation component: {component!r}")
        self._set(ops)

    def _set(self, ops: list[_Raw]) -> None:
        base = target = 0
        for op in ops:
            if isinstance(op, str):
                target += len(op)
            elif op > 0:
                base += op
                target += op
            else:
                base -= op
        object.__setattr__(self, "_ops", tuple(ops))
        object.__setattr__(self, "_base_length", base)
        object.__setattr__(self, "_target_length", target)

    @classmethod
    def _from_raw(cls, ops: list[_Raw]) -> Operation:
        """Wrap components that the `_push_*` helpers already normalised."""
        operation = cls.__new__(cls)
        operation._set(ops)
        return operation

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Operation is immutable")

    @classmethod
    def identity(cls, length: int) -> Operation:
        """Return the operation that keeps a text of ``length`` code points unchanged."""
        if length < 0:
            _mismatch(f"text length must not be negative, got {length}")
        return cls._from_raw([length] if length else [])

    @classmethod
    def edit(cls, base_length: int, position: int, delete_count: int, insert: str) -> Operation:
        """Return the operation that replaces ``delete_count`` code points at ``position``."""
        if base_length < 0 or position < 0 or delete_count < 0:
            _mismatch("edit lengths and positions must not be negative")
        if position + delete_count > base_length:
            _mismatch(
                f"edit at {position} deleting {delete_count} goes past the end of a text "
                f"of {base_length} characters"
            )
        ops: list[_Raw] = []
        _push_retain(ops, position)
        _push_insert(ops, insert)
        _push_delete(ops, delete_count)
        _push_retain(ops, base_length - position - delete_count)
        return cls._from_raw(ops)

    @property
    def base_length(self) -> int:
        """Length of the text this operation applies to."""
        return self._base_length

    @property
    def target_length(self) -> int:
        """Length of the text this operation produces."""
        return self._target_length

    @property
    def is_noop(self) -> bool:
        """Whether applying the operation leaves every text unchanged."""
        return all(isinstance(op, int) and op > 0 for op in self._ops)

    @property
    def components(self) -> tuple[Component, ...]:
        """Return the normalised components in order."""
        return tuple(self._iter_components())

    def _iter_components(self) -> Iterator[Component]:
        for op in self._ops:
            if isinstance(op, str):
                yield Insert(op)
            elif op > 0:
                yield Retain(op)
            else:
                yield Delete(-op)

    @property
    def inserted_texts(self) -> tuple[str, ...]:
        """Return the inserted passages in order."""
        return tuple(op for op in self._ops if isinstance(op, str))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Operation):
            return NotImplemented
        return self._ops == other._ops

    def __hash__(self) -> int:
        return hash(self._ops)

    def __repr__(self) -> str:
        parts = []
        for op in self._ops:
            if isinstance(op, str):
                parts.append(f"+{op!r}")
            elif op > 0:
                parts.append(f"={op}")
            else:
                parts.append(f"-{-op}")
        return f"Operation({' '.join(parts)})"

    def _check_base(self, text: str) -> None:
        if len(text) != self._base_length:
            _mismatch(
                f"operation expects a text of {self._base_length} characters, "
                f"got {len(text)} characters"
            )

    def apply(self, text: str) -> str:
        """Return ``text`` with the operation applied."""
        self._check_base(text)
        parts: list[str] = []
        position = 0
        for op in self._ops:
            if isinstance(op, str):
                parts.append(op)
            elif op > 0:
                parts.append(text[position : position + op])
                position += op
            else:
                position -= op
        return "".join(parts)

    def invert(self, base_text: str) -> Operation:
        """Return the operation that undoes this one on the text it produced from ``base_text``."""
        self._check_base(base_text)
        ops: list[_Raw] = []
        position = 0
        for op in self._ops:
            if isinstance(op, str):
                _push_delete(ops, len(op))
            elif op > 0:
                _push_retain(ops, op)
                position += op
            else:
                _push_insert(ops, base_text[position : position - op])
                position -= op
        return Operation._from_raw(ops)

    def transform_position(self, index: int, assoc: Literal[-1, 1] = -1) -> int:
        """Map a cursor position in the base text to the text this operation produces.

        With ``assoc=-1`` a cursor stays before text inserted exactly at it, with ``assoc=1``
        it moves after it (as CodeMirror's ``mapPos``). A cursor inside a deleted or replaced
        range moves to where the range was, before or after its replacement by ``assoc``.
        """
        if not 0 <= index <= self._base_length:
            _mismatch(f"position {index} is outside a text of {self._base_length} characters")
        old = new = 0
        inserted = 0  # length of text inserted at `old` and not yet counted
        for op in self._ops:
            if isinstance(op, str):
                inserted += len(op)
            elif op > 0:
                if index < old + op:
                    before = index > old or assoc > 0
                    return new + (inserted if before else 0) + index - old
                new += inserted + op
                old += op
                inserted = 0
            else:
                if index < old - op:
                    return new + (inserted if assoc > 0 else 0)
                new += inserted
                old -= op
                inserted = 0
        return new + (inserted if assoc > 0 else 0)

    def to_delta(self) -> str:
        """Serialise to diff-match-patch's delta format, counting code points."""
        parts: list[str] = []
        for op in self._ops:
            if isinstance(op, str):
                try:
                    encoded = op.encode("utf-8")
                except UnicodeEncodeError:
                    _mismatch("inserted text contains an unpaired surrogate")
                parts.append("+" + urllib.parse.quote(encoded, safe=_DELTA_SAFE))
            elif op > 0:
                parts.append(f"={op}")
            else:
                parts.append(f"-{-op}")
        return "\t".join(parts)


def _decode_insert(body: str, index: int) -> str:
    if _SURROGATE.search(body):
        _mismatch(f"component {index}: inserted text contains an unpaired surrogate")
    if _BAD_ESCAPE.search(body):
        _mismatch(f"component {index}: '%' must start an escape of two hex digits")
    try:
        return urllib.parse.unquote(body, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        _mismatch(f"component {index}: inserted text is not valid percent-encoded UTF-8")


def from_delta(delta: str, base_length: int) -> Operation:
    """Parse a delta into an operation over a text of ``base_length`` code points.

    Deltas come from clients, so anything malformed is refused with an `OperationError`
    rather than guessed at: unknown or empty components, counts that are not plain decimal
    numbers, bad escapes, invalid UTF-8, and a span that differs from the base length.
    """
    if not isinstance(delta, str):
        _mismatch(f"a delta must be a string, got {type(delta).__name__}")
    if base_length < 0:
        _mismatch(f"text length must not be negative, got {base_length}")
    ops: list[_Raw] = []
    spanned = 0
    for index, token in enumerate(delta.split("\t") if delta else ()):
        kind, body = token[:1], token[1:]
        if kind == "+":
            _push_insert(ops, _decode_insert(body, index))
        elif kind in ("=", "-"):
            if not _COUNT.fullmatch(body):
                _mismatch(
                    f"component {index} ({token[:20]!r}): expected a non-negative "
                    "decimal count of at most 15 digits"
                )
            count = int(body)
            spanned += count
            if spanned > base_length:
                _mismatch(
                    f"delta spans more than the {base_length} characters of the text "
                    f"(at component {index})"
                )
            if kind == "=":
                _push_retain(ops, count)
            else:
                _push_delete(ops, count)
        elif not token:
            _mismatch(f"component {index} is empty")
        else:
            _mismatch(f"component {index} has unknown kind {kind!r} (expected '=', '+' or '-')")
    if spanned != base_length:
        _mismatch(f"delta spans {spanned} characters, but the text has {base_length}")
    return Operation._from_raw(ops)


def from_texts(old: str, new: str) -> Operation:
    """Return an operation turning ``old`` into ``new``, computed by diff-match-patch.

    Only for whole-text replacements (restoring a version, replacing the text): a diff of
    two snapshots is a guess at what changed, so live edits must be sent as exact
    operations. The efficiency cleanup merges tiny equalities between edits, which keeps
    the operation short without making it larger than needed.
    """
    diffs: list[tuple[int, str]] = _dmp.diff_main(old, new)
    _dmp.diff_cleanupEfficiency(diffs)
    ops: list[_Raw] = []
    for kind, text in diffs:
        if kind == diff_match_patch.DIFF_EQUAL:
            _push_retain(ops, len(text))
        elif kind == diff_match_patch.DIFF_INSERT:
            _push_insert(ops, text)
        else:
            _push_delete(ops, len(text))
    return Operation._from_raw(ops)


def _remaining(op: int, used: int) -> int:
    """Return what is left of a retain (>0) or delete (<0) after ``used`` code points."""
    return op - used if op > 0 else op + used


def compose(a: Operation, b: Operation) -> Operation:
    """Return one operation with the effect of ``a`` followed by ``b``."""
    if a.target_length != b.base_length:
        _mismatch(
            f"cannot compose: the first operation produces {a.target_length} characters, "
            f"the second expects {b.base_length}"
        )
    result: list[_Raw] = []
    first, second = iter(a._ops), iter(b._ops)
    op1: _Raw | None = next(first, None)
    op2: _Raw | None = next(second, None)
    while op1 is not None or op2 is not None:
        if isinstance(op1, int) and op1 < 0:
            _push_delete(result, -op1)
            op1 = next(first, None)
            continue
        if isinstance(op2, str):
            _push_insert(result, op2)
            op2 = next(second, None)
            continue
        if op1 is None or op2 is None:  # pragma: no cover - excluded by the length check
            _mismatch("cannot compose: operations of different lengths")
        if isinstance(op1, str):
            length = len(op1)
            if op2 > 0:
                used = min(length, op2)
                _push_insert(result, op1[:used])
            else:
                used = min(length, -op2)  # inserted, then deleted again: nothing remains
        else:
            used = min(op1, abs(op2))
            if op2 > 0:
                _push_retain(result, used)
            else:
                _push_delete(result, used)
        if isinstance(op1, str):
            op1 = op1[used:] or next(first, None)
        else:
            op1 = _remaining(op1, used) or next(first, None)
        op2 = _remaining(op2, used) or next(second, None)
    return Operation._from_raw(result)


def _check_concurrent(a: Operation, b: Operation) -> None:
    """Refuse to transform two operations that do not start from the same text."""
    if a.base_length != b.base_length:
        _mismatch(
            f"cannot transform operations over different texts "
            f"({a.base_length} and {b.base_length} characters)"
        )


def transform(a: Operation, b: Operation) -> tuple[Operation, Operation]:
    """Return ``(a', b')`` such that ``b`` then ``a'`` equals ``a`` then ``b'``.

    Both operations apply to the same text. When both insert at the same position, ``a``'s
    insert comes first. The server always passes the revision it already stored as ``a``
    and the incoming operation as ``b``, and clients do the same with the server's
    revisions, so every replica orders concurrent inserts by server history.
    """
    _check_concurrent(a, b)
    a_prime: list[_Raw] = []
    b_prime: list[_Raw] = []
    first, second = iter(a._ops), iter(b._ops)
    op1: _Raw | None = next(first, None)
    op2: _Raw | None = next(second, None)
    while op1 is not None or op2 is not None:
        if isinstance(op1, str):
            _push_insert(a_prime, op1)
            _push_retain(b_prime, len(op1))
            op1 = next(first, None)
            continue
        if isinstance(op2, str):
            _push_retain(a_prime, len(op2))
            _push_insert(b_prime, op2)
            op2 = next(second, None)
            continue
        if op1 is None or op2 is None:  # pragma: no cover - excluded by the length check
            _mismatch("cannot transform: operations of different lengths")
        used = min(abs(op1), abs(op2))
        if op1 > 0 and op2 > 0:
            _push_retain(a_prime, used)
            _push_retain(b_prime, used)
        elif op1 < 0 and op2 > 0:
            _push_delete(a_prime, used)
        elif op1 > 0 and op2 < 0:
            _push_delete(b_prime, used)
        # Both deleted the same range: neither needs to delete it again.
        op1 = _remaining(op1, used) or next(first, None)
        op2 = _remaining(op2, used) or next(second, None)
    return Operation._from_raw(a_prime), Operation._from_raw(b_prime)


def transform_over(a: Operation, b: Operation) -> Operation:
    """Return ``transform(a, b)[1]``: ``b`` moved over ``a``, which comes first.

    The server rebases an incoming batch over every revision stored since its base and
    has no use for the other half; computing only this one halves the work on the path
    every edit takes, and the more so the further behind its author is.
    """
    _check_concurrent(a, b)
    result: list[_Raw] = []
    first, second = iter(a._ops), iter(b._ops)
    op1: _Raw | None = next(first, None)
    op2: _Raw | None = next(second, None)
    while op1 is not None or op2 is not None:
        if isinstance(op1, str):
            _push_retain(result, len(op1))
            op1 = next(first, None)
            continue
        if isinstance(op2, str):
            _push_insert(result, op2)
            op2 = next(second, None)
            continue
        if op1 is None or op2 is None:  # pragma: no cover - excluded by the length check
            _mismatch("cannot transform: operations of different lengths")
        used = min(abs(op1), abs(op2))
        if op1 > 0:
            if op2 > 0:
                _push_retain(result, used)
            else:
                _push_delete(result, used)
        # op1 deletes: whatever b did to that range (keep or delete) is gone already.
        op1 = _remaining(op1, used) or next(first, None)
        op2 = _remaining(op2, used) or next(second, None)
    return Operation._from_raw(result)


def stored_lengths(delta: str) -> tuple[int, int]:
    """Return the lengths of the texts before and after a stored, validated delta.

    A delta spans its whole base text and spells out everything it inserts, so both
    lengths follow from it alone; revisions therefore do not store them. Malformed
    components are refused as in `apply_delta`.
    """
    base = target = 0
    for token in delta.split("\t") if delta else ():
        kind, body = token[:1], token[1:]
        if kind == "=":
            count = int(body)
            base += count
            target += count
        elif kind == "-":
            base += int(body)
        elif kind == "+":
            target += len(urllib.parse.unquote(body) if "%" in body else body)
        else:
            _mismatch(f"stored delta has an unknown component {token[:20]!r}")
    return base, target


def apply_delta(text: str, delta: str) -> str:
    """Apply a stored, already validated delta to ``text`` without building an Operation.

    Loading an old revision replays hundreds of stored operations; this fast path skips
    the normalisation and strict checks that `from_delta` does for untrusted input, but it
    still refuses a delta whose span does not match the text, so a corrupt history fails
    loudly instead of producing a wrong text.
    """
    if not delta:
        if text:
            _mismatch(f"empty delta for a text of {len(text)} characters")
        return text
    pieces: list[str] = []
    position = 0
    for token in delta.split("\t"):
        kind = token[:1]
        if kind == "=":
            count = int(token[1:])
            pieces.append(text[position : position + count])
            position += count
        elif kind == "-":
            position += int(token[1:])
        elif kind == "+":
            body = token[1:]
            pieces.append(urllib.parse.unquote(body) if "%" in body else body)
        else:
            _mismatch(f"stored delta has an unknown component {token[:20]!r}")
    if position != len(text):
        _mismatch(f"stored delta spans {position} characters, but the text has {len(text)}")
    return "".join(pieces)
