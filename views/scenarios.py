"""What-if scenarios: build (or upload) a scenario, bill a range of cycles twice, compare, save.

Widgets -> one call of the application layer (engine.service.whatif) -> plotly. The service validates everything;
money is typed as text so it stays an exact decimal, and amounts come back as Decimals in major units.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from decimal import Decimal
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from engine.service import BillsimError, whatif
from engine.service.limits import MAX_NAME, MAX_WATERFALL_CHANGES
from views import _kept as kept
from views import _reads
from views import _whatif_steps as steps
from views._actions import action_popover, clear_feedback, flash, run_action, show_flash
from views._database import db_path, reader, session
from views._format import (
    CHART_CONFIG,
    DATE_FORMAT,
    SPREADSHEET_ROWS,
    customer,
    labelled,
    markdown_escaped,
    money_of_major,
)
from views._whatif_adjustments import (
    coupon_change,
    coupon_form,
    missing_in_coupon,
    next_coupon_id,
    tax_change,
    tax_form,
)
from views._whatif_effects import (
    MEASURES,
    customers_table,
    effects_of,
    for_measure,
    invoice_totals_table,
    measure_picker,
    months_table,
    product_steps,
)
from views._whatif_waterfall import left_out_caption, steps_of_currency, waterfall_figure

ss = st.session_state
TYPES = {
    "price": "Price",
    "usage": "Usage growth",
    "tiers": "Replace tiers",
    "churn": "Churn",
    "minimum_commitment": "Minimum commitment",
    "proration": "Proration",
    "coupon": "Coupon",
    "tax": "Tax rate",
}
BUILD_WHERE, RUN_WHERE, SAVE_WHERE = "scn_build", "scn_run", "scn_saving"  # each action's outcome: under its button

KEPT = ("scn_name", "scn_from", "scn_to")  # the scenario's name and range, as left on another page's visit
# the change the form shows, as left on another page's visit (a trial came back to Price / A product / 10 %)
FORM = (
    "scn_type",
    "scn_price_scope",
    "scn_price_product",
    "scn_price_line",
    "scn_price_mode",
    "scn_price_percent",
    "scn_price_unit",
    "scn_usage_metric",
    "scn_usage_percent",
    "scn_tiers_line",
    "scn_tiers_text",
    "scn_churn_ids",
    "scn_min_contract",
    "scn_min_amount",
    "scn_proration",
)
kept.restore((*KEPT, *FORM))


ss.setdefault("scn_changes", [])
ss.setdefault("scn_name", "What-if")
today = dt.date.today()
this_month = today.replace(day=1)
default_from = this_month.replace(year=this_month.year - 1)
ss.setdefault("scn_from", default_from)  # the range's widgets take their value from here (a saved scenario's range)
ss.setdefault("scn_to", this_month - dt.timedelta(days=1))
st.title("What-if scenarios")
st.caption(
    "Changes applied on top of the stored data, never to it: every cycle starting in the range is "
    "billed twice by the invoice engine, as stored (baseline) and with the changes (scenario)."
)
show_flash()


# --- building the scenario ------------------------------------------------------------------------


def _scenario(changes: list[dict] | None = None):
    return whatif.scenario_of(
        {"name": ss["scn_name"].strip() or "What-if", "changes": ss["scn_changes"] if changes is None else changes}
    )


def _tiers(text: str) -> list[dict]:
    """'500, 0.90' per line; a blank bound ('' or '∞') is the unbounded last tier; optional flat fee."""
    tiers = []
    for line in filter(None, (ln.strip() for ln in text.splitlines())):
        cells = [c.strip() for c in line.split(",")]
        up_to = None if cells[0] in ("", "∞", "inf") else cells[0]
        tiers.append(
            {
                "up_to": up_to,
                "unit_price": cells[1] if len(cells) > 1 else "",
                **({"flat_fee": cells[2]} if len(cells) > 2 and cells[2] else {}),
            }
        )
    return tiers


def _change_from_widgets() -> dict:
    kind = ss["scn_type"]
    if kind == "price":
        change: dict = {"type": "price"}
        if ss["scn_price_scope"] == "A product":
            change["product"] = ss["scn_price_product"]
        elif ss["scn_price_scope"] == "One line":
            change["line_id"] = ss["scn_price_line"].strip()
        if ss["scn_price_mode"] == "By percent":
            change["percent"] = ss["scn_price_percent"].strip()
        else:
            change["unit_price"] = ss["scn_price_unit"].strip()
        return change
    if kind == "usage":
        metric = ss["scn_usage_metric"]
        return {
            "type": "usage",
            "percent": ss["scn_usage_percent"].strip(),
            **({"metric": metric} if metric != "All metrics" else {}),
        }
    if kind == "tiers":
        return {"type": "tiers", "line_id": ss["scn_tiers_line"].strip(), "tiers": _tiers(ss["scn_tiers_text"])}
    if kind == "churn":
        ids = [c.strip() for c in ss["scn_churn_ids"].replace("\n", ",").split(",") if c.strip()]
        return {"type": "churn", "contract_ids": ids}
    if kind == "minimum_commitment":
        amount = ss["scn_min_amount"].strip()
        return {"type": "minimum_commitment", "contract_id": ss["scn_min_contract"].strip(), "amount": amount or None}
    if kind == "coupon":
        return coupon_change()
    if kind == "tax":
        return tax_change()
    return {"type": "proration", "value": ss["scn_proration"]}


def _add_change() -> None:
    change = _change_from_widgets()
    if missing := missing_in_coupon(change):
        flash("error", missing, BUILD_WHERE)
        return
    try:
        _scenario([*ss["scn_changes"], change])  # it fits the list (a new coupon's id is not taken by another)
        whatif.check(session(), _scenario([change]))  # shape and data, before it joins the list
    except BillsimError as exc:
        flash("error", str(exc), BUILD_WHERE)
        return
    ss["scn_changes"] = [*ss["scn_changes"], change]
    if change["type"] == "coupon":  # the next coupon gets an id of its own
        ss["scn_coupon_id"] = next_coupon_id(ss["scn_changes"])
    # in place of a refusal shown before: the outcome of this click
    flash("success", f"Added change {len(ss['scn_changes'])}: {_scenario([change]).changes[0].label()}", BUILD_WHERE)


def _pending_change() -> str | None:
    """When changes are listed and the form shows one that is not among them (a trial typed 20 over the 10 of the
    change it had added and ran the 10 unawares): its label in brackets ('' while the form does not make a valid
    change yet); None when it is listed. A new coupon's form never matches: it offers the next coupon id."""
    if ss.get("scn_type") == "coupon":
        return None
    try:
        change = _change_from_widgets()
    except KeyError:  # a field of the form not drawn in this run (none to choose from): no change shown
        return None
    if change in ss["scn_changes"]:
        return None
    try:
        return f" ({_scenario([change]).changes[0].label()})"
    except BillsimError:
        return ""


