"""The ``rectify`` command."""

from typing import Annotated

import typer

from app.settings import get_settings

cli = typer.Typer(no_args_is_help=True, help="Rectify: supervision-item rectification engine.")
db_cli = typer.Typer(help="Database schema.")
keys_cli = typer.Typer(help="API keys.")
cli.add_typer(db_cli, name="db")
cli.add_typer(keys_cli, name="keys")


def _setup_logging() -> None:
    from app.logs import configure

    configure(get_settings())


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations (alembic upgrade head)."""
    from app.migrate import upgrade

    upgrade()
    typer.echo("database at head")


@keys_cli.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="admin, supervisor, unit or viewer")],
    name: Annotated[str, typer.Option(help="who the key is for")],
    unit: Annotated[str | None, typer.Option(help="unit code (unit keys)")] = None,
) -> None:
    """Create an API key and print its token (shown only once)."""
    from app.auth.models import ApiKeyCreate, Role
    from app.auth.service import create_key
    from app.db import unit_of_work
    from app.migrate import upgrade

    upgrade()
    with unit_of_work() as session:
        _key, token = create_key(session, ApiKeyCreate(name=name, role=Role(role), unit_code=unit))
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
    """Apply migrations, then serve the API (with the embedded worker unless --no-worker)."""
    import uvicorn

    from app.db import get_engine
    from app.main import create_app, prepare
    from app.migrate import upgrade

    _setup_logging()
    upgrade()
    if demo:
        from app.demo import load_demo

        prepare(get_engine())
        typer.echo(load_demo())
    app = create_app(migrate=False, worker=not no_worker)
    uvicorn.run(app, host=host, port=port, log_level="info")


@cli.command()
def worker() -> None:
    """Run the worker alone: webhook deliveries and deadline scans, until SIGTERM."""
    from app.db import get_engine
    from app.main import prepare
    from app.migrate import upgrade
    from app.worker import run_worker_process

    _setup_logging()
    upgrade()
    prepare(get_engine())
    run_worker_process()


@cli.command()
def tick() -> None:
    """Run one deadline scan now."""
    import json

    from app.db import get_engine
    from app.deadlines.scan import run_scan
    from app.main import prepare
    from app.migrate import upgrade

    upgrade()
    prepare(get_engine())
    typer.echo(json.dumps(run_scan(get_engine())))


@cli.command()
def demo() -> None:
    """Load the demo data into an empty database."""
    from app.db import get_engine
    from app.demo import load_demo
    from app.main import prepare
    from app.migrate import upgrade

    upgrade()
    prepare(get_engine())
    typer.echo(load_demo())


def main() -> None:
    get_settings()
    cli()


if __name__ == "__main__":
    main()
