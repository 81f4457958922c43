"""An invoice as the DayZero InvoiceResponse (integer minor units), from what the service answers (Decimal
major units next to minor units): pure formatting, document links on this server."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ..service.formats import minor_units
from ..service.models import Invoice, InvoiceLine
from ..service.results import InvoiceDetail
from .schemas import (
    InvoiceCouponResponse,
    InvoicePaymentResponse,
    InvoicePreview,
    InvoiceResponse,
    InvoiceTaxResponse,
    LineItemResponse,
)

PAID = ("manual_paid", "stripe_paid")


def plain(d: Decimal) -> str:
    """A decimal as plain digits (10, not 1E+1)."""
    return format(d, "f")


def _unit_minor(unit_price: Decimal | None, currency: str) -> int | None:
    if unit_price is None:
        return None
    scaled = unit_price.scaleb(minor_units(currency))
    return int(scaled) if scaled == scaled.to_integral_value() else None


def _whole(quantity: Decimal | None) -> int | None:
    """A quantity as DayZero's integer, when it is whole (a usage quantity of 715.61 is not: None)."""
    if quantity is None or quantity != quantity.to_integral_value():
        return None
    return int(quantity)


def line_items(invoice_key: str, lines: list[InvoiceLine], currency: str) -> list[LineItemResponse]:
    return [
        LineItemResponse(
            id=f"{invoice_key}:{line.line_no}",
            line_no=line.line_no,
            line_id=line.line_id,
            kind=line.kind,
            product=line.product,
            description=line.description,
            quantity=_whole(line.quantity),
            quantity_decimal=line.quantity,
            unit_price=_unit_minor(line.unit_price, currency),
            unit_price_decimal=line.unit_price,
            amount=line.amount_minor,
            discount_amount=line.discount_minor,
            tax_codes=line.tax_codes,
            period_start=line.period_start,
            period_end=line.period_end,
            pricing_model=line.pricing_model,
            explanation=line.explanation,
            package_size=line.package_size,
            free_units=line.free_units,
            packages=line.packages,
            percentage_rate=line.percentage_rate,
            fixed_fee_decimal=line.fixed_fee,
            usage_rows=line.usage_rows,
            minimum_commitment_decimal=line.minimum_commitment,
            committed=line.committed_minor,
            order_lines_total=line.order_lines_total_minor,
            active_days=line.active_days,
            period_days=line.period_days,
            proration_factor=line.proration_factor,
            discount_percent=line.discount_percent,
            tiers=line.tiers,
        )
        for line in lines
    ]


def taxes_of(inv: Invoice) -> list[InvoiceTaxResponse]:
    return [
        InvoiceTaxResponse(code=t.code, name=t.name, rate=plain(t.rate), base=t.base_minor, amount=t.amount_minor)
        for t in inv.taxes
    ]


def coupons_of(inv: Invoice) -> list[InvoiceCouponResponse]:
    return [
        InvoiceCouponResponse(
            coupon_id=c.coupon_id,
            name=c.name,
            kind=c.kind,
            percent=None if c.percent is None else plain(c.percent),
            amount=c.amount_minor,
        )
        for c in inv.coupons
    ]


def dayzero_invoice(detail: InvoiceDetail, base_url: str) -> InvoiceResponse:
    inv = detail.invoice
    invoice_id = inv.invoice_id
    created = inv.created_at or dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    base = base_url.rstrip("/")
    payments = detail.payments
    return InvoiceResponse(
        id=invoice_id,
        business_id=inv.business_id,
        created_at=created,
        updated_at=detail.updated_at,
        status=inv.status,
        currency=inv.currency,
        total=inv.total_minor,
        total_paid=inv.total_paid_minor,
        balance_due=inv.balance_due_minor,
        description=inv.description,
        customer_id=inv.customer_id,
        customer_name=detail.customer_name,
        customer_email=detail.customer_email,
        due_date=inv.due_date,
        line_items=line_items(invoice_id, inv.lines, inv.currency),
        pdf_url=f"{base}/api/v1/invoices/{invoice_id}.pdf",
        hosted_invoice_url=f"{base}/api/v1/invoices/{invoice_id}.html",
        number=inv.invoice_number,  # the number as the customer sees it (N-2026-000001)
        paid_on=payments[-1].paid_at if payments and inv.status in PAID else None,
        payments=[
            InvoicePaymentResponse(id=p.payment_id, amount=p.amount_minor, method=p.method, paid_at=p.paid_at)
            for p in payments
        ],
        recurring_template_id=inv.recurring_template_id,
        contract_id=inv.contract_id,
        period_start=inv.period_start,
        period_end=inv.period_end,
        bill_for_date=inv.bill_for_date,
        subtotal=inv.subtotal_minor,
        discount_amount=inv.discount_minor,
        tax=inv.tax_minor,
        tax_rate=plain(inv.tax_rate),
        taxes=taxes_of(inv),
        coupons=coupons_of(inv),
        run_id=inv.run_id,
        approved_by=inv.approved_by,
        approved_at=inv.approved_at,
        hold_reason=inv.hold_reason,
        void_reason=inv.void_reason,
        credits_applied=inv.credits_applied_minor,
        credit_notes_total=inv.credit_notes_total_minor,
        credits_returned=inv.credits_returned_minor,
        credit_available=inv.credit_available_minor,
    )


def preview_view(inv: Invoice) -> InvoicePreview:
    return InvoicePreview(
        business_id=inv.business_id,
        customer_id=inv.customer_id,
        contract_id=inv.contract_id,
        currency=inv.currency,
        period_start=inv.period_start,
        period_end=inv.period_end,
        bill_for_date=inv.bill_for_date,
        due_date=inv.due_date,
        subtotal=inv.subtotal_minor,
        discount_amount=inv.discount_minor,
        tax=inv.tax_minor,
        tax_rate=plain(inv.tax_rate),
        taxes=taxes_of(inv),
        coupons=coupons_of(inv),
        total=inv.total_minor,
        line_items=line_items("preview", inv.lines, inv.currency),
        pending_usage=inv.pending_usage,
        credit_available=inv.credit_available_minor or 0,
    )
