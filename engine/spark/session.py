"""A SparkSession for billsim: local mode unless a master URL is given, no UI, few shuffle partitions.

Spark's Python workers must run this interpreter (the one with the engine and DuckDB installed):
PYSPARK_PYTHON / PYSPARK_DRIVER_PYTHON are set in the process environment before the session starts
(the `spark.pyspark.python` conf alone is not enough). On a cluster, the workers' Python must have
billsim installed the same way (see docs/spark.md, "On a real cluster").
"""

from __future__ import annotations

import os
import sys

DEFAULT_MASTER = "local[2]"


def spark_session(master: str | None = None, *, shuffle_partitions: int = 8, app_name: str = "billsim"):
    """The active session if there is one (tests share one), else a new one on `master`."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    master = master or DEFAULT_MASTER
    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.sql.session.timeZone", "UTC")
    )
    if master.startswith("local"):  # this machine only: workers run this interpreter, nothing listens outside
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = builder.config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
    return builder.getOrCreate()