def _made_of(scenario, from_date: dt.date, to_date: dt.date) -> tuple:
    """What a result was computed from: the scenario's changes and the range (others make the result stale; a new
    name alone does not change a figure)."""
    return (whatif.scenario_json(scenario.model_copy(update={"name": ""})), from_date, to_date)


def _changes_to_run() -> list[dict]:
    """The changes a run bills: those added, or (none added yet) the change the form shows, so a pre-filled
    change is never silently left out. A scenario loaded or uploaded runs as it is, even with no change: the form
    may still show a change the user never meant for it."""
    if ss["scn_changes"] or ss.get("scn_loaded"):
        return ss["scn_changes"]
    return [_change_from_widgets()]


def _range_refusal() -> str | None:
    """The range in the page's own words when it ends before it starts (the service says it for other callers)."""
    start, end = ss.get("scn_from"), ss.get("scn_to")
    if start and end and end < start:
        return f"“through” ({end}) is before “Cycles starting from” ({start})"
    return None


def _refused(exc: Exception) -> str:
    """ "Scenario refused: …" once (the engine's own refusal of a scenario's shape already begins so)."""
    text = str(exc)
    return f"Scenario refused: {text.removeprefix('scenario refused: ')}"


def _request_run() -> None:
    if refusal := _range_refusal():
        flash("error", f"Scenario refused: {refusal}", RUN_WHERE)
        return
    changes = _changes_to_run()
    if missing := next(filter(None, map(missing_in_coupon, changes)), None):
        flash("error", f"Scenario refused: {missing}", RUN_WHERE)
        return
    try:
        whatif.check(session(), _scenario(changes))
    except BillsimError as exc:
        flash("error", _refused(exc), RUN_WHERE)
        return
    ss["scn_changes"] = changes  # what was run is what the list shows
    ss["scn_run_requested"] = True
    clear_feedback()  # an earlier refusal (of a change, of a run) is not this run's: its results say how it went


