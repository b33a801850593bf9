"""Certificate auth end to end: the real azure-identity CertificateCredential (MSAL's signed client assertion)
against the simulated Entra ID, which verifies the signature with the registered certificate."""

from __future__ import annotations

import base64
import datetime
import logging
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from shared.dataverse import DataverseWriter
from shared.dataverse.model import Status
from shared.errors import AuthError

from .conftest import account, config_for


def _self_signed(common_name: str) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
    return key, certificate


def _pem(key: rsa.RSAPrivateKey, certificate: x509.Certificate) -> str:
    """PEM with the private key and the certificate: what `az keyvault certificate` exports as PEM."""
    return (key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
            + certificate.public_bytes(serialization.Encoding.PEM)).decode()


def _pfx_base64(key: rsa.RSAPrivateKey, certificate: x509.Certificate) -> str:
    """Base64 PKCS#12 without a password: the value Key Vault's secret endpoint returns for a certificate."""
    pfx = pkcs12.serialize_key_and_certificates(b"cssync", key, certificate, None, serialization.NoEncryption())
    return base64.b64encode(pfx).decode()


@pytest.fixture(scope="module")
def app_certificate() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    return _self_signed("cloudsuite-sync")


@pytest.mark.parametrize("form", ["pem", "pfx_base64"])
def test_a_certificate_registered_on_the_app_gets_a_token_and_the_write_lands(
        sim: Any, app_certificate: tuple[rsa.RSAPrivateKey, x509.Certificate], form: str) -> None:
    key, certificate = app_certificate
    sim.entra.add_certificate(certificate.public_bytes(serialization.Encoding.PEM))
    secret = _pem(key, certificate) if form == "pem" else _pfx_base64(key, certificate)
    writer = DataverseWriter(config_for(sim, auth="certificate"), secret=secret)
    assert writer.upsert([account(f"CERT-{form}")])[0].status is Status.UPSERTED
    assert sim.row_by_key("account", cssync_sourcekey=f"CERT-{form}") is not None
    tokens = [r for r in sim.requests(r"/oauth2/v2\.0/token$") if r.status == 200]
    # one signed assertion (azure-identity hands MSAL the SHA-1 thumbprint: RS256 + x5t), one token, cached
    assert [r.info["client_auth"] for r in tokens] == ["assertion RS256"]


def test_a_certificate_the_app_does_not_know_is_an_auth_error_that_names_no_key_material(
        sim: Any, app_certificate: tuple[rsa.RSAPrivateKey, x509.Certificate],
        caplog: pytest.LogCaptureFixture) -> None:
    _, certificate = app_certificate
    sim.entra.add_certificate(certificate.public_bytes(serialization.Encoding.PEM))
    stranger_key, stranger = _self_signed("somebody-else")
    secret = _pem(stranger_key, stranger)
    writer = DataverseWriter(config_for(sim, auth="certificate"), secret=secret)
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthError) as info:
        writer.upsert([account("CERT-X")])
    assert "AADSTS700027" in str(info.value)
    assert sim.requests(r"^/api/data/") == []  # nothing reached Dataverse
    body = secret.split("-----")[2].strip()[:40]  # a slice of the private key's base64
    assert len(body) == 40
    assert body not in str(info.value) and body not in caplog.text


def test_an_assertion_signed_by_another_key_under_the_registered_thumbprint_fails_signature_validation(
        sim: Any, app_certificate: tuple[rsa.RSAPrivateKey, x509.Certificate]) -> None:
    _, certificate = app_certificate
    sim.entra.add_certificate(certificate.public_bytes(serialization.Encoding.PEM))
    impostor_key, _ = _self_signed("impostor")
    # The registered certificate with the impostor's private key: the thumbprint matches, the signature cannot.
    writer = DataverseWriter(config_for(sim, auth="certificate"), secret=_pem(impostor_key, certificate))
    with pytest.raises(AuthError, match="AADSTS700027: Client assertion failed signature validation"):
        writer.upsert([account("CERT-Y")])
