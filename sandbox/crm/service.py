"""The Dataverse Web API routes under ``/api/data/v9.2/``.

GET collections (``$select``, ``$filter``, ``$orderby``, ``$top``, ``$count``, ``Prefer: odata.maxpagesize``
paging with ``@odata.nextLink``), change tracking (``Prefer: odata.track-changes``, ``$deltatoken``), GET/
PATCH (upsert)/DELETE by id or alternate key, POST, ``WhoAmI``, ``$metadata`` and ``$batch``.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

from p2c.sandbox.crm import entities as E
from p2c.sandbox.crm.metadata_api import MetadataApi
from p2c.sandbox.crm.payload import key_of, lookup_target
from p2c.sandbox.crm.sales import revise_quote
from p2c.sandbox.crm.store import CrmStore, application_user_id, etag
from p2c.sandbox.crm.tracking import Cursor, make_token, read_token, track_page
from p2c.sandbox.odata import errors as codes
from p2c.sandbox.odata.errors import ODataError
from p2c.sandbox.odata.keys import parse_segment, split_path
from p2c.sandbox.odata.metadata import csdl
from p2c.sandbox.odata.model import EntitySet, Field, Type
from p2c.sandbox.odata.query import QueryOptions, check_select, order_sql, parse_options, select_sql, where_sql
from p2c.sandbox.odata.service import Request, Response, Service
from p2c.sandbox.odata.values import from_db, seconds

API_PATH = "/api/data/v9.2/"
MAX_PAGE = 5000
ORGANIZATION_ID = "6f0e2a1c-1d2b-4e5f-8a9b-0c1d2e3f4a5b"
BUSINESS_UNIT_ID = "2b1c0d9e-8f7a-4b6c-9d5e-4f3a2b1c0d9e"
LOOKUP_ANNOTATION = "Microsoft.Dynamics.CRM.lookuplogicalname"
PUBLISH = "Microsoft.Dynamics.CRM.PublishProductHierarchy"
NAV_ANNOTATION = "Microsoft.Dynamics.CRM.associatednavigationproperty"


class CrmService(Service):
    name = "crm"
    api_path = API_PATH
    error_code = codes.QUERY_NOT_SUPPORTED

    def __init__(self, store: CrmStore, delta_ttl_s: float) -> None:
        super().__init__(store.db)
        self.store = store
        self.delta_ttl_s = delta_ttl_s
        self.metadata_api = MetadataApi(store.custom)

    @property
    def metadata(self) -> bytes:  # type: ignore[override]
        tracked = [e.name for e in E.ALL if self.store.custom.tracked(e.logical_name)]
        return csdl("Microsoft.Dynamics.CRM", "System", E.ALL, change_tracking=tracked, navigation=True)

    def revise(self, req: Request) -> Response:
        """``POST ReviseQuote``: the quote closed as Revised, its next revision in Draft (the response)."""
        body = req.json(codes.PAYLOAD_ERROR)
        quote_id = body.get("QuoteId")
        if not isinstance(quote_id, str):
            raise ODataError(400, "ReviseQuote needs the parameter 'QuoteId'.", codes.INVALID_ARGUMENT)
        row = revise_quote(
            self.store, key_of(E.QUOTES, quote_id, self.store.custom)["quoteid"], application_user_id(req.client)
        )
        out = {
            "@odata.context": f"{req.base_url}$metadata#quotes/$entity",
            **render(E.QUOTES, row, list(E.QUOTES.fields), False),
        }
        return Response.json(200, out)

    def publish(self, req: Request, key: Any) -> Response:
        """``POST products(<id>)/Microsoft.Dynamics.CRM.PublishProductHierarchy``: Draft -> Active."""
        row = self.store.get(E.PRODUCTS, key)
        if row is None:
            raise ODataError(404, f"product With Ids = {key} Do Not Exist", codes.OBJECT_DOES_NOT_EXIST)
        self.store.publish_product(row["productid"], application_user_id(req.client))
        return Response(204, headers={"OData-Version": "4.0"})

    def route(self, req: Request) -> Response:
        segments = split_path(req.path)
        described = self.describe(req, segments, E.ALL)
        if described is not None:
            return described
        if segments[0] in ("WhoAmI", "WhoAmI()") and len(segments) == 1:
            return Response.json(
                200,
                {
                    "@odata.context": f"{req.base_url}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                    "BusinessUnitId": BUSINESS_UNIT_ID,
                    "UserId": application_user_id(req.client),
                    "OrganizationId": ORGANIZATION_ID,
                },
            )
        if segments == ["ReviseQuote"] and req.method == "POST":
            return self.revise(req)
        name, key = parse_segment(segments[0], codes.QUERY_NOT_SUPPORTED)
        if name == "EntityDefinitions":
            return self.metadata_api.handle(req, segments)
        entity = E.BY_SET.get(name)
        if entity is not None and key is None and segments[1:] == ["$count"] and req.method == "GET":
            return self.count(req, entity)
        if entity is E.PRODUCTS and key is not None and segments[1:] == [PUBLISH] and req.method == "POST":
            return self.publish(req, key)
        if entity is None or len(segments) > 1:
            raise ODataError(404, f"Resource not found for the segment '{segments[-1]}'.", codes.QUERY_NOT_SUPPORTED)
        return self.dispatch(req, entity, key)

    # -- reads ------------------------------------------------------------------------------------------

    def count(self, req: Request, entity: EntitySet) -> Response:
        """``GET <set>/$count``: the number of matching rows, as plain text."""
        opts = parse_options(req.query, codes.QUERY_NOT_SUPPORTED)
        where, params = where_sql(entity, opts.filter, codes.QUERY_NOT_SUPPORTED)
        n = self.db.conn.execute(f'SELECT COUNT(*) FROM "{entity.table}" WHERE {where}', params).fetchone()[0]
        return Response(200, str(n).encode(), {"Content-Type": "text/plain", "OData-Version": "4.0"})

    def get_one(self, req: Request, entity: EntitySet, key: Any) -> Response:
        opts = parse_options(req.query, codes.QUERY_NOT_SUPPORTED)
        fields = check_select(entity, opts.select, codes.QUERY_NOT_SUPPORTED)
        row = self.store.get(entity, key)
        if row is None:
            where = key_of(entity, key, self.store.custom)
            raise ODataError(
                404,
                f"{entity.logical_name} With Ids = {','.join(map(str, where.values()))} Do Not Exist",
                codes.OBJECT_DOES_NOT_EXIST,
            )
        if req.headers.get("if-none-match") == etag(row):
            return Response(304)
        body = {
            "@odata.context": f"{req.base_url}$metadata#{self._context(entity, opts)}/$entity",
            **render(entity, row, fields, wants_annotations(req)),
        }
        return Response.json(200, body, {"ETag": etag(row)})

    def get_collection(self, req: Request, entity: EntitySet, _key: Any) -> Response:
        opts = parse_options(req.query, codes.QUERY_NOT_SUPPORTED)
        prefs = req.prefer()
        if "$skip" in opts.present:
            raise ODataError(400, "The query parameter $skip is not supported", codes.QUERY_NOT_SUPPORTED)
        if opts.expand:
            raise ODataError(400, "$expand is not supported by the sandbox.", codes.QUERY_NOT_SUPPORTED)
        size = self._page_size(prefs)
        skiptoken = opts.skiptoken or ""
        tracked = self.store.custom.tracked(entity.logical_name)
        if opts.deltatoken and not tracked:
            raise ODataError(
                400,
                f"Entity: {entity.logical_name} isn't enabled for change tracking: the $deltatoken cannot be used.",
                codes.QUERY_NOT_SUPPORTED,
            )
        # Without change tracking the preference is not applied: the rows come back with no delta link
        if tracked and ("odata.track-changes" in prefs or opts.deltatoken or skiptoken.startswith("ct.")):
            return self.track(req, entity, opts, size)
        fields = check_select(entity, opts.select, codes.QUERY_NOT_SUPPORTED)
        where, params = where_sql(entity, opts.filter, codes.QUERY_NOT_SUPPORTED)
        order = order_sql(entity, opts.orderby, codes.QUERY_NOT_SUPPORTED)
        offset = _offset(skiptoken)
        limit = min(opts.top, size) if opts.top is not None else size
        columns = _columns(entity, fields)
        cur = self.db.conn.execute(select_sql(entity, columns, where, order, limit + 1, offset), params)
        rows = cur.fetchall()
        out_rows = [
            render(entity, dict(zip(columns, r, strict=True)), fields, wants_annotations(req)) for r in rows[:limit]
        ]
        body: dict[str, Any] = {"@odata.context": f"{req.base_url}$metadata#{self._context(entity, opts)}"}
        if opts.count:
            count_sql = f'SELECT COUNT(*) FROM "{entity.table}" WHERE {where}'
            body["@odata.count"] = self.db.conn.execute(count_sql, params).fetchone()[0]
        body["value"] = out_rows
        if len(rows) > limit and opts.top is None:
            query = {k: v for k, v in req.query.items() if k != "$skiptoken"}
            query["$skiptoken"] = _offset_token(offset + limit)
            body["@odata.nextLink"] = f"{req.base_url}{entity.name}?{_qs(query)}"
        return Response.json(200, body, self._applied(prefs, wants_annotations(req)))

    def track(self, req: Request, entity: EntitySet, opts: QueryOptions, size: int) -> Response:
        for option in ("$filter", "$orderby", "$expand", "$top"):
            if option in opts.present:
                raise ODataError(
                    400,
                    f"The query option {option} is not supported with change tracking (Prefer: odata.track-changes).",
                    codes.QUERY_NOT_SUPPORTED,
                )
        fields = check_select(entity, opts.select, codes.QUERY_NOT_SUPPORTED)
        columns = _columns(entity, fields)
        with self.db.snapshot() as conn:
            current = self.db.counter("versionnumber")
            if opts.skiptoken:
                cursor = Cursor.decode(opts.skiptoken)
            elif opts.deltatoken:
                low = read_token(opts.deltatoken, current, self.delta_ttl_s)
                cursor = Cursor(low, current, 0, "rows", True)
            else:
                cursor = Cursor(0, current, 0, "rows", False)
            page = track_page(conn, entity, columns, cursor, size)
        context = f"{req.base_url}$metadata#{self._context(entity, opts)}"
        notes = wants_annotations(req)
        value: list[dict[str, Any]] = [render(entity, r, fields, notes) for r in page.rows]
        value += [
            {"@odata.context": f"{req.base_url}$metadata#{entity.name}/$deletedEntity", "id": i, "reason": "deleted"}
            for i in page.deleted
        ]
        body: dict[str, Any] = {"@odata.context": context + ("/$delta" if cursor.delta else ""), "value": value}
        select = {"$select": req.query["$select"]} if "$select" in req.query else {}
        if page.next is not None:
            query = {**select, "$skiptoken": page.next.encode()}
            body["@odata.nextLink"] = f"{req.base_url}{entity.name}?{_qs(query)}"
        else:
            query = {**select, "$deltatoken": make_token(cursor.high)}
            body["@odata.deltaLink"] = f"{req.base_url}{entity.name}?{_qs(query)}"
        headers = self._applied(req.prefer(), notes)
        headers["Preference-Applied"] = ", ".join(
            filter(None, [headers.get("Preference-Applied"), "odata.track-changes"])
        )
        return Response.json(200, body, headers)

    def _page_size(self, prefs: dict[str, str]) -> int:
        raw = prefs.get("odata.maxpagesize")
        if raw is None:
            return MAX_PAGE
        if not raw.isdigit() or int(raw) < 1:
            raise ODataError(400, f"Invalid odata.maxpagesize '{raw}'.", codes.QUERY_NOT_SUPPORTED)
        return min(int(raw), MAX_PAGE)

    @staticmethod
    def _applied(prefs: dict[str, str], notes: bool) -> dict[str, str]:
        applied = []
        if "odata.maxpagesize" in prefs:
            applied.append(f"odata.maxpagesize={prefs['odata.maxpagesize']}")
        if notes:
            applied.append(f'odata.include-annotations="{prefs.get("odata.include-annotations", "*")}"')
        return {"Preference-Applied": ", ".join(applied)} if applied else {}

    @staticmethod
    def _context(entity: EntitySet, opts: QueryOptions) -> str:
        return f"{entity.name}({','.join(opts.select)})" if opts.select else entity.name

    # -- writes -----------------------------------------------------------------------------------------

    def post(self, req: Request, entity: EntitySet, _key: Any) -> Response:
        row = self.store.create(entity, req.json(codes.PAYLOAD_ERROR), application_user_id(req.client))
        return self._written(req, entity, row, 201)

    def patch(self, req: Request, entity: EntitySet, key: Any) -> Response:
        created, row = self.store.upsert(
            entity,
            key,
            req.json(codes.PAYLOAD_ERROR),
            application_user_id(req.client),
            req.headers.get("if-match"),
            req.headers.get("if-none-match"),
        )
        return self._written(req, entity, row, 201 if created else 200)

    def delete(self, req: Request, entity: EntitySet, key: Any) -> Response:
        self.store.delete(entity, key, application_user_id(req.client), req.headers.get("if-match"))
        return Response(204, headers={"OData-Version": "4.0"})

    def _written(self, req: Request, entity: EntitySet, row: dict[str, Any], status: int) -> Response:
        entity_id = f"{req.base_url}{entity.name}({row[entity.key[0]]})"
        headers = {"OData-EntityId": entity_id, "OData-Version": "4.0", "ETag": etag(row)}
        if req.prefer().get("return") != "representation":
            return Response(204, headers=headers)
        opts = parse_options(req.query, codes.QUERY_NOT_SUPPORTED)
        fields = check_select(entity, opts.select, codes.QUERY_NOT_SUPPORTED)
        body = {
            "@odata.context": f"{req.base_url}$metadata#{self._context(entity, opts)}/$entity",
            **render(entity, row, fields, wants_annotations(req)),
        }
        return Response.json(status, body, {**headers, "Preference-Applied": "return=representation"})


def wants_annotations(req: Request) -> bool:
    wanted = req.prefer().get("odata.include-annotations", "")
    return any(w.strip() in ("*", LOOKUP_ANNOTATION, "Microsoft.Dynamics.CRM.*") for w in wanted.split(","))


def render(entity: EntitySet, row: dict[str, Any], fields: list[Field], notes: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"@odata.etag": etag(row)}
    for f in fields:
        value = row[f.name]
        if value is None:
            out[f.name] = None
            continue
        if f.type in _CONVERTED:
            value = from_db(f, value, seconds)
        if notes and f.is_lookup:
            target = lookup_target(entity, f, row)
            if f.polymorphic:
                out[f"{f.name}@{NAV_ANNOTATION}"] = f"{f.navigation}_{target}"
            out[f"{f.name}@{LOOKUP_ANNOTATION}"] = target
        out[f.name] = value
    return out


_CONVERTED = frozenset({Type.BOOL, Type.DECIMAL, Type.DOUBLE, Type.DATETIME})  # the others are stored as served


def _columns(entity: EntitySet, fields: list[Field]) -> list[str]:
    cols = [f.name for f in fields]
    extra = ["versionnumber"] + [f.type_column for f in fields if f.polymorphic]
    return cols + [c for c in extra if c not in cols]


def _offset_token(offset: int) -> str:
    return "q." + base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def _offset(token: str) -> int:
    if not token:
        return 0
    try:
        text = token.removeprefix("q.")
        return int(json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))["o"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ODataError(400, "The $skiptoken is not valid.", codes.QUERY_NOT_SUPPORTED) from exc


def _qs(query: dict[str, str]) -> str:
    """A query string the way Dataverse writes links: ``$`` and ``,`` left as they are."""
    return "&".join(f"{quote(k, safe='$')}={quote(v, safe='$,()')}" for k, v in query.items())
