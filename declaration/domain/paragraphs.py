"""Imported Markdown gets one line per paragraph: soft-wrapped lines are joined.

Why: Markdown files are often wrapped at 80 or 100 characters. Markdown itself reads such a
line break inside a paragraph as a space (a *soft* break), but the editor shows the stored
text line by line, numbers its paragraphs and anchors comments to them; a wrapped
paragraph would appear broken mid-sentence and its numbers and comments would refer to
half sentences. So a text is joined once, when a declaration is created from it, the way
CommonMark reads it (`join_soft_breaks`); what is stored afterwards is edited as it is.

The rules, CommonMark-faithful for what people write in declarations:

- The lines of one paragraph are joined with one space: the trailing spaces and tabs of
  the earlier line and the leading indentation of the later one go.
- A *hard* line break stays a line break, in the form it was written: a line ending in two
  or more spaces keeps them and a line ending in a backslash keeps it. Dropping the
  spaces would turn the break into a soft one, which the next import would join (the
  function must be idempotent) and Markdown would render as a space.
- Lines that start a block are never joined to the line before: ATX headings, block
  quotes (so ``> a`` and ``> b`` stay two lines: joining them would have to drop a
  ``>``), list items, thematic breaks, setext underlines (any line of only ``-``, ``*``,
  ``_`` and ``=`` stays on its own), table rows (a line starting with ``|``, a delimiter
  row, the header row above one), fenced code, and HTML blocks (CommonMark's seven kinds;
  kinds 1 to 6 interrupt a paragraph, kind 7, a lone tag, does not).
- As in CommonMark, an ordered item that does not start with 1, or an empty item, does
  not interrupt a paragraph at the top level: "am\\n3. Dezember" is one paragraph. Inside
  a list or a quote it starts a new item.
- A lazy continuation line of a list item or a block quote joins into it: "- Erster
  Punkt, der\\n  weitergeht" becomes "- Erster Punkt, der weitergeht".
- Fenced code, HTML blocks, indented code (four or more columns deeper than the list
  item it is in, not inside a paragraph) and tables (up to the next blank line) are kept
  byte for byte. Blank lines stay as they are.
- ``\\r\\n`` and ``\\r`` become ``\\n``; the text ends as it ended (with or without a
  newline).

Where CommonMark's reading is uncertain from line to line, the function leaves the lines
as they are: a line not joined is only a line too many, a line wrongly joined would change
code or a table. A pass is repeated until it joins nothing more, so the result is stable
(``join_soft_breaks(join_soft_breaks(x)) == join_soft_breaks(x)``) even where a joined line
reads differently from its parts. Only spaces, tabs and line breaks ever change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

_TAB: Final = 4

_ATX: Final = re.compile(r"#{1,6}(?: |$)")
#: Thematic breaks, setext underlines and lone markers: only ``-*_=`` and spaces.
_RULE_LIKE: Final = re.compile(r"[-*_=][-*_= ]*$")
_LIST_MARKER: Final = re.compile(r"(?:[-*+]|(\d{1,9})[.)])(?= |$)")
_FENCE_OPEN: Final = re.compile(r"(`{3,})[^`]*$|(~{3,})")
_FENCE_CLOSE: Final = re.compile(r"(`{3,}|~{3,}) *$")
_DELIMITER_ROW: Final = re.compile(r"\|? *:?-+:? *(?:\| *:?-+:? *)*\|? *$")

_TAG_NAME: Final = r"[A-Za-z][A-Za-z0-9-]*"
_ATTRIBUTE: Final = r"(?: +[A-Za-z_:][A-Za-z0-9_.:-]*(?: *= *(?:[^ \"'=<>`]+|'[^']*'|\"[^\"]*\"))?)"
#: CommonMark's HTML blocks of kinds 1 to 5: how they start and what ends them.
_HTML_WITH_END: Final = (
    (
        re.compile(r"<(?:script|pre|style|textarea)(?: |>|$)", re.IGNORECASE),
        re.compile(r"</(?:script|pre|style|textarea)>", re.IGNORECASE),
    ),
    (re.compile(r"<!--"), re.compile(r"-->")),
    (re.compile(r"<\?"), re.compile(r"\?>")),
    (re.compile(r"<![A-Za-z]"), re.compile(r">")),
    (re.compile(r"<!\[CDATA\["), re.compile(r"\]\]>")),
)
#: Kind 6: block-level tags; the block ends at a blank line.
_HTML_BLOCK_TAG: Final = re.compile(
    r"</?(?:address|article|aside|base|basefont|blockquote|body|caption|center|col|colgroup|"
    r"dd|details|dialog|dir|div|dl|dt|fieldset|figcaption|figure|footer|form|frame|frameset|"
    r"h[1-6]|head|header|hr|html|iframe|legend|li|link|main|menu|menuitem|nav|noframes|ol|"
    r"optgroup|option|p|param|search|section|summary|table|tbody|td|tfoot|th|thead|title|tr|"
    r"track|ul)(?: |/?>|$)",
    re.IGNORECASE,
)
#: Kind 7: any complete opening or closing tag alone on its line.
_HTML_LONE_TAG: Final = re.compile(rf"(?:<{_TAG_NAME}{_ATTRIBUTE}* */?>|</{_TAG_NAME} *>) *$")


def join_soft_breaks(markdown: str) -> str:
    """Return ``markdown`` with each paragraph's soft-wrapped lines joined into one line.

    See the module's description for the rules and why.
    """
    lines = markdown.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while True:
        joined = _join_pass(lines)
        if len(joined) == len(lines):  # a pass only ever joins lines
            return "\n".join(joined)
        lines = joined


@dataclass
class _Paragraph:
    """The open paragraph, which a following line may continue."""

    container: str  # "plain", "list" or "quote": where its first line stands
    indent: int  # the columns its first line is indented by
    hard: bool  # its last line ends in a hard line break


@dataclass(frozen=True)
class _Fence:
    """An open fenced code block."""

    char: str
    length: int
    base: int  # the column its container's content starts at (after any quote markers)
    quotes: int  # the block quotes it stands in

    def closes(self, inner: str) -> bool:
        stripped = inner.lstrip(" ")
        match = _FENCE_CLOSE.match(stripped)
        return (
            match is not None
            and match.group(1)[0] == self.char
            and len(match.group(1)) >= self.length
            and len(inner) - len(stripped) <= self.base + 3
        )


@dataclass(frozen=True)
class _HtmlBlock:
    """An open HTML block: ``end`` None means it ends at a blank line."""

    end: re.Pattern[str] | None
    quotes: int

    def closes(self, inner: str) -> bool:
        return not inner.strip() if self.end is None else self.end.search(inner) is not None


def _join_pass(lines: list[str]) -> list[str]:
    """Join each paragraph's continuation lines once; the lines are without ``\\n``."""
    # Lines are classified with tabs expanded to CommonMark's tab stops; output keeps them.
    columns = [line.expandtabs(_TAB) for line in lines]
    out: list[str] = []
    paragraph: _Paragraph | None = None
    raw: _Fence | _HtmlBlock | None = None  # kept byte for byte until it closes
    code_base: int | None = None  # an indented code block, indented from this column
    table = False  # a table, which runs to the next blank line
    item_content: int | None = None  # where the content of the open list item starts
    for number, line in enumerate(lines):
        work = columns[number]
        following = columns[number + 1] if number + 1 < len(columns) else ""
        if raw is not None:
            inner = _inside_quotes(work, raw.quotes)
            if inner is not None:
                out.append(line)
                if raw.closes(inner):
                    raw = None
                continue
            raw = None  # the quote it stood in has ended
        if not work.strip(" "):
            out.append(line)
            paragraph = None
            table = False
            continue
        indent = len(work) - len(work.lstrip(" "))
        if code_base is not None:
            if indent >= code_base + 4:
                out.append(line)
                continue
            code_base = None
        if table:
            out.append(line)
            continue
        if paragraph is not None and not _interrupts(work, following, paragraph):
            if paragraph.hard:
                out.append(line)
            else:
                out[-1] = out[-1].rstrip(" \t") + " " + line.lstrip(" \t")
            paragraph.hard = _ends_in_hard_break(line)
            continue

        # A new block starts on this line.
        out.append(line)
        paragraph = None
        if indent >= (item_content or 0) + 4:
            code_base = item_content or 0
            continue
        inner, quotes, base, content = _strip_containers(work)
        if content is not None:
            item_content = content
        elif item_content is not None and indent < item_content:
            item_content = None
        stripped = inner.lstrip(" ")
        bare = quotes == 0 and content is None  # no container marker on this line
        if not stripped or (not bare and len(inner) - len(stripped) >= 4):
            continue  # an empty container, or one starting with indented code
        fence = _FENCE_OPEN.match(stripped)
        if fence is not None:
            marker = fence.group(1) or fence.group(2)
            if bare:  # in the list item it is indented into, if any
                base = item_content or 0
            raw = _Fence(marker[0], len(marker), base, quotes)
            continue
        html = _html_block(stripped, quotes, interrupting=False)
        if html is not None:
            # Kinds 1 to 5 may end on the line they start on ("<!-- Hinweis -->").
            if html.end is None or html.end.search(stripped, 2) is None:
                raw = html
            continue
        if _ATX.match(stripped) or _RULE_LIKE.match(stripped):
            continue
        if (
            stripped.startswith("|")
            or _is_delimiter_row(stripped)
            or _heads_table(stripped, following)
        ):
            table = bare
            continue
        container = "plain" if bare else "quote" if quotes else "list"
        paragraph = _Paragraph(container, indent, _ends_in_hard_break(line))
    return out


