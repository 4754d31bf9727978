"""``logfire.variables.local``: an in-memory store with the SDK provider's workflow methods."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from logfire._internal.main import InMemoryApi
from remotevars.config import VariablesConfig


class LocalVariableProvider(InMemoryApi):
    def __init__(self, config: VariablesConfig, client: Any = None) -> None:
        super().__init__(config)

    def get_all_variables_config(self) -> VariablesConfig:
        return self.list_variables()

    def get_variable_config(self, name: str) -> Any:
        return self.config.variables.get(name)

    def refresh(self, force: bool = False) -> None:
        pass

    def _console(self) -> Any:
        from remotevars.push import make_console

        return make_console(sys.stdout, True, None, can_prompt=False)

    def push_variables(
        self, variables: Sequence[Any], *, dry_run: bool = False, yes: bool = False, strict: bool = True
    ) -> bool:
        from remotevars.push import run_push

        return run_push(list(variables), self, self._console(), dry_run=dry_run, yes=yes, strict=strict).ok  # type: ignore[arg-type]

    def validate_variables(self, variables: Sequence[Any]) -> Any:
        from remotevars._plan import ValidationReport, validate_report

        if not variables:
            return ValidationReport([], 0, [])
        return validate_report(list(variables), self.list_variables())

    def push_variable_types(
        self, types: Sequence[Any], *, dry_run: bool = False, yes: bool = False, strict: bool = True
    ) -> bool:
        from remotevars.push import run_push_types

        return run_push_types(types, self, self._console(), dry_run=dry_run, yes=yes, strict=strict).ok  # type: ignore[arg-type]


__all__ = ['LocalVariableProvider']
