"""The certificate PDF exports are signed with: the operator's, or the instance's own.

With ``DECLARATION_PDF_CERTIFICATE`` the operator names a PKCS#12 file (key, certificate
and its chain, e.g. from a trust service provider); readers then show who signed against
their trust lists. Without it the instance signs with a self-signed certificate, created on
first use in the instance folder (0600) and kept there. No trust list knows that one;
what vouches for it is the sealed manifest inside every exported PDF, which names the
certificate's SHA-256 (`domain.documents.pades`).

The key is RSA-3072 with PKCS#1 v1.5 signatures over SHA-256: every reader that checks
signatures (Adobe Acrobat and Reader, Foxit, the poppler-based Evince and Okular) checks
that, while support for ECDSA signatures in PDF still varies.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    pkcs12,
)
from cryptography.x509.oid import NameOID

from declaration import clock
from declaration.domain.dates import format_date_de
from declaration.domain.documents.pades import PdfSigner
from declaration.domain.errors import N_, CertificateUnusable

#: The self-signed certificate's file in the instance folder: its private key (PKCS#8,
#: unencrypted) and the certificate, both PEM, in one file so that one rename creates both.
FILE_NAME: Final = "pdf_certificate.pem"

#: The self-signed certificate's common name: it names the installation, not a person.
SUBJECT: Final = "Erklärungen – Siegel dieser Installation"

#: Organisation named in a new self-signed certificate when the configuration names none.
ORGANISATION: Final = "Erklärungen"

VALIDITY: Final = timedelta(days=3653)  # ten years
RSA_BITS: Final = 3072

#: Keys readers check in PDF signatures: RSA from 2048 bits, ECDSA on the NIST curves.
_MIN_RSA_BITS: Final = 2048
_CURVES: Final = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)

#: Longest organisation name X.509 allows (RFC 5280, ub-organization-name).
_ORGANISATION_LIMIT: Final = 64

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z ]+)-----.+?-----END \1-----\r?\n?", re.S)


def certificate_path(instance_path: Path) -> Path:
    return instance_path / FILE_NAME


def load_signer(
    instance_path: Path,
    *,
    pkcs12: Path | None = None,
    password: str | None = None,
    organisation: str = ORGANISATION,
    now: datetime | None = None,
) -> PdfSigner:
    """Return the signer of PDF exports: from ``pkcs12`` if given, else the instance's own.

    ``organisation`` is written into a self-signed certificate when one is created; an
    existing one keeps its own. Raises `CertificateUnusable` (German, for the operator)
    when the operator's file cannot sign.
    """
    moment = now or clock.now()
    if pkcs12 is not None:
        return load_pkcs12(pkcs12, password, now=moment)
    return load_or_create(instance_path, organisation=organisation, now=moment)


def signer_from_config(config: Mapping[str, Any], instance_path: Path) -> PdfSigner:
    """Return the signer the settings name (``PDF_CERTIFICATE``, ``PDF_CERTIFICATE_PASSWORD``).

    A self-signed certificate names the installation's host (from ``PUBLIC_BASE_URL``) as
    its organisation, so that readers tell the installations apart.
    """
    configured = config.get("PDF_CERTIFICATE") or None
    password = config.get("PDF_CERTIFICATE_PASSWORD") or None
    host = urlsplit(str(config.get("PUBLIC_BASE_URL") or "")).hostname
    return load_signer(
        instance_path,
        pkcs12=Path(configured) if configured else None,
        password=password,
        organisation=host or ORGANISATION,
    )


# -- the instance's own certificate ------------------------------------------------------


def _self_signed(organisation: str, now: datetime) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """Create a key and a certificate for it, signed by itself, valid for ten years."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, SUBJECT)]
    organisation = organisation.strip()[:_ORGANISATION_LIMIT]
    if organisation:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    name = x509.Name(attributes)
    # An hour back: a reader whose clock is a little behind still sees a valid certificate.
    start = now.replace(microsecond=0) - timedelta(hours=1)
    key_id = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(key_id, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(key_id),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def _pem(key: rsa.RSAPrivateKey, certificate: x509.Certificate) -> bytes:
    return key.private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
    ) + certificate.public_bytes(Encoding.PEM)


def _write_temporary(instance_path: Path, content: bytes) -> Path:
    """Write ``content`` whole (0600, synced) under a fresh temporary name beside the file."""
    temporary = instance_path / f".{FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def _read(path: Path) -> PdfSigner:
    """Read the instance's key and certificate; raise ValueError if the file holds none."""
    blocks = {match.group(1): match.group(0) for match in _PEM_BLOCK.finditer(path.read_bytes())}
    if b"PRIVATE KEY" not in blocks or b"CERTIFICATE" not in blocks:
        raise ValueError(f"{path} holds no private key and certificate")
    key = load_pem_private_key(blocks[b"PRIVATE KEY"], password=None)
    certificate = x509.load_pem_x509_certificate(blocks[b"CERTIFICATE"])
    if not isinstance(key, rsa.RSAPrivateKey) or not _same_key(key, certificate):
        raise ValueError(f"{path} holds no RSA key matching its certificate")
    return PdfSigner(key=key, certificate=certificate)


