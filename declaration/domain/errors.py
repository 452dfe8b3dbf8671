"""One error vocabulary for the whole application.

Every refusal a participant can meet is a :class:`DomainError` with a stable ``code`` (for
clients and tests) and a German message written for mayors, not engineers. The web and
realtime layers translate the message with gettext and map the code to an HTTP status or a
socket error payload in one place each.
"""

from __future__ import annotations

from typing import ClassVar


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it here.

    The domain knows no locale; the layer that talks to a person translates.
    """
    return message


class DomainError(Exception):
    """A refusal with a stable code and a message a participant can act on."""

    code: ClassVar[str] = "error"
    status: ClassVar[int] = 400
    message: ClassVar[str] = N_("Die Aktion konnte nicht ausgeführt werden.")

    def __init__(self, message: str | None = None, **params: object) -> None:
        self.text = message if message is not None else self.message
        self.params = params
        super().__init__(self.text)


#: Codes of the refusals after which a client drops the batch in flight and hands its text
#: back to the author: sending it again cannot succeed. Every other code of an edit is
#: retried (after a resync, a join or a pause). The browser editor keeps a copy in
#: ``static/src/editor/sync.js`` (JavaScript cannot import this); ``tests/test_error_codes.py``
#: holds the copy, the classes and docs/protocol.md to this set.
REFUSING_CODES: frozenset[str] = frozenset(
    {
        "not_authenticated",
        "not_found",
        "not_a_member",
        "observer_cannot_edit",
        "review_moderator_only",
        "text_frozen",
        "phase_forbids_edit",
        "text_too_long",
        "edit_too_large",
        "message_too_large",
        "invalid_operation",
        "invalid_text",
        "seq_reused",
    }
)


class NotFound(DomainError):
    code = "not_found"
    status = 404
    message = N_("Diese Seite oder Erklärung gibt es nicht (mehr).")


class NotAuthenticated(DomainError):
    code = "not_authenticated"
    status = 401
    message = N_("Bitte melden Sie sich an. Nutzen Sie dazu Ihren persönlichen Einladungslink.")


class Forbidden(DomainError):
    code = "forbidden"
    status = 403
    message = N_("Dafür fehlt Ihnen die Berechtigung.")


class ModeratorOnly(Forbidden):
    code = "moderator_only"
    message = N_("Das darf nur die Moderation dieser Erklärung.")


class NotAMember(Forbidden):
    code = "not_a_member"
    message = N_(
        "Sie nehmen an dieser Erklärung nicht (mehr) teil. "
        "Wenden Sie sich an die Moderation, wenn Sie das für einen Fehler halten."
    )


class InvalidInput(DomainError):
    code = "invalid_input"
    status = 422
    message = N_("Die Eingabe ist unvollständig oder ungültig.")


class Conflict(DomainError):
    code = "conflict"
    status = 409
    message = N_("Das gibt es bereits.")


class TokenInvalid(DomainError):
    code = "token_invalid"
    status = 410
    message = N_(
        "Dieser Anmeldelink ist nicht mehr gültig: Er wurde bereits benutzt oder ist "
        "abgelaufen. Fordern Sie unten einen neuen Link an."
    )


class RateLimited(DomainError):
    code = "rate_limited"
    status = 429
    message = N_("Zu viele Anfragen in kurzer Zeit. Bitte warten Sie einige Minuten.")


class PasswordLoginLocked(RateLimited):
    """Password sign-in refused, without checking the password, until ``retry_after`` passed.

    Says when to try again and points to the login link by mail, which a lock never blocks.
    """

    code = "password_login_locked"
    message = N_(
        "Zu viele Fehlversuche. Bitte versuchen Sie es in %(minutes)s Minuten erneut – "
        "oder fordern Sie einen Anmeldelink per E-Mail an."
    )
    one_minute = N_(
        "Zu viele Fehlversuche. Bitte versuchen Sie es in einer Minute erneut – "
        "oder fordern Sie einen Anmeldelink per E-Mail an."
    )

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, -(-retry_after // 60))
        super().__init__(self.one_minute if minutes == 1 else self.message, minutes=minutes)
        #: Seconds until an attempt is checked again (the HTTP ``Retry-After``).
        self.retry_after = retry_after


class LoginLinkLimited(RateLimited):
    """Login links asked for too often, for one address or from one client, for a while.

    The same words whether or not anybody has the address: the count is the address's,
    never the person's.
    """

    code = "login_link_limited"
    message = N_(
        "Für diese Adresse oder von diesem Anschluss wurden zu viele Anmeldelinks "
        "angefordert. Bitte versuchen Sie es in %(minutes)s Minuten erneut. Ein bereits "
        "verschickter Link gilt weiterhin."
    )
    one_minute = N_(
        "Für diese Adresse oder von diesem Anschluss wurden zu viele Anmeldelinks "
        "angefordert. Bitte versuchen Sie es in einer Minute erneut. Ein bereits "
        "verschickter Link gilt weiterhin."
    )

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, -(-retry_after // 60))
        super().__init__(self.one_minute if minutes == 1 else self.message, minutes=minutes)
        #: Seconds until a link may be asked for again (the HTTP ``Retry-After``).
        self.retry_after = retry_after


class NamingRefused(Forbidden):
    code = "observer_cannot_name_version"
    message = N_(
        "Als Beobachter/in können Sie Fassungen lesen und kommentieren, aber nicht benennen."
    )


class PhaseForbids(DomainError):
    code = "phase_forbids"
    status = 409
    message = N_("In der aktuellen Phase ist das nicht möglich.")


class EditRefused(PhaseForbids):
    code = "phase_forbids_edit"
    message = N_("In dieser Phase kann der Text nicht geändert werden.")


class ReviewEditRefused(EditRefused):
    code = "review_moderator_only"
    message = N_("In der Abstimmung kann nur die Moderation den Text ändern.")


class FrozenEditRefused(EditRefused):
    code = "text_frozen"
    message = N_(
        "Die Erklärung ist freigegeben und kann nicht mehr geändert werden. "
        "Wenden Sie sich an die Moderation, falls eine Korrektur nötig ist."
    )


class ObserverEditRefused(EditRefused):
    code = "observer_cannot_edit"
    message = N_("Als Beobachter/in können Sie den Text lesen und kommentieren, aber nicht ändern.")


class TransitionRefused(PhaseForbids):
    code = "phase_transition_refused"
    message = N_("Dieser Phasenwechsel ist nicht möglich.")


class InvalidOperation(DomainError):
    """An edit that does not fit its base, or comes under somebody else's client id."""

    code = "invalid_operation"
    status = 422
    message = N_(
        "Die Änderung konnte nicht gelesen werden. Bitte laden Sie die Seite neu; "
        "Ihr Text wird Ihnen dann angeboten."
    )


