"""The notebooks run top to bottom on a temporary demo database and show the figures the engine computes.

They are executed with nbclient on the `python3` kernel, which jupyter_client starts with the
interpreter running the tests (the project's .venv), so they import this checkout's `engine`.

Each test appends one cell that prints, as JSON, the notebook's private folder (`workdir`, holding the
demo data folder the notebook imported) and the tables its cells displayed. The test then imports the
same demo folder into its own database, asks the engine directly for the same figures, aggregates them
itself and compares them with what the notebook showed: its printed dicts, its tables and the numbers
inside its plotly figures.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from engine.billing.bill_run import bill_run
from engine.currencies import MINOR_UNITS
from engine.db import connect
from engine.ingest.importer import import_folder
from engine.review import FLAGS, review
from engine.whatif.scenarios import parse_scenario, run_simulation

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
PLOTLY = "application/vnd.plotly.v1+json"


def execute(name: str, dump_source: str, workdir: Path, monkeypatch) -> tuple[nbformat.NotebookNode, dict]:
    """Run the notebook with `dump_source` appended as its last cell; return it and the JSON that cell printed."""
    # the kernel inherits TMPDIR: the notebook's mkdtemp folder lands in the test's tmp_path and goes with it,
    # even when a cell fails
    monkeypatch.setenv("TMPDIR", str(workdir))
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(dump_source))
    NotebookClient(
        nb, kernel_name="python3", timeout=600, allow_errors=False, resources={"metadata": {"path": str(workdir)}}
    ).execute()
    dumped = json.loads("".join(o["text"] for o in nb.cells[-1].outputs if o.get("name") == "stdout"))
    assert Path(dumped["workdir"]).parent == workdir
    return nb, dumped


def outputs(nb) -> list[dict]:
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]


def cell_with(nb, marker: str):
    """The one code cell whose source contains `marker`."""
    cells = [c for c in nb.cells if c.cell_type == "code" and marker in c.source]
    assert len(cells) == 1, f"{len(cells)} cells contain {marker!r}"
    return cells[0]


def figure_of(nb, marker: str) -> list[dict]:
    """The traces of the plotly figure shown by the cell containing `marker`."""
    figs = [o["data"][PLOTLY]["data"] for o in cell_with(nb, marker).outputs if PLOTLY in o.get("data", {})]
    assert len(figs) == 1, f"the cell with {marker!r} shows {len(figs)} figures"
    return figs[0]


def shown(x) -> Decimal:
    # plotly stores numbers as JSON floats; the shortest repr of a float made from a 2-decimal amount of
    # this size is that decimal again, so the comparison with exact amounts stays exact
    return Decimal(repr(x))


def major(minor: int, currency: str) -> Decimal:
    return Decimal(int(minor)).scaleb(-MINOR_UNITS[currency])


def decimals(records: list[dict], *columns: str) -> list[dict]:
    return [{k: (Decimal(v) if k in columns else v) for k, v in r.items()} for r in records]


def demo_copy(dumped: dict, tmp_path: Path):
    """A database of the test's own, holding the demo data folder the notebook imported."""
    con = connect(tmp_path / "check.duckdb")
    import_folder(con, Path(dumped["workdir"]) / "demo")
    return con


def test_notebooks_are_stored_without_outputs():
    paths = list(NOTEBOOKS.glob("*.ipynb"))
    assert {p.name for p in paths} >= {"bill_run_review.ipynb", "what_if_pricing.ipynb"}
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert not outputs(nb), f"{path.name} is committed with outputs"


# --- bill run review ----------------------------------------------------------------------------------

REVIEW_DUMP = """
import json as _json
print(_json.dumps({
    "workdir": str(workdir),
    "period_date": PERIOD_DATE.isoformat(),
    "totals": totals.astype(str).to_dict("records"),
    "largest": largest[["currency", "total"]].astype(str).to_dict("records"),
    "exceptions": sorted(exceptions["contract_id"]),
    "pending_charges": sorted(c.charge_id for c in report.delayed_charges_pending),
    "pending_usage": summary.astype(str).to_dict("records"),
    "next_date": NEXT_DATE.isoformat(),
    "flag_counts": flag_counts.astype(str).to_dict("records"),
    "flag_table": flag_table[["contract_id", "flag", "reason"]].to_dict("records"),
    "unbilled": reviewed.unbilled_cycles_count,
}))
"""


