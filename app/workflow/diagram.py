"""Mermaid ``stateDiagram-v2`` text for a workflow definition."""

from app.workflow.definition import Workflow


def mermaid(wf: Workflow) -> str:
    lines = ["stateDiagram-v2", f"    [*] --> {wf.initial}"]
    for state in wf.states:
        lines.append(f"    {state.name} : {state.label.zh} {state.label.en}")
    for action in wf.actions:
        for source in action.from_:
            for target in action.targets():
                when = f" [{' '.join(target.guards)}]" if action.branches else ""
                to = target.to or source  # an action that stays (催办) loops
                lines.append(f"    {source} --> {to} : {action.name} {action.label.zh}{when}")
    for state in wf.states:
        if state.final:
            lines.append(f"    {state.name} --> [*]")
    return "\n".join(lines) + "\n"
