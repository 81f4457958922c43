"""Data: what is stored (counts per business, currency, status; a table browser), CSV upload, demo data."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from engine.io.workbench_queries import BROWSABLE_TABLES
from engine.schema import INPUT_TABLES
from views._common import (
    cursor,
    dates_as_dates,
    flash,
    money,
    read,
    replace_database,
    run_action,
    show_flash,
)

UPLOAD_KEY = "data_upload"

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
    """A progress bar for the engine's progress callback (drawn while a button's work runs)."""
    bar = st.progress(0.0, text=first)
    return lambda done, label: bar.progress(min(1.0, max(0.0, float(done))), text=label)


def _import_uploads() -> None:
    """Write the uploads into a temporary data folder and import it exactly like `billsim import DIR`:
    DuckDB reads the files, so every problem names the file's physical line, unreadable rows included;
    a misspelt input file name is a problem, other CSV files are ignored (and said so)."""
    files = st.session_state.get(UPLOAD_KEY) or []
    st.session_state["import_problems"] = None
    if not files:
        flash("warning", "Choose the CSV files to import first.")
        return
    digest = hashlib.sha256(b"".join(f.name.encode() + f.getvalue() for f in files)).hexdigest()

    def work() -> str:
        from engine.errors import ImportProblems
        from engine.ingest.importer import import_folder

        problems = _duplicate_names(files)
        if problems:
            st.session_state["import_problems"] = problems
            raise ImportProblems(problems)
        with tempfile.TemporaryDirectory(prefix="billsim-upload-") as folder:
            for f in files:
                (Path(folder) / f.name.rsplit("/", 1)[-1]).write_bytes(f.getvalue())
            try:
                counts = import_folder(cursor(), Path(folder), progress=_progress_bar("reading the files"))
            except ImportProblems as exc:
                st.session_state["import_problems"] = exc.problems
                raise
        return "Imported " + (", ".join(f"{n:,} {t}" for t, n in counts.items() if n) or "nothing") + "."

    run_action(("import", digest), "Import", work, show_refusal=False)  # the problems table says it all


def _regenerate_demo(contracts: int, usage_rows: int | None, seed: int, nonce: int) -> None:
    def work() -> str:
        from engine.ingest.demo import seed_demo

        progress = _progress_bar(f"generating {contracts:,} contracts")
        counts = replace_database(
            lambda con: seed_demo(con, contracts=contracts, usage_rows=usage_rows, seed=seed, progress=progress)
        )
        return "Demo data regenerated: " + ", ".join(f"{n:,} {t}" for t, n in counts.items()) + "."

    # The nonce the button was drawn with: a double click replays the same nonce and runs once;
    # the next drawn button carries a new one.
    st.session_state["demo_nonce"] = nonce + 1
    run_action(("demo", nonce), "Demo data", work)


tab_tables, tab_import, tab_demo = st.tabs(["Tables", "Import CSV files", "Demo data"])

with tab_import:
    st.write(
        "Upload the CSV files of a data folder (`customers.csv`, `contracts.csv`, `order_lines.csv`, "
        "`price_tiers.csv`, `usage.csv`, `delayed_charges.csv`; any subset). An import is "
        "all-or-nothing: one bad row and nothing is written."
    )
    uploads = st.file_uploader("CSV files", type=["csv"], accept_multiple_files=True, key=UPLOAD_KEY)
    if uploads:
        ignored = [f.name for f in uploads if f.name.rsplit("/", 1)[-1].removesuffix(".csv") not in INPUT_TABLES]
        if ignored:
            st.warning(
                "Not input files (they are ignored unless they look like a misspelt one): "
                + ", ".join(f"`{n}`" for n in ignored)
            )
    st.button("Import", type="primary", key="import_button", on_click=_import_uploads, disabled=not uploads)
    problems = st.session_state.get("import_problems")
    if problems:
        st.error(f"Import refused, nothing was imported: {len(problems):,} problem(s).")
        frame = pd.DataFrame(problems, columns=["file", "line", "column", "reason"])
        frame["line"] = frame["line"].astype("Int64")
        st.dataframe(frame, hide_index=True, key="import_problems_table")

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
        on_click=_regenerate_demo,
        args=(int(n_contracts), int(n_usage) or None, int(seed), st.session_state.get("demo_nonce", 0)),
    )

with tab_tables:
    counts = read("table_counts")
    inputs = st.columns(len(INPUT_TABLES))
    for col, table in zip(inputs, INPUT_TABLES, strict=True):
        col.metric(table.replace("_", " "), f"{counts[table]:,}")
    outputs = [t for t in BROWSABLE_TABLES if t not in INPUT_TABLES]
    for col, table in zip(st.columns(len(outputs)), outputs, strict=True):
        col.metric(table.replace("_", " "), f"{counts[table]:,}")

    left, right = st.columns(2)
    with left:
        st.subheader("Customers and contracts")
        st.caption("per business and contract currency")
        st.dataframe(read("customer_counts"), hide_index=True, key="customer_counts")
    with right:
        st.subheader("Invoices")
        st.caption("per business, currency and status")
        inv = read("invoice_counts")
        if inv:
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "business": r["business_id"],
                            "currency": r["currency"],
                            "status": r["status"],
                            "invoices": r["invoices"],
                            "total": money(r["total_minor"], r["currency"]),
                            "balance due": money(r["balance_minor"], r["currency"]),
                        }
                        for r in inv
                    ]
                ),
                hide_index=True,
                key="invoice_counts",
                column_config={c: st.column_config.TextColumn(alignment="right") for c in ("total", "balance due")},
            )
        else:
            st.info("No invoices yet: draft one on the Invoice preview page or start a Bill run.")
        st.subheader("Usage")
        st.caption("rows per status and metric; only approved usage is ever billed")
        st.dataframe(dates_as_dates(read("usage_counts")), hide_index=True, key="usage_counts")

    st.subheader("Browse a table")
    b1, b2 = st.columns([3, 1])
    table = b1.selectbox("Table", BROWSABLE_TABLES, key="browse_table")
    page_size = b2.selectbox("Rows per page", [25, 50, 100, 500], index=1, key="browse_page_size")
    total = counts[table]
    pages = max(1, -(-total // page_size))
    page = st.pagination(pages, key=f"browse_page_{table}_{page_size}") if pages > 1 else 1
    frame, total = read("browse_table", table, page_size, (page - 1) * page_size)
    st.dataframe(dates_as_dates(frame), hide_index=True, key="browse_frame")
    first, last = min(total, (page - 1) * page_size + 1), min(total, page * page_size)
    st.caption(f"rows {first:,}–{last:,} of {total:,}")
