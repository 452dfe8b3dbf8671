"""The content hash: text and addressee, in bytes anyone can recompute."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from declaration.domain.content import Addressee, content_hash, short

LANDTAG = Addressee("Landtag von Sachsen-Anhalt", "Domplatz 6–9\n39104 Magdeburg")


def test_the_documented_example_gives_the_documented_hash():
    hashed = (
        b"declaration-content-v1\n"
        + "24:Die Kommunen erklären.\n,".encode()
        + b"26:Landtag von Sachsen-Anhalt,"
        + "30:Domplatz 6–9\n39104 Magdeburg,".encode()
    )

    assert content_hash("Die Kommunen erklären.\n", LANDTAG) == hashlib.sha256(hashed).hexdigest()
    assert (
        content_hash("Die Kommunen erklären.\n", LANDTAG)
        == "8a0cc1244f6b85f10c372fefef6cb99bdb2b5f0a88f5e8addece550681c5ebeb"
    )


def test_no_addressee_hashes_two_empty_fields():
    expected = hashlib.sha256(b"declaration-content-v1\n3:abc,0:,0:,").hexdigest()

    assert content_hash("abc", None) == expected


@given(st.text(), st.text(), st.text(), st.text(min_size=1))
def test_text_moved_from_one_field_to_the_next_changes_the_hash(text, name, address, moved):
    # The length prefixes make the fields unambiguous: nothing slides from one to the next.
    assert content_hash(text + moved, Addressee(name, address)) != content_hash(
        text, Addressee(moved + name, address)
    )
    assert content_hash(text, Addressee(name + moved, address)) != content_hash(
        text, Addressee(name, moved + address)
    )


def test_the_addressee_is_part_of_what_is_signed():
    other = Addressee("Landesregierung Sachsen-Anhalt", "Hegelstraße 42\n39104 Magdeburg")

    assert content_hash("Text", LANDTAG) != content_hash("Text", other)
    assert content_hash("Text", LANDTAG) != content_hash("Text", None)


def test_the_short_form_is_three_groups_of_four():
    assert short("3f2a9c01b7e4" + "0" * 52) == "3f2a 9c01 b7e4"
