"""The `hub` command: migrations, the API server, the sandbox providers.

Commands import the package they run lazily, so `hub_core` depends on none of them.
"""

from __future__ import annotations

import importlib
from typing import Annotated

import typer

from hub_core.settings import get_settings

app = typer.Typer(help="Payment Hub command line.", no_args_is_help=True)


@app.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    dagster: Annotated[bool, typer.Option(help="Also create Dagster's database.")] = True,
) -> None:
    """Create the databases if missing and upgrade the hub tables to `revision`."""
    from hub_core import db
    from hub_core import migrate as migrations

    settings = get_settings()
    migrations.upgrade(settings.database_url, revision)
    if dagster and db.ensure_database(settings.dagster_postgres_url):
        typer.echo("created Dagster's database")
    typer.echo(f"hub tables at revision {revision}")


@app.command()
def downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "base",
) -> None:
    """Downgrade the hub tables to `revision` (`base` drops them all)."""
    from hub_core import migrate as migrations

    migrations.downgrade(get_settings().database_url, revision)
    typer.echo(f"hub tables at revision {revision}")


@app.command()
def api(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    reload: Annotated[bool, typer.Option(help="Reload on code changes.")] = False,
) -> None:
    """Serve the REST API (uvicorn)."""
    import uvicorn

    uvicorn.run("hub_api.main:app", host=host, port=port, reload=reload, log_config=None)


def _register_optional(module: str, name: str) -> None:
    """Mount the sub-command app `module.app` under `name` when that package provides one."""
    try:
        sub = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        return
    app.add_typer(sub.app, name=name)


_register_optional("hub_sandbox.cli", "sandbox")
