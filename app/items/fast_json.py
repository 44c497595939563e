"""An item's public JSON as text, from a row of the item table, without pydantic.

``item_text(values)`` is ``json_text(item_json(item))`` (the events' ``item``:
``ItemPublic`` in ``mode="json"``, then the JSON columns' encoder), written
straight from the row's values: the deadline scan renders thousands of items
per batch, and validating each into a model and encoding the model's dict cost
more than everything else it does per item; an item's events carry it too
(``writer.item_json_text``, from an item in memory). The values are trusted
(the item table's columns, or an item's as the engine set them: values the
model accepts), so nothing is validated; tests hold the text equal to
``json_text(item_json(item))`` over varied items, stored or in memory, and
``FIELDS`` to the model's fields.

``values`` is indexed like the item table's columns (``COLUMNS``): a row
selecting all of them in the table's order, or a list made from one.
"""

import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from json.encoder import encode_basestring as _str  # what json_text writes for a str
from typing import Any

from app.db import json_text, table_of
from app.items.models import Item

COLUMNS = tuple(c.name for c in table_of(Item).c)
_AT = {name: i for i, name in enumerate(COLUMNS)}

MEASURES = ("total", "open", "done", "ongoing", "overdue")

FIELDS: tuple[tuple[str, str], ...] = (
    ("id", "int"),
    ("number", "str"),
    ("title", "str"),
    ("description", "str"),
    ("source", "str"),
    ("category", "str?"),
    ("severity", "str"),
    ("unit_code", "str?"),
    ("campaign", "str?"),
    ("state", "str"),
    ("review_pending", "bool"),
    ("resolution", "str?"),
    ("workflow", "workflow"),
    ("due_date", "date?"),
    ("accept_due_date", "date?"),
    ("light", "str"),
    ("escalation_level", "int"),
    ("max_escalation_level", "int"),
    ("was_overdue", "bool"),
    ("on_time", "bool?"),
    ("version", "int"),
    ("tags", "list"),
    ("external_ref", "str?"),
    ("created_at", "moment"),
    ("updated_at", "moment"),
    ("closed_at", "moment?"),
    ("co_unit_codes", "list"),
    ("responsible_person", "str?"),
    ("responsible_leader", "str?"),
    ("measures_summary", "measures"),
    ("type", "str?"),
    ("satisfaction", "str?"),
    ("redo_count", "int"),
    ("duplicate_of", "int?"),
    ("duplicate_count", "int"),
)
"""``ItemPublic``'s fields in its order, and how each is written; the column is the
field's name, but for ``workflow`` (``workflow_name``, ``workflow_version``) and
``measures_summary`` (``measures_total`` ...)."""


def _day(d: date) -> str:
    return f'"{d.isoformat()}"'


_MOMENTS: dict = {}


def _moment(m: datetime) -> str:
    """As pydantic writes an aware UTC datetime: ``Z``, microseconds only when not 0.
    Memoised for UTC's (the rows'): a batch's items share their ``updated_at`` (the
    scan's moment). Equal moments in other zones are written differently."""
    if m.tzinfo is not UTC:
        return f'"{m.isoformat().replace("+00:00", "Z")}"'
    text = _MOMENTS.get(m)
    if text is None:
        if len(_MOMENTS) >= 4096:
            _MOMENTS.clear()
        text = _MOMENTS[m] = f'"{m.isoformat().replace("+00:00", "Z")}"'
    return text


_LISTS: dict = {}


def _list(value) -> str:
    """A list of strings; SQLite's rows may carry the column's JSON text (``batch.LISTS``),
    PostgreSQL's the decoded list. Memoised per distinct value: most are ``[]``.
    (None, as ``public_json`` writes it, only of an item not yet flushed.)"""
    if value is None:
        return "null"
    key = value if type(value) is str else tuple(value)
    text = _LISTS.get(key)
    if text is None:
        if len(_LISTS) >= 4096:
            _LISTS.clear()
        items = json.loads(value) if type(value) is str else value
        text = _LISTS[key] = json_text(list(items))
    return text


def _field(name: str, kind: str) -> str:
    """The f-string part that writes one field from ``v`` (the row's values)."""
    if kind == "workflow":
        wf_name, wf_version = _AT["workflow_name"], _AT["workflow_version"]
        value = f'{{{{"name":{{_str(v[{wf_name}])}},"version":{{v[{wf_version}]}}}}}}'
    elif kind == "measures":
        parts = ",".join(f'"{m}":{{v[{_AT["measures_" + m]}]}}' for m in MEASURES)
        value = f"{{{{{parts}}}}}"
    else:
        i = _AT[name]
        base, optional = kind.rstrip("?"), kind.endswith("?")
        written = {
            "int": f"v[{i}]",
            "str": f"_str(v[{i}])",
            "bool": f'"true" if v[{i}] else "false"',
            "date": f"_day(v[{i}])",
            "moment": f"_moment(v[{i}])",
            "list": f"_list(v[{i}])",
        }[base]
        if optional:
            written = f'"null" if v[{i}] is None else {written}'
        value = f"{{{written}}}"
    return f'"{name}":{value}'


def _compile() -> Callable[[Sequence], str]:
    """One f-string over the row's values, made from ``FIELDS`` (a function per field
    and a join would double the cost, the whole point being the cost)."""
    body = ",".join(_field(name, kind) for name, kind in FIELDS)
    source = f"def item_text(v):\n    return f'{{{{{body}}}}}'\n"
    scope: dict[str, Any] = {"_str": _str, "_day": _day, "_moment": _moment, "_list": _list}
    exec(compile(source, __file__ + ":item_text", "exec"), scope)
    compiled: Callable[[Sequence], str] = scope["item_text"]
    return compiled


item_text: Callable[[Sequence], str] = _compile()
item_text.__doc__ = "``json_text(item_json(item))`` from ``values`` indexed like ``COLUMNS``."


def event_head(data: dict) -> str:
    """An item event's data as JSON text up to its item, ``{...,"item":``: the event's
    own fields, then the item's text and ``}`` (``json_text({**data, "item": ...})``)."""
    return json_text(data)[:-1] + ',"item":' if data else '{"item":'
