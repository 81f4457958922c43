"""The review computed in SQL (engine.review) against an independent reading of the same ledger in Python.

A ledger where every flag fires (and most wording branches of the reasons: up and down, from a previous total of
0, thousands separators, 0, 2 and 3-decimal currencies, a minimum change with more decimals than the currency, one
and several rows, lines, charges, "and N more") is billed for January and February; the February run is reviewed.
The test reads the stored invoices, lines, usage and thresholds with plain SELECTs and decides each draft's
previous invoice, flags, figures and reasons in Python from the rules of spec section 8 and docs/RULES.md, then
requires the engine's review (ReviewResult and the columns of review_table) to be exactly that.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from helpers_data import add_charge, add_contract, add_coupon, add_customer, add_line, add_usage, apply_coupon

from engine.billing.approval import approve_invoices, hold_invoice
from engine.billing.bill_run import bill_run
from engine.billing.lifecycle import finalize_invoice, void_invoice
from engine.currencies import minor_units
from engine.review import FLAGS, review, review_table, set_thresholds

JAN, FEB = dt.date(2026, 1, 15), dt.date(2026, 2, 15)
UNDER_REVIEW = ("draft", "approved", "held")
DEFAULTS = {"pct": Decimal(25), "min": Decimal(10), "factor": Decimal(3)}


def usage_contract(con, cid, cust, *, price, currency="USD", business="B1", metrics=("calls",), **kw):
    if not con.execute("SELECT count(*) FROM customers WHERE customer_id = ?", [cust]).fetchone()[0]:
        add_customer(con, cust, currency=currency, business_id=business, name=f"Customer {cust}")
    add_contract(con, cid, cust, kw.pop("start", "2026-01-01"), **kw)
    for n, metric in enumerate(metrics, start=1):
        add_line(con, f"{cid}-U{n}", cid, kind="usage", pricing_model="per_unit", unit_price=price, metric=metric)
        con.execute("UPDATE order_lines SET product = ? WHERE line_id = ?", [f"API {metric}", f"{cid}-U{n}"])


def use(con, cid, month, quantity, metric="calls", status="approved"):
    add_usage(con, cid, metric, dt.date(2026, month, 10), str(quantity), status)


@pytest.fixture
def ledger(con):
    """Both months billed; the February run's id. Business B1 has its own thresholds, `default` the spec's."""
    set_thresholds(
        con,
        "B1",
        total_change_percent="12.5",
        total_change_min="10.005",
        usage_spike_factor="2.5",
        large_invoice={"USD": "1000.00", "JPY": "100000", "KWD": "5"},  # a currency's decimals at most
        actor="t",
    )
    usage_contract(con, "K-UP", "C-UP", price="0.01")  # USD 100.00 -> 140.00
    use(con, "K-UP", 1, 10000)
    use(con, "K-UP", 2, 14000)
    usage_contract(con, "K-KWD", "C-KWD", price="0.001", currency="KWD")  # KWD 2,000.000 -> 1,000.000
    use(con, "K-KWD", 1, 2_000_000)
    use(con, "K-KWD", 2, 1_000_000)
    usage_contract(con, "K-FROM0", "C-FROM0", price="0.01")  # 0 -> USD 20.00
    use(con, "K-FROM0", 2, 2000)
    usage_contract(con, "K-JPY", "C-JPY", price="1", currency="JPY")  # JPY 100,000 -> 450,000
    use(con, "K-JPY", 1, 100_000)
    use(con, "K-JPY", 2, 450_000)
    usage_contract(con, "K-ZERO", "C-ZERO", price="0.01", business="default")  # USD 50.00 -> 0.00
    use(con, "K-ZERO", 1, 5000)
    usage_contract(con, "K-NEG", "C-NEG", price="0.01")
    add_line(con, "K-NEG-CREDIT", "K-NEG", unit_price="5", discount_percent="200")  # USD -5.00 each month
    usage_contract(con, "K-LINES", "C-LINES", price="0.01")
    for n in range(1, 5):  # four new lines: three named, "and 1 more"
        add_line(con, f"L-NEW{n}", "K-LINES", unit_price="1", start_date="2026-02-01", product=f"Seat pack {n}")
    add_line(con, "L-SAME", "K-LINES", unit_price="1", start_date="2026-02-01", product="L-SAME")  # its id alone
    add_line(con, "L-OLD", "K-LINES", unit_price="2", end_date="2026-01-31", product="Setup")
    usage_contract(con, "K-SPIKE", "C-SPIKE", price="0.0001", metrics=("calls", "events"), business="default")
    use(con, "K-SPIKE", 1, "1500.5")
    use(con, "K-SPIKE", 2, "6200")  # 4.13x: 4.1x
    use(con, "K-SPIKE", 1, "1.5", metric="events")
    use(con, "K-SPIKE", 2, "7.25", metric="events")  # 4.83x: 4.8x
    usage_contract(con, "K-FLAT", "C-FLAT", price="0.0001")  # 3x: above B1's 2.5x
    use(con, "K-FLAT", 1, "100")
    use(con, "K-FLAT", 2, "300")
    usage_contract(con, "K-EXACT", "C-EXACT", price="0.0001", business="default")  # exactly 3x: no spike
    use(con, "K-EXACT", 1, "100")
    use(con, "K-EXACT", 2, "300")
    usage_contract(con, "K-PEND", "C-PEND", price="0.01")
    use(con, "K-PEND", 1, 100)
    use(con, "K-PEND", 2, 100)
    for _ in range(3):
        use(con, "K-PEND", 2, 5, status="pending")
    use(con, "K-PEND", 3, 5, status="pending")  # March: not in the cycle
    use(con, "K-PEND", 2, 5, status="rejected")  # not pending
    usage_contract(con, "K-PEND1", "C-PEND1", price="0.01", business="default")
    use(con, "K-PEND1", 1, 100)
    use(con, "K-PEND1", 2, 100)
    use(con, "K-PEND1", 2, 1, status="pending")
    usage_contract(con, "K-TRUE", "C-TRUE", price="0.01", minimum_commitment="50")  # USD 10.00: true-up 40.00
    use(con, "K-TRUE", 1, 1000)
    use(con, "K-TRUE", 2, 1000)
    usage_contract(con, "K-CH2", "C-CH2", price="0.01")
    use(con, "K-CH2", 1, 100)
    use(con, "K-CH2", 2, 100)
    add_charge(con, "CH-1", "C-CH2", "12.50", "2026-02-03")
    add_charge(con, "CH-2", "C-CH2", "13.00", "2026-02-04")
    usage_contract(con, "K-CH1", "C-CH1", price="0.01", business="default")
    use(con, "K-CH1", 1, 100)
    use(con, "K-CH1", 2, 100)
    add_charge(con, "CH-3", "C-CH1", "1234.56", "2026-02-05")
    usage_contract(con, "K-BIG", "C-BIG", price="0.01")  # USD 1,000.01 and 1,000.00 against 1,000.005
    use(con, "K-BIG", 1, 100_000)
    use(con, "K-BIG", 2, 100_001)
    usage_contract(con, "K-FIRST", "C-FIRST", price="0.01", start="2026-02-01")
    use(con, "K-FIRST", 2, 100)
    usage_contract(con, "K-VOID", "C-VOID", price="0.01")
    use(con, "K-VOID", 1, 100)
    use(con, "K-VOID", 2, 100)
    usage_contract(con, "K-HELD", "C-HELD", price="0.01")
    use(con, "K-HELD", 1, 100)
    use(con, "K-HELD", 2, 900)
    usage_contract(con, "K-COUPON", "C-COUPON", price="0.01")  # a coupon of January only: it ends in February
    use(con, "K-COUPON", 1, 1000)
    use(con, "K-COUPON", 2, 1000)
    add_coupon(con, "WELCOME", percent="10", frequency="once", name="Welcome 10 %", business_id="B1")
    apply_coupon(con, "K-COUPON", "WELCOME", "2026-01-01")
    usage_contract(con, "K-OK", "C-OK", price="0.01", business="default")  # no flag at all
    use(con, "K-OK", 1, 1000)
    use(con, "K-OK", 2, 1050)

    bill_run(con, JAN)
    (void_id,) = con.execute("SELECT invoice_id FROM invoices WHERE contract_id = 'K-VOID'").fetchone()
    approve_invoices(con, [void_id], actor="t")
    finalize_invoice(con, void_id, actor="t")
    void_invoice(con, void_id, reason="wrong usage", actor="t")  # February has no earlier invoice now
    run_id = bill_run(con, FEB, include_delayed_charges=True).run_id
    ids = dict(con.execute("SELECT contract_id, invoice_id FROM invoices WHERE run_id = ?", [run_id]).fetchall())
    approve_invoices(con, [ids["K-OK"]], actor="t")
    hold_invoice(con, ids["K-HELD"], reason="check usage", actor="t")
    return run_id


# --- the independent reading -----------------------------------------------------------------------------


def rows(con, sql, params=()):
    cur = con.execute(sql, list(params))
    names = [c[0] for c in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def major(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-minor_units(currency))


def money(minor: int, currency: str) -> str:
    return f"{currency} {major(minor, currency):,}"


def plain(value) -> Decimal:
    return Decimal(format(Decimal(value).normalize(), "f"))


def amount(value: Decimal, currency: str) -> str:
    q = Decimal(1).scaleb(-minor_units(currency))
    shown = value.quantize(q) if value == value.quantize(q) else value.normalize()
    return f"{currency} {shown:,}"


def half_up_tenths(fraction: Fraction) -> Decimal:
    """|fraction| to one decimal, half up, with its sign."""
    tenths = int(abs(fraction) * 10 + Fraction(1, 2))
    return Decimal(tenths if fraction >= 0 else -tenths).scaleb(-1)


def names(lines: list[dict]) -> str:
    shown = [
        x["line_id"] if x["product"] in (None, x["line_id"]) else f"{x['product']} ({x['line_id']})" for x in lines
    ]
    more = f" and {len(lines) - 3} more" if len(lines) > 3 else ""
    return ", ".join(shown[:3]) + more


def thresholds(con, business: str) -> dict:
    row = rows(con, "SELECT * FROM review_thresholds WHERE business_id = ?", [business])
    t = dict(DEFAULTS)
    if row:
        t = {
            "pct": plain(row[0]["total_change_percent"]),
            "min": plain(row[0]["total_change_min"]),
            "factor": plain(row[0]["usage_spike_factor"]),
        }
    large = rows(con, "SELECT currency, above FROM review_large_invoice WHERE business_id = ?", [business])
    t["large"] = {r["currency"]: plain(r["above"]) for r in large}
    return t


def expected_review(con, drafts: list[dict]) -> dict:
    """The review of these stored drafts, decided in Python: {'drafts': [...], 'flag_counts': {...}} as JSON."""
    invoices = rows(con, "SELECT * FROM invoices WHERE contract_id IS NOT NULL AND status <> 'void'")
    lines = rows(con, "SELECT invoice_id, line_id, kind, product, quantity, amount_minor FROM invoice_lines")
    pending = rows(con, "SELECT contract_id, usage_date FROM usage WHERE status = 'pending'")
    coupons = rows(con, "SELECT invoice_id, position, coupon_id, name FROM invoice_coupons")
    customers = {r["customer_id"]: r["name"] for r in rows(con, "SELECT customer_id, name FROM customers")}
    out = []
    for d in sorted(drafts, key=lambda r: (r["contract_id"], r["period_start"], r["invoice_id"])):
        cur, limits = d["currency"], thresholds(con, d["business_id"])
        earlier = [
            i for i in invoices if i["contract_id"] == d["contract_id"] and i["period_start"] < d["period_start"]
        ]
        prev = max(earlier, key=lambda i: i["period_start"]) if earlier else None
        own = [x for x in lines if x["invoice_id"] == d["invoice_id"]]
        total = d["total_minor"]
        change = None if prev is None else total - prev["total_minor"]
        percent = None
        if prev is not None and prev["total_minor"] != 0:
            percent = half_up_tenths(Fraction(change * 100, abs(prev["total_minor"])))
        flags = []
        if prev is not None:
            was = prev["total_minor"]
            above_pct = Decimal(abs(change)) * 100 > limits["pct"] * abs(was)
            if above_pct and major(abs(change), cur) > limits["min"]:
                how = f"{abs(percent)} %" if percent is not None else f"by {money(abs(change), cur)}"
                flags.append(
                    (
                        "total_change",
                        f"total {'up' if change > 0 else 'down'} {how} ({money(was, cur)} → {money(total, cur)}), "
                        f"above {limits['pct']} % and {amount(limits['min'], cur)}",
                        {
                            "previous_total": major(was, cur),
                            "total": major(total, cur),
                            "change": major(change, cur),
                            "change_percent": percent,
                            "threshold_percent": limits["pct"],
                            "threshold_min": limits["min"],
                        },
                    )
                )
        else:
            flags.append(
                (
                    "first_invoice",
                    f"first invoice of contract {d['contract_id']}: no earlier invoice to compare with",
                    {"total": major(total, cur)},
                )
            )
        if total == 0:
            flags.append(("zero_total", f"total is {money(0, cur)}", {"total": major(total, cur)}))
        if total < 0:
            flags.append(("negative_total", f"total is negative: {money(total, cur)}", {"total": major(total, cur)}))
        if prev is not None:
            now = {x["line_id"]: x for x in own if x["line_id"] is not None}
            before = {x["line_id"]: x for x in lines if x["invoice_id"] == prev["invoice_id"] and x["line_id"]}
            added = [{"line_id": k, "product": now[k]["product"]} for k in sorted(set(now) - set(before))]
            removed = [{"line_id": k, "product": before[k]["product"]} for k in sorted(set(before) - set(now))]
            if added:
                flags.append(("line_added", f"billed now, not last time: {names(added)}", {"lines": added}))
            if removed:
                flags.append(("line_removed", f"billed last time, not now: {names(removed)}", {"lines": removed}))
            spikes = []
            for k in sorted(set(now) & set(before)):
                q, q_prev = now[k]["quantity"], before[k]["quantity"]
                if now[k]["kind"] == "usage" and q_prev > 0 and q > limits["factor"] * q_prev:
                    spikes.append(
                        {
                            "line_id": k,
                            "product": now[k]["product"],
                            "quantity": plain(q),
                            "previous_quantity": plain(q_prev),
                            "times": (q / q_prev).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP),
                        }
                    )
            if spikes:
                first = spikes[0]
                more = f"; {len(spikes) - 1} more usage line(s) too" if len(spikes) > 1 else ""
                flags.append(
                    (
                        "usage_spike",
                        f"usage of {names([first])} up {first['times']}× "
                        f"({first['previous_quantity']:,} → {first['quantity']:,}), above {limits['factor']}×{more}",
                        {"lines": spikes, "threshold_factor": limits["factor"]},
                    )
                )
        n = sum(
            1
            for u in pending
            if u["contract_id"] == d["contract_id"] and d["period_start"] <= u["usage_date"] <= d["period_end"]
        )
        if n:
            flags.append(
                (
                    "pending_usage",
                    f"{n:,} usage row{'s' if n != 1 else ''} in the cycle still pending (not billed until approved)",
                    {"pending_rows": n},
                )
            )
        true_up = sum(x["amount_minor"] for x in own if x["kind"] == "minimum_commitment_true_up")
        if true_up > 0:
            flags.append(
                (
                    "true_up",
                    f"minimum-commitment true-up of {money(true_up, cur)}: "
                    "the cycle's charges are below the commitment",
                    {"true_up": major(true_up, cur)},
                )
            )
        charges = [x["amount_minor"] for x in own if x["kind"] == "delayed_charge"]
        if charges:
            k, s = len(charges), sum(charges)
            flags.append(
                (
                    "delayed_charges",
                    f"{k} delayed charge{'s' if k != 1 else ''} swept onto this draft ({money(s, cur)})",
                    {"charges": k, "amount": major(s, cur)},
                )
            )
        ended = []
        if prev is not None:
            taken_now = {r["coupon_id"] for r in coupons if r["invoice_id"] == d["invoice_id"]}
            earlier_coupons = sorted(
                (r for r in coupons if r["invoice_id"] == prev["invoice_id"]), key=lambda r: r["position"]
            )
            ended = [
                {"coupon_id": r["coupon_id"], "name": r["name"]}
                for r in earlier_coupons
                if r["coupon_id"] not in taken_now
            ]
        above = limits["large"].get(cur)
        if above is not None and major(total, cur) > above:
            flags.append(
                (
                    "large_invoice",
                    f"total {money(total, cur)} is above {amount(above, cur)}, the business's large-invoice amount",
                    {"total": major(total, cur), "threshold": above},
                )
            )
        if ended:
            named = ", ".join(f"{c['name']} ({c['coupon_id']})" for c in ended[:3])
            named += f" and {len(ended) - 3} more" if len(ended) > 3 else ""
            flags.append(
                (
                    "coupon_ended",
                    f"coupon{'s' if len(ended) > 1 else ''} no longer applied: {named} "
                    f"(the previous invoice had {'them' if len(ended) > 1 else 'it'})",
                    {"coupons": ended},
                )
            )
        out.append(
            {
                "invoice_id": d["invoice_id"],
                "contract_id": d["contract_id"],
                "customer_id": d["customer_id"],
                "customer_name": customers[d["customer_id"]],
                "business_id": d["business_id"],
                "currency": cur,
                "status": d["status"],
                "period_start": d["period_start"],
                "period_end": d["period_end"],
                "total": major(total, cur),
                "previous_invoice_id": None if prev is None else prev["invoice_id"],
                "previous_total": None if prev is None else major(prev["total_minor"], cur),
                "change": None if change is None else major(change, cur),
                "change_percent": percent,
                "flags": [{"flag": f, "reason": r, "figures": fig} for f, r, fig in flags],
            }
        )
    counts = {f: sum(1 for d in out if f in {x["flag"] for x in d["flags"]}) for f in FLAGS}
    return as_json({"drafts": out, "flag_counts": counts})


def as_json(value) -> dict:
    """JSON as the engine's models write it: Decimal and dates as their text (str), so '100.00' ≠ '100.0'."""
    return json.loads(json.dumps(value, default=str))