@pytest.mark.slow
def test_bill_run_review_shows_the_runs_figures(tmp_path, monkeypatch):
    nb, dumped = execute("bill_run_review.ipynb", REVIEW_DUMP, tmp_path, monkeypatch)
    con = demo_copy(dumped, tmp_path)
    report = bill_run(con, dt.date.fromisoformat(dumped["period_date"]), include_delayed_charges=True)
    assert report.drafted > 50 and not report.failed

    # the run report the notebook printed
    printed = ast.literal_eval(cell_with(nb, "report = bill_run(").outputs[0]["data"]["text/plain"])
    counts = ("contracts_in_scope", "drafted", "existing", "nothing_to_bill", "delayed_charges_swept")
    assert {k: printed[k] for k in counts} == {k: getattr(report, k) for k in counts}

    # totals per currency: count and sums of the run's invoices, straight from the invoices table
    sums = con.execute(
        """SELECT currency, count(*), sum(subtotal_minor), sum(tax_minor), sum(total_minor), sum(discount_minor)
           FROM invoices WHERE run_id = ? GROUP BY currency ORDER BY currency""",
        [report.run_id],
    ).fetchall()
    expected_totals = [
        {
            "currency": c,
            "invoices": n,
            "subtotal": major(s, c),
            "tax": major(t, c),
            "total": major(tot, c),
            "discount": major(d, c),
        }
        for c, n, s, t, tot, d in sums
    ]
    assert len(expected_totals) > 1
    got_totals = [
        {**r, "invoices": int(r["invoices"])}
        for r in decimals(dumped["totals"], "subtotal", "tax", "total", "discount")
    ]
    assert got_totals == expected_totals

    # the histogram: every USD invoice total of the run
    usd = [
        major(m, "USD")
        for (m,) in con.execute(
            "SELECT total_minor FROM invoices WHERE run_id = ? AND currency = 'USD'", [report.run_id]
        ).fetchall()
    ]
    (histogram,) = figure_of(nb, "go.Histogram(")
    assert histogram["type"] == "histogram"
    assert sorted(shown(x) for x in histogram["x"]) == sorted(usd) and usd

    # the largest invoices: per currency, the five largest totals, largest first
    top = con.execute(
        """SELECT currency, total_minor FROM invoices WHERE run_id = ?
           QUALIFY row_number() OVER (PARTITION BY currency ORDER BY total_minor DESC) <= 5
           ORDER BY currency, total_minor DESC""",
        [report.run_id],
    ).fetchall()
    assert decimals(dumped["largest"], "total") == [{"currency": c, "total": major(m, c)} for c, m in top]

    # exceptions: contracts with nothing to bill or failed; delayed charges of the run's customers left pending
    exceptions = con.execute(
        "SELECT contract_id FROM bill_run_items WHERE run_id = ? AND outcome IN ('nothing_to_bill', 'failed')",
        [report.run_id],
    ).fetchall()
    assert dumped["exceptions"] == sorted(c for (c,) in exceptions)
    pending_charges = con.execute(
        """SELECT charge_id FROM delayed_charges
           WHERE charge_id NOT IN (SELECT charge_id FROM delayed_charge_sweeps)
             AND customer_id IN (SELECT c.customer_id FROM bill_run_items b JOIN contracts c USING (contract_id)
                                 WHERE b.run_id = ?)
           ORDER BY charge_id""",
        [report.run_id],
    ).fetchall()
    assert dumped["pending_charges"] == [c for (c,) in pending_charges] and pending_charges

    # pending usage inside the billed cycles, rows per contract and metric
    pending_usage = con.execute(
        """SELECT u.contract_id, u.metric, count(*) FROM usage u
           JOIN invoices i ON i.contract_id = u.contract_id AND u.usage_date BETWEEN i.period_start AND i.period_end
           WHERE i.run_id = ? AND u.status = 'pending' GROUP BY ALL ORDER BY 1, 2""",
        [report.run_id],
    ).fetchall()
    assert pending_usage
    assert [(r["contract_id"], r["metric"], int(r["rows"])) for r in dumped["pending_usage"]] == pending_usage

    # the review of the next month's run: flags per draft and per flag, unbilled cycles, the change chart
    nxt = bill_run(con, dt.date.fromisoformat(dumped["next_date"]), include_delayed_charges=True)
    reviewed = review(con, run_id=nxt.run_id)
    assert [{"flag": r["flag"], "drafts": int(r["drafts"])} for r in dumped["flag_counts"]] == [
        {"flag": f, "drafts": reviewed.flag_counts[f]} for f in FLAGS
    ]
    assert sum(reviewed.flag_counts.values()) > len(reviewed.drafts) // 2  # the demo trips several rules
    rows = [
        {"contract_id": d.contract_id, "flag": f.flag, "reason": f.reason} for d in reviewed.drafts for f in d.flags
    ]
    assert dumped["flag_table"] == rows
    assert dumped["unbilled"] == reviewed.unbilled_cycles_count
    usd = [d for d in reviewed.drafts if d.currency == "USD" and d.previous_total is not None]
    points = {
        t["name"]: sorted(zip(map(shown, t["x"]), map(shown, t["y"]), strict=True))
        for t in figure_of(nb, "changes = go.Figure()")
    }
    changed = {d.invoice_id for d in usd if "total_change" in {f.flag for f in d.flags}}
    assert points == {
        "total_change": sorted((d.previous_total, d.total) for d in usd if d.invoice_id in changed),
        "within the thresholds": sorted((d.previous_total, d.total) for d in usd if d.invoice_id not in changed),
    }
    assert points["total_change"] and points["within the thresholds"]
    con.close()


# --- what-if pricing ----------------------------------------------------------------------------------

