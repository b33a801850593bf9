"""Entra ID credentials for Dataverse, via azure-identity only (no hand-written token code).

One credential per process and configuration (the SDK caches tokens inside it and refreshes them 300 s before
expiry); managed identity in Azure, client secret or certificate where configured.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import threading

from azure.core.credentials import TokenCredential
from azure.identity import CertificateCredential, ClientSecretCredential, ManagedIdentityCredential

from shared.config import AZURE_CLIENT_ID
from shared.dataverse.config import DataverseConfig
from shared.errors import ConfigError
from shared.redaction import register_secret

_lock = threading.Lock()
_credentials: dict[tuple[object, ...], TokenCredential] = {}


def _cache_key(config: DataverseConfig, secret: str | None) -> tuple[object, ...]:
    # The secret itself never becomes a dict key (dumps of the cache would show it); its digest does,
    # so a rotated secret gets a fresh credential.
    digest = hashlib.sha256(secret.encode("utf-8")).hexdigest() if secret else None
    return (config.auth, config.tenant_id, config.client_id, config.authority, config.disable_instance_discovery,
            config.ca_bundle, digest)


def _build(config: DataverseConfig, secret: str | None) -> TokenCredential:
    transport_options: dict[str, object] = {}
    if config.ca_bundle:
        transport_options["connection_verify"] = config.ca_bundle
    if config.auth == "managed_identity":
        client_id = config.client_id or os.environ.get(AZURE_CLIENT_ID) or None
        return ManagedIdentityCredential(client_id=client_id, **transport_options)
    if not secret:
        raise ConfigError(f"dataverse auth '{config.auth}' needs the value of the secret "
                          f"'{config.client_secret_name}' (resolve it and pass secret=...)")
    register_secret(secret)
    common: dict[str, object] = dict(transport_options)
    if config.authority:
        common["authority"] = config.authority
    if config.disable_instance_discovery:
        common["disable_instance_discovery"] = True
    assert config.tenant_id and config.client_id  # guaranteed by DataverseConfig.from_section
    if config.auth == "client_secret":
        return ClientSecretCredential(config.tenant_id, config.client_id, secret, **common)
    try:
        return CertificateCredential(config.tenant_id, config.client_id, certificate_data=_certificate(secret),
                                     **common)
    except ValueError as exc:
        raise ConfigError(f"dataverse secret '{config.client_secret_name}' is not a usable certificate (PEM with "
                          f"its RSA private key, or base64 PKCS#12 as Key Vault stores certificates): {exc}") from None


def _certificate(secret: str) -> bytes:
    """PEM text as is; anything else is Key Vault's base64 of a PKCS#12 (.pfx) file."""
    if "-----BEGIN" in secret:
        return secret.encode("utf-8")
    try:
        return base64.b64decode(secret, validate=True)
    except binascii.Error:
        raise ValueError("neither PEM nor base64") from None


def credential_for(config: DataverseConfig, secret: str | None = None, *, renew: bool = False) -> TokenCredential:
    """The process-wide credential for ``config``; ``secret`` is the resolved client secret or PEM certificate.

    ``renew`` replaces it with a new one (empty token cache): for a token Dataverse refused before it expired.
    """
    key = _cache_key(config, secret)
    with _lock:
        credential = None if renew else _credentials.get(key)
        if credential is None:
            credential = _build(config, secret)
            _credentials[key] = credential
        return credential
