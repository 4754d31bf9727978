"""The click face of the workflow commands: one factory for ``remotevars`` and ``flask vars``.

:func:`build_commands` turns each command of :data:`remotevars._commands.COMMANDS` into a click command
whose callback calls :func:`remotevars._commands.run_command` with an
:class:`~remotevars._commands.Adapter`, then ends as every command does (:mod:`._exit`): exit 0 when
done, else one line ``Error: <reason>`` on stderr and the outcome's exit code. ``remotevars`` registers
:data:`commands` (the variables of ``--module`` modules on the default client, the server from the flags
or the environment); the Flask extension builds its own with an adapter reading the current app.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from remotevars._commands import COMMANDS, Adapter, Option, WorkflowCommand, run_command
from remotevars._default import get_client
from remotevars._errors import ConfigurationError
from remotevars.cli._exit import fail, finish

__all__ = ['build_command', 'build_commands', 'commands']


def _parameter(option: Option) -> click.Option:
    if option.kind == 'switch':
        name = option.flags[0].removeprefix('--')
        return click.Option(
            [f'--{name}/--no-{name}', option.dest], default=option.default, show_default=True, help=option.help
        )
    declarations = [*option.flags, option.dest]
    if option.kind == 'flag':
        return click.Option(declarations, is_flag=True, help=option.help)
    if option.kind == 'many':
        return click.Option(declarations, multiple=True, metavar=option.metavar, help=option.help)
    if option.kind == 'choice':
        return click.Option(
            declarations, type=click.Choice(option.choices), default=option.default, show_default=True, help=option.help
        )
    kind: Any = float if option.kind == 'seconds' else str
    return click.Option(declarations, type=kind, default=option.default, metavar=option.metavar, help=option.help)


Callback = Callable[..., None]


def build_command(
    workflow: WorkflowCommand, adapter: Callable[[], Adapter], *, wrap: Callable[[Callback], Callback] | None = None
) -> click.Command:
    """Return the click command running ``workflow``; ``adapter()`` is called when it runs.

    ``wrap`` decorates the callback (Flask's ``with_appcontext``).
    """

    def callback(**options: Any) -> None:
        try:
            found = adapter()
        except ConfigurationError as exc:
            fail('usage', str(exc))
        finish(run_command(workflow, options, found, out=sys.stdout))

    return click.Command(
        workflow.name,
        callback=callback if wrap is None else wrap(callback),
        params=[_parameter(option) for option in workflow.options],
        help=workflow.help,
    )


def build_commands(
    adapter: Callable[[], Adapter], *, with_status: bool = False, wrap: Callable[[Callback], Callback] | None = None
) -> list[click.Command]:
    """Return the workflow commands (and ``status`` when the adapter has an app) as click commands."""
    return [
        build_command(workflow, adapter, wrap=wrap) for workflow in COMMANDS if with_status or not workflow.needs_app
    ]


def _core_adapter() -> Adapter:
    return Adapter(client=get_client)


commands = build_commands(_core_adapter)