def _interrupts(work: str, following: str, paragraph: _Paragraph) -> bool:
    """Whether the line ``work`` starts a block instead of continuing ``paragraph``.

    Indentation is not looked at: where CommonMark would read a deeply indented marker
    as text, the line is only left unjoined.
    """
    stripped = work.lstrip(" ")
    if stripped.startswith((">", "|")) or _RULE_LIKE.match(stripped):
        return True
    if _ATX.match(stripped) or _FENCE_OPEN.match(stripped):
        return True
    item = _LIST_MARKER.match(stripped)
    if item is not None:
        empty = not stripped[item.end() :].strip(" ")
        starts_at_one = item.group(1) is None or int(item.group(1)) == 1
        top_level = paragraph.container == "plain" and paragraph.indent == 0
        return not (top_level and (empty or not starts_at_one))
    if _html_block(stripped, 0, interrupting=True) is not None:
        return True
    return _is_delimiter_row(stripped) or _heads_table(stripped, following)


def _strip_containers(work: str) -> tuple[str, int, int, int | None]:
    """Split the block quote markers and list item markers off the start of ``work``.

    Returns what is left, the number of quote markers, the column the innermost
    container's content starts at (counted after the quote markers), and the column a
    list item's content starts at when the line opens one outside any quote (else None).
    """
    position = 0
    quotes = 0
    after_quotes = 0
    base = 0
    content: int | None = None
    while True:
        rest = work[position:]
        stripped = rest.lstrip(" ")
        lead = len(rest) - len(stripped)
        if stripped.startswith(">"):
            position += lead + 1
            if work[position : position + 1] == " ":
                position += 1
            quotes += 1
            after_quotes = position
            base = 0
            content = None
            continue
        if _RULE_LIKE.match(stripped):
            break
        item = _LIST_MARKER.match(stripped)
        if item is None:
            break
        marker_end = position + lead + item.end()
        after = work[marker_end:]
        spaces = len(after) - len(after.lstrip(" "))
        position = marker_end + (spaces if 1 <= spaces <= 4 and after.strip(" ") else 1)
        position = min(position, len(work))
        base = position - after_quotes
        if quotes == 0:
            content = position
    return work[position:], quotes, base, content


