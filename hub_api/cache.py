"""Response cache in Redis, keyed by the endpoint, its parameters and the data version.

The pipelines bump `DATA_VERSION_KEY` after every write; the version is part of every key, so a
write makes every older entry unreachable at once (they expire by TTL). When Redis is down the
API answers uncached.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import orjson
import redis

from hub_core.cache import DATA_VERSION_KEY
from hub_core.logging import get_logger

log = get_logger(__name__)

PREFIX = "hub:cache:"
OVERVIEW_TTL = 60
"""Seconds an overview stays cached (API.md)."""
DEFAULT_TTL = 300
"""Seconds other metrics and summaries stay cached (API.md)."""


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str)


def cache_key(namespace: str, params: dict[str, Any], version: bytes | str | None) -> str:
    """The key of one response: namespace, data version and a digest of the parameters."""
    digest = hashlib.blake2b(_dumps(params), digest_size=12).hexdigest()
    shown = version.decode() if isinstance(version, bytes) else (version or "0")
    return f"{PREFIX}{namespace}:{shown}:{digest}"


def cached_json(
    client: redis.Redis,
    namespace: str,
    params: dict[str, Any],
    ttl: int,
    compute: Callable[[], Any],
) -> bytes:
    """The JSON body for (namespace, params) from the cache, else `compute()` stored for `ttl`.

    `compute` returns a JSON-ready value; a Redis error at any step only skips the cache.
    """
    try:
        version = client.get(DATA_VERSION_KEY)
        key = cache_key(namespace, params, version)
        hit = client.get(key)
    except redis.RedisError as exc:
        log.warning("cache unavailable, answering uncached", error=type(exc).__name__)
        return _dumps(compute())
    if hit is not None:
        return hit
    body = _dumps(compute())
    try:
        client.set(key, body, ex=ttl)
    except redis.RedisError as exc:
        log.warning("cache unavailable, answer not stored", error=type(exc).__name__)
    return body
