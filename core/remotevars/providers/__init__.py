"""Providers: where configs come from (a local object or file, a remote server) behind one interface."""

from __future__ import annotations

from remotevars.providers._base import ConfigSink, ProviderStatus, VariableProvider
from remotevars.providers.local import LocalProvider

__all__ = ['ConfigSink', 'LocalProvider', 'ProviderStatus', 'VariableProvider']
