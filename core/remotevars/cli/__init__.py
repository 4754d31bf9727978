"""The ``remotevars`` command line (click): one group, subcommands in modules of their own.

- ``serve``: run the self-hostable server (:mod:`remotevars.cli.serve`); ``migrate``: its database schema
  (:mod:`remotevars.cli.migrate`); ``keys new``: a key for its keys file.
- admin commands over the HTTP API: versions, labels, rollouts, listing (:mod:`remotevars.cli.admin`);
  ``history`` and ``rollback`` (:mod:`remotevars.cli.history`).
- workflows: push, push-types, validate, pull, push-config, build-config (:mod:`remotevars.cli.workflows`).

Exit codes, one policy for every command (:mod:`remotevars.cli._exit`): 0 done or nothing to do, 1 refused,
invalid or drift (validation errors, a refused plan), 2 usage, connection, authentication or server errors;
a failure prints one ``Error: ...`` line on stderr.
"""

from __future__ import annotations

import importlib

import click

__all__ = ['main']

_SUBMODULES = (
    'remotevars.cli.serve',
    'remotevars.cli.migrate',
    'remotevars.cli.keys',
    'remotevars.cli.admin',
    'remotevars.cli.history',
    'remotevars.cli.workflows',
)


@click.group(context_settings={'help_option_names': ['-h', '--help']})
@click.version_option(package_name='remotevars')
def main() -> None:
    """Typed runtime variables: serve, inspect and push them."""


def _register() -> None:
    # Each submodule defines a `commands` list; a submodule that is missing (not built yet) or whose
    # optional dependencies are absent simply contributes nothing.
    for module_name in _SUBMODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and exc.name.startswith('remotevars.cli.'):
                continue
            raise
        for command in getattr(module, 'commands', ()):
            main.add_command(command)


_register()
