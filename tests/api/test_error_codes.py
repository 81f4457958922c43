"""One error vocabulary over HTTP and MCP, and what-if names checked within the caller's business.

The same mistake sent to an HTTP route and to the matching MCP tool (at /mcp of the same server) gives the
same stable code and message (engine/api/errors.py: error_code). A what-if that names a product, metric,
line or contract only another business has fails exactly as one naming something that exists nowhere.
"""

from __future__ import annotations

import json

import anyio
import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from .conftest import Server, headers

BUSINESS = {"north": "biz-north", "south": "biz-south"}


def mcp_errors(api: Server, who: str, calls: list[tuple[str, dict]]) -> list[str]:
    """Each tool call's error `code: message` (every call must fail; the SDK's "Error executing tool" prefix
    taken off)."""

    async def main() -> list[str]:
        out = []
        async with create_mcp_http_client(headers=headers(api.tokens[who], BUSINESS[who])) as client:
            async with streamable_http_client(f"{api.url}/mcp", http_client=client) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    for name, args in calls:
                        result = await session.call_tool(name, args)
                        assert result.is_error, (name, result)
                        text = " ".join(c.text for c in result.content if getattr(c, "text", None))
                        out.append(text.removeprefix(f"Error executing tool {name}: "))
        return out

    return anyio.run(main)


def http_error(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["success"] is False
    return f"{body['code']}: {body['message']}"


def test_the_same_error_has_the_same_code_and_message_over_http_and_mcp(api, north):
    draft = north.post("/api/v1/contracts/K-FLAT/generate-period-invoices", json={"period_date": "2026-05-15"})
    draft_id = draft.json()["data"]["invoice"]["id"]
    cycle = {"customer_id": "CUS-ACME", "contract_id": "K-FLAT", "from_date": "2026-03-01", "to_date": "2026-03-31"}
    one_line = {"customer_id": "CUS-SOUTH", "line_items": [{"description": "X", "unit_price": 1}]}
    one_line["due_date"] = "2026-09-30"
    cases = [
        # (HTTP request, status, MCP call)
        (
            north.post("/api/v1/contracts/K-NOPE/preview-invoice", json={"period_date": "2026-03-15"}),
            404,
            ("previewInvoice", {"contract_id": "K-NOPE", "period_date": "2026-03-15"}),
        ),
        (  # another business's contract: exactly as one that does not exist
            north.post("/api/v1/contracts/K-SOUTH/preview-invoice", json={"period_date": "2026-03-15"}),
            404,
            ("previewInvoice", {"contract_id": "K-SOUTH", "period_date": "2026-03-15"}),
        ),
        (north.get("/api/v1/invoices/inv_nope"), 404, ("getInvoice", {"invoice_id": "inv_nope"})),
        (north.post("/api/v1/invoices", json=one_line), 404, ("createInvoice", one_line)),
        (
            north.post(f"/api/v1/invoices/{draft_id}/finalize"),
            409,
            ("finalizeInvoice", {"invoice_id": draft_id}),
        ),
        (
            north.post("/invoices/generate_invoice", json={**cycle, "bill_for_date": "2026-04-02"}),
            400,
            ("generateInvoice", {**cycle, "bill_for_date": "2026-04-02"}),
        ),
    ]
    over_mcp = mcp_errors(api, "north", [call for _, _, call in cases])
    over_http = [http_error(r, status) for r, status, _ in cases]
    codes = [text.split(":")[0] for text in over_http]
    assert codes == [
        "contract_not_found",
        "contract_not_found",
        "invoice_not_found",
        "customer_not_found",
        "invoice_not_approved",
        "no_matching_cycle",
    ]
    assert over_mcp == over_http


SIM = {"from_date": "2026-03-01", "to_date": "2026-03-31"}


def _simulate_http(c: httpx.Client, change: dict) -> str:
    body = {"scenario": {"name": "s", "changes": [change]}, **SIM}
    return http_error(c.post("/api/v1/scenarios/simulate", json=body), 400)


@pytest.mark.parametrize(
    "north_only, name",
    [
        ({"type": "price", "product": "Seats", "percent": 10}, "Seats"),
        ({"type": "usage", "metric": "api_calls", "percent": 5}, "api_calls"),
        ({"type": "price", "line_id": "L-SEATS", "unit_price": 1}, "L-SEATS"),
        ({"type": "tiers", "line_id": "L-GRAD", "tiers": [{"up_to": None, "unit_price": 1}]}, "L-GRAD"),
        ({"type": "churn", "contract_ids": ["K-FLAT"]}, "K-FLAT"),
        ({"type": "minimum_commitment", "contract_id": "K-FLAT", "amount": "10"}, "K-FLAT"),
    ],
)
def test_a_what_if_name_only_another_business_has_is_unknown_as_one_nowhere(api, north, south, north_only, name):
    nowhere = json.loads(json.dumps(north_only).replace(f'"{name}"', '"Nope"'))
    # north has it: no error
    ok = north.post("/api/v1/scenarios/simulate", json={"scenario": {"name": "s", "changes": [north_only]}, **SIM})
    assert ok.status_code == 200, ok.text
    # south: the same answer as for a name that exists nowhere, over HTTP and over MCP
    foreign, missing = _simulate_http(south, north_only), _simulate_http(south, nowhere)
    assert foreign.startswith("scenario_error: ") and "unknown" in foreign, foreign
    assert foreign.replace(name, "Nope") == missing
    tool = [("simulateScenario", {"scenario": {"name": "s", "changes": [c]}, **SIM}) for c in (north_only, nowhere)]
    assert mcp_errors(api, "south", tool) == [foreign, missing]
