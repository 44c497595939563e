"""Reading the cells of an office ledger: text, dates and date phrases, unit lists,
measure lines (整改措施) and measure kinds."""

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

FORMULA_ESCAPED = ("'=", "'+", "'-", "'@")
KINDS = {"immediate": "立行立改", "deadline": "限期整改", "long_term": "长期坚持"}
KIND_OF_DUE_TEXT = {"长期坚持": "long_term", "立行立改": "immediate"}
_KIND_READ = {**{v: k for k, v in KINDS.items()}, **{k: k for k in KINDS}, "长期": "long_term"}

_DAY = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:\s+0{1,2}:00(?::00)?|T00:00(?::00)?)?\s*(?:前|之前)?"
)
_MONTH = re.compile(r"(\d{4})\s*(?:年\s*(\d{1,2})\s*月(?:[底末](?:前|之前)?)?|-(\d{1,2}))")
_LIST_SEPARATORS = re.compile(r"[、，,;；\n\r]+")
_NUMBERING = re.compile(
    r"^\s*(?:[（(]\s*[0-9一二三四五六七八九十]+\s*[)）]|[0-9]+\s*[.、．)）]|"
    r"[一二三四五六七八九十]+\s*[、.．]|[①-⑳])\s*"
)


def text(value: Any) -> str | None:
    """A cell as stripped text (None when blank); whole numbers without ``.0``."""
    if value is None:
        return None
    if type(value) is str:  # most cells: none of the conversions below applies
        result = value.strip()
    else:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, datetime):
            value = value.date() if value.time() == datetime.min.time() else value
        if isinstance(value, date | datetime):
            value = value.isoformat()
        result = str(value).strip()
    if result.startswith(FORMULA_ESCAPED):
        result = result[1:]
    return result or None


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@dataclass(frozen=True)
class Deadline:
    """A 整改时限 cell: a date, or a kind phrase (长期坚持, 立行立改) without one."""

    due: date | None = None
    kind: str | None = None


def deadline(value: Any) -> Deadline | None:
    """The cell's date or phrase; None when it is neither."""
    if isinstance(value, datetime):
        return Deadline(value.date())
    if isinstance(value, date):
        return Deadline(value)
    raw = text(value) or ""
    if raw in KIND_OF_DUE_TEXT:
        return Deadline(kind=KIND_OF_DUE_TEXT[raw])
    try:
        if match := _DAY.fullmatch(raw):
            return Deadline(date(*(int(g) for g in match.groups())))
        if match := _MONTH.fullmatch(raw):
            year = int(match.group(1))
            month = int(next(g for g in match.groups()[1:] if g))
            return Deadline(date(year, month, calendar.monthrange(year, month)[1]))
    except (ValueError, StopIteration):
        return None
    return None


def names(value: Any) -> list[str]:
    """配合单位: names or codes separated by 、，, ; or newlines."""
    raw = text(value) or ""
    return list(dict.fromkeys(p.strip() for p in _LIST_SEPARATORS.split(raw) if p.strip()))


def measure_lines(value: Any) -> list[str]:
    """整改措施: one measure per non-empty line, leading numbering removed."""
    raw = text(value) or ""
    lines = (one_line(_NUMBERING.sub("", line)) for line in raw.splitlines())
    return [line for line in lines if line]


def one_line(title: str) -> str:
    """A measure's title as one ledger line: each run of whitespace, line breaks too, one
    space. The export writes titles so and an upsert matches measures by it, so a title
    typed on several lines exports and imports back as the same measure."""
    return " ".join(title.split())


def lone_measure(title: str, n: int) -> str:
    """A measure's title as the only line of its 整改措施 cell (``rows=measures``): one
    line, numbered ``n.`` only when it starts with what an import takes for numbering
    (``1.``, ``（一）`` ...), so that it reads back as the same title."""
    line = one_line(title)
    return f"{n}. {line}" if _NUMBERING.match(line) else line


def kind(value: Any) -> str | None:
    raw = text(value)
    return _KIND_READ.get(raw.strip().lower()) if raw else None


def kind_choices() -> str:
    return "、".join(KINDS.values())
