"""The what-if scenarios page under streamlit.testing.v1.AppTest, on a seeded temporary demo database."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from engine.db import connect
from engine.whatif.scenarios import parse_scenario, waterfall_by_change
from views._format import money_of_major
from views._whatif_waterfall import steps_of_currency

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the page imports `views._database`, as `streamlit run app.py` allows
    sys.path.insert(0, str(ROOT))
PAGE = str(ROOT / "views" / "scenarios.py")
HEADER = "contract_id,customer_id,product,line_id,kind,currency,period_start,baseline_amount,scenario_amount,delta"


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory) -> Path:
    from engine.ingest.demo import seed_demo

    path = tmp_path_factory.mktemp("scenario-demo") / "demo.duckdb"
    con = connect(path)
    seed_demo(con, contracts=16, usage_rows=800, seed=7)
    con.close()
    return path


@pytest.fixture
def workbench_db(demo_template, tmp_path, monkeypatch) -> Path:
    path = tmp_path / "workbench.duckdb"
    path.write_bytes(demo_template.read_bytes())
    monkeypatch.setenv("BILLSIM_DB", str(path))
    yield path
    from views._database import forget_database

    forget_database(str(path))


def clean(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def start() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["scn_from"] = __import__("datetime").date(2025, 1, 1)
    at.session_state["scn_to"] = __import__("datetime").date(2025, 12, 31)
    return clean(at.run())


def by_key(items, key):
    found = [w for w in items if w.key == key]
    assert found, f"no widget {key!r}: {[w.key for w in items]}"
    return found[0]


def steps_done(at: AppTest) -> AppTest:
    """The run's waterfall by change is worked out by a worker thread after the results are shown: wait for it, then
    rerun the page, as the page's polling fragment does once it is done."""
    job = at.session_state["scn_result"]["by_change_job"] if "scn_result" in at.session_state else None
    if job is not None:
        job.result(timeout=120)
    return clean(at.run())


def test_page_renders_on_the_demo_database(workbench_db):
    at = start()
    assert [t.value for t in at.title] == ["What-if scenarios"]
    assert not at.get("plotly_chart")


def test_building_and_running_a_scenario_shows_the_charts_and_a_comparison_download(workbench_db):
    at = start()
    by_key(at.selectbox, "scn_type").set_value("price").run()
    by_key(at.radio, "scn_price_scope").set_value("A product").run()
    by_key(at.selectbox, "scn_price_product").set_value("API calls")
    by_key(at.text_input, "scn_price_percent").set_value("10")
    clean(by_key(at.button, "scn_add").click().run())
    by_key(at.selectbox, "scn_type").set_value("usage").run()
    by_key(at.text_input, "scn_usage_percent").set_value("25")
    clean(by_key(at.button, "scn_add").click().run())
    assert [m.value for m in at.markdown if m.value.startswith(("1.", "2."))] == [
        "1. price API calls +10%",
        "2. usage all metrics +25%",
    ]
    clean(by_key(at.button, "scn_run").click().run())
    charts = at.get("plotly_chart")
    assert len(charts) == 4  # per month, by product, top movers, waterfall
    figures = [json.loads(c.proto.spec) for c in charts]
    assert {t["type"] for f in figures for t in f["data"]} == {"bar", "waterfall"}
    downloads = at.get("download_button")
    assert any("comparison.csv" in str(d.proto) for d in downloads)
    result = at.session_state["scn_result"]
    text = result["csv"].read_text()
    assert text.splitlines()[0] == HEADER
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == result["summary"]["rows"] > 0
    assert {m.label.split(" (")[0] for m in at.metric} == {"Baseline", "Scenario", "Change"}


def test_an_unknown_line_is_refused_with_the_engines_message(workbench_db):
    at = start()
    by_key(at.selectbox, "scn_type").set_value("price").run()
    by_key(at.radio, "scn_price_scope").set_value("One line").run()
    by_key(at.text_input, "scn_price_line").set_value("L-NOPE")
    at = by_key(at.button, "scn_add").click().run()
    assert any("unknown line 'L-NOPE'" in e.value for e in at.error)
    assert at.session_state["scn_changes"] == []