WHAT_IF_DUMP = """
import json as _json
print(_json.dumps({
    "workdir": str(workdir),
    "from": FROM.isoformat(),
    "to": TO.isoformat(),
    "currency": CURRENCY,
    "price_totals": price.summary["totals"],
    "usage_totals": usage.summary["totals"],
}))
"""
PRICE = {"name": "API calls +10%", "changes": [{"type": "price", "product": "API calls", "percent": "10"}]}
GROWTH = {"name": "Usage +25%", "changes": [{"type": "usage", "percent": "25"}]}
TRUE_UP = "Minimum commitment true-up"  # the notebook's product label of the true-up rows, which have none
COUPON = "Coupon: "  # before a coupon's name among the products (docs/RULES.md "What-if by product")


def _sums(rows: list[dict], group) -> dict:
    """{group(row): [baseline_minor, scenario_minor, rows]} over the comparison rows."""
    out = defaultdict(lambda: [0, 0, 0])
    for r in rows:
        acc = out[group(r)]
        acc[0] += int(r["baseline_minor"])
        acc[1] += int(r["scenario_minor"])
        acc[2] += 1
    return dict(out)


def _month(r: dict) -> str:
    return str(r["period_start"])[:7] + "-01"


def _bars_by_month(traces: list[dict]) -> dict[str, dict[str, Decimal]]:
    return {t["name"]: {x: shown(y) for x, y in zip(t["x"], t["y"], strict=True)} for t in traces}


def _expected_bars(rows: list[dict], cur: str) -> dict[str, dict[str, Decimal]]:
    months = sorted(_sums([r for r in rows if r["currency"] == cur], _month).items())
    return {
        "Baseline": {m: major(b, cur) for m, (b, _, _) in months},
        "Scenario": {m: major(s, cur) for m, (_, s, _) in months},
    }


def _expected_totals(rows: list[dict]) -> list[dict]:
    return [
        {"currency": c, "baseline": major(b, c), "scenario": major(s, c), "delta": major(s - b, c), "rows": n}
        for c, (b, s, n) in sorted(_sums(rows, lambda r: r["currency"]).items())
    ]


@pytest.mark.slow
def test_what_if_pricing_shows_the_simulated_figures(tmp_path, monkeypatch):
    nb, dumped = execute("what_if_pricing.ipynb", WHAT_IF_DUMP, tmp_path, monkeypatch)
    con = demo_copy(dumped, tmp_path)
    dates = [dt.date.fromisoformat(dumped[k]) for k in ("from", "to")]
    cur = dumped["currency"]
    price = run_simulation(con, parse_scenario(PRICE), *dates).rows.to_dict("records")
    usage = run_simulation(con, parse_scenario(GROWTH), *dates).rows.to_dict("records")
    both_changes = [*PRICE["changes"], *GROWTH["changes"]]
    both = run_simulation(con, parse_scenario({"name": "both", "changes": both_changes}), *dates)
    both = both.rows.to_dict("records")
    con.close()

    # totals per currency and the revenue-per-month bars, for both scenarios
    assert decimals(dumped["price_totals"], "baseline", "scenario", "delta") == _expected_totals(price)
    assert decimals(dumped["usage_totals"], "baseline", "scenario", "delta") == _expected_totals(usage)
    price_bars = _bars_by_month(figure_of(nb, "revenue_chart(price"))
    assert price_bars == _expected_bars(price, cur)
    assert price_bars["Baseline"] != price_bars["Scenario"]
    assert _bars_by_month(figure_of(nb, "revenue_chart(usage")) == _expected_bars(usage, cur)

    # change by product: only API calls moves, by the sum of its lines' deltas
    (by_product,) = figure_of(nb, "price.by_product()")
    product_deltas = {
        p: major(s - b, cur)
        for p, (b, s, _) in _sums(
            [r for r in price if r["currency"] == cur],
            lambda r: (
                (COUPON if r["kind"] == "coupon" else "") + (r["product"] if isinstance(r["product"], str) else TRUE_UP)
            ),
        ).items()
    }
    assert dict(zip(by_product["y"], map(shown, by_product["x"]), strict=True)) == product_deltas
    # (a coupon of an invoice with API calls moves with them: a percentage of more is more; spec section 11)
    coupons = {COUPON + r["product"] for r in price if r["kind"] == "coupon"}
    others = {d for p, d in product_deltas.items() if p != "API calls" and p not in coupons}
    assert product_deltas["API calls"] > 0 and others == {0}

    # the waterfall: baseline, what the price change adds, what the usage growth adds on top, scenario
    (waterfall,) = figure_of(nb, "waterfall_by_change(")
    base, price_scenario, _ = _sums(price, lambda r: r["currency"])[cur]
    both_scenario = _sums(both, lambda r: r["currency"])[cur][1]
    assert [shown(y) for y in waterfall["y"]] == [
        major(base, cur),
        major(price_scenario - base, cur),
        major(both_scenario - price_scenario, cur),
        major(both_scenario, cur),
    ]
    assert waterfall["measure"] == ["absolute", "relative", "relative", "total"]
    assert not list(ROOT.glob("data/*.duckdb.wal"))  # the workbench database was never opened
