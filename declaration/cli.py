"""The ``declaration`` command: serve, migrate, load the demo, manage declarations."""

from __future__ import annotations

import json
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import select

from declaration import clock, migrate
from declaration.db import get_database
from declaration.domain import export as rendering
from declaration.domain.chain import Break
from declaration.domain.errors import DomainError, NotFound
from declaration.domain.manifest import Check, grouped, raw_public_key
from declaration.domain.roles import Role
from declaration.mailer import deliver_now
from declaration.models import Person
from declaration.services import (
    comments,
    declarations,
    delivery,
    demo,
    forgetting,
    integrity,
    participants,
    publication,
    signoffs,
)
from declaration.services import export as exports
from declaration.web.links import invitation_link


def _validity() -> timedelta:
    return timedelta(days=int(current_app.config["INVITATION_DAYS"]))


def _fail(error: DomainError) -> None:
    message = error.text % error.params if error.params else error.text
    raise click.ClickException(message)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
@with_appcontext
def serve_command(host: str, port: int) -> None:
    """Serve the application (pages and live editing) in this process."""
    from declaration import notifier
    from declaration.realtime import socketio_of
    from declaration.server import run

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    app.extensions["declaration.evictions"].start()
    app.extensions["declaration.catch_up"].start()
    notifier.start(app, socketio_of(app))
    run(app, socketio_of(app), host=host, port=port)


