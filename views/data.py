"""Data: what is stored (counts per business, currency, status; a table browser), CSV upload, demo data.

Import and demo regeneration are long: a button's callback only records the request (once per
drawn button) and opens its tab; the page body carries it out with a progress bar inside that tab,
then reruns so the outcome is shown where the user is looking.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from engine.service import ImportProblems, ledger
from engine.service.formats import status_text
from engine.service.reads import BROWSABLE_TABLES, DATA_FILES
from views import _reads
from views._actions import flash, run_action, show_flash
from views._database import db_path, replace_database, session
from views._format import DATE_FORMAT, balance_text, business, dates_as_dates, labelled, money

UPLOAD_KEY = "data_upload"
TABS = ("Tables", "Import CSV files", "Demo data")
SAMPLE_FOLDER = "data/sample"
IMPORT_WHERE, DEMO_WHERE = "data_import", "data_demo"  # where each action's outcome is shown: under its button
# The optional files of spec section 11 and the sellers (businesses.csv): their counts on a row of their own.
ADJUSTMENT_FILES = ("taxes", "coupons", "applied_coupons", "businesses")
METRICS_PER_ROW = 7

st.title("Data")
st.caption(
    "Contracts, usage and invoices in the workbench database: import a data folder's CSV files, "
    "or regenerate the demo data."
)
show_flash()


# --- import -----------------------------------------------------------------------------------------


def _duplicate_names(files) -> list[dict]:
    """Two uploads with one name (from two folders) would overwrite each other in the data folder."""
    problems, seen = [], set()
    for f in files:
        name = f.name.rsplit("/", 1)[-1]
        if name in seen:
            problems.append({"file": name, "line": None, "column": None, "reason": "uploaded twice"})
        seen.add(name)
    return problems


def _progress_bar(first: str):
    """A progress bar for the engine's progress callback, drawn where the page body is."""
    bar = st.progress(0.0, text=first)
    return bar, lambda done, label: bar.progress(min(1.0, max(0.0, float(done))), text=label)


def _new_files() -> None:
    """Another choice of files: the problems of the previous import no longer apply."""
    st.session_state["import_problems"] = None


def _request_import() -> None:
    files = st.session_state.get(UPLOAD_KEY) or []
    st.session_state["import_problems"] = None
    st.session_state["data_tab"] = TABS[1]
    if not files:
        flash("warning", "Choose the CSV files to import first.", IMPORT_WHERE)
        return
    st.session_state["import_request"] = True


def _import_uploads() -> None:
    """Write the uploads into a temporary data folder and import it exactly like `billsim import DIR`:
    DuckDB reads the files, so every problem names the file's physical line, unreadable rows included;
    a misspelt input file name is a problem, other CSV files are ignored (and said so)."""
    files = st.session_state.get(UPLOAD_KEY) or []
    digest = hashlib.sha256(b"".join(f.name.encode() + f.getvalue() for f in files)).hexdigest()

    def work() -> str:
        problems = _duplicate_names(files)
        if problems:
            st.session_state["import_problems"] = problems
            raise ImportProblems(problems)
        bar, progress = _progress_bar("reading the files")
        try:
            with tempfile.TemporaryDirectory(prefix="billsim-upload-") as folder:
                for f in files:
                    (Path(folder) / f.name.rsplit("/", 1)[-1]).write_bytes(f.getvalue())
                try:
                    counts = ledger.import_data(session(), Path(folder), progress=progress)
                except ImportProblems as exc:
                    st.session_state["import_problems"] = exc.problems
                    raise
        finally:
            bar.empty()
        return (
            "Imported " + (", ".join(f"{n:,} {t.replace('_', ' ')}" for t, n in counts.items() if n) or "nothing") + "."
        )

    # a refusal: the problems table says it all
    run_action(("import", digest), "Import", work, show_refusal=False, where=IMPORT_WHERE)


def reason_kind(reason: str) -> str:
    """A reason without the values it quotes ("'CUS-1' is already in the database" -> "'…' is already in the
    database"): problems of one kind, counted and filtered together."""
    return re.sub(r"'[^']*'", "'…'", reason)


