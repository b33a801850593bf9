"""Key escaping and validation: what Dataverse can address in a key URL, and exactly how we write it."""

from __future__ import annotations

import pytest

from shared.dataverse.keys import KeyValueError, check_key_value, key_path, literal, predicate


def test_apostrophes_are_doubled_and_everything_unsafe_is_percent_encoded() -> None:
    assert literal("O'Neil & Sons") == "'O''Neil%20%26%20Sons'"
    assert literal('Café "Zoë" 🚀') == "'Caf%C3%A9%20%22Zo%C3%AB%22%20%F0%9F%9A%80'"
    assert literal("SUP-1001") == "'SUP-1001'"


def test_key_path_orders_composite_columns() -> None:
    assert key_path("accounts", {"cssync_sourcekey": "A'1"}) == "accounts(cssync_sourcekey='A''1')"
    assert predicate({"b_col": "2", "a_col": "1"}) == "a_col='1',b_col='2'"


@pytest.mark.parametrize("value", ["A/B", "A<B", "A>B", "A*B", "100%", "M&M", "a:b", "C:\\x", "why?", "1+1"])
def test_characters_dataverse_refuses_in_key_urls_are_rejected_with_the_character(value: str) -> None:
    with pytest.raises(KeyValueError, match="does not accept in alternate-key values"):
        check_key_value("cssync_sourcekey", value)


@pytest.mark.parametrize("value", ["", "   ", None, 12, "x" * 101, "🚀" * 51, "tab\there"])
def test_empty_long_non_string_and_control_keys_are_rejected(value: object) -> None:
    with pytest.raises(KeyValueError):
        check_key_value("cssync_sourcekey", value)


def test_quotes_non_ascii_and_emoji_keys_are_accepted() -> None:
    for value in ["O'Neil", 'say "hi"', "Zoë", "北京", "🚀-1", "🚀" * 50]:
        assert check_key_value("cssync_sourcekey", value) == value
