"""What-if scenarios (spec section 7): bill a range of cycles twice, baseline and scenario, and compare.

    scenario JSON -> Scenario (typed changes) -> validated against the stored data
    _targets  = every cycle whose start_date lies in [from, to]          (targets.targets_for_range)
    baseline  = rate_targets(source='main')                               the stored data
    scenario  = rate_targets(source=<overlay>)                            the changes, in memory,
                for the contracts whose inputs the changes touch; every other contract's inputs
                are identical in both, so its scenario lines are its baseline lines
    comparison: one row per invoice line of either side, delta = scenario − baseline
    waterfall by change: between baseline and scenario, changes 1..i for i = 1..N−1 (totals only), rated
                after the comparison is built from the full scenario's rating; one baseline for both when
                asked together (run_simulation(by_change=True); simulation_stages, the workbench's Run
                scenario, gives the comparison before the steps are rated)

Both sides are rated by the same engine as real invoices, over the same targets; nothing is written
to the database (the overlay is an attached in-memory catalog, everything else is a temp table).
Amounts are line amounts before tax, an invoice's coupons as negative rows (compare.py); the invoices' tax is
compared per currency in the summary's `tax_totals` (baseline, scenario, delta).

Saved scenarios live in the `scenarios` table (name, body JSON, saved_at); saving is the only write.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticValidationError

from ..errors import ScenarioError, ValidationError
from ..limits import MAX_NAME
from ..money import to_major
from ..progress import Progress, no_progress, within
from ..rating.adjustments import RatedAdjustments
from ..rating.pipeline import rate_targets
from ..rating.targets import targets_for_range
from ..scope import Scope
from ..text_files import read_request_text
from ..validation_text import problems_text
from .adjustment_changes import CHANGE_TYPES, Change, CouponChange
from .changes import SAVED, UsageChange
from .compare import (
    AFFECTED,
    ALL_TARGETS,
    BASELINE,
    BASELINE_TAX,
    TAX_COMPARISON,
    build_comparison,
    build_tax_comparison,
    comparison_frame,
    comparison_totals,
    customers_changed,
    customers_that_change,
    delta_by_product,
    keep_baseline,
    rated_rows_sql,
    revenue_by_month,
    tax_totals,
    top_movers,
    totals_by_currency,
    totals_by_customer,
    totals_by_month,
    waterfall_by_product,
    write_comparison_csv,
)
from .kept_baseline import KeptBaseline, baseline_key
from .overlay import StoredData, mark_affected_contracts, scenario_overlay, stored_schema

Totals = dict[str, tuple[int, int]]  # per currency: (before tax, tax) of a side's invoices, minor units

__all__ = [
    "CHANGE_TYPES",
    "Scenario",
    "Simulation",
    "delta_by_product",
    "load_scenario",
    "parse_scenario",
    "revenue_by_month",
    "run_simulation",
    "scenario_choices",
    "scenario_json",
    "simulate",
    "simulation_stages",
    "stage_progress",
    "top_movers",
    "validate_scenario",
    "waterfall_by_change",
    "waterfall_by_product",
]


class Scenario(BaseModel):
    """A named list of changes, applied in order on top of the stored data."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_NAME)
    changes: list[Change] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_change_per_new_coupon(self):
        """Each coupon change creates its coupon: two with one id would be one coupon applied twice over."""
        ids = [c.coupon.coupon_id for c in self.changes if isinstance(c, CouponChange)]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(
                f"coupon id(s) {', '.join(map(repr, twice))} created by more than one change: give each new coupon "
                "its own id"
            )
        return self

    def labels(self) -> list[str]:
        return [c.label() for c in self.changes]


def parse_scenario(data: dict | str | bytes, origin: str = "scenario", *, saved: bool = False) -> Scenario:
    """A Scenario from JSON text or an already parsed dict. A number with a fraction or an exponent is refused
    (changes.Number: decimals are given as strings, as a scenario is saved), except in a `saved` scenario's JSON,
    the engine's own, read with such numbers as exact decimals so a scenario saved by any version loads."""
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data, parse_float=Decimal) if saved else json.loads(data)
        except json.JSONDecodeError as exc:
            raise ScenarioError(f"{origin} is not valid JSON: {exc}") from None
    try:
        return Scenario.model_validate(data, context={SAVED: saved})
    except PydanticValidationError as exc:
        raise ScenarioError(f"{origin} refused: {problems_text(exc.errors(), data, skip=CHANGE_TYPES)}") from None


