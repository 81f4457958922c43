"""The what-if baseline kept between simulations (issue 22, engine/whatif/kept_baseline.py): a simulation of the same
data, range and contracts as the last one takes its baseline instead of rating it again, and answers exactly what a
simulation without a kept baseline answers; any change of the data, the range or the contracts rates it again.

On the spec's worked 'basics' data (tests/test_scenarios.py), billed 2026-01-01 .. 2026-04-30.
"""

from __future__ import annotations

import datetime as dt

import pytest

import engine.whatif.kept_baseline as kept_module
import engine.whatif.scenarios as scenarios_module
from engine.ingest.importer import import_folder
from engine.whatif.kept_baseline import INPUTS, KeptBaseline, baseline_key
from engine.whatif.overlay import stored_schema
from engine.whatif.scenarios import parse_scenario, run_simulation, simulate

FROM, TO = dt.date(2026, 1, 1), dt.date(2026, 4, 30)
PRICE = {"type": "price", "percent": "10"}
USAGE = {"type": "usage", "percent": "25"}


@pytest.fixture
def data(con, basics_folder):
    import_folder(con, basics_folder)
    return con


def scenario(*changes: dict):
    return parse_scenario({"name": "kept", "changes": list(changes)})


def answer(summary: dict) -> dict:
    """What a simulation answers, but for how long it took and whether its baseline was kept."""
    return {k: v for k, v in summary.items() if k not in ("seconds", "baseline_kept")}


def comparison_rows(con) -> list[tuple]:
    return con.execute("SELECT * FROM _scenario_comparison ORDER BY ALL").fetchall()


def test_the_second_simulation_of_the_same_data_takes_the_baseline_and_answers_the_same(data):
    kept = KeptBaseline()
    fresh = simulate(data.cursor(), scenario(USAGE), FROM, TO)
    first_cur, second_cur = data.cursor(), data.cursor()
    first = simulate(first_cur, scenario(USAGE), FROM, TO, kept=kept)
    second = simulate(second_cur, scenario(USAGE), FROM, TO, kept=kept)  # another cursor: temp tables are per cursor
    assert (fresh["baseline_kept"], first["baseline_kept"], second["baseline_kept"]) == (False, False, True)
    assert answer(first) == answer(second) == answer(fresh)
    assert comparison_rows(second_cur) == comparison_rows(first_cur)
    # another scenario over the same data and range: the same baseline, its own changes
    other_cur = data.cursor()
    other = simulate(other_cur, scenario(PRICE), FROM, TO, kept=kept)
    assert other["baseline_kept"] is True
    assert answer(other) == answer(simulate(data.cursor(), scenario(PRICE), FROM, TO))
    assert [(t["currency"], t["baseline"]) for t in other["totals"]] == [
        (t["currency"], t["baseline"]) for t in fresh["totals"]
    ]


def test_the_baseline_is_not_rated_again_when_it_is_kept(data, monkeypatch):
    kept = KeptBaseline()
    simulate(data.cursor(), scenario(USAGE), FROM, TO, kept=kept)
    ratings = []
    rate = scenarios_module.rate_targets
    monkeypatch.setattr(
        scenarios_module, "rate_targets", lambda *a, **kw: ratings.append(kw.get("source")) or rate(*a, **kw)
    )
    simulate(data.cursor(), scenario(USAGE), FROM, TO, kept=kept)
    assert len(ratings) == 1 and ratings[0] != "main"  # the scenario's rating only (its overlay), never the stored


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE usage SET quantity = quantity + 1 WHERE rowid = (SELECT min(rowid) FROM usage)",
        "UPDATE order_lines SET unit_price = unit_price + 1 WHERE line_id = 'L-FLAT'",
        "UPDATE customers SET tax_rate = 20",
        "UPDATE contracts SET end_date = DATE '2026-02-28' WHERE contract_id = 'K-FLAT'",
    ],
)
def test_a_change_of_the_data_rates_the_baseline_again(data, change):
    kept = KeptBaseline()
    simulate(data.cursor(), scenario(USAGE), FROM, TO, kept=kept)
    data.execute(change)
    after = simulate(data.cursor(), scenario(USAGE), FROM, TO, kept=kept)
    assert after["baseline_kept"] is False
    assert answer(after) == answer(simulate(data.cursor(), scenario(USAGE), FROM, TO))


def test_another_range_or_other_contracts_rate_the_baseline_again(data):
    kept = KeptBaseline()
    simulate(data.cursor(), scenario(PRICE), FROM, TO, kept=kept)
    assert simulate(data.cursor(), scenario(PRICE), FROM, dt.date(2026, 3, 31), kept=kept)["baseline_kept"] is False
    some = ["K-FLAT", "K-MIN"]
    scoped = simulate(data.cursor(), scenario(PRICE), FROM, TO, contract_ids=some, kept=kept)
    assert scoped["baseline_kept"] is False
    assert answer(scoped) == answer(simulate(data.cursor(), scenario(PRICE), FROM, TO, contract_ids=some))
    again = simulate(data.cursor(), scenario(PRICE), FROM, TO, contract_ids=list(reversed(some)), kept=kept)
    assert again["baseline_kept"] is True  # the same contracts in another order
    assert simulate(data.cursor(), scenario(PRICE), FROM, TO, kept=kept)["baseline_kept"] is False  # one is kept