class InvalidText(DomainError):
    """An edit that would put control characters into the text (`domain.text`)."""

    code = "invalid_text"
    status = 422
    message = N_(
        "Die Änderung enthält Steuerzeichen, die in einem Text nicht vorkommen dürfen, und "
        "wurde nicht übernommen. Bitte fügen Sie den Text erneut ein; der Editor entfernt "
        "sie dann."
    )


class UnknownBase(DomainError):
    """An edit or a read based on a revision the declaration does not (yet) have."""

    code = "unknown_base"
    status = 409
    message = N_("Ihre Ansicht ist nicht auf dem neuesten Stand. Sie wird jetzt abgeglichen.")


class TextTooLong(DomainError):
    """An edit after which the text would exceed the configured limit (``limit``)."""

    code = "text_too_long"
    status = 413
    message = N_("Der Text würde zu lang (höchstens %(limit)s Zeichen). Bitte kürzen Sie ihn.")


class EditTooLarge(DomainError):
    """A single batch too large to transform and store in one step."""

    code = "edit_too_large"
    status = 413
    message = N_(
        "Diese Änderung ist zu groß für einen Schritt. Bitte fügen Sie den Text in Teilen ein."
    )


class MessageTooLarge(DomainError):
    """A live event larger than the message limit: thrown away unread (`realtime.inbound`)."""

    code = "message_too_large"
    status = 413
    message = N_(
        "Das ist zu viel auf einmal: Eine Nachricht an den Server darf höchstens "
        "%(kilobytes)s KB groß sein. Nichts davon wurde übernommen. Bitte fügen Sie den "
        "Text in Teilen ein."
    )


