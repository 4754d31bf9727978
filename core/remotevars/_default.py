"""The module-level default client and the functions that act on it (``remotevars.var`` ...)."""

from __future__ import annotations

from typing import Any, Final, TypeVar, overload

from remotevars._client import Client
from remotevars._options import LocalVariablesOptions, VariablesOptions
from remotevars._variable import Variable

__all__ = ['configure', 'get_client', 'shutdown', 'var', 'variables_get']

T = TypeVar('T')

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


def variables_get() -> list[Variable[Any]]:
    """Return the variables registered on the default client."""
    return DEFAULT_CLIENT.variables()


def shutdown(timeout: float = 1.0) -> None:
    """Stop the default client's background work."""
    DEFAULT_CLIENT.shutdown(timeout)