def _remove_change(i: int) -> None:
    ss["scn_changes"] = [c for j, c in enumerate(ss["scn_changes"]) if j != i]
    ss.pop("scn_loaded", None)  # the list is being built again: an empty one runs the change the form shows
    clear_feedback()


def _use(scenario) -> None:
    """A scenario loaded or uploaded into the builder (a refusal shown before is no longer this page's state)."""
    ss["scn_name"] = scenario.name
    ss["scn_changes"] = [c.model_dump(mode="json") for c in scenario.changes]
    ss["scn_loaded"] = True
    ss.pop("scn_replace", None)
    clear_feedback()


def _load(name: str, run: bool = False) -> None:
    """A saved scenario into the builder with the range it was saved with (and run it); one deleted meanwhile
    (another tab) is said so."""
    try:
        saved = whatif.load(session(), name)
    except BillsimError as exc:
        flash("error", str(exc))
        return
    _use(saved.scenario)
    if saved.from_date is not None:
        ss["scn_from"], ss["scn_to"] = saved.from_date, saved.to_date
    if run:
        ss["scn_run_requested"] = True


def _save(replace: bool = False) -> None:
    """Save the scenario with the page's range. A name already saved is refused and the page offers to replace it
    (`scn_replace`): saving never overwrites another scenario unasked."""
    scenario = _scenario()
    start, end = ss.get("scn_from"), ss.get("scn_to")
    ss.pop("scn_replace", None)

    def work() -> str:
        try:
            done = whatif.save(session(), scenario, start, end, replace=replace)
        except BillsimError as exc:
            if exc.code == "scenario_exists":
                ss["scn_replace"] = scenario.name
            raise
        return f"{'Replaced' if replace else 'Saved'} {done['name']!r} (cycles from {start} through {end})."

    run_action(("scn_save", whatif.scenario_json(scenario), start, end, replace), "Save", work, where=SAVE_WHERE)


def _upload() -> None:
    upload = ss.get("scn_upload")
    if upload is None:
        return
    try:
        _use(whatif.scenario_of(upload.getvalue(), origin=upload.name))
    except BillsimError as exc:
        flash("error", str(exc))


choices = whatif.choices(reader())
for _key, _known in (("scn_price_product", choices["products"]), ("scn_usage_metric", choices["metrics"])):
    if _key in ss and ss[_key] not in _known and ss[_key] != "All metrics":  # kept from a database since replaced
        del ss[_key]
