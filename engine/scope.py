"""What a bill run, a review or a count covers: ONE typed value instead of three loose lists.

`None` means "no filter"; an empty tuple means "none" (an empty scope bills nothing: docs/RULES.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


def _ids(values: Iterable[str] | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(dict.fromkeys(values))


@dataclass(frozen=True)
class Scope:
    """Contracts in scope: those named (`contract_ids`), of the customers named (`customer_ids`), of one
    business (`business_id`); every filter given applies."""

    contract_ids: tuple[str, ...] | None = None
    customer_ids: tuple[str, ...] | None = None
    business_id: str | None = None

    @classmethod
    def of(
        cls,
        contract_ids: Iterable[str] | None = None,
        customer_ids: Iterable[str] | None = None,
        business_id: str | None = None,
    ) -> Scope:
        return cls(_ids(contract_ids), _ids(customer_ids), business_id)

    @classmethod
    def from_dict(cls, stored: dict | None) -> Scope:
        """The scope a bill run stored (its `scope` JSON)."""
        stored = stored or {}
        return cls.of(stored.get("contract_ids"), stored.get("customer_ids"), stored.get("business_id"))

    def as_dict(self) -> dict:
        """As stored with a bill run and shown in its report (lists, None = no filter)."""
        return {
            "contract_ids": None if self.contract_ids is None else list(self.contract_ids),
            "customer_ids": None if self.customer_ids is None else list(self.customer_ids),
            "business_id": self.business_id,
        }

    @property
    def is_empty(self) -> bool:
        """Names an empty list: nothing is in scope."""
        return self.contract_ids == () or self.customer_ids == ()


EVERYTHING = Scope()
