"""A request file handed to the CLI (`create`, `batch`, `simulate`) is UTF-8 text, read by one rule
(engine/text_files.py): a byte-order mark (Notepad, Excel) is taken; a file that is not UTF-8 (UTF-16, Latin-1,
binary) or larger than one HTTP request body is refused in one line with exit 2, never a traceback, and nothing
is written."""

from __future__ import annotations

import io
import json

import pytest
from helpers_data import add_contract, add_customer, add_line

from engine.cli import main as cli_main
from engine.limits import REQUEST_BODY_MAX
from engine.service import Billsim

BODY = {
    "customer_id": "C1",
    "line_items": [{"description": "Consulting", "unit_price": 1250}],
    "due_date": "2026-09-30",
}
SCENARIO = {"name": "API +10%", "changes": [{"type": "price", "product": "Seats", "percent": "10"}]}


@pytest.fixture
def app(tmp_path):
    with Billsim.open(tmp_path / "files.duckdb") as app:
        with app.database.cursor() as con:
            add_customer(con, "C1")
            add_contract(con, "K1", "C1", "2026-01-01")
            add_line(con, "L1", "K1", unit_price="10.00")
        yield app


def cli(app, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(list(argv), app=app, stdout=out, stderr=err, tty=False)
    return code, out.getvalue(), err.getvalue()


def invoices(app) -> int:
    with app.database.cursor() as con:
        return con.execute("SELECT count(*) FROM invoices").fetchone()[0]


def test_a_byte_order_mark_is_taken(app, tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(BODY).encode())
    code, out, err = cli(app, "create", str(path))
    assert code == 0, err
    assert json.loads(out)["total"] == "12.50" and invoices(app) == 1


@pytest.mark.parametrize(
    ("command", "data"),
    [
        ("create", b"\xff\xfe\x00garbage"),
        ("create", json.dumps(BODY).encode("utf-16")),  # what Notepad saves as "Unicode"
        ("batch", json.dumps({"items": [BODY]}).encode("latin-1") + b'{"x": "caf\xe9"}'),
        ("simulate", json.dumps(SCENARIO).encode("utf-16")),
    ],
)
def test_a_file_that_is_not_utf8_is_refused_in_one_line(app, tmp_path, command, data):
    path = tmp_path / "request.json"
    path.write_bytes(data)
    extra = ["--from", "2026-01-01", "--to", "2026-03-31"] if command == "simulate" else []
    code, out, err = cli(app, command, str(path), *extra)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "is not UTF-8 text" in err and str(path) in err, err
    assert "Traceback" not in err and invoices(app) == 0


def test_a_file_beyond_the_request_bound_is_refused(app, tmp_path):
    path = tmp_path / "huge.json"
    path.write_bytes(b" " * REQUEST_BODY_MAX + json.dumps(BODY).encode())
    code, _, err = cli(app, "create", str(path))
    assert code == 2 and "larger than 8 MiB" in err and invoices(app) == 0, err
