"""The demo city: a prefecture-level city's year of supervision work (DOMAIN.md).

``load_demo`` fills an empty database with it (``rectify demo``, ``rectify serve
--demo``). ``data`` holds the names and wording, ``plan`` and ``measures`` plan
the year without the database, ``load`` plays it and writes it.
"""

from app.demo.load import load_demo

__all__ = ["load_demo"]
