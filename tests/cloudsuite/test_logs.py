"""The log capture behind ``no_secret_in_logs`` is real: it sees DEBUG lines (urllib3 included) and knows the
secret values it checks for, so its "no secret in any log line" verdict on every test means something."""

from __future__ import annotations

import json
import logging

import pytest

from localdev.cloudsuite import CloudSuiteSimulator
from shared.errors import AuthError
from tests.cloudsuite.support import SECRETS


def test_capture_sees_debug_lines_and_knows_every_secret(sim: CloudSuiteSimulator, make_client,
                                                        no_secret_in_logs) -> None:
    client = make_client(sim, "m3", page_size=20)
    sim.expire_tokens(after_calls=2)  # a refresh on the way: two tokens to look for
    assert len([k for p in client.iter_changed("supplier") for k in p.key_values()]) == 40
    lines = no_secret_in_logs.lines
    assert any(line.startswith("urllib3.connectionpool") and "token.oauth2" in line for line in lines)
    assert any(line.startswith("shared.cloudsuite.transport") for line in lines)
    assert any(line.startswith("shared.cloudsuite.auth") for line in lines)
    doc = sim.ionapi()
    assert {doc[k] for k in ("ci", "cs", "saak", "sask")} <= SECRETS
    assert sim.tokens_issued == 2
    assert sum(1 for s in SECRETS if s.count(".") == 2) >= 2  # the issued (JWT-shaped) access tokens


def test_failed_grant_logged_with_traceback_leaks_nothing(sim: CloudSuiteSimulator, make_client,
                                                          no_secret_in_logs) -> None:
    doc = {**sim.ionapi(), "cs": "a-wrong-client-secret-value"}
    client = make_client(sim, "m3", ionapi_text=json.dumps(doc))
    with pytest.raises(AuthError) as info:
        client.start_watermark()
    logging.getLogger("tests.cloudsuite").exception("grant failed: %s", info.value, exc_info=info.value)
    text = "\n".join(no_secret_in_logs.lines)
    assert "grant failed" in text and "invalid_client" in text
    assert "a-wrong-client-secret-value" not in text
