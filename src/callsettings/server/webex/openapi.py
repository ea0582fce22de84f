"""OpenAPI descriptions for handlers that encode and decode bodies themselves.

The feature handlers read raw bytes (to merge partial updates and report errors the Webex
way) and write pre-encoded JSON, so Litestar cannot infer their schemas; these helpers
declare them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, Operation, Reference, RequestBody

from callsettings.server.errors import ErrorBody


def json_body_operation(model: type[Any], description: str) -> type[Operation]:
    """Return an Operation class whose request body is `model` as JSON."""

    @dataclass
    class WithJsonBody(Operation):
        def __post_init__(self) -> None:
            self.request_body = RequestBody(
                content={
                    "application/json": OpenAPIMediaType(
                        schema=Reference(ref=f"#/components/schemas/{model.__name__}")
                    )
                },
                description=description,
                required=True,
            )

    return WithJsonBody


def responses(model: type[Any] | None = None, *statuses: int) -> dict[int, ResponseSpec]:
    """Return the documented responses: `model` on 200, and the Webex error body."""
    documented: dict[int, ResponseSpec] = {}
    if model is not None:
        documented[200] = ResponseSpec(data_container=model, description="The setting")
    for status in statuses or (400, 401, 403, 404, 429):
        documented[status] = ResponseSpec(
            data_container=ErrorBody, description="Webex error body", generate_examples=False
        )
    return documented
