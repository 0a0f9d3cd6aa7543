"""The client suite over `httpx.MockTransport`: both clients, asyncio and trio."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

import xroute
from harness import BASE, KEY, Harness, completion

pytestmark = pytest.mark.anyio

FAST_RETRY = {"retry-after-ms": "1"}


async def test_success_shape_and_unknown_fields_kept(harness: Harness) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = completion(provider="acme")
        body["choices"][0]["message"]["tool_calls"] = [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        ]
        body["usage"]["cost"] = 0.0012
        return httpx.Response(200, json=body)

    client = harness.client(handler)
    reply = await harness.chat(client, temperature=0.1, extra_query={"trace": "1"})
    assert isinstance(reply, xroute.ChatCompletion)
    assert reply.choices[0].message.content == "Hello!"
    assert reply.choices[0].message.tool_calls[0].function.name == "f"
    assert reply.model_extra == {"provider": "acme"}
    assert reply.usage.model_extra == {"cost": 0.0012}
    request = seen[0]
    assert request.url == f"{BASE}/chat/completions?trace=1"
    assert json.loads(request.content)["temperature"] == 0.1
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert harness.all_closed()


async def test_embeddings_default_to_floats_and_decode_base64(harness: Harness) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)
        assert sent["encoding_format"] == "float"
        # A gateway that answers base64 anyway: "AACAPwAAAEA=" is [1.0, 2.0] as float32 LE.
        return httpx.Response(
            200,
            json={
                "data": [
                    {"embedding": "AACAPwAAAEA=", "index": 0},
                    {"embedding": [3.0], "index": 1},
                ],
                "model": "e",
                "usage": {"prompt_tokens": 2, "total_tokens": 2},
            },
        )

    client = harness.client(handler)
    reply = await harness.call(client.embeddings.create, model="e", input=["a", "b"])
    assert [d.embedding for d in reply.data] == [[1.0, 2.0], [3.0]]


async def test_models_list_and_retrieve(harness: Harness) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json={"object": "list", "data": [{"id": "a/b"}]})
        return httpx.Response(200, json={"id": request.url.path.split("/models/")[1]})

    client = harness.client(handler)
    listed = await harness.call(client.models.list)
    assert "a/b" in listed
    one = await harness.call(client.models.retrieve, "a/b")
    assert one.id == "a/b"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, xroute.BadRequestError),
        (401, xroute.AuthenticationError),
        (403, xroute.PermissionDeniedError),
        (404, xroute.NotFoundError),
        (409, xroute.ConflictError),
        (422, xroute.UnprocessableEntityError),
        (429, xroute.RateLimitError),
        (500, xroute.InternalServerError),
        (503, xroute.InternalServerError),
    ],
)
async def test_every_error_family(
    harness: Harness, status: int, cls: type[xroute.APIStatusError]
) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(
            status,
            headers={"x-request-id": "req-9", **FAST_RETRY},
            json={"error": {"message": f"boom {status}", "code": "x"}},
        )

    client = harness.client(handler, max_retries=1)
    with pytest.raises(cls) as info:
        await harness.chat(client)
    assert info.value.status_code == status
    assert info.value.request_id == "req-9"
    assert f"boom {status}" in str(info.value)
    retried = status in (409, 429) or status >= 500
    assert calls == (2 if retried else 1)
    assert harness.all_closed()


async def test_retry_then_success_honours_retry_after(harness: Harness) -> None:
    statuses = iter([429, 503, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(statuses)
        if status == 200:
            return httpx.Response(200, json=completion())
        return httpx.Response(status, headers=FAST_RETRY, json={"error": {"message": "busy"}})

    client = harness.client(handler)
    reply = await harness.chat(client)
    assert reply.choices[0].message.content == "Hello!"
    assert len(harness.responses) == 3
    assert harness.all_closed()


async def test_connection_errors_retry_and_map(harness: Harness) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("connection refused", request=request)

    client = harness.client(handler, max_retries=0)
    with pytest.raises(xroute.APIConnectionError, match="connection refused"):
        await harness.chat(client)
    assert calls == 1


async def test_read_timeout_maps_to_api_timeout(harness: Harness) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.extensions["timeout"]["read"] == 7
        raise httpx.ReadTimeout("slow", request=request)

    client = harness.client(handler, max_retries=0, timeout=xroute.Timeout(read=7))
    with pytest.raises(xroute.APITimeoutError):
        await harness.chat(client)


async def test_deadline_covers_retries(harness: Harness) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, headers={"retry-after": "0.3"}, json={})

    client = harness.client(handler, max_retries=10, timeout=xroute.Timeout(deadline=0.5))
    with pytest.raises(xroute.XRouteError):
        await harness.chat(client)
    # 0.3 s apart, a 0.5 s deadline leaves room for two attempts, never eleven.
    assert len(harness.responses) == 2


async def test_validation_error_for_bad_2xx_bodies(harness: Harness) -> None:
    bodies = iter([b"<html>oops</html>", b'{"choices": "nope"}'])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=next(bodies))

    client = harness.client(handler)
    with pytest.raises(xroute.APIResponseValidationError, match="HTML"):
        await harness.chat(client)
    with pytest.raises(xroute.APIResponseValidationError, match="choices"):
        await harness.chat(client)


async def test_bad_arguments_fail_before_io(harness: Harness) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request may be sent")

    client = harness.client(handler)
    with pytest.raises(xroute.InvalidArgumentError, match="messages"):
        await harness.call(client.chat.completions.create, model="m")
    with pytest.raises(xroute.InvalidArgumentError, match="temperature"):
        await harness.chat(client, temperature="warm")
    with pytest.raises(xroute.InvalidArgumentError, match="did you mean 'max_tokens'"):
        await harness.chat(client, max_token=5)


async def test_redirect_to_another_origin_drops_authorization(harness: Harness) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "gw.test":
            return httpx.Response(307, headers={"location": "https://elsewhere.test/v1/x"})
        return httpx.Response(200, json=completion())

    client = harness.client(handler)
    await harness.chat(client)
    assert [r.url.host for r in seen] == ["gw.test", "elsewhere.test"]
    assert "authorization" in seen[0].headers
    assert "authorization" not in seen[1].headers


async def test_secrets_stay_out_of_reprs_logs_and_errors(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    def handler(request: httpx.Request) -> httpx.Response:
        echoed = f"bad key: {request.headers['authorization']}"
        return httpx.Response(401, json={"error": {"message": echoed}})

    client = harness.client(handler)
    assert KEY not in repr(client)
    with pytest.raises(xroute.AuthenticationError) as info:
        await harness.chat(client)
    assert KEY not in str(info.value)
    assert KEY not in repr(info.value.body)
    assert KEY not in str(info.value.request)
    assert KEY not in caplog.text
    assert any(r.name == "xroute" for r in caplog.records)


async def test_with_options_shares_the_pool(harness: Harness) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=completion())

    client = harness.client(handler)
    patient = client.with_options(timeout=300, max_retries=7)
    assert patient.max_retries == 7
    assert patient.timeout.read == 300
    assert client.max_retries == 2
    assert patient._http is client._http
    await harness.close(patient)  # a copy never closes the shared pool
    reply = await harness.chat(client)
    assert reply.choices


async def test_default_and_extra_headers(harness: Harness) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=completion())

    client = harness.client(handler, default_headers={"X-App": "demo"})
    await harness.chat(client, extra_headers={"X-Trace": "t"}, extra_body={"route": "x"})
    assert seen[0].headers["x-app"] == "demo"
    assert seen[0].headers["x-trace"] == "t"
    assert json.loads(seen[0].content)["route"] == "x"


def test_missing_key_is_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XROUTE_API_KEY", raising=False)
    for cls in (xroute.XRoute, xroute.AsyncXRoute):
        with pytest.raises(xroute.XRouteError, match="XROUTE_API_KEY"):
            cls()


def test_wrong_http_client_type_is_refused() -> None:
    with pytest.raises(TypeError, match=r"httpx\.AsyncClient"):
        xroute.AsyncXRoute(api_key="k", http_client=httpx.Client())  # type: ignore[arg-type]


def test_context_managers_close_the_pool() -> None:
    with xroute.XRoute(api_key="k") as client:
        pool = client._http
    assert pool.is_closed


async def test_async_context_manager_closes_the_pool() -> None:
    async with xroute.AsyncXRoute(api_key="k") as client:
        pool = client._http
    assert pool.is_closed
