"""What-if scenarios (spec section 7) on the spec's worked 'basics' data, billed 2026-01-01 .. 2026-04-30.

    contract  currency  lines (product)                                     cycles in range
    K-FLAT    USD       L-FLAT Platform 99.00, L-SEATS Seats 7 × 12.50 −20%  Jan Feb Mar Apr
    K-STUB    USD       L-STUB Platform 50.00 (stub Mar 10–31 = 22/31),      Mar 10 (stub), Apr
                        L-SETUP Onboarding 300.00 one-time
    K-END31   USD       L-31 Platform 100.00 (anchor 31)                      Jan 31, Feb 28, Mar 31, Apr 30
    K-YEN     JPY       L-YEN Platform 10000 (stub Mar 10–31)                Mar 10 (stub), Apr
    K-TIERS   CAD       L-GRAD API calls graduated, L-VOL Storage volume,    Jan Feb Mar Apr
                        L-PKG SMS package, L-PCT Payments percentage
    K-MIN     CAD       L-HOURS Consulting 0.10/event, minimum 500          Jan Feb Mar Apr

Each change must move exactly the lines it selects; everything else stays as it was.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from helpers_data import SPEC_SCENARIO

import engine.whatif.scenarios as scenarios_module
from engine.billing.invoice_store import line_from_row
from engine.cli import main as cli_main
from engine.db import connect
from engine.errors import NotFoundError, ScenarioError, ValidationError
from engine.ingest.importer import import_folder
from engine.money import round_minor
from engine.rating.pipeline import rate_targets
from engine.rating.targets import targets_for_range
from engine.whatif.saved import delete_scenario, get_saved_scenario, get_scenario, list_scenarios, save_scenario
from engine.whatif.scenarios import (
    load_scenario,
    parse_scenario,
    run_simulation,
    simulate,
    waterfall_by_change,
)

FROM, TO = dt.date(2026, 1, 1), dt.date(2026, 4, 30)
HEADER = "contract_id,customer_id,product,line_id,kind,currency,period_start,baseline_amount,scenario_amount,delta"


@pytest.fixture
def data(con, basics_folder):
    import_folder(con, basics_folder)
    return con


def scenario(*changes: dict, name: str = "test"):
    return parse_scenario({"name": name, "changes": list(changes)})


def rows_of(con, *changes: dict, **kw) -> list[dict]:
    sim = run_simulation(con, scenario(*changes), FROM, TO, **kw)
    return sim.rows.to_dict("records")


def day(row: dict) -> str:
    return str(row["period_start"])[:10]


def key(row: dict) -> tuple:
    line_id = row["line_id"] if isinstance(row["line_id"], str) else None  # a true-up has none
    return row["contract_id"], day(row), line_id, row["kind"]


def by_key(rows: list[dict]) -> dict[tuple, dict]:
    return {key(r): r for r in rows}


def assert_only(rows: list[dict], moved, expected: dict[tuple, int] | None = None) -> None:
    """Rows selected by `moved` change (to `expected` minor amounts when given); no other row moves.

    The selected rows must be there, every expected row among them, and at least one must move: a change
    whose rows vanished from the comparison must fail here, not pass for having nothing to check."""
    selected = {key(r): r for r in rows if moved(r)}
    assert selected, "no row is selected: the rows the change should move are missing"
    assert any(r["scenario_minor"] != r["baseline_minor"] for r in selected.values()), "no selected row moved"
    for k, minor in (expected or {}).items():
        assert k in selected, f"{k} is missing from the selected rows"
        assert selected[k]["scenario_minor"] == minor, k
    for r in rows:
        if not moved(r):
            assert r["scenario_minor"] == r["baseline_minor"], f"{key(r)} moved but should not"


@pytest.fixture
def baseline(data) -> dict[tuple, object]:
    """The stored data's invoice lines of every cycle in range (as a preview explains them), by
    (contract, period_start, line_id)."""
    targets_for_range(data, FROM, TO)
    rate_targets(data)
    cur = data.execute("SELECT l.*, c.currency FROM _rated_lines l JOIN contracts c USING (contract_id)")
    cols = [c[0] for c in cur.description]
    rows = [dict(zip(cols, v, strict=True)) for v in cur.fetchall()]
    return {(r["contract_id"], str(r["period_start"]), r["line_id"]): line_from_row(r, r["currency"]) for r in rows}


def exact_baseline(baseline: dict, row: dict) -> Fraction:
    """The line's exact (unrounded) baseline amount, re-derived from its explanation:
    tiered = Σ tier amounts (0 when no tier applies); otherwise
    quantity × unit_price × proration × (100 − discount) / 100."""
    line = baseline[(row["contract_id"], day(row), row["line_id"])]
    if line.pricing_model in ("graduated", "volume"):
        return sum((Fraction(t.amount) for t in line.tiers or []), Fraction(0))
    proration = Fraction(line.proration_factor) if line.proration_factor else Fraction(1)
    discount = Fraction(line.discount_percent or 0)
    return Fraction(line.quantity) * Fraction(line.unit_price) * proration * (100 - discount) / 100


# --- price ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("product", ["Platform", "API calls"])
def test_price_percent_moves_only_that_products_lines_each_by_exactly_ten_percent_before_rounding(
    data, baseline, product
):
    rows = rows_of(data, {"type": "price", "product": product, "percent": 10})
    moved = [r for r in rows if r["product"] == product]
    assert moved
    for r in moved:
        exact = exact_baseline(baseline, r)
        assert r["baseline_minor"] == round_minor(exact, r["currency"])
        assert r["scenario_minor"] == round_minor(exact * Fraction(11, 10), r["currency"]), key(r)
    assert_only(rows, lambda r: r["product"] == product)


def test_price_percent_is_applied_before_rounding_not_to_the_rounded_amount(data):
    """L-YEN: 10000 × 22/31 = 7096.77… → 7097; × 1.1 = 7806.45… → 7806 (not round(7097 × 1.1) = 7807)."""
    rows = by_key(rows_of(data, {"type": "price", "product": "Platform", "percent": 10}))
    yen = rows[("K-YEN", "2026-03-10", "L-YEN", "recurring")]
    assert (yen["baseline_minor"], yen["scenario_minor"]) == (7097, 7806)


def test_price_percent_scales_a_percentage_lines_rate_and_fixed_fee(data):
    """L-PCT March: 399.99 × 2.5% + 3 × 0.30 = 10.89975 → 10.90; +10%: 11.989725 → 11.99."""
    rows = rows_of(data, {"type": "price", "line_id": "L-PCT", "percent": 10})
    assert_only(rows, lambda r: r["line_id"] == "L-PCT", {("K-TIERS", "2026-03-01", "L-PCT", "usage"): 1199})
    assert by_key(rows)[("K-TIERS", "2026-03-01", "L-PCT", "usage")]["baseline_minor"] == 1090


def test_price_unit_price_sets_the_line_and_later_changes_apply_on_top(data):
    rows = rows_of(data, {"type": "price", "line_id": "L-FLAT", "unit_price": "120.00"})
    assert_only(
        rows,
        lambda r: r["line_id"] == "L-FLAT",
        {("K-FLAT", f"2026-0{m}-01", "L-FLAT", "recurring"): 12000 for m in range(1, 5)},
    )
    rows = rows_of(
        data,
        {"type": "price", "line_id": "L-FLAT", "unit_price": "120.00"},
        {"type": "price", "line_id": "L-FLAT", "percent": "10"},
    )
    assert by_key(rows)[("K-FLAT", "2026-02-01", "L-FLAT", "recurring")]["scenario_minor"] == 13200


def test_price_without_product_or_line_scales_every_line(data, baseline):
    """−50% on everything: every line halves before rounding (L-PCT March 10.89975 / 2 → 5.45)."""
    rows = rows_of(data, {"type": "price", "percent": "-50"})
    for r in rows:
        if r["line_id"] == "L-PCT" and day(r) == "2026-03-01":
            assert r["scenario_minor"] == 545
        elif r["line_id"] in ("L-PKG", "L-PCT"):
            assert r["scenario_minor"] == round_minor(Fraction(r["baseline_minor"], 200), r["currency"])
        elif r["kind"] != "minimum_commitment_true_up":
            assert r["scenario_minor"] == round_minor(exact_baseline(baseline, r) / 2, r["currency"]), key(r)


# --- usage ------------------------------------------------------------------------------------------


def test_usage_of_one_metric_grows_only_its_lines(data):
    """api_calls +25%: March 1500 → 1875: 100 × 1.00 + 900 × 0.50 + 5 + 875 × 0.10 = 642.50;
    February 9999 → 12498.75: 555 + 11498.75 × 0.10 = 1704.875 → 1704.88."""
    rows = rows_of(data, {"type": "usage", "metric": "api_calls", "percent": 25})
    assert_only(
        rows,
        lambda r: r["line_id"] == "L-GRAD",
        {
            ("K-TIERS", "2026-03-01", "L-GRAD", "usage"): 64250,
            ("K-TIERS", "2026-02-01", "L-GRAD", "usage"): 170488,
            ("K-TIERS", "2026-01-01", "L-GRAD", "usage"): 0,
        },
    )


def test_usage_of_all_metrics_grows_approved_quantities_only(data):
    """+25% on every metric, March:
    storage max 2500 → 3125 × 0.015 = 46.875 → 46.88;  sms 2600 → 3250: ceil(2750/1000) = 3 packs = 150.00;
    payments 399.99 → 499.9875 × 2.5% + 3 × 0.30 = 13.3996875 → 13.40 (pending U11 still not billed);
    events 1234 → 1542.5 × 0.10 = 154.25 (pending U14 and rejected U13 not billed) → true-up 345.75."""
    rows = by_key(rows_of(data, {"type": "usage", "percent": 25}))
    expect = {
        ("K-TIERS", "2026-03-01", "L-VOL", "usage"): 4688,
        ("K-TIERS", "2026-03-01", "L-PKG", "usage"): 15000,
        ("K-TIERS", "2026-03-01", "L-PCT", "usage"): 1340,
        ("K-MIN", "2026-03-01", "L-HOURS", "usage"): 15425,
        ("K-MIN", "2026-03-01", None, "minimum_commitment_true_up"): 34575,
    }
    for k, minor in expect.items():
        assert rows[k]["scenario_minor"] == minor, k
    for r in rows.values():
        if r["kind"] not in ("usage", "minimum_commitment_true_up"):
            assert r["scenario_minor"] == r["baseline_minor"]


def test_usage_changes_compound_and_exact_percents_need_no_float(data):
    """api_calls +10% and every metric +10% again: March 1500 × 1.21 = 1815 → 555 + 815 × 0.10 = 636.50;
    a percent written as "10.0" is 10."""
    rows = by_key(
        rows_of(data, {"type": "usage", "metric": "api_calls", "percent": "10.0"}, {"type": "usage", "percent": 10})
    )
    assert rows[("K-TIERS", "2026-03-01", "L-GRAD", "usage")]["scenario_minor"] == 63650


# --- tiers, churn, minimum commitment, proration ------------------------------------------------------


def test_tiers_replacement_reprices_only_that_line(data):
    """New tiers (0, 500] 0.90, (500, ∞) 0.05: March 1500 → 450 + 50 = 500.00; Feb 9999 → 450 + 474.95."""
    rows = rows_of(data, SPEC_SCENARIO["changes"][3])
    assert_only(
        rows,
        lambda r: r["line_id"] == "L-GRAD",
        {("K-TIERS", "2026-03-01", "L-GRAD", "usage"): 50000, ("K-TIERS", "2026-02-01", "L-GRAD", "usage"): 92495},
    )


def test_churned_contracts_drop_out(data):
    rows = rows_of(data, {"type": "churn", "contract_ids": ["K-MIN"]})
    churned = [r for r in rows if r["contract_id"] == "K-MIN"]
    assert len(churned) == 8  # 4 cycles × (usage line + true-up)
    assert all(r["scenario_minor"] == 0 and r["customer_id"] == "CUS-BOREAL" for r in churned)
    assert sum(r["baseline_minor"] for r in churned) == 50000 * 4  # the minimum was billed every cycle
    assert_only(rows, lambda r: r["contract_id"] == "K-MIN")


def test_minimum_commitment_adds_a_true_up_row_missing_from_the_baseline(data):
    """K-FLAT minimum 1000, January: 99.00 + 70.00 = 169.00 → true-up 831.00 (baseline has no such line)."""
    rows = rows_of(data, {"type": "minimum_commitment", "contract_id": "K-FLAT", "amount": "1000"})
    true_up = by_key(rows)[("K-FLAT", "2026-01-01", None, "minimum_commitment_true_up")]
    assert (true_up["baseline_minor"], true_up["scenario_minor"]) == (0, 83100)
    assert_only(rows, lambda r: r["contract_id"] == "K-FLAT" and r["kind"] == "minimum_commitment_true_up")


def test_minimum_commitment_removed_with_a_null_amount(data):
    rows = rows_of(data, {"type": "minimum_commitment", "contract_id": "K-MIN", "amount": None})
    ups = [r for r in rows if r["contract_id"] == "K-MIN" and r["kind"] == "minimum_commitment_true_up"]
    assert ups and all(r["scenario_minor"] == 0 < r["baseline_minor"] for r in ups)
    assert_only(rows, lambda r: r["kind"] == "minimum_commitment_true_up")


def test_proration_none_bills_stub_cycles_whole(data):
    """Stubs Mar 10–31: L-STUB 35.48 → 50.00, L-YEN 7097 → 10000; full cycles do not move."""
    rows = rows_of(data, {"type": "proration", "value": "none"})
    assert_only(
        rows,
        lambda r: day(r) == "2026-03-10",
        {("K-STUB", "2026-03-10", "L-STUB", "recurring"): 5000, ("K-YEN", "2026-03-10", "L-YEN", "recurring"): 10000},
    )
    assert by_key(rows)[("K-STUB", "2026-03-10", "L-STUB", "recurring")]["baseline_minor"] == 3548


# --- validation ---------------------------------------------------------------------------------------

ONE_TIER = {"up_to": None, "unit_price": "1"}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"type": "price", "product": "Widgets", "percent": 10}, "unknown product 'Widgets'"),
        ({"type": "price", "line_id": "L-NOPE", "percent": 10}, "unknown line 'L-NOPE'"),
        ({"type": "usage", "metric": "gpu_hours", "percent": 10}, "unknown metric 'gpu_hours'"),
        ({"type": "tiers", "line_id": "L-NOPE", "tiers": [ONE_TIER]}, "unknown line 'L-NOPE'"),
        ({"type": "tiers", "line_id": "L-FLAT", "tiers": [ONE_TIER]}, "not graduated or volume"),
        ({"type": "churn", "contract_ids": ["K-FLAT", "K-GONE"]}, "unknown contract(s) 'K-GONE'"),
        ({"type": "minimum_commitment", "contract_id": "K-GONE", "amount": "5"}, "unknown contract 'K-GONE'"),
        ({"type": "price", "product": "API calls", "unit_price": "1.00"}, "L-GRAD (graduated)"),
    ],
)
def test_a_scenario_naming_what_the_data_does_not_have_is_rejected(data, change, named):
    with pytest.raises(ScenarioError) as err:
        simulate(data, scenario(change), FROM, TO)
    assert named in str(err.value)


def test_every_problem_is_reported_at_once(data):
    with pytest.raises(ScenarioError) as err:
        simulate(
            data,
            scenario(
                {"type": "price", "product": "Widgets", "percent": 1}, {"type": "churn", "contract_ids": ["K-GONE"]}
            ),
            FROM,
            TO,
        )
    assert "Widgets" in str(err.value) and "K-GONE" in str(err.value)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"type": "tiers", "line_id": "L-GRAD", "tiers": [ONE_TIER, ONE_TIER]}, "exactly one tier"),
        ({"type": "tiers", "line_id": "L-GRAD", "tiers": [ONE_TIER, {"up_to": "10", "unit_price": "2"}]}, "the last"),
        ({"type": "tiers", "line_id": "L-GRAD", "tiers": [{"up_to": "10", "unit_price": "1"}]}, "unbounded"),
        (
            {
                "type": "tiers",
                "line_id": "L-GRAD",
                "tiers": [{"up_to": "10", "unit_price": "1"}, {"up_to": "10", "unit_price": "1"}, ONE_TIER],
            },
            "strictly increasing",
        ),
        ({"type": "tiers", "line_id": "L-GRAD", "tiers": []}, "at least one tier"),
        ({"type": "price", "product": "Platform"}, "exactly one of 'percent' or 'unit_price'"),
        ({"type": "price", "product": "Platform", "line_id": "L-FLAT", "percent": 1}, "not both"),
        ({"type": "price", "percent": "-101"}, "at least -100"),
        ({"type": "price", "line_id": "L-FLAT", "unit_price": "0.0000000000001"}, "more than 12 decimal places"),
        ({"type": "usage", "percent": 10, "metrc": "x"}, "metrc"),
        ({"type": "discount", "percent": 10}, "discount"),
        ({"type": "proration", "value": "daily"}, "value"),
    ],
)
def test_malformed_changes_are_rejected_with_a_clear_error(body, named):
    with pytest.raises(ScenarioError) as err:
        scenario(body)
    assert named in str(err.value)


def test_load_scenario_reads_decimals_exactly(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(
        '{"name": "n", "changes": [{"type": "price", "percent": "10.1"}, {"type": "usage", "percent": 25}]}'
    )
    assert [c.percent for c in load_scenario(path).changes] == [Decimal("10.1"), Decimal(25)]
    path.write_text('{"name": "n", "changes": [{"type": "price", "percent": 10.1}]}')  # a JSON number: inexact
    with pytest.raises(ScenarioError, match="percent: give the number as a decimal string"):
        load_scenario(path)
    path.write_text("{not json")
    with pytest.raises(ScenarioError, match="not valid JSON"):
        load_scenario(path)


# --- the stored data, the comparison and the CLI -----------------------------------------------------


def _file_state(path):
    files = sorted(p.name for p in path.parent.iterdir())
    return hashlib.sha256(path.read_bytes()).hexdigest(), files


def test_stored_data_is_byte_for_byte_unchanged_after_a_simulation(basics_folder, tmp_path, capsys):
    db_path = tmp_path / "db" / "workbench.duckdb"
    con = connect(db_path)
    import_folder(con, basics_folder)
    con.close()
    before = _file_state(db_path)
    con = connect(db_path)
    summary = simulate(con, parse_scenario(SPEC_SCENARIO), FROM, TO, out_dir=tmp_path / "out")
    waterfall_by_change(con, parse_scenario(SPEC_SCENARIO), FROM, TO)
    overlays = "SELECT count(*) FROM duckdb_databases() WHERE database_name LIKE 'scn_%'"
    assert con.execute(overlays).fetchone()[0] == 0  # every overlay was detached
    con.close()
    assert summary["rows"] > 0
    assert _file_state(db_path) == before
    scn = tmp_path / "s.json"
    scn.write_text(json.dumps(SPEC_SCENARIO))
    assert cli_main(["--db", str(db_path), "simulate", str(scn), "--from", str(FROM), "--to", str(TO)]) == 0
    assert _file_state(db_path) == before


def test_cli_simulate_writes_comparison_csv_whose_rows_sum_to_the_printed_totals(
    db_path, basics_folder, tmp_path, capsys
):
    con = connect(db_path)
    import_folder(con, basics_folder)
    con.close()
    scn = tmp_path / "s.json"
    scn.write_text(json.dumps(SPEC_SCENARIO))
    out = tmp_path / "out"
    code = cli_main(
        ["--db", str(db_path), "simulate", str(scn), "--from", "2026-01-01", "--to", "2026-04-30", "--out", str(out)]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    text = (out / "comparison.csv").read_text()
    assert text.splitlines()[0] == HEADER
    rows = list(csv.DictReader(text.splitlines()))
    assert len(rows) == summary["rows"] == sum(t["rows"] for t in summary["totals"])
    for t in summary["totals"]:
        mine = [r for r in rows if r["currency"] == t["currency"]]
        assert len(mine) == t["rows"]
        for col, total in (("baseline_amount", "baseline"), ("scenario_amount", "scenario"), ("delta", "delta")):
            assert sum((Decimal(r[col]) for r in mine), Decimal(0)) == Decimal(t[total])
        assert all(Decimal(r["scenario_amount"]) - Decimal(r["baseline_amount"]) == Decimal(r["delta"]) for r in mine)
    yen = next(r for r in rows if r["contract_id"] == "K-YEN" and r["period_start"] == "2026-03-10")
    assert (yen["baseline_amount"], yen["scenario_amount"], yen["delta"]) == ("7097", "10000", "2903")
    flat = next(r for r in rows if r["line_id"] == "L-FLAT" and r["period_start"] == "2026-01-01")
    assert (flat["baseline_amount"], flat["scenario_amount"], flat["delta"]) == ("99.00", "120.00", "21.00")
    assert {t["currency"] for t in summary["totals"]} == {"CAD", "JPY", "USD"}


def test_cli_simulate_reports_a_bad_scenario_on_stderr(db_path, basics_folder, tmp_path, capsys):
    con = connect(db_path)
    import_folder(con, basics_folder)
    con.close()
    scn = tmp_path / "s.json"
    scn.write_text(json.dumps({"name": "bad", "changes": [{"type": "churn", "contract_ids": ["K-GONE"]}]}))
    code = cli_main(["--db", str(db_path), "simulate", str(scn), "--from", str(FROM), "--to", str(TO)])
    assert code == 2
    assert "K-GONE" in capsys.readouterr().err


def test_scope_restricts_the_simulation_to_the_chosen_contracts(data):
    rows = rows_of(data, {"type": "price", "percent": 10}, contract_ids=["K-FLAT"])
    assert {r["contract_id"] for r in rows} == {"K-FLAT"}
    with pytest.raises(ScenarioError, match="K-GONE"):
        rows_of(data, contract_ids=["K-GONE"])


def test_a_scenario_without_changes_equals_the_baseline(data):
    summary = simulate(data, scenario(), FROM, TO)
    assert {t["currency"] for t in summary["totals"]} == {"CAD", "JPY", "USD"}  # no currency may drop out
    for t in summary["totals"]:
        assert Decimal(t["baseline"]) > 0 and t["scenario"] == t["baseline"] and Decimal(t["delta"]) == 0, t


@pytest.mark.parametrize(
    ("change", "rerated"),
    [
        ({"type": "churn", "contract_ids": ["K-MIN"]}, 4),
        ({"type": "price", "product": "API calls", "percent": 10}, 4),  # K-TIERS
        ({"type": "usage", "metric": "events", "percent": 10}, 4),  # K-MIN
        ({"type": "minimum_commitment", "contract_id": "K-FLAT", "amount": "1000"}, 4),
        ({"type": "price", "product": "Platform", "percent": 10}, 12),  # K-FLAT 4, K-STUB 2, K-END31 4, K-YEN 2
        ({"type": "proration", "value": "none"}, 20),  # every contract row changes
    ],
)
def test_only_contracts_whose_inputs_change_are_rated_again(data, change, rerated):
    summary = simulate(data, scenario(change), FROM, TO)
    assert (summary["cycles"], summary["cycles_rerated"]) == (20, rerated)


def test_rating_only_the_touched_contracts_gives_the_same_comparison_as_rating_all(data, monkeypatch):
    import engine.whatif.scenarios as scenarios_module

    def mark_all(con, scn, stored):
        con.execute("CREATE OR REPLACE TEMP TABLE _scenario_affected AS SELECT contract_id FROM contracts")

    for changes in (SPEC_SCENARIO["changes"], [{"type": "price", "product": "Platform", "percent": 10}]):
        targeted = rows_of(data, *changes)
        with monkeypatch.context() as m:
            m.setattr(scenarios_module, "mark_affected_contracts", mark_all)
            everything = rows_of(data, *changes)
        assert targeted == everything


# --- aggregations --------------------------------------------------------------------------------------


def test_aggregations_add_up_to_the_totals(data):
    sim = run_simulation(data, parse_scenario(SPEC_SCENARIO), FROM, TO)
    totals = {t["currency"]: t for t in sim.summary["totals"]}
    for frame in (sim.by_month(), sim.by_product()):
        for cur, part in frame.groupby("currency"):
            for col in ("baseline", "scenario", "delta"):
                assert sum(part[col], Decimal(0)) == Decimal(totals[cur][col])
    march = sim.by_month().query("currency == 'JPY'").set_index("month")
    assert march.loc[dt.date(2026, 3, 1), "delta"] == Decimal("2903")
    movers = sim.movers(1)
    assert list(movers["currency"]) == ["CAD", "JPY", "USD"]
    assert movers.set_index("currency").loc["JPY", "delta_percent"] == Decimal("17.0")  # 2903 / 17097


def test_waterfall_by_change_steps_add_up_to_the_scenario(data):
    sc = parse_scenario(SPEC_SCENARIO)
    steps = waterfall_by_change(data, sc, FROM, TO)
    totals = {t["currency"]: t for t in simulate(data, sc, FROM, TO)["totals"]}
    for cur, part in steps.groupby("currency"):
        rel = part[part["measure"] == "relative"]
        assert list(rel["label"]) == sc.labels()
        base = part[part["label"] == "Baseline"]["amount"].iloc[0]
        end = part[part["label"] == "Scenario"]["amount"].iloc[0]
        assert base == Decimal(totals[cur]["baseline"]) and end == Decimal(totals[cur]["scenario"])
        assert base + sum(rel["amount"], Decimal(0)) == end
    usd = steps[steps["currency"] == "USD"].set_index("label")["amount"]
    assert usd["price line L-FLAT = 120.00"] == Decimal("84.00")  # 4 cycles × 21.00


def test_waterfall_by_change_carries_each_steps_tax_in_its_own_currency(data):
    """Each step's change of the invoices' tax, per currency: they add up to the simulation's tax totals."""
    sc = parse_scenario(SPEC_SCENARIO)
    steps = waterfall_by_change(data, sc, FROM, TO)
    taxes = {t["currency"]: t for t in simulate(data, sc, FROM, TO)["tax_totals"]}
    assert set(steps["currency"]) == set(taxes)
    for cur, part in steps.groupby("currency"):
        tax = part.set_index("measure")["tax"]
        rel = part[part["measure"] == "relative"]["tax"]
        assert tax["absolute"] == Decimal(taxes[cur]["baseline"]) and tax["total"] == Decimal(taxes[cur]["scenario"])
        assert tax["absolute"] + sum(rel, Decimal(0)) == tax["total"]
    assert any(t != 0 for t in steps[steps["measure"] == "relative"]["tax"])  # the scenario moves some tax


