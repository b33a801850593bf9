"""Unit tests: .ionapi validation, with exact messages and no secret values in them."""

from __future__ import annotations

import json

import pytest

from shared.cloudsuite.ionapi import parse_ionapi
from shared.errors import ConfigError
from shared.redaction import redact

GOOD = {"ti": "ACME_TST", "cn": "D365 Partner Sync", "dt": "12", "ci": "ACME_TST~q1W2e3R4t5Y6", "cs": "Xk3v9Q_2mRt7u",
        "iu": "https://mingle-ionapi.inforcloudsuite.com", "pu": "https://mingle-sso.inforcloudsuite.com:443/ACME_TST/as/",
        "oa": "authorization.oauth2", "ot": "token.oauth2", "or": "revoke_token.oauth2", "ev": "U100000001",
        "v": "1.0", "saak": "ACME_TST#aB3dE5fG7hJ9", "sask": "Zy8Xw6Vu4Ts2Q", "future_key": {"x": 1}}
SECRETS = ("ACME_TST~q1W2e3R4t5Y6", "Xk3v9Q_2mRt7u", "ACME_TST#aB3dE5fG7hJ9", "Zy8Xw6Vu4Ts2Q")


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_ionapi(text, "ionapi-acme-m3")
    message = str(info.value)
    assert not any(s in message for s in SECRETS), message
    return message


def test_good_file_gives_token_url_and_api_base() -> None:
    ion = parse_ionapi(json.dumps(GOOD), "ionapi-acme-m3")
    assert ion.token_url == "https://mingle-sso.inforcloudsuite.com:443/ACME_TST/as/token.oauth2"
    assert ion.revoke_url == "https://mingle-sso.inforcloudsuite.com:443/ACME_TST/as/revoke_token.oauth2"
    assert ion.api_base == "https://mingle-ionapi.inforcloudsuite.com/ACME_TST"
    assert ion.grant_type == "password"
    assert ion.service_account_key == "ACME_TST#aB3dE5fG7hJ9"
    assert not any(s in repr(ion) for s in SECRETS)
    # every secret value is registered for redaction as soon as the file is read
    assert all(s not in redact(f"x {s} y") for s in SECRETS)


def test_file_without_service_account_uses_client_credentials() -> None:
    raw = {k: v for k, v in GOOD.items() if k not in ("saak", "sask")}
    assert parse_ionapi(json.dumps(raw)).grant_type == "client_credentials"


def test_on_premises_paths_and_bom_and_trailing_slash_are_accepted() -> None:
    raw = {**GOOD, "iu": "https://ionapi.corp.example:7443/", "pu": "https://sts.corp.example:443/InforIntSTS/",
           "ot": "connect/token"}
    ion = parse_ionapi("\ufeff" + json.dumps(raw))
    assert ion.token_url == "https://sts.corp.example:443/InforIntSTS/connect/token"
    assert ion.api_base == "https://ionapi.corp.example:7443/ACME_TST"


@pytest.mark.parametrize("key", ["ti", "ci", "cs", "iu", "pu", "ot"])
def test_missing_key_is_named(key: str) -> None:
    raw = {k: v for k, v in GOOD.items() if k != key}
    assert _error(json.dumps(raw)) == f".ionapi file 'ionapi-acme-m3': missing or empty key '{key}'"


def test_several_missing_keys_are_all_named() -> None:
    raw = {k: v for k, v in GOOD.items() if k not in ("cs", "pu")}
    assert _error(json.dumps(raw)) == ".ionapi file 'ionapi-acme-m3': missing or empty keys 'cs', 'pu'"


def test_half_a_service_account_is_refused_without_its_value() -> None:
    raw = {k: v for k, v in GOOD.items() if k != "sask"}
    assert _error(json.dumps(raw)) == (".ionapi file 'ionapi-acme-m3': 'saak' is set but 'sask' is missing; "
                                       "a service account needs both")


@pytest.mark.parametrize("key", ["iu", "pu"])
def test_http_url_is_refused(key: str) -> None:
    raw = {**GOOD, key: GOOD[key].replace("https://", "http://")}
    assert _error(json.dumps(raw)) == (f".ionapi file 'ionapi-acme-m3': '{key}' must be an https:// URL (got http); "
                                       "plain http is never allowed")


def test_bad_json_names_the_position_not_the_text() -> None:
    text = json.dumps(GOOD)[:-1] + ', "cs": "Xk3v9Q_2mRt7u" oops}'
    message = _error(text)
    assert message.startswith(".ionapi file 'ionapi-acme-m3' is not valid JSON (line 1, column ")


@pytest.mark.parametrize("text", ["", "   \n", b""])
def test_empty_file_is_refused(text: str | bytes) -> None:
    with pytest.raises(ConfigError) as info:
        parse_ionapi(text, "ionapi-acme-m3")
    assert str(info.value) == (".ionapi file 'ionapi-acme-m3' is empty: store the whole downloaded .ionapi file "
                               "in the secret")


def test_json_that_is_not_an_object_is_refused() -> None:
    assert _error("[1, 2]") == (".ionapi file 'ionapi-acme-m3' must be a JSON object of keys "
                                "(ti, ci, cs, iu, pu, ot, ...)")
