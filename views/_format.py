"""How values look on every page: money with its currency, dates as YYYY-MM-DD, exact decimals,
customers as "name (id)", and column headers in words rather than column names."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pandas as pd

from engine.service.formats import format_major, format_money

DATE_FORMAT = "YYYY-MM-DD"  # every st.date_input and DateColumn
DATETIME_FORMAT = "YYYY-MM-DD HH:mm:ss"  # every DatetimeColumn (times are UTC)
# Every plotly chart: Streamlit's own element toolbar (full screen) is enough; plotly's would sit over
# the chart's title.
CHART_CONFIG = {"displayModeBar": False, "displaylogo": False}
SPREADSHEET_ROWS = 1_048_576  # the most rows a spreadsheet opens (Excel, LibreOffice Calc), its header included


def money(minor: int | None, currency: str) -> str:
    return "" if minor is None else format_money(int(minor), currency)


def money_of_major(amount: Decimal | str | None, currency: str) -> str:
    """An amount in major units ('35.48') -> '$35.48' (formats.format_major: one with more decimals
    than the currency has is shown exactly, with its code); '' for none."""
    if amount is None or amount == "" or (isinstance(amount, float) and pd.isna(amount)):
        return ""
    return format_major(Decimal(str(amount)), currency)


# a '$' after an even number of backslashes (none, or escaped backslashes) is not escaped yet
_UNESCAPED_DOLLAR = re.compile(r"(?<!\\)((?:\\\\)*)\$")


def markdown_text(text: str) -> str:
    """Text with amounts for st.markdown / st.caption: '$' escaped, so no dollar sign is ever read as the start
    or the end of a LaTeX formula, whatever follows it ("paid $5.00, balance due $0.00" drew a formula). A '$'
    already escaped stays as it is, so text made of escaped parts may go through it again. Its other markdown
    (`**bold**`) is meant: a user's text goes in through markdown_escaped instead."""
    return _UNESCAPED_DOLLAR.sub(r"\1\\$", text)


# Every ASCII punctuation character: CommonMark lets each be backslash-escaped, and each may mean something to
# Streamlit's markdown (emphasis * _, code `, links [ ] ( ), headings #, lists - + 1., quotes >, tables |,
# strikethrough ~, HTML < > &, LaTeX $, directives :red[…] :material/…:, escapes \ themselves).
_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def markdown_escaped(text: str) -> str:
    """A user's text (a product's name, an id, a refusal quoting what was typed) or an amount, to be shown as it is
    inside st.markdown / st.caption / st.info / st.error and widget labels: every markdown character escaped, and
    line breaks as spaces (a line of its own could start a heading or a list). The one escape of the workbench."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", " ".join(str(text).splitlines()))


def invoice_number_text(number) -> str:
    """An invoice number as customers see it ('N-2026-000001'); '' before finalization (None or NaN)."""
    return "" if number is None or (not isinstance(number, str) and pd.isna(number)) else str(number)


def invoice_number(inv) -> str:
    """The number of an Invoice, or 'draft' when it has none yet."""
    return invoice_number_text(inv.invoice_number) or "draft"


def balance_text(minor: int, currency: str, status: str) -> str:
    """What is still due: nothing on a void invoice (it collects nothing more)."""
    return "none (void)" if status == "void" else money(minor, currency)


def fmt_date(value) -> str:
    """YYYY-MM-DD (a time too when there is one); '' for none: None, NaN, or NaT (a manual invoice has no
    period; NaT is a datetime whose strftime raises)."""
    if value is None or value is pd.NaT or (not isinstance(value, dt.date) and pd.isna(value)):
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def dates_as_dates(frame: pd.DataFrame) -> pd.DataFrame:
    """DuckDB DATE columns arrive as datetime64: show them as dates, not midnight timestamps."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            ser = out[col]
            is_midnight = ser.dropna().eq(ser.dropna().dt.normalize()).all()
            out[col] = ser.dt.date if is_midnight and not col.endswith("_at") else ser.dt.floor("s")
    return out


def grouped_number(value) -> str:
    """An exact decimal as amounts are written, for reading (a quantity, a tier's bounds): thousands grouped, no
    trailing zeros, every decimal kept ('5,710', '1,234.5', '0.000125'); '' for none. A value typed back into a
    box is written with plain_number instead."""
    if value is None:
        return ""
    return format(Decimal(str(value)).normalize(), ",f")


def plain_number(value) -> str:
    """An exact decimal without trailing zeros, as text ('' for none)."""
    if value is None:
        return ""
    return format(Decimal(str(value)).normalize(), "f")


def customer(name: str | None, customer_id: str) -> str:
    """'Boreal Media Pty Ltd (CUS-000001)': people know customers by name, the data by id."""
    return f"{name} ({customer_id})" if name else customer_id


def business(names: dict[str, str], business_id: str) -> str:
    """'Northwind Billing Ltd (biz-north)' (businesses.csv), or the id alone when it has no row."""
    return f"{names[business_id]} ({business_id})" if names.get(business_id) else business_id


def column_label(name: str) -> str:
    """'business_id' -> 'business', 'first_date' -> 'first date': headers in words."""
    words = name.removesuffix("_id").removesuffix("_minor")
    return words.replace("_", " ")


def labelled(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with headers in words (a header that would then be taken twice keeps its words in full)."""
    labels = [column_label(c) for c in frame.columns]
    return frame.set_axis(
        [
            lab if labels.count(lab) == 1 else str(c).replace("_", " ")
            for c, lab in zip(frame.columns, labels, strict=True)
        ],
        axis=1,
    )


def scope_text(scope: dict) -> str:
    """A bill run's scope in words. Each restriction given is named (an empty list is an empty scope,
    "0 contracts"); only a scope with no restriction at all is "all contracts"."""
    parts = []
    if scope.get("business_id") is not None:
        parts.append(f"business {scope['business_id']}")
    for key, noun in (("customer_ids", "customer"), ("contract_ids", "contract")):
        if scope.get(key) is not None:
            parts.append(f"{len(scope[key])} {noun}(s)")
    return ", ".join(parts) or "all contracts"
