"""The demo's rectification plans: inspection and audit findings with measures.

Planned without the database (``plan_measures``, called by the demo planner
for each item) and played through the measure services (``play``), so the
measures, progress reports, history entries and events are what a year of
use leaves: 2-5 measures per accepted item across the lead and 1-2 co-units,
some long-term (长期坚持), progress reports over the months, every measure
settled before the item is submitted for closure, and the open ones of
items still being rectified overdue where their dates have passed
(``measure.overdue`` fired by ``check``, which the player runs the way the
deadline scan would, shortly after each measure's next check).
"""

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta

from sqlmodel import Session

from app.auth.service import Caller
from app.plans import service
from app.plans.models import Measure, MeasureKind
from app.plans.scan import check_item
from app.plans.schemas import MeasureCreate, ProgressCreate

PLANNED_SOURCES = {"inspection", "audit"}
ACTIONS = {"measure", "progress", "complete", "check"}
TITLES = [
    "召开专题会议研究部署整改工作，明确责任分工和完成时限",
    "全面排查同类问题，建立问题清单和整改台账",
    "修订完善相关管理制度，堵塞制度漏洞",
    "对相关责任人进行约谈提醒，视情节严肃追责问责",
    "追缴违规资金并退还相关款项",
    "开展专项培训，提升干部业务能力和规矩意识",
    "建立定期督查通报机制，防止问题反弹回潮",
    "规范审批流程，实行全程留痕管理",
    "加强与相关部门协调联动，形成工作合力",
    "完善信息公开，主动接受群众监督",
]
PROGRESS = [
    "已召开专题会议部署，正在组织排查",
    "已完成前期摸底，正在制定具体方案",
    "主体工作已完成过半，正在推进剩余事项",
    "已形成初步成果，正在征求意见完善",
    "已基本完成，正在整理佐证材料",
]
DONE = ["已按要求完成整改，相关材料已归档", "措施已落实到位，建立长效机制"]
_FIRST = {"create": 0, "assign": 0, "accept": 0, "return": 0}


def plan_measures(
    rng: random.Random,
    steps: list,
    source: str,
    unit: str,
    units: list[str],
    today: date,
    wd: Callable[[date, int], date],
    make_step: Callable,
) -> list:
    """``steps`` with the item's co-units and measures added, in day order."""
    accept = next((s for s in steps if s.action == "accept"), None)
    if source not in PLANNED_SOURCES or accept is None:
        return steps
    co_units = rng.sample([u for u in units if u != unit], rng.randint(1, 2))
    assign = [s for s in steps if s.action == "assign"][-1]
    assign.fields["co_unit_codes"] = co_units
    start = accept.day
    submit = next((s.day for s in steps if s.action == "evidence"), None)
    last = submit or wd(today, -1)
    added = []
    for n, title in enumerate(rng.sample(TITLES, rng.randint(2, 5))):
        owner = unit if n == 0 else rng.choice([unit, *co_units])
        kind = rng.choices(["deadline", "immediate", "long_term"], [6, 2, 2])[0]
        due = wd(start, rng.randint(5, 40)) if kind == "deadline" else None
        fields = {"n": n, "title": title, "kind": kind, "due_date": due, "unit_code": owner}
        added.append(make_step(start, "measure", fields, by=unit))
        settle = submit is not None or rng.random() < 0.4
        span = max((last - start).days, 1)
        stop = min(last, start + timedelta(days=rng.randint(1, span))) if settle else last
        percents = sorted(rng.sample(range(20, 95, 5), rng.randint(1, 2)))
        for k, percent in enumerate(percents):
            gap = max(1, (stop - start).days * (k + 1) // (len(percents) + 1))
            day = start + timedelta(days=gap)
            if day <= stop:
                added.append(make_step(day, "progress", {"n": n, "percent": percent}, by=owner))
        if settle:
            end = stop
            added.append(make_step(end, "complete", {"n": n}, by=owner))
    order = {id(s): i for i, s in enumerate(steps + added)}
    return sorted(
        steps + added,
        key=lambda s: (s.day, _FIRST.get(s.action, 1 if s.action in ACTIONS else 2), order[id(s)]),
    )


def play(session: Session, caller: Caller, item_id: int, step, ids: dict[int, int]) -> int:
    """One planned measure step of the item, through the measure services: the id of
    the measure it acted on."""
    fields, n = step.fields, step.fields["n"]
    if step.action == "measure":
        body = MeasureCreate(
            title=fields["title"],
            kind=MeasureKind(fields["kind"]),
            unit_code=fields["unit_code"],
            due_date=fields["due_date"],
        )
        ids[n] = service.add_measure(session, caller, item_id, body).id
    elif step.action == "progress":
        report = ProgressCreate(comment=PROGRESS[n % len(PROGRESS)], percent=fields["percent"])
        service.report_progress(session, caller, item_id, ids[n], report)
    else:
        service.complete_measure(session, caller, item_id, ids[n], DONE[n % len(DONE)])
    return ids[n]


def next_check(session: Session, measure_id: int) -> datetime | None:
    return session.get_one(Measure, measure_id).next_check_at


def check(session: Session, item_id: int, measure_id: int, moment: datetime) -> None:
    """The deadline scan's look at one measure at ``moment``."""
    check_item(session, item_id, [measure_id], moment)
