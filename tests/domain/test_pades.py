"""PAdES signatures over the whole PDF: appended to the file, and broken by any changed byte."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from io import BytesIO

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader, PdfWriter
from pypdf.annotations import FreeText

from declaration.domain.documents import pades
from declaration.domain.manifest import Check
from tests import signing

AT = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*0\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")
HEX_DIGITS = b"0123456789ABCDEFabcdef"

XMP = b"""<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/"
 xmlns:pdf="http://ns.adobe.com/pdf/1.3/" pdfaid:part="3" pdfaid:conformance="B"
 pdf:Producer="Testrenderer 1.0"/>
</rdf:RDF></x:xmpmeta>
<?xpacket end="w"?>"""


def _sign(data: bytes, signer: pades.PdfSigner) -> bytes:
    return pades.sign_pdf(
        data, signer, at=AT, reason="Gezeichnete Erklärung", location="Merseburg", name="Titel"
    )


@pytest.fixture(scope="module")
def signer() -> pades.PdfSigner:
    key = signing.rsa_key(3072)
    subject = signing.name("Erklärungen – Siegel dieser Installation")
    return pades.PdfSigner(key, signing.certificate(key, subject, days=3650))


@pytest.fixture(scope="module")
def unsigned() -> bytes:
    return signing.small_pdf()


@pytest.fixture(scope="module")
def signed(unsigned: bytes, signer: pades.PdfSigner) -> bytes:
    return _sign(unsigned, signer)


def _passes(checks: list[Check]) -> bool:
    return bool(checks) and all(check.ok for check in checks)


def _failing(checks: list[Check]) -> list[str]:
    return [check.text for check in checks if not check.ok]


def _contents(signed: bytes) -> tuple[int, int]:
    """Return where the signature value's ``<hex>`` starts and ends in the file."""
    match = BYTE_RANGE.search(signed)
    assert match is not None
    return int(match.group(1)), int(match.group(2))


def _replace_hex(data: bytes, at: int, needle: str, new: str, occurrence: int = 0) -> bytes:
    """Replace the ``occurrence``-th ``needle`` (hex, any case) in the value from ``at``."""
    start, end = _contents(data)
    text = data[start:end].decode("ascii")
    found = [m.start() for m in re.finditer(needle, text, re.I)]
    index = start + found[occurrence] + at
    changed = bytearray(data)
    original = data[index : index + len(new)].decode("ascii")
    if original.lower() == new.lower():  # already that digit: take the next one
        new = format((int(new, 16) + 1) % 16, "x")
    replacement = new.upper() if original.isupper() else new.lower()
    changed[index : index + len(new)] = replacement.encode("ascii")
    assert bytes(changed) != data
    return bytes(changed)


# -- signing ---------------------------------------------------------------------------


def test_signed_pdf_verifies_and_names_its_certificate(signed, signer):
    expected = pades.certificate_sha256(signer)
    checks, digest = pades.verify_pdf_signature(signed, expected_certificate_sha256=expected)

    assert _passes(checks), _failing(checks)
    assert digest == expected
    assert not any(check.unverified for check in checks)
    texts = "\n".join(check.text for check in checks)
    assert "genau eine Signatur" in texts
    assert "deckt die ganze Datei ab" in texts
    assert "im Manifest genannte" in texts
    assert "„Erklärungen – Siegel dieser Installation“" in texts
    assert "Organisation „Stadt Merseburg“" in texts
    assert "Signiert am 4. Dezember 2026, 11:00 Uhr" in texts


def test_certificate_hash_is_the_sha256_of_the_certificate(signer):
    der = signer.certificate.public_bytes(Encoding.DER)
    assert pades.certificate_sha256(signer) == hashlib.sha256(der).hexdigest()


def test_signing_appends_to_the_document_instead_of_rewriting_it(unsigned, signed):
    assert signed.startswith(unsigned)
    assert len(signed) > len(unsigned)
    assert PdfReader(BytesIO(signed)).pages[0].extract_text() == "Merseburger Erklaerung"


