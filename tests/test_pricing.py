"""Pricing models (spec section 3), each at its named boundary cases, through the real rating path.

Every case is one contract (USD, monthly from 2026-03-01) with one usage line, whose approved usage in
March adds up to q; the line's amount is read from `preview_invoice` (the same SQL as drafts and
bill runs). Tiers, as in the basics case:

    graduated   (0, 100] @ 1.00 | (100, 1000] @ 0.50 + flat 5.00 | (1000, ∞) @ 0.10
    volume      (0, 1000] @ 0.02 | (1000, ∞) @ 0.015
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest
from helpers_data import add_contract, add_customer, add_line, add_usage, clear_all
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.billing.bill_run import bill_run
from engine.billing.invoices import preview_invoice
from engine.db import connect
from engine.errors import ValidationError
from engine.money import round_half_away
from engine.rating.pricing import pricing_model

MARCH = dt.date(2026, 3, 15)
GRADUATED = [("100", "1.00"), ("1000", "0.50", "5.00"), (None, "0.10")]
VOLUME = [("1000", "0.02"), (None, "0.015")]


def usage_line(con, model: str, quantities: list[str], *, currency: str = "USD", **line):
    """The rated invoice line of a usage line priced by `model` over approved usage `quantities`."""
    add_customer(con, "C1", currency=currency)
    add_contract(con, "K1", "C1", "2026-03-01", billing_cycle_start_day=1)
    add_line(con, "L1", "K1", kind="usage", pricing_model=model, metric="m", **line)
    for i, q in enumerate(quantities):
        add_usage(con, "K1", "m", dt.date(2026, 3, 1 + i % 28), q)
    inv = preview_invoice(con, "K1", MARCH)
    (ln,) = [x for x in inv.lines if x.line_id == "L1"]
    return ln


@pytest.mark.parametrize(
    "q, amount",
    [
        pytest.param("0", "0.00", id="zero"),
        pytest.param("1", "0.35", id="one unit"),
        pytest.param("1234.567", "432.10", id="fractional quantity, rounded once"),
    ],
)
@pytest.mark.parametrize("model", ["flat", "per_unit"])
def test_flat_and_per_unit_price_is_quantity_times_unit_price(con, model, q, amount):
    ln = usage_line(con, model, [q], unit_price="0.35")
    assert ln.amount == Decimal(amount)
    assert ln.quantity == Decimal(q)


@pytest.mark.parametrize(
    "q, amount",
    [
        pytest.param("0", "0.00", id="zero"),
        pytest.param("50", "50.00", id="inside the first tier"),
        pytest.param("100", "100.00", id="limit of the first tier"),
        pytest.param("100.000001", "105.00", id="just above the first tier: its flat fee applies"),
        pytest.param("101", "105.50", id="first unit of the second tier"),
        pytest.param("500", "305.00", id="between tiers"),
        pytest.param("1000", "555.00", id="limit of the second tier"),
        pytest.param("1500", "605.00", id="above the last bound"),
    ],
)
def test_graduated_price_sums_each_tier_share_plus_its_flat_fee(con, q, amount):
    """price(q) = Σ over tiers with q > lower: (min(q, up_to) − lower) × price + flat fee."""
    ln = usage_line(con, "graduated", [q], tiers=GRADUATED)
    assert ln.amount == Decimal(amount)


def test_graduated_breakdown_lists_the_tiers_that_apply(con):
    """q = 1500 -> tier rows (0,100] 100 units, (100,1000] 900 units + 5.00, (1000,∞) 500 units."""
    ln = usage_line(con, "graduated", ["1500"], tiers=GRADUATED)
    rows = [(t.tier_no, t.lower, t.up_to, t.units, t.unit_price, t.flat_fee, t.amount) for t in ln.tiers]
    assert rows == [
        (1, 0, 100, 100, Decimal("1"), 0, 100),
        (2, 100, 1000, 900, Decimal("0.5"), 5, 455),
        (3, 1000, None, 500, Decimal("0.1"), 0, 50),
    ]


@pytest.mark.parametrize(
    "q, amount",
    [
        pytest.param("0", "0.00", id="zero: no tier, no flat fee"),
        pytest.param("0.000001", "2.00", id="the smallest quantity takes the first tier's flat fee"),
        pytest.param("10", "12.00", id="inside the first tier"),
    ],
)
def test_graduated_flat_fee_of_the_first_tier_only_when_q_is_above_zero(con, q, amount):
    ln = usage_line(con, "graduated", [q], tiers=[("10", "1.00", "2.00"), (None, "0.50", "3.00")])
    assert ln.amount == Decimal(amount)


@pytest.mark.parametrize(
    "q, amount",
    [
        pytest.param("0", "0.00", id="zero"),
        pytest.param("500", "10.00", id="inside the first tier"),
        pytest.param("1000", "20.00", id="exactly at the first bound: the first tier's price"),
        pytest.param("1000.5", "15.01", id="just above the bound: all units at the second price"),
        pytest.param("2500", "37.50", id="above the last bound"),
    ],
)
def test_volume_prices_all_units_at_the_tier_containing_q(con, q, amount):
    ln = usage_line(con, "volume", [q], tiers=VOLUME)
    assert ln.amount == Decimal(amount)


@pytest.mark.parametrize(
    "q, amount",
    [
        pytest.param("0", "0.00", id="zero: no flat fee"),
        pytest.param("1000", "21.00", id="at the bound: first tier + its flat fee"),
        pytest.param("1001", "25.02", id="above the bound: 15.015 + 10 = 25.015 -> 25.02 (half away)"),
    ],
)
def test_volume_adds_only_the_containing_tiers_flat_fee(con, q, amount):
    ln = usage_line(con, "volume", [q], tiers=[("1000", "0.02", "1.00"), (None, "0.015", "10.00")])
    assert ln.amount == Decimal(amount)


@pytest.mark.parametrize(
    "q, amount",
    [
        pytest.param("0", "0.00", id="zero"),
        pytest.param("500", "0.00", id="all free"),
        pytest.param("501", "50.00", id="one unit above the free units: one package"),
        pytest.param("1500", "50.00", id="exactly one package"),
        pytest.param("1500.000001", "100.00", id="a fraction over: ceil to the next package"),
        pytest.param("2600", "150.00", id="basics SMS"),
    ],
)
def test_package_price_is_ceil_of_paid_units_over_package_size_times_package_price(con, q, amount):
    ln = usage_line(con, "package", [q], unit_price="50.00", package_size="1000", free_units="500")
    assert ln.amount == Decimal(amount)


@pytest.mark.parametrize(
    "q, amount",
    [
        pytest.param("0", "0.00", id="zero"),
        pytest.param("1", "2.50", id="one unit: one package"),
        pytest.param("10", "2.50", id="one full package"),
        pytest.param("10.5", "5.00", id="a fraction over"),
    ],
)
def test_package_without_free_units(con, q, amount):
    ln = usage_line(con, "package", [q], unit_price="2.50", package_size="10")
    assert ln.amount == Decimal(amount)


def test_percentage_counts_the_fixed_fee_once_per_approved_row_only(con):
    """Basics L-PCT: approved 100 + 250 + 49.99 at 2.5 % + 3 × 0.30 = 10.89975 -> 10.90; a pending
    row of 1000.00 and a rejected one add neither their percentage nor their fixed fee."""
    add_customer(con, "C1")
    add_contract(con, "K1", "C1", "2026-03-01")
    add_line(
        con,
        "L1",
        "K1",
        kind="usage",
        pricing_model="percentage",
        metric="pay",
        percentage_rate="2.5",
        fixed_fee="0.30",
    )
    for day, q, status in [
        ("2026-03-03", "100.00", "approved"),
        ("2026-03-12", "250.00", "approved"),
        ("2026-03-30", "49.99", "approved"),
        ("2026-03-30", "1000.00", "pending"),
        ("2026-03-31", "77.00", "rejected"),
    ]:
        add_usage(con, "K1", "pay", day, q, status)
    (ln,) = preview_invoice(con, "K1", MARCH).lines
    assert ln.amount == Decimal("10.90")
    assert ln.usage_rows == 3


@pytest.mark.parametrize(
    "quantities, amount",
    [
        pytest.param([], "0.00", id="no rows: no fixed fee"),
        pytest.param(["0"], "1.00", id="a row of 0 is a counted row"),
        pytest.param(["10", "10"], "2.40", id="two rows: 20 × 2 % + 2 × 1.00"),
    ],
)
def test_percentage_edge_cases(con, quantities, amount):
    ln = usage_line(con, "percentage", quantities, percentage_rate="2", fixed_fee="1.00")
    assert ln.amount == Decimal(amount)


def test_unknown_pricing_model_is_a_validation_error():
    with pytest.raises(ValidationError, match="unknown pricing model"):
        pricing_model("tiered_magic")


def test_recurring_line_prices_its_quantity_by_graduated_tiers(con):
    """Pricing receives the priced quantity whatever the line kind: 7 seats, graduated (0,5]@10, (5,∞)@8."""
    add_customer(con, "C1")
    add_contract(con, "K1", "C1", "2026-03-01")
    add_line(
        con,
        "L1",
        "K1",
        kind="recurring",
        pricing_model="graduated",
        quantity="7",
        tiers=[("5", "10"), (None, "8")],
    )
    (ln,) = preview_invoice(con, "K1", MARCH).lines
    assert ln.amount == Decimal("66.00")


# --- properties over generated tiers ------------------------------------------------------------------


def ref_graduated(q: Fraction, tiers: list[tuple[Fraction | None, Fraction, Fraction]]) -> Fraction:
    total, lower = Fraction(0), Fraction(0)
    for up_to, price, fee in tiers:
        if q > lower:
            top = q if up_to is None else min(q, up_to)
            total += (top - lower) * price + fee
        if up_to is None:
            break
        lower = up_to
    return total


@pytest.fixture(scope="module")
def mcon():
    c = connect(":memory:")
    yield c
    c.close()


tier_bounds = st.lists(st.integers(1, 10**9), min_size=0, max_size=4, unique=True).map(sorted)
money_12 = st.integers(0, 5 * 10**12).map(lambda n: Fraction(n, 10**12))  # 0 .. 5.000000000000


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    bounds=tier_bounds,
    prices=st.lists(money_12, min_size=5, max_size=5),
    fees=st.lists(st.one_of(st.just(Fraction(0)), money_12), min_size=5, max_size=5),
    extra=st.lists(st.integers(0, 2 * 10**15), max_size=4),
)
def test_graduated_price_is_exact_monotone_and_continuous_at_tier_bounds(mcon, bounds, prices, fees, extra):
    """Property, through a bill run over one contract per probed quantity: each amount is the rounded
    exact graduated price; amounts never decrease as q grows; at every bound b, price(b) − price(b − δ)
    is δ × that tier's price (continuous from the left) and price(b + δ) − price(b) is δ × the next
    price + the next tier's flat fee (continuous when it has none), δ = 0.000001, within rounding."""
    con = mcon
    clear_all(con)
    six = Fraction(1, 10**6)
    bounds6 = [Fraction(b, 10**3) for b in bounds]  # up_to with 3 decimals (quantities allow 6)
    tiers = [(b, prices[i], fees[i]) for i, b in enumerate(bounds6)] + [
        (None, prices[len(bounds6)], fees[len(bounds6)])
    ]
    probes = {Fraction(0), six}
    for b in bounds6:
        probes |= {b - six, b, b + six}
    probes |= {Fraction(x, 10**6) for x in extra}
    probes = sorted(p for p in probes if p >= 0)
    add_customer(con, "C1")
    for i, q in enumerate(probes):
        cid = f"K{i:03d}"
        add_contract(con, cid, "C1", "2026-03-01")
        add_line(
            con,
            f"L{i:03d}",
            cid,
            kind="usage",
            pricing_model="graduated",
            metric="m",
            tiers=[
                (
                    None if u is None else Decimal(u.numerator) / u.denominator,
                    Decimal(p.numerator) / p.denominator,
                    Decimal(f.numerator) / f.denominator,
                )
                for u, p, f in tiers
            ],
        )
        if q:
            add_usage(con, cid, "m", "2026-03-10", Decimal(q.numerator) / q.denominator)
    report = bill_run(con, MARCH)
    assert report.failed == []
    got = dict(
        con.execute("""SELECT i.contract_id, l.amount_minor FROM invoices i JOIN invoice_lines l
                              USING (invoice_id) ORDER BY 1""").fetchall()
    )
    amounts = [got[f"K{i:03d}"] for i in range(len(probes))]
    exact = [ref_graduated(q, tiers) for q in probes]
    assert amounts == [round_half_away(x * 100) for x in exact]
    assert amounts == sorted(amounts), "graduated price must be monotone in q"
    at = dict(zip(probes, amounts, strict=True))
    for i, b in enumerate(bounds6):
        left = prices[i] * six * 100
        right = (prices[i + 1] * six + fees[i + 1]) * 100
        assert abs(at[b] - at[b - six] - left) <= 1
        assert abs(at[b + six] - at[b] - right) <= 1


