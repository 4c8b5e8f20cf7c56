"""The `hub` command: migrations, the API server, the sandbox providers.

Each command imports the package it runs when it runs (`hub migrate` never imports the
sandbox's scenario, nor the API)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from hub_core.logging import describe_error
from hub_core.settings import get_settings

app = typer.Typer(
    help="Payment Hub command line.", no_args_is_help=True, pretty_exceptions_enable=False
)
_state = {"debug": False}


@app.callback()
def _options(
    debug: Annotated[bool, typer.Option("--debug", help="Show the traceback of an error.")] = False,
) -> None:
    _state["debug"] = debug


def main(argv: list[str] | None = None) -> None:
    """The `hub` entry point: an error is one line on stderr and exit status 1 (the
    traceback only with `--debug`)."""
    args = sys.argv[1:] if argv is None else argv
    _state["debug"] = "--debug" in args
    try:
        app(args=args, prog_name="hub", standalone_mode=False)
    except SystemExit:
        raise
    except BaseException as exc:
        # click's own outcomes (typer may carry its own click): usage errors, exits, aborts
        if type(exc).__name__ in ("Abort", "KeyboardInterrupt"):
            sys.exit(130)
        if hasattr(exc, "exit_code"):
            if hasattr(exc, "show"):
                exc.show()
            sys.exit(exc.exit_code)
        if _state["debug"]:
            raise
        typer.echo(f"hub: {describe_error(exc)} (run with --debug for the traceback)", err=True)
        sys.exit(1)


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


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def sandbox(ctx: typer.Context) -> None:
    """The provider stand-ins (`hub sandbox --help`)."""
    from typer.main import get_command

    from hub_sandbox.cli import app as sandbox_app

    get_command(sandbox_app).main(args=ctx.args, prog_name="hub sandbox", standalone_mode=False)