left, right = st.columns([3, 2], gap="large")
with left:
    st.subheader("Scenario")
    st.text_input("Name", key="scn_name", max_chars=MAX_NAME)
    kind = st.selectbox("Add a change", list(TYPES), format_func=TYPES.get, key="scn_type")
    if kind == "price":
        scope = st.radio("Lines", ["A product", "One line", "All lines"], horizontal=True, key="scn_price_scope")
        if scope == "A product":
            st.selectbox("Product", choices["products"], key="scn_price_product")
        elif scope == "One line":
            st.text_input("Line id", key="scn_price_line", placeholder="L-000001-1", max_chars=MAX_NAME)
        mode = st.radio("Change", ["By percent", "Set the unit price"], horizontal=True, key="scn_price_mode")
        if mode == "By percent":
            st.text_input(
                "Percent (e.g. 10 or -5.5)", key="scn_price_percent", **kept.initial("scn_price_percent", "10")
            )
        else:
            st.text_input("Unit price (major units)", key="scn_price_unit")
    elif kind == "usage":
        st.selectbox("Metric", ["All metrics", *choices["metrics"]], key="scn_usage_metric")
        st.text_input("Percent", key="scn_usage_percent", **kept.initial("scn_usage_percent", "25"))
    elif kind == "tiers":
        st.text_input(f"Line id ({' or '.join(whatif.tiered_models())})", key="scn_tiers_line", max_chars=MAX_NAME)
        st.text_area(
            "Tiers: up_to, unit_price[, flat_fee] per line; leave up_to blank on the last",
            key="scn_tiers_text",
            **kept.initial("scn_tiers_text", "500, 0.90\n, 0.05"),
        )
    elif kind == "churn":
        st.text_area("Contract ids (comma or line separated)", key="scn_churn_ids")
    elif kind == "minimum_commitment":
        st.text_input("Contract id", key="scn_min_contract", max_chars=MAX_NAME)
        st.text_input("Minimum per full cycle (blank removes it)", key="scn_min_amount")
    elif kind == "coupon":
        coupon_form(choices, default_from)
    elif kind == "tax":
        tax_form(_reads.taxes(db_path()), _reads.business_names(db_path()))
    else:
        st.radio("Proration of every contract", ["none", "actual"], horizontal=True, key="scn_proration")
    st.button("Add change", on_click=_add_change, key="scn_add", icon=":material/add:")
    kept.remember(FORM)  # the form's widgets drawn in this run
    show_flash(BUILD_WHERE)

    for i, change in enumerate(ss["scn_changes"]):
        c1, c2 = st.columns([4, 1])
        c1.markdown(f"{i + 1}. {_scenario([change]).changes[0].label()}")
        c2.button("✕", key=f"scn_remove_{i}", help="Remove this change", on_click=_remove_change, args=(i,))
    if not ss["scn_changes"] and ss.get("scn_loaded"):
        st.caption("The scenario loaded has no change: add one above (**Run scenario** runs the scenario as listed).")
    elif not ss["scn_changes"]:
        st.caption("No change added yet: **Run scenario** runs the change shown above (it is added when run).")
    elif (pending := _pending_change()) is not None:
        st.caption(
            f"The change shown above{pending} is not in the scenario: **Add change** to include it (**Run scenario** "
            f"runs the {len(ss['scn_changes'])} change(s) listed)."
        )

with right:
    st.subheader("Upload or download")
    st.file_uploader("Scenario JSON", type=["json"], key="scn_upload", on_change=_upload)
    st.download_button(
        "Download scenario JSON",
        whatif.scenario_json(_scenario()),
        file_name="scenario.json",
        mime="application/json",
        key="scn_download_json",
    )
    st.subheader("Saved scenarios")

    st.button("Save this scenario", on_click=_save, key="scn_save", help="with the range of cycles below")
    if ss.get("scn_replace") and ss["scn_replace"] == (ss["scn_name"].strip() or "What-if"):
        st.button(f"Replace the saved {ss['scn_replace']!r}", key="scn_replace_it", on_click=_save, args=(True,))
    show_flash(SAVE_WHERE)
    saved = whatif.saved(reader())
    if saved:
        by_name = {s["name"]: s for s in saved}
        name = st.selectbox(
            "Saved",
            list(by_name),
            key="scn_saved",
            format_func=lambda n: f"{n} · {len(by_name[n]['changes'])} change(s)",
        )
        held = by_name[name]
        kept_range = f" · cycles from {held['from_date']} through {held['to_date']}" if held["from_date"] else ""
        st.caption(("; ".join(held["changes"]) or "no change") + kept_range)
        b1, b2, b3 = st.columns(3)
        b1.button("Load", key="scn_load", on_click=_load, args=(name,))
        b2.button("Re-run", key="scn_rerun", on_click=_load, args=(name,), kwargs={"run": True})
        with b3, action_popover("Delete…", "scn_delete_popover", help="remove this saved scenario"):
            # one click next to Load and Re-run deleted it for good: a confirmation names what goes
            st.markdown(markdown_escaped(f"Delete the saved scenario {name!r}? It cannot be brought back."))
            st.button(
                "Delete it",
                type="primary",
                key="scn_delete",
                on_click=lambda: run_action(
                    ("scn_delete", name, str(by_name[name]["saved_at"])),
                    "Delete",
                    lambda: whatif.delete(session(), name) or f"Deleted {name!r}.",
                    where=SAVE_WHERE,
                    close="scn_delete_popover",
                ),
            )
    else:
        st.caption("None saved yet.")


# --- running it -----------------------------------------------------------------------------------

