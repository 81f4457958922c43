"""Billing cycles (spec section 2): boundaries, stubs, clipping, arrears/advance, period_days.

Timelines in docstrings read left to right; `|` marks a boundary, `S` the contract start,
`E` its end (last billable day), `B` the bill_for_date.
"""

from __future__ import annotations

import calendar
import datetime as dt

import pytest
from helpers_data import add_contract, add_customer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.db import connect
from engine.errors import NotFoundError, ValidationError
from engine.rating.cycles import billing_cycles, cycle_of_date

D = dt.date.fromisoformat
PERIOD_MONTHS = {"month": 1, "quarter": 3, "year": 12}


# --- an independent reference: the spec's rule written as plain Python over calendar months -----


def ref_boundary(start: dt.date, anchor: int, months: int, k: int) -> dt.date:
    """Boundary k: day min(anchor, month end) of the month `k × months` after start's month."""
    year, month = start.year, start.month
    step = k * months
    while step > 0:  # walk month by month: deliberately not the engine's year*12+month arithmetic
        month += 1
        if month == 13:
            year, month = year + 1, 1
        step -= 1
    while step < 0:
        month -= 1
        if month == 0:
            year, month = year - 1, 12
        step += 1
    return dt.date(year, month, min(anchor, calendar.monthrange(year, month)[1]))


def ref_cycles(
    start: dt.date,
    end: dt.date | None,
    anchor: int,
    period: str,
    lo: dt.date,
    hi: dt.date,
    timing: str = "arrears",
    terms: int = 30,
) -> list[tuple]:
    """Cycles overlapping [lo, hi]: (start, end, bill_for, due, period_days), clipped to the contract."""
    months = PERIOD_MONTHS[period]
    out = []
    k = -1
    while True:
        b0, b1 = ref_boundary(start, anchor, months, k), ref_boundary(start, anchor, months, k + 1)
        k += 1
        full_end = b1 - dt.timedelta(days=1)
        c_start, c_end = max(b0, start), full_end if end is None else min(full_end, end)
        if c_start > hi or (end is not None and c_start > end):
            break
        if c_end < c_start or c_end < lo:
            continue
        bill_for = c_start if timing == "advance" else c_end + dt.timedelta(days=1)
        out.append((c_start, c_end, bill_for, bill_for + dt.timedelta(days=terms), (b1 - b0).days))
    return out


def as_tuples(cycles) -> list[tuple]:
    return [(c.start_date, c.end_date, c.bill_for_date, c.due_date, c.period_days) for c in cycles]


def spans(cycles) -> list[tuple]:
    return [(c.start_date, c.end_date) for c in cycles]


@pytest.fixture
def one_customer(con):
    add_customer(con, "C1")
    return con


# --- the spec's examples -------------------------------------------------------------------------


def test_anchor_31_monthly_clamps_to_month_ends_and_cycles_end_the_day_before_the_next_boundary(one_customer):
    """Anchor 31, monthly, from 2026-01-31 (spec section 2):

    |Jan31        |Feb28          |Mar31         |Apr30          |May31
    [Jan31, Feb27][Feb28, Mar30]  [Mar31, Apr29] [Apr30, May30]
    """
    con = one_customer
    add_contract(con, "K", "C1", "2026-01-31", billing_cycle_start_day=31)
    cycles = billing_cycles(con, "K", D("2026-01-31"), D("2026-05-30"))
    assert spans(cycles) == [
        (D("2026-01-31"), D("2026-02-27")),
        (D("2026-02-28"), D("2026-03-30")),
        (D("2026-03-31"), D("2026-04-29")),
        (D("2026-04-30"), D("2026-05-30")),
    ]
    assert [c.period_days for c in cycles] == [28, 31, 30, 31]
    assert [c.billing_cycle_start_day for c in cycles] == [31] * 4
    assert not any(c.is_stub for c in cycles)


