"""The code location's entry point (`workspace.yaml`, the Docker image, `dg`): the definitions
autoloaded from `defs/`, with the jobs, the sensors and the resources."""

from __future__ import annotations

import gc
import os
from pathlib import Path

from dagster import Definitions, EnvVar, in_process_executor, load_from_defs_folder

from hub_core.logging import configure_logging, get_logger
from hub_core.settings import SOURCE_SETTINGS, get_settings
from hub_pipelines.jobs import reconcile_job, sync_jobs
from hub_pipelines.resources import (
    PayShackResource,
    RedisResource,
    VimaResource,
    WarehouseResource,
)
from hub_pipelines.sensors import (
    finish_incomplete_days,
    reconcile_changed_days,
    sync_state_follows_runs,
)


def _secret(name: str) -> EnvVar | None:
    """`EnvVar(name)` when the variable is set (the Dagster UI shows its name, never its
    value); unset, None: the resource falls back to the hub settings, and a run reaches the
    provider and fails there with a clear error, instead of every schedule tick failing on a
    missing variable."""
    return EnvVar(name) if os.environ.get(name) else None


_settings = get_settings()
configure_logging(_settings.hub_log_level, _settings.hub_log_json)
for _source in SOURCE_SETTINGS:  # that source's runs fail with this line; the rest runs
    if _error := _settings.source_error(_source):
        get_logger(__name__).warning(_error)

defs = Definitions.merge(
    # the project's pyproject.toml ([tool.dg]) names `hub_pipelines.defs`: a checkout or an
    # editable install (the Docker image is one) has it
    load_from_defs_folder(path_within_project=Path(__file__).resolve().parent),
    Definitions(
        # every job here is one or two steps: run them in the run's own process (no process
        # per step to start, and a killed run takes its step with it, locks and all)
        executor=in_process_executor,
        jobs=[*sync_jobs, reconcile_job],
        sensors=[reconcile_changed_days, finish_incomplete_days, sync_state_follows_runs],
        resources={
            "warehouse": WarehouseResource(),
            "redis": RedisResource(),
            "vima": VimaResource(api_key=_secret("VIMA_API_KEY")),
            "payshack": PayShackResource(
                email=_secret("PAYSHACK_EMAIL"),
                password=_secret("PAYSHACK_PASSWORD"),
                session_secret=_secret("HUB_SECRET_KEY"),
            ),
        },
    ),
)
# What the code location loaded (Dagster, the hub, the definitions: ~175,000 tracked objects)
# lives as long as the process. Freezing it keeps it out of every full pass of the cyclic
# garbage collector: those of a long run and, above all, the interpreter's at exit, which
# otherwise walks it all again (~1 s of every `dagster asset materialize` or run worker here,
# issue 14). Reference counting still frees what is dropped; only the few hundred unreachable
# objects pending right now stay (as `hub_sandbox`'s scenario builder does for its rows).
gc.freeze()
