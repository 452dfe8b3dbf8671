"""The certificate of the PDF exports: the instance's own, kept private, or the operator's."""

from __future__ import annotations

import stat
import threading
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    pkcs12,
)
from cryptography.x509.oid import NameOID

from declaration import config
from declaration.domain.documents import pades
from declaration.domain.errors import CertificateUnusable
from declaration.services import certificate
from tests import signing

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


def _der(signer: pades.PdfSigner) -> bytes:
    return signer.certificate.public_bytes(Encoding.DER)


def _message(error: CertificateUnusable) -> str:
    return error.text % error.params


# -- the instance's own ----------------------------------------------------------------


def test_own_certificate_is_created_once_private_and_reused(tmp_path):
    instance = tmp_path / "instance"
    first = certificate.load_signer(instance, organisation="erklaerungen.example", now=NOW)
    second = certificate.load_signer(instance, organisation="anders", now=NOW)

    assert _der(first) == _der(second)
    path = certificate.certificate_path(instance)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in instance.iterdir()) == [certificate.FILE_NAME]


def test_own_certificate_names_the_installation_and_may_sign_for_ten_years(tmp_path):
    signer = certificate.load_signer(tmp_path, organisation="erklaerungen.example", now=NOW)
    cert = signer.certificate

    subject = cert.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == certificate.SUBJECT
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == (
        "erklaerungen.example"
    )
    assert cert.issuer == subject
    assert cert.not_valid_before_utc <= NOW
    assert cert.not_valid_after_utc - NOW > timedelta(days=3650 - 1)
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature and usage.value.content_commitment
    assert not usage.value.key_cert_sign
    key_id = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert key_id == x509.SubjectKeyIdentifier.from_public_key(cert.public_key())
    assert isinstance(signer.key, rsa.RSAPrivateKey) and signer.key.key_size == 3072
    assert signer.chain == ()


def test_own_certificate_signs_pdfs_that_verify(tmp_path):
    signer = certificate.load_signer(tmp_path)
    signed = pades.sign_pdf(signing.small_pdf(), signer, reason="Test", location="", name="")

    checks, digest = pades.verify_pdf_signature(
        signed, expected_certificate_sha256=pades.certificate_sha256(signer)
    )
    assert all(check.ok for check in checks), checks
    assert digest == pades.certificate_sha256(signer)