def test_cycles_overlapping_a_range_that_starts_before_the_contract_begin_at_its_start(one_customer):
    """The conformance check of K-END31: --from 2026-01-01 --to 2026-05-31 lists 5 cycles, the last one
    [May31, Jun29] because May31 lies in the range."""
    con = one_customer
    add_contract(con, "K", "C1", "2026-01-31", billing_cycle_start_day=31)
    got = [
        (
            c.start_date.isoformat(),
            c.end_date.isoformat(),
            c.bill_for_date.isoformat(),
            c.billing_cycle_start_day,
            c.period_days,
        )
        for c in billing_cycles(con, "K", D("2026-01-01"), D("2026-05-31"))
    ]
    assert got == [
        ("2026-01-31", "2026-02-27", "2026-02-28", 31, 28),
        ("2026-02-28", "2026-03-30", "2026-03-31", 31, 31),
        ("2026-03-31", "2026-04-29", "2026-04-30", 31, 30),
        ("2026-04-30", "2026-05-30", "2026-05-31", 31, 31),
        ("2026-05-31", "2026-06-29", "2026-06-30", 31, 30),
    ]


def test_first_cycle_is_a_stub_ending_the_day_before_the_next_boundary_with_the_full_period_days(
    one_customer,
):
    """Anchor 1, advance, from Mar 10 (K-STUB of the basics case):

        |Mar1 ... S=Mar10 ......... |Apr1 ............ |May1
                  [Mar10, Mar31]    [Apr1, Apr30]
                  B=Mar10           B=Apr1
    period_days of the stub is 31, the days of the FULL period Mar1–Mar31, not 22.
    """
    con = one_customer
    add_contract(
        con,
        "K",
        "C1",
        "2026-03-10",
        billing_cycle_start_day=1,
        billing_timing="advance",
        payment_terms_days=15,
    )
    first, second = billing_cycles(con, "K", D("2026-03-01"), D("2026-04-30"))
    assert (first.start_date, first.end_date, first.bill_for_date, first.due_date, first.period_days) == (
        D("2026-03-10"),
        D("2026-03-31"),
        D("2026-03-10"),
        D("2026-03-25"),
        31,
    )
    assert first.is_stub
    assert (
        second.start_date,
        second.end_date,
        second.bill_for_date,
        second.due_date,
        second.period_days,
    ) == (D("2026-04-01"), D("2026-04-30"), D("2026-04-01"), D("2026-04-16"), 30)
    assert not second.is_stub


def test_stub_before_the_first_anchor_in_the_start_month_has_the_previous_full_period(one_customer):
    """Anchor 20, monthly, from Jan 5: boundary of January (Jan 20) is AFTER the start.

        |Dec20 ... S=Jan5 ..... |Jan20 ........ |Feb20
                   [Jan5, Jan19][Jan20, Feb19]
    The stub lies in the full period Dec20–Jan19: period_days = 31.
    """
    con = one_customer
    add_contract(con, "K", "C1", "2026-01-05", billing_cycle_start_day=20)
    stub, full = billing_cycles(con, "K", D("2026-01-05"), D("2026-01-25"))
    assert (stub.start_date, stub.end_date, stub.period_days, stub.is_stub) == (
        D("2026-01-05"),
        D("2026-01-19"),
        31,
        True,
    )
    assert (full.start_date, full.end_date, full.period_days) == (D("2026-01-20"), D("2026-02-19"), 31)


def test_quarterly_stub_before_the_first_anchor_spans_back_a_whole_quarter(one_customer):
    """Anchor 20, quarterly, from Jan 5: full period Oct20–Jan19 (92 days) holds the stub [Jan5, Jan19]."""
    con = one_customer
    add_contract(con, "K", "C1", "2026-01-05", billing_period="quarter", billing_cycle_start_day=20)
    stub, full = billing_cycles(con, "K", D("2026-01-05"), D("2026-01-20"))
    assert (stub.start_date, stub.end_date, stub.period_days) == (D("2026-01-05"), D("2026-01-19"), 92)
    assert (full.start_date, full.end_date, full.period_days) == (D("2026-01-20"), D("2026-04-19"), 90)


