"""The seeds' own code samples (shared/seeds/*.txt), pointed at `billsim serve`, work as written.

The Python (httpx) and cURL samples of the DayZero endpoints are read from the seed files; only the host,
the token, the business and the `{contract_id}` placeholder are replaced. Their placeholder bodies
("string", empty lists) get the seeds' documented answers (422 HTTPValidationError, or 201 for an empty
batch); the same samples with real values get 201. Zenskar's seed has no sample: its request is
transcribed from the seed's OpenAPI (headers x-api-key and organisation)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import httpx

# The seeds beside the project when they are there (they may grow), else the copy kept with the tests, so
# this test always runs.
_SHARED = Path(__file__).resolve().parents[3] / "shared" / "seeds"
SEEDS = _SHARED if _SHARED.is_dir() else Path(__file__).resolve().parent / "seeds"
HOST = "https://api.ondayzero.com"


def _seed_texts() -> dict[str, str]:
    texts = {p.name: p.read_text() for p in sorted(SEEDS.glob("*.txt"))}
    assert texts, f"no seed files in {SEEDS}"
    return texts


def _block(text: str, lang: str) -> str:
    return re.search(rf"```{lang}\n(.*?)```", text, re.S).group(1)


def _samples() -> list[tuple[str, str]]:
    """(path as documented, seed text) of every seed with a code sample."""
    out = []
    for text in _seed_texts().values():
        if "```python" in text:
            path = re.search(r"^# POST (\S+)", text, re.M).group(1)
            out.append((path, text))
    return out


def _point_at(code: str, api, business: str = "biz-north") -> str:
    return (
        code.replace(HOST, api.url)
        .replace("dz_your_token", api.tokens["north"])
        .replace("YOUR_BUSINESS_ID", business)
        .replace("{contract_id}", "K-FLAT")
    )


EXPECTED = {  # the documented answer to each sample's placeholder body
    "/api/v1/contracts/{contract_id}/generate-period-invoices": 422,
    "/api/v1/invoices": 422,
    "/api/v1/invoices/batch": 201,
}


def test_every_dayzero_seed_has_a_sample():
    assert sorted(p for p, _ in _samples()) == sorted(EXPECTED)


def test_python_samples_as_written(api):
    for path, text in _samples():
        scope: dict = {}
        exec(_point_at(_block(text, "python"), api), scope)  # the seed's own httpx code
        response = scope["response"]
        assert response.status_code == EXPECTED[path], (path, response.text)
        data = scope["data"]
        if response.status_code == 422:
            assert data["detail"] and {"loc", "msg", "type"} <= set(data["detail"][0])
        else:
            assert data == {"results": [], "created": 0, "failed": 0}


def _curl(command: str) -> tuple[str, str, dict, str]:
    """method, url, headers, body of a seed's cURL sample."""
    words = shlex.split(command.replace("\\\n", " "))
    assert words[0] == "curl"
    method, url, hdrs, body = "GET", None, {}, None
    it = iter(words[1:])
    for w in it:
        if w == "-X":
            method = next(it)
        elif w == "-H":
            k, _, v = next(it).partition(":")
            hdrs[k.strip()] = v.strip()
        elif w == "-d":
            body = next(it)
        else:
            url = w
    return method, url, hdrs, body


def test_curl_samples_as_written_and_with_real_values(api):
    real = {
        "/api/v1/contracts/{contract_id}/generate-period-invoices": {"period_date": "2026-08-15"},
        "/api/v1/invoices": {
            "customer_id": "CUS-ACME",
            "line_items": [{"description": "Setup", "unit_price": 5000}],
            "due_date": "2026-09-30",
        },
        "/api/v1/invoices/batch": {
            "items": [
                {
                    "customer_id": "CUS-BOREAL",
                    "line_items": [{"description": "Fee", "unit_price": 700}],
                    "due_date": "2026-09-30",
                }
            ]
        },  # noqa: E501
    }
    for path, text in _samples():
        method, url, hdrs, body = _curl(_point_at(_block(text, "bash"), api))
        r = httpx.request(method, url, headers=hdrs, content=body)
        assert r.status_code == EXPECTED[path], (path, r.text)
        r = httpx.request(method, url, headers=hdrs, content=json.dumps(real[path]))
        assert r.status_code == 201, (path, r.text)
    created = httpx.get(f"{api.url}/api/v1/invoices", headers=hdrs, params={"period_date": "2026-08-15"}).json()
    assert created["total"] == 1 and created["data"][0]["contract_id"] == "K-FLAT"


def test_zenskar_generate_invoice_as_the_seed_describes_it(api):
    zk = {"x-api-key": api.tokens["north"], "organisation": "biz-north", "apiversion": "20240301"}
    cycles = httpx.get(f"{api.url}/contracts/K-TIERS/billing_cycles", headers=zk).json()
    c = cycles[0]
    body = {
        "customer_id": "CUS-BOREAL",
        "contract_id": "K-TIERS",
        "from_date": f"{c['start_date']}T00:00:00Z",
        "to_date": f"{c['end_date']}T00:00:00Z",
        "check_duplicate_invoice": True,
        "bill_for_date": f"{c['bill_for_date']}T00:00:00Z",
        "billing_cycle_start_day": c["billing_cycle_start_day"],
    }
    r = httpx.post(f"{api.url}/invoices/generate_invoice", headers=zk, json=body)
    assert r.status_code == 200, r.text
    assert r.json()["invoice_ids"] and r.json()["invoice"]["period_start"] == c["start_date"]
    bad = httpx.post(f"{api.url}/invoices/generate_invoice", headers=zk, json={"contract_id": "K-TIERS"})
    assert bad.status_code == 422 and {e["loc"][-1] for e in bad.json()["detail"]} >= {"customer_id", "from_date"}
