"""$batch (reference section 4): CRLF-only multipart, change sets with Content-ID, continue-on-error vs stop at the
first failure, inner URL forms, the 1000-operation limit, and the exact response framing."""

from __future__ import annotations

import json
import re

from tests.dataverse_sim.helpers import error_of

BATCH = "batch_7c1e5f0a"
CHANGESET = "changeset_3b9d2a44"


def http_part(method: str, url: str, body: dict | None = None, content_id: str | None = None) -> str:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id:
        lines.append(f"Content-ID: {content_id}")
    lines += ["", f"{method} {url} HTTP/1.1"]
    if body is not None:
        lines += ["Content-Type: application/json; type=entry", "", json.dumps(body)]
    else:
        lines += ["Accept: application/json", ""]
    return "\r\n".join(lines) + "\r\n"


def changeset(parts: list[str]) -> str:
    inner = "".join(f"--{CHANGESET}\r\n{p}" for p in parts) + f"--{CHANGESET}--\r\n"
    return f'Content-Type: multipart/mixed; boundary="{CHANGESET}"\r\n\r\n{inner}'


def batch_body(parts: list[str]) -> str:
    return "".join(f"--{BATCH}\r\n{p}" for p in parts) + f"--{BATCH}--\r\n"


def send(api, parts: list[str], *, continue_on_error: bool = False, body: str | None = None):
    headers = {"Content-Type": f'multipart/mixed; boundary="{BATCH}"'}
    if continue_on_error:
        headers["Prefer"] = "odata.continue-on-error"
    return api.post("$batch", data=(body if body is not None else batch_body(parts)).encode(), headers=headers)


def parse_response(r) -> list[tuple[int, dict[str, str], str]]:
    """(status, headers, body) of every inner response, change-set members flattened."""
    boundary = r.headers["Content-Type"].split("boundary=")[1]
    text = r.content.decode()
    out = []
    for part in text.split(f"--{boundary}")[1:-1]:
        head, _, rest = part.strip("\r\n").partition("\r\n\r\n")
        inner = re.search(r"boundary=(\S+)", head)
        pieces = rest.split(f"--{inner.group(1)}")[1:-1] if inner else [part.strip("\r\n")]
        for piece in pieces:
            _, _, http = piece.strip("\r\n").partition("\r\n\r\n")
            status_head, _, body = http.partition("\r\n\r\n")
            lines = status_head.split("\r\n")
            headers = dict(line.split(": ", 1) for line in lines[1:])
            out.append((int(lines[0].split(" ")[1]), headers, body.strip("\r\n")))
    return out


def test_batch_of_independent_parts_returns_the_documented_crlf_framing(sim, api):
    r = send(api, [http_part("PATCH", "/api/data/v9.2/accounts(cssync_sourcekey='SUP-1003')",
                             {"name": "Litware Steel NV", "customertypecode": 10}),
                   http_part("GET", "/api/data/v9.2/accounts(cssync_sourcekey='SUP-1003')?$select=name")])
    assert r.status_code == 200
    assert r.headers["OData-Version"] == "4.0"
    boundary = r.headers["Content-Type"].removeprefix("multipart/mixed; boundary=")
    assert re.fullmatch(r"batchresponse_[0-9a-f-]{36}", boundary)
    assert b"\n" not in r.content.replace(b"\r\n", b"")
    key_url = sim.api_base + "accounts(cssync_sourcekey='SUP-1003')"
    first = (f"--{boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
             f"HTTP/1.1 204 No Content\r\nOData-Version: 4.0\r\nOData-EntityId: {key_url}\r\n\r\n\r\n")
    assert r.content.decode().startswith(first)
    assert r.content.decode().endswith(f"--{boundary}--\r\n")
    parts = parse_response(r)
    assert parts[1][0] == 200
    assert json.loads(parts[1][2])["name"] == "Litware Steel NV"
    assert sim.requests(r"\$batch")[0].info["operations"] == 2


def test_change_set_with_content_id_reference_commits_atomically(sim, api):
    r = send(api, [changeset([
        http_part("POST", "/api/data/v9.2/accounts", {"name": "Tailspin", "cssync_sourcekey": "SUP-1004"}, "1"),
        http_part("PATCH", "/api/data/v9.2/contacts(cssync_sourcekey='SUP-1004-01')",
                  {"lastname": "Jansen", "parentcustomerid_account@odata.bind": "$1"}, "2")])])
    assert r.status_code == 200
    assert "boundary=changesetresponse_" in r.content.decode()
    statuses = parse_response(r)
    assert [s for s, _, _ in statuses] == [204, 204]
    account = sim.rows("account")[0]
    assert statuses[0][1]["Location"] == sim.api_base + f"accounts({account['accountid']})"
    assert statuses[0][1]["OData-EntityId"] == sim.api_base + f"accounts({account['accountid']})"
    assert re.search(r"Content-ID: 1\r\n\r\nHTTP/1.1 204", r.content.decode())
    assert sim.rows("contact")[0]["parentcustomerid"] == account["accountid"]