@click.group("db")
def db_group() -> None:
    """Manage the database schema."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target migration.")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Bring the database to the newest schema (an empty database included)."""
    database = get_database()
    migrate.upgrade(database.engine, revision)
    click.echo(f"Datenbank auf Stand {migrate.current_revision(database.engine)}.")


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Load the demo declaration if the database is empty, and print fresh login links."""
    with get_database().transaction(write=True) as session:
        result = demo.ensure(
            session,
            at=clock.now(),
            validity=_validity(),
            link_for=invitation_link,
            max_text_chars=current_app.config["MAX_TEXT_CHARS"],
        )
    if result is None:
        click.echo("Die Datenbank enthält bereits Erklärungen; die Demo wird nicht geladen.")
        return
    declaration, links, created = result
    click.echo("")
    click.echo(("Demo geladen: " if created else "Demo: ") + declaration.title)
    click.echo("Persönliche Anmeldelinks (gültig 14 Tage, je einmal benutzbar):")
    for item in links:
        click.echo(f"  {item.name:<18} {item.role.label:<42} {item.municipality}")
        click.echo(f"      {item.link}")
    click.echo("")


@click.group("declarations")
def declarations_group() -> None:
    """Create and list declarations."""


@declarations_group.command("create")
@click.option("--title", default="", help="Title (default: the first heading of the text).")
@click.option(
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="Markdown or text file with the first draft.",
)
@click.option("--moderator-email", required=True, help="E-mail address of the moderation.")
@click.option("--moderator-name", default="", help="Name of the moderation (new people only).")
@click.option("--organisation", default="", help="Organisation of the moderation, e.g. MITZ.")
@click.option("--description", default="", help="One or two sentences on the declaration.")
@click.option("--place", default="", help="Where it is issued, printed beside the date.")
@click.option(
    "--deadline",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Last day for sign-offs (YYYY-MM-DD).",
)
@with_appcontext
def declarations_create(
    title: str,
    path: Path,
    moderator_email: str,
    moderator_name: str,
    organisation: str,
    description: str,
    place: str,
    deadline: object,
) -> None:
    """Create a declaration from a Markdown file; the moderator may create more on the web."""
    now = clock.now()
    try:
        with get_database().transaction(write=True) as session:
            email = moderator_email.strip().lower()
            moderator = session.scalar(select(Person).where(Person.email == email))
            if moderator is None:
                if not moderator_name:
                    raise click.UsageError("--moderator-name is needed for a new moderator.")
                fields = participants.person_fields(
                    moderator_name, email, "Moderation", organisation
                )
                moderator = Person(
                    name=fields.name,
                    email=fields.email,
                    office=fields.office,
                    municipality=fields.municipality,
                    created_at=now,
                )
                session.add(moderator)
            moderator.may_create_declarations = True
            session.flush()
            day = deadline.date() if deadline is not None else None  # type: ignore[attr-defined]
            declaration = declarations.create_from_markdown(
                session,
                None,
                declarations.NewDeclaration(
                    title=title,
                    text=path.read_text(encoding="utf-8-sig"),
                    description=description,
                    place=place,
                    deadline=day if isinstance(day, date) else None,
                ),
                at=now,
                max_text_chars=current_app.config["MAX_TEXT_CHARS"],
                moderator=moderator,
            )
            # The moderator joins a declaration: whatever another moderator may have seen
            # of their links while they were new must not open this one too.
            ended = participants.withdraw_links_seen_elsewhere(
                session, moderator, declaration, at=now
            )
            key, title_out = declaration.key, declaration.title
    except DomainError as error:
        _fail(error)
        return
    if ended:
        from declaration.outbound import announce_eviction

        app = current_app._get_current_object()  # type: ignore[attr-defined]
        for session_hash in ended:
            announce_eviction(app, "session", session_hash)
    click.echo(f"Erklärung angelegt: {title_out}")
    click.echo(f"Schlüssel: {key}")


@declarations_group.command("list")
@with_appcontext
def declarations_list() -> None:
    """List all declarations with their key and phase."""
    from declaration.models import Declaration

    with get_database().transaction() as session:
        for declaration in session.scalars(select(Declaration).order_by(Declaration.id)):
            click.echo(f"{declaration.key}  {declaration.phase_enum.label:<14} {declaration.title}")


@click.group("participants")
def participants_group() -> None:
    """Invite, list and remove participants of a declaration."""


@participants_group.command("invite")
@click.argument("declaration_key")
@click.option("--name", required=True)
@click.option("--email", required=True)
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    default=Role.MAYOR.value,
    show_default=True,
)
@click.option("--office", default="", help='e.g. "Bürgermeisterin".')
@click.option("--municipality", default="", help='e.g. "Stadt Merseburg".')
@click.option("--mail", "send_mail", is_flag=True, help="Also send the link by e-mail.")
@with_appcontext
def participants_invite(
    declaration_key: str,
    name: str,
    email: str,
    role: str,
    office: str,
    municipality: str,
    send_mail: bool,
) -> None:
    """Invite somebody and print their personal link."""
    try:
        with get_database().transaction(write=True) as session:
            declaration = declarations.by_key(session, declaration_key)
            invited = participants.invite(
                session,
                None,
                declaration,
                participants.NewParticipant(
                    name=name,
                    email=email,
                    role=Role(role),
                    office=office,
                    municipality=municipality,
                ),
                at=clock.now(),
                validity=_validity(),
                link_for=invitation_link,
                send_mail=send_mail,
            )
            link = invitation_link(invited.link.token)
            mail_id = invited.mail_id
    except DomainError as error:
        _fail(error)
        return
    click.echo(link)
    if mail_id is not None:
        _report_delivery(mail_id)


def _report_delivery(mail_id: int) -> None:
    for mail in deliver_now([mail_id]):
        if mail.status == "sent":
            click.echo(f"E-Mail an {mail.recipient} gesendet.")
        elif mail.status == "logged":
            click.echo("Kein Mailserver eingerichtet: Die E-Mail steht im Postausgang.")
        else:
            click.echo(f"E-Mail an {mail.recipient} nicht gesendet: {mail.error}", err=True)
            sys.exit(1)


@participants_group.command("list")
@click.argument("declaration_key")
@with_appcontext
def participants_list(declaration_key: str) -> None:
    """List the participants of a declaration with role and municipality."""
    try:
        with get_database().transaction() as session:
            declaration = declarations.by_key(session, declaration_key)
            for m in declarations.participants(session, declaration):
                click.echo(
                    f"{m.id:>5}  {m.role_enum.label:<42} {m.person.name} "
                    f"({m.person.municipality}) <{m.person.email}>"
                )
    except DomainError as error:
        _fail(error)


@participants_group.command("revoke")
@click.argument("declaration_key")
@click.argument("participant", metavar="EMAIL_OR_ID")
@with_appcontext
def participants_revoke(declaration_key: str, participant: str) -> None:
    """Remove a participant: their links stop working and their sessions end."""
    try:
        with get_database().transaction(write=True) as session:
            declaration = declarations.by_key(session, declaration_key)
            membership = participants.find(session, declaration, participant)
            ended = participants.revoke(session, None, membership, at=clock.now())
            name, membership_id, person_id = (
                membership.person.name,
                membership.id,
                membership.person_id,
            )
    except DomainError as error:
        _fail(error)
        return
    # Connected sockets close at once with a message queue, else at the server's next sweep
    # (within a second).
    from declaration.outbound import announce_eviction

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    announce_eviction(app, "membership", membership_id)
    if ended:
        announce_eviction(app, "person", person_id)
    click.echo(f"{name} nimmt nicht mehr teil.")


@participants_group.command("forget")
@click.argument("declaration_key")
@click.argument("email")
@click.option(
    "--confirm-signatory",
    is_flag=True,
    help="Also forget somebody who signed the approved version (its files keep the name).",
)
@with_appcontext
def participants_forget(declaration_key: str, email: str, confirm_signatory: bool) -> None:
    """Forget a participant: their personal data leaves the declaration, the record stays.

    Name, address, office and municipality give way to a pseudonym ("Teilnehmer 3
    (gelöscht)"); their edits, comments and sign-offs stay under it, and the hash chains
    verify as before. Someone in no other declaration is anonymised entirely.
    """
    try:
        with get_database().transaction(write=True) as session:
            try:
                declaration = declarations.by_key(session, declaration_key)
            except NotFound:
                raise click.ClickException(
                    f"Eine Erklärung mit dem Schlüssel „{declaration_key}“ gibt es nicht."
                ) from None
            done = forgetting.forget(
                session,
                declaration,
                email,
                at=clock.now(),
                signatory_confirmed=confirm_signatory,
            )
            key = declaration.key
    except DomainError as error:
        if error.text == forgetting.SIGNATORY_NEEDS_CONFIRMATION:
            raise click.ClickException(f"{error.text} Dazu: --confirm-signatory.") from error
        _fail(error)
        return
    from declaration.outbound import announce_eviction

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    announce_eviction(app, "membership", done.membership_id)
    if done.sessions_ended:
        announce_eviction(app, "person", done.person_id)
    click.echo(f"Vergessen: In der Erklärung {key} heißt die Person jetzt „{done.pseudonym}“.")
    if done.person_anonymised:
        click.echo(
            "Sie nimmt an keiner anderen Erklärung teil: Name, E-Mail-Adresse, Amt, Kommune, "
            "Passwort, Passkeys und Anmeldungen sind gelöscht."
        )
    else:
        click.echo("Sie nimmt an anderen Erklärungen teil: Dort bleiben ihre Angaben.")
    if done.signatory:
        click.echo(
            "Die bereits erstellten Dateien der freigegebenen Fassung behalten ihren Namen, "
            "wie unterzeichnet."
        )


@click.group("comments")
def comments_group() -> None:
    """Read the comments of a declaration."""


def _shortened(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@comments_group.command("list")
@click.argument("declaration_key")
@click.option("--json", "as_json", is_flag=True, help="Print the threads as JSON.")
@with_appcontext
def comments_list(declaration_key: str, as_json: bool) -> None:
    """List the comment threads in text order, with state, author, passage and replies.

    The operator reads as the moderation does: hidden comments are shown, marked hidden.
    """
    try:
        with get_database().transaction(write=True) as session:
            declaration = declarations.by_key(session, declaration_key)
            head, threads = comments.threads(session, declaration, comments.OPERATOR)
    except DomainError as error:
        _fail(error)
        return
    if as_json:
        click.echo(
            json.dumps({"revision": head, "comments": threads}, ensure_ascii=False, indent=2)
        )
        return
    if not threads:
        click.echo("Noch keine Kommentare.")
        return
    for thread in threads:
        if thread["quote"] is None:
            where = "zur ganzen Erklärung"
        elif thread["start"] is None:
            where = f"ohne Textstelle (seit Änderung Nr. {thread['detached_revision']})"
        else:
            where = f"Zeichen {thread['start']}–{thread['end']}"
        click.echo(f"{thread['id']:>5}  {thread['state']:<9} {thread['author']['name']} · {where}")
        if thread["quote"] is not None:
            click.echo(f"       „{_shortened(thread['quote'])}“")
        for entry in [thread, *thread["replies"]]:
            body = "Kommentar gelöscht" if entry["deleted"] else _shortened(entry["body"] or "")
            prefix = "       " if entry is thread else "         ↳ "
            click.echo(
                f"{prefix}{entry['author']['name'] if entry is not thread else ''}"
                f"{': ' if entry is not thread else ''}{body}"
            )


@click.group("audit")
def audit_group() -> None:
    """Check the record: the revisions' and the audit events' hash chains."""


_CHAIN_NAMES = {integrity.Chain.REVISIONS: "Änderungen", integrity.Chain.AUDIT: "Protokoll"}

_BREAKS = {
    Break.ALTERED: "passt nicht zu seinem Inhalt (verändert, eingefügt oder umgestellt)",
    Break.INVALID: "lässt sich nicht berechnen (ungültiger Inhalt)",
    Break.MISSING: "fehlt (gelöscht oder umnummeriert)",
    Break.OUT_OF_PLACE: "trägt eine doppelte Nummer oder steht außer der Reihe",
    Break.EXTRA: "ist überzählig (nach dem gespeicherten Stand der Erklärung)",
}


def _links(count: int) -> str:
    return "1 Glied" if count == 1 else f"{count} Glieder"


def _check_line(check: integrity.ChainCheck) -> str:
    """Say in one line how a chain verified, or where and how it is broken."""
    where = f"Erklärung {check.declaration}" if check.declaration else "Ohne Erklärung"
    name = f"{where}, {_CHAIN_NAMES[check.chain]}"
    broken = check.broken
    if broken is None:
        return f"{name}: {_links(check.checked)} geprüft, in Ordnung."
    why = _BREAKS[broken.problem]
    if broken.problem is Break.INVALID:
        why += f" [{broken.detail}]"
    before = f"; davor {_links(check.checked)} in Ordnung" if check.checked else ""
    return f"{name}: Glied {broken.number} {why}{before}."


@audit_group.command("verify")
@click.argument("declaration_key", required=False)
@with_appcontext
def audit_verify(declaration_key: str | None) -> None:
    """Recompute every link of the revisions and audit events and report the first broken one.

    With a key, that declaration's two chains; without, those of every declaration and the
    chain of events that belong to none (logins). Exit status 1 if any chain is broken.
    """
    from declaration.models import Declaration

    database = get_database()
    try:
        with database.transaction() as session:
            if declaration_key is None:
                ids = list(session.scalars(select(Declaration.id).order_by(Declaration.id)))
            else:
                ids = [declarations.by_key(session, declaration_key).id]
    except DomainError as error:
        _fail(error)
        return
    checks: list[integrity.ChainCheck] = []
    # One transaction per declaration: a consistent snapshot of its chains, not held for
    # the whole instance.
    for declaration_id in ids:
        with database.transaction() as session:
            integrity.read_one_snapshot(session)
            declaration = session.get(Declaration, declaration_id)
            if declaration is None:  # deleted meanwhile
                continue
            for check in integrity.check_declaration(session, declaration):
                checks.append(check)
                click.echo(_check_line(check))
    if declaration_key is None:
        with database.transaction() as session:
            integrity.read_one_snapshot(session)
            check = integrity.check_audit(session, None)
        checks.append(check)
        click.echo(_check_line(check))
    if not all(check.ok for check in checks):
        sys.exit(1)


@click.command("status")
@click.argument("declaration_key")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@with_appcontext
def status_command(declaration_key: str, as_json: bool) -> None:
    """Show where a declaration stands: phase, content hash, addressee, sign-offs."""
    try:
        with get_database().transaction() as session:
            declaration = declarations.by_key(session, declaration_key)
            board = signoffs.board(session, declaration, None, today=clock.today())
    except DomainError as error:
        _fail(error)
        return
    if as_json:
        click.echo(json.dumps(board, ensure_ascii=False, indent=2))
        return
    click.echo(f"Phase: {board['phase']} · Änderung Nr. {board['revision']}")
    click.echo(f"Inhalt (SHA-256): {board['content_hash']}")
    addressee = board["addressee"]
    click.echo(f"Adressat: {addressee['name'] if addressee else 'noch nicht festgelegt'}")
    for person in board["participants"]:
        state = person.get("state", "")
        click.echo(f"  {person['name']:<32} {person['role']:<10} {state}")
    if board["blockers"]:
        click.echo("Freigabe noch nicht möglich: " + " ".join(board["blockers"]))


@click.command("notify")
@with_appcontext
def notify_command() -> None:
    """Send the notices due now: sign-offs turned stale, deadlines within 48 hours.

    Every server process checks once a minute on its own; this is for a timer (systemd,
    cron) where no server runs, or to send at once. A notice is never sent twice.
    """
    from declaration.notifier import send_due

    mails = send_due()
    if not mails:
        click.echo("Keine Benachrichtigungen fällig.")
        return
    failed = False
    for mail in mails:
        if mail.status == "sent":
            click.echo(f"Gesendet an {mail.recipient}: {mail.subject}")
        elif mail.status == "logged":
            click.echo(f"Im Postausgang (kein Mailserver) für {mail.recipient}: {mail.subject}")
        else:
            click.echo(f"Nicht gesendet an {mail.recipient}: {mail.error}", err=True)
            failed = True
    if failed:
        sys.exit(1)


@click.command("export")
@click.argument("declaration_key")
@click.option(
    "--format",
    "file_format",
    type=click.Choice(list(rendering.FORMATS)),
    required=True,
    help="pdf (signed PDF/A-3b), docx (Word), odt (OpenDocument), html or md (Markdown).",
)
@click.option(
    "--revision",
    type=int,
    default=None,
    help="Export this revision (a draft unless it is the approved one).",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File to write (default: KEY-rN[-entwurf].FORMAT here); the manifest goes beside it.",
)
@click.option(
    "--paragraph-numbers",
    is_flag=True,
    help="Drafts: number the paragraphs ([1], [2], …).",
)
@click.option(
    "--open-comments",
    is_flag=True,
    help="Drafts: add the open comments of that revision as an appendix.",
)
@with_appcontext
def export_command(
    declaration_key: str,
    file_format: str,
    revision: int | None,
    output: Path | None,
    paragraph_numbers: bool,
    open_comments: bool,
) -> None:
    """Export a declaration as a file with its sealed manifest (FILE.manifest.json).

    Without --revision the approved revision; before the approval the newest one, marked
    as a draft. Every export is recorded in the audit trail.
    """
    tools = exports.tools_for(current_app.config, Path(current_app.instance_path))
    try:
        with get_database().transaction(write=True) as session:
            declaration = declarations.by_key(session, declaration_key)
            number, draft = exports.choose_revision(declaration, revision)
            path = output or Path(
                f"{declaration.key}-r{number}{'-entwurf' if draft else ''}.{file_format}"
            )
            made = exports.export(
                session,
                declaration,
                file_format,
                tools=tools,
                at=clock.now(),
                file_name=path.name,
                revision=revision,
                options=exports.DraftOptions(
                    paragraph_numbers=paragraph_numbers, open_comments=open_comments
                ),
            )
            # Written before the commit: a file that cannot be written records no export.
            manifest_path = manifest_path_of(path)
            path.write_bytes(made.data)
            manifest_path.write_bytes(made.manifest_bytes)
    except DomainError as error:
        _fail(error)
        return
    except OSError as error:
        raise click.ClickException(f"Datei nicht geschrieben: {error}") from error
    seal_part = made.envelope["seal"]
    kind = "Entwurf" if made.draft else "Freigegebene Fassung"
    click.echo(f"{kind}, Änderung Nr. {made.revision}: {path}")
    click.echo(f"Manifest: {manifest_path}")
    click.echo(f"SHA-256 der Datei: {made.sha256}")
    click.echo(f"Siegel (Fingerabdruck): {grouped(seal_part['fingerprint'])}")
    click.echo(f"Öffentlicher Schlüssel: {seal_part['public_key']}")


def manifest_path_of(path: Path) -> Path:
    """Return where the manifest of the exported file ``path`` lies: ``NAME.manifest.json``."""
    return path.with_name(path.name + ".manifest.json")


def _trusted_key(value: str) -> bytes:
    """Read a public key given to verify: a PEM file (public or private key), or hex."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )
    from cryptography.hazmat.primitives.serialization import (
        load_pem_private_key,
        load_pem_public_key,
    )

    path = Path(value)
    if path.is_file():
        data = path.read_bytes()
        try:
            loaded: object = (
                load_pem_private_key(data, password=None)
                if b"PRIVATE KEY" in data
                else load_pem_public_key(data)
            )
        except ValueError as error:
            raise click.BadParameter(f"kein lesbarer PEM-Schlüssel: {error}") from error
        if isinstance(loaded, Ed25519PrivateKey):
            loaded = loaded.public_key()
        if not isinstance(loaded, Ed25519PublicKey):
            raise click.BadParameter("kein Ed25519-Schlüssel")
        return raw_public_key(loaded)
    digits = "".join(value.split()).lower()
    if len(digits) == 64 and all(c in "0123456789abcdef" for c in digits):
        return bytes.fromhex(digits)
    raise click.BadParameter("weder eine PEM-Datei noch 64 Hexadezimalziffern")


def _read_manifest(path: Path) -> tuple[Any, Check | None]:
    """Read a sealed manifest file: (envelope, None) or (None, the failing check)."""
    try:
        return json.loads(path.read_bytes().decode("utf-8")), None
    except FileNotFoundError:
        return None, Check(False, f"Kein Manifest gefunden: {path}")
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None, Check(False, f"Das Manifest ist kein JSON: {path}")


_MARKS = {"ok": "GEPRÜFT      ", "unverified": "NICHT GEPRÜFT", "failed": "FEHLER       "}


@click.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--manifest",
    "manifest_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The sealed manifest (default: FILE.manifest.json).",
)
@click.option(
    "--public-key",
    "public_key",
    default=None,
    help="The instance's public key one trusts: a PEM file or 64 hex digits.",
)
def verify_command(file: Path, manifest_file: Path | None, public_key: str | None) -> None:
    """Verify an exported file offline, without the database, and say what holds.

    Checks the manifest's seal (against --public-key if given), the file's SHA-256, the
    text, the content hash, the signatories printed and every passkey signature. Exit
    status 1 if anything fails.
    """
    trusted = _trusted_key(public_key) if public_key else None
    data = file.read_bytes()
    if rendering.format_of(file.name) == rendering.PDF or data.startswith(b"%PDF-"):
        # The PDF carries its manifest; one beside it is checked too when there is one.
        beside = manifest_file or manifest_path_of(file)
        detached: Any = None
        unreadable: list[Check] = []
        if manifest_file is not None or beside.exists():
            detached, failure = _read_manifest(beside)
            manifest_file = beside
            unreadable = [failure] if failure is not None else []
        checks = unreadable + rendering.verify_pdf(data, detached, trusted)
    else:
        manifest_file = manifest_file or manifest_path_of(file)
        envelope, failure = _read_manifest(manifest_file)
        if failure is not None:
            checks = [failure]
        else:
            stated = (
                envelope.get("manifest", {}).get("file") if isinstance(envelope, dict) else None
            )
            file_format = stated.get("format") if isinstance(stated, dict) else None
            if file_format not in rendering.FORMATS:
                file_format = rendering.format_of(file.name) or ""
            checks = rendering.verify_export(file_format, data, envelope, trusted)
    click.echo(f"Datei: {file}")
    click.echo(f"Manifest: {manifest_file or 'in der PDF-Datei'}")
    for check in checks:
        mark = "failed" if not check.ok else "unverified" if check.unverified else "ok"
        click.echo(f"{_MARKS[mark]}  {check.text}")
    failed = sum(1 for check in checks if not check.ok)
    if failed:
        click.echo(f"Ergebnis: {failed} Prüfung(en) fehlgeschlagen.")
        sys.exit(1)
    click.echo("Ergebnis: Alle Prüfungen bestanden.")


