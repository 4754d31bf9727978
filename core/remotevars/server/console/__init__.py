"""The web console of ``remotevars serve`` at ``/ui/``: variables, labels, rollouts, overrides, history, in a browser.

Server-rendered (Jinja2) pages over the server's operations, a few lines of hand-written JavaScript
where it helps (live rows, the rollout remainder), no build step. Sign-in with an API key: a write key
edits, a read key only looks (docs/server.md, "Console").
"""

from __future__ import annotations

from remotevars.server.console._app import PREFIX, console_routes
from remotevars.server.console._rate_limit import SignInLimiter
from remotevars.server.console._session import Sessions

__all__ = ['PREFIX', 'Sessions', 'SignInLimiter', 'console_routes']
