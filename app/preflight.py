"""Start-up checks: a misconfiguration becomes one line naming the setting and the fix.

The CLI runs these before it migrates or serves anything and turns a
``ConfigError`` into that line on stderr and exit status 2 (``app.cli.main``);
``/readyz`` reuses ``directory_problem`` for the evidence directory.
"""

import logging
import os
import re
import socket
import tempfile
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import NullPool
from sqlmodel import col

from app.settings import Settings, get_settings

log = logging.getLogger("rectify")
DB = "RECTIFY_DATABASE_URL"
URL_EXAMPLE = "sqlite:///./rectify.db or postgresql+psycopg://USER:PASSWORD@HOST:5432/DBNAME"
CONNECT_TIMEOUT_S = 10


class ConfigError(Exception):
    """A misconfiguration or bad command input, said in one line with its fix."""


def one_line(message: object) -> str:
    """``message`` on one line: its lines joined, pydantic's documentation links and
    input echoes dropped."""
    text_ = re.sub(r"\s*\[type=[^\]]*\]", "", str(message))
    lines = [ln.strip() for ln in text_.splitlines()]
    return "; ".join(
        ln for ln in lines if ln and ln != "^" and not ln.startswith("For further information")
    )


def settings() -> Settings:
    """The settings, or a ConfigError naming the first bad ``RECTIFY_*`` variable."""
    try:
        return get_settings()
    except ValidationError as exc:
        err = exc.errors()[0]
        name = "RECTIFY_" + "_".join(str(part) for part in err["loc"]).upper()
        reason = err["msg"].removeprefix("Value error, ")
        raise ConfigError(
            f"{name}={err.get('input')!r} is invalid: {reason}. "
            "Fix or unset it (README, Commands and settings)."
        ) from None