@click.group("publication")
def publication_group() -> None:
    """The public page of a published declaration."""


@publication_group.command("withdraw")
@click.argument("declaration_key")
@click.option("--reason", required=True, help="Why (shown on the public page; 2,000 characters).")
@with_appcontext
def publication_withdraw(declaration_key: str, reason: str) -> None:
    """Withdraw a publication: its page then shows only the date and the reason (final)."""
    try:
        with get_database().transaction(write=True) as session:
            declaration = declarations.by_key(session, declaration_key)
            publication.withdraw(session, None, declaration, reason, at=clock.now())
            key = declaration.key
    except DomainError as error:
        _fail(error)
        return
    click.echo(f"Die Veröffentlichung von {key} ist zurückgezogen.")


@publication_group.command("files")
@click.argument("declaration_key")
@with_appcontext
def publication_files(declaration_key: str) -> None:
    """Make the public files of a declaration published before they were stored."""
    tools = exports.tools_for(current_app.config, Path(current_app.instance_path))
    try:
        with get_database().transaction(write=True) as session:
            declaration = declarations.by_key(session, declaration_key)
            rows = publication.complete(session, declaration, tools=tools, at=clock.now())
            lines = [f"{row.file_name}  SHA-256 {row.sha256}" for row in rows]
    except DomainError as error:
        _fail(error)
        return
    for line in lines:
        click.echo(line)


