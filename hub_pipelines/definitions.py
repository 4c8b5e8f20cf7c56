"""The code location: `Definitions` assembled explicitly from the hub's modules."""

from __future__ import annotations

from dagster import Definitions

from hub_core.logging import configure_logging, get_logger
from hub_core.settings import SOURCE_SETTINGS, get_settings
from hub_pipelines.assets.payshack import payshack_raw, payshack_transactions
from hub_pipelines.assets.reconciliation import hourly_metrics, reconciliation
from hub_pipelines.assets.vima import vima_assets
from hub_pipelines.checks import transactions_checks
from hub_pipelines.jobs import payshack_sync_job, reconcile_job, vima_sync_job
from hub_pipelines.resources import (
    PayShackResource,
    RedisResource,
    VimaResource,
    WarehouseResource,
)
from hub_pipelines.schedules import payshack_schedules, vima_schedules
from hub_pipelines.sensors import (
    finish_incomplete_days,
    reconcile_changed_days,
    record_failed_sync,
    sync_state_follows_runs,
)

_settings = get_settings()
configure_logging(_settings.hub_log_level, _settings.hub_log_json)
for _source in SOURCE_SETTINGS:  # that source's runs fail with this line; the rest runs
    if _error := _settings.source_error(_source):
        get_logger(__name__).warning(_error)

defs = Definitions(
    assets=[
        vima_assets,
        payshack_raw,
        payshack_transactions,
        reconciliation,
        hourly_metrics,
    ],
    asset_checks=transactions_checks,
    jobs=[vima_sync_job, payshack_sync_job, reconcile_job],
    schedules=[*vima_schedules, *payshack_schedules],
    sensors=[
        reconcile_changed_days,
        finish_incomplete_days,
        record_failed_sync,
        sync_state_follows_runs,
    ],
    resources={
        "warehouse": WarehouseResource(),
        "redis": RedisResource(),
        "vima": VimaResource(),
        "payshack": PayShackResource(),
    },
)