def test_contract_ending_mid_cycle_clips_the_last_cycle_and_bills_the_day_after_its_end(one_customer):
    """Anchor 1, arrears, Jan 1 – Mar 14:

    |Jan1 ....... |Feb1 ....... |Mar1 .... E=Mar14 ... |Apr1
    [Jan1, Jan31] [Feb1, Feb28] [Mar1, Mar14]
                                 B=Mar15, period_days 31 (full March)
    """
    con = one_customer
    add_contract(con, "K", "C1", "2026-01-01", end_date="2026-03-14", billing_cycle_start_day=1)
    cycles = billing_cycles(con, "K", D("2026-01-01"), D("2026-12-31"))
    assert spans(cycles) == [
        (D("2026-01-01"), D("2026-01-31")),
        (D("2026-02-01"), D("2026-02-28")),
        (D("2026-03-01"), D("2026-03-14")),
    ]
    last = cycles[-1]
    assert (last.bill_for_date, last.due_date, last.period_days, last.is_stub) == (
        D("2026-03-15"),
        D("2026-04-14"),
        31,
        True,
    )


def test_contract_of_a_few_days_inside_one_period_is_one_cycle_clipped_on_both_sides(one_customer):
    """S=Mar10, E=Mar12, anchor 1: one cycle [Mar10, Mar12] with period_days 31."""
    con = one_customer
    add_contract(con, "K", "C1", "2026-03-10", end_date="2026-03-12", billing_cycle_start_day=1)
    (only,) = billing_cycles(con, "K", D("2026-01-01"), D("2026-12-31"))
    assert (only.start_date, only.end_date, only.period_days, only.bill_for_date) == (
        D("2026-03-10"),
        D("2026-03-12"),
        31,
        D("2026-03-13"),
    )


def test_quarterly_anchor_31_clamps_in_30_day_months(one_customer):
    """Quarterly, anchor 31, from 2026-01-31: |Jan31 |Apr30 |Jul31 |Oct31 |Jan31."""
    con = one_customer
    add_contract(con, "K", "C1", "2026-01-31", billing_period="quarter", billing_cycle_start_day=31)
    cycles = billing_cycles(con, "K", D("2026-01-31"), D("2026-12-31"))
    assert spans(cycles) == [
        (D("2026-01-31"), D("2026-04-29")),
        (D("2026-04-30"), D("2026-07-30")),
        (D("2026-07-31"), D("2026-10-30")),
        (D("2026-10-31"), D("2027-01-30")),
    ]
    assert [c.period_days for c in cycles] == [89, 92, 92, 92]


def test_quarterly_anchor_30_across_february(one_customer):
    """Quarterly, anchor 30, from 2025-11-30: |Nov30 |Feb28 |May30 (2026, not a leap year)."""
    con = one_customer
    add_contract(con, "K", "C1", "2025-11-30", billing_period="quarter", billing_cycle_start_day=30)
    cycles = billing_cycles(con, "K", D("2025-11-30"), D("2026-06-01"))
    assert spans(cycles) == [
        (D("2025-11-30"), D("2026-02-27")),
        (D("2026-02-28"), D("2026-05-29")),
        (D("2026-05-30"), D("2026-08-29")),
    ]
    assert [c.period_days for c in cycles] == [90, 91, 92]


@pytest.mark.parametrize(
    "anchor, feb_boundary, jan_days, feb_days",
    [
        (28, "2028-02-28", 31, 29),
        (29, "2028-02-29", 31, 29),
        (30, "2028-02-29", 30, 30),
        (31, "2028-02-29", 29, 31),
    ],
)
def test_monthly_anchor_28_to_31_around_a_leap_february(one_customer, anchor, feb_boundary, jan_days, feb_days):
    """Monthly from 2028-01-{anchor}: the February boundary is min(anchor, 29) in 2028.

    |Jan{anchor} ........ |Feb{min(anchor,29)} ........ |Mar{anchor}
    """
    con = one_customer
    add_contract(con, "K", "C1", f"2028-01-{anchor:02d}", billing_cycle_start_day=anchor)
    jan, feb = billing_cycles(con, "K", D(f"2028-01-{anchor:02d}"), D(feb_boundary))
    assert jan.start_date == D(f"2028-01-{anchor:02d}") and jan.end_date == D(feb_boundary) - dt.timedelta(days=1)
    assert feb.start_date == D(feb_boundary)
    assert feb.end_date == D(f"2028-03-{anchor:02d}") - dt.timedelta(days=1)
    assert (jan.period_days, feb.period_days) == (jan_days, feb_days)


