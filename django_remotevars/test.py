"""Testing helpers: ``override_variables(**values)``, used like Django's ``override_settings``, and
``live_variables()``, the opt-in to the configured source in hermetic test runs.

As a decorator of a function or of a ``SimpleTestCase``/``TestCase`` class (each test runs with the
values) or as a context manager::

    @override_variables(banner_text='Sale!', max_items=3)
    def test_banner(client): ...

    with override_variables(banner_text='Sale!'):
        ...

A value may be a resolve function of ``(targeting_key, attributes)``. Overrides act in the current
context (thread or task) and are checked against the variable's type like any config value.

Test runs are hermetic (pytest, through the plugin the package registers, and ``manage.py test``): the
app does not connect, so reads serve code defaults. ``@live_variables()`` (a class or function decorator,
or a context manager; the ``remotevars_live`` pytest fixture does the same) serves the source the
settings name while active, and follows ``override_settings`` changes inside it::

    @override_settings(REMOTEVARS_BASE_URL='http://127.0.0.1:8700', REMOTEVARS_API_KEY='read-key')
    @live_variables()
    class LiveTests(TestCase): ...
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from django.test.utils import TestContextDecorator

import remotevars
from remotevars._errors import ConfigurationError

__all__ = ['live_variables', 'override_variables']


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


class live_variables(TestContextDecorator):
    """Serve the source the ``REMOTEVARS_*`` settings name (a server, a file) while active.

    Entering starts the default client from the settings and waits (up to
    ``REMOTEVARS_FIRST_RESOLVE_TIMEOUT``) for its first config; leaving goes back to code defaults.
    Raises :class:`remotevars.ConfigurationError` on entry for settings that cannot work. As a context
    manager it yields the default client.
    """

    def enable(self) -> remotevars.Client:
        """Start the client from the settings; returns it."""
        from django_remotevars import _runtime, conf

        client = _runtime.start(live=True)
        client.wait_for_first_config(float(conf.get('REMOTEVARS_FIRST_RESOLVE_TIMEOUT')))
        return client

    def disable(self) -> None:
        """Stop serving the source once the outermost ``live_variables`` ends (code defaults again)."""
        from django_remotevars import _runtime

        _runtime.stop(live=True)
