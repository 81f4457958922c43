"""The what-if command: simulate a scenario against the baseline."""

from __future__ import annotations

from pathlib import Path

from .common import _date, _open, _print_json, _terminal_bar


def cmd_simulate(args) -> int:
    from ...whatif.scenarios import load_scenario, simulate

    scenario = load_scenario(Path(args.scenario))
    with _terminal_bar() as bar:
        summary = simulate(
            _open(args),
            scenario,
            args.from_date,
            args.to_date,
            out_dir=Path(args.out) if args.out else None,
            progress=bar,
        )
    _print_json(summary)
    return 0


def add_parsers(sub) -> None:
    s = sub.add_parser("simulate", help="bill cycles twice, baseline and what-if scenario, and compare")
    s.add_argument("scenario")
    s.add_argument("--from", dest="from_date", type=_date, required=True)
    s.add_argument("--to", dest="to_date", type=_date, required=True)
    s.add_argument("--out")
    s.set_defaults(func=cmd_simulate)