class SeqReused(DomainError):
    """A client sent another batch under a sequence number it had already used.

    A resend carries the same base and operation; anything else under a used number would
    otherwise be acknowledged as stored while it never was.
    """

    code = "seq_reused"
    status = 409
    message = N_(
        "Diese Änderung wurde nicht übernommen: Ihr Editor hat sie unter einer Nummer "
        "geschickt, die schon eine andere Änderung trägt. Ihr Text wird Ihnen angeboten, "
        "damit Sie ihn erneut einfügen können."
    )


# -- comments ------------------------------------------------------------------------


class CommentsClosed(PhaseForbids):
    """Comments are part of drafting and review; the approved text is not discussed."""

    code = "comments_closed"
    status = 409
    message = N_(
        "Die Erklärung ist freigegeben. Kommentare sind nicht mehr möglich. "
        "Wenden Sie sich an die Moderation, falls eine Korrektur nötig ist."
    )


class CommentEmpty(InvalidInput):
    code = "comment_empty"
    message = N_("Der Kommentar ist leer. Bitte schreiben Sie etwas.")


class CommentTooLong(InvalidInput):
    code = "comment_too_long"
    message = N_(
        "Der Kommentar ist zu lang: höchstens %(limit)s Zeichen sind möglich. "
        "Bitte kürzen Sie ihn oder teilen Sie ihn auf."
    )


class ReasonRequired(InvalidInput):
    code = "reason_required"
    message = N_("Bitte geben Sie einen Grund an (höchstens %(limit)s Zeichen).")


class InvalidPassage(InvalidInput):
    """A comment's passage is empty or outside the text of the revision it names."""

    code = "invalid_passage"
    message = N_(
        "Diese Textstelle gibt es in der Fassung nicht. Markieren Sie die Stelle bitte neu."
    )


class NotYourComment(Forbidden):
    code = "not_your_comment"
    message = N_("Sie können nur Ihre eigenen Kommentare bearbeiten oder löschen.")


class CommentGone(Conflict):
    """The comment was deleted by its author; nothing more can be done with it."""

    code = "comment_deleted"
    message = N_("Dieser Kommentar wurde gelöscht.")


# -- addressee, sign-offs and approval ---------------------------------------------------


class NotASignatory(Forbidden):
    """Only mayors sign (zeichnen), and each only for themselves."""

    code = "not_a_signatory"
    message = N_(
        "Zeichnen können nur die Bürgermeisterinnen und Bürgermeister, jeweils für sich selbst."
    )


class SignOffClosed(PhaseForbids):
    code = "sign_off_closed"
    message = N_(
        "Gezeichnet wird in der Abstimmung. Im Moment ist das nicht möglich; "
        "die Moderation startet die Abstimmung, sobald der Text steht."
    )


class ContentChanged(Conflict):
    """The content changed between what the mayor was shown and the sign-off."""

    code = "content_changed"
    message = N_(
        "Die Fassung hat sich geändert, seit Sie sie geöffnet haben. "
        "Bitte prüfen Sie die aktuelle Fassung und zeichnen Sie dann erneut."
    )


class AddresseeMissing(PhaseForbids):
    code = "addressee_missing"
    message = N_(
        "Es ist noch kein Adressat festgelegt. Gezeichnet wird die Erklärung mit ihrem "
        "Adressaten; bitte warten Sie, bis die Moderation ihn festlegt."
    )


class AddresseeFrozen(PhaseForbids):
    code = "addressee_frozen"
    message = N_(
        "Die Erklärung ist freigegeben: Der Adressat kann nicht mehr geändert werden. "
        "Wenden Sie sich an die Moderation, falls eine Korrektur nötig ist."
    )


class ApprovalBlocked(PhaseForbids):
    """The approval's conditions are not met; the message names the first one missing."""

    code = "approval_blocked"
    message = N_("Die Fassung kann noch nicht freigegeben werden.")


# -- sending to the addressee -----------------------------------------------------------


class SendingClosed(PhaseForbids):
    """Only the approved version is sent, and not once its publication is withdrawn."""

    code = "sending_closed"
    message = N_(
        "Die Erklärung ist noch nicht freigegeben. An den Adressaten gesendet wird erst die "
        "freigegebene Fassung."
    )


class AddresseeEmailMissing(PhaseForbids):
    """The recorded addressee has no e-mail address: the application cannot send to it."""

    code = "addressee_email_missing"
    message = N_(
        "Für den Adressaten „%(name)s“ ist keine E-Mail-Adresse hinterlegt. Laden Sie die "
        "signierte PDF-Datei herunter und senden Sie sie selbst an den Adressaten."
    )