def engine_json(result) -> dict:
    out = result.model_dump(mode="json")
    return {"drafts": out["drafts"], "flag_counts": out["flag_counts"]}


# --- the comparisons -------------------------------------------------------------------------------------


def test_every_flag_is_present_and_the_run_review_is_the_independent_reading(con, ledger):
    drafts = rows(con, "SELECT * FROM invoices WHERE run_id = ? AND status IN ('draft', 'approved', 'held')", [ledger])
    expected = expected_review(con, drafts)
    assert all(expected["flag_counts"][f] > 0 for f in FLAGS), expected["flag_counts"]
    got = engine_json(review(con, run_id=ledger))
    assert got["flag_counts"] == expected["flag_counts"]
    for mine, theirs in zip(got["drafts"], expected["drafts"], strict=True):
        assert mine == theirs, mine["contract_id"]


def test_the_period_review_and_a_flag_filter_are_the_independent_reading(con, ledger):
    drafts = rows(
        con,
        "SELECT * FROM invoices WHERE contract_id IS NOT NULL AND status IN ('draft', 'approved', 'held') "
        "AND period_start <= ? AND period_end >= ?",
        [FEB, FEB],
    )
    expected = expected_review(con, drafts)
    assert engine_json(review(con, period_date=FEB)) == expected
    wanted = ["usage_spike", "delayed_charges"]
    only = engine_json(review(con, period_date=FEB, flags=wanted))
    assert only["flag_counts"] == expected["flag_counts"]
    assert only["drafts"] == [d for d in expected["drafts"] if {f["flag"] for f in d["flags"]} & set(wanted)]


