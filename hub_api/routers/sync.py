"""`/sync`: each source's sync state with its next schedule tick, and launching a sync."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict

from hub_api.deps import ConnectionDep, DagsterDep, OperatorDep, ReaderDep, RedisDep, SettingsDep
from hub_api.errors import APIError, invalid
from hub_api.launching import launch_exclusive
from hub_api.schemas import UTCTime, error_responses
from hub_core.orchestration import SYNC_JOBS, next_tick, sync_every_minutes
from hub_core.queries.periods import today_in
from hub_core.queries.sync import incomplete_partitions, sync_states
from hub_core.timeutil import utc_now
from hub_core.types import Source, SyncStatus

router = APIRouter(prefix="/sync", tags=["sync"])


class SourceStatus(BaseModel):
    """Where a source's synchronisation stands."""

    source: Source
    status: SyncStatus
    last_sync_at: UTCTime | None
    last_successful_sync: UTCTime | None
    records_synced: int
    next_sync_at: UTCTime
    """The next tick of the source's frequent schedule (when its schedule is running)."""
    error_message: str | None
    last_cursor: dict[str, Any] | None
    run_id: str | None
    partition_key: str | None
    incomplete_partitions: list[str] = []
    """Days whose last sync could not read the day whole (the list kept moving): their data may
    lack rows until the next sync of the day finishes it (extension)."""


class SyncStatusData(BaseModel):
    """Every source's state."""

    sources: list[SourceStatus]


class SyncStatusResponse(BaseModel):
    """Envelope of the sync status."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "data": {
                        "sources": [
                            {
                                "source": "vima",
                                "status": "idle",
                                "last_sync_at": "2026-11-01T10:05:12.000Z",
                                "last_successful_sync": "2026-11-01T10:05:12.000Z",
                                "records_synced": 214,
                                "next_sync_at": "2026-11-01T10:10:00.000Z",
                                "error_message": None,
                                "last_cursor": {"create": "88120", "update": "90211"},
                                "run_id": "5d0f3c1e-7a8b-4c2d-9e10-112233445566",
                                "partition_key": "2026-11-01",
                                "incomplete_partitions": [],
                            }
                        ]
                    }
                }
            ]
        }
    )

    data: SyncStatusData


class TriggerRequest(BaseModel):
    """Which source to sync (null: both), and which day (default: today)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"source": "vima", "date": "2026-11-01"}]}
    )

    source: Source | None = None
    date: dt.date | None = None


class Triggered(BaseModel):
    """The runs launched in Dagster."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "source": "vima",
                    "status": "triggered",
                    "run_ids": ["5d0f3c1e-7a8b-4c2d-9e10-112233445566"],
                    "message": "vima sync of 2026-11-01 launched in Dagster",
                    "date": "2026-11-01",
                    "skipped": [],
                }
            ]
        }
    )

    source: Source | None
    status: Literal["triggered"]
    run_ids: list[str]
    message: str
    date: dt.date
    skipped: list[str]
    """Sources not launched because a sync of theirs is already queued or running."""


class TriggeredResponse(BaseModel):
    """Envelope of a trigger."""

    data: Triggered


@router.get(
    "/status",
    response_model=SyncStatusResponse,
    summary="Sync status",
    description="Each source's last sync, its outcome, the next tick of its schedule, and the "
    "days whose last sync could not read them whole (`incomplete_partitions`).",
    responses=error_responses(),
)
def status(_role: ReaderDep, conn: ConnectionDep, settings: SettingsDep) -> SyncStatusResponse:
    """The state of every source."""
    now = utc_now()
    incomplete = incomplete_partitions(conn)
    sources = [
        SourceStatus(
            **{k: v for k, v in state.items() if k in SourceStatus.model_fields and k != "source"},
            source=source,
            next_sync_at=next_tick(
                now, sync_every_minutes(source, settings), settings.hub_timezone
            ),
            incomplete_partitions=list(incomplete[source]),
        )
        for source, state in sync_states(conn).items()
    ]
    return SyncStatusResponse(data=SyncStatusData(sources=sources))


@router.post(
    "/trigger",
    response_model=TriggeredResponse,
    status_code=202,
    summary="Sync now",
    description="Operator: launch the sync job of a source (or both) for a day in Dagster. "
    "409 when that source already has a sync queued or running (for both sources: when "
    "neither could be launched; a busy one is listed in `skipped`); 503 when Dagster cannot "
    "be reached.",
    responses=error_responses(403, 409, 502),
)
def trigger(
    _role: OperatorDep,
    settings: SettingsDep,
    redis: RedisDep,
    dagster: DagsterDep,
    body: Annotated[TriggerRequest, Body()] = TriggerRequest(),  # noqa: B008
) -> TriggeredResponse:
    """Launch the sync of the requested source(s) for the partition of the day."""
    today = today_in(settings.hub_timezone)
    day = body.date or today
    if day < settings.hub_start_date or day > today:
        raise invalid(
            "date",
            f"a day from {settings.hub_start_date.isoformat()} to {today.isoformat()}",
            day.isoformat(),
            location="body",
        )
    wanted = [body.source] if body.source else list(Source)
    run_ids: list[str] = []
    skipped: list[str] = []
    conflict: APIError | None = None
    for source in wanted:
        try:
            run_ids.append(
                launch_exclusive(
                    dagster,
                    redis,
                    SYNC_JOBS[source],
                    day.isoformat(),
                    busy_tags={},  # any run of the source's job
                    what=f"a {source.value} sync",
                )
            )
        except APIError as exc:
            if exc.status_code != 409:
                raise
            conflict = exc
            skipped.append(source.value)
    if not run_ids and conflict is not None:
        raise conflict
    names = " and ".join(s.value for s in wanted if s.value not in skipped)
    return TriggeredResponse(
        data=Triggered(
            source=body.source,
            status="triggered",
            run_ids=run_ids,
            message=f"{names} sync of {day.isoformat()} launched in Dagster",
            date=day,
            skipped=skipped,
        )
    )
