"""Paging state machines, one per cursor style, each with the same tiny interface and loop detection.

    pager.size / pager.cursor   what to ask for next
    pager.advance(...)          feed the response; returns the rows to hand out (boundary duplicates removed)
    pager.done                  nothing more to ask for
    pager.shrink()              halve the page size (after repeated 504s); False when already minimal

A next cursor equal to the current one raises PagingError instead of looping; so does passing ``max_pages``.
Pure logic: no I/O, so every edge is unit-tested with exact values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from shared import defaults
from shared.cloudsuite.errors import PagingError

Row = dict[str, Any]
KeyOf = Callable[[Row], Any]


class Pager:
    """Page counting, the max-pages guard, loop detection and page-size halving shared by all styles."""

    def __init__(self, page_size: int, max_pages: int, what: str) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.size = page_size
        self.max_pages = max_pages
        self.what = what
        self.pages = 0  # responses consumed so far
        self.done = False
        self._previous_keys: frozenset[Any] = frozenset()

    def shrink(self) -> bool:
        """Halve the page size (down to CLOUDSUITE_MIN_PAGE_SIZE); False if it cannot shrink further."""
        if self.size <= defaults.CLOUDSUITE_MIN_PAGE_SIZE:
            return False
        self.size = max(defaults.CLOUDSUITE_MIN_PAGE_SIZE, self.size // 2)
        return True

    def _count_page(self) -> None:
        self.pages += 1
        if not self.done and self.pages >= self.max_pages:
            raise PagingError(f"{self.what}: still more rows after {self.pages} pages (max_pages guard); "
                              "raise max_pages or page_size if this tenant is really that large")

    def _loop(self, current: Any, nxt: Any) -> None:
        if nxt == current:
            raise PagingError(f"{self.what}: the server returned the same cursor again after page {self.pages}; "
                              "stopping instead of looping")

    def _drop_boundary_repeats(self, rows: Sequence[Row], key_of: KeyOf) -> list[Row]:
        """Drop rows whose key was on the previous page (a repeated boundary row); memory stays one page."""
        fresh = [r for r in rows if key_of(r) not in self._previous_keys] if self._previous_keys else list(rows)
        self._previous_keys = frozenset(key_of(r) for r in fresh)
        return fresh


class KeyCursorPager(Pager):
    """M3 List transactions: start key + maxrecs, no offset; the start row is returned again (inclusive).

    To stay at one request per page, every request asks for one look-ahead row (two after the first page, to
    absorb the repeated start row): more than ``size`` new rows proves there is another page, so the last page
    is never an extra empty request. Works whether the server positions inclusively (>=) or exclusively (>).
    """

    def __init__(self, page_size: int, max_pages: int, what: str, first_key: str = "") -> None:
        super().__init__(page_size, max_pages, what)
        self.cursor: str = first_key  # start key to send
        self._last_key: str | None = None  # key of the last row handed out

    @property
    def request_size(self) -> int:
        """maxrecs to send: the page, one look-ahead row, and room for the repeated start row."""
        return self.size + (1 if self._last_key is None else 2)

    def advance(self, rows: Sequence[Row], key_of: Callable[[Row], str]) -> list[Row]:
        fresh = list(rows)
        if fresh and self._last_key is not None and key_of(fresh[0]) == self._last_key:
            fresh = fresh[1:]  # the inclusive start row: already handed out on the previous page
        more = len(fresh) > self.size
        out = fresh[: self.size]
        if not more:
            self.done = True
        self._count_page()
        if more:
            nxt = key_of(out[-1])
            self._loop(self._last_key, nxt)
            self._last_key = nxt
            self.cursor = nxt
        return out


class BookmarkPager(Pager):
    """CSI IDO load: ``loadType=NEXT`` + opaque ``bookmark`` until ``MoreRowsExist`` is false."""

    def __init__(self, page_size: int, max_pages: int, what: str) -> None:
        super().__init__(page_size, max_pages, what)
        self.cursor: str | None = None  # bookmark to send; None on the first request

    def advance(self, rows: Sequence[Row], key_of: KeyOf, bookmark: str | None, more: bool) -> list[Row]:
        out = self._drop_boundary_repeats(rows, key_of)
        if not more:
            self.done = True
        self._count_page()
        if more:
            if not bookmark:
                raise PagingError(f"{self.what}: MoreRowsExist is true but no Bookmark was returned")
            self._loop(self.cursor, bookmark)
            self.cursor = bookmark
        return out


class LinkPager(Pager):
    """LN OData: follow ``@odata.nextLink``; without one, ``$skip += rows`` until a short page.

    Once the server has sent a nextLink, its absence means the end (no extra empty request).
    """

    def __init__(self, page_size: int, max_pages: int, what: str) -> None:
        super().__init__(page_size, max_pages, what)
        self.next_link: str | None = None  # absolute URL to GET next, when the server gave one
        self.skip = 0
        self._server_links = False

    def advance(self, rows: Sequence[Row], key_of: KeyOf, next_link: str | None) -> list[Row]:
        requested = self.size
        out = self._drop_boundary_repeats(rows, key_of)
        if next_link:
            self._server_links = True
        more = bool(next_link) or (not self._server_links and len(rows) >= requested > 0)
        if not more:
            self.done = True
        self._count_page()
        if not more:
            return out
        if next_link:
            self._loop(self.next_link, next_link)
            self.next_link = next_link
        else:
            self.skip += len(rows)
        return out

    def shrink(self) -> bool:
        if not super().shrink():
            return False
        if self.next_link:
            self.next_link = _replace_query(self.next_link, "$top", str(self.size))
        return True


class OffsetPager(Pager):
    """FSM Landmark lists: ``_offset += _limit`` until a short (or empty) page."""

    def __init__(self, page_size: int, max_pages: int, what: str) -> None:
        super().__init__(page_size, max_pages, what)
        self.offset = 0

    def advance(self, rows: Sequence[Row], key_of: KeyOf) -> list[Row]:
        requested = self.size
        out = self._drop_boundary_repeats(rows, key_of)
        more = len(rows) >= requested
        if not more:
            self.done = True
        self._count_page()
        if more:
            self._loop(self.offset, self.offset + len(rows))
            self.offset += len(rows)
        return out


def _replace_query(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
    if len(pairs) == len(parse_qsl(parts.query, keep_blank_values=True)):
        return url  # no such parameter: leave the server's link alone
    pairs.append((name, value))
    return urlunsplit(parts._replace(query=urlencode(pairs, safe="$,'()")))
