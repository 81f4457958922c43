"""One SparkSession (local[2], no UI, few shuffle partitions) for every Spark test: starting one takes ~20 s."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def spark():
    # PySpark is pinned in the lock and Java installed by tasks.py: a missing one is a failure, never a skip.
    from engine.spark.session import spark_session

    session = spark_session("local[2]", shuffle_partitions=4)
    yield session
    session.stop()
