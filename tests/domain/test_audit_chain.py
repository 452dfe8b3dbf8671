"""The audit chain: links over numbered events, canonical JSON, and verification."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import string
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from declaration.domain.audit import (
    MAX_INTEGER,
    AuditEntry,
    actor_ref,
    canonical_json,
    link,
    verify,
)
from declaration.domain.chain import GENESIS, Break, ChainError
from declaration.domain.chain import link as revision_link

AT = datetime(2025, 3, 1, 9, 30, 0, 12, tzinfo=UTC)


def _chain(events: list[tuple[str, str, datetime, dict[str, Any]]]) -> list[AuditEntry]:
    entries = []
    previous = GENESIS
    for number, (kind, actor, at, data) in enumerate(events, start=1):
        previous = link(previous, number, kind, actor, at, data)
        entries.append(AuditEntry(number, kind, actor, at, data, previous))
    return entries


def _five() -> list[AuditEntry]:
    return _chain(
        [
            ("declaration.created", "person:1", AT, {}),
            ("participant.invited", "person:1", AT, {"person_id": 2, "role": "mayor"}),
            ("phase.moved", "person:1", AT, {"previous": "drafting", "phase": "review"}),
            ("comment.hidden", "person:1", AT, {"comment": 7}),
            ("participant.revoked", "system", AT, {"person_id": 2, "sessions_ended": 0}),
        ]
    )


def _renumbered(entries: list[AuditEntry]) -> list[AuditEntry]:
    return [dataclasses.replace(e, number=n) for n, e in enumerate(entries, start=1)]


def _broken(entries: list[AuditEntry]) -> ChainError:
    with pytest.raises(ChainError) as caught:
        verify(entries)
    return caught.value


def test_link_is_sha256_over_the_audit_tag_and_netstrings_of_every_field() -> None:
    # Pinned byte for byte: the audit trail is verified offline (docs/protocol.md).
    data = {"phase": "review", "note": "Grüße\n", "list": [1, True, None], "by": {"z": 0, "a": -3}}
    serialised = (
        b"declaration-audit-v1\n"
        + b"64:"
        + GENESIS.encode()
        + b","
        + b"1:3,"
        + b"11:phase.moved,"
        + b"8:person:7,"
        + b"27:2025-03-01T09:30:00.000012Z,"
        + b'78:{"by":{"a":-3,"z":0},"list":[1,true,null],"note":"Gr\xc3\xbc\xc3\x9fe\\n",'
        + b'"phase":"review"},'
    )
    assert link(GENESIS, 3, "phase.moved", "person:7", AT, data) == (
        hashlib.sha256(serialised).hexdigest()
    )


def test_the_example_of_the_protocol_document_gives_its_link() -> None:
    at = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert link(GENESIS, 1, "comment.hidden", "person:3", at, {"comment": 12}) == (
        "b0e134175251b6273dc2782df9abcfc7f2b483c8b932e863017c96c587667063"
    )


def test_an_audit_link_never_equals_a_revision_link_over_the_same_text() -> None:
    assert link(GENESIS, 1, "x", "system", AT, {}) != revision_link(GENESIS, "x", "system", AT)


def test_actors_are_named_by_id_or_as_the_system() -> None:
    assert actor_ref(42) == "person:42"
    assert actor_ref(None) == "system"


def test_canonical_json_sorts_keys_has_no_spaces_and_keeps_characters_as_they_are() -> None:
    assert canonical_json({"b": [1, {"d": None, "c": False}], "a": "Straße „x“"}) == (
        '{"a":"Straße „x“","b":[1,{"c":false,"d":null}]}'
    )
    assert canonical_json({"t": 'a"\\\t\x01\u2028'}) == '{"t":"a\\"\\\\\\t\\u0001\u2028"}'


def test_the_same_data_in_another_key_order_gives_the_same_link() -> None:
    first = link(GENESIS, 1, "k", "system", AT, {"a": 1, "b": 2})
    assert first == link(GENESIS, 1, "k", "system", AT, {"b": 2, "a": 1})


def test_the_same_instant_in_another_zone_gives_the_same_link() -> None:
    berlin = AT.astimezone(timezone(timedelta(hours=1)))
    assert link(GENESIS, 1, "k", "system", berlin, {}) == link(GENESIS, 1, "k", "system", AT, {})


@pytest.mark.parametrize(
    "data",
    [
        {"share": 0.5},
        {"nested": [1, {"deep": 1.0}]},
        {"nan": float("nan")},
        {"big": MAX_INTEGER + 1},
        {"small": -MAX_INTEGER - 1},
        {"tuple": (1, 2)},
        {"set": {1}},
        {"when": AT},
        {"bytes": b"x"},
        {"Größe": 1},
        {"nested": {1: "x"}},
        {"surrogate": "\ud800"},
    ],
)
def test_values_without_one_unambiguous_serialisation_are_refused(data: dict[str, Any]) -> None:
    with pytest.raises(ChainError):
        canonical_json(data)
    with pytest.raises(ChainError):
        link(GENESIS, 1, "k", "system", AT, data)


def test_floats_are_refused_with_a_message_that_says_so() -> None:
    with pytest.raises(ChainError, match="floating-point"):
        canonical_json({"share": 0.5})


def test_the_largest_exact_integers_are_allowed() -> None:
    assert canonical_json({"n": [MAX_INTEGER, -MAX_INTEGER]}) == (
        '{"n":[9007199254740991,-9007199254740991]}'
    )


def test_data_must_be_an_object() -> None:
    with pytest.raises(ChainError, match="object"):
        canonical_json([1, 2])  # type: ignore[arg-type]


def test_numbers_start_at_one_and_previous_links_must_be_links() -> None:
    with pytest.raises(ChainError):
        link(GENESIS, 0, "k", "system", AT, {})
    with pytest.raises(ChainError):
        link("AB" * 32, 1, "k", "system", AT, {})
    with pytest.raises(ChainError, match="time zone"):
        link(GENESIS, 1, "k", "system", datetime(2025, 3, 1), {})


def test_a_whole_chain_verifies_to_its_last_link() -> None:
    entries = _five()
    assert verify(entries) == entries[-1].link
    assert verify([]) == GENESIS
    assert verify(entries[2:], start=entries[1].link, first=3) == entries[-1].link


def test_data_read_back_from_stored_json_gives_the_same_links() -> None:
    entries = _five()
    stored = [dataclasses.replace(e, data=json.loads(json.dumps(e.data))) for e in entries]
    assert verify(stored) == entries[-1].link


def test_an_altered_entry_is_found_where_it_is() -> None:
    entries = _five()
    entries[2] = dataclasses.replace(entries[2], data={"previous": "drafting", "phase": "approved"})

    error = _broken(entries)

    assert (error.index, error.problem) == (2, Break.ALTERED)


def test_a_deleted_entry_leaves_a_gap_in_the_numbers() -> None:
    entries = _five()
    del entries[1]

    error = _broken(entries)

    assert (error.index, error.problem) == (1, Break.MISSING)
    assert "entry 2 is missing" in str(error)


def test_a_deleted_entry_with_the_rest_renumbered_breaks_the_next_link() -> None:
    entries = _five()
    del entries[1]

    error = _broken(_renumbered(entries))

    assert (error.index, error.problem) == (1, Break.ALTERED)


def test_an_inserted_entry_breaks_its_own_link() -> None:
    entries = _five()
    forged = AuditEntry(3, "phase.moved", "person:1", AT, {"phase": "approved"}, entries[2].link)
    entries.insert(2, forged)

    error = _broken(_renumbered(entries))

    assert (error.index, error.problem) == (2, Break.ALTERED)


def test_an_entry_numbered_twice_is_found_even_when_its_link_is_right() -> None:
    # The instance chain (no declaration) has no unique constraint of its own to rely on
    # in every database; a copied row must show.
    entries = _five()
    entries.insert(3, entries[2])

    error = _broken(entries)

    assert (error.index, error.problem) == (3, Break.OUT_OF_PLACE)


def test_swapped_entries_are_found_at_the_first_of_them_with_or_without_their_numbers() -> None:
    entries = _five()
    entries[1], entries[3] = entries[3], entries[1]

    assert (_broken(_renumbered(entries)).index, _broken(entries).index) == (1, 1)


def test_a_dropped_last_entry_shows_only_against_a_known_last_link() -> None:
    # Nothing after it carries its link: the last link must be kept elsewhere (an export).
    entries = _five()
    assert verify(entries[:-1]) != entries[-1].link


# -- any single change is found ----------------------------------------------------------

_KEYS = st.text(alphabet=string.ascii_letters + "_", min_size=1, max_size=6)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-MAX_INTEGER, MAX_INTEGER) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
    max_leaves=6,
)
_DATA = st.dictionaries(_KEYS, _JSON, max_size=4)
_TIMES = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
_EVENTS = st.tuples(
    st.sampled_from(["phase.moved", "signoff.signed", "comment.hidden", "login.link"]),
    st.one_of(st.just("system"), st.integers(1, 10**6).map(actor_ref)),
    _TIMES,
    _DATA,
)


def _changed(entry: AuditEntry, field: str, draw: st.DrawFn) -> AuditEntry:
    value: Any
    if field == "number":
        value = draw(st.integers(-3, 50).filter(lambda n: n != entry.number))
    elif field in ("kind", "actor"):
        value = draw(st.text(max_size=12).filter(lambda t: t != getattr(entry, field)))
    elif field == "at":
        value = entry.at + draw(
            st.timedeltas(timedelta(days=-400), timedelta(days=400)).filter(bool)
        )
    elif field == "data":
        value = draw(_DATA.filter(lambda d: canonical_json(d) != canonical_json(entry.data)))
    else:
        value = draw(st.text(alphabet="0123456789abcdef", min_size=64, max_size=64))
        assume(value != entry.link)
    return dataclasses.replace(entry, **{field: value})


# Drawing six events with their data is slow on a loaded machine; the test's size is
# what it needs, so the speed health check is not the test's concern.
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.lists(_EVENTS, min_size=1, max_size=6))
def test_any_single_change_to_any_field_of_any_entry_is_found_there(
    data: st.DataObject, events: list[tuple[str, str, datetime, dict[str, Any]]]
) -> None:
    entries = _chain(events)
    index = data.draw(st.integers(0, len(entries) - 1))
    field = data.draw(st.sampled_from(["number", "kind", "actor", "at", "data", "link"]))
    entries[index] = _changed(entries[index], field, data.draw)

    error = _broken(entries)

    assert error.index == index
