"""The code location loads and validates, in-process and through the Dagster CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dagster import DailyPartitionsDefinition, Definitions

from hub_pipelines.definitions import defs
from hub_pipelines.partitions import daily_partitions
from hub_pipelines.resources import RedisResource, WarehouseResource
from tests.conftest import ROOT


def test_definitions_load_with_resources() -> None:
    Definitions.validate_loadable(defs)
    resources = defs.resources or {}
    assert isinstance(resources["warehouse"], WarehouseResource)
    assert isinstance(resources["redis"], RedisResource)


def test_daily_partitions_start_and_include_today() -> None:
    assert isinstance(daily_partitions, DailyPartitionsDefinition)
    keys = daily_partitions.get_partition_keys()
    assert keys[0] == "2026-01-01"
    from datetime import UTC, datetime

    assert datetime.now(UTC).date().isoformat() in keys


def test_dagster_cli_validates_workspace(dagster_home: Path) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "definitions", "validate", "-w",
         str(ROOT / "workspace.yaml")],
        cwd=ROOT, env={**os.environ, "DAGSTER_HOME": str(dagster_home)},
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Validation successful" in result.stdout + result.stderr


def test_resources_talk_to_real_services(database_url: str, redis_client) -> None:
    from sqlalchemy import text

    warehouse = WarehouseResource()
    with warehouse.begin() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
    assert warehouse.url() == database_url
    redis = RedisResource()
    assert redis.bump_data_version() == 1
    assert redis.bump_data_version() == 2