def test_the_contracts_are_in_the_key_unambiguously(data):
    """All contracts (None) is never the key of some contracts, whatever their ids (a contract named 'all'), nor are
    two lists of ids one key when joined alike."""
    stored = stored_schema(data)

    def key(ids):
        return baseline_key(data, stored, FROM, TO, ids)

    assert len({key(None), key(["all"]), key(["null"]), key([]), key(["a,b"]), key(["a", "b"])}) == 6
    assert key(["K-1", "K-2"]) == key(["K-2", "K-1", "K-1"])  # a set of contracts: order and repeats do not count


def test_every_input_table_the_rating_reads_is_in_the_key(data):
    """A row changed in any input table is another key (the key reads them all, not a list of writes to forget)."""
    stored = stored_schema(data)
    before = baseline_key(data, stored, FROM, TO, None)
    for table in INPUTS:
        if data.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0:
            continue
        data.execute("BEGIN TRANSACTION")
        data.execute(f"DELETE FROM {table} WHERE rowid = (SELECT min(rowid) FROM {table})")
        assert baseline_key(data, stored, FROM, TO, None) != before, table
        data.execute("ROLLBACK")
    assert baseline_key(data, stored, FROM, TO, None) == before
    assert set(INPUTS) >= {"contracts", "order_lines", "price_tiers", "usage", "customers", "taxes", "coupons"}


def test_a_baseline_whose_data_changed_while_it_was_rated_is_not_kept(data, monkeypatch):
    """The key is read again after the rating: a write in between (another request) keeps nothing."""
    kept = KeptBaseline()
    keep = scenarios_module.keep_baseline

    def keep_then_someone_writes(con, rated):
        keep(con, rated)
        data.cursor().execute("UPDATE usage SET quantity = quantity + 1 WHERE rowid = (SELECT min(rowid) FROM usage)")

    monkeypatch.setattr(scenarios_module, "keep_baseline", keep_then_someone_writes)
    simulate(data.cursor(), scenario(USAGE), FROM, TO, kept=kept)
    monkeypatch.setattr(scenarios_module, "keep_baseline", keep)
    after = simulate(data.cursor(), scenario(USAGE), FROM, TO, kept=kept)
    assert after["baseline_kept"] is False
    assert simulate(data.cursor(), scenario(USAGE), FROM, TO, kept=kept)["baseline_kept"] is True


def test_the_waterfall_by_change_from_a_kept_baseline_is_the_same(data):
    kept = KeptBaseline()
    changes = (USAGE, PRICE, {"type": "churn", "contract_ids": ["K-FLAT"]})
    first = run_simulation(data.cursor(), scenario(*changes), FROM, TO, by_change=True, kept=kept)
    second = run_simulation(data.cursor(), scenario(*changes), FROM, TO, by_change=True, kept=kept)
    assert (first.summary["baseline_kept"], second.summary["baseline_kept"]) == (False, True)
    assert second.waterfall.equals(first.waterfall)
    assert second.rows.equals(first.rows)


def test_forget_drops_what_is_kept(data):
    kept = KeptBaseline()
    simulate(data.cursor(), scenario(PRICE), FROM, TO, kept=kept)
    kept.forget(data)
    assert simulate(data.cursor(), scenario(PRICE), FROM, TO, kept=kept)["baseline_kept"] is False


def test_a_baseline_beyond_the_rows_limit_is_not_kept_and_the_one_before_stays(data, monkeypatch):
    """A year of a million contracts would hold ≈ 14M rows (≈ 1.3 GB) in the server's memory: beyond
    KEPT_BASELINE_MAX_ROWS the baseline is rated each time, and the smaller one kept before is kept."""
    kept = KeptBaseline()
    cur = data.cursor()
    simulate(cur, scenario(PRICE), FROM, TO, kept=kept)
    rows = cur.execute("SELECT count(*) FROM _scenario_baseline").fetchone()[0]
    monkeypatch.setattr(kept_module, "KEPT_BASELINE_MAX_ROWS", rows - 1)
    simulate(data.cursor(), scenario(PRICE), FROM, dt.date(2026, 3, 31), kept=kept)  # fewer rows: kept
    keys = []
    monkeypatch.setattr(scenarios_module, "baseline_key", lambda *a: keys.append(1) or baseline_key(*a))
    assert simulate(data.cursor(), scenario(PRICE), FROM, TO, kept=kept)["baseline_kept"] is False  # too many
    assert len(keys) == 1  # a baseline too large to keep: the data is not read again to check it
    assert simulate(data.cursor(), scenario(PRICE), FROM, TO, kept=kept)["baseline_kept"] is False  # not kept
    assert simulate(data.cursor(), scenario(PRICE), FROM, dt.date(2026, 3, 31), kept=kept)["baseline_kept"] is True
