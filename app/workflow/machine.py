"""Run a workflow's rules through the `transitions` library.

One ``Machine(model=None)`` per loaded workflow version, built once at
start-up: the library builds and checks the transition table (states, sources,
destinations, each trigger's guarded transitions in order). ``fire`` walks that
table itself, as the library's ``Event.trigger`` would for a model in the source
state -- the first transition whose conditions pass runs its ``before``
callbacks (the effects) and gives the new state -- without the library's
per-call machinery (event data, model lookup, callback resolution, logging),
which cost more than the guards and effects it ran: a bulk import or the demo
fires thousands of actions. Nothing is added to the machine, so it is read-only
after start-up and threads share it without a lock; cross-process safety comes
from the item's row lock.
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


class _EventData:
    """What the guards' and effects' callbacks read of the library's ``EventData``."""

    __slots__ = ("kwargs",)

    def __init__(self, ctx: TransitionContext) -> None:
        self.kwargs = {"ctx": ctx}


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
                "conditions": [self._condition(g) for g in self._guards(target)],
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
        # (action, source) -> each of the trigger's transitions from there, in the
        # library's order: destination (None: stays), conditions, before-callbacks.
        self._table: dict[tuple[str, str], list[tuple[str | None, list, list]]] = {
            (name, source): [
                (t.dest, [(c.func, c.target) for c in t.conditions], list(t.before))
                for t in transitions
            ]
            for name, event in self._machine.events.items()
            for source, transitions in event.transitions.items()
        }
        for transitions in self._table.values():
            for _dest, conditions, before in transitions:
                assert all(callable(f) for f, _target in conditions) and all(map(callable, before))

    @staticmethod
    def _guards(action) -> list[str]:
        """The target's guards; a closure request, and a closure as rectified, also need
        the item's measures settled."""
        if {"mark_review_pending", "resolve_rectified"} & set(action.effects):
            return [*action.guards, guards.MEASURES_SETTLED]
        return list(action.guards)

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
        for name in self._guards(act):
            if not guards.REGISTRY[name].predicate(ctx):
                ctx.failed_guards.append(name)  # the first refusal names the reason
                return False
        return True

    def fire(self, state: str, action: str, ctx: TransitionContext) -> str | None:
        """Check guards, run effects: the new state, or None when a guard refused.

        ``ctx.failed_guards`` names the refusing guard.

        Raises ``MachineError`` when the action does not start from ``state``.
        """
        transitions = self._table.get((action, state))
        if transitions is None:
            raise MachineError(f"Can't trigger event {action} from state {state}!")
        event = _EventData(ctx)
        for dest, conditions, before in transitions:
            if all(check(event) == target for check, target in conditions):
                for effect in before:
                    effect(event)
                return state if dest is None else dest
        return None


__all__ = ["MachineError", "TransitionContext", "WorkflowMachine"]
