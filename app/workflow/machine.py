"""Run a workflow's rules through the `transitions` library.

One ``Machine(model=None)`` per loaded workflow version, built once at
start-up. Each request fires the action's ``Event`` on a small subject that
holds the item's current state; the library checks the source state and the
guards and runs the effects. The subject is never added to the machine's
model list, so the machine is read-only after start-up and threads share it
without a lock; cross-process safety comes from the item's row lock.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
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
    moment: datetime
    calendar: Any = None
    failed_guards: list[str] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)
    """What effects add to the action's history entry (e.g. a shifted due date)."""


class _Subject:
    def __init__(self, state: str) -> None:
        self.state = state


class WorkflowMachine:
    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        # An action with branches is one trigger with several guarded transitions:
        # the library takes the first whose conditions pass.
        specs = [
            {
                "trigger": a.name,
                "source": src,
                "dest": target.to,
                "conditions": [self._condition(g) for g in target.guards],
                "before": [self._effect(e) for e in target.effects],
            }
            for a in workflow.actions
            for src in a.from_
            for target in a.targets()
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
        """Would ``action`` pass its guards from ``state``? (Nothing is run or changed.)

        Only the action's own guards are asked: a branch's guards judge the
        action's input (a callback's result), which a caller has not given yet.
        """
        act = self.workflow.action(action)
        if act is None or state not in act.from_:
            return False
        for name in act.guards:
            if not guards.REGISTRY[name].predicate(ctx):
                ctx.failed_guards.append(name)  # the first refusal names the reason
                return False
        return True

    def fire(self, state: str, action: str, ctx: TransitionContext) -> str | None:
        """Check guards, run effects: the new state, or None when a guard refused.

        ``ctx.failed_guards`` names the refusing guard.

        Raises ``MachineError`` when the action does not start from ``state``.
        """
        subject = _Subject(state)
        done = self._machine.events[action].trigger(subject, ctx=ctx)
        return subject.state if done else None


__all__ = ["MachineError", "TransitionContext", "WorkflowMachine"]
