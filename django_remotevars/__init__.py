"""Django integration for remotevars (an app for ``INSTALLED_APPS``); filled in by a later issue."""

from __future__ import annotations

__all__: list[str] = []
