"""One Run scenario, one baseline (issue 22): the simulation and its waterfall by change asked together
(`run_simulation(by_change=True)`, the application layer's `whatif.simulation(..., waterfall=True)`) give exactly
what `run_simulation` and `waterfall_by_change` give run apart, from ONE rating of the baseline and one rating per
change (the scenario, whose rating the comparison is built from, then the waterfall's steps 1..N−1). In two
stages (`simulation_stages`, the workbench's Run scenario) the comparison comes before any step is rated.

On the spec's worked 'basics' case (prices, usage, churn, tiers, minimum commitment, proration) and 'adjustments'
case (taxes and coupons), billed 2026-01-01 .. 2026-04-30. Counted, never timed: the calls of the module's baseline
and scenario ratings, through a spy that still rates.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest
from helpers_data import SPEC_SCENARIO

from engine.db import connect
from engine.ingest.importer import import_folder
from engine.service import Billsim, Caller, whatif
from engine.service.limits import MAX_WATERFALL_CHANGES
from engine.whatif.scenarios import parse_scenario, run_simulation, simulation_stages, waterfall_by_change

EXAMPLES = Path(__file__).resolve().parent / "examples"
FROM, TO = dt.date(2026, 1, 1), dt.date(2026, 4, 30)

ONE = [{"type": "price", "product": "API calls", "percent": "10"}]
THREE = [  # each touches other contracts: every step leaves other re-rated contracts in the temp tables
    {"type": "price", "product": "Platform", "percent": "10"},
    {"type": "usage", "metric": "api_calls", "percent": "25"},
    {"type": "churn", "contract_ids": ["K-MIN"]},
]
TAX_AND_COUPON = [
    {"type": "tax", "tax_code": "VAT19", "rate": "21"},
    {
        "type": "coupon",
        "coupon": {
            "coupon_id": "NEW10",
            "name": "New 10 %",
            "kind": "percentage",
            "percent": "10",
            "frequency": "forever",
        },
        "contract_ids": ["KA-2"],
        "applied_on": "2026-03-01",
    },
    {"type": "price", "line_id": "b", "unit_price": "25"},
]
CASES = {
    "one change": ("basics", ONE),
    "price, usage, churn": ("basics", THREE),
    "the spec's seven": ("basics", SPEC_SCENARIO["changes"]),
    "tax, coupon, price": ("adjustments", TAX_AND_COUPON),
}


def _import(con, case: str, tmp_path: Path):
    folder = tmp_path / case
    shutil.copytree(EXAMPLES / case, folder)
    import_folder(con, folder)
    return con


def _summary(sim) -> dict:
    return {k: v for k, v in sim.summary.items() if k not in ("seconds", "comparison_csv")}


@pytest.mark.parametrize("case", list(CASES))
def test_together_equals_apart_summary_rows_taxes_and_every_waterfall_step(con, tmp_path, case, count_ratings):
    data, changes = CASES[case]
    _import(con, data, tmp_path)
    sc = parse_scenario({"name": case, "changes": changes})

    apart = run_simulation(con, sc, FROM, TO, out_dir=tmp_path / "apart")
    steps = waterfall_by_change(con, sc, FROM, TO)
    assert apart.waterfall is None  # not asked
    assert count_ratings == {"baseline": 2, "scenario": 1 + len(changes)}
    together = run_simulation(con, sc, FROM, TO, out_dir=tmp_path / "together", by_change=True)
    assert count_ratings == {"baseline": 3, "scenario": 1 + len(changes) + len(changes)}  # one baseline more, N

    assert any(t["delta"] != "0" and t["delta"] != "0.00" for t in apart.summary["totals"])  # the scenario moves
    assert _summary(together) == _summary(apart)
    pd.testing.assert_frame_equal(together.rows, apart.rows)
    pd.testing.assert_frame_equal(together.tax_rows, apart.tax_rows)
    pd.testing.assert_frame_equal(together.waterfall, steps)
    assert list(steps[steps["measure"] == "relative"]["label"].unique()) == sc.labels()
    assert (tmp_path / "together" / "comparison.csv").read_bytes() == (
        tmp_path / "apart" / "comparison.csv"
    ).read_bytes()


def test_the_waterfalls_last_step_and_the_comparison_are_the_full_scenarios(con, tmp_path):
    """The steps rated before the scenario leave their own ratings in the temp tables: the comparison and the
    scenario's bar are the full scenario's (the summary's totals), each step what its change adds."""
    _import(con, "basics", tmp_path)
    sim = run_simulation(con, parse_scenario({"name": "three", "changes": THREE}), FROM, TO, by_change=True)
    totals = {t["currency"]: t for t in sim.summary["totals"]}
    taxes = {t["currency"]: t for t in sim.summary["tax_totals"]}
    for cur, part in sim.waterfall.groupby("currency"):
        by_measure = part.set_index("measure")
        assert str(by_measure.loc["absolute", "amount"]) == totals[cur]["baseline"]
        assert str(by_measure.loc["total", "amount"]) == totals[cur]["scenario"]
        assert str(by_measure.loc["total", "tax"]) == taxes[cur]["scenario"]
        assert (
            by_measure.loc["absolute", "amount"] + part[part["measure"] == "relative"]["amount"].sum()
            == (by_measure.loc["total", "amount"])
        )
    # the churned contract's rows are 0 in the scenario: the comparison is not that of changes 1..2
    churned = sim.rows[sim.rows["contract_id"] == "K-MIN"]
    assert len(churned) and (churned["scenario_minor"] == 0).all() and (churned["baseline_minor"] != 0).any()
    platform = sim.rows[(sim.rows["product"] == "Platform") & (sim.rows["contract_id"] != "K-MIN")]
    assert (platform["scenario_minor"] != platform["baseline_minor"]).any()


def test_the_waterfall_alone_rates_the_baseline_once_and_each_change_once(con, tmp_path, count_ratings):
    _import(con, "basics", tmp_path)
    waterfall_by_change(con, parse_scenario({"name": "three", "changes": THREE}), FROM, TO)
    assert count_ratings == {"baseline": 1, "scenario": 3}  # steps 1, 2 and the scenario (step 0: the baseline)


def test_a_scenario_without_change_has_a_waterfall_of_its_baseline(con, tmp_path, count_ratings):
    _import(con, "basics", tmp_path)
    sc = parse_scenario({"name": "nothing", "changes": []})
    sim = run_simulation(con, sc, FROM, TO, by_change=True)
    assert count_ratings == {"baseline": 1, "scenario": 1}
    pd.testing.assert_frame_equal(sim.waterfall, waterfall_by_change(con, sc, FROM, TO))
    assert list(sim.waterfall["measure"]) == ["absolute", "total"] * 3  # CAD, JPY, USD
    totals = {t["currency"]: t["baseline"] for t in sim.summary["totals"]}
    assert {c: str(a) for c, a in zip(sim.waterfall["currency"], sim.waterfall["amount"], strict=True)} == totals


@pytest.fixture
def app(db_path, tmp_path):
    con = connect(db_path)
    _import(con, "basics", tmp_path)
    con.close()
    with Billsim.open(db_path) as opened:
        yield opened


def test_the_application_layers_one_call_rates_the_baseline_once_and_reports_each_rating(app, count_ratings):
    s = app.session(Caller.local("t"))
    seen = []
    sc = parse_scenario({"name": "three", "changes": THREE})
    sim = whatif.simulation(s, sc, FROM, TO, waterfall=True, progress=lambda done, label: seen.append((done, label)))
    assert count_ratings == {"baseline": 1, "scenario": 3}  # main's page: simulation + waterfall = 2 and 5
    assert sim.waterfall is not None and set(sim.waterfall["label"]) >= set(sc.labels())
    fractions = [d for d, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert [label.split(" (")[0] for _, label in seen] == [
        "checking the scenario",
        "looking for the billing as stored of the last run over the same data and range",
        "billing the baseline",
        "billing the scenario",
        "comparing line by line",
        "compared",
        "working out what drives the change",
        "working out what drives the change",
        "worked out what drives the change",
    ]
    assert [label for _, label in seen][6:8] == [
        "working out what drives the change (1 of 3 changes applied)",
        "working out what drives the change (2 of 3 changes applied)",
    ]


def test_the_application_layers_second_call_over_the_same_data_rates_the_scenario_only_and_says_so(app, count_ratings):
    """Issue 22: the application keeps the last baseline (engine/whatif/kept_baseline.py): run again over the same
    data and range, only the scenario and its steps are rated, and the progress says the billing as stored is the
    last run's."""
    s = app.session(Caller.local("t"))
    sc = parse_scenario({"name": "three", "changes": THREE})
    first = whatif.simulation(s, sc, FROM, TO, waterfall=True)
    assert count_ratings == {"baseline": 1, "scenario": 3}
    seen = []
    again = whatif.simulation(s, sc, FROM, TO, waterfall=True, progress=lambda done, label: seen.append(label))
    assert count_ratings == {"baseline": 1, "scenario": 6}  # no second baseline
    assert again.summary["baseline_kept"] and not first.summary["baseline_kept"]
    assert "billing the baseline" not in seen
    assert [label for label in seen if label.startswith("billing the scenario")] == [
        "billing the scenario (20 cycles in the range; as stored: the billing of the last run, kept)"
    ]
    pd.testing.assert_frame_equal(again.waterfall, first.waterfall)
    pd.testing.assert_frame_equal(again.rows, first.rows)


def test_beyond_the_limit_of_changes_the_one_call_rates_no_step(app, count_ratings):
    """More changes than MAX_WATERFALL_CHANGES: no waterfall by change, the simulation alone (two ratings)."""
    s = app.session(Caller.local("t"))
    many = [{"type": "price", "product": "Platform", "percent": str(i)} for i in range(1, MAX_WATERFALL_CHANGES + 2)]
    sim = whatif.simulation(s, parse_scenario({"name": "many", "changes": many}), FROM, TO, waterfall=True)
    assert sim.waterfall is None and count_ratings == {"baseline": 1, "scenario": 1}
    at_limit = parse_scenario({"name": "eight", "changes": many[:MAX_WATERFALL_CHANGES]})
    sim = whatif.simulation(s, at_limit, FROM, TO, waterfall=True)
    assert list(sim.waterfall[sim.waterfall["currency"] == "USD"]["label"])[1:-1] == at_limit.labels()
    # the same data and range: the application's kept baseline, not a second rating of it
    assert count_ratings == {"baseline": 1, "scenario": 1 + MAX_WATERFALL_CHANGES}


def test_in_two_stages_the_comparison_comes_before_any_step_is_rated(con, tmp_path, count_ratings):
    """The What-if page shows the results while the waterfall is worked out: the first stage has rated the
    baseline and the scenario only; the second rates the steps 1..N−1 from the same baseline, and both together
    give what the one call gives."""
    _import(con, "basics", tmp_path)
    sc = parse_scenario({"name": "three", "changes": THREE})
    seen = []
    stages = simulation_stages(
        con, sc, FROM, TO, out_dir=tmp_path / "staged", by_change=True, steps_progress=lambda d, _: seen.append(d)
    )
    first = next(stages)
    assert first.waterfall is None and first.waterfall_seconds is None
    assert count_ratings == {"baseline": 1, "scenario": 1}  # nothing rated for the steps yet
    rows, csv = first.rows.copy(), (tmp_path / "staged" / "comparison.csv").read_bytes()
    second = next(stages)
    assert second is first and count_ratings == {"baseline": 1, "scenario": 3}
    assert second.waterfall_seconds is not None and seen[-1] == 1.0
    assert next(stages, None) is None
    pd.testing.assert_frame_equal(second.rows, rows)  # the steps replaced the temp tables, not the results

    together = run_simulation(con, sc, FROM, TO, out_dir=tmp_path / "together", by_change=True)
    assert _summary(together) == _summary(second)
    pd.testing.assert_frame_equal(together.rows, rows)
    pd.testing.assert_frame_equal(together.waterfall, second.waterfall)
    assert (tmp_path / "together" / "comparison.csv").read_bytes() == csv


def test_without_by_change_there_is_one_stage(con, tmp_path, count_ratings):
    _import(con, "basics", tmp_path)
    stages = list(simulation_stages(con, parse_scenario({"name": "three", "changes": THREE}), FROM, TO))
    assert len(stages) == 1 and stages[0].waterfall is None and count_ratings == {"baseline": 1, "scenario": 1}


def test_the_comparison_frames_carry_dates_text_and_exact_minor_units(con, tmp_path):
    """The page's aggregations read the frames: a cycle starts on a date (never a timestamp at midnight), the
    amounts are integers of minor units, the names are text."""
    _import(con, "adjustments", tmp_path)
    sim = run_simulation(con, parse_scenario({"name": "tax, coupon, price", "changes": TAX_AND_COUPON}), FROM, TO)
    for frame in (sim.rows, sim.tax_rows):
        assert len(frame)
        starts = set(frame["period_start"])
        assert all(type(d) is dt.date for d in starts) and min(starts) >= FROM
        for column in ("baseline_minor", "scenario_minor", "delta_minor"):
            assert pd.api.types.is_integer_dtype(frame[column]), column
        assert (frame["delta_minor"] == frame["scenario_minor"] - frame["baseline_minor"]).all()
    for column in ("contract_id", "line_id", "kind", "currency", "customer_name"):
        assert sim.rows[column].dropna().map(type).eq(str).all() and "None" not in set(sim.rows[column]), column
