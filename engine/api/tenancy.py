"""Nothing of one business is visible to another (spec section 9): a contract, customer, invoice or bill
run of another business is answered exactly as one that does not exist (404, same code and message).
Every route checks the ids of its path and body here before the engine sees them."""

from __future__ import annotations

import json

import duckdb

from .errors import ApiError, not_found


def require_contract(con: duckdb.DuckDBPyConnection, business_id: str, contract_id: str) -> str:
    """The contract's customer, when the contract is the business's."""
    row = con.execute(
        """SELECT k.customer_id FROM contracts k JOIN customers c USING (customer_id)
           WHERE k.contract_id = ? AND c.business_id = ?""",
        [contract_id, business_id],
    ).fetchone()
    if row is None:
        raise not_found("contract", contract_id)
    return row[0]


def require_customer(con: duckdb.DuckDBPyConnection, business_id: str, customer_id: str) -> None:
    if not customer_of_business(con, business_id, customer_id):
        raise not_found("customer", customer_id)


def customer_of_business(con: duckdb.DuckDBPyConnection, business_id: str, customer_id: str) -> bool:
    row = con.execute(
        "SELECT 1 FROM customers WHERE customer_id = ? AND business_id = ?", [customer_id, business_id]
    ).fetchone()
    return row is not None


def require_invoice(con: duckdb.DuckDBPyConnection, business_id: str, invoice_id: str) -> None:
    row = con.execute(
        "SELECT 1 FROM invoices WHERE invoice_id = ? AND business_id = ?", [invoice_id, business_id]
    ).fetchone()
    if row is None:
        raise not_found("invoice", invoice_id)


def foreign_ids(con: duckdb.DuckDBPyConnection, business_id: str, table: str, ids: list[str]) -> list[str]:
    """Those of `ids` that are not contracts (table 'contracts') or customers ('customers') of the business."""
    if table == "contracts":
        sql = """SELECT k.contract_id FROM contracts k JOIN customers c USING (customer_id)
                 WHERE c.business_id = ? AND list_contains(?::VARCHAR[], k.contract_id)"""
    elif table == "customers":
        sql = "SELECT customer_id FROM customers WHERE business_id = ? AND list_contains(?::VARCHAR[], customer_id)"
    else:
        raise ValueError(table)
    mine = {r[0] for r in con.execute(sql, [business_id, ids]).fetchall()}
    return [i for i in dict.fromkeys(ids) if i not in mine]


def business_contract_ids(con: duckdb.DuckDBPyConnection, business_id: str) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            """SELECT k.contract_id FROM contracts k JOIN customers c USING (customer_id)
               WHERE c.business_id = ? ORDER BY 1""",
            [business_id],
        ).fetchall()
    ]


def simulation_scope(
    con: duckdb.DuckDBPyConnection, business_id: str, contract_ids: list[str] | None
) -> tuple[list[str], list[str]]:
    """What a what-if of the business covers (HTTP and MCP alike): (the contracts to simulate: `contract_ids`,
    or all the business's; the business's contracts, the data the scenario's names are checked against).
    A contract of another business is not found; a business without contracts has nothing to simulate."""
    mine = business_contract_ids(con, business_id)
    ids = mine
    if contract_ids is not None:
        known = set(mine)
        foreign = [c for c in dict.fromkeys(contract_ids) if c not in known]
        if foreign:
            raise not_found("contract", foreign[0])
        ids = contract_ids
    if not ids:
        raise ApiError(400, "nothing_to_simulate", "the business has no contract in the simulation's scope")
    return ids, mine


def run_business(con: duckdb.DuckDBPyConnection, run_id: str) -> str | None:
    """The business a stored bill run was scoped to (None: no such run, or a run over every business)."""
    row = con.execute("SELECT scope FROM bill_runs WHERE run_id = ?", [run_id]).fetchone()
    if row is None:
        return None
    try:
        return json.loads(row[0]).get("business_id")
    except (ValueError, AttributeError):
        return None
