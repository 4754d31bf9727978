"""``logfire.Logfire`` of the shim: a remotevars ``Client`` for reads, and a provider for the workflows.

Reads go through the client (configured with remotevars' ``LocalVariablesOptions``); push, validate,
push-types and the config workflows go, as in the SDK, to ``config.get_variable_provider()``, an
in-memory provider running remotevars' workflow functions (``logfire.variables.local``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import remotevars
from remotevars.config import VariablesConfig


class LogfireConfig:
    """What tests read from ``logfire_instance.config``: the variables options and the provider."""

    def __init__(self, variables: Any) -> None:
        self.variables = variables
        self._variable_provider: Any = None

    def get_variable_provider(self) -> Any:
        return self._variable_provider


class Logfire:
    """One configured instance: a client (config + registry) and the workflow methods."""

    def __init__(self, variables: Any = None) -> None:
        self._client = remotevars.Client()
        self.config = LogfireConfig(variables)
        self._configure(variables)

    def _configure(self, variables: Any) -> None:
        from logfire._internal.config import LocalVariablesOptions
        from logfire.variables.local import LocalVariableProvider

        self.config.variables = variables
        config = VariablesConfig(variables={})
        if isinstance(variables, LocalVariablesOptions):
            if isinstance(variables.config, VariablesConfig):
                config = variables.config
            self._client.configure(variables.to_remotevars())
        else:
            self._client.configure(None)
        self.config._variable_provider = LocalVariableProvider(config)

    @property
    def _variables(self) -> dict[str, Any]:
        return self._client._registry

    def with_settings(self, **kwargs: Any) -> Logfire:
        sibling = Logfire.__new__(Logfire)
        sibling._client = remotevars.Client(share_variables_with=self._client)
        sibling._client.configure(self._client.options)
        sibling.config = self.config
        return sibling

    def var(self, name: str, *, type: Any = None, default: Any, description: str | None = None) -> Any:
        return self._client.var(name, type=type, default=default, description=description)

    def template_var(self, name: str, **kwargs: Any) -> Any:
        return self._client.template_var(name, **kwargs)

    def variables_get(self) -> list[Any]:
        return self._client.variables()

    def variables_clear(self) -> None:
        self._client.clear()

    def _local(self, variables: Sequence[Any] | None) -> list[Any]:
        return self.variables_get() if variables is None else list(variables)

    def variables_push(
        self,
        variables: Sequence[Any] | None = None,
        *,
        dry_run: bool = False,
        yes: bool = False,
        strict: bool | None = None,
    ) -> bool:
        from logfire.variables.abstract import STRICT_PUSH

        strict = STRICT_PUSH if strict is None else strict
        provider = self.config.get_variable_provider()
        return provider.push_variables(self._local(variables), dry_run=dry_run, yes=yes, strict=strict)

    def variables_validate(self, variables: Sequence[Any] | None = None) -> Any:
        return self.config.get_variable_provider().validate_variables(self._local(variables))

    def variables_push_types(
        self, types: Sequence[Any], *, dry_run: bool = False, yes: bool = False, strict: bool | None = None
    ) -> bool:
        from logfire.variables.abstract import STRICT_PUSH_TYPES

        strict = STRICT_PUSH_TYPES if strict is None else strict
        provider = self.config.get_variable_provider()
        return provider.push_variable_types(types, dry_run=dry_run, yes=yes, strict=strict)

    def variables_build_config(self, variables: Sequence[Any] | None = None) -> VariablesConfig:
        return remotevars.variables_build_config(self._local(variables))

    def variables_pull_config(self) -> VariablesConfig:
        return self.config.get_variable_provider().pull_config()

    def variables_push_config(
        self, config: VariablesConfig, *, mode: str = 'merge', dry_run: bool = False, yes: bool = False
    ) -> bool:
        return self.config.get_variable_provider().push_config(config, mode=mode, dry_run=dry_run, yes=yes)