c1, c2, c3 = st.columns([1, 1, 1], vertical_alignment="bottom")
from_date = c1.date_input("Cycles starting from", key="scn_from", format=DATE_FORMAT)
to_date = c2.date_input("through", key="scn_to", format=DATE_FORMAT)
kept.remember(KEPT)  # every widget of KEPT is drawn by now (the name with the scenario's form, above)
c3.button("Run scenario", type="primary", key="scn_run", icon=":material/play_arrow:", on_click=_request_run)
show_flash(RUN_WHERE)


def _lowered(sentence: str) -> str:
    """A sentence continued after a colon: its first letter in lower case."""
    return sentence[:1].lower() + sentence[1:]


def _billed(summary: dict, changes: int, waterfall: bool) -> str:
    """How often the run billed the cycles: as stored (unless the last run's billing as stored was kept: the same
    data, range and contracts), with the changes, and once more per change but the last for the waterfall by change
    ("twice" undercounted a 3-change run, billed four times)."""
    steps = changes - 1 if waterfall and changes > 1 else 0
    more = f", and {steps} more time{'s' if steps != 1 else ''} for the waterfall by change" if steps else ""
    if summary.get("baseline_kept"):
        return (
            f"Billed {summary['cycles']:,} cycles with the changes{more} (as stored: the billing of the last run "
            "over the same data and range, kept)"
        )
    return f"Billed {summary['cycles']:,} cycles as stored and with the changes{more}"


if ss.pop("scn_run_requested", False):
    refused = None
    if (before := ss.get("scn_result")) and before.get("by_change_job") is not None:
        steps.cancel(before["by_change_job"])  # its waterfall is not wanted any more: the cores go to this run
    with st.status("Running the scenario…", expanded=False) as run_status:
        try:
            scenario = _scenario()
            # comparison.csv stays on disk with the result and is read when downloaded (a 100k-contract year: 116 MB,
            # held in memory twice per browser tab when given to the button as bytes); removed with the result
            csv_dir = tempfile.TemporaryDirectory(prefix="billsim-scenario-")

            def progress(_done: float, label: str) -> None:
                run_status.update(label=f"{label[:1].upper()}{label[1:]}…")

            # the results first: the baseline and the scenario are billed and compared, and shown; the waterfall by
            # change is then worked out from the same baseline (each change but the last billed once more) by a
            # worker thread while the analyst reads and uses them (views/_whatif_steps.py)
            stop = steps.Stop()
            stages = whatif.simulation_stages(
                session(),
                scenario,
                from_date,
                to_date,
                progress=progress,
                steps_progress=stop.check,
                out_dir=Path(csv_dir.name),
                waterfall=True,
            )
            try:
                sim = next(stages)
            except BillsimError:
                csv_dir.cleanup()
                raise
            ss.pop("scn_measure", None)  # a new result: its amounts shown as default_measure says
            steps_due = 0 < len(scenario.changes) <= MAX_WATERFALL_CHANGES
            if not steps_due:
                stages.close()
            ss["scn_result"] = {
                "summary": sim.summary,
                "sim": sim,
                "csv": Path(sim.summary["comparison_csv"]),
                "csv_dir": csv_dir,
                "by_change": None,
                "by_change_job": steps.start(stages, stop) if steps_due else None,  # until _collect_steps has it
                "compared_in": sim.summary["seconds"],
                "made_of": _made_of(scenario, from_date, to_date),
            }
            run_status.update(
                label=f"Compared in {sim.summary['seconds']} s: {_lowered(_billed(sim.summary, 0, False))}",
                state="complete",
            )
        except BillsimError as exc:
            ss.pop("scn_result", None)
            run_status.update(label="Scenario refused", state="error")
            refused = exc
    if refused:  # in the open, under the button: the status box is collapsed
        st.error(_refused(refused))


# --- results --------------------------------------------------------------------------------------


def _usage_notice(summary: dict) -> str | None:
    """Said when the range's cycles run past the last usage recorded: their days after it bill no usage, in either
    run, so a usage change moves nothing there (a trial read next year's "revenue" without any usage, and the last
    month of a range ending on the last usage day as a halving of revenue, unwarned)."""
    through, end = summary.get("usage_through"), summary.get("cycles_end")
    if end is None or (through is not None and through >= end):
        return
    if through is None:
        return (
            "No usage is recorded for these contracts: their cycles bill no usage, in the baseline and in the "
            "scenario, and a usage change moves nothing. A what-if bills the recorded data again with the changes; "
            "it does not forecast usage."
        )
    return (
        f"No usage is recorded after {through} for these contracts, and the range's cycles run to {end}: their days "
        "after it bill no usage, in the baseline and in the scenario (so the last months look smaller), and a usage "
        "change moves nothing there. A what-if bills the recorded data again with the changes; it does not forecast "
        "usage."
    )


