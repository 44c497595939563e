"""Workflow definitions: ``workflows/*.yaml`` -> validated, typed models.

A bad file is a start-up error naming the file and the problem.
"""

from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal, TypeAlias

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

EFFECTS = {
    "set_unit",
    "shift_due_for_review",
    "require_new_evidence",
    "clear_unit",
    "set_due_date",
    "keep_due_date",
    "start_accept_deadline",
    "mark_review_pending",
    "clear_review_pending",
    "resolve_rectified",
    "resolve_withdrawn",
    "clear_resolution",
    "record_satisfaction",
    "count_redo",
    "set_redo_due_date",
    "mark_duplicate",
}
GUARDS = {"has_evidence", "review_pending", "has_unit", "caller_settled", "caller_dissatisfied"}
FIELDS = {"unit_code", "due_date", "comment", "satisfaction", "into"}
ROLES = {"admin", "supervisor", "unit", "viewer"}
EVENT_TYPES = {
    "item.created",
    "item.transitioned",
    "item.assigned",
    "item.submitted",
    "item.verified",
    "item.closed",
    "item.reopened",
    "item.reminder",
    "item.overdue",
    "item.escalated",
    "extension.requested",
    "extension.decided",
    "item.redo",
    "item.merged",
    "item.urged",
}


class WorkflowError(Exception):
    """A workflow file that cannot be loaded; ``fix`` says what to do about it."""

    def __init__(self, message: str, fix: str = "Fix the file.") -> None:
        super().__init__(message)
        self.fix = fix


class Label(BaseModel):
    model_config = ConfigDict(extra="forbid")
    zh: str
    en: str


class StateDef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    label: Label
    final: bool = False
    deadline: Literal["accept", "rectify"] | None = None


class Branch(BaseModel):
    """One guarded target of an action: the first branch whose guards pass is taken.
    (``to`` is None only for the target of an action that ``stays``.)"""

    model_config = ConfigDict(extra="forbid")
    to: str | None
    guards: list[str] = []
    effects: list[str] = []
    events: list[str] = []


