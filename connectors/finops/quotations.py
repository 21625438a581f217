"""The quotation target: a header and all its current lines, written as one atomic change set.

    upsert   PATCH (or POST) the header, then PATCH (or POST) each line (key dataAreaId, SalesQuotationNumber,
             LineCreationSequenceNumber), then DELETE the lines the ERP has that the record no longer lists
    delete   DELETE every line, then the header

The ERP's lines of a batch's quotations are read first (``read_children``: one chunked ``$filter``).
The applied version is kept per quotation (the sink's version store). References: the header's customers
(written concurrently by the customers sink) and each line's released product.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from p2c import topics
from p2c.connectors.core.batch import Operation
from p2c.connectors.core.http import ODataClient
from p2c.connectors.core.pagination import NextLinkPaginator
from p2c.connectors.core.writes import Key, normalize, or_filters
from p2c.connectors.finops.targets import (
    COMPANY,
    CUSTOMER_REF,
    PRODUCT_REF,
    Ref,
    Reference,
    Row,
    Target,
    empty_values,
    key_filter,
    key_path,
)

NUMBER = "SalesQuotationNumber"
LINE = "LineCreationSequenceNumber"
LINE_KEY = (COMPANY, NUMBER, LINE)


@dataclass(frozen=True)
class QuotationTarget(Target):
    lines_entity_set: str = "CDSSalesQuotationLines"
    line_references: tuple[Reference, ...] = ()

    @staticmethod
    def _parts(record: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        return dict(record.get("header") or {}), [dict(line) for line in record.get("lines") or []]

    def prepare(self, record: dict[str, Any], company: str) -> dict[str, Any]:
        header, lines = self._parts(record)
        header[COMPANY] = header.get(COMPANY) or company
        for line in lines:
            line[COMPANY] = line.get(COMPANY) or header[COMPANY]
            line[NUMBER] = line.get(NUMBER) or header.get(NUMBER)
        return {"header": header, "lines": lines}

    def clear(self, record: dict[str, Any], cleared: tuple[str, ...]) -> dict[str, Any]:
        """The header's and lines' cleared fields (``header.<field>``, ``lines.<line number>.<field>``) given
        their empty value."""
        if not cleared:
            return record
        header, lines = self._parts(record)
        wipe = [c.split(".") for c in cleared]
        empty, line_empty = empty_values(self.topic, "header"), empty_values(self.topic, "lines")
        for f in (p[1] for p in wipe if p[0] == "header" and len(p) == 2):
            if f in empty and header.get(f) is None and f not in self.key_fields:
                header[f] = empty[f]
        for line in lines:
            for f in (p[2] for p in wipe if p[0] == "lines" and len(p) == 3 and p[1] == str(line.get(LINE))):
                if f in line_empty and line.get(f) is None and f not in LINE_KEY:
                    line[f] = line_empty[f]
        return {"header": header, "lines": lines}

    def key_of(self, record: dict[str, Any]) -> Key:
        return self.row_key(self._parts(record)[0])

    def refs(self, record: dict[str, Any]) -> Iterator[Ref]:
        header, lines = self._parts(record)
        yield from super().refs(header)
        for line in lines:
            for ref in self.line_references:
                if line.get(ref.field):
                    yield ref, str(line.get(COMPANY) or header.get(COMPANY) or ""), str(line[ref.field])

    def read_children(self, client: ODataClient, keys: list[Key]) -> dict[Key, list[Key]]:
        found: dict[Key, list[Key]] = {}
        paginator = NextLinkPaginator(client)
        for flt in or_filters([key_filter(self.key_fields, k) for k in keys]):
            params = {"cross-company": "true", "$filter": flt, "$select": ",".join(LINE_KEY)}
            for page in paginator.pages(self.lines_entity_set, params=params):
                for row in page.rows:
                    line_key = (str(row[COMPANY]), str(row[NUMBER]), str(row[LINE]))
                    found.setdefault(normalize(line_key[:2]), []).append(line_key)
        return found

    def lost(self, client: ODataClient, writes: list[Any], rows: dict[Key, Row]) -> list[Any]:
        """A quotation whose header or one of whose lines is gone."""
        present = [w for w in writes if normalize(w.key) in rows]
        children = self.read_children(client, [w.key for w in present]) if present else {}
        gone = [w for w in writes if normalize(w.key) not in rows]
        for w in present:
            have = {int(c[2]) for c in children.get(normalize(w.key), [])}
            if any(int(line[LINE]) not in have for line in self._parts(w.fields)[1]):
                gone.append(w)
        return gone

    def _line_path(self, company: str, number: str, line: Any) -> str:
        return key_path(self.lines_entity_set, LINE_KEY, (company, number, int(line)))

    def operations(
        self,
        record: dict[str, Any],
        key: Key,
        *,
        delete: bool,
        row: Row | None,
        children: list[Key] | None = None,
    ) -> list[Operation]:
        existing = {int(c[2]): c for c in children or []}
        if delete:
            if row is None:
                return []
            ops = [Operation("DELETE", self._line_path(*c)) for c in existing.values()]
            return [*ops, Operation("DELETE", self.key_path(key))]
        header, lines = self._parts(record)
        ops = super().operations(header, key, delete=False, row=row)
        wanted: set[int] = set()
        for line in lines:
            number = int(line[LINE])
            wanted.add(number)
            if number in existing:
                body = self.body(line, with_keys=False)
                for k in LINE_KEY:
                    body.pop(k, None)
                ops.append(Operation("PATCH", self._line_path(key[0], key[1], number), body))
            else:
                body = self.body(line, with_keys=True)
                body.update({COMPANY: key[0], NUMBER: key[1]})
                ops.append(Operation("POST", self.lines_entity_set, body))
        ops += [Operation("DELETE", self._line_path(*c)) for n, c in sorted(existing.items()) if n not in wanted]
        return ops


QUOTATIONS = QuotationTarget(
    "quotations",
    topics.ERP_QUOTATIONS.name,
    "CDSSalesQuotationHeaders",
    (COMPANY, NUMBER),
    references=(
        Reference("RequestingCustomerAccountNumber", *CUSTOMER_REF),
        Reference("InvoiceCustomerAccountNumber", *CUSTOMER_REF),
    ),
    line_references=(Reference("ProductNumber", *PRODUCT_REF),),
)
