"""The Apache Spark commands: export-inputs, spark-run, import-drafts, spark-simulate."""

from __future__ import annotations

from ..service import spark, whatif
from .common import Context, _count, _date


def cmd_export_inputs(args, ctx: Context) -> int:
    ctx.print_json(spark.export_inputs(ctx.session(), ctx.path(args.out)))
    return 0


def cmd_spark_run(args, ctx: Context) -> int:
    summary = spark.bill_on_spark(
        args.inputs,
        args.period_date,
        args.out,
        master=args.master,
        partitions=args.partitions,
        include_delayed_charges=args.include_delayed_charges,
    )
    ctx.print_json(summary)
    return 0


def cmd_import_drafts(args, ctx: Context) -> int:
    ctx.print_json(spark.import_drafts(ctx.session(), ctx.path(args.folder)))
    return 0


def cmd_spark_simulate(args, ctx: Context) -> int:
    scenario = whatif.scenario_file(ctx.path(args.scenario))
    summary = spark.simulate_on_spark(
        scenario, args.inputs, args.from_date, args.to_date, args.out, master=args.master, partitions=args.partitions
    )
    ctx.print_json(summary)
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
