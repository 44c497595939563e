"""Scope resolution shared by every query that confines a unit-bound caller."""

NO_UNIT = "/-none-/"
"""A unit path no unit has: a caller bound to a unit that no longer resolves sees
nothing rather than everything."""


def unit_path_or_none(unit_path: str | None) -> str:
    """The path whose subtree a scoped caller (or subscription, or filter) sees."""
    return unit_path or NO_UNIT