# --- saved scenarios ----------------------------------------------------------------------------------


def test_saved_scenarios_are_listed_rerun_and_deleted(data):
    sc = parse_scenario(SPEC_SCENARIO)
    save_scenario(data, sc)
    save_scenario(data, scenario({"type": "usage", "percent": "12.5"}, name="growth"))
    assert {s["name"] for s in list_scenarios(data)} == {sc.name, "growth"}
    again = get_scenario(data, sc.name)
    assert again == sc
    assert get_scenario(data, "growth").changes[0].percent == Decimal("12.5")
    assert simulate(data, again, FROM, TO)["totals"] == simulate(data, sc, FROM, TO)["totals"]
    save_scenario(data, scenario({"type": "usage", "percent": "15"}, name="growth"), replace=True)
    assert get_scenario(data, "growth").changes[0].percent == Decimal("15")
    delete_scenario(data, "growth")
    assert [s["name"] for s in list_scenarios(data)] == [sc.name]
    with pytest.raises(NotFoundError):
        get_scenario(data, "growth")
    with pytest.raises(NotFoundError):
        delete_scenario(data, "growth")


def test_saving_under_a_name_already_saved_is_refused_unless_replacing(data):
    """A trial lost a saved 3-change scenario: Save under the same name overwrote it without a word."""
    kept = scenario({"type": "usage", "percent": "12.5"}, {"type": "proration", "value": "none"}, name="FY27")
    save_scenario(data, kept)
    with pytest.raises(ScenarioError, match=r"'FY27' is already saved \(usage all metrics \+12.5%; proration") as exc:
        save_scenario(data, scenario({"type": "price", "percent": "50"}, name="FY27"))
    assert exc.value.code == "scenario_exists"
    assert get_scenario(data, "FY27") == kept  # untouched
    save_scenario(data, scenario({"type": "price", "percent": "50"}, name="FY27"), replace=True)
    assert get_scenario(data, "FY27").changes[0].type == "price"


