"""Testing helpers: ``override_variables(**values)``, used like Django's ``override_settings``.

As a decorator of a function or of a ``SimpleTestCase``/``TestCase`` class (each test runs with the
values) or as a context manager::

    @override_variables(banner_text='Sale!', max_items=3)
    def test_banner(client): ...

    with override_variables(banner_text='Sale!'):
        ...

A value may be a resolve function of ``(targeting_key, attributes)``. Overrides act in the current
context (thread or task) and are checked against the variable's type like any config value.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from django.test.utils import TestContextDecorator

import remotevars
from remotevars._errors import ConfigurationError

__all__ = ['override_variables']


class override_variables(TestContextDecorator):
    """Serve the given values for the named variables of the default client while active."""

    def __init__(self, **values: Any) -> None:
        self.values = values
        self._stacks: list[ExitStack] = []
        super().__init__()

    def enable(self) -> None:
        """Start serving the values; raises ``ConfigurationError`` for a name no variable has."""
        client = remotevars.get_client()
        stack = ExitStack()
        try:
            for name, value in self.values.items():
                variable = client.get_variable(name)
                if variable is None:
                    raise ConfigurationError(
                        f'override_variables: no variable named {name!r} is registered '
                        "(is its module discovered: an app's variables.py or REMOTEVARS_MODULES?)"
                    )
                stack.enter_context(variable.override(value))
        except BaseException:
            stack.close()
            raise
        # A stack per activation, so nested uses of one decorator (e.g. recursion) unwind in order.
        self._stacks.append(stack)

    def disable(self) -> None:
        """Stop serving the values of the latest activation."""
        self._stacks.pop().close()
