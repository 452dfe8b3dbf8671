"""Links that leave the site (in mails and printouts) use the public base address."""

from __future__ import annotations

from flask import current_app


def public_url(path: str) -> str:
    """Return ``path`` under the configured public base address."""
    base = str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/")
    return f"{base}{path}"


def invitation_link(token: str) -> str:
    """Return the personal invitation link for ``token``."""
    return public_url(f"/einladung/{token}")


#: Login links by e-mail use the same exchange as invitations.
login_link = invitation_link
