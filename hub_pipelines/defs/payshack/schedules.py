"""PayShack's schedules: today's partition every `HUB_PAYSHACK_SYNC_EVERY_MINUTES`, and the
daily late-update pass."""

from hub_core.types import Source
from hub_pipelines.schedules import build_source_schedules

payshack_schedules = build_source_schedules(Source.PAYSHACK)
