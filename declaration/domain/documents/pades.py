"""The PDF export's signature: PAdES (baseline B-B) over the whole file, made and checked here.

An exported PDF carries its sealed manifest inside (`domain.manifest`); the manifest names
the SHA-256 of the certificate the PDF is signed with, so the seal vouches for the signer
and the signature for every byte of the file. The signature is added as an incremental
update (the rendered bytes stay a prefix of the signed file, so a PDF/A-3b document stays
PDF/A) and covers everything but its own value: a changed, appended or added byte breaks
it. ``verify_pdf_signature`` says line by line what holds (`Check`), needs no network and
never raises for hostile input.

pyHanko does the PDF and CMS work; its types stay inside this module. Beyond what pyHanko
checks, the verification insists on the one layout our signing writes: the only bytes
outside the signed range are the signature value itself, written exactly once as hex,
followed by zero padding only. Otherwise a byte of the file could change (a hex digit's
case, a padding byte, a field of the CMS container no signature covers) while the
signature still verified.
"""

from __future__ import annotations

import asyncio
import binascii
import concurrent.futures
import functools
import hashlib
import hmac
import re
import struct
import unicodedata
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from typing import Any, Final, ParamSpec, TypeVar

from asn1crypto import keys as asn1_keys  # type: ignore[import-untyped]
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.attributes import CMSAttributeProvider, SignedAttributeProviderSpec
from pyhanko.sign.general import as_signing_certificate_v2, find_unique_cms_attribute
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.validation import EmbeddedPdfSignature, SignatureCoverageLevel
from pyhanko.sign.validation import validate_pdf_signature as _validate
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from declaration.domain.dates import format_date_de, format_datetime_de
from declaration.domain.manifest import Check, grouped

#: Name of the (invisible) signature field our signing creates.
FIELD_NAME: Final = "Signatur"

#: Digest of the signed bytes; SHA-256 is what every common reader checks.
DIGEST: Final = "sha256"

_HEX64 = re.compile(r"[0-9a-f]{64}")
_NULL: Final = b"\x05\x00"
#: How our signing names its signature algorithms in the CMS container (asn1crypto's names).
_SIGNATURE_ALGORITHMS: Final = frozenset({"sha256_rsa", "sha256_ecdsa"})

#: What a hostile or broken file can make the PDF reader, the CMS parser (asn1crypto) or the
#: validation raise: pyHanko's read errors are ``PdfError``, its validation errors and
#: asn1crypto's parse errors ``ValueError``; a missing key or index in a malformed object
#: tree ``LookupError``; an object of the wrong type ``TypeError``/``AttributeError`` (and an
#: ``assert`` in pyHanko's signature object); a corrupt stream ``zlib.error``; a packed
#: number ``struct.error``; a cyclic or absurdly deep object ``RecursionError``; an absurd
#: number ``OverflowError``/``ArithmeticError``; a cut-off stream ``EOFError``.
_UNREADABLE: Final = (
    PdfError,
    ValueError,
    LookupError,
    TypeError,
    AttributeError,
    AssertionError,
    zlib.error,
    struct.error,
    RecursionError,
    ArithmeticError,
    EOFError,
)

#: Longest name of a certificate a verification line repeats.
_NAME_LIMIT: Final = 120


@dataclass(frozen=True)
class PdfSigner:
    """The key and certificate a PDF is signed with, and the certificates of their chain.

    ``chain`` holds intermediate certificates to embed (none for a self-signed one);
    readers build the path to a trusted root from them.
    """

    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()


def certificate_sha256(signer: PdfSigner) -> str:
    """Return the SHA-256 (hex) of the signer's certificate in DER, as manifests name it."""
    return hashlib.sha256(signer.certificate.public_bytes(Encoding.DER)).hexdigest()


# -- signing -----------------------------------------------------------------------------


class _KeepMetadata(IncrementalPdfFileWriter):
    """An incremental writer that leaves the document's metadata as it is.

    pyHanko would append itself to the Info dictionary's ``/Producer`` and rewrite the XMP
    stream with another producer and a new date; PDF/A requires the two to agree, and the
    renderer already wrote both. The signature adds no metadata of its own.
    """

    def _update_meta(self) -> None:
        return None


def _asn1_certificate(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(Encoding.DER))


