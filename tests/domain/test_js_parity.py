"""The browser's OT port (static/src/ot) computes exactly what the Python domain computes.

Random cases are generated here, sent to ``tests/js/parity.mjs`` under Node.js in one run,
and each result is compared with the same computation in Python: transformed and composed
deltas byte for byte, applied texts, inverses, mapped positions, whether a (possibly
non-canonical or malformed) delta is accepted and how it is re-serialised, and which
characters typed or pasted text loses or has replaced (``domain/text.py``, ``ot/text.js``).
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from declaration.domain.operations import (
    Delete,
    Insert,
    Operation,
    OperationError,
    Retain,
    compose,
    from_delta,
    transform,
)
from declaration.domain.text import clean, is_clean

ROOT = Path(__file__).resolve().parents[2]
PARITY_SCRIPT = "tests/js/parity.mjs"
SEED = 20240611

# Text pieces that trip up UTF-16 counting, cluster handling and percent-encoding: emoji
# outside the BMP, modifiers, combining marks, a joiner, a BOM, controls, every character
# the delta format keeps unescaped and many it escapes, and percent signs that look like
# escapes.
PIECES = [
    *"abcxyz ABC019",
    *["😀", "👍", "🏽", "\u0301", "\u0308", "\u200d", "𝔘", "中", "ß", "ä", "é", "\U0010ffff"],
    *["%", "%41", "%2", "\t", "\n", "\r", '"', "'", "\\", "\ufeff", "\x00", "\x7f", "\xa0"],
    *"+#&=~_.-!*();/?:@$,<>[]{}|^`",
    "\u2028",
]

Case = dict[str, Any]


def random_text(rng: random.Random, max_pieces: int) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(0, max_pieces)))


def random_operation(rng: random.Random, base: str) -> Operation:
    """Return a random operation spanning ``base``: a single edit or several components."""
    if rng.random() < 0.25:
        position = rng.randint(0, len(base))
        count = rng.randint(0, len(base) - position)
        return Operation.edit(len(base), position, count, random_text(rng, 4))
    components: list[Retain | Insert | Delete] = []
    position = 0
    for _ in range(rng.randint(0, 6)):
        kind = rng.choice(["retain", "delete", "insert"])
        if kind == "insert" or position == len(base):
            components.append(Insert(random_text(rng, 6) or "x"))
            continue
        count = rng.randint(1, len(base) - position)
        components.append(Retain(count) if kind == "retain" else Delete(count))
        position += count
    if position < len(base):
        rest = len(base) - position
        components.append(Retain(rest) if rng.random() < 0.5 else Delete(rest))
    return Operation(components)


# --- non-canonical deltas ---------------------------------------------------------------------


def escape(char: str, rng: random.Random) -> str:
    hex_digits = "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))
    return hex_digits.lower() if rng.random() < 0.3 else hex_digits


def messy_insert(text: str, rng: random.Random) -> str:
    """Encode ``text`` in one of the many ways Python's ``unquote`` accepts.

    Any character but "%" and a tab may stay raw (even a newline or a non-ASCII one), and
    any may be escaped, with hex digits in either case.
    """
    return "".join(
        escape(char, rng) if char in "%\t" or rng.random() < 0.4 else char for char in text
    )


def messy_count(count: int, rng: random.Random) -> str:
    digits = str(count)
    return digits.zfill(rng.randint(len(digits), 15)) if rng.random() < 0.2 else digits


def split_count(count: int, rng: random.Random) -> list[int]:
    cuts = sorted(rng.randint(0, count) for _ in range(rng.randint(0, 2)))
    return [end - start for start, end in zip([0, *cuts], [*cuts, count], strict=True)]


def messy_delta(op: Operation, rng: random.Random) -> str:
    """Return a valid but non-canonical delta of ``op``.

    Components are split, empty ones added, a delete put before the insert at its position
    and inserted text escaped differently (lowercase hex, optional escapes, raw non-ASCII).
    """
    components = list(op.components)
    for index in range(len(components) - 1):
        first, second = components[index], components[index + 1]
        if isinstance(first, Insert) and isinstance(second, Delete) and rng.random() < 0.5:
            components[index], components[index + 1] = second, first
    tokens: list[str] = []
    for component in components:
        if rng.random() < 0.1:
            tokens.append(rng.choice(["=0", "-0", "+", "=000"]))
        if isinstance(component, Insert):
            cut = rng.randint(0, len(component.text))
            for piece in (component.text[:cut], component.text[cut:]):
                if piece or rng.random() < 0.2:
                    tokens.append("+" + messy_insert(piece, rng))
        else:
            sign = "=" if isinstance(component, Retain) else "-"
            tokens.extend(
                sign + messy_count(part, rng) for part in split_count(component.count, rng)
            )
    return "\t".join(tokens)


# --- malformed and odd deltas -----------------------------------------------------------------

ODD_DELTAS: list[tuple[str, int]] = [
    ("=3", 4),
    ("=5", 4),
    ("=2\t-3", 4),
    ("", 2),
    ("", 0),
    ("=-1\t=5", 4),
    ("-+2\t=2", 4),
    ("=abc", 3),
    ("=1e3", 1000),
    ("=٣", 3),
    ("= 3", 3),
    ("=3 ", 3),
    ("=3\n", 3),
    ("=0x3", 3),
    ("=", 0),
    ("=3\t\t+x", 3),
    ("=3\t", 3),
    ("\t", 0),
    ("*3", 3),
    (" =3", 3),
    ("😀", 0),
    ("+%ZZ", 0),
    ("+%4", 0),
    ("+100%", 0),
    ("+%C3", 0),
    ("+%C3é%A9", 0),
    ("+%C0%AF", 0),
    ("+%ED%A0%80", 0),
    ("+%F4%90%80%80", 0),
    ("+%F0%9F%98", 0),
    ("+\ud800", 0),
    ("+x\udc00", 0),
    ("=" + "9" * 40, 3),
    ("=" + "0" * 15 + "3", 3),
    ("=" + "0" * 14 + "3", 3),
    ("=999999999999999", 999999999999999),
    ("+%c3%a9%41é😀", 0),
    ("+%EF%BB%BFx", 0),
    ("+%ED%9F%BF", 0),
    ("+%2B%20%7E%25%09", 0),
    ('+\x7f\n\u0085\xa0"<', 0),
    ("-1\t+x", 1),
    ("=1\t=1\t-0\t+", 2),
    ("+a\tb", 0),
]

GARBAGE = "=+-0123456789%\tAaé😀"

# Pasted text: line breaks of every kind, controls, unpaired surrogates, noncharacters and
# their neighbours that stay.
CLEAN_PIECES = [
    *"ab ä😀\t\n\r",
    *["\r\n", "\x00", "\x01", "\x08", "\x0b", "\x0c", "\x0e", "\x1f", "\x7f", "\x80"],
    *["\x85", "\x9f", "\xa0", "\u2028", "\u2029", "\ufeff", "\ufdd0", "\ufdef", "\ufdf0"],
    *["\ufffd", "\ufffe", "\uffff", "\U0001fffe", "\U0010ffff", "\U0010fffd", "\ud800"],
    *["\udbff", "\udc00", "\udfff", "\u0301"],
]
#: A high surrogate right before a low one: JSON carries them to JavaScript as one pair.
SPLIT_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")


def random_pasted_text(rng: random.Random) -> str:
    while True:
        text = "".join(rng.choice(CLEAN_PIECES) for _ in range(rng.randint(0, 12)))
        if not SPLIT_PAIR.search(text):
            return text


def generate_cases() -> list[tuple[str, Case]]:
    rng = random.Random(SEED)
    cases: list[tuple[str, Case]] = []
    for number in range(300):
        base = random_text(rng, 20)
        a, b = random_operation(rng, base), random_operation(rng, base)
        cases.append(
            (f"pair-{number}", {"kind": "pair", "base": base, "a": a.to_delta(), "b": b.to_delta()})
        )
    for number in range(150):
        base = random_text(rng, 20)
        delta = messy_delta(random_operation(rng, base), rng)
        cases.append(
            (f"messy-{number}", {"kind": "parse", "delta": delta, "base_length": len(base)})
        )
    for number, (delta, base_length) in enumerate(ODD_DELTAS):
        cases.append(
            (f"odd-{number}", {"kind": "parse", "delta": delta, "base_length": base_length})
        )
    for number in range(300):
        delta = "".join(rng.choice(GARBAGE) for _ in range(rng.randint(1, 16)))
        cases.append(
            (
                f"garbage-{number}",
                {"kind": "parse", "delta": delta, "base_length": rng.randint(0, 20)},
            )
        )
    for number in range(300):
        cases.append((f"clean-{number}", {"kind": "clean", "text": random_pasted_text(rng)}))
    cases.append(("classify", {"kind": "classify", "start": 0, "stop": 0x110000}))
    return cases


CASES = generate_cases()


# --- what Python computes -----------------------------------------------------------------------


def expected_pair(base: str, a_delta: str, b_delta: str) -> dict[str, Any]:
    a = from_delta(a_delta, len(base))
    b = from_delta(b_delta, len(base))
    a_prime, b_prime = transform(a, b)
    return {
        "a": a.to_delta(),
        "b": b.to_delta(),
        "transform": [a_prime.to_delta(), b_prime.to_delta()],
        "compose": compose(a, b_prime).to_delta(),
        "compose_other": compose(b, a_prime).to_delta(),
        "apply": [
            a.apply(base),
            b.apply(base),
            b_prime.apply(a.apply(base)),
            a_prime.apply(b.apply(base)),
        ],
        "invert": a.invert(base).to_delta(),
        "lengths": [a.base_length, a.target_length, b.base_length, b.target_length],
        "inserted": list(a.inserted_texts),
        "noop": [a.is_noop, b.is_noop, a_prime.is_noop, b_prime.is_noop],
        "positions": [
            [a.transform_position(index, -1), a.transform_position(index, 1)]
            for index in range(len(base) + 1)
        ],
    }


def expected_parse(delta: str, base_length: int) -> dict[str, Any]:
    try:
        op = from_delta(delta, base_length)
    except OperationError:
        return {"ok": False}
    return {"ok": True, "delta": op.to_delta(), "lengths": [op.base_length, op.target_length]}


def expected_classify(start: int, stop: int) -> dict[str, Any]:
    changed = [chr(code) for code in range(start, stop) if not is_clean(chr(code))]
    return {"changed": [[ord(char), clean(char)] for char in changed]}


def expected(case: Case) -> dict[str, Any]:
    if case["kind"] == "pair":
        return expected_pair(case["base"], case["a"], case["b"])
    if case["kind"] == "clean":
        return {"clean": clean(case["text"]), "is_clean": is_clean(case["text"])}
    if case["kind"] == "classify":
        return expected_classify(case["start"], case["stop"])
    return expected_parse(case["delta"], case["base_length"])


# --- what JavaScript computes -------------------------------------------------------------------


@pytest.fixture(scope="module")
def js_results() -> list[dict[str, Any]]:
    """Run all cases through the JavaScript port in one Node.js process."""
    node = shutil.which("node")
    if node is None:
        pytest.fail(
            "Node.js is required for the JavaScript parity test, but `node` is not on PATH "
            "(install Node.js 20 or newer)."
        )
    payload = json.dumps({"cases": [case for _, case in CASES]})
    completed = subprocess.run(
        [node, PARITY_SCRIPT],
        input=payload,
        capture_output=True,
        encoding="utf-8",
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        pytest.fail(f"{PARITY_SCRIPT} failed ({completed.returncode}):\n{completed.stderr}")
    results: list[dict[str, Any]] = json.loads(completed.stdout)["results"]
    assert len(results) == len(CASES)
    return results


def test_the_cases_cover_accepted_refused_and_non_canonical_deltas() -> None:
    parsed = [(case, expected(case)) for _, case in CASES if case["kind"] == "parse"]
    assert sum(result["ok"] for _, result in parsed) > 150
    assert sum(not result["ok"] for _, result in parsed) > 100
    rewritten = [
        case for case, result in parsed if result.get("delta", case["delta"]) != case["delta"]
    ]
    assert len(rewritten) > 100


def test_the_cases_cover_clean_and_unclean_texts_and_every_code_point() -> None:
    cleaned = [expected(case) for _, case in CASES if case["kind"] == "clean"]
    assert sum(result["is_clean"] for result in cleaned) > 20
    assert sum(not result["is_clean"] for result in cleaned) > 200
    (classified,) = [expected(case) for _, case in CASES if case["kind"] == "classify"]
    # C0 but tab and newline, DEL, C1, U+2028/9, surrogates, noncharacters
    assert len(classified["changed"]) == 30 + 1 + 32 + 2 + 2048 + 32 + 34


@pytest.mark.parametrize("index", range(len(CASES)), ids=[name for name, _ in CASES])
def test_javascript_computes_what_python_computes(
    index: int, js_results: list[dict[str, Any]]
) -> None:
    _, case = CASES[index]
    assert js_results[index] == expected(case), f"case: {json.dumps(case)}"
