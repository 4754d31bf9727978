"""Flask integration for remotevars (a Flask extension); filled in by a later issue."""

from __future__ import annotations

__all__: list[str] = []
