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
from tests.conftest import DAGSTER_CWD, ROOT


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
        cwd=DAGSTER_CWD, env={**os.environ, "DAGSTER_HOME": str(dagster_home)},
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


_ONE_SOURCE_BROKEN = """
from datetime import UTC, datetime
from dagster import build_schedule_context, instance_for_test
from hub_core.settings import SettingsError
from hub_pipelines.definitions import defs
from hub_pipelines.resources import PayShackResource, VimaResource
from hub_pipelines.defs.payshack.schedules import payshack_schedules
from hub_pipelines.defs.vima.schedules import vima_schedules

assert defs.assets
now = datetime.now(UTC)
with instance_for_test() as instance:
    for schedule in (vima_schedules[0], payshack_schedules[0]):
        name = schedule.name
        result = schedule(build_schedule_context(instance=instance, scheduled_execution_time=now))
        skip = getattr(result, "skip_message", None)
        print(name, "skip:", skip, "runs:", 0 if skip else len(result))
VimaResource().client().close()
try:
    PayShackResource().effective_reader()
except SettingsError as exc:
    print("payshack refused:", exc)
"""


def test_a_bad_payshack_setting_leaves_vima_running() -> None:
    env = {**os.environ, "HUB_CLIENT_PROJECT_MAP": "{not json", "HUB_LOG_JSON": "false"}
    result = subprocess.run(
        [sys.executable, "-c", _ONE_SOURCE_BROKEN],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "vima_every_5_minutes skip: None runs: " in out
    assert "payshack_every_10_minutes skip: payshack cannot run" in out
    assert "payshack refused: payshack cannot run, invalid settings: HUB_CLIENT_PROJECT_MAP" in out
    assert "HUB_CLIENT_PROJECT_MAP" in result.stdout + result.stderr  # the load-time warning
    assert "Traceback" not in result.stderr


# What every Dagster process pays to load the code location (issue 14): modules that only one
# source's runs use are imported by those runs, not with the definitions.
_RUN_ONLY_MODULES = (
    "playwright",  # the PayShack browser's Chromium driver
    "cryptography.fernet",  # the PayShack session store
    "hub_pipelines.sources.payshack.browser",
    "hub_pipelines.sources.vima.client",  # httpx, tenacity
)
_LOADED = """
import gc, json, sys
import hub_pipelines.definitions
print(json.dumps({"modules": sorted(sys.modules), "frozen": gc.get_freeze_count()}))
"""


def test_loading_the_code_location_imports_no_run_only_module() -> None:
    import json

    result = subprocess.run(
        [sys.executable, "-c", _LOADED],
        cwd=DAGSTER_CWD, env=os.environ.copy(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    modules = set(loaded["modules"])
    assert not [name for name in _RUN_ONLY_MODULES if name in modules]
    # what the load created is kept out of the collector's full passes (and of the exit's)
    assert loaded["frozen"] > 100_000


def test_the_payshack_resource_builds_its_browser_on_demand() -> None:
    from hub_pipelines.resources import PayShackResource
    from hub_pipelines.sources.payshack.browser import PayShackBrowser

    resource = PayShackResource(email="ops@example.test", password="pw", session_secret="key")
    browser = resource.browser(redis_client=None)  # type: ignore[arg-type] (no session read)
    assert isinstance(browser, PayShackBrowser)
    assert browser.config.email == "ops@example.test"
