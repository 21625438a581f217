"""Server-driven paging: follow ``@odata.nextLink`` unchanged until it is absent (singer_sdk-style paginator).

Dataverse pages with ``Prefer: odata.maxpagesize=N`` and a ``$skiptoken`` cookie in the next link; FinOps
pages the same way. The last page of a change-tracked query carries ``@odata.deltaLink`` instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from p2c.connectors.core.http import ODataClient

NEXT_LINK = "@odata.nextLink"
DELTA_LINK = "@odata.deltaLink"


@dataclass
class Page:
    """One page of results; ``next_link`` or ``delta_link`` say where to go from here."""

    rows: list[dict[str, Any]]
    next_link: str | None = None
    delta_link: str | None = None
    url: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, doc: dict[str, Any], url: str = "") -> Page:
        return cls(
            rows=list(doc.get("value", [])),
            next_link=doc.get(NEXT_LINK),
            delta_link=doc.get(DELTA_LINK),
            url=url,
            raw=doc,
        )


class NextLinkPaginator:
    """Yields pages from a first URL, following ``@odata.nextLink`` with the same headers."""

    def __init__(self, client: ODataClient, headers: Mapping[str, str] | None = None, max_pages: int = 1_000_000):
        self.client = client
        self.headers = dict(headers or {})
        self.max_pages = max_pages

    def pages(self, url: str, params: Mapping[str, Any] | None = None) -> Iterator[Page]:
        """Pages from ``url`` (``params`` apply to the first request only: next links carry their own)."""
        count = 0
        next_url: str | None = url
        first = True
        while next_url is not None and count < self.max_pages:
            doc = self.client.get_json(next_url, params=params if first else None, headers=self.headers)
            page = Page.from_json(doc, url=next_url)
            yield page
            count += 1
            first = False
            next_url = page.next_link
