"""`hub sandbox`: serve the Vima and PayShack stand-ins, or write a scenario's ground truth.

    hub sandbox --seed 42 --start 2026-01-01 --days 7 --per-day 2000 \\
        --vima-port 8081 --payshack-port 8082 [--live] [--faults 429:7,500:11] [--token-ttl 1800]
    hub sandbox truth --seed 42 --start 2026-01-01 --days 7 --per-day 2000 --out truth.json

Credentials of the stand-ins come from the hub settings (`VIMA_API_KEY`, `PAYSHACK_EMAIL`,
`PAYSHACK_PASSWORD`), never from the command line.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from hub_sandbox.scenario import Scenario, dumps, generate

app = typer.Typer(
    help="Local stand-ins for Vima and PayShack, serving a seeded scenario.",
    invoke_without_command=True,
)

Seed = Annotated[int, typer.Option(help="Seed of the scenario: same seed, same data.")]


def _parse_day(text: str) -> date:
    """`YYYY-MM-DD` as a date (a usage error otherwise)."""
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"not a YYYY-MM-DD date: {text!r}") from exc


Start = Annotated[
    date,
    typer.Option(parser=_parse_day, metavar="YYYY-MM-DD", help="First UTC day of the scenario."),
]
Days = Annotated[int, typer.Option(min=0, help="Number of days.")]
PerDay = Annotated[int, typer.Option(min=0, help="Vima operations per day (about).")]


def build(seed: int, start: date, days: int, per_day: int) -> Scenario:
    """The scenario the options describe."""
    return generate(seed=seed, start=start, days=days, per_day=per_day)


@app.callback()
def serve(
    ctx: typer.Context,
    seed: Seed = 42,
    start: Start = "2026-01-01",  # type: ignore[assignment]
    days: Days = 7,
    per_day: PerDay = 2000,
    vima_port: Annotated[int, typer.Option(help="Port of the Vima stand-in.")] = 8081,
    payshack_port: Annotated[int, typer.Option(help="Port of the PayShack stand-in.")] = 8082,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    live: Annotated[bool, typer.Option(help="Keep creating new payments as time passes.")] = False,
    faults: Annotated[
        str | None,
        typer.Option(help="Inject faults on every Nth request, e.g. 429:7,500:11,slow:13."),
    ] = None,
    token_ttl: Annotated[
        float, typer.Option(help="Lifetime of PayShack login tokens, seconds.")
    ] = 1800,
) -> None:
    """Serve both stand-ins until stopped (unless a sub-command is given)."""
    if ctx.invoked_subcommand is not None:
        return
    from hub_sandbox.server import serve_forever

    scenario = build(seed, start, days, per_day)
    typer.echo(
        f"scenario seed={seed}: {len(scenario.vima_operations)} Vima operations, "
        f"{len(scenario.payshack_payins)} pay-ins, {len(scenario.payshack_payouts)} pay-outs; "
        f"Vima on http://{host}:{vima_port}, PayShack on http://{host}:{payshack_port}"
    )
    serve_forever(
        scenario,
        vima_port=vima_port,
        payshack_port=payshack_port,
        host=host,
        live=live,
        faults=faults,
        token_ttl=token_ttl,
    )


@app.command()
def truth(
    out: Annotated[Path, typer.Option(help="File to write the truth JSON to.")],
    seed: Seed = 42,
    start: Start = "2026-01-01",  # type: ignore[assignment]
    days: Days = 7,
    per_day: PerDay = 2000,
) -> None:
    """Write the expected reconciliation results of a scenario as JSON.

    Live mode serves today's rows as they are created: today's truth is complete after the day.
    """
    scenario = build(seed, start, days, per_day)
    out.write_bytes(dumps(scenario.truth_document()) + b"\n")
    counts = {day: len(entries) for day, entries in scenario.truth_by_day().items()}
    typer.echo(f"wrote {len(scenario.truth)} results to {out} ({counts})")
