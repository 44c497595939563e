"""``rectify db backup DIR`` and ``rectify db restore DIR``.

A backup directory holds ``rectify.db`` (SQLite only: a consistent copy taken
with SQLite's online backup API while the service keeps writing), the evidence
files under ``evidence/`` as they are stored (``<sha[:2]>/<sha>``) and
``manifest.json`` with every file's sha256 and size, written last: a directory
without a manifest is an interrupted backup. The database is copied first:
evidence is written to disk before the transaction that records it commits, so
every file the copied database refers to is already there when the files are
copied next.

On PostgreSQL the database is not copied (use ``pg_dump``; the command says
so) and the evidence is. A restore checks every file against the manifest
before it writes anything, and writes only into an empty deployment.
"""

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from app.preflight import ConfigError
from app.settings import get_settings

MANIFEST = "manifest.json"
HISTORY_KEY = "history.key"
"""The generated key that anchors the history chains (when RECTIFY_HISTORY_KEY is unset):
without it a restored deployment could not tell its histories were not rewritten."""
DATABASE = "rectify.db"
EVIDENCE = "evidence"
FORMAT = 1
CHUNK = 1024 * 1024


def _sqlite_path(url_text: str) -> Path | None:
    url = make_url(url_text)
    if url.get_backend_name() != "sqlite":
        return None
    if not url.database or url.database == ":memory:":
        raise ConfigError("RECTIFY_DATABASE_URL: an in-memory database cannot be backed up.")
    return Path(url.database).absolute()


def _copy(source: Path, target: Path, private: bool = False) -> tuple[str, int]:
    """Copy ``source`` to ``target`` (through a temporary name); its sha256 and size.
    ``private``: readable by its owner only (0600) from its first byte (a key)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    digest, size = hashlib.sha256(), 0
    if private:
        os.close(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        os.chmod(part, 0o600)  # (an earlier .part of another mode)
    with source.open("rb") as src, part.open("wb") as out:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    os.replace(part, target)
    return digest.hexdigest(), size


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _evidence_files(directory: Path) -> Iterator[Path]:
    """The stored evidence files (``<sha[:2]>/<sha>``), not uploads in progress."""
    if not directory.is_dir():
        return
    for sub in sorted(directory.iterdir()):
        if sub.is_dir() and len(sub.name) == 2 and not sub.name.startswith("."):
            for path in sorted(sub.iterdir()):
                if path.is_file() and path.name.startswith(sub.name):
                    yield path


def backup(directory: Path) -> Iterator[str]:
    """Back up into ``directory`` (new or empty); yields what it did, line by line."""
    settings = get_settings()
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise ConfigError(f"{directory}: back up into a new or empty directory.")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / ".write-check").touch()
        (directory / ".write-check").unlink()
    except OSError as exc:
        raise ConfigError(
            f"{directory}: cannot write the backup there ({exc.strerror}); choose a directory "
            "this user may write."
        ) from None
    files: dict[str, dict] = {}
    db_path = _sqlite_path(settings.database_url)
    if db_path is None:
        backend = "postgresql"
        yield (
            "PostgreSQL: this copies the evidence files only; back up the database with "
            "pg_dump (e.g. pg_dump -Fc -f rectify.dump DBNAME) and keep the dump with this backup"
        )
    else:
        backend = "sqlite"
        part = directory / (DATABASE + ".part")
        source = sqlite3.connect(db_path, timeout=30)
        target = sqlite3.connect(part)
        try:
            source.backup(target)  # one step: a consistent snapshot, writers carry on (WAL)
        finally:
            target.close()
            source.close()
        os.replace(part, directory / DATABASE)
        path = directory / DATABASE
        files[DATABASE] = {"sha256": _sha256(path), "size": path.stat().st_size}
        yield f"database: copied {db_path} ({files[DATABASE]['size']} bytes)"
    count = 0
    for path in _evidence_files(settings.evidence_dir):
        relative = f"{EVIDENCE}/{path.parent.name}/{path.name}"
        sha, size = _copy(path, directory / relative)
        files[relative] = {"sha256": sha, "size": size}
        count += 1
        if sha != path.name:
            yield f"warning: evidence file {path} does not match its name (sha256 {sha})"
    yield f"evidence: copied {count} files from {settings.evidence_dir}"
    if settings.history_key is None and settings.key_file.is_file():
        sha, size = _copy(settings.key_file, directory / HISTORY_KEY, private=True)
        files[HISTORY_KEY] = {"sha256": sha, "size": size}
        yield f"history key: copied {settings.key_file} (keep this backup as secret as the key)"
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "database": backend,
        "files": files,
    }
    part = directory / (MANIFEST + ".part")
    part.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(part, directory / MANIFEST)
    yield f"backup complete: {directory / MANIFEST} lists {len(files)} files with their sha256"


def _read_manifest(directory: Path) -> dict:
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{directory}: no {MANIFEST}; not a complete backup made by `rectify db backup`."
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{directory / MANIFEST}: cannot be read ({exc}).") from None
    if manifest.get("format") != FORMAT:
        raise ConfigError(f"{directory / MANIFEST}: unknown backup format.")
    return manifest


def _verify(directory: Path, files: dict[str, dict]) -> None:
    for relative, meta in files.items():
        path = directory / relative
        if not path.is_file() or _sha256(path) != meta["sha256"]:
            raise ConfigError(
                f"{path}: missing or its sha256 differs from the manifest; the backup is damaged."
            )


def _empty_sqlite(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return True
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    finally:
        conn.close()


def restore(directory: Path) -> Iterator[str]:
    """Restore the backup in ``directory`` into an empty deployment; yields what it did."""
    settings = get_settings()
    manifest = _read_manifest(directory)
    files: dict[str, dict] = manifest["files"]
    _verify(directory, files)
    yield f"backup verified: {len(files)} files match their sha256"
    db_path = _sqlite_path(settings.database_url)
    if DATABASE in files:
        if db_path is None:
            raise ConfigError(
                "RECTIFY_DATABASE_URL: this backup holds a SQLite database; point "
                "RECTIFY_DATABASE_URL at a new SQLite file to restore it."
            )
        if not _empty_sqlite(db_path):
            raise ConfigError(
                f"RECTIFY_DATABASE_URL: {db_path} already holds data; restore into an empty "
                "deployment (move the database away first)."
            )
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
        _copy(directory / DATABASE, db_path)
        yield f"database: restored to {db_path}"
    elif manifest.get("database") == "postgresql":
        yield (
            "PostgreSQL: restore the database from its pg_dump (pg_restore -d DBNAME "
            "rectify.dump); this restores the evidence files"
        )
    count = 0
    for relative in files:
        if relative.startswith(EVIDENCE + "/"):
            target = settings.evidence_dir / relative.removeprefix(EVIDENCE + "/")
            if not target.exists():  # content-addressed: an existing file is the same
                _copy(directory / relative, target)
            count += 1
    yield f"evidence: restored {count} files into {settings.evidence_dir}"
    if HISTORY_KEY in files and settings.history_key is None:
        target = settings.key_file  # an empty deployment's own key anchors nothing
        _copy(directory / HISTORY_KEY, target, private=True)
        yield f"history key: restored to {target}"
