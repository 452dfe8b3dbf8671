"""The layers depend on each other only downwards; web/ and realtime/ not on each other.

Every import is counted, including those inside functions (a hidden import is still a
dependency, and once hid a cycle between the web views and the socket namespace). HTTP
views, the command line and the namespace announce to open editors through one door below
both, `declaration.outbound`; the domain is pure Python; the services know no Flask and no
transport.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "declaration"

#: Module prefixes each layer must never import.
FORBIDDEN = {
    "domain": (
        "flask",
        "flask_",
        "sqlalchemy",
        "declaration.web",
        "declaration.realtime",
        "declaration.services",
        "declaration.models",
        "declaration.db",
    ),
    "services": ("flask", "flask_", "declaration.web", "declaration.realtime"),
    "realtime": ("declaration.web",),
    "web": ("declaration.realtime",),
}


def imported_names(source: str, module: str, *, is_package: bool = False) -> Iterator[str]:
    """Yield the dotted name of every import in ``source`` (the module ``module``), at any depth.

    ``from package import name`` yields ``package.name`` (it may be a submodule); a
    relative import is resolved against the module's own package.
    """
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _imports_of(path: Path) -> Iterator[tuple[str, str]]:
    """Yield (where, dotted name) for every import of the module at ``path``."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    is_package = parts[-1] == "__init__"
    module = ".".join(parts[:-1] if is_package else parts)
    where = str(path.relative_to(PACKAGE.parent))
    for name in imported_names(path.read_text(encoding="utf-8"), module, is_package=is_package):
        yield where, name


def _is_under(name: str, prefix: str) -> bool:
    if prefix.endswith("_"):  # a family of distributions: flask_socketio, flask_babel …
        return name.startswith(prefix)
    return name == prefix or name.startswith(prefix + ".")


def _modules(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


def _violations(layer: str) -> list[str]:
    return [
        f"{where} imports {name}"
        for path in _modules(layer)
        for where, name in _imports_of(path)
        if any(_is_under(name, prefix) for prefix in FORBIDDEN[layer])
    ]


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_or_beside_it(layer: str) -> None:
    assert _modules(layer), f"no modules found in {layer}/"
    assert _violations(layer) == []


def test_the_door_for_live_messages_lies_below_web_and_realtime() -> None:
    path = PACKAGE / "outbound.py"
    found = [
        f"{where} imports {name}"
        for where, name in _imports_of(path)
        if _is_under(name, "declaration.web") or _is_under(name, "declaration.realtime")
    ]
    assert found == []


def test_imports_inside_functions_and_relative_imports_are_counted() -> None:
    """The walk must not miss what the rules exist for: hidden and relative imports."""
    source = (
        "from . import context\n"
        "from ..realtime import outbound\n"
        "def later():\n"
        "    from declaration.realtime.namespace import NAMESPACE\n"
        "    import flask_socketio\n"
    )
    names = set(imported_names(source, "declaration.web.probe"))
    assert names == {
        "declaration.web.context",
        "declaration.realtime.outbound",
        "declaration.realtime.namespace.NAMESPACE",
        "flask_socketio",
    }
