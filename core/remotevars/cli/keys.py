"""``remotevars keys new``: a fresh API key for the server's keys file (``remotevars serve --keys-file``).

The entry (TOML, holding the SHA-256 of the secret, never the secret) goes to stdout, so
``remotevars keys new --name ci --scope write >> keys.toml`` appends it; the secret itself goes to
stderr, shown once, for the operator to hand to the client.
"""

from __future__ import annotations

import click

from remotevars.cli._exit import fail

__all__ = ['commands', 'keys']


@click.group()
def keys() -> None:
    """Manage the API keys of `remotevars serve --keys-file`."""


@keys.command('new')
@click.option('--name', required=True, help='Name of the key: the actor the history records (e.g. ci, alice).')
@click.option('--scope', type=click.Choice(['read', 'write']), required=True, help='read, or write (implies read).')
def new(name: str, scope: str) -> None:
    """Print a keys-file entry for a fresh secret (stdout) and the secret itself, once (stderr)."""
    try:
        from remotevars.server._keys_file import KEY_NAME_PATTERN, key_entry, new_secret
    except ModuleNotFoundError as exc:
        fail('error', f'needs the "server" extra (pip install "remotevars[server]"): {exc}')
    if not KEY_NAME_PATTERN.fullmatch(name):
        fail(
            'usage',
            f'--name: expected 1-64 letters, digits, "_", ".", "@" or "-" (not starting with a symbol), got {name!r}',
        )
    secret = new_secret()
    click.echo(key_entry(name, 'write' if scope == 'write' else 'read', secret), nl=False)
    click.echo(f'secret of {name!r} ({scope}), shown only now; the entry keeps its SHA-256: {secret}', err=True)


commands = [keys]
