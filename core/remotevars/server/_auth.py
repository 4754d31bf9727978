"""API keys: named keys with a read or write scope (write implies read), found from ``Authorization: bearer <key>``.

Keys are held as SHA-256 digests only; a request's key is hashed once and compared with every
configured digest in constant time. A key's ``name`` is what the history records as the actor, never
the secret. Keys given without a name (``--read-key``/``--write-key``, environment variables) are
named by scope and position: ``read-key-1``, ``write-key-1``, ...
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from remotevars._errors import ConfigurationError

__all__ = ['ANONYMOUS', 'ApiKey', 'Keys', 'Scope', 'bearer_token', 'digest', 'unnamed_keys']

Scope = Literal['read', 'write']

#: The actor name of reads without a key (``--allow-anonymous-read``); never used for writes.
ANONYMOUS = 'anonymous'


def digest(secret: str) -> bytes:
    """Return the SHA-256 digest of a key's secret (what a keys file's ``sha256`` holds, as hex)."""
    return hashlib.sha256(secret.encode()).digest()


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A configured key: its ``name`` (the actor in the history), ``scope`` and the SHA-256 of its secret."""

    name: str
    scope: Scope
    sha256: bytes

    def __repr__(self) -> str:
        return f'ApiKey(name={self.name!r}, scope={self.scope!r})'


def unnamed_keys(read_secrets: Iterable[str], write_secrets: Iterable[str]) -> list[ApiKey]:
    """Return keys for secrets given without names: ``read-key-1``, ..., ``write-key-1``, ... in order."""
    keys = [ApiKey(f'read-key-{i}', 'read', digest(s)) for i, s in enumerate(filter(None, read_secrets), 1)]
    keys += [ApiKey(f'write-key-{i}', 'write', digest(s)) for i, s in enumerate(filter(None, write_secrets), 1)]
    return keys


class Keys:
    """The configured keys; answers which key a request's ``Authorization`` header carries.

    Raises :class:`~remotevars.ConfigurationError` when two keys share a name or a secret.
    """

    def __init__(self, keys: Iterable[ApiKey], *, allow_anonymous_read: bool) -> None:
        self._keys = tuple(keys)
        self.allow_anonymous_read = allow_anonymous_read
        names = [k.name for k in self._keys]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ConfigurationError(f'API key names must be unique: {", ".join(map(repr, repeated))} repeated')
        digests = [k.sha256 for k in self._keys]
        if len(set(digests)) != len(digests):
            shared = sorted(k.name for k in self._keys if digests.count(k.sha256) > 1)
            raise ConfigurationError(f'API keys {", ".join(map(repr, shared))} have the same secret')

    def __len__(self) -> int:
        return len(self._keys)

    def named(self, name: str) -> ApiKey | None:
        """Return the key called ``name``, or None (the console checks its sessions' keys with it)."""
        return next((key for key in self._keys if key.name == name), None)

    def identify(self, authorization: str | None) -> ApiKey | None:
        """Return the key the header carries, or None (no bearer token, or an unknown one)."""
        token = bearer_token(authorization)
        if token is None:
            return None
        presented = digest(token)
        found = None
        # Compare against every key without stopping early, so timing says nothing about which matched.
        for key in self._keys:
            if hmac.compare_digest(presented, key.sha256):
                found = key
        return found


def bearer_token(authorization: str | None) -> str | None:
    """Return the token of a ``bearer`` Authorization header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(' ')
    token = token.strip()
    if scheme.lower() != 'bearer' or not token:
        return None
    return token
