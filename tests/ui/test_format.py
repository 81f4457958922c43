"""The workbench's words for stored values, and a user's text in markdown shown as it is."""

import html
import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from views._format import grouped_number, markdown_escaped, markdown_text, plain_number, scope_text


def test_a_run_scope_names_every_restriction_and_an_empty_list_is_not_all_contracts():
    assert scope_text({"contract_ids": None, "customer_ids": None, "business_id": None}) == "all contracts"
    assert scope_text({"contract_ids": [], "customer_ids": None, "business_id": None}) == "0 contract(s)"
    assert scope_text({"contract_ids": None, "customer_ids": ["C1", "C2"], "business_id": "acme"}) == (
        "business acme, 2 customer(s)"
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("5710.000000", "5,710"),  # as a line's explanation writes it ('5,710 units')
        ("1234.500000", "1,234.5"),
        ("0.000125", "0.000125"),
        ("1E+3", "1,000"),  # normalized, never in exponent form
        ("-1234567.25", "-1,234,567.25"),
        ("12345678901234567890.123456", "12,345,678,901,234,567,890.123456"),  # exact: no float on the way
        (None, ""),
    ],
)
def test_a_quantity_is_grouped_like_amounts_and_keeps_every_decimal(value, shown):
    assert grouped_number(None if value is None else Decimal(value)) == shown
    assert plain_number(value).replace("-", "") == shown.replace(",", "").replace("-", "")  # typed back: ungrouped


# --- a user's text in markdown: views._format.markdown_escaped ---------------------------------------------------

HOSTILE = [
    "Seats *x* plan",
    "__bold__ _it_ ~~gone~~",
    "`code` and ``more``",
    "[click](https://example.com) ![img](x.png) <https://example.com>",
    "# heading",
    "1. a list",
    "- item",
    "> a quote",
    "| a | table |",
    "<b>html</b> &amp; &#36;",
    "$x$ and $$y$$",
    ":red[colored] :material/home: :smile:",
    "back\\slash\\*",
    "line one\n# line two",
    "a\\",
]


def _rendered(markdown: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown)


@pytest.mark.parametrize("text", HOSTILE)
def test_a_users_text_is_shown_as_it_is_in_markdown(text):
    escaped = markdown_escaped(text)
    one_line = " ".join(text.splitlines())
    assert _rendered(escaped) == f"<p>{html.escape(one_line, quote=False)}</p>\n"  # CommonMark: no markup at all
    assert not re.search(r"[$:*_`\[#<]", re.sub(r"\\.", "", escaped))  # nor LaTeX or a Streamlit directive


@given(st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")), max_size=40))
def test_any_text_is_shown_as_it_is_in_markdown(text):
    text = text.strip()
    if text and not any(c.isspace() and c != " " for c in text):  # markdown trims and folds other whitespace
        assert html.unescape(_rendered(markdown_escaped(text))) == f"<p>{text}</p>\n"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("paid $5.00, balance due $0.00", "paid $5.00, balance due $0.00"),  # two amounts: no formula between them
        ("**Total A$110.00**: subtotal A$100.00", "<strong>Total A$110.00</strong>: subtotal A$100.00"),
        ("already \\$5 and $6", "already $5 and $6"),  # an escaped '$' is left as it is
        ("a backslash \\\\$5", "a backslash \\$5"),  # an escaped backslash, then a '$' not escaped
    ],
)
def test_amounts_are_shown_as_written_and_escaping_twice_changes_nothing(text, shown):
    once = markdown_text(text)
    assert markdown_text(once) == once
    assert not re.search(r"(?<!\\)((?:\\\\)*)\$", once)  # every '$' escaped: none starts a formula
    assert html.unescape(_rendered(once)) == f"<p>{shown}</p>\n"
