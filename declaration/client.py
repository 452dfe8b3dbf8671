"""A Python client of the sync protocol: scripted users, tests and benchmarks use it.

    client = DraftClient("http://127.0.0.1:5000")
    client.login(token)                 # an invitation or login link's token
    client.open("k7fm2q9xat")           # the declaration's key (or its id)
    client.edit(0, 0, "Entwurf: ")      # exact operation at a code-point position
    client.sync(timeout=5)              # every edit acknowledged, every revision applied
    print(client.text, client.revision)
    client.close()

The client keeps at most one batch in flight; edits made meanwhile are composed into the
next batch. It reconnects by itself, closes gaps by asking for the revisions it missed, and
resends an unacknowledged batch with its original sequence number (the server never
applies a batch twice). A refused batch is dropped, the text is reset to the server's, and
the refusal (with the passages that were not accepted) is kept in :attr:`refusals`.
"""

from __future__ import annotations

import html
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import engineio
import engineio.packet
import requests
import socketio

from declaration.domain.errors import REFUSING_CODES as REFUSING
from declaration.domain.operations import Operation, OperationError, from_delta, from_texts
from declaration.domain.sync import ClientDocument, GapDetected, Refusal, Revision, SyncError
from declaration.domain.text import clean, clean_inserts

log = logging.getLogger(__name__)

NAMESPACE = "/draft"
SESSION_COOKIE = "erklaerung_session"


class _InOrderEngineIO(engineio.Client):  # type: ignore[misc]
    """An engine.io client that handles each message on its reading thread, in order.

    python-engineio starts a thread per received message by default, so revisions can
    overtake each other and the client must repair the order with resyncs; under load
    that costs more than the messages themselves. The handlers here never block (they
    take a short lock and answer through callbacks), so handling them inline is safe.
    """

    def _receive_packet(self, pkt: Any) -> None:
        if pkt.packet_type == engineio.packet.MESSAGE:
            self._trigger_event("message", pkt.data, run_async=False)
            return
        super()._receive_packet(pkt)


def _page_message(page: str) -> str | None:
    """Return the message an error page shows below its heading, if any."""
    match = re.search(r"<h1>[^<]*</h1>\s*<p>(.*?)</p>", page, re.S)
    return html.unescape(match.group(1)).strip() if match else None


class _InOrderClient(socketio.Client):  # type: ignore[misc]
    def _engineio_client_class(self) -> type[engineio.Client]:
        return _InOrderEngineIO


