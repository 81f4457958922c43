"""Review before approval (spec section 8): review flags, thresholds per business, unbilled cycles."""

from .flags import FLAGS, check_flags
from .review import approve_unflagged, review, unflagged_draft_ids
from .table import ReviewColumns, exact_major, review_table
from .thresholds import get_thresholds, set_thresholds
from .unbilled import UNBILLED_LISTED, unbilled_cycles

__all__ = [
    "FLAGS",
    "UNBILLED_LISTED",
    "ReviewColumns",
    "approve_unflagged",
    "check_flags",
    "exact_major",
    "get_thresholds",
    "review",
    "review_table",
    "set_thresholds",
    "unbilled_cycles",
    "unflagged_draft_ids",
]
