"""What every source's assets report, the same way: the partition window of a run, the raw
streams' and the normalized asset's materializations with their checks."""

from collections.abc import Sequence

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    MetadataValue,
)

from hub_core.types import Transaction
from hub_pipelines.ingesting import IngestReport, StreamReport
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
    bounds = context.partition_time_window
    return PartitionWindow.of(context.partition_key, bounds.start, bounds.end)


def raw_result(
    asset_key: AssetKey,
    report: IngestReport,
    streams: Sequence[str],
    check: AssetCheckResult | None = None,
) -> MaterializeResult:
    """The materialization of a raw asset landed from `streams` of the run's report."""
    parts: list[StreamReport] = [report.streams[name] for name in streams]
    return MaterializeResult(
        asset_key=asset_key,
        metadata={
            "fetched": sum(p.fetched for p in parts),
            "pages": sum(p.pages for p in parts),
            "rows_new": sum(p.rows.new for p in parts),
            "rows_updated": sum(p.rows.updated for p in parts),
            "rows_unchanged": sum(p.rows.unchanged for p in parts),
            "complete": all(p.complete for p in parts),
            "cursors": MetadataValue.json({name: report.streams[name].cursor for name in streams}),
            "skipped_without_id": report.skipped_without_id,
            **report.details,
            "duration_s": round(report.seconds, 3),
        },
        check_results=[check] if check else None,
    )


def normalized_check_specs(asset: AssetKey) -> list[AssetCheckSpec]:
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


def normalized_result(report: NormalizeReport, asset_key: AssetKey) -> MaterializeResult:
    """Metadata and check results of a normalized asset's materialization."""
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
