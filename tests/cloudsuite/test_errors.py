"""Errors with specific types and messages: failures inside HTTP 200 per product, bad .ionapi secrets,
and product detection for ``product: auto``."""

from __future__ import annotations

import json

import pytest

from localdev.cloudsuite import CloudSuiteSimulator
from shared.cloudsuite.errors import IDOError, LandmarkError, MIError, ODataError, ProductNotDetectedError
from shared.errors import ConfigError
from tests.cloudsuite.support import build_client, start_sim


def test_m3_error_inside_200_raises_mi_error_with_code_and_field(sim: CloudSuiteSimulator, make_client) -> None:
    client = make_client(sim, "m3", m3={"cono": "999"})
    with pytest.raises(MIError) as info:
        list(client.iter_changed("customer"))
    assert (info.value.code, info.value.field, info.value.error_type) == ("WCO0203", "CONO", "ServerReturnedNOK")
    assert "Company 999 does not exist" in str(info.value)


def test_m3_exportmi_not_allowed_is_an_mi_error(make_client) -> None:
    sim = start_sim(suppliers=3, customers=3, products=("m3",), m3_exportmi_enabled=False)
    try:
        client = make_client(sim, "m3", m3={"change_detection": "exportmi"})
        with pytest.raises(MIError, match="Not allowed"):
            list(client.iter_changed("supplier", client.start_watermark()))
    finally:
        sim.stop()


def test_csi_success_false_raises_ido_error_with_its_message(sim: CloudSuiteSimulator, make_client) -> None:
    client = make_client(sim, "csi", csi={"properties": {"supplier": ["VendNum", "VendorEmail"]}})
    with pytest.raises(IDOError, match="VendorEmail"):
        list(client.iter_changed("supplier"))


def test_csi_unknown_mongoose_config_raises_ido_error(sim: CloudSuiteSimulator, make_client) -> None:
    client = make_client(sim, "csi", csi={"mongoose_config": "NOPE_DALS"})
    with pytest.raises(IDOError, match="NOPE_DALS"):
        list(client.iter_changed("supplier"))


def test_ln_odata_error_raises_odata_error(sim: CloudSuiteSimulator, make_client) -> None:
    client = make_client(sim, "ln", ln={"select": {"customer": ["BusinessPartner", "NoSuchProperty"]}})
    with pytest.raises(ODataError, match="NoSuchProperty"):
        list(client.iter_changed("customer"))


def test_fsm_bad_filter_raises_landmark_error(sim: CloudSuiteSimulator, make_client) -> None:
    client = make_client(sim, "fsm", fsm={"modified_field": "NoSuchStamp"})
    with pytest.raises(LandmarkError, match="ConditionNode tree failed"):
        list(client.iter_changed("supplier", "2026-01-01T00:00:00"))


# --- .ionapi secrets ------------------------------------------------------------------------------
def _bad_ionapi(sim: CloudSuiteSimulator, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        build_client(sim, "m3", ionapi_text=text)
    message = str(info.value)
    doc = sim.ionapi()
    assert not any(doc[k] in message for k in ("ci", "cs", "saak", "sask")), message
    return message


def test_ionapi_missing_key(sim: CloudSuiteSimulator) -> None:
    doc = {k: v for k, v in sim.ionapi().items() if k != "pu"}
    assert _bad_ionapi(sim, json.dumps(doc)) == ".ionapi file 'ionapi-acme': missing or empty key 'pu'"


def test_ionapi_http_url(sim: CloudSuiteSimulator) -> None:
    doc = {**sim.ionapi(), "iu": sim.url.replace("https://", "http://")}
    assert _bad_ionapi(sim, json.dumps(doc)) == (
        ".ionapi file 'ionapi-acme': 'iu' must be an https:// URL (got http); plain http is never allowed")


def test_ionapi_bad_json(sim: CloudSuiteSimulator) -> None:
    text = json.dumps(sim.ionapi(), indent=2).replace('",\n', '"\n', 1)  # a missing comma after a value
    assert _bad_ionapi(sim, text).startswith(".ionapi file 'ionapi-acme' is not valid JSON (line 3, column ")


def test_ionapi_empty_file(sim: CloudSuiteSimulator) -> None:
    assert _bad_ionapi(sim, "\n") == (
        ".ionapi file 'ionapi-acme' is empty: store the whole downloaded .ionapi file in the secret")


# --- product detection ----------------------------------------------------------------------------
@pytest.mark.parametrize("product", ["m3", "csi", "ln", "fsm"])
def test_auto_detects_the_only_product_that_answers(make_client, product: str) -> None:
    sim = start_sim(suppliers=3, customers=2, products=(product,))
    try:
        client = make_client(sim, "auto", csi={"mongoose_config": f"{sim.tenant}_DALS"})
        assert client.product == product
        assert len([k for p in client.iter_changed("supplier") for k in p.key_values()]) == 3
    finally:
        sim.stop()


def test_auto_reports_clearly_when_no_product_answers(make_client) -> None:
    sim = start_sim(suppliers=1, customers=1, products=())
    try:
        client = make_client(sim, "auto")
        with pytest.raises(ProductNotDetectedError) as info:
            client.product  # noqa: B018 - the property probes
        message = str(info.value)
        assert "no product line answered its probe" in message
        assert all(f"{p}: HTTP 404" in message for p in ("m3", "csi", "ln", "fsm"))
    finally:
        sim.stop()


def test_auto_refuses_to_guess_between_several_products(sim: CloudSuiteSimulator, make_client) -> None:
    client = make_client(sim, "auto")
    with pytest.raises(ConfigError, match="ambiguous"):
        client.product  # noqa: B018 - the property probes