def test_a_saved_scenario_keeps_its_range(data):
    """Re-run of a saved scenario billed the page's default range, not the one it was run and saved with."""
    sc = scenario({"type": "usage", "percent": "10"}, name="with range")
    save_scenario(data, sc, FROM, TO)
    save_scenario(data, scenario({"type": "usage", "percent": "5"}, name="no range"))
    held = get_saved_scenario(data, "with range")
    assert (held.scenario, held.from_date, held.to_date) == (sc, FROM, TO)
    assert (get_saved_scenario(data, "no range").from_date, get_saved_scenario(data, "no range").to_date) == (
        None,
        None,
    )
    listed = {s["name"]: (s["from_date"], s["to_date"]) for s in list_scenarios(data)}
    assert listed == {"with range": (FROM, TO), "no range": (None, None)}
    with pytest.raises(ValidationError, match="before it starts"):
        save_scenario(data, scenario({"type": "usage", "percent": "5"}, name="backwards"), TO, FROM)
    with pytest.raises(ValidationError, match="both dates"):
        save_scenario(data, scenario({"type": "usage", "percent": "5"}, name="half"), FROM, None)
    assert {s["name"] for s in list_scenarios(data)} == {"with range", "no range"}


def test_a_saved_scenario_with_json_numbers_loads_as_exact_decimals(data):
    """Billsim saves decimals as strings (scenario_json); a stored row whose numbers are JSON numbers (written by
    hand or another tool) still loads, read exactly: the rule against them is for what is given, not what is kept."""
    body = '{"name": "old", "changes": [{"type": "price", "percent": 10.1}, {"type": "usage", "percent": 1e1}]}'
    data.execute("INSERT INTO scenarios (name, body, saved_at) VALUES ('old', ?, ?)", [body, dt.datetime(2026, 1, 1)])
    try:
        assert [c.percent for c in get_scenario(data, "old").changes] == [Decimal("10.1"), Decimal(10)]
        assert "old" in {s["name"] for s in list_scenarios(data)}
    finally:
        delete_scenario(data, "old")
    with pytest.raises(ScenarioError, match="give the number as a decimal string"):
        parse_scenario(body)  # the same JSON given (a file, a request) is refused


