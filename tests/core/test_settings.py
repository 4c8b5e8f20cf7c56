"""Settings parsing and the `.env.example` that documents them."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from hub_core.money import currency_exponent, major_to_minor, minor_to_major, to_decimal
from hub_core.settings import Settings, parse_api_keys
from hub_core.timeutil import day_bounds, isoformat_z, parse_utc
from tests.conftest import ROOT


def test_every_setting_is_documented_in_env_example() -> None:
    documented = set(
        re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M)
    )
    fields = {name.upper() for name in Settings.model_fields}
    assert fields <= documented, fields - documented


def test_api_keys_parse_roles() -> None:
    assert parse_api_keys("a:reader, b:operator,c") == {
        "a": "reader",
        "b": "operator",
        "c": "reader",
    }
    with pytest.raises(ValueError, match="entry 1: unknown role 'admin'") as info:
        parse_api_keys("topsecret:admin")
    assert "topsecret" not in str(info.value)


def test_dagster_url_gets_psycopg2_driver() -> None:
    s = Settings(dagster_postgres_url="postgresql://u@h/d")
    assert s.dagster_postgres_url == "postgresql+psycopg2://u@h/d"


def test_client_project_map_from_json_and_bad_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_CLIENT_PROJECT_MAP", '{"A_LTD": "a"}')
    assert Settings().hub_client_project_map == {"A_LTD": "a"}
    monkeypatch.setenv("HUB_CLIENT_PROJECT_MAP", "{not json")
    with pytest.raises(ValueError, match="must be a JSON object"):
        Settings()


def test_secrets_do_not_show_in_repr() -> None:
    s = Settings(vima_api_key="k-SECRET", payshack_password="p-SECRET")
    assert "SECRET" not in repr(s)


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [(150050, "INR", Decimal("1500.50")), (1500, "JPY", Decimal("1500")),
     (1500, "KWD", Decimal("1.500")), ("7", "usd", Decimal("0.07"))],
)  # fmt: skip
def test_minor_to_major(value: int | str, currency: str, expected: Decimal) -> None:
    assert minor_to_major(value, currency) == expected
    assert major_to_minor(expected, currency) == int(value)


def test_money_rejects_garbage() -> None:
    assert currency_exponent("XYZ") == 2
    for bad in ("1.5", "abc", "NaN"):
        with pytest.raises(ValueError):
            minor_to_major(bad, "INR")
    for bad in (None, True, "x", "inf"):
        with pytest.raises(ValueError):
            to_decimal(bad)
    assert to_decimal(0.1) == Decimal("0.1")
    with pytest.raises(ValueError, match="more decimals"):
        major_to_minor(Decimal("1.001"), "INR")


def test_time_helpers() -> None:
    assert isoformat_z(parse_utc("2026-01-15T21:16:46+05:30")) == "2026-01-15T15:46:46.000Z"
    assert parse_utc("2026-01-15T15:46:20.195Z").tzinfo is not None
    assert parse_utc("2026-01-15 15:46:20").utcoffset().total_seconds() == 0
    for bad in ("", "yesterday", None):
        with pytest.raises(ValueError):
            parse_utc(bad)  # type: ignore[arg-type]
    start, end = day_bounds(parse_utc("2026-01-15T00:00:00Z").date(), "Asia/Kolkata")
    assert isoformat_z(start) == "2026-01-14T18:30:00.000Z"
    assert (end - start).total_seconds() == 86400


def _load(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Settings:
    """`get_settings()` with `env` set, its cache cleared before and after."""
    from hub_core.settings import get_settings

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        return get_settings()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


@pytest.mark.parametrize(
    ("env", "named", "expected"),
    [
        ({"HUB_START_DATE": "2999-01-01"}, "HUB_START_DATE", "in the future"),
        ({"HUB_START_DATE": "soon"}, "HUB_START_DATE", "date"),
        ({"DATABASE_URL": "not a url at all"}, "DATABASE_URL", "expected"),
        ({"DATABASE_URL": "mysql://u:pw-SECRET@h/db"}, "DATABASE_URL", "PostgreSQL URL"),
        (
            {"HUB_CLIENT_PROJECT_MAP": "{oops", "HUB_START_DATE": "soon"},
            "HUB_CLIENT_PROJECT_MAP",
            "JSON object",
        ),
    ],
)
def test_bad_settings_are_one_line_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str, expected: str
) -> None:
    from hub_core.settings import SettingsError

    with pytest.raises(SettingsError) as info:
        _load(monkeypatch, env)
    message = str(info.value)
    assert named in message and expected in message
    assert "\n" not in message and "SECRET" not in message


@pytest.mark.parametrize(
    ("env", "broken", "named"),
    [
        ({"HUB_CLIENT_PROJECT_MAP": "{oops"}, "payshack", "HUB_CLIENT_PROJECT_MAP"),
        ({"PAYSHACK_READER": "telepathy"}, "payshack", "PAYSHACK_READER"),
        ({"PAYSHACK_SESSION_TTL_SECONDS": "soon"}, "payshack", "PAYSHACK_SESSION_TTL_SECONDS"),
    ],
)
def test_a_bad_setting_of_one_source_stops_only_that_source(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], broken: str, named: str
) -> None:
    from hub_core.settings import SettingsError

    settings = _load(monkeypatch, env)
    other = next(source for source in ("vima", "payshack") if source != broken)
    assert settings.source_error(other) is None
    settings.require_source(other)
    with pytest.raises(SettingsError) as info:
        settings.require_source(broken)
    message = str(info.value)
    assert named in message and broken in message and "\n" not in message
    assert settings.hub_client_project_map  # the broken setting is at its default meanwhile


def test_hub_command_errors_are_one_line(tmp_path) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    hub = Path(sys.executable).with_name("hub")
    env = {**os.environ, "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/hub"}
    down = subprocess.run([hub, "migrate"], env=env, capture_output=True, text=True, timeout=60)
    assert down.returncode == 1
    lines = down.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hub: OperationalError")
    debug = subprocess.run(
        [hub, "--debug", "migrate"], env=env, capture_output=True, text=True, timeout=60
    )
    assert debug.returncode == 1 and "Traceback" in debug.stderr
    future = {**os.environ, "HUB_START_DATE": "2999-01-01"}
    bad = subprocess.run([hub, "migrate"], env=future, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "HUB_START_DATE" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
