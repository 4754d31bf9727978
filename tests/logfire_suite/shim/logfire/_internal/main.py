"""``logfire.Logfire`` of the shim: a remotevars ``Client`` behind the SDK's variables methods."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import remotevars
from remotevars._api import config_to_api_body
from remotevars.config import VariableConfig, VariablesConfig


class InMemoryApi:
    """The subset of ``remotevars._api.ApiClient`` the workflows use, over an in-memory config."""

    def __init__(self, config: VariablesConfig | None = None) -> None:
        self.config = config if config is not None else VariablesConfig(variables={})
        self.types: dict[str, Any] = {}

    def list_variables(self) -> VariablesConfig:
        return self.config.model_copy(deep=True)

    def _put(self, config: VariableConfig) -> None:
        # Round-trip through the write body, as a server would store it.
        body = config_to_api_body(config)
        stored = config.model_copy(deep=True)
        stored.template_inputs_schema = body.get('template_inputs_schema', config.template_inputs_schema)
        self.config.variables[config.name] = stored

    def bulk_write(self, upsert: Sequence[VariableConfig], delete: Sequence[str]) -> None:
        for config in upsert:
            self._put(config)
        for name in delete:
            self.config.variables.pop(name, None)

    def create_variable(self, config: VariableConfig) -> VariableConfig:
        self._put(config)
        return config

    def update_variable(self, name: str, config: VariableConfig) -> VariableConfig:
        self._put(config)
        return config

    def delete_variable(self, name: str) -> None:
        self.config.variables.pop(name, None)

    def list_variable_types(self) -> dict[str, Any]:
        return dict(self.types)

    def upsert_variable_type(self, variable_type: Any) -> Any:
        self.types[variable_type.name] = variable_type
        return variable_type


class LogfireConfig:
    """What tests read from ``logfire_instance.config``."""

    def __init__(self, owner: Logfire, variables: Any) -> None:
        self._owner = owner
        self.variables = variables

    def get_variable_provider(self) -> Any:
        from logfire.variables.local import LocalVariableProvider

        return LocalVariableProvider(self._owner._api.config, client=self._owner._client)


class Logfire:
    """One configured instance: a client (config + registry) and the workflow methods."""

    def __init__(self, variables: Any = None, *, share_with: Logfire | None = None) -> None:
        self._client = remotevars.Client(share_variables_with=share_with._client if share_with is not None else None)
        self._api = InMemoryApi()
        self.config = LogfireConfig(self, variables)
        self._configure(variables)

    def _configure(self, variables: Any) -> None:
        from logfire._internal.config import LocalVariablesOptions

        self.config.variables = variables
        if isinstance(variables, LocalVariablesOptions):
            config = variables.config
            self._api = InMemoryApi(config if isinstance(config, VariablesConfig) else None)
            self._client.configure(variables.to_remotevars())
        else:
            self._client.configure(None)

    @property
    def _variables(self) -> dict[str, Any]:
        return self._client._registry

    def with_settings(self, **kwargs: Any) -> Logfire:
        sibling = Logfire.__new__(Logfire)
        sibling._client = remotevars.Client(share_variables_with=self._client)
        sibling._client.configure(self._client.options)
        sibling._api = self._api
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

    def _console(self) -> Any:
        from remotevars.push import make_console

        return make_console(sys.stdout, True, None, can_prompt=False)

    def variables_push(
        self, variables: Sequence[Any] | None = None, *, dry_run: bool = False, yes: bool = False, strict: bool = True
    ) -> bool:
        from remotevars.push import run_push

        local = self.variables_get() if variables is None else list(variables)
        return run_push(local, self._api, self._console(), dry_run=dry_run, yes=yes, strict=strict).ok  # type: ignore[arg-type]

    def variables_validate(self, variables: Sequence[Any] | None = None) -> Any:
        from remotevars._plan import ValidationReport, validate_report

        local = self.variables_get() if variables is None else list(variables)
        if not local:
            return ValidationReport([], 0, [])
        return validate_report(local, self._api.list_variables())

    def variables_push_types(
        self, types: Sequence[Any], *, dry_run: bool = False, yes: bool = False, strict: bool = True
    ) -> bool:
        from remotevars.push import run_push_types

        return run_push_types(types, self._api, self._console(), dry_run=dry_run, yes=yes, strict=strict).ok  # type: ignore[arg-type]

    def variables_build_config(self, variables: Sequence[Any] | None = None) -> VariablesConfig:
        local = self.variables_get() if variables is None else list(variables)
        return VariablesConfig.from_variables(local)

    def variables_pull_config(self) -> VariablesConfig:
        return self._api.list_variables()

    def variables_push_config(
        self, config: VariablesConfig, *, mode: str = 'merge', dry_run: bool = False, yes: bool = False
    ) -> bool:
        from remotevars.push import run_push_config

        return run_push_config(config, self._api, self._console(), mode=mode, dry_run=dry_run, yes=yes).ok  # type: ignore[arg-type]
