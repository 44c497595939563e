"""Workflow definitions: ``workflows/*.yaml`` -> validated, typed models.

A bad file is a start-up error naming the file and the problem.
"""

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

EFFECTS = {
    "set_unit",
    "clear_unit",
    "set_due_date",
    "keep_due_date",
    "start_accept_deadline",
    "mark_review_pending",
    "clear_review_pending",
    "resolve_rectified",
    "resolve_withdrawn",
    "clear_resolution",
}
GUARDS = {"has_evidence", "review_pending", "has_unit"}
FIELDS = {"unit_code", "due_date", "comment"}
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
    "item.urged",
}


class WorkflowError(Exception):
    """A workflow file that cannot be loaded."""


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


class ActionDef(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str
    label: Label
    from_: list[str] = Field(alias="from", min_length=1)
    to: str | None = None
    """The state the action leads to; omitted: the item stays in its state (催办)."""
    roles: list[str] = Field(min_length=1)
    requires: list[str] = []
    optional: list[str] = []
    guards: list[str] = []
    effects: list[str] = []
    events: list[str] = []


class Sla(BaseModel):
    model_config = ConfigDict(extra="forbid")
    accept_within: int = Field(3, ge=1, le=365)
    rectify_within: int = Field(20, ge=1, le=3650)
    rectify_within_by_source: dict[str, int] = {}

    def rectify_days(self, source: str) -> int:
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
    states: list[StateDef] = Field(min_length=1)
    actions: list[ActionDef] = Field(min_length=1)
    sla: Sla = Sla()
    ladder: list[LadderStep] = []

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
            for s in [*a.from_, *([a.to] if a.to else [])]:
                if s not in names:
                    problems.append(f"action {a.name!r}: unknown state {s!r}")
            for kind, given, known in (
                ("role", a.roles, ROLES),
                ("guard", a.guards, GUARDS),
                ("effect", a.effects, EFFECTS),
                ("field", a.requires + a.optional, FIELDS),
                ("event", a.events, EVENT_TYPES),
            ):
                for g in given:
                    if g not in known:
                        problems.append(f"action {a.name!r}: unknown {kind} {g!r}")
        offsets = [s.offset for s in self.ladder]
        if offsets != sorted(offsets):
            problems.append("ladder steps must be ordered by offset")
        for step in self.ladder:
            if step.event not in EVENT_TYPES:
                problems.append(f"ladder step {step.name!r}: unknown event {step.event!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def key(self) -> tuple[str, int]:
        return (self.name, self.version)

    def state(self, name: str) -> StateDef:
        return next(s for s in self.states if s.name == name)

    def action(self, name: str) -> ActionDef | None:
        return next((a for a in self.actions if a.name == name), None)

    def public(self) -> dict:
        return self.model_dump(by_alias=True)


def load_file(path: Path) -> Workflow:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
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
        raise WorkflowError(f"{directory}: no workflow definitions found")
    return found
