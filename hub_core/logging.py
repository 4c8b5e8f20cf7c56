"""Logging: structlog configured once, JSON lines, and secrets masked wherever they appear.

Standard-library loggers (httpx, uvicorn, dagster) go through the same processors, so a Vima
URL logged by httpx shows `apikey=***` as well.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

MASK = "***"

_SECRET_KEYS = re.compile(
    r"(api[_-]?key|password|passwd|secret|token|authorization|refresh[_-]?token)$", re.I
)
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # query strings and form bodies: apikey=..., password=..., token=...
    (
        re.compile(
            r"(?i)\b(api[_-]?key|password|passwd|access[_-]?token|refresh[_-]?token|token|secret)"
            r"(=|%3D)[^&\s'\"<>]+"
        ),
        r"\1\2" + MASK,
    ),
    # JSON-ish: "password": "...", 'token': '...'
    (
        re.compile(
            r"(?i)([\"']?(?:api[_-]?key|password|passwd|access[_-]?token|refresh[_-]?token|token|"
            r"secret)[\"']?\s*:\s*)([\"'])(?:(?!\2).)*\2"
        ),
        r"\1\2" + MASK + r"\2",
    ),
    # headers: Authorization: Bearer xyz / Basic xyz
    (re.compile(r"(?i)\b(authorization[\"']?\s*[:=]\s*[\"']?)(bearer|basic)\s+[^\s'\",]+"),
     r"\1\2 " + MASK),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + MASK),
    # user:password@ in URLs
    (re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@/\s]+@"), r"\1" + MASK + "@"),
)  # fmt: skip


def mask_secrets(text: str) -> str:
    """Return `text` with API keys, passwords, tokens and authorization values masked."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


ERROR_TEXT_LIMIT = 300
"""The most characters of an error kept in a stored message or a log field."""


def describe_error(exc: BaseException | str, limit: int = ERROR_TEXT_LIMIT) -> str:
    """One short, masked line for an error: its class and the first line of its reason.

    Never the SQL parameters or a multi-line dump (a database error carries the statement and
    its parameters after the first line): what is stored or shown stays small and private.
    """
    if isinstance(exc, BaseException):
        original = getattr(exc, "orig", None)  # SQLAlchemy wraps the driver's error
        reason = str(original if original is not None else exc)
        text = f"{type(exc).__name__}: {reason}" if reason else type(exc).__name__
    else:
        text = exc
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    first = mask_secrets(first)
    return first if len(first) <= limit else first[: limit - 1] + "…"


def mask_value(value: Any) -> Any:
    """Mask secrets inside strings, mappings and sequences (recursively)."""
    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, Mapping):
        return {
            k: (MASK if isinstance(k, str) and _SECRET_KEYS.search(k) and v else mask_value(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(mask_value(v) for v in value)
    return value


def mask_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor applying `mask_value` to every field of the event."""
    return mask_value(dict(event_dict))


_configured = False


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        mask_processor,
    ]


def build_formatter(json: bool = True) -> logging.Formatter:
    """The formatter of hub log lines: stdlib records and structlog events, secrets masked."""
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *_shared_processors()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            mask_processor,
            renderer,
        ],
    )


def _install_masking_record_factory() -> None:
    """Mask every stdlib log record at creation, so that no handler (pytest's, Dagster's, a
    third party's) ever sees a secret in a message."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_hub_masking", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed format string: leave it to the handler to report
            return record
        if mask_secrets(message) == message:
            return record
        # Mask the parts, keeping the arguments: formatters such as uvicorn's access log
        # unpack `record.args`. Only if a secret spans the parts is the message collapsed.
        if isinstance(record.msg, str):
            record.msg = mask_secrets(record.msg)
        if isinstance(record.args, tuple | dict):
            record.args = mask_value(record.args)
        try:
            still_secret = mask_secrets(record.getMessage()) != record.getMessage()
        except Exception:
            still_secret = True
        if still_secret:
            record.msg, record.args = mask_secrets(message), ()
        return record

    factory._hub_masking = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def configure_logging(level: str = "INFO", json: bool = True) -> None:
    """Configure structlog and the standard library once per process (later calls are no-ops)."""
    global _configured
    if _configured:
        return
    _install_masking_record_factory()
    # One line per HTTP request is noise at INFO (and would carry URLs); warnings still show.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    structlog.configure(
        processors=[*_shared_processors(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(build_formatter(json))
    handler.set_name("hub")
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if h.get_name() != "hub"]
    root.addHandler(handler)
    root.setLevel(level.upper())
    _configured = True


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """A structlog logger; configures logging from settings on first use."""
    if not _configured:
        from hub_core.settings import get_settings

        settings = get_settings()
        configure_logging(settings.hub_log_level, settings.hub_log_json)
    return structlog.get_logger(name)
