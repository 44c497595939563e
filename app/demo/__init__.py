"""The demo city: a prefecture-level city's year of supervision work (DOMAIN.md).

``load_demo`` fills an empty database with it (``rectify demo``, ``rectify serve
--demo``) in one transaction. ``data`` holds the names and wording, ``plan`` and
``measures`` plan the year without the database, ``player`` plays it in memory
through the engine's rules and writes the rows in bulk, ``load`` runs it all.
"""

from app.demo.load import load_demo

__all__ = ["load_demo"]