def test_simulate_reports_progress_through_baseline_scenario_and_comparison(data):
    seen = []
    simulate(data, parse_scenario(SPEC_SCENARIO), FROM, TO, progress=lambda done, label: seen.append((done, label)))
    fractions = [d for d, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    labels = [label for _, label in seen]
    assert labels[1] == "billing the baseline" and labels[2].startswith("billing the scenario (")


def test_the_summary_says_through_which_day_usage_is_recorded(data):
    """A trial simulated next year: every usage line billed 0 and "usage +20 %" moved nothing, unwarned. The
    summary names the last day with usage of the simulated contracts, so every front end can say so."""
    growth = scenario({"type": "usage", "percent": "20"})
    assert simulate(data, growth, FROM, TO)["usage_through"] == "2026-04-01"  # every contract: K-TIERS's last
    assert simulate(data, growth, FROM, TO, contract_ids=["K-MIN"])["usage_through"] == "2026-03-12"
    assert simulate(data, growth, FROM, TO, contract_ids=["K-FLAT"])["usage_through"] is None  # none recorded
    # and the last day the range's cycles run to: the page warns when it is after usage_through
    assert simulate(data, growth, FROM, TO, contract_ids=["K-MIN"])["cycles_end"] == "2026-04-30"  # monthly cycles
    before_any = simulate(data, growth, dt.date(2020, 1, 1), dt.date(2020, 1, 31))  # no contract had started
    assert (before_any["cycles"], before_any["cycles_end"]) == (0, None)


def test_simulate_seconds_cover_writing_comparison_csv(data, tmp_path, monkeypatch):
    """The CLI's and HTTP's `seconds` left out writing comparison.csv. A clock that moves only while the file is
    written (100 s of it) shows the summary counting it."""
    clock = [0.0]
    write = scenarios_module.write_comparison_csv

    def slow_write(con, out_dir):
        clock[0] += 100.0
        return write(con, out_dir)

    monkeypatch.setattr(scenarios_module.time, "perf_counter", lambda: clock[0])
    monkeypatch.setattr(scenarios_module, "write_comparison_csv", slow_write)
    summary = simulate(data, scenario({"type": "usage", "percent": "10"}), FROM, TO, out_dir=tmp_path)
    assert summary["seconds"] == 100.0 and Path(summary["comparison_csv"]).exists()
