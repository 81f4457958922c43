"""What-if over HTTP (spec section 7): bill the business's cycles twice, baseline and scenario, and compare."""

from __future__ import annotations

from fastapi.concurrency import run_in_threadpool

from ...service import whatif
from ...service.requests import SimulateRequest
from ..auth import Sess
from .common import router as new_router

router = new_router("scenarios")


@router.post("/api/v1/scenarios/simulate", summary="Simulate a what-if scenario")
async def simulate_scenario(body: SimulateRequest, s: Sess):
    """Bill every cycle of the business's contracts starting in [from_date, to_date] (at most 10 years) as stored
    and with the scenario's changes; nothing stored changes. Totals per currency as decimal strings (major units).
    The scenario's decimals are strings (a JSON number with a fraction or an exponent is scenario_error)."""
    return await run_in_threadpool(whatif.simulate_request, s, body)
