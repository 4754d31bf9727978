"""The keys file of ``remotevars serve --keys-file``: named API keys in TOML, secrets or only their hashes.

::

    [[keys]]
    name = "ci"                 # the actor the history records
    scope = "write"             # "read" or "write" (write implies read)
    sha256 = "<64 hex digits>"  # the SHA-256 of the secret ...
    # secret = "..."            # ... or the secret itself

:func:`key_entry` writes such an entry (``remotevars keys new``).
"""

from __future__ import annotations

import re
import secrets
import tomllib
from pathlib import Path
from typing import Any

from remotevars._errors import ConfigurationError
from remotevars.server._auth import ApiKey, Scope, digest

__all__ = ['KEY_NAME_PATTERN', 'key_entry', 'load_keys_file', 'new_secret']

KEY_NAME_PATTERN = re.compile(r'[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}')
_HEX_SHA256 = re.compile(r'[0-9a-fA-F]{64}')
_FIELDS = frozenset({'name', 'scope', 'secret', 'sha256'})


def new_secret() -> str:
    """Return a fresh random secret (256 bits, URL-safe text)."""
    return 'rv_' + secrets.token_urlsafe(32)


def key_entry(name: str, scope: Scope, secret: str) -> str:
    """Return the keys-file entry (TOML) of a key, holding the SHA-256 of ``secret`` rather than the secret."""
    return f'[[keys]]\nname = "{name}"\nscope = "{scope}"\nsha256 = "{digest(secret).hex()}"\n'


def _parse_key(i: int, raw: Any) -> ApiKey:
    where = f'keys[{i}]'
    if not isinstance(raw, dict):
        raise ConfigurationError(f'{where}: expected a table ([[keys]]) with name, scope and secret or sha256')
    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        fields = ', '.join(unknown)
        raise ConfigurationError(f'{where}: unknown field(s) {fields} (expected name, scope, secret, sha256)')
    name = raw.get('name')
    if not isinstance(name, str) or not KEY_NAME_PATTERN.fullmatch(name):
        raise ConfigurationError(
            f'{where}.name: expected 1-64 letters, digits, "_", ".", "@" or "-" (not starting with a symbol), '
            f'got {name!r}'
        )
    where = f'keys[{i}] ({name})'
    scope = raw.get('scope')
    if scope not in ('read', 'write'):
        raise ConfigurationError(f'{where}.scope: expected "read" or "write", got {scope!r}')
    secret, hashed = raw.get('secret'), raw.get('sha256')
    if (secret is None) == (hashed is None):
        raise ConfigurationError(f'{where}: give exactly one of secret and sha256')
    if secret is not None:
        if not isinstance(secret, str) or len(secret) < 16 or secret != secret.strip():
            raise ConfigurationError(f'{where}.secret: expected a string of at least 16 characters, no spaces around')
        return ApiKey(name, scope, digest(secret))
    if not isinstance(hashed, str) or not _HEX_SHA256.fullmatch(hashed):
        raise ConfigurationError(f'{where}.sha256: expected 64 hexadecimal digits (the SHA-256 of the secret)')
    return ApiKey(name, scope, bytes.fromhex(hashed))


def load_keys_file(path: str | Path) -> list[ApiKey]:
    """Return the keys of a keys file.

    Raises :class:`~remotevars.ConfigurationError` naming the file and the entry when it cannot be
    read, is not TOML, or an entry is invalid. The message never contains a secret.
    """
    try:
        text = Path(path).read_text(encoding='utf-8')
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f'keys file {path}: cannot read it ({exc})') from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f'keys file {path}: not valid TOML ({exc})') from None
    unknown = sorted(set(data) - {'keys'})
    if unknown:
        raise ConfigurationError(f'keys file {path}: unknown top-level key(s) {", ".join(unknown)} (expected [[keys]])')
    entries = data.get('keys', [])
    if not isinstance(entries, list):
        raise ConfigurationError(f'keys file {path}: "keys" must be an array of tables ([[keys]])')
    try:
        return [_parse_key(i, raw) for i, raw in enumerate(entries)]
    except ConfigurationError as exc:
        raise ConfigurationError(f'keys file {path}: {exc}') from None
