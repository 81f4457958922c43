"""The HTTP API over real HTTP (a `billsim serve` subprocess, see conftest.py): every endpoint's success and
error codes, two-tenant isolation, idempotency (replay, conflict, across a restart), concurrent generate calls."""

from __future__ import annotations

import concurrent.futures

import httpx
import pytest

from .conftest import headers, wait_run

INVOICE_FIELDS = {
    "id", "business_id", "created_at", "updated_at", "status", "currency", "stripe_invoice_id", "total",
    "total_paid", "balance_due", "description", "customer_id", "customer_name", "customer_email", "due_date",
    "line_items", "pdf_url", "number", "delivered", "delivered_on", "hosted_invoice_url", "paid_on",
    "journal_entries", "payments", "recurring_template_id",
}  # fmt: skip


def error(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["success"] is False and body["code"] == code and body["message"], body
    return body


def custom_invoice(customer: str = "CUS-ACME", **extra) -> dict:
    return {
        "customer_id": customer,
        "line_items": [{"description": "Consulting", "unit_price": 12550, "quantity": 2}],
        "due_date": "2026-07-31",
        **extra,
    }


# --- auth ----------------------------------------------------------------------------------------------


def test_no_bad_or_revoked_token_is_401(api):
    path = f"{api.url}/api/v1/invoices"
    error(httpx.get(path), 401, "unauthorized")
    error(httpx.get(path, headers=headers("bsk_not-a-token", "biz-north")), 401, "unauthorized")
    error(httpx.get(path, headers=headers(api.tokens["south_revoked"], "biz-south")), 401, "unauthorized")
    error(httpx.get(path, headers={"Authorization": "Basic abc", "x-business-id": "biz-north"}), 401, "unauthorized")


def test_a_token_with_another_or_no_business_is_403(api):
    path = f"{api.url}/api/v1/invoices"
    error(httpx.get(path, headers=headers(api.tokens["south"], "biz-north")), 403, "forbidden")
    error(httpx.get(path, headers={"Authorization": f"Bearer {api.tokens['south']}"}), 403, "forbidden")


def test_zenskar_paths_take_x_api_key_and_organisation_dayzero_paths_do_not(api):
    zk = {"x-api-key": api.tokens["north"], "organisation": "biz-north"}
    assert httpx.get(f"{api.url}/contracts/K-FLAT/billing_cycles", headers=zk).status_code == 200
    error(
        httpx.get(f"{api.url}/contracts/K-FLAT/billing_cycles", headers={**zk, "organisation": "biz-south"}),
        403,
        "forbidden",
    )
    error(httpx.get(f"{api.url}/api/v1/invoices", headers=zk), 401, "unauthorized")
    # no business named: the caller is told the header that goes with the credentials it sent
    no_org = error(
        httpx.get(f"{api.url}/contracts/K-FLAT/billing_cycles", headers={"x-api-key": zk["x-api-key"]}),
        403,
        "forbidden",
    )
    assert "send the organisation header" in no_org["message"], no_org
    no_biz = error(
        httpx.get(f"{api.url}/api/v1/invoices", headers={"Authorization": f"Bearer {zk['x-api-key']}"}),
        403,
        "forbidden",
    )
    assert "send the x-business-id header" in no_biz["message"], no_biz


# --- DayZero: generate-period-invoices, preview ----------------------------------------------------------


def test_generate_period_invoices_drafts_once_and_returns_the_existing_invoice(north):
    r = north.post("/api/v1/contracts/K-FLAT/generate-period-invoices", json={"period_date": "2026-02-15"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["success"] is True and body["code"] == "invoice_drafted" and body["data"]["created"] is True
    inv = body["data"]["invoice"]
    assert INVOICE_FIELDS <= set(inv)
    # Platform 99.00 + 7 seats × 12.50 × 80 % = 169.00; tax 10 % -> 185.90, integer minor units
    assert (inv["total"], inv["currency"], inv["status"], inv["number"]) == (18590, "USD", "draft", None)
    assert (inv["period_start"], inv["period_end"]) == ("2026-02-01", "2026-02-28")
    assert [li["amount"] for li in inv["line_items"]] == [9900, 7000]
    assert inv["customer_name"] == "Acme Analytics" and inv["customer_email"] == "billing@acme.example"
    again = north.post("/api/v1/contracts/K-FLAT/generate-period-invoices", json={"period_date": "2026-02-01"})
    assert again.status_code == 201
    assert again.json()["data"]["created"] is False and again.json()["code"] == "invoice_exists"
    assert again.json()["data"]["invoice"]["id"] == inv["id"]


def test_generate_period_invoices_errors(north):
    r = north.post("/api/v1/contracts/K-FLAT/generate-period-invoices", json={"period_date": "2026-13-01"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "period_date"]
    assert north.post("/api/v1/contracts/K-FLAT/generate-period-invoices", json={}).status_code == 422
    assert north.post("/api/v1/contracts/K-FLAT/generate-period-invoices", content=b"{not json").status_code == 422
    error(
        north.post("/api/v1/contracts/K-NONE/generate-period-invoices", json={"period_date": "2026-02-15"}),
        404,
        "contract_not_found",
    )
    error(
        north.post("/api/v1/contracts/K-FLAT/generate-period-invoices", json={"period_date": "2025-06-01"}),
        400,
        "validation_error",
    )


def test_preview_is_the_draft_and_stores_nothing(north):
    before = north.get("/api/v1/invoices", params={"contract_id": "K-FLAT"}).json()["total"]
    r = north.post("/api/v1/contracts/K-FLAT/preview-invoice", json={"period_date": "2026-07-15"})
    assert r.status_code == 200, r.text
    preview = r.json()
    assert preview["status"] == "preview" and preview["total"] == 18590 and preview["tax_rate"] == "10"
    assert north.get("/api/v1/invoices", params={"contract_id": "K-FLAT"}).json()["total"] == before
    drafted = north.post("/api/v1/contracts/K-FLAT/generate-period-invoices", json={"period_date": "2026-07-15"})
    inv = drafted.json()["data"]["invoice"]
    assert (inv["total"], inv["subtotal"], inv["tax"]) == (preview["total"], preview["subtotal"], preview["tax"])
    assert [li["amount"] for li in inv["line_items"]] == [li["amount"] for li in preview["line_items"]]
    error(
        north.post("/api/v1/contracts/K-SOUTH/preview-invoice", json={"period_date": "2026-07-15"}),
        404,
        "contract_not_found",
    )


def test_fifty_concurrent_generate_calls_make_one_invoice(api, north):
    def call(_):
        with httpx.Client(base_url=api.url, headers=north.headers, timeout=120) as c:
            return c.post("/api/v1/contracts/K-FLAT/generate-period-invoices", json={"period_date": "2026-06-10"})

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(call, range(50)))
    assert [r.status_code for r in responses] == [201] * 50, [r.text for r in responses if r.status_code != 201]
    created = [r.json()["data"]["created"] for r in responses]
    assert created.count(True) == 1 and created.count(False) == 49
    assert len({r.json()["data"]["invoice"]["id"] for r in responses}) == 1
    listed = north.get("/api/v1/invoices", params={"contract_id": "K-FLAT", "period_date": "2026-06-10"}).json()
    assert listed["total"] == 1


# --- DayZero: create, batch, read, documents ---------------------------------------------------------------


def test_create_invoice_201_with_every_field_and_documents_on_this_server(api, north):
    r = north.post("/api/v1/invoices", json=custom_invoice(description="June work"))
    assert r.status_code == 201, r.text
    inv = r.json()
    assert INVOICE_FIELDS <= set(inv)
    assert (inv["total"], inv["status"], inv["due_date"], inv["description"]) == (
        27610,
        "draft",
        "2026-07-31",
        "June work",
    )
    assert inv["pdf_url"] == f"{api.url}/api/v1/invoices/{inv['id']}.pdf"
    assert inv["hosted_invoice_url"] == f"{api.url}/api/v1/invoices/{inv['id']}.html"
    pdf = north.get(inv["pdf_url"])
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf" and pdf.content[:4] == b"%PDF"
    html = north.get(inv["hosted_invoice_url"])
    assert html.status_code == 200 and "DRAFT" in html.text and "Consulting" in html.text
    assert north.get(f"/api/v1/invoices/{inv['id']}").json() == inv


def test_create_invoice_errors(north):
    error(north.post("/api/v1/invoices", json=custom_invoice("CUS-SOUTH")), 404, "customer_not_found")
    error(north.post("/api/v1/invoices", json=custom_invoice("CUS-NONE")), 404, "customer_not_found")
    bad_items = [
        [],
        [{"description": "x", "unit_price": 2**63}],
        [{"description": "x", "unit_price": 1, "quantity": 0}],
        [{"description": "x", "unit_price": "ten"}],
    ]
    for items in bad_items:
        assert north.post("/api/v1/invoices", json={**custom_invoice(), "line_items": items}).status_code == 422
    error(
        north.post("/api/v1/invoices", json={**custom_invoice(), "line_items": [{"unit_price": 100}]}),
        400,
        "validation_error",
    )
    error(north.post("/api/v1/invoices", json={**custom_invoice(), "currency": "XXZ"}), 400, "validation_error")
    assert north.post("/api/v1/invoices", json={**custom_invoice(), "colour": "red"}).status_code == 422
    # `amount` is the deprecated unit_price
    legacy = north.post(
        "/api/v1/invoices", json={**custom_invoice(), "line_items": [{"description": "x", "amount": 500}]}
    )
    assert legacy.status_code == 201 and legacy.json()["line_items"][0]["amount"] == 500


def test_batch_each_item_succeeds_or_fails_on_its_own(north):
    r = north.post(
        "/api/v1/invoices/batch",
        json={
            "items": [
                custom_invoice("CUS-BOREAL"),
                custom_invoice("CUS-SOUTH"),
                {**custom_invoice("CUS-KITE"), "line_items": [{"description": "x", "variant_id": "v-123"}]},
                custom_invoice("CUS-KITE"),
            ],
            "finalize": True,
        },
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["created"], body["failed"]) == (2, 2)
    ok = [x for x in body["results"] if x["ok"]]
    assert [x["index"] for x in ok] == [0, 3] and all(x["invoice"]["status"] == "open" for x in ok)
    assert all(x["invoice"]["number"] is not None for x in ok)
    failed = {x["index"]: x for x in body["results"] if not x["ok"]}
    assert failed[1]["code"] == "customer_not_found" and failed[2]["error"]
    empty = north.post("/api/v1/invoices/batch", json={"items": []})
    assert empty.status_code == 201 and empty.json() == {"results": [], "created": 0, "failed": 0}


def test_a_batch_item_beyond_the_storable_amounts_is_refused_as_a_single_invoice_is_without_database_text(north):
    """Two prices of 2^62 overflow the invoice's 64-bit total; the single create says amount_out_of_range, and so
    does the batch's item (it carried DuckDB's error and SQL text)."""
    huge = {
        **custom_invoice("CUS-BOREAL"),
        "line_items": [{"description": "x", "unit_price": 2**62}, {"description": "y", "unit_price": 2**62}],
    }
    single = error(north.post("/api/v1/invoices", json=huge), 400, "amount_out_of_range")
    before = north.get("/api/v1/invoices", params={"limit": 1}).json()["total"]
    r = north.post("/api/v1/invoices/batch", json={"items": [huge, custom_invoice("CUS-BOREAL")]})
    assert r.status_code == 201, r.text
    bad, ok = r.json()["results"]
    assert (bad["ok"], bad["code"], bad["error"]) == (False, "amount_out_of_range", single["message"])
    assert not any(word in bad["error"] for word in ("Error:", "LINE", "INT", "SELECT", "cast")), bad["error"]
    assert ok["ok"] and north.get("/api/v1/invoices", params={"limit": 1}).json()["total"] == before + 1


def test_list_is_filtered_and_paged(north):
    # its own invoices (the test passes alone or after any other): three drafts, one of them finalized
    made = [north.post("/api/v1/invoices", json=custom_invoice(description=f"list {n}")).json()["id"] for n in range(3)]
    assert north.post(f"/api/v1/invoices/{made[0]}/approve").status_code == 200
    assert north.post(f"/api/v1/invoices/{made[0]}/finalize").json()["status"] == "open"
    page = north.get("/api/v1/invoices", params={"limit": 2}).json()
    assert page["limit"] == 2 and len(page["data"]) == 2 and page["total"] >= 3
    nxt = north.get("/api/v1/invoices", params={"limit": 2, "offset": 2}).json()
    assert nxt["data"] and not {i["id"] for i in page["data"]} & {i["id"] for i in nxt["data"]}
    listed = set()
    for offset in range(0, page["total"], 50):
        listed |= {
            i["id"] for i in north.get("/api/v1/invoices", params={"limit": 50, "offset": offset}).json()["data"]
        }
    assert set(made) <= listed and len(listed) == page["total"]
    opened = north.get("/api/v1/invoices", params={"status": "open", "limit": 500}).json()["data"]
    assert made[0] in {i["id"] for i in opened} and all(i["status"] == "open" for i in opened)
    drafts = {i["id"] for i in north.get("/api/v1/invoices", params={"status": "draft", "limit": 500}).json()["data"]}
    assert set(made[1:]) <= drafts and made[0] not in drafts
    error(north.get("/api/v1/invoices", params={"status": "lost"}), 400, "validation_error")
    assert north.get("/api/v1/invoices", params={"limit": 0}).status_code == 422
    assert north.get("/api/v1/invoices", params={"period_date": "yesterday"}).status_code == 422
    error(north.get("/api/v1/invoices/inv_nope"), 404, "invoice_not_found")


# --- review and lifecycle -----------------------------------------------------------------------------------


def test_review_and_lifecycle(north):
    inv = north.post("/api/v1/contracts/K-MIN/generate-period-invoices", json={"period_date": "2026-03-15"})
    iid = inv.json()["data"]["invoice"]["id"]
    total = inv.json()["data"]["invoice"]["total"]
    base = f"/api/v1/invoices/{iid}"
    error(north.post(f"{base}/finalize"), 409, "invoice_not_approved")
    assert north.post(f"{base}/hold", json={}).status_code == 422
    held = north.post(f"{base}/hold", json={"reason": "check the true-up"})
    assert (
        held.status_code == 200
        and held.json()["status"] == "held"
        and held.json()["hold_reason"] == "check the true-up"
    )
    error(north.post(f"{base}/approve"), 409, "invalid_state")
    error(north.post(f"{base}/finalize"), 409, "invoice_not_approved")
    assert north.post(f"{base}/release").json()["status"] == "draft"
    approved = north.post(f"{base}/approve", json={"note": "ok"})
    assert approved.json()["status"] == "approved" and approved.json()["approved_by"] == "north-ci"
    error(north.post(f"{base}/payments", json={"amount": 100}), 409, "invalid_state")
    final = north.post(f"{base}/finalize").json()
    assert final["status"] == "open" and final["number"] is not None
    error(north.post(f"{base}/finalize"), 409, "invalid_state")
    assert north.post(f"{base}/payments", json={"amount": 0}).status_code == 422
    error(north.post(f"{base}/payments", json={"amount": total + 1}), 400, "payment_exceeds_balance")
    paid = north.post(f"{base}/payments", json={"amount": 1000})
    assert paid.status_code == 201 and paid.json()["status"] == "partially_paid"
    assert paid.json()["total_paid"] == 1000 and paid.json()["balance_due"] == total - 1000
    assert paid.json()["payments"][0]["amount"] == 1000
    # paid in part: a void would leave the payment on nothing (spec section 4: open -> void)
    assert "was paid on it" in error(north.post(f"{base}/void", json={"reason": "x"}), 409, "invalid_state")["message"]
    other = north.post("/api/v1/invoices", json=custom_invoice("CUS-BOREAL")).json()["id"]
    assert north.post(f"/api/v1/invoices/{other}/approve").status_code == 200
    number = north.post(f"/api/v1/invoices/{other}/finalize").json()["number"]
    void = north.post(f"/api/v1/invoices/{other}/void", json={"reason": "wrong customer"}).json()
    assert (void["status"], void["void_reason"], void["number"]) == ("void", "wrong customer", number)
    error(north.post(f"/api/v1/invoices/{other}/void"), 409, "invalid_state")
    for action in ("approve", "release", "finalize", "void"):
        error(north.post(f"/api/v1/invoices/inv_nope/{action}"), 404, "invoice_not_found")


# --- Zenskar ----------------------------------------------------------------------------------------------


def test_zenskar_cycles_then_generate_with_the_values_copied(api, north):
    zk = {"x-api-key": api.tokens["north"], "organisation": "biz-north"}
    cycles = httpx.get(f"{api.url}/contracts/K-FLAT/billing_cycles", params={"limit": 500}, headers=zk).json()
    april = next(c for c in cycles if c["start_date"] == "2026-04-01")
    assert set(april) >= {"name", "start_date", "end_date", "bill_for_date", "billing_cycle_start_day"}
    body = {
        "customer_id": "CUS-ACME",
        "contract_id": "K-FLAT",
        "from_date": april["start_date"] + "T00:00:00Z",
        "to_date": april["end_date"],
        "bill_for_date": april["bill_for_date"],
        "billing_cycle_start_day": april["billing_cycle_start_day"],
    }
    r = httpx.post(f"{api.url}/invoices/generate_invoice", json=body, headers=zk)
    assert r.status_code == 200, r.text
    assert r.json()["created"] is True and r.json()["invoice_ids"] == [r.json()["invoice"]["id"]]
    again = north.post("/invoices/generate_invoice", json=body).json()
    assert again["created"] is False and again["invoice_ids"] == r.json()["invoice_ids"]
    north.post(f"/api/v1/invoices/{again['invoice_ids'][0]}/approve")
    error(north.post("/invoices/generate_invoice", json=body), 409, "InvoiceAlreadyGeneratedForThisBillingPeriod")
    missing = error(
        north.post("/invoices/generate_invoice", json={**body, "bill_for_date": None}), 400, "no_matching_cycle"
    )
    assert "2026-05-01" in missing["message"]
    off = error(
        north.post("/invoices/generate_invoice", json={**body, "to_date": "2026-04-29"}), 400, "no_matching_cycle"
    )
    assert "bill_for_date=2026-05-01" in off["message"]
    error(north.post("/invoices/generate_invoice", json={**body, "customer_id": "CUS-BOREAL"}), 400, "validation_error")
    error(north.post("/invoices/generate_invoice", json={**body, "contract_id": "K-SOUTH"}), 404, "contract_not_found")
    assert north.post("/invoices/generate_invoice", json={"contract_id": "K-FLAT"}).status_code == 422
    assert north.get("/contracts/K-FLAT/billing_cycles", params={"limit": 0}).status_code == 422
    error(north.get("/contracts/K-SOUTH/billing_cycles"), 404, "contract_not_found")


# --- bill runs and scenarios --------------------------------------------------------------------------------


def test_bill_run_in_the_background_progress_report_and_review(north, south):
    r = north.post("/api/v1/bill-runs", json={"period_date": "2026-09-15"})
    assert r.status_code == 202, r.text
    run_id = r.json()["run_id"]
    assert r.headers["location"] == f"/api/v1/bill-runs/{run_id}" and r.json()["status"] == "running"
    done = wait_run(north, run_id)
    assert done["status"] == "completed" and done["progress"] == 1.0, done
    report = done["report"]
    assert report["run_id"] == run_id and report["drafted"] == 6 and report["requested_by"] == "north-ci"
    assert report["scope"]["business_id"] == "biz-north"
    review = north.get(f"/api/v1/bill-runs/{run_id}/review")
    assert review.status_code == 200, review.text
    assert len(review.json()["drafts"]) == 6
    assert {d["business_id"] for d in review.json()["drafts"]} == {"biz-north"}
    error(south.get(f"/api/v1/bill-runs/{run_id}"), 404, "bill_run_not_found")
    error(south.get(f"/api/v1/bill-runs/{run_id}/review"), 404, "bill_run_not_found")
    error(north.get("/api/v1/bill-runs/run_nope"), 404, "bill_run_not_found")
    error(
        north.post("/api/v1/bill-runs", json={"period_date": "2026-09-15", "contract_ids": ["K-SOUTH"]}),
        404,
        "contract_not_found",
    )
    # dates lie in 1900..2199: a later one is refused with the request
    error(north.post("/api/v1/bill-runs", json={"period_date": "9999-01-01"}), 422, "validation_error")
    # the south run sees only south's contract
    s = wait_run(south, south.post("/api/v1/bill-runs", json={"period_date": "2026-09-15"}).json()["run_id"])
    assert s["report"]["contracts_in_scope"] == 1 and s["report"]["drafted"] == 1


def test_simulate_covers_only_the_callers_contracts(north, south):
    body = {
        "scenario": {"name": "+10%", "changes": [{"type": "price", "percent": "10.5"}]},
        "from_date": "2026-03-01",
        "to_date": "2026-03-31",
    }
    r = south.post("/api/v1/scenarios/simulate", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["totals"] == [
        {"currency": "USD", "baseline": "40.00", "scenario": "44.20", "delta": "4.20", "rows": 1}
    ]
    north_totals = north.post("/api/v1/scenarios/simulate", json=body).json()["totals"]
    assert {t["currency"] for t in north_totals} == {"USD", "CAD", "JPY"}
    error(
        south.post(
            "/api/v1/scenarios/simulate", json={**body, "scenario": {"name": "x", "changes": [{"type": "nope"}]}}
        ),
        400,
        "scenario_error",
    )
    error(
        south.post("/api/v1/scenarios/simulate", json={**body, "contract_ids": ["K-FLAT"]}), 404, "contract_not_found"
    )


# --- tenancy ------------------------------------------------------------------------------------------------


def test_nothing_of_one_business_is_visible_to_another(north, south):
    north_inv = north.post("/api/v1/invoices", json=custom_invoice()).json()["id"]
    mine = south.post("/api/v1/contracts/K-SOUTH/generate-period-invoices", json={"period_date": "2026-02-15"})
    assert mine.status_code == 201
    listed = south.get("/api/v1/invoices", params={"limit": 500}).json()
    assert listed["data"] and {i["business_id"] for i in listed["data"]} == {"biz-south"}
    assert north_inv not in {i["id"] for i in listed["data"]}
    # another business's invoice answers exactly as one that does not exist
    for suffix, method in (("", "GET"), (".html", "GET"), (".pdf", "GET"), ("/approve", "POST"), ("/finalize", "POST")):
        theirs = south.request(method, f"/api/v1/invoices/{north_inv}{suffix}")
        nothing = south.request(method, f"/api/v1/invoices/inv_doesnotexist{suffix}")
        assert theirs.status_code == nothing.status_code == 404
        assert theirs.json()["code"] == nothing.json()["code"] == "invoice_not_found"
    assert north.get(f"/api/v1/invoices/{north_inv}").json()["status"] == "draft"
    assert south.get("/api/v1/invoices", params={"customer_id": "CUS-ACME"}).json()["total"] == 0


# --- idempotency --------------------------------------------------------------------------------------------


def test_idempotency_replay_conflict_and_across_a_restart(api, north, south):
    key = {"Idempotency-Key": "create-0001"}
    first = north.post("/api/v1/invoices", json=custom_invoice("CUS-KITE"), headers=key)
    assert first.status_code == 201
    # the same body, spelled differently, is the same request
    replay = north.post(
        "/api/v1/invoices",
        content=b'{"due_date": "2026-07-31", "line_items": [{"quantity": 2, "unit_price": 12550, "description": "Consulting"}], "customer_id": "CUS-KITE"}',  # noqa: E501
        headers={**key, "content-type": "application/json"},
    )
    assert replay.status_code == 201 and replay.json() == first.json()
    assert replay.headers["idempotent-replayed"] == "true"
    error(north.post("/api/v1/invoices", json=custom_invoice("CUS-ACME"), headers=key), 409, "idempotency_key_reused")
    error(north.post("/api/v1/invoices/batch", json={"items": []}, headers=key), 409, "idempotency_key_reused")
    # keys are per business: the same key is south's own
    assert south.post("/api/v1/invoices", json=custom_invoice("CUS-SOUTH"), headers=key).status_code == 201
    kite = north.get("/api/v1/invoices", params={"customer_id": "CUS-KITE", "status": "draft"}).json()["total"]
    # an error is an answer too: replayed, not run again
    bad = north.post("/api/v1/invoices/inv_nope/approve", headers={"Idempotency-Key": "k-err"})
    assert north.post("/api/v1/invoices/inv_nope/approve", headers={"Idempotency-Key": "k-err"}).json() == bad.json()
    error(
        north.post("/api/v1/invoices", json=custom_invoice(), headers={"Idempotency-Key": "x" * 300}),
        400,
        "invalid_idempotency_key",
    )
    # a body that does not match the schema (422): nothing ran and nothing is kept; the corrected body may use the key
    fix_key = {"Idempotency-Key": "k-fix"}
    mistyped = {**custom_invoice("CUS-KITE"), "line_items": [{"description": "x", "unit_price": "fifty"}]}
    assert north.post("/api/v1/invoices", json=mistyped, headers=fix_key).status_code == 422
    fixed = north.post("/api/v1/invoices", json=custom_invoice("CUS-KITE"), headers=fix_key)
    assert fixed.status_code == 201 and "idempotent-replayed" not in fixed.headers
    assert north.post("/api/v1/invoices", json=custom_invoice("CUS-KITE"), headers=fix_key).json() == fixed.json()
    kite += 1
    api.stop()
    api.start()
    after = north.post("/api/v1/invoices", json=custom_invoice("CUS-KITE"), headers=key)
    assert after.status_code == 201 and after.json() == first.json()
    assert north.get("/api/v1/invoices", params={"customer_id": "CUS-KITE", "status": "draft"}).json()["total"] == kite
    pay_key = {"Idempotency-Key": "pay-0001"}
    inv = north.post("/api/v1/invoices/batch", json={"items": [custom_invoice("CUS-KITE")], "finalize": True})
    iid = inv.json()["results"][0]["invoice"]["id"]
    paid = [north.post(f"/api/v1/invoices/{iid}/payments", json={"amount": 100}, headers=pay_key) for _ in range(3)]
    assert [p.status_code for p in paid] == [201] * 3
    assert north.get(f"/api/v1/invoices/{iid}").json()["total_paid"] == 100


@pytest.mark.parametrize(
    "method, path, kwargs",
    [
        ("POST", "/api/v1/invoices", {"content": b"\xff\xfe"}),
        ("POST", "/api/v1/invoices", {"content": b"[1, 2]", "headers": {"content-type": "application/json"}}),
        ("POST", "/api/v1/invoices", {"json": {**custom_invoice(), "due_date": "2026-02-30"}}),
        ("POST", "/api/v1/contracts/%F0%9F%92%A5/generate-period-invoices", {"json": {"period_date": "2026-02-01"}}),
        ("POST", "/api/v1/contracts/K-FLAT/generate-period-invoices", {"json": {"period_date": "99999-01-01"}}),
        ("GET", "/api/v1/invoices", {"params": {"offset": 10**30}}),
        ("POST", "/api/v1/bill-runs", {"json": {"period_date": "2026-01-01", "contract_ids": "K-FLAT"}}),
        (
            "POST",
            "/invoices/generate_invoice",
            {"json": {"customer_id": "c", "contract_id": "K-FLAT", "from_date": -5, "to_date": 10**20}},
        ),  # noqa: E501
        (
            "POST",
            "/invoices/generate_invoice",
            {
                "json": {
                    "customer_id": "CUS-ACME",
                    "contract_id": "K-FLAT",
                    "from_date": "2026-04-01",
                    "to_date": "2026-04-30",
                    "bill_for_date": "2026-05-01",
                    "billing_cycle_start_day": 10**30,
                }
            },
        ),  # noqa: E501
    ],
)
def test_malformed_input_is_a_4xx(north, method, path, kwargs):
    r = north.request(method, path, **kwargs)
    assert 400 <= r.status_code < 500, r.text


def test_a_run_with_nothing_in_scope_answers_what_the_published_schema_says(api, north):
    """Schemathesis ST108 found it: the report's times were naive (no offset), which an RFC 3339 `date-time` is
    not. Checked with formats, as schemathesis checks (jsonschema_rs), live and as stored."""
    import jsonschema_rs

    schema = httpx.get(f"{api.url}/openapi.json").json()
    validator = jsonschema_rs.validator_for(
        {"$ref": "#/components/schemas/BillRunStatus", "components": schema["components"]}, validate_formats=True
    )
    run_id = north.post("/api/v1/bill-runs", json={"period_date": "2000-01-01"}).json()["run_id"]
    body = wait_run(north, run_id)
    assert body["report"]["contracts_in_scope"] == 0
    errors = [e.message for e in validator.iter_errors(body)]
    assert errors == []
    assert body["report"]["started_at"].endswith(("Z", "+00:00"))


@pytest.mark.parametrize(
    "action, model",
    [
        ("approve", "ApproveRequest"),
        ("release", "ReleaseRequest"),
        ("void", "VoidRequest"),
        ("finalize", "FinalizeRequest"),
        ("credit-notes/estimate", "CreditNoteEstimateRequest"),
    ],
)
def test_the_openapi_declares_every_optional_body_the_server_reads(api, north, action, model):
    """A client generated from /openapi.json can send a note, a void reason or an estimate's lines: each body the
    route reads is declared, optional (no body is valid), with its model's fields and no others."""
    schema = httpx.get(f"{api.url}/openapi.json").json()
    body = schema["paths"][f"/api/v1/invoices/{{invoice_id}}/{action}"]["post"]["requestBody"]
    assert body.get("required", False) is False
    refs = [s.get("$ref") for s in body["content"]["application/json"]["schema"]["anyOf"]]
    assert f"#/components/schemas/{model}" in refs
    assert schema["components"]["schemas"][model]["additionalProperties"] is False
    path = f"/api/v1/invoices/inv_nope/{action}"
    error(north.post(path), 404, "invoice_not_found")  # no body: the route runs
    r = north.post(path, json={"note": 5, "force": True})  # fields the body does not have, or of the wrong type
    assert r.status_code == 422, r.text
