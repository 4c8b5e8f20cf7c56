"""The code location: `Definitions` assembled explicitly from the hub's modules."""

from __future__ import annotations

from dagster import Definitions

from hub_core.logging import configure_logging
from hub_core.settings import get_settings
from hub_pipelines.resources import RedisResource, WarehouseResource

_settings = get_settings()
configure_logging(_settings.hub_log_level, _settings.hub_log_json)

defs = Definitions(
    assets=[],
    resources={
        "warehouse": WarehouseResource(),
        "redis": RedisResource(),
    },
)