def test_saved_scenarios_are_saved_rerun_and_deleted(workbench_db):
    at = start()
    by_key(at.text_input, "scn_name").set_value("Proration off")
    by_key(at.selectbox, "scn_type").set_value("proration").run()
    clean(by_key(at.button, "scn_add").click().run())
    clean(by_key(at.button, "scn_save").click().run())
    assert by_key(at.selectbox, "scn_saved").value == "Proration off"
    clean(by_key(at.button, "scn_rerun").click().run())
    assert at.session_state["scn_result"]["summary"]["scenario"] == "Proration off"
    assert len(at.get("plotly_chart")) == 4
    # Delete asks first (one click beside Load and Re-run deleted it for good): the button is in a confirmation
    assert [m.value.replace("\\", "") for m in at.markdown if m.value.startswith("Delete the saved scenario")] == [
        "Delete the saved scenario 'Proration off'? It cannot be brought back."
    ]
    assert by_key(at.button, "scn_delete").label == "Delete it"
    clean(by_key(at.button, "scn_delete").click().run())
    assert not [s for s in at.selectbox if s.key == "scn_saved"]


def test_run_scenario_rates_the_baseline_once_and_draws_the_same_waterfall_as_the_waterfall_alone(
    workbench_db, count_ratings
):
    """One click, one baseline (issue 22): the page's waterfall by change is `waterfall_by_change`'s, step for
    step, though the page rated the baseline once and each change once (main's page: twice, and N + 1)."""
    con = connect(workbench_db)
    churned = con.execute("SELECT min(contract_id) FROM contracts").fetchone()[0]
    changes = [
        {"type": "price", "product": "API calls", "percent": "10"},
        {"type": "usage", "percent": "25"},
        {"type": "churn", "contract_ids": [churned]},
    ]
    dates = (dt.date(2025, 1, 1), dt.date(2025, 12, 31))  # start()'s range
    expected = waterfall_by_change(con, parse_scenario({"name": "three", "changes": changes}), *dates)
    con.close()
    count_ratings.update(baseline=0, scenario=0)  # the page's ratings only, not those of `expected`
    at = start()
    at.session_state["scn_changes"] = changes
    at = steps_done(clean(by_key(at.button, "scn_run").click().run()))
    assert count_ratings == {"baseline": 1, "scenario": 3}

    result = at.session_state["scn_result"]
    pd.testing.assert_frame_equal(result["by_change"], expected)
    clean(by_key(at.radio, "scn_measure").set_value("before_tax").run())
    choice = [r for r in at.radio if r.key == "scn_currency"]  # none when one currency
    currencies = list(choice[0].options) if choice else list(expected["currency"].unique())
    assert sorted(currencies) == sorted(expected["currency"].unique())
    for cur in currencies:
        if choice:
            clean(by_key(at.radio, "scn_currency").set_value(cur).run())
        drawn, _ = steps_of_currency(expected, cur, "before_tax")
        spec = json.loads({c.key: c.proto for c in at.get("plotly_chart")}["scn_chart_waterfall"].spec)
        (trace,) = spec["data"]
        assert trace["x"] == list(drawn["label"]) and len(trace["x"]) >= 3  # baseline, a change or more, scenario
        assert [Decimal(str(y)) for y in trace["y"]] == list(drawn["amount"])
        assert trace["measure"] == list(drawn["measure"])


def _add_usage_change(at: AppTest, percent: str) -> AppTest:
    by_key(at.selectbox, "scn_type").set_value("usage").run()
    by_key(at.text_input, "scn_usage_percent").set_value(percent)
    return clean(by_key(at.button, "scn_add").click().run())


def test_saving_under_a_name_already_saved_asks_before_replacing_it(workbench_db):
    """A trial lost a saved scenario: Save under the same name (every new scenario is "What-if") replaced it."""
    at = start()
    by_key(at.text_input, "scn_name").set_value("FY27")
    at = _add_usage_change(at, "12")
    clean(by_key(at.button, "scn_save").click().run())
    clean(by_key(at.button, "scn_remove_0").click().run())
    at = _add_usage_change(at, "50")
    at = by_key(at.button, "scn_save").click().run()
    assert any("'FY27' is already saved (usage all metrics +12%)" in e.value for e in at.error), at.error
    assert at.caption and any(c.value.startswith("usage all metrics +12%") for c in at.caption)  # the saved one
    at = clean(by_key(at.button, "scn_replace_it").click().run())
    assert any(c.value.startswith("usage all metrics +50%") for c in at.caption)
    assert not [b for b in at.button if b.key == "scn_replace_it"]


