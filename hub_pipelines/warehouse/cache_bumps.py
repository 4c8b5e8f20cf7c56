"""Data-version bumps that could not reach Redis, remembered in the warehouse so the next run
catches up (`missed_cache_bumps`)."""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert

from hub_core.cache import DATA_VERSION_KEY
from hub_core.tables import missed_cache_bumps
from hub_core.timeutil import utc_now


def has_missed_bump(engine: Engine) -> bool:
    """Whether a data-version bump could not reach Redis since the last one that did."""
    with engine.connect() as conn:
        return conn.execute(select(missed_cache_bumps.c.key).limit(1)).first() is not None


def record_missed_bump(engine: Engine) -> None:
    """Remember that a data-version bump did not reach Redis."""
    stmt = insert(missed_cache_bumps).values(key=DATA_VERSION_KEY, since=utc_now())
    with engine.begin() as conn:
        conn.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))


def clear_missed_bump(engine: Engine) -> None:
    """Forget missed bumps: Redis has just taken one."""
    with engine.begin() as conn:
        conn.execute(missed_cache_bumps.delete())
