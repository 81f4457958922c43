"""API tokens (spec section 9): shown once, stored only as a hash, listed without it, revocable."""

from __future__ import annotations

import hashlib

import pytest

from engine.access.tokens import (
    TOKEN_PREFIX,
    business_of_token,
    create_token,
    list_tokens,
    revoke_token,
    token_identity,
)
from engine.errors import NotFoundError, ValidationError


def test_a_token_is_stored_only_as_its_sha256(con):
    token = create_token(con, "B1", "ci")
    assert token.startswith(TOKEN_PREFIX) and len(token) > 40
    rows = con.execute("SELECT name, business_id, token_hash FROM api_tokens").fetchall()
    assert rows == [("ci", "B1", hashlib.sha256(token.encode()).hexdigest())]
    stored = " ".join(str(v) for v in con.execute("SELECT * FROM api_tokens").fetchone())
    assert token not in stored
    assert business_of_token(con, token) == "B1"
    assert token_identity(con, token) == {"name": "ci", "business_id": "B1"}


def test_tokens_are_new_each_time_and_names_unique(con):
    first, second = create_token(con, "B1", "a"), create_token(con, "B1", "b")
    assert first != second
    with pytest.raises(ValidationError, match="already exists"):
        create_token(con, "B2", "a")
    for business, name in (("", "x"), ("B1", "  "), ("B1", "x" * 101), ("B1", "bad\nname")):
        with pytest.raises(ValidationError):
            create_token(con, business, name)
    assert [t["name"] for t in list_tokens(con)] == ["b", "a"]  # newest first


def test_list_never_shows_the_token_or_its_hash(con):
    token = create_token(con, "B1", "ci")
    (row,) = list_tokens(con)
    assert set(row) == {"name", "business_id", "created_at", "revoked_at"}
    assert token not in str(row) and hashlib.sha256(token.encode()).hexdigest() not in str(row)


def test_a_revoked_or_unknown_token_belongs_to_no_business(con):
    token = create_token(con, "B1", "ci")
    revoked = revoke_token(con, "ci")
    assert revoked["revoked_at"] is not None
    assert business_of_token(con, token) is None and token_identity(con, token) is None
    assert revoke_token(con, "ci")["revoked_at"] == revoked["revoked_at"]  # a second revoke changes nothing
    assert list_tokens(con)[0]["revoked_at"] == revoked["revoked_at"]  # the row stays, to see when
    for presented in (None, "", "bsk_unknown", token + "x"):
        assert business_of_token(con, presented) is None
    with pytest.raises(NotFoundError):
        revoke_token(con, "nope")
