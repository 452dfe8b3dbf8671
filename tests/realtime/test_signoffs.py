"""The sign-off workflow over /draft: addressee, sign-offs bound to the content, approval."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select, update

from declaration import clock
from declaration.db import get_database
from declaration.domain.content import Addressee, content_hash
from declaration.domain.operations import Operation
from declaration.domain.roles import Role
from declaration.models import AuditEvent, Declaration
from declaration.outbound import NAMESPACE

TEXT = "Präambel\nDie Kommunen erklären gemeinsam.\n"
SGSA = ("Städte- und Gemeindebund Sachsen-Anhalt", "Sternstraße 3\n39104 Magdeburg")


def _emit(client, event: str, data: dict) -> dict:
    return client.emit(event, data, namespace=NAMESPACE, callback=True)


def _ok(client, event: str, data: dict) -> dict:
    answer = _emit(client, event, data)
    assert answer["ok"], (event, answer)
    return answer


def _code(answer: dict) -> str:
    assert answer["ok"] is False, answer
    return answer["error"]["code"]


class Room:
    """A declaration in review with its moderator and mayors, all joined."""

    def __init__(self, moderator_token, invite, socket_client, mayors: int = 2) -> None:
        self.key, token = moderator_token(text=TEXT)
        self.moderator = socket_client(token)
        self.mayors = [socket_client(invite(self.key, Role.MAYOR)) for _ in range(mayors)]
        self.observer = socket_client(invite(self.key, Role.OBSERVER))
        for client in (self.moderator, *self.mayors, self.observer):
            _ok(client, "join", {"declaration": self.key})
        self.seq = 0

    def ref(self, **data) -> dict:
        return {"declaration": self.key, **data}

    def option(self, name: str = SGSA[0], address: str = SGSA[1]) -> int:
        board = _ok(self.moderator, "addressee_option", self.ref(name=name, address=address))
        return max(o["id"] for o in board["addressee_options"])

    def review_with_addressee(self) -> int:
        option = self.option()
        _ok(self.moderator, "decide_addressee", self.ref(option=option, rationale="Zuständig"))
        _ok(self.moderator, "set_phase", self.ref(phase="review"))
        return option

    def board(self, client=None) -> dict:
        return _ok(client or self.moderator, "status", self.ref())

    def sign(self, client) -> dict:
        return _emit(client, "sign", self.ref(content_hash=self.board(client)["content_hash"]))

    def edit(self, position: int, delete: int, insert: str) -> None:
        board = self.board()
        text = _current_text(self)
        self.seq += 1
        answer = _emit(
            self.moderator,
            "edit",
            self.ref(
                client_id="mod",
                seq=self.seq,
                base=board["revision"],
                op=Operation.edit(len(text), position, delete, insert).to_delta(),
            ),
        )
        assert answer["ok"], answer

    def states(self) -> list[str]:
        return [p["state"] for p in self.board()["participants"] if p["role"] == "mayor"]


def _current_text(room: Room) -> str:
    return _ok(room.moderator, "join", {"declaration": room.key})["text"]


def _audit_kinds(app, key: str) -> list[str]:
    with app.app_context(), get_database().transaction() as s:
        declaration = s.scalars(select(Declaration).filter_by(key=key)).one()
        return list(
            s.scalars(
                select(AuditEvent.kind)
                .where(AuditEvent.declaration_id == declaration.id)
                .order_by(AuditEvent.id)
            )
        )


def test_the_content_hash_covers_the_text_and_the_recorded_addressee(
    moderator_token, invite, socket_client
):
    room = Room(moderator_token, invite, socket_client)
    before = room.board()["content_hash"]
    room.review_with_addressee()

    after = room.board()

    assert before == content_hash(TEXT, None)
    assert after["content_hash"] == content_hash(TEXT, Addressee(*SGSA))
    assert after["addressee"]["name"] == SGSA[0]
    assert after["addressee"]["rationale"] == "Zuständig"


def test_a_sign_off_goes_stale_with_an_edit_and_is_valid_again_after_a_revert(
    moderator_token, invite, socket_client
):
    room = Room(moderator_token, invite, socket_client)
    room.review_with_addressee()
    assert room.sign(room.mayors[0])["ok"]
    assert sorted(room.states()) == ["open", "valid"]

    room.edit(0, 0, "Entwurf: ")
    assert "stale" in room.states()

    room.edit(0, len("Entwurf: "), "")
    assert "valid" in room.states()


def test_changing_the_recorded_addressee_makes_every_sign_off_stale(
    moderator_token, invite, socket_client
):
    room = Room(moderator_token, invite, socket_client)
    option = room.review_with_addressee()
    for mayor in room.mayors:
        assert room.sign(mayor)["ok"]

    _ok(
        room.moderator,
        "addressee_option",
        room.ref(option=option, name=SGSA[0], address="Postfach 1234\n39004 Magdeburg"),
    )

    assert room.states() == ["stale", "stale"]


def test_a_mayor_signs_only_what_they_were_shown(moderator_token, invite, socket_client):
    room = Room(moderator_token, invite, socket_client)
    room.review_with_addressee()
    shown = room.board(room.mayors[0])["content_hash"]
    room.edit(0, 0, "Neu: ")

    answer = _emit(room.mayors[0], "sign", room.ref(content_hash=shown))

    assert _code(answer) == "content_changed"
    assert room.states() == ["open", "open"]


def test_only_mayors_sign_and_only_in_review_and_each_refusal_is_audited(
    app, moderator_token, invite, socket_client
):
    room = Room(moderator_token, invite, socket_client)
    early = room.sign(room.mayors[0])  # still drafting
    room.review_with_addressee()

    as_observer = room.sign(room.observer)
    as_moderator = room.sign(room.moderator)

    assert _code(early) == "sign_off_closed"
    assert _code(as_observer) == _code(as_moderator) == "not_a_signatory"
    kinds = _audit_kinds(app, room.key)
    assert kinds.count("sign.refused") == 3
    assert "signoff.signed" not in kinds


def test_signing_before_an_addressee_is_recorded_is_refused(moderator_token, invite, socket_client):
    room = Room(moderator_token, invite, socket_client)
    _ok(room.moderator, "set_phase", room.ref(phase="review"))

    assert _code(room.sign(room.mayors[0])) == "addressee_missing"


def test_the_approval_waits_for_an_addressee_and_every_mayors_answer(
    app, moderator_token, invite, socket_client
):
    room = Room(moderator_token, invite, socket_client)
    _ok(room.moderator, "set_phase", room.ref(phase="review"))
    no_addressee = _emit(room.moderator, "approve", room.ref())
    option = room.option()
    _ok(room.moderator, "decide_addressee", room.ref(option=option))
    assert room.sign(room.mayors[0])["ok"]
    one_missing = _emit(room.moderator, "approve", room.ref())
    _ok(room.mayors[1], "decline", room.ref(reason="Bitte ohne uns."))
    room.edit(0, 0, "Neu: ")
    stale = _emit(room.moderator, "approve", room.ref())
    assert room.sign(room.mayors[0])["ok"]

    approved = _ok(room.moderator, "approve", room.ref())

    assert [_code(a) for a in (no_addressee, one_missing, stale)] == ["approval_blocked"] * 3
    assert "Adressat" in no_addressee["error"]["message"]
    assert "geantwortet" in one_missing["error"]["message"]
    assert "aktuelle Fassung" in stale["error"]["message"]
    assert approved["phase"] == "approved"
    assert approved["approved"]["content_hash"] == approved["content_hash"]
    kinds = _audit_kinds(app, room.key)
    assert kinds.count("approve.refused") == 3
    assert kinds[-1] == "declaration.approved"


def test_after_the_deadline_mayors_who_did_not_answer_do_not_block(
    app, moderator_token, invite, socket_client
):
    room = Room(moderator_token, invite, socket_client)
    room.review_with_addressee()
    assert room.sign(room.mayors[0])["ok"]
    with app.app_context(), get_database().transaction(write=True) as s:
        yesterday = clock.today() - timedelta(days=1)
        s.execute(update(Declaration).where(Declaration.key == room.key).values(deadline=yesterday))

    approved = _ok(room.moderator, "set_phase", room.ref(phase="approved"))

    assert approved["phase"] == "approved"
    assert isinstance(date.fromisoformat(approved["deadline"]), date)


def test_the_approval_freezes_text_addressee_and_sign_offs(moderator_token, invite, socket_client):
    room = Room(moderator_token, invite, socket_client, mayors=1)
    option = room.review_with_addressee()
    assert room.sign(room.mayors[0])["ok"]
    _ok(room.moderator, "approve", room.ref())
    room.moderator.get_received(NAMESPACE)

    edit = _emit(
        room.moderator,
        "edit",
        room.ref(client_id="m", seq=9, base=0, op=Operation.edit(len(TEXT), 0, 0, "x").to_delta()),
    )
    readdress = _emit(room.moderator, "addressee_option", room.ref(option=option, name="Andere"))
    redecide = _emit(room.moderator, "decide_addressee", room.ref(option=option))
    withdraw = _emit(room.mayors[0], "withdraw", room.ref())

    assert _code(edit) == "text_frozen"
    assert _code(readdress) == _code(redecide) == "addressee_frozen"
    assert _code(withdraw) == "sign_off_closed"
    assert room.states() == ["valid"]


def test_everyone_present_hears_of_every_step(moderator_token, invite, socket_client):
    room = Room(moderator_token, invite, socket_client, mayors=1)
    room.observer.get_received(NAMESPACE)

    room.review_with_addressee()

    names = [m["name"] for m in room.observer.get_received(NAMESPACE)]
    assert names.count("status_changed") == 3
    assert "phase" in names


def test_preferences_are_visible_to_all_with_their_reasons(moderator_token, invite, socket_client):
    room = Room(moderator_token, invite, socket_client)
    option = room.option()

    _ok(room.mayors[0], "prefer", room.ref(option=option, reason="Die Verbände bündeln"))
    refused = _emit(room.observer, "prefer", room.ref(option=option, reason="x"))

    seen = room.board(room.observer)["addressee_options"][0]["preferences"]
    assert [p["reason"] for p in seen] == ["Die Verbände bündeln"]
    assert _code(refused) == "not_a_signatory"
