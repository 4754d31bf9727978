"""A thin shim that maps the Logfire SDK's variables API onto remotevars, to run the SDK's own tests.

Only what those tests use: ``logfire.configure`` returns an instance wrapping a remotevars ``Client``;
``var``/``template_var``/``variables_*`` go to it. Spans and baggage are no-ops (remotevars has none).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from logfire._internal.config import LocalVariablesOptions, VariablesOptions
from logfire._internal.main import Logfire

DEFAULT_LOGFIRE_INSTANCE = Logfire()
_current = DEFAULT_LOGFIRE_INSTANCE


def configure(*, variables: Any = None, local: bool = False, **_ignored: Any) -> Logfire:
    global _current
    if isinstance(variables, dict):
        variables = VariablesOptions(**variables)
    elif variables is not None and hasattr(variables, 'variables') and not isinstance(variables, LocalVariablesOptions):
        variables = LocalVariablesOptions(config=variables)
    if local:
        return Logfire(variables)
    DEFAULT_LOGFIRE_INSTANCE._configure(variables)
    _current = DEFAULT_LOGFIRE_INSTANCE
    return DEFAULT_LOGFIRE_INSTANCE


def var(*args: Any, **kwargs: Any) -> Any:
    return _current.var(*args, **kwargs)


def template_var(*args: Any, **kwargs: Any) -> Any:
    return _current.template_var(*args, **kwargs)


def variables_get() -> list[Any]:
    return _current.variables_get()


def variables_clear() -> None:
    _current.variables_clear()


def variables_push(*args: Any, **kwargs: Any) -> bool:
    return _current.variables_push(*args, **kwargs)


def variables_validate(*args: Any, **kwargs: Any) -> Any:
    return _current.variables_validate(*args, **kwargs)


def variables_push_types(*args: Any, **kwargs: Any) -> bool:
    return _current.variables_push_types(*args, **kwargs)


def variables_build_config(*args: Any, **kwargs: Any) -> Any:
    return _current.variables_build_config(*args, **kwargs)


def variables_pull_config() -> Any:
    return _current.variables_pull_config()


def variables_push_config(*args: Any, **kwargs: Any) -> bool:
    return _current.variables_push_config(*args, **kwargs)


def with_settings(**kwargs: Any) -> Logfire:
    return _current.with_settings(**kwargs)


def get_baggage() -> dict[str, str]:
    return {}


@contextlib.contextmanager
def set_baggage(**_values: str) -> Iterator[None]:
    yield


@contextlib.contextmanager
def span(*_args: Any, **_kwargs: Any) -> Iterator[None]:
    yield


__all__ = [
    'DEFAULT_LOGFIRE_INSTANCE',
    'LocalVariablesOptions',
    'Logfire',
    'VariablesOptions',
    'configure',
    'get_baggage',
    'set_baggage',
    'span',
    'template_var',
    'var',
    'variables_build_config',
    'variables_clear',
    'variables_get',
    'variables_pull_config',
    'variables_push',
    'variables_push_config',
    'variables_push_types',
    'variables_validate',
    'with_settings',
]
