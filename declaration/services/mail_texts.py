"""The wording of the mails we send (German: mayors read them between appointments)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from declaration.domain.dates import format_datetime_de

BERLIN = ZoneInfo("Europe/Berlin")


def invitation(
    *, name: str, title: str, role_label: str, link: str, expires_at: datetime, inviter: str
) -> tuple[str, str]:
    """Return subject and body of an invitation to a declaration."""
    subject = f"Einladung: {title}"
    body = (
        f"Guten Tag {name},\n\n"
        f"{inviter} lädt Sie ein, an der Erklärung „{title}“ mitzuwirken "
        f"({role_label}).\n\n"
        f"Ihr persönlicher Link:\n{link}\n\n"
        f"Der Link gilt bis {format_datetime_de(expires_at)} und kann einmal benutzt werden. "
        "Er meldet Sie an diesem Gerät an; geben Sie ihn bitte nicht weiter.\n\n"
        "Ist der Link abgelaufen, können Sie auf der Anmeldeseite mit Ihrer E-Mail-Adresse "
        "jederzeit einen neuen anfordern.\n"
    )
    return subject, body


def login_link(*, name: str, link: str, expires_at: datetime) -> tuple[str, str]:
    """Return subject and body of a login link requested by e-mail address."""
    subject = "Ihr Anmeldelink"
    body = (
        f"Guten Tag {name},\n\n"
        "Sie haben einen neuen Anmeldelink angefordert:\n"
        f"{link}\n\n"
        f"Der Link gilt 30 Minuten (bis {format_datetime_de(expires_at)}) und kann einmal "
        "benutzt werden.\n\n"
        "Haben Sie keinen Link angefordert, können Sie diese E-Mail ignorieren.\n"
    )
    return subject, body
