"""Every PostgreSQL advisory lock key the service takes, in one place.

Advisory locks share one key space per database: two features that picked the
same number would block each other by accident (start-up and webhook fan-out
once did). Take a key from here, never a literal; ``tests/test_locks.py``
checks that the keys are distinct and that no module defines its own.
"""

FEED_LOCK = 7_362_001
"""Held by each outbox insert until its commit: event ids follow commit order."""
FAN_OUT_LOCK = 7_362_002
"""One fan-out worker at a time (tried, not waited for)."""
STARTUP_LOCK = 7_362_003
"""Start-up check-then-insert work: workflow snapshots, the bootstrap admin key."""
MIGRATION_LOCK = 7_362_004
"""Schema migrations: processes starting at once on a fresh database take turns."""

ALL = {
    "FEED_LOCK": FEED_LOCK,
    "FAN_OUT_LOCK": FAN_OUT_LOCK,
    "STARTUP_LOCK": STARTUP_LOCK,
    "MIGRATION_LOCK": MIGRATION_LOCK,
}
