"""Import checks across files for taxes and coupons (spec section 11), as set-based SQL.

A tax code and a coupon belong to one business. These checks need rows of other files (in the database or
in this import), so they are not rules of one row: every tax code named by a customer or an order line
must exist and be of the customer's business; an applied coupon must be of the business of its contract's
customer, and applied only once to a contract on one date; a coupon limited to products must name products
that order lines of its business sell. Each check is a SELECT of (rowid, check_no, value, detail,
other_row) over a staging table, as the importer records every problem.

The staging tables hold the cells as trimmed text (`_import_stage_<table>`); what the database already
holds is read from the real tables. A check whose other file could not be read (a header problem) is
skipped: its ids are not all known, and that file's own problem is reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .import_rules import NO_TAX, Bind, canonical_list_sql

DEFAULT_BUSINESS = "default"


@dataclass(frozen=True)
class LinkCheck:
    """A check of `table`.`column`; `select(bind, reason)` is its SELECT, `reason` the bound check number."""

    table: str
    column: str
    reason: str
    select: Callable[[Bind, str], str]


def _known(staged: set[str], table: str, db_cols: str, stage_cols: str) -> str:
    """Rows of `table` in the database, and in this import when its file is staged (engine-built names)."""
    rows = f"SELECT {db_cols} FROM main.{table}"  # noqa: S608 (table names from the engine's allow-lists (schema.INPUT_TABLES, import_rules.TABLES); values bound)
    if table in staged:
        rows += f" UNION ALL SELECT {stage_cols} FROM _import_stage_{table} s"  # noqa: S608 (table names from the engine's allow-lists (schema.INPUT_TABLES, import_rules.TABLES); values bound)
    return f"({rows})"


class _Owners:
    """Relations (as SQL) of each id's business, over the database and this import: customers, contracts
    (through their customer), taxes, coupons; and the products order lines sell per contract. A value is
    bound only where it is used (a statement must use every parameter it binds)."""

    def __init__(self, staged: set[str], bind: Bind) -> None:
        self.staged, self.bind = staged, bind

    def _with_business(self, table: str, key: str) -> str:
        staged = f"s.{key}, coalesce(s.business_id, {self.bind(DEFAULT_BUSINESS)})" if table in self.staged else ""
        return _known(self.staged, table, f"{key}, business_id", staged)

    def customer(self) -> str:
        return self._with_business("customers", "customer_id")

    def contract(self) -> str:
        contracts = _known(self.staged, "contracts", "contract_id, customer_id", "s.contract_id, s.customer_id")
        return f"(SELECT k.contract_id, c.business_id FROM {contracts} k JOIN {self.customer()} c USING (customer_id))"  # noqa: S608 (SQL built by the engine from its own names; values bound)

    def tax(self) -> str:
        return self._with_business("taxes", "tax_code")

    def coupon(self) -> str:
        return self._with_business("coupons", "coupon_id")

    def line(self) -> str:
        return _known(self.staged, "order_lines", "contract_id, product", "s.contract_id, s.product")


def _codes_of(table: str, owner_business: str) -> str:
    """(rowid, code, owner business) of every tax code a staged customer or order line names ('none' aside)."""
    items = f"string_split({canonical_list_sql('s.tax_codes')}, ';')"
    return f"""SELECT rowid, code, owner FROM (
                   SELECT s.rowid, unnest({items}) AS code, {owner_business} AS owner
                   FROM _import_stage_{table} s WHERE s.tax_codes IS NOT NULL)
               WHERE code <> '{NO_TAX}' AND code <> ''"""  # noqa: S608 (table names from the engine's allow-lists (schema.INPUT_TABLES, import_rules.TABLES); values bound)


def _tax_code_checks(table: str, staged: set[str], unreadable: set[str]) -> list[LinkCheck]:
    if "taxes" in unreadable:
        return []
    whose = "the customer's" if table == "customers" else "the business of the line's contract"
    where = (
        "not in taxes.csv nor in the database"
        if "taxes" in staged
        else "not in the database, and this import has no taxes.csv"
    )

    def owner(bind: Bind) -> str:
        if table == "customers":
            return f"coalesce(s.business_id, {bind(DEFAULT_BUSINESS)})"
        contracts = _Owners(staged, bind).contract()
        return f"(SELECT min(k.business_id) FROM {contracts} k WHERE k.contract_id = s.contract_id)"  # noqa: S608 (SQL built by the engine from its own names; values bound)

    def unknown(bind: Bind, reason: str) -> str:
        taxes = _Owners(staged, bind).tax()
        return f"""SELECT c.rowid, {reason} AS check_no, c.code AS value, NULL AS detail, NULL AS other_row
                   FROM ({_codes_of(table, "NULL")}) c
                   WHERE NOT EXISTS (SELECT 1 FROM {taxes} t WHERE t.tax_code = c.code)"""  # noqa: S608 (SQL built by the engine from its own names; values bound)

    def other_business(bind: Bind, reason: str) -> str:
        taxes = _Owners(staged, bind).tax()
        return f"""SELECT c.rowid, {reason} AS check_no, c.code AS value, min(t.business_id) AS detail,
                          NULL AS other_row
                   FROM ({_codes_of(table, owner(bind))}) c JOIN {taxes} t ON t.tax_code = c.code
                   WHERE c.owner IS NOT NULL
                   GROUP BY c.rowid, c.code, c.owner
                   HAVING count(*) FILTER (WHERE t.business_id = c.owner) = 0"""  # noqa: S608 (SQL built by the engine from its own names; values bound)

    checks = [LinkCheck(table, "tax_codes", f"unknown tax code '{{value}}': {where}", unknown)]
    if table == "customers" or not ({"contracts", "customers"} & unreadable):
        checks.append(
            LinkCheck(
                table,
                "tax_codes",
                f"tax code '{{value}}' is of business '{{detail}}', not of {whose}",
                other_business,
            )
        )
    return checks


def _applied_coupon_checks(staged: set[str], unreadable: set[str]) -> list[LinkCheck]:
    stage = "_import_stage_applied_coupons"
    on = "TRY_CAST(s.applied_on AS DATE)"

    def twice_in_file(bind: Bind, reason: str) -> str:
        return f"""SELECT s.rowid, {reason} AS check_no, s.coupon_id AS value, s.contract_id AS detail,
                          d.first_row AS other_row
                   FROM {stage} s JOIN (
                       SELECT contract_id, coupon_id, TRY_CAST(applied_on AS DATE) AS on_date, min(rowid) AS first_row
                       FROM {stage} WHERE contract_id IS NOT NULL AND coupon_id IS NOT NULL
                         AND TRY_CAST(applied_on AS DATE) IS NOT NULL
                       GROUP BY ALL HAVING count(*) > 1) d
                     ON d.contract_id = s.contract_id AND d.coupon_id = s.coupon_id AND d.on_date = {on}
                   WHERE s.rowid > d.first_row"""  # noqa: S608 (SQL built by the engine from its own names; values bound)

    def twice_with_db(bind: Bind, reason: str) -> str:
        return f"""SELECT s.rowid, {reason} AS check_no, s.coupon_id AS value, s.contract_id AS detail,
                          NULL AS other_row
                   FROM {stage} s SEMI JOIN main.applied_coupons a
                     ON a.contract_id = s.contract_id AND a.coupon_id = s.coupon_id AND a.applied_on = {on}"""  # noqa: S608 (SQL built by the engine from its own names; values bound)

    def other_business(bind: Bind, reason: str) -> str:
        owners = _Owners(staged, bind)
        return f"""SELECT s.rowid, {reason} AS check_no, s.coupon_id AS value, min(cp.business_id) AS detail,
                          NULL AS other_row
                   FROM {stage} s JOIN {owners.coupon()} cp ON cp.coupon_id = s.coupon_id
                   JOIN {owners.contract()} k ON k.contract_id = s.contract_id
                   GROUP BY s.rowid, s.coupon_id
                   HAVING count(*) FILTER (WHERE cp.business_id = k.business_id) = 0"""  # noqa: S608 (SQL built by the engine from its own names; values bound)

    checks = [
        LinkCheck(
            "applied_coupons",
            "applied_on",
            "coupon '{value}' is applied to contract {detail} twice on this date (first on line {other_line})",
            twice_in_file,
        ),
        LinkCheck(
            "applied_coupons",
            "applied_on",
            "coupon '{value}' is already applied to contract {detail} on this date in the database",
            twice_with_db,
        ),
    ]
    if not ({"coupons", "contracts", "customers"} & unreadable):
        checks.append(
            LinkCheck(
                "applied_coupons",
                "coupon_id",
                "coupon '{value}' is of business '{detail}', not of the business of the contract's customer",
                other_business,
            )
        )
    return checks


def _coupon_product_checks(staged: set[str], unreadable: set[str]) -> list[LinkCheck]:
    if {"order_lines", "contracts", "customers"} & unreadable:
        return []

    def unknown_product(bind: Bind, reason: str) -> str:
        owners = _Owners(staged, bind)
        items = f"string_split({canonical_list_sql('s.products')}, ';')"
        lines, contracts = owners.line(), owners.contract()
        sold = f"(SELECT DISTINCT l.product, k.business_id FROM {lines} l JOIN {contracts} k USING (contract_id))"  # noqa: S608 (SQL built by the engine from its own names; values bound)
        return f"""SELECT p.rowid, {reason} AS check_no, p.product AS value, p.business AS detail, NULL AS other_row
                   FROM (SELECT s.rowid, unnest({items}) AS product,
                                coalesce(s.business_id, {bind(DEFAULT_BUSINESS)}) AS business
                         FROM _import_stage_coupons s WHERE s.products IS NOT NULL) p
                   WHERE p.product <> ''
                     AND NOT EXISTS (SELECT 1 FROM {sold} x
                                     WHERE x.product = p.product AND x.business_id = p.business)"""  # noqa: S608 (SQL built by the engine from its own names; values bound)

    return [
        LinkCheck(
            "coupons",
            "products",
            "unknown product '{value}': no order line of business '{detail}' has that product",
            unknown_product,
        )
    ]


def link_checks(staged: set[str], unreadable: set[str]) -> list[LinkCheck]:
    """The cross-file checks of the files staged in this import (`unreadable`: files whose ids are not all known)."""
    checks: list[LinkCheck] = []
    for table in ("customers", "order_lines"):
        if table in staged and table not in unreadable:
            checks += _tax_code_checks(table, staged, unreadable)
    if "applied_coupons" in staged and "applied_coupons" not in unreadable:
        checks += _applied_coupon_checks(staged, unreadable)
    if "coupons" in staged and "coupons" not in unreadable:
        checks += _coupon_product_checks(staged, unreadable)
    return checks
