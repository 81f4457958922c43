"""The Review page's table (views._review_table.build), made column-wise from the engine's review columns, holds
exactly what the engine's ReviewResult says of each draft (on the ledger of tests/test_review_independent.py:
every flag, 0, 2 and 3-decimal currencies, drafts without a previous invoice)."""

from __future__ import annotations

from decimal import Decimal

from engine.review import FLAGS, review, review_table
from tests.test_review_independent import ledger  # noqa: F401 (the fixture)
from views._review_table import SHOWN, build, flag_words, totals_by_currency, view


def test_the_table_is_the_engines_review_row_by_row(con, ledger):  # noqa: F811 (the fixture)
    result = review(con, run_id=ledger)
    table = build(review_table(con, run_id=ledger))
    frame = table.frame
    drafts = result.drafts
    assert list(frame["invoice_id"]) == [d.invoice_id for d in drafts]
    assert list(frame["customer"]) == [f"{d.customer_name} ({d.customer_id})" for d in drafts]
    for col in ("total", "previous_total", "change", "change_percent"):
        # the same Decimals, with the currency's decimals (KWD 1000.000, JPY 450000): the same text
        assert [None if v is None else str(v) for v in frame[col]] == [
            None if getattr(d, col) is None else str(getattr(d, col)) for d in drafts
        ], col
    assert list(frame["previous_invoice_id"]) == [d.previous_invoice_id for d in drafts]
    assert [list(v) for v in frame["flags"]] == [[flag_words(f.flag) for f in d.flags] for d in drafts]
    assert [list(v) for v in frame["reasons"]] == [[f.reason for f in d.flags] for d in drafts]
    assert list(frame["why"]) == [" · ".join(f.reason for f in d.flags) for d in drafts]
    assert list(frame["unflagged"]) == [not d.flags for d in drafts]
    for name in FLAGS:
        assert list(frame[f"f_{name}"]) == [name in {f.flag for f in d.flags} for d in drafts]
    assert table.grid.column_names == list(SHOWN) and table.grid.num_rows == len(drafts)
    assert table.flag_counts == result.flag_counts and table.flagged == sum(1 for d in drafts if d.flags)
    assert table.decimals == 3  # KWD
    assert table.businesses == ("B1", "default")
    assert table.unbilled_count == result.unbilled_cycles_count
    assert len(table.unbilled) == len(result.unbilled_cycles)


def test_totals_by_currency_and_a_filtered_view(con, ledger):  # noqa: F811 (the fixture)
    result = review(con, run_id=ledger)
    table = build(review_table(con, run_id=ledger))
    expected: dict[str, Decimal] = {}
    for d in result.drafts:
        expected[d.currency] = expected.get(d.currency, Decimal(0)) + d.total
    got = totals_by_currency(table.frame)
    assert {c: str(t) for c, t in got.items()} == {c: str(t) for c, t in sorted(expected.items())}
    rows, grid = view(table, ["usage_spike"], ["held"])
    assert list(rows["contract_id"]) == ["K-HELD"] == grid.column("contract_id").to_pylist()
