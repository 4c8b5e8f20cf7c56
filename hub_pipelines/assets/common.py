"""What every source's assets share: partition windows and the normalized materialization."""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
)

from hub_core.settings import get_settings
from hub_core.types import Transaction
from hub_pipelines.normalizing import NormalizeReport
from hub_pipelines.windows import PartitionWindow

PREVIEW_COLUMNS = (
    "source_id",
    "created_at",
    "project",
    "direction",
    "amount",
    "currency",
    "status",
)
NORMALIZED_CHECKS = ("no_rejected_rows", "no_unknown_statuses")


def window_of(context: AssetExecutionContext) -> PartitionWindow:
    """The UTC window of the run's partition."""
    return PartitionWindow.for_key(context.partition_key, get_settings().hub_timezone)


def normalized_check_specs(asset: str) -> list[AssetCheckSpec]:
    """The checks every normalized asset reports with its materialization."""
    return [AssetCheckSpec(name, asset=asset) for name in NORMALIZED_CHECKS]


def preview_markdown(rows: list[Transaction]) -> str:
    """A small markdown table of transactions for the Dagster UI."""
    header = "| " + " | ".join(PREVIEW_COLUMNS) + " |"
    rule = "|" + "---|" * len(PREVIEW_COLUMNS)
    lines = [
        "| " + " | ".join(str(getattr(row, c)) for c in PREVIEW_COLUMNS) + " |" for row in rows
    ]
    return "\n".join([header, rule, *lines])


def normalized_result(report: NormalizeReport, asset_key: str | None = None) -> MaterializeResult:
    """Metadata and check results of a normalized asset's materialization.

    `asset_key` names the asset when the op materializes more than one.
    """
    rejected = report.rejected
    return MaterializeResult(
        asset_key=asset_key,
        metadata={
            "normalized": report.normalized,
            "rows_new": report.rows.new,
            "rows_updated": report.rows.updated,
            "rows_unchanged": report.rows.unchanged,
            "by_status": MetadataValue.json(dict(report.by_status)),
            "rejected": len(rejected),
            "rejected_examples": MetadataValue.json(rejected[:20]),
            "unknown_statuses": MetadataValue.json(dict(report.unknown_statuses)),
            "preview": MetadataValue.md(preview_markdown(report.preview)),
            "duration_s": round(report.seconds, 3),
        },
        check_results=[
            AssetCheckResult(
                asset_key=asset_key,
                check_name="no_rejected_rows",
                passed=not rejected,
                severity=AssetCheckSeverity.WARN,
                metadata={"rejected": len(rejected), "examples": MetadataValue.json(rejected[:5])},
            ),
            AssetCheckResult(
                asset_key=asset_key,
                check_name="no_unknown_statuses",
                passed=not report.unknown_statuses,
                severity=AssetCheckSeverity.WARN,
                metadata={"unknown": MetadataValue.json(dict(report.unknown_statuses))},
            ),
        ],
    )