def test_a_saved_scenario_runs_again_over_the_range_it_was_saved_with(workbench_db):
    """Re-run billed the page's range of the moment, not the saved scenario's: other figures, the same name."""
    import datetime as dt

    at = start()  # cycles of 2025
    by_key(at.text_input, "scn_name").set_value("Growth")
    at = _add_usage_change(at, "20")
    clean(by_key(at.button, "scn_save").click().run())
    assert any("cycles from 2025-01-01 through 2025-12-31" in c.value for c in at.caption)
    by_key(at.date_input, "scn_from").set_value(dt.date(2025, 6, 1))
    by_key(at.date_input, "scn_to").set_value(dt.date(2025, 6, 30))
    clean(by_key(at.button, "scn_rerun").click().run())
    summary = at.session_state["scn_result"]["summary"]
    assert (summary["from_date"], summary["to_date"]) == ("2025-01-01", "2025-12-31")
    assert (by_key(at.date_input, "scn_from").value, by_key(at.date_input, "scn_to").value) == (
        dt.date(2025, 1, 1),
        dt.date(2025, 12, 31),
    )


def test_a_loaded_scenario_without_a_change_does_not_run_the_change_the_form_shows(workbench_db):
    """An uploaded empty scenario ran "usage −100 %", typed in the form and never added, under its own name."""
    from engine.whatif.saved import save_scenario
    from engine.whatif.scenarios import parse_scenario

    con = connect(workbench_db)
    save_scenario(con, parse_scenario({"name": "empty", "changes": []}))
    con.close()
    at = start()
    clean(by_key(at.button, "scn_load").click().run())
    by_key(at.selectbox, "scn_type").set_value("usage").run()
    by_key(at.text_input, "scn_usage_percent").set_value("-100")
    at = clean(by_key(at.button, "scn_run").click().run())
    assert at.session_state["scn_result"]["summary"]["changes"] == []  # not "usage all metrics -100%"
    assert any("The scenario has no change" in i.value for i in at.info)
    assert at.session_state["scn_changes"] == []


def test_a_range_that_ends_before_it_starts_is_refused_in_the_pages_words(workbench_db):
    import datetime as dt

    at = start()
    at = _add_usage_change(at, "10")
    by_key(at.date_input, "scn_from").set_value(dt.date(2025, 12, 31))
    by_key(at.date_input, "scn_to").set_value(dt.date(2025, 1, 1))
    at = by_key(at.button, "scn_run").click().run()
    assert [e.value for e in at.error] == [
        "Scenario refused: “through” (2025-01-01) is before “Cycles starting from” (2025-12-31)"
    ]
    assert "scn_result" not in at.session_state


def test_a_run_refused_says_why_in_the_open_not_inside_the_collapsed_status(workbench_db):
    """The reason was inside the collapsed "Scenario refused" box: a trial saw no reason until it opened it."""
    import datetime as dt

    at = start()
    at = _add_usage_change(at, "10")
    by_key(at.date_input, "scn_from").set_value(dt.date(2015, 1, 1))
    by_key(at.date_input, "scn_to").set_value(dt.date(2025, 12, 31))
    at = by_key(at.button, "scn_run").click().run()
    top = [c for c in at.main.children.values() if type(c).__name__ == "Error"]
    assert [e.value for e in top] == [
        "Scenario refused: invalid request: 2015-01-01 .. 2025-12-31 is longer than 10 years; ask for a shorter range"
    ]


