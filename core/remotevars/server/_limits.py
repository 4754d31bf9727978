"""The server's limits: how much a request may hold and how long a connection may take (docs/server.md).

One frozen :class:`Limits` configures both halves: :func:`~remotevars.server.create_app` applies the
body and validation limits, :func:`~remotevars.server.make_server` the connection ones (through
``app.state.limits``). Every field has a default; ``remotevars serve`` exposes each as an option.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Final

__all__ = ['DEFAULT_MAX_CONNECTIONS', 'Limits']

#: The connection cap when :attr:`Limits.max_connections` is None and the open-file limit is higher.
DEFAULT_MAX_CONNECTIONS: Final = 10_000


@dataclass(frozen=True, slots=True)
class Limits:
    """What the server accepts; each field's comment says what exceeding it answers.

    Raises ValueError at construction for a limit that is not positive.
    """

    #: Largest request body in bytes (413, before the body is read whole).
    max_body_bytes: int = 2 * 1024 * 1024
    #: Deepest nesting of arrays and objects in a body or a ``serialized_value`` (422).
    max_json_depth: int = 64
    #: Longest regex pattern of a condition, in characters (422).
    max_pattern_length: int = 1_000
    #: All regex patterns of one request body together, in characters (422): bounds the compile work of a write.
    max_total_pattern_length: int = 10_000
    #: Labels per variable (422).
    max_labels: int = 100
    #: Overrides per variable (422).
    max_overrides: int = 100
    #: Longest variable (and alias) name, in characters (422).
    max_name_length: int = 128
    #: Longest label name, in characters (422).
    max_label_length: int = 128
    #: Seconds a connection may take to send a request's headers, counted from when it is ready for one (closed).
    header_timeout: float = 10.0
    #: Seconds a request's body may take to arrive after its headers (closed).
    body_timeout: float = 30.0
    #: Seconds an idle keep-alive connection stays open between requests (closed).
    idle_timeout: float = 5.0
    #: Largest request line plus headers, in bytes (431, closed).
    max_header_bytes: int = 64 * 1024
    #: Open connections; None: 10,000, or the open-file limit minus 100 when that is lower. Past it, the
    #: connection that has waited longest for its headers is closed to admit the new one.
    max_connections: int | None = None

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is not None and (isinstance(value, bool) or not value > 0):
                raise ValueError(f'Limits.{field.name} must be positive, got {value!r}')
