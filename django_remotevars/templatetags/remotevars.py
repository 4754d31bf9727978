"""``{% load remotevars %}``: ``{% remotevar "banner_text" as banner %}``, optionally ``label="canary"``,
and ``{% remotevar_render "welcome" user=request.user %}`` for template variables.

The tags read a variable's value with the request's targeting (set by the middleware); with ``label=`` it
serves that label when the config has it (and falls back to the normal resolution when it does not).
Without ``as`` they print the value, escaped like any other value. A name that no variable has gives an
empty string. ``remotevar_render`` renders a template variable with its keyword arguments as inputs
(validated as the variable's ``inputs_type``, objects read by attribute); ``remotevar`` on a template
variable renders it with no inputs.
"""

from __future__ import annotations

from typing import Any

from django import template

import remotevars as _remotevars

__all__ = ['register', 'remotevar', 'remotevar_render']

register = template.Library()


@register.simple_tag
def remotevar(name: str, label: str | None = None, targeting_key: Any = None) -> Any:
    """Return the value of the variable ``name`` (an empty string when no such variable is registered)."""
    variable = _remotevars.get_client().get_variable(name)
    if variable is None:
        return ''
    if isinstance(variable, _remotevars.TemplateVariable):
        return variable.get(None, targeting_key, label=label).value
    return variable.get(targeting_key, label=label).value


@register.simple_tag
def remotevar_render(name: str, **inputs: Any) -> Any:
    """Return the template variable ``name`` rendered with ``inputs`` (empty string: no such template variable)."""
    variable = _remotevars.get_client().get_variable(name)
    if not isinstance(variable, _remotevars.TemplateVariable):
        return ''
    return variable.get(variable.inputs_from(inputs)).value