@click.command("send")
@click.argument("declaration_key")
@with_appcontext
def send_command(declaration_key: str) -> None:
    """Send the signed PDF to the recorded addressee, with a copy to every signatory.

    Sent as the declaration's moderation, like the button on the declaration page; every
    sending is recorded and audited. Prints the Message-ID of the mail to the addressee.
    """
    tools = exports.tools_for(current_app.config, Path(current_app.instance_path))
    try:
        with get_database().transaction(write=True) as session:
            declaration = declarations.by_key(session, declaration_key)
            moderation = delivery.moderation_of(session, declaration)
            sent = delivery.send_to_addressee(
                session,
                moderation,
                declaration,
                tools=tools,
                at=clock.now(),
                base_url=str(current_app.config["PUBLIC_BASE_URL"]),
            )
            sender, copies = moderation.person.name, sent.copies
            mail_ids, envelopes = sent.mail_ids, sent.envelopes
            recipient, message_id = sent.delivery.recipient, sent.message_id
            sha256 = sent.delivery.file_sha256
    except DomainError as error:
        _fail(error)
        return
    click.echo(
        f"Versand an {recipient} im Namen von {sender}, "
        f"Kopie an {len(copies)} Unterzeichnende (aufgezeichnet)."
    )
    click.echo(f"Message-ID: {message_id}")
    click.echo(f"SHA-256 der PDF-Datei: {sha256}")
    failed = False
    for mail in deliver_now(mail_ids, envelopes):
        if mail.status == "sent":
            click.echo(f"E-Mail an {mail.recipient} gesendet.")
        elif mail.status == "logged":
            click.echo(f"Kein Mailserver eingerichtet: E-Mail an {mail.recipient} im Postausgang.")
        else:
            click.echo(f"E-Mail an {mail.recipient} nicht gesendet: {mail.error}", err=True)
            failed = True
    if failed:
        sys.exit(1)


def register_commands(app: Flask) -> None:
    """Add the project's commands to ``flask``/``declaration``."""
    for command in (
        serve_command,
        db_group,
        demo_command,
        declarations_group,
        participants_group,
        comments_group,
        audit_group,
        status_command,
        notify_command,
        export_command,
        verify_command,
        publication_group,
        send_command,
    ):
        app.cli.add_command(command)


def _create_app() -> Flask:
    from declaration import create_app

    return create_app()


cli = FlaskGroup(
    create_app=_create_app,
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
    help="Collaborative drafting of joint declarations.",
)
# Found without loading the application: verifying needs no configuration and no database.
cli.add_command(verify_command)


def main() -> None:
    """Run the ``declaration`` command."""
    cli.main(prog_name="declaration")
