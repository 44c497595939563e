"""The secret that anchors every item's history chain.

The hash chain shows any change to an entry but not a rewrite of the newest
entry together with the item's stored head: whoever can write the database can
recompute both. So the item row also carries ``history_mac``, an HMAC-SHA256
keyed with ``RECTIFY_HISTORY_KEY`` over (item id, head seq, head hash), and
verification recomputes it. Without the key the head cannot be moved unseen.

When ``RECTIFY_HISTORY_KEY`` is unset, the key is read from
``RECTIFY_HISTORY_KEY_FILE`` (default ``history.key`` beside the evidence
directory), created there with 256 random bits the first time, with a warning
to back it up: without it, every item's history verifies as broken.
"""

import hashlib
import hmac
import logging
import os
import secrets
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from app.settings import get_settings

log = logging.getLogger("rectify.history")


def head_mac(key: bytes, item_id: int, seq: int, head_hash: str) -> str:
    return hmac.new(key, f"{item_id}:{seq}:{head_hash}".encode(), hashlib.sha256).hexdigest()


def head_macs(key: bytes) -> Callable[[int, int, str], str]:
    """``head_mac`` under ``key`` for many heads (a scan's batch): the keyed state is
    made once and copied per head, not derived from the key each time."""
    keyed = hmac.new(key, digestmod=hashlib.sha256)

    def mac(item_id: int, seq: int, head_hash: str) -> str:
        one = keyed.copy()
        one.update(f"{item_id}:{seq}:{head_hash}".encode())
        return one.hexdigest()

    return mac


def history_key() -> bytes:
    """The key from the settings, or from its file (created on first use)."""
    settings = get_settings()
    if settings.history_key:
        return settings.history_key.encode()
    return _key_from_file(_key_path(settings.history_key_file, settings.evidence_dir, os.getcwd()))


@lru_cache(maxsize=8)
def _key_path(key_file: Path | None, evidence_dir: Path, cwd: str) -> str:
    """``Settings.key_file``, resolved once per directory (a relative evidence directory
    is relative to ``cwd``): every history append asks for the key, and resolving the
    path each time cost a fifth of a bulk import's CPU."""
    return str(key_file or (Path(cwd) / evidence_dir).resolve().parent / "history.key")


@lru_cache(maxsize=8)
def _key_from_file(path: str) -> bytes:
    file = Path(path)
    try:
        text = file.read_text().strip()
    except FileNotFoundError:
        text = _create(file)
    if len(text) < 32:
        raise RuntimeError(f"{file} holds no usable history key (set RECTIFY_HISTORY_KEY).")
    return text.encode()


def _create(file: Path) -> str:
    file.parent.mkdir(parents=True, exist_ok=True)
    text = secrets.token_hex(32)
    try:
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process is creating it
        for _ in range(100):
            if text := file.read_text().strip():
                return text
            time.sleep(0.05)
        return ""
    with os.fdopen(fd, "w") as out:
        out.write(text + "\n")
    log.warning(
        "created the history key %s (RECTIFY_HISTORY_KEY unset): back it up, apart from the "
        "database; without it every item's history verifies as broken",
        file,
    )
    return text