def test_yearly_anchor_29_from_a_leap_day_clamps_to_feb_28_and_returns_to_feb_29(one_customer):
    """Yearly, anchor 29, from 2024-02-29: |2024-02-29 |2025-02-28 |2026-02-28 |2027-02-28 |2028-02-29."""
    con = one_customer
    add_contract(con, "K", "C1", "2024-02-29", billing_period="year", billing_cycle_start_day=29)
    cycles = billing_cycles(con, "K", D("2024-02-29"), D("2028-03-01"))
    assert [c.start_date for c in cycles] == [
        D("2024-02-29"),
        D("2025-02-28"),
        D("2026-02-28"),
        D("2027-02-28"),
        D("2028-02-29"),
    ]
    assert [c.period_days for c in cycles] == [365, 365, 365, 366, 365]


def test_yearly_anchor_31_from_january_counts_years_from_the_start_month(one_customer):
    """Yearly, anchor 31, from 2026-01-31: every boundary is on Jan 31 (12th months from January)."""
    con = one_customer
    add_contract(con, "K", "C1", "2026-01-31", billing_period="year", billing_cycle_start_day=31)
    cycles = billing_cycles(con, "K", D("2026-01-31"), D("2029-01-31"))
    assert [c.start_date for c in cycles] == [
        D("2026-01-31"),
        D("2027-01-31"),
        D("2028-01-31"),
        D("2029-01-31"),
    ]
    assert [c.period_days for c in cycles] == [365, 365, 366, 365]


def test_yearly_stub_when_the_anchor_differs_from_the_start_day(one_customer):
    """Yearly, anchor 1, from 2026-03-10: stub [2026-03-10, 2027-02-28]? No: boundaries are on day 1 of
    March every year (12 months from March), so the stub is [Mar10 2026, Feb28 2027], full period
    Mar1 2026 – Feb28 2027 = 365 days."""
    con = one_customer
    add_contract(con, "K", "C1", "2026-03-10", billing_period="year", billing_cycle_start_day=1)
    stub, full = billing_cycles(con, "K", D("2026-03-10"), D("2027-03-01"))
    assert (stub.start_date, stub.end_date, stub.period_days) == (D("2026-03-10"), D("2027-02-28"), 365)
    assert (full.start_date, full.end_date, full.period_days) == (D("2027-03-01"), D("2028-02-29"), 366)


def test_arrears_bills_the_day_after_the_cycle_and_advance_bills_its_first_day(one_customer):
    """Same contract, both timings: arrears B = end + 1, advance B = start; due = B + payment_terms_days."""
    con = one_customer
    add_contract(con, "KA", "C1", "2026-01-15", billing_cycle_start_day=15, payment_terms_days=10)
    add_contract(
        con,
        "KV",
        "C1",
        "2026-01-15",
        billing_cycle_start_day=15,
        payment_terms_days=10,
        billing_timing="advance",
    )
    arrears = billing_cycles(con, "KA", D("2026-02-01"), D("2026-02-01"))[0]
    advance = billing_cycles(con, "KV", D("2026-02-01"), D("2026-02-01"))[0]
    assert (
        (arrears.start_date, arrears.end_date)
        == (advance.start_date, advance.end_date)
        == (D("2026-01-15"), D("2026-02-14"))
    )
    assert (arrears.bill_for_date, arrears.due_date) == (D("2026-02-15"), D("2026-02-25"))
    assert (advance.bill_for_date, advance.due_date) == (D("2026-01-15"), D("2026-01-25"))


