"""The sync engine: server integration, the client state machine, and a network simulation."""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from declaration.domain.errors import SeqReused
from declaration.domain.operations import Operation, from_texts
from declaration.domain.sync import (
    Batch,
    ClientDocument,
    GapDetected,
    Outcome,
    Revision,
    SyncError,
    UncleanInsert,
    batch_digest,
    is_resend,
    rebase,
)
from tests.domain.server_model import ServerDocument


def catch_up(client: ClientDocument, revisions: Iterable[Revision]) -> None:
    """Apply fetched revisions in order, as the clients do with a resync's answer."""
    for revision in revisions:
        client.on_remote(revision.number, revision.operation, revision.client_id, revision.seq)


# --- server -----------------------------------------------------------------------------


def test_accepted_batch_creates_the_next_revision() -> None:
    server = ServerDocument("Hallo")
    result = server.submit("a", 1, 0, Operation.edit(5, 5, 0, " Welt"))
    assert (result.outcome, result.revision) == (Outcome.ACCEPTED, 1)
    assert server.text == "Hallo Welt"
    assert server.head == 1
    assert server.revisions_since(0) == (Revision(1, result.operation, "a", 1),)


def test_resent_batch_is_acknowledged_again_and_not_applied_twice() -> None:
    server = ServerDocument("ab")
    op = Operation.edit(2, 1, 0, "X")
    first = server.submit("a", 7, 0, op)
    server.submit("b", 1, 1, Operation.edit(3, 0, 0, "Y"))
    again = server.submit("a", 7, 0, op)
    assert again.outcome is Outcome.DUPLICATE
    assert (again.revision, again.operation) == (first.revision, first.operation)
    assert server.text == "YaXb"
    assert server.head == 2


def test_another_operation_under_a_used_number_is_refused_and_stores_nothing() -> None:
    server = ServerDocument("ab")
    first = server.submit("a", 7, 0, Operation.edit(2, 1, 0, "X"))
    with pytest.raises(SeqReused) as refused:
        server.submit("a", 7, 0, Operation.edit(2, 1, 0, "Y"))
    assert (refused.value.code, refused.value.status) == ("seq_reused", 409)
    with pytest.raises(SeqReused):
        server.submit("a", 7, 1, Operation.edit(3, 1, 0, "X"))  # the same edit, another base
    assert (server.text, server.head) == ("aXb", first.revision)
    assert server.submit("a", 7, 0, Operation.edit(2, 1, 0, "X")).outcome is Outcome.DUPLICATE


def test_a_number_below_the_newest_is_refused_even_with_its_first_operation() -> None:
    server = ServerDocument("ab")
    op = Operation.edit(2, 0, 0, "X")
    server.submit("a", 1, 0, op)
    server.submit("a", 2, 1, Operation.edit(3, 3, 0, "Y"))
    with pytest.raises(SeqReused):
        server.submit("a", 1, 0, op)
    assert (server.text, server.head) == ("XabY", 2)


def test_a_batch_that_changed_nothing_does_not_use_up_its_number() -> None:
    server = ServerDocument("ab")
    assert server.submit("a", 1, 0, Operation.identity(2)).outcome is Outcome.UNCHANGED
    assert server.submit("a", 1, 0, Operation.edit(2, 0, 0, "X")).outcome is Outcome.ACCEPTED


def test_numbers_are_per_client() -> None:
    server = ServerDocument("ab")
    server.submit("a", 1, 0, Operation.edit(2, 0, 0, "X"))
    result = server.submit("b", 1, 0, Operation.edit(2, 0, 0, "Y"))
    assert result.outcome is Outcome.ACCEPTED


def test_is_resend_accepts_the_newest_number_with_its_fingerprint_only() -> None:
    digest = batch_digest(3, Operation.edit(2, 0, 0, "X"))
    assert is_resend(5, digest, 5, digest)
    assert is_resend(5, digest, 5, None)  # stored before fingerprints were kept
    assert not is_resend(6, digest, 5, digest)
    assert not is_resend(1, digest, 0, None)
    for seq, last in ((5, batch_digest(3, Operation.edit(2, 0, 0, "Y"))), (4, digest)):
        with pytest.raises(SeqReused):
            is_resend(seq, digest, 5, last)


