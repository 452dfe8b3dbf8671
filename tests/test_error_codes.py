"""The refusing codes are one set: in Python, in the browser editor and in the protocol doc.

A code that one client retries and the other drops would make the two disagree about what
happened to a batch; a code that no refusal raises would be a rule about nothing.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import declaration
from declaration import client
from declaration.domain.errors import REFUSING_CODES, DomainError

ROOT = Path(__file__).resolve().parent.parent
SYNC_JS = ROOT / "static" / "src" / "editor" / "sync.js"
PROTOCOL_MD = ROOT / "docs" / "protocol.md"


def _js_refusing() -> set[str]:
    """The codes in sync.js's ``const REFUSING = new Set([...])``."""
    match = re.search(r"const REFUSING = new Set\(\[(.*?)\]\)", SYNC_JS.read_text(), re.S)
    assert match, "sync.js no longer defines REFUSING as a Set literal"
    return set(re.findall(r'"([a-z_]+)"', match.group(1)))


def _documented_refusing() -> set[str]:
    """The codes marked ``yes`` in the *refusing* column of docs/protocol.md's error table."""
    rows = re.findall(r"^\| `([a-z_]+)` \| (yes|no|—) \|", PROTOCOL_MD.read_text(), re.M)
    assert rows, "docs/protocol.md no longer has the error table"
    return {code for code, refusing in rows if refusing == "yes"}


def _refusal_classes() -> list[type[DomainError]]:
    """Every DomainError subclass anywhere in the package (all its modules imported)."""
    for module in pkgutil.walk_packages(declaration.__path__, "declaration."):
        if not module.name.startswith("declaration.migrations"):
            importlib.import_module(module.name)
    found: list[type[DomainError]] = []
    pending = [DomainError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def _domain_error_codes() -> set[str]:
    """The ``code`` of every DomainError subclass."""
    return {cls.code for cls in _refusal_classes()}


def test_every_refusal_is_defined_in_the_one_vocabulary() -> None:
    elsewhere = [
        f"{cls.__module__}.{cls.__name__}"
        for cls in _refusal_classes()
        if cls.__module__ != "declaration.domain.errors"
    ]
    assert elsewhere == []


def test_python_client_drops_exactly_the_refusing_codes() -> None:
    assert client.REFUSING is REFUSING_CODES


def test_browser_editor_drops_exactly_the_refusing_codes() -> None:
    assert _js_refusing() == REFUSING_CODES


def test_protocol_doc_marks_exactly_the_refusing_codes() -> None:
    assert _documented_refusing() == REFUSING_CODES


def test_every_refusing_code_is_raised_by_a_domain_error() -> None:
    assert REFUSING_CODES - _domain_error_codes() == set()
