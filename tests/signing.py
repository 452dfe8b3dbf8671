"""Helpers for the tests of PDF signatures: certificates and a small PDF to sign."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import BytesIO

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from pypdf import PdfWriter
from pypdf.generic import (
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    TextStringObject,
)

Key = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

SIGNING_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=True,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)
CA_USAGE = x509.KeyUsage(
    digital_signature=False,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


def name(common: str, organisation: str | None = "Stadt Merseburg") -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common)]
    if organisation is not None:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    return x509.Name(attributes)


def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def certificate(
    key: Key,
    subject: x509.Name,
    *,
    issuer: tuple[Key, x509.Name] | None = None,
    not_before: datetime | None = None,
    days: int = 365,
    usage: x509.KeyUsage | None = SIGNING_USAGE,
    ca: bool = False,
) -> x509.Certificate:
    """Return a certificate for ``key``: self-signed, or signed by ``issuer`` (key, name)."""
    start = not_before or datetime.now(UTC) - timedelta(days=1)
    signing_key, issuer_name = issuer if issuer is not None else (key, subject)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    if usage is not None:
        builder = builder.add_extension(usage, critical=True)
    return builder.sign(signing_key, hashes.SHA256())


def small_pdf(*, xmp: bytes | None = None) -> bytes:
    """Return a one-page PDF with a line of text (and the XMP metadata ``xmp``, if given)."""
    writer = PdfWriter()
    page = writer.add_blank_page(595, 842)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    content = DecodedStreamObject()
    content.set_data(b"BT /F1 12 Tf 72 770 Td (Merseburger Erklaerung) Tj ET")
    page[NameObject("/Contents")] = writer._add_object(content)
    writer.add_metadata({"/Producer": "Testrenderer 1.0", "/Title": "Erklärung"})
    if xmp is not None:
        writer.xmp_metadata = xmp
    writer.root_object[NameObject("/Lang")] = TextStringObject("de")
    buffer = BytesIO()
    writer.write(buffer)
    return buffer.getvalue()
