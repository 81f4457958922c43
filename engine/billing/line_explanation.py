"""How an invoice line's amount is made, from what its rating stored (`invoice_lines.breakdown`): THE one place
that turns a breakdown into the line's explanation, for every front end (documents, the CLI's and MCP's JSON,
the HTTP API, the workbench). docs/RULES.md "What a line shows".

A flat, per-unit, custom or delayed-charge line is its quantity × unit price (prorated, discounted: the line says
so apart), and a graduated or volume line lists its tiers: those need no explanation. The others are not
quantity × unit price, so their explanation writes the arithmetic out with the figures it stored:

    package      5,710 units − 500 free = 5,210 → 6 packs of 1,000 × £39.50
                 price = ceil(max(0, q − free_units) / package_size) × unit_price (the price of one pack)
    percentage   715.61 × 2.9 % + fixed fee CA$0.40 × 1 usage row
                 price = q × percentage_rate / 100 + fixed_fee × approved usage rows
    true-up      commitment $500.00 × 22/31 days = $354.84 − order lines $93.99 = $260.85
                 amount = max(0, round(minimum_commitment × days / period days) − Σ order-line amounts)

Every figure is exact (Decimal, integer minor units); money is written by `engine.money`.
"""

from __future__ import annotations

from decimal import Decimal

from ..money import exact_minor, format_major, format_money, to_major


def _count(value: Decimal | int) -> str:
    """A quantity with thousands separators and no trailing zeros: 5710.000000 -> 5,710."""
    return format(Decimal(value).normalize(), ",f")


def _plural(n: Decimal | int, one: str, many: str) -> str:
    return f"{_count(n)} {one if n == 1 else many}"


def _decimal(value) -> Decimal | None:
    """A breakdown member (a JSON string of exact digits, or a number) as a Decimal without trailing zeros."""
    if value is None:
        return None
    return Decimal(format(Decimal(value).normalize(), "f"))


def _package(
    quantity: Decimal, unit_price: Decimal, size: Decimal, free: Decimal | None, packs: int, currency: str
) -> str:
    units = f"{_count(quantity)} units"
    if free:
        units += f" − {_count(free)} free = {_count(max(Decimal(0), quantity - free))}"
    return f"{units} → {_plural(packs, 'pack', 'packs')} of {_count(size)} × {format_major(unit_price, currency)}"


def _percentage(quantity: Decimal, rate: Decimal, fee: Decimal | None, rows: int | None, currency: str) -> str:
    text = f"{_count(quantity)} × {_count(rate)} %"
    if fee:
        text += f" + fixed fee {format_major(fee, currency)} × {_plural(rows or 0, 'usage row', 'usage rows')}"
    return text


def _true_up(
    commitment: Decimal,
    committed_minor: int,
    lines_minor: int,
    active_days: int | None,
    period_days: int | None,
    currency: str,
) -> str:
    text = f"commitment {format_major(commitment, currency)}"
    prorated = active_days is not None and period_days and active_days != period_days
    if prorated:
        text += f" × {active_days}/{period_days} days"
    if prorated or exact_minor(commitment, currency) != committed_minor:  # rounded to the currency
        text += f" = {format_money(committed_minor, currency)}"
    lines = f"order lines {format_money(lines_minor, currency)}"
    if committed_minor > lines_minor:
        return f"{text} − {lines} = {format_money(committed_minor - lines_minor, currency)}"
    return f"{text}, met by {lines}: nothing to add"


def explain_line(
    kind: str,
    quantity: Decimal | None,
    unit_price: Decimal | None,
    active_days: int | None,
    period_days: int | None,
    detail: dict,
    currency: str,
) -> dict:
    """The explanation of one line (InvoiceLine's fields): the breakdown's figures a reader needs (package size,
    free units and the packs the rating billed; percentage rate and fixed fee; the commitment, what it comes to for
    the cycle and the order lines' total) and `explanation`, the arithmetic in words (None for a line that is
    quantity × unit price or lists its tiers). `detail` is the decoded breakdown; a member it lacks is None (an
    older draft)."""
    model = detail.get("pricing_model")
    size, free = _decimal(detail.get("package_size")), _decimal(detail.get("free_units"))
    rate, fee = _decimal(detail.get("percentage_rate")), _decimal(detail.get("fixed_fee"))
    out: dict = {"package_size": size, "free_units": free, "percentage_rate": rate, "fixed_fee": fee}
    packs = detail.get("packages")  # the rating's own count (pricing.PACKAGES_SQL), never counted again here
    if model == "package" and None not in (quantity, unit_price, size, packs):
        out["packages"] = packs
        out["explanation"] = _package(quantity, unit_price, size, free, packs, currency)
    elif model == "percentage" and None not in (quantity, rate):
        out["explanation"] = _percentage(quantity, rate, fee, detail.get("usage_rows"), currency)
    elif kind == "minimum_commitment_true_up":
        commitment = _decimal(detail.get("minimum_commitment"))
        committed, lines = detail.get("committed_minor"), detail.get("order_lines_total_minor")
        out["minimum_commitment"] = commitment
        if committed is not None:
            out["committed"], out["committed_minor"] = to_major(committed, currency), committed
        if lines is not None:
            out["order_lines_total"], out["order_lines_total_minor"] = to_major(lines, currency), lines
        if None not in (commitment, committed, lines):
            out["explanation"] = _true_up(commitment, committed, lines, active_days, period_days, currency)
    return out
