"""Providers: where configs come from (a local object or file, a remote server) behind one interface.

``RemoteProvider`` is imported on first use, so that programs using only local configs do not pay
for importing the HTTP stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from remotevars.providers._base import ConfigSink, ProviderStatus, VariableProvider
from remotevars.providers.local import LocalProvider

if TYPE_CHECKING:
    from remotevars.providers.remote import RemoteProvider

__all__ = ['ConfigSink', 'LocalProvider', 'ProviderStatus', 'RemoteProvider', 'VariableProvider']


def __getattr__(name: str) -> Any:
    if name == 'RemoteProvider':
        from remotevars.providers.remote import RemoteProvider

        return RemoteProvider
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