def _bars(frame: pd.DataFrame, x: str, cur: str, title: str) -> go.Figure:
    """Baseline and scenario side by side per `x` (a category: 'Nov 2026', never a date axis that reads '00:00:00'),
    each bar labelled with its exact amount in the currency's format (the engine's Decimal, formatted; the bar's
    length is only drawn)."""
    fig = go.Figure(
        [
            go.Bar(
                name=name,
                x=list(frame[x]),
                y=list(frame[column]),
                text=[money_of_major(v, cur) for v in frame[column]],
                textposition="outside",
                textangle=-90,  # upright, two bars side by side: their labels never overlap
                cliponaxis=False,
                hovertemplate=f"%{{x}} · {name}: %{{text}}<extra></extra>",
            )
            for name, column in (("Baseline", "baseline"), ("Scenario", "scenario"))
        ]
    )
    fig.update_layout(
        title=title,
        barmode="group",
        yaxis_title=cur,
        height=400,
        margin={"t": 64, "b": 8},
        uniformtext={"minsize": 10, "mode": "show"},
    )
    fig.update_xaxes(type="category")
    # room above (and below) the bars for their labels: the axis range is drawing, the labels are the amounts
    lengths = [float(v) for column in ("baseline", "scenario") for v in frame[column]]
    if lengths:
        low, high = min(0.0, *lengths), max(0.0, *lengths)
        fig.update_yaxes(range=[low * 1.35, high * 1.35 or 1])
    return fig


def _hbar(x, y, cur: str, title: str) -> go.Figure:
    """Horizontal bars of the changes that are not 0 (a bar of 0 says nothing and crowds the others), each with
    its exact amount as a label."""
    kept = [(a, b) for a, b in zip(x, y, strict=True) if a != 0]
    fig = go.Figure(
        go.Bar(
            x=[a for a, _ in kept],
            y=[b for _, b in kept],
            orientation="h",
            text=[money_of_major(a, cur) for a, _ in kept],
            textposition="auto",  # inside a bar long enough to hold it, outside the others
            insidetextanchor="end",
            cliponaxis=False,
        )
    )
    fig.update_layout(
        title=title, xaxis_title=cur, height=360, margin={"t": 48, "b": 8}, yaxis={"autorange": "reversed"}
    )
    if kept:
        # room beyond the longest bar on each side for the labels outside the shorter ones: a label outside a falling
        # bar (a coupon's, a customer who pays less) would otherwise sit over the names at the left, and one outside
        # a rising bar ran past the chart's right edge in a half-page column ('A$24,538.5', a trial)
        low, high = min(0, *(a for a, _ in kept)), max(0, *(a for a, _ in kept))
        pad = (high - low) * 3 / 5
        fig.update_xaxes(range=[low - pad if low < 0 else 0, high + pad if high > 0 else 0])
    return fig


def _money_columns(frame: pd.DataFrame, cur: str, cols=("baseline", "scenario", "delta")) -> pd.DataFrame:
    return frame.assign(**{c: [money_of_major(v, cur) for v in frame[c]] for c in cols})


def _share(total: dict):
    """delta / baseline of a currency's totals (0 when the baseline is 0), for ordering only."""
    base = Decimal(total["baseline"])
    return Decimal(total["delta"]) / base if base else Decimal(0)


def _tiles(totals: pd.DataFrame, cur: str, measure: str) -> None:
    """Baseline, scenario and change of `cur`'s invoices in the measure chosen, the change also as a share of the
    baseline."""
    words, (baseline, scenario, delta) = MEASURES[measure]
    row = totals[totals["currency"] == cur].iloc[0]
    base, change = Decimal(row[baseline]), Decimal(row[delta])
    share = f"{change / base * 100:+.2f} % of the baseline" if base else None
    m1, m2, m3 = st.columns(3)
    m1.metric(f"Baseline ({cur}, {words})", money_of_major(row[baseline], cur))
    m2.metric(f"Scenario ({cur}, {words})", money_of_major(row[scenario], cur))
    m3.metric(f"Change ({cur}, {words})", money_of_major(row[delta], cur), delta=share, delta_color="off")


