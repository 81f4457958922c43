"""What-if over HTTP (spec section 7): bill the business's cycles twice, baseline and scenario, and compare."""

from __future__ import annotations

import json
from decimal import Decimal

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from ...whatif.scenarios import parse_scenario, simulate
from ..auth import Caller, Principal
from ..db_session import new_cursor
from ..schemas import SimulateRequest
from ..tenancy import simulation_scope
from .common import router as new_router

router = new_router("scenarios")


def _simulate(con, who: Principal, body: SimulateRequest, scenario_raw) -> dict:
    cur = new_cursor(con)
    try:
        ids, mine = simulation_scope(cur, who.business_id, body.contract_ids)
        scenario = parse_scenario(scenario_raw)
        # the scenario's products, metrics, lines and contracts are checked against the business's data only
        return simulate(cur, scenario, body.from_date, body.to_date, contract_ids=ids, within=mine)
    finally:
        cur.close()


@router.post("/api/v1/scenarios/simulate", summary="Simulate a what-if scenario")
async def simulate_scenario(
    request: Request,
    body: SimulateRequest,
    who: Caller,
):
    """Bill every cycle of the business's contracts starting in [from_date, to_date] as stored and with the
    scenario's changes; nothing stored changes. Totals per currency as decimal strings (major units)."""
    # the scenario's numbers are read again from the raw body as exact decimals (never through a float)
    raw = json.loads(await request.body(), parse_float=Decimal)
    return await run_in_threadpool(_simulate, request.app.state.con, who, body, raw["scenario"])