def show_problems(problems: list[dict]) -> None:
    """Every problem of a refused import: how many of each reason (per file), filters by file and reason, the
    table, and the whole list as a CSV file to work through."""
    frame = pd.DataFrame(problems, columns=["file", "line", "column", "reason"])
    frame["line"] = [("" if pd.isna(n) else f"{int(n)}") for n in frame["line"]]
    frame["column"] = frame["column"].fillna("")
    frame["kind"] = frame["reason"].map(reason_kind)
    st.error(f"Import refused, nothing was imported: {len(problems):,} problem(s).")
    counts = frame.groupby(["file", "kind"], sort=False).size().reset_index(name="problems")
    counts = counts.sort_values("problems", ascending=False, kind="stable")
    st.caption("Problems per file and reason (quoted values shown as '…'):")
    st.dataframe(
        counts.rename(columns={"kind": "reason"}),
        hide_index=True,
        key="import_problem_counts",
        column_config={"reason": st.column_config.TextColumn(width="large")},
    )
    f1, f2, f3 = st.columns([1, 2, 1], vertical_alignment="bottom")
    files = f1.multiselect("File", sorted(set(frame["file"])), key="import_problem_files")
    kinds = f2.multiselect("Reason", list(counts["kind"].drop_duplicates()), key="import_problem_kinds")
    f3.download_button(
        "Download the problems (CSV)",
        frame[["file", "line", "column", "reason"]].to_csv(index=False).encode("utf-8"),
        file_name="import-problems.csv",
        mime="text/csv",
        key="import_problems_csv",
        on_click="ignore",
    )
    keep = pd.Series(True, index=frame.index)
    if files:
        keep &= frame["file"].isin(files)
    if kinds:
        keep &= frame["kind"].isin(kinds)
    shown = frame[keep]
    st.caption(f"{len(shown):,} of {len(frame):,} shown. Line 1 is the header; line 0 means the whole file.")
    with st.container(height=min(600, 80 + 40 * len(shown))):  # a static table wraps long reasons
        st.table(shown[["file", "line", "column", "reason"]], hide_index=True)


def _request_demo(contracts: int, usage_rows: int | None, seed: int, nonce: int) -> None:
    # The nonce the button was drawn with: a double click replays the same nonce and runs once;
    # the next drawn button carries a new one.
    st.session_state["data_tab"] = TABS[2]
    if st.session_state.get("demo_nonce", 0) != nonce:
        return
    st.session_state["demo_nonce"] = nonce + 1
    st.session_state["demo_request"] = (contracts, usage_rows, seed, nonce)
    st.session_state["demo_confirm"] = False  # asked again before the next regeneration


def _regenerate_demo(contracts: int, usage_rows: int | None, seed: int, nonce: int) -> None:
    def work() -> str:
        bar, progress = _progress_bar(f"generating {contracts:,} contracts")
        try:
            counts = replace_database(
                lambda s: ledger.seed(s, contracts=contracts, usage_rows=usage_rows, seed=seed, progress=progress)
            )
        finally:
            bar.empty()
        return "Demo data regenerated: " + ", ".join(f"{n:,} {t.replace('_', ' ')}" for t, n in counts.items()) + "."

    run_action(("demo", nonce), "Demo data", work, where=DEMO_WHERE)


def count_metrics(tables: list[str], counts: dict[str, int]) -> None:
    """The row count of each table, METRICS_PER_ROW to a row (more would cut the names off: 'delayed ch…')."""
    for first in range(0, len(tables), METRICS_PER_ROW):
        row = tables[first : first + METRICS_PER_ROW]
        for col, table in zip(st.columns(METRICS_PER_ROW), row, strict=False):
            col.metric(table.replace("_", " "), f"{counts[table]:,}")


tab_tables, tab_import, tab_demo = st.tabs(TABS, key="data_tab", on_change="rerun")

with tab_import:
    st.write(
        "Upload the CSV files of a data folder (`customers.csv`, `contracts.csv`, `order_lines.csv`, "
        "`price_tiers.csv`, `usage.csv`, `delayed_charges.csv`; `taxes.csv`, `coupons.csv` and "
        "`applied_coupons.csv` for taxes per code and coupons; and `businesses.csv` for the sellers' names, "
        "addresses, tax ids, logos and invoice number prefixes; any subset). An import is "
        "all-or-nothing: one bad row and nothing is written."
    )
    if _reads.table_counts(db_path())["contracts"]:
        st.caption(
            f"New here? The project's `{SAMPLE_FOLDER}/` folder is a small sample data folder, but its ids are the "
            "demo's: this database already holds them, so importing it here is refused as duplicates. Import it "
            f"into an empty database from a terminal (`billsim --db /tmp/sample.duckdb import {SAMPLE_FOLDER}`), "
            "or upload your own files here (an import adds rows to what is stored)."
        )
    else:
        st.caption(
            f"New here? The project's `{SAMPLE_FOLDER}/` folder is a small sample data folder (20 contracts, "
            "500 usage rows): choose all of its files to see what an import takes. From a terminal: "
            f"`billsim import {SAMPLE_FOLDER}`."
        )
    uploads = st.file_uploader(
        "CSV files", type=["csv"], accept_multiple_files=True, key=UPLOAD_KEY, on_change=_new_files
    )
    if uploads:
        ignored = [f.name for f in uploads if f.name.rsplit("/", 1)[-1].removesuffix(".csv") not in DATA_FILES]
        if ignored:
            st.warning(
                "Not input files (they are ignored unless they look like a misspelt one): "
                + ", ".join(f"`{n}`" for n in ignored)
            )
    st.button("Import", type="primary", key="import_button", on_click=_request_import, disabled=not uploads)
    if st.session_state.pop("import_request", False):
        _import_uploads()
        st.rerun()
    show_flash(IMPORT_WHERE)
    problems = st.session_state.get("import_problems")
    if problems:
        show_problems(problems)

