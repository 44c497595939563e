"""The ledger's columns and the Chinese labels of its enumerations (API.md, "Ledger").

Export writes the Chinese header and labels; import accepts the Chinese
header or the English key, and a label or a code for each enumeration.
"""

import re
from dataclasses import dataclass

from app.items.models import Light, Satisfaction, Severity, Source
from app.plans.models import MeasureStatus
from app.workflow.registry import registry


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    width: int
    imported: bool = False


COLUMNS: tuple[Column, ...] = (
    Column("number", "编号", 14),
    Column("title", "标题", 44, True),
    Column("description", "描述", 56, True),
    Column("source", "来源", 16, True),
    Column("category", "类别", 14, True),
    Column("severity", "严重程度", 10, True),
    Column("unit", "责任单位", 26, True),
    Column("due_date", "整改时限", 12, True),
    Column("campaign", "专项", 24, True),
    Column("external_ref", "外部编号", 18, True),
    Column("state", "状态", 10),
    Column("light", "亮灯", 8),
    Column("escalation_level", "督办级别", 10),
    Column("created_at", "创建时间", 20),
    Column("closed_at", "销号时间", 20),
    Column("co_units", "配合单位", 26, True),
    Column("responsible_person", "责任人", 12, True),
    Column("responsible_leader", "责任领导", 12, True),
    Column("measures", "整改措施", 60, True),
    Column("progress", "整改进展", 60),
    Column("max_escalation_level", "最高督办级别", 12),
    Column("was_overdue", "是否逾期", 10),
    Column("on_time", "按期整改", 10),
    Column("type", "工单类型", 10, True),
    Column("satisfaction", "满意度", 10),
)
# ``?rows=measures``: one row per measure, its own columns after the item's.
MEASURE_COLUMNS: tuple[Column, ...] = (
    Column("measure_kind", "措施类型", 10, True),
    Column("measure_due", "措施时限", 12, True),
    Column("measure_status", "措施状态", 10),
    Column("measure_unit", "措施责任单位", 26, True),
)
IMPORTED_KEYS: tuple[str, ...] = tuple(c.key for c in COLUMNS + MEASURE_COLUMNS if c.imported)
MATCH_KEYS: tuple[str, ...] = ("number",)
"""Columns read only to find the item a row names (``mode=upsert``), never stored: a
row with nothing else is blank."""
ZH_OF: dict[str, str] = {c.key: c.zh for c in COLUMNS + MEASURE_COLUMNS}
# The headers offices give the same columns (API.md, "Ledger, second round").
HEADER_ALIASES: dict[str, str] = {
    "问题标题": "title",
    "问题": "description",
    "存在问题": "description",
    "问题描述": "description",
    "问题表现": "description",
    "问题内容": "description",
    "问题来源": "source",
    "问题类别": "category",
    "牵头单位": "unit",
    "主责单位": "unit",
    "协办单位": "co_units",
    "分管领导": "responsible_leader",
    "完成时限": "due_date",
    "整改期限": "due_date",
    "co_unit_codes": "co_units",
}

SOURCE_LABELS: dict[str, str] = {
    Source.inspection: "巡视巡察",
    Source.audit: "审计",
    Source.assessment: "考核",
    Source.hotline: "12345热线",
    Source.petition: "信访举报",
    Source.analysis: "政治生态分析研判",
    Source.talk: "谈话",
    Source.other: "其他",
}
SOURCE_ALIASES: dict[str, str] = {
    "巡视": "inspection",
    "巡察": "inspection",
    "联合监督检查": "inspection",
    "12345": "hotline",
    "热线": "hotline",
    "信访": "petition",
    "举报": "petition",
    "政治生态": "analysis",
    "述责述廉": "talk",
    "谈话/述责述廉": "talk",
}
SEVERITY_LABELS: dict[str, str] = {
    Severity.low: "低",
    Severity.normal: "一般",
    Severity.high: "高",
    Severity.critical: "严重",
}
LIGHT_LABELS: dict[str, str] = {
    Light.green: "绿灯",
    Light.yellow: "黄灯",
    Light.red: "红灯",
    Light.paused: "审核暂停",
    Light.none: "无",
}
YES_NO: dict[bool | None, str | None] = {True: "是", False: "否", None: None}

MEASURE_STATUS_LABELS: dict[str, str] = {
    MeasureStatus.open: "未完成",
    MeasureStatus.done: "已完成",
    MeasureStatus.ongoing: "长期坚持",
}

SATISFACTION_LABELS: dict[str, str] = {
    Satisfaction.satisfied: "满意",
    Satisfaction.basically_satisfied: "基本满意",
    Satisfaction.dissatisfied: "不满意",
    Satisfaction.unreachable: "无法联系",
}


def type_labels() -> dict[str, str]:
    """工单类型: each order type of the loaded workflows and its Chinese label."""
    return {
        t.name: t.label.zh
        for wf in registry.workflows.values()
        if wf.types
        for t in wf.types.values
    }


_HEADER_NOISE = re.compile(r"[\s\u3000*＊:：]+|[（(][^)）]*[)）]")
HEADER_KEYS: dict[str, str] = {
    **{c.zh: c.key for c in COLUMNS + MEASURE_COLUMNS},
    **{c.key: c.key for c in COLUMNS + MEASURE_COLUMNS},
    **HEADER_ALIASES,
    "unit_code": "unit",
}


def header_key(value: object) -> str | None:
    """The column key a header cell names (Chinese header, English key or an office
    alias such as 存在问题 or 牵头单位), or None. Notes in brackets are ignored."""
    if value is None:
        return None
    text = _HEADER_NOISE.sub("", str(value)).lower()
    return HEADER_KEYS.get(text)


def _reverse(labels: dict[str, str], aliases: dict[str, str] | None = None) -> dict[str, str]:
    table = {str(code).lower(): str(code) for code in labels}
    table.update({label: str(code) for code, label in labels.items()})
    table.update(aliases or {})
    return table


_SOURCE_READ = _reverse(SOURCE_LABELS, SOURCE_ALIASES)
_SEVERITY_READ = _reverse(SEVERITY_LABELS)


def read_source(text: str) -> str | None:
    """A source code from its label, code or a common alias; None if unknown."""
    return _SOURCE_READ.get(text.strip()) or _SOURCE_READ.get(text.strip().lower())


def read_severity(text: str) -> str | None:
    return _SEVERITY_READ.get(text.strip()) or _SEVERITY_READ.get(text.strip().lower())


def read_type(text: str) -> str | None:
    """An order type from its label or code; None if unknown."""
    return _reverse(type_labels()).get(text.strip()) or _reverse(type_labels()).get(
        text.strip().lower()
    )


def type_choices() -> str:
    return "、".join(type_labels().values())


def source_choices() -> str:
    return "、".join(SOURCE_LABELS.values())


def severity_choices() -> str:
    return "、".join(SEVERITY_LABELS.values())
