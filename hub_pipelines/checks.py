"""Asset checks over the whole `transactions` table, one set per source."""

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
from hub_core.types import Source, Status
from hub_pipelines.assets.payshack import payshack_transactions
from hub_pipelines.assets.vima import NORMALIZED as VIMA_NORMALIZED
from hub_pipelines.resources import WarehouseResource

FRESHNESS = timedelta(minutes=30)
STATUSES = tuple(s.value for s in Status)


def _scalar(warehouse: WarehouseResource, sql: str, **params: object) -> object:
    with warehouse.engine().connect() as conn:
        return conn.execute(text(sql), params).scalar()


def transaction_checks(
    asset: AssetsDefinition | AssetKey, source: Source
) -> list[AssetChecksDefinition]:
    """Uniqueness, non-negative amounts, known statuses and freshness of a source's rows."""

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

    @asset_check(asset=asset, name="statuses_in_enum")
    def known_statuses(warehouse: WarehouseResource) -> AssetCheckResult:
        count = _scalar(
            warehouse,
            "SELECT count(*) FROM transactions WHERE source = :s AND NOT status = ANY(:ok)",
            s=source.value,
            ok=list(STATUSES),
        )
        return AssetCheckResult(passed=count == 0, metadata={"unknown_status_rows": count})

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

    return [no_duplicates, non_negative, known_statuses, fresh]


transactions_checks = [
    *transaction_checks(AssetKey(VIMA_NORMALIZED), Source.VIMA),
    *transaction_checks(payshack_transactions, Source.PAYSHACK),
]