class _EveryCertificate(CMSAttributeProvider):
    """The signing-certificate-v2 attribute naming every embedded certificate, signer first.

    pyHanko names the signer's certificate only; naming the chain's certificates as well
    puts each of their bytes under the signature, like every other byte of the file.
    """

    attribute_type = "signing_certificate_v2"

    def __init__(self, certificates: list[asn1_x509.Certificate]) -> None:
        self.certificates = certificates

    async def build_attr_value(self, dry_run: bool = False) -> tsp.SigningCertificateV2:
        ids = [as_signing_certificate_v2(c, DIGEST)["certs"][0] for c in self.certificates]
        return tsp.SigningCertificateV2({"certs": ids})


class _SignedAttributes(SignedAttributeProviderSpec):
    """PAdES signed attributes: content type and digest (always added), the certificates."""

    def __init__(self, certificates: list[asn1_x509.Certificate]) -> None:
        self.certificates = certificates

    def signed_attr_providers(
        self, data_digest: bytes, digest_algorithm: str
    ) -> Iterator[CMSAttributeProvider]:
        yield _EveryCertificate(self.certificates)


def _pyhanko_signer(signer: PdfSigner) -> signers.SimpleSigner:
    der = signer.key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    certificate = _asn1_certificate(signer.certificate)
    # Each certificate once, the signer's not again: pyHanko embeds them as a set, and the
    # signed attribute must name exactly what is embedded.
    unique = {c.public_bytes(Encoding.DER): c for c in signer.chain}
    unique.pop(signer.certificate.public_bytes(Encoding.DER), None)
    chain = [_asn1_certificate(c) for c in unique.values()]
    simple = signers.SimpleSigner(
        signing_cert=certificate,
        signing_key=asn1_keys.PrivateKeyInfo.load(der),
        cert_registry=SimpleCertificateStore.from_certs(chain),  # type: ignore[no-untyped-call]
    )
    simple.signed_attr_prov_spec = _SignedAttributes([certificate, *chain])
    return simple


async def _sign(
    pdf_signer: signers.PdfSigner,
    writer: IncrementalPdfFileWriter,
    at: datetime | None,
    output: BytesIO,
) -> None:
    """Sign in pyHanko's documented steps, with ``at`` as the signature's time (``/M``).

    ``PdfSigner.sign_pdf`` always takes the current time; PAdES puts the signing time in
    the signature dictionary, not in the CMS, so it is set on the session before the
    dictionary is written.
    """
    session = pdf_signer.init_signing_session(writer)
    if at is not None:
        session.system_time = at
    reserved = await session.estimate_signature_container_size(None)
    document = session.prepare_tbs_document(validation_info=None, bytes_reserved=reserved)
    prepared, result = document.digest_tbs_document(output=output)
    signed = await document.perform_signature(
        document_digest=prepared.document_digest,
        pdf_cms_signed_attrs=PdfCMSSignedAttributes(signing_time=session.system_time),
    )
    await signed.post_signature_processing(result)


P = ParamSpec("P")
R = TypeVar("R")


def _outside_event_loop(function: Callable[P, R]) -> Callable[P, R]:
    """Run ``function`` in a thread of its own when this thread runs an asyncio loop.

    pyHanko's synchronous entry points call `asyncio.run`, which refuses to run inside a
    running loop (a caller using asyncio, or a test driving a browser); a fresh thread
    has none.
    """

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return function(*args, **kwargs)
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(function, *args, **kwargs).result()

    return wrapper


@_outside_event_loop
def sign_pdf(
    data: bytes,
    signer: PdfSigner,
    *,
    at: datetime | None = None,
    reason: str,
    location: str,
    name: str,
) -> bytes:
    """Return ``data`` with a PAdES B-B signature over the whole file, appended to it.

    ``reason``, ``location`` and ``name`` are what readers show beside the signature
    (an empty one is left out); ``at`` is the signing time (default: now). The field is
    invisible and printable, as PDF/A wants. Raises if ``data`` is no PDF pyHanko can
    sign (our renderer's output always is).
    """
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm=DIGEST,
        reason=reason or None,
        location=location or None,
        name=name or None,
    )
    pdf_signer = signers.PdfSigner(
        meta, _pyhanko_signer(signer), new_field_spec=fields.SigFieldSpec(FIELD_NAME)
    )
    output = BytesIO()
    asyncio.run(_sign(pdf_signer, _KeepMetadata(BytesIO(data)), at, output))
    signed = output.getvalue()
    if not signed.startswith(data):
        raise RuntimeError("the signature rewrote the document instead of appending to it")
    return signed