def test_the_fingerprint_covers_base_and_operation_not_their_spelling() -> None:
    op = Operation.edit(3, 1, 1, "ä b")
    assert batch_digest(2, op) == batch_digest(2, Operation.edit(3, 1, 1, "ä b"))
    assert batch_digest(2, op) != batch_digest(1, op)
    assert batch_digest(2, op) != batch_digest(2, Operation.edit(3, 1, 1, "ä c"))


@pytest.mark.parametrize("inserted", ["\x00", "a\x0cb", "\r\n", "\x7f", "\x9b", "\u2028", "\ufffe"])
def test_an_operation_inserting_a_control_character_is_refused(inserted: str) -> None:
    server = ServerDocument("ab")
    with pytest.raises(UncleanInsert):
        server.submit("a", 1, 0, Operation.edit(2, 1, 0, inserted))
    assert (server.text, server.head) == ("ab", 0)
    # the number was not used: the cleaned edit goes through under it
    assert server.submit("a", 1, 0, Operation.edit(2, 1, 0, "\tx\n")).outcome is Outcome.ACCEPTED


def test_concurrent_inserts_at_same_position_are_ordered_by_server_history_first() -> None:
    server = ServerDocument("xy")
    server.submit("b", 1, 0, Operation.edit(2, 1, 0, "B"))
    late = server.submit("a", 1, 0, Operation.edit(2, 1, 0, "A"))
    assert late.outcome is Outcome.ACCEPTED
    assert server.text == "xBAy"


def test_batch_that_changes_nothing_creates_no_revision() -> None:
    server = ServerDocument("one two")
    server.submit("a", 1, 0, Operation.edit(7, 3, 4, ""))
    result = server.submit("b", 1, 0, Operation.edit(7, 3, 4, ""))
    assert result.outcome is Outcome.UNCHANGED
    assert result.revision == 1
    assert result.operation.is_noop
    assert server.head == 1
    assert server.text == "one"


@pytest.mark.parametrize("base", [-1, 2])
def test_base_outside_the_history_is_refused(base: int) -> None:
    server = ServerDocument("ab")
    server.submit("a", 1, 0, Operation.edit(2, 0, 0, "x"))
    with pytest.raises(SyncError):
        server.submit("b", 1, base, Operation.identity(2))


def test_operation_for_a_text_of_another_length_is_refused() -> None:
    server = ServerDocument("abc")
    server.submit("a", 1, 0, Operation.edit(3, 0, 0, "x"))
    with pytest.raises(SyncError, match="revision 0 has 3"):
        server.submit("b", 1, 0, Operation.identity(4))
    with pytest.raises(SyncError, match="revision 1 has 4"):
        server.submit("b", 2, 1, Operation.identity(3))
    assert server.head == 1


def test_rebase_transforms_over_each_concurrent_revision_in_order() -> None:
    base = "abc"
    first = Operation.edit(3, 0, 1, "")  # "bc"
    second = Operation.edit(2, 2, 0, "!")  # "bc!"
    mine = Operation.edit(3, 2, 0, "X")  # "abXc"
    rebased = rebase(mine, [first, second])
    assert rebased.apply(second.apply(first.apply(base))) == "bXc!"
    assert rebase(mine, []) == mine


def test_revisions_since_a_future_revision_are_refused() -> None:
    with pytest.raises(SyncError):
        ServerDocument("x").revisions_since(1)


# --- client -----------------------------------------------------------------------------


def test_only_one_batch_is_in_flight_and_later_edits_are_buffered() -> None:
    client = ClientDocument("a", "ab", 0)
    client.edit(2, 0, "c")
    first = client.take_batch()
    assert first == Batch(1, 0, Operation.edit(2, 2, 0, "c"))
    client.edit(3, 0, "d")
    client.edit(4, 0, "e")
    assert client.take_batch() is None
    assert client.on_ack(1, 1)
    second = client.take_batch()
    assert second == Batch(2, 1, Operation.edit(3, 3, 0, "de"))
    assert client.text == "abcde"
    assert client.server_text == "abc"
    assert not client.is_synchronised


