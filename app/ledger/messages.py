"""Row error messages of an import, in Chinese (the default) or English (``?lang=en``).

Each message names its column the way the user's header does in that language:
the Chinese header, or the English key.
"""

from typing import Any

from app.ledger.columns import ZH_OF

MESSAGES: dict[str, tuple[str, str]] = {
    "required": ("必填", "required"),
    "required_source": (
        "必填，应为 {choices}（或导入时用 source 参数指定）",
        "required; one of {choices} (or give ?source= for the file)",
    ),
    "cell": ("单元格无法使用：{why_zh}", "the cell cannot be used: {why}"),
    "control": (
        "不能包含 NUL 或其他控制字符（制表符、换行、回车除外）",
        "must not contain NUL or other control characters (tab, newline and carriage "
        "return excepted)",
    ),
    "not_source": ("“{value}”不是有效的来源，应为 {choices}", "{value!r} is not one of {choices}"),
    "not_severity": (
        "“{value}”不是有效的严重程度，应为 {choices}",
        "{value!r} is not one of {choices}",
    ),
    "not_type": (
        "“{value}”不是有效的工单类型，应为 {choices}",
        "{value!r} is not one of {choices}",
    ),
    "not_kind": ("“{value}”不是措施类型，应为 {choices}", "{value!r} is not one of {choices}"),
    "no_unit": (
        "没有代码、名称或简称为“{value}”的单位",
        "no unit has the code, exact name or alias {value!r}",
    ),
    "ambiguous_unit": (
        "有多个单位名为“{value}”（{codes}），请填写单位代码",
        "several units are named {value!r} ({codes}); use the code",
    ),
    "not_date": (
        "“{value}”不是日期；可填日期单元格或 2026-12-31、2026/12/31、2026年12月31日、"
        "2026年12月底前、2026-12、长期坚持、立行立改",
        "{value!r} is not a date; use a date cell or e.g. 2026-12-31, 2026/12/31, "
        "2026年12月31日, 2026年12月底前, 2026-12, 长期坚持, 立行立改",
    ),
    "past": ("{value} 早于今天（{today}）", "{value} is in the past (today is {today})"),
    "too_far": ("{value} 距今超过十年", "{value} is more than ten years ahead"),
    "ref_taken": (
        "外部编号“{value}”已被问题 {number} 使用（按外部编号更新请用 mode=upsert）",
        "the external_ref {value!r} is already used by item {number} (use mode=upsert "
        "to update it)",
    ),
    "ref_elsewhere": (
        "外部编号“{value}”已是问题 {other} 的，而编号 {number} 是另一个问题；一行只能对应一个问题",
        "the external_ref {value!r} is item {other}'s, but the number {number} names another "
        "item; a row names one item",
    ),
    "ref_replaces": (
        "问题 {number} 已有外部编号“{current}”，不能改为“{value}”",
        "item {number} already has the external_ref {current!r}; it cannot become {value!r}",
    ),
    "differs": (
        "与已有问题 {number} 的{column}（{current}）不一致；请用改派或延期申请修改",
        "differs from item {number}'s {column_en} ({current_en}); change it by reassigning "
        "or with an extension",
    ),
    "source_differs": (
        "与已有问题 {number} 的来源（{current}）不一致；导入不修改来源",
        "differs from item {number}'s source ({current_en}); an import does not change it",
    ),
    "invalid": ("内容无效", "invalid: {why}"),
    "blank": ("不能为空", "must not be blank"),
    "too_long": ("超过 {limit} 个字符", "longer than {limit} characters"),
    "too_many": ("最多 {limit} 项", "at most {limit} entries"),
    "co_unit_is_lead": ("配合单位不能是牵头单位 {value}", "{value} is the lead unit"),
    "not_importable": ("无法导入", "could not be imported: {why}"),
    "no_types": (
        "此类问题没有工单类型（“{value}”），请清空此列",
        "{value!r}: items of the workflow {workflow!r} have no order type",
    ),
    "same_item_differs": (
        "与第 {row} 行是同一问题，此列却不同（同一问题的各行须一致或留空）",
        "the row names the same item as row {row} but differs here (rows of one item "
        "must agree or leave the cell empty)",
    ),
    "measures_need_assignment": (
        "有整改措施的问题须填写整改时限：填了责任单位和整改时限的问题才交办，措施才有牵头单位",
        "a row with measures needs a due date: only a row with both unit and due date "
        "assigns the item, and its measures belong to the lead unit",
    ),
    "long_term_no_due": (
        "长期坚持的措施没有时限，请清空措施时限（{value}）",
        "a long-term measure (长期坚持) has no date; leave it empty ({value})",
    ),
    "measure_unit": (
        "措施“{title}”的责任单位须为牵头单位或配合单位",
        "measure {title!r}: its unit must be the lead unit or a co-unit",
    ),
    "measure_needs_due": (
        "限期整改的措施“{title}”须有时限（填写措施时限或整改时限）",
        "measure {title!r}: a deadline measure (限期整改) needs a date",
    ),
    "measure_refused": ("措施“{title}”不符合整改措施的规则，无法导入", "measure {title!r}: {why}"),
    "measure_item_settled": (
        "措施“{title}”无法导入：所属问题已申请销号（审核中或已验收），请先退回销号申请再增加措施",
        "measure {title!r} cannot be imported: the item's closure has been asked (under "
        "review or verified); reject the request before adding measures",
    ),
    "measure_item_closed": (
        "措施“{title}”无法导入：所属问题已办结，不能再增加或修改措施",
        "measure {title!r} cannot be imported: the item is closed; its measures can no "
        "longer change",
    ),
    "measure_closed": (
        "措施“{title}”已{status}，不能再修改（须先由监督方重新打开）",
        "measure {title!r} is {status}; a supervisor must reopen it before it can change",
    ),
}


def validation_error(err: Any) -> tuple[str, dict[str, Any]]:
    """A pydantic error of a model the import fills (``ItemCreate``, ``ItemUpdate``,
    ``MeasureCreate``) as a message code and its parameters: the Chinese message says
    it in Chinese, not pydantic's English (which the English one keeps as ``why``)."""
    kind, ctx = err.get("type"), err.get("ctx") or {}
    if kind == "string_too_long":
        return "too_long", {"limit": ctx.get("max_length")}
    if kind == "too_long":
        return "too_many", {"limit": ctx.get("max_length")}
    if kind in ("missing", "string_too_short") or "blank" in str(err.get("msg")):
        return "blank", {}
    return "invalid", {"why": err.get("msg")}


def column_name(key: str, lang: str) -> str:
    return key if lang == "en" else ZH_OF.get(key, key)


def message(code: str, lang: str, key: str, **params: Any) -> str:
    """``列名：说明`` (``column: explanation`` in English)."""
    zh, en = MESSAGES[code]
    text = (en if lang == "en" else zh).format(**params)
    return f"{column_name(key, lang)}: {text}" if lang == "en" else f"{ZH_OF.get(key, key)}：{text}"