# -- verification ------------------------------------------------------------------------


def _safe(text: str) -> str:
    """Return a certificate's text fit for a verification line: no control characters
    (a hostile name must not steer a terminal), at most ``_NAME_LIMIT`` characters."""
    cleaned = "".join(
        "?" if unicodedata.category(ch).startswith("C") else ch for ch in text
    ).strip()
    if len(cleaned) > _NAME_LIMIT:
        return cleaned[: _NAME_LIMIT - 1] + "…"
    return cleaned


def _subject_words(certificate: asn1_x509.Certificate) -> str:
    """Name a certificate's subject: „common name“ (Organisation „O“)."""
    subject = certificate.subject.native
    common = subject.get("common_name") if isinstance(subject, dict) else None
    organisation = subject.get("organization_name") if isinstance(subject, dict) else None
    if isinstance(common, str):
        words = f"„{_safe(common)}“"
        if isinstance(organisation, str):
            words += f" (Organisation „{_safe(organisation)}“)"
        return words
    return f"„{_safe(certificate.subject.human_friendly)}“"


def _count_line(count: int) -> Check:
    if count == 1:
        return Check(True, "Die PDF-Datei trägt genau eine Signatur.")
    if count == 0:
        return Check(False, "Die PDF-Datei trägt keine Signatur.")
    return Check(False, f"Die PDF-Datei trägt {count} Signaturen; erwartet ist genau eine.")


def _exact_layout(data: bytes, embedded: EmbeddedPdfSignature) -> bool:
    """Whether the only unsigned bytes are the signature value, written once, as we write it.

    The byte range must be ``[0 a b c]`` with ``b + c`` the file's length, and the bytes
    from ``a`` to ``b`` exactly ``<hex>`` of the signature value pyHanko read: one case
    throughout, no whitespace. A reader would otherwise accept a file in which an unsigned
    byte changed without changing what it reads.
    """
    byte_range = [int(value) for value in embedded.byte_range]
    if len(byte_range) != 4:
        return False
    start, first, second, rest = byte_range
    if start != 0 or not 0 < first < second or second + rest != len(data) or rest < 0:
        return False
    written = data[first:second]
    value = binascii.hexlify(embedded.pkcs7_content)
    return written in (b"<" + value + b">", b"<" + value.upper() + b">")


def _der_end(data: bytes, start: int, limit: int, depth: int = 0) -> int | None:
    """Return where the DER element at ``start`` ends, or None if it is not strict DER.

    Strict: lengths in their shortest form, no indefinite length, and every constructed
    element exactly filled by its children (checked all the way down). A lenient parser
    would read a container whose length was changed to take in a padding byte the same
    as before.
    """
    if depth > 64 or start + 2 > limit:
        return None
    tag = data[start]
    if tag == 0:  # end-of-contents: BER's indefinite lengths only, never DER
        return None
    position = start + 1
    if tag & 0x1F == 0x1F:
        while position < limit and data[position] & 0x80:
            position += 1
        position += 1
    if position >= limit:
        return None
    first = data[position]
    position += 1
    if first < 0x80:
        length = first
    else:
        octets = first & 0x7F
        if octets == 0 or octets > 4 or position + octets > limit:
            return None
        length = int.from_bytes(data[position : position + octets], "big")
        position += octets
        if length < 0x80 or length >> (8 * (octets - 1)) == 0:
            return None
    end = position + length
    if end > limit:
        return None
    if tag & 0x20:
        while position < end:
            child = _der_end(data, position, end, depth + 1)
            if child is None:
                return None
            position = child
    return end


def _certificates_signed(signed_data: Any, signer_info: Any) -> bool:
    """Whether the signed signing-certificate-v2 attribute names exactly the embedded
    certificates (by SHA-256), so that none of their bytes is outside the signature."""
    embedded = [choice.chosen for choice in signed_data["certificates"]]
    if any(choice.name != "certificate" for choice in signed_data["certificates"]):
        return False
    attribute = find_unique_cms_attribute(signer_info["signed_attrs"], "signing_certificate_v2")
    named = []
    for certificate_id in attribute["certs"]:
        if certificate_id["hash_algorithm"]["algorithm"].native != DIGEST:
            return False
        named.append(certificate_id["cert_hash"].native)
    digests = [hashlib.sha256(certificate.dump()).digest() for certificate in embedded]
    return sorted(named) == sorted(digests)