class ActionDef(BaseModel):
    """An action with one target (``to``) or several guarded ones (``branches``).

    ``guards``, ``effects`` and ``events`` of the action apply whichever branch
    is taken; a branch adds its own.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str
    label: Label
    from_: list[str] = Field(alias="from", min_length=1)
    to: str | None = None
    branches: list[Branch] = []
    stays: bool = False
    """No target: the item stays in its state (催办); the transition is internal."""
    roles: list[str] = Field(min_length=1)
    requires: list[str] = []
    optional: list[str] = []
    guards: list[str] = []
    effects: list[str] = []
    events: list[str] = []

    @model_validator(mode="after")
    def _one_kind_of_target(self) -> "ActionDef":
        if [self.to is not None, bool(self.branches), self.stays].count(True) != 1:
            raise ValueError(f"action {self.name!r}: give either `to`, `branches` or `stays`")
        targets = [b.to for b in self.branches]
        if None in targets:
            raise ValueError(f"action {self.name!r}: every branch needs `to`")
        if len(set(targets)) != len(targets):
            raise ValueError(f"action {self.name!r}: two branches lead to the same state")
        return self

    def targets(self) -> list[Branch]:
        """Every target with everything it runs: the action's own parts, then the branch's."""
        if self.to is not None or self.stays:
            return [Branch(to=self.to, guards=self.guards, effects=self.effects)]
        return [
            Branch(to=b.to, guards=self.guards + b.guards, effects=self.effects + b.effects)
            for b in self.branches
        ]

    def events_to(self, state: str) -> list[str]:
        """The events the action emits when it ends in ``state``."""
        branch = next((b for b in self.branches if b.to == state), None)
        return self.events + (branch.events if branch else [])


class ItemType(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,19}$")
    label: Label


class Types(BaseModel):
    """The order types (工单类型) items of this workflow carry."""

    model_config = ConfigDict(extra="forbid")
    default: str
    values: list[ItemType] = Field(min_length=1)

    @model_validator(mode="after")
    def _default_is_a_type(self) -> "Types":
        if self.default not in self.names():
            raise ValueError(f"default type {self.default!r} is not one of the types")
        return self

    def names(self) -> list[str]:
        return [t.name for t in self.values]


class Months(BaseModel):
    """A period of calendar months (``{months: n}``): see ``WorkdayCalendar.period_end``."""

    model_config = ConfigDict(extra="forbid")
    months: int = Field(ge=1, le=120)


Duration: TypeAlias = Annotated[int, Field(ge=1, le=3650)] | Months
"""A period in a workflow file: an int of workdays, or ``{months: n}``."""

DEADLINE_KINDS = ("accept", "rectify")


class Sla(BaseModel):
    """Default periods: one per deadline kind, varying by source (and the
    rectification period by order type). Every value is a ``Duration``."""

    model_config = ConfigDict(extra="forbid")
    accept_within: Duration = 3
    accept_within_by_source: dict[str, Duration] = {}
    rectify_within: Duration = 20
    rectify_within_by_source: dict[str, Duration] = {}
    rectify_within_by_type: dict[str, Duration] = {}

    def accept_period(self, source: str) -> Duration:
        return self.accept_within_by_source.get(source, self.accept_within)

    def rectify_period(self, source: str, type_: str | None = None) -> Duration:
        """The default rectification period: by order type, else by source, else the default."""
        if type_ is not None and type_ in self.rectify_within_by_type:
            return self.rectify_within_by_type[type_]
        return self.rectify_within_by_source.get(source, self.rectify_within)


class LadderStep(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    offset: int = Field(ge=-60, le=250)
    level: int = Field(ge=0, le=10)
    light: Literal["green", "yellow", "red"]
    event: str
    hook: str | None = None


class Workflow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z][a-z0-9_\-]{0,63}$")
    version: int = Field(ge=1)
    label: Label
    initial: str
    sources: list[str] = []
    """Item sources this workflow is the default for (``POST /items`` without ``workflow``)."""
    types: Types | None = None
    states: list[StateDef] = Field(min_length=1)
    actions: list[ActionDef] = Field(min_length=1)
    sla: Sla = Sla()
    ladder: list[LadderStep] = []
    """One ladder for both deadline kinds; ``ladders`` names one per kind instead."""
    ladders: dict[Literal["accept", "rectify"], list[LadderStep]] = {}

    @model_validator(mode="after")
    def _consistent(self) -> "Workflow":
        names = [s.name for s in self.states]
        problems: list[str] = []
        if len(set(names)) != len(names):
            problems.append("duplicate state names")
        if self.initial not in names:
            problems.append(f"initial state {self.initial!r} is not a state")
        seen: set[str] = set()
        for a in self.actions:
            if a.name in seen:
                problems.append(f"duplicate action {a.name!r}")
            seen.add(a.name)
            for s in [*a.from_, *(t.to for t in a.targets() if t.to is not None)]:
                if s not in names:
                    problems.append(f"action {a.name!r}: unknown state {s!r}")
            for kind, given, known in (
                ("role", a.roles, ROLES),
                ("guard", [g for t in a.targets() for g in t.guards], GUARDS),
                ("effect", [e for t in a.targets() for e in t.effects], EFFECTS),
                ("field", a.requires + a.optional, FIELDS),
                ("event", a.events + [e for b in a.branches for e in b.events], EVENT_TYPES),
            ):
                for g in given:
                    if g not in known:
                        problems.append(f"action {a.name!r}: unknown {kind} {g!r}")
        if self.types:
            for t in self.sla.rectify_within_by_type:
                if t not in self.types.names():
                    problems.append(f"sla: unknown type {t!r}")
        elif self.sla.rectify_within_by_type:
            problems.append("sla: rectify_within_by_type needs `types`")
        for kind in DEADLINE_KINDS:
            steps = self.ladder_for(kind)
            offsets = [s.offset for s in steps]
            if offsets != sorted(offsets):
                problems.append(f"{kind} ladder steps must be ordered by offset")
            if len({s.name for s in steps}) != len(steps):
                problems.append(f"{kind} ladder: duplicate step names")
            for step in steps:
                if step.event not in EVENT_TYPES:
                    problems.append(f"ladder step {step.name!r}: unknown event {step.event!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @cached_property
    def _states(self) -> dict[str, StateDef]:
        """States by name (``state`` is asked several times per transition and for each
        item a list renders). A cached property, not a private attribute: pydantic
        reads those through ``__getattr__``, which costs more than the scan it saves;
        equality and dumps still see only the fields."""
        return {s.name: s for s in self.states}

    @cached_property
    def _actions(self) -> dict[str, ActionDef]:
        return {a.name: a for a in self.actions}

    @property
    def key(self) -> tuple[str, int]:
        return (self.name, self.version)

    def ladder_for(self, kind: str) -> list[LadderStep]:
        """The escalation ladder of a deadline kind (``accept`` or ``rectify``)."""
        return self.ladders.get(kind, self.ladder)  # type: ignore[call-overload]

    def step_names(self) -> set[str]:
        return {s.name for kind in DEADLINE_KINDS for s in self.ladder_for(kind)}

    def state(self, name: str) -> StateDef:
        return self._states[name]

    def action(self, name: str) -> ActionDef | None:
        return self._actions.get(name)

    def public(self) -> dict:
        return self.model_dump(by_alias=True)


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser where PyYAML has it (its wheels do): the pure-Python one took 40 ms
of the 50 ms every start spends loading the workflows (each test's app starts once)."""


def load_file(path: Path) -> Workflow:
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
        return Workflow.model_validate(raw)
    except (OSError, yaml.YAMLError, ValidationError, ValueError) as exc:
        raise WorkflowError(f"{path}: {exc}") from exc


def load_dir(directory: Path) -> dict[tuple[str, int], Workflow]:
    found: dict[tuple[str, int], Workflow] = {}
    for path in sorted(directory.glob("*.y*ml")):
        wf = load_file(path)
        if wf.key in found:
            raise WorkflowError(f"{path}: workflow {wf.name} v{wf.version} is defined twice")
        found[wf.key] = wf
    if not found:
        raise WorkflowError(
            f"{directory}: no workflow definitions found",
            "Point it at a directory of workflow .yaml files, or unset it for the package's own.",
        )
    return found
