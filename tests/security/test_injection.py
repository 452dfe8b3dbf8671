"""Injection: the corpus through every place user text appears, and nothing runs anywhere.

One hostile declaration (`hostile_world`) goes from its first draft through comments,
the addressee, sign-offs, approval, sending and publication to its withdrawal, with every
payload in every field people fill in. The pages, JSON answers, live answers, files and
mails it produced are then read: no page holds markup that could run, load or navigate
other than the application's own, every typed text is shown as the text it was (so
nothing was interpreted), JSON is JSON, exports print the text, and mails are plain text
with headers of one line.
"""

from __future__ import annotations

import html
import io
import json
import re
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from typing import Any

import pytest
from lxml import etree

from declaration import create_app
from declaration.db import get_database
from declaration.domain import export as rendering
from declaration.domain import letter as letters
from declaration.domain import manifest as manifests
from declaration.domain.documents import pdf
from declaration.mailer import MailSettings, _message
from declaration.services import declarations
from tests.conftest import PUBLIC_BASE, _empty_all_tables
from tests.security import hostile_world as hostile
from tests.security.hostile_world import Capture, World
from tests.security.xss_payloads import (
    ALL,
    MULTILINE_PAYLOADS,
    PAYLOADS,
    as_stored,
    data_block,
    executable_markup,
    missing,
    squeeze,
    visible_texts,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The hostile declaration, built once for the module (its pages kept)."""
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": str(tmp_path_factory.mktemp("injection")),
            "SECRET_KEY": "test-secret",
            "PUBLIC_BASE_URL": PUBLIC_BASE,
            "MAIL_SERVER": None,
            "SOCKETIO_ASYNC_MODE": "threading",
        }
    )
    try:
        yield hostile.build(app)
    finally:
        database = app.extensions["declaration.db"]
        _empty_all_tables(database.engine)
        database.dispose()


def one_line(values: list[str]) -> list[str]:
    return [as_stored(v) for v in values]


def html_pages(world: World) -> list[Capture]:
    files = {id(c) for c in world.files}
    return [c for c in world.pages if c.content_type.startswith("text/html") and id(c) not in files]


def stored_text(world: World) -> str:
    with world.app.app_context(), get_database().transaction() as s:
        from declaration.services import drafts

        return drafts.head_text(s, declarations.by_key(s, world.key))


# -- the corpus ----------------------------------------------------------------------------


def test_the_corpus_holds_over_a_hundred_distinct_payloads():
    assert len(set(ALL)) == len(ALL) >= 100
    numbers = [int(n) for p in ALL for n in re.findall(r"alert[(`](\d+)", p)]
    assert len(set(numbers)) >= 100


def test_the_checks_find_every_payload_that_makes_markup_when_it_is_not_escaped():
    """Written into a page unescaped, each payload that opens a tag, or breaks out of an
    attribute, is reported: as markup that could run, or as not shown as typed."""

    def reported(page: str, payload: str) -> bool:
        shown = missing(visible_texts(page), [as_stored(payload, one_line=False)])
        return bool(executable_markup(page) or shown)

    for payload in ALL:
        if re.search(r"<[A-Za-z!/?]", payload):
            assert reported(f"<!doctype html><p>{payload}</p>", payload), payload
        if '"' in payload:
            assert reported(f'<!doctype html><input value="{payload}">', payload), payload
        escaped = html.escape(payload)
        assert not reported(f"<!doctype html><p>{escaped}</p>", payload), payload
        assert not reported(f'<!doctype html><input value="{escaped}">', payload), payload


def test_every_payload_was_accepted_where_people_type(world):
    text = stored_text(world)
    assert missing(squeeze(text), [as_stored(p, one_line=False) for p in ALL]) == []
    threads = dict(world.answers)["comments"]["comments"]
    bodies = {t["body"] for t in threads if t["body"] is not None}
    shown = [as_stored(p, one_line=False).strip() for p in ALL]
    hidden = len(hostile.HIDE_REASONS)
    assert [b for b in shown[:-hidden] if b not in bodies] == []


# -- pages ---------------------------------------------------------------------------------


def test_no_page_holds_markup_that_could_run(world):
    pages = html_pages(world)
    assert len(pages) > 300
    found = {f"{c.name} ({c.path[:60]})": executable_markup(c.text) for c in pages}
    assert {name: problems for name, problems in found.items() if problems} == {}


def test_html_responses_are_answered_as_html_with_a_strict_policy(world):
    for capture in html_pages(world):
        policy_header = capture.headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in policy_header, capture.name
        assert "'unsafe-inline'" not in policy_header.split("style-src")[0], capture.name
        assert capture.headers.get("X-Content-Type-Options") == "nosniff", capture.name


def expect_visible(capture: Capture, expected: list[str]) -> None:
    assert capture.status < 500, capture.name
    absent = missing(visible_texts(capture.text), expected)
    assert absent == [], f"{capture.name}: not shown as typed: {absent[:3]!r}"


def test_the_editor_shows_title_people_and_text_as_typed(world):
    people = [world.moderator, *world.people]
    expected = [as_stored(hostile.TITLES[0])]
    for person in people:
        expected += [as_stored(person.name), as_stored(person.office)]
        expected += [as_stored(person.municipality)]
    expected += [as_stored(p, one_line=False) for p in ALL]
    for capture in world.captured("main editor"):
        expect_visible(capture, expected)
        assert data_block(capture.text, "initial-text") == stored_text(world)
        assert isinstance(data_block(capture.text, "editor-strings"), dict)


def test_history_comparison_and_activity_show_names_labels_and_text_as_typed(world):
    labels = one_line(hostile.LABELS)
    editors = [world.moderator, *world.mayors]
    names = [as_stored(e.name) for e in editors] + [as_stored(e.municipality) for e in editors]
    for capture in world.captured("main history"):
        expect_visible(capture, [*labels, *names, as_stored(hostile.TITLES[0])])
    for capture in world.captured("main activity"):
        expect_visible(capture, [as_stored(p.name) for p in [world.moderator, *world.mayors]])
    text = [as_stored(p, one_line=False) for p in ALL]
    compared = world.captured("main compare 0-")
    assert compared
    for capture in compared:
        if capture.name.endswith("nebeneinander"):
            expect_visible(capture, text)
    threads = [c for c in world.captured("main compare") if "Kommentare zu" in c.text]
    assert threads
    authors = [as_stored(p.name) for p in [world.moderator, *world.people]]
    for capture in threads:
        expect_visible(capture, [*authors, *[as_stored(p, one_line=False) for p in PAYLOADS[:-1]]])


def test_participants_page_and_its_messages_show_names_and_addresses_as_typed(world):
    for capture in world.captured("participants "):
        assert capture.status == 200
    last = world.page("main participants")
    expected = []
    for person in world.people:
        expected += [as_stored(person.name), as_stored(person.office)]
        expected += [as_stored(person.municipality), person.email.lower()]
    expect_visible(last, expected)
    flashed = world.page("participants 7")
    expect_visible(flashed, [f"{as_stored(world.people[6].name)} ist eingeladen."])


def test_refused_forms_show_the_values_typed_again_as_text(world):
    created = world.page("create refused")
    assert created.status == 422
    text = hostile.TEXT.replace("\r\n", "\n")
    expect_visible(
        created,
        [
            as_stored(hostile.TITLES[0]),
            as_stored(hostile.DESCRIPTIONS[0], one_line=False),
            as_stored(hostile.PLACES[0]),
            as_stored(text, one_line=False),
        ],
    )
    invited = world.page("invite refused")
    assert invited.status == 422
    expect_visible(invited, one_line(hostile.NAMES[3:6]))
    for capture in world.captured("password login") + world.captured("link request"):
        assert capture.status in (200, 422, 429), capture.name
        assert executable_markup(capture.text) == []


def test_passkey_names_are_shown_as_typed(world):
    pages = world.captured("passkeys|")
    assert len(pages) == len(hostile.PASSKEY_NAMES)
    for capture in pages:
        expect_visible(capture, [as_stored(capture.name.split("|", 1)[1])])


def test_every_title_and_description_is_shown_as_typed(world):
    overview = world.page("overview")
    expect_visible(overview, one_line(hostile.TITLES[:-1]))
    expect_visible(overview, [as_stored(d, one_line=False) for d in hostile.DESCRIPTIONS])
    for index, _key in enumerate(world.extra_keys, start=2):
        for capture in world.captured(f"extra {index} "):
            expect_visible(capture, [as_stored(hostile.TITLES[index])])


def test_the_outbox_shows_subjects_recipients_and_bodies_as_text(world):
    outbox = world.page("outbox")
    mails = world.mails()
    assert len(mails) > len(world.people)
    expect_visible(outbox, [m.subject for m in mails[:20]])


def block_texts(letter: letters.Letter) -> list[str]:
    """Return the text of every line of the letter's blocks as a page shows it."""
    return [letters.plain(item) for block in letter.blocks for item in block.items]


def test_the_publication_shows_the_letter_as_text(world):
    page = world.page("published publication")
    assert page.status == 200
    envelope = json.loads(
        next(
            c
            for c in world.files
            if c.name.startswith("official") and c.path.endswith(".pdf.manifest.json")
        ).body
    )
    letter = rendering.letter_of(envelope["manifest"], "x")
    expected = [letter.title, letter.place_and_date, *letter.signatories, *block_texts(letter)]
    assert letter.addressee_name is not None
    expected += [letter.addressee_name, *letter.addressee_lines]
    expect_visible(page, expected)
    assert len(letter.signatories) == len(world.signers)


def test_a_withdrawn_publication_shows_its_reason_as_text(world):
    for index, reason in enumerate(hostile.REASONS):
        page = world.page(f"withdrawn {index} publication")
        assert page.status == 410
        expect_visible(page, [as_stored(reason, one_line=False)])
        summary = world.page(f"withdrawn {index} publication.json")
        assert summary.status == 410 and summary.content_type == "application/json"
        stored = as_stored(reason, one_line=False).strip()
        assert json.loads(summary.body)["withdrawn"]["reason"] == stored
        expect_visible(world.page(f"editor withdrawn {index}"), [squeeze(reason)])


# -- JSON and live answers -----------------------------------------------------------------


def test_json_answers_are_json_and_carry_the_text_unchanged(world):
    captured = [
        c
        for c in world.pages
        if ".json" in c.path and not c.name.startswith(("final", "draft", "official"))
    ]
    assert len(captured) >= 10
    for capture in captured:
        assert capture.content_type == "application/json", capture.name
        assert capture.headers.get("X-Content-Type-Options") == "nosniff", capture.name
        json.loads(capture.body)
    published = json.loads(world.page("published publication.json").body)
    assert published["title"] == as_stored(hostile.TITLES[0])
    authorship = json.loads(world.page("main authorship.json moderator").body)
    people = {as_stored(p.name) for p in [world.moderator, *world.people]}
    names = {span["name"] for span in authorship["spans"]}
    assert names & people
    assert {n for n in names if "<" in n} <= people


def test_live_answers_carry_what_people_typed_as_data(world):
    """The socket answers hold the typed texts as they are: no markup, no HTML escapes."""
    board = dict(world.answers)["status"]
    options = {o["name"] for o in board["addressee_options"]}
    assert set(one_line(hostile.OPTION_NAMES)) <= options
    threads = dict(world.answers)["comments"]["comments"]
    bodies = {t["body"] for t in threads} | {r["body"] for t in threads for r in t["replies"]}
    assert {as_stored(r, one_line=False).strip() for r in hostile.REPLIES} <= bodies
    assert {as_stored(p, one_line=False).strip() for p in PAYLOADS[:-1]} <= bodies
    escaped = [html.escape(p) for p in PAYLOADS if "&" not in p and html.escape(p) != p]
    for event, answer in world.answers:
        data = json.dumps(answer, ensure_ascii=False)
        assert [e for e in escaped if e in data] == [], event


# -- files ---------------------------------------------------------------------------------


def files_of(world: World, ending: str) -> list[Capture]:
    found = [c for c in world.files if c.path.endswith(ending)]
    assert found, ending
    return found


def manifest_of(world: World, capture: Capture) -> dict[str, Any]:
    twin = next(c for c in world.files if c.path == f"{capture.path}.manifest.json")
    return json.loads(twin.body)


def test_files_are_attachments_that_run_nothing_if_opened(world):
    for capture in world.files:
        assert capture.status == 200, capture.name
        assert capture.headers["Content-Disposition"].startswith("attachment;"), capture.name
        assert capture.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in capture.headers["Content-Security-Policy"]
        assert "default-src 'none'" in capture.headers["Content-Security-Policy"]


def test_html_exports_hold_no_markup_of_their_own_text_and_show_it(world):
    for capture in files_of(world, ".html"):
        page = capture.text
        assert executable_markup(page, export=True) == [], capture.name
        letter = rendering.letter_of(manifest_of(world, capture)["manifest"], "x")
        expected = [letter.title, letter.place_and_date, *letter.signatories]
        expected += [*block_texts(letter), *letters.appendix_lines(letter)]
        expect_visible(capture, expected)


def markdown_problems(document: str) -> list[str]:
    """Return markup in the head and closing of a Markdown export (the text is as stored)."""
    parts = rendering._markdown_parts(document)
    assert parts is not None
    head, _text, closing = parts
    found = []
    for part, what in ((head, "head"), (closing, "closing")):
        plain = re.sub(r"\\.", "", part.replace(letters.HOW_TO_VERIFY, ""))
        for mark in ("<", ">", "[", "](", "`"):
            if mark in plain:
                found.append(f"{what}: unescaped {mark!r}")
    return found


def test_markdown_exports_print_every_added_field_as_text(world):
    for capture in files_of(world, ".md"):
        assert markdown_problems(capture.text) == [], capture.name
        envelope = manifest_of(world, capture)
        checks = rendering.verify_export("md", capture.body, envelope)
        assert all(c.ok for c in checks), [c.text for c in checks if not c.ok]


OFFICE_NS = {
    "w": "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "xlink": "http://www.w3.org/1999/xlink",
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
}


W_INSTR = f"{{{OFFICE_NS['w']}}}instr"
XLINK_HREF = f"{{{OFFICE_NS['xlink']}}}href"


def office_problems(data: bytes) -> list[str]:
    """Return links, fields, scripts, objects and external references in an office file."""
    found = []
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        for name in package.namelist():
            lower = name.lower()
            if lower.endswith((".bin", ".js", ".vbs")) or "vba" in lower or "/scripts" in lower:
                found.append(f"{name}: executable part")
            if not lower.endswith((".xml", ".rels")):
                continue
            root = etree.fromstring(package.read(name), etree.XMLParser(resolve_entities=False))
            for element in root.iter():
                if not isinstance(element.tag, str):
                    continue
                local = etree.QName(element).localname
                if element.get("TargetMode", "").lower() == "external":
                    found.append(f"{name}: external {element.get('Target')}")
                if local in ("hyperlink", "altChunk", "object", "control", "script", "a"):
                    found.append(f"{name}: <{local}>")
                if local == "fldSimple":
                    found.append(f"{name}: field {element.get(W_INSTR)}")
                if local == "instrText" and (element.text or "").strip() not in (
                    "PAGE",
                    "NUMPAGES",
                ):
                    found.append(f"{name}: field {element.text!r}")
                href = element.get(XLINK_HREF)
                if href is not None and name != "META-INF/manifest.xml":
                    found.append(f"{name}: xlink:href {href!r}")
    return found


@pytest.mark.parametrize("ending", [".docx", ".odt"])
def test_office_exports_hold_text_and_nothing_that_runs_or_links(world, ending):
    file_format = ending[1:]
    for capture in files_of(world, ending):
        assert office_problems(capture.body) == [], capture.name
        checks = rendering.verify_export(file_format, capture.body, manifest_of(world, capture))
        assert all(c.ok for c in checks), [c.text for c in checks if not c.ok]


#: What a PDF may not hold: scripts, actions that open, send or fetch, links out.
PDF_ACTIONS = frozenset(
    {
        "/JavaScript", "/JS", "/Launch", "/URI", "/SubmitForm", "/ImportData", "/GoToR",
        "/GoToE", "/OpenAction", "/AA", "/RichMedia", "/XFA", "/Movie", "/Sound",
    }
)  # fmt: skip


def pdf_problems(data: bytes) -> list[str]:
    """Return every object of the PDF that holds a script, an action or a link out."""
    from pypdf import PdfReader
    from pypdf.generic import DictionaryObject, IndirectObject

    reader = PdfReader(io.BytesIO(data))
    found = []
    for number in range(1, int(reader.trailer["/Size"])):
        try:
            item = reader.get_object(IndirectObject(number, 0, reader))
        except Exception:  # a free entry of the cross-reference table
            continue
        if isinstance(item, DictionaryObject):
            found += [f"object {number}: {key}" for key in item if key in PDF_ACTIONS]
            if item.get("/S") in PDF_ACTIONS:
                found.append(f"object {number}: action {item.get('/S')}")
    return found


def test_pdf_exports_hold_no_action_and_only_their_manifest(world):
    for capture in files_of(world, ".pdf"):
        assert pdf_problems(capture.body) == [], capture.name
        assert list(pdf.embedded_files(capture.body)) == [pdf.MANIFEST_NAME]
        inside = json.loads(pdf.embedded_files(capture.body)[pdf.MANIFEST_NAME])["manifest"]
        beside = manifest_of(world, capture)["manifest"]
        assert inside["content_hash"] == beside["content_hash"], capture.name


@pytest.mark.xfail(
    strict=True,
    reason="A fullwidth character (such as U+FF1C) makes WeasyPrint encode the text font "
    "with a CMap of its own, which pypdf reads as garbage: the PDF's text no longer "
    "verifies. Not an injection; kept here until the PDF export reads such files.",
)
def test_pdf_exports_print_the_text_the_manifest_holds(world):
    for capture in files_of(world, ".pdf"):
        checks = rendering.verify_pdf(capture.body, manifest_of(world, capture))
        assert all(c.ok for c in checks), [c.text for c in checks if not c.ok]


# -- every letter field with every payload -------------------------------------------------


def hostile_manifests(world: World) -> Iterator[dict[str, Any]]:
    """The published manifest with each packing of the corpus in each field a letter prints.

    Titles, places and addressees hold one value per letter, so there is a letter for
    each of their values; signatories and open comments take the whole corpus in the
    first two letters (a draft and a final one), one of them each in the others.
    """
    official = next(c for c in world.files if c.path.endswith(".md.manifest.json"))
    base = json.loads(official.body)["manifest"]
    entry = base["sign_offs"][0]
    sign_offs = [
        {**entry, "name": hostile.NAMES[i], "office": hostile.NAMES[-1 - i], "municipality": n}
        for i, n in enumerate(hostile.NAMES)
    ]
    moment = datetime(2026, 3, 1, tzinfo=UTC).isoformat()
    comments = [
        {
            "quote": payload,
            "paragraph": None,
            "author": hostile.NAMES[i % len(hostile.NAMES)],
            "at": moment,
            "body": payload,
            "replies": [{"author": payload, "at": moment, "body": payload}],
        }
        for i, payload in enumerate(ALL)
    ]
    count = max(len(hostile.PLACES), len(hostile.TITLES), len(hostile.OPTION_NAMES))
    for index in range(count):
        draft = index % 2 == 0
        # The long lists once each, in a draft and in a final letter; short ones after.
        full = index < 2
        yield {
            **base,
            "approval": manifests.DRAFT if draft else base["approval"],
            "declaration": {
                **base["declaration"],
                "title": hostile.TITLES[index % len(hostile.TITLES)],
                "place": hostile.PLACES[index % len(hostile.PLACES)],
            },
            "addressee": {
                "name": hostile.OPTION_NAMES[index % len(hostile.OPTION_NAMES)],
                "address": hostile.ADDRESSES[index % len(hostile.ADDRESSES)],
            },
            "text": "\n\n".join(MULTILINE_PAYLOADS[: 1 + index % len(MULTILINE_PAYLOADS)]),
            "sign_offs": sign_offs if full else sign_offs[index % len(sign_offs) :][:1],
            "draft_extras": {
                "paragraph_numbers": True,
                "open_comments": comments if full else comments[index % len(comments) :][:1],
            }
            if draft
            else None,
        }


def test_every_letter_field_with_every_payload_is_printed_as_text(world):
    """HTML, the PDF's HTML and Markdown for every letter; Word and OpenDocument, whose
    XML the libraries write (python-docx, odfdo), for the full letters and a sample."""
    for index, manifest in enumerate(hostile_manifests(world)):
        letter = rendering.letter_of(manifest, "fingerprint")
        expected = [letter.title, letter.place_and_date, *letter.signatories]
        expected += [*block_texts(letter), *letters.appendix_lines(letter)]
        page = rendering.render(rendering.HTML, manifest, "fingerprint").decode()
        assert executable_markup(page, export=True) == []
        assert missing(visible_texts(page), expected) == []
        printed = pdf.letter_html(letter)
        assert executable_markup(printed) == []
        assert missing(visible_texts(printed), expected) == []
        markdown = rendering.render(rendering.MARKDOWN, manifest, "fingerprint")
        assert markdown_problems(markdown.decode()) == []
        assert all(c.ok for c in rendering.verify_printed("md", letter, markdown))
        if index >= 2 and index % 7:
            continue
        for file_format in ("docx", "odt"):
            data = rendering.render(file_format, manifest, "fingerprint")
            assert office_problems(data) == [], file_format
            checks = rendering.verify_printed(file_format, letter, data)
            assert all(c.ok for c in checks), [c.text for c in checks if not c.ok]


# -- mails ---------------------------------------------------------------------------------


def test_mails_are_plain_text_with_headers_of_one_line_to_the_address_shown(world):
    settings = MailSettings.from_config(world.app.config)
    mails = world.mails()
    assert mails
    for mail in mails:
        message = _message(mail, settings, None)
        parsed = BytesParser(policy=policy.default).parsebytes(message.as_bytes())
        assert parsed.get_content_type() == "text/plain", mail.id
        assert parsed["Bcc"] is None and parsed["X-Injected"] is None, mail.id
        assert [a.addr_spec for a in parsed["To"].addresses] == [mail.recipient], mail.id
        assert "\n" not in str(parsed["Subject"]), mail.id
        assert parsed.get_content().rstrip("\n") == mail.body.rstrip("\n"), mail.id
