"""Ledger export (spec section 6): columns, per-currency decimals, formula safety, CSV = Parquet."""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal

import pytest

from engine.billing.approval import approve_invoices
from engine.billing.lifecycle import finalize_invoice
from engine.billing.manual_invoices import create_invoice
from engine.cli import main as cli_main
from engine.db import connect
from engine.errors import ValidationError
from engine.io.export import ADJUSTMENT_COLUMNS, INVOICE_COLUMNS, LINE_COLUMNS, export_ledger, ledger_frames
from engine.models import LineItem, ManualInvoiceRequest
from engine.service import Billsim, Caller
from engine.service import ledger as service_ledger

SPEC_INVOICE_HEADER = (
    "invoice_id,business_id,customer_id,contract_id,number,status,currency,period_start,"
    "period_end,bill_for_date,due_date,subtotal,tax,total,total_paid,balance_due,run_id,created_at"
)
SPEC_LINE_HEADER = (
    "invoice_id,line_no,line_id,kind,product,description,quantity,unit_price,"
    "proration_factor,amount,period_start,period_end"
)


def _invoice(
    con,
    invoice_id,
    currency,
    lines,
    *,
    status="draft",
    number=None,
    business="biz-a",
    customer="C-1",
    contract="K-1",
    paid=0,
):
    """A contract invoice as the rating engine stores it; lines = (kind, product, description, qty,
    unit_price, active_days, period_days, amount_minor)."""
    subtotal = sum(ln[7] for ln in lines)
    con.execute(
        """INSERT INTO invoices (invoice_id, business_id, customer_id, contract_id, number, status, currency,
               period_start, period_end, bill_for_date, due_date, period_days, subtotal_minor, tax_minor,
               total_minor, total_paid_minor, run_id, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, DATE '2026-03-10', DATE '2026-03-31', DATE '2026-04-01',
                   DATE '2026-05-01', 31, ?, 0, ?, ?, 'run-1', TIMESTAMP '2026-04-01 06:00:00.123456')""",
        [invoice_id, business, customer, contract, number, status, currency, subtotal, subtotal, paid],
    )
    for no, (kind, product, desc, qty, price, active, period, amount) in enumerate(lines, start=1):
        con.execute(
            """INSERT INTO invoice_lines (invoice_id, line_no, line_id, kind, product, description, quantity,
                   unit_price, active_days, period_days, amount_minor, period_start, period_end)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, DATE '2026-03-10', DATE '2026-03-31')""",
            [invoice_id, no, f"L-{invoice_id}-{no}", kind, product, desc, qty, price, active, period, amount],
        )


@pytest.fixture
def ledger(con):
    """Spec worked amounts: 22/31 × 50 USD = 35.48, 22/31 × 10000 JPY = 7097, and a KWD 1.250."""
    con.execute(
        "INSERT INTO customers (customer_id, name, business_id, currency) VALUES "
        "('C-1', 'Acme', 'biz-a', 'USD'), ('C-2', 'Kite', 'biz-b', 'JPY')"
    )
    _invoice(
        con,
        "inv-usd",
        "USD",
        [
            ("recurring", "Platform", "Platform fee", Decimal("1"), Decimal("50"), 22, 31, 3548),
            ("usage", "-minus", '=HYPERLINK("http://x","y")', Decimal("1234.5"), Decimal("0.10"), None, None, 12345),
            ("minimum_commitment_true_up", None, None, None, None, None, None, -1234),
        ],
        status="open",
        number=7,
        paid=1000,
    )
    _invoice(
        con,
        "inv-jpy",
        "JPY",
        [("recurring", "Platform", "Platform fee", Decimal("1"), Decimal("10000"), 22, 31, 7097)],
        business="biz-b",
        customer="C-2",
        contract="K-YEN",
    )
    _invoice(
        con,
        "inv-kwd",
        "KWD",
        [("one_time", "@setup", "\tTabbed", Decimal("2.000"), Decimal("0.625"), 2, 3, 1250)],
        contract="K-KWD",
    )
    return con