def _exact_container(embedded: EmbeddedPdfSignature) -> bool:
    """Whether the signature value is one CMS container in DER, then zero padding only.

    The padding and the fields of the container that no signature covers (the versions, the
    list of digest algorithms) must be what the standard fixes for them, so that no byte
    of the value can change unnoticed.
    """
    content = embedded.pkcs7_content
    length = _der_end(content, 0, len(content))
    if length is None or content[length:].strip(b"\x00"):
        return False
    signed_data = embedded.signed_data
    signer_info = embedded.signer_info
    if len(signed_data["signer_infos"]) != 1 or signed_data["crls"].dump():
        return False
    if signer_info["unsigned_attrs"].dump():
        return False
    if not _certificates_signed(signed_data, signer_info):
        return False
    listed = list(signed_data["digest_algorithms"])
    algorithms = [*listed, signer_info["digest_algorithm"], signer_info["signature_algorithm"]]
    # No signature covers these parameters (pyHanko signs no CMSAlgorithmProtection);
    # SHA-2, RSA PKCS#1 v1.5 and ECDSA have none or NULL.
    if any(algorithm["parameters"].dump() not in (b"", _NULL) for algorithm in algorithms):
        return False
    digest = signer_info["digest_algorithm"]["algorithm"].native
    if [algorithm["algorithm"].native for algorithm in listed] != [digest]:
        return False
    # The signature algorithm as our signing names it, digest included: "rsaEncryption"
    # alone verifies the same signature.
    if signer_info["signature_algorithm"]["algorithm"].native not in _SIGNATURE_ALGORITHMS:
        return False
    by_key_id = signer_info["sid"].name == "subject_key_identifier"
    certificate = embedded.signer_cert
    if by_key_id:
        if signer_info["sid"].chosen.native != certificate.key_identifier:
            return False
    else:
        # pyHanko finds the certificate by an issuer name *equal* to the certificate's
        # (case and spacing ignored); the bytes must be the same.
        sid = signer_info["sid"].chosen
        if sid["issuer"].dump() != certificate.issuer.dump():
            return False
    expected_version = "v3" if by_key_id else "v1"
    return bool(
        signer_info["version"].native == expected_version
        and signed_data["version"].native in ("v1", "v3")
        and (signed_data["version"].native == "v3") == by_key_id
    )


def _integrity_line(data: bytes, embedded: EmbeddedPdfSignature) -> tuple[Check, Any]:
    """Check the signature cryptographically; return the line and pyHanko's status."""
    try:
        signer_certificate = embedded.signer_cert
        context = ValidationContext(
            trust_roots=[signer_certificate], allow_fetching=False, revocation_mode="soft-fail"
        )
        status = _validate(embedded, context, skip_diff=True)
    except _UNREADABLE:
        return Check(False, "Die Signatur ist beschädigt und lässt sich nicht prüfen."), None
    if not status.intact:
        return Check(
            False, "Die Signatur ist ungültig: Die signierten Bytes wurden verändert."
        ), status
    if not status.valid:
        return (
            Check(
                False, "Die Signatur ist ungültig: Sie passt nicht zum Schlüssel des Zertifikats."
            ),
            status,
        )
    try:
        exact = _exact_container(embedded)
    except _UNREADABLE:
        exact = False
    if not exact:
        return (
            Check(False, "Die Signatur ist beschädigt: Ihr Signaturwert wurde verändert."),
            status,
        )
    return (
        Check(
            True,
            "Die Signatur ist unversehrt: Sie passt zu den signierten Bytes und zum Schlüssel "
            "des Zertifikats.",
        ),
        status,
    )


def _coverage_line(data: bytes, embedded: EmbeddedPdfSignature, status: Any) -> Check:
    try:
        covered = (
            status is not None
            and status.coverage == SignatureCoverageLevel.ENTIRE_FILE
            and _exact_layout(data, embedded)
        )
    except _UNREADABLE:
        covered = False
    if covered:
        return Check(True, "Die Signatur deckt die ganze Datei ab: Jedes geänderte Byte fiele auf.")
    return Check(
        False,
        "Die Signatur deckt nicht die ganze Datei ab: Nach dem Signieren wurde die Datei "
        "verändert oder ergänzt.",
    )


