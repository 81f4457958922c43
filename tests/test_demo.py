"""Demo data: deterministic, realistic, and always accepted by the importer."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.ingest.demo import seed_demo, write_demo_folder
from engine.ingest.importer import import_folder
from engine.schema import INPUT_TABLES


def data_lines(path) -> int:
    return path.read_text().count("\n") - 1  # minus the header; no field of the demo holds a line break


@pytest.fixture(scope="module")
def demo_con():
    """The default 50-contract demo, seeded like `billsim init --demo`."""
    from engine.db import connect

    con = connect(":memory:")
    counts = seed_demo(con)
    yield con, counts
    con.close()


def read(folder, table: str) -> bytes:
    return (folder / f"{table}.csv").read_bytes()


def values(con, sql: str) -> set:
    return {r[0] for r in con.execute(sql).fetchall()}


def test_same_seed_and_sizes_write_byte_identical_files(tmp_path):
    first = write_demo_folder(tmp_path / "a", contracts=300, usage_rows=40_000, seed=11)
    second = write_demo_folder(tmp_path / "b", contracts=300, usage_rows=40_000, seed=11)
    assert first == second
    for table in INPUT_TABLES:
        assert read(tmp_path / "a", table) == read(tmp_path / "b", table), table


def test_a_different_seed_gives_different_data(tmp_path):
    write_demo_folder(tmp_path / "a", seed=7)
    write_demo_folder(tmp_path / "b", seed=8)
    for table in ("customers", "contracts", "order_lines", "usage"):
        assert read(tmp_path / "a", table) != read(tmp_path / "b", table), table


def test_the_default_demo_imports_cleanly_with_about_100_usage_rows_per_contract(demo_con):
    con, counts = demo_con
    assert counts["contracts"] == 50 and counts["usage"] == 5000
    assert counts == {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in INPUT_TABLES}


def test_the_demo_holds_every_pricing_model_kind_and_usage_status(demo_con):
    con, _ = demo_con
    models = values(con, "SELECT pricing_model FROM order_lines")
    assert models == {"flat", "per_unit", "graduated", "volume", "package", "percentage"}
    assert values(con, "SELECT kind FROM order_lines") == {"recurring", "usage", "one_time"}
    recurring = values(con, "SELECT pricing_model FROM order_lines WHERE kind = 'recurring'")
    assert recurring >= {"flat", "per_unit"}
    assert values(con, "SELECT status FROM usage") == {"approved", "pending", "rejected"}
    assert values(con, "SELECT aggregation FROM order_lines WHERE kind = 'usage'") == {"sum", "count", "max"}


def test_the_demo_spans_six_currencies_two_businesses_and_various_tax_rates(demo_con):
    con, _ = demo_con
    assert values(con, "SELECT currency FROM customers") == {"USD", "CAD", "AUD", "EUR", "GBP", "JPY"}
    assert values(con, "SELECT business_id FROM customers") == {"biz-north", "biz-south"}
    assert {Decimal("0"), Decimal("10"), Decimal("20")} <= values(con, "SELECT tax_rate FROM customers")
    assert values(con, "SELECT currency FROM contracts") <= values(con, "SELECT currency FROM customers")


def test_the_demo_has_every_period_timing_anchor_end_and_proration_case(demo_con):
    con, _ = demo_con
    assert values(con, "SELECT billing_period FROM contracts") == {"month", "quarter", "year"}
    assert values(con, "SELECT billing_timing FROM contracts") == {"arrears", "advance"}
    assert values(con, "SELECT proration FROM contracts") == {"actual", "none"}
    assert {29, 30, 31} <= values(con, "SELECT billing_cycle_start_day FROM contracts")
    assert values(con, "SELECT payment_terms_days FROM contracts") == {15, 30, 45}
    assert con.execute("SELECT count(*) FROM contracts WHERE end_date IS NOT NULL").fetchall()[0][0] >= 5
    starts = con.execute("SELECT min(start_date), max(start_date) FROM contracts").fetchall()[0]
    assert str(starts[0]) >= "2025-01-01" and str(starts[1]) <= "2026-10-31"


def test_the_demo_has_ramps_discounts_minimums_setup_fees_and_package_free_units(demo_con):
    con, _ = demo_con
    # A ramp: two lines of one product on one contract, the second starting the day after the first ends.
    ramps = con.execute(
        "SELECT count(*) FROM order_lines a JOIN order_lines b "
        "ON a.contract_id = b.contract_id AND a.product = b.product "
        "AND b.start_date = a.end_date + 1 "
        "AND b.unit_price > a.unit_price"
    ).fetchall()[0][0]
    assert ramps >= 1
    assert con.execute("SELECT count(*) FROM order_lines WHERE discount_percent > 0").fetchall()[0][0] >= 1
    assert con.execute("SELECT count(*) FROM contracts WHERE minimum_commitment > 0").fetchall()[0][0] >= 1
    assert con.execute("SELECT count(*) FROM order_lines WHERE kind = 'one_time'").fetchall()[0][0] >= 1
    assert (
        con.execute(
            "SELECT count(*) FROM order_lines WHERE pricing_model = 'package' AND free_units > 0 AND package_size > 0"
        ).fetchall()[0][0]
        >= 1
    )
    assert (
        con.execute("SELECT count(*) FROM order_lines WHERE pricing_model = 'percentage' AND fixed_fee > 0").fetchall()[
            0
        ][0]
        >= 1
    )
    assert (
        con.execute(
            "SELECT count(*) FROM order_lines WHERE pricing_model = 'per_unit' AND kind = 'recurring' AND quantity > 1"
        ).fetchall()[0][0]
        >= 1
    )


def test_usage_matches_a_usage_line_of_its_contract_and_falls_in_the_demo_year(demo_con):
    con, _ = demo_con
    orphans = con.execute(
        "SELECT count(*) FROM usage u WHERE NOT EXISTS (SELECT 1 FROM order_lines l "
        "WHERE l.contract_id = u.contract_id AND l.metric = u.metric AND l.kind = 'usage')"
    ).fetchall()[0][0]
    assert orphans == 0
    first, last = con.execute("SELECT min(usage_date), max(usage_date) FROM usage").fetchall()[0]
    assert str(first) >= "2025-12-01" and str(last) <= "2026-11-30"


def test_some_contracts_and_delayed_charges_are_in_another_currency_than_the_customers(demo_con):
    con, _ = demo_con

    def count(table: str, extra: str = "") -> int:
        return con.execute(
            f"SELECT count(*) FROM {table} x JOIN customers c USING (customer_id) "
            f"WHERE x.currency <> c.currency {extra}"
        ).fetchall()[0][0]

    in_contract_currency = (
        "EXISTS (SELECT 1 FROM contracts k WHERE k.customer_id = x.customer_id AND k.currency = x.currency)"
    )
    assert count("contracts") >= 1
    # Some foreign charges have a contract of their customer in their currency (a run can sweep them) …
    assert count("delayed_charges", f"AND {in_contract_currency}") >= 1
    # … and some have none (a run reports them as left pending).
    assert count("delayed_charges", f"AND NOT {in_contract_currency}") >= 1
    assert con.execute("SELECT count(*) FROM delayed_charges").fetchall()[0][0] == 10


def test_yen_prices_are_whole_yen_except_sub_unit_usage_rates(demo_con):
    con, _ = demo_con
    fractional = con.execute(
        "SELECT count(*) FROM order_lines l JOIN contracts k USING (contract_id) "
        "WHERE k.currency = 'JPY' AND l.kind <> 'usage' "
        "AND l.unit_price <> round(l.unit_price)"
    ).fetchall()[0][0]
    assert fractional == 0


def test_a_medium_demo_has_exactly_the_requested_rows(tmp_path):
    counts = write_demo_folder(tmp_path, contracts=2000, usage_rows=200_000, seed=3)
    assert counts["contracts"] == 2000 and counts["usage"] == 200_000
    for table in INPUT_TABLES:
        assert data_lines(tmp_path / f"{table}.csv") == counts[table], table
    from engine.db import connect

    con = connect(":memory:")
    assert import_folder(con, tmp_path) == counts


def test_zero_contracts_write_header_only_files_that_import(tmp_path):
    counts = write_demo_folder(tmp_path, contracts=0)
    assert counts == dict.fromkeys(INPUT_TABLES, 0)
    from engine.db import connect

    assert import_folder(connect(":memory:"), tmp_path) == counts


def test_impossible_sizes_are_refused(tmp_path):
    with pytest.raises(ValueError):
        write_demo_folder(tmp_path, contracts=-1)
    with pytest.raises(ValueError):
        write_demo_folder(tmp_path, contracts=0, usage_rows=10)


def test_seeding_the_demo_reports_generation_then_the_import_up_to_done(con):
    seen = []
    seed_demo(con, contracts=30, seed=3, progress=lambda done, label: seen.append((done, label)))
    assert seen[0] == (0.0, "generating 30 demo contracts")
    fractions = [d for d, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any(label == "reading usage.csv" and 0.3 <= d < 1.0 for d, label in seen)
