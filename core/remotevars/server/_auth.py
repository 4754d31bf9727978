"""API-key checks: ``Authorization: bearer <key>`` with read and write scopes (write implies read)."""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from typing import Literal

__all__ = ['Keys', 'Scope']

Scope = Literal['read', 'write']


class Keys:
    """The configured keys; answers which scope a request's ``Authorization`` header grants."""

    def __init__(self, read_keys: Iterable[str], write_keys: Iterable[str], *, allow_anonymous_read: bool) -> None:
        self._read = tuple(k.encode() for k in read_keys if k)
        self._write = tuple(k.encode() for k in write_keys if k)
        self._anonymous_read = allow_anonymous_read

    def scope(self, authorization: str | None) -> Scope | None:
        """Return the scope the header grants, or None when there is no valid key (and no anonymous reads)."""
        key = _bearer_token(authorization)
        if key is not None:
            # Compare against every key without stopping early, so timing says nothing about which matched.
            is_write = any([hmac.compare_digest(key, k) for k in self._write])
            is_read = any([hmac.compare_digest(key, k) for k in self._read])
            if is_write:
                return 'write'
            if is_read:
                return 'read'
            return None
        return 'read' if self._anonymous_read else None

    def has_key(self, authorization: str | None) -> bool:
        """Return whether the header carries a bearer token at all."""
        return _bearer_token(authorization) is not None


def _bearer_token(authorization: str | None) -> bytes | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(' ')
    token = token.strip()
    if scheme.lower() != 'bearer' or not token:
        return None
    return token.encode()
