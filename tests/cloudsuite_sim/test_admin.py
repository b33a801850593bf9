"""The simulator's /_admin HTTP API and the standalone entry point."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import requests

from .conftest import Api

ROOT = Path(__file__).resolve().parents[2]
M3_LIST = "/M3/m3api-rest/v2/execute/CRS620MI/LstSuppliers"


def test_health_and_keys(fapi: Api) -> None:
    health = fapi.admin("GET", "health").json()
    assert health["ok"] is True and health["products"] == ["csi", "fsm", "ln", "m3"]
    keys = fapi.admin("GET", "records/m3/supplier?keys_only=true").json()
    assert keys == {"keys": fapi.sim.keys("m3", "supplier")}


def test_add_change_deactivate_delete_over_http_bump_m3_stamps(fapi: Api) -> None:
    stamp = fapi.admin("GET", "server-time/m3").json()["server_time"]
    assert fapi.admin("POST", "clock", json={"advance_s": 10}).status_code == 200
    added = fapi.admin("POST", "records/m3/supplier", json={"SUNM": "Admin Added AB"})
    assert added.status_code == 201
    key = added.json()["key"]
    assert fapi.admin("PATCH", "records/m3/supplier/S100003", json={"PHNO": "+47 22 000000"}).status_code == 200
    assert fapi.admin("POST", "records/m3/supplier/S100004/deactivate").status_code == 200
    assert fapi.admin("DELETE", "records/m3/supplier/S100005").status_code == 204
    body = fapi.m3("CRS620MI", "LstSuppliers", {"LMTS": str(stamp), "maxrecs": "0"})
    changed = {r["SUNO"]: r for r in body["results"][0]["records"]}
    assert sorted(changed) == sorted(["S100003", "S100004", key])
    assert changed["S100004"]["STAT"] == "90" and changed[key]["SUNM"] == "Admin Added AB"
    assert "S100005" not in fapi.sim.keys("m3", "supplier")


def test_csi_key_in_url_is_the_stripped_key(fapi: Api) -> None:
    response = fapi.admin("PATCH", f"records/csi/supplier/{quote('V1002')}", json={"Name": "Via Admin"})
    assert response.status_code == 200
    assert fapi.sim.records("csi", "supplier")[1]["Name"] == "Via Admin"


def test_unknown_record_is_404_and_unknown_field_is_400(fapi: Api) -> None:
    assert fapi.admin("PATCH", "records/m3/supplier/S999999", json={"SUNM": "x"}).status_code == 404
    bad = fapi.admin("PATCH", "records/m3/supplier/S100001", json={"NOPE": "x"})
    assert bad.status_code == 400 and "NOPE" in bad.json()["error"]


def test_expire_tokens_after_calls_over_http(fapi: Api) -> None:
    fapi.login()
    assert fapi.admin("POST", "expire-tokens", json={"after_calls": 1}).status_code == 200
    statuses = [fapi.get(M3_LIST).status_code for _ in range(2)]
    assert statuses == [200, 401]
    assert fapi.admin("GET", "tokens").json() == {"issued": 1, "by_grant": {"password": 1}}


def test_settings_patch_and_faults_endpoint(fapi: Api) -> None:
    patched = fapi.admin("PATCH", "settings", json={"m3_exportmi_enabled": False})
    assert patched.json()["m3_exportmi_enabled"] is False and fapi.sim.settings.m3_exportmi_enabled is False
    assert fapi.admin("PATCH", "settings", json={"nope": 1}).status_code == 400
    fault = {"path": "LstSuppliers", "status": 503, "count": 1}
    assert fapi.admin("POST", "faults", json=fault).status_code == 201
    assert fapi.get(M3_LIST).status_code == 503
    assert fapi.get(M3_LIST).status_code == 200
    assert fapi.admin("POST", "throttle", json={"count": 1, "path": "LstSuppliers"}).status_code == 201
    throttled = fapi.get(M3_LIST)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "1"


def test_request_log_over_http(fapi: Api) -> None:
    fapi.get(M3_LIST)
    log = fapi.admin("GET", "requests?path=LstSuppliers").json()
    assert [(r["method"], r["status"]) for r in log] == [("GET", 200)]


def test_standalone_entry_prints_url_writes_ionapi_and_ca_and_stops_on_sigterm(tmp_path: Path) -> None:
    ionapi, ca = tmp_path / "sim.ionapi", tmp_path / "ca.pem"
    process = subprocess.Popen(
        [sys.executable, "-m", "localdev.cloudsuite", "--product", "m3", "--records", "30", "--port", "0",
         "--ionapi-out", str(ionapi), "--ca-out", str(ca)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()  # blocks until the server is up (or the process dies)
        assert url.startswith("https://127.0.0.1:"), process.stderr.read() if process.stderr else ""
        doc = json.loads(ionapi.read_text(encoding="utf-8"))
        assert doc["iu"] == url and "saak" in doc
        token = requests.post(doc["pu"] + doc["ot"], verify=str(ca), timeout=10, data={
            "grant_type": "password", "username": doc["saak"], "password": doc["sask"],
            "client_id": doc["ci"], "client_secret": doc["cs"]}).json()["access_token"]
        response = requests.get(f"{url}/{doc['ti']}/M3/m3api-rest/v2/execute/CRS620MI/LstByNumber",
                                params={"SUNO": " ", "maxrecs": "0"}, verify=str(ca), timeout=10,
                                headers={"Authorization": f"Bearer {token}"})
        assert len(response.json()["results"][0]["records"]) == 30
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0
