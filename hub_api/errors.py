"""The error envelope of API.md for every error the API returns."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub_core.logging import get_logger

log = get_logger(__name__)

CODES: dict[int, str] = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    502: "UPSTREAM_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


class APIError(Exception):
    """An error with an HTTP status, a message and details, rendered in the envelope."""

    def __init__(
        self,
        status_code: int,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}


def envelope(status_code: int, message: str, details: dict[str, Any] | None = None) -> JSONResponse:
    """A JSON response `{"error": {"code", "message", "details"}}` for `status_code`."""
    code = CODES.get(status_code, "INTERNAL_ERROR" if status_code >= 500 else "ERROR")
    return JSONResponse(
        status_code=status_code,
        content={"error": {"code": code, "message": message, "details": details or {}}},
    )


def _validation_details(exc: RequestValidationError) -> dict[str, Any]:
    fields = []
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ())]
        received = error.get("input")
        fields.append(
            {
                "field": ".".join(location[1:]) or ".".join(location),
                "location": location[0] if location else None,
                "expected": error.get("msg"),
                "received": received if isinstance(received, str | int | float | bool) else None,
            }
        )
    return {"fields": fields}


def install_error_handlers(app: FastAPI) -> None:
    """Render HTTP errors, validation errors and unexpected exceptions in the envelope."""

    @app.exception_handler(APIError)
    async def _api_error(_request: Request, exc: APIError) -> JSONResponse:
        response = envelope(exc.status_code, exc.message, exc.details)
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = "no such resource"
        response = envelope(exc.status_code, message)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = _validation_details(exc)
        names = ", ".join(f["field"] for f in details["fields"]) or "request"
        return envelope(422, f"invalid value for {names}", details)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The body never carries the exception text: it may hold SQL or a secret.
        log.error("unhandled error", path=request.url.path, error=type(exc).__name__, exc_info=exc)
        return envelope(500, "internal error")


def invalid(field: str, expected: str, received: Any, location: str = "query") -> APIError:
    """A 422 `VALIDATION_ERROR` naming one field, what was expected and what was received."""
    shown = received if isinstance(received, str | int | float | bool) or received is None else None
    return APIError(
        422,
        f"invalid value for {field}: expected {expected}",
        {
            "fields": [
                {"field": field, "location": location, "expected": expected, "received": shown}
            ]
        },
    )
