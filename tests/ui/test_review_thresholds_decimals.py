"""A large-invoice threshold with more decimals than its currency has (JPY 100.5) is refused by the application
layer, on the Review page as at the CLI (tests/test_review_cli.py), and nothing is stored."""

from __future__ import annotations

from decimal import Decimal

from tests.ui.test_pages import assert_clean, db_rows, widget
from tests.ui.test_review_page import review_db, review_page, review_template  # noqa: F401 (fixtures)


def test_a_jpy_threshold_with_decimals_is_refused_and_a_whole_one_is_saved(review_db):  # noqa: F811
    path, _ = review_db
    at = review_page()
    key = next(k for k in at.session_state if str(k).startswith("rv_thr_JPY_"))  # the business shown first
    submit = f"FormSubmitter:rv_thresholds_{key.removeprefix('rv_thr_JPY_')}-Save thresholds"
    widget(at.text_input, key).set_value("100.5")
    widget(at.button, submit).click().run()
    assert any("JPY 100.5 has more decimals than JPY has (0)" in e.value for e in at.error), [e.value for e in at.error]
    assert db_rows(path, "SELECT count(*) FROM review_large_invoice") == [(0,)]
    widget(at.text_input, key).set_value("100")
    widget(at.button, submit).click().run()
    assert_clean(at)
    assert db_rows(path, "SELECT currency, above FROM review_large_invoice") == [("JPY", Decimal(100))]