def test_signature_carries_reason_location_and_name(signed):
    reader = PdfReader(BytesIO(signed))
    field = reader.get_fields()[pades.FIELD_NAME]
    value = field["/V"]
    assert value["/SubFilter"] == "/ETSI.CAdES.detached"
    assert value["/Reason"] == "Gezeichnete Erklärung"
    assert value["/Location"] == "Merseburg"
    assert value["/Name"] == "Titel"
    assert value["/M"].startswith("D:20261204100000")


def test_signing_leaves_the_pdfa_metadata_alone(signer):
    """PDF/A wants the Info dictionary and the XMP to agree; the signature touches neither."""
    unsigned = signing.small_pdf(xmp=XMP)
    signed = _sign(unsigned, signer)

    before, after = PdfReader(BytesIO(unsigned)), PdfReader(BytesIO(signed))
    assert after.metadata == before.metadata
    assert after.metadata["/Producer"] == "Testrenderer 1.0"
    assert after.root_object["/Metadata"].get_object().get_data() == XMP
    annotation = after.pages[0]["/Annots"][0].get_object()
    assert annotation["/Rect"] == [0, 0, 0, 0]
    assert annotation["/F"] & 4, "PDF/A wants the print flag on every annotation"
    assert _passes(pades.verify_pdf_signature(signed)[0])


def test_signature_without_expected_certificate_says_it_is_unchecked(signed):
    checks, digest = pades.verify_pdf_signature(signed)

    assert _passes(checks)
    unverified = [check for check in checks if check.unverified]
    assert len(unverified) == 1
    assert "selbst ausgestellt" in unverified[0].text
    assert digest is not None and digest[:4] in unverified[0].text


@pytest.mark.parametrize("expected", ["0" * 64, "not a hash", ""])
def test_another_certificate_than_the_manifest_names_fails(signed, expected):
    checks, _ = pades.verify_pdf_signature(signed, expected_certificate_sha256=expected)
    assert not _passes(checks)


def test_certificate_named_in_capitals_is_the_same(signed, signer):
    expected = pades.certificate_sha256(signer).upper()
    checks, _ = pades.verify_pdf_signature(signed, expected_certificate_sha256=expected)
    assert _passes(checks)


def test_certificate_chain_is_embedded_and_signed(unsigned):
    ca_key, leaf_key = signing.rsa_key(), signing.rsa_key()
    ca_name = signing.name("Test-CA", "Vertrauensdienst")
    ca = signing.certificate(ca_key, ca_name, usage=signing.CA_USAGE, ca=True)
    leaf = signing.certificate(leaf_key, signing.name("Stadt Merseburg"), issuer=(ca_key, ca_name))
    signed = _sign(unsigned, pades.PdfSigner(leaf_key, leaf, chain=(ca, leaf, ca)))

    assert _passes(pades.verify_pdf_signature(signed)[0])
    # A byte of the CA's certificate (in its signature value, which nothing else checks).
    ca_hex = ca.public_bytes(Encoding.DER)[-8:].hex()
    changed = _replace_hex(signed, 0, ca_hex, "0" if ca_hex[0] != "0" else "1")
    assert not _passes(pades.verify_pdf_signature(changed)[0])


def test_certificate_not_valid_when_signing_fails(unsigned):
    key = signing.rsa_key()
    expired = signing.certificate(
        key, signing.name("Abgelaufen"), not_before=AT - timedelta(days=400), days=30
    )
    signed = _sign(unsigned, pades.PdfSigner(key, expired))

    failing = _failing(pades.verify_pdf_signature(signed)[0])
    assert len(failing) == 1
    assert "nicht gültig" in failing[0]


def test_control_characters_of_a_certificate_name_are_not_repeated(unsigned):
    key = signing.rsa_key()
    hostile = signing.name("Siegel\x1b[2J\x1b]0;x\x07" + "A" * 40, "\x00O\n")
    signed = _sign(unsigned, pades.PdfSigner(key, signing.certificate(key, hostile)))

    checks, _ = pades.verify_pdf_signature(signed)
    for check in checks:
        assert not any(ord(ch) < 32 or ord(ch) == 127 for ch in check.text)
        assert len(check.text) < 400


# -- what breaks it ----------------------------------------------------------------------


