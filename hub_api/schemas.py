"""Envelopes and field types every router shares (API.md's contract)."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from hub_core.timeutil import isoformat_z

_CENT = Decimal("0.01")


def money_number(value: Decimal | int | float | None) -> float | None:
    """An amount as a JSON number with 2 decimals (half up), as API.md shows amounts."""
    if value is None:
        return None
    return float(Decimal(value).quantize(_CENT, rounding=ROUND_HALF_UP))


Money = Annotated[Decimal, PlainSerializer(money_number, return_type=float)]
"""An amount: `Decimal` inside, a JSON number with 2 decimals outside."""

UTCTime = Annotated[datetime, PlainSerializer(isoformat_z, return_type=str)]
"""A time: aware `datetime` inside, ISO 8601 UTC with `Z` outside."""


class ListMeta(BaseModel):
    """Paging of a list: `total_is_estimate` when the exact count would be too slow."""

    page: int
    limit: int
    total: int
    total_pages: int
    next_cursor: str | None = None
    total_is_estimate: bool = False


class ErrorBody(BaseModel):
    """What went wrong: a stable code, a sentence, and details (e.g. the invalid fields)."""

    code: str = Field(examples=["VALIDATION_ERROR"])
    message: str = Field(examples=["invalid value for limit"])
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorResponse(BaseModel):
    """The error envelope of every non-2xx answer."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "VALIDATION_ERROR",
                        "message": "invalid value for limit",
                        "details": {
                            "fields": [
                                {
                                    "field": "limit",
                                    "location": "query",
                                    "expected": "Input should be less than or equal to 100",
                                    "received": "500",
                                }
                            ]
                        },
                    }
                }
            ]
        }
    )

    error: ErrorBody


_ERROR_TEXT = {
    400: "Invalid input (VALIDATION_ERROR)",
    401: "Missing or invalid API key (UNAUTHORIZED)",
    403: "The key's role may not call this endpoint (FORBIDDEN)",
    404: "No such resource (NOT_FOUND)",
    409: "Conflicts with work already running (CONFLICT)",
    422: "Invalid input (VALIDATION_ERROR)",
    429: "Too many requests for this key (RATE_LIMIT_EXCEEDED); see Retry-After",
    500: "Unexpected error (INTERNAL_ERROR)",
    502: "Dagster answered with an error (UPSTREAM_ERROR)",
    503: "A service the endpoint needs is down (SERVICE_UNAVAILABLE)",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the given error statuses, all in the error envelope."""
    common = (400, 401, 422, 429, 500, 503)
    return {
        code: {"model": ErrorResponse, "description": _ERROR_TEXT[code]}
        for code in sorted({*common, *codes})
    }
