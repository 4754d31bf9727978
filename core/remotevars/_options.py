"""Options for ``configure(variables=...)``: remote (``VariablesOptions``) or local (``LocalVariablesOptions``).

Options are validated when constructed, so a mistake fails at start-up with a clear message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from remotevars._errors import ConfigurationError

if TYPE_CHECKING:
    from remotevars._template import TemplateMismatchPolicy
    from remotevars.config import VariablesConfig

__all__ = [
    'DEFAULT_MAX_CONFIG_BYTES',
    'DEFAULT_MAX_EVENT_BYTES',
    'MIN_POLLING_INTERVAL',
    'LocalVariablesOptions',
    'VariablesOptions',
]

#: Polling is only the fallback for the SSE stream; faster polling just loads the server.
MIN_POLLING_INTERVAL = 10.0
#: The default caps on a config body and on a line or an event of the update stream.
DEFAULT_MAX_CONFIG_BYTES = 64 * 2**20
DEFAULT_MAX_EVENT_BYTES = 2**20


@dataclass
class VariablesOptions:
    """Remote variables: fetch from a Logfire project or a ``remotevars serve`` server.

    ``api_key`` and ``base_url`` default to ``REMOTEVARS_API_KEY`` / ``REMOTEVARS_BASE_URL``; with a
    Logfire key and no base URL, the Logfire region of the key decides the URL (a path in ``base_url``
    is kept, unlike the reference SDK). The key is never shown in reprs or logs.

    ``timeout`` is ``(connect, read)`` for API requests, and ``fetch_deadline`` bounds a whole config
    fetch (a server dripping its answer is cut off). ``sse_read_timeout`` bounds the silence on the
    update stream until the server's keepalive period is known (announced in a response header or
    learned from the keepalives); the bound then follows the period (3 periods plus 2 s, at least
    5 s, at most ``sse_read_timeout``), and a stream that stays silent longer is reopened.
    ``max_config_bytes`` caps a config body and ``max_event_bytes`` a line or an event of the update
    stream: past them the answer is abandoned and the last good config stays. ``cache_file`` keeps the
    last good config on disk, served (reason ``cached``) while no config could be fetched.
    """

    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    block_before_first_resolve: bool = True
    polling_interval: timedelta | float = timedelta(seconds=60)
    first_resolve_timeout: float = 5.0
    timeout: tuple[float, float] = (10.0, 10.0)
    sse: bool = True
    cache_file: str | os.PathLike[str] | None = None
    sse_read_timeout: float = 60.0
    #: What a template read does when its template uses undeclared fields: ignore, warn or error.
    template_mismatch_policy: TemplateMismatchPolicy = 'warn'
    fetch_deadline: float = 30.0
    max_config_bytes: int = DEFAULT_MAX_CONFIG_BYTES
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
    #: Test-only escape hatch: allows a polling interval below MIN_POLLING_INTERVAL (not public API).
    _allow_fast_polling: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        seconds = self.polling_seconds
        if seconds < (0.01 if self._allow_fast_polling else MIN_POLLING_INTERVAL):
            raise ConfigurationError(
                f'polling_interval must be at least {MIN_POLLING_INTERVAL:g} seconds, got {seconds:g}s. '
                'Polling is only a fallback — updates are delivered instantly via SSE.'
            )
        if self.first_resolve_timeout < 0:
            raise ConfigurationError(f'first_resolve_timeout must not be negative, got {self.first_resolve_timeout}')
        if len(self.timeout) != 2 or not all(t > 0 for t in self.timeout):
            raise ConfigurationError(
                f'timeout must be a (connect, read) pair of positive seconds, got {self.timeout!r}'
            )
        for name in ('sse_read_timeout', 'fetch_deadline', 'max_config_bytes', 'max_event_bytes'):
            value = getattr(self, name)
            if not value > 0:
                raise ConfigurationError(f'{name} must be positive, got {value}')

    @property
    def polling_seconds(self) -> float:
        """The polling interval in seconds."""
        interval = self.polling_interval
        return interval.total_seconds() if isinstance(interval, timedelta) else float(interval)


@dataclass
class LocalVariablesOptions:
    """Local variables: a ``VariablesConfig`` in code, or the path of a JSON file of one.

    With a file and ``watch=True`` (the default), saving the file applies the new config without a
    restart; a file that does not parse keeps the last good config.
    """

    config: VariablesConfig | str | os.PathLike[str]
    watch: bool = True
    #: What a template read does when its template uses undeclared fields: ignore, warn or error.
    template_mismatch_policy: TemplateMismatchPolicy = 'warn'

    @property
    def path(self) -> Path | None:
        """The config file's path, or None when the config is an object."""
        return None if hasattr(self.config, 'variables') else Path(self.config)
