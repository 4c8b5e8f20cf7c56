"""The `hub` command: migrations, the API server, the sandbox providers.

Commands import the package they run lazily, so `hub_core` depends on none of them.
"""

from __future__ import annotations

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


def _mount_sandbox() -> None:
    """`hub sandbox ...` lives with the sandbox; the import is here, at the command's edge."""
    from hub_sandbox.cli import app as sandbox_app

    app.add_typer(sandbox_app, name="sandbox")


_mount_sandbox()
