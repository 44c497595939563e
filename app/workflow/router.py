from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from app.deps import CallerDep
from app.workflow.diagram import mermaid
from app.workflow.registry import registry

router = APIRouter(prefix="/workflows", tags=["workflows"])


@router.get("")
def list_workflows(_caller: CallerDep) -> dict:
    return {"data": [registry.latest(n).public() for n in registry.names()]}


@router.get("/{name}")
def get_workflow(name: str, _caller: CallerDep, version: int | None = None) -> dict:
    wf = registry.get(name, version) if version else registry.latest(name)
    return wf.public()


@router.get("/{name}/diagram", response_class=PlainTextResponse)
def get_diagram(name: str, _caller: CallerDep, version: int | None = None) -> str:
    wf = registry.get(name, version) if version else registry.latest(name)
    return mermaid(wf)
