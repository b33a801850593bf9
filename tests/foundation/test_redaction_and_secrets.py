"""Secrets never reach logs or errors: the one redaction helper, proven with real secret values."""

from __future__ import annotations

import logging

import pytest

from shared.config import load_settings
from shared.errors import ConfigError, TransientError
from shared.redaction import MASK, install_log_redaction, redact, register_secret
from shared.secrets import secret_source

SECRET = "Zy8Xw6Vu4Ts2-test-sask"


def test_registered_secret_is_masked_anywhere_in_text():
    register_secret(SECRET)
    assert redact(f"password grant failed for {SECRET}!") == f"password grant failed for {MASK}!"


@pytest.mark.parametrize(("text", "expected"), [
    ("Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig", f"Authorization: Bearer {MASK}"),
    ("{'Authorization': 'Basic QUNNRTpzZWNyZXQ='}", f"{{'Authorization': 'Basic {MASK}'}}"),
    ('{"access_token":"abc.def.ghi","expires_in":7200}', f'{{"access_token":"{MASK}","expires_in":7200}}'),
    ("grant_type=password&username=u&password=p4ss&client_secret=cs1",
     f"grant_type=password&username=u&password={MASK}&client_secret={MASK}"),
    ("AccountName=a;AccountKey=abc==;", f"AccountName=a;AccountKey={MASK};"),
    ('"refresh_token": "rT0kEn"', f'"refresh_token": "{MASK}"'),
])
def test_secret_shaped_values_are_masked_even_when_never_registered(text, expected):
    assert redact(text) == expected


def test_log_records_are_redacted_whatever_handler_receives_them(caplog):
    install_log_redaction()
    register_secret(SECRET)
    with caplog.at_level(logging.INFO):
        logging.getLogger("any.module").info("token call with %s and Bearer abcdefghijkl", SECRET)
        try:
            raise ValueError(f"boom {SECRET}")
        except ValueError:
            logging.getLogger("any.module").exception("failed")
    text = caplog.text
    assert SECRET not in text
    assert "abcdefghijkl" not in text
    assert MASK in text


def test_errors_redact_their_message_on_construction():
    register_secret(SECRET)
    assert SECRET not in str(TransientError(f"GET https://x/?sask={SECRET} failed"))


def test_local_secrets_are_read_by_name_cached_and_registered(tmp_path):
    (tmp_path / "ionapi-acme").write_text("a-brand-new-client-secret")
    settings = load_settings({"AzureWebJobsStorage": "UseDevelopmentStorage=true",
                              "SYNC_CONNECTIONS": '{"connections": []}', "SYNC_SECRETS_DIR": str(tmp_path)})
    source = secret_source(settings)
    assert source.get("ionapi-acme") == "a-brand-new-client-secret"
    assert redact("x a-brand-new-client-secret y") != "x a-brand-new-client-secret y"
    (tmp_path / "ionapi-acme").write_text("rotated-secret-value-2")
    assert source.get("ionapi-acme") == "a-brand-new-client-secret"  # cached in memory
    source.forget("ionapi-acme")
    assert source.get("ionapi-acme") == "rotated-secret-value-2"


def test_missing_or_badly_named_secret_gets_a_specific_error(tmp_path):
    settings = load_settings({"AzureWebJobsStorage": "UseDevelopmentStorage=true",
                              "SYNC_CONNECTIONS": '{"connections": []}', "SYNC_SECRETS_DIR": str(tmp_path)})
    with pytest.raises(ConfigError, match="secret 'nope' not found in the local secrets directory"):
        secret_source(settings).get("nope")
    with pytest.raises(ConfigError, match=r"secret name '\.\./etc/passwd' is invalid"):
        secret_source(settings).get("../etc/passwd")


def test_no_secret_source_configured_is_a_config_error():
    settings = load_settings({"AzureWebJobsStorage": "UseDevelopmentStorage=true",
                              "SYNC_CONNECTIONS": '{"connections": []}'})
    with pytest.raises(ConfigError, match="no secret source configured"):
        secret_source(settings)