def _certificate_lines(
    embedded: EmbeddedPdfSignature, certificate: asn1_x509.Certificate, expected: str | None
) -> tuple[list[Check], str]:
    digest = hashlib.sha256(certificate.dump()).hexdigest()
    validity = certificate["tbs_certificate"]["validity"]
    not_before: datetime = validity["not_before"].native
    not_after: datetime = validity["not_after"].native
    period = (
        f"gültig vom {format_date_de(not_before.date())} bis {format_date_de(not_after.date())}"
    )
    subject = _subject_words(certificate)
    signed_at = embedded.self_reported_timestamp
    checks: list[Check] = []
    if signed_at is None:
        checks.append(Check(True, f"Signiert mit dem Zertifikat {subject}, {period}."))
    elif signed_at.tzinfo is not None and not not_before <= signed_at <= not_after:
        checks.append(
            Check(
                False,
                f"Das Zertifikat {subject} war bei der Signatur am "
                f"{format_datetime_de(signed_at)} nicht gültig ({period}).",
            )
        )
    else:
        when = format_datetime_de(signed_at) if signed_at.tzinfo is not None else str(signed_at)
        checks.append(Check(True, f"Signiert am {when} mit dem Zertifikat {subject}, {period}."))
    if expected is None:
        checks.append(
            Check(
                True,
                f"Nicht unabhängig geprüft: Das Zertifikat (SHA-256 {grouped(digest, 4)}) ist "
                "selbst ausgestellt oder wird mit keiner Vertrauensliste abgeglichen.",
                unverified=True,
            )
        )
    elif hmac.compare_digest(expected.encode("ascii"), digest.encode("ascii")):
        checks.append(
            Check(
                True,
                f"Das Zertifikat der Signatur ist das im Manifest genannte "
                f"(SHA-256 {grouped(digest, 4)}).",
            )
        )
    else:
        checks.append(
            Check(
                False,
                f"Das Zertifikat der Signatur (SHA-256 {grouped(digest, 4)}) ist nicht das im "
                f"Manifest genannte ({grouped(expected, 4)}).",
            )
        )
    return checks, digest


def _signatures(data: bytes) -> list[EmbeddedPdfSignature] | None:
    """Return the file's filled signature fields in signing order (None: unreadable)."""
    try:
        reader = PdfFileReader(BytesIO(data))
        found = [
            EmbeddedPdfSignature(reader, field, name)
            for name, _, field in fields.enumerate_sig_fields(reader, filled_status=True)
        ]
        found.sort(key=lambda embedded: int(embedded.signed_revision))
    except _UNREADABLE:
        return None
    return found


@_outside_event_loop
def verify_pdf_signature(
    data: bytes, *, expected_certificate_sha256: str | None = None
) -> tuple[list[Check], str | None]:
    """Check the PDF's signature; return the lines and the signing certificate's SHA-256.

    Exactly one signature, intact, covering the whole file, by the certificate whose
    SHA-256 (hex, of the DER) is ``expected_certificate_sha256`` — the value the sealed
    manifest inside the PDF names, so that the seal vouches for the signer. Without it
    the certificate is reported as not independently checked. Trust lists play no part:
    the instance's certificate is self-signed and no trust store knows it. The hash is
    None when no signature could be read.
    """
    expected = expected_certificate_sha256
    if expected is not None:
        expected = expected.strip().lower()
        if not _HEX64.fullmatch(expected):
            return [Check(False, "Das Manifest nennt kein lesbares Zertifikat (SHA-256).")], None
    found = _signatures(data)
    if found is None:
        return [
            Check(False, "Die PDF-Datei ist nicht lesbar; ihre Signatur lässt sich nicht prüfen.")
        ], None
    checks = [_count_line(len(found))]
    if not found:
        return checks, None
    # The first signature made is the export's own; a later one (and anything else added
    # after it) shows as a signature that no longer covers the whole file.
    embedded = found[0]
    integrity, status = _integrity_line(data, embedded)
    checks.append(integrity)
    checks.append(_coverage_line(data, embedded, status))
    try:
        certificate = embedded.signer_cert
        lines, digest = _certificate_lines(embedded, certificate, expected)
    except _UNREADABLE:
        checks.append(Check(False, "Das Zertifikat der Signatur ist unlesbar."))
        return checks, None
    checks.extend(lines)
    return checks, digest