def _show(result: dict) -> None:
    summary = result["summary"]
    st.subheader(f"{summary['scenario']}: {summary['from_date']} → {summary['to_date']}")
    st.caption(
        f"{summary['cycles']:,} cycles, {summary['rows']:,} invoice lines compared · "
        + "; ".join(summary["changes"] or ["no change"])
        + " · amounts before tax (the lines less the coupons) unless said"
    )
    st.caption(_timing(result))
    totals = {t["currency"]: t for t in summary["totals"]}
    if not totals:
        st.info("No cycle starts in this range.")
        return
    if notice := _usage_notice(summary):
        st.warning(notice, icon=":material/event_busy:")
    if not summary["changes"]:
        st.info("The scenario has no change: it equals the baseline, there is nothing to chart.")
        return
    # every run lists its currencies in one order, the engine's (by code), so a table reads the same from run to run;
    # the charts open on the currency that moves most (relative to its baseline): that is where the story is
    order = list(totals)
    story = min(order, key=lambda c: (-abs(_share(totals[c])), c))
    if len(totals) > 1:
        # amounts of two currencies never add up: every currency side by side, exact, then its charts
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "currency": c,
                        "baseline": money_of_major(totals[c]["baseline"], c),
                        "scenario": money_of_major(totals[c]["scenario"], c),
                        "change": money_of_major(totals[c]["delta"], c),
                    }
                    for c in order
                ]
            ),
            hide_index=True,
            key="scn_totals",
            placeholder="",
            column_config={  # before tax, as the summary's totals; the tiles below follow the amounts chosen
                c: st.column_config.TextColumn(f"{c}, before tax", alignment="right")
                for c in ("baseline", "scenario", "change")
            },
        )
        cur = st.radio("Charts and totals of", order, index=order.index(story), horizontal=True, key="scn_currency")
    else:
        cur = story
    effects = effects_of(result)
    # one measure for the tiles, the month chart and the customers (a trial read tiles before tax beside charts of
    # the total with tax, one screen and two bases); the invoice totals below show every part
    measure = measure_picker(summary)
    words = MEASURES[measure][0]
    _tiles(effects["totals"], cur, measure)
    invoice_totals_table(effects["totals"], cur)
    st.download_button(
        "Download comparison.csv",
        result["csv"].read_bytes,  # read when clicked
        file_name="comparison.csv",
        mime="text/csv",
        key="scn_download_csv",
        icon=":material/download:",
    )
    if summary["rows"] + 1 > SPREADSHEET_ROWS:  # its header is a row too
        st.caption(
            f"comparison.csv has {summary['rows']:,} rows, more than a spreadsheet opens ({SPREADSHEET_ROWS:,} rows "
            "in Excel): open it with DuckDB, pandas or a notebook; the tables on this page sum it up."
        )
    months = for_measure(effects["months"].query("currency == @cur"), measure)
    st.plotly_chart(
        _bars(
            months.assign(month=[f"{m:%b %Y}" for m in months["month"]]),  # "Nov 2026"
            "month",
            cur,
            f"Per month, {words} (cycles starting that month)",
        ),
        key="scn_chart_month",
        config=CHART_CONFIG,
    )
    g1, g2 = st.columns(2)
    products = effects["products"].query("currency == @cur")
    if (products["delta"] != 0).any():
        g1.plotly_chart(
            _hbar(products["delta"], products["product"], cur, "Change by product (before tax)"),
            key="scn_chart_product",
            config=CHART_CONFIG,
        )
    else:  # an empty chart says nothing: e.g. a tax rate moves the tax only
        g1.info(f"No product's amount before tax changes in {cur}: the invoice totals above show what does.")
    movers = for_measure(effects["movers"][measure].query("currency == @cur"), measure)
    who = [customer(n, c) for n, c in zip(movers["customer_name"], movers["customer_id"], strict=True)]
    g2.plotly_chart(
        _hbar(movers["delta"], who, cur, f"Top movers (customers), {words}"),
        key="scn_chart_movers",
        config=CHART_CONFIG,
    )
    if result.get("by_change_job") is not None:
        _waiting_for_steps(result["by_change_job"], len(summary["changes"]))
    else:
        _waterfall_section(result, cur, measure)
    customers_table(
        effects["customers"][measure].query("currency == @cur"), effects["changed"].get(cur, 0), cur, measure
    )
    with st.expander("Tables: by product (before tax), by month"):
        st.dataframe(labelled(_money_columns(products, cur)), hide_index=True, placeholder="")
        st.dataframe(
            months_table(effects["months"], cur),
            hide_index=True,
            placeholder="",
            key="scn_months",
            column_config={"month": st.column_config.DateColumn("month", format="MMM YYYY")},  # "Nov 2026"
        )


