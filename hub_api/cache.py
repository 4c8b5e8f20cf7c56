"""Response cache in Redis, keyed by the endpoint and its parameters, checked against the data
version.

The pipelines bump `DATA_VERSION_KEY` after every write. An entry stores the version it was
computed at in front of its body, and a lookup reads the current version and the entry in one
`MGET`: an entry of another version is a miss, so a write makes every older entry unusable at
once (the next answer overwrites it; the rest expire by TTL). A hit costs one Redis round trip
and no database connection (the routes open theirs inside `compute`). When Redis is down the API
answers uncached.
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
_SEPARATOR = b"\n"  # between the stored version and the body (compact JSON has no newline)


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str)


def cache_key(namespace: str, params: dict[str, Any]) -> str:
    """The key of one response: namespace and a digest of the parameters."""
    digest = hashlib.blake2b(_dumps(params), digest_size=12).hexdigest()
    return f"{PREFIX}{namespace}:{digest}"


def cached_json(
    client: redis.Redis,
    namespace: str,
    params: dict[str, Any],
    ttl: int,
    compute: Callable[[], Any],
) -> bytes:
    """The JSON body for (namespace, params) from the cache when it was computed at the current
    data version, else `compute()` serialized and stored for `ttl` seconds.

    `compute` returns a JSON-ready value; a Redis error at any step only skips the cache.
    """
    key = cache_key(namespace, params)
    try:
        version, entry = client.mget(DATA_VERSION_KEY, key)
    except redis.RedisError as exc:
        log.warning("cache unavailable, answering uncached", error=type(exc).__name__)
        return _dumps(compute())
    version = version or b"0"
    if entry is not None:
        stored, _, body = entry.partition(_SEPARATOR)
        if stored == version:
            return body
    body = _dumps(compute())
    try:
        client.set(key, version + _SEPARATOR + body, ex=ttl)
    except redis.RedisError as exc:
        log.warning("cache unavailable, answer not stored", error=type(exc).__name__)
    return body