def _inside_quotes(work: str, quotes: int) -> str | None:
    """Return ``work`` without its first ``quotes`` quote markers, or None if it has fewer."""
    position = 0
    for _ in range(quotes):
        rest = work[position:]
        stripped = rest.lstrip(" ")
        if not stripped.startswith(">"):
            return None
        position += len(rest) - len(stripped) + 1
        if work[position : position + 1] == " ":
            position += 1
    return work[position:]


def _html_block(stripped: str, quotes: int, *, interrupting: bool) -> _HtmlBlock | None:
    """Return the HTML block the line ``stripped`` starts, or None if it starts none.

    A lone tag (kind 7) cannot interrupt a paragraph: "<br>" after a text line continues it.
    """
    for start, end in _HTML_WITH_END:
        if start.match(stripped):
            return _HtmlBlock(end, quotes)
    if _HTML_BLOCK_TAG.match(stripped) or (not interrupting and _HTML_LONE_TAG.match(stripped)):
        return _HtmlBlock(None, quotes)
    return None


def _heads_table(stripped: str, following: str) -> bool:
    """Whether ``stripped`` is the header row of a table whose delimiter row follows."""
    return "|" in stripped and _is_delimiter_row(following.strip(" "))


def _is_delimiter_row(stripped: str) -> bool:
    return "|" in stripped and _DELIMITER_ROW.match(stripped) is not None


def _ends_in_hard_break(line: str) -> bool:
    """Whether ``line`` ends in a hard line break: two spaces, or an unescaped backslash."""
    if line.endswith("  "):
        return True
    backslashes = len(line) - len(line.rstrip("\\"))
    return backslashes % 2 == 1