# -- passkeys ------------------------------------------------------------------------


class PasskeyInvalid(DomainError):
    """A passkey's assertion (or registration) did not verify; ``detail`` says why (logs)."""

    code = "passkey_invalid"
    status = 422
    message = N_(
        "Die Bestätigung mit Ihrem Passkey konnte nicht geprüft werden. "
        "Bitte versuchen Sie es noch einmal."
    )

    def __init__(self, message: str | None = None, *, detail: str = "") -> None:
        super().__init__(message)
        #: Which check failed, in English, for the log (never shown to participants).
        self.detail = detail


class PasskeyReplayed(PasskeyInvalid):
    """An assertion already used, or one whose signature counter went backwards."""

    code = "passkey_replayed"
    message = N_(
        "Diese Bestätigung mit dem Passkey wurde bereits verwendet. "
        "Bitte bestätigen Sie die Zeichnung erneut mit Ihrem Passkey."
    )


class PasskeyRequired(Forbidden):
    """A mayor who registered a passkey signs with it, not with the login session alone."""

    code = "passkey_required"
    message = N_(
        "Sie haben einen Passkey eingerichtet: Bitte zeichnen Sie mit Ihrem Passkey. "
        "Wenn Sie ihn nicht mehr nutzen können, entfernen Sie ihn unter „Passkeys“."
    )


class PasskeyRegistrationFailed(DomainError):
    """Registering a passkey failed: an expired start, a wrong origin, a bad response."""

    code = "passkey_registration_failed"
    status = 422
    message = N_(
        "Der Passkey konnte nicht eingerichtet werden. Bitte laden Sie die Seite neu und "
        "versuchen Sie es noch einmal."
    )

    def __init__(self, message: str | None = None, *, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


# -- exports ---------------------------------------------------------------------------


class CertificateUnusable(DomainError):
    """The certificate configured for signing PDF exports cannot sign; the message says why.

    A matter for whoever runs the installation (``DECLARATION_PDF_CERTIFICATE``), not for
    the person exporting, hence a server error.
    """

    code = "certificate_unusable"
    status = 500
    message = N_(
        "Das Zertifikat für die Signatur der PDF-Dateien ist nicht nutzbar. "
        "Bitte wenden Sie sich an den Betrieb dieser Installation."
    )


# -- refusals of the live connection (the ``/draft`` namespace) ------------------------


class InvalidPayload(DomainError):
    """An event's data did not match its payload model."""

    code = "invalid_payload"
    status = 400
    message = N_("Die Nachricht an den Server war unvollständig. Bitte laden Sie die Seite neu.")


class NotJoined(DomainError):
    """An event named a declaration the connection has not joined (or left again)."""

    code = "not_joined"
    status = 409
    message = N_(
        "Die Verbindung zur Erklärung wird gerade neu aufgebaut. Bitte einen Moment Geduld."
    )


class TooFast(DomainError):
    """A connection spent its rate limit; the client sends again shortly."""

    code = "rate_limited"
    status = 429
    message = N_("Zu viele Änderungen in kurzer Zeit. Ihre Eingaben werden gleich übertragen.")


class UnknownEvent(DomainError):
    """A client sent an event the protocol does not have."""

    code = "unknown_event"
    status = 400
    message = N_("Diese Nachricht kennt der Server nicht. Bitte laden Sie die Seite neu.")


class ServerFailed(DomainError):
    """An event's handler failed unexpectedly; the refusal says so without details."""

    code = "server_error"
    status = 500
    message = N_("Auf dem Server ist ein Fehler aufgetreten. Bitte laden Sie die Seite neu.")


class StorageFailed(DomainError):
    """Storing a batch of edits failed; not a refusal, the client sends the batch again."""

    code = "storage_failed"
    status = 503
    message = N_("Ihre Änderung konnte gerade nicht gespeichert werden. Sie wird erneut gesendet.")


def message_for(code: str) -> str | None:
    """Return the message of the refusal with ``code`` (for records that keep only codes)."""
    pending: list[type[DomainError]] = [DomainError]
    while pending:
        cls = pending.pop()
        if cls.code == code:
            return cls.message
        pending.extend(cls.__subclasses__())
    return None