def test_edits_that_cancel_out_send_nothing() -> None:
    client = ClientDocument("a", "ab", 0)
    client.edit(1, 0, "xyz")
    client.edit(1, 3, "")
    assert client.take_batch() is None
    assert client.is_synchronised


def test_remote_revision_is_transformed_over_unconfirmed_edits() -> None:
    client = ClientDocument("a", "Die Erklärung", 0)
    client.edit(13, 0, " gilt")
    client.take_batch()
    client.edit(18, 0, "!")
    local = client.on_remote(1, Operation.edit(13, 0, 0, "Gemeinsam: "), "b", 1)
    assert local is not None
    assert client.text == "Gemeinsam: Die Erklärung gilt!"
    assert client.server_text == "Gemeinsam: Die Erklärung"
    assert client.revision == 1


def test_with_nothing_unconfirmed_the_local_text_is_the_servers_not_a_copy() -> None:
    """A revision or an ack is applied to one text, not twice to two equal copies."""
    client = ClientDocument("a", "Die Erklärung", 0)
    client.on_remote(1, Operation.edit(13, 13, 0, " gilt"), "b", 1)
    assert client.text is client.server_text
    client.edit(0, 0, "»")
    client.take_batch()
    assert client.on_ack(1, 2)
    assert client.text is client.server_text == "»Die Erklärung gilt"
    client.edit(19, 0, "?")  # typed, not confirmed: the two texts differ again
    client.on_remote(3, Operation.edit(19, 0, 0, "1. "), "b", 2)
    assert client.text == "1. »Die Erklärung gilt?"
    assert client.server_text == "1. »Die Erklärung gilt"


def test_remote_revision_after_a_gap_raises_gap_detected() -> None:
    client = ClientDocument("a", "x", 3)
    with pytest.raises(GapDetected) as caught:
        client.on_remote(5, Operation.identity(1), "b", 1)
    assert (caught.value.since, caught.value.received) == (3, 5)
    assert client.revision == 3


def test_revision_already_applied_is_ignored() -> None:
    client = ClientDocument("a", "x", 0)
    client.on_remote(1, Operation.edit(1, 1, 0, "y"), "b", 1)
    assert client.on_remote(1, Operation.edit(1, 1, 0, "y"), "b", 1) is None
    assert client.text == "xy"


def test_own_revision_in_the_history_counts_as_acknowledgement() -> None:
    server = ServerDocument("ab")
    client = ClientDocument("a", "ab", 0)
    client.edit(0, 0, "X")
    batch = client.take_batch()
    assert batch is not None
    server.submit("a", batch.seq, batch.base, batch.operation)  # the ack gets lost
    catch_up(client, server.revisions_since(client.revision))
    assert client.is_synchronised
    assert client.revision == 1
    assert not client.on_ack(batch.seq, 1)  # the late ack confirms nothing more
    assert client.text == client.server_text == server.text


def test_ack_after_missing_revisions_raises_gap_detected_and_works_after_catching_up() -> None:
    server = ServerDocument("ab")
    client = ClientDocument("a", "ab", 0)
    client.edit(2, 0, "!")
    batch = client.take_batch()
    assert batch is not None
    server.submit("b", 1, 0, Operation.edit(2, 0, 0, "B"))
    result = server.submit("a", batch.seq, batch.base, batch.operation)
    with pytest.raises(GapDetected):
        client.on_ack(batch.seq, result.revision)
    catch_up(client, server.revisions_since(client.revision))
    assert client.is_synchronised
    assert client.text == server.text == "Bab!"


def test_unchanged_batch_is_confirmed_once_the_client_has_caught_up() -> None:
    server = ServerDocument("one two")
    client = ClientDocument("a", "one two", 0)
    client.edit(3, 4, "")
    batch = client.take_batch()
    assert batch is not None
    server.submit("b", 1, 0, Operation.edit(7, 3, 4, ""))
    result = server.submit("a", batch.seq, batch.base, batch.operation)
    assert result.outcome is Outcome.UNCHANGED
    with pytest.raises(GapDetected):
        client.on_ack(batch.seq, result.revision, unchanged=True)
    catch_up(client, server.revisions_since(client.revision))
    assert client.on_ack(batch.seq, result.revision, unchanged=True)
    assert client.is_synchronised
    assert client.text == server.text == "one"


