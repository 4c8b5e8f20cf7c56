"""The daily partitions every hub asset shares."""

from __future__ import annotations

from dagster import DailyPartitionsDefinition

from hub_core.settings import get_settings


def build_daily_partitions() -> DailyPartitionsDefinition:
    """Daily partitions from `HUB_START_DATE` in `HUB_TIMEZONE`, with today as a partition."""
    settings = get_settings()
    return DailyPartitionsDefinition(
        start_date=settings.hub_start_date.isoformat(),
        timezone=settings.hub_timezone,
        end_offset=1,
    )


daily_partitions = build_daily_partitions()
