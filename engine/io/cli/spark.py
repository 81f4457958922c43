"""The Apache Spark commands: export-inputs, spark-run, import-drafts, spark-simulate."""

from __future__ import annotations

import contextlib
from pathlib import Path

from ...errors import ValidationError
from .common import _count, _date, _open, _print_json


def cmd_export_inputs(args) -> int:
    from ...spark.inputs import export_inputs

    _print_json(export_inputs(_open(args), Path(args.out)))
    return 0


def _spark(args):
    from ...spark.session import spark_session

    return spark_session(args.master)


@contextlib.contextmanager
def _spark_errors():
    """A Spark error (a missing input folder, a lost cluster) as one line, like every other error."""
    from pyspark.errors import PySparkException

    try:
        yield
    except PySparkException as exc:
        raise ValidationError(f"spark: {str(exc).strip().splitlines()[0]}") from None


def cmd_spark_run(args) -> int:
    from ...spark.run import spark_run

    with _spark_errors():
        summary = spark_run(
            _spark(args),
            args.inputs,
            args.period_date,
            args.out,
            partitions=args.partitions,
            include_delayed_charges=args.include_delayed_charges,
        )
    _print_json(summary)
    return 0


def cmd_import_drafts(args) -> int:
    from ...spark.import_drafts import import_drafts

    _print_json(import_drafts(_open(args), Path(args.folder), actor=getattr(args, "actor", None)))
    return 0


def cmd_spark_simulate(args) -> int:
    from ...spark.simulate import spark_simulate
    from ...whatif.scenarios import load_scenario

    scenario = load_scenario(Path(args.scenario))
    with _spark_errors():
        summary = spark_simulate(
            _spark(args), scenario, args.inputs, args.from_date, args.to_date, args.out, partitions=args.partitions
        )
    _print_json(summary)
    return 0


def add_parsers(sub) -> None:
    s = sub.add_parser("export-inputs", help="write the six input tables as Parquet (what spark-run reads)")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_export_inputs)

    spark_help = "Spark master URL (default local[2]; e.g. spark://host:7077, yarn, k8s://…)"
    parts_help = "partitions (tasks) the customers are hashed into (default: 2 × the cluster's cores)"
    s = sub.add_parser("spark-run", help="bill run on Apache Spark from Parquet inputs; invoices as Parquet")
    s.add_argument("--inputs", required=True, help="folder or URI of export-inputs' tables")
    s.add_argument("--period-date", type=_date, required=True)
    s.add_argument("--out", required=True, help="folder or URI for invoices, invoice_lines, failed, …")
    s.add_argument("--master", help=spark_help)
    s.add_argument("--partitions", type=_count, help=parts_help)
    s.add_argument("--include-delayed-charges", action="store_true")
    s.set_defaults(func=cmd_spark_run)

    s = sub.add_parser("import-drafts", help="import a spark-run's invoices as drafts of one run (idempotent)")
    s.add_argument("folder", help="the --out folder of billsim spark-run")
    s.set_defaults(func=cmd_import_drafts)

    s = sub.add_parser("spark-simulate", help="what-if scenario on Apache Spark; writes comparison Parquet/CSV")
    s.add_argument("scenario")
    s.add_argument("--inputs", required=True, help="folder or URI of export-inputs' tables")
    s.add_argument("--from", dest="from_date", type=_date, required=True)
    s.add_argument("--to", dest="to_date", type=_date, required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--master", help=spark_help)
    s.add_argument("--partitions", type=_count, help=parts_help)
    s.set_defaults(func=cmd_spark_simulate)