def test_a_range_whose_cycles_run_past_the_last_usage_is_said_to_bill_no_usage_there(workbench_db):
    """Next year's figures had no usage at all and "usage +20 %" moved nothing; and a range ending on the last usage
    day drew its last month at half, its cycles running past it: the page says why, whenever the range's cycles
    end after the last usage recorded."""
    import datetime as dt

    con = connect(workbench_db)
    last = con.execute("SELECT max(usage_date) FROM usage").fetchone()[0]
    con.close()
    at = start()
    at = _add_usage_change(at, "20")
    for end in (last + dt.timedelta(days=90), last):  # past it; on it (the cycles of its month end after it)
        by_key(at.date_input, "scn_from").set_value(last.replace(day=1))
        by_key(at.date_input, "scn_to").set_value(end)
        at = clean(by_key(at.button, "scn_run").click().run())
        summary = at.session_state["scn_result"]["summary"]
        assert summary["usage_through"] == last.isoformat() and summary["cycles_end"] > last.isoformat()
        assert [w.value for w in at.warning if "No usage is recorded" in w.value] == [
            f"No usage is recorded after {last} for these contracts, and the range's cycles run to "
            f"{summary['cycles_end']}: their days after it bill no usage, in the baseline and in the scenario (so the "
            "last months look smaller), and a usage change moves nothing there. A what-if bills the recorded data "
            "again with the changes; it does not forecast usage."
        ]
    early = last - dt.timedelta(days=400)  # cycles that all end long before the last usage
    by_key(at.date_input, "scn_from").set_value(early)
    by_key(at.date_input, "scn_to").set_value(early + dt.timedelta(days=5))
    at = clean(by_key(at.button, "scn_run").click().run())
    summary = at.session_state["scn_result"]["summary"]
    assert summary["cycles_end"] is None or summary["cycles_end"] <= last.isoformat()
    assert not [w for w in at.warning if "No usage is recorded" in w.value]


def test_a_scenario_beyond_the_waterfalls_limit_says_why_it_is_shown_by_product(workbench_db):
    """Beyond MAX_WATERFALL_CHANGES changes the run works out no waterfall by change: the page said nothing."""
    from engine.service.limits import MAX_WATERFALL_CHANGES

    at = start()
    at.session_state["scn_changes"] = [
        {"type": "usage", "percent": str(i + 1)} for i in range(MAX_WATERFALL_CHANGES + 1)
    ]
    at = clean(by_key(at.button, "scn_run").click().run())
    assert at.session_state["scn_result"]["by_change"] is None
    assert [c.value for c in at.caption if c.value.startswith("By change is worked out")] == [
        f"By change is worked out for a scenario of at most {MAX_WATERFALL_CHANGES} changes (each change is billed "
        f"once more); this one has {MAX_WATERFALL_CHANGES + 1}: shown by product."
    ]


def test_a_refused_run_says_scenario_refused_once_and_the_done_label_counts_every_billing(workbench_db):
    """ "Scenario refused: scenario refused: change 1: …" read twice; "Billed N cycles twice" undercounted a
    3-change run, billed four times (baseline, scenario, two more steps of the waterfall by change)."""
    at = start()
    by_key(at.selectbox, "scn_type").set_value("usage").run()
    by_key(at.text_input, "scn_usage_percent").set_value("7,5")
    at = by_key(at.button, "scn_run").click().run()
    assert [e.value for e in at.error] == [
        "Scenario refused: change 1: percent: not a plain decimal number: '7,5' (ASCII digits and a decimal point, "
        "e.g. 12.50; no comma, no exponent)"
    ]
    by_key(at.text_input, "scn_usage_percent").set_value("10")
    for percent in ("10", "20", "30"):
        at = _add_usage_change(at, percent)
    at = clean(by_key(at.button, "scn_run").click().run())
    cycles = at.session_state["scn_result"]["summary"]["cycles"]
    labels = [c.label for c in at.main.children.values() if type(c).__name__ == "Status"]
    assert any(
        label.startswith("Compared in ")
        and label.endswith(f"s: billed {cycles:,} cycles as stored and with the changes")
        for label in labels
    ), labels
    at = steps_done(at)  # then the waterfall by change: the run's time with the results says every billing
    assert [
        c.value
        for c in at.caption
        if c.value.startswith(
            f"Billed {cycles:,} cycles as stored and with the changes, and 2 more times for the waterfall by change: "
        )
    ], [c.value for c in at.caption]


THREE_USAGE = [{"type": "usage", "percent": p} for p in ("10", "20", "30")]


def _drawn_figures(at: AppTest) -> set[str]:
    return {c.key for c in at.get("plotly_chart")}


