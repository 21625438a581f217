"""The REST calls ``p2c schemas`` makes beyond the official client, through httpx.MockTransport."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import pytest

from p2c.schemas_cli import EXIT_INVALID, EXIT_REGISTRY, Failure, Registry
from p2c.settings import RegistrySettings

Handler = Callable[[httpx.Request], httpx.Response]
SUBJECT = "p2c.src.crm.accounts-value"


@pytest.fixture
def registry() -> Iterator[Registry]:
    registry = Registry(RegistrySettings(schema_registry_url="http://registry.test/"))
    yield registry
    registry.close()


def serve(registry: Registry, handler: Handler) -> list[httpx.Request]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    registry.http.close()
    registry.http = httpx.Client(base_url=registry.url, transport=httpx.MockTransport(record))
    return seen


def test_check_posts_the_schema_verbosely_and_keeps_only_reasons(registry: Registry) -> None:
    messages = [
        "{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'no default for tier'}",
        "{oldSchemaVersion: 1}",
        '{oldSchema: \'{"type": "record"}\'}',
        "{compatibility: 'BACKWARD'}",
    ]
    seen = serve(registry, lambda _: httpx.Response(200, json={"is_compatible": False, "messages": messages}))
    assert registry.incompatibilities(SUBJECT, '"string"') == (False, [messages[0]])
    request = seen[0]
    assert request.method == "POST"
    assert request.url.path == f"/compatibility/subjects/{SUBJECT}/versions/latest"
    assert request.url.params["verbose"] == "true"
    assert json.loads(request.content) == {"schema": '"string"', "schemaType": "AVRO"}


@pytest.mark.parametrize("code", [40401, 40402])
def test_check_of_a_subject_without_versions_is_compatible(registry: Registry, code: int) -> None:
    serve(registry, lambda _: httpx.Response(404, json={"error_code": code, "message": "not found"}))
    assert registry.incompatibilities("new-value", '"string"') == (True, [])


@pytest.mark.parametrize(
    ("status", "body", "exit_code", "says"),
    [
        (422, {"error_code": 42201, "message": "Invalid schema"}, EXIT_INVALID, "Invalid schema"),
        (500, {"error_code": 50001, "message": "store down"}, EXIT_REGISTRY, "store down"),
        (502, None, EXIT_REGISTRY, "bad gateway"),
    ],
)
def test_check_failures_have_their_exit_code(
    registry: Registry, status: int, body: dict[str, object] | None, exit_code: int, says: str
) -> None:
    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body) if body else httpx.Response(status, text="bad gateway")

    serve(registry, handler)
    with pytest.raises(Failure, match=says) as caught:
        registry.incompatibilities(SUBJECT, '"string"')
    assert caught.value.exit_code == exit_code


def test_compatibility_level_prefers_the_subject(registry: Registry) -> None:
    serve(
        registry, lambda r: httpx.Response(200, json={"compatibilityLevel": "FULL" if "value" in r.url.path else "X"})
    )
    assert registry.compatibility_level(SUBJECT) == ("FULL", True)


def test_compatibility_level_falls_back_to_global(registry: Registry) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/config":
            return httpx.Response(200, json={"compatibilityLevel": "BACKWARD"})
        return httpx.Response(404, json={"error_code": 40408, "message": "Subject does not have subject-level config"})

    seen = serve(registry, handler)
    assert registry.compatibility_level(SUBJECT) == ("BACKWARD", False)
    assert [r.url.path for r in seen] == [f"/config/{SUBJECT}", "/config"]


def test_subjects_are_url_quoted(registry: Registry) -> None:
    seen = serve(registry, lambda _: httpx.Response(200, json={"compatibilityLevel": "NONE"}))
    registry.compatibility_level("a/b value")
    assert seen[0].url.raw_path == b"/config/a%2Fb%20value"


def test_unreachable_registry_is_a_failure_with_advice(registry: Registry) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    serve(registry, handler)
    with pytest.raises(
        Failure, match=r"cannot reach the schema registry at http://registry\.test .*p2c registry serve"
    ):
        registry.compatibility_level()
