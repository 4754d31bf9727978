"""``{% load remotevars %}``: ``{% remotevar "banner_text" as banner %}``, optionally ``label="canary"``.

The tag reads a variable's value with the request's targeting (set by the middleware); with ``label=`` it
serves that label when the config has it (and falls back to the normal resolution when it does not).
Without ``as`` it prints the value (escaped). A name that no variable has gives an empty string.
"""

from __future__ import annotations

from typing import Any

from django import template

import remotevars as _remotevars

__all__ = ['register', 'remotevar']

register = template.Library()


@register.simple_tag
def remotevar(name: str, label: str | None = None, targeting_key: Any = None) -> Any:
    """Return the value of the variable ``name`` (an empty string when no such variable is registered)."""
    variable = _remotevars.get_client().get_variable(name)
    if variable is None:
        return ''
    return variable.get(targeting_key, label=label).value
