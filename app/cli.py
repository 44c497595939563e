"""The ``rectify`` command.

Every command checks the configuration first (``app.preflight``): a bad setting
or bad input ends in one line on stderr and exit status 2, never a traceback.
"""

import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from app.preflight import ConfigError

cli = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Rectify: supervision-item rectification engine.",
)
db_cli = typer.Typer(help="Database schema, backup and restore.")
keys_cli = typer.Typer(help="API keys.")
cli.add_typer(db_cli, name="db")
cli.add_typer(keys_cli, name="keys")

_RUN = {"log": False}
"""Set by ``main``: the process is the command, so it owns the logging set-up (not
when a test invokes ``cli`` in its own process)."""
GRACEFUL_SHUTDOWN_S = 30
"""How long SIGTERM waits for in-flight requests before closing their connections."""


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("rectify")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"rectify {version()}")
        raise typer.Exit()


@cli.callback()
def _root(
    _version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Rectify: supervision-item rectification engine."""


def _start(*, evidence: bool = True, prepare: bool = True):
    """Check the configuration, set up logging, migrate and (``prepare``) load the
    workflows and the bootstrap key; the engine."""
    from app import preflight
    from app.db import get_engine
    from app.logs import configure

    settings = preflight.check_config(evidence=evidence)
    if _RUN["log"]:
        configure(settings)
    preflight.migrate()
    engine = get_engine()
    if prepare:
        preflight.check_history_key()
        preflight.prepare(engine)
    return engine


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations (alembic upgrade head)."""
    _start(evidence=False, prepare=False)
    typer.echo("database at head")


@db_cli.command("backup")
def db_backup(directory: Annotated[Path, typer.Argument(help="a new or empty directory")]) -> None:
    """Copy the database (SQLite; PostgreSQL: use pg_dump) and the evidence into DIRECTORY,
    with a manifest of their sha256."""
    from app.backup import backup

    _start(prepare=False)
    for line in backup(directory):
        typer.echo(line)


@db_cli.command("restore")
def db_restore(directory: Annotated[Path, typer.Argument(help="a backup directory")]) -> None:
    """Restore a backup made by `rectify db backup` into an empty deployment."""
    from app import preflight
    from app.backup import restore
    from app.logs import configure

    settings = preflight.check_config()
    if _RUN["log"]:
        configure(settings)
    for line in restore(directory):
        typer.echo(line)


KEY_OPTIONS = {"name": "--name", "role": "--role", "unit_code": "--unit"}


@keys_cli.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="admin, supervisor, unit or viewer")],
    name: Annotated[str, typer.Option(help="who the key is for")],
    unit: Annotated[str | None, typer.Option(help="unit code (unit keys)")] = None,
) -> None:
    """Create an API key and print its token (shown only once)."""
    from pydantic import ValidationError

    from app.auth.models import ApiKeyCreate, Role
    from app.auth.service import create_key
    from app.db import unit_of_work
    from app.errors import ProblemError
    from app.guard import control_fields

    roles = ", ".join(r.value for r in Role)
    if role not in {r.value for r in Role}:
        raise ConfigError(f"--role {role!r} is not a role; use one of {roles}.")
    for field in control_fields({"name": name, "unit_code": unit}):
        # as the API refuses them (app.guard)
        raise ConfigError(f"{KEY_OPTIONS[field]}: must not contain control characters.")
    try:
        data = ApiKeyCreate(name=name, role=Role(role), unit_code=unit)
    except ValidationError as exc:
        err = exc.errors()[0]
        option = KEY_OPTIONS.get(str(err["loc"][0]), str(err["loc"][0]))
        raise ConfigError(f"{option}: {err['msg']}.") from None
    engine = _start(evidence=False)
    try:
        with unit_of_work(engine=engine) as session:
            _key, token = create_key(session, data)
    except ProblemError as exc:
        fields = [e["field"] for e in exc.extensions.get("errors", [])]
        option = KEY_OPTIONS.get(fields[0], fields[0]) if fields else "rectify keys create"
        raise ConfigError(f"{option}: {exc.detail}") from None
    typer.echo(token)