def load_scenario(path: Path) -> Scenario:
    """Read a scenario JSON file (spec section 7)."""
    text = read_request_text(path, f"scenario file {path}", ScenarioError)
    return parse_scenario(text, origin=f"scenario file {path}")


def scenario_json(scenario: Scenario) -> str:
    """The scenario as JSON (decimals as strings), as saved and as downloaded."""
    return scenario.model_dump_json(indent=1)


def validate_scenario(
    con: duckdb.DuckDBPyConnection,
    scenario: Scenario,
    contract_ids: list[str] | None = None,
    *,
    within: list[str] | None = None,
) -> StoredData:
    """Every product, line, metric and contract the scenario names must exist (in the data of the contracts
    `within`, when given: a business's); all problems at once."""
    metrics = [c.metric for c in scenario.changes if isinstance(c, UsageChange) and c.metric is not None]
    known = StoredData(con, metrics, within=within)
    problems = [p for change in scenario.changes for p in change.problems(known)]
    if contract_ids:
        unknown = known.unknown_contracts(contract_ids)
        if unknown:
            problems.append(f"simulation scope: unknown contract(s) {', '.join(map(repr, unknown))}")
    if problems:
        raise ScenarioError(f"scenario {scenario.name!r} refers to what the data does not have: " + "; ".join(problems))
    return known


