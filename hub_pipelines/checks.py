"""Asset checks over the whole `transactions` table, built once per source by its `defs/`."""

from datetime import timedelta

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    AssetsDefinition,
    asset_check,
)
from sqlalchemy import text

from hub_core.timeutil import utc_now
from hub_core.types import Source
from hub_pipelines.resources import WarehouseResource

FRESHNESS = timedelta(minutes=30)


def _scalar(warehouse: WarehouseResource, sql: str, **params: object) -> object:
    with warehouse.engine().connect() as conn:
        return conn.execute(text(sql), params).scalar()


def transaction_checks(
    asset: AssetsDefinition | AssetKey, source: Source
) -> list[AssetChecksDefinition]:
    """Uniqueness, non-negative amounts and freshness of a source's rows (statuses need no
    check: the table's CHECK constraint admits only the enum's)."""

    @asset_check(asset=asset, name="no_duplicate_source_ids", blocking=False)
    def no_duplicates(warehouse: WarehouseResource) -> AssetCheckResult:
        count = _scalar(
            warehouse,
            "SELECT count(*) FROM (SELECT source_id FROM transactions WHERE source = :s "
            "GROUP BY source_id HAVING count(*) > 1) d",
            s=source.value,
        )
        return AssetCheckResult(passed=count == 0, metadata={"duplicated_ids": count})

    @asset_check(asset=asset, name="amounts_non_negative")
    def non_negative(warehouse: WarehouseResource) -> AssetCheckResult:
        count = _scalar(
            warehouse,
            "SELECT count(*) FROM transactions WHERE source = :s "
            "AND (amount < 0 OR paid_amount < 0 OR fee < 0)",
            s=source.value,
        )
        return AssetCheckResult(passed=count == 0, metadata={"negative_rows": count})

    @asset_check(asset=asset, name="fresh_within_30_minutes")
    def fresh(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> AssetCheckResult:
        last = _scalar(
            warehouse,
            "SELECT last_successful_sync FROM sync_state WHERE source = :s",
            s=source.value,
        )
        age = (utc_now() - last) if last else None
        return AssetCheckResult(
            passed=age is not None and age <= FRESHNESS,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "last_successful_sync": str(last),
                "age_minutes": round(age.total_seconds() / 60, 1) if age else None,
            },
        )

    return [no_duplicates, non_negative, fresh]