def test_payment_terms_of_zero_days_make_the_invoice_due_on_its_bill_for_date(one_customer):
    con = one_customer
    add_contract(con, "K", "C1", "2026-01-01", payment_terms_days=0)
    (c,) = billing_cycles(con, "K", D("2026-01-10"), D("2026-01-10"))
    assert c.due_date == c.bill_for_date == D("2026-02-01")


# --- cycle_of_date and bad input -----------------------------------------------------------------


def test_cycle_of_date_of_every_day_around_a_leap_february_is_the_cycle_that_contains_it(one_customer):
    """Anchor 31, monthly, contract 2027-11-30 .. 2028-04-10, every day from Dec 25 to its end:

    |Dec31 ..... |Jan31 ..... |Feb29 ..... |Mar31 .. E=Apr10
    """
    con = one_customer
    start, end = D("2027-11-30"), D("2028-04-10")
    add_contract(con, "K", "C1", start, end_date=end, billing_cycle_start_day=31)
    expected = ref_cycles(start, end, 31, "month", start, end)
    day = D("2027-12-25")
    while day <= end:
        c = cycle_of_date(con, "K", day)
        assert c.start_date <= day <= c.end_date
        assert (c.start_date, c.end_date, c.bill_for_date, c.due_date, c.period_days) in expected
        day += dt.timedelta(days=1)


@pytest.mark.parametrize("day", ["2026-03-09", "2026-06-01", "2020-01-01"])
def test_cycle_of_a_date_outside_the_contract_is_a_validation_error(one_customer, day):
    con = one_customer
    add_contract(con, "K", "C1", "2026-03-10", end_date="2026-05-31")
    with pytest.raises(ValidationError, match="outside contract K"):
        cycle_of_date(con, "K", D(day))


def test_cycles_of_an_unknown_contract_is_not_found(one_customer):
    with pytest.raises(NotFoundError, match="unknown contract"):
        billing_cycles(one_customer, "NOPE", D("2026-01-01"), D("2026-12-31"))
    with pytest.raises(NotFoundError):
        cycle_of_date(one_customer, "NOPE", D("2026-01-01"))


def test_cycles_with_to_before_from_is_a_validation_error(one_customer):
    add_contract(one_customer, "K", "C1", "2026-01-01")
    with pytest.raises(ValidationError):
        billing_cycles(one_customer, "K", D("2026-05-01"), D("2026-04-01"))


def test_cycles_of_a_range_entirely_before_or_after_the_contract_are_empty(one_customer):
    add_contract(one_customer, "K", "C1", "2026-03-10", end_date="2026-05-31")
    assert billing_cycles(one_customer, "K", D("2026-01-01"), D("2026-03-09")) == []
    assert billing_cycles(one_customer, "K", D("2026-06-01"), D("2026-09-01")) == []


# --- every anchor × every period, exhaustively on a few starts, and randomly over 10 years ----------


def check_tiling(
    cycles, start: dt.date, end: dt.date | None, anchor: int, period: str, lo: dt.date, hi: dt.date
) -> None:
    """No gap, no overlap, from start_date; boundaries on min(anchor, month end); full period_days."""
    assert cycles, "a contract active in the range has at least one cycle"
    first_day = max(start, lo)
    assert cycles[0].start_date <= first_day <= cycles[0].end_date
    if lo <= start:
        assert cycles[0].start_date == start
    for prev, nxt in zip(cycles, cycles[1:], strict=False):
        assert nxt.start_date == prev.end_date + dt.timedelta(days=1), f"gap or overlap after {prev}"
    last_day = hi if end is None else min(hi, end)
    assert cycles[-1].start_date <= last_day <= cycles[-1].end_date
    if end is not None and end <= hi:
        assert cycles[-1].end_date == end
    months = PERIOD_MONTHS[period]
    for c in cycles:
        assert c.start_date <= c.end_date
        assert c.billing_cycle_start_day == anchor
        assert (c.end_date - c.start_date).days + 1 <= c.period_days
        if c.start_date != start:  # every cycle but a stub first one starts on a boundary
            month_end = calendar.monthrange(c.start_date.year, c.start_date.month)[1]
            assert c.start_date.day == min(anchor, month_end)
            offset = (c.start_date.year - start.year) * 12 + c.start_date.month - start.month
            assert offset % months == 0
        if end is None or c.end_date != end:  # every cycle but a clipped last one ends before a boundary
            nb = c.end_date + dt.timedelta(days=1)
            assert nb.day == min(anchor, calendar.monthrange(nb.year, nb.month)[1])