class ClientError(RuntimeError):
    """The server refused something, or did not answer in time."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Refused:
    """A batch the server refused: why, and the text that was not accepted."""

    code: str
    message: str
    refusal: Refusal


#: Called with (revision, operation applied to the local text, author membership id).
RemoteListener = Callable[[int, Operation, int | None], None]


class DraftClient:
    """One participant's connection to one declaration."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.client_id = secrets.token_urlsafe(12)
        self.http = requests.Session()
        self.refusals: list[Refused] = []
        self.errors: list[str] = []
        self.listeners: list[RemoteListener] = []
        #: How often this client had to ask for missed revisions (each costs a round trip).
        self.resyncs = 0
        self._sio = _InOrderClient(
            reconnection=True,
            reconnection_delay=0.05,
            reconnection_delay_max=1.0,
            randomization_factor=0.3,
        )
        self._changed = threading.Condition(threading.RLock())
        self._doc: ClientDocument | None = None
        self._key: str | None = None
        self._joined = False
        self._resyncing = False
        self._closing = False
        # Revisions broadcast between our entering the room and the join answer (the
        # server joins the room before it reads the head, so none is lost): kept until
        # the answer gives us a replica to apply them to.
        self._early: list[dict[str, Any]] = []
        #: Revisions broadcast while a resync is under way, applied after its answer: the
        #: answer only reaches the head the server read, and a revision committed after
        #: that read would otherwise be lost until the next one reveals the gap.
        self._held: list[dict[str, Any]] = []
        self.joined_payload: dict[str, Any] = {}
        self._sio.on("connect", self._on_connect, namespace=NAMESPACE)
        self._sio.on("disconnect", self._on_disconnect, namespace=NAMESPACE)
        self._sio.on("revisions", self._on_revisions, namespace=NAMESPACE)
        self._sio.on("access_revoked", self._on_access_revoked, namespace=NAMESPACE)
        self._sio.on("comments_changed", self._on_comments_changed, namespace=NAMESPACE)
        #: Threads announced as changed (``comments_changed``), in the order heard.
        self.changed_threads: list[int] = []

    # -- login and opening ------------------------------------------------------------

    def login(self, token: str) -> None:
        """Exchange an invitation or login link's token for a session."""
        response = self.http.get(
            f"{self.base_url}/einladung/{token}", allow_redirects=False, timeout=self.timeout
        )
        if response.status_code != 302 or SESSION_COOKIE not in self.http.cookies:
            raise ClientError(f"login refused (HTTP {response.status_code})", "login_refused")

    def open(self, declaration: str | int) -> None:
        """Connect, join the declaration and load its text and revision."""
        self._key = str(declaration)
        cookie = self.http.cookies.get(SESSION_COOKIE)
        if cookie is None:
            raise ClientError("log in first", "not_authenticated")
        with self._changed:
            self._joined = False
            self._early = []
        self._sio.connect(
            self.base_url,
            headers={"Cookie": f"{SESSION_COOKIE}={cookie}"},
            namespaces=[NAMESPACE],
            transports=["websocket"],
            wait_timeout=self.timeout,
        )
        self._wait(lambda: self._joined, "joining the declaration")

    @property
    def text(self) -> str:
        with self._changed:
            return self._document().text

    @property
    def revision(self) -> int:
        with self._changed:
            return self._document().revision

    @property
    def is_synchronised(self) -> bool:
        with self._changed:
            return self._doc is not None and self._doc.is_synchronised and not self._resyncing

    def _document(self) -> ClientDocument:
        if self._doc is None:
            raise ClientError("open a declaration first", "not_joined")
        return self._doc

    # -- editing ----------------------------------------------------------------------

    def edit(self, pos: int, delete_count: int, insert: str) -> None:
        """Replace ``delete_count`` code points at ``pos`` with ``insert``.

        Like every edit method, it leaves out the control characters the server refuses
        and makes every line break ``\\n`` (`domain.text.clean`), as the browser editor does.
        """
        with self._changed:
            self._document().edit(pos, delete_count, clean(insert))
            self._pump()

    def edit_with(self, choose: Callable[[str], tuple[int, int, str] | None]) -> None:
        """Edit based on the current text, atomically: no revision arrives in between.

        ``choose(text)`` returns ``(pos, delete_count, insert)`` or None for no edit.
        """
        with self._changed:
            change = choose(self._document().text)
            if change is not None:
                pos, delete_count, insert = change
                self._document().edit(pos, delete_count, clean(insert))
                self._pump()

    def apply(self, op: Operation) -> None:
        """Apply an exact operation on the current local text."""
        with self._changed:
            self._document().local_edit(clean_inserts(op))
            self._pump()

    def replace_text(self, new: str) -> None:
        """Make ``new`` the text (sent as the operation between the current text and it)."""
        with self._changed:
            self._document().local_edit(from_texts(self._document().text, clean(new)))
            self._pump()

    def presence(self, cursor: int | None, selection: tuple[int, int] | None = None) -> None:
        """Tell the others where the cursor and selection are."""
        with self._changed:
            revision = self._document().revision
        self._emit(
            "presence",
            {
                "declaration": self._key,
                "revision": revision,
                "cursor": cursor,
                "selection": list(selection) if selection else None,
            },
        )

    def sync(self, timeout: float | None = None) -> None:
        """Wait until every local edit is acknowledged and every known revision applied."""
        self._wait(lambda: self.is_synchronised and self._joined, "synchronising", timeout=timeout)

    def close(self) -> None:
        """Disconnect (unsent edits are lost; call :meth:`sync` first)."""
        self._closing = True
        self._sio.disconnect()
        self.http.close()

    # -- comments ---------------------------------------------------------------------

    def comment(self, start: int | None, end: int | None, body: str) -> int:
        """Comment on ``[start, end)`` of the current text (None, None: the whole text).

        Positions are code points of :attr:`text`. Local edits are confirmed first, so
        that the positions name the same passage in the server's text; the server carries
        them over revisions that arrive meanwhile. Returns the new thread's id.
        """
        data: dict[str, Any] = {"declaration": self._key, "body": body}
        if start is not None or end is not None:
            self.sync()
            with self._changed:
                revision = self._document().revision
            data.update({"revision": revision, "start": start, "end": end})
        return int(self._call("comment", data)["id"])

    def reply(self, comment_id: int, body: str) -> int:
        """Answer in the thread of ``comment_id``; return the reply's id."""
        data = {"declaration": self._key, "comment": comment_id, "body": body}
        return int(self._call("reply", data)["id"])

    def edit_comment(self, comment_id: int, body: str) -> None:
        """Change the text of one's own comment or reply."""
        self._call("comment_edit", {"declaration": self._key, "comment": comment_id, "body": body})

    def delete_comment(self, comment_id: int) -> None:
        """Delete one's own comment or reply ("Kommentar gelöscht" stays in the thread)."""
        self._call("comment_delete", {"declaration": self._key, "comment": comment_id})

    def resolve(self, comment_id: int) -> None:
        """Mark the thread as done (erledigt)."""
        self._call("resolve", {"declaration": self._key, "comment": comment_id})

    def reopen(self, comment_id: int) -> None:
        """Open a resolved thread again."""
        self._call("reopen", {"declaration": self._key, "comment": comment_id})

    def hide(self, comment_id: int, reason: str) -> None:
        """Hide a comment from the other participants, with a reason (moderation only)."""
        data = {"declaration": self._key, "comment": comment_id, "reason": reason}
        self._call("hide", data)

    def unhide(self, comment_id: int) -> None:
        """Show a hidden comment to everyone again (moderation only)."""
        self._call("unhide", {"declaration": self._key, "comment": comment_id})

    def mark_read(self, comment_id: int) -> None:
        """Note that the thread of ``comment_id`` was read up to its newest reply."""
        self._call("comment_read", {"declaration": self._key, "comment": comment_id})

    def comments(self, ids: list[int] | None = None) -> list[dict[str, Any]]:
        """Return the threads (or those of ``ids``) in text order, as this participant sees them.

        Each has ``id``, ``start``, ``end`` (None when detached or on the whole text),
        ``revision`` (the head the positions refer to), ``quote``, ``state`` (``open``,
        ``resolved``, ``detached`` or ``hidden``), ``author``, ``body``, ``unread`` and
        ``replies``; docs/protocol.md lists every field.
        """
        data: dict[str, Any] = {"declaration": self._key}
        if ids is not None:
            data["ids"] = ids
        return list(self._call("comments", data)["comments"])

    def wait_for_thread(self, thread_id: int, timeout: float | None = None) -> None:
        """Wait until the server announced a change of ``thread_id``."""
        self._wait(lambda: thread_id in self.changed_threads, "waiting for a comment", timeout)

    # -- addressee, sign-offs and approval ---------------------------------------------

    def status(self) -> dict[str, Any]:
        """Return the status board: phase, revision, ``content_hash``, ``addressee_options``,
        the recorded ``addressee``, ``participants`` (mayors with ``state``: ``valid``,
        ``stale``, ``declined`` or ``open``), ``approvable`` and its ``blockers``."""
        return self._call("status", {"declaration": self._key})

    def sign(
        self, content_hash: str | None = None, assertion: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Sign the current content (text and addressee); return the board.

        ``content_hash`` is what the mayor was shown; without it, the current one is asked
        for first. Refused with ``content_changed`` when the content changed in between.
        A mayor who registered a passkey passes its WebAuthn ``assertion`` over the hash
        (docs/protocol.md, "Passkey assertions").
        """
        shown = content_hash or str(self.status()["content_hash"])
        data: dict[str, Any] = {"declaration": self._key, "content_hash": shown}
        if assertion is not None:
            data["assertion"] = assertion
        return self._call("sign", data)

    def withdraw(self) -> dict[str, Any]:
        """Withdraw one's sign-off (or decline)."""
        return self._call("withdraw", {"declaration": self._key})

    def decline(self, reason: str = "") -> dict[str, Any]:
        """Decline to sign (nicht mitzeichnen), with an optional reason."""
        return self._call("decline", {"declaration": self._key, "reason": reason})

    def prefer(self, option_id: int, reason: str = "") -> dict[str, Any]:
        """Recommend an addressee, with a reason."""
        data = {"declaration": self._key, "option": option_id, "reason": reason}
        return self._call("prefer", data)

    def add_addressee_option(self, name: str, address: str = "", email: str = "") -> int:
        """Offer a further addressee (moderation); return its id."""
        data = {"declaration": self._key, "name": name, "address": address, "email": email}
        board = self._call("addressee_option", data)
        return max(int(option["id"]) for option in board["addressee_options"])

    def edit_addressee_option(
        self, option_id: int, name: str, address: str = "", email: str = ""
    ) -> dict[str, Any]:
        """Change an addressee option (moderation)."""
        data = {
            "declaration": self._key,
            "option": option_id,
            "name": name,
            "address": address,
            "email": email,
        }
        return self._call("addressee_option", data)

    def remove_addressee_option(self, option_id: int) -> dict[str, Any]:
        """Stop offering an addressee option (moderation)."""
        return self._call(
            "remove_addressee_option", {"declaration": self._key, "option": option_id}
        )

    def decide_addressee(self, option_id: int, rationale: str = "") -> dict[str, Any]:
        """Record the addressee, with the rationale (moderation)."""
        data = {"declaration": self._key, "option": option_id, "rationale": rationale}
        return self._call("decide_addressee", data)

    def set_phase(self, name: str) -> dict[str, Any]:
        """Move the declaration to phase ``name`` (moderation); ``approved`` approves."""
        return self._call("set_phase", {"declaration": self._key, "phase": name})

    def approve(self) -> dict[str, Any]:
        """Approve (Freigabe): freeze the current content (moderation)."""
        return self._call("approve", {"declaration": self._key})

    def send_to_addressee(self) -> dict[str, Any]:
        """Send the signed PDF to the recorded addressee, a copy to every signatory
        (moderation, once approved); return the board.

        The answer's ``sent`` holds the ``message_id`` of the mail to the addressee, its
        ``recipient``, the number of ``copies`` and the file's ``file_sha256``; the board's
        ``sendings`` lists every sending so far. The mails go out after the answer.
        """
        return self._call("send_to_addressee", {"declaration": self._key})

    # -- downloads ----------------------------------------------------------------------

    def download(
        self,
        file_format: str,
        revision: int | None = None,
        *,
        paragraph_numbers: bool = False,
        open_comments: bool = False,
    ) -> tuple[bytes, bytes]:
        """Download an export and its sealed manifest, as the "Herunterladen" buttons do.

        Without a revision and extras: the signed version once approved, else the newest
        text as a draft. With a revision or extras: that revision as a draft (the
        approved revision without extras is the signed version).
        """
        base = f"{self.base_url}/erklaerungen/{self._require_key()}/dateien"
        if revision is None and not (paragraph_numbers or open_comments):
            final = self.http.get(f"{base}/endfassung.{file_format}", timeout=self.timeout)
            if final.status_code == 200:
                manifest = self._fetch(f"{base}/endfassung.{file_format}.manifest.json")
                return final.content, manifest
        form = {"csrf_token": self._csrf_token(), "format": file_format}
        if revision is not None:
            form["revision"] = str(revision)
        if paragraph_numbers:
            form["numbers"] = "1"
        if open_comments:
            form["comments"] = "1"
        made = self.http.post(base, data=form, allow_redirects=False, timeout=self.timeout)
        if made.status_code != 303:
            raise ClientError(_page_message(made.text) or f"HTTP {made.status_code}", "refused")
        ready = self.http.get(self.base_url + made.headers["Location"], timeout=self.timeout)
        links = re.findall(r'href="(/erklaerungen/[^"]+/dateien/\d+/[^"]+)"', ready.text)
        if len(links) < 2:
            raise ClientError("no download offered", "refused")
        return self._fetch(self.base_url + links[0]), self._fetch(self.base_url + links[1])

    # -- publication --------------------------------------------------------------------

    def publication(self, key: str | None = None) -> dict[str, Any]:
        """Return the public summary of a published declaration (default: the open one).

        Read from ``/veroeffentlicht/<key>.json``, which anyone may read without logging
        in: the official files with their SHA-256s and addresses, or, once withdrawn,
        only ``withdrawn`` (date and reason). ClientError when it is not published.
        """
        which = key if key is not None else self._require_key()
        response = self.http.get(
            f"{self.base_url}/veroeffentlicht/{which}.json",
            headers={"Accept": "application/json"},
            timeout=self.timeout,
        )
        if response.status_code not in (200, 410):
            raise ClientError(f"HTTP {response.status_code}: not published", "not_found")
        summary: dict[str, Any] = response.json()
        return summary

    def withdraw_publication(self, reason: str) -> dict[str, Any]:
        """Withdraw the open declaration's publication with ``reason`` (moderation).

        Returns the public summary afterwards; a refusal raises ClientError with the
        message the declaration page shows.
        """
        key = self._require_key()
        form = {"csrf_token": self._csrf_token(), "reason": reason}
        response = self.http.post(
            f"{self.base_url}/erklaerungen/{key}/veroeffentlichung/zurueckziehen",
            data=form,
            allow_redirects=False,
            timeout=self.timeout,
        )
        if response.status_code != 303:
            message = _page_message(response.text) or f"HTTP {response.status_code}"
            raise ClientError(message, "refused")
        page = self.http.get(self.base_url + response.headers["Location"], timeout=self.timeout)
        refused = re.search(r'<p class="flash flash--error">(.*?)</p>', page.text, re.S)
        if refused is not None:
            raise ClientError(html.unescape(refused.group(1)).strip(), "refused")
        return self.publication(key)

    def _fetch(self, url: str) -> bytes:
        response = self.http.get(url, timeout=self.timeout)
        if response.status_code != 200:
            raise ClientError(f"HTTP {response.status_code} for {url}", "refused")
        return response.content

    def _csrf_token(self) -> str:
        page = self.http.get(f"{self.base_url}/", timeout=self.timeout)
        match = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
        if match is None:
            raise ClientError("no CSRF token offered", "not_authenticated")
        return html.unescape(match.group(1))

    def _require_key(self) -> str:
        if self._key is None:
            raise ClientError("open a declaration first", "not_joined")
        return self._key

    def _on_comments_changed(self, data: Any) -> None:
        with self._changed:
            if isinstance(data, dict) and isinstance(data.get("ids"), list):
                self.changed_threads.extend(i for i in data["ids"] if isinstance(i, int))
            self._changed.notify_all()

    def _call(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        """Send ``event``, wait for its answer, raise ClientError when it is a refusal."""
        self._wait(lambda: self._joined, "joining the declaration")
        try:
            answer = self._sio.call(event, data, namespace=NAMESPACE, timeout=self.timeout)
        except socketio.exceptions.TimeoutError:
            raise ClientError(f"timed out waiting for the answer to {event}", "timeout") from None
        except socketio.exceptions.BadNamespaceError:
            raise ClientError("not connected", "not_connected") from None
        if not isinstance(answer, dict) or not answer.get("ok"):
            error = (answer or {}).get("error") or {} if isinstance(answer, dict) else {}
            raise ClientError(str(error.get("message", f"{event} refused")), error.get("code"))
        return answer

    # -- protocol ---------------------------------------------------------------------

    def _emit(
        self, event: str, data: dict[str, Any], callback: Callable[..., None] | None = None
    ) -> None:
        try:
            self._sio.emit(event, data, namespace=NAMESPACE, callback=callback)
        except socketio.exceptions.BadNamespaceError:
            log.debug("not connected; %s will follow the reconnect", event)

    def _pump(self) -> None:
        """Send the next batch if none is in flight (caller holds the lock)."""
        if not self._joined or self._resyncing or self._doc is None:
            return
        batch = self._doc.take_batch()
        if batch is not None:
            self._send(batch.seq, batch.base, batch.operation)

    def _send(self, seq: int, base: int, op: Operation) -> None:
        self._emit(
            "edit",
            {
                "declaration": self._key,
                "client_id": self.client_id,
                "seq": seq,
                "base": base,
                "op": op.to_delta(),
            },
            callback=lambda answer: self._on_edit_answer(seq, answer),
        )

    def _on_edit_answer(self, seq: int, answer: dict[str, Any]) -> None:
        with self._changed:
            doc = self._document()
            if answer.get("ok"):
                try:
                    doc.on_ack(seq, answer["rev"], unchanged=answer.get("outcome") == "unchanged")
                except GapDetected:
                    self._resync(then_ack=(seq, answer))
                    return
                self._pump()
                self._changed.notify_all()
                return
            error = answer.get("error") or {}
            code = str(error.get("code"))
            if code in REFUSING:
                refusal = doc.on_refused(seq)
                if refusal is not None:
                    self.refusals.append(Refused(code, str(error.get("message")), refusal))
                    self._changed.notify_all()
                self._pump()
            elif code == "unknown_base":
                self._resync()
            else:  # rate_limited, not_joined: the batch stays in flight and is resent
                self.errors.append(code)
                threading.Timer(0.2, self._resend).start()

    def _resend(self) -> None:
        with self._changed:
            if self._doc is None or not self._joined or self._resyncing:
                return
            batch = self._doc.on_reconnect()
            if batch is not None:
                self._send(batch.seq, batch.base, batch.operation)

    def _on_revisions(self, data: dict[str, Any]) -> None:
        with self._changed:
            if self._doc is None:
                self._early.extend(data["revisions"])
                return
            self._apply_revisions(data["revisions"])

    def _apply_revisions(self, revisions: list[dict[str, Any]]) -> None:
        """Apply broadcast revisions in order (caller holds the lock)."""
        doc = self._doc
        assert doc is not None
        applied = False
        for index, data in enumerate(revisions):
            if self._resyncing:
                self._held.extend(revisions[index:])  # applied after the resync answer
                break
            if data["rev"] <= doc.revision:
                continue
            if data["rev"] > doc.revision + 1:
                self._resync()  # a broadcast went missing: fetch what lies between
                break
            try:
                op = from_delta(data["op"], len(doc.server_text))
                local = doc.on_remote(
                    data["rev"], op, data.get("client_id") or "", data.get("seq") or -1
                )
            except (OperationError, SyncError) as error:
                log.warning("revision %s did not fit (%s); resynchronising", data["rev"], error)
                self._resync()
                break
            applied = True
            if local is not None:
                self._notify(data["rev"], local, data.get("author"))
        if applied:
            self._pump()
            self._changed.notify_all()

    def _notify(self, revision: int, op: Operation, author: int | None) -> None:
        for listener in self.listeners:
            listener(revision, op, author)

    def _resync(self, then_ack: tuple[int, dict[str, Any]] | None = None) -> None:
        """Fetch the revisions since ours and apply them (caller holds the lock)."""
        if self._resyncing or self._doc is None:
            return
        self._resyncing = True
        self.resyncs += 1
        self._emit(
            "resync",
            {"declaration": self._key, "since": self._doc.revision},
            callback=lambda answer: self._on_resync_answer(answer, then_ack),
        )

    def _on_resync_answer(
        self, answer: dict[str, Any], then_ack: tuple[int, dict[str, Any]] | None
    ) -> None:
        with self._changed:
            self._resyncing = False
            doc = self._document()
            if not answer.get("ok"):
                self.errors.append(str((answer.get("error") or {}).get("code")))
                return
            for item in answer["revisions"]:
                if item["rev"] <= doc.revision:
                    continue
                op = from_delta(item["op"], len(doc.server_text))
                local = doc.on_remote(
                    item["rev"],
                    op,
                    item.get("client_id") or "",
                    item.get("seq") if item.get("seq") is not None else -1,
                )
                if local is not None:
                    self._notify(item["rev"], local, item.get("author"))
            if doc.revision < answer["head"]:
                self._resync(then_ack)  # more than one page of revisions
                return
            if then_ack is not None:
                seq, ack = then_ack
                doc.on_ack(seq, ack["rev"], unchanged=ack.get("outcome") == "unchanged")
            batch = doc.on_reconnect()
            if batch is not None:
                self._send(batch.seq, batch.base, batch.operation)
            held, self._held = self._held, []
            self._apply_revisions(held)  # known ones are skipped, a gap resyncs again
            self._pump()
            self._changed.notify_all()

    def _on_connect(self) -> None:
        self._emit("join", {"declaration": self._key}, callback=self._on_join_answer)

    def _on_join_answer(self, answer: dict[str, Any]) -> None:
        with self._changed:
            if not answer.get("ok"):
                error = answer.get("error") or {}
                self.errors.append(str(error.get("code")))
                self._changed.notify_all()
                return
            self.joined_payload = answer
            if self._doc is None:
                self._doc = ClientDocument(self.client_id, answer["text"], answer["revision"])
                self._joined = True
                early, self._early = self._early, []
                self._apply_revisions(early)  # older ones are skipped, a gap resyncs
            else:
                # A reconnect: keep our replica and unconfirmed edits, fetch what we missed,
                # then resend the batch in flight (its sequence number makes this safe).
                self._joined = True
                self._resync()
            self._changed.notify_all()

    def _on_access_revoked(self, data: Any = None) -> None:
        """Stop for good: the participant was removed or their login ended."""
        with self._changed:
            self.errors.append("access_revoked")
            self._closing = True
            self._changed.notify_all()
        threading.Thread(target=self._sio.disconnect, daemon=True).start()

    def _on_disconnect(self, reason: Any = None) -> None:
        with self._changed:
            self._joined = False
            self._resyncing = False
            self._changed.notify_all()

    def _wait(self, ready: Callable[[], bool], what: str, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        with self._changed:
            while not ready():
                if self.errors and what == "joining the declaration":
                    raise ClientError(f"join refused: {self.errors[-1]}", self.errors[-1])
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ClientError(f"timed out {what}", "timeout")
                self._changed.wait(min(remaining, 0.1))


__all__ = ["REFUSING", "ClientError", "DraftClient", "Refused", "Revision"]
