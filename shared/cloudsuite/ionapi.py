"""Parse and validate an Infor ``.ionapi`` file (the text of a secret) into a typed, redaction-registered object.

Errors name the secret and the key at fault, never the value of ``ci``, ``cs``, ``saak`` or ``sask``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from shared.errors import ConfigError
from shared.redaction import register_secret

SECRET_KEYS = ("ci", "cs", "saak", "sask")  # never echoed, registered for redaction as soon as they are read
REQUIRED_KEYS = ("ti", "ci", "cs", "iu", "pu", "ot")  # enough to get a token and build an API URL
URL_KEYS = ("iu", "pu")
OPTIONAL_KEYS = ("cn", "oa", "or", "saak", "sask", "v", "dt", "ev", "sc", "ru")  # documented, never required


@dataclass(frozen=True)
class IonApi:
    """The keys of a ``.ionapi`` file that the client uses; secrets are hidden from ``repr``."""

    tenant: str  # ti
    client_id: str = field(repr=False)  # ci
    client_secret: str = field(repr=False)  # cs
    gateway_url: str  # iu, no trailing slash
    auth_url: str  # pu, with its trailing "as/" (cloud) or "InforIntSTS/" (on-premises)
    token_path: str  # ot
    revoke_path: str = ""  # or
    authorize_path: str = ""  # oa
    app_name: str = ""  # cn
    service_account_key: str = field(default="", repr=False)  # saak (OAuth username)
    service_account_secret: str = field(default="", repr=False)  # sask (OAuth password)
    version: str = ""  # v
    scopes: Any = None  # sc, passed through opaque

    @property
    def token_url(self) -> str:
        """``pu`` + ``ot``: ``.../ACME_TST/as/token.oauth2``."""
        return _join(self.auth_url, self.token_path)

    @property
    def revoke_url(self) -> str:
        return _join(self.auth_url, self.revoke_path) if self.revoke_path else ""

    @property
    def api_base(self) -> str:
        """``iu`` + ``/`` + ``ti``: every product path is appended to this."""
        return f"{self.gateway_url}/{self.tenant}"

    @property
    def grant_type(self) -> str:
        """``password`` when the file carries a service account, else ``client_credentials`` (reference 1.2)."""
        return "password" if self.service_account_key and self.service_account_secret else "client_credentials"


def _join(base: str, path: str) -> str:
    # pu ends with "/" in every documented file; be tolerant of a missing one, never double it.
    if base.endswith("/") or path.startswith("/"):
        return base.rstrip("/") + "/" + path.lstrip("/")
    return f"{base}/{path}"


def _https_url(value: str, key: str, where: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme != "https":
        scheme = parsed.scheme or "no scheme"
        raise ConfigError(f"{where}: '{key}' must be an https:// URL (got {scheme}); plain http is never allowed")
    if not parsed.netloc:
        raise ConfigError(f"{where}: '{key}' must be an absolute https:// URL with a host")
    return value


def parse_ionapi(text: str | bytes | None, source: str = ".ionapi") -> IonApi:
    """Validate the text of a ``.ionapi`` file; ``source`` (e.g. the secret's name) is used in messages."""
    where = f".ionapi file '{source}'"
    if isinstance(text, bytes):
        text = text.decode("utf-8-sig", errors="replace")
    if text is None or not text.strip():
        raise ConfigError(f"{where} is empty: store the whole downloaded .ionapi file in the secret")
    try:
        raw = json.loads(text.lstrip("\ufeff"))
    except json.JSONDecodeError as exc:
        # Position only: the exception's own text may quote the surrounding (secret) characters.
        raise ConfigError(f"{where} is not valid JSON (line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a JSON object of keys (ti, ci, cs, iu, pu, ot, ...)")
    # Register before any validation can fail, so no later message or log can leak them.
    for key in SECRET_KEYS:
        value = raw.get(key)
        if isinstance(value, str):
            register_secret(value)
    missing = [k for k in REQUIRED_KEYS if not isinstance(raw.get(k), str) or not raw[k].strip()]
    if missing:
        keys = ", ".join(f"'{k}'" for k in missing)
        raise ConfigError(f"{where}: missing or empty key{'s' if len(missing) > 1 else ''} {keys}")
    for key in ("saak", "sask", "oa", "or", "cn", "v"):
        if key in raw and raw[key] is not None and not isinstance(raw[key], str):
            raise ConfigError(f"{where}: '{key}' must be a string")
    saak, sask = (raw.get("saak") or "").strip(), (raw.get("sask") or "").strip()
    if bool(saak) != bool(sask):
        present, absent = ("saak", "sask") if saak else ("sask", "saak")
        raise ConfigError(f"{where}: '{present}' is set but '{absent}' is missing; a service account needs both")
    for key in URL_KEYS:
        _https_url(raw[key].strip(), key, where)
    tenant = raw["ti"].strip()
    if "/" in tenant or " " in tenant:
        raise ConfigError(f"{where}: 'ti' must be a tenant id without '/' or spaces")
    return IonApi(
        tenant=tenant,
        client_id=raw["ci"].strip(),
        client_secret=raw["cs"].strip(),
        gateway_url=raw["iu"].strip().rstrip("/"),
        auth_url=raw["pu"].strip(),
        token_path=raw["ot"].strip(),
        revoke_path=(raw.get("or") or "").strip(),
        authorize_path=(raw.get("oa") or "").strip(),
        app_name=(raw.get("cn") or "").strip(),
        service_account_key=saak,
        service_account_secret=sask,
        version=str(raw.get("v") or ""),
        scopes=raw.get("sc"),
    )
