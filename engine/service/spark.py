"""The same bill runs and what-ifs on Apache Spark (spec section 10), for a local user.

    export_inputs    the six input tables as Parquet (what a Spark run reads), with the data's fingerprint
    bill_on_spark    a bill run over Parquet inputs; invoices and lines as Parquet (no database involved)
    import_drafts    a Spark run's invoices into this ledger as drafts of one recorded run
    simulate_on_spark the what-if of section 7 over Parquet inputs

PySpark is an optional extra (`billsim[spark]`, a Java runtime): it is imported only by the functions that
start Spark, so everything else works without it. A Spark error is one line (ValidationError), like any other.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

from .. import limits
from ..errors import ValidationError
from ..spark.import_drafts import import_drafts as import_spark_drafts
from ..spark.inputs import export_inputs as export_spark_inputs
from ..spark.run import spark_run
from ..spark.session import spark_session
from ..spark.simulate import spark_simulate
from ..whatif.scenarios import Scenario
from . import tenancy
from .session import Session


@contextlib.contextmanager
def _spark(master: str | None) -> Iterator:
    """A SparkSession, with a Spark error (a missing input folder, a lost cluster) as one line."""
    from pyspark.errors import PySparkException  # optional heavy dependency: only when Spark is used

    try:
        yield spark_session(master)
    except PySparkException as exc:
        raise ValidationError(f"spark: {str(exc).strip().splitlines()[0]}") from None


def export_inputs(s: Session, out: Path) -> dict:
    tenancy.local_only(s.caller, "exporting the inputs for Spark")
    with s.cursor() as cur:
        return export_spark_inputs(cur, Path(out))


def bill_on_spark(
    inputs: str,
    period_date: dt.date,
    out: str,
    *,
    master: str | None = None,
    partitions: int | None = None,
    include_delayed_charges: bool = False,
) -> dict:

    limits.check_date(period_date, "period_date")
    with _spark(master) as spark:
        return spark_run(
            spark, inputs, period_date, out, partitions=partitions, include_delayed_charges=include_delayed_charges
        )


def import_drafts(s: Session, folder: Path) -> dict:
    tenancy.local_only(s.caller, "importing a Spark run's drafts")
    with s.cursor() as cur:
        return import_spark_drafts(cur, Path(folder), actor=s.actor)


def simulate_on_spark(
    scenario: Scenario,
    inputs: str,
    from_date: dt.date,
    to_date: dt.date,
    out: str,
    *,
    master: str | None = None,
    partitions: int | None = None,
) -> dict:

    limits.check_range(from_date, to_date)
    with _spark(master) as spark:
        return spark_simulate(spark, scenario, inputs, from_date, to_date, out, partitions=partitions)