@pytest.fixture(scope="module")
def mcon():
    c = connect(":memory:")
    add_customer(c, "C1")
    yield c
    c.close()


def _reset_contract(con, **kw) -> None:
    con.execute("DELETE FROM contracts")
    add_contract(con, "K", "C1", **kw)


@pytest.mark.parametrize("period", ["month", "quarter", "year"])
@pytest.mark.parametrize("anchor", range(1, 32))
def test_every_anchor_and_period_tiles_ten_years_from_leap_and_month_end_starts(mcon, anchor, period):
    """Starts on Jan 31, Feb 29 (leap), Mar 1 and Nov 30; 10 years each; compared with the reference."""
    for start in (D("2024-01-31"), D("2024-02-29"), D("2025-03-01"), D("2023-11-30")):
        _reset_contract(mcon, start_date=start, billing_period=period, billing_cycle_start_day=anchor)
        hi = start.replace(year=start.year + 10, day=28)
        cycles = billing_cycles(mcon, "K", start, hi)
        check_tiling(cycles, start, None, anchor, period, start, hi)
        assert as_tuples(cycles) == ref_cycles(start, None, anchor, period, start, hi)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    anchor=st.integers(1, 31),
    period=st.sampled_from(["month", "quarter", "year"]),
    start=st.dates(dt.date(1999, 1, 1), dt.date(2060, 12, 31)),
    length=st.one_of(st.none(), st.integers(0, 4000)),
    timing=st.sampled_from(["arrears", "advance"]),
    terms=st.integers(0, 90),
    lo_shift=st.integers(-400, 400),
)
def test_cycles_tile_time_for_any_anchor_period_and_start_over_ten_years(
    mcon, anchor, period, start, length, timing, terms, lo_shift
):
    """Property: billing_cycles over [start + lo_shift, start + 10 years] tiles the contract's days with
    no gap and no overlap, boundaries fall on min(anchor, month end) every 1/3/12 months counted from the
    start month, each period_days is its full boundary-to-boundary period, and every field equals the
    independent reference."""
    end = None if length is None else start + dt.timedelta(days=length)
    _reset_contract(
        mcon,
        start_date=start,
        end_date=end,
        billing_period=period,
        billing_cycle_start_day=anchor,
        billing_timing=timing,
        payment_terms_days=terms,
    )
    lo = start + dt.timedelta(days=lo_shift)
    hi = start + dt.timedelta(days=3653)
    cycles = billing_cycles(mcon, "K", lo, hi)
    expected = ref_cycles(start, end, anchor, period, lo, hi, timing, terms)
    assert as_tuples(cycles) == expected
    if expected:
        check_tiling(cycles, start, end, anchor, period, lo, hi)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    anchor=st.integers(1, 31),
    period=st.sampled_from(["month", "quarter", "year"]),
    start=st.dates(dt.date(2000, 1, 1), dt.date(2050, 12, 31)),
    offset=st.integers(0, 2000),
    span=st.integers(1, 20),
)
def test_cycle_of_date_is_the_cycle_containing_each_day_of_a_random_range(mcon, anchor, period, start, offset, span):
    """Property: for each day of a random range inside the contract, cycle_of_date is the listed cycle
    that contains it (same dates, same period_days)."""
    _reset_contract(mcon, start_date=start, billing_period=period, billing_cycle_start_day=anchor)
    first = start + dt.timedelta(days=offset)
    last = first + dt.timedelta(days=span)
    listed = billing_cycles(mcon, "K", first, last)
    day = first
    while day <= last:
        c = cycle_of_date(mcon, "K", day)
        containing = [x for x in listed if x.start_date <= day <= x.end_date]
        assert containing == [c]
        day += dt.timedelta(days=1)