def test_tiers_listed_out_of_order_in_the_csv_are_priced_in_order_of_up_to(con, tmp_path):
    """price_tiers.csv lists the unbounded tier first and 1000 before 100; tiers are ordered by up_to
    (spec section 3), so q = 1500 still prices at 100 + 455 + 50 = 605.00."""
    from engine.ingest.importer import import_folder

    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "customers.csv").write_text("customer_id,name\nC1,One\n")
    (folder / "contracts.csv").write_text("contract_id,customer_id,start_date\nK1,C1,2026-03-01\n")
    (folder / "order_lines.csv").write_text(
        "line_id,contract_id,product,kind,pricing_model,metric\nL1,K1,API,usage,graduated,m\n"
    )
    (folder / "price_tiers.csv").write_text(
        "line_id,up_to,unit_price,flat_fee\nL1,,0.10,0\nL1,1000,0.50,5.00\nL1,100,1.00,0\n"
    )
    (folder / "usage.csv").write_text("usage_id,contract_id,metric,usage_date,quantity\nU1,K1,m,2026-03-02,1500\n")
    import_folder(con, folder)
    (ln,) = preview_invoice(con, "K1", MARCH).lines
    assert ln.amount == Decimal("605.00")
    assert [t.up_to for t in ln.tiers] == [100, 1000, None]