def _waterfall_section(result: dict, cur: str, measure: str) -> None:
    """What drives the change, by change (the steps the run worked out) or by product (from the comparison rows)."""
    summary = result["summary"]
    steps = result["by_change"]
    if steps is None:  # beyond the limit, or it could not be worked out: by product, and why (no choice to offer)
        st.markdown("**What drives the change**")
        if result.get("by_change_unfinished"):
            st.caption(f"By change was not worked out: {result['by_change_unfinished']} Shown by product.")
        else:
            st.caption(
                f"By change is worked out for a scenario of at most {MAX_WATERFALL_CHANGES} changes (each change "
                f"is billed once more); this one has {len(summary['changes'])}: shown by product."
            )
        view = "By product"
    else:
        view = st.radio("What drives the change", ["By change", "By product"], horizontal=True, key="scn_wf_view")
    if view == "By product":
        steps, shown_as = product_steps(result), "before_tax"
    else:  # the changes' steps carry their tax: in the amounts chosen above
        shown_as = measure
    drawn, left_out = steps_of_currency(steps, cur, shown_as)
    shown_words = MEASURES[shown_as][0]
    st.plotly_chart(
        waterfall_figure(drawn, cur, f"Baseline → scenario, {shown_words}, {view.lower()}"),
        key="scn_chart_waterfall",
        config=CHART_CONFIG,
    )
    caption = left_out_caption(left_out, cur, shown_words)
    if caption:
        st.caption(caption)
    if view == "By product" and measure != "before_tax":
        st.caption("By product is drawn before tax: the invoices' tax is not split by product.")


def _timing(result: dict) -> str:
    """How often the run billed the cycles and how long it took: the comparison, then (once worked out) everything,
    the waterfall by change included. Kept with the results, so it stays after the run's status is gone."""
    summary = result["summary"]
    if result.get("by_change_job") is not None:
        return (
            f"{_billed(summary, 0, False)}: compared in {result['compared_in']} s; working out what drives the change…"
        )
    billed = _billed(summary, len(summary["changes"]), result["by_change"] is not None)
    return f"{billed}: {summary['seconds']} s in all"  # the waterfall's share is not its own figure (a trial)


@st.fragment(run_every=1.0)
def _waiting_for_steps(job, changes: int) -> None:
    """In the waterfall's place while a worker works it out: looks every second, and reruns the page once it is done
    (_collect_steps takes it). The rest of the page is usable meanwhile: a click reruns the page, not the work."""
    if job.done():
        st.rerun()
    st.info(
        f"Working out what drives the change: the {changes} changes applied one after another, each billed from the "
        "same baseline. The results above are complete; use them meanwhile.",
        icon=":material/hourglass_top:",
    )


def _collect_steps(result: dict) -> None:
    """The worker's waterfall by change (or why there is none) into the result, once it is done."""
    job = result.get("by_change_job")
    if job is None or (done := steps.outcome(job)) is None:
        return
    waterfall, problem = done
    result.update(by_change=waterfall, by_change_unfinished=problem, by_change_job=None)


if ss.get("scn_result"):
    _collect_steps(ss["scn_result"])
    if ss["scn_result"].get("made_of") != _made_of(_scenario(), from_date, to_date):
        st.warning(
            "Stale: the scenario or the range changed since these results were computed. Run the scenario again "
            "to see the changes now shown above.",
            icon=":material/history:",
        )
    _show(ss["scn_result"])
