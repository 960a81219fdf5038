"""/schema documents every endpoint of every face: request fields, real
answers (200, never a framework default), error answers, the signature rule,
and the page loads nothing from outside usdtpay."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

# Operations that take no input at all (no body, no parameters).
NO_INPUT = {"liveness", "dryadHealth"}
# Face operations whose errors come back as 200 with an error code (seed 003, EPay).
ERRORS_IN_200 = {"quickpayJsapiPay", "epayMapi", "epayQueryOrder", "epayQueryOrderPost"}
# Browser jumps (EPay): a 302 answer, an HTML page for errors, never a 200.
REDIRECTS = {"epaySubmitGet", "epaySubmitPost", "epayReturn"}
SEED_004_CREATE = {
    "pid": "10001",
    "chain_type": 1,
    "order_no": "20240101000001",
    "amount": "100.00",
    "type": 1,
    "currency": "CNY",
    "scanpay": 1,
    "notify_url": "https://example.com/notify",
    "return_url": "https://example.com/return",
    "param": '{"user_id": "123"}',
    "signature": "D9BB7783FA0AD06DBD3E0EA71E56F3B0",
}


async def _schema(client: AsyncTestClient[Any]) -> dict[str, Any]:
    resp = await client.get("/schema/openapi.json")
    assert resp.status_code == 200
    schema: dict[str, Any] = resp.json()
    return schema


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if not ref:
        return node
    target: Any = schema
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return _resolve(schema, target)


async def test_every_operation_documents_its_input(client: AsyncTestClient[Any]) -> None:
    schema = await _schema(client)
    missing = []
    for method, path, op in _operations(schema):
        if op["operationId"] in NO_INPUT:
            continue
        body = op.get("requestBody", {}).get("content", {})
        params = [p for p in op.get("parameters", []) if p.get("in") in ("query", "path")]
        if method == "GET" and not params:
            missing.append(f"{method} {path}: no parameters")
        if method == "POST":
            media = next(iter(body.values()), None)
            described = media and _resolve(schema, media.get("schema", {}))
            if not described or not (described.get("properties") or described.get("type") == "string"):
                missing.append(f"{method} {path}: no request body schema")
    assert not missing, "\n".join(missing)


async def test_every_operation_answers_200_with_a_schema_and_its_errors(
    client: AsyncTestClient[Any],
) -> None:
    schema = await _schema(client)
    problems = []
    for method, path, op in _operations(schema):
        responses = op["responses"]
        if "201" in responses:
            problems.append(f"{method} {path}: documents 201 but answers 200")
        ok = responses.get("200")
        if op["operationId"] in REDIRECTS:
            if "302" not in responses or "Location" not in responses["302"].get("headers", {}):
                problems.append(f"{method} {path}: no 302 answer with its Location")
        elif ok is None or not any(m.get("schema") for m in ok.get("content", {}).values()):
            problems.append(f"{method} {path}: no 200 answer schema")
        elif "document follows" in ok["description"] or "Document created" in ok["description"]:
            problems.append(f"{method} {path}: framework default description {ok['description']!r}")
        errors = [s for s in responses if s[0] in "45"]
        if op["operationId"] not in NO_INPUT | ERRORS_IN_200 and not errors:
            problems.append(f"{method} {path}: no error answers")
    assert not problems, "\n".join(problems)


async def test_usdt_create_fields_follow_seed_004(client: AsyncTestClient[Any]) -> None:
    schema = await _schema(client)
    op = schema["paths"]["/api/pay/create"]["post"]
    media = op["requestBody"]["content"]["application/json"]
    body = _resolve(schema, media["schema"])
    assert set(body["required"]) == {"pid", "chain_type", "order_no", "amount", "signature"}
    for name in SEED_004_CREATE:
        assert body["properties"][name].get("description"), f"{name} has no meaning"
    assert body["properties"]["chain_type"]["enum"] == [1, 2]
    assert media["examples"]["seed"]["value"] == SEED_004_CREATE
    assert "application/x-www-form-urlencoded" in op["requestBody"]["content"]
    answer = op["responses"]["200"]["content"]["application/json"]
    assert answer["examples"]["seed"]["value"]["data"]["amount"] == "13.890001"
    assert set(op["responses"]) >= {"200", "403", "409", "413", "415", "422", "429", "503"}
    assert "signature is missing" in str(op["responses"]["403"])


async def test_signature_rule_is_on_the_page(client: AsyncTestClient[Any]) -> None:
    schema = await _schema(client)
    description = schema["info"]["description"]
    assert "## Signatures" in description
    assert "025A13712E54F1E3D0B0BEBA09F5B06E" in description
    assert "MD5" in schema["paths"]["/api/pay/query"]["get"]["description"]


@pytest.mark.parametrize("path", ["/schema", "/schema/swagger"])
async def test_docs_page_loads_only_from_usdtpay(client: AsyncTestClient[Any], path: str) -> None:
    resp = await client.get(path)
    assert resp.status_code == 200
    html = resp.text
    outside = re.findall(r"""(?:src|href)\s*=\s*['"]((?:https?:)?//[^'"]+)""", html)
    assert outside == [], outside
    assert "fonts.googleapis" not in html
    for asset in re.findall(r"""(?:src|href)\s*=\s*['"](/[^'"]+)""", html):
        assert (await client.get(asset)).status_code == 200, asset


async def test_every_request_field_says_what_it_means(client: AsyncTestClient[Any]) -> None:
    schema = await _schema(client)
    missing = []
    for method, path, op in _operations(schema):
        for media in list(op.get("requestBody", {}).get("content", {}).values())[:1]:
            body = _resolve(schema, media.get("schema", {}))
            for name, prop in (body.get("properties") or {}).items():
                if not _resolve(schema, prop).get("description"):
                    missing.append(f"{method} {path} body.{name}")
        for param in op.get("parameters", []):
            described = param.get("description") or _resolve(schema, param.get("schema", {})).get(
                "description"
            )
            if param.get("in") == "query" and not described:
                missing.append(f"{method} {path} ?{param['name']}")
    assert not missing, "\n".join(missing)
