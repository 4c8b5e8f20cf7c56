"""The hourly metrics of a day, recomputed from `transactions` for the metric endpoints."""

from datetime import date

from dagster import AssetExecutionContext, MaterializeResult, asset

from hub_core.settings import get_settings
from hub_pipelines.defs.payshack.assets import NORMALIZED as PAYSHACK_NORMALIZED
from hub_pipelines.defs.vima.assets import NORMALIZED as VIMA_NORMALIZED
from hub_pipelines.metrics import refresh_hourly_metrics
from hub_pipelines.partitions import daily_partitions
from hub_pipelines.resources import RedisResource, WarehouseResource


@asset(
    partitions_def=daily_partitions,
    group_name="metrics",
    kinds={"postgres"},
    deps=[VIMA_NORMALIZED, PAYSHACK_NORMALIZED],
    description="Per hour, source, project, direction, status and currency: count, amount, fee.",
)
def hourly_metrics(
    context: AssetExecutionContext, warehouse: WarehouseResource, redis: RedisResource
) -> MaterializeResult:
    """Recompute the day's hourly metrics and replace them atomically."""
    day = date.fromisoformat(context.partition_key)
    with warehouse.begin() as conn:
        rows = refresh_hourly_metrics(conn, day, get_settings().hub_timezone)
    redis.bump_data_version(warehouse.engine())
    return MaterializeResult(metadata={"rows": rows})
