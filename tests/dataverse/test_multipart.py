"""$batch multipart: CRLF framing, exact measurement, and response parsing (flat and change sets)."""

from __future__ import annotations

from shared.dataverse import multipart


def test_body_is_crlf_only_and_its_size_is_known_before_the_boundary_is_chosen() -> None:
    parts = [multipart.part_bytes("PATCH", "/api/data/v9.2/accounts(k='1')", b'{"name":"A"}'),
             multipart.part_bytes("PATCH", "/api/data/v9.2/accounts(k='2')", b'{"name":"B"}',
                                  [("Prefer", "return=representation")])]
    boundary = multipart.new_boundary()
    body = multipart.build_body(parts, boundary)
    assert len(body) == multipart.body_size(len(p) for p in parts)
    assert b"\n" not in body.replace(b"\r\n", b"")
    assert body.startswith(f"--{boundary}\r\nContent-Type: application/http\r\n".encode())
    assert body.endswith(f"--{boundary}--\r\n".encode())
    assert parts[0] == (b"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
                        b"PATCH /api/data/v9.2/accounts(k='1') HTTP/1.1\r\n"
                        b"Content-Type: application/json; type=entry\r\n\r\n"
                        b'{"name":"A"}\r\n')


RESPONSE = (
    b"--batchresponse_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    b"HTTP/1.1 204 No Content\r\nOData-Version: 4.0\r\n"
    b"OData-EntityId: https://x/api/data/v9.2/accounts(k='1')\r\n\r\n\r\n"
    b"--batchresponse_1\r\nContent-Type: multipart/mixed; boundary=changesetresponse_2\r\n\r\n"
    b"--changesetresponse_2\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
    b"Content-ID: 1\r\n\r\nHTTP/1.1 201 Created\r\nContent-Type: application/json\r\n\r\n"
    b'{"accountid":"6f1d9a2e-0c4b-4e8a-9a51-7d2b3c4d5e6f"}\r\n'
    b"--changesetresponse_2--\r\n"
    b"--batchresponse_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    b"HTTP/1.1 400 Bad Request\r\nREQ_ID: de4c\r\nContent-Type: application/json; odata.metadata=minimal\r\n\r\n"
    b'{"error":{"code":"0x80044331","message":"A validation error occurred."}}\r\n'
    b"--batchresponse_1--\r\n")


def test_response_parts_come_back_in_order_with_status_headers_and_body() -> None:
    parts = multipart.parse_response(RESPONSE, "multipart/mixed; boundary=batchresponse_1")
    assert [p.status for p in parts] == [204, 201, 400]
    assert parts[0].headers["odata-entityid"] == "https://x/api/data/v9.2/accounts(k='1')"
    assert parts[0].body == b""
    assert parts[1].content_id == "1"
    assert parts[1].json() == {"accountid": "6f1d9a2e-0c4b-4e8a-9a51-7d2b3c4d5e6f"}
    assert parts[2].json() == {"error": {"code": "0x80044331", "message": "A validation error occurred."}}


def test_lf_only_responses_are_tolerated() -> None:
    parts = multipart.parse_response(RESPONSE.replace(b"\r\n", b"\n"), 'multipart/mixed; boundary="batchresponse_1"')
    assert [p.status for p in parts] == [204, 201, 400]
    assert parts[2].json()["error"]["code"] == "0x80044331"
