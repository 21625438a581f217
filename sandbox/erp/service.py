"""The FinOps OData routes under ``/data/``.

Collections filter to the default company (``usmf``) unless ``cross-company=true``; ``$filter`` (with the
FinOps ``eq '*text*'`` wildcard, enum literals such as ``Microsoft.Dynamics.DataEntities.NoYes'Yes'``, no bare
date for a ``DateTimeOffset``), ``$select``, ``$orderby``, ``$top``, ``$skip`` and ``$count`` work, and server
paging returns at most 10,000 rows a page (fewer with ``Prefer: odata.maxpagesize``) with ``@odata.nextLink``.

Errors as FinOps answers them (``business_errors=500``): a record's business error (a failed write, with the
Infolog) comes back as HTTP 500 "An error has occurred." with the Infolog in ``innererror``, and a ``$batch``
stops at the first failed change set whatever the ``Prefer`` header says. ``max_batch_parts`` caps the requests
of one ``$batch`` (OData's default is 100).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from p2c.sandbox.erp import entities as E
from p2c.sandbox.erp.refdata import DEFAULT_COMPANY
from p2c.sandbox.erp.store import RECORD_VERSION, WRITE_EXCEPTION, ErpStore, bad_request, etag
from p2c.sandbox.odata.errors import ODataError
from p2c.sandbox.odata.keys import parse_segment, split_path
from p2c.sandbox.odata.metadata import csdl
from p2c.sandbox.odata.model import EntitySet, Field
from p2c.sandbox.odata.query import check_select, order_sql, parse_options, select_sql, where_sql
from p2c.sandbox.odata.service import Request, Response, Service
from p2c.sandbox.odata.values import from_db

API_PATH = "/data/"
MAX_PAGE = 10000
#: OData's default limit of requests in one $batch
DEFAULT_BATCH_PARTS = 100


class ErpService(Service):
    name = "erp"
    api_path = API_PATH
    error_code = ""

    def __init__(
        self,
        store: ErpStore,
        company: str = DEFAULT_COMPANY,
        *,
        business_errors: int = 400,
        max_batch_parts: int = DEFAULT_BATCH_PARTS,
    ) -> None:
        super().__init__(store.db)
        self.store = store
        self.company = company
        self.metadata = csdl("Microsoft.Dynamics.DataEntities", "Container", E.ALL)
        if business_errors not in (400, 500):
            raise ValueError("business_errors is 400 or 500")
        self.business_errors = business_errors
        self.continues_on_error = business_errors == 400
        self.max_batch_parts = max_batch_parts

    def as_answered(self, err: ODataError) -> ODataError:
        inner = err.innererror or {}
        if self.business_errors == 500 and err.status == 400 and inner.get("type") == WRITE_EXCEPTION:
            return ODataError(500, "An error has occurred.", "", innererror=inner)
        return err

    def route(self, req: Request) -> Response:
        segments = split_path(req.path)
        described = self.describe(req, segments, E.ALL)
        if described is not None:
            return described
        name, key = parse_segment(segments[0])
        entity = E.BY_SET.get(name)
        if entity is not None and key is None and segments[1:] == ["$count"] and req.method == "GET":
            return self.count(req, entity)
        if entity is None or len(segments) > 1:
            raise ODataError(404, f"Resource not found for the segment '{segments[-1]}'.")
        if key is not None and not isinstance(key, dict):
            key = {entity.key[0]: key} if len(entity.key) == 1 else key
        return self.dispatch(req, entity, key)

    def count(self, req: Request, entity: EntitySet) -> Response:
        """``GET <set>/$count``: the number of matching rows, as plain text."""
        opts = parse_options(req.query)
        where, params = where_sql(entity, opts.filter, wildcards=True, strict_dates=True)
        if E.company_specific(entity) and req.query.get("cross-company", "").lower() != "true":
            where, params = f'({where}) AND "dataAreaId" = ?', [*params, self.company]
        n = self.db.conn.execute(f'SELECT COUNT(*) FROM "{entity.table}" WHERE {where}', params).fetchone()[0]
        return Response(200, str(n).encode(), {"Content-Type": "text/plain", "OData-Version": "4.0"})

    def get_one(self, req: Request, entity: EntitySet, key: Any) -> Response:
        opts = parse_options(req.query)
        fields = check_select(entity, opts.select)
        row = self.store.get(entity, key)
        if row is None:
            raise ODataError(404, f"Resource not found for the segment '{entity.name}'.")
        body = {"@odata.context": f"{req.base_url}$metadata#{entity.name}/$entity", **render(row, fields)}
        return Response.json(200, body, {"ETag": etag(row)})

    def get_collection(self, req: Request, entity: EntitySet, _key: Any) -> Response:
        opts = parse_options(req.query)
        if opts.expand:
            raise bad_request("$expand is not supported by the sandbox.")
        fields = check_select(entity, opts.select)
        where, params = where_sql(entity, opts.filter, wildcards=True, strict_dates=True)
        if E.company_specific(entity) and req.query.get("cross-company", "").lower() != "true":
            where, params = f'({where}) AND "dataAreaId" = ?', [*params, self.company]
        order = order_sql(entity, opts.orderby)
        size = self._page_size(req)
        offset = opts.skip or 0
        limit = size if opts.top is None else min(size, opts.top)
        columns = [f.name for f in fields] + [RECORD_VERSION]
        cur = self.db.conn.execute(select_sql(entity, columns, where, order, limit + 1, offset), params)
        rows = cur.fetchall()
        body: dict[str, Any] = {"@odata.context": f"{req.base_url}$metadata#{entity.name}"}
        if opts.count:
            sql = f'SELECT COUNT(*) FROM "{entity.table}" WHERE {where}'
            body["@odata.count"] = self.db.conn.execute(sql, params).fetchone()[0]
        body["value"] = [render(dict(zip(columns, r, strict=True)), fields) for r in rows[:limit]]
        more = len(rows) > limit and (opts.top is None or opts.top > limit)
        if more:
            query = {k: v for k, v in req.query.items() if k != "$skip"}
            if opts.top is not None:
                query["$top"] = str(opts.top - limit)
            query["$skip"] = str(offset + limit)
            link = "&".join(f"{quote(k, safe='$')}={quote(v, safe='$,()')}" for k, v in query.items())
            body["@odata.nextLink"] = f"{req.base_url}{entity.name}?{link}"
        return Response.json(200, body)

    @staticmethod
    def _page_size(req: Request) -> int:
        raw = req.prefer().get("odata.maxpagesize")
        if raw is None:
            return MAX_PAGE
        if not raw.isdigit() or int(raw) < 1:
            raise bad_request(f"Invalid odata.maxpagesize '{raw}'.")
        return min(int(raw), MAX_PAGE)

    def post(self, req: Request, entity: EntitySet, _key: Any) -> Response:
        row = self.store.create(entity, req.json(), self.company)
        return self._written(req, entity, row, 201)

    def patch(self, req: Request, entity: EntitySet, key: Any) -> Response:
        row = self.store.update(entity, key, req.json(), req.headers.get("if-match"))
        return self._written(req, entity, row, 200)

    def delete(self, req: Request, entity: EntitySet, key: Any) -> Response:
        self.store.delete(entity, key, req.headers.get("if-match"))
        return Response(204, headers={"OData-Version": "4.0"})

    def _written(self, req: Request, entity: EntitySet, row: dict[str, Any], status: int) -> Response:
        location = f"{req.base_url}{entity.name}({key_text(entity, row)})"
        headers = {"Location": location, "OData-EntityId": location, "ETag": etag(row), "OData-Version": "4.0"}
        if status == 200 and req.prefer().get("return") != "representation":
            return Response(204, headers=headers)
        body = {"@odata.context": f"{req.base_url}$metadata#{entity.name}/$entity", **render(row, list(entity.fields))}
        return Response.json(status, body, headers)


def key_text(entity: EntitySet, row: dict[str, Any]) -> str:
    parts = []
    for k in entity.key:
        v = row[k]
        if entity.by_name[k].enum:
            parts.append(f"{k}={entity.by_name[k].enum}'{quote(str(v))}'")
            continue
        parts.append(f"{k}={v}" if isinstance(v, int) else f"{k}='{quote(str(v).replace(chr(39), chr(39) * 2))}'")
    return ",".join(parts)


def render(row: dict[str, Any], fields: list[Field]) -> dict[str, Any]:
    out: dict[str, Any] = {"@odata.etag": etag(row)}
    for f in fields:
        out[f.name] = from_db(f, row[f.name])
    return out
