"""Certificate auth end to end: the real azure-identity CertificateCredential (MSAL's signed client assertion)
against the simulated Entra ID, which verifies the signature with the registered certificate."""

from __future__ import annotations

import base64
import logging
from typing import Any

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from shared.dataverse import DataverseWriter
from shared.dataverse.model import Status
from shared.errors import AuthError

from .conftest import account, config_for

Pems = tuple[bytes, bytes]  # (private key, certificate)


def _rsa_certificate() -> Pems:
    leaf = trustme.CA().issue_cert("cloudsuite-sync.example", key_type=trustme.KeyType.RSA)
    return leaf.private_key_pem.bytes(), leaf.cert_chain_pems[0].bytes()


def _pem(key_pem: bytes, cert_pem: bytes) -> str:
    """PEM with the private key and the certificate: what `az keyvault certificate` exports as PEM."""
    return (key_pem + cert_pem).decode()


def _pfx_base64(key_pem: bytes, cert_pem: bytes) -> str:
    """Base64 PKCS#12 without a password: the value Key Vault's secret endpoint returns for a certificate."""
    key = serialization.load_pem_private_key(key_pem, None)
    certificate = x509.load_pem_x509_certificate(cert_pem)
    pfx = pkcs12.serialize_key_and_certificates(b"cssync", key, certificate, None,  # type: ignore[arg-type]
                                                serialization.NoEncryption())
    return base64.b64encode(pfx).decode()


@pytest.fixture(scope="module")
def app_certificate() -> Pems:
    return _rsa_certificate()


@pytest.mark.parametrize("form", ["pem", "pfx_base64"])
def test_a_certificate_registered_on_the_app_gets_a_token_and_the_write_lands(
        sim: Any, app_certificate: Pems, form: str) -> None:
    key_pem, cert_pem = app_certificate
    sim.entra.add_certificate(cert_pem)
    secret = _pem(key_pem, cert_pem) if form == "pem" else _pfx_base64(key_pem, cert_pem)
    writer = DataverseWriter(config_for(sim, auth="certificate"), secret=secret)
    assert writer.upsert([account(f"CERT-{form}")])[0].status is Status.UPSERTED
    assert sim.row_by_key("account", cssync_sourcekey=f"CERT-{form}") is not None
    tokens = [r for r in sim.requests(r"/oauth2/v2\.0/token$") if r.status == 200]
    # one signed assertion (azure-identity hands MSAL the SHA-1 thumbprint: RS256 + x5t), one token, cached
    assert [r.info["client_auth"] for r in tokens] == ["assertion RS256"]


def test_a_certificate_the_app_does_not_know_is_an_auth_error_that_names_no_key_material(
        sim: Any, app_certificate: Pems, caplog: pytest.LogCaptureFixture) -> None:
    sim.entra.add_certificate(app_certificate[1])
    secret = _pem(*_rsa_certificate())
    writer = DataverseWriter(config_for(sim, auth="certificate"), secret=secret)
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthError) as info:
        writer.upsert([account("CERT-X")])
    assert "AADSTS700027" in str(info.value)
    assert sim.requests(r"^/api/data/") == []  # nothing reached Dataverse
    body = secret.split("-----")[2].strip()[:40]  # a slice of the private key's base64
    assert len(body) == 40
    assert body not in str(info.value) and body not in caplog.text


def test_an_assertion_signed_by_another_key_under_the_registered_thumbprint_fails_signature_validation(
        sim: Any, app_certificate: Pems) -> None:
    sim.entra.add_certificate(app_certificate[1])
    impostor_key, _ = _rsa_certificate()
    # The registered certificate with the impostor's private key: the thumbprint matches, the signature cannot.
    writer = DataverseWriter(config_for(sim, auth="certificate"), secret=_pem(impostor_key, app_certificate[1]))
    with pytest.raises(AuthError, match="AADSTS700027: Client assertion failed signature validation"):
        writer.upsert([account("CERT-Y")])
