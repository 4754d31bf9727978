"""The ``remotevars`` command line (click): one group, subcommands in modules of their own.

- ``serve``: run the self-hostable server (:mod:`remotevars.cli.serve`).
- admin commands over the HTTP API: versions, labels, rollouts, listing (:mod:`remotevars.cli.admin`).
- workflows: push, push-types, validate, pull, push-config, build-config (:mod:`remotevars.cli.workflows`).

Exit codes: 0 clean, 1 validation errors or a refused plan, 2 usage or connection errors.
"""

from __future__ import annotations

import importlib

import click

__all__ = ['main']

_SUBMODULES = ('remotevars.cli.serve', 'remotevars.cli.admin', 'remotevars.cli.workflows')


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