def test_the_columns_carry_the_same_flags_reasons_and_amounts(con, ledger):
    result = review(con, run_id=ledger)
    table = review_table(con, run_id=ledger).drafts
    assert table.column("invoice_id").to_pylist() == [d.invoice_id for d in result.drafts]
    assert table.column("flags").to_pylist() == [[f.flag for f in d.flags] for d in result.drafts]
    assert table.column("reasons").to_pylist() == [[f.reason for f in d.flags] for d in result.drafts]
    for name in FLAGS:
        assert table.column(f"f_{name}").to_pylist() == [name in {f.flag for f in d.flags} for d in result.drafts]
    for col in ("total", "previous_total", "change", "change_percent"):
        assert table.column(col).to_pylist() == [getattr(d, col) for d in result.drafts]  # numerically equal


def test_the_models_made_without_validation_are_what_validation_makes(con, ledger):
    """review() makes its rows, flags and unbilled cycles without validating them: each value must already be
    of its field's type (a total as text, a date as a string… would differ from the validated copy)."""
    result = review(con, run_id=ledger, unbilled_limit=None)
    assert result.unbilled_cycles  # K-VOID's January, voided, is a cycle never billed
    again = type(result).model_validate(result.model_dump())
    assert again == result
    for mine, checked in zip(result.drafts, again.drafts, strict=True):
        assert mine.model_fields_set == checked.model_fields_set


def test_a_row_of_the_review_can_be_copied_with_changes(con, ledger):
    """What callers do with the rows (MCP and the service layer page and filter them with model_copy)."""
    result = review(con, run_id=ledger)
    first, second = result.drafts[:2]
    held = first.model_copy(update={"status": "held", "flags": []})
    assert (held.status, held.flags, held.invoice_id) == ("held", [], first.invoice_id)
    assert first.status == "draft" and first.flags and second.model_fields_set == set(type(second).model_fields)
    flag = first.flags[0].model_copy(update={"reason": "changed"})
    assert flag.reason == "changed" != first.flags[0].reason