def _read(path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _by_id(rows, key="invoice_id"):
    return {r[key]: r for r in rows}


def test_csv_header_rows_are_exactly_the_spec_columns(ledger, tmp_path):
    """Spec section 6's columns, then section 11's after every one of them (and its own adjustments file), then
    section 12's (and its credit-note files)."""
    paths = export_ledger(ledger, tmp_path)
    assert paths == {
        "invoices": tmp_path / "invoices.csv",
        "invoice_lines": tmp_path / "invoice_lines.csv",
        "invoice_adjustments": tmp_path / "invoice_adjustments.csv",
        "credit_notes": tmp_path / "credit_notes.csv",
        "credit_note_items": tmp_path / "credit_note_items.csv",
        "customer_credit_movements": tmp_path / "customer_credit_movements.csv",
    }
    # then section 12's credit columns, then the project's invoice_number (docs/RULES.md): the number as the
    # customer sees it
    assert (
        paths["invoices"].read_text().splitlines()[0]
        == SPEC_INVOICE_HEADER + ",discount,credit_notes_total,credits_applied,invoice_number,credits_returned"
    )
    assert paths["credit_notes"].read_text().splitlines() == [
        "credit_note_id,number,invoice_id,invoice_number,customer_id,currency,reason,subtotal,tax,total,offset,"
        "refund,credit,created_at,actor"
    ]
    assert paths["credit_note_items"].read_text().splitlines() == ["credit_note_id,line_no,amount,tax"]
    assert paths["customer_credit_movements"].read_text().splitlines() == [
        "entry_id,occurred_at,business_id,customer_id,currency,kind,amount,balance_after,invoice_id,invoice_number,"
        "credit_note_id,credit_note_number"
    ]
    assert paths["invoice_lines"].read_text().splitlines()[0] == SPEC_LINE_HEADER + ",discount,tax_codes"
    assert paths["invoice_adjustments"].read_text().splitlines() == [
        "invoice_id,kind,code,name,rate_or_percent,base,amount"
    ]


def test_amounts_have_exactly_the_currency_decimals(ledger, tmp_path):
    inv = _by_id(_read(export_ledger(ledger, tmp_path)["invoices"]))
    usd, jpy, kwd = inv["inv-usd"], inv["inv-jpy"], inv["inv-kwd"]
    assert [usd[c] for c in ("subtotal", "tax", "total", "total_paid", "balance_due")] == [
        "146.59",
        "0.00",
        "146.59",
        "10.00",
        "136.59",
    ]
    assert [jpy[c] for c in ("subtotal", "total", "total_paid", "balance_due")] == ["7097", "7097", "0", "7097"]
    assert [kwd[c] for c in ("subtotal", "total", "balance_due")] == ["1.250", "1.250", "1.250"]


def test_draft_number_is_blank_and_finalized_number_is_written(ledger, tmp_path):
    inv = _by_id(_read(export_ledger(ledger, tmp_path)["invoices"]))
    assert (inv["inv-usd"]["number"], inv["inv-jpy"]["number"]) == ("7", "")
    # the one written form of a time (docs/RULES.md): ISO 8601 UTC, microseconds kept, Z
    assert inv["inv-usd"]["created_at"] == "2026-04-01T06:00:00.123456Z"


def test_line_values_quantities_prices_and_proration(ledger, tmp_path):
    lines = _read(export_ledger(ledger, tmp_path)["invoice_lines"])
    got = [
        (r["invoice_id"], r["line_no"], r["quantity"], r["unit_price"], r["proration_factor"], r["amount"])
        for r in lines
    ]
    assert got == [  # ordered by invoice_id, line_no
        ("inv-jpy", "1", "1", "10000", "0.709677", "7097"),
        ("inv-kwd", "1", "2", "0.625", "0.666667", "1.250"),  # 2/3 rounds half away at 6 places
        ("inv-usd", "1", "1", "50", "0.709677", "35.48"),
        ("inv-usd", "2", "1234.5", "0.1", "", "123.45"),
        ("inv-usd", "3", "", "", "", "-12.34"),
    ]


def test_formula_like_text_cells_get_a_leading_quote_while_negative_amounts_stay_plain(ledger, tmp_path):
    lines = _read(export_ledger(ledger, tmp_path)["invoice_lines"])
    usage = lines[3]
    assert usage["product"] == "'-minus"
    assert usage["description"] == '\'=HYPERLINK("http://x","y")'
    assert (lines[1]["product"], lines[1]["description"]) == ("'@setup", "'\tTabbed")
    assert lines[4]["amount"] == "-12.34"
    assert lines[4]["kind"] == "minimum_commitment_true_up"


def test_text_starting_with_plus_or_carriage_return_in_any_text_column_is_guarded(ledger, tmp_path):
    ledger.execute("UPDATE invoices SET run_id = '+1 run', customer_id = chr(13) || 'cr' WHERE invoice_id = 'inv-kwd'")
    kwd = _by_id(_read(export_ledger(ledger, tmp_path)["invoices"]))["inv-kwd"]
    assert (kwd["run_id"], kwd["customer_id"]) == ("'+1 run", "'\rcr")


def test_parquet_round_trips_the_same_rows_as_csv(ledger, tmp_path):
    csv_paths = export_ledger(ledger, tmp_path / "csv")
    pq_paths = export_ledger(ledger, tmp_path / "pq", "parquet")
    amounts = {
        "subtotal",
        "tax",
        "total",
        "total_paid",
        "balance_due",
        "amount",
        "discount",
        "base",
        "credits_returned",
    }
    amounts |= {"credit_notes_total", "credits_applied"}
    numbers = {"quantity", "unit_price", "proration_factor", "rate_or_percent"}
    text_columns = {
        "invoice_id",
        "business_id",
        "customer_id",
        "contract_id",
        "status",
        "currency",
        "run_id",
        "line_id",
        "kind",
        "product",
        "description",
        "tax_codes",
        "code",
        "name",
    }

    def as_csv(name, value):
        """The CSV cell the Parquet value should appear as."""
        if value is None:
            return ""
        if name in amounts | numbers:
            return value  # compared as Decimals below: 35.4800 == 35.48
        if isinstance(value, dt.datetime):  # typed in Parquet, the one written form in CSV
            return value.isoformat(timespec="microseconds") + "Z"
        text = str(value)
        return "'" + text if name in text_columns and text[:1] in "=+-@\t\r" else text

    tables = (
        ("invoices", INVOICE_COLUMNS),
        ("invoice_lines", LINE_COLUMNS),
        ("invoice_adjustments", ADJUSTMENT_COLUMNS),
    )
    for name, columns in tables:
        cur = ledger.execute(f"SELECT {', '.join(columns)} FROM read_parquet(?)", [str(pq_paths[name])])
        pq_rows = [dict(zip(columns, r, strict=True)) for r in cur.fetchall()]
        csv_rows = _read(csv_paths[name])
        assert len(pq_rows) == len(csv_rows)
        for p, c in zip(pq_rows, csv_rows, strict=True):
            for col in columns:
                want = as_csv(col, p[col])
                got = c[col]
                if isinstance(want, Decimal):
                    assert Decimal(got) == want, (name, col)
                else:
                    assert got == want, (name, col)


def test_parquet_amounts_are_decimal_38_4_and_lines_carry_the_currency(ledger, tmp_path):
    paths = export_ledger(ledger, tmp_path, "parquet")
    types = dict(
        ledger.execute(
            "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(?))",
            [str(paths["invoice_lines"])],
        ).fetchall()
    )
    assert list(types) == LINE_COLUMNS + ["currency"]
    assert types["amount"] == "DECIMAL(38,4)"
    rows = ledger.execute(
        "SELECT invoice_id, amount, currency FROM read_parquet(?) WHERE line_no = 1", [str(paths["invoice_lines"])]
    ).fetchall()
    assert rows == [
        ("inv-jpy", Decimal("7097"), "JPY"),
        ("inv-kwd", Decimal("1.25"), "KWD"),
        ("inv-usd", Decimal("35.48"), "USD"),
    ]
    inv_cols = ledger.execute(
        "SELECT column_name FROM (DESCRIBE SELECT * FROM read_parquet(?))", [str(paths["invoices"])]
    ).fetchall()
    assert [c[0] for c in inv_cols] == INVOICE_COLUMNS


def test_manual_invoice_lines_export_unit_price_in_major_units(con, tmp_path):
    con.execute("INSERT INTO customers (customer_id, name, currency) VALUES ('C-1', 'Acme', 'USD')")
    inv = create_invoice(
        con,
        ManualInvoiceRequest(
            customer_id="C-1", line_items=[LineItem(description="Hours", unit_price=1250, quantity=Decimal("2.5"))]
        ),
    )
    approve_invoices(con, [inv.invoice_id])  # finalize takes only approved invoices
    finalize_invoice(con, inv.invoice_id)
    line = _read(export_ledger(con, tmp_path)["invoice_lines"])[0]
    assert [line[c] for c in ("kind", "line_id", "quantity", "unit_price", "amount")] == [
        "custom",
        "",
        "2.5",
        "12.5",
        "31.25",
    ]


def test_filters_select_invoices_and_their_lines_with_bound_values(ledger, tmp_path):
    paths = export_ledger(ledger, tmp_path, filters={"business_id": "biz-a", "status": ["draft"]})
    assert [r["invoice_id"] for r in _read(paths["invoices"])] == ["inv-kwd"]
    assert [r["invoice_id"] for r in _read(paths["invoice_lines"])] == ["inv-kwd"]
    paths = export_ledger(ledger, tmp_path, filters={"customer_id": "x' OR '1'='1"})
    assert _read(paths["invoices"]) == []
    paths = export_ledger(
        ledger,
        tmp_path,
        filters={
            "period_start_from": dt.date(2026, 3, 10),
            "period_start_to": "2026-03-10",
            "currency": ["JPY", "USD"],
        },
    )
    assert sorted(r["invoice_id"] for r in _read(paths["invoices"])) == ["inv-jpy", "inv-usd"]
    with pytest.raises(ValidationError, match="unknown ledger filter"):
        export_ledger(ledger, tmp_path, filters={"1=1; DROP TABLE invoices; --": "x"})
    with pytest.raises(ValidationError, match="not a date"):
        export_ledger(ledger, tmp_path, filters={"period_start_to": "March"})


@pytest.mark.parametrize(
    "text",
    [
        "2026-W11-2",  # an ISO week date: date.fromisoformat reads it as 2026-03-10
        "20260310",  # the basic form: also 2026-03-10 to date.fromisoformat
        "２０２６-03-10",  # not ASCII digits
        " 2026-03-10",
        "2026-03-10T00:00",
    ],
)
def test_a_period_filter_given_as_text_is_a_date_by_the_one_rule_yyyy_mm_dd(ledger, tmp_path, text):
    """The export's period filters read text as every front end reads a date (date_text.iso_day): YYYY-MM-DD in
    ASCII digits. Another ISO-8601 form is refused (validation_error, one line naming the filter), never read as the
    day it might spell; the same day written YYYY-MM-DD selects."""
    for key in ("period_start_from", "period_start_to"):
        with pytest.raises(ValidationError) as refused:
            export_ledger(ledger, tmp_path, filters={key: text})
        assert refused.value.code == "validation_error"
        assert str(refused.value) == f"ledger filter {key}: not a date (YYYY-MM-DD): {text!r}"
        with pytest.raises(ValidationError, match=f"ledger filter {key}: not a date"):
            ledger_frames(ledger, filters={key: text})
    day = dt.date(2026, 3, 10)
    as_text = ledger_frames(ledger, filters={"period_start_from": "2026-03-10", "period_start_to": "2026-03-10"})
    as_date = ledger_frames(ledger, filters={"period_start_from": day, "period_start_to": day})
    assert sorted(as_text[0]["invoice_id"]) == sorted(as_date[0]["invoice_id"]) and as_text[1] == as_date[1] > 0


def test_a_period_filter_is_a_date_not_a_date_time(ledger, tmp_path):
    """A date-time is refused as the requests refuse one: `period_start_from` 2026-03-10 12:00 would leave out the
    invoices of 10 March (DuckDB compares the period's day as its midnight)."""
    with pytest.raises(ValidationError, match="ledger filter period_start_from: not a date"):
        export_ledger(ledger, tmp_path, filters={"period_start_from": dt.datetime(2026, 3, 10, 12)})


def test_the_service_layers_export_and_ledger_pages_refuse_a_date_in_another_form(tmp_path):
    """Every front end reaches the filter through engine/service/ledger (the workbench's Ledger; `billsim export`
    and the HTTP API give it no date): a refused date is the application layer's validation_error."""
    with Billsim.open(tmp_path / "ledger.duckdb") as app:
        s = app.session(Caller.local("test"))
        with pytest.raises(ValidationError, match="ledger filter period_start_to: not a date") as refused:
            service_ledger.export(s, tmp_path / "out", filters={"period_start_to": "20260310"})
        assert refused.value.code == "validation_error"
        with pytest.raises(ValidationError, match="ledger filter period_start_from: not a date"):
            service_ledger.ledger_page(s, {"period_start_from": "2026-W11-2"}, "number", 50, 0)


def test_output_directory_with_quotes_in_its_name_is_written(ledger, tmp_path):
    out = tmp_path / 'it\'s a "ledger"'
    paths = export_ledger(ledger, out)
    assert paths["invoices"].parent == out and len(_read(paths["invoices"])) == 3


def test_unknown_export_format_is_rejected(ledger, tmp_path):
    with pytest.raises(ValidationError, match="unknown export format"):
        export_ledger(ledger, tmp_path, "xlsx")


def test_ledger_frames_returns_a_page_and_the_total_count(ledger):
    ledger.execute("UPDATE invoices SET created_at = created_at + INTERVAL (length(invoice_id)) SECOND")
    frame, total = ledger_frames(ledger, limit=2)
    assert total == 3 and list(frame.columns) == INVOICE_COLUMNS and len(frame) == 2
    frame, total = ledger_frames(ledger, {"business_id": "biz-a"}, limit=1, offset=1)
    assert total == 2 and len(frame) == 1
    usd = ledger_frames(ledger, {"currency": "USD"})[0].iloc[0]
    assert (usd["total"], usd["balance_due"], usd["number"]) == ("146.59", "136.59", 7)


def test_cli_export_writes_both_files(db_path, tmp_path, capsys):
    con = connect(db_path)
    con.execute("INSERT INTO customers (customer_id, name, currency) VALUES ('C-1', 'Acme', 'USD')")
    con.close()
    out = str(tmp_path / "out")
    assert cli_main(["--db", str(db_path), "export", "--out", out, "--format", "parquet"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["invoices"].endswith("invoices.parquet")
    assert (tmp_path / "out" / "invoice_lines.parquet").exists()


def test_cli_export_to_a_folder_that_cannot_be_made_is_one_line_exit_4(db_path, tmp_path, capsys):
    connect(db_path).close()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert cli_main(["--db", str(db_path), "export", "--out", str(blocker / "out")]) == 4
    err = capsys.readouterr().err
    assert err.startswith("billsim: ") and len(err.strip().splitlines()) == 1
    assert str(blocker) in err


def test_cli_on_a_file_that_is_not_a_database_is_one_line_exit_4(tmp_path, capsys):
    bogus = tmp_path / "bogus.duckdb"
    bogus.write_text("garbage")
    assert cli_main(["--db", str(bogus), "cycles", "K-1", "--from", "2026-01-01", "--to", "2026-02-01"]) == 4
    err = capsys.readouterr().err
    assert err.startswith("billsim: database error:") and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_100k_invoices_and_400k_lines_export_whole_in_both_formats(con, tmp_path):
    """Size, not speed (benchmarks/bill_run.py measures export_s): every invoice and line reaches both
    files, attached to its invoice, with its currency's decimals."""
    con.execute("""INSERT INTO invoices (invoice_id, business_id, customer_id, status, currency, number,
                       subtotal_minor, tax_minor, total_minor, created_at)
                   SELECT 'inv_' || lpad(i::VARCHAR, 6, '0'), 'biz', 'C', 'open',
                          ['USD', 'JPY', 'KWD'][1 + i % 3], i + 1, 4 * (1000 + i), 0, 4 * (1000 + i),
                          TIMESTAMP '2026-04-01'
                   FROM range(100000) t(i)""")
    con.execute("""INSERT INTO invoice_lines (invoice_id, line_no, kind, product, description, quantity,
                       unit_price, active_days, period_days, amount_minor)
                   SELECT 'inv_' || lpad((i // 4)::VARCHAR, 6, '0'), i % 4 + 1, 'recurring', 'P', 'd',
                          1.5, 12.5, 22, 31, 1000 + i // 4 FROM range(400000) t(i)""")
    stored = con.execute(
        """SELECT i.currency, count(*), sum(l.amount_minor) FROM invoice_lines l JOIN invoices i USING (invoice_id)
           GROUP BY ALL ORDER BY 1"""
    ).fetchall()
    expected = [(cur, n, Decimal(minor).scaleb(-{"USD": 2, "JPY": 0, "KWD": 3}[cur])) for cur, n, minor in stored]
    assert sum(n for _, n, _ in expected) == 400_000
    for fmt, reader in (("csv", "read_csv(?, all_varchar = true)"), ("parquet", "read_parquet(?)")):
        paths = export_ledger(con, tmp_path / fmt, fmt)
        written = con.execute(
            f"""SELECT i.currency, count(*), sum(l.amount::DECIMAL(38, 4)) FROM {reader} l
                JOIN {reader} i USING (invoice_id) GROUP BY ALL ORDER BY 1""",
            [str(paths["invoice_lines"]), str(paths["invoices"])],
        ).fetchall()
        assert written == expected, fmt
        assert con.execute(f"SELECT count(*) FROM {reader}", [str(paths["invoices"])]).fetchone() == (100_000,)
    assert sum(1 for _ in open(tmp_path / "csv" / "invoice_lines.csv")) == 400_001


class _CommitsBetweenCopies:
    """A connection whose first COPY is followed by another cursor committing a new invoice and line,
    as a bill run in another session would."""

    def __init__(self, con):
        self.con, self.copies = con, 0

    def execute(self, sql, params=None):
        result = self.con.execute(sql, params) if params is not None else self.con.execute(sql)
        if sql.startswith("COPY"):
            self.copies += 1
            if self.copies == 1:
                _invoice(
                    self.con.cursor(),
                    "inv-late",
                    "USD",
                    [("recurring", "Platform", "Platform fee", Decimal("1"), Decimal("5"), 31, 31, 500)],
                )
        return result


def test_both_files_are_one_snapshot_while_another_session_commits(ledger, tmp_path):
    paths = export_ledger(_CommitsBetweenCopies(ledger), tmp_path, "csv")
    invoices = {r["invoice_id"] for r in _read(paths["invoices"])}
    line_invoices = {r["invoice_id"] for r in _read(paths["invoice_lines"])}
    assert line_invoices == invoices == {"inv-usd", "inv-jpy", "inv-kwd"}
    assert ledger.execute("SELECT count(*) FROM invoices WHERE invoice_id = 'inv-late'").fetchone()[0] == 1


@pytest.mark.parametrize("active, period", [(1, 3), (2, 3), (1, 8), (15, 31), (366, 366), (0, 30), (1, 2000000)])
def test_the_proration_factor_is_rounded_half_away_to_six_decimals(active, period):
    from fractions import Fraction

    import duckdb

    from engine.io.export import _proration
    from engine.money import round_half_away

    con = duckdb.connect()
    sql = f"SELECT {_proration('csv')} FROM (SELECT ?::INTEGER AS active_days, ?::INTEGER AS period_days) l"
    micro = round_half_away(Fraction(active, period) * 10**6)
    assert con.execute(sql, [active, period]).fetchone()[0] == f"{micro // 10**6}.{micro % 10**6:06d}"
    assert con.execute(sql, [None, period]).fetchone()[0] is None
    assert con.execute(sql, [active, 0]).fetchone()[0] is None
