"""In-process hooks hear of events after the claiming transaction committed."""

import logging

import pytest
from sqlalchemy import select

from app.clock import real_now
from app.db import unit_of_work
from app.events import hooks
from app.events.models import Event
from app.events.outbox import emit
from app.webhooks.delivery import fan_out

CALLS: list[dict] = []


def ladder_step(envelope: dict) -> None:
    """Stands in for an escalation ladder step's ``module:function`` hook."""
    CALLS.append(envelope)


def broken_step(envelope: dict) -> None:
    raise RuntimeError("boom")


@pytest.fixture
def registered():
    added: list[tuple[str, object]] = []

    def add(event_type, fn):
        hooks.register(event_type, fn)
        added.append((event_type, fn))

    CALLS.clear()
    yield add
    for event_type, fn in added:
        hooks.unregister(event_type, fn)
    CALLS.clear()


def _emit(engine, type_: str, **data) -> None:
    with unit_of_work(engine=engine) as session:
        emit(session, type_, subject="items/1", at=real_now(), data=data, item_id=1)


def _fan_out(engine) -> int:
    with unit_of_work(engine=engine) as session:
        return fan_out(session)


def _dispatched(engine) -> list[bool]:
    with unit_of_work(write=False, engine=engine) as session:
        return list(session.scalars(select(Event.dispatched).order_by(Event.id)))


def test_registered_hooks_run_after_commit(engine, registered):
    seen: list[tuple[str, list[bool]]] = []
    registered("item.overdue", lambda env: seen.append((env["type"], _dispatched(engine))))
    registered("*", lambda env: seen.append(("*", [])))
    _emit(engine, "item.overdue", deadline="rectify")
    _emit(engine, "item.created")
    assert seen == []
    assert _fan_out(engine) == 2
    assert seen == [("item.overdue", [True, True]), ("*", []), ("*", [])]
    assert _fan_out(engine) == 0
    assert len(seen) == 3


def test_an_events_own_hook_is_called_once(engine, registered):
    _emit(engine, "item.escalated", level=2, step="supervise", hook=f"{__name__}:ladder_step")
    _fan_out(engine)
    _fan_out(engine)
    (envelope,) = CALLS
    assert envelope["type"] == "item.escalated" and envelope["data"]["step"] == "supervise"


def test_a_rolled_back_claim_runs_no_hooks(engine, registered):
    registered("*", ladder_step)
    _emit(engine, "item.created")
    with pytest.raises(RuntimeError), unit_of_work(engine=engine) as session:
        fan_out(session)
        raise RuntimeError("crash before commit")
    assert CALLS == [] and _dispatched(engine) == [False]
    _fan_out(engine)
    assert len(CALLS) == 1


def test_failing_hooks_are_logged_and_stop_nothing(engine, registered, caplog):
    registered("*", broken_step)
    registered("*", ladder_step)
    _emit(engine, "item.created", hook=f"{__name__}:broken_step")
    _emit(engine, "item.created", hook="no.such.module:fn")
    _emit(engine, "item.created", hook="not-a-target")
    with caplog.at_level(logging.ERROR, logger="rectify.hooks"):
        assert _fan_out(engine) == 3
    assert len(CALLS) == 3
    assert _dispatched(engine) == [True, True, True]
    assert len([r for r in caplog.records if r.name == "rectify.hooks"]) == 3 + 3


def test_resolve_checks_the_target():
    assert hooks.resolve(f"{__name__}:ladder_step") is ladder_step
    with pytest.raises(ValueError):
        hooks.resolve("no_colon")
    with pytest.raises(TypeError):
        hooks.resolve(f"{__name__}:CALLS")
