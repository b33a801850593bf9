"""Alternate-key escaping and OData key references."""

from __future__ import annotations

import pytest

from shared.mapping.keys import FORBIDDEN, escape_part, join_parts, key_ref, odata_string


@pytest.mark.parametrize(("raw", "escaped"), [
    ("SUP/2024", "SUP~2F2024"),
    ("A<B>C", "A~3CB~3EC"),
    ("50*2", "50~2A2"),
    ("100%", "100~25"),
    ("M&M", "M~26M"),
    ("DE:01", "DE~3A01"),
    ("C:\\X", "C~3A~5CX"),
    ("WHY?", "WHY~3F"),
    ("A+B", "A~2BB"),
    ("A|B", "A~7CB"),
    ("A~B", "A~7EB"),
    ("NO#1", "NO~231"),
    ("TAB\tX", "TAB~09X"),
])
def test_each_character_dataverse_refuses_in_key_urls_is_escaped(raw: str, escaped: str) -> None:
    assert escape_part(raw) == escaped


def test_escaped_parts_contain_no_forbidden_character_and_no_separator() -> None:
    escaped = escape_part(FORBIDDEN + "|#")
    assert not set(FORBIDDEN + "|#") & set(escaped)
    assert escaped == "~2F~3C~3E~2A~25~26~3A~5C~3F~2B~7C~23"


def test_escaping_is_injective_so_an_id_that_looks_escaped_gets_its_own_key() -> None:
    assert escape_part("SUP/2024") == "SUP~2F2024"
    assert escape_part("SUP~2F2024") == "SUP~7E2F2024"


def test_ordinary_ids_apostrophes_spaces_and_umlauts_are_left_as_they_are() -> None:
    assert escape_part("S10001") == "S10001"
    assert escape_part("O'NEIL 01") == "O'NEIL 01"
    assert escape_part("MÜLLER-01") == "MÜLLER-01"


def test_composite_ids_are_joined_with_the_separator_after_escaping() -> None:
    assert join_parts(("ACME", "100/45")) == "ACME|100~2F45"
    assert join_parts(("A|B", "C")) == "A~7CB|C"


def test_odata_string_doubles_apostrophes() -> None:
    assert odata_string("O'Neil") == "'O''Neil'"


def test_key_ref_is_the_relative_key_url_with_quotes_doubled() -> None:
    assert key_ref("accounts", "cssync_sourcekey", "acme|S|O'NEIL") == "accounts(cssync_sourcekey='acme|S|O''NEIL')"
