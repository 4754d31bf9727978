"""``logfire.variables.local``: the SDK's in-memory provider over a remotevars ``VariablesConfig``.

Reads resolve with remotevars (``VariablesConfig.resolve_serialized_value``); writes raise remotevars'
``VariableAlreadyExistsError`` / ``VariableNotFoundError`` with the messages of its API client; push,
validate and push-types are remotevars' workflows (see ``VariableProvider``).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from logfire.variables.abstract import VariableProvider
from remotevars import ResolvedVariable, VariableAlreadyExistsError, VariableNotFoundError
from remotevars.config import VariableConfig, VariablesConfig, VariableTypeConfig

__all__ = ['LocalVariableProvider']


class LocalVariableProvider(VariableProvider):
    def __init__(self, config: VariablesConfig) -> None:
        self._config = config
        self._types: dict[str, VariableTypeConfig] = {}
        self._lock = threading.Lock()

    def get_serialized_value(
        self, variable_name: str, targeting_key: str | None = None, attributes: Mapping[str, Any] | None = None
    ) -> ResolvedVariable[str | None]:
        with self._lock:
            return self._config.resolve_serialized_value(variable_name, targeting_key, attributes)

    def get_variable_config(self, name: str) -> VariableConfig | None:
        with self._lock:
            return self._config.get_variable_config(name)

    def get_all_variables_config(self) -> VariablesConfig:
        with self._lock:
            return self._config.model_copy(deep=True)

    def create_variable(self, config: VariableConfig) -> VariableConfig:
        with self._lock:
            if config.name in self._config.variables:
                raise VariableAlreadyExistsError(f'Variable {config.name!r} already exists')
            self._config.variables[config.name] = config
        return config

    def update_variable(self, name: str, config: VariableConfig) -> VariableConfig:
        with self._lock:
            if name not in self._config.variables:
                raise VariableNotFoundError(f'Variable {name!r} not found')
            if config.name != name:
                del self._config.variables[name]
            self._config.variables[config.name] = config
        return config

    def delete_variable(self, name: str) -> None:
        with self._lock:
            if name not in self._config.variables:
                raise VariableNotFoundError(f'Variable {name!r} not found')
            del self._config.variables[name]

    def list_variable_types(self) -> dict[str, VariableTypeConfig]:
        return dict(self._types)

    def upsert_variable_type(self, config: VariableTypeConfig) -> VariableTypeConfig:
        self._types[config.name] = config
        return config