def test_reconnect_resends_the_same_batch() -> None:
    client = ClientDocument("a", "ab", 0)
    client.edit(0, 0, "x")
    batch = client.take_batch()
    client.edit(0, 0, "y")
    assert client.on_reconnect() == batch
    assert client.on_reconnect() is client.in_flight


def test_refused_batch_hands_back_inserted_text() -> None:
    client = ClientDocument("a", "Die Gemeinde.", 0)
    client.edit(12, 0, " fordert Hilfe")
    batch = client.take_batch()
    assert batch is not None
    client.edit(0, 0, "Wir: ")
    client.on_remote(1, Operation.edit(13, 13, 0, " Ende."), "b", 1)
    refusal = client.on_refused(batch.seq)
    assert refusal is not None
    assert refusal.passages == ("Wir: ", " fordert Hilfe")
    assert refusal.discarded_text == "Wir: Die Gemeinde fordert Hilfe. Ende."
    assert client.text == client.server_text == "Die Gemeinde. Ende."
    assert client.is_synchronised
    assert client.on_refused(batch.seq) is None
    assert client.next_seq == batch.seq + 1


def test_stale_refusal_of_another_batch_is_ignored() -> None:
    client = ClientDocument("a", "", 0)
    client.edit(0, 0, "x")
    client.take_batch()
    assert client.on_refused(99) is None
    assert client.text == "x"


def test_remote_revision_for_another_text_length_is_refused() -> None:
    client = ClientDocument("a", "abc", 0)
    with pytest.raises(SyncError):
        client.on_remote(1, Operation.identity(2), "b", 1)


def test_replace_text_from_a_snapshot_syncs_like_any_edit() -> None:
    server = ServerDocument("Der Rat beschließt.")
    client = ClientDocument("a", server.text, 0)
    client.local_edit(from_texts(client.text, "Der Gemeinderat beschließt einstimmig."))
    batch = client.take_batch()
    assert batch is not None
    result = server.submit("a", batch.seq, batch.base, batch.operation)
    assert client.on_ack(batch.seq, result.revision)
    assert server.text == client.text == "Der Gemeinderat beschließt einstimmig."


# --- simulation -------------------------------------------------------------------------

MARKER = re.compile(r"«c\d+-\d+»")
SAMPLE = "Gemeinsame Erklärung 😀 der Bürgermeiste\u0301r:innen 👍🏽\nWir fordern 𝔘mweltschutz. 中"

Message = tuple[str, int, int, bool, Revision | None]  # kind, seq, revision, unchanged, rev


@dataclass
class SimClient:
    doc: ClientDocument
    inbox: list[Message] = field(default_factory=list)
    markers: int = 0
    pending_events: list[tuple[str, str]] = field(default_factory=list)
    inflight_events: list[tuple[str, str]] = field(default_factory=list)