@cli.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="API only")] = False,
    demo: Annotated[
        bool, typer.Option("--demo", help="load demo data into an empty database")
    ] = False,
) -> None:
    """Apply migrations, then serve the API (with the embedded worker unless --no-worker).

    SIGTERM stops it gracefully: in-flight requests and the worker's current round
    finish, then it exits 0."""
    from app.preflight import check_listen

    engine = _start()  # first: a misconfiguration is said before the server is imported
    check_listen(host, port)  # before the demo's load, not as uvicorn's lines after it

    import uvicorn

    from app.main import create_app
    from app.preflight import warn_without_admin
    from app.serving import GuardedHttp

    if demo:
        from app.demo import load_demo

        typer.echo(load_demo(engine))
    warn_without_admin(engine)
    app = create_app(engine, migrate=False, worker=not no_worker)
    # uvicorn re-raises the signal it handled once it has shut down: then exit 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: sys.exit(0))
    uvicorn.run(
        app,
        http=GuardedHttp,
        host=host,
        port=port,
        log_config=None,
        log_level=None,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )


@cli.command()
def worker() -> None:
    """Run the worker alone: webhook deliveries and deadline scans, until SIGTERM."""
    engine = _start(evidence=False)

    from app.worker import run_worker_process

    run_worker_process(engine)


@cli.command()
def tick() -> None:
    """Run one deadline scan now."""
    engine = _start(evidence=False)

    import json

    from app.deadlines.scan import run_scan

    typer.echo(json.dumps(run_scan(engine)))


calendar_cli = typer.Typer(help="The working calendar.")
cli.add_typer(calendar_cli, name="calendar")


@calendar_cli.command("load")
def calendar_load(
    file: Annotated[Path, typer.Argument(help="YAML: year, holidays [{from, to, name}], workdays")],
) -> None:
    """Load a year's official schedule (放假调休) from a file, as PUT /calendar/years/{year}."""
    import yaml
    from pydantic import ValidationError

    from app.db import unit_of_work
    from app.deadlines.years import YearSchedule, replace_year
    from app.errors import ProblemError

    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        year = int(raw.pop("year"))
        schedule = YearSchedule.model_validate(raw)
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError, ValidationError) as exc:
        _fail(
            f"{file}: not a year's schedule ({type(exc).__name__}: {exc}); "
            "give year, holidays [{from, to, name}] and workdays"
        )
    engine = _start(evidence=False)
    try:
        with unit_of_work(engine=engine) as session:
            loaded = replace_year(session, year, schedule)
    except ProblemError as exc:
        _fail(f"{file}: {exc.detail}")
    typer.echo(
        f"{year}: {len(loaded.holidays)} holiday ranges, {len(loaded.workdays)} make-up workdays"
    )


@cli.command()
def demo() -> None:
    """Load the demo data into an empty database."""
    from app.demo import load_demo

    typer.echo(load_demo(_start()))


def _fail(message: str, status: int = 2) -> None:
    typer.echo(f"rectify: {message}", err=True)
    sys.exit(status)


def _click_exceptions():
    """Click's exception module(s): recent typer versions vendor their own click."""
    import click.exceptions

    modules = [click.exceptions]
    try:
        from typer._click import exceptions as vendored

        modules.append(vendored)
    except ImportError:
        pass
    return modules


def _classes(name: str) -> Any:
    """The exception class ``name`` from each of click's modules (caught as any of them)."""
    return tuple(getattr(m, name) for m in _click_exceptions() if hasattr(m, name))


def main() -> None:
    _RUN["log"] = True
    try:
        status = cli(standalone_mode=False)
    except ConfigError as exc:
        _fail(str(exc))
    except _classes("NoArgsIsHelpError") as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except _classes("UsageError") as exc:
        command = exc.ctx.command_path if exc.ctx else "rectify"
        typer.echo(f"{command}: {exc.format_message()} (see {command} --help)", err=True)
        sys.exit(exc.exit_code)
    except _classes("ClickException") as exc:
        _fail(exc.format_message(), exc.exit_code)
    except _classes("Abort"):
        _fail("aborted", 1)
    sys.exit(status if isinstance(status, int) else 0)


if __name__ == "__main__":
    main()
