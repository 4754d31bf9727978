"""``logfire.variables.variable``: the variable classes and helpers, from remotevars.

``Variable`` / ``TemplateVariable`` are remotevars' classes with the SDK's constructor signature
(``logfire_instance=`` instead of ``client=``); like the SDK's, a variable made this way is not
registered. ``_get_result_and_record_span`` (the SDK's read with a render function) is remotevars'
rendered read, and ``_get_contextvar_targeting_key`` the key its targeting context gives a variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, TypeVar

import remotevars
from remotevars import (
    ResolvedVariable,
    ResolveFunction,
    TemplateInputsMismatchError,
    is_resolve_function,
    targeting_context,
)
from remotevars._targeting import current_targeting
from remotevars._template_variable import read_rendered

T = TypeVar('T')
InputsT = TypeVar('InputsT')


def _client_of(logfire_instance: Any) -> remotevars.Client:
    client = getattr(logfire_instance, '_client', None)
    return client if isinstance(client, remotevars.Client) else remotevars.Client()


class Variable(remotevars.Variable[T]):
    def __init__(
        self,
        name: str,
        *,
        default: Any,
        type: Any = None,
        description: str | None = None,
        logfire_instance: Any = None,
    ) -> None:
        super().__init__(name, type=type, default=default, description=description, client=_client_of(logfire_instance))


class TemplateVariable(remotevars.TemplateVariable[T, InputsT], Generic[T, InputsT]):
    def __init__(
        self,
        name: str,
        *,
        default: Any,
        inputs_type: Any,
        type: Any = None,
        description: str | None = None,
        template_mismatch_policy: Any = None,
        logfire_instance: Any = None,
    ) -> None:
        super().__init__(
            name,
            type=type,
            default=default,
            inputs_type=inputs_type,
            description=description,
            client=_client_of(logfire_instance),
            template_mismatch_policy=template_mismatch_policy,
        )


def _get_result_and_record_span(
    self: remotevars.Variable[Any],
    targeting_key: Any,
    attributes: Mapping[str, Any] | None,
    label: str | None,
    render_fn: Any = None,
) -> ResolvedVariable[Any]:
    if render_fn is None:
        return remotevars.Variable.get(self, targeting_key, attributes, label=label)
    return read_rendered(self, render_fn, targeting_key, attributes, label)


# The SDK's private name for a read with a render function, on remotevars' class (test process only).
remotevars.Variable._get_result_and_record_span = _get_result_and_record_span  # type: ignore[attr-defined]


def _get_contextvar_targeting_key(name: str) -> Any:
    targeting = current_targeting()
    return None if targeting is None else targeting.key_for(name)


def get_template_inputs_schema(variable: Any) -> dict[str, Any] | None:
    return variable.template_inputs_schema()


__all__ = [
    'ResolveFunction',
    'TemplateInputsMismatchError',
    'TemplateVariable',
    'Variable',
    'get_template_inputs_schema',
    'is_resolve_function',
    'targeting_context',
]
