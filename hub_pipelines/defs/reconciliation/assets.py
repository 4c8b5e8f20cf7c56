"""The daily reconciliation of Vima against PayShack, with its checks."""

from datetime import date

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
)

from hub_core.queries.periods import today_in
from hub_core.queries.reconciliation import missing_inputs
from hub_core.settings import get_settings
from hub_pipelines.defs.payshack.assets import NORMALIZED as PAYSHACK_NORMALIZED
from hub_pipelines.defs.vima.assets import NORMALIZED as VIMA_NORMALIZED
from hub_pipelines.partitions import daily_partitions
from hub_pipelines.reconcile import ReconParams, ReconSummary, reconcile_day
from hub_pipelines.resources import RedisResource, WarehouseResource
from hub_pipelines.warehouse.reconciliation_runs import record_reconciliation_run

BREAK_COLUMNS = ("match_type", "match_method", "client_operation_id", "order_id", "amount_diff")


def recon_params() -> ReconParams:
    """Reconciliation rules from the hub settings (PayShack's client map names the projects:
    a malformed map stops the reconciliation too)."""
    settings = get_settings()
    settings.require_source("payshack")
    return ReconParams(
        projects=tuple(sorted(set(settings.hub_client_project_map.values()))),
        tolerance=settings.hub_recon_amount_tolerance,
        fallback_minutes=settings.hub_recon_fallback_minutes,
        margin_hours=settings.hub_recon_day_margin_hours,
        timezone=settings.hub_timezone,
    )


def breaks_markdown(summary: ReconSummary) -> str:
    """The largest breaks as a markdown table."""
    lines = ["| " + " | ".join(BREAK_COLUMNS) + " |", "|" + "---|" * len(BREAK_COLUMNS)]
    for row in summary.largest_breaks:
        lines.append("| " + " | ".join(str(row.get(c) or "") for c in BREAK_COLUMNS) + " |")
    return "\n".join(lines)


RECONCILIATION = "reconciliation"


@asset(
    name=RECONCILIATION,
    partitions_def=daily_partitions,
    group_name="reconciliation",
    kinds={"postgres"},
    deps=[VIMA_NORMALIZED, PAYSHACK_NORMALIZED],
    pool="reconciliation",
    description="Vima against PayShack for the day: one result per pair or orphan.",
    check_specs=[
        AssetCheckSpec("match_rate_above_floor", asset=RECONCILIATION),
        AssetCheckSpec(
            "inputs_complete",
            asset=RECONCILIATION,
            description="Both sources had synced the day and the neighbours its margin reads; "
            "otherwise the results are stored provisional.",
        ),
    ],
)
def reconciliation(
    context: AssetExecutionContext, warehouse: WarehouseResource, redis: RedisResource
) -> MaterializeResult:
    """Reconcile the partition's day in SQL and replace its results in one transaction."""
    day = date.fromisoformat(context.partition_key)
    settings = get_settings()
    params = recon_params()
    with warehouse.begin() as conn:
        missing = missing_inputs(
            conn,
            day,
            params.margin_hours,
            settings.hub_start_date,
            today_in(settings.hub_timezone),
        )
        summary = reconcile_day(conn, day, context.run.run_id, params)
        record_reconciliation_run(conn, day, context.run.run_id, summary.total, missing)
    redis.bump_data_version(warehouse.engine())
    floor = settings.hub_recon_min_match_rate
    return MaterializeResult(
        metadata={
            "total": summary.total,
            "match_rate": round(summary.match_rate, 4),
            "counts": MetadataValue.json(summary.counts),
            "amounts": MetadataValue.json({k: str(v) for k, v in summary.amounts.items()}),
            "by_method": MetadataValue.json(summary.by_method),
            "largest_breaks": MetadataValue.md(breaks_markdown(summary)),
            "duration_s": round(summary.seconds, 3),
            "step_seconds": MetadataValue.json(summary.step_seconds),
            # only when the server had too little shared memory for a parallel join (give
            # PostgreSQL more /dev/shm: deploy/README.md)
            **({"serial_join": summary.serial_join} if summary.serial_join else {}),
            "provisional": bool(missing),
            "missing_inputs": MetadataValue.json(missing),
        },
        check_results=[
            AssetCheckResult(
                check_name="match_rate_above_floor",
                passed=summary.match_rate >= floor,
                severity=AssetCheckSeverity.WARN,
                metadata={"match_rate": round(summary.match_rate, 4), "floor": floor},
            ),
            AssetCheckResult(
                check_name="inputs_complete",
                passed=not missing,
                severity=AssetCheckSeverity.WARN,
                metadata={"missing_inputs": MetadataValue.json(missing)},
            ),
        ],
    )