def test_the_results_stand_when_the_waterfall_by_change_cannot_be_worked_out(workbench_db, monkeypatch):
    """The results come first, the waterfall by change after (its steps bill the cycles once more per change): a
    refusal while working it out (the database busy) leaves every result of the run on the page, the waterfall
    by product, and says why. Before, the whole run was one call: the same refusal lost the results."""
    from engine.errors import DatabaseBusyError
    from engine.whatif import scenarios as scenarios_module

    def busy(*_args, **_kw):
        raise DatabaseBusyError("the database is busy: try again")

    monkeypatch.setattr(scenarios_module, "_rate_steps", busy)
    at = start()
    at.session_state["scn_changes"] = THREE_USAGE
    at = steps_done(clean(by_key(at.button, "scn_run").click().run()))
    result = at.session_state["scn_result"]
    assert result["by_change"] is None and result["summary"]["totals"]
    assert {"scn_chart_month", "scn_chart_waterfall"} <= _drawn_figures(at)
    assert [c.value for c in at.caption if c.value.startswith("By change was not worked out")] == [
        "By change was not worked out: the database is busy: try again. Shown by product."
    ]
    assert not [r for r in at.radio if r.key == "scn_wf_view"]  # no "By change" to pick over a chart by product
    spec = json.loads({c.key: c.proto for c in at.get("plotly_chart")}["scn_chart_waterfall"].spec)
    assert "by product" in spec["layout"]["title"]["text"]
    cycles = result["summary"]["cycles"]
    assert [
        c.value for c in at.caption if c.value.startswith(f"Billed {cycles:,} cycles as stored and with the changes: ")
    ]


@pytest.mark.steps_in_background
def test_the_page_is_usable_while_the_waterfall_is_worked_out_and_keeps_it(workbench_db, monkeypatch):
    """A trial: Download comparison.csv or a measure picked while the waterfall by change was worked out threw it
    away (the page's click reran the script that worked it out). A worker thread works it out now: the results
    are shown and used meanwhile, the waterfall's place says what is happening, and it is drawn once done."""
    import threading

    from engine.whatif import scenarios as scenarios_module

    release, rate_steps = threading.Event(), scenarios_module._rate_steps

    def held(*args, **kw):  # the steps wait until the test has used the page
        assert release.wait(timeout=120)
        return rate_steps(*args, **kw)

    monkeypatch.setattr(scenarios_module, "_rate_steps", held)
    at = start()
    at.session_state["scn_changes"] = THREE_USAGE
    at = clean(by_key(at.button, "scn_run").click().run())
    waiting = [i.value for i in at.info if i.value.startswith("Working out what drives the change")]
    assert waiting and "scn_chart_month" in _drawn_figures(at) and "scn_chart_waterfall" not in _drawn_figures(at)
    assert [c.value for c in at.caption if c.value.endswith("working out what drives the change…")]
    for measure in ("tax", "before_tax"):  # the page used meanwhile: each click reruns it
        at = clean(by_key(at.radio, "scn_measure").set_value(measure).run())
        assert at.session_state["scn_result"]["by_change_job"] is not None and "scn_chart_month" in _drawn_figures(at)
    release.set()
    at = steps_done(at)
    result = at.session_state["scn_result"]
    assert result["by_change"] is not None and not result.get("by_change_unfinished")
    assert by_key(at.radio, "scn_wf_view").value == "By change"
    spec = json.loads({c.key: c.proto for c in at.get("plotly_chart")}["scn_chart_waterfall"].spec)
    assert "by change" in spec["layout"]["title"]["text"]
    assert not [i for i in at.info if i.value.startswith("Working out what drives the change")]


def test_the_totals_table_lists_its_currencies_by_code_and_the_charts_open_on_the_one_that_moves(workbench_db):
    """Every run lists its currencies in one order, by code (the totals table and the currency picker), never by
    what moved most: a table read run after run keeps its rows where they were. The charts still open on the
    currency that moves most (a churned USD contract: USD), where the story is."""
    con = connect(workbench_db)
    churned = con.execute(  # a USD contract billing in start()'s range, 2025
        "SELECT contract_id FROM contracts WHERE currency = 'USD' ORDER BY start_date, contract_id LIMIT 1"
    ).fetchone()[0]
    con.close()
    at = start()
    at.session_state["scn_changes"] = [{"type": "churn", "contract_ids": [churned]}]
    clean(by_key(at.button, "scn_run").click().run())
    summary = at.session_state["scn_result"]["summary"]
    listed = [t["currency"] for t in summary["totals"]]
    assert listed == sorted(listed) and len(listed) >= 3 and listed[-1] == "USD"
    # the totals table (a table without selection has no key under AppTest): its columns
    (table,) = [
        d.value for d in at.dataframe if list(d.value.columns) == ["currency", "baseline", "scenario", "change"]
    ]
    assert list(table["currency"]) == listed
    picker = by_key(at.radio, "scn_currency")
    assert list(picker.options) == listed and picker.value == "USD"


