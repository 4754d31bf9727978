"""The ``flask vars`` commands: the core's workflows and status report, run for the current app.

``flask vars push|push-types|validate|pull|push-config|build-config`` take the flags of the core
command line's commands (``remotevars push`` ...), print the same output through the same code
(:mod:`remotevars.push`, :mod:`remotevars._render`) and end with the same exit codes: 0 clean, 1
validation errors or a refused plan, 2 usage or connection errors, a non-zero one with a one-line
``Error: ...`` on stderr. What differs is only where things come from: the variables are the ones the
app serves (its ``REMOTEVARS_MODULES`` are imported by ``init_app``; ``--module`` adds more), and the
server defaults to the app's ``REMOTEVARS_BASE_URL`` / ``REMOTEVARS_API_KEY`` settings, then to the
environment variables of the same names.

``flask vars status`` prints the core's status report of the app's client, after waiting (at most
``--timeout`` seconds) for its first config.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final, TypeVar

import click
from flask import current_app
from flask.cli import AppGroup

from flask_remotevars.extension import RemoteVarsState, get_state
from remotevars import push
from remotevars._api import ApiClient
from remotevars._errors import ConfigurationError, RemoteVarsError
from remotevars._status import format_report
from remotevars.cli import workflows as core_cli

__all__ = ['vars_group']

F = TypeVar('F', bound=Callable[..., Any])

_POLL_SECONDS: Final = 0.02

vars_group = AppGroup('vars', help='Remote variables: push, validate, pull and inspect them.')


class CommandRefused(click.ClickException):
    """Ends a command with exit code 1 (validation errors, a refused plan): ``Error: <one line>`` on stderr."""

    exit_code = 1


class CommandError(click.ClickException):
    """Ends a command with exit code 2 (usage or connection errors): ``Error: <one line>`` on stderr."""

    exit_code = 2


def _failure(message: str, exit_code: int) -> click.ClickException:
    """Return the exception ending the command with ``exit_code`` and ``message`` on one line."""
    kind = CommandRefused if exit_code == 1 else CommandError
    return kind(' '.join(message.split()))


# -- the shared options, as the core command line spells them ----------------------------------------


def _server_options(command: F) -> F:
    command = click.option(
        '--api-key', help='API key of the variables server (default: REMOTEVARS_API_KEY setting, then environment).'
    )(command)
    return click.option(
        '--base-url', help='Base URL of the variables server (default: REMOTEVARS_BASE_URL setting, then environment).'
    )(command)


module_option = core_cli.module_option
plan_options = core_cli.plan_options
output_option = core_cli.output_option


# -- the edges ---------------------------------------------------------------------------------------


def _state() -> RemoteVarsState:
    try:
        return get_state()
    except ConfigurationError as exc:
        raise _failure(str(exc), 2) from exc


def _variables(state: RemoteVarsState, modules: Sequence[str]) -> list[Any]:
    """Return the variables the app serves after importing ``modules``; ends the command when none."""
    core_cli.import_modules(modules)
    variables = state.variables()
    if not variables:
        raise _failure(
            'no variables are registered: list the modules that declare them in REMOTEVARS_MODULES '
            'or name them with --module',
            2,
        )
    return variables


@contextmanager
def _server(state: RemoteVarsState, base_url: str | None, api_key: str | None) -> Iterator[ApiClient]:
    """Yield the API client for the flags, else the app's settings, else the environment (exit 2 if none)."""
    config = current_app.config
    try:
        with push.connect(
            state.client,
            base_url=base_url or config.get('REMOTEVARS_BASE_URL') or None,
            api_key=api_key or config.get('REMOTEVARS_API_KEY') or None,
        ) as api:
            yield api
    except ConfigurationError as exc:
        raise _failure(str(exc), 2) from exc


def _finish(outcome: push.Outcome) -> None:
    if outcome.exit_code:
        raise _failure(outcome.reason or outcome.status, outcome.exit_code)


# -- the commands ------------------------------------------------------------------------------------


