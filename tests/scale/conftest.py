"""Fixtures of the multi-process tests: the processes and the recording receiver."""

import pytest

from tests.receiver import Receiver, first_tries_fail
from tests.scale.cluster import Cluster
from tests.scale.scenario import SEED, cluster_env


@pytest.fixture
def scale_receiver():
    r = Receiver(first_tries_fail(SEED, rate=0.1))
    yield r
    r.close()


@pytest.fixture
def cluster(database_url, settings_env, tmp_path):
    """3 ``rectify serve --no-worker`` + 2 ``rectify worker`` on the test's database.

    The first API process starts alone, then the rest at once (see
    ``Cluster.start``); all are stopped on the way out, whatever happened.
    """
    c = Cluster(cluster_env(database_url, tmp_path / "evidence"), tmp_path / "procs")
    try:
        c.start()
        yield c
    finally:
        c.stop()