def test_a_comparison_csv_beyond_a_spreadsheets_rows_says_so(workbench_db, monkeypatch):
    """A trial's 100k-contract year made 1,437,137 lines of comparison.csv, beyond Excel's 1,048,576, unsaid."""
    import views._format

    at = start()
    at.session_state["scn_changes"] = THREE_USAGE
    at = steps_done(clean(by_key(at.button, "scn_run").click().run()))
    rows = at.session_state["scn_result"]["summary"]["rows"]
    assert not [c for c in at.caption if c.value.startswith("comparison.csv has")]  # within the limit: nothing said
    monkeypatch.setattr(views._format, "SPREADSHEET_ROWS", rows)  # the header makes it one row too many
    at = clean(at.run())
    assert [c.value for c in at.caption if c.value.startswith("comparison.csv has")] == [
        f"comparison.csv has {rows:,} rows, more than a spreadsheet opens ({rows:,} rows in Excel): open it with "
        "DuckDB, pandas or a notebook; the tables on this page sum it up."
    ]


def test_the_bar_charts_leave_room_for_the_labels_outside_their_bars(workbench_db):
    """Labels outside the shorter bars ran past the chart's right edge, or over the customers' names on the left
    (a trial: 'A$24,538.5', '-A$109,326.30' over a name): a bar long enough holds its label inside, and the axis
    runs well beyond the longest bar on each side that has bars."""
    con = connect(workbench_db)
    churned = con.execute("SELECT min(contract_id) FROM contracts").fetchone()[0]
    con.close()
    at = start()
    at.session_state["scn_changes"] = [*THREE_USAGE[:1], {"type": "churn", "contract_ids": [churned]}]
    at = steps_done(clean(by_key(at.button, "scn_run").click().run()))
    specs = {c.key: json.loads(c.proto.spec) for c in at.get("plotly_chart")}
    assert "scn_chart_movers" in specs  # a customer churned: one falls, others grow
    for key in ("scn_chart_product", "scn_chart_movers"):
        if key not in specs:
            continue
        (trace,) = specs[key]["data"]
        assert trace["textposition"] == "auto" and trace["orientation"] == "h"
        low, high = min(0, *trace["x"]), max(0, *trace["x"])
        start_at, end_at = specs[key]["layout"]["xaxis"]["range"]
        if high > 0:
            assert end_at - high >= (high - low) / 2, (key, start_at, end_at, low, high)
        if low < 0:
            assert low - start_at >= (high - low) / 2, (key, start_at, end_at, low, high)


def test_the_tiles_follow_the_amounts_chosen_and_give_the_change_as_a_share(workbench_db):
    """A trial read tiles before tax beside a month chart and top movers of the total with tax: one screen, two
    bases. The tiles now show the measure the charts show, and the change as a share of the baseline."""
    at = start()
    at.session_state["scn_changes"] = THREE_USAGE
    at = steps_done(clean(by_key(at.button, "scn_run").click().run()))
    totals = at.session_state["scn_result"]["effects"]["totals"]
    for measure, words, (baseline, scenario, delta) in (
        ("before_tax", "before tax", ("baseline", "scenario", "delta")),
        ("total", "total with tax", ("total_baseline", "total_scenario", "total_delta")),
    ):
        at = clean(by_key(at.radio, "scn_measure").set_value(measure).run())
        tiles = {m.label.split(" (")[0]: m for m in at.metric}
        (cur,) = {m.label.split(" (")[1].split(",")[0] for m in at.metric}
        row = totals[totals["currency"] == cur].iloc[0]
        assert {m.label for m in at.metric} == {f"{t} ({cur}, {words})" for t in ("Baseline", "Scenario", "Change")}
        assert tiles["Baseline"].value == money_of_major(row[baseline], cur)
        assert tiles["Scenario"].value == money_of_major(row[scenario], cur)
        assert tiles["Change"].value == money_of_major(row[delta], cur)
        share = Decimal(row[delta]) / Decimal(row[baseline]) * 100
        assert tiles["Change"].delta == f"{share:+.2f} % of the baseline"


