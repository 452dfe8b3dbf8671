"""Imported Markdown: each paragraph's soft-wrapped lines become one line, blocks stay apart."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from declaration.domain.paragraphs import join_soft_breaks

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = [
    ROOT / "declaration" / "demo" / "merseburger-erklaerung.md",
    ROOT.parent / "shared" / "samples" / "merseburger-erklaerung.md",
]


# --- paragraphs -------------------------------------------------------------------------------


def test_the_lines_of_a_paragraph_are_joined_with_one_space() -> None:
    wrapped = "Die Kommunen erbringen den größten\nTeil dieser Leistungen. Sie tragen\ndie Last.\n"
    assert join_soft_breaks(wrapped) == (
        "Die Kommunen erbringen den größten Teil dieser Leistungen. Sie tragen die Last.\n"
    )


def test_trailing_spaces_and_the_continuations_indentation_go_when_lines_are_joined() -> None:
    assert join_soft_breaks("Bund \t\n    und Land\n\t stellen Mittel bereit.") == (
        "Bund und Land stellen Mittel bereit."
    )


def test_the_first_lines_indentation_stays() -> None:
    assert join_soft_breaks("  Bund\n  und Land") == "  Bund und Land"


def test_blank_lines_separate_paragraphs_and_stay_as_they_are() -> None:
    text = "Erster\nAbsatz.\n\n  \t\nZweiter\nAbsatz.\n\n\n"
    assert join_soft_breaks(text) == "Erster Absatz.\n\n  \t\nZweiter Absatz.\n\n\n"


@pytest.mark.parametrize(
    ("text", "joined"),
    [("a\nb", "a b"), ("a\nb\n", "a b\n"), ("a\nb\n\n", "a b\n\n"), ("", ""), ("\n", "\n")],
)
def test_the_text_ends_with_a_newline_exactly_when_it_did(text: str, joined: str) -> None:
    assert join_soft_breaks(text) == joined


def test_windows_and_old_mac_line_ends_become_newlines_first() -> None:
    assert join_soft_breaks("# Titel\r\n\r\nein\r\nAbsatz\rweiter\r\n") == (
        "# Titel\n\nein Absatz weiter\n"
    )


# --- hard line breaks -------------------------------------------------------------------------


def test_a_line_ending_in_two_spaces_is_a_hard_break_and_keeps_its_spaces() -> None:
    # Dropping the spaces would make it a soft break that the next import joins.
    assert join_soft_breaks("Merseburg,  \nim Dezember\n2021") == "Merseburg,  \nim Dezember 2021"


def test_a_line_ending_in_a_backslash_is_a_hard_break_kept_as_written() -> None:
    assert join_soft_breaks("Merseburg,\\\nim Dezember\n2021") == "Merseburg,\\\nim Dezember 2021"


def test_an_escaped_backslash_at_the_end_is_no_hard_break() -> None:
    assert join_soft_breaks("C:\\\\\nWindows") == "C:\\\\ Windows"


def test_one_trailing_space_or_a_tab_is_no_hard_break() -> None:
    assert join_soft_breaks("a \nb\t\nc") == "a b c"


# --- blocks that are never joined -------------------------------------------------------------


@pytest.mark.parametrize("heading", ["# Präambel", "## 1. Stand", "###### Tief", "#", "## Ende ##"])
def test_atx_headings_stand_alone(heading: str) -> None:
    text = f"Vorher ein\nAbsatz\n{heading}\nNachher ein\nAbsatz"
    assert join_soft_breaks(text) == f"Vorher ein Absatz\n{heading}\nNachher ein Absatz"


def test_a_hash_without_a_space_is_text() -> None:
    assert join_soft_breaks("Wir unterstützen\n#OZG") == "Wir unterstützen #OZG"


@pytest.mark.parametrize("item", ["- Punkt", "* Punkt", "+ Punkt", "1. Punkt", "1) Punkt"])
def test_list_items_start_on_their_own_line(item: str) -> None:
    assert join_soft_breaks(f"Wir fordern:\n{item}") == f"Wir fordern:\n{item}"


def test_consecutive_list_items_stay_apart() -> None:
    text = "- Geld\n- Personal\n* Zeit\n1. Eins\n2. Zwei\n10) Zehn\n"
    assert join_soft_breaks(text) == text


def test_a_list_items_continuation_lines_join_into_the_item() -> None:
    assert join_soft_breaks("- Erster Punkt, der\n  weitergeht\n- Zweiter") == (
        "- Erster Punkt, der weitergeht\n- Zweiter"
    )
    assert join_soft_breaks("1. **Finanzierung.** Bund und\n   Land zahlen.\n2. Mehr") == (
        "1. **Finanzierung.** Bund und Land zahlen.\n2. Mehr"
    )


def test_a_lazy_continuation_without_indentation_joins_into_the_item() -> None:
    assert join_soft_breaks("- Erster Punkt, der\nweitergeht") == "- Erster Punkt, der weitergeht"


def test_a_nested_list_item_stays_on_its_own_line() -> None:
    text = "- Oben, mit\n  Fortsetzung\n  - unten, auch\n    fortgesetzt"
    assert join_soft_breaks(text) == "- Oben, mit Fortsetzung\n  - unten, auch fortgesetzt"


def test_a_number_that_cannot_start_a_list_there_continues_the_paragraph() -> None:
    # CommonMark: only an ordered list starting at 1 interrupts a paragraph.
    assert join_soft_breaks("Wir trafen uns am\n3. Dezember 2021.") == (
        "Wir trafen uns am 3. Dezember 2021."
    )
    assert join_soft_breaks("1. Erstens, am\n3. Dezember") == "1. Erstens, am\n3. Dezember"


def test_block_quotes_stand_alone_and_take_lazy_continuations() -> None:
    assert join_soft_breaks("Er sagte:\n> Das OZG\n> gilt.\nfür alle") == (
        "Er sagte:\n> Das OZG\n> gilt. für alle"
    )


@pytest.mark.parametrize("rule", ["***", "* * *", "___", "- - -", "_____"])
def test_thematic_breaks_stand_alone(rule: str) -> None:
    assert join_soft_breaks(f"Ende des\nAbschnitts\n{rule}\nNeuer\nAbschnitt") == (
        f"Ende des Abschnitts\n{rule}\nNeuer Abschnitt"
    )


@pytest.mark.parametrize("underline", ["===", "=", "---", "-", "======  "])
def test_a_setext_heading_keeps_its_underline_on_its_own_line(underline: str) -> None:
    assert join_soft_breaks(f"Präambel\n{underline}\nDie Kommunen\nerklären") == (
        f"Präambel\n{underline}\nDie Kommunen erklären"
    )


def test_a_wrapped_setext_heading_is_joined_above_its_underline() -> None:
    assert join_soft_breaks("Merseburger\nErklärung\n=========") == (
        "Merseburger Erklärung\n========="
    )


@pytest.mark.parametrize("fence", ["```", "~~~", "````", "``` python", "~~~ text"])
def test_fenced_code_is_kept_byte_for_byte(fence: str) -> None:
    closing = fence.split()[0]
    code = f"{fence}\nzeile eins  \n    eingerückt\nzwei\n\n\tdrei \\\n{closing}\n"
    text = f"Beispiel\ndavor\n{code}nach\ndem Code"
    assert join_soft_breaks(text) == f"Beispiel davor\n{code}nach dem Code"


def test_a_fence_ends_only_at_a_closing_fence_of_its_kind_and_length() -> None:
    text = "````\na\n```\nb\n~~~~\nc\n````\nd\ne"
    assert join_soft_breaks(text) == "````\na\n```\nb\n~~~~\nc\n````\nd e"


def test_an_unclosed_fence_keeps_the_rest_of_the_text_as_it_is() -> None:
    assert join_soft_breaks("```\na\nb\n\nc\nd") == "```\na\nb\n\nc\nd"


def test_backticks_with_a_backtick_in_the_info_are_inline_code_not_a_fence() -> None:
    assert join_soft_breaks("Siehe\n```a` b```\nhier") == "Siehe ```a` b``` hier"


def test_a_fence_in_a_list_item_is_kept_and_closes_at_the_items_indentation() -> None:
    text = "- Beispiel:\n  ```\n  a\n  b\n  ```\nc\nd"
    assert join_soft_breaks(text) == "- Beispiel:\n  ```\n  a\n  b\n  ```\nc d"


def test_indented_code_after_a_blank_line_is_kept() -> None:
    text = "Beispiel:\n\n    zeile eins\n    zeile zwei\n\n    zeile drei\nText\ndanach"
    assert join_soft_breaks(text) == (
        "Beispiel:\n\n    zeile eins\n    zeile zwei\n\n    zeile drei\nText danach"
    )


def test_an_indented_line_inside_a_paragraph_is_a_continuation_not_code() -> None:
    assert join_soft_breaks("Bund und\n        Land") == "Bund und Land"


def test_a_list_items_second_paragraph_is_joined_and_code_needs_four_more_columns() -> None:
    text = "- Punkt\n\n  Erläuterung,\n  weiter\n\n      code\n      code"
    assert join_soft_breaks(text) == "- Punkt\n\n  Erläuterung, weiter\n\n      code\n      code"


@pytest.mark.parametrize(
    "table",
    [
        "| Land | Mittel |\n|------|--------|\n| ST | 10 |\n",
        "Land | Mittel\n--- | ---\nST | 10\nohne Pipe\n",
        "| nur | Zeilen |\n| ohne | Trenner |\n",
    ],
)
def test_tables_are_kept_as_they_are(table: str) -> None:
    assert join_soft_breaks(f"Die\nTabelle:\n\n{table}\nDanach\nText") == (
        f"Die Tabelle:\n\n{table}\nDanach Text"
    )


def test_a_table_row_is_not_joined_to_the_paragraph_above() -> None:
    assert join_soft_breaks("Die Tabelle:\n| a | b |\n|---|---|") == (
        "Die Tabelle:\n| a | b |\n|---|---|"
    )


@pytest.mark.parametrize(
    "html",
    [
        "<div>\nInhalt\nweiter\n</div>\n",
        "<!-- Hinweis\nfür die\n\nModeration -->\n",
        "<table>\n<tr><td>a</td></tr>\n</table>\n",
        "<script>\nlet a\n\nlet b\n</script>\n",
        '<p class="x">\nText\n</p>\n',
    ],
)
def test_html_blocks_are_kept_as_they_are(html: str) -> None:
    assert join_soft_breaks(f"Davor\nText\n{html}\nDanach\nText") == (
        f"Davor Text\n{html}\nDanach Text"
    )


def test_an_html_comment_on_one_line_ends_there() -> None:
    assert join_soft_breaks("<!-- Hinweis -->\nText\nweiter") == "<!-- Hinweis -->\nText weiter"


def test_inline_html_and_autolinks_at_a_line_start_are_text() -> None:
    # A lone inline tag (CommonMark's HTML block kind 7) cannot interrupt a paragraph.
    assert join_soft_breaks("Mehr unter\n<https://mitz.example>\nund\n<br>") == (
        "Mehr unter <https://mitz.example> und <br>"
    )


# --- the sample -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SAMPLES, ids=["demo", "shared"])
def test_the_sample_has_each_paragraph_on_one_line_and_its_blocks_apart(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{path} is not here")
    original = path.read_text(encoding="utf-8")

    joined = join_soft_breaks(original)

    lines = joined.split("\n")
    headings = [line for line in original.split("\n") if line.startswith("#")]
    assert [line for line in lines if line.startswith("#")] == headings
    assert sum(1 for line in lines if line.startswith("- ")) == 4
    assert [line[:3] for line in lines if re.match(r"\d\. ", line)] == [
        "1. ",
        "2. ",
        "3. ",
        "4. ",
        "5. ",
    ]
    for block in joined.split("\n\n"):
        block_lines = [line for line in block.split("\n") if line]
        if len(block_lines) > 1:  # only a list has several lines: one per item
            assert all(re.match(r"(- |\d\. )", line) for line in block_lines), block
    for line in lines:  # no line stops mid-sentence
        assert not line or line.startswith("#") or line.endswith((".", ":", "*", "2021")), line
    assert (
        "Die unterzeichnenden Bürgermeisterinnen und Bürgermeister bekennen sich zum Ziel des "
        "Onlinezugangsgesetzes (OZG), Verwaltungsleistungen für"
    ) in joined
    assert "".join(joined.split()) == "".join(original.split())
    assert joined.endswith("Merseburg, im Dezember 2021\n")


# --- properties -------------------------------------------------------------------------------

#: Pieces that make lines look like every kind of block, and words between them.
PIECES = [
    *["", " ", "  ", "    ", "\t", "\\", "\r", "\r\n", "\xa0"],
    *["- ", "* ", "+ ", "-", "*", "1. ", "2. ", "1) ", "> ", ">", "# ", "#", "###### "],
    *["```", "~~~", "`", "---", "***", "___", "===", "=", "_", "|", "| a |", "--|--", "|---|"],
    *["<div>", "</div>", "<br>", "<a", "b>", "<!--", "-->", "<script>", "</script>", "<?", "?>"],
    *["Die Kommunen", "erklären.", "Bund", "und Land", "3. Dezember", "a", "ä", "😀"],
]
LINES = st.lists(st.sampled_from(PIECES), max_size=5).map("".join)
MARKDOWN = st.lists(LINES, max_size=14).map("\n".join)


@settings(max_examples=400, deadline=None)
@given(MARKDOWN)
def test_joining_twice_changes_nothing_more(markdown: str) -> None:
    once = join_soft_breaks(markdown)
    assert join_soft_breaks(once) == once


@settings(max_examples=400, deadline=None)
@given(st.one_of(MARKDOWN, st.text()))
def test_only_whitespace_changes(markdown: str) -> None:
    joined = join_soft_breaks(markdown)
    assert "".join(joined.split()) == "".join(markdown.split())
    assert joined.count("\n") <= markdown.count("\n") + markdown.count("\r")
