"""Checked by mypy (``make typecheck``), never run: the public API's types flow to the caller."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, assert_type

from pydantic import BaseModel

import remotevars


class Agent(BaseModel):
    model: str


def check() -> None:
    flag = remotevars.var('flag', default=False)
    assert_type(flag, remotevars.Variable[bool])
    assert_type(flag.get().value, bool)
    agent = remotevars.var('agent', type=Agent, default=Agent(model='m'))
    assert_type(agent.get(targeting_key='u', attributes={'plan': 'pro'}).value, Agent)
    with agent.get() as resolved:
        assert_type(resolved.value, Agent)
        assert_type(resolved.label, str | None)
        assert_type(resolved.version, int | None)

    def per_user(key: object, attributes: Mapping[str, object]) -> int:
        return 3

    computed = remotevars.var('computed', type=int, default=per_user)
    assert_type(computed.get().value, int)
    client = remotevars.Client()
    limits = client.var('limits', type=list[int], default=[1])
    assert_type(limits.get().value, list[int])
    optional = client.var('optional', type=int | None, default=None)
    assert_type(optional, remotevars.Variable[Any])