def _positions(signed: bytes) -> list[int]:
    """Positions to change: the header, the signature dictionary and the start of the value
    (its lengths, versions, algorithms), the padding, the trailer, and a spread over all."""
    start, end = _contents(signed)
    chosen = set(range(64))
    chosen |= set(range(start - 200, start + 400))
    chosen |= set(range(end - 400, end + 40, 37))
    chosen |= set(range(len(signed) - 200, len(signed)))
    chosen |= set(range(0, len(signed), 29))
    return sorted(chosen)


def _changed(signed: bytes, at: int) -> bytes:
    """Change the byte at ``at``: another hex digit inside the value, another byte elsewhere."""
    start, end = _contents(signed)
    data = bytearray(signed)
    if start < at < end - 1 and data[at] in HEX_DIGITS:
        digit = int(chr(data[at]), 16)
        data[at] = ord(format((digit + 5) % 16, "X"))
    else:
        data[at] ^= 0x01
    return bytes(data)


def test_every_changed_byte_breaks_the_signature(signed):
    survivors = []
    for at in _positions(signed):
        checks, _ = pades.verify_pdf_signature(_changed(signed, at))
        if _passes(checks):
            survivors.append(at)
    assert survivors == []


@pytest.mark.parametrize(
    ("what", "needle", "at", "new"),
    [
        # NULL parameters of the SHA-256 identifiers → an empty string (no signature covers them)
        ("digest parameters", "6086480165030402010500", 18, "1"),
        ("signer's digest parameters", "6086480165030402010500", 18, "1"),
        # the signer's issuer, by which pyHanko finds the certificate, in other letter case
        ("issuer", "45726B6C", 0, "6"),
        # sha256WithRSAEncryption → rsaEncryption, which verifies the same signature
        ("signature algorithm", "2A864886F70D01010B0500", 17, "1"),
    ],
)
def test_unsigned_fields_of_the_signature_value_cannot_change(signed, what, needle, at, new):
    occurrence = {"signer's digest parameters": 1, "issuer": 2, "signature algorithm": 2}.get(
        what, 0
    )
    changed = _replace_hex(signed, at, needle, new, occurrence)
    checks, _ = pades.verify_pdf_signature(changed)
    assert not _passes(checks), what


def test_container_length_taking_in_padding_cannot_change(signed):
    """Two more bytes for the outer container: two zero bytes of padding, which a lenient
    parser reads as an empty element."""
    start, _ = _contents(signed)
    assert signed[start + 1 : start + 5].upper() == b"3082"
    length = int(signed[start + 5 : start + 9], 16)
    longer = format(length + 2, "04X").encode("ascii")
    if signed[start + 5 : start + 9].islower():
        longer = longer.lower()
    changed = signed[: start + 5] + longer + signed[start + 9 :]

    checks, _ = pades.verify_pdf_signature(changed)
    assert not _passes(checks)


def test_padding_and_letter_case_of_the_value_cannot_change(signed):
    start, end = _contents(signed)
    padding = bytearray(signed)
    padding[end - 2] = ord("1")
    case = bytearray(signed)
    letter = next(i for i in range(start + 1, end) if chr(case[i]) in "ABCDEF")
    case[letter] = ord(chr(case[letter]).lower())

    for changed in (padding, case):
        checks, _ = pades.verify_pdf_signature(bytes(changed))
        assert not _passes(checks)


@pytest.mark.parametrize(
    ("tail", "said"),
    [
        (b"\n", "nicht die ganze Datei"),
        (b"\x00", "nicht die ganze Datei"),
        (b"1 0 obj\n<< >>\nendobj\n", "nicht die ganze Datei"),
        (b"%%EOF\n", "nicht lesbar"),  # a second end marker: the reader refuses the file
    ],
)
def test_bytes_appended_after_signing_fail(signed, tail, said):
    checks, _ = pades.verify_pdf_signature(signed + tail)

    assert not _passes(checks)
    assert any(said in text for text in _failing(checks))


def test_incremental_update_after_signing_fails(signed):
    writer = PdfWriter(BytesIO(signed), incremental=True)
    writer.add_annotation(0, FreeText(text="Nachtrag", rect=(50, 550, 200, 650)))
    buffer = BytesIO()
    writer.write(buffer)
    updated = buffer.getvalue()
    assert updated.startswith(signed)

    checks, _ = pades.verify_pdf_signature(updated)
    assert not _passes(checks)
    assert any("nicht die ganze Datei" in text for text in _failing(checks))