def test_the_currencies_table_says_its_amounts_are_before_tax(workbench_db):
    """The tiles follow the amounts chosen (total with tax by default when a tax moves); the table of every
    currency above them is before tax, and its headers say so."""
    at = start()
    at.session_state["scn_changes"] = THREE_USAGE
    at = steps_done(clean(by_key(at.button, "scn_run").click().run()))
    (table,) = [d for d in at.dataframe if list(d.value.columns) == ["currency", "baseline", "scenario", "change"]]
    config = json.loads(table.proto.columns)
    assert {c: config[c]["label"] for c in ("baseline", "scenario", "change")} == {
        c: f"{c}, before tax" for c in ("baseline", "scenario", "change")
    }


def test_a_second_run_over_the_same_data_and_range_says_it_kept_the_billing_as_stored(workbench_db):
    """Issue 22: Run again with another change over the same data and range takes the last run's billing as stored
    (the baseline) instead of billing it again, and the run's time says so; its baseline totals are the first's."""
    at = start()
    at.session_state["scn_changes"] = [{"type": "usage", "percent": "10"}]
    at = steps_done(clean(by_key(at.button, "scn_run").click().run()))
    first = at.session_state["scn_result"]["summary"]
    assert first["baseline_kept"] is False
    at.session_state["scn_changes"] = [{"type": "usage", "percent": "20"}]
    at = steps_done(clean(by_key(at.button, "scn_run").click().run()))
    second = at.session_state["scn_result"]["summary"]
    assert second["baseline_kept"] is True
    assert [t["baseline"] for t in second["totals"]] == [t["baseline"] for t in first["totals"]]
    assert [t["scenario"] for t in second["totals"]] != [t["scenario"] for t in first["totals"]]
    cycles = second["cycles"]
    assert [
        c.value
        for c in at.caption
        if c.value.startswith(
            f"Billed {cycles:,} cycles with the changes (as stored: the billing of the last run over the same data "
            "and range, kept): "
        )
    ], [c.value for c in at.caption]


def test_the_customers_table_follows_the_amounts_chosen(workbench_db, demo_template):
    """A trial chose "tax" and read a customers' table still ordered by the total with tax: the table now puts the
    customers whose chosen amounts move most first, and its caption says by what."""
    from views._format import customer

    con = connect(demo_template, read_only=True)  # in USD, two customers are taxed by the state's code
    (code,) = con.execute("SELECT tax_code FROM taxes WHERE tax_code LIKE '%US-STATE'").fetchone()
    con.close()
    at = start()
    at.session_state["scn_changes"] = [*THREE_USAGE, {"type": "tax", "tax_code": code, "rate": "100"}]
    at = steps_done(clean(by_key(at.button, "scn_run").click().run()))
    at = clean(by_key(at.radio, "scn_currency").set_value("USD").run())
    by_measure = at.session_state["scn_result"]["effects"]["customers"]
    shown = {}
    for measure, words in (("tax", "tax"), ("before_tax", "amount before tax"), ("total", "total with tax")):
        at = clean(by_key(at.radio, "scn_measure").set_value(measure).run())
        (caption,) = [c.value for c in at.caption if " customer(s) whose invoices change in USD" in c.value]
        assert caption.endswith(f", largest change of the {words} first."), caption
        (table,) = [d for d in at.dataframe if {"customer", "total change"} <= set(d.value.columns)]
        expected = by_measure[measure][by_measure[measure]["currency"] == "USD"]
        labels = [customer(n, c) for n, c in zip(expected["customer_name"], expected["customer_id"], strict=True)]
        shown[measure] = list(table.value["customer"])
        assert shown[measure] == labels, measure
        beside = {"tax": "tax change", "before_tax": "before tax change", "total": "total, baseline"}[measure]
        assert list(table.value.columns[:2]) == ["customer", beside]  # the change the rows are ordered by, first
    assert len({tuple(order) for order in shown.values()}) > 1, shown  # the orders differ here: the choice counts


