"""The key columns the pipeline maps and reconciles by come from the connection's dataverse section, the same
place the writer reads them, whatever form that section takes."""

from __future__ import annotations

from typing import Any

import pytest

from shared.connections import parse_connections
from shared.errors import ConfigError
from shared.pipeline.runtime import Runtime


def _connection(dataverse: dict[str, Any]) -> Any:
    return parse_connections({"connections": [{
        "name": "acme", "cloudsuite": {"product": "m3", "ionapi_secret": "ionapi-acme"},
        "dataverse": {"url": "https://contoso.crm.dynamics.com", **dataverse}}]})[0]


@pytest.mark.parametrize(("key_column", "expected"), [
    (None, {"account": "cssync_sourcekey", "contact": "cssync_sourcekey"}),
    ("new_sourceid", {"account": "new_sourceid", "contact": "new_sourceid"}),
    ({"account": "new_supplierid", "contact": "new_personid"},
     {"account": "new_supplierid", "contact": "new_personid"}),
])
def test_key_columns_follow_the_dataverse_section(key_column: Any, expected: dict[str, str]) -> None:
    section = {} if key_column is None else {"key_column": key_column}
    assert Runtime.key_columns(_connection(section)) == expected


def test_a_composite_contact_key_is_refused_for_the_sync_with_the_reason() -> None:
    composite = {"account": "cssync_sourcekey", "contact": ["cssync_company", "cssync_sourcekey"]}
    conn = _connection({"key_column": composite})
    with pytest.raises(ConfigError) as info:
        Runtime.key_columns(conn)
    message = str(info.value)
    assert message.startswith("connection 'acme': 'dataverse.key_column.contact' names 2 columns")
    assert "one source-key column per table" in message