def load_or_create(instance_path: Path, *, organisation: str, now: datetime) -> PdfSigner:
    """Return the instance's self-signed signer, creating it (mode 0600) on first use.

    Two processes creating it at once: the one that loses the race reads the winner's.
    An expired certificate is replaced by a new one; the PDFs signed before stay
    verifiable, since each one's manifest names the certificate it was signed with.
    """
    path = certificate_path(instance_path)
    if path.exists():
        signer = _read(path)
        if signer.certificate.not_valid_after_utc > now:
            return signer
        key, certificate = _self_signed(organisation, now)
        temporary = _write_temporary(instance_path, _pem(key, certificate))
        try:
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
        return PdfSigner(key=key, certificate=certificate)
    instance_path.mkdir(parents=True, exist_ok=True)
    key, certificate = _self_signed(organisation, now)
    # Written whole under a temporary name, then linked into place: a reader never sees
    # half a file, and of two processes creating it only one certificate wins.
    temporary = _write_temporary(instance_path, _pem(key, certificate))
    try:
        os.link(temporary, path)
    except FileExistsError:
        return _read(path)
    finally:
        temporary.unlink(missing_ok=True)
    return PdfSigner(key=key, certificate=certificate)


# -- the operator's certificate ----------------------------------------------------------


def _same_key(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, certificate: x509.Certificate
) -> bool:
    ours = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    theirs = certificate.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return ours == theirs


def _signing_key(key: object) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None:
    """Return ``key`` if PDF readers check signatures made with it, else None."""
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size >= _MIN_RSA_BITS:
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, _CURVES):
        return key
    return None


def _allows_signing(certificate: x509.Certificate) -> bool:
    """Whether the certificate's key usage (if it states one) allows signing documents."""
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return bool(usage.digital_signature or usage.content_commitment)


def load_pkcs12(path: Path, password: str | None, *, now: datetime) -> PdfSigner:
    """Return the signer in the operator's PKCS#12 file, or say in German why it cannot sign."""
    try:
        data = path.read_bytes()
    except OSError:
        raise CertificateUnusable(
            N_("Die Zertifikatsdatei %(path)s lässt sich nicht lesen."), path=str(path)
        ) from None
    secret = password.encode("utf-8") if password else None
    try:
        loaded = pkcs12.load_key_and_certificates(data, secret)
    except (ValueError, TypeError):
        raise CertificateUnusable(
            N_(
                "Die Zertifikatsdatei %(path)s lässt sich nicht öffnen: Das Passwort ist "
                "falsch, oder es ist keine PKCS#12-Datei."
            ),
            path=str(path),
        ) from None
    key, certificate, extra = loaded
    if key is None:
        raise CertificateUnusable(
            N_("Die Zertifikatsdatei %(path)s enthält keinen privaten Schlüssel."),
            path=str(path),
        )
    if certificate is None:
        raise CertificateUnusable(
            N_("Die Zertifikatsdatei %(path)s enthält kein Zertifikat zum Schlüssel."),
            path=str(path),
        )
    signing = _signing_key(key)
    if signing is None:
        raise CertificateUnusable(
            N_(
                "Der Schlüssel in %(path)s taugt nicht für PDF-Signaturen: Nötig ist RSA "
                "mit mindestens 2048 Bit oder ECDSA (P-256, P-384, P-521)."
            ),
            path=str(path),
        )
    if not _same_key(signing, certificate):
        raise CertificateUnusable(
            N_("Schlüssel und Zertifikat in %(path)s gehören nicht zusammen."), path=str(path)
        )
    if not _allows_signing(certificate):
        raise CertificateUnusable(
            N_("Das Zertifikat in %(path)s erlaubt keine Signaturen (Schlüsselverwendung)."),
            path=str(path),
        )
    if certificate.not_valid_after_utc <= now:
        raise CertificateUnusable(
            N_("Das Zertifikat in %(path)s ist am %(date)s abgelaufen."),
            path=str(path),
            date=format_date_de(certificate.not_valid_after_utc.date()),
        )
    if certificate.not_valid_before_utc > now:
        raise CertificateUnusable(
            N_("Das Zertifikat in %(path)s gilt erst ab dem %(date)s."),
            path=str(path),
            date=format_date_de(certificate.not_valid_before_utc.date()),
        )
    own = certificate.public_bytes(Encoding.DER)
    chain = tuple(c for c in extra if c.public_bytes(Encoding.DER) != own)
    return PdfSigner(key=signing, certificate=certificate, chain=chain)
