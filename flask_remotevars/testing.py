"""Helpers for the tests of a Flask app that uses remotevars.

``override_variables(banner_text='Hi', max_items=3)`` serves those values, whatever the config says,
inside a ``with`` block or a decorated function (sync or async), in the current context: requests
made through Flask's test client from the test see them too. See docs/flask.md for a pytest fixture.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from types import TracebackType
from typing import Any, TypeVar, cast

from flask import current_app, has_app_context

import remotevars
from flask_remotevars.extension import EXTENSION_KEY, RemoteVarsState

__all__ = ['override_variables']

F = TypeVar('F', bound=Callable[..., Any])


def _declared(name: str) -> remotevars.Variable[Any] | None:
    """Return the variable ``name`` served by the current app, or declared on the default client."""
    if has_app_context():
        state = current_app.extensions.get(EXTENSION_KEY)
        if isinstance(state, RemoteVarsState):
            found = state.variable(name)
            if found is not None:
                return found
    return remotevars.get_client().get_variable(name)


class override_variables:
    """Serve the given values for the named variables (keyword arguments) in a block or function.

    Each value is validated against its variable's type when read, like ``Variable.override``, and
    may be a resolve function ``(targeting_key, attributes) -> value``. Overrides nest (the inner
    wins) and apply to the current thread or task only. Raises
    :class:`remotevars.VariableNotFoundError` on entry for a name that no variable has, so a typo
    does not silently test nothing.
    """

    def __init__(self, **values: Any) -> None:
        self._values: Mapping[str, Any] = values
        self._stacks: list[ExitStack] = []

    def __repr__(self) -> str:
        return f'override_variables({", ".join(f"{k}={v!r}" for k, v in self._values.items())})'

    def __enter__(self) -> override_variables:
        variables = {name: _declared(name) for name in self._values}
        missing = sorted(name for name, variable in variables.items() if variable is None)
        if missing:
            raise remotevars.VariableNotFoundError(
                f'override_variables: no variable named {", ".join(map(repr, missing))} is declared '
                '(declare it with remotevars.var before overriding it).'
            )
        stack = ExitStack()
        for name, value in self._values.items():
            variable = variables[name]
            assert variable is not None
            stack.enter_context(variable.override(value))
        self._stacks.append(stack)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stacks.pop().close()

    def __call__(self, function: F) -> F:
        """Decorate ``function`` (sync or async) so that each call runs with the overrides."""
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with override_variables(**self._values):
                    return await function(*args, **kwargs)

            return cast(F, async_wrapper)

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with override_variables(**self._values):
                return function(*args, **kwargs)

        return cast(F, wrapper)
