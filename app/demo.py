"""Demo data: a prefecture-level city's units and a ledger of items (DOMAIN.md).

Loaded only into an empty database. Names are made up.
"""

import random

from sqlalchemy import func, select

from app.auth.models import Role
from app.auth.service import Caller
from app.db import unit_of_work
from app.items.models import Item
from app.items.schemas import ItemCreate, TransitionRequest
from app.items.service import new_item
from app.items.transitions import transition
from app.units.models import Unit, UnitCreate
from app.units.service import create_unit

COUNTIES = [
    ("xc", "新城区"),
    ("gl", "古楼区"),
    ("hx", "河西区"),
    ("gx", "高新技术产业开发区"),
    ("qs", "青山县"),
    ("ls", "临水县"),
    ("bs", "白沙县"),
    ("dy", "东阳县"),
    ("nf", "南丰县"),
    ("yl", "云岭县"),
    ("ch", "长河市"),
    ("jq", "金桥市"),
    ("sp", "石坪县"),
    ("wx", "望溪县"),
    ("fl", "富陵县"),
]
DEPARTMENTS = [
    ("court", "市中级人民法院"),
    ("audit", "市审计局"),
    ("org", "市委组织部"),
    ("invest", "市城市建设投资集团有限公司"),
    ("housing", "市住房和城乡建设局"),
    ("edu", "市教育局"),
    ("health", "市卫生健康委员会"),
    ("nr", "市自然资源和规划局"),
    ("eco", "市生态环境局"),
    ("transport", "市交通运输局"),
    ("market", "市市场监督管理局"),
    ("finance", "市财政局"),
    ("hr", "市人力资源和社会保障局"),
    ("water", "市水利局"),
    ("agri", "市农业农村局"),
    ("dev", "市发展和改革委员会"),
]
TITLES = {
    "inspection": [
        "落实全面从严治党主体责任不到位，专题研究次数不足",
        "干部选拔任用程序不规范，部分考察材料缺失",
        "“三重一大”事项未经集体研究决策",
    ],
    "assessment": [
        "重点项目建设进度滞后，未按期完成年度投资计划",
        "项目前期手续办理迟缓，影响开工",
    ],
    "hotline": [
        "群众反映小区供暖温度不达标",
        "企业反映行政审批材料反复提交",
        "群众反映农民工工资拖欠未处理",
    ],
    "talk": ["述责述廉报告反映的问题整改不彻底", "谈话发现单位内部控制制度执行不严"],
    "petition": ["农村小型工程招投标程序不规范", "反映村集体资金使用不公开"],
    "audit": ["道路建设项目前期规划论证不充分，征迁工作未能完成"],
    "analysis": ["政治生态分析研判发现选人用人风气问题"],
}
PLAN = [  # (source, count, campaign)
    ("inspection", 40, "2024-联合监督检查"),
    ("assessment", 12, "重点项目专项监督"),
    ("hotline", 14, "营商环境"),
    ("talk", 10, None),
    ("petition", 8, None),
    ("audit", 3, "上级审计反馈"),
    ("analysis", 3, None),
]
PATHS = [  # how far along each item goes
    [],
    ["assign"],
    ["assign", "accept"],
    ["assign", "accept", "submit"],
    ["assign", "accept", "submit", "verify"],
    ["assign", "accept", "submit", "verify", "close"],
    ["assign", "accept", "submit", "verify", "close"],
    ["withdraw"],
]


def load_demo(seed: int = 2024) -> str:
    rng = random.Random(seed)
    with unit_of_work() as session:
        if session.scalar(select(func.count()).select_from(Item)) or session.get(Unit, "city"):
            return "demo: the database is not empty; nothing loaded"
        create_unit(session, UnitCreate(code="city", name="某市"))
        codes = []
        for code, name in COUNTIES + DEPARTMENTS:
            create_unit(session, UnitCreate(code=code, name=name, parent_code="city"))
            codes.append(code)
        sup = Caller(0, "市纪委监委", Role.supervisor)
        made = 0
        for source, n, campaign in PLAN:
            for _ in range(n):
                item = new_item(
                    session,
                    sup,
                    ItemCreate(
                        title=rng.choice(TITLES[source]),
                        source=source,
                        campaign=campaign,
                        description="（演示数据）",
                        severity=rng.choice(["normal", "normal", "high"]),
                    ),
                )
                unit_code = rng.choice(codes)
                unit = Caller(0, f"{unit_code}-联络员", Role.unit, unit_code, f"/city/{unit_code}/")
                for action in rng.choice(PATHS):
                    actor = unit if action in ("accept", "submit") else sup
                    if action == "submit":
                        _demo_evidence(session, item, unit)
                    fields = {"unit_code": unit_code} if action == "assign" else {}
                    if action in ("submit", "withdraw"):
                        fields["comment"] = "已按要求整改到位" if action == "submit" else "重复交办"
                    transition(
                        session, actor, item.id, TransitionRequest(action=action, **fields), None
                    )
                made += 1
    return f"demo: loaded {len(codes) + 1} units and {made} items"


def _demo_evidence(session, item, caller) -> None:
    from app.clock import now
    from app.items import history
    from app.items.models import Evidence

    ev = Evidence(
        item_id=item.id,
        filename="整改报告.pdf",
        size=0,
        sha256="0" * 64,
        content_type="application/pdf",
        uploaded_at=now(session),
        uploaded_by=caller.actor,
    )
    session.add(ev)
    session.flush()
    history.append(
        session,
        item.id,
        at=ev.uploaded_at,
        actor=caller.actor,
        action="evidence",
        from_state=item.state,
        to_state=item.state,
        data={"evidence_id": ev.id, "filename": ev.filename, "demo": True},
    )
