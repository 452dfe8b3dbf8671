"""The wording of the mails we send (German: mayors read them between appointments)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from declaration.domain.dates import format_date_de, format_datetime_de

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


# -- notifications of the sign-off workflow (`services.notifications`) -------------------
# Each links to the declaration's page, never to a login: whoever is logged out there asks
# for a login link with their own address. Each says how to switch them off.

#: The last line of every notification.
SWITCH_OFF = (
    "Sie erhalten diese E-Mail, weil Sie an der Erklärung teilnehmen. Abschalten können Sie "
    "diese Benachrichtigungen auf der Seite der Erklärung unter „Teilnehmende“."
)


def _notification(name: str, paragraphs: list[str], link: str) -> str:
    body = f"Guten Tag {name},\n\n"
    body += "".join(f"{paragraph}\n\n" for paragraph in paragraphs)
    body += f"Zur Erklärung:\n{link}\n\n-- \n{SWITCH_OFF}\n"
    return body


def _deadline_end(deadline: date) -> str:
    return f"{format_date_de(deadline)}, 24 Uhr"


def review_started(
    *, name: str, title: str, link: str, signs: bool, deadline: date | None
) -> tuple[str, str]:
    """Return subject and body of "the review (Abstimmung) has started"."""
    subject = f"Abstimmung gestartet: {title}"
    first = f"die Moderation hat die Abstimmung über die Erklärung „{title}“ gestartet."
    if signs:
        task = "Bitte prüfen Sie die Fassung und zeichnen Sie sie"
        task += f" bis {_deadline_end(deadline)}." if deadline else "."
        task += " Wenn Sie nicht mitzeichnen möchten, können Sie das dort ebenfalls angeben."
    else:
        task = "Die Bürgermeisterinnen und Bürgermeister prüfen und zeichnen jetzt die Fassung."
        if deadline:
            task += f" Die Frist endet {_deadline_end(deadline)}."
    return subject, _notification(name, [first, task], link)


def signoff_stale(
    *, name: str, title: str, link: str, signed_at: datetime, revision: int
) -> tuple[str, str]:
    """Return subject and body of "the text you signed has changed since"."""
    subject = f"Bitte erneut zeichnen: {title}"
    paragraphs = [
        f"Sie haben am {format_datetime_de(signed_at)} eine frühere Fassung der Erklärung "
        f"„{title}“ gezeichnet (Änderung Nr. {revision}). Die Fassung wurde seitdem geändert; "
        "Ihre Zeichnung gilt nicht für den aktuellen Text.",
        "Auf der Seite der Erklärung sehen Sie unter „Zeichnung“, was sich geändert hat, und "
        "können die aktuelle Fassung in einem Schritt erneut zeichnen.",
    ]
    return subject, _notification(name, paragraphs, link)


def deadline_near(
    *, name: str, title: str, link: str, deadline: date, stale: bool
) -> tuple[str, str]:
    """Return subject and body of "the deadline ends within 48 hours"."""
    subject = f"Frist endet {format_date_de(deadline)}: {title}"
    state = (
        "Sie haben eine frühere Fassung gezeichnet, nicht die aktuelle."
        if stale
        else "Sie haben die aktuelle Fassung noch nicht gezeichnet."
    )
    paragraphs = [
        f"die Frist für die Zeichnung der Erklärung „{title}“ endet am "
        f"{_deadline_end(deadline)}. {state}",
        "Bitte zeichnen Sie die Fassung oder geben Sie an, dass Sie nicht mitzeichnen.",
    ]
    return subject, _notification(name, paragraphs, link)


def approved(
    *, name: str, title: str, link: str, revision: int, short_hash: str, addressee: str
) -> tuple[str, str]:
    """Return subject and body of "the moderation gave the final approval"."""
    subject = f"Freigegeben: {title}"
    paragraphs = [
        f"die Moderation hat die Erklärung „{title}“ freigegeben (Änderung Nr. {revision}, "
        f"Prüfsumme {short_hash}). Text und Adressat ({addressee}) sind damit festgeschrieben.",
    ]
    return subject, _notification(name, paragraphs, link)


# -- the signed version sent to the addressee (`services.delivery`) ---------------------


def _who(name: str, organisation: str) -> str:
    return f"{name} ({organisation})" if organisation else name


def to_addressee(
    *,
    title: str,
    addressee: str,
    sender: str,
    organisation: str,
    signatories: list[str],
    revision: int,
    approved_at: datetime,
    file_name: str,
    sha256: str,
    public_link: str | None,
) -> tuple[str, str]:
    """Return subject and body of the mail that carries the signed PDF to the addressee.

    The addressee takes no part in the platform: the mail says who sends on whose behalf,
    who signed, and how to check the attached file without asking us (its signature, its
    SHA-256, the sealed manifest inside) — never a link that needs a login.
    """
    subject = f"{title} – gezeichnete Fassung"
    signed = "".join(f"- {line}\n" for line in signatories)
    paragraphs = [
        "Sehr geehrte Damen und Herren,",
        f"im Namen der unterzeichnenden Bürgermeisterinnen und Bürgermeister übersendet "
        f"Ihnen {_who(sender, organisation)} die Erklärung „{title}“, gerichtet an "
        f"{addressee}.",
        f"Gezeichnet haben:\n{signed}".rstrip("\n"),
        f"Im Anhang finden Sie die gezeichnete Fassung (Änderung Nr. {revision}, freigegeben "
        f"am {format_datetime_de(approved_at)}) als PDF-Datei:\n{file_name}\n"
        f"SHA-256: {sha256}",
        "So prüfen Sie die Datei selbst, ohne Verbindung zu uns:\n"
        "1. Die PDF-Datei ist elektronisch signiert (PAdES). Ihr PDF-Programm zeigt die "
        "Signatur an; jede Änderung an der Datei macht sie ungültig.\n"
        "2. Die SHA-256-Prüfsumme der Datei muss mit der oben genannten übereinstimmen, "
        f"z. B. „sha256sum {file_name}“ (Linux), „shasum -a 256 {file_name}“ (macOS) oder "
        f"„Get-FileHash {file_name}“ (Windows PowerShell).\n"
        "3. In der Datei steckt ein versiegeltes Manifest (manifest.json) mit dem Text, dem "
        "Adressaten und den Zeichnungen. Das Prüfprogramm der Plattform "
        f"(„declaration verify {file_name}“) prüft Datei, Siegel und Zeichnungen Zeile für "
        "Zeile.",
    ]
    if public_link:
        paragraphs.append(
            f"Die Erklärung ist veröffentlicht; dort stehen alle Dateien mit ihren "
            f"Prüfsummen:\n{public_link}"
        )
    paragraphs.append(
        "Eine Kopie dieser E-Mail erhalten die unterzeichnenden Bürgermeisterinnen und "
        "Bürgermeister."
    )
    paragraphs.append(
        f"Mit freundlichen Grüßen\n{sender}" + (f"\n{organisation}" if organisation else "")
    )
    return subject, "\n\n".join(paragraphs) + "\n"


def addressee_copy(
    *,
    name: str,
    title: str,
    addressee: str,
    email: str,
    sender: str,
    sent_at: datetime,
    original: tuple[str, str],
) -> tuple[str, str]:
    """Return subject and body of a signatory's copy of the mail to the addressee."""
    subject, body = original
    preface = (
        f"Guten Tag {name},\n\n"
        f"Sie haben die Erklärung „{title}“ gezeichnet. {sender} hat sie am "
        f"{format_datetime_de(sent_at)} an {addressee} ({email}) gesendet; dies ist Ihre "
        "Kopie dieser E-Mail mit derselben Datei im Anhang.\n\n"
        "-------- Kopie --------\n\n"
    )
    return f"Kopie: {subject}", preface + body
