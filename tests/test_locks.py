"""The advisory lock keys: one registry (app/locks.py), every key distinct."""

import re

from app import locks
from app.settings import PACKAGE_DIR


def test_every_lock_key_is_distinct():
    named = {name: value for name, value in vars(locks).items() if name.endswith("_LOCK")}
    assert named == locks.ALL
    assert len(set(named.values())) == len(named), named


def test_no_module_defines_its_own_lock_key():
    own = re.compile(r"^\s*\w*LOCK\w*\s*=\s*[\d_]+\s*$|pg_\w*advisory\w*\(\s*\d", re.MULTILINE)
    offenders = [
        str(path.relative_to(PACKAGE_DIR))
        for path in PACKAGE_DIR.rglob("*.py")
        if path.name != "locks.py" and own.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
