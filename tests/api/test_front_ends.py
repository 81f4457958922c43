"""The same operation through the HTTP API, the MCP tools, the command line and the workbench gives the same
result or the same error code: one suite over the four adapters of the application layer (engine.service) for
the tenancy rule, the limits and the errors, with hostile input refused with a 4xx and its code and nothing
stored.

All four run in this process over ONE server application (`open_server_app`): HTTP through a TestClient of the
FastAPI app, MCP through an in-process client of the tools (scoped to one business, as over stdio or /mcp), the
CLI through `engine.cli.main(argv, app=…)`, the workbench through AppTest on its database file.

    biz-north: the spec's worked 'basics' case;   biz-south: CUS-SOUTH with K-SOUTH (USD 40.00 a month)
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest
from fastapi.testclient import TestClient
from mcp import Client

from engine.api.app import create_app, open_server_app
from engine.cli import main as cli_main
from engine.mcp.backends import FixedBackend
from engine.mcp.tools import build_server
from engine.service import Caller, ForbiddenError, access, invoices, ledger

from .conftest import headers, make_database

MARCH = "2026-03-15"


@dataclass
class Outcome:
    """What a front end answered: ok (and its data), or the error's code and message."""

    ok: bool
    code: str | None = None
    message: str = ""
    data: object = None
    status: int | None = None  # HTTP only


