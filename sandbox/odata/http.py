"""aiohttp around a :class:`~sandbox.odata.service.Service`: token endpoint, bearer auth, throttling.

Routes: ``POST /{tenant}/oauth2/v2.0/token`` and everything under the service's API path. A request without a
valid bearer token gets 401 with a ``WWW-Authenticate`` challenge; a client over its rate gets 429 with
``Retry-After``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Protocol
from urllib.parse import unquote

from aiohttp import web

from p2c.sandbox.odata.auth import Authority, TokenError
from p2c.sandbox.odata.errors import ODataError
from p2c.sandbox.odata.ratelimit import RateLimiter
from p2c.sandbox.odata.service import Request, Response, Service

log = logging.getLogger("p2c.sandbox")

ThrottleError = Callable[[int, int], ODataError]


class Protection(Protocol):
    """Service protection in front of a service (Dataverse's limits: :mod:`p2c.sandbox.crm.protection`)."""

    def admit(self, client: str, connection: object = None) -> ODataError | None: ...

    def release(self, client: str, execution_ms: float) -> dict[str, str]: ...


def _web(resp: Response) -> web.Response:
    return web.Response(status=resp.status, body=resp.body, headers=resp.headers)


def build_app(
    service: Service,
    authority: Authority,
    limiter: RateLimiter,
    throttle_error: ThrottleError,
    protection: Protection | None = None,
) -> web.Application:
    """The aiohttp application serving ``service`` under ``service.api_path``."""

    async def token(request: web.Request) -> web.Response:
        tenant = request.match_info["tenant"]
        token_url = f"{request.scheme}://{request.host}/{tenant}/oauth2/v2.0/token"
        try:
            payload = authority.issue(await request.read(), tenant, token_url)
        except TokenError as err:
            log.info("token refused: %s", err.description)
            return web.json_response(err.body(), status=err.status)
        return web.json_response(payload)

    async def discovery(request: web.Request) -> web.Response:
        base = f"{request.scheme}://{request.host}"
        return web.json_response(authority.discovery(base, request.match_info["tenant"]))

    async def api(request: web.Request) -> web.Response:
        client = authority.client_of(request.headers.get("Authorization"))
        if client is None:
            challenge = f"Bearer authorization_uri={request.scheme}://{request.host}/common/oauth2/authorize"
            return web.Response(status=401, headers={"WWW-Authenticate": challenge})
        wait = limiter.check(client)
        if wait:
            err = throttle_error(limiter.limit or 0, wait)
            err.headers["Retry-After"] = str(wait)
            return _web(Response.error(err))
        if protection is not None:
            refusal = protection.admit(client, request.transport)
            if refusal is not None:
                return _web(Response.error(refusal))
        started = time.perf_counter()
        try:  # the request is in flight from here (its body still arriving) until it is answered
            raw_path = request.rel_url.raw_path
            path = unquote(raw_path[len(service.api_path) :]) if raw_path.startswith(service.api_path) else ""
            base = f"{request.scheme}://{request.host}{service.api_path}"
            req = Request(
                request.method,
                path,
                dict(request.rel_url.query),
                {k.lower(): v for k, v in request.headers.items()},
                await request.read(),
                client,
                base,
            )
            started = time.perf_counter()
            resp = service.handle(req)
        finally:
            if protection is not None:
                limits = protection.release(client, (time.perf_counter() - started) * 1000)
        if protection is not None:
            resp.headers.update(limits)
        if resp.status >= 500:
            log.error("%s %s -> %d %s", request.method, request.rel_url, resp.status, resp.body[:300])
        return _web(resp)

    @web.middleware
    async def crash_guard(request: web.Request, handler: Callable[[web.Request], object]) -> web.StreamResponse:
        try:
            result = await handler(request)  # type: ignore[misc]
            assert isinstance(result, web.StreamResponse)
            return result
        except web.HTTPException:
            raise
        except Exception as exc:
            log.exception("unhandled error serving %s %s", request.method, request.rel_url)
            body = {"error": {"code": service.error_code, "message": f"Unexpected server error: {exc}"}}
            return web.Response(status=500, text=json.dumps(body), content_type="application/json")

    app = web.Application(middlewares=[crash_guard], client_max_size=64 * 1024 * 1024)
    app.router.add_post("/{tenant}/oauth2/v2.0/token", token)
    app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", discovery)
    app.router.add_route("*", service.api_path + "{tail:.*}", api)
    return app
