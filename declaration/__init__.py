"""Collaborative drafting of joint declarations of public officials.

Importing the package stays cheap and side-effect free: the server's entry point must be
able to monkey-patch the standard library for gevent before Flask and the database driver
are imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["create_app"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Create the application (see :func:`declaration.app.create_app`)."""
    from declaration.app import create_app as build

    return build(config)