@dataclass
class World:
    db: Path
    app: object
    http: TestClient
    tokens: dict

    def get(self, business: str, path: str, **kw) -> Outcome:
        return _http(self.http.get(path, headers=headers(self.tokens[_token(business)], business), **kw))

    def post(self, business: str, path: str, body=None, raw: bytes | None = None) -> Outcome:
        h = headers(self.tokens[_token(business)], business)
        if raw is not None:
            return _http(self.http.post(path, content=raw, headers={**h, "Content-Type": "application/json"}))
        return _http(self.http.post(path, json=body, headers=h))

    def mcp(self, business: str, tool: str, args: dict) -> Outcome:
        server = build_server(FixedBackend(self.app, Caller.of_business(business, f"mcp:{business}")))

        async def call():
            async with Client(server) as client:
                return await client.call_tool(tool, args)

        result = anyio.run(call)
        text = " ".join(c.text for c in result.content if getattr(c, "text", None))
        if not result.is_error:
            return Outcome(True, data=result.structured_content)
        found = re.match(r"Error executing tool \w+: (\w+): (.*)", text, re.S)
        assert found, text
        return Outcome(False, found.group(1), found.group(2))

    def cli(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = cli_main(["--db", str(self.db), *argv], app=self.app, stdout=out, stderr=err, tty=False)
        return code, out.getvalue(), err.getvalue()

    def count(self, sql: str, params: list | None = None) -> int:
        with self.app.database.cursor() as cur:
            return cur.execute(sql, params or []).fetchone()[0]


def _token(business: str) -> str:
    return {"biz-north": "north", "biz-south": "south"}[business]


def _http(r) -> Outcome:
    body = r.json() if r.headers.get("content-type", "").startswith("application/json") else None
    if r.status_code < 400:
        return Outcome(True, data=body, status=r.status_code)
    return Outcome(False, body.get("code"), body.get("message", ""), status=r.status_code)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("front_ends")
    db, tokens = make_database(folder)
    app = open_server_app(db)
    with TestClient(create_app(billsim=app)) as http:
        yield World(db=db, app=app, http=http, tokens=tokens)
    app.close()


def _simulated_everywhere(world, tmp_path, scenario: dict, from_date="2026-01-01", to_date="2026-03-31"):
    """The same scenario simulated over HTTP, MCP and the CLI (a scenario file): (http, mcp, cli, the file's path)."""
    body = {"scenario": scenario, "from_date": from_date, "to_date": to_date}
    http = world.post("biz-north", "/api/v1/scenarios/simulate", body)
    mcp = world.mcp("biz-north", "simulateScenario", body)
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    return http, mcp, world.cli("simulate", str(path), "--from", from_date, "--to", to_date), path


def _error_everywhere(
    world: World, http: Outcome, mcp: Outcome, cli: tuple[int, str, str], code: str, status: int, origin: str = ""
):
    """The same refusal over HTTP (status and code), MCP (code and the same message) and the CLI (exit 2 and the
    same message, one line; `origin`: what the CLI names instead of "scenario", its file)."""
    assert (http.ok, http.status, http.code) == (False, status, code), http
    assert (mcp.ok, mcp.code) == (False, code), mcp
    exit_code, out, err = cli
    assert exit_code == 2 and out == "", err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("billsim:"), err
    assert mcp.message == http.message
    assert lines[0] == f"billsim: {http.message.replace('scenario ', origin, 1) if origin else http.message}"


# --- tenancy: one rule for every front end --------------------------------------------------------------------


@pytest.mark.parametrize(
    "what, http_path, tool, args",
    [
        (
            "contract",
            ("POST", "/api/v1/contracts/K-SOUTH/preview-invoice", {"period_date": MARCH}),
            "previewInvoice",
            {"contract_id": "K-SOUTH", "period_date": MARCH},
        ),
        (
            "contract",
            ("GET", "/contracts/K-SOUTH/billing_cycles", None),
            "getContractBillingCycles",
            {"contract_id": "K-SOUTH"},
        ),
    ],
)
def test_another_business_is_not_found_exactly_like_nothing(world, what, http_path, tool, args):
    method, path, body = http_path
    http = world.post("biz-north", path, body) if method == "POST" else world.get("biz-north", path)
    mcp = world.mcp("biz-north", tool, args)
    missing = world.mcp("biz-north", tool, {**args, "contract_id": "K-NOPE"})
    assert (http.status, http.code) == (404, f"{what}_not_found")
    assert (mcp.code, mcp.message) == (http.code, http.message)
    assert missing.message.replace("K-NOPE", "X") == mcp.message.replace("K-SOUTH", "X")


def test_a_run_over_every_business_is_seen_by_a_business_as_its_own_part_only(world):
    """Started locally (the CLI: every business), the run is visible to biz-north and biz-south, each seeing only
    its own drafts, counts and totals, over HTTP and MCP alike; the CLI sees the whole run."""
    code, out, err = world.cli("run", "--period-date", "2026-02-15", "--quiet")
    assert code == 0, err
    whole = json.loads(out)
    run_id = whole["run_id"]
    per_business = {
        b: world.count("SELECT count(*) FROM invoices WHERE run_id = ? AND business_id = ?", [run_id, b])
        for b in ("biz-north", "biz-south")
    }
    assert whole["scope"]["business_id"] is None and whole["drafted"] == sum(per_business.values())
    assert min(per_business.values()) > 0
    for business, drafted in per_business.items():
        status = world.get(business, f"/api/v1/bill-runs/{run_id}")
        assert status.ok and status.data["report"]["drafted"] == drafted, status
        assert status.data["report"]["contracts_in_scope"] == drafted
        currencies = {t["currency"] for t in status.data["report"]["totals"]}
        assert (currencies == {"USD"}) == (business == "biz-south")
        review = world.get(business, f"/api/v1/bill-runs/{run_id}/review")
        mcp = world.mcp(business, "reviewBillRun", {"run_id": run_id})
        assert {d["business_id"] for d in review.data["drafts"]} == {business}
        assert len(review.data["drafts"]) == drafted
        assert mcp.data["drafts"] == review.data["drafts"] and mcp.data["flag_counts"] == review.data["flag_counts"]
        assert review.data["flag_counts"]["first_invoice"] == drafted


# --- what the CLI writes ------------------------------------------------------------------------------------------


def test_the_cli_writes_decimals_as_the_http_api_does_plain_digits_never_an_exponent(world):
    """Acme's tax rate of 10, read back from DECIMAL, is Decimal('1E+1'): the CLI once wrote "1E+1" where the HTTP
    API writes "10" (engine/cli/common.py json_data)."""
    http = world.post("biz-north", "/api/v1/contracts/K-FLAT/preview-invoice", {"period_date": MARCH})
    code, out, err = world.cli("preview", "K-FLAT", "--period-date", MARCH)
    assert code == 0 and http.ok, err
    assert json.loads(out)["tax_rate"] == http.data["tax_rate"] == "10"
    assert not re.search(r"\d[eE][+-]?\d", out), out


# --- limits and hostile input: the same code everywhere, nothing stored -------------------------------------


def _invoices(world: World) -> int:
    return world.count("SELECT count(*) FROM invoices")


def _create_body(**extra) -> dict:
    return {
        "customer_id": "CUS-ACME",
        "line_items": [{"description": "Consulting", "unit_price": 12550}],
        "due_date": "2026-07-31",
        **extra,
    }


def _cli_create(world: World, tmp_path: Path, body: dict) -> tuple[int, str, str]:
    request = tmp_path / "request.json"
    request.write_text(json.dumps(body))
    return world.cli("create", str(request))


@pytest.mark.parametrize(
    "case, body",
    [
        ("a description of a million characters", _create_body(description="x" * 1_000_000)),
        ("10,000 lines", _create_body(line_items=[{"description": "L", "unit_price": 1}] * 10_000)),
        ("true as a price", _create_body(line_items=[{"description": "L", "unit_price": True}])),
        ("a price as text", _create_body(line_items=[{"description": "L", "unit_price": "12"}])),
        ("a due date in year 1", _create_body(due_date="0001-01-01")),
        ("a due date in 9999", _create_body(due_date="9999-12-31")),
        ("a NUL in the description", _create_body(description="a\x00b")),
        ("a control character in the description", _create_body(description="a\x07b\x1bc")),
        ("a right-to-left override in a line", _create_body(line_items=[{"description": "x\u202ey", "unit_price": 1}])),
    ],
)
def test_a_bad_invoice_is_refused_everywhere_with_the_same_code_and_nothing_is_stored(world, tmp_path, case, body):
    before = _invoices(world)
    http = world.post("biz-north", "/api/v1/invoices", body)
    mcp = world.mcp("biz-north", "createInvoice", body)
    cli = _cli_create(world, tmp_path, body)
    _error_everywhere(world, http, mcp, cli, "validation_error", 422)
    assert _invoices(world) == before, case


@pytest.mark.parametrize(
    "lines, words",
    [
        (
            [{"description": "A", "unit_price": 1}, {"description": "B", "unit_price": "12"}],
            "invalid request: line item 2: unit_price: Input should be a valid integer",
        ),
        (
            [{"description": "A", "unit_price": 9223372036854775808}],
            "invalid request: line item 1: unit_price: Input should be less than or equal to 9223372036854775807",
        ),
    ],
)
def test_a_bad_line_is_named_by_its_position_from_1_the_same_everywhere(world, tmp_path, lines, words):
    http = world.post("biz-north", "/api/v1/invoices", _create_body(line_items=lines))
    mcp = world.mcp("biz-north", "createInvoice", _create_body(line_items=lines))
    cli = _cli_create(world, tmp_path, _create_body(line_items=lines))
    _error_everywhere(world, http, mcp, cli, "validation_error", 422)
    assert http.message == words


def test_a_negative_price_is_shown_in_major_units_the_same_everywhere(world, tmp_path):
    """unit_price is sent in minor units (-2500); the refusal shows what the user reads on an invoice."""
    body = _create_body(line_items=[{"description": "A", "unit_price": 100}, {"description": "B", "unit_price": -2500}])
    http = world.post("biz-north", "/api/v1/invoices", body)
    mcp = world.mcp("biz-north", "createInvoice", body)
    cli = _cli_create(world, tmp_path, body)
    _error_everywhere(world, http, mcp, cli, http.code, http.status)
    assert http.code == "validation_error" and http.status in (400, 422), http
    assert "line item 2: unit_price must not be negative, got -25.00 USD" in http.message, http.message


def test_amounts_beyond_what_can_be_stored_are_refused_everywhere_and_nothing_is_stored(world, tmp_path):
    """Two lines of the largest price: each fits, their sum does not (it was a 500 with database text)."""
    top = 9223372036854775807
    body = _create_body(line_items=[{"description": "A", "unit_price": top}, {"description": "B", "unit_price": top}])
    before = _invoices(world)
    http = world.post("biz-north", "/api/v1/invoices", body)
    mcp = world.mcp("biz-north", "createInvoice", body)
    cli = _cli_create(world, tmp_path, body)
    assert http.status == 400 and http.code in ("validation_error", "amount_out_of_range"), http
    _error_everywhere(world, http, mcp, cli, http.code, 400)
    assert "INT128" not in mcp.message and "Conversion" not in mcp.message  # never the database's text
    assert _invoices(world) == before


def test_a_huge_unknown_id_is_not_echoed_back_whole(world):
    huge = "K" * 50_000
    http = world.post("biz-north", f"/api/v1/contracts/{huge}/preview-invoice", {"period_date": MARCH})
    mcp = world.mcp("biz-north", "previewInvoice", {"contract_id": huge, "period_date": MARCH})
    cli = world.cli("preview", huge, "--period-date", MARCH)
    _error_everywhere(world, http, mcp, cli, "contract_not_found", 404)
    assert len(http.message) < 300


@pytest.mark.parametrize("date", ["0001-01-01", "9999-12-31", "1899-12-31", "2200-01-01"])
def test_a_date_outside_1900_to_2199_is_refused_everywhere(world, date):
    http = world.post("biz-north", "/api/v1/contracts/K-FLAT/preview-invoice", {"period_date": date})
    mcp = world.mcp("biz-north", "previewInvoice", {"contract_id": "K-FLAT", "period_date": date})
    cli = world.cli("preview", "K-FLAT", "--period-date", date)
    _error_everywhere(world, http, mcp, cli, "validation_error", 422)
    assert "1900-01-01 .. 2199-12-31" in mcp.message and "1900-01-01 .. 2199-12-31" in cli[2]


def test_a_run_whose_drafts_would_be_dated_after_2199_is_refused_everywhere_and_nothing_is_written(world):
    """A bill run of 2199-12-15 would draft K-SOUTH's December, due 2200-01-31: refused whole, in the run's own
    transaction (engine/billing/run_dates.py): no invoice, and no run row left 'running'. The CLI's run says so at
    once; the HTTP API's run, started in the background (202), reports it as the run's failure with the code."""
    before = world.count("SELECT count(*) FROM bill_runs"), world.count("SELECT count(*) FROM invoices")
    started = world.post("biz-south", "/api/v1/bill-runs", {"period_date": "2199-12-15"})
    assert started.status == 202, started
    run_id = started.data["run_id"]
    world.app.jobs.get(run_id).thread.join()
    http = world.get("biz-south", f"/api/v1/bill-runs/{run_id}")
    assert (http.data["status"], http.data["error"]["code"]) == ("failed", "draft_dates_out_of_range"), http
    message = http.data["error"]["message"]
    assert message.startswith("a bill run of 2199-12-15 would draft 1 invoice(s) dated after 2199-12-31"), message
    assert "contract K-SOUTH (cycle 2199-12-01 .. 2199-12-31, due 2200-01-31)" in message
    code, out, err = world.cli("run", "--period-date", "2199-12-15", "--quiet")
    assert code == 2 and out == "", err
    (line,) = err.strip().splitlines()
    assert line.startswith("billsim: a bill run of 2199-12-15 would draft ") and "K-SOUTH" in line, line
    assert (world.count("SELECT count(*) FROM bill_runs"), world.count("SELECT count(*) FROM invoices")) == before
    assert world.count("SELECT count(*) FROM bill_runs WHERE status = 'running'") == 0


def test_the_draft_of_a_cycle_due_after_2199_is_refused_everywhere_with_the_same_code(world):
    before = world.count("SELECT count(*) FROM invoices")
    http = world.post("biz-south", "/api/v1/contracts/K-SOUTH/generate-period-invoices", {"period_date": "2199-12-15"})
    mcp = world.mcp("biz-south", "draftPeriodInvoice", {"contract_id": "K-SOUTH", "period_date": "2199-12-15"})
    cli = world.cli("draft", "K-SOUTH", "--period-date", "2199-12-15")
    _error_everywhere(world, http, mcp, cli, "draft_dates_out_of_range", 400)
    assert "would be due 2200-01-31, after 2199-12-31" in http.message
    assert world.count("SELECT count(*) FROM invoices") == before


@pytest.mark.parametrize(
    "from_date, to_date, why",
    [("0001-01-01", "9999-12-31", "outside"), ("2000-01-01", "2030-12-31", "longer than 10 years")],
)
def test_a_what_if_range_beyond_the_limits_is_refused_everywhere_at_once(world, tmp_path, from_date, to_date, why):
    """It once grew the server to 19 GB: now it is refused before any work."""
    scenario = {"name": "x", "changes": [{"type": "price", "percent": 10}]}
    http, mcp, cli, _ = _simulated_everywhere(world, tmp_path, scenario, from_date, to_date)
    _error_everywhere(world, http, mcp, cli, "validation_error", 422)
    assert why in http.message and why in mcp.message and why in cli[2]


@pytest.mark.parametrize(
    "raw, why",
    [
        (b"{not json", " (at character 1): Expecting property name enclosed in double quotes"),
        (b'{"period_date": "2026-03-15",}', " (at character 29): Expecting property name enclosed in double quotes"),
        (b'{"period_date": NaN}', ": NaN is not a JSON number"),
        (b'{"period_date": "2026-03-15", "x": Infinity}', ": Infinity is not a JSON number"),
        (b'{"period_date": -Infinity}', ": -Infinity is not a JSON number"),
        (b'{"period_date": "\\ud800"}', ": a text holds an unpaired surrogate (not a character)"),
        (
            b'{"customer_id": "CUS-ACME", "line_items": [{"description": "\\udfff", "unit_price": 1}], '
            b'"due_date": "2026-07-31"}',
            ": a text holds an unpaired surrogate (not a character)",
        ),
        (b"[" * 100 + b"]" * 100, ": nested deeper than 64 levels"),
    ],
)
def test_a_body_that_is_not_valid_json_is_one_422_json_invalid_before_any_route(world, raw, why):
    """One rule for "the body is not valid JSON" (engine/api/body_guard.py), as the seeds' FastAPI servers answer a
    malformed body: 422 validation_error with an HTTPValidationError `detail` of type json_invalid. NaN and an
    unpaired surrogate once crashed the 422 handler (a 500), then were a 400 of their own. /mcp (the same app) answers
    the same body in its own protocol: the next test."""
    before = _invoices(world)
    for path in ("/api/v1/contracts/K-FLAT/preview-invoice", "/api/v1/invoices", "/invoices/generate_invoice"):
        h = headers(world.tokens["north"], "biz-north")
        r = world.http.post(path, content=raw, headers={**h, "Content-Type": "application/json"})
        assert r.status_code == 422, (path, r.text)
        body = r.json()
        assert (body["success"], body["code"]) == (False, "validation_error"), (path, body)
        assert body["message"] == f"invalid request: the request body is not valid JSON{why}", (path, body)
        assert [(d["type"], d["loc"][0], d["msg"]) for d in body["detail"]] == [
            ("json_invalid", "body", "JSON decode error")
        ], body
    assert _invoices(world) == before


SECRET = "sk_live_" + "Q7" * 20  # a value sent in the wrong field, which a refusal must not carry back


@pytest.mark.parametrize(
    "field, value",
    [
        ("currency", SECRET),  # too long for a currency
        ("due_date", SECRET),  # not a date
        ("api_key", SECRET),  # no such field
        ("description", "x" * 1990 + SECRET),  # 2,038 characters: beyond a description's 2,000
        ("description", SECRET + "\x00\x01\x7f\u202e"),  # control characters and a bidi override
        ("customer_id", {"token": SECRET}),  # an object for a text
    ],
)
def test_a_refused_value_is_not_echoed_back_by_any_front_end(world, tmp_path, field, value):
    """A 422's detail had FastAPI's default `input`: the value refused came back in the answer (a token or a
    password sent in the wrong field, logged by the client with the error). loc, msg and type say what and where."""
    body = {**_create_body(), field: value}
    r = world.http.post("/api/v1/invoices", json=body, headers=headers(world.tokens["north"], "biz-north"))
    assert (r.status_code, r.json()["code"]) == (422, "validation_error"), r.text
    assert SECRET not in r.text and "Q7Q7" not in r.text, r.text
    detail = r.json()["detail"]
    assert detail and all(set(d) <= {"loc", "msg", "type", "ctx"} for d in detail), detail
    assert any(field in d["loc"] for d in detail), detail
    mcp = world.mcp("biz-north", "createInvoice", body)
    assert (mcp.ok, mcp.code) == (False, "validation_error") and "Q7Q7" not in mcp.message, mcp
    path = tmp_path / "request.json"
    path.write_text(json.dumps(body))
    code, out, err = world.cli("create", str(path))
    assert (code, out) == (2, "") and "Q7Q7" not in err and field in err, err


@pytest.mark.parametrize(
    "raw, why",
    [
        (b"{not json", " (at character 1): Expecting property name enclosed in double quotes"),
        (
            b'{"jsonrpc": "2.0", "method": "tools/list", "id": 1,}',
            " (at character 51): Expecting property name enclosed in double quotes",
        ),
        (b'{"jsonrpc": "2.0", "id": NaN}', ": NaN is not a JSON number"),
        (b'{"jsonrpc": "2.0", "method": "\\ud800", "id": 1}', ": a text holds an unpaired surrogate (not a character)"),
        (b"[" * 100 + b"]" * 100, ": nested deeper than 64 levels"),
    ],
)
@pytest.mark.parametrize("authorized", [True, False])
def test_a_body_to_mcp_that_is_not_json_is_a_json_rpc_parse_error(world, raw, why, authorized):
    """An MCP client expects JSON-RPC's parse error (-32700, id null) for a malformed body, as the MCP SDK answers
    one; /mcp once answered it the API's 422 validation_error (one guard for every path, engine/api/body_guard.py).
    The API's routes keep their 422 for the same body, with the same reason."""
    h = headers(world.tokens["north"], "biz-north") if authorized else {}
    h = {**h, "Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    for path in ("/mcp", "/mcp/"):
        r = world.http.post(path, content=raw, headers=h, follow_redirects=False)
        assert r.status_code == 400 and r.headers["content-type"].startswith("application/json"), (path, r.text)
        assert r.json() == {
            "jsonrpc": "2.0",
            "id": None,
            "error": {"code": -32700, "message": f"Parse error: the request body is not valid JSON{why}"},
        }, r.json()
    api = world.http.post("/api/v1/invoices", content=raw, headers=h)
    assert api.status_code == 422 and api.json()["code"] == "validation_error", api.text
    assert api.json()["message"].startswith(f"invalid request: the request body is not valid JSON{why}"), api.text


def test_a_json_body_to_mcp_still_reaches_the_mcp_server(world):
    h = {**headers(world.tokens["north"], "biz-north"), "Accept": "application/json, text/event-stream"}
    h["Host"] = "127.0.0.1:8000"  # the SDK's DNS-rebinding check takes the server's own host only
    hello = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    r = world.http.post("/mcp", json=hello, headers=h)
    assert r.status_code == 200, r.text
    assert '"serverInfo"' in r.text and '"billsim"' in r.text, r.text


def test_a_request_body_beyond_the_bound_is_refused(world):
    r = world.post("biz-north", "/api/v1/invoices", raw=b'{"x": "' + b"a" * (9 * 1024 * 1024) + b'"}')
    assert (r.status, r.code) == (413, "request_too_large")


@pytest.mark.parametrize("percent", ["100000000000000000000", "-100000000000000000000.5", 10**20])
def test_absurd_what_if_percents_are_refused_everywhere(world, tmp_path, percent):
    http, mcp, cli, path = _simulated_everywhere(
        world, tmp_path, {"name": "x", "changes": [{"type": "price", "percent": percent}]}
    )
    _error_everywhere(world, http, mcp, cli, "scenario_error", 400, origin=f"scenario file {path} ")
    assert "percent must be" in http.message


@pytest.mark.parametrize("number", ["10.5", "1e1", "-1E+1", "10.0", "0.1"])
def test_a_what_if_number_given_as_a_json_number_with_a_fraction_or_an_exponent_is_refused_everywhere(
    world, tmp_path, number
):
    """A scenario's decimals are strings, as every amount given over HTTP and MCP (docs/RULES.md "Digits are
    ASCII"): a JSON 0.1 is already a float, not one tenth. The spec's example gives `"percent": 10` and
    `"unit_price": "120.00"`; an integer stays welcome."""
    text = '{"name": "x", "changes": [{"type": "price", "percent": NUMBER}]}'.replace("NUMBER", number)
    raw = ('{"scenario": ' + text + ', "from_date": "2026-01-01", "to_date": "2026-03-31"}').encode()
    http = world.post("biz-north", "/api/v1/scenarios/simulate", raw=raw)
    mcp = world.mcp("biz-north", "simulateScenario", json.loads(raw))
    path = tmp_path / "scenario.json"
    path.write_text(text)
    cli = world.cli("simulate", str(path), "--from", "2026-01-01", "--to", "2026-03-31")
    _error_everywhere(world, http, mcp, cli, "scenario_error", 400, origin=f"scenario file {path} ")
    assert http.message.startswith("scenario refused: change 1: percent: give the number as a decimal string"), http
    as_text = {**json.loads(raw), "scenario": {"name": "x", "changes": [{"type": "price", "percent": number}]}}
    taken = world.post("biz-north", "/api/v1/scenarios/simulate", as_text)
    if "e" in number.lower():  # as text, an exponent is refused as in every amount typed (docs/RULES.md)
        assert (taken.status, taken.code) == (400, "scenario_error") and "no exponent" in taken.message, taken
    else:
        assert taken.ok  # the same number as a string is taken


@pytest.mark.parametrize("text", ["1e3", "1E+1", "7,5", "1,000", "", " ", "10%", "0x10", "Infinity", "NaN"])
def test_a_what_if_number_as_text_is_a_plain_decimal_everywhere(world, tmp_path, text):
    """A trial typed "1e3" and got +1000 %, and "7,5" got pydantic's "Input should be a valid decimal": a scenario's
    number as text is a plain decimal (ASCII digits, a point), as every amount typed; each front end says so."""
    http, mcp, cli, path = _simulated_everywhere(
        world, tmp_path, {"name": "x", "changes": [{"type": "price", "percent": text}]}
    )
    _error_everywhere(world, http, mcp, cli, "scenario_error", 400, origin=f"scenario file {path} ")
    expected = "a number is required" if not text.strip() else "not a plain decimal number"
    assert http.message.startswith(f"scenario refused: change 1: percent: {expected}"), http


@pytest.mark.parametrize(
    "change",
    [
        {"type": "price", "percent": "١٠"},
        {"type": "price", "product": "Platform", "unit_price": "٩٩.٠٠"},
        {"type": "minimum_commitment", "contract_id": "K-FLAT", "amount": "１００"},
    ],
)
def test_a_what_if_number_in_digits_other_than_ascii_is_refused_everywhere(world, tmp_path, change):
    """A scenario's numbers follow the amount rule's digits: '١٠' is never read as 10."""
    http, mcp, cli, path = _simulated_everywhere(world, tmp_path, {"name": "x", "changes": [change]})
    _error_everywhere(world, http, mcp, cli, "scenario_error", 400, origin=f"scenario file {path} ")
    assert "not a plain decimal number" in http.message


def test_a_bad_scenario_change_is_named_by_its_position_from_1_the_same_everywhere(world, tmp_path):
    http, mcp, cli, path = _simulated_everywhere(
        world,
        tmp_path,
        {"name": "x", "changes": [{"type": "price", "percent": "10"}, {"type": "price", "percent": "ten"}]},
    )
    _error_everywhere(world, http, mcp, cli, "scenario_error", 400, origin=f"scenario file {path} ")
    assert http.message.startswith("scenario refused: change 2: percent: not a plain decimal number: 'ten'"), (
        http.message
    )


def test_a_review_is_paged_over_mcp_and_http(world):
    code, out, err = world.cli("run", "--period-date", "2026-03-15", "--business", "biz-north", "--quiet")
    assert code == 0, err
    run_id = json.loads(out)["run_id"]
    whole = world.mcp("biz-north", "reviewBillRun", {"run_id": run_id, "limit": 5000})
    page = world.mcp("biz-north", "reviewBillRun", {"run_id": run_id, "limit": 2, "offset": 1})
    http = world.get("biz-north", f"/api/v1/bill-runs/{run_id}/review", params={"limit": 2, "offset": 1})
    assert page.data["drafts"] == whole.data["drafts"][1:3] == http.data["drafts"]
    assert page.data["drafts_total"] == len(whole.data["drafts"]) == http.data["drafts_total"]


def test_what_only_a_local_user_may_do_is_refused_to_a_business_token(world):
    """Tokens are made on the server's machine: the service refuses a business's caller (no front end offers it
    to one, and the rule does not rest on that)."""
    s = world.app.session(Caller.of_business("biz-north", "t"))
    with pytest.raises(ForbiddenError):
        access.create(s, "biz-north", "sneaky")
    with pytest.raises(ForbiddenError):
        ledger.export(s, Path("/nonexistent"))
    assert world.count("SELECT count(*) FROM api_tokens WHERE name = 'sneaky'") == 0


# --- credit notes (spec section 12): the same refusals everywhere, nothing written -----------------------------------


@pytest.fixture(scope="module")
def credited(world):
    """biz-north's K-FLAT: March finalized (Platform 99.00 + Seats 70.00, 10 % tax: 185.90) and paid 50.00;
    April drafted (not finalized)."""
    code, out, err = world.cli("run", "--period-date", MARCH, "--contract", "K-FLAT", "--finalize", "--quiet")
    assert code == 0, err
    code, out, err = world.cli("run", "--period-date", "2026-04-15", "--contract", "K-FLAT", "--quiet")
    assert code == 0, err
    with world.app.database.cursor() as cur:
        march, april = (
            cur.execute(
                "SELECT invoice_id FROM invoices WHERE contract_id = 'K-FLAT' AND period_start = ?", [start]
            ).fetchone()[0]
            for start in ("2026-03-01", "2026-04-01")
        )
    if world.count("SELECT count(*) FROM invoices WHERE invoice_id = ? AND status = 'draft'", [march]):
        for command in ("approve", "finalize"):  # drafted by an earlier test's run
            code, out, err = world.cli(command, march)
            assert code == 0, err
    code, out, err = world.cli("pay", march, "50.00")
    assert code == 0, err
    return {"march": march, "april": april}


def _cli_credit_note(world: World, invoice_id: str, body: dict) -> tuple[int, str, str]:
    argv = ["credit-note", "create", invoice_id, "--reason", body["reason"]]
    argv += [f"--line={i['line_no']}={i['amount']}" for i in body.get("items", [])]
    argv += ["--all"] if body.get("all") else []
    for name in ("refund", "credit", "offset"):
        if name in body:
            argv.append(f"--{name}={body[name]}")
    return world.cli(*argv)


@pytest.mark.parametrize(
    "case, invoice, body, code, status",
    [
        ("a line beyond what it can be credited", "march", {"items": [{"line_no": 2, "amount": "70.01"}]},
         "credit_exceeds_line", 400),
        ("a refund beyond the payments", "march", {"items": [{"line_no": 1, "amount": "99.00"}], "refund": "50.01"},
         "refund_exceeds_payments", 400),
        ("an offset beyond the balance due", "march",
         {"all": True, "offset": "185.90", "credit": "0"}, "offset_exceeds_balance", 400),
        ("a split that does not add up", "march",
         {"items": [{"line_no": 1, "amount": "10.00"}], "offset": "1.00", "credit": "1.00"}, "split_mismatch", 400),
        ("a line the invoice does not have", "march", {"items": [{"line_no": 7, "amount": "1.00"}]},
         "line_not_found", 400),
        ("more decimals than USD has", "march", {"items": [{"line_no": 1, "amount": "1.005"}]},
         "validation_error", 400),
        ("an amount of 0", "march", {"items": [{"line_no": 1, "amount": "0"}]}, "validation_error", 422),
        ("lines and all together", "march", {"items": [{"line_no": 1, "amount": "1.00"}], "all": True},
         "validation_error", 422),
        ("an unknown reason", "march", {"items": [{"line_no": 1, "amount": "1.00"}], "reason": "mistake"},
         "validation_error", 422),
        ("a draft", "april", {"all": True}, "invalid_state", 409),
        ("an invoice that does not exist", "inv-nope", {"all": True}, "invoice_not_found", 404),
    ],
)  # fmt: skip
def test_a_refused_credit_note_is_refused_everywhere_with_the_same_code_and_nothing_is_written(
    world, credited, case, invoice, body, code, status
):
    invoice_id = credited.get(invoice, invoice)
    body = {"reason": "duplicate", **body}
    before = world.count("SELECT count(*) FROM credit_notes"), world.count("SELECT count(*) FROM invoice_events")
    http = world.post("biz-north", f"/api/v1/invoices/{invoice_id}/credit-notes", body)
    mcp = world.mcp("biz-north", "createCreditNote", {"invoice_id": invoice_id, **body})
    cli = _cli_credit_note(world, invoice_id, body)
    _error_everywhere(world, http, mcp, cli, code, status)
    after = world.count("SELECT count(*) FROM credit_notes"), world.count("SELECT count(*) FROM invoice_events")
    assert after == before, case


@pytest.mark.parametrize(
    "items, words",
    [
        ([{"line_no": 2, "amount": "-10"}], "invalid request: item 1 (line 2): amount must be more than 0, got -10"),
        (
            [{"line_no": 1, "amount": "1.00"}, {"line_no": 2, "amount": "0"}],
            "invalid request: item 2 (line 2): amount must be more than 0, got 0",
        ),
    ],
)
def test_a_refused_credit_note_line_is_named_as_the_user_counts_it_the_same_everywhere(world, credited, items, words):
    """Positions count from 1 and the item names its invoice line; it was `items.0.amount: …` for the user's
    `--line 2=-10` (engine/validation_text.py)."""
    body = {"reason": "duplicate", "items": items}
    http = world.post("biz-north", f"/api/v1/invoices/{credited['march']}/credit-notes", body)
    mcp = world.mcp("biz-north", "createCreditNote", {"invoice_id": credited["march"], **body})
    cli = _cli_credit_note(world, credited["march"], body)
    _error_everywhere(world, http, mcp, cli, "validation_error", 422)
    assert http.message == words


@pytest.mark.parametrize("amount", ["١٢", "١٢.٠٠", "５"])
def test_an_amount_in_digits_other_than_ascii_is_refused_everywhere_and_nothing_is_written(world, credited, amount):
    """'١٢' (Arabic-Indic) or '５' (fullwidth) is never read as 12 or 5: refused as the amount rule's validation_error,
    over HTTP and MCP (a credit note's line and refund); the CLI's `pay`: tests/test_cli_errors.py."""
    before = world.count("SELECT count(*) FROM credit_notes"), world.count("SELECT count(*) FROM invoice_events")
    for body in ({"items": [{"line_no": 1, "amount": amount}]}, {"all": True, "refund": amount}):
        body = {"reason": "duplicate", **body}
        http = world.post("biz-north", f"/api/v1/invoices/{credited['march']}/credit-notes", body)
        mcp = world.mcp("biz-north", "createCreditNote", {"invoice_id": credited["march"], **body})
        assert (http.status, http.code, mcp.code) == (422, "validation_error", "validation_error"), (http, mcp)
        assert "not a plain decimal amount" in http.message and mcp.message == http.message
    assert (
        world.count("SELECT count(*) FROM credit_notes"),
        world.count("SELECT count(*) FROM invoice_events"),
    ) == before


def test_a_refused_payment_names_the_invoice_number_not_the_internal_id(world, credited):
    number = world.get("biz-north", f"/api/v1/invoices/{credited['march']}").data["number"]
    assert number
    code, out, err = world.cli("pay", credited["march"], "999999")
    assert code == 2 and out == "", err
    http = world.post("biz-north", f"/api/v1/invoices/{credited['march']}/payments", {"amount": 99999900})
    assert (http.status, http.code) == (400, "payment_exceeds_balance"), http  # as a credit note's offset_…
    for message in (err, http.message):
        assert f"of invoice {number}" in message and credited["march"] not in message, message


def test_a_credit_note_of_another_businesss_invoice_is_not_found_exactly_like_nothing(world, credited):
    """biz-south asks for biz-north's invoice: over HTTP and MCP the answer of an invoice that does not exist."""
    march = credited["march"]
    create, estimate = {"all": True, "reason": "duplicate"}, {"all": True}
    for path, body in (
        (f"/api/v1/invoices/{march}/credit-notes", create),
        (f"/api/v1/invoices/{march}/credit-notes/estimate", estimate),
    ):
        http = world.post("biz-south", path, body)
        missing = world.post("biz-south", path.replace(march, "inv-nope"), body)
        assert (http.status, http.code) == (missing.status, missing.code) == (404, "invoice_not_found")
        assert http.message.replace(march, "X") == missing.message.replace("inv-nope", "X")
    for tool in ("createCreditNote", "estimateCreditNote"):
        args = {"invoice_id": march, "all": True} | ({"reason": "duplicate"} if tool == "createCreditNote" else {})
        mcp = world.mcp("biz-south", tool, args)
        assert (mcp.code, mcp.message) == ("invoice_not_found", f"no invoice {march!r}")
    listed = world.get("biz-south", "/api/v1/credit-notes", params={"invoice_id": march})
    assert (listed.status, listed.code) == (404, "invoice_not_found")
    assert world.count("SELECT count(*) FROM credit_notes WHERE invoice_id = ?", [march]) == 0


# --- one Idempotency-Key rule for every front end that takes a key -----------------------------------------


def _create_with_key(world: World, tmp_path: Path, front: str, key: str, body: dict) -> Outcome:
    """Create invoice with an Idempotency-Key through one front end: the HTTP header, the CLI's
    --idempotency-key, the MCP tool's idempotency_key (each as business biz-north)."""
    if front == "http":
        h = {**headers(world.tokens["north"], "biz-north"), "Idempotency-Key": key}
        r = world.http.post("/api/v1/invoices", json=body, headers=h)
        out = _http(r)
        if out.ok:
            out.data = {"invoice_id": out.data["id"], "replayed": r.headers.get("idempotent-replayed") == "true"}
        return out
    if front == "cli":
        request = tmp_path / f"request-{len(list(tmp_path.iterdir()))}.json"
        request.write_text(json.dumps(body))
        code, out, err = world.cli("create", str(request), "--idempotency-key", key)
        if code != 0:
            return Outcome(False, message=err.strip().removeprefix("billsim: "))
        return Outcome(True, data={"invoice_id": json.loads(out)["invoice_id"]})
    out = world.mcp("biz-north", "createInvoice", {**body, "idempotency_key": key})
    if out.ok:
        out.data = {"invoice_id": out.data["invoice_id"]}
    return out


@pytest.mark.parametrize(
    "first, retry, other",
    [("cli", "http", "mcp"), ("http", "cli", "mcp"), ("mcp", "http", "cli"), ("http", "mcp", "cli")],
)
def test_one_idempotency_key_is_one_invoice_whichever_front_end_retries(world, tmp_path, first, retry, other):
    key = f"retry-{first}-{retry}"
    body = _create_body(description=f"keyed {key}")
    before = _invoices(world)
    made = _create_with_key(world, tmp_path, first, key, body)
    assert made.ok, made
    again = _create_with_key(world, tmp_path, retry, key, body)
    assert again.ok and again.data["invoice_id"] == made.data["invoice_id"], again
    if retry == "http":
        assert again.data["replayed"] is True  # the first call's answer, marked as a replay
    assert _invoices(world) == before + 1
    # the same key with another body, through the third front end: refused with HTTP's code, nothing made
    changed = _create_with_key(world, tmp_path, other, key, _create_body(description="another request"))
    assert not changed.ok and "already used for a different request" in changed.message, changed
    if other == "mcp":
        assert changed.code == "idempotency_key_reused"
    assert _invoices(world) == before + 1
    # keys are per business: south's same key is south's own invoice
    south = world.http.post(
        "/api/v1/invoices",
        json=_create_body(customer_id="CUS-SOUTH"),
        headers={**headers(world.tokens["south"], "biz-south"), "Idempotency-Key": key},
    )
    assert south.status_code == 201 and "idempotent-replayed" not in south.headers
    assert south.json()["id"] != made.data["invoice_id"]


def test_a_refusal_kept_under_a_key_is_answered_again_by_every_front_end(world, tmp_path):
    body = _create_body(currency="XXX")  # a currency the engine refuses after the key is claimed
    first = _create_with_key(world, tmp_path, "http", "refused-once", body)
    assert (first.ok, first.status) == (False, 400), first
    for front in ("mcp", "cli"):
        again = _create_with_key(world, tmp_path, front, "refused-once", body)
        assert not again.ok and again.message == first.message, again


def test_an_invalid_key_is_refused_by_every_front_end(world, tmp_path):
    before = _invoices(world)
    for front in ("http", "cli", "mcp"):
        out = _create_with_key(world, tmp_path, front, "x" * 300, _create_body())
        assert not out.ok and "Idempotency-Key must be 1–255 printable characters" in out.message, (front, out)
    assert _invoices(world) == before


# --- MCP arguments: as strict as the HTTP API's JSON ----------------------------------------------------------


def test_every_mcp_tool_refuses_an_argument_it_does_not_have(world):
    server = build_server(FixedBackend(world.app, Caller.of_business("biz-north", "mcp:biz-north")))

    async def tools():
        async with Client(server) as client:
            return (await client.list_tools()).tools

    listed = anyio.run(tools)
    assert len(listed) >= 15
    for tool in listed:
        assert tool.input_schema.get("additionalProperties") is False, tool.name  # the schema says so
        out = world.mcp("biz-north", tool.name, {"bogus_arg": True})
        assert (out.ok, out.code) == (False, "validation_error"), (tool.name, out)
        assert "bogus_arg: Extra inputs are not permitted" in out.message, (tool.name, out)


@pytest.mark.parametrize(
    "tool, args",
    [
        ("createInvoice", {**_create_body(), "bogus_arg": True, "idempotency_key": "same-key"}),
        ("getContractBillingCycles", {"contract_id": "K-FLAT", "nonsense": "x"}),
        ("finalizeInvoice", {"invoice_id": "inv_none", "force": True}),
    ],
)
def test_an_unknown_mcp_argument_is_refused_and_nothing_changes(world, tool, args):
    before = _invoices(world)
    for _ in range(2):
        out = world.mcp("biz-north", tool, args)
        extra = next(k for k in args if k in ("bogus_arg", "nonsense", "force"))
        assert (out.ok, out.code) == (False, "validation_error") and f"{extra}: Extra inputs" in out.message, out
    assert _invoices(world) == before


GENERATE = {"contract_id": "K-FLAT", "customer_id": "CUS-ACME", "from_date": "2026-03-01", "to_date": "2026-03-31"}


def _cli_generate(world: World, from_date: str):
    """`billsim generate` of GENERATE's cycle, billed for 2026-04-01, with `from_date` as typed."""
    return world.cli(
        "generate",
        "K-FLAT",
        "--customer",
        "CUS-ACME",
        "--from",
        from_date,
        "--to",
        "2026-03-31",
        "--bill-for",
        "2026-04-01",
    )


@pytest.mark.parametrize(
    "tool, args, named",
    [
        ("generateInvoice", {**GENERATE, "from_date": True}, "from_date"),
        ("generateInvoice", {**GENERATE, "from_date": 1.5e9}, "from_date"),
        ("generateInvoice", {**GENERATE, "billing_cycle_start_day": "5"}, "billing_cycle_start_day"),
        ("generateInvoice", {**GENERATE, "check_duplicate_invoice": "false"}, "check_duplicate_invoice"),
        ("getContractBillingCycles", {"contract_id": "K-FLAT", "limit": "5"}, "limit"),
        ("approveInvoices", {"invoice_ids": '["inv_1"]'}, "invoice_ids"),
        ("createInvoice", {**_create_body(), "line_items": '[{"description": "x", "unit_price": 1}]'}, "line_items"),
    ],
)
def test_mcp_arguments_are_not_coerced_as_http_json_is_not(world, tool, args, named):
    before = _invoices(world)
    out = world.mcp("biz-north", tool, args)
    assert (out.ok, out.code) == (False, "validation_error"), out
    assert out.message.startswith("invalid request: ") and named in out.message, out
    assert "pydantic" not in out.message and "[type=" not in out.message, out
    assert _invoices(world) == before
    if tool == "generateInvoice":  # the same body over HTTP: 422
        assert world.post("biz-north", "/invoices/generate_invoice", args).status == 422


@pytest.mark.parametrize("seconds", ["١٧٧٢٣٢٣٢٠٠", "１７７２３２３２００", "1_772_323_200", "١٧٧٢٣٢٣٢٠٠ "])
def test_zenskar_unix_seconds_as_text_are_ascii_digits_everywhere_and_nothing_is_drafted(world, seconds):
    """int() read '١٧٧٢٣٢٣٢٠٠' (Arabic-Indic) as 1772323200, 2026-03-01: a date no one reads back as typed."""
    before = _invoices(world)
    args = {**GENERATE, "from_date": seconds, "bill_for_date": "2026-04-01"}
    http = world.post("biz-north", "/invoices/generate_invoice", args)
    mcp = world.mcp("biz-north", "generateInvoice", args)
    cli = _cli_generate(world, seconds)
    _error_everywhere(world, http, mcp, cli, "validation_error", 400)
    assert http.message.startswith(f"invalid request: from_date: not a date: {seconds!r}"), http
    cycles = world.mcp("biz-north", "getContractBillingCycles", {"contract_id": "K-FLAT", "from_date": seconds})
    assert (cycles.ok, cycles.code, cycles.message) == (False, "validation_error", http.message)
    assert _invoices(world) == before


def _from_date_refused_everywhere(world, date: str) -> None:
    """generate_invoice with `date` as its from_date over HTTP, MCP and the CLI: the same 'not a date' everywhere."""
    args = {**GENERATE, "from_date": date, "bill_for_date": "2026-04-01"}
    http = world.post("biz-north", "/invoices/generate_invoice", args)
    mcp = world.mcp("biz-north", "generateInvoice", args)
    cli = world.cli(
        "generate", "K-FLAT", "--customer", "CUS-ACME", "--from", date, "--to", "2026-03-31", "--bill-for", "2026-04-01"
    )
    _error_everywhere(world, http, mcp, cli, "validation_error", 400)
    assert http.message.startswith(f"invalid request: from_date: not a date: {date!r}"), http


@pytest.mark.parametrize("date", ["2026-02-30", "2026-13-01", "yesterday", "2026-03-01T25:00:00Z"])
def test_an_impossible_date_is_an_invalid_request_in_the_same_words_everywhere(world, date):
    """MCP's dates (and Zenskar's) are read in seed 002's forms by their own function; its refusal once lacked the
    'invalid request:' of every other field refused (limits.invalid_request is the one wording)."""
    before = _invoices(world)
    _from_date_refused_everywhere(world, date)
    for tool, args in (
        ("previewInvoice", {"contract_id": "K-FLAT", "period_date": date}),
        ("draftPeriodInvoice", {"contract_id": "K-FLAT", "period_date": date}),
        ("getContractBillingCycles", {"contract_id": "K-FLAT", "from_date": date}),
        ("listInvoices", {"period_date": date}),
    ):
        out = world.mcp("biz-north", tool, args)
        assert (out.ok, out.code) == (False, "validation_error"), (tool, out)
        assert out.message.startswith("invalid request: ") and "not a date" in out.message, (tool, out)
    http_preview = world.post("biz-north", "/api/v1/contracts/K-FLAT/preview-invoice", {"period_date": date})
    assert http_preview.message.startswith("invalid request: period_date: "), http_preview
    assert _invoices(world) == before


def test_mcp_dates_still_take_what_seed_002_documents(world):
    for value in ("2026-03-01", "2026-03-01T00:00:00Z", 1772323200):  # YYYY-MM-DD, ISO date-time, UNIX seconds
        out = world.mcp("biz-north", "getContractBillingCycles", {"contract_id": "K-FLAT", "from_date": value})
        assert out.ok, (value, out)
        assert out.data["billing_cycles"][0]["end_date"] >= "2026-03-01"


# ISO-8601's other forms of a day, which date.fromisoformat (Python 3.11) read: a week date (2026-W01-1 is
# 2025-12-29, not 1 January), the basic forms (20260101, 2026W011), and a date-time in those forms
OTHER_ISO_FORMS = ["2026-W01-1", "2026W011", "20260101", "2026-W10-1T00:00:00Z", "20260301T000000Z", "2026-03-01T00"]


@pytest.mark.parametrize("date", OTHER_ISO_FORMS)
def test_a_date_in_another_iso_form_is_refused_by_every_front_end_not_read_as_a_day(world, capsys, date):
    """HTTP, MCP and the CLI take a date as YYYY-MM-DD (Zenskar's dates also as seed 002's date-time and UNIX
    seconds); fromisoformat alone read '2026-W01-1' as 2025-12-29 and the CLI's '20260101' as 1 January."""
    before = _invoices(world)
    http = world.post("biz-north", "/api/v1/contracts/K-FLAT/preview-invoice", {"period_date": date})
    assert (http.status, http.code) == (422, "validation_error"), http
    assert http.message.startswith("invalid request: period_date: ") and "YYYY-MM-DD" in http.message, http
    listed = world.get("biz-north", "/api/v1/invoices", params={"period_date": date})
    assert (listed.status, listed.code) == (422, "validation_error"), listed
    for tool, args in (
        ("previewInvoice", {"contract_id": "K-FLAT", "period_date": date}),
        ("draftPeriodInvoice", {"contract_id": "K-FLAT", "period_date": date}),
        ("listInvoices", {"period_date": date}),
        ("getContractBillingCycles", {"contract_id": "K-FLAT", "from_date": date}),
    ):
        out = world.mcp("biz-north", tool, args)
        assert (out.ok, out.code) == (False, "validation_error"), (tool, out)
        assert out.message.startswith(f"invalid request: {next(k for k in args if k.endswith('date'))}: not a date: ")
    for option, argv in (
        ("--period-date", ["preview", "K-FLAT", "--period-date", date]),
        ("--period-date", ["draft", "K-FLAT", "--period-date", date]),
        ("--period-date", ["run", "--period-date", date]),
        ("--from", ["cycles", "K-FLAT", "--from", date, "--to", "2026-12-31"]),
    ):
        with pytest.raises(SystemExit) as exited:  # argparse's usage error (the real command: exit 2, one line)
            world.cli(*argv)
        err = capsys.readouterr().err
        assert exited.value.code == 2, (argv, err)
        assert f"error: argument {option}: not a date (YYYY-MM-DD): {date!r}" in err, (argv, err)
    _from_date_refused_everywhere(world, date)
    assert _invoices(world) == before


@pytest.mark.parametrize("value", [20260101, "20260101", "19991231"])
def test_eight_digits_spelling_a_date_are_not_read_as_unix_seconds_of_1970(world, value):
    """Zenskar's dates take UNIX seconds; 20260101 read as seconds was 1970-08-23, not the date its writer meant."""
    args = {**GENERATE, "from_date": value, "bill_for_date": "2026-04-01"}
    http = world.post("biz-north", "/invoices/generate_invoice", args)
    mcp = world.mcp("biz-north", "generateInvoice", args)
    assert (http.status, http.code, mcp.code) == (400, "validation_error", "validation_error"), (http, mcp)
    written = f"{str(value)[:4]}-{str(value)[4:6]}-{str(value)[6:]}"
    assert http.message == mcp.message, (http, mcp)
    assert f"not a date: {value!r} (write {written} as YYYY-MM-DD; as UNIX seconds it would be 1970-" in http.message
    if isinstance(value, str):  # the CLI's arguments are text
        cli = _cli_generate(world, value)
        _error_everywhere(world, http, mcp, cli, "validation_error", 400)
    cycles = world.mcp("biz-north", "getContractBillingCycles", {"contract_id": "K-FLAT", "from_date": value})
    assert (cycles.ok, cycles.code) == (False, "validation_error"), cycles


def test_an_unix_timestamp_is_not_a_date_of_the_invoice_list_over_http(world):
    """GET /api/v1/invoices?period_date= was a plain date query, which pydantic also read as UNIX seconds."""
    listed = world.get("biz-north", "/api/v1/invoices", params={"period_date": "1772323200"})
    assert (listed.status, listed.code) == (422, "validation_error"), listed
    assert world.get("biz-north", "/api/v1/invoices", params={"period_date": "2026-03-01"}).ok


@pytest.mark.parametrize(
    "value",
    ["2026-03-01T00:00:00Z", "2026-03-01t00:00z", "2026-03-01T09:30:00.250+02:00", "2026-02-28T23:00:00-01:00"],
)
def test_zenskar_date_times_in_seed_002s_form_still_name_their_utc_day(world, value):
    """Read as a day on every front end: generate_invoice without bill_for_date then names the valid cycles (not
    'not a date'); the MCP cycles from that date-time are the cycles from its UTC day."""
    before = _invoices(world)
    args = {**GENERATE, "from_date": value}
    http = world.post("biz-north", "/invoices/generate_invoice", args)
    mcp = world.mcp("biz-north", "generateInvoice", args)
    cli = world.cli("generate", "K-FLAT", "--customer", "CUS-ACME", "--from", value, "--to", "2026-03-31")
    _error_everywhere(world, http, mcp, cli, "no_matching_cycle", 400)
    assert http.message.startswith("bill_for_date missing"), http
    cycles = world.mcp("biz-north", "getContractBillingCycles", {"contract_id": "K-FLAT", "from_date": value})
    day = world.mcp("biz-north", "getContractBillingCycles", {"contract_id": "K-FLAT", "from_date": "2026-03-01"})
    assert cycles.ok and cycles.data == day.data, cycles
    assert _invoices(world) == before


def test_deleting_a_keyed_draft_frees_its_key_for_every_front_end(world, tmp_path):
    body = _create_body(description="deleted later")
    made = _create_with_key(world, tmp_path, "mcp", "freed-key", body)
    assert made.ok, made
    invoices.delete(world.app.session(Caller.local("test")), made.data["invoice_id"])
    again = _create_with_key(world, tmp_path, "http", "freed-key", body)
    assert again.ok and again.data["invoice_id"] != made.data["invoice_id"] and again.data["replayed"] is False


def test_a_what_if_run_again_keeps_its_baseline_in_every_front_end_and_only_for_the_same_contracts(world, tmp_path):
    """Issue 22: a simulation of the same data, range and contracts as the last one takes its baseline (rated once)
    instead of rating it again, whichever front end asks (one application, one kept baseline): the same answer, with
    `baseline_kept`. Another business's contracts (another key: the contracts are in it) rate their own."""
    with world.app.database.cursor() as cur:
        world.app.kept_baseline.forget(cur)
    scenario = {"name": "kept", "changes": [{"type": "usage", "percent": "25"}]}
    body = {"scenario": scenario, "from_date": "2026-01-01", "to_date": "2026-03-31"}
    first = world.post("biz-north", "/api/v1/scenarios/simulate", body)
    again = world.mcp("biz-north", "simulateScenario", body)
    assert (first.data["baseline_kept"], again.data["baseline_kept"]) == (False, True)
    for key in ("cycles", "cycles_rerated", "rows", "totals", "tax_totals"):
        assert again.data[key] == first.data[key], key
    south = world.post("biz-south", "/api/v1/scenarios/simulate", body)
    assert south.data["baseline_kept"] is False
    assert {t["currency"] for t in south.data["totals"]} == {"USD"} and south.data["cycles"] == 3  # K-SOUTH's only
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    runs = [world.cli("simulate", str(path), "--from", "2026-01-01", "--to", "2026-03-31") for _ in range(2)]
    assert [(code, json.loads(out)["baseline_kept"]) for code, out, _ in runs] == [(0, False), (0, True)]
    assert json.loads(runs[1][1])["totals"] == json.loads(runs[0][1])["totals"]
