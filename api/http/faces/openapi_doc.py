"""OpenAPI descriptions for handlers that read their own bodies.

The seed faces parse requests by hand (JSON numbers kept as text, JSON or
form bodies, errors in each face's envelope), so Litestar cannot infer their
request and answer shapes. `documented` builds an Operation subclass that
writes the seed's fields and examples into /schema.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from litestar.openapi.spec import (
    Example,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    Reference,
    RequestBody,
    Schema,
)

__all__ = ["OpenAPIType", "Operation", "Schema"]

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def string(description: str = "", *, min_length: int | None = None, max_length: int | None = None,
           enum: Sequence[str] | None = None, example: Any = None) -> Schema:  # fmt: skip
    return Schema(
        type=OpenAPIType.STRING,
        description=description or None,
        min_length=min_length,
        max_length=max_length,
        enum=list(enum) if enum else None,
        examples=[example] if example is not None else None,
    )


def integer(description: str = "", *, minimum: int | None = None, maximum: int | None = None,
            enum: Sequence[int] | None = None, example: Any = None) -> Schema:  # fmt: skip
    return Schema(
        type=OpenAPIType.INTEGER,
        description=description or None,
        minimum=minimum,
        maximum=maximum,
        enum=list(enum) if enum else None,
        examples=[example] if example is not None else None,
    )


def number(description: str = "") -> Schema:
    return Schema(type=OpenAPIType.NUMBER, description=description or None)


def boolean(description: str = "") -> Schema:
    return Schema(type=OpenAPIType.BOOLEAN, description=description or None)


def one_of(*schemas: Schema, description: str = "") -> Schema:
    return Schema(one_of=list(schemas), description=description or None)


def null() -> Schema:
    return Schema(type=OpenAPIType.NULL)


def nullable(schema: Schema) -> Schema:
    return Schema(one_of=[schema, Schema(type=OpenAPIType.NULL)])


def array(items: Schema, description: str = "") -> Schema:
    return Schema(type=OpenAPIType.ARRAY, items=items, description=description or None)


def obj(
    properties: Mapping[str, Schema | Reference], required: Sequence[str] = (), description: str = ""
) -> Schema:
    return Schema(
        type=OpenAPIType.OBJECT,
        properties=dict(properties),
        required=list(required) or None,
        description=description or None,
    )


def query(name: str, schema: Schema, *, required: bool = True, description: str = "") -> Parameter:
    return Parameter(name=name, param_in="query", schema=schema, required=required, description=description)


def documented(
    *,
    answer: Schema,
    answer_example: dict[str, Any],
    error: Schema,
    error_example: dict[str, Any],
    error_statuses: Sequence[int] = (400, 404),
    body: Schema | None = None,
    body_example: dict[str, Any] | None = None,
    form: bool = False,
    parameters: Sequence[Parameter] = (),
    error_meanings: Mapping[int, str] | None = None,
    error_examples: Mapping[int, dict[str, Any]] | None = None,
) -> type[Operation]:
    """An Operation class carrying the face's request body, query
    parameters, success answer and error envelope (with the seed examples)."""

    def _media(schema: Schema, example: dict[str, Any] | None) -> OpenAPIMediaType:
        examples = {"seed": Example(summary="from the seed document", value=example)} if example else None
        return OpenAPIMediaType(schema=schema, examples=examples)  # type: ignore[arg-type]

    @dataclass
    class DocumentedOperation(Operation):
        def __post_init__(self) -> None:
            if body is not None:
                content = {JSON: _media(body, body_example)}
                if form:
                    content[FORM] = OpenAPIMediaType(schema=body)
                self.request_body = RequestBody(content=content, required=True)
            if parameters:
                path_params = [p for p in self.parameters or [] if getattr(p, "param_in", "") == "path"]
                self.parameters = [*path_params, *parameters]
            responses: dict[str, Any] = {
                "200": OpenAPIResponse(description="Success", content={JSON: _media(answer, answer_example)})
            }
            for status in error_statuses:
                meaning = (error_meanings or {}).get(status, "")
                responses[str(status)] = OpenAPIResponse(
                    description=f"Error in the face's envelope. {meaning}".strip(),
                    content={JSON: _media(error, (error_examples or {}).get(status, error_example))},
                )
            self.responses = responses

    return DocumentedOperation


def raw_callback(*, body: str, answers: Mapping[int, str]) -> type[Operation]:
    """An Operation for a channel's callback: the body is the channel's own
    signed format (described, not modelled), the answers are what the
    channel expects to read back."""

    @dataclass
    class CallbackOperation(Operation):
        def __post_init__(self) -> None:
            self.request_body = RequestBody(
                content={"*/*": OpenAPIMediaType(schema=string(body))}, required=True, description=body
            )
            self.responses = {
                str(status): OpenAPIResponse(
                    description=text,
                    content={"*/*": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))},
                )
                for status, text in answers.items()
            }

    return CallbackOperation


def svg_answer(*, parameters: Sequence[Parameter], errors: Mapping[int, str]) -> type[Operation]:
    """An Operation answering an SVG image, errors as plain text."""

    @dataclass
    class SvgOperation(Operation):
        def __post_init__(self) -> None:
            self.parameters = list(parameters)
            text = {"text/plain": OpenAPIMediaType(schema=string())}
            self.responses = {
                "200": OpenAPIResponse(
                    description="the QR code", content={"image/svg+xml": OpenAPIMediaType(schema=string())}
                ),
                **{str(s): OpenAPIResponse(description=d, content=text) for s, d in errors.items()},
            }

    return SvgOperation
