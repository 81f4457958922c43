"""An analyst's trial: a status is read in words (never `manual_paid`), and the Ledger's picker tells invoices apart
(two manual drafts of one customer and amount). AppTest on a private copy of the small seeded demo."""

from __future__ import annotations

from engine.billing.manual_invoices import create_invoice
from engine.db import connect
from engine.models import LineItem, ManualInvoiceRequest
from tests.ui.test_analyst import _open_invoice
from tests.ui.test_pages import assert_clean, open_page, start_app, status_of, widget
from tests.ui.test_workbench_ux import ledger_table


def test_a_manual_payment_says_paid_in_the_message_the_table_the_picker_and_the_title(workbench_db):
    inv = _open_invoice(workbench_db)
    at = start_app()
    open_page(at, "views/ledger.py")
    widget(at.selectbox, "ledger_pick").set_value(inv.invoice_id).run()
    assert_clean(at)
    widget(at.text_input, f"pay_amount_{inv.invoice_id}_0_{inv.balance_due_minor}").set_value(str(inv.total))
    widget(at.button, f"FormSubmitter:pay_{inv.invoice_id}-Record payment").click().run()
    assert_clean(at)
    assert status_of(workbench_db, inv.invoice_id) == "manual_paid"  # the data keeps the spec's name
    message = [s.value for s in at.success]
    assert len(message) == 1 and ": invoice is paid, balance due " in message[0], message
    assert message[0].startswith("Recorded a manual payment of "), message
    shown = ledger_table(at).set_index("invoice").loc[inv.invoice_id, "status"]
    assert shown == "paid (manual)"
    label = widget(at.selectbox, "ledger_pick")
    assert label.format_func(inv.invoice_id).endswith(" · paid (manual)")
    assert any(m.value.startswith(f"**Invoice {inv.invoice_number} · paid (manual)**") for m in at.markdown)
    everything = " ".join(
        [str(e.value) for e in (*at.success, *at.caption, *at.markdown, *at.subheader, *at.info)]
        + [label.format_func(o) for o in label.options]
        + [" ".join(map(str, d.value.to_numpy().ravel())) for d in at.dataframe]
    )
    assert "manual_paid" not in everything and "manual paid" not in everything


def test_the_picker_tells_two_manual_drafts_of_one_customer_and_amount_apart(workbench_db):
    con = connect(workbench_db)
    customer = con.execute("SELECT min(customer_id) FROM customers").fetchone()[0]
    request = ManualInvoiceRequest(customer_id=customer, line_items=[LineItem(description="Setup", unit_price=617513)])
    first, second = (create_invoice(con, request).invoice_id for _ in range(2))
    con.close()
    at = start_app()
    open_page(at, "views/ledger.py")
    box = widget(at.selectbox, "ledger_pick")
    labels = [box.format_func(i) for i in (first, second)]
    assert labels[0] != labels[1], labels
    for invoice_id, label in zip((first, second), labels, strict=True):
        fields = label.split(" · ")
        assert fields[0] == invoice_id  # a draft has no number yet: its id tells it apart
        assert all(f.strip() for f in fields), label  # no empty field (a manual invoice has no period)
        assert label.count("draft") == 1 and fields[-1] == "draft", label  # the status, said once
        assert "manual" in fields, label


def test_a_stripe_payment_is_named_stripe_in_the_form_and_the_message(workbench_db):
    """ "Recorded a stripe payment": the method's value read as a word; Stripe is a name."""
    inv = _open_invoice(workbench_db)
    at = start_app()
    open_page(at, "views/ledger.py")
    widget(at.selectbox, "ledger_pick").set_value(inv.invoice_id).run()
    method = widget(at.selectbox, f"pay_method_{inv.invoice_id}")
    assert list(method.options) == ["manual", "Stripe"]  # as shown
    method.set_value("stripe")  # in the payment form: sent with its submit
    widget(at.text_input, f"pay_amount_{inv.invoice_id}_0_{inv.balance_due_minor}").set_value("1.00")
    widget(at.button, f"FormSubmitter:pay_{inv.invoice_id}-Record payment").click().run()
    assert_clean(at)
    assert [s.value.split(" of ")[0] for s in at.success] == ["Recorded a Stripe payment"]