class Simulation:
    """Clients and a server exchanging messages that arrive late, twice, out of order or never."""

    def __init__(self, rng: random.Random, clients: int, text: str, faults: bool) -> None:
        self.rng = rng
        self.faults = faults
        self.server = ServerDocument(text)
        self.clients = [SimClient(ClientDocument(f"c{i}", text, 0)) for i in range(clients)]
        self.to_server: list[tuple[int, Batch]] = []
        self.seen: set[tuple[str, int]] = set()
        self.refused: set[tuple[str, int]] = set()
        self.inserted: set[str] = set()
        self.deleted: set[str] = set()
        self.dropped: set[str] = set()

    # bookkeeping of which edits the server confirmed

    def observe(self, index: int, was_in_flight: Batch | None) -> None:
        client = self.clients[index]
        if was_in_flight is not None and client.doc.in_flight is None:
            for kind, marker in client.inflight_events:
                (self.inserted if kind == "insert" else self.deleted).add(marker)
            client.inflight_events = []

    # actions

    def local_edit(self, index: int) -> None:
        client = self.clients[index]
        text = client.doc.text
        present = list(MARKER.finditer(text))
        choice = self.rng.random()
        if present and choice < 0.45:
            victim = self.rng.choice(present)
            replacement = ""
            if choice < 0.1:
                client.markers += 1
                replacement = f"«c{index}-{client.markers}»"
                client.pending_events.append(("insert", replacement))
            client.doc.edit(victim.start(), len(victim.group()), replacement)
            client.pending_events.append(("delete", victim.group()))
            return
        position = self.rng.randint(0, len(text))
        for match in present:
            if match.start() < position < match.end():
                position = match.start()
        client.markers += 1
        marker = f"«c{index}-{client.markers}»"
        client.doc.edit(position, 0, marker)
        client.pending_events.append(("insert", marker))

    def send(self, index: int) -> None:
        client = self.clients[index]
        if client.doc.in_flight is not None:
            return
        batch = client.doc.take_batch()
        if batch is None:
            # Nothing pending, or edits that cancelled out: they happened and left no trace.
            for kind, marker in client.pending_events:
                (self.inserted if kind == "insert" else self.deleted).add(marker)
        else:
            self.to_server.append((index, batch))
            client.inflight_events = client.pending_events
        client.pending_events = []

    def deliver_to_server(self) -> None:
        position = self.rng.randrange(len(self.to_server))
        index, batch = self.to_server[position]
        if not (self.faults and self.rng.random() < 0.15):
            del self.to_server[position]  # otherwise it arrives again later
        client_id = f"c{index}"
        key = (client_id, batch.seq)
        if key not in self.seen and self.faults and self.rng.random() < 0.05:
            self.refused.add(key)
        self.seen.add(key)
        inbox = self.clients[index].inbox
        if key in self.refused:
            inbox.append(("refused", batch.seq, 0, False, None))
            return
        try:
            result = self.server.submit(client_id, batch.seq, batch.base, batch.operation)
        except SeqReused:
            # An old batch arriving again after newer ones of its client were stored.
            inbox.append(("reused", batch.seq, 0, False, None))
            return
        if result.outcome is Outcome.ACCEPTED:
            revision = self.server.revisions_since(result.revision - 1)[0]
            for other, client in enumerate(self.clients):
                if other != index:
                    client.inbox.append(("remote", 0, revision.number, False, revision))
        unchanged = result.outcome is Outcome.UNCHANGED
        inbox.append(("ack", batch.seq, result.revision, unchanged, None))

    def handle(self, index: int, message: Message) -> None:
        client = self.clients[index]
        kind, seq, number, unchanged, revision = message
        was_in_flight = client.doc.in_flight
        if kind == "remote":
            assert revision is not None
            client.doc.on_remote(number, revision.operation, revision.client_id, revision.seq)
        elif kind == "ack":
            client.doc.on_ack(seq, number, unchanged=unchanged)
        elif kind == "reused":
            # Only a batch confirmed long ago can be refused so: never the one in flight.
            assert client.doc.on_refused(seq) is None
        else:
            refusal = client.doc.on_refused(seq)
            if refusal is not None:
                events = client.inflight_events + client.pending_events
                inserted = {m for k, m in events if k == "insert"}
                deleted = {m for k, m in events if k == "delete"}
                handed_back = "".join(refusal.passages)
                assert set(MARKER.findall(handed_back)) == inserted - deleted
                assert MARKER.sub("", handed_back) == ""
                self.dropped |= inserted
                client.inflight_events = []
                client.pending_events = []
                return
        self.observe(index, was_in_flight)

    def catch_up(self, index: int) -> None:
        client = self.clients[index]
        was_in_flight = client.doc.in_flight
        catch_up(client.doc, self.server.revisions_since(client.doc.revision))
        self.observe(index, was_in_flight)

    def deliver_to_client(self, index: int) -> None:
        inbox = self.clients[index].inbox
        position = self.rng.randrange(len(inbox))
        message = inbox[position]
        if not (self.faults and self.rng.random() < 0.1):
            del inbox[position]
        try:
            self.handle(index, message)
        except GapDetected:
            self.catch_up(index)
            self.handle(index, message)

    def lose_message(self) -> None:
        inboxes = [client.inbox for client in self.clients if client.inbox]
        if inboxes and self.rng.random() < 0.7:
            inbox = self.rng.choice(inboxes)
            del inbox[self.rng.randrange(len(inbox))]
        elif self.to_server:
            del self.to_server[self.rng.randrange(len(self.to_server))]

    def reconnect(self, index: int) -> None:
        client = self.clients[index]
        client.inbox.clear()
        self.to_server = [(i, batch) for i, batch in self.to_server if i != index]
        self.catch_up(index)
        batch = client.doc.on_reconnect()
        if batch is not None:
            self.to_server.append((index, batch))

    def step(self) -> None:
        roll = self.rng.random()
        index = self.rng.randrange(len(self.clients))
        if roll < 0.3:
            self.local_edit(index)
        elif roll < 0.45:
            self.send(index)
        elif roll < 0.65:
            if self.to_server:
                self.deliver_to_server()
        elif roll < 0.9:
            if self.clients[index].inbox:
                self.deliver_to_client(index)
        elif self.faults and roll < 0.95:
            self.lose_message()
        elif self.faults:
            self.reconnect(index)

    def settle(self) -> None:
        """Deliver everything reliably until every client is confirmed and up to date."""
        self.faults = False
        for _ in range(1000):
            while self.to_server or any(client.inbox for client in self.clients):
                if self.to_server and (self.rng.random() < 0.5 or not self._any_inbox()):
                    self.deliver_to_server()
                else:
                    index = self.rng.choice([i for i, c in enumerate(self.clients) if c.inbox])
                    self.deliver_to_client(index)
            for index, client in enumerate(self.clients):
                self.send(index)
                if client.doc.in_flight is not None and not self.to_server:
                    self.reconnect(index)  # its batch or the answer was lost: resend
            if all(c.doc.is_synchronised for c in self.clients) and not self.to_server:
                break
        for index in range(len(self.clients)):
            self.catch_up(index)

    def _any_inbox(self) -> bool:
        return any(client.inbox for client in self.clients)