@vars_group.command('push')
@module_option
@plan_options
@core_cli.strict_option
@_server_options
def push_command(
    modules: tuple[str, ...],
    dry_run: bool,
    yes: bool,
    no_input: bool,
    strict: bool,
    base_url: str | None,
    api_key: str | None,
) -> None:
    """Push the schemas and descriptions of the app's variables to the server."""
    state = _state()
    variables = _variables(state, modules)
    with _server(state, base_url, api_key) as api:
        outcome = push.run_push(variables, api, core_cli.console_for(no_input), dry_run=dry_run, yes=yes, strict=strict)
    _finish(outcome)


@vars_group.command('push-types')
@core_cli.types_option
@plan_options
@core_cli.strict_types_option
@_server_options
def push_types_command(
    type_specs: tuple[str, ...],
    dry_run: bool,
    yes: bool,
    no_input: bool,
    strict: bool,
    base_url: str | None,
    api_key: str | None,
) -> None:
    """Push reusable type schemas (pydantic models and other types) to the server."""
    state = _state()
    types = [core_cli.load_type(spec) for spec in type_specs]
    with _server(state, base_url, api_key) as api:
        outcome = push.run_push_types(
            types, api, core_cli.console_for(no_input), dry_run=dry_run, yes=yes, strict=strict
        )
    _finish(outcome)


@vars_group.command('validate')
@module_option
@_server_options
def validate_command(modules: tuple[str, ...], base_url: str | None, api_key: str | None) -> None:
    """Check that every server value of the app's variables still fits their types (exit 1 if not)."""
    state = _state()
    variables = _variables(state, modules)
    with _server(state, base_url, api_key) as api:
        try:
            report = push.variables_validate(variables, api=api)
        except RemoteVarsError as exc:
            raise _failure(f'cannot fetch the server config: {exc}', 2) from exc
    click.echo(report.format(colors=sys.stdout.isatty()))
    if report.has_errors:
        problems = len({e.variable_name for e in report.errors}) + len(report.variables_not_on_server)
        raise _failure(f'validation failed: {problems} issue(s) found', 1)


@vars_group.command('pull')
@output_option
@_server_options
def pull_command(output: str | None, base_url: str | None, api_key: str | None) -> None:
    """Write the server's whole config (labels, versions, rollouts) as JSON."""
    state = _state()
    with _server(state, base_url, api_key) as api:
        try:
            config = push.variables_pull_config(api=api)
        except RemoteVarsError as exc:
            raise _failure(f'cannot fetch the server config: {exc}', 2) from exc
    core_cli.write_config(config, output)


@vars_group.command('build-config')
@module_option
@output_option
def build_config_command(modules: tuple[str, ...], output: str | None) -> None:
    """Write a config template (name, description, schema, example) of the app's variables."""
    variables = _variables(_state(), modules)
    try:
        config = push.variables_build_config(variables)
    except RemoteVarsError as exc:
        raise _failure(str(exc), 1) from exc
    core_cli.write_config(config, output)


@vars_group.command('push-config')
@core_cli.push_config_options
@plan_options
@_server_options
def push_config_command(
    input_path: str | None,
    mode: str,
    dry_run: bool,
    yes: bool,
    no_input: bool,
    base_url: str | None,
    api_key: str | None,
) -> None:
    """Push whole variable configs (labels, rollouts, overrides) from a JSON file."""
    state = _state()
    config = core_cli.read_config(input_path)
    # A config read from stdin leaves no terminal to answer a prompt on.
    can_prompt = not no_input and input_path not in (None, '-')
    console = push.make_console(None, None, None, can_prompt=None if can_prompt else False)
    with _server(state, base_url, api_key) as api:
        outcome = push.run_push_config(
            config, api, console, mode='replace' if mode == 'replace' else 'merge', dry_run=dry_run, yes=yes
        )
    _finish(outcome)


@vars_group.command('status')
@click.option(
    '--timeout',
    type=float,
    default=None,
    help='Seconds to wait for the first config (default: REMOTEVARS_FIRST_RESOLVE_TIMEOUT).',
)
def status_command(timeout: float | None) -> None:
    """Show where the app's variables come from, whether the server is reachable, and what each serves."""
    state = _state()
    state.start()  # loaded by a reloader's watcher, the app may not have started its client yet
    if timeout is None:
        timeout = float(current_app.config['REMOTEVARS_FIRST_RESOLVE_TIMEOUT'])
    state.client.wait_for_first_config(timeout)
    click.echo(format_report(state.report()))
