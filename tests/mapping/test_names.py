"""Splitting a person's full name into firstname / lastname."""

from __future__ import annotations

import pytest

from shared.mapping.names import split_full_name


@pytest.mark.parametrize(("full", "first", "last"), [
    ("Hans Müller-Lüdenscheidt", "Hans", "Müller-Lüdenscheidt"),
    ("Müller-Lüdenscheidt", None, "Müller-Lüdenscheidt"),
    ("O'Neil", None, "O'Neil"),
    ("Mary Ann O'Neil", "Mary Ann", "O'Neil"),
    ("Jan van der Berg", "Jan", "van der Berg"),
    ("Pieter Van Den Broeck", "Pieter", "Van Den Broeck"),
    ("Ludwig van Beethoven", "Ludwig", "van Beethoven"),
    ("Anna de Vries", "Anna", "de Vries"),
    ("Thi Le", "Thi", "Le"),
    ("Berg, Jan van der", "Jan van der", "Berg"),
    ("van der Berg, Jan", "Jan", "van der Berg"),
    ("Müller-Lüdenscheidt, Hans", "Hans", "Müller-Lüdenscheidt"),
    ("John Smith Jr.", "John", "Smith Jr."),
    ("Herr Hans Meier", "Hans", "Meier"),
    ("Mrs Jane Doe", "Jane", "Doe"),
    ("Dr. Hans Meier", "Dr. Hans", "Meier"),
    ("  Erika   Mustermann  ", "Erika", "Mustermann"),
    ("Herr", None, "Herr"),
])
def test_full_name_is_split_into_first_and_last_name(full: str, first: str | None, last: str) -> None:
    assert split_full_name(full) == (first, last)


def test_blank_name_has_no_parts() -> None:
    assert split_full_name("   ") == (None, None)


def test_comma_with_nothing_before_it_uses_the_rest_as_the_name() -> None:
    assert split_full_name(", Anna Schmidt") == ("Anna", "Schmidt")
