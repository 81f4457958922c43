"""What-if scenarios (spec section 7): simulate over the caller's contracts, nothing stored changes; the
workbench's richer simulation (by month, product, top movers, the waterfall per change); saved scenarios.

The range is at most 10 years (limits.py); a scenario's products, lines, metrics and contracts are checked
against the caller's business's data only (a name only another business has is unknown, like a missing one).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pandas as pd

from ..errors import ScenarioError
from ..limits import MAX_WATERFALL_CHANGES
from ..progress import Progress
from ..rating.pricing import tiered_models
from ..whatif.saved import SavedScenario, delete_scenario, get_saved_scenario, list_scenarios, save_scenario
from ..whatif.scenarios import (
    Scenario,
    Simulation,
    load_scenario,
    parse_scenario,
    scenario_choices,
    scenario_json,
    simulate,
    stage_progress,
    validate_scenario,
    waterfall_by_change,
    waterfall_by_product,
)
from ..whatif.scenarios import (
    simulation_stages as engine_simulation_stages,
)
from . import tenancy
from .requests import SimulateRequest, parse
from .session import Session


def scenario_of(data: dict | str | bytes | Scenario, origin: str = "scenario") -> Scenario:
    """A Scenario from its JSON text, or an already parsed dict: its numbers are integers or decimal strings (a
    float, a JSON number with a fraction or an exponent, is refused: scenario_error)."""
    if isinstance(data, Scenario):
        return data
    return parse_scenario(data, origin=origin)


def scenario_file(path: Path) -> Scenario:
    """A scenario JSON file (spec section 7)."""
    return load_scenario(Path(path))


def _scope(s: Session, contract_ids: list[str] | None) -> tuple[list[str] | None, list[str] | None]:
    """(the contracts to simulate: None = all of the caller's, the contracts the names are checked against)."""
    with s.cursor() as cur:
        if contract_ids is not None:
            tenancy.contracts(cur, s.caller, contract_ids)
        if s.caller.every_business:
            return contract_ids, None
        mine = tenancy.business_contracts(cur, s.caller)
    if not mine:
        raise ScenarioError("the business has no contract to simulate", code="nothing_to_simulate")
    return (contract_ids if contract_ids is not None else mine), mine


def simulate_request(s: Session, request: SimulateRequest | dict) -> dict:
    """Bill every cycle of the caller's contracts (or those named) starting in [from_date, to_date] twice, as
    stored and with the scenario's changes; totals per currency as decimal strings (major units)."""
    req = parse(SimulateRequest, request)
    scenario = scenario_of(req.scenario)
    ids, within = _scope(s, req.contract_ids)
    with s.cursor() as cur:
        return simulate(
            cur, scenario, req.from_date, req.to_date, contract_ids=ids, within=within, kept=s.app.kept_baseline
        )


def simulate_file(
    s: Session,
    scenario: Scenario,
    from_date: dt.date,
    to_date: dt.date,
    *,
    out_dir: Path | None = None,
    progress: Progress | None = None,
) -> dict:
    """`billsim simulate`: the same, writing comparison.csv to `out_dir` when given."""
    req = parse(SimulateRequest, {"scenario": {}, "from_date": from_date, "to_date": to_date})
    ids, within = _scope(s, None)
    with s.cursor() as cur:
        return simulate(
            cur,
            scenario,
            req.from_date,
            req.to_date,
            out_dir=out_dir,
            contract_ids=ids,
            progress=progress,
            within=within,
            kept=s.app.kept_baseline,
        )


def simulation(
    s: Session,
    scenario: Scenario,
    from_date: dt.date,
    to_date: dt.date,
    *,
    contract_ids: list[str] | None = None,
    progress: Progress | None = None,
    out_dir: Path | None = None,
    waterfall: bool = False,
) -> Simulation:
    """The simulation with its comparison rows, for the workbench and the notebooks (by month, product, movers);
    with `out_dir`, also its comparison.csv there (the summary's `comparison_csv`). With `waterfall`, also what
    drives the change (`Simulation.waterfall`, the steps by change) from the SAME baseline, rated once, when the
    scenario has at most MAX_WATERFALL_CHANGES changes (it rates once per change; beyond, `waterfall` is None).
    The summary's `seconds` cover the whole call."""
    first, second = stage_progress(scenario, _by_change(scenario, waterfall), progress)
    *_, sim = simulation_stages(
        s,
        scenario,
        from_date,
        to_date,
        contract_ids=contract_ids,
        progress=first,
        steps_progress=second,
        out_dir=out_dir,
        waterfall=waterfall,
    )
    return sim


def simulation_stages(
    s: Session,
    scenario: Scenario,
    from_date: dt.date,
    to_date: dt.date,
    *,
    contract_ids: list[str] | None = None,
    progress: Progress | None = None,
    steps_progress: Progress | None = None,
    out_dir: Path | None = None,
    waterfall: bool = False,
) -> Iterator[Simulation]:
    """`simulation` in two stages, for the page that shows the results while it works out what drives the change:
    the Simulation as soon as it is compared, then (with `waterfall`, within MAX_WATERFALL_CHANGES) the same one
    with its `waterfall`, rated from the baseline of the first stage on the same cursor, held open between the two
    (closed when the iterator is finished or dropped). `progress` reports the first stage, `steps_progress` the
    second."""
    tenancy.local_only(s.caller, "a simulation with every comparison row")
    parse(SimulateRequest, {"scenario": {}, "from_date": from_date, "to_date": to_date})
    with s.cursor() as cur:
        yield from engine_simulation_stages(
            cur,
            scenario,
            from_date,
            to_date,
            out_dir=out_dir,
            contract_ids=contract_ids,
            progress=progress,
            by_change=_by_change(scenario, waterfall),
            steps_progress=steps_progress,
            kept=s.app.kept_baseline,
        )


def _by_change(scenario: Scenario, waterfall: bool) -> bool:
    """The waterfall by change is worked out when asked, for at most MAX_WATERFALL_CHANGES changes."""
    return waterfall and len(scenario.changes) <= MAX_WATERFALL_CHANGES


def waterfall(
    s: Session, scenario: Scenario, from_date: dt.date, to_date: dt.date, *, contract_ids: list[str] | None = None
) -> pd.DataFrame:
    """What drives the change: the scenario's changes applied one after another, per currency (alone: with the
    simulation, `simulation(..., waterfall=True)` rates the baseline once for both)."""
    tenancy.local_only(s.caller, "the waterfall of a simulation")
    parse(SimulateRequest, {"scenario": {}, "from_date": from_date, "to_date": to_date})
    with s.cursor() as cur:
        return waterfall_by_change(
            cur, scenario, from_date, to_date, contract_ids=contract_ids, kept=s.app.kept_baseline
        )


def check(s: Session, scenario: Scenario, contract_ids: list[str] | None = None) -> None:
    """Every product, line, metric and contract the scenario names exists (all problems at once)."""
    with s.cursor() as cur:
        validate_scenario(cur, scenario, contract_ids)


def choices(s: Session) -> dict[str, list[str]]:
    """What a scenario can name by choice: the stored products and metrics, the contracts' currencies and the
    customers' businesses (the tax codes with their rates: reads.taxes)."""
    with s.cursor() as cur:
        return scenario_choices(cur)


def saved(s: Session) -> list[dict]:
    tenancy.local_only(s.caller, "saved scenarios")
    with s.cursor() as cur:
        return list_scenarios(cur)


def save(
    s: Session,
    scenario: Scenario,
    from_date: dt.date | None = None,
    to_date: dt.date | None = None,
    *,
    replace: bool = False,
) -> dict:
    """Save a scenario with the range it is run over; a name already saved is `scenario_exists` unless `replace`."""
    tenancy.local_only(s.caller, "saved scenarios")
    if from_date is not None:
        parse(SimulateRequest, {"scenario": {}, "from_date": from_date, "to_date": to_date})  # the range's bounds
    return s.transaction(lambda cur: save_scenario(cur, scenario, from_date, to_date, replace=replace))


def load(s: Session, name: str) -> SavedScenario:
    """A saved scenario with its range (None where it was saved without one)."""
    tenancy.local_only(s.caller, "saved scenarios")
    with s.cursor() as cur:
        return get_saved_scenario(cur, name)


def delete(s: Session, name: str) -> None:
    tenancy.local_only(s.caller, "saved scenarios")
    s.transaction(lambda cur: delete_scenario(cur, name))


__all__ = [
    "Decimal",
    "SavedScenario",
    "Scenario",
    "Simulation",
    "check",
    "choices",
    "delete",
    "load",
    "save",
    "saved",
    "scenario_file",
    "scenario_json",
    "scenario_of",
    "simulate_file",
    "simulate_request",
    "simulation",
    "simulation_stages",
    "tiered_models",
    "waterfall",
    "waterfall_by_product",
]
