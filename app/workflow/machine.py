"""Run a workflow's rules through the `transitions` library.

One ``Machine(model=None)`` per loaded workflow version, built once at
start-up. Each request attaches a small subject for the item's current state
(``add_model``), fires the action and detaches it again; the library checks
the source state and the guards. A lock keeps the machine's model list safe
across the server's threads; cross-process safety comes from the row lock.
"""

import threading
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlmodel import Session
from transitions import Machine, MachineError

from app.auth.service import Caller
from app.workflow import effects, guards
from app.workflow.definition import Workflow


@dataclass
class TransitionContext:
    """Everything a guard or effect may look at for one action on one item."""

    session: Session
    item: Any
    caller: Caller
    workflow: Workflow
    fields: dict[str, Any]
    today: date
    calendar: Any = None
    failed_guards: list[str] = field(default_factory=list)


class _Subject:
    def __init__(self, state: str) -> None:
        self.state = state


class WorkflowMachine:
    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self._lock = threading.Lock()
        specs = [
            {
                "trigger": a.name,
                "source": src,
                "dest": a.to,
                "conditions": [self._condition(g) for g in a.guards],
                "before": [self._effect(e) for e in a.effects],
            }
            for a in workflow.actions
            for src in a.from_
        ]
        self._machine = Machine(
            model=None,
            states=[s.name for s in workflow.states],
            transitions=specs,
            initial=workflow.initial,
            auto_transitions=False,
            send_event=True,
        )

    @staticmethod
    def _condition(name: str):
        check = guards.REGISTRY[name]

        def _run(event) -> bool:
            ctx: TransitionContext = event.kwargs["ctx"]
            ok = check.predicate(ctx)
            if not ok:
                ctx.failed_guards.append(name)
            return ok

        _run.__name__ = f"guard_{name}"
        return _run

    @staticmethod
    def _effect(name: str):
        apply = effects.REGISTRY[name]

        def _run(event) -> None:
            apply(event.kwargs["ctx"])

        _run.__name__ = f"effect_{name}"
        return _run

    def actions_from(self, state: str) -> list[str]:
        """Actions whose source state is ``state`` (guards not checked)."""
        return list(self._machine.get_triggers(state))

    def may(self, state: str, action: str, ctx: TransitionContext) -> bool:
        with self._lock:
            subject = _Subject(state)
            self._machine.add_model(subject, initial=state)
            try:
                return subject.may_trigger(action, ctx=ctx)
            finally:
                self._machine.remove_model(subject)

    def fire(self, state: str, action: str, ctx: TransitionContext) -> str | None:
        """Check guards, run effects: the new state, or None when a guard refused.

        ``ctx.failed_guards`` names the refusing guard.

        Raises ``MachineError`` when the action does not start from ``state``.
        """
        with self._lock:
            subject = _Subject(state)
            self._machine.add_model(subject, initial=state)
            try:
                done = subject.trigger(action, ctx=ctx)
                return subject.state if done else None
            finally:
                self._machine.remove_model(subject)


__all__ = ["MachineError", "TransitionContext", "WorkflowMachine"]
