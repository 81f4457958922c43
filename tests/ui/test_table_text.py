"""Long text in the workbench's tables is readable where it is (views._table_text): a table whose texts do not fit
their column gets rows tall enough to wrap them (Streamlit wraps a fixed-width text column's cells only in rows taller
than 4rem); on the Review page ("Why flagged", the customer) and the Invoice preview's lines, under AppTest."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from tests.ui.test_pages import assert_clean, open_page, start_app, widget
from views._table_text import WRAPS_ABOVE_PX, lines_for, row_height_for


def test_a_text_wraps_word_by_word_and_the_rows_grow_to_show_the_longest_in_full():
    assert lines_for("short", 130) == 1
    assert lines_for("min. commitment true-up", 130) == 2  # 'min. commitment' / 'true-up'
    assert lines_for("x" * 60, 130) == 4  # a word longer than a line is cut into lines
    texts = pa.chunked_array([["a", None, "first invoice of contract K-000013: no earlier invoice to compare with"]])
    assert row_height_for([(texts, 1000)], 4) is None  # it fits on one line: the default row
    height = row_height_for([(texts, 200)], 4)
    assert height > WRAPS_ABOVE_PX  # tall enough for the grid to wrap it
    assert row_height_for([(pa.array(["word " * 200]), 200)], 4) == row_height_for([(pa.array(["w " * 60]), 200)], 4)


def _rows_shown(height: int) -> int:
    return 1 + (height - 35) // 21


def test_the_review_pages_why_flagged_and_customer_wrap_in_rows_tall_enough(workbench_db):
    from engine.service import Billsim, Caller, bill_runs

    with Billsim.open(workbench_db) as app:
        bill_runs.run(app.session(Caller.local("ana")), {"period_date": dt.date(2026, 7, 15)})
    at = start_app()
    open_page(at, "views/review.py")
    assert_clean(at)
    table = next(d for d in at.dataframe if (d.key or "").startswith("rv_table_"))
    why = [w for w in table.value["why"] if w]
    assert max(len(w) for w in why) > 60  # reasons longer than the column's one line
    configs = table.proto.columns
    assert '"Why flagged"' in configs
    height = table.proto.row_height
    assert height > WRAPS_ABOVE_PX, height
    needed = max(lines_for(w, 380) for w in why)
    assert _rows_shown(height) >= min(needed, 3)


def test_the_invoice_previews_lines_wrap_a_text_longer_than_its_column(workbench_db):
    at = start_app()
    open_page(at, "views/invoice_preview.py")
    widget(at.selectbox, "preview_contract").set_value("K-000001").run()
    assert_clean(at)
    table = next(d for d in at.dataframe if {"line", "kind"} <= set(d.value.columns))
    kinds = list(table.value["kind"])
    assert "min. commitment true-up" in kinds  # 23 characters in a column of 130 px
    assert table.proto.row_height > WRAPS_ABOVE_PX
