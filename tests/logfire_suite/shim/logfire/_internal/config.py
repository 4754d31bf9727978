"""The SDK's options classes, mapped onto remotevars' (instrumentation and baggage switches are ignored)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import remotevars
from logfire._internal.main import LogfireConfig  # noqa: F401  (tests import the name)

TemplateMismatchPolicy = Literal['ignore', 'warn', 'error']


@dataclass
class LocalVariablesOptions:
    config: Any
    instrument: bool = True
    include_resource_attributes_in_context: bool = True
    include_baggage_in_context: bool = True
    template_mismatch_policy: TemplateMismatchPolicy = 'warn'

    def to_remotevars(self) -> remotevars.LocalVariablesOptions:
        return remotevars.LocalVariablesOptions(
            config=self.config, template_mismatch_policy=self.template_mismatch_policy
        )


@dataclass
class VariablesOptions:
    block_before_first_resolve: bool = True
    polling_interval: timedelta | float = timedelta(seconds=30)
    timeout: tuple[float, float] = (10, 10)
    instrument: bool = True
    include_resource_attributes_in_context: bool = True
    include_baggage_in_context: bool = True
    template_mismatch_policy: TemplateMismatchPolicy = 'warn'

    def __post_init__(self) -> None:
        # The SDK's polling-interval check, through remotevars' own.
        remotevars.VariablesOptions(base_url='http://127.0.0.1:1', api_key='k', polling_interval=self.polling_interval)
