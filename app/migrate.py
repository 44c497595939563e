"""Alembic, driven from code: the only way the schema changes."""

from functools import lru_cache

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from app.locks import MIGRATION_LOCK
from app.settings import PACKAGE_DIR, get_settings

MIGRATIONS_DIR = PACKAGE_DIR / "migrations"


def alembic_config(url: str | None = None) -> Config:
    """Alembic's configuration from code: the migrations ship inside the package, so
    this works from an installed wheel as from the source tree (the top-level
    ``alembic.ini`` is for developers running ``alembic`` by hand)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["database_url"] = url or get_settings().database_url
    return cfg


def upgrade(url: str | None = None) -> None:
    """Migrate to head. On PostgreSQL under a session advisory lock, so processes
    starting at once on a fresh database take turns: the first migrates, the
    others find the schema at head. (SQLite's migrations take its write lock.)"""
    cfg = alembic_config(url)
    engine = create_engine(cfg.attributes["database_url"], poolclass=NullPool)
    try:
        with engine.connect() as conn:
            locked = conn.dialect.name == "postgresql"
            if locked:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK})
                conn.commit()  # the lock is the session's: it outlives this transaction
            try:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
                conn.commit()  # in case alembic ran inside a transaction it did not begin
            finally:
                conn.rollback()
                if locked:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK})
                    conn.commit()
    finally:
        engine.dispose()


@lru_cache
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
