"""Credentials: azure-identity only, one per process and configuration, secrets registered for redaction."""

from __future__ import annotations

import pytest
import trustme
from azure.identity import CertificateCredential, ClientSecretCredential, ManagedIdentityCredential

from shared.dataverse.auth import credential_for
from shared.dataverse.config import DataverseConfig
from shared.errors import ConfigError
from shared.redaction import redact

SECRET_CONFIG = {"url": "https://contoso.crm4.dynamics.com", "auth": "client_secret", "tenant_id": "contoso-tenant",
                 "client_id": "11111111-2222-3333-4444-555555555555", "client_secret_name": "dv-secret"}


def test_one_client_secret_credential_per_process_and_the_secret_is_redacted_everywhere() -> None:
    config = DataverseConfig.from_section(SECRET_CONFIG)
    secret = "Zq8~realistic.client-secret_value-0123456789"
    credential = credential_for(config, secret)
    assert isinstance(credential, ClientSecretCredential)
    assert credential_for(config, secret) is credential
    assert credential_for(config, secret, renew=True) is not credential
    assert secret not in redact(f"POST /token client_secret={secret} failed; body had {secret}")


def test_a_rotated_secret_gets_a_new_credential() -> None:
    config = DataverseConfig.from_section(SECRET_CONFIG)
    assert credential_for(config, "first-secret-value-1") is not credential_for(config, "second-secret-value-2")


def test_managed_identity_is_the_default_and_needs_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_CLIENT_ID", "33333333-2222-3333-4444-555555555555")
    credential = credential_for(DataverseConfig.from_section({"url": "https://contoso.crm4.dynamics.com"}))
    assert isinstance(credential, ManagedIdentityCredential)


def test_certificate_auth_takes_the_pem_from_the_named_secret() -> None:
    leaf = trustme.CA().issue_cert("cssync.example", key_type=trustme.KeyType.RSA)
    pem = leaf.private_key_and_cert_chain_pem.bytes().decode()
    config = DataverseConfig.from_section({**SECRET_CONFIG, "auth": "certificate"})
    assert isinstance(credential_for(config, pem), CertificateCredential)
    with pytest.raises(ConfigError, match="'dv-secret' is not a usable certificate"):
        credential_for(config, "not a certificate at all")


def test_secret_auth_without_the_resolved_secret_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="needs the value of the secret 'dv-secret'"):
        credential_for(DataverseConfig.from_section({**SECRET_CONFIG, "client_id": "other-client"}))