def scenario_choices(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """What a scenario can name by choice: the stored products and metrics, the contracts' currencies (a fixed
    coupon's) and the customers' businesses (a coupon's); lines and contracts are too many to list (they are typed
    and validated), the tax codes are read with their names and rates (engine.service.reads.taxes)."""
    known = StoredData(con)
    currencies = [r[0] for r in con.execute("SELECT DISTINCT currency FROM contracts ORDER BY 1").fetchall()]
    businesses = [r[0] for r in con.execute("SELECT DISTINCT business_id FROM customers ORDER BY 1").fetchall()]
    return {
        "products": sorted(known.products),
        "metrics": sorted(known.metrics),
        "currencies": currencies,
        "businesses": businesses,
    }


def _rate_baseline(
    con,
    stored: str,
    from_date: dt.date,
    to_date: dt.date,
    contract_ids,
    kept: KeptBaseline | None = None,
    progress: Progress = no_progress,
) -> tuple[int, bool]:
    """Target every cycle starting in the range, rate it as stored, keep targets and lines in temp tables; with
    `kept`, restore them from the baseline kept for the same data, range and contracts instead when there is one,
    else keep this one there. Returns the number of cycles and whether the baseline was restored."""
    if to_date < from_date:
        raise ValidationError(f"--to {to_date} is before --from {from_date}")
    key = None
    if kept is not None:
        progress(0.05, "looking for the billing as stored of the last run over the same data and range")
        key = baseline_key(con, stored, from_date, to_date, contract_ids)
        if (cycles := kept.restore(con, key)) is not None:
            return cycles, True
    progress(0.05, "billing the baseline")
    cycles = targets_for_range(con, from_date, to_date, Scope.of(contract_ids))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {ALL_TARGETS} AS SELECT * FROM _targets")  # noqa: S608 (SQL expressions built by the engine from its own column names and constants; values bound)
    keep_baseline(con, rate_targets(con, explain=False))
    if key is not None:  # kept when the data read the same before and after: this baseline is the key's
        kept.keep(
            con, key, cycles, unchanged=lambda: baseline_key(con, stored, from_date, to_date, contract_ids) == key
        )
    return cycles, False


def _rate_scenario(con, changes: list, metrics: frozenset[str], stored: str) -> tuple[int, RatedAdjustments]:
    """Rate `changes` over the kept targets: only the contracts whose inputs the changes touch are
    rated again (the others bill exactly as the baseline). Returns the number of cycles rated and where the
    rating left its invoices' taxes and coupons."""
    with scenario_overlay(con, changes, metrics) as scn:
        mark_affected_contracts(con, scn, stored)
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _targets AS SELECT * FROM {ALL_TARGETS}
                        WHERE contract_id IN (SELECT contract_id FROM {AFFECTED})""")  # noqa: S608 (SQL expressions built by the engine from its own column names and constants; values bound)
        rated = rate_targets(con, source=scn, explain=False)
    return con.execute("SELECT count(*) FROM _targets").fetchone()[0], rated


def _totals(con: duckdb.DuckDBPyConnection, stored: str, lines: str, taxes: str) -> Totals:
    """Per currency: (before tax, tax) of the rows `lines` (contract_id, amount_minor) and `taxes` (contract_id,
    tax_minor), both SELECTs built by the engine."""
    found: dict[str, list[int]] = {}
    for part, (rows, column) in enumerate(((lines, "amount_minor"), (taxes, "tax_minor"))):
        sums = con.execute(
            f"""SELECT c.currency, sum(r.{column})::HUGEINT FROM ({rows}) r
                JOIN {stored}.contracts c USING (contract_id) GROUP BY c.currency"""  # noqa: S608 (overlay schema names and SELECTs made by the engine, never user text; values bound)
        ).fetchall()
        for cur, total in sums:
            found.setdefault(cur, [0, 0])[part] = int(total or 0)
    return {cur: (before, tax) for cur, (before, tax) in found.items()}


def _baseline_totals(con: duckdb.DuckDBPyConnection, stored: str) -> Totals:
    """Per currency: (before tax, tax) of the baseline's invoices, as kept (keep_baseline)."""
    return _totals(
        con,
        stored,
        f"SELECT contract_id, amount_minor FROM {BASELINE}",  # noqa: S608 (engine constants)
        f"SELECT contract_id, tax_minor FROM {BASELINE_TAX}",  # noqa: S608 (engine constants)
    )


def _scenario_totals(con: duckdb.DuckDBPyConnection, stored: str, rated: RatedAdjustments) -> Totals:
    """Per currency: (before tax, tax) of the re-rated contracts' invoices + the baseline's of every other
    contract."""
    return _totals(
        con,
        stored,
        f"""SELECT contract_id, amount_minor FROM ({rated_rows_sql(rated)})
            UNION ALL SELECT contract_id, amount_minor FROM {BASELINE}
            WHERE contract_id NOT IN (SELECT contract_id FROM {AFFECTED})""",  # noqa: S608 (SQL built by the engine from its own names)
        f"""SELECT contract_id, tax_minor FROM _rated_invoices
            UNION ALL SELECT contract_id, tax_minor FROM {BASELINE_TAX}
            WHERE contract_id NOT IN (SELECT contract_id FROM {AFFECTED})""",  # noqa: S608 (engine constants)
    )


@dataclass(frozen=True)
class _Rated:
    """What `_rate_baseline_and_scenario` rated. The temp tables it leaves hold the baseline (`_scenario_baseline`,
    `_scenario_baseline_tax`) and the FULL scenario's rating (`_rated_lines`, `_rated_invoices`, `_scenario_affected`):
    the comparison is built from them, before any step of the waterfall is rated (`_rate_steps` replaces them)."""

    stored: str
    metrics: frozenset[str]
    cycles: int  # cycles in the range (the baseline's)
    restored: bool  # the baseline was the one kept for the same data, range and contracts (not rated again)
    rerated: int  # cycles the full scenario rated again
    rated: RatedAdjustments  # where the full scenario's rating left its taxes and coupons
    ends: tuple[Totals, Totals] | None  # with steps: the totals of the baseline and of the full scenario


def _rate_baseline_and_scenario(
    con: duckdb.DuckDBPyConnection,
    scenario: Scenario,
    metrics: frozenset[str],
    from_date: dt.date,
    to_date: dt.date,
    contract_ids: list[str] | None,
    *,
    steps: bool = False,
    progress: Progress = no_progress,
    kept: KeptBaseline | None = None,
) -> _Rated:
    """THE rating sequence of a simulation: the baseline once, then the full scenario; with `steps`, also the totals
    of both (the waterfall's first and last steps; `_rate_steps` rates those between, from the same baseline).
    Progress from 0.05 to 0.9, one share per rating. `kept`: the application's kept baseline (kept_baseline.py)."""
    stored = stored_schema(con)
    cycles, restored = _rate_baseline(con, stored, from_date, to_date, contract_ids, kept, progress)
    kept_words = "; as stored: the billing of the last run, kept" if restored else ""
    progress(0.475, f"billing the scenario ({cycles:,} cycles in the range{kept_words})")
    rerated, rated = _rate_scenario(con, scenario.changes, metrics, stored)
    ends = (_baseline_totals(con, stored), _scenario_totals(con, stored, rated)) if steps else None
    return _Rated(
        stored=stored, metrics=metrics, cycles=cycles, restored=restored, rerated=rerated, rated=rated, ends=ends
    )


def _rate_steps(
    con: duckdb.DuckDBPyConnection, scenario: Scenario, done: _Rated, progress: Progress = no_progress
) -> list[Totals]:
    """The waterfall's steps from the baseline `done` kept: the totals after changes 1..i, i = 0 (the baseline) ..
    N (the full scenario, as `done` rated it). Rates changes 1..i for i = 1..N−1 only, each over the kept targets,
    replacing the scenario's rating in the temp tables (build the comparison before). Progress from 0 to 1."""
    assert done.ends is not None, "rated without steps"
    baseline, full = done.ends
    n = len(scenario.changes)
    between = []
    for i in range(1, n):
        progress((i - 1) / (n - 1), f"working out what drives the change ({i} of {n} changes applied)")
        _, rated = _rate_scenario(con, scenario.changes[:i], done.metrics, done.stored)
        between.append(_scenario_totals(con, done.stored, rated))
    progress(1.0, "worked out what drives the change")
    return [baseline, *between, full] if n else [baseline]


def _compare(
    con: duckdb.DuckDBPyConnection,
    scenario: Scenario,
    from_date: dt.date,
    to_date: dt.date,
    contract_ids: list[str] | None,
    progress: Progress | None = None,
    within: list[str] | None = None,
    *,
    steps: bool = False,
    kept: KeptBaseline | None = None,
) -> tuple[dict, _Rated]:
    """Rate baseline and scenario over the same targets; leaves `_scenario_comparison`. Returns the summary and
    what was rated (with `steps`, ready for `_rate_steps`). `kept`: where the baseline is kept between simulations."""
    progress = progress or no_progress
    t0 = time.perf_counter()
    progress(0.0, "checking the scenario")
    known = validate_scenario(con, scenario, contract_ids, within=within)
    done = _rate_baseline_and_scenario(
        con, scenario, known.metrics, from_date, to_date, contract_ids, steps=steps, progress=progress, kept=kept
    )
    progress(0.9, "comparing line by line")
    rows = build_comparison(con, done.stored, done.rated)
    build_tax_comparison(con, done.stored)
    taxes = tax_totals(con)
    through = _usage_through(con, done.stored, every_contract=contract_ids is None)
    last_end = con.execute(f"SELECT max(period_end) FROM {ALL_TARGETS}").fetchone()[0]  # noqa: S608 (engine name)
    progress(1.0, "compared")
    summary = {
        "scenario": scenario.name,
        "changes": scenario.labels(),
        "from_date": from_date.isoformat(),
        "to_date": to_date.isoformat(),
        "cycles": done.cycles,
        "cycles_rerated": done.rerated,
        "baseline_kept": done.restored,  # the baseline of an earlier simulation of the same data, range, contracts
        "rows": rows,
        "totals": comparison_totals(con),
        "tax_totals": taxes,
        "usage_through": None if through is None else through.isoformat(),
        "cycles_end": None if last_end is None else last_end.isoformat(),
        "comparison_csv": None,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return summary, done


def _usage_through(con: duckdb.DuckDBPyConnection, stored: str, *, every_contract: bool) -> dt.date | None:
    """The last day with usage recorded for the simulated contracts (None: none). Cycles after it bill no usage in
    either run, so a usage change moves nothing there: a what-if re-bills recorded data, it forecasts none.
    `every_contract`: the simulation covers every stored contract (its max is read from the row groups' bounds;
    a scope's costs a semi join of the usage, ≈ 0.1 s for 10M rows)."""
    if every_contract:
        return con.execute(f"SELECT max(usage_date) FROM {stored}.usage").fetchone()[0]  # noqa: S608 (engine names)
    return con.execute(
        f"""SELECT max(u.usage_date) FROM {stored}.usage u
            WHERE u.contract_id IN (SELECT DISTINCT contract_id FROM {ALL_TARGETS})"""  # noqa: S608 (engine names)
    ).fetchone()[0]


def compare_checked(con: duckdb.DuckDBPyConnection, scenario: Scenario, from_date: dt.date, to_date: dt.date) -> int:
    """`_compare` over PART of the data (a Spark partition: engine.spark.simulate) whose scenario was
    checked against the whole data before: a line or contract the scenario names may be elsewhere, so
    nothing is checked here. Leaves `_scenario_comparison` and `_scenario_tax_comparison`; returns the number
    of rows of the first."""
    metrics = [c.metric for c in scenario.changes if isinstance(c, UsageChange) and c.metric is not None]
    known = StoredData(con, metrics)
    done = _rate_baseline_and_scenario(con, scenario, known.metrics, from_date, to_date, None)
    build_tax_comparison(con, done.stored)
    return build_comparison(con, done.stored, done.rated)


def simulate(
    con: duckdb.DuckDBPyConnection,
    scenario: Scenario,
    from_date: dt.date,
    to_date: dt.date,
    out_dir: Path | None = None,
    contract_ids: list[str] | None = None,
    progress: Progress | None = None,
    within: list[str] | None = None,
    kept: KeptBaseline | None = None,
) -> dict:
    """Bill every cycle starting in [from_date, to_date] twice, baseline and scenario, and compare.

    Writes out_dir/comparison.csv when out_dir is given. Returns a JSON-able summary: totals per
    currency (baseline, scenario, delta as decimal strings in major units, rows), the csv path.
    `within`: the contracts whose data the scenario's names are checked against (the API: the caller's
    business's); None: all stored data. Its `seconds` cover all of it, comparison.csv included. `kept`: the
    application's kept baseline (kept_baseline.py): the baseline is taken from it when it holds the one of the same
    data, range and contracts (the summary's `baseline_kept`), else rated and kept there."""
    t0 = time.perf_counter()
    summary, _ = _compare(con, scenario, from_date, to_date, contract_ids, progress, within, kept=kept)
    if out_dir is not None:
        summary["comparison_csv"] = str(write_comparison_csv(con, Path(out_dir)))
        summary["seconds"] = round(time.perf_counter() - t0, 3)
    return summary


@dataclass
class Simulation:
    """A simulation's summary, its comparison rows and its invoices' tax rows (minor units), for the
    aggregations. Amounts are before tax (lines − coupons) unless the name says tax or total."""

    summary: dict
    rows: pd.DataFrame = field(repr=False)
    tax_rows: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    waterfall: pd.DataFrame | None = field(repr=False, default=None)  # by change, when asked (waterfall_by_change)
    waterfall_seconds: float | None = None  # what working out the waterfall took, beyond the comparison
    _customers: pd.DataFrame | None = field(default=None, init=False, repr=False, compare=False)

    def by_month(self) -> pd.DataFrame:
        return revenue_by_month(self.rows)

    def invoice_totals(self) -> pd.DataFrame:
        """Per currency: before tax, coupons, tax and total with tax (compare.totals_by_currency)."""
        return totals_by_currency(self.rows, self.tax_rows)

    def totals_by_month(self) -> pd.DataFrame:
        """Per month: before tax, coupons, tax and total with tax (compare.totals_by_month)."""
        return totals_by_month(self.rows, self.tax_rows)

    def by_product(self) -> pd.DataFrame:
        return delta_by_product(self.rows)

    def movers(self, n: int = 10) -> pd.DataFrame:
        return top_movers(self.rows, n)

    def by_customer(self, n: int | None = None, by: str = "total") -> pd.DataFrame:
        """The customers whose invoices change, before tax, in their coupons and their tax, those that move most
        (by `by`: before_tax, tax or total) first; the first `n` per currency (compare.totals_by_customer)."""
        return totals_by_customer(self._changed(), n, by)

    def customers_changed(self) -> dict[str, int]:
        """Per currency, how many customers' invoices change."""
        return customers_changed(self._changed())

    def _changed(self) -> pd.DataFrame:
        """The customers that change, in minor units: summed once, then ordered and cut as asked."""
        if self._customers is None:
            self._customers = customers_that_change(self.rows, self.tax_rows)
        return self._customers


def run_simulation(
    con: duckdb.DuckDBPyConnection,
    scenario: Scenario,
    from_date: dt.date,
    to_date: dt.date,
    out_dir: Path | None = None,
    contract_ids: list[str] | None = None,
    progress: Progress | None = None,
    *,
    by_change: bool = False,
    kept: KeptBaseline | None = None,
) -> Simulation:
    """`simulate`, keeping the comparison rows as a DataFrame (for the page and the notebooks).

    `by_change`: also the waterfall by change (`Simulation.waterfall`, as `waterfall_by_change` gives it) from the
    same baseline, rated once: only the changes 1..i for i < N are rated beyond the simulation itself.
    The summary's `seconds` cover all of it: checking, the ratings, the comparison, comparison.csv, the frames."""
    first, second = stage_progress(scenario, by_change, progress)
    *_, sim = simulation_stages(
        con,
        scenario,
        from_date,
        to_date,
        out_dir,
        contract_ids,
        first,
        by_change=by_change,
        steps_progress=second,
        kept=kept,
    )
    return sim


def stage_progress(scenario: Scenario, by_change: bool, progress: Progress | None) -> tuple[Progress, Progress]:
    """One `progress` from 0 to 1 over both stages of `simulation_stages`, each its share of the ratings: the
    simulation's 2 (the baseline, the scenario) of the 1 + N of a waterfall by change of N changes."""
    n = len(scenario.changes)
    first = 2 / (1 + n) if by_change and n > 1 else 1.0
    return within(progress, 0.0, first), within(progress, first, 1.0)


def simulation_stages(
    con: duckdb.DuckDBPyConnection,
    scenario: Scenario,
    from_date: dt.date,
    to_date: dt.date,
    out_dir: Path | None = None,
    contract_ids: list[str] | None = None,
    progress: Progress | None = None,
    *,
    by_change: bool = False,
    steps_progress: Progress | None = None,
    kept: KeptBaseline | None = None,
) -> Iterator[Simulation]:
    """`run_simulation` in its two stages, for a caller that shows the results while the waterfall is worked out
    (the What-if page): first the Simulation as soon as it is compared (`waterfall` None), then, with `by_change`,
    the SAME Simulation again with its `waterfall` and `waterfall_seconds` set, its steps rated from the baseline
    the first stage kept (so `con`'s temp tables must be left alone between the two). The summary's `seconds`
    cover the first stage; after the second, the whole. `progress` goes 0 → 1 in the first stage,
    `steps_progress` in the second."""
    t0 = time.perf_counter()
    summary, done = _compare(con, scenario, from_date, to_date, contract_ids, progress, steps=by_change, kept=kept)
    if out_dir is not None:
        summary["comparison_csv"] = str(write_comparison_csv(con, Path(out_dir)))
    sim = Simulation(
        summary=summary,
        rows=comparison_frame(con, done.stored),
        tax_rows=comparison_frame(con, done.stored, TAX_COMPARISON),
    )
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    yield sim
    if by_change:
        t1 = time.perf_counter()
        sim.waterfall = _waterfall_frame(scenario, _rate_steps(con, scenario, done, steps_progress or no_progress))
        sim.waterfall_seconds = round(time.perf_counter() - t1, 3)
        summary["seconds"] = round(time.perf_counter() - t0, 3)
        yield sim


def _waterfall_frame(scenario: Scenario, totals: list[Totals]) -> pd.DataFrame:
    """The steps of the waterfall by change from the totals after changes 1..i, i = 0..N (see waterfall_by_change)."""
    steps = []
    for cur in sorted(set().union(*totals)):
        amounts = [t.get(cur, (0, 0))[0] for t in totals]
        taxes = [t.get(cur, (0, 0))[1] for t in totals]

        def step(label: str, amount: int, tax: int, measure: str, cur: str = cur) -> dict:
            return {
                "currency": cur,
                "label": label,
                "amount": to_major(amount, cur),
                "tax": to_major(tax, cur),
                "measure": measure,
            }

        steps.append(step("Baseline", amounts[0], taxes[0], "absolute"))
        for i, label in enumerate(scenario.labels(), start=1):
            steps.append(step(label, amounts[i] - amounts[i - 1], taxes[i] - taxes[i - 1], "relative"))
        steps.append(step("Scenario", amounts[-1], taxes[-1], "total"))
    return pd.DataFrame(steps, columns=["currency", "label", "amount", "tax", "measure"])


def waterfall_by_change(
    con: duckdb.DuckDBPyConnection,
    scenario: Scenario,
    from_date: dt.date,
    to_date: dt.date,
    contract_ids: list[str] | None = None,
    kept: KeptBaseline | None = None,
) -> pd.DataFrame:
    """What drives the change: the changes applied cumulatively, in their order.

    Step i = total(changes 1..i) − total(changes 1..i−1), per currency; the steps add up exactly to
    scenario − baseline. An interaction (a price rise on grown usage) counts for the later change.
    Columns: currency, label, amount (before tax), tax (the invoices' tax: the baseline's, the step's change, the
    scenario's), both Decimal major units, and measure ('absolute'|'relative'|'total'). A step that moves nothing
    in a currency (a change of another currency's prices, coupons or taxes) is 0 there in both amount and tax."""
    known = validate_scenario(con, scenario, contract_ids)
    done = _rate_baseline_and_scenario(
        con, scenario, known.metrics, from_date, to_date, contract_ids, steps=True, kept=kept
    )
    return _waterfall_frame(scenario, _rate_steps(con, scenario, done))
