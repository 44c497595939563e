"""Evidence files (佐证材料): content-addressed on disk, recorded in history.

Files are stored as ``<evidence_dir>/<sha[:2]>/<sha>``: the same bytes are
kept once, and a file written by a transaction that later rolls back is
harmless (nothing refers to it).
"""

import hashlib
import logging
import os
import re
import tempfile
import unicodedata
from pathlib import Path

from fastapi import UploadFile
from sqlmodel import Session

from app.auth.models import Role
from app.auth.service import Caller
from app.clock import now
from app.errors import (
    ActionNotAllowed,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Unavailable,
    field_error,
)
from app.items.models import Evidence
from app.items.writer import change, check_if_match, get_item
from app.kit.children import children
from app.settings import get_settings
from app.workflow.registry import registry

log = logging.getLogger("rectify.evidence")

CHUNK = 1024 * 1024
OCTET_STREAM = "application/octet-stream"
MAX_CONTENT_TYPE = 100
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_MEDIA_TYPE = re.compile(
    rf'{_TOKEN}/{_TOKEN}(?:[ \t]*;[ \t]*{_TOKEN}=(?:{_TOKEN}|"[^"\\\x00-\x1f\x7f]*"))*'
)
UPLOADERS = {Role.admin, Role.supervisor, Role.unit}


def blob_path(sha256: str) -> Path:
    return get_settings().evidence_dir / sha256[:2] / sha256


def _clean_filename(name: str | None) -> str:
    base = os.path.basename((name or "").replace("\\", "/")).strip()
    base = "".join(ch for ch in unicodedata.normalize("NFC", base) if ch.isprintable())
    return base[:255] or "file"


def media_type(declared: str | None) -> str:
    """The uploader's content type when it is a valid media type (RFC 9110) of at
    most 100 characters, else ``application/octet-stream``."""
    value = (declared or "").strip()
    essence = value.split(";", 1)[0]  # a file has one type: */* and text/* are ranges
    if len(value) > MAX_CONTENT_TYPE or not _MEDIA_TYPE.fullmatch(value) or "*" in essence:
        return OCTET_STREAM
    return value


def _store(upload: UploadFile, limit: int) -> tuple[str, int]:
    try:
        return _write_blob(upload, limit)
    except OSError as exc:  # not writable, full, gone: the deployment's, not the caller's
        log.error("evidence not stored: %s", exc)
        raise Unavailable(
            "The evidence store cannot be written at the moment; retry shortly."
        ) from None


def _write_blob(upload: UploadFile, limit: int) -> tuple[str, int]:
    directory = get_settings().evidence_dir
    directory.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := upload.file.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"Evidence files are limited to {limit // CHUNK} MB.")
                digest.update(chunk)
                out.write(chunk)
        sha = digest.hexdigest()
        target = blob_path(sha)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)
        return sha, size
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def upload(
    session: Session, caller: Caller, item_id: int, file: UploadFile, if_match: str | None = None
) -> Evidence:
    if caller.role not in UPLOADERS:
        raise Forbidden("The viewer role cannot upload evidence.")
    item = get_item(session, caller, item_id, lock=True)
    check_if_match(item, if_match)
    wf = registry.get(item.workflow_name, item.workflow_version)
    if wf.state(item.state).final:
        raise ActionNotAllowed(
            "Evidence cannot be added to a closed item.", allowed_actions=[], state=item.state
        )
    if file is None or not file.filename:
        raise field_error("file", "A file is required (multipart field 'file').")
    sha, size = _store(file, get_settings().max_upload_bytes)
    moment = now(session)
    evidence = Evidence(
        item_id=item.id,
        filename=_clean_filename(file.filename),
        size=size,
        sha256=sha,
        content_type=media_type(file.content_type),
        uploaded_at=moment,
        uploaded_by=caller.actor,
    )
    session.add(evidence)
    session.flush()
    with change(session, item, at=moment, bump=False) as uploaded:
        item.evidence_latest = max(item.evidence_latest, evidence.id)
        data = {"evidence_id": evidence.id, "filename": evidence.filename, "sha256": sha}
        uploaded.record("evidence", actor=caller.actor, data=data | {"size": size})
    return evidence


def list_evidence(session: Session, caller: Caller, item_id: int) -> list[Evidence]:
    get_item(session, caller, item_id)
    return children(session, Evidence, Evidence.item_id, item_id, order=Evidence.id)


def get_evidence(session: Session, caller: Caller, item_id: int, evidence_id: int) -> Evidence:
    get_item(session, caller, item_id)
    evidence = session.get(Evidence, evidence_id)
    if evidence is None or evidence.item_id != item_id or not blob_path(evidence.sha256).exists():
        raise NotFound(f"No evidence {evidence_id} on item {item_id}.")
    return evidence