with tab_demo:
    st.write(
        "Replace everything in the database (inputs, invoices, runs) by a deterministic demo data set "
        "of the chosen size. The new database is built beside the current one and then swapped in; the "
        "current file is kept as `*.previous.duckdb`."
    )
    c1, c2, c3 = st.columns(3)
    n_contracts = c1.number_input("Contracts", min_value=1, max_value=500_000, value=50, step=50, key="demo_contracts")
    n_usage = c2.number_input(
        "Usage rows (0 = 100 per contract)",
        min_value=0,
        max_value=50_000_000,
        value=0,
        step=10_000,
        key="demo_usage_rows",
    )
    seed = c3.number_input("Seed", min_value=0, max_value=2**31 - 1, value=7, step=1, key="demo_seed")
    sure = st.checkbox("I understand this deletes all current data, invoices included", key="demo_confirm")
    st.button(
        "Regenerate demo data",
        key="demo_button",
        disabled=not sure,
        on_click=_request_demo,
        args=(int(n_contracts), int(n_usage) or None, int(seed), st.session_state.get("demo_nonce", 0)),
    )
    if request := st.session_state.pop("demo_request", None):
        _regenerate_demo(*request)
        st.rerun()
    show_flash(DEMO_WHERE)

with tab_tables:
    db = db_path()
    counts = _reads.table_counts(db)
    for table_group in (
        [t for t in DATA_FILES if t not in ADJUSTMENT_FILES],  # contracts and usage
        [t for t in DATA_FILES if t in ADJUSTMENT_FILES],  # taxes, coupons, the sellers
        [t for t in BROWSABLE_TABLES if t not in DATA_FILES],  # what billing made
    ):
        count_metrics(table_group, counts)

    left, right = st.columns(2)
    with left:
        st.subheader("Customers and contracts")
        st.caption("per business and contract currency")
        sellers = _reads.business_names(db)
        customers = _reads.customer_counts(db)
        customers = customers.assign(business_id=[business(sellers, b) for b in customers["business_id"]])  # by name
        st.dataframe(labelled(customers), hide_index=True, key="customer_counts", placeholder="")
    with right:
        st.subheader("Invoices")
        st.caption("per business, currency and status")
        inv = _reads.invoice_counts(db)
        if inv:
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "business": business(sellers, r["business_id"]),
                            "currency": r["currency"],
                            "status": status_text(r["status"], paid_by=True),
                            "invoices": r["invoices"],
                            "total": money(r["total_minor"], r["currency"]),
                            "balance due": balance_text(r["balance_minor"], r["currency"], r["status"]),
                        }
                        for r in inv
                    ]
                ),
                hide_index=True,
                key="invoice_counts",
                placeholder="",
                column_config={c: st.column_config.TextColumn(alignment="right") for c in ("total", "balance due")},
            )
        else:
            st.info("No invoices yet: draft one on the Invoice preview page or start a Bill run.")
        st.subheader("Usage")
        st.caption("rows per status and metric; only approved usage is ever billed")
        st.dataframe(
            labelled(dates_as_dates(_reads.usage_counts(db))),
            hide_index=True,
            key="usage_counts",
            placeholder="",
            column_config={c: st.column_config.DateColumn(format=DATE_FORMAT) for c in ("first date", "last date")},
        )

    st.subheader("Browse a table")
    b1, b2 = st.columns([3, 1])
    table = b1.selectbox("Table", BROWSABLE_TABLES, key="browse_table", format_func=lambda t: t.replace("_", " "))
    page_size = b2.selectbox("Rows per page", [25, 50, 100, 500], index=1, key="browse_page_size")
    total = counts[table]
    pages = max(1, -(-total // page_size))
    page = st.pagination(pages, key=f"browse_page_{table}_{page_size}") if pages > 1 else 1
    frame, total = _reads.browse_table(db, table, page_size, (page - 1) * page_size)
    frame = dates_as_dates(frame)
    shown = labelled(frame)
    st.dataframe(
        shown,
        hide_index=True,
        key="browse_frame",
        placeholder="",
        # headers in words; the stored column (the CSV header of an input file) on hover
        column_config={
            label: st.column_config.Column(help=f"column `{name}`")
            for name, label in zip(frame.columns, shown.columns, strict=True)
        },
    )
    first, last = min(total, (page - 1) * page_size + 1), min(total, page * page_size)
    st.caption(f"rows {first:,}–{last:,} of {total:,}")
