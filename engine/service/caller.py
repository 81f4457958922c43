"""Who is asking: the business a caller is scoped to (or every business) and the actor of its changes.

local (CLI, workbench, notebooks)   every business     actor: --actor / "Your name" / the OS user
HTTP API, MCP over HTTP              the token's one    actor: the token's name (api:<name> over MCP)
MCP over stdio                       --business B       actor: mcp:<OS user> or --actor

The actor is bounded as every name is (at most limits.MAX_NAME characters, storable): refused as validation_error.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import limits
from ..billing.audit import default_actor, resolve_actor
from .requests import ActorRequest, parse

__all__ = ["Caller", "default_actor"]


@dataclass(frozen=True)
class Caller:
    business_id: str | None  # None: every business (a local user of the whole database)
    actor: str

    def __post_init__(self) -> None:
        """The actor is a name like every other (limits.MAX_NAME, limits.text_problem), on one line: one too long, or
        holding a control character, a tab or a line break, is refused (validation_error) before anything is read or
        written, whichever front end named it (--actor, "Your name", a token's name, `billsim mcp --actor`)."""
        actor = self.actor
        plain = isinstance(actor, str) and 1 <= len(actor) <= limits.MAX_NAME and actor.isprintable()
        if not (plain and limits.text_problem(actor) is None):
            parse(ActorRequest, {"actor": actor})  # refused in the words of every request's names

    @classmethod
    def local(cls, actor: str | None = None) -> Caller:
        """A person at this machine: every business; the actor given, else the OS user."""
        return cls(None, resolve_actor(actor))

    @classmethod
    def of_business(cls, business_id: str, actor: str) -> Caller:
        return cls(business_id, actor)

    @property
    def every_business(self) -> bool:
        return self.business_id is None

    def sees(self, business_id: str | None) -> bool:
        """Whether something of `business_id` is visible to this caller."""
        return self.business_id is None or business_id == self.business_id