def test_a_change_edited_in_the_form_but_not_added_is_said_not_to_be_in_the_scenario(workbench_db):
    """A trial added usage +10 %, typed 20 over the 10 and ran: the run billed +10 % (the form is where a change is
    made before it is added), unsaid. Under the list, the page now says the change shown is not in the scenario."""
    at = _add_usage_change(start(), "10")
    pending = [c.value for c in at.caption if c.value.startswith("The change shown above")]
    assert pending == []  # the form shows the change just added
    by_key(at.text_input, "scn_usage_percent").set_value("20")
    at = clean(at.run())
    assert [c.value for c in at.caption if c.value.startswith("The change shown above")] == [
        "The change shown above (usage all metrics +20%) is not in the scenario: **Add change** to include it "
        "(**Run scenario** runs the 1 change(s) listed)."
    ]
    by_key(at.text_input, "scn_usage_percent").set_value("twenty")
    at = clean(at.run())
    assert [c.value for c in at.caption if c.value.startswith("The change shown above")] == [
        "The change shown above is not in the scenario: **Add change** to include it (**Run scenario** runs the 1 "
        "change(s) listed)."
    ]
    at = _add_usage_change(at, "20")
    assert [c.value for c in at.caption if c.value.startswith("The change shown above")] == []
    assert len(at.session_state["scn_changes"]) == 2


@pytest.mark.steps_in_background
def test_a_new_run_stops_the_waterfall_still_worked_out_for_the_run_before(workbench_db, monkeypatch):
    """Run again while the last run's waterfall by change was still worked out: it went on beside the new run, on
    the same two cores, for a result no longer shown. It now stops before its next step."""
    import threading

    from engine.whatif import scenarios as scenarios_module
    from views import _whatif_steps

    release, rate_scenario, calls = threading.Event(), scenarios_module._rate_scenario, []

    def counted(*args, **kw):  # the first step of the first run's waterfall waits until the second run has started
        calls.append(threading.current_thread().name)
        if len(calls) == 2:
            assert release.wait(timeout=120)
        return rate_scenario(*args, **kw)

    monkeypatch.setattr(scenarios_module, "_rate_scenario", counted)
    at = start()
    at.session_state["scn_changes"] = THREE_USAGE  # its waterfall rates two steps after the scenario
    at = clean(by_key(at.button, "scn_run").click().run())
    first_job = at.session_state["scn_result"]["by_change_job"]
    at.session_state["scn_changes"] = [{"type": "usage", "percent": "5"}]  # a waterfall of no step
    at = clean(by_key(at.button, "scn_run").click().run())
    release.set()
    waterfall, problem = first_job.result(timeout=120)
    assert waterfall is None and problem == _whatif_steps.CANCELLED
    at = steps_done(at)
    # the first run: the scenario and its first step (the second was never rated); the second run: its scenario
    assert len(calls) == 3, calls
    result = at.session_state["scn_result"]
    assert result["summary"]["changes"] == ["usage all metrics +5%"] and result["by_change"] is not None


def test_the_figures_by_product_are_worked_out_once_per_result_not_at_every_click(workbench_db, monkeypatch):
    """By product (the chart and the waterfall by product) was computed from every comparison row at each rerun of
    the page, so each click (a measure, a currency, a download) waited ≈ 0.5 s at 100k contracts × a year."""
    from engine.service import whatif as service_whatif
    from engine.whatif import compare
    from engine.whatif import scenarios as scenarios_module

    calls = {"by_product": 0, "waterfall_by_product": 0}
    by_product, waterfall = scenarios_module.Simulation.by_product, compare.waterfall_by_product

    def counted_by_product(self):
        calls["by_product"] += 1
        return by_product(self)

    def counted_waterfall(rows):
        calls["waterfall_by_product"] += 1
        return waterfall(rows)

    monkeypatch.setattr(scenarios_module.Simulation, "by_product", counted_by_product)
    monkeypatch.setattr(service_whatif, "waterfall_by_product", counted_waterfall)  # where the page finds it
    at = start()
    at.session_state["scn_changes"] = [{"type": "usage", "percent": "10"}, {"type": "price", "percent": "5"}]
    at = steps_done(clean(by_key(at.button, "scn_run").click().run()))
    at = clean(by_key(at.radio, "scn_wf_view").set_value("By product").run())
    for measure in ("tax", "before_tax", "total"):  # clicks on the page: each reruns it
        at = clean(by_key(at.radio, "scn_measure").set_value(measure).run())
    assert "scn_chart_waterfall" in _drawn_figures(at)
    assert calls == {"by_product": 1, "waterfall_by_product": 1}