def test_second_signature_is_reported(signed, signer, monkeypatch):
    monkeypatch.setattr(pades, "FIELD_NAME", "Zweite Signatur")
    twice = _sign(signed, signer)

    checks, _ = pades.verify_pdf_signature(twice)
    failing = _failing(checks)
    assert "Die PDF-Datei trägt 2 Signaturen; erwartet ist genau eine." in failing
    assert any("nicht die ganze Datei" in text for text in failing)


def test_unsigned_pdf_fails(unsigned):
    checks, digest = pades.verify_pdf_signature(unsigned)
    assert checks == [Check(False, "Die PDF-Datei trägt keine Signatur.")]
    assert digest is None


@pytest.mark.parametrize(
    "byte_range",
    [b"[0 1 2 3]", b"[0 0 0 0]", b"[5 10 20 30]", b"[0 -1 9 9]", b"[]", b"(0 1 2 3)"],
)
def test_broken_byte_range_fails(signed, byte_range):
    match = BYTE_RANGE.search(signed)
    assert match is not None
    original = signed[match.start() : match.end()]
    replacement = b"/ByteRange " + byte_range
    replacement += b" " * (len(original) - len(replacement))
    changed = signed.replace(original, replacement)

    checks, _ = pades.verify_pdf_signature(changed)
    assert not _passes(checks)


# -- hostile input ---------------------------------------------------------------------


def _fails_quietly(data: bytes) -> None:
    checks, _ = pades.verify_pdf_signature(data)
    assert checks
    assert not _passes(checks)


HOSTILE = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@HOSTILE
@given(st.binary(max_size=4096))
def test_garbage_fails_without_raising(data):
    _fails_quietly(data)


@HOSTILE
@given(st.binary(max_size=2048))
def test_garbage_behind_a_pdf_header_fails_without_raising(data):
    _fails_quietly(b"%PDF-1.7\n" + data + b"\n%%EOF\n")


@HOSTILE
@given(cut=st.integers(min_value=0, max_value=10**6))
def test_truncated_signed_pdf_fails_without_raising(signed, cut):
    _fails_quietly(signed[: cut % len(signed)])


@HOSTILE
@given(start=st.integers(min_value=0, max_value=10**6), junk=st.binary(min_size=1, max_size=64))
def test_signed_pdf_with_a_spliced_in_piece_fails_without_raising(signed, start, junk):
    at = start % len(signed)
    changed = signed[:at] + junk + signed[at + len(junk) :]
    if changed != signed:
        _fails_quietly(changed)


# -- other readers ---------------------------------------------------------------------


def test_poppler_reports_the_signature_valid(signed, tmp_path):
    """poppler's pdfsig (as evince and okular check it) accepts the signature.

    The certificate is self-signed, so pdfsig cannot trust its issuer; the signature
    itself must be valid and cover the whole document.
    """
    pdfsig = shutil.which("pdfsig")
    if pdfsig is None:
        pytest.fail("pdfsig is missing: install poppler-utils to run this test")
    path = tmp_path / "signiert.pdf"
    path.write_bytes(signed)
    result = subprocess.run(
        [pdfsig, str(path)], capture_output=True, text=True, check=False, timeout=60
    )
    assert "Signature Validation: Signature is Valid." in result.stdout, result.stdout
    assert "Total document signed" in result.stdout
    assert "Signature Type: ETSI.CAdES.detached" in result.stdout


def test_signing_and_verifying_work_inside_a_running_event_loop(unsigned, signer):
    """pyHanko's synchronous calls run asyncio themselves; a caller's loop must not stop them."""
    import asyncio

    async def inside() -> tuple[list[Check], str | None]:
        signed = pades.sign_pdf(unsigned, signer, reason="r", location="l", name="n")
        return pades.verify_pdf_signature(signed)

    checks, certificate = asyncio.run(inside())

    assert _passes(checks), [c.text for c in checks if not c.ok]
    assert certificate == pades.certificate_sha256(signer)
