"""The benchmark's pandas reference (benchmarks/pandas_reference.py) against the spec and the engine.

The reference is an independent implementation of spec sections 2–3, so agreement on the worked example
and on generated data checks both sides. It does not sweep delayed charges: on the worked example the
K-END31 invoice of case.json carries a swept delayed charge (DC-1, 25.00 USD, taxed at 10 %), which the
comparison takes out of the expected subtotal, tax and total.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from decimal import Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.pandas_reference import reference_invoices  # noqa: E402
from engine.billing.bill_run import bill_run  # noqa: E402
from engine.currencies import MINOR_UNITS  # noqa: E402
from engine.ingest.demo import seed_demo  # noqa: E402
from engine.ingest.importer import import_folder  # noqa: E402

PERIOD = dt.date(2026, 3, 15)


def _minor(text: str, currency: str) -> int:
    return int(Decimal(text).scaleb(MINOR_UNITS[currency]))


def _rows(frame) -> dict[str, tuple]:
    return {
        r.contract_id: (
            r.currency,
            r.period_start.date().isoformat(),
            r.period_end.date().isoformat(),
            int(r.subtotal_minor),
            int(r.tax_minor),
            int(r.total_minor),
            int(r.discount_minor),
        )
        for r in frame.itertuples()
    }


def _engine_rows(con, run_id: str) -> dict[str, tuple]:
    rows = con.execute(
        """SELECT contract_id, currency, period_start::VARCHAR, period_end::VARCHAR, subtotal_minor,
                  tax_minor, total_minor, discount_minor FROM invoices WHERE run_id = ?""",
        [run_id],
    ).fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def test_reference_reproduces_the_worked_example(con, basics_folder):
    import_folder(con, basics_folder)
    case = json.loads((basics_folder / "case.json").read_text())
    expected = {}
    for inv in case["invoices"]:
        cur = inv["currency"]
        swept = sum(_minor(line["amount"], cur) for line in inv["lines"] if line["kind"] == "delayed_charge")
        subtotal = _minor(inv["subtotal"], cur) - swept
        tax = _minor(inv["tax"], cur)
        if swept:  # the example's tax is on the subtotal with the charge; recompute without it
            rate = con.execute(
                "SELECT cu.tax_rate FROM contracts c JOIN customers cu USING (customer_id) WHERE contract_id = ?",
                [inv["contract_id"]],
            ).fetchall()[0][0]
            tax = int((Decimal(subtotal) * rate / 100).quantize(Decimal(1), rounding="ROUND_HALF_UP"))
        expected[inv["contract_id"]] = (cur, inv["period_start"], inv["period_end"], subtotal, tax, subtotal + tax, 0)
    got = _rows(reference_invoices(con, PERIOD))
    assert got == expected
    # the delayed charge is the only difference from the example: K-END31 is 100.00 + 10.00 tax without it
    assert got["K-END31"][3:] == (10000, 1000, 11000, 0)


def test_reference_reproduces_the_adjustments_example(con):
    """Spec section 11's worked case: coupons (fixed, percentage limited to a product, once / recurring /
    forever) and taxes of several codes, an exempt line; both runs of case.json."""
    folder = Path(__file__).resolve().parent / "examples" / "adjustments"
    import_folder(con, folder)
    case = json.loads((folder / "case.json").read_text())
    for run in case["runs"]:
        date = dt.date.fromisoformat(run["period_date"])
        got = _rows(reference_invoices(con, date))
        for inv in (i for i in case["invoices"] if i["period_start"] <= run["period_date"] <= i["period_end"]):
            cur = inv["currency"]
            want = [_minor(inv[k], cur) for k in ("subtotal", "tax", "total", "discount")]
            assert list(got[inv["contract_id"]][3:]) == want, (inv["contract_id"], run)


def test_reference_lines_of_the_worked_example(con, basics_folder):
    """Line amounts of the example, one per pricing model (case.json lines)."""
    from benchmarks.pandas_reference import reference_lines

    import_folder(con, basics_folder)
    case = json.loads((basics_folder / "case.json").read_text())
    _, lines = reference_lines(con, PERIOD)
    got = dict(zip(lines["line_id"], lines["amount_minor"], strict=True))
    for inv in case["invoices"]:
        for line in inv["lines"]:
            if line["line_id"]:
                assert got[line["line_id"]] == _minor(line["amount"], inv["currency"]), line["line_id"]


@pytest.mark.parametrize(
    ("period_date", "adjustments"), [(dt.date(2026, 3, 15), "demo"), (dt.date(2026, 2, 28), "every")]
)
def test_reference_agrees_with_the_engine_on_generated_data(con, period_date, adjustments):
    """The demo's taxes and coupons (some contracts / every contract) included."""
    seed_demo(con, contracts=300, usage_rows=30_000, seed=11, adjustments=adjustments)
    expected = _rows(reference_invoices(con, period_date))
    report = bill_run(con, period_date)
    assert not report.failed
    got = _engine_rows(con, report.run_id)
    assert len(got) == report.drafted > 100
    assert sum(r[-1] > 0 for r in got.values()) > (100 if adjustments == "every" else 5)  # discounted invoices
    assert got == expected


def test_reference_is_exact_where_int64_would_wrap(con):
    """Usage sums beyond int64 (× 10^6) and amounts beyond int64 numerators: reference == engine."""
    con.execute("INSERT INTO customers (customer_id, name, currency, tax_rate) VALUES ('C', 'x', 'KWD', '7.125')")
    con.execute(
        "INSERT INTO contracts VALUES ('K', 'C', '2026-01-01', NULL, 'month', 31, 'arrears', 30, "
        "'123456789.123456789', 'actual', 'KWD')"
    )
    con.execute("""INSERT INTO order_lines (line_id, contract_id, product, kind, pricing_model, unit_price,
                       metric, aggregation, discount_percent) VALUES
                   ('L1', 'K', 'p', 'usage', 'per_unit', '0.000001', 'm', 'sum', NULL),
                   ('L2', 'K', 'p', 'usage', 'per_unit', '0.000003', 'm2', 'max', '33.333333')""")
    con.executemany(
        "INSERT INTO usage VALUES (?, 'K', ?, ?, '999999999999.999999', 'approved')",
        [[f"U{i}", "m" if i % 2 else "m2", f"2026-03-0{1 + i % 9}"] for i in range(40)],
    )
    expected = _rows(reference_invoices(con, PERIOD))
    report = bill_run(con, PERIOD)
    assert _engine_rows(con, report.run_id) == expected
    from benchmarks.pandas_reference import reference_lines

    lines = reference_lines(con, PERIOD)[1].set_index("line_id")
    assert lines.loc["L1", "q_n"] > 2**63  # 2·10^13 units × 10^6: past int64, summed exactly
    assert expected["K"][3] == 123456789123  # the true-up lifts the subtotal to the commitment
