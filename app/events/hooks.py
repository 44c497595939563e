"""In-process hooks: code that hears of events after they are committed.

``register("item.overdue", fn)`` (or ``"*"``) subscribes ``fn(envelope)``.
An event whose ``data`` names a ``hook`` (``"module:function"``, as escalation
ladder steps do) also has that function called, once, with the envelope.
Hooks run after the transaction that claimed the events committed, never
inside it; an error in one hook is logged and stops nothing else.
"""

import importlib
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable

from sqlalchemy import event as sa_event
from sqlmodel import Session

log = logging.getLogger("rectify.hooks")

Hook = Callable[[dict], object]
_registry: defaultdict[str, list[Hook]] = defaultdict(list)
_PENDING = "rectify_pending_hooks"


def register(event_type: str, fn: Hook) -> Hook:
    """Call ``fn(envelope)`` for every event of ``event_type`` (``"*"``: all)."""
    _registry[event_type].append(fn)
    return fn


def unregister(event_type: str, fn: Hook) -> None:
    if fn in _registry.get(event_type, []):
        _registry[event_type].remove(fn)


def wanted(envelope: dict) -> bool:
    data = envelope.get("data")
    return bool(
        _registry.get(envelope["type"])
        or _registry.get("*")
        or (isinstance(data, dict) and data.get("hook"))
    )


def resolve(target: str) -> Hook:
    """Import ``"package.module:function"``."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"hook {target!r} is not of the form 'module:function'")
    fn = getattr(importlib.import_module(module_name), attr)
    if not callable(fn):
        raise TypeError(f"hook {target!r} is not callable")
    return fn


def _call(name: str, fn: Hook, envelope: dict) -> None:
    try:
        fn(envelope)
    except Exception:
        log.exception("hook %s failed for event %s", name, envelope.get("id"))


def run(envelopes: Iterable[dict]) -> None:
    """Call the registered hooks and each event's own ``data.hook`` for ``envelopes``."""
    for envelope in envelopes:
        for fn in [*_registry.get(envelope["type"], []), *_registry.get("*", [])]:
            _call(getattr(fn, "__qualname__", repr(fn)), fn, envelope)
        data = envelope.get("data")
        target = data.get("hook") if isinstance(data, dict) else None
        if not target:
            continue
        try:
            fn = resolve(str(target))
        except Exception:
            log.exception("hook %s of event %s cannot be loaded", target, envelope.get("id"))
            continue
        _call(str(target), fn, envelope)


def after_commit(session: Session, envelopes: list[dict]) -> None:
    """Run hooks for ``envelopes`` once ``session`` commits; drop them if it rolls back."""
    if not envelopes:
        return
    pending = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []
        sa_event.listen(session, "after_commit", _on_commit)
        sa_event.listen(session, "after_rollback", _on_rollback)
    pending.extend(envelopes)


def _on_commit(session) -> None:
    envelopes = session.info.pop(_PENDING, [])
    session.info[_PENDING] = []
    run(envelopes)


def _on_rollback(session) -> None:
    session.info[_PENDING] = []
