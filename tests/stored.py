"""Read back every value of every table, for tests about what must not be stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from flask import Flask
from sqlalchemy import select

from declaration.models import Base


def _as_text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        # Raw bytes (digests, files): every byte one character, so ASCII text shows as is.
        return bytes(value).decode("latin-1")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def stored_values(app: Flask) -> Iterator[tuple[str, str, str]]:
    """Yield (table, column, value as text) for every non-empty value in the database.

    Values are read through the models' column types, so compressed texts come back
    decompressed and digests as hex: what is looked for is found however it is stored.
    """
    engine = app.extensions["declaration.db"].engine
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(select(table)).mappings():
                for column, value in row.items():
                    if value is not None:
                        yield table.name, column, _as_text(value)


def places_of(app: Flask, *needles: str) -> list[str]:
    """Return ``table.column: needle`` for every stored value containing one of ``needles``
    (case-insensitive)."""
    wanted = [needle.casefold() for needle in needles if needle]
    found = []
    for table, column, text in stored_values(app):
        folded = text.casefold()
        found += [f"{table}.{column}: {n}" for n in wanted if n in folded]
    return found
