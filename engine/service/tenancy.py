"""THE tenancy rule, for every front end: nothing of one business is visible to another.

A caller scoped to a business (an API token, `billsim mcp --business B`) sees that business's contracts,
customers, invoices and bill runs only; anything of another business is "not found", exactly as if it did not
exist (same code, same message). A local caller (the CLI, the workbench) sees every business.

A bill run over every business (started locally) is visible to a business as its own part only: the run is
found when it billed a contract of the business, and its report, review and lists show the business's
drafts, counts and totals, never another's.
"""

from __future__ import annotations

import duckdb

from ..billing import ownership
from ..billing.credit_notes import credit_note_business, numbered_credit_notes
from ..errors import ForbiddenError, NotFoundError, ValidationError
from ..scope import Scope
from .caller import Caller


def contract(cur: duckdb.DuckDBPyConnection, caller: Caller, contract_id: str) -> str:
    """The contract's customer, when the caller may see the contract."""
    found = ownership.contract_owners(cur, [contract_id]).get(contract_id)
    if found is None or not caller.sees(found[1]):
        raise NotFoundError.of("contract", contract_id)
    return found[0]


def contracts(cur: duckdb.DuckDBPyConnection, caller: Caller, contract_ids: list[str]) -> None:
    owners = ownership.contract_owners(cur, contract_ids)
    for cid in dict.fromkeys(contract_ids):
        if cid not in owners or not caller.sees(owners[cid][1]):
            raise NotFoundError.of("contract", cid)


def customer(cur: duckdb.DuckDBPyConnection, caller: Caller, customer_id: str) -> str:
    """The business of a customer the caller may see (else customer_not_found)."""
    business = ownership.customer_businesses(cur, [customer_id]).get(customer_id)
    if business is None or not caller.sees(business):
        raise NotFoundError.of("customer", customer_id)
    return business


def visible_customers(cur: duckdb.DuckDBPyConnection, caller: Caller, customer_ids: list[str]) -> set[str]:
    """Those of `customer_ids` that exist and that the caller may see."""
    found = ownership.customer_businesses(cur, customer_ids)
    return {c for c, b in found.items() if caller.sees(b)}


def customers(cur: duckdb.DuckDBPyConnection, caller: Caller, customer_ids: list[str]) -> None:
    seen = visible_customers(cur, caller, customer_ids)
    for cid in dict.fromkeys(customer_ids):
        if cid not in seen:
            raise NotFoundError.of("customer", cid)


def invoices(cur: duckdb.DuckDBPyConnection, caller: Caller, invoice_ids: list[str]) -> None:
    """Every id names an invoice the caller may see (else the first that does not is not found)."""
    found = ownership.invoice_businesses(cur, invoice_ids)
    for iid in dict.fromkeys(invoice_ids):
        if iid not in found or not caller.sees(found[iid]):
            raise NotFoundError.of("invoice", iid)


def _by_id_or_number(
    caller: Caller, ref: str, owner: str | None, numbered: dict[str, tuple[str, str]], what: str
) -> str:
    """The id `ref` names among what the caller sees: itself when it is an id (exactly: `owner` is its business, None
    when no such id), else the one numbered `ref` whatever its letter case, as a finance user types a number
    (`numbered`: id -> (business, number as written) of every one with that number in any case). Another
    business's is not found, exactly like one that does not exist. A number that names more than one the caller
    sees names none (no guess): two businesses with one prefix (both `INV`), or prefixes that differ only in case
    (`N` and `n`): give the id."""
    if owner is not None and caller.sees(owner):
        return ref
    seen = {i: found for i, found in numbered.items() if caller.sees(found[0])}
    if len(seen) > 1:
        words = what.replace("_", " ")
        if len({number for _, number in seen.values()}) == 1:
            businesses = ", ".join(sorted(b for b, _ in seen.values()))
            raise ValidationError(
                f"{words} number {ref} was issued by more than one business ({businesses}); give its id"
            )
        matches = ", ".join(f"{number} ({b})" for b, number in sorted(seen.values(), key=lambda f: (f[1], f[0])))
        raise ValidationError(
            f"{words} number {ref} matches more than one {words}, their numbers differing only in letter case: "
            f"{matches}; give its id"
        )
    if seen:
        return next(iter(seen))
    raise NotFoundError.of(what, ref)


def invoice_ref(cur: duckdb.DuckDBPyConnection, caller: Caller, ref: str) -> str:
    """The id of the invoice `ref` names, its id or its number (`N-2026-000001`, what a finance user sees), among
    the invoices the caller may see (_by_id_or_number)."""
    owner = ownership.invoice_businesses(cur, [ref]).get(ref)
    return _by_id_or_number(caller, ref, owner, ownership.numbered_invoices(cur, ref), "invoice")


def credit_note_ref(cur: duckdb.DuckDBPyConnection, caller: Caller, ref: str) -> str:
    """The id of the credit note `ref` names, its id or its number (`N-2026-000001-CN1`, what its document shows),
    among those the caller may see (_by_id_or_number)."""
    owner = credit_note_business(cur, ref)
    return _by_id_or_number(caller, ref, owner, numbered_credit_notes(cur, ref), "credit_note")


def run(cur: duckdb.DuckDBPyConnection, caller: Caller, run_id: str) -> str | None:
    """The part of bill run `run_id` the caller sees: None = the whole run; a business id = only that
    business's part (a run over every business seen by one business). Not visible: run not found."""
    exists, scoped, billed = ownership.run_businesses(cur, run_id)
    if not exists:
        raise NotFoundError.of("bill_run", run_id)
    if caller.every_business:
        return None
    if scoped == caller.business_id:
        return None
    if scoped is None and caller.business_id in billed:
        return caller.business_id
    raise NotFoundError.of("bill_run", run_id)


def scope(cur: duckdb.DuckDBPyConnection, caller: Caller, requested: Scope) -> Scope:
    """The scope of a run or a count the caller asked for, checked and narrowed to its business: every id named
    must be the caller's (else not found), and a business caller's scope is its business."""
    if requested.contract_ids:
        contracts(cur, caller, list(requested.contract_ids))
    if requested.customer_ids:
        customers(cur, caller, list(requested.customer_ids))
    if caller.every_business:
        if requested.business_id is not None and not ownership.business_exists(cur, requested.business_id):
            raise NotFoundError.of("business", requested.business_id)  # a typo billed nothing, and said so with 0
        return requested
    if requested.business_id not in (None, caller.business_id):
        raise NotFoundError.of("business", requested.business_id)
    return Scope(requested.contract_ids, requested.customer_ids, caller.business_id)


def business_contracts(cur: duckdb.DuckDBPyConnection, caller: Caller) -> list[str]:
    """Every contract the caller may see."""
    return ownership.business_contract_ids(cur, caller.business_id)


def local_only(caller: Caller, what: str) -> None:
    """Operations on the whole database (import, tokens, Spark) are for a local caller only."""
    if not caller.every_business:
        raise ForbiddenError(f"{what} is not offered to a business's token; run it on the server's machine")
