"""Settings of the hub, read once from the environment and `.env` (pydantic-settings).

Every configurable value of the hub lives here, in one place; the pipelines and the API read
`get_settings()`. Secrets are `SecretStr`, so they never print in a repr, a log or an error.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, PrivateAttr, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Role = Literal["reader", "operator"]

SOURCE_SETTINGS: dict[str, frozenset[str]] = {
    "vima": frozenset({"vima_base_url", "vima_api_key", "vima_basic_user"}),
    "payshack": frozenset(
        {
            "payshack_base_url",
            "payshack_email",
            "payshack_password",
            "payshack_reader",
            "payshack_session_ttl_seconds",
            "hub_client_project_map",
            "hub_chromium_path",
        }
    ),
}
"""The settings only one source uses: when one of them is malformed, the rest of the hub (the
other source, the API, the code location) still loads, and only that source refuses to run."""


class Settings(BaseSettings):
    """All hub settings; environment variable names are the field names in upper case."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)
    _source_errors: dict[str, str] = PrivateAttr(default_factory=dict)

    database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/hub"
    redis_url: str = "redis://127.0.0.1:6379/0"
    dagster_postgres_url: str = "postgresql+psycopg2://postgres@127.0.0.1:5432/hub_dagster"
    dagster_graphql_url: str = "http://127.0.0.1:3000/graphql"

    vima_base_url: str = "http://127.0.0.1:8081"
    vima_api_key: SecretStr = SecretStr("")
    vima_basic_user: str = ""

    payshack_base_url: str = "http://127.0.0.1:8082"
    payshack_email: str = ""
    payshack_password: SecretStr = SecretStr("")
    payshack_reader: Literal["api", "dom"] = "api"
    payshack_session_ttl_seconds: int = 1500

    hub_timezone: str = "UTC"
    hub_start_date: date = date(2026, 1, 1)
    hub_chromium_path: str | None = None
    hub_secret_key: SecretStr = SecretStr("")
    hub_api_keys: SecretStr = SecretStr("")
    hub_api_rate_limit_per_minute: int = Field(default=600, ge=0)
    hub_client_project_map: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=lambda: {"91G_TECH_PVT_LTD": "91game", "CRSL_GAMING_LLP": "caroussel"}
    )
    hub_vima_sync_every_minutes: int = Field(default=5, ge=1, le=60)
    hub_payshack_sync_every_minutes: int = Field(default=10, ge=1, le=60)
    hub_recon_day_margin_hours: float = Field(default=6, ge=0, le=48)
    hub_recon_fallback_minutes: float = Field(default=10, gt=0, le=1440)
    hub_recon_amount_tolerance: Decimal = Field(default=Decimal("0.01"), ge=0)
    hub_recon_min_match_rate: float = Field(default=0.9, ge=0, le=1)
    hub_artifacts_dir: str = ".hub/artifacts"
    hub_log_level: str = "INFO"
    hub_log_json: bool = True

    @field_validator("hub_client_project_map", mode="before")
    @classmethod
    def _parse_map(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f'must be a JSON object, e.g. {{"91G_TECH_PVT_LTD": "91game"}}: {exc.msg}'
                ) from None
            return parsed
        return value

    @field_validator("hub_start_date")
    @classmethod
    def _start_not_in_future(cls, value: date) -> date:
        if value > date.today():
            raise ValueError(
                f"{value.isoformat()} is in the future: the first daily partition must be "
                "today or earlier (YYYY-MM-DD)"
            )
        return value

    @field_validator("database_url", "dagster_postgres_url", mode="before")
    @classmethod
    def _is_database_url(cls, value: object) -> object:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(str(value))
        except (ArgumentError, ValueError):
            # never echo the value: it may hold a password
            raise ValueError(
                "not a database URL; expected e.g. postgresql+psycopg://user@host:5432/hub"
            ) from None
        if not url.drivername.startswith("postgresql") or not url.database:
            raise ValueError(
                "expected a PostgreSQL URL naming a database, e.g. "
                "postgresql+psycopg://user@host:5432/hub"
            )
        return value

    @field_validator("dagster_postgres_url")
    @classmethod
    def _dagster_url_uses_psycopg2(cls, value: str) -> str:
        # dagster-postgres issues `NOTIFY run_events, $1`, which psycopg 3 rejects; SQLAlchemy 2.1
        # maps a bare `postgresql://` to psycopg 3, so the driver must be named.
        if value.startswith(("postgresql://", "postgres://")):
            return "postgresql+psycopg2://" + value.split("://", 1)[1]
        return value

    def source_error(self, source: str) -> str | None:
        """Why `source` cannot run (one line naming its malformed settings), or None."""
        return self._source_errors.get(source)

    def require_source(self, source: str) -> None:
        """Raise `SettingsError` when a setting of `source` is malformed."""
        if error := self.source_error(source):
            raise SettingsError(error)

    def api_key_roles(self) -> dict[str, Role]:
        """Parse `HUB_API_KEYS` (`key1:reader,key2:operator`) into a key -> role map."""
        return parse_api_keys(self.hub_api_keys.get_secret_value())


def parse_api_keys(spec: str) -> dict[str, Role]:
    """Parse `key1:reader,key2:operator`; a key without a role is a reader.

    Raises `ValueError` (naming the position, never the key) for an unknown role.
    """
    keys: dict[str, Role] = {}
    for index, item in enumerate(filter(None, (part.strip() for part in spec.split(","))), 1):
        key, _, role = item.partition(":")
        role = role.strip() or "reader"
        if role not in ("reader", "operator"):
            raise ValueError(f"HUB_API_KEYS entry {index}: unknown role {role!r}")
        keys[key.strip()] = role  # type: ignore[assignment]
    return keys


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it and the expected form."""


def explain(exc: ValidationError) -> str:
    """One line per invalid setting: its environment variable and what is expected (never the
    value, which may be a secret)."""
    parts = []
    for error in exc.errors():
        name = str(error["loc"][0]).upper() if error.get("loc") else "setting"
        reason = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{name}: {reason}")
    return "invalid settings: " + "; ".join(parts)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests call `get_settings.cache_clear()`).

    Raises `SettingsError` with one line naming each invalid setting, unless every invalid
    setting belongs to one source (`SOURCE_SETTINGS`): then the settings load with those at
    their defaults, and that source's `require_source` raises the line instead.
    """
    try:
        return Settings()
    except ValidationError as exc:
        return _without_broken_sources(exc)


def _source_of(setting: str) -> str | None:
    return next((src for src, names in SOURCE_SETTINGS.items() if setting in names), None)


def _without_broken_sources(exc: ValidationError) -> Settings:
    """Settings with the malformed settings of a source at their defaults, that source marked
    unable to run; `SettingsError` when a shared setting is malformed."""
    by_source: dict[str, list[str]] = {}
    broken: set[str] = set()
    for error in exc.errors():
        name = str(error["loc"][0]) if error.get("loc") else ""
        source = _source_of(name)
        if source is None:
            raise SettingsError(explain(exc)) from None
        broken.add(name)
        reason = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        by_source.setdefault(source, []).append(f"{name.upper()}: {reason}")
    defaults = {
        name: Settings.model_fields[name].get_default(call_default_factory=True) for name in broken
    }
    settings = Settings(**defaults)
    settings._source_errors = {
        source: f"{source} cannot run, invalid settings: " + "; ".join(reasons)
        for source, reasons in by_source.items()
    }
    return settings
