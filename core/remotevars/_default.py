"""The module-level default client and the functions that act on it (``remotevars.var`` ...)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, TypeVar, overload

from remotevars._client import Client
from remotevars._options import LocalVariablesOptions, VariablesOptions
from remotevars._variable import Variable

if TYPE_CHECKING:
    from remotevars._template import TemplateMismatchPolicy
    from remotevars._template_variable import TemplateVariable

__all__ = ['configure', 'get_client', 'shutdown', 'template_var', 'var', 'variables_get']

T = TypeVar('T')
InputsT = TypeVar('InputsT')

DEFAULT_CLIENT: Final = Client()


def get_client() -> Client:
    """Return the default client (the one ``remotevars.var`` and ``remotevars.configure`` use)."""
    return DEFAULT_CLIENT


def configure(variables: VariablesOptions | LocalVariablesOptions | None = None) -> None:
    """Configure the default client: remote (``VariablesOptions``), local, or nothing (defaults)."""
    DEFAULT_CLIENT.configure(variables)


@overload
def var(name: str, *, type: type[T], default: object, description: str | None = None) -> Variable[T]: ...


@overload
def var(name: str, *, default: T, description: str | None = None) -> Variable[T]: ...


@overload
def var(name: str, *, type: Any, default: Any, description: str | None = None) -> Variable[Any]: ...


def var(name: str, *, type: Any = None, default: Any, description: str | None = None) -> Variable[Any]:
    """Declare a variable on the default client; see :meth:`Client.var`."""
    return DEFAULT_CLIENT.var(name, type=type, default=default, description=description)


@overload
def template_var(
    name: str,
    *,
    type: type[T],
    default: object,
    inputs_type: type[InputsT],
    description: str | None = None,
    template_mismatch_policy: TemplateMismatchPolicy | None = None,
) -> TemplateVariable[T, InputsT]: ...


@overload
def template_var(
    name: str,
    *,
    default: T,
    inputs_type: type[InputsT],
    description: str | None = None,
    template_mismatch_policy: TemplateMismatchPolicy | None = None,
) -> TemplateVariable[T, InputsT]: ...


@overload
def template_var(
    name: str,
    *,
    type: Any = None,
    default: Any,
    inputs_type: Any,
    description: str | None = None,
    template_mismatch_policy: TemplateMismatchPolicy | None = None,
) -> TemplateVariable[Any, Any]: ...


def template_var(
    name: str,
    *,
    type: Any = None,
    default: Any,
    inputs_type: Any,
    description: str | None = None,
    template_mismatch_policy: TemplateMismatchPolicy | None = None,
) -> TemplateVariable[Any, Any]:
    """Declare a template variable on the default client; see :meth:`Client.template_var`."""
    return DEFAULT_CLIENT.template_var(
        name,
        type=type,
        default=default,
        inputs_type=inputs_type,
        description=description,
        template_mismatch_policy=template_mismatch_policy,
    )


def variables_get() -> list[Variable[Any]]:
    """Return the variables registered on the default client."""
    return DEFAULT_CLIENT.variables()


def shutdown(timeout: float = 1.0) -> None:
    """Stop the default client's background work."""
    DEFAULT_CLIENT.shutdown(timeout)