def test_two_processes_creating_at_once_end_with_one_certificate(tmp_path, monkeypatch):
    """Both find no file and create a certificate; one links it, the other reads it."""
    create = certificate._self_signed
    both_created = threading.Barrier(2, timeout=30)

    def slow_create(organisation, now):
        made = create(organisation, now)
        both_created.wait()
        return made

    monkeypatch.setattr(certificate, "_self_signed", slow_create)
    results: list[pades.PdfSigner] = []
    errors: list[BaseException] = []

    def run():
        try:
            results.append(certificate.load_signer(tmp_path, now=NOW))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(results) == 2 and _der(results[0]) == _der(results[1])
    on_disk = certificate.load_signer(tmp_path, now=NOW)
    assert _der(on_disk) == _der(results[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == [certificate.FILE_NAME]


def test_expired_own_certificate_is_replaced(tmp_path):
    old = certificate.load_signer(tmp_path, now=NOW)
    later = NOW + timedelta(days=3660)

    new = certificate.load_signer(tmp_path, now=later)

    assert _der(new) != _der(old)
    assert new.certificate.not_valid_after_utc > later
    assert _der(certificate.load_signer(tmp_path, now=later)) == _der(new)
    assert stat.S_IMODE(certificate.certificate_path(tmp_path).stat().st_mode) == 0o600


def test_settings_without_a_file_sign_with_the_own_certificate(tmp_path):
    settings = {"PUBLIC_BASE_URL": "https://erklaerungen.example.org", "PDF_CERTIFICATE": None}
    signer = certificate.signer_from_config(settings, tmp_path)

    organisation = signer.certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    assert organisation[0].value == "erklaerungen.example.org"
    assert certificate.certificate_path(tmp_path).exists()


def test_environment_names_the_certificate_file_and_its_password():
    settings = config.from_environment(
        {
            "DECLARATION_PDF_CERTIFICATE": "/etc/erklaerung/signatur.p12",
            "DECLARATION_PDF_CERTIFICATE_PASSWORD": "geheim",
        }
    )
    assert settings == {
        "PDF_CERTIFICATE": "/etc/erklaerung/signatur.p12",
        "PDF_CERTIFICATE_PASSWORD": "geheim",
    }
    assert config.DEFAULTS["PDF_CERTIFICATE"] is None


# -- the operator's PKCS#12 file -------------------------------------------------------


def _issued(key, *, not_before=None, days=365, usage=signing.SIGNING_USAGE):
    """A certificate for ``key`` issued by a test CA, and the CA's certificate."""
    ca_key = signing.rsa_key()
    ca_name = signing.name("Test-CA", "Vertrauensdienst")
    ca = signing.certificate(ca_key, ca_name, usage=signing.CA_USAGE, ca=True, days=3650)
    leaf = signing.certificate(
        key,
        signing.name("Stadt Merseburg"),
        issuer=(ca_key, ca_name),
        not_before=not_before,
        days=days,
        usage=usage,
    )
    return leaf, ca


def _pkcs12(tmp_path, key, cert, cas=(), password: bytes | None = b"geheim"):
    encryption = BestAvailableEncryption(password) if password else NoEncryption()
    data = pkcs12.serialize_key_and_certificates(b"signatur", key, cert, list(cas), encryption)
    path = tmp_path / "signatur.p12"
    path.write_bytes(data)
    return path


def test_operator_file_signs_with_its_certificate_and_chain(tmp_path):
    key = signing.rsa_key()
    leaf, ca = _issued(key)
    path = _pkcs12(tmp_path, key, leaf, [ca])
    settings = {"PDF_CERTIFICATE": str(path), "PDF_CERTIFICATE_PASSWORD": "geheim"}

    signer = certificate.signer_from_config(settings, tmp_path / "instance")

    assert _der(signer) == leaf.public_bytes(Encoding.DER)
    assert [c.public_bytes(Encoding.DER) for c in signer.chain] == [ca.public_bytes(Encoding.DER)]
    assert not (tmp_path / "instance").exists(), "no own certificate when the operator has one"
    signed = pades.sign_pdf(signing.small_pdf(), signer, reason="Test", location="", name="")
    checks, _ = pades.verify_pdf_signature(
        signed, expected_certificate_sha256=pades.certificate_sha256(signer)
    )
    assert all(check.ok for check in checks), checks


def test_operator_file_without_password_and_with_an_ecdsa_key(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    leaf, _ = _issued(key)
    path = _pkcs12(tmp_path, key, leaf, password=None)

    signer = certificate.load_signer(tmp_path, pkcs12=path)

    assert isinstance(signer.key, ec.EllipticCurvePrivateKey)
    signed = pades.sign_pdf(signing.small_pdf(), signer, reason="Test", location="", name="")
    assert all(check.ok for check in pades.verify_pdf_signature(signed)[0])


@pytest.mark.parametrize("password", ["falsch", None])
def test_wrong_password_is_refused_in_german(tmp_path, password):
    key = signing.rsa_key()
    leaf, _ = _issued(key)
    path = _pkcs12(tmp_path, key, leaf)

    with pytest.raises(CertificateUnusable) as refused:
        certificate.load_signer(tmp_path, pkcs12=path, password=password)
    assert "Das Passwort ist falsch" in _message(refused.value)
    assert str(path) in _message(refused.value)


def test_file_that_is_no_pkcs12_is_refused(tmp_path):
    path = tmp_path / "signatur.p12"
    path.write_bytes(b"-----BEGIN CERTIFICATE-----\nkein Zertifikat\n")
    with pytest.raises(CertificateUnusable) as refused:
        certificate.load_signer(tmp_path, pkcs12=path, password="geheim")
    assert "keine PKCS#12-Datei" in _message(refused.value)


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(CertificateUnusable) as refused:
        certificate.load_signer(tmp_path, pkcs12=tmp_path / "fehlt.p12")
    assert "lässt sich nicht lesen" in _message(refused.value)


def test_file_without_a_key_is_refused(tmp_path):
    key = signing.rsa_key()
    leaf, ca = _issued(key)
    data = pkcs12.serialize_key_and_certificates(
        b"nur Zertifikate", None, None, [leaf, ca], BestAvailableEncryption(b"geheim")
    )
    path = tmp_path / "zertifikate.p12"
    path.write_bytes(data)

    with pytest.raises(CertificateUnusable) as refused:
        certificate.load_signer(tmp_path, pkcs12=path, password="geheim")
    assert "enthält keinen privaten Schlüssel" in _message(refused.value)


def test_expired_certificate_is_refused(tmp_path):
    key = signing.rsa_key()
    leaf, _ = _issued(key, not_before=datetime(2020, 1, 1, tzinfo=UTC), days=366)
    path = _pkcs12(tmp_path, key, leaf)

    with pytest.raises(CertificateUnusable) as refused:
        certificate.load_signer(tmp_path, pkcs12=path, password="geheim")
    assert _message(refused.value).endswith("ist am 1. Januar 2021 abgelaufen.")


def test_certificate_not_yet_valid_is_refused(tmp_path):
    key = signing.rsa_key()
    leaf, _ = _issued(key, not_before=datetime.now(UTC) + timedelta(days=30))
    path = _pkcs12(tmp_path, key, leaf)

    with pytest.raises(CertificateUnusable) as refused:
        certificate.load_signer(tmp_path, pkcs12=path, password="geheim")
    assert "gilt erst ab dem" in _message(refused.value)


def test_certificate_not_allowed_to_sign_is_refused(tmp_path):
    key = signing.rsa_key()
    encipher_only = x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=True,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    leaf, _ = _issued(key, usage=encipher_only)
    path = _pkcs12(tmp_path, key, leaf)

    with pytest.raises(CertificateUnusable) as refused:
        certificate.load_signer(tmp_path, pkcs12=path, password="geheim")
    assert "erlaubt keine Signaturen" in _message(refused.value)


def test_weak_key_is_refused(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    leaf, _ = _issued(key)
    path = _pkcs12(tmp_path, key, leaf)

    with pytest.raises(CertificateUnusable) as refused:
        certificate.load_signer(tmp_path, pkcs12=path, password="geheim")
    assert "taugt nicht für PDF-Signaturen" in _message(refused.value)


def test_key_of_another_certificate_is_refused(tmp_path, monkeypatch):
    """cryptography writes no such file; other tools do, so the loader gives one back."""
    key, other = signing.rsa_key(), signing.rsa_key()
    leaf, _ = _issued(other)
    path = _pkcs12(tmp_path, other, leaf)
    monkeypatch.setattr(
        certificate.pkcs12, "load_key_and_certificates", lambda data, secret: (key, leaf, [])
    )

    with pytest.raises(CertificateUnusable) as refused:
        certificate.load_signer(tmp_path, pkcs12=path, password="geheim")
    assert "gehören nicht zusammen" in _message(refused.value)
