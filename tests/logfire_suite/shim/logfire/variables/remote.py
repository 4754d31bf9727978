"""``logfire.variables.remote``: names the SDK's tests import; the SDK's remote provider is not mapped."""

from __future__ import annotations

from typing import Any

_CONSECUTIVE_FAILURES_BEFORE_ERROR = 5


class LogfireRemoteVariableProvider:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError('the Logfire remote provider internals are not applicable to remotevars')
