"""Crash test: ``kill -9`` API processes and workers at random points of the load.

The same cluster, load and invariants as test_multiprocess.py, while the
main thread kills a seeded random API process or worker at seeded random
points of the load's progress (3 of each), and starts it again on the same
port. The client sends a request that could not connect to the next API
process; a request whose connection died may or may not have committed, so
the client reads the item back to learn which. Afterwards nothing is lost:
every committed change has its history entry and events, every event
reached the receiver, no ladder step fired twice, every chain verifies.
"""

import random
import time

from tests.scale.load import Load
from tests.scale.scenario import (
    DELIVERY_LEASE_S,
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
KILLS = {"api": 3, "worker": 3}
LOAD_TIMEOUT_S = 150
# A worker killed mid-send leaves its claimed deliveries leased for
# DELIVERY_LEASE_S (RECTIFY_DELIVERY_LEASE_S); the settle wait must outlast one lease.
SETTLE_TIMEOUT_S = DELIVERY_LEASE_S + 30


def _chaos(cluster, load: Load, rng: random.Random) -> list[str]:
    """Kill at seeded points of the load's progress; restart each after a short pause.

    Runs in the main thread (children die with the thread that started them).
    """
    plan = [kind for kind, n in KILLS.items() for _ in range(n)]
    rng.shuffle(plan)
    points = sorted(rng.uniform(0.05, 0.8) for _ in plan)
    done = []
    for kind, point in zip(plan, points, strict=True):
        while load.progress < point and not load.finished.is_set():
            time.sleep(0.02)
        if load.finished.is_set():
            break
        proc = rng.choice(cluster.apis if kind == "api" else cluster.workers)
        if not proc.alive:
            continue
        cluster.kill(proc)
        done.append(f"{proc.name}@{load.progress:.0%}")
        time.sleep(rng.uniform(0.1, 1.0))
        cluster.restart(proc, wait=False)
    for proc in cluster.procs:
        cluster.wait_ready(proc)
    return done


def test_kill_9_apis_and_workers_during_the_load_loses_nothing(
    cluster, scale_receiver, engine, request
):
    started = time.monotonic()
    rng = random.Random(SEED)
    client, secret = prepare(cluster, scale_receiver, tolerate_crashes=True)
    request.addfinalizer(client.close)
    load = Load(client, items=ITEMS, threads=THREADS, seed=SEED, unit=UNIT)
    load.start()
    try:
        kills = _chaos(cluster, load, rng)
    finally:
        load.join(timeout=LOAD_TIMEOUT_S)
    loaded = time.monotonic()

    waited, left = settle(engine, scale_receiver, SETTLE_TIMEOUT_S)
    tables, hits, errs = check(cluster, engine, client, load, scale_receiver, secret, True)
    seen = coverage(tables, hits, load)
    print(
        f"\nseed {SEED}: kills {kills}; load {loaded - started:.1f} s, "
        f"settled in {waited:.1f} s {left}\n{seen}\nscans that fired per worker: "
        f"{worker_scans(cluster)}"
    )
    assert not (load.problems or errs), "\n".join(
        [f"{len(load.problems)} load problems:", *load.problems[:10], f"{len(errs)} violations:"]
        + errs[:60]
        + [explain(tables, load.problems + errs)]
    )
    assert not any(left.values()), f"not settled after {SETTLE_TIMEOUT_S} s: {left}"
    assert len(kills) == sum(KILLS.values()), kills
    assert all(p.alive for p in cluster.procs)
    assert seen["items"] == ITEMS and seen["conflict_groups"] >= 10
    assert {"reminder", "overdue", "supervise", "summon"} <= set(seen["ladder"])
