"""Text on entry: ``\\n`` line ends, no control characters, NFC for whole texts."""

from __future__ import annotations

import pytest

from declaration.domain.operations import Operation
from declaration.domain.text import clean, clean_inserts, is_clean, normalise


@pytest.mark.parametrize(
    "pasted", ["a\r\nb", "a\rb", "a\x0bb", "a\x0cb", "a\x85b", "a\u2028b", "a\u2029b"]
)
def test_every_kind_of_line_break_becomes_a_newline(pasted: str) -> None:
    assert clean(pasted) == "a\nb"
    assert normalise(pasted) == "a\nb"


def test_crlf_is_one_line_break_and_lone_crs_are_one_each() -> None:
    assert clean("a\r\n\r\nb\r\rc\n\rd") == "a\n\nb\n\nc\n\nd"


@pytest.mark.parametrize(
    "control",
    ["\x00", "\x01", "\x07", "\x08", "\x0e", "\x1b", "\x1f", "\x7f", "\x80", "\x9b", "\x9f"],
)
def test_control_characters_are_removed(control: str) -> None:
    assert not is_clean(f"Ge{control}meinde")
    assert clean(f"Ge{control}meinde") == "Gemeinde"


@pytest.mark.parametrize(
    "other",
    ["\ud800", "\udfff", "\ufdd0", "\ufdef", "\ufffe", "\uffff", "\U0001fffe", "\U0010ffff"],
)
def test_unpaired_surrogates_and_noncharacters_are_removed(other: str) -> None:
    assert clean(f"a{other}b") == "ab"


@pytest.mark.parametrize("kept", ["\t", "\n", " ", "\xa0", "\ufeff", "\u200d", "😀", "\ufffd"])
def test_tab_newline_and_visible_or_joining_characters_stay(kept: str) -> None:
    assert is_clean(f"a{kept}b")
    assert clean(f"a{kept}b") == f"a{kept}b"


def test_normalise_cleans_and_composes_whole_texts() -> None:
    assert normalise("Gemeinde\u0308\r\nzwei\x00\x0cdrei") == "Gemeindë\nzwei\ndrei"


def test_clean_inserts_keeps_the_positions_in_the_base_text() -> None:
    op = Operation.edit(6, 2, 1, "x\x00y\r\nz")
    cleaned = clean_inserts(op)
    assert cleaned == Operation.edit(6, 2, 1, "xy\nz")
    assert cleaned.apply("abcdef") == "abxy\nzdef"
    assert clean_inserts(Operation.edit(3, 1, 1, "\x00")) == Operation.edit(3, 1, 1, "")
    unchanged = Operation.edit(3, 0, 0, "ä\t")
    assert clean_inserts(unchanged) is unchanged


def test_the_python_client_cleans_what_it_is_given_before_it_builds_an_operation() -> None:
    from declaration.client import DraftClient
    from declaration.domain.sync import ClientDocument

    client = DraftClient("http://127.0.0.1:9")
    client._doc = ClientDocument("c", "ab", 0)  # not joined: nothing is sent
    client.edit(1, 0, "x\x00\r\n")
    client.edit_with(lambda text: (len(text), 0, "\x0c!"))
    client.apply(Operation.edit(6, 0, 0, "\x1b>"))
    assert client.text == ">ax\nb\n!"
    client.replace_text("neu\x7f\r\n")
    assert client.text == "neu\n"
    client.close()
