"""Vima's schedules: today's partition every `HUB_VIMA_SYNC_EVERY_MINUTES`, and the
daily late-update pass."""

from hub_core.types import Source
from hub_pipelines.schedules import build_source_schedules

vima_schedules = build_source_schedules(Source.VIMA)
