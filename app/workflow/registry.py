"""The loaded workflow versions and their machines.

Definitions are snapshotted into the database when first seen, so a version
stays available to the items pinned to it even after its file is replaced.
Editing a file in place under a version that is already recorded is refused:
bump ``version`` instead.
"""

import json

from sqlmodel import Session, select

from app.db import serialize_with_other_processes
from app.errors import NotFound
from app.locks import STARTUP_LOCK
from app.workflow.definition import Workflow, WorkflowError, load_dir
from app.workflow.machine import WorkflowMachine
from app.workflow.models import WorkflowSnapshot


def _normalised(body: dict) -> dict:
    """A recorded definition as the current model writes it: fields the model gained
    since it was recorded take their defaults, so only a real edit differs."""
    return json.loads(Workflow.model_validate(body).model_dump_json(by_alias=True))


class Registry:
    def __init__(self) -> None:
        self.workflows: dict[tuple[str, int], Workflow] = {}
        self.machines: dict[tuple[str, int], WorkflowMachine] = {}
        # ``latest`` per (name, number of versions) of the dict ``workflows`` is now:
        # asked for each item an import creates.
        self._latest: dict[tuple[str, int], Workflow] = {}
        self._latest_of: dict | None = None

    def load(self, directory, session: Session | None = None) -> None:
        found = load_dir(directory)
        if session is not None:
            found = self._reconcile(found, session)
        self.workflows = found
        self.machines = {k: WorkflowMachine(wf) for k, wf in found.items()}

    @staticmethod
    def _reconcile(found: dict, session: Session) -> dict:
        serialize_with_other_processes(session, STARTUP_LOCK)
        merged = dict(found)
        known = {(s.name, s.version): s for s in session.exec(select(WorkflowSnapshot))}
        for key, wf in found.items():
            body = json.loads(wf.model_dump_json(by_alias=True))
            snap = known.get(key)
            if snap is None:
                session.add(WorkflowSnapshot(name=wf.name, version=wf.version, body=body))
            elif _normalised(snap.body) != body:
                raise WorkflowError(
                    f"workflow {wf.name} v{wf.version} differs from the version items were "
                    "started under",
                    "Give the changed definition a new version number.",
                )
        for key, snap in known.items():
            if key not in merged:
                merged[key] = Workflow.model_validate(snap.body)
        session.flush()
        return merged

    def get(self, name: str, version: int) -> Workflow:
        try:
            return self.workflows[(name, version)]
        except KeyError:
            raise NotFound(f"No workflow {name!r} version {version}.") from None

    def machine(self, name: str, version: int) -> WorkflowMachine:
        return self.machines[(name, version)]

    def latest(self, name: str) -> Workflow:
        if self._latest_of is not self.workflows:
            self._latest, self._latest_of = {}, self.workflows
        key = (name, len(self.workflows))
        found = self._latest.get(key)
        if found is None:
            found = self._latest[key] = self._find_latest(name)
        return found

    def _find_latest(self, name: str) -> Workflow:
        versions = [wf for (n, _v), wf in self.workflows.items() if n == name]
        if not versions:
            raise NotFound(f"No workflow named {name!r}.")
        return max(versions, key=lambda wf: wf.version)

    def for_source(self, source: str) -> str | None:
        """The name of the workflow whose newest version declares ``source``, if any."""
        for name in self.names():
            if source in self.latest(name).sources:
                return name
        return None

    def names(self) -> list[str]:
        return sorted({n for n, _v in self.workflows})


registry = Registry()
