"""Pydantic models made from values the engine has just computed (a review's rows, flags and unbilled cycles),
without validating them again: tens of thousands at a time, where validation would cost more than the review.

`made(cls, fields, values)` sets an instance's state as `model_construct` does (the instance's field values, the
set of fields given, no extra and no private attributes), without its per-field loop over defaults. Every field
must be given, with a value of its declared type. The instances of a class share one set of fields given: it
holds every field, so pydantic's only change to it (adding a field that is assigned) changes nothing, and
model_copy copies it before updating it.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

# The slots every BaseModel instance has (BaseModel.__slots__), set directly.
_SET_FIELDS = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_SET_EXTRA = BaseModel.__dict__["__pydantic_extra__"].__set__
_SET_PRIVATE = BaseModel.__dict__["__pydantic_private__"].__set__
_SET_DICT = object.__setattr__


def fields_of(cls: type[BaseModel]) -> set[str]:
    """The names of a model's fields: what `made` records as given (a set, as pydantic keeps it)."""
    return set(cls.model_fields)


def made(cls: type[M], fields: set[str], values: dict) -> M:
    """An instance of `cls` with these field values (every one of `fields`, of its declared type)."""
    obj = cls.__new__(cls)
    _SET_DICT(obj, "__dict__", values)
    _SET_FIELDS(obj, fields)
    _SET_EXTRA(obj, None)
    _SET_PRIVATE(obj, None)
    return obj
