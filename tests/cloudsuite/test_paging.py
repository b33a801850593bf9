"""Unit tests: the paging state machines (cursors, look-ahead, boundary repeats, loop detection, guards)."""

from __future__ import annotations

import pytest

from shared.cloudsuite.errors import PagingError
from shared.cloudsuite.paging import BookmarkPager, KeyCursorPager, LinkPager, OffsetPager


def key(row: dict) -> str:
    return row["K"]


def rows(*keys: str) -> list[dict]:
    return [{"K": k} for k in keys]


def keys(out: list[dict]) -> list[str]:
    return [r["K"] for r in out]


def serve_inclusive(data: list[str], start: str, maxrecs: int) -> list[dict]:
    return rows(*[k for k in data if k >= start][:maxrecs])


def serve_exclusive(data: list[str], start: str, maxrecs: int, first: bool) -> list[dict]:
    return rows(*[k for k in data if (k >= start if first else k > start)][:maxrecs])


@pytest.mark.parametrize("total", [0, 1, 2, 3, 4, 5, 6, 7, 10, 11])
@pytest.mark.parametrize("size", [1, 2, 3, 5])
@pytest.mark.parametrize("inclusive", [True, False])
def test_key_cursor_hands_out_every_row_once_in_ceil_n_over_size_requests(total: int, size: int,
                                                                           inclusive: bool) -> None:
    data = [f"K{i:03d}" for i in range(total)]
    pager = KeyCursorPager(size, 1000, "t", first_key=" ")
    seen: list[str] = []
    requests = 0
    while not pager.done:
        requests += 1
        first = requests == 1
        got = (serve_inclusive(data, pager.cursor, pager.request_size) if inclusive
               else serve_exclusive(data, pager.cursor, pager.request_size, first))
        out = pager.advance(got, key)
        assert len(out) <= size
        seen += keys(out)
    assert seen == data
    assert requests == max(1, -(-total // size))


def test_key_cursor_request_sizes_and_cursor() -> None:
    pager = KeyCursorPager(3, 100, "t", first_key=" ")
    assert (pager.cursor, pager.request_size) == (" ", 4)
    assert keys(pager.advance(rows("A", "B", "C", "D"), key)) == ["A", "B", "C"]
    assert (pager.cursor, pager.request_size, pager.done) == ("C", 5, False)
    assert keys(pager.advance(rows("C", "D", "E"), key)) == ["D", "E"]
    assert pager.done


def test_key_cursor_server_ignoring_the_start_key_is_a_loop_not_a_hang() -> None:
    pager = KeyCursorPager(2, 100, "M3 CRS610MI/LstByNumber")
    pager.advance(rows("A", "B", "C"), key)
    with pytest.raises(PagingError, match="same cursor again after page 2"):
        pager.advance(rows("A", "B", "C", "D"), key)


def test_max_pages_guard() -> None:
    pager = KeyCursorPager(1, 2, "t")
    pager.advance(rows("A", "B"), key)
    with pytest.raises(PagingError, match="max_pages guard"):
        pager.advance(rows("B", "C", "D"), key)


def test_shrink_halves_down_to_one() -> None:
    pager = OffsetPager(5, 10, "t")
    assert [pager.shrink(), pager.size, pager.shrink(), pager.size, pager.shrink(), pager.size] == [
        True, 2, True, 1, False, 1]


def test_bookmark_pages_until_more_rows_exist_is_false() -> None:
    pager = BookmarkPager(2, 100, "t")
    assert pager.cursor is None
    assert keys(pager.advance(rows("A", "B"), key, "B1", True)) == ["A", "B"]
    assert pager.cursor == "B1"
    # a repeated boundary row is dropped
    assert keys(pager.advance(rows("B", "C"), key, "B2", True)) == ["C"]
    assert keys(pager.advance([], key, None, False)) == []
    assert pager.done and pager.pages == 3


def test_bookmark_repeated_is_a_loop() -> None:
    pager = BookmarkPager(2, 100, "CSI SLVendors")
    pager.advance(rows("A", "B"), key, "B1", True)
    with pytest.raises(PagingError, match="same cursor"):
        pager.advance(rows("C", "D"), key, "B1", True)


def test_bookmark_missing_while_more_rows_exist() -> None:
    pager = BookmarkPager(2, 100, "t")
    with pytest.raises(PagingError, match="no Bookmark"):
        pager.advance(rows("A", "B"), key, "", True)


def test_link_pager_follows_next_link_and_stops_without_one() -> None:
    pager = LinkPager(2, 100, "t")
    pager.advance(rows("A", "B"), key, "https://x/BPs?$top=2&$skip=2")
    assert pager.next_link == "https://x/BPs?$top=2&$skip=2"
    pager.advance(rows("C", "D"), key, None)  # full page but the server stopped linking: the end
    assert pager.done


def test_link_pager_falls_back_to_skip_until_a_short_page() -> None:
    pager = LinkPager(2, 100, "t")
    pager.advance(rows("A", "B"), key, None)
    assert (pager.done, pager.skip) == (False, 2)
    pager.advance(rows("C", "D"), key, None)
    pager.advance(rows("E"), key, None)
    assert (pager.done, pager.skip) == (True, 4)


def test_link_pager_same_next_link_is_a_loop_and_shrink_rewrites_top() -> None:
    pager = LinkPager(4, 100, "t")
    pager.advance(rows("A", "B", "C", "D"), key, "https://x/BPs?$select=A,B&$top=4&$skip=4")
    assert pager.shrink()
    assert pager.next_link == "https://x/BPs?$select=A,B&$skip=4&$top=2"
    with pytest.raises(PagingError):
        pager.advance(rows("E", "F"), key, "https://x/BPs?$select=A,B&$skip=4&$top=2")


def test_offset_pager() -> None:
    pager = OffsetPager(2, 100, "t")
    pager.advance(rows("A", "B"), key)
    assert (pager.offset, pager.done) == (2, False)
    pager.advance([], key)
    assert pager.done

