"""Scale-out on one PostgreSQL: 3 API processes and 2 workers under a concurrent load.

Concurrent creates and transitions (some of them conflicting, on different
API processes at once), evidence uploads, clock advances with scans from the
workers and from ``/admin/scheduler/tick`` at the same time, and a receiver
that fails some first tries. Afterwards every committed change has exactly
one history entry and its events, every event reached the receiver, no
ladder step fired twice, every history chain verifies (tests/scale/invariants.py).
"""

import time

from tests.scale.load import Load
from tests.scale.scenario import (
    PG_ONLY,
    SEED,
    UNIT,
    check,
    coverage,
    explain,
    prepare,
    settle,
    worker_scans,
)

pytestmark = PG_ONLY
ITEMS = 80
THREADS = 8
LOAD_TIMEOUT_S = 120
SETTLE_TIMEOUT_S = 60


def test_three_api_processes_and_two_workers_on_one_database(
    cluster, scale_receiver, engine, request
):
    started = time.monotonic()
    client, secret = prepare(cluster, scale_receiver, tolerate_crashes=False)
    request.addfinalizer(client.close)
    load = Load(client, items=ITEMS, threads=THREADS, seed=SEED, unit=UNIT)
    load.run(timeout=LOAD_TIMEOUT_S)
    loaded = time.monotonic()
    waited, left = settle(engine, scale_receiver, SETTLE_TIMEOUT_S)
    tables, hits, errs = check(cluster, engine, client, load, scale_receiver, secret, False)
    seen = coverage(tables, hits, load)
    scans = worker_scans(cluster)
    print(
        f"\nseed {SEED}: load {loaded - started:.1f} s, settled in {waited:.1f} s {left}"
        f"\n{seen}\nscans that fired per worker: {scans}"
    )
    assert not (load.problems or errs), "\n".join(
        [f"{len(load.problems)} load problems:", *load.problems[:10], f"{len(errs)} violations:"]
        + errs[:60]
        + [explain(tables, load.problems + errs)]
    )
    assert not any(left.values()), f"not settled after {SETTLE_TIMEOUT_S} s: {left}"
    assert [p.name for p in cluster.procs if not p.alive] == []
    assert cluster.crashes() == [], cluster.logs()
    assert seen["items"] == ITEMS and seen["conflict_groups"] >= 10
    assert seen["refused_in_groups"] >= 10 and seen["receiver_500s"] > 0
    assert {"reminder", "overdue", "supervise", "summon"} <= set(seen["ladder"])
    # Which worker's scan finds the due items is a race (SKIP LOCKED splits a batch only
    # when two scans overlap, and a scan now takes milliseconds): the workers' share is
    # printed above, not asserted. That each step fired once across them is (check).
    assert sum(scans.values()) > 0, f"no worker fired a ladder step: {scans}"
