"""The command line takes an invoice's NUMBER (what a finance user sees: N-2026-000001) wherever it takes its id,
resolved once by the application layer (engine/service/invoices.resolve, tenancy.invoice_ref): a caller of
another business does not find it, exactly like a number that does not exist; a number two businesses issued
(same prefix) names neither for a caller who sees both. A number is matched whatever its letter case (as a finance
user types it); an id exactly.

Data: biz-n (prefix N), biz-s and biz-t (no businesses row: prefix INV), one monthly contract each (10.00),
January finalized: N-<year>-000001, and INV-<year>-000001 twice."""

from __future__ import annotations

import io
import json

import pytest
from helpers_data import add_contract, add_customer, add_line

from engine.cli import main as cli_main
from engine.service import Billsim, Caller, NotFoundError, ValidationError, credit_notes, invoices


@pytest.fixture
def app(tmp_path):
    with Billsim.open(tmp_path / "refs.duckdb") as app:
        with app.database.cursor() as con:
            con.execute("INSERT INTO businesses (business_id, name, invoice_prefix) VALUES ('biz-n', 'North', 'N')")
            for b in ("n", "s", "t"):
                add_customer(con, f"C{b}", business_id=f"biz-{b}")
                add_contract(con, f"K{b}", f"C{b}", "2026-01-01")
                add_line(con, f"L{b}", f"K{b}", unit_price="10.00")
        yield app