def directory_problem(directory: Path) -> str | None:
    """Why files cannot be written in ``directory`` (created if missing), or None."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".write-check-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def check_writable_dir(directory: Path, setting: str) -> None:
    problem = directory_problem(directory)
    if problem:
        raise ConfigError(
            f"{setting}={directory}: cannot write there ({problem}); create the directory "
            f"and give the service's user write access (chown), or point {setting} elsewhere."
        )


def _shown(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def check_database(url_text: str) -> None:
    """The URL parses, its driver is installed, the database is reachable and usable."""
    try:
        url = make_url(url_text)
    except ArgumentError:
        raise ConfigError(f"{DB}={url_text!r} is not a database URL; use {URL_EXAMPLE}.") from None
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(f"{DB}: {backend!r} databases are not supported; use {URL_EXAMPLE}.")
    try:
        url.get_dialect().import_dbapi()
    except (ImportError, NoSuchModuleError):
        driver = url.get_driver_name()
        fix = (
            "install it with pip install 'psycopg[binary]'"
            if driver == "psycopg"
            else "write the URL as postgresql+psycopg://... (psycopg comes with rectify)"
        )
        raise ConfigError(
            f"{DB}: the database driver {driver!r} is not installed; {fix}."
        ) from None
    if backend == "sqlite":
        _check_sqlite_directory(url)
    _check_connection(url)


def _check_sqlite_directory(url: URL) -> None:
    if not url.database or url.database == ":memory:":
        return
    path = Path(url.database).absolute()
    problem = directory_problem(path.parent)
    if problem is None and path.exists() and not os.access(path, os.R_OK | os.W_OK):
        problem = "the database file is not readable and writable"
    if problem:
        raise ConfigError(
            f"{DB}: cannot write the SQLite database {path} ({problem}); give the service's "
            f"user write access to {path.parent} (chown), or point {DB} elsewhere."
        )


def _check_connection(url: URL) -> None:
    args = {"connect_timeout": CONNECT_TIMEOUT_S} if url.get_backend_name() == "postgresql" else {}
    engine = create_engine(url, poolclass=NullPool, connect_args=args)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            if url.get_backend_name() == "sqlite":
                conn.execute(text("SELECT count(*) FROM sqlite_master"))
    except DBAPIError as exc:
        reason = one_line(exc.orig)
        if "does not exist" in reason and url.database:
            fix = f"create it (createdb {url.database}) or fix the name in {DB}"
        elif "password" in reason or "authentication" in reason:
            fix = f"fix the user or password in {DB}"
        elif url.get_backend_name() == "sqlite":
            fix = f"point {DB} at a Rectify SQLite database or a new file"
        else:
            fix = f"check that PostgreSQL runs at {url.host or 'localhost'}:{url.port or 5432}"
        raise ConfigError(
            f"{DB}={_shown(url)}: cannot use the database ({reason}); {fix}."
        ) from None
    except SQLAlchemyError as exc:
        raise ConfigError(f"{DB}={_shown(url)}: {one_line(exc)}") from None
    finally:
        engine.dispose()


def check_config(*, evidence: bool = True) -> Settings:
    """Everything a command needs before it touches the schema."""
    found = settings()
    _check_sign_in(found)
    check_database(found.database_url)
    if evidence:
        check_writable_dir(found.evidence_dir, "RECTIFY_EVIDENCE_DIR")
    return found


_ORIGIN = re.compile(r"https?://(\[[0-9A-Fa-f:.]+\]|[^/\s:@\[\]]+)(:\d{1,5})?")


def _check_sign_in(found: Settings) -> None:
    """Browser settings that would otherwise fail only when a browser comes: an issuer
    without its audience (every signed-in person 503), an origin no browser sends."""
    if found.oidc_issuer and not found.oidc_audience:
        raise ConfigError(
            "RECTIFY_OIDC_AUDIENCE: must be set beside RECTIFY_OIDC_ISSUER, to the audience "
            "the provider writes into its access tokens (often the front end's client id)."
        )
    for origin in sorted(found.cors_origin_list):
        if not _ORIGIN.fullmatch(origin):
            raise ConfigError(
                f"RECTIFY_CORS_ORIGINS: {origin!r} is not an origin; list each front end's "
                "scheme://host[:port], comma-separated (e.g. https://rectify.example.gov.cn); "
                "'*' is not allowed."
            )


def check_listen(host: str, port: int) -> None:
    """``serve``'s address can be listened on: a port of 1..65535 (uvicorn takes 99999
    modulo 65536 and listens elsewhere than it says) that nothing else holds. Said
    before the demo loads, not as uvicorn's log lines after it."""
    if not 1 <= port <= 65535:
        raise ConfigError(f"--port {port}: a TCP port is 1..65535.")
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM
        )[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind(address)
    except OSError as exc:
        raise ConfigError(
            f"--host {host} --port {port}: cannot listen there ({exc.strerror or exc}); "
            "stop what holds the port or choose another with --port."
        ) from None


def check_history_key() -> None:
    """The history key can be read, or its file created (``app.items.anchor``): a
    missing permission found at start, not at the first change of an item."""
    from app.items.anchor import history_key

    key_file = settings().key_file
    try:
        history_key()
    except OSError as exc:
        raise ConfigError(
            f"RECTIFY_HISTORY_KEY_FILE: cannot read or create {key_file} ({exc.strerror}); "
            "make its directory writable by the service's user, point RECTIFY_HISTORY_KEY_FILE "
            "at a file it may create, or set RECTIFY_HISTORY_KEY."
        ) from None
    except RuntimeError:
        raise ConfigError(
            f"RECTIFY_HISTORY_KEY_FILE: {key_file} holds no usable history key (at least 32 "
            "characters); restore the deployment's key file, or set RECTIFY_HISTORY_KEY."
        ) from None


def migrate() -> None:
    """Migrate to head, a failure said in one line."""
    from alembic.util import CommandError

    from app.migrate import upgrade

    try:
        upgrade()
    except CommandError as exc:
        raise ConfigError(
            f"{DB}: the database's schema cannot be migrated ({one_line(exc)}); is it a "
            "database of a newer Rectify?"
        ) from None


def prepare(engine: Engine) -> None:
    """``app.main.prepare`` (workflows, bootstrap key), an invalid workflow file in one line."""
    from app.main import prepare as prepare_app
    from app.workflow.definition import WorkflowError

    try:
        prepare_app(engine)
    except WorkflowError as exc:
        raise ConfigError(f"RECTIFY_WORKFLOWS_DIR: {one_line(exc)}. {exc.fix}") from None


def warn_without_admin(engine: Engine) -> None:
    """One warning line when no admin key exists, saying how to create one."""
    from app.auth.models import ApiKey, Role
    from app.db import unit_of_work

    with unit_of_work(write=False, engine=engine) as session:
        admin = session.scalar(
            select(col(ApiKey.id)).where(
                col(ApiKey.role) == Role.admin.value, col(ApiKey.revoked_at).is_(None)
            )
        )
    if admin is None:
        log.warning(
            "no admin API key exists: create one with `rectify keys create --role admin "
            "--name NAME` (prints its token once), or set RECTIFY_BOOTSTRAP_ADMIN_TOKEN"
        )
