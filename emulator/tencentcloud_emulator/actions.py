"""The registry of supported actions, so each handler is declared next to its parameters."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from .models import Account
from .params import Field, Params
from .world import Principal, World

VERSIONS = {"cam": "2019-01-16", "sts": "2018-08-13"}


@dataclasses.dataclass(frozen=True)
class Call:
    """One authenticated call as a handler sees it."""

    world: World
    principal: Principal | None

    @property
    def caller(self) -> Principal:
        assert self.principal is not None, "signed actions always have a principal"
        return self.principal

    @property
    def account(self) -> Account:
        return self.caller.account


Handler = Callable[[Call, Params], dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class Action:
    service: str
    name: str
    fields: tuple[Field, ...]
    handler: Handler
    unsigned: bool = False


REGISTRY: dict[tuple[str, str], Action] = {}


def action(
    service: str, name: str, *fields: Field, unsigned: bool = False
) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        REGISTRY[(service, name)] = Action(service, name, fields, handler, unsigned)
        return handler

    return register


def lookup(service: str, name: str) -> Action | None:
    # Importing the handler modules fills the registry exactly once.
    from . import cam_responses, sts_responses  # noqa: F401

    return REGISTRY.get((service, name))