def check_converged(sim: Simulation, original: str) -> None:
    server = sim.server
    for client in sim.clients:
        assert client.doc.is_synchronised
        assert client.doc.revision == server.head
        assert client.doc.text == client.doc.server_text == server.text

    counts = Counter(MARKER.findall(server.text))
    assert all(count == 1 for count in counts.values()), "a marker is duplicated"
    assert set(counts) == sim.inserted - sim.deleted, "a marker was lost or revived"
    assert not set(counts) & sim.dropped, "a refused marker came back"
    assert MARKER.sub("", server.text) == original, "untouched text was damaged"

    # the stored history replays to the server's text
    text = original
    for revision in server.revisions_since(0):
        text = revision.operation.apply(text)
    assert text == server.text


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rng=st.randoms(use_true_random=False),
    clients=st.integers(2, 6),
    steps=st.integers(10, 400),
    prefix=st.text(alphabet=st.characters(exclude_characters="«»", exclude_categories=["Cs"])),
    faults=st.booleans(),
)
def test_replicas_converge_without_losing_duplicating_or_reviving_text(
    rng: random.Random, clients: int, steps: int, prefix: str, faults: bool
) -> None:
    original = prefix + SAMPLE
    sim = Simulation(rng, clients, original, faults)
    for _ in range(steps):
        sim.step()
    sim.settle()
    check_converged(sim, original)


def test_simulation_detects_a_lost_insert() -> None:
    """Guard the simulation's checks: a server that drops an edit must fail them."""
    sim = Simulation(random.Random(3), 2, SAMPLE, faults=False)
    for _ in range(60):
        sim.step()
    sim.settle()
    check_converged(sim, SAMPLE)
    assert sim.inserted - sim.deleted
    sim.inserted.add("«c0-999»")
    with pytest.raises(AssertionError, match="lost or revived"):
        check_converged(sim, SAMPLE)
