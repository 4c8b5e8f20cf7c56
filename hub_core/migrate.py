"""Run the hub's Alembic history programmatically (what `hub migrate` does)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from hub_core.db import ensure_database

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
"""The Alembic scripts (env.py, versions/), shipped inside hub_core as package data: a wheel
and an editable install migrate from the same files."""


def alembic_config(url: str) -> Config:
    """An Alembic config for the hub's history pointed at `url`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation: a literal % in a password must be doubled.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head", create: bool = True) -> None:
    """Upgrade the database at `url` to `revision`, creating the database first if asked."""
    if create:
        ensure_database(url)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    """Downgrade the database at `url` to `revision` (default: drop everything)."""
    command.downgrade(alembic_config(url), revision)