def cli(app, *argv: str) -> tuple[int, dict | list | None, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(list(argv), app=app, stdout=out, stderr=err, tty=False)
    return code, json.loads(out.getvalue()) if out.getvalue() else None, err.getvalue()


@pytest.fixture
def numbers(app) -> dict[str, tuple[str, str]]:
    """business -> (invoice id, invoice number) of its finalized January invoice."""
    code, _, err = cli(app, "run", "--period-date", "2026-02-15", "--finalize", "--quiet")
    assert code == 0, err
    with app.database.cursor() as cur:
        ids = dict(cur.execute("SELECT business_id, invoice_id FROM invoices").fetchall())
    return {b: (i, invoices.get(app.session(Caller.local()), i).invoice.invoice_number) for b, i in ids.items()}


def test_every_invoice_command_takes_the_number_a_finance_user_sees(app, numbers, tmp_path):
    invoice_id, number = numbers["biz-n"]
    assert number.startswith("N-") and number.endswith("-000001")
    code, _, err = cli(app, "hold", number, "--reason", "check")
    assert code == 2 and f"cannot hold invoice {number}: it is open" in err, err  # named by its number too
    code, paid, err = cli(app, "pay", number, "4.00")
    assert code == 0 and (paid["invoice_id"], paid["status"]) == (invoice_id, "partially_paid"), err
    code, estimate, err = cli(app, "credit-note", "estimate", number, "--all")
    assert code == 0 and estimate["invoice_id"] == invoice_id, err
    code, listed, err = cli(app, "credit-note", "list", "--invoice", number)
    assert code == 0 and listed["total"] == 0, err
    code, rendered, err = cli(app, "render", number, "--out", str(tmp_path / "n.html"))
    assert code == 0 and (rendered["invoice_id"], rendered["invoice_number"]) == (invoice_id, number), err
    code, _, err = cli(app, "void", number, "--reason", "wrong customer")  # paid in part: corrected by a credit note
    assert code == 2 and f"cannot void invoice {number}: 4.00 USD was paid on it" in err, err
    code, _, err = cli(app, "void", invoice_id)  # the id is taken as before, with the same answer
    assert code == 2 and f"cannot void invoice {number}: 4.00 USD was paid on it" in err, err
    code, note, err = cli(app, "credit-note", "create", number, "--all", "--reason", "duplicate")
    assert code == 0 and note["number"] == f"{number}-CN1", err
    # a credit note's document by its number too (what the note shows), or by its id
    for ref in (note["number"], note["credit_note_id"]):
        code, doc, err = cli(app, "credit-note", "render", ref, "--out", str(tmp_path / "cn.html"))
        assert code == 0 and doc["credit_note_id"] == note["credit_note_id"], err
    code, _, err = cli(app, "credit-note", "render", f"{number}-CN9", "--out", str(tmp_path / "no.html"))
    assert code == 2 and "no credit note" in err and not (tmp_path / "no.html").exists()


def test_a_number_two_businesses_issued_names_neither_for_a_caller_who_sees_both(app, numbers):
    (s_id, s_number), (t_id, t_number) = numbers["biz-s"], numbers["biz-t"]
    assert s_number == t_number and s_number.startswith("INV-")
    code, out, err = cli(app, "void", s_number)
    assert (code, out) == (2, None)
    assert (
        err == f"billsim: invoice number {s_number} was issued by more than one business (biz-s, biz-t); give its id\n"
    )
    with pytest.raises(ValidationError):
        invoices.resolve(app.session(Caller.local()), [s_number])
    assert invoices.resolve(app.session(Caller.of_business("biz-s", "t")), [s_number]) == [s_id]
    assert invoices.resolve(app.session(Caller.of_business("biz-t", "t")), [t_number, t_id]) == [t_id, t_id]


def test_another_businesss_number_is_not_found_exactly_like_one_that_does_not_exist(app, numbers):
    n_id, n_number = numbers["biz-n"]
    south = app.session(Caller.of_business("biz-s", "t"))
    missing = n_number.replace("-000001", "-000009")
    for ref in (n_number, n_id):
        with pytest.raises(NotFoundError) as theirs:
            invoices.resolve(south, [ref])
        with pytest.raises(NotFoundError) as nothing:
            invoices.resolve(south, [missing])
        assert (theirs.value.code, str(theirs.value).replace(ref, "X")) == (
            nothing.value.code,
            str(nothing.value).replace(missing, "X"),
        )
    for ref in ("", "N", "N-2026", f"{n_number} ", n_id.upper(), "N-2026-00000x", "x" * 300):
        with pytest.raises(NotFoundError):
            invoices.resolve(app.session(Caller.local()), [ref])
    code, out, err = cli(app, "pay", missing, "1")
    assert (code, err) == (2, f"billsim: no invoice {missing!r}\n")


def test_a_number_is_matched_whatever_its_letter_case(app, numbers, tmp_path):
    invoice_id, number = numbers["biz-n"]
    typed = number.lower()  # n-2026-000001, as a finance user types it
    assert typed != number
    code, paid, err = cli(app, "pay", typed, "4.00")
    assert code == 0 and paid["invoice_id"] == invoice_id, err
    code, _, err = cli(app, "void", typed)  # the message names it as it is written
    assert code == 2 and f"cannot void invoice {number}: 4.00 USD was paid on it" in err, err
    code, note, err = cli(app, "credit-note", "create", typed, "--all", "--reason", "duplicate")
    assert code == 0 and note["number"] == f"{number}-CN1", err
    code, doc, err = cli(app, "credit-note", "render", note["number"].lower(), "--out", str(tmp_path / "cn.html"))
    assert code == 0 and doc["credit_note_id"] == note["credit_note_id"], err
    # an id is matched exactly: the id in another case is no invoice
    code, _, err = cli(app, "pay", invoice_id.upper(), "1")
    assert (code, err) == (2, f"billsim: no invoice {invoice_id.upper()!r}\n")


@pytest.fixture
def cased(tmp_path):
    """biz-n numbers its invoices N-…, biz-m n-…: one January invoice each, both number 1 of the same year."""
    with Billsim.open(tmp_path / "cased.duckdb") as app:
        with app.database.cursor() as con:
            con.execute(
                "INSERT INTO businesses (business_id, name, invoice_prefix) VALUES ('biz-n', 'North', 'N'), "
                "('biz-m', 'Middle', 'n')"
            )
            for b in ("n", "m"):
                add_customer(con, f"C{b}", business_id=f"biz-{b}")
                add_contract(con, f"K{b}", f"C{b}", "2026-01-01")
                add_line(con, f"L{b}", f"K{b}", unit_price="10.00")
        code, _, err = cli(app, "run", "--period-date", "2026-02-15", "--finalize", "--quiet")
        assert code == 0, err
        yield app


def test_numbers_that_differ_only_in_letter_case_name_neither_for_a_caller_who_sees_both(cased, tmp_path):
    with cased.database.cursor() as cur:
        ids = dict(cur.execute("SELECT business_id, invoice_id FROM invoices").fetchall())
    local = cased.session(Caller.local())
    upper = invoices.get(local, ids["biz-n"]).invoice.invoice_number
    lower = invoices.get(local, ids["biz-m"]).invoice.invoice_number
    assert upper.lower() == lower and upper != lower
    for typed in (upper, lower, upper.swapcase()):
        code, out, err = cli(cased, "void", typed)
        assert (code, out) == (2, None)
        assert err == (
            f"billsim: invoice number {typed} matches more than one invoice, their numbers differing only in letter "
            f"case: {upper} (biz-n), {lower} (biz-m); give its id\n"
        )
    # each business sees its own (the other's is not there for it), and an id is always exact
    assert invoices.resolve(cased.session(Caller.of_business("biz-n", "t")), [lower]) == [ids["biz-n"]]
    assert invoices.resolve(cased.session(Caller.of_business("biz-m", "t")), [upper]) == [ids["biz-m"]]
    assert invoices.resolve(local, [ids["biz-n"], ids["biz-m"]]) == [ids["biz-n"], ids["biz-m"]]
    with pytest.raises(ValidationError):
        invoices.resolve(local, [lower])
    # the same rule for credit notes (numbered after their invoice: N-…-CN1 and n-…-CN1)
    notes = {}
    for b, invoice_id in ids.items():
        code, note, err = cli(cased, "credit-note", "create", invoice_id, "--all", "--reason", "duplicate")
        assert code == 0, err
        notes[b] = note
    code, _, err = cli(cased, "credit-note", "render", notes["biz-m"]["number"], "--out", str(tmp_path / "n.html"))
    assert code == 2 and "matches more than one credit note" in err, err
    assert (
        credit_notes.resolve(cased.session(Caller.of_business("biz-m", "t")), notes["biz-n"]["number"])
        == (notes["biz-m"]["credit_note_id"])
    )