def test_failed_change_set_rolls_back_and_is_one_part_with_its_content_id(sim, api):
    r = send(api, [changeset([
        http_part("PATCH", "/api/data/v9.2/accounts(cssync_sourcekey='SUP-1')", {"name": "ok"}, "1"),
        http_part("PATCH", "/api/data/v9.2/accounts(cssync_sourcekey='SUP-2')", {"name": "N" * 161}, "2")])],
        continue_on_error=True)
    assert r.status_code == 200
    text = r.content.decode()
    assert "changesetresponse_" not in text
    assert re.search(r"Content-ID: 2\r\n\r\nHTTP/1.1 400 Bad Request\r\nREQ_ID: [0-9a-f-]{36}\r\n"
                     r"Content-Type: application/json; odata.metadata=minimal\r\nOData-Version: 4.0\r\n\r\n"
                     r'\{"error":\{"code":"0x80044331"', text)
    assert sim.rows("account") == []


def test_forward_content_id_reference_fails(sim, api):
    r = send(api, [changeset([
        http_part("PATCH", "/api/data/v9.2/contacts(cssync_sourcekey='C-1')",
                  {"lastname": "x", "parentcustomerid_account@odata.bind": "$2"}, "1"),
        http_part("POST", "/api/data/v9.2/accounts", {"name": "later"}, "2")])])
    assert r.status_code == 400
    (status, _, body), = parse_response(r)
    assert status == 400
    assert json.loads(body)["error"]["message"] == \
        "Content-ID Reference: '$2' does not exist in the batch context."
    assert sim.rows("account") == [] and sim.rows("contact") == []


def test_continue_on_error_runs_every_part_and_answers_200(sim, api):
    r = send(api, [http_part("PATCH", "/api/data/v9.2/accounts(cssync_sourcekey='A')", {"name": "a"}),
                   http_part("PATCH", "/api/data/v9.2/accounts(cssync_sourcekey='B')", {"Bad": "b"}),
                   http_part("PATCH", "/api/data/v9.2/accounts(cssync_sourcekey='C')", {"name": "c"})],
             continue_on_error=True)
    assert r.status_code == 200
    assert r.headers["Preference-Applied"] == "odata.continue-on-error"
    assert [s for s, _, _ in parse_response(r)] == [204, 400, 204]
    assert sorted(row["cssync_sourcekey"] for row in sim.rows("account")) == ["A", "C"]


def test_without_continue_on_error_the_batch_stops_at_the_first_failure_with_400(sim, api):
    r = send(api, [http_part("PATCH", "/api/data/v9.2/accounts(cssync_sourcekey='A')", {"name": "a"}),
                   http_part("PATCH", "/api/data/v9.2/accounts(cssync_sourcekey='B')", {"Bad": "b"}),
                   http_part("PATCH", "/api/data/v9.2/accounts(cssync_sourcekey='C')", {"name": "c"})])
    assert r.status_code == 400
    parts = parse_response(r)
    assert [s for s, _, _ in parts] == [204, 400]
    assert json.loads(parts[1][2])["error"]["code"] == "0x0"
    assert [row["cssync_sourcekey"] for row in sim.rows("account")] == ["A"]


def test_three_inner_url_forms_are_accepted(sim, api):
    r = send(api, [http_part("PATCH", "/api/data/v9.2/accounts(cssync_sourcekey='P1')", {"name": "path"}),
                   http_part("PATCH", sim.api_base + "accounts(cssync_sourcekey='P2')", {"name": "absolute"}),
                   http_part("PATCH", "accounts(cssync_sourcekey='P3')", {"name": "relative"})])
    assert [s for s, _, _ in parse_response(r)] == [204, 204, 204]
    assert len(sim.rows("account")) == 3


def test_lf_only_batch_is_400_stream_was_not_readable(sim, api):
    body = batch_body([http_part("PATCH", "/api/data/v9.2/accounts(cssync_sourcekey='A')", {"name": "a"})])
    r = send(api, [], body=body.replace("\r\n", "\n"))
    assert r.status_code == 400
    (status, headers, part_body), = parse_response(r)
    assert status == 400
    assert "REQ_ID" in headers
    error = json.loads(part_body)["error"]
    assert error["code"] == "0x80048d19"
    assert error["message"].endswith("Stream was not readable.")
    assert sim.rows("account") == []


def test_more_than_1000_operations_is_refused(sim, api):
    parts = [http_part("PATCH", f"/api/data/v9.2/accounts(cssync_sourcekey='K{i}')", {"name": "x"})
             for i in range(1001)]
    r = send(api, parts)
    assert error_of(r)[0] == 400
    assert sim.rows("account") == []
    assert sim.requests(r"\$batch")[0].info["operations"] == 1001
    assert send(api, parts[:1000]).status_code == 200
    assert len(sim.rows("account")) == 1000


def test_get_inside_a_change_set_is_rejected(api):
    r = send(api, [changeset([http_part("GET", "/api/data/v9.2/accounts")])], continue_on_error=True)
    assert [s for s, _, _ in parse_response(r)] == [400]


def test_content_id_reference_as_request_url_and_odata_id(sim, api):
    r = send(api, [changeset([
        http_part("POST", "/api/data/v9.2/accounts", {"name": "first", "cssync_sourcekey": "S-1"}, "1"),
        http_part("PATCH", "$1", {"name": "patched through $1"}, "2"),
        http_part("POST", "/api/data/v9.2/accounts/Microsoft.Dynamics.CRM.UpsertMultiple",
                  {"Targets": [{"@odata.type": "Microsoft.Dynamics.CRM.account", "@odata.id": "$1",
                                "telephone1": "+31"}]}, "3")])])
    assert [s for s, _, _ in parse_response(r)] == [204, 204, 204]
    (row,) = sim.rows("account")
    assert (row["name"], row["telephone1"]) == ("patched through $1", "+31")
