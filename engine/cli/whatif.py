"""The what-if command: simulate a scenario against the baseline."""

from __future__ import annotations

from ..service import whatif
from .common import Context, _date


def cmd_simulate(args, ctx: Context) -> int:
    scenario = whatif.scenario_file(ctx.path(args.scenario))
    with ctx.terminal_bar() as bar:
        summary = whatif.simulate_file(
            ctx.session(),
            scenario,
            args.from_date,
            args.to_date,
            out_dir=ctx.path(args.out) if args.out else None,
            progress=bar,
        )
    if summary.get("comparison_csv"):
        summary["comparison_csv"] = ctx.shown(summary["comparison_csv"], args.out)
    ctx.print_json(summary)
    return 0


def add_parsers(sub) -> None:
    s = sub.add_parser("simulate", help="bill cycles twice, baseline and what-if scenario, and compare")
    s.add_argument("scenario")
    s.add_argument("--from", dest="from_date", type=_date, required=True)
    s.add_argument("--to", dest="to_date", type=_date, required=True)
    s.add_argument("--out")
    s.set_defaults(func=cmd_simulate)
